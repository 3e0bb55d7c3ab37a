/* dedup: drops events whose key was already seen (docs/semantics.md section 3).
 *
 * The key is the event_id role when the event has one, else the triple
 * (user, url, ts). A key is remembered from the first valid, non-duplicate
 * event that carries it, for `ttl` of event time: it expires once the
 * watermark in force after the current event reaches first_ts + ttl, so with
 * watermark W an identical event is a duplicate iff W < first_ts + ttl.
 * Duplicates are counted under "rejected.duplicate", and with
 * emit_rejected also sent as dead letters to the `rejected` output. Every
 * other event is passed on unchanged.
 *
 * Expiry depends only on each record's own watermark, never on batch
 * boundaries, so the output is the same for any batch size. */
#include <sluice/bytes.h>
#include <sluice/plugin.h>

#include <stdio.h>
#include <stdlib.h>

#include "dedup_key.h"
#include "dedup_snapshot.h"
#include "dedup_table.h"

typedef struct dedup {
    dedup_table table;
    int64_t ttl_ms;
    int emit_rejected;
    sluice_counter *duplicates; /* counted here only when not emitting dead letters */
    sluice_counter *state_keys;
    sluice_counter *state_bytes;
} dedup;

static const sluice_option_spec dedup_options[] = {
    {sizeof(sluice_option_spec), "ttl", SLUICE_OPT_DURATION, "1h", 0,
     "how long (event time) a key is remembered after its first event", 1, 1e17, NULL, 0, 0},
    {sizeof(sluice_option_spec), "emit_rejected", SLUICE_OPT_BOOL, "false", 0,
     "also send duplicates as dead letters to the `rejected` output (they are always counted)", 1, 0, NULL, 0,
     0},
    SLUICE_OPTION_END,
};

static const char *const dedup_outputs[] = {"rejected", NULL};

static void report_state(const sluice_host_api *api, dedup *d)
{
    api->counter_set(d->state_keys, (int64_t)dedup_table_count(&d->table));
    api->counter_set(d->state_bytes, (int64_t)(dedup_table_bytes(&d->table) + sizeof *d));
}

static void *dedup_create(const sluice_host_api *api, sluice_ctx *ctx, const sluice_options *opts,
                          char *errbuf, size_t errbuf_size)
{
    dedup *d = calloc(1, sizeof *d);
    if (d == NULL || dedup_table_init(&d->table) != 0) {
        free(d);
        snprintf(errbuf, errbuf_size, "out of memory");
        return NULL;
    }
    d->ttl_ms = api->opt_duration_ms(opts, "ttl");
    d->emit_rejected = api->opt_bool(opts, "emit_rejected");
    d->state_keys = api->counter(ctx, "state.keys");
    d->state_bytes = api->counter(ctx, "state.bytes");
    report_state(api, d);
    return d;
}

static void dedup_destroy(const sluice_host_api *api, sluice_ctx *ctx, void *self)
{
    (void)api;
    (void)ctx;
    dedup *d = self;
    dedup_table_free(&d->table);
    free(d);
}

/* The record's key, or 0 when it has no roles to build one from (a record
 * that was not decoded as a click event): such records pass through. */
static int key_of(const sluice_host_api *api, const sluice_record *r, dedup_fp *fp, const char **detail)
{
    sluice_str id, user, url;
    uint64_t id_hash, user_hash, url_hash;
    if (api->record_role(r, SLUICE_ROLE_EVENT_ID, &id, &id_hash)) {
        *fp = dedup_key_event_id(id_hash, id.ptr, id.len);
        *detail = "event_id already seen within ttl";
        return 1;
    }
    if (!api->record_role(r, SLUICE_ROLE_USER, &user, &user_hash) ||
        !api->record_role(r, SLUICE_ROLE_URL, &url, &url_hash))
        return 0;
    *fp = dedup_key_triple(user_hash, user.ptr, user.len, url_hash, url.ptr, url.len, api->record_time(r));
    *detail = "same user, url and ts already seen within ttl";
    return 1;
}

static sluice_status drop_duplicate(const sluice_host_api *api, sluice_ctx *ctx, dedup *d,
                                    const sluice_record *r, const char *detail)
{
    if (d->emit_rejected)
        return api->reject(ctx, r, SLUICE_REASON_DUPLICATE, detail);
    if (d->duplicates == NULL)
        d->duplicates = api->counter(ctx, "rejected." SLUICE_REASON_DUPLICATE);
    api->counter_add(d->duplicates, 1);
    return SLUICE_OK;
}

