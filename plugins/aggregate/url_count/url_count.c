/* url_count: clicks per URL over tumbling event-time windows, and a summary
 * per window (docs/semantics.md section 5).
 *
 * Windows are [k*size, (k+1)*size) on the epoch. With W the watermark in force
 * after the record being handled (the record is applied first, then what is
 * due at W fires):
 *  - an event is too late when ts < W - allowed_lateness: rejected, not counted;
 *  - a window fires when W >= window_end: one url_clicks record per URL in URL
 *    byte order, then its window_summary; windows fire in window_start order;
 *  - a window takes updates while W < window_end + allowed_lateness; an event
 *    accepted into a fired window re-emits its URL's url_clicks and the
 *    window_summary at once; at W >= window_end + allowed_lateness its state
 *    is freed.
 * An accepted event (ts >= W - allowed_lateness) always falls in a window
 * that still takes updates, since window_end > ts. Sums with the watermark
 * saturate, as it may be SLUICE_TIME_MIN or SLUICE_TIME_MAX. */
#include <sluice/bytes.h>
#include <sluice/plugin.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text_buf.h"
#include "url_count_snapshot.h"
#include "window_counts.h"

typedef struct url_count {
    int64_t size_ms;
    int64_t lateness_ms;
    uint32_t top_n;

    window_list windows; /* open windows, sorted by start */

    text_buf key, json;        /* scratch for record keys and top_urls */
    uint32_t *order, *scratch; /* scratch for sorting a window's URLs */
    size_t order_cap;

    sluice_counter *state_windows, *state_keys, *state_bytes;
} url_count;

static const sluice_option_spec url_count_options[] = {
    {sizeof(sluice_option_spec), "size", SLUICE_OPT_DURATION, "1m", 0,
     "window length; windows are aligned to the epoch", 1, 1e15, NULL, 0, 0},
    {sizeof(sluice_option_spec), "allowed_lateness", SLUICE_OPT_DURATION, "0", 0,
     "how long after a window fires late events still update it", 0, 1e15, NULL, 0, 0},
    {sizeof(sluice_option_spec), "top", SLUICE_OPT_INT, "10", 0,
     "how many URLs the window_summary lists in top_urls", 1, 1000000, NULL, 0, 0},
    SLUICE_OPTION_END,
};

static const char *const url_count_outputs[] = {"rejected", NULL};

static int64_t window_start_of(int64_t ts, int64_t size)
{
    int64_t q = ts / size;
    if (ts % size < 0)
        q--; /* floor, should a negative time ever arrive */
    return q * size;
}

/* ---- emitting ------------------------------------------------------------ */

static sluice_status emit_url_clicks(const sluice_host_api *api, sluice_ctx *ctx, url_count *uc,
                                     const window_counts *w, uint32_t i)
{
    const url_entry *e = &w->urls[i];
    const char *url = window_counts_url(w, i);
    sluice_record *rec = api->record_new(ctx);
    if (rec == NULL)
        return SLUICE_ERR_NOMEM;
    api->set_string(rec, "kind", "url_clicks", strlen("url_clicks"));
    api->set_int(rec, "window_start", w->start);
    api->set_int(rec, "window_end", w->end);
    api->set_string(rec, "url", url, e->len);
    api->set_int(rec, "clicks", e->clicks);

    text_buf_reset(&uc->key);
    text_buf_append_int(&uc->key, w->start);
    text_buf_append(&uc->key, "|", 1);
    text_buf_append(&uc->key, url, e->len);
    if (uc->key.failed)
        return SLUICE_ERR_NOMEM;
    api->set_key(rec, uc->key.ptr, uc->key.len);
    return api->emit(ctx, "main", rec);
}

