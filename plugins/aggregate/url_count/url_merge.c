#include "url_merge.h"

#include <sluice/bytes.h>

#include <stdlib.h>
#include <string.h>

#include "summary_record.h"
#include "text_buf.h"
#include "url_count_parts.h"
#include "url_count_snapshot.h"

typedef struct top_entry {
    char *url; /* malloc'd */
    uint32_t len;
    int64_t clicks;
} top_entry;

/* What one by_url task last sent of a window. */
typedef struct url_part {
    int64_t clicks, urls;
    uint32_t ntop, cap;
    top_entry *top;
} url_part;

typedef struct merge_window {
    int64_t start, end;
    int fired;
    url_part *by_url; /* [ntasks] */
    int64_t *users;   /* [ntasks]: what each by_user task last sent */
} merge_window;

struct url_merge {
    int64_t size_ms, lateness_ms;
    uint32_t top_n;
    uint32_t ntasks;  /* 0 until the first record says */
    int64_t *wm[2];   /* [PART_BY_URL], [PART_BY_USER]: each task's last watermark */
    merge_window **w; /* open windows by start; w[0..nfired) have fired */
    size_t count, cap, nfired;
    text_buf key, json;
    summary_top *scratch;
    size_t scratch_cap;
};

url_merge *url_merge_new(int64_t size_ms, int64_t lateness_ms, uint32_t top_n)
{
    url_merge *m = calloc(1, sizeof *m);
    if (m == NULL)
        return NULL;
    m->size_ms = size_ms;
    m->lateness_ms = lateness_ms;
    m->top_n = top_n;
    return m;
}

static void window_free(const url_merge *m, merge_window *w)
{
    for (uint32_t t = 0; t < m->ntasks; t++) {
        for (uint32_t k = 0; k < w->by_url[t].cap; k++)
            free(w->by_url[t].top[k].url);
        free(w->by_url[t].top);
    }
    free(w->by_url);
    free(w->users);
    free(w);
}

static void windows_clear(url_merge *m)
{
    for (size_t k = 0; k < m->count; k++)
        window_free(m, m->w[k]);
    m->count = m->nfired = 0;
}

void url_merge_free(url_merge *m)
{
    if (m == NULL)
        return;
    windows_clear(m);
    free(m->w);
    free(m->wm[0]);
    free(m->wm[1]);
    free(m->scratch);
    text_buf_free(&m->key);
    text_buf_free(&m->json);
    free(m);
}

static int set_tasks(url_merge *m, uint32_t ntasks)
{
    m->wm[0] = malloc(ntasks * sizeof *m->wm[0]);
    m->wm[1] = malloc(ntasks * sizeof *m->wm[1]);
    if (m->wm[0] == NULL || m->wm[1] == NULL)
        return -1;
    for (uint32_t t = 0; t < ntasks; t++)
        m->wm[0][t] = m->wm[1][t] = SLUICE_TIME_MIN;
    m->ntasks = ntasks;
    return 0;
}

static merge_window *window_new(const url_merge *m, int64_t start)
{
    merge_window *w = calloc(1, sizeof *w);
    if (w == NULL)
        return NULL;
    w->start = start;
    w->end = sluice_add_sat_i64(start, m->size_ms);
    w->by_url = calloc(m->ntasks, sizeof *w->by_url);
    w->users = calloc(m->ntasks, sizeof *w->users);
    if (w->by_url == NULL || w->users == NULL) {
        free(w->by_url);
        free(w->users);
        free(w);
        return NULL;
    }
    return w;
}

static int windows_reserve(url_merge *m)
{
    if (m->count < m->cap)
        return 0;
    size_t cap = m->cap ? m->cap * 2 : 8;
    merge_window **grown = realloc(m->w, cap * sizeof *grown);
    if (grown == NULL)
        return -1;
    m->w = grown;
    m->cap = cap;
    return 0;
}

/* The window starting at `start`, made when new. One made among fired ones
 * was due before it existed: it counts as fired, as in a whole url_count. */
static merge_window *window_for(url_merge *m, int64_t start)
{
    size_t lo = 0, hi = m->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->w[mid]->start < start)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < m->count && m->w[lo]->start == start)
        return m->w[lo];
    if (windows_reserve(m) != 0)
        return NULL;
    merge_window *w = window_new(m, start);
    if (w == NULL)
        return NULL;
    memmove(m->w + lo + 1, m->w + lo, (m->count - lo) * sizeof *m->w);
    m->w[lo] = w;
    m->count++;
    if (lo < m->nfired) {
        w->fired = 1;
        m->nfired++;
    }
    return w;
}

/* ---- the summary -------------------------------------------------------- */