/* Keys are looked up a chunk at a time: computing the chunk's fingerprints
 * first lets the table prefetch their slots, so the cache misses of a large
 * table overlap instead of stalling one after another. */
#define DEDUP_CHUNK 16

static sluice_status dedup_process(const sluice_host_api *api, sluice_ctx *ctx, void *self,
                                   sluice_batch *batch)
{
    dedup *d = self;
    sluice_status st = SLUICE_OK;
    dedup_fp fps[DEDUP_CHUNK];
    const char *details[DEDUP_CHUNK];
    int keyed[DEDUP_CHUNK];
    size_t have = 0, next = 0;
    for (const sluice_record *r = api->batch_next(batch); r != NULL && st == SLUICE_OK;
         r = api->batch_next(batch)) {
        if (next == have) {
            /* r is peek(-1): the chunk starts with it. */
            keyed[0] = key_of(api, r, &fps[0], &details[0]);
            have = 1;
            const sluice_record *ahead;
            while (have < DEDUP_CHUNK && (ahead = api->batch_peek(batch, have - 1)) != NULL) {
                keyed[have] = key_of(api, ahead, &fps[have], &details[have]);
                have++;
            }
            for (size_t k = 0; k < have; k++)
                if (keyed[k])
                    dedup_table_prefetch(&d->table, fps[k]);
            next = 0;
        }
        size_t k = next++;
        dedup_fp fp = fps[k];
        const char *detail = details[k];
        if (!keyed[k]) {
            st = api->emit(ctx, "main", r);
            continue;
        }
        int64_t expires_at = sluice_add_sat_i64(api->record_time(r), d->ttl_ms);
        switch (dedup_table_check(&d->table, fp, expires_at, api->record_watermark(r))) {
        case DEDUP_DUPLICATE:
            st = drop_duplicate(api, ctx, d, r, detail);
            break;
        case DEDUP_NEW:
            st = api->emit(ctx, "main", r);
            break;
        case DEDUP_NOMEM:
            api->log(ctx, SLUICE_LOG_ERROR, "out of memory for %zu dedup keys", dedup_table_count(&d->table));
            st = SLUICE_ERR_NOMEM;
            break;
        }
    }
    report_state(api, d);
    return st;
}

/* At end of input every key has expired: free the table. */
static sluice_status dedup_watermark(const sluice_host_api *api, sluice_ctx *ctx, void *self,
                                     int64_t watermark)
{
    (void)ctx;
    dedup *d = self;
    if (watermark == SLUICE_TIME_MAX) {
        dedup_table_clear(&d->table);
        report_state(api, d);
    }
    return SLUICE_OK;
}

static sluice_status dedup_snapshot(const sluice_host_api *api, sluice_ctx *ctx, void *self,
                                    sluice_snapshot *out)
{
    (void)ctx;
    dedup *d = self;
    return dedup_snapshot_write(api, &d->table, out);
}

static sluice_status dedup_restore(const sluice_host_api *api, sluice_ctx *ctx, void *self,
                                   const sluice_snapshot *in)
{
    dedup *d = self;
    sluice_status st = dedup_snapshot_read(api, ctx, &d->table, in);
    report_state(api, d);
    return st;
}

static const sluice_plugin dedup_plugin = {
    .struct_size = sizeof(sluice_plugin),
    .abi_version = SLUICE_ABI_VERSION,
    .name = "dedup",
    .kind = SLUICE_KIND_OPERATOR,
    .version = "1.0.0",
    .description = "drop events whose event_id (or user, url and ts) was seen within ttl",
    .options = dedup_options,
    .outputs = dedup_outputs,
    .create = dedup_create,
    .state = SLUICE_STATE_KEPT,
    .destroy = dedup_destroy,
    .process = dedup_process,
    .watermark = dedup_watermark,
    .snapshot = dedup_snapshot,
    .restore = dedup_restore,
    .state_key = SLUICE_STATE_KEY_EVENT,
};

SLUICE_PLUGIN_EXPORT const sluice_plugin *sluice_plugin_entry(void) { return &dedup_plugin; }
