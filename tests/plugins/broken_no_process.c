/* Refused: a sink without its process hook (a malformed descriptor). */
#include <sluice/plugin.h>

static void *create(const sluice_host_api *api, sluice_ctx *ctx, const sluice_options *o, char *e, size_t n)
{
    (void)api, (void)ctx, (void)o, (void)e, (void)n;
    return (void *)1;
}
static void destroy(const sluice_host_api *api, sluice_ctx *ctx, void *self)
{
    (void)api, (void)ctx, (void)self;
}

static const sluice_plugin descriptor = {
    .struct_size = sizeof(sluice_plugin),
    .abi_version = SLUICE_ABI_VERSION,
    .name = "broken_no_process",
    .kind = SLUICE_KIND_SINK,
    .version = "1.0.0",
    .create = create,
    .destroy = destroy,
};

SLUICE_PLUGIN_EXPORT const sluice_plugin *sluice_plugin_entry(void) { return &descriptor; }