static int top_before(const summary_top *a, const summary_top *b)
{
    if (a->clicks != b->clicks)
        return a->clicks > b->clicks;
    return summary_url_cmp(a->url, a->len, b->url, b->len) < 0;
}

static sluice_status emit_summary(const sluice_host_api *api, sluice_ctx *ctx, url_merge *m,
                                  const merge_window *w)
{
    summary_counts c = {w->start, w->end, 0, 0, 0, NULL, 0};
    size_t all = 0;
    for (uint32_t t = 0; t < m->ntasks; t++) {
        c.clicks += w->by_url[t].clicks;
        c.unique_urls += w->by_url[t].urls;
        c.unique_users += w->users[t];
        all += w->by_url[t].ntop;
    }
    if (all > m->scratch_cap) {
        summary_top *grown = realloc(m->scratch, all * sizeof *grown);
        if (grown == NULL)
            return SLUICE_ERR_NOMEM;
        m->scratch = grown;
        m->scratch_cap = all;
    }
    /* The best top_n of every task's top URLs, kept sorted by insertion:
     * tasks times top entries, a few dozen. */
    size_t n = 0;
    for (uint32_t t = 0; t < m->ntasks; t++)
        for (uint32_t k = 0; k < w->by_url[t].ntop; k++) {
            const top_entry *e = &w->by_url[t].top[k];
            summary_top in = {e->url, e->len, e->clicks};
            size_t at = n;
            while (at > 0 && top_before(&in, &m->scratch[at - 1]))
                at--;
            if (at >= m->top_n)
                continue; /* not among the best */
            if (n < m->top_n)
                n++; /* else the last one drops out */
            memmove(m->scratch + at + 1, m->scratch + at, (n - 1 - at) * sizeof *m->scratch);
            m->scratch[at] = in;
        }
    c.top = m->scratch;
    c.ntop = (uint32_t)n;
    return summary_record_emit(api, ctx, &m->key, &m->json, &c);
}

/* Fire the windows every task has passed the end of, then free those
 * every task has passed the end plus allowed_lateness of. */
static sluice_status advance(const sluice_host_api *api, sluice_ctx *ctx, url_merge *m)
{
    int64_t wm = SLUICE_TIME_MAX;
    for (int part = 0; part < 2; part++)
        for (uint32_t t = 0; t < m->ntasks; t++)
            wm = m->wm[part][t] < wm ? m->wm[part][t] : wm;
    if (m->ntasks == 0)
        return SLUICE_OK;
    while (m->nfired < m->count && wm >= m->w[m->nfired]->end) {
        sluice_status st = emit_summary(api, ctx, m, m->w[m->nfired]);
        if (st != SLUICE_OK)
            return st;
        m->w[m->nfired++]->fired = 1;
    }
    size_t done = 0;
    while (done < m->nfired && wm >= sluice_add_sat_i64(m->w[done]->end, m->lateness_ms))
        window_free(m, m->w[done++]);
    if (done > 0) {
        memmove(m->w, m->w + done, (m->count - done) * sizeof *m->w);
        m->count -= done;
        m->nfired -= done;
    }
    return SLUICE_OK;
}

/* ---- records from the parts ---------------------------------------------- */

static sluice_status bad_record(const sluice_host_api *api, sluice_ctx *ctx, const char *what)
{
    api->log(ctx, SLUICE_LOG_ERROR, "url_count summary: %s (only url_count's parts may feed it)", what);
    return SLUICE_ERR;
}

static int get_int(const sluice_host_api *api, const sluice_record *r, const char *name, int64_t *out)
{
    return api->field_int(r, name, out);
}

static sluice_status set_top(url_part *part, int64_t rank, const sluice_str *url, int64_t clicks)
{
    uint32_t need = (uint32_t)rank + 1;
    if (need > part->cap) {
        top_entry *grown = realloc(part->top, need * sizeof *grown);
        if (grown == NULL)
            return SLUICE_ERR_NOMEM;
        memset(grown + part->cap, 0, (need - part->cap) * sizeof *grown);
        part->top = grown;
        part->cap = need;
    }
    top_entry *e = &part->top[rank];
    char *copy = realloc(e->url, url->len ? url->len : 1);
    if (copy == NULL)
        return SLUICE_ERR_NOMEM;
    memcpy(copy, url->ptr, url->len);
    e->url = copy;
    e->len = (uint32_t)url->len;
    e->clicks = clicks;
    return SLUICE_OK;
}

