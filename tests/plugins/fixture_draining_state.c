/* An operator whose state drains with wall-clock time, as a cache with a
 * time-to-live does: each record adds 1 KiB to its state.bytes gauge, and a
 * timer every 20 ms takes half of it away. Under a small memory_limit the
 * source pauses, the timer drains the state, and reading resumes: the test
 * of memory_limit's backpressure. Passes records on unchanged. */
#include <sluice/plugin.h>
#include <stdlib.h>

typedef struct drain {
    int64_t bytes;
    sluice_counter *gauge;
} drain;

static void *create(const sluice_host_api *api, sluice_ctx *ctx, const sluice_options *opts, char *e,
                    size_t n)
{
    (void)opts, (void)e, (void)n;
    drain *d = calloc(1, sizeof *d);
    if (d == NULL)
        return NULL;
    d->gauge = api->counter(ctx, "state.bytes");
    api->timer_set(ctx, api->now_ms(ctx) + 20);
    return d;
}

static void destroy(const sluice_host_api *api, sluice_ctx *ctx, void *self)
{
    (void)api, (void)ctx;
    free(self);
}

static sluice_status process(const sluice_host_api *api, sluice_ctx *ctx, void *self, sluice_batch *b)
{
    drain *d = self;
    for (const sluice_record *r; (r = api->batch_next(b)) != NULL;) {
        d->bytes += 1024;
        api->emit(ctx, NULL, r);
    }
    api->counter_set(d->gauge, d->bytes);
    return SLUICE_OK;
}

static sluice_status timer(const sluice_host_api *api, sluice_ctx *ctx, void *self, int64_t now_ms)
{
    drain *d = self;
    d->bytes /= 2;
    api->counter_set(d->gauge, d->bytes);
    api->timer_set(ctx, now_ms + 20);
    return SLUICE_OK;
}

static const sluice_plugin descriptor = {
    .struct_size = sizeof(sluice_plugin),
    .abi_version = SLUICE_ABI_VERSION,
    .name = "draining_state",
    .kind = SLUICE_KIND_OPERATOR,
    .version = "1.0.0",
    .create = create,
    .destroy = destroy,
    .process = process,
    .timer = timer,
    .state_key = SLUICE_STATE_KEY_ALL,
    .state = SLUICE_STATE_NONE,
};

SLUICE_PLUGIN_EXPORT const sluice_plugin *sluice_plugin_entry(void) { return &descriptor; }
