/* Refused: a decomposable operator whose last part does not merge (ABI 1.6):
 * every part but the last is keyed, and the last, keyed by ALL, merges them. */
#include <sluice/plugin.h>

#include "do_nothing_hooks.h"

static const sluice_part parts[] = {
    {"by_user", SLUICE_STATE_KEY_USER},
    {"by_url", SLUICE_STATE_KEY_URL},
    {NULL, SLUICE_STATE_KEY_UNDECLARED},
};

static const sluice_plugin descriptor = {
    .struct_size = sizeof(sluice_plugin),
    .abi_version = SLUICE_ABI_VERSION,
    .name = "bad_parts",
    .kind = SLUICE_KIND_OPERATOR,
    .state_key = SLUICE_STATE_KEY_ALL,
    .parts = parts,
    .version = "1.0.0",
    .create = create,
    .destroy = destroy,
    .process = process,
};

SLUICE_PLUGIN_EXPORT const sluice_plugin *sluice_plugin_entry(void) { return &descriptor; }