static sluice_status take(const sluice_host_api *api, sluice_ctx *ctx, url_merge *m, const sluice_record *r)
{
    sluice_str kind;
    if (!api->field_string(r, "kind", &kind))
        return bad_record(api, ctx, "a record without a kind");
    if (kind.len == strlen("url_clicks") && memcmp(kind.ptr, "url_clicks", kind.len) == 0)
        return api->emit(ctx, "main", r); /* counted by its URL's by_url task */
    int64_t task, tasks;
    if (!get_int(api, r, "task", &task) || !get_int(api, r, "tasks", &tasks) || tasks < 1 ||
        tasks > 1 << 20 || task < 0 || task >= tasks)
        return bad_record(api, ctx, "a part's record without its task");
    if (m->ntasks == 0 && set_tasks(m, (uint32_t)tasks) != 0)
        return SLUICE_ERR_NOMEM;
    if ((uint32_t)tasks != m->ntasks)
        return bad_record(api, ctx, "parts of another task count");
#define KIND_IS(k) (kind.len == strlen(k) && memcmp(kind.ptr, k, kind.len) == 0)
    if (KIND_IS(PART_KIND_WM)) {
        int64_t part, wm;
        if (!get_int(api, r, "part", &part) || !get_int(api, r, "watermark", &wm) || part < 0 || part > 1)
            return bad_record(api, ctx, "a watermark without part or watermark");
        if (wm > m->wm[part][task])
            m->wm[part][task] = wm;
        return advance(api, ctx, m);
    }
    int64_t start;
    if (!get_int(api, r, "window_start", &start))
        return bad_record(api, ctx, "a part without window_start");
    merge_window *w = window_for(m, start);
    if (w == NULL)
        return SLUICE_ERR_NOMEM;
    if (KIND_IS(PART_KIND_TOP)) {
        int64_t rank, clicks;
        sluice_str url;
        if (!get_int(api, r, "rank", &rank) || !get_int(api, r, "clicks", &clicks) ||
            !api->field_string(r, "url", &url) || rank < 0 || rank >= m->top_n)
            return bad_record(api, ctx, "a top URL without rank, url or clicks");
        return set_top(&w->by_url[task], rank, &url, clicks);
    }
    if (KIND_IS(PART_KIND_WINDOW)) {
        int64_t clicks, urls, ntop;
        if (!get_int(api, r, "clicks", &clicks) || !get_int(api, r, "urls", &urls) ||
            !get_int(api, r, "ntop", &ntop) || ntop < 0 || ntop > w->by_url[task].cap)
            return bad_record(api, ctx, "a window part without clicks, urls or its top URLs");
        w->by_url[task].clicks = clicks;
        w->by_url[task].urls = urls;
        w->by_url[task].ntop = (uint32_t)ntop;
        return SLUICE_OK;
    }
    if (KIND_IS(PART_KIND_USERS)) {
        int64_t users;
        if (!get_int(api, r, "users", &users))
            return bad_record(api, ctx, "a users part without users");
        w->users[task] = users;
        /* The last of a late event's two parts: the update, once. */
        return w->fired ? emit_summary(api, ctx, m, w) : SLUICE_OK;
    }
#undef KIND_IS
    return bad_record(api, ctx, "a record of an unknown kind");
}

sluice_status url_merge_process(const sluice_host_api *api, sluice_ctx *ctx, url_merge *m,
                                sluice_batch *batch)
{
    sluice_status st = SLUICE_OK;
    for (const sluice_record *r = api->batch_next(batch); r != NULL && st == SLUICE_OK;
         r = api->batch_next(batch))
        st = take(api, ctx, m, r);
    return st;
}

/* ---- state ---------------------------------------------------------------- */

size_t url_merge_windows(const url_merge *m) { return m->count; }

size_t url_merge_bytes(const url_merge *m)
{
    size_t bytes = sizeof *m + m->cap * sizeof *m->w + 2 * m->ntasks * sizeof(int64_t);
    for (size_t k = 0; k < m->count; k++) {
        bytes += sizeof *m->w[k] + m->ntasks * (sizeof(url_part) + sizeof(int64_t));
        for (uint32_t t = 0; t < m->ntasks; t++)
            for (uint32_t i = 0; i < m->w[k]->by_url[t].cap; i++)
                bytes += sizeof(top_entry) + m->w[k]->by_url[t].top[i].len;
    }
    return bytes;
}