static sluice_status emit_summary(const sluice_host_api *api, sluice_ctx *ctx, url_count *uc,
                                  const window_counts *w)
{
    sluice_record *rec = api->record_new(ctx);
    if (rec == NULL)
        return SLUICE_ERR_NOMEM;
    api->set_string(rec, "kind", "window_summary", strlen("window_summary"));
    api->set_int(rec, "window_start", w->start);
    api->set_int(rec, "window_end", w->end);
    api->set_int(rec, "clicks", w->clicks);
    api->set_int(rec, "unique_users", (int64_t)w->nusers);
    api->set_int(rec, "unique_urls", (int64_t)w->nurls);

    text_buf *j = &uc->json;
    text_buf_reset(j);
    text_buf_append(j, "[", 1);
    for (uint32_t k = 0; k < w->ntop; k++) {
        uint32_t i = w->top[k];
        text_buf_append(j, k == 0 ? "{\"url\":" : ",{\"url\":", k == 0 ? 7 : 8);
        text_buf_append_json_string(j, window_counts_url(w, i), w->urls[i].len);
        text_buf_append(j, ",\"clicks\":", 10);
        text_buf_append_int(j, w->urls[i].clicks);
        text_buf_append(j, "}", 1);
    }
    text_buf_append(j, "]", 1);
    if (j->failed)
        return SLUICE_ERR_NOMEM;
    api->set_json(rec, "top_urls", j->ptr, j->len);

    text_buf_reset(&uc->key);
    text_buf_append_int(&uc->key, w->start);
    if (uc->key.failed)
        return SLUICE_ERR_NOMEM;
    api->set_key(rec, uc->key.ptr, uc->key.len);
    return api->emit(ctx, "main", rec);
}

/* Every URL of the window in byte order, then the summary. */
static sluice_status fire(const sluice_host_api *api, sluice_ctx *ctx, url_count *uc, window_counts *w)
{
    if (w->nurls > uc->order_cap) {
        size_t cap = uc->order_cap ? uc->order_cap : 64;
        while (cap < w->nurls)
            cap *= 2;
        uint32_t *order = realloc(uc->order, cap * sizeof *order);
        if (order == NULL)
            return SLUICE_ERR_NOMEM;
        uc->order = order;
        uint32_t *scratch = realloc(uc->scratch, cap * sizeof *scratch);
        if (scratch == NULL)
            return SLUICE_ERR_NOMEM;
        uc->scratch = scratch;
        uc->order_cap = cap;
    }
    window_counts_sort_by_url(w, uc->order, uc->scratch);
    w->fired = 1;
    for (uint32_t k = 0; k < w->nurls; k++) {
        sluice_status st = emit_url_clicks(api, ctx, uc, w, uc->order[k]);
        if (st != SLUICE_OK)
            return st;
    }
    return emit_summary(api, ctx, uc, w);
}

/* ---- windows over time --------------------------------------------------- */

/* Fire the windows due at wm in start order, then free those past lateness.
 * Fired windows are always a prefix: a window due at wm has an end no later
 * than any unfired one's. */
static sluice_status advance(const sluice_host_api *api, sluice_ctx *ctx, url_count *uc, int64_t wm)
{
    while (uc->windows.nfired < uc->windows.count && wm >= uc->windows.items[uc->windows.nfired]->end) {
        sluice_status st = fire(api, ctx, uc, uc->windows.items[uc->windows.nfired]);
        if (st != SLUICE_OK)
            return st;
        uc->windows.nfired++;
    }
    size_t done = 0;
    while (done < uc->windows.nfired &&
           wm >= sluice_add_sat_i64(uc->windows.items[done]->end, uc->lateness_ms))
        window_counts_free(uc->windows.items[done++]);
    if (done > 0) {
        memmove(uc->windows.items, uc->windows.items + done,
                (uc->windows.count - done) * sizeof *uc->windows.items);
        uc->windows.count -= done;
        uc->windows.nfired -= done;
    }
    return SLUICE_OK;
}

/* The window starting at `start`, created when new. A new window placed
 * among fired ones was due before it existed (the watermark already passed
 * its end): it counts as fired, so its first click is emitted as an update,
 * which for a one-click window is the whole firing. */
