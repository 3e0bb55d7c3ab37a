/* Refused: a value in the reserved slots (they must be zero). */
#include <sluice/plugin.h>

#include "do_nothing_hooks.h"

static const sluice_plugin descriptor = {
    .struct_size = sizeof(sluice_plugin),
    .abi_version = SLUICE_ABI_VERSION,
    .reserved = {NULL, NULL, (void *)1},
    .name = "uses_reserved",
    .kind = SLUICE_KIND_SINK,
    .version = "1.0.0",
    .create = create,
    .destroy = destroy,
    .process = process,
};

SLUICE_PLUGIN_EXPORT const sluice_plugin *sluice_plugin_entry(void) { return &descriptor; }