sluice_status url_merge_snapshot(const sluice_host_api *api, const url_merge *m, sluice_snapshot *out)
{
    sluice_bytes_writer w = {0};
    sluice_bytes_put_i64(&w, m->size_ms);
    sluice_bytes_put_u32(&w, m->ntasks);
    for (int part = 0; part < 2; part++)
        for (uint32_t t = 0; t < m->ntasks; t++)
            sluice_bytes_put_i64(&w, m->wm[part][t]);
    sluice_bytes_put_u64(&w, m->count);
    for (size_t k = 0; k < m->count; k++) {
        const merge_window *win = m->w[k];
        sluice_bytes_put_i64(&w, win->start);
        sluice_bytes_put_i64(&w, win->end);
        sluice_bytes_put_u32(&w, (uint32_t)win->fired);
        for (uint32_t t = 0; t < m->ntasks; t++) {
            const url_part *p = &win->by_url[t];
            sluice_bytes_put_i64(&w, p->clicks);
            sluice_bytes_put_i64(&w, p->urls);
            sluice_bytes_put_u32(&w, p->ntop);
            for (uint32_t i = 0; i < p->ntop; i++) {
                sluice_bytes_put_u32(&w, p->top[i].len);
                sluice_bytes_put(&w, p->top[i].url, p->top[i].len);
                sluice_bytes_put_i64(&w, p->top[i].clicks);
            }
        }
        for (uint32_t t = 0; t < m->ntasks; t++)
            sluice_bytes_put_i64(&w, win->users[t]);
    }
    return url_count_snapshot_hand_over(api, &w, URL_MERGE_SNAPSHOT_VERSION, out);
}

static sluice_status refuse(const sluice_host_api *api, sluice_ctx *ctx, url_merge *m, const char *why)
{
    windows_clear(m);
    api->log(ctx, SLUICE_LOG_ERROR, "url_count summary state: %s", why);
    return SLUICE_ERR_STATE;
}

sluice_status url_merge_restore(const sluice_host_api *api, sluice_ctx *ctx, url_merge *m,
                                const sluice_snapshot *in)
{
    windows_clear(m);
    if (in->encoding_version == 1)
        return refuse(api, ctx, m,
                      "written by url_count run whole (two_phase off, partitions: 1, or key: on the "
                      "source), and this run splits it into parts (two_phase: true), whose state is another: "
                      "run it as it was written, or without this step's state (--discard-state)");
    if (in->encoding_version != URL_MERGE_SNAPSHOT_VERSION)
        return refuse(api, ctx, m, "unknown encoding version");
    sluice_bytes_reader r = sluice_bytes_reader_of(in->data, in->size);
    if (sluice_bytes_get_i64(&r) != m->size_ms)
        return refuse(api, ctx, m, r.failed ? "malformed" : "written with another window size");
    uint32_t ntasks = sluice_bytes_get_u32(&r);
    if (r.failed || ntasks > (1u << 20) || (m->ntasks && ntasks != m->ntasks))
        return refuse(api, ctx, m, "malformed");
    if (m->ntasks == 0 && ntasks && set_tasks(m, ntasks) != 0)
        return SLUICE_ERR_NOMEM;
    for (int part = 0; part < 2; part++)
        for (uint32_t t = 0; t < ntasks; t++)
            m->wm[part][t] = sluice_bytes_get_i64(&r);
    uint64_t n = sluice_bytes_get_u64(&r);
    if (n > 0 && ntasks == 0)
        return refuse(api, ctx, m, "malformed (windows without tasks)");
    for (uint64_t k = 0; k < n && !r.failed; k++) {
        int64_t start = sluice_bytes_get_i64(&r), end = sluice_bytes_get_i64(&r);
        uint32_t fired = sluice_bytes_get_u32(&r);
        if (r.failed || (m->count && m->w[m->count - 1]->start >= start) ||
            (uint64_t)end - (uint64_t)start != (uint64_t)m->size_ms || fired > 1 ||
            (fired && m->nfired != m->count))
            return refuse(api, ctx, m, "malformed windows");
        if (windows_reserve(m) != 0)
            return SLUICE_ERR_NOMEM;
        merge_window *w = window_new(m, start);
        if (w == NULL)
            return SLUICE_ERR_NOMEM;
        w->fired = (int)fired;
        m->w[m->count++] = w;
        m->nfired += fired;
        for (uint32_t t = 0; t < ntasks && !r.failed; t++) {
            url_part *p = &w->by_url[t];
            p->clicks = sluice_bytes_get_i64(&r);
            p->urls = sluice_bytes_get_i64(&r);
            uint32_t ntop = sluice_bytes_get_u32(&r);
            if (r.failed || ntop > m->top_n)
                return refuse(api, ctx, m, "malformed top URLs");
            for (uint32_t i = 0; i < ntop && !r.failed; i++) {
                uint32_t len = sluice_bytes_get_u32(&r);
                const void *bytes = sluice_bytes_take(&r, len);
                int64_t clicks = sluice_bytes_get_i64(&r);
                if (r.failed)
                    break;
                sluice_str url = {bytes, len};
                if (set_top(p, i, &url, clicks) != SLUICE_OK)
                    return SLUICE_ERR_NOMEM;
            }
            p->ntop = ntop;
        }
        for (uint32_t t = 0; t < ntasks; t++)
            w->users[t] = sluice_bytes_get_i64(&r);
    }
    if (r.failed || r.pos != r.len)
        return refuse(api, ctx, m, "malformed");
    return SLUICE_OK;
}
