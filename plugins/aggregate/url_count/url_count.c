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
 * saturate, as it may be SLUICE_TIME_MIN or SLUICE_TIME_MAX.
 *
 * With keyed steps in tasks it runs in parts (url_count_parts.h): this file
 * is the whole and the by_url, by_user and partial parts, which count as
 * the whole does and send what they count; url_merge.c is the summary of
 * by_url and by_user, url_total.c the total of the partial tasks. */
#include <sluice/bytes.h>
#include <sluice/plugin.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "summary_record.h"
#include "text_buf.h"
#include "url_count_parts.h"
#include "url_count_snapshot.h"
#include "url_merge.h"
#include "url_total.h"
#include "window_counts.h"

typedef struct url_count {
    int64_t size_ms;
    int64_t lateness_ms;
    uint32_t top_n;

    window_list windows; /* open windows, sorted by start */

    text_buf key, json; /* scratch for record keys and top_urls */
    url_order order;    /* scratch for sorting a window's URLs */
    summary_top *top;   /* scratch for a summary's top URLs */

    int part;                     /* enum url_count_part */
    uint32_t task, ntasks;        /* of a part */
    int64_t told_fire, told_free; /* the window indices the summary was last told of (signal) */
    url_merge *merge;             /* the summary part */
    url_total *total;             /* the total part */

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

static const sluice_part url_count_parts[] = {
    {"by_url", SLUICE_STATE_KEY_URL},  {"by_user", SLUICE_STATE_KEY_USER},
    {"summary", SLUICE_STATE_KEY_ALL}, {"partial", SLUICE_STATE_KEY_PARTITION},
    {"total", SLUICE_STATE_KEY_ALL},   {NULL, SLUICE_STATE_KEY_UNDECLARED},
};

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
    return url_clicks_record_emit(api, ctx, &uc->key, w, i);
}

static sluice_status emit_summary(const sluice_host_api *api, sluice_ctx *ctx, url_count *uc,
                                  const window_counts *w)
{
    return window_summary_emit(api, ctx, &uc->key, &uc->json, w, (int64_t)w->nusers, uc->top);
}

/* ---- what the by_url and by_user parts send the summary ------------------ */

static sluice_record *part_record(const sluice_host_api *api, sluice_ctx *ctx, const url_count *uc,
                                  const char *kind)
{
    sluice_record *rec = api->record_new(ctx);
    if (rec == NULL)
        return NULL;
    api->set_string(rec, "kind", kind, strlen(kind));
    api->set_int(rec, "task", uc->task);
    api->set_int(rec, "tasks", uc->ntasks);
    return rec;
}

/* A by_url task's share of the window's summary: its top URLs, then its
 * totals. */
static sluice_status emit_url_part(const sluice_host_api *api, sluice_ctx *ctx, url_count *uc,
                                   const window_counts *w)
{
    for (uint32_t k = 0; k < w->ntop; k++) {
        sluice_record *rec = part_record(api, ctx, uc, PART_KIND_TOP);
        if (rec == NULL)
            return SLUICE_ERR_NOMEM;
        api->set_int(rec, "window_start", w->start);
        api->set_int(rec, "rank", k);
        api->set_string(rec, "url", window_counts_url(w, w->top[k]), w->urls[w->top[k]].len);
        api->set_int(rec, "clicks", w->urls[w->top[k]].clicks);
        sluice_status st = api->emit(ctx, "main", rec);
        if (st != SLUICE_OK)
            return st;
    }
    sluice_record *rec = part_record(api, ctx, uc, PART_KIND_WINDOW);
    if (rec == NULL)
        return SLUICE_ERR_NOMEM;
    api->set_int(rec, "window_start", w->start);
    api->set_int(rec, "window_end", w->end);
    api->set_int(rec, "clicks", w->clicks);
    api->set_int(rec, "urls", w->nurls);
    api->set_int(rec, "ntop", w->ntop);
    return api->emit(ctx, "main", rec);
}

