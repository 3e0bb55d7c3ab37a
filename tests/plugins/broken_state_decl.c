/* Refused: declares it keeps no state (ABI 1.3) yet has a snapshot hook,
 * so which one holds cannot be known. */
#include <sluice/plugin.h>

#include "do_nothing_hooks.h"

static sluice_status snapshot(const sluice_host_api *api, sluice_ctx *ctx, void *self, sluice_snapshot *out)
{
    (void)api, (void)ctx, (void)self, (void)out;
    return SLUICE_OK;
}

static const sluice_plugin descriptor = {
    .struct_size = sizeof(sluice_plugin),
    .abi_version = SLUICE_ABI_VERSION,
    .name = "confused",
    .kind = SLUICE_KIND_SINK,
    .version = "1.0.0",
    .create = create,
    .destroy = destroy,
    .process = process,
    .snapshot = snapshot,
    .state = SLUICE_STATE_NONE,
};

SLUICE_PLUGIN_EXPORT const sluice_plugin *sluice_plugin_entry(void) { return &descriptor; }
