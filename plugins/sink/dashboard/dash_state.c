#include "dash_state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sluice/plugin.h>

#define MAX_WINDOW_JSON (256 * 1024) /* a bigger record is shown without top_urls */
#define RECENT_SESSIONS 8
#define RANKED_USERS 512 /* users kept for "longest average session" */
#define TOP_USERS 10
#define MAX_REASONS 16
#define RATE_SLOTS 64  /* one per wall-clock second */
#define RATE_SPAN_S 30 /* events/s is averaged over this many seconds */
#define TEXT_CAP 200   /* bytes kept of a user id or URL shown in a table */

typedef struct stored_window {
    dash_window w;
    char *json;
    size_t len;
} stored_window;

typedef struct kept_session {
    char user[TEXT_CAP], entry[TEXT_CAP], exit[TEXT_CAP];
    int64_t start, end, duration_ms, clicks, user_sessions;
    double avg_ms;
} kept_session;

typedef struct ranked_user {
    uint64_t hash;
    char user[TEXT_CAP];
    double avg_ms;
    int64_t sessions;
} ranked_user;

typedef struct rate_slot {
    int64_t second;
    int64_t events, records;
} rate_slot;

/* Session durations, by upper bound (ms, exclusive); the last is open. */
static const int64_t bucket_bounds[] = {1, 10000, 30000, 60000, 120000, 300000, 600000, 1800000, 3600000};
static const char *const bucket_labels[] = {"0s",   "<10s",  "10-30s", "30s-1m", "1-2m",
                                            "2-5m", "5-10m", "10-30m", "30m-1h", ">=1h"};
#define NBUCKETS (sizeof bucket_labels / sizeof bucket_labels[0])

struct dash_state {
    size_t history;
    stored_window *windows; /* sorted by start, at most `history` */
    size_t nwindows;
    int64_t windows_total, clicks_total;

    int64_t sessions_total;
    int64_t histogram[NBUCKETS];
    kept_session recent[RECENT_SESSIONS]; /* a ring, newest at recent_next - 1 */
    size_t recent_next, recent_count;
    ranked_user *ranked;
    size_t nranked;

    char reasons[MAX_REASONS][32];
    int64_t reason_counts[MAX_REASONS];
    size_t nreasons;
    int64_t other_reasons, rejected_total;

    int64_t started_ms, records_total;
    int64_t watermark;
    int64_t checkpoints, last_checkpoint_ms;
    rate_slot rates[RATE_SLOTS];

    int lag_known; /* a reading was taken */
    int64_t lag_total;
    size_t nlag;
    struct {
        char partition[96];
        int64_t messages;
    } lag[DASH_LAG_PARTITIONS];
};

void state_lag_begin(dash_state *s)
{
    s->lag_known = 1;
    s->lag_total = 0;
    s->nlag = 0;
}

void state_lag_end(dash_state *s) { s->lag_known = s->nlag > 0; }

void state_lag_add(dash_state *s, const char *partition, int64_t messages)
{
    s->lag_total += messages;
    if (s->nlag == DASH_LAG_PARTITIONS)
        return;
    snprintf(s->lag[s->nlag].partition, sizeof s->lag[s->nlag].partition, "%s", partition);
    s->lag[s->nlag++].messages = messages;
}

dash_state *state_new(size_t history, int64_t now_ms)
{
    dash_state *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    s->windows = calloc(history, sizeof *s->windows);
    s->ranked = calloc(RANKED_USERS, sizeof *s->ranked);
    if (s->windows == NULL || s->ranked == NULL) {
        state_free(s);
        return NULL;
    }
    s->history = history;
    s->started_ms = now_ms;
    s->watermark = SLUICE_TIME_MIN;
    s->last_checkpoint_ms = SLUICE_TIME_MIN;
    return s;
}

void state_free(dash_state *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->nwindows; i++)
        free(s->windows[i].json);
    free(s->windows);
    free(s->ranked);
    free(s);
}

static rate_slot *rate_at(dash_state *s, int64_t now_ms)
{
    int64_t second = now_ms / 1000;
    rate_slot *r = &s->rates[(uint64_t)second % RATE_SLOTS];
    if (r->second != second)
        *r = (rate_slot){second, 0, 0};
    return r;
}

/* Copies at most TEXT_CAP - 1 bytes, cutting at a UTF-8 character boundary. */
static void copy_text(char *dst, const char *src, size_t len)
{
    if (len > TEXT_CAP - 1) {
        len = TEXT_CAP - 1;
        while (len > 0 && ((unsigned char)src[len] & 0xc0) == 0x80)
            len--;
    }
    if (len)
        memcpy(dst, src, len);
    dst[len] = '\0';
}

