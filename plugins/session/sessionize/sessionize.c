/* sessionize: per-user sessions of clicks (docs/semantics.md sections 4 and 6).
 *
 * Watermark rules (wm = the watermark in force after the current record):
 *  - an event is too late when ts < wm - allowed_lateness;
 *  - a session ending at E is emitted when wm > E + gap + allowed_lateness,
 *    strictly: until then an event at E + gap could still join it and would
 *    not be too late. At wm = +infinity (end of input) every session goes.
 * All sums saturate, so SLUICE_TIME_MIN / MAX never overflow.
 *
 * Sessions due at the same watermark are emitted in order of (session_end,
 * user bytes, session_start): deterministic, and each user's in time order. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sluice/bytes.h>
#include <sluice/plugin.h>

#include "session_snapshot.h"
#include "session_store.h"

typedef struct due_key {
    int64_t end, start;
    const char *user;
    uint32_t user_len;
    uint32_t id;
} due_key;

typedef struct sessionize {
    int64_t gap, allowed_lateness;
    int64_t horizon; /* gap + allowed_lateness, saturated */
    session_store store;
    due_key *keys;
    size_t keys_cap;
    uint32_t keys_count, keys_next; /* due sessions, in emission order, and the next to emit */
    sluice_counter *c_open, *c_users, *c_urls, *c_bytes, *c_user_bytes;
} sessionize;

static const sluice_option_spec sessionize_options[] = {
    {sizeof(sluice_option_spec), "gap", SLUICE_OPT_DURATION, "30m", 0,
     "a user's clicks at most this far apart belong to one session", 0, 3.0e12, NULL, 0, 0},
    {sizeof(sluice_option_spec), "allowed_lateness", SLUICE_OPT_DURATION, "0", 0,
     "how far behind the watermark an event is still accepted", 0, 3.0e12, NULL, 0, 0},
    SLUICE_OPTION_END,
};

static const char *const sessionize_outputs[] = {"rejected", NULL};

/* Rules the option table cannot express (checked by `sluice check`). */
static sluice_status sessionize_validate(const sluice_host_api *api, sluice_ctx *ctx,
                                         const sluice_options *opts)
{
    sluice_status st = SLUICE_OK;
    if (api->opt_duration_ms(opts, "gap") < 0) {
        api->option_error(ctx, "gap", "must not be negative");
        st = SLUICE_ERR_CONFIG;
    }
    if (api->opt_duration_ms(opts, "allowed_lateness") < 0) {
        api->option_error(ctx, "allowed_lateness", "must not be negative");
        st = SLUICE_ERR_CONFIG;
    }
    return st;
}

static void *sessionize_create(const sluice_host_api *api, sluice_ctx *ctx, const sluice_options *opts,
                               char *errbuf, size_t errbuf_size)
{
    sessionize *s = calloc(1, sizeof *s);
    if (s == NULL) {
        snprintf(errbuf, errbuf_size, "out of memory");
        return NULL;
    }
    s->gap = api->opt_duration_ms(opts, "gap");
    s->allowed_lateness = api->opt_duration_ms(opts, "allowed_lateness");
    if (s->gap < 0 || s->allowed_lateness < 0) {
        snprintf(errbuf, errbuf_size, "gap and allowed_lateness must not be negative");
        free(s);
        return NULL;
    }
    s->horizon = sluice_add_sat_i64(s->gap, s->allowed_lateness);
    session_store_init(&s->store, s->gap);
    s->c_open = api->counter(ctx, "state.keys");
    s->c_users = api->counter(ctx, "state.users");
    s->c_urls = api->counter(ctx, "state.urls");
    s->c_bytes = api->counter(ctx, "state.bytes");
    /* The part of state.bytes that outlives sessions: the users' running
     * averages (and ids), kept for as long as the operator runs. */
    s->c_user_bytes = api->counter(ctx, "state.user_bytes");
    return s;
}

static void sessionize_destroy(const sluice_host_api *api, sluice_ctx *ctx, void *self)
{
    (void)api;
    (void)ctx;
    sessionize *s = self;
    session_store_free(&s->store);
    free(s->keys);
    free(s);
}

static int due_key_cmp(const void *a, const void *b)
{
    const due_key *x = a, *y = b;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    size_t n = x->user_len < y->user_len ? x->user_len : y->user_len;
    int c = memcmp(x->user, y->user, n);
    if (c != 0)
        return c;
    if (x->user_len != y->user_len)
        return x->user_len < y->user_len ? -1 : 1;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    return 0;
}

