/* Refused: a layout of parts that mixes a part keyed by PARTITION (for
 * partition tasks, ABI 1.7) with one keyed by URL (for in-process tasks):
 * no way of running the keyed steps fits both. */
#include <sluice/plugin.h>

#include "do_nothing_hooks.h"

static const sluice_part parts[] = {
    {"by_url", SLUICE_STATE_KEY_URL},
    {"partial", SLUICE_STATE_KEY_PARTITION},
    {"total", SLUICE_STATE_KEY_ALL},
    {NULL, SLUICE_STATE_KEY_UNDECLARED},
};

static const sluice_plugin descriptor = {
    .struct_size = sizeof(sluice_plugin),
    .abi_version = SLUICE_ABI_VERSION,
    .name = "bad_part_layout",
    .kind = SLUICE_KIND_OPERATOR,
    .state_key = SLUICE_STATE_KEY_ALL,
    .parts = parts,
    .version = "1.0.0",
    .create = create,
    .destroy = destroy,
    .process = process,
};

SLUICE_PLUGIN_EXPORT const sluice_plugin *sluice_plugin_entry(void) { return &descriptor; }