static char *window_json(const dash_window *w, const char *json, size_t len, size_t *out_len)
{
    jbuf b = {0};
    if (len <= MAX_WINDOW_JSON) {
        /* An SSE data line ends at a newline; valid JSON has none inside
         * strings, and outside them a space means the same. */
        jbuf_append(&b, json, len);
        for (size_t i = 0; i < b.len && !b.failed; i++)
            if (b.ptr[i] == '\n' || b.ptr[i] == '\r')
                b.ptr[i] = ' ';
    } else {
        jbuf_printf(&b,
                    "{\"kind\":\"window_summary\",\"window_start\":%lld,\"window_end\":%lld,\"clicks\":%lld,"
                    "\"unique_users\":%lld,\"unique_urls\":%lld,\"top_urls\":[]}",
                    (long long)w->start, (long long)w->end, (long long)w->clicks, (long long)w->unique_users,
                    (long long)w->unique_urls);
    }
    return jbuf_take(&b, out_len);
}

void state_add_window(dash_state *s, const dash_window *w, const char *json, size_t len, int64_t now_ms)
{
    size_t i = s->nwindows;
    while (i > 0 && s->windows[i - 1].w.start > w->start)
        i--;
    stored_window *same = i > 0 && s->windows[i - 1].w.start == w->start ? &s->windows[i - 1] : NULL;
    int64_t delta = same ? w->clicks - same->w.clicks : w->clicks;
    s->clicks_total += delta;
    rate_at(s, now_ms)->events += delta > 0 ? delta : 0;
    if (same == NULL)
        s->windows_total++;

    size_t jlen = 0;
    char *copy = window_json(w, json, len, &jlen);
    if (copy == NULL)
        return; /* out of memory: the totals still count it */
    if (same != NULL) {
        free(same->json);
        *same = (stored_window){*w, copy, jlen};
        return;
    }
    if (s->nwindows == s->history) {
        if (i == 0) { /* older than all we keep */
            free(copy);
            return;
        }
        free(s->windows[0].json);
        memmove(s->windows, s->windows + 1, (s->nwindows - 1) * sizeof *s->windows);
        s->nwindows--;
        i--;
    }
    memmove(s->windows + i + 1, s->windows + i, (s->nwindows - i) * sizeof *s->windows);
    s->windows[i] = (stored_window){*w, copy, jlen};
    s->nwindows++;
}

static uint64_t hash_bytes(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 1099511628211ULL;
    return h;
}

/* Each session carries its user's running average over all their sessions
 * so far, so the latest value per user is all there is to keep. Users are
 * kept up to RANKED_USERS; when full, a new user displaces the one with the
 * lowest average if theirs is higher. The top ten are then exact unless
 * many kept users' averages later fall below a displaced one's: a bounded
 * approximation, good for a dashboard. */
static void rank_user(dash_state *s, const dash_session *x)
{
    uint64_t h = hash_bytes(x->user, x->user_len);
    char user[TEXT_CAP];
    copy_text(user, x->user, x->user_len);
    ranked_user *slot = NULL, *lowest = NULL;
    for (size_t i = 0; i < s->nranked; i++) {
        ranked_user *r = &s->ranked[i];
        if (r->hash == h && strcmp(r->user, user) == 0) {
            slot = r;
            break;
        }
        if (lowest == NULL || r->avg_ms < lowest->avg_ms)
            lowest = r;
    }
    if (slot == NULL) {
        if (s->nranked < RANKED_USERS)
            slot = &s->ranked[s->nranked++];
        else if (lowest != NULL && x->user_avg_duration_ms > lowest->avg_ms)
            slot = lowest;
        else
            return;
        slot->hash = h;
        memcpy(slot->user, user, sizeof user);
    }
    slot->avg_ms = x->user_avg_duration_ms;
    slot->sessions = x->user_sessions;
}

void state_add_session(dash_state *s, const dash_session *x)
{
    s->sessions_total++;
    size_t b = 0;
    while (b < NBUCKETS - 1 && x->duration_ms >= bucket_bounds[b])
        b++;
    s->histogram[b]++;

    kept_session *k = &s->recent[s->recent_next];
    s->recent_next = (s->recent_next + 1) % RECENT_SESSIONS;
    if (s->recent_count < RECENT_SESSIONS)
        s->recent_count++;
    copy_text(k->user, x->user, x->user_len);
    copy_text(k->entry, x->entry_url, x->entry_len);
    copy_text(k->exit, x->exit_url, x->exit_len);
    k->start = x->start;
    k->end = x->end;
    k->duration_ms = x->duration_ms;
    k->clicks = x->clicks;
    k->user_sessions = x->user_sessions;
    k->avg_ms = x->user_avg_duration_ms;
    rank_user(s, x);
}