static sluice_status emit_session(const sluice_host_api *api, sluice_ctx *ctx, sessionize *s, uint32_t id)
{
    session_store *st = &s->store;
    const session *ses = &st->pool[id];
    const user_entry *u = user_table_at(&st->users, ses->user);
    sluice_record *rec = api->record_new(ctx);
    if (rec == NULL)
        return SLUICE_ERR_NOMEM;
    size_t len;
    const char *url;
    api->set_string(rec, "kind", "session", 7);
    api->set_string(rec, "user_id", u->bytes, u->len);
    api->set_int(rec, "session_start", ses->start);
    api->set_int(rec, "session_end", ses->end);
    api->set_int(rec, "duration_ms", ses->end - ses->start);
    api->set_int(rec, "clicks", (int64_t)ses->clicks);
    api->set_int(rec, "unique_urls", (int64_t)ses->urls.count);
    url = url_intern_bytes(&st->urls, ses->entry_url, &len);
    api->set_string(rec, "entry_url", url, len);
    url = url_intern_bytes(&st->urls, ses->exit_url, &len);
    api->set_string(rec, "exit_url", url, len);
    api->set_key(rec, u->bytes, u->len);

    uint64_t user_sessions;
    int64_t duration_sum;
    session_store_close(st, id, &user_sessions, &duration_sum); /* frees the session */
    api->set_int(rec, "user_sessions", (int64_t)user_sessions);
    api->set_double(rec, "user_avg_duration_ms", (double)duration_sum / (double)user_sessions);
    return api->emit(ctx, "main", rec);
}

/* Emit every session due at watermark wm. */
#define FIRE_CHUNK 4096u

/* Take every session due at wm out of the heap, in emission order. */
static sluice_status collect_due(sessionize *s, int64_t wm)
{
    session_store *st = &s->store;
    s->keys_count = s->keys_next = 0;
    if (wm == SLUICE_TIME_MIN || session_heap_empty(&st->heap))
        return SLUICE_OK;
    /* wm > end + horizon  <=>  end < wm - horizon (exact while no underflow;
     * an underflowing limit is below every end, so nothing is due). */
    int all = wm == SLUICE_TIME_MAX;
    if (!all && session_heap_top(&st->heap)->end >= sluice_sub_sat_i64(wm, s->horizon))
        return SLUICE_OK;
    st->due_count = 0;
    if (session_store_take_due(st, sluice_sub_sat_i64(wm, s->horizon), all) != 0)
        return SLUICE_ERR_NOMEM;
    if (st->due_count > s->keys_cap) {
        free(s->keys);
        s->keys_cap = st->due_count * 2;
        s->keys = malloc(s->keys_cap * sizeof *s->keys);
        if (s->keys == NULL) {
            s->keys_cap = 0;
            return SLUICE_ERR_NOMEM;
        }
    }
    for (uint32_t i = 0; i < st->due_count; i++) {
        const session *ses = &st->pool[st->due[i]];
        const user_entry *u = user_table_at(&st->users, ses->user);
        s->keys[i] = (due_key){
            .end = ses->end, .start = ses->start, .user = u->bytes, .user_len = u->len, .id = st->due[i]};
    }
    qsort(s->keys, st->due_count, sizeof *s->keys, due_key_cmp);
    s->keys_count = st->due_count;
    st->due_count = 0; /* each is freed as it is emitted */
    return SLUICE_OK;
}

/* Emit the sessions due at wm, at most `limit` of them in this call; the
 * rest stay in keys[] for the next call (see sessionize_watermark). */
static sluice_status fire(const sluice_host_api *api, sluice_ctx *ctx, sessionize *s, int64_t wm,
                          uint32_t limit)
{
    if (s->keys_next == s->keys_count) {
        sluice_status rc = collect_due(s, wm);
        if (rc != SLUICE_OK)
            return rc;
    }
    sluice_status rc = SLUICE_OK;
    for (; s->keys_next < s->keys_count && limit > 0; limit--) {
        sluice_status r = emit_session(api, ctx, s, s->keys[s->keys_next++].id);
        if (r != SLUICE_OK && rc == SLUICE_OK)
            rc = r;
    }
    return rc;
}

static void report_state(const sluice_host_api *api, sessionize *s)
{
    api->counter_set(s->c_open, s->store.open);
    api->counter_set(s->c_users, user_table_size(&s->store.users));
    api->counter_set(s->c_urls, s->store.urls.live);
    api->counter_set(s->c_bytes, (int64_t)session_store_memory(&s->store));
    api->counter_set(s->c_user_bytes, (int64_t)user_table_memory(&s->store.users));
}

