/* Loads, but rejects every record with a reason that is not a valid name:
 * the host stops the pipeline, naming the plugin and the reason. */
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
    (void)self;
    for (const sluice_record *r; (r = api->batch_next(b)) != NULL;)
        if (api->reject(ctx, r, "Not Valid!", NULL) != SLUICE_OK)
            return SLUICE_ERR;
    return SLUICE_OK;
}

static const sluice_plugin descriptor = {
    .struct_size = sizeof(sluice_plugin),
    .abi_version = SLUICE_ABI_VERSION,
    .name = "bad_reason",
    .kind = SLUICE_KIND_SINK,
    .version = "1.0.0",
    .create = create,
    .destroy = destroy,
    .process = process,
};

SLUICE_PLUGIN_EXPORT const sluice_plugin *sluice_plugin_entry(void) { return &descriptor; }
