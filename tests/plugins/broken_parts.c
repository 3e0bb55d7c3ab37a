/* Refused: a decomposable operator whose last part does not merge (ABI 1.6):
 * every part but the last is keyed, and the last, keyed by ALL, merges them. */
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
