#include "url_total.h"

#include <sluice/bytes.h>

#include <stdlib.h>
#include <string.h>

#include "summary_record.h"
#include "text_buf.h"
#include "url_count_parts.h"
#include "url_count_snapshot.h"
#include "window_counts.h"

typedef struct total_window {
    window_counts *sum; /* the sums: clicks per URL, its top; users are not in it */
    int64_t *last;      /* [URL index * ntasks + task]: the largest count each task sent */
    size_t last_urls;   /* URLs last has room for */
    int64_t *users;     /* [ntasks]: the largest distinct-user count each task sent */
    int dirty;          /* changed since its summary was last emitted */
} total_window;

struct url_total {
    int64_t size_ms, lateness_ms;
    uint32_t top_n;
    uint32_t ntasks;  /* 0 until the first record says */
    int64_t *wm;      /* [ntasks]: each partial task's last watermark */
    int64_t done;     /* the watermark every task has passed: min of wm */
    total_window **w; /* open windows by start; w[0..nfired) have fired */
    size_t count, cap, nfired;
    text_buf key, json;
    url_order order;
    summary_top *top;
};

url_total *url_total_new(int64_t size_ms, int64_t lateness_ms, uint32_t top_n)
{
    url_total *t = calloc(1, sizeof *t);
    if (t == NULL)
        return NULL;
    t->size_ms = size_ms;
    t->lateness_ms = lateness_ms;
    t->top_n = top_n;
    t->done = SLUICE_TIME_MIN;
    t->top = calloc(top_n, sizeof *t->top);
    if (t->top == NULL) {
        free(t);
        return NULL;
    }
    return t;
}

static void window_free(total_window *w)
{
    if (w == NULL)
        return;
    window_counts_free(w->sum);
    free(w->last);
    free(w->users);
    free(w);
}

static void windows_clear(url_total *t)
{
    for (size_t k = 0; k < t->count; k++)
        window_free(t->w[k]);
    t->count = t->nfired = 0;
}

void url_total_free(url_total *t)
{
    if (t == NULL)
        return;
    windows_clear(t);
    free(t->w);
    free(t->wm);
    url_order_free(&t->order);
    free(t->top);
    text_buf_free(&t->key);
    text_buf_free(&t->json);
    free(t);
}

static int set_tasks(url_total *t, uint32_t ntasks)
{
    int64_t *wm = malloc(ntasks * sizeof *wm);
    if (wm == NULL)
        return -1;
    for (uint32_t k = 0; k < ntasks; k++)
        wm[k] = SLUICE_TIME_MIN;
    free(t->wm);
    t->wm = wm;
    t->ntasks = ntasks;
    return 0;
}

/* FNV-1a with a final mix: the URL's hash for the window's index (the
 * records carry the URL, not the engine's role hash of it). */