/* A partial task's records are keyed by their window: where the total runs
 * in several tasks (an exchange through the broker), one task gets every
 * partition's counts of a window, and sums them alone. Watermarks have no
 * key: every task of the total hears them. */
static sluice_status key_by_window(const sluice_host_api *api, url_count *uc, sluice_record *rec,
                                   const window_counts *w)
{
    text_buf_reset(&uc->key);
    text_buf_append_int(&uc->key, w->start);
    if (uc->key.failed)
        return SLUICE_ERR_NOMEM;
    api->set_key(rec, uc->key.ptr, uc->key.len);
    return SLUICE_OK;
}

static sluice_status emit_users_part(const sluice_host_api *api, sluice_ctx *ctx, url_count *uc,
                                     const window_counts *w)
{
    sluice_record *rec = part_record(api, ctx, uc, PART_KIND_USERS);
    if (rec == NULL)
        return SLUICE_ERR_NOMEM;
    api->set_int(rec, "window_start", w->start);
    api->set_int(rec, "window_end", w->end);
    api->set_int(rec, "users", (int64_t)w->nusers);
    sluice_status st = uc->part == PART_PARTIAL ? key_by_window(api, uc, rec, w) : SLUICE_OK;
    return st != SLUICE_OK ? st : api->emit(ctx, "main", rec);
}

/* A partial task's clicks of URL i in the window so far. */
static sluice_status emit_partial(const sluice_host_api *api, sluice_ctx *ctx, url_count *uc,
                                  const window_counts *w, uint32_t i)
{
    sluice_record *rec = part_record(api, ctx, uc, PART_KIND_PARTIAL);
    if (rec == NULL)
        return SLUICE_ERR_NOMEM;
    api->set_int(rec, "window_start", w->start);
    api->set_string(rec, "url", window_counts_url(w, i), w->urls[i].len);
    api->set_int(rec, "clicks", w->urls[i].clicks);
    sluice_status st = key_by_window(api, uc, rec, w);
    return st != SLUICE_OK ? st : api->emit(ctx, "main", rec);
}

/* A part's task tells the summary its watermark when it passes a window's
 * end, or a window's end plus allowed_lateness: the only points where the
 * summary has something to do. */
static sluice_status signal(const sluice_host_api *api, sluice_ctx *ctx, url_count *uc, int64_t wm)
{
    if (uc->part != PART_BY_URL && uc->part != PART_BY_USER && uc->part != PART_PARTIAL)
        return SLUICE_OK;
    if (wm == SLUICE_TIME_MIN)
        return SLUICE_OK;
    int64_t fire_at = wm == SLUICE_TIME_MAX ? INT64_MAX : window_start_of(wm, uc->size_ms);
    int64_t free_at = wm == SLUICE_TIME_MAX
                          ? INT64_MAX
                          : window_start_of(sluice_sub_sat_i64(wm, uc->lateness_ms), uc->size_ms);
    if (fire_at == uc->told_fire && free_at == uc->told_free)
        return SLUICE_OK;
    uc->told_fire = fire_at;
    uc->told_free = free_at;
    sluice_record *rec = part_record(api, ctx, uc, PART_KIND_WM);
    if (rec == NULL)
        return SLUICE_ERR_NOMEM;
    api->set_int(rec, "part", uc->part);
    api->set_int(rec, "watermark", wm);
    return api->emit(ctx, "main", rec);
}

/* What a window's firing, or an update to a fired window, sends on. */
static sluice_status emit_window(const sluice_host_api *api, sluice_ctx *ctx, url_count *uc,
                                 const window_counts *w)
{
    switch (uc->part) {
    case PART_BY_URL:
        return emit_url_part(api, ctx, uc, w);
    case PART_BY_USER:
    case PART_PARTIAL: /* after the URL's partial count */
        return emit_users_part(api, ctx, uc, w);
    default:
        return emit_summary(api, ctx, uc, w);
    }
}

/* Every URL of the window in byte order, then the summary (or the part's
 * share of it). */