static window_counts *window_for(url_count *uc, int64_t start)
{
    size_t lo = 0, hi = uc->windows.count;
    /* Most events go to the newest window: check it before searching. */
    if (hi > 0 && uc->windows.items[hi - 1]->start <= start)
        lo = hi - 1;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (uc->windows.items[mid]->start < start)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < uc->windows.count && uc->windows.items[lo]->start == start)
        return uc->windows.items[lo];

    if (uc->windows.count == uc->windows.cap) {
        size_t cap = uc->windows.cap ? uc->windows.cap * 2 : 8;
        window_counts **windows = realloc(uc->windows.items, cap * sizeof *windows);
        if (windows == NULL)
            return NULL;
        uc->windows.items = windows;
        uc->windows.cap = cap;
    }
    window_counts *w = window_counts_new(start, sluice_add_sat_i64(start, uc->size_ms), uc->top_n);
    if (w == NULL)
        return NULL;
    memmove(uc->windows.items + lo + 1, uc->windows.items + lo,
            (uc->windows.count - lo) * sizeof *uc->windows.items);
    uc->windows.items[lo] = w;
    uc->windows.count++;
    if (lo < uc->windows.nfired) {
        w->fired = 1;
        uc->windows.nfired++;
    }
    return w;
}

static sluice_status reject_too_late(const sluice_host_api *api, sluice_ctx *ctx, url_count *uc,
                                     const sluice_record *r, int64_t ts, int64_t wm)
{
    char detail[160];
    snprintf(detail, sizeof detail,
             "ts %" PRId64 " is older than watermark %" PRId64 " minus allowed_lateness %" PRId64 " ms", ts,
             wm, uc->lateness_ms);
    return api->reject(ctx, r, SLUICE_REASON_TOO_LATE, detail);
}

/* Count one event at watermark wm (before firing what wm makes due). */
static sluice_status apply(const sluice_host_api *api, sluice_ctx *ctx, url_count *uc, const sluice_record *r,
                           int64_t wm)
{
    int64_t ts = api->record_time(r);
    sluice_str url, user;
    uint64_t url_hash, user_hash;
    if (ts == SLUICE_TIME_MIN || !api->record_role(r, SLUICE_ROLE_URL, &url, &url_hash) ||
        !api->record_role(r, SLUICE_ROLE_USER, &user, &user_hash)) {
        api->log(ctx, SLUICE_LOG_ERROR,
                 "a record without event time, url or user: is the "
                 "source's event decoding off?");
        return SLUICE_ERR;
    }
    if (ts < sluice_sub_sat_i64(wm, uc->lateness_ms))
        return reject_too_late(api, ctx, uc, r, ts, wm);

    window_counts *w = window_for(uc, window_start_of(ts, uc->size_ms));
    if (w == NULL)
        return SLUICE_ERR_NOMEM;
    int64_t i = window_counts_add(w, url.ptr, url.len, url_hash, user.ptr, user.len, user_hash);
    if (i < 0)
        return SLUICE_ERR_NOMEM;
    if (!w->fired)
        return SLUICE_OK;
    sluice_status st = emit_url_clicks(api, ctx, uc, w, (uint32_t)i);
    return st != SLUICE_OK ? st : emit_summary(api, ctx, uc, w);
}

static void report_state(const sluice_host_api *api, url_count *uc)
{
    size_t keys = 0, bytes = sizeof *uc + uc->windows.cap * sizeof *uc->windows.items + uc->key.cap +
                             uc->json.cap + 2 * uc->order_cap * sizeof *uc->order;
    for (size_t k = 0; k < uc->windows.count; k++) {
        keys += window_counts_keys(uc->windows.items[k]);
        bytes += window_counts_bytes(uc->windows.items[k]);
    }
    api->counter_set(uc->state_windows, (int64_t)uc->windows.count);
    api->counter_set(uc->state_keys, (int64_t)keys);
    api->counter_set(uc->state_bytes, (int64_t)bytes);
}

/* ---- hooks --------------------------------------------------------------- */

/* Rules across the option table's ranges (checked by `sluice check`). */
static sluice_status url_count_validate(const sluice_host_api *api, sluice_ctx *ctx,
                                        const sluice_options *opts)
{
    sluice_status st = SLUICE_OK;
    if (api->opt_duration_ms(opts, "size") < 1) {
        api->option_error(ctx, "size", "the window size must be at least 1ms");
        st = SLUICE_ERR_CONFIG;
    }
    if (api->opt_duration_ms(opts, "allowed_lateness") < 0) {
        api->option_error(ctx, "allowed_lateness", "must not be negative");
        st = SLUICE_ERR_CONFIG;
    }
    if (api->opt_int(opts, "top") < 1) {
        api->option_error(ctx, "top", "must be at least 1");
        st = SLUICE_ERR_CONFIG;
    }
    return st;
}

