/* Refused: a descriptor whose struct_size is smaller than ABI 1.0's. */
#include <sluice/plugin.h>

static const sluice_plugin descriptor = {
    .struct_size = 24,
    .abi_version = SLUICE_ABI_VERSION,
    .name = "broken_small_struct",
    .kind = SLUICE_KIND_SINK,
    .version = "1.0.0",
};

SLUICE_PLUGIN_EXPORT const sluice_plugin *sluice_plugin_entry(void) { return &descriptor; }