static sluice_status fire(const sluice_host_api *api, sluice_ctx *ctx, url_count *uc, window_counts *w)
{
    if (uc->part == PART_BY_USER) {
        w->fired = 1;
        return emit_users_part(api, ctx, uc, w);
    }
    if (uc->part == PART_PARTIAL) { /* the total sorts the URLs when it fires */
        w->fired = 1;
        for (uint32_t i = 0; i < w->nurls; i++) {
            sluice_status st = emit_partial(api, ctx, uc, w, i);
            if (st != SLUICE_OK)
                return st;
        }
        return emit_users_part(api, ctx, uc, w);
    }
    const uint32_t *order = window_counts_url_order(w, &uc->order);
    if (order == NULL)
        return SLUICE_ERR_NOMEM;
    w->fired = 1;
    for (uint32_t k = 0; k < w->nurls; k++) {
        sluice_status st = emit_url_clicks(api, ctx, uc, w, order[k]);
        if (st != SLUICE_OK)
            return st;
    }
    return emit_window(api, ctx, uc, w);
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

/* Count one event at watermark wm (before firing what wm makes due).
 * Lateness is judged by the event's partition's watermark where the
 * pipeline runs partition tasks (api->record_lateness_watermark), as the
 * steps in them judge it. */
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
    int64_t judged = wm;
    if (SLUICE_HOST_HAS(api, record_lateness_watermark))
        judged = api->record_lateness_watermark(ctx, r);
    if (ts < sluice_sub_sat_i64(judged, uc->lateness_ms)) /* by_url's tasks reject it: they see every event */
        return uc->part == PART_BY_USER ? SLUICE_OK : reject_too_late(api, ctx, uc, r, ts, judged);

    window_counts *w = window_for(uc, window_start_of(ts, uc->size_ms));
    if (w == NULL)
        return SLUICE_ERR_NOMEM;
    int64_t i = window_counts_add(w, uc->part == PART_BY_USER ? NULL : url.ptr, url.len, url_hash,
                                  uc->part == PART_BY_URL ? NULL : user.ptr, user.len, user_hash);
    if (i < 0)
        return SLUICE_ERR_NOMEM;
    if (!w->fired)
        return SLUICE_OK;
    sluice_status st = uc->part == PART_BY_USER   ? SLUICE_OK
                       : uc->part == PART_PARTIAL ? emit_partial(api, ctx, uc, w, (uint32_t)i)
                                                  : emit_url_clicks(api, ctx, uc, w, (uint32_t)i);
    return st != SLUICE_OK ? st : emit_window(api, ctx, uc, w);
}

