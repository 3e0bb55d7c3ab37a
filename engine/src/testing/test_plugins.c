/* `sluice test`'s input source and capturing sink (test_plugins.h). */
#include "test_plugins.h"

#include <stdlib.h>
#include <string.h>

#include "pipeline.h"

static void *feed_create(const sluice_host_api *api, sluice_ctx *ctx, const sluice_options *opts,
                         char *errbuf, size_t errbuf_size)
{
    (void)api, (void)ctx, (void)opts, (void)errbuf, (void)errbuf_size;
    return calloc(1, sizeof(test_feed));
}

static void feed_destroy(const sluice_host_api *api, sluice_ctx *ctx, void *self)
{
    (void)api, (void)ctx;
    free(self);
}

/* A watermark step: the source's partition is taken to have seen the event
 * time that gives watermark wm (max_out_of_order later), as an event the
 * test does not show would; so the watermark moves as with such an event,
 * never back, and the events after it carry it too (partition tasks hear
 * of it with them). This reaches into the source side: the ABI has no
 * way for a source to move the watermark without an event. */
static void feed_watermark(sluice_ctx *ctx, int64_t wm)
{
    pipeline *p = ctx->p;
    source_take_pending(p); /* the events before the step come first */
    wm_tracker *t = &p->src.wm;
    int64_t max_ts = wm_add(wm, t->max_out_of_order);
    if (max_ts > wm_partition_max_ts(t, 0))
        wm_partition_restore(t, 0, max_ts);
    int64_t before = t->current;
    int64_t now = wm_partition_assigned(t, 0, p->src.tick_now); /* recomputes it */
    if (now > before)
        step_advance_ports(&p->steps[p->source], now, source_last_seq(&p->src));
}

static sluice_status feed_poll(const sluice_host_api *api, sluice_ctx *ctx, void *self, size_t budget,
                               int timeout_ms)
{
    (void)timeout_ms;
    test_feed *f = self;
    for (; budget > 0 && f->pos < f->n; budget--, f->pos++) {
        if (f->payloads[f->pos] == NULL) {
            feed_watermark(ctx, f->watermarks[f->pos]);
            continue;
        }
        sluice_message m = {.struct_size = sizeof m,
                            .payload = f->payloads[f->pos],
                            .payload_len = strlen(f->payloads[f->pos]),
                            .origin = f->origins[f->pos],
                            .origin_len = strlen(f->origins[f->pos]),
                            .timestamp_ms = SLUICE_TIME_MIN};
        sluice_status st = api->source_push(ctx, &m);
        if (st != SLUICE_OK)
            return st;
    }
    return f->pos == f->n ? SLUICE_END : SLUICE_OK;
}

const sluice_plugin test_feed_plugin = {
    .struct_size = sizeof(sluice_plugin),
    .abi_version = SLUICE_ABI_VERSION,
    .name = "test_input",
    .kind = SLUICE_KIND_SOURCE,
    .version = "1.0.0",
    .description = "the input events of a `sluice test` case",
    .create = feed_create,
    .destroy = feed_destroy,
    .poll = feed_poll,
    .state = SLUICE_STATE_NONE,
};

static void *capture_create(const sluice_host_api *api, sluice_ctx *ctx, const sluice_options *opts,
                            char *errbuf, size_t errbuf_size)
{
    (void)api, (void)ctx, (void)opts, (void)errbuf, (void)errbuf_size;
    return calloc(1, sizeof(test_capture));
}

static void capture_destroy(const sluice_host_api *api, sluice_ctx *ctx, void *self)
{
    (void)api, (void)ctx;
    test_capture *c = self;
    for (size_t i = 0; i < c->n; i++)
        free(c->records[i]);
    free(c->records);
    free(c);
}

static sluice_status capture_process(const sluice_host_api *api, sluice_ctx *ctx, void *self,
                                     sluice_batch *batch)
{
    (void)ctx;
    test_capture *c = self;
    for (const sluice_record *r; (r = api->batch_next(batch)) != NULL;) {
        if (c->n == c->cap) {
            size_t cap = c->cap ? 2 * c->cap : 64;
            char **grown = realloc(c->records, cap * sizeof *grown);
            if (grown == NULL)
                return SLUICE_ERR_NOMEM;
            c->records = grown;
            c->cap = cap;
        }
        sluice_str json;
        api->record_json(r, &json);
        if ((c->records[c->n] = strndup(json.ptr, json.len)) == NULL)
            return SLUICE_ERR_NOMEM;
        c->n++;
    }
    return SLUICE_OK;
}

const sluice_plugin test_capture_plugin = {
    .struct_size = sizeof(sluice_plugin),
    .abi_version = SLUICE_ABI_VERSION,
    .name = "test_expect",
    .kind = SLUICE_KIND_SINK,
    .version = "1.0.0",
    .description = "keeps what a sink of a `sluice test` case receives",
    .create = capture_create,
    .destroy = capture_destroy,
    .process = capture_process,
    .state = SLUICE_STATE_NONE,
};
