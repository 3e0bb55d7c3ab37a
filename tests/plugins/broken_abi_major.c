/* Refused: built for a plugin ABI major the engine does not speak. */
#include <sluice/plugin.h>

#include "do_nothing_hooks.h"

static const sluice_plugin descriptor = {
    .struct_size = sizeof(sluice_plugin),
    .abi_version = (2u << 16) | 0u,
    .name = "broken_abi_major",
    .kind = SLUICE_KIND_SINK,
    .version = "1.0.0",
    .create = create,
    .destroy = destroy,
    .process = process,
};

SLUICE_PLUGIN_EXPORT const sluice_plugin *sluice_plugin_entry(void) { return &descriptor; }