static void report_state(const sluice_host_api *api, url_count *uc)
{
    if (uc->merge) {
        api->counter_set(uc->state_windows, (int64_t)url_merge_windows(uc->merge));
        api->counter_set(uc->state_bytes, (int64_t)url_merge_bytes(uc->merge));
        return;
    }
    if (uc->total) {
        api->counter_set(uc->state_windows, (int64_t)url_total_windows(uc->total));
        api->counter_set(uc->state_keys, (int64_t)url_total_keys(uc->total));
        api->counter_set(uc->state_bytes, (int64_t)url_total_bytes(uc->total));
        return;
    }
    size_t keys = 0, bytes = sizeof *uc + uc->windows.cap * sizeof *uc->windows.items + uc->key.cap +
                             uc->json.cap + url_order_bytes(&uc->order);
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
    uc->top = calloc(uc->top_n, sizeof *uc->top);
    uc->part = PART_WHOLE;
    uc->ntasks = 1;
    if (SLUICE_HOST_HAS(api, step_part))
        uc->part = api->step_part(ctx, &uc->task, &uc->ntasks);
    uc->told_fire = uc->told_free = INT64_MIN;
    if (uc->part == PART_SUMMARY)
        uc->merge = url_merge_new(uc->size_ms, uc->lateness_ms, uc->top_n);
    if (uc->part == PART_TOTAL)
        uc->total = url_total_new(uc->size_ms, uc->lateness_ms, uc->top_n);
    if (uc->top == NULL || (uc->part == PART_SUMMARY && uc->merge == NULL) ||
        (uc->part == PART_TOTAL && uc->total == NULL) || uc->part > PART_TOTAL) {
        snprintf(errbuf, errbuf_size, uc->part > PART_TOTAL ? "unknown part" : "out of memory");
        free(uc->top);
        url_merge_free(uc->merge);
        url_total_free(uc->total);
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
    url_order_free(&uc->order);
    free(uc->top);
    url_merge_free(uc->merge);
    url_total_free(uc->total);
    text_buf_free(&uc->key);
    text_buf_free(&uc->json);
    free(uc);
}

static sluice_status url_count_process(const sluice_host_api *api, sluice_ctx *ctx, void *self,
                                       sluice_batch *batch)
{
    url_count *uc = self;
    sluice_status st = SLUICE_OK;
    if (uc->merge || uc->total) {
        st = uc->merge ? url_merge_process(api, ctx, uc->merge, batch)
                       : url_total_process(api, ctx, uc->total, batch);
        report_state(api, uc);
        return st;
    }
    for (const sluice_record *r = api->batch_next(batch); r != NULL && st == SLUICE_OK;
         r = api->batch_next(batch)) {
        int64_t wm = api->record_watermark(r);
        st = apply(api, ctx, uc, r, wm);
        if (st == SLUICE_OK)
            st = advance(api, ctx, uc, wm);
        if (st == SLUICE_OK)
            st = signal(api, ctx, uc, wm);
    }
    report_state(api, uc);
    return st;
}

static sluice_status url_count_watermark(const sluice_host_api *api, sluice_ctx *ctx, void *self,
                                         int64_t watermark)
{
    url_count *uc = self;
    if (uc->merge || uc->total) /* it goes by what the parts' tasks tell it */
        return SLUICE_OK;
    sluice_status st = advance(api, ctx, uc, watermark);
    if (st == SLUICE_OK)
        st = signal(api, ctx, uc, watermark);
    report_state(api, uc);
    return st;
}

static uint32_t snapshot_version(const url_count *uc)
{
    return uc->part == PART_BY_URL    ? URL_COUNT_BY_URL_SNAPSHOT_VERSION
           : uc->part == PART_BY_USER ? URL_COUNT_BY_USER_SNAPSHOT_VERSION
           : uc->part == PART_PARTIAL ? URL_COUNT_PARTIAL_SNAPSHOT_VERSION
                                      : URL_COUNT_SNAPSHOT_VERSION;
}

static sluice_status url_count_snapshot(const sluice_host_api *api, sluice_ctx *ctx, void *self,
                                        sluice_snapshot *out)
{
    (void)ctx;
    url_count *uc = self;
    if (uc->merge)
        return url_merge_snapshot(api, uc->merge, out);
    if (uc->total)
        return url_total_snapshot(api, uc->total, out);
    return url_count_snapshot_write(api, &uc->windows, uc->size_ms, snapshot_version(uc), out);
}

static sluice_status url_count_restore(const sluice_host_api *api, sluice_ctx *ctx, void *self,
                                       const sluice_snapshot *in)
{
    url_count *uc = self;
    if (uc->merge || uc->total) {
        sluice_status st = uc->merge ? url_merge_restore(api, ctx, uc->merge, in)
                                     : url_total_restore(api, ctx, uc->total, in);
        report_state(api, uc);
        return st;
    }
    for (size_t k = 0; k < uc->windows.count; k++)
        window_counts_free(uc->windows.items[k]);
    uc->windows.count = uc->windows.nfired = 0;
    sluice_status st =
        url_count_snapshot_read(api, ctx, &uc->windows, uc->size_ms, uc->top_n, snapshot_version(uc), in);
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
    .parts = url_count_parts,
};

SLUICE_PLUGIN_EXPORT const sluice_plugin *sluice_plugin_entry(void) { return &url_count_plugin; }