void state_add_rejection(dash_state *s, const char *reason, size_t len, int64_t now_ms)
{
    s->rejected_total++;
    rate_at(s, now_ms)->events++;
    for (size_t i = 0; i < s->nreasons; i++) {
        if (strlen(s->reasons[i]) == len && memcmp(s->reasons[i], reason, len) == 0) {
            s->reason_counts[i]++;
            return;
        }
    }
    if (s->nreasons == MAX_REASONS || len >= sizeof s->reasons[0]) {
        s->other_reasons++;
        return;
    }
    memcpy(s->reasons[s->nreasons], reason, len);
    s->reasons[s->nreasons][len] = '\0';
    s->reason_counts[s->nreasons++] = 1;
}

void state_note_records(dash_state *s, size_t n, int64_t now_ms)
{
    s->records_total += (int64_t)n;
    rate_at(s, now_ms)->records += (int64_t)n;
}

void state_note_watermark(dash_state *s, int64_t watermark)
{
    if (watermark > s->watermark)
        s->watermark = watermark;
}

void state_note_checkpoint(dash_state *s, int64_t now_ms)
{
    s->checkpoints++;
    s->last_checkpoint_ms = now_ms;
}

static void render_time(jbuf *b, int64_t ms)
{
    if (ms == SLUICE_TIME_MIN || ms == SLUICE_TIME_MAX)
        jbuf_puts(b, "null");
    else
        jbuf_int(b, ms);
}

static void render_kv_string(jbuf *b, const char *key, const char *value)
{
    jbuf_printf(b, "\"%s\":", key);
    jbuf_string(b, value, strlen(value));
}

/* Per second over the last RATE_SPAN_S seconds, or since the start when
 * that is shorter; the current second counts for the part of it that has
 * passed, so a replay done within a second still shows its rate. */
static void rates(const dash_state *s, int64_t now_ms, double *events, double *records)
{
    int64_t since = now_ms / 1000 - RATE_SPAN_S + 1;
    if (since < s->started_ms / 1000)
        since = s->started_ms / 1000;
    int64_t e = 0, r = 0;
    for (size_t i = 0; i < RATE_SLOTS; i++) {
        const rate_slot *slot = &s->rates[i];
        if (slot->second >= since && slot->second <= now_ms / 1000) {
            e += slot->events;
            r += slot->records;
        }
    }
    double span = (double)(now_ms - since * 1000) / 1000;
    if (span < 1)
        span = 1;
    *events = (double)e / span;
    *records = (double)r / span;
}

static void render_sessions(const dash_state *s, jbuf *b)
{
    jbuf_printf(b, "\"sessions\":{\"total\":%lld,\"histogram\":[", (long long)s->sessions_total);
    for (size_t i = 0; i < NBUCKETS; i++)
        jbuf_printf(b, "%s{\"label\":\"%s\",\"count\":%lld}", i ? "," : "", bucket_labels[i],
                    (long long)s->histogram[i]);
    jbuf_puts(b, "],\"longest_avg\":[");
    /* The top ten by a selection over at most RANKED_USERS entries: cheap at
     * one render a second. */
    size_t chosen[TOP_USERS], nchosen = 0;
    for (; nchosen < TOP_USERS && nchosen < s->nranked; nchosen++) {
        size_t best = SIZE_MAX;
        for (size_t i = 0; i < s->nranked; i++) {
            int taken = 0;
            for (size_t j = 0; j < nchosen; j++)
                taken |= chosen[j] == i;
            if (taken)
                continue;
            const ranked_user *r = &s->ranked[i];
            if (best == SIZE_MAX || r->avg_ms > s->ranked[best].avg_ms ||
                (r->avg_ms == s->ranked[best].avg_ms && strcmp(r->user, s->ranked[best].user) < 0))
                best = i;
        }
        chosen[nchosen] = best;
        const ranked_user *r = &s->ranked[best];
        jbuf_puts(b, nchosen ? ",{" : "{");
        render_kv_string(b, "user_id", r->user);
        jbuf_puts(b, ",\"avg_duration_ms\":");
        jbuf_double(b, r->avg_ms);
        jbuf_printf(b, ",\"sessions\":%lld}", (long long)r->sessions);
    }
    jbuf_puts(b, "],\"recent\":[");
    for (size_t n = 0; n < s->recent_count; n++) { /* newest first */
        const kept_session *k = &s->recent[(s->recent_next + RECENT_SESSIONS - 1 - n) % RECENT_SESSIONS];
        jbuf_puts(b, n ? ",{" : "{");
        render_kv_string(b, "user_id", k->user);
        jbuf_printf(b, ",\"session_start\":%lld,\"session_end\":%lld,\"duration_ms\":%lld,\"clicks\":%lld,",
                    (long long)k->start, (long long)k->end, (long long)k->duration_ms, (long long)k->clicks);
        render_kv_string(b, "entry_url", k->entry);
        jbuf_puts(b, ",");
        render_kv_string(b, "exit_url", k->exit);
        jbuf_printf(b, ",\"user_sessions\":%lld,\"user_avg_duration_ms\":", (long long)k->user_sessions);
        jbuf_double(b, k->avg_ms);
        jbuf_puts(b, "}");
    }
    jbuf_puts(b, "]}");
}