static uint64_t url_hash(const char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 0x100000001b3ull;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

static total_window *window_new(const url_total *t, int64_t start)
{
    total_window *w = calloc(1, sizeof *w);
    if (w == NULL)
        return NULL;
    w->sum = window_counts_new(start, sluice_add_sat_i64(start, t->size_ms), t->top_n);
    w->users = calloc(t->ntasks, sizeof *w->users);
    if (w->sum == NULL || w->users == NULL) {
        window_free(w);
        return NULL;
    }
    return w;
}

/* Room in last[] for URL index i. */
static int last_reserve(const url_total *t, total_window *w, size_t i)
{
    if (i < w->last_urls)
        return 0;
    size_t n = w->last_urls ? w->last_urls : 16;
    while (n <= i)
        n *= 2;
    int64_t *grown = realloc(w->last, n * t->ntasks * sizeof *grown);
    if (grown == NULL)
        return -1;
    memset(grown + w->last_urls * t->ntasks, 0, (n - w->last_urls) * t->ntasks * sizeof *grown);
    w->last = grown;
    w->last_urls = n;
    return 0;
}

/* Where the window starting at `start` is, or would go, in t->w. */
static size_t window_place(const url_total *t, int64_t start)
{
    size_t lo = 0, hi = t->count;
    if (hi > 0 && t->w[hi - 1]->sum->start <= start)
        lo = hi - 1; /* most records are of the newest window */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->w[mid]->sum->start < start)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The window starting at `start`, made when new. One made among fired ones
 * was due before it existed: it counts as fired, as in a whole url_count. */
static total_window *window_for(url_total *t, int64_t start)
{
    size_t lo = window_place(t, start);
    if (lo < t->count && t->w[lo]->sum->start == start)
        return t->w[lo];
    if (t->count == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 8;
        total_window **grown = realloc(t->w, cap * sizeof *grown);
        if (grown == NULL)
            return NULL;
        t->w = grown;
        t->cap = cap;
    }
    total_window *w = window_new(t, start);
    if (w == NULL)
        return NULL;
    memmove(t->w + lo + 1, t->w + lo, (t->count - lo) * sizeof *t->w);
    t->w[lo] = w;
    t->count++;
    if (lo < t->nfired) {
        w->sum->fired = 1;
        t->nfired++;
    }
    return w;
}

/* ---- emitting ------------------------------------------------------------ */

static sluice_status emit_summary(const sluice_host_api *api, sluice_ctx *ctx, url_total *t, total_window *w)
{
    int64_t users = 0;
    for (uint32_t k = 0; k < t->ntasks; k++)
        users += w->users[k];
    w->dirty = 0;
    return window_summary_emit(api, ctx, &t->key, &t->json, w->sum, users, t->top);
}

/* Every URL of the window in byte order, then its summary: what a whole
 * url_count emits when the window fires. */
static sluice_status fire(const sluice_host_api *api, sluice_ctx *ctx, url_total *t, total_window *w)
{
    window_counts *s = w->sum;
    const uint32_t *order = window_counts_url_order(s, &t->order);
    if (order == NULL)
        return SLUICE_ERR_NOMEM;
    s->fired = 1;
    for (uint32_t k = 0; k < s->nurls; k++) {
        sluice_status st = url_clicks_record_emit(api, ctx, &t->key, s, order[k]);
        if (st != SLUICE_OK)
            return st;
    }
    return emit_summary(api, ctx, t, w);
}

/* Fire the windows every task has passed the end of, then free those every
 * task has passed the end plus allowed_lateness of. */
static sluice_status advance(const sluice_host_api *api, sluice_ctx *ctx, url_total *t)
{
    int64_t wm = SLUICE_TIME_MAX;
    for (uint32_t k = 0; k < t->ntasks; k++)
        wm = t->wm[k] < wm ? t->wm[k] : wm;
    t->done = wm;
    while (t->nfired < t->count && wm >= t->w[t->nfired]->sum->end) {
        sluice_status st = fire(api, ctx, t, t->w[t->nfired]);
        if (st != SLUICE_OK)
            return st;
        t->nfired++;
    }
    size_t done = 0;
    while (done < t->nfired && wm >= sluice_add_sat_i64(t->w[done]->sum->end, t->lateness_ms))
        window_free(t->w[done++]);
    if (done > 0) {
        memmove(t->w, t->w + done, (t->count - done) * sizeof *t->w);
        t->count -= done;
        t->nfired -= done;
    }
    return SLUICE_OK;
}

/* ---- records from the partial tasks ------------------------------------- */

static sluice_status bad_record(const sluice_host_api *api, sluice_ctx *ctx, const char *what)
{
    api->log(ctx, SLUICE_LOG_ERROR, "url_count total: %s (only url_count's partial part may feed it)", what);
    return SLUICE_ERR;
}

/* A window every task has passed the end plus allowed_lateness of: freed,
 * and nothing new can reach it (see url_total.h). */
static int window_done(const url_total *t, int64_t start)
{
    return t->done >= sluice_add_sat_i64(sluice_add_sat_i64(start, t->size_ms), t->lateness_ms);
}

static sluice_status take_partial(const sluice_host_api *api, sluice_ctx *ctx, url_total *t,
                                  const sluice_record *r, uint32_t task, int64_t start)
{
    int64_t clicks;
    sluice_str url;
    if (!api->field_int(r, "clicks", &clicks) || !api->field_string(r, "url", &url) || clicks < 1 ||
        url.len == 0)
        return bad_record(api, ctx, "a partial count without url or clicks");
    total_window *w = window_for(t, start);
    if (w == NULL)
        return SLUICE_ERR_NOMEM;
    int64_t i = window_counts_url_index(w->sum, url.ptr, url.len, url_hash(url.ptr, url.len));
    if (i < 0 || last_reserve(t, w, (size_t)i) != 0)
        return SLUICE_ERR_NOMEM;
    int64_t *last = &w->last[(size_t)i * t->ntasks + task];
    if (clicks <= *last)
        return SLUICE_OK; /* sent before (a new URL has last 0 and clicks >= 1) */
    if (window_counts_add_clicks(w->sum, (uint32_t)i, clicks - *last) != 0)
        return SLUICE_ERR_NOMEM;
    *last = clicks;
    w->dirty = 1;
    /* An update of a fired window: its URL now, the summary on the task's
     * users record that follows. */
    return w->sum->fired ? url_clicks_record_emit(api, ctx, &t->key, w->sum, (uint32_t)i) : SLUICE_OK;
}

static sluice_status take_users(const sluice_host_api *api, sluice_ctx *ctx, url_total *t,
                                const sluice_record *r, uint32_t task, int64_t start)
{
    int64_t users;
    if (!api->field_int(r, "users", &users) || users < 0)
        return bad_record(api, ctx, "a users count without users");
    size_t lo = window_place(t, start);
    /* A task sends a window's URLs before its users: no window, no clicks. */
    if (lo == t->count || t->w[lo]->sum->start != start)
        return bad_record(api, ctx, "a users count of a window with no clicks");
    total_window *w = t->w[lo];
    if (users > w->users[task]) {
        w->users[task] = users;
        w->dirty = 1;
    }
    return w->sum->fired && w->dirty ? emit_summary(api, ctx, t, w) : SLUICE_OK;
}

static sluice_status take(const sluice_host_api *api, sluice_ctx *ctx, url_total *t, const sluice_record *r)
{
    sluice_str kind;
    int64_t task, tasks;
    if (!api->field_string(r, "kind", &kind))
        return bad_record(api, ctx, "a record without a kind");
    if (!api->field_int(r, "task", &task) || !api->field_int(r, "tasks", &tasks) || tasks < 1 ||
        tasks > 1 << 20 || task < 0 || task >= tasks)
        return bad_record(api, ctx, "a part's record without its task");
    if (t->ntasks == 0 && set_tasks(t, (uint32_t)tasks) != 0)
        return SLUICE_ERR_NOMEM;
    if ((uint32_t)tasks != t->ntasks)
        return bad_record(api, ctx, "partial counts of another task count");
#define KIND_IS(k) (kind.len == strlen(k) && memcmp(kind.ptr, k, kind.len) == 0)
    if (KIND_IS(PART_KIND_WM)) {
        int64_t wm;
        if (!api->field_int(r, "watermark", &wm))
            return bad_record(api, ctx, "a watermark without its value");
        if (wm <= t->wm[task])
            return SLUICE_OK;
        t->wm[task] = wm;
        return advance(api, ctx, t);
    }
    int64_t start;
    if (!api->field_int(r, "window_start", &start) || start % t->size_ms != 0)
        return bad_record(api, ctx, "a partial count without the start of a window of this size");
    if (window_done(t, start))
        return SLUICE_OK; /* a replay (url_total.h) */
    if (KIND_IS(PART_KIND_PARTIAL))
        return take_partial(api, ctx, t, r, (uint32_t)task, start);
    if (KIND_IS(PART_KIND_USERS))
        return take_users(api, ctx, t, r, (uint32_t)task, start);
#undef KIND_IS
    return bad_record(api, ctx, "a record of an unknown kind");
}

sluice_status url_total_process(const sluice_host_api *api, sluice_ctx *ctx, url_total *t,
                                sluice_batch *batch)
{
    sluice_status st = SLUICE_OK;
    for (const sluice_record *r = api->batch_next(batch); r != NULL && st == SLUICE_OK;
         r = api->batch_next(batch))
        st = take(api, ctx, t, r);
    return st;
}

/* ---- snapshots ----------------------------------------------------------- */

sluice_status url_total_snapshot(const sluice_host_api *api, const url_total *t, sluice_snapshot *out)
{
    sluice_bytes_writer b = {0};
    sluice_bytes_put_i64(&b, t->size_ms);
    sluice_bytes_put_u32(&b, t->ntasks);
    for (uint32_t k = 0; k < t->ntasks; k++)
        sluice_bytes_put_i64(&b, t->wm[k]);
    sluice_bytes_put_u64(&b, t->count);
    for (size_t n = 0; n < t->count; n++) {
        const total_window *w = t->w[n];
        window_counts_encode(w->sum, &b);
        for (uint32_t k = 0; k < t->ntasks; k++)
            sluice_bytes_put_i64(&b, w->users[k]);
        for (size_t i = 0; i < (size_t)w->sum->nurls * t->ntasks; i++)
            sluice_bytes_put_i64(&b, w->last[i]);
    }
    return url_count_snapshot_hand_over(api, &b, URL_COUNT_TOTAL_SNAPSHOT_VERSION, out);
}

static sluice_status refuse(const sluice_host_api *api, sluice_ctx *ctx, url_total *t, const char *why)
{
    windows_clear(t);
    api->log(ctx, SLUICE_LOG_ERROR, "url_count state: %s", why);
    return SLUICE_ERR_STATE;
}

/* One window's users and per-task counts; 0, or -1 (malformed) with the
 * window freed. */
static int read_window_tasks(const url_total *t, total_window *w, sluice_bytes_reader *r)
{
    for (uint32_t k = 0; k < t->ntasks; k++) {
        w->users[k] = sluice_bytes_get_i64(r);
        if (w->users[k] < 0)
            r->failed = 1;
    }
    if (r->failed || last_reserve(t, w, w->sum->nurls ? w->sum->nurls - 1 : 0) != 0)
        return -1;
    for (uint32_t i = 0; i < w->sum->nurls && !r->failed; i++) {
        int64_t sum = 0;
        for (uint32_t k = 0; k < t->ntasks; k++) {
            int64_t n = sluice_bytes_get_i64(r);
            /* Each task's share is at most what is left of the URL's sum. */
            if (n < 0 || n > w->sum->urls[i].clicks - sum)
                r->failed = 1;
            sum += r->failed ? 0 : n;
            w->last[(size_t)i * t->ntasks + k] = n;
        }
        if (sum != w->sum->urls[i].clicks)
            r->failed = 1;
    }
    return r->failed ? -1 : 0;
}

sluice_status url_total_restore(const sluice_host_api *api, sluice_ctx *ctx, url_total *t,
                                const sluice_snapshot *in)
{
    windows_clear(t);
    if (in->encoding_version != URL_COUNT_TOTAL_SNAPSHOT_VERSION)
        return refuse(
            api, ctx, t,
            "not written by url_count's total part (two_phase: true with key: on the source): run it "
            "as it was written, or without this step's state (--discard-state)");
    sluice_bytes_reader r = sluice_bytes_reader_of(in->data, in->size);
    int64_t size = sluice_bytes_get_i64(&r);
    uint32_t ntasks = sluice_bytes_get_u32(&r);
    if (r.failed || size != t->size_ms || ntasks > 1 << 20 || (size_t)ntasks * 8 > r.len - r.pos)
        return refuse(api, ctx, t,
                      r.failed || size == t->size_ms ? "malformed" : "written with another window size");
    if (ntasks > 0 && set_tasks(t, ntasks) != 0)
        return refuse(api, ctx, t, "out of memory");
    t->ntasks = ntasks;
    for (uint32_t k = 0; k < ntasks; k++)
        t->wm[k] = sluice_bytes_get_i64(&r);
    uint64_t n = sluice_bytes_get_u64(&r);
    for (uint64_t k = 0; k < n && !r.failed; k++) {
        if (ntasks == 0) {
            r.failed = 1;
            break;
        }
        total_window *w = calloc(1, sizeof *w);
        if (w != NULL) {
            w->users = calloc(ntasks, sizeof *w->users);
            w->sum = window_counts_decode(&r, t->top_n, WINDOW_COUNTS_URLS);
        }
        if (w == NULL || w->users == NULL || w->sum == NULL || read_window_tasks(t, w, &r) != 0) {
            int malformed = r.failed;
            window_free(w);
            return refuse(api, ctx, t, malformed ? "malformed" : "out of memory");
        }
        const total_window *prev = t->count ? t->w[t->count - 1] : NULL;
        int ordered = prev == NULL || prev->sum->start < w->sum->start;
        int fired_prefix = !w->sum->fired || t->nfired == t->count;
        if (!ordered || !fired_prefix || w->sum->start % t->size_ms != 0 ||
            (uint64_t)w->sum->end - (uint64_t)w->sum->start != (uint64_t)t->size_ms) {
            window_free(w);
            return refuse(api, ctx, t, "windows out of order");
        }
        if (t->count == t->cap) {
            size_t cap = t->cap ? t->cap * 2 : 8;
            total_window **grown = realloc(t->w, cap * sizeof *grown);
            if (grown == NULL) {
                window_free(w);
                return refuse(api, ctx, t, "out of memory");
            }
            t->w = grown;
            t->cap = cap;
        }
        t->w[t->count++] = w;
        t->nfired += (size_t)w->sum->fired;
    }
    if (r.failed || r.pos != r.len)
        return refuse(api, ctx, t, "malformed");
    t->done = SLUICE_TIME_MAX;
    for (uint32_t k = 0; k < ntasks; k++)
        t->done = t->wm[k] < t->done ? t->wm[k] : t->done;
    if (ntasks == 0)
        t->done = SLUICE_TIME_MIN;
    return SLUICE_OK;
}

size_t url_total_windows(const url_total *t) { return t->count; }

size_t url_total_keys(const url_total *t)
{
    size_t n = 0;
    for (size_t k = 0; k < t->count; k++)
        n += t->w[k]->sum->nurls;
    return n;
}

size_t url_total_bytes(const url_total *t)
{
    size_t n = sizeof *t + t->cap * sizeof *t->w + t->ntasks * sizeof *t->wm + t->key.cap + t->json.cap +
               url_order_bytes(&t->order);
    for (size_t k = 0; k < t->count; k++)
        n += sizeof *t->w[k] + window_counts_bytes(t->w[k]->sum) +
             t->w[k]->last_urls * t->ntasks * sizeof(int64_t) + t->ntasks * sizeof(int64_t);
    return n;
}
