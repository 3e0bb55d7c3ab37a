/* Refused: needs an engine newer than any (ABI 1.999), so an engine that
 * speaks an older minor must say so instead of loading it (ABI 1.3). */
#include <sluice/plugin.h>

#include "do_nothing_hooks.h"

static const sluice_plugin descriptor = {
    .struct_size = sizeof(sluice_plugin),
    .abi_version = SLUICE_ABI_VERSION_OF(1, 999),
    .min_host_abi = SLUICE_ABI_VERSION_OF(1, 999),
    .name = "from_the_future",
    .kind = SLUICE_KIND_SINK,
    .version = "1.0.0",
    .create = create,
    .destroy = destroy,
    .process = process,
};

SLUICE_PLUGIN_EXPORT const sluice_plugin *sluice_plugin_entry(void) { return &descriptor; }