static void render_rest(const dash_state *s, jbuf *b, int64_t now_ms, dash_pages pages)
{
    render_sessions(s, b);
    jbuf_printf(b, ",\"rejections\":{\"total\":%lld,\"by_reason\":{", (long long)s->rejected_total);
    for (size_t i = 0; i < s->nreasons; i++) {
        jbuf_puts(b, i ? "," : "");
        jbuf_string(b, s->reasons[i], strlen(s->reasons[i]));
        jbuf_printf(b, ":%lld", (long long)s->reason_counts[i]);
    }
    if (s->other_reasons)
        jbuf_printf(b, "%s\"other\":%lld", s->nreasons ? "," : "", (long long)s->other_reasons);
    double events_per_s, records_per_s;
    rates(s, now_ms, &events_per_s, &records_per_s);
    jbuf_printf(
        b, "}},\"status\":{\"now\":%lld,\"started\":%lld,\"records\":%lld,\"windows\":%lld,\"clicks\":%lld,",
        (long long)now_ms, (long long)s->started_ms, (long long)s->records_total, (long long)s->windows_total,
        (long long)s->clicks_total);
    jbuf_puts(b, "\"events_per_s\":");
    jbuf_double(b, events_per_s);
    jbuf_puts(b, ",\"records_per_s\":");
    jbuf_double(b, records_per_s);
    jbuf_puts(b, ",\"watermark\":");
    render_time(b, s->watermark);
    jbuf_puts(b, ",\"watermark_lag_ms\":");
    if (s->watermark == SLUICE_TIME_MIN || s->watermark == SLUICE_TIME_MAX)
        jbuf_puts(b, "null");
    else
        jbuf_int(b, now_ms - s->watermark);
    jbuf_printf(b, ",\"input_ended\":%s,\"checkpoints\":%lld,\"last_checkpoint\":",
                s->watermark == SLUICE_TIME_MAX ? "true" : "false", (long long)s->checkpoints);
    render_time(b, s->last_checkpoint_ms);
    /* Consumer lag as the Kafka source reports it (null: not Kafka). */
    jbuf_puts(b, ",\"consumer_lag\":");
    if (!s->lag_known) {
        jbuf_puts(b, "null");
    } else {
        jbuf_printf(b, "{\"total\":%lld,\"partitions\":{", (long long)s->lag_total);
        for (size_t i = 0; i < s->nlag; i++) {
            jbuf_puts(b, i ? "," : "");
            jbuf_string(b, s->lag[i].partition, strlen(s->lag[i].partition));
            jbuf_printf(b, ":%lld", (long long)s->lag[i].messages);
        }
        jbuf_puts(b, "}}");
    }
    jbuf_printf(b, ",\"pages\":%zu,\"pages_dropped\":%llu}", pages.open, (unsigned long long)pages.dropped);
}

void state_render_snapshot(const dash_state *s, jbuf *out, int64_t now_ms, dash_pages pages)
{
    jbuf_printf(out, "{\"history\":%zu,\"windows\":[", s->history);
    for (size_t i = 0; i < s->nwindows; i++) {
        if (i)
            jbuf_puts(out, ",");
        jbuf_append(out, s->windows[i].json, s->windows[i].len);
    }
    jbuf_puts(out, "],");
    render_rest(s, out, now_ms, pages);
    jbuf_puts(out, "}");
}

void state_render_tick(const dash_state *s, jbuf *out, int64_t now_ms, dash_pages pages)
{
    jbuf_puts(out, "{");
    render_rest(s, out, now_ms, pages);
    jbuf_puts(out, "}");
}
