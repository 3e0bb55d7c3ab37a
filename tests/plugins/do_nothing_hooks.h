/* The hooks every operator must have, doing nothing: for the test plugins
 * whose point is something in their descriptor. Include it once, after
 * <sluice/plugin.h>. */
#ifndef DO_NOTHING_HOOKS_H
#define DO_NOTHING_HOOKS_H

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

#endif
