/* Refused: needs an engine newer than any (ABI 1.999), so an engine that
 * speaks an older minor must say so instead of loading it (ABI 1.3). */
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
static sluice_status process(const sluice_host_api *api, sluice_ctx *ctx, void *self, sluice_batch *b)
{
    (void)api, (void)ctx, (void)self, (void)b;
    return SLUICE_OK;
}

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
