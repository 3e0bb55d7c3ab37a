/*
 * A plugin built against the frozen ABI 1.0 header (tests/abi/v1.0), never
 * against the current one: later engines must load and run it, snapshots
 * included. An operator that stamps every record with `n`, how many records
 * it has seen so far, a count kept across restarts through snapshot and
 * restore (encoding 1: the count as 8 little-endian bytes).
 */
#include <sluice/plugin.h>
#include <stdlib.h>
#include <string.h>

#if SLUICE_ABI_MAJOR != 1 || SLUICE_ABI_MINOR != 0
#error "built against the wrong header: this plugin must see ABI 1.0"
#endif

typedef struct counter {
    int64_t seen;
} counter;

static void *c_create(const sluice_host_api *api, sluice_ctx *ctx, const sluice_options *opts, char *errbuf,
                      size_t errbuf_size)
{
    (void)api, (void)ctx, (void)opts, (void)errbuf, (void)errbuf_size;
    return calloc(1, sizeof(counter));
}

static void c_destroy(const sluice_host_api *api, sluice_ctx *ctx, void *self)
{
    (void)api, (void)ctx;
    free(self);
}

static sluice_status c_process(const sluice_host_api *api, sluice_ctx *ctx, void *self, sluice_batch *batch)
{
    counter *c = self;
    for (const sluice_record *r; (r = api->batch_next(batch)) != NULL;) {
        sluice_record *out = api->record_copy(ctx, r);
        api->set_int(out, "n", ++c->seen);
        api->emit(ctx, NULL, out);
    }
    return SLUICE_OK;
}

static sluice_status c_snapshot(const sluice_host_api *api, sluice_ctx *ctx, void *self, sluice_snapshot *out)
{
    (void)ctx;
    counter *c = self;
    unsigned char *b = api->alloc(8);
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)((uint64_t)c->seen >> (8 * i));
    out->encoding_version = 1;
    out->data = b;
    out->size = 8;
    return SLUICE_OK;
}

static sluice_status c_restore(const sluice_host_api *api, sluice_ctx *ctx, void *self,
                               const sluice_snapshot *in)
{
    counter *c = self;
    if (in->encoding_version != 1 || in->size != 8) {
        api->log(ctx, SLUICE_LOG_ERROR, "unknown snapshot encoding %u", in->encoding_version);
        return SLUICE_ERR_STATE;
    }
    const unsigned char *b = in->data;
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)b[i] << (8 * i);
    c->seen = (int64_t)v;
    return SLUICE_OK;
}

static const sluice_plugin descriptor = {
    .struct_size = sizeof(sluice_plugin),
    .abi_version = SLUICE_ABI_VERSION,
    .name = "abi10_counter",
    .kind = SLUICE_KIND_OPERATOR,
    .version = "1.0.0",
    .description = "numbers records (built against the frozen ABI 1.0 header)",
    .create = c_create,
    .destroy = c_destroy,
    .process = c_process,
    .snapshot = c_snapshot,
    .restore = c_restore,
};

SLUICE_PLUGIN_EXPORT const sluice_plugin *sluice_plugin_entry(void) { return &descriptor; }