static void *url_count_create(const sluice_host_api *api, sluice_ctx *ctx, const sluice_options *opts,
                              char *errbuf, size_t errbuf_size)
{
    url_count *uc = calloc(1, sizeof *uc);
    if (uc == NULL) {
        snprintf(errbuf, errbuf_size, "out of memory");
        return NULL;
    }
    uc->size_ms = api->opt_duration_ms(opts, "size");
    uc->lateness_ms = api->opt_duration_ms(opts, "allowed_lateness");
    uc->top_n = (uint32_t)api->opt_int(opts, "top");
    if (uc->size_ms < 1 || uc->lateness_ms < 0 || uc->top_n < 1) {
        snprintf(errbuf, errbuf_size, "size must be >= 1ms, allowed_lateness >= 0 and top >= 1");
        free(uc);
        return NULL;
    }
    uc->state_windows = api->counter(ctx, "state.windows");
    uc->state_keys = api->counter(ctx, "state.keys");
    uc->state_bytes = api->counter(ctx, "state.bytes");
    report_state(api, uc);
    return uc;
}

static void url_count_destroy(const sluice_host_api *api, sluice_ctx *ctx, void *self)
{
    (void)api;
    (void)ctx;
    url_count *uc = self;
    for (size_t k = 0; k < uc->windows.count; k++)
        window_counts_free(uc->windows.items[k]);
    free(uc->windows.items);
    free(uc->order);
    free(uc->scratch);
    text_buf_free(&uc->key);
    text_buf_free(&uc->json);
    free(uc);
}

static sluice_status url_count_process(const sluice_host_api *api, sluice_ctx *ctx, void *self,
                                       sluice_batch *batch)
{
    url_count *uc = self;
    sluice_status st = SLUICE_OK;
    for (const sluice_record *r = api->batch_next(batch); r != NULL && st == SLUICE_OK;
         r = api->batch_next(batch)) {
        int64_t wm = api->record_watermark(r);
        st = apply(api, ctx, uc, r, wm);
        if (st == SLUICE_OK)
            st = advance(api, ctx, uc, wm);
    }
    report_state(api, uc);
    return st;
}

static sluice_status url_count_watermark(const sluice_host_api *api, sluice_ctx *ctx, void *self,
                                         int64_t watermark)
{
    url_count *uc = self;
    sluice_status st = advance(api, ctx, uc, watermark);
    report_state(api, uc);
    return st;
}

static sluice_status url_count_snapshot(const sluice_host_api *api, sluice_ctx *ctx, void *self,
                                        sluice_snapshot *out)
{
    (void)ctx;
    url_count *uc = self;
    return url_count_snapshot_write(api, &uc->windows, uc->size_ms, out);
}

static sluice_status url_count_restore(const sluice_host_api *api, sluice_ctx *ctx, void *self,
                                       const sluice_snapshot *in)
{
    url_count *uc = self;
    for (size_t k = 0; k < uc->windows.count; k++)
        window_counts_free(uc->windows.items[k]);
    uc->windows.count = uc->windows.nfired = 0;
    sluice_status st = url_count_snapshot_read(api, ctx, &uc->windows, uc->size_ms, uc->top_n, in);
    report_state(api, uc);
    return st;
}

static const sluice_plugin url_count_plugin = {
    .struct_size = sizeof(sluice_plugin),
    .abi_version = SLUICE_ABI_VERSION,
    .name = "url_count",
    .kind = SLUICE_KIND_OPERATOR,
    .version = "1.0.0",
    .description = "clicks per URL and a top-URL summary over tumbling event-time windows",
    .options = url_count_options,
    .outputs = url_count_outputs,
    .create = url_count_create,
    .validate = url_count_validate,
    .state = SLUICE_STATE_KEPT,
    .destroy = url_count_destroy,
    .process = url_count_process,
    .watermark = url_count_watermark,
    .snapshot = url_count_snapshot,
    .restore = url_count_restore,
    .state_key = SLUICE_STATE_KEY_ALL,
};

SLUICE_PLUGIN_EXPORT const sluice_plugin *sluice_plugin_entry(void) { return &url_count_plugin; }