static sluice_status accept_event(const sluice_host_api *api, sluice_ctx *ctx, sessionize *s,
                                  const sluice_record *r, int64_t wm)
{
    int64_t ts = api->record_time(r);
    sluice_str user, url;
    uint64_t user_hash, url_hash;
    if (ts == SLUICE_TIME_MIN)
        return api->reject(ctx, r, SLUICE_REASON_BAD_TS, "record has no event time");
    if (!api->record_role(r, SLUICE_ROLE_USER, &user, &user_hash))
        return api->reject(ctx, r, SLUICE_REASON_BAD_USER, "record has no user");
    if (!api->record_role(r, SLUICE_ROLE_URL, &url, &url_hash))
        return api->reject(ctx, r, SLUICE_REASON_BAD_URL, "record has no url");
    if (ts < sluice_sub_sat_i64(wm, s->allowed_lateness)) {
        char detail[160];
        snprintf(detail, sizeof detail, "ts %lld is older than watermark %lld minus allowed_lateness %lld ms",
                 (long long)ts, (long long)wm, (long long)s->allowed_lateness);
        return api->reject(ctx, r, SLUICE_REASON_TOO_LATE, detail);
    }
    if (session_store_add(&s->store, user.ptr, user.len, user_hash, url.ptr, url.len, url_hash, ts) != 0)
        return SLUICE_ERR_NOMEM;
    return SLUICE_OK;
}

static sluice_status sessionize_process(const sluice_host_api *api, sluice_ctx *ctx, void *self,
                                        sluice_batch *batch)
{
    sessionize *s = self;
    sluice_status rc = SLUICE_OK;
    for (const sluice_record *r; rc == SLUICE_OK && (r = api->batch_next(batch)) != NULL;) {
        /* Users are looked up by a slot and then their record: fetch the
         * slot eight records ahead and the record four ahead, so the cache
         * misses of a large user table overlap. */
        const sluice_record *ahead;
        uint64_t h;
        if ((ahead = api->batch_peek(batch, 8)) != NULL &&
            api->record_role(ahead, SLUICE_ROLE_USER, NULL, &h))
            user_table_prefetch_slot(&s->store.users, h);
        if ((ahead = api->batch_peek(batch, 4)) != NULL &&
            api->record_role(ahead, SLUICE_ROLE_USER, NULL, &h))
            user_table_prefetch_user(&s->store.users, h);
        int64_t wm = api->record_watermark(r);
        rc = accept_event(api, ctx, s, r, wm);
        if (rc == SLUICE_OK)
            rc = fire(api, ctx, s, wm, UINT32_MAX);
    }
    report_state(api, s);
    if (rc == SLUICE_ERR_NOMEM)
        api->fail(ctx, "sessionize: out of memory");
    return rc;
}

static sluice_status sessionize_watermark(const sluice_host_api *api, sluice_ctx *ctx, void *self,
                                          int64_t watermark)
{
    sessionize *s = self;
    /* At most FIRE_CHUNK sessions per call: the end of the input can make
     * every open session due at once, and the host frees each chunk's
     * records before asking for the next. */
    sluice_status rc = fire(api, ctx, s, watermark, FIRE_CHUNK);
    if (rc == SLUICE_OK && s->keys_next < s->keys_count) {
        report_state(api, s);
        return SLUICE_MORE;
    }
    report_state(api, s);
    if (rc == SLUICE_ERR_NOMEM)
        api->fail(ctx, "sessionize: out of memory");
    return rc;
}

static sluice_status sessionize_snapshot(const sluice_host_api *api, sluice_ctx *ctx, void *self,
                                         sluice_snapshot *out)
{
    (void)ctx;
    sessionize *s = self;
    return sessionize_snapshot_write(api, &s->store, out);
}

static sluice_status sessionize_restore(const sluice_host_api *api, sluice_ctx *ctx, void *self,
                                        const sluice_snapshot *in)
{
    sessionize *s = self;
    session_store_free(&s->store);
    session_store_init(&s->store, s->gap);
    sluice_status rc = sessionize_snapshot_read(api, ctx, &s->store, in);
    report_state(api, s);
    return rc;
}

static const sluice_plugin sessionize_plugin = {
    .struct_size = sizeof(sluice_plugin),
    .abi_version = SLUICE_ABI_VERSION,
    .name = "sessionize",
    .kind = SLUICE_KIND_OPERATOR,
    .version = "1.0.0",
    .description = "per-user click sessions split at gaps, with running average duration",
    .options = sessionize_options,
    .outputs = sessionize_outputs,
    .create = sessionize_create,
    .validate = sessionize_validate,
    .state = SLUICE_STATE_KEPT,
    .destroy = sessionize_destroy,
    .process = sessionize_process,
    .watermark = sessionize_watermark,
    .snapshot = sessionize_snapshot,
    .restore = sessionize_restore,
    .state_key = SLUICE_STATE_KEY_USER,
};

SLUICE_PLUGIN_EXPORT const sluice_plugin *sluice_plugin_entry(void) { return &sessionize_plugin; }
