/* The reference test: the streaming pipeline (pipelines/replay.yaml) against
 * an independent, deliberately naive batch implementation of docs/semantics.md,
 * written here with jansson and sorting, on generated streams of 200,000
 * events with disorder, duplicates, late and invalid events.
 *
 * The naive side reads every input line, decides validity with its own
 * code, replays the valid events one by one for the watermark (max ts so far
 * - max_out_of_order) and deduplication (a map of first_ts per key), judges
 * lateness, and then, from the accepted events alone: sorts them to count
 * clicks per (window, url), unique users and URLs and the top N per window,
 * and splits each user's events, sorted by (ts, arrival), into sessions at
 * gaps. Every final streaming result must match exactly: the last record per
 * (window, url) and per window, every session record in emission order, and
 * the number of dead letters per reason. */
#include <check.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "test_support.h"

#define EVENTS 200000
#define DEDUP_TTL_MS 3600000LL /* replay.yaml keeps dedup's default ttl */
#define MAX_FUTURE_MS 3600000LL

/* ------------------------------------------------------------------------ */
/* Input: clickgen, with the event_id taken out of every 4th event so that
 * deduplication by (user, url, ts) is exercised too. */

static char *generate_input(const char *dir)
{
    char *yaml = ts_strf("steps:\n"
                         "  - name: gen\n"
                         "    plugin: clickgen\n"
                         "    options: {count: %d, seed: 11, users: 3000, urls: 400,\n"
                         "              start: 1700000000000, disorder: 8s, think_time: 20s,\n"
                         "              duplicates: 0.02, late: 0.01, invalid: 0.01}\n"
                         "    event: raw\n"
                         "  - name: out\n"
                         "    plugin: file\n"
                         "    input: gen\n"
                         "    options: {path: gen.jsonl, truncate: true}\n",
                         EVENTS);
    char *path = ts_strf("%s/gen.yaml", dir);
    ts_write_file(path, yaml);
    char *cmd = ts_strf("cd '%s' && '%s' run gen.yaml", dir, SLUICE_BIN);
    char *err = NULL;
    int rc = ts_run(cmd, NULL, &err);
    ck_assert_msg(rc == 0, "clickgen failed (%d): %s", rc, err ? err : "");
    free(err);
    free(cmd);
    free(path);
    free(yaml);

    char *gen_path = ts_strf("%s/gen.jsonl", dir);
    size_t len;
    char *gen = ts_read_file(gen_path, &len);
    ck_assert_msg(gen != NULL, "no generated input");
    char *in = malloc(len + 1);
    size_t n = 0;
    static const char prefix[] = "{\"event_id\":\"e-11-";
    for (char *line = gen; *line;) {
        char *nl = strchr(line, '\n');
        size_t line_len = nl ? (size_t)(nl - line) + 1 : strlen(line);
        char *rest = line;
        if (strncmp(line, prefix, sizeof prefix - 1) == 0 &&
            strtoull(line + sizeof prefix - 1, NULL, 10) % 4 == 0) {
            char *comma = strchr(line, ',');
            if (comma != NULL && comma < line + line_len) {
                in[n++] = '{';
                rest = comma + 1;
            }
        }
        memcpy(in + n, rest, line_len - (size_t)(rest - line));
        n += line_len - (size_t)(rest - line);
        line += line_len;
    }
    in[n] = '\0';
    free(gen);
    free(gen_path);
    return in;
}

/* ------------------------------------------------------------------------ */
/* The naive decoder (docs/semantics.md section 1). */

typedef struct ref_event {
    const char *reason; /* NULL when valid, else the first rejection reason */
    char *user, *url;
    char *dedup_key; /* "i:<event_id>" or "t:<user>\x1f<url>\x1f<ts>" */
    int64_t ts;
    int64_t wm; /* watermark after this event */
    int duplicate;
} ref_event;

static int is_leap(long y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static int digits(const char *p, int n, long *out)
{
    long v = 0;
    for (int i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return 0;
        v = v * 10 + (p[i] - '0');
    }
    *out = v;
    return 1;
}

/* YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM), straight from RFC 3339. */
static int parse_rfc3339(const char *s, size_t n, int64_t *ms)
{
    long y, mo, d, h, mi, sec, oh = 0, om = 0, frac = 0;
    if (n < 20 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
        !digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't') || !digits(s + 11, 2, &h) || s[13] != ':' ||
        !digits(s + 14, 2, &mi) || s[16] != ':' || !digits(s + 17, 2, &sec))
        return 0;
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] + (mo == 2 && is_leap(y)) || h > 23 || mi > 59 ||
        sec > 59)
        return 0;
    size_t i = 19;
    if (i < n && s[i] == '.') {
        size_t k = ++i;
        for (; i < n && s[i] >= '0' && s[i] <= '9'; i++)
            if (i - k < 3)
                frac = frac * 10 + (s[i] - '0');
        if (i == k)
            return 0;
        for (size_t got = i - k; got < 3; got++)
            frac *= 10;
    }
    int sign = 0;
    if (i + 1 == n && (s[i] == 'Z' || s[i] == 'z')) {
        i++;
    } else if (i + 6 == n && (s[i] == '+' || s[i] == '-') && digits(s + i + 1, 2, &oh) && s[i + 3] == ':' &&
               digits(s + i + 4, 2, &om) && oh <= 23 && om <= 59) {
        sign = s[i] == '+' ? 1 : -1;
        i += 6;
    }
    if (i != n)
        return 0;
    long days = 0; /* days since 1970-01-01, counted the slow way */
    for (long yy = 1970; yy < y; yy++)
        days += 365 + is_leap(yy);
    for (long yy = y; yy < 1970; yy++)
        days -= 365 + is_leap(yy);
    for (long m = 1; m < mo; m++)
        days += mdays[m - 1] + (m == 2 && is_leap(y));
    days += d - 1;
    *ms = ((((int64_t)days * 24 + h) * 60 + mi) * 60 + sec) * 1000 + frac -
          (int64_t)sign * (oh * 60 + om) * 60000;
    return 1;
}

static char *text_of(json_t *v) /* a string's bytes or an integer's decimal text */
{
    if (json_is_string(v))
        return strdup(json_string_value(v));
    return ts_strf("%lld", (long long)json_integer_value(v));
}

static void decode_line(const char *line, size_t len, int64_t now_ms, ref_event *ev)
{
    memset(ev, 0, sizeof *ev);
    if (len > 65536) {
        ev->reason = "too_large";
        return;
    }
    json_error_t err;
    json_t *root = json_loadb(line, len, 0, &err);
    if (root == NULL || !json_is_object(root)) {
        ev->reason = "malformed";
        json_decref(root);
        return;
    }
    json_t *user = json_object_get(root, "user_id");
    json_t *url = json_object_get(root, "url");
    json_t *ts = json_object_get(root, "ts");
    json_t *id = json_object_get(root, "event_id");
    if (!(json_is_integer(user) ||
          (json_is_string(user) && json_string_length(user) > 0 && json_string_length(user) <= 256)))
        ev->reason = "bad_user";
    else if (!json_is_string(url) || json_string_length(url) == 0 || json_string_length(url) > 4096)
        ev->reason = "bad_url";
    else if (json_is_integer(ts) && json_integer_value(ts) >= 0 && json_integer_value(ts) < (1LL << 53))
        ev->ts = json_integer_value(ts);
    else if (!json_is_string(ts) || !parse_rfc3339(json_string_value(ts), json_string_length(ts), &ev->ts) ||
             ev->ts < 0)
        ev->reason = "bad_ts";
    if (ev->reason == NULL && ev->ts > now_ms + MAX_FUTURE_MS)
        ev->reason = "future_ts";
    if (ev->reason == NULL) {
        ev->user = text_of(user);
        ev->url = strdup(json_string_value(url));
        if (json_is_string(id) || json_is_integer(id)) {
            char *t = text_of(id);
            ev->dedup_key = ts_strf("i:%s", t);
            free(t);
        } else {
            ev->dedup_key = ts_strf("t:%s\x1f%s\x1f%lld", ev->user, ev->url, (long long)ev->ts);
        }
    }
    json_decref(root);
}

typedef struct ref_stream {
    ref_event *ev;
    size_t n;
} ref_stream;

static ref_stream decode_all(const char *input)
{
    ref_stream s = {calloc(EVENTS + 16, sizeof(ref_event)), 0};
    int64_t now_ms = (int64_t)time(NULL) * 1000;
    for (const char *line = input; *line;) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        ck_assert_uint_lt(s.n, EVENTS + 16);
        decode_line(line, len, now_ms, &s.ev[s.n++]);
        line += len + (nl != NULL);
    }
    return s;
}

/* Watermark and duplicates, event by event (docs/semantics.md sections 3, 4). */
static void replay_watermark_and_dedup(ref_stream *s, int64_t max_out_of_order)
{
    json_t *first_ts = json_object(); /* dedup key -> ts of its first event */
    int64_t max_ts = INT64_MIN, wm = INT64_MIN;
    for (size_t i = 0; i < s->n; i++) {
        ref_event *e = &s->ev[i];
        if (e->reason == NULL) {
            if (e->ts > max_ts)
                max_ts = e->ts;
            wm = max_ts - max_out_of_order;
            json_t *seen = json_object_get(first_ts, e->dedup_key);
            if (seen != NULL && wm < json_integer_value(seen) + DEDUP_TTL_MS)
                e->duplicate = 1;
            else
                json_object_set_new_nocheck(first_ts, e->dedup_key, json_integer(e->ts));
        }
        e->wm = wm;
    }
    json_decref(first_ts);
}

static void stream_free(ref_stream *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->ev[i].user);
        free(s->ev[i].url);
        free(s->ev[i].dedup_key);
    }
    free(s->ev);
}

/* ------------------------------------------------------------------------ */
/* One configuration of the replay pipeline. */

typedef struct config {
    const char *name;
    int64_t allowed_lateness, gap, window;
    int top;
    int batch_size;
    int partitions; /* 1: one instance per step, emission order checked exactly */
} config;

typedef struct accepted {
    const ref_event *e;
    size_t arrival;
} accepted;

static int cmp_str(const char *a, const char *b)
{
    return strcmp(a, b); /* byte order: no NUL inside the generated strings */
}

static int cmp_i64(int64_t a, int64_t b) { return a < b ? -1 : a > b; }

/* --- windows -------------------------------------------------------------- */

static int64_t cmp_window_size; /* for the comparators below */

static int64_t window_of(int64_t ts) { return ts / cmp_window_size * cmp_window_size; }

static int by_window_url(const void *a, const void *b)
{
    const accepted *x = a, *y = b;
    int c = cmp_i64(window_of(x->e->ts), window_of(y->e->ts));
    return c ? c : cmp_str(x->e->url, y->e->url);
}

static int by_window_user(const void *a, const void *b)
{
    const accepted *x = a, *y = b;
    int c = cmp_i64(window_of(x->e->ts), window_of(y->e->ts));
    return c ? c : cmp_str(x->e->user, y->e->user);
}

typedef struct url_count_ref {
    int64_t window;
    const char *url;
    long long clicks;
} url_count_ref;

static int by_clicks_desc_then_url(const void *a, const void *b)
{
    const url_count_ref *x = a, *y = b;
    if (x->clicks != y->clicks)
        return x->clicks > y->clicks ? -1 : 1;
    return cmp_str(x->url, y->url);
}

/* The final record per key of a JSON-lines file: key -> last line's object. */
static json_t *last_per_key(const char *path, int with_url)
{
    json_t *last = json_object();
    char *text = ts_read_file(path, NULL);
    ck_assert_msg(text != NULL, "no %s", path);
    for (char *line = text; *line;) {
        char *nl = strchr(line, '\n');
        ck_assert(nl != NULL);
        json_error_t err;
        json_t *obj = json_loadb(line, (size_t)(nl - line), 0, &err);
        ck_assert_msg(obj != NULL, "bad line in %s: %s", path, err.text);
        json_t *url = json_object_get(obj, "url");
        char *key =
            with_url ? ts_strf("%lld|%s", (long long)json_integer_value(json_object_get(obj, "window_start")),
                               json_string_value(url))
                     : ts_strf("%lld", (long long)json_integer_value(json_object_get(obj, "window_start")));
        json_object_set_new_nocheck(last, key, obj);
        free(key);
        line = nl + 1;
    }
    free(text);
    return last;
}

static void check_windows(const config *cfg, accepted *acc, size_t n, const char *out_dir)
{
    char *path = ts_strf("%s/url_clicks.jsonl", out_dir);
    json_t *final_clicks = last_per_key(path, 1);
    free(path);
    path = ts_strf("%s/window_summary.jsonl", out_dir);
    json_t *final_summary = last_per_key(path, 0);
    free(path);

    cmp_window_size = cfg->window;
    /* Clicks per (window, url). */
    qsort(acc, n, sizeof *acc, by_window_url);
    url_count_ref *counts = calloc(n + 1, sizeof *counts);
    size_t nc = 0;
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || by_window_url(&acc[i - 1], &acc[i]) != 0)
            counts[nc++] = (url_count_ref){window_of(acc[i].e->ts), acc[i].e->url, 0};
        counts[nc - 1].clicks++;
    }
    ck_assert_uint_eq(json_object_size(final_clicks), nc);
    for (size_t i = 0; i < nc; i++) {
        char *key = ts_strf("%lld|%s", (long long)counts[i].window, counts[i].url);
        json_t *got = json_object_get(final_clicks, key);
        ck_assert_msg(got != NULL, "%s: no url_clicks for %s", cfg->name, key);
        ck_assert_msg(json_integer_value(json_object_get(got, "clicks")) == counts[i].clicks,
                      "%s: %s has %lld clicks, want %lld", cfg->name, key,
                      (long long)json_integer_value(json_object_get(got, "clicks")), counts[i].clicks);
        ck_assert_int_eq(json_integer_value(json_object_get(got, "window_end")),
                         counts[i].window + cfg->window);
        free(key);
    }

    /* Unique users per window. */
    qsort(acc, n, sizeof *acc, by_window_user);
    json_t *users_per_window = json_object();
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && by_window_user(&acc[i - 1], &acc[i]) == 0)
            continue;
        char *key = ts_strf("%lld", (long long)window_of(acc[i].e->ts));
        json_t *c = json_object_get(users_per_window, key);
        json_object_set_new(users_per_window, key, json_integer(c ? json_integer_value(c) + 1 : 1));
        free(key);
    }

    /* Summaries: clicks, unique users, unique URLs and top N per window. */
    size_t windows = 0;
    for (size_t i = 0; i < nc;) {
        size_t j = i;
        long long clicks = 0;
        while (j < nc && counts[j].window == counts[i].window)
            clicks += counts[j++].clicks;
        qsort(counts + i, j - i, sizeof *counts, by_clicks_desc_then_url);
        char *key = ts_strf("%lld", (long long)counts[i].window);
        json_t *got = json_object_get(final_summary, key);
        ck_assert_msg(got != NULL, "%s: no window_summary for %s", cfg->name, key);
        ck_assert_int_eq(json_integer_value(json_object_get(got, "clicks")), clicks);
        ck_assert_int_eq(json_integer_value(json_object_get(got, "unique_urls")), (long long)(j - i));
        ck_assert_int_eq(json_integer_value(json_object_get(got, "unique_users")),
                         json_integer_value(json_object_get(users_per_window, key)));
        json_t *top = json_object_get(got, "top_urls");
        size_t want_top = j - i < (size_t)cfg->top ? j - i : (size_t)cfg->top;
        ck_assert_msg(json_array_size(top) == want_top, "%s: window %s top has %zu", cfg->name, key,
                      json_array_size(top));
        for (size_t k = 0; k < want_top; k++) {
            json_t *item = json_array_get(top, k);
            ck_assert_msg(strcmp(json_string_value(json_object_get(item, "url")), counts[i + k].url) == 0 &&
                              json_integer_value(json_object_get(item, "clicks")) == counts[i + k].clicks,
                          "%s: window %s top #%zu is %s", cfg->name, key, k,
                          json_string_value(json_object_get(item, "url")));
        }
        free(key);
        windows++;
        i = j;
    }
    ck_assert_uint_eq(json_object_size(final_summary), windows);
    json_decref(users_per_window);
    json_decref(final_clicks);
    json_decref(final_summary);
    free(counts);
}

/* --- sessions ------------------------------------------------------------- */

typedef struct session_ref {
    const char *user;
    int64_t start, end;
    long long clicks, unique_urls;
    const char *entry, *exit;
    long long user_sessions;
    double user_avg;
    size_t due_at; /* index of the first event whose watermark releases it */
} session_ref;

static int by_user_ts_arrival(const void *a, const void *b)
{
    const accepted *x = a, *y = b;
    int c = cmp_str(x->e->user, y->e->user);
    if (c == 0)
        c = cmp_i64(x->e->ts, y->e->ts);
    return c ? c : (x->arrival > y->arrival) - (x->arrival < y->arrival);
}

static int by_string(const void *a, const void *b)
{
    return cmp_str(*(const char *const *)a, *(const char *const *)b);
}

static int by_emission(const void *a, const void *b)
{
    const session_ref *x = a, *y = b;
    if (x->due_at != y->due_at)
        return x->due_at < y->due_at ? -1 : 1;
    int c = cmp_i64(x->end, y->end);
    if (c == 0)
        c = cmp_str(x->user, y->user);
    return c ? c : cmp_i64(x->start, y->start);
}

static int by_user_start(const void *a, const void *b)
{
    const session_ref *x = a, *y = b;
    int c = cmp_str(x->user, y->user);
    return c ? c : cmp_i64(x->start, y->start);
}

typedef struct output_line {
    json_t *o;
    const char *text;
    int len;
    size_t index; /* in the file */
} output_line;

static int output_by_user_start(const void *a, const void *b)
{
    const output_line *x = a, *y = b;
    int c = cmp_str(json_string_value(json_object_get(x->o, "user_id")),
                    json_string_value(json_object_get(y->o, "user_id")));
    return c ? c
             : cmp_i64(json_integer_value(json_object_get(x->o, "session_start")),
                       json_integer_value(json_object_get(y->o, "session_start")));
}

static void check_sessions(const config *cfg, const ref_stream *s, accepted *acc, size_t n,
                           const char *out_dir)
{
    qsort(acc, n, sizeof *acc, by_user_ts_arrival);
    session_ref *ref = calloc(n + 1, sizeof *ref);
    const char **urls = calloc(n + 1, sizeof *urls);
    size_t ns = 0;
    long long user_count = 0, user_total = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && strcmp(acc[j].e->user, acc[i].e->user) == 0 &&
               acc[j].e->ts - acc[j - 1].e->ts <= cfg->gap)
            j++;
        if (i == 0 || strcmp(acc[i - 1].e->user, acc[i].e->user) != 0)
            user_count = user_total = 0;
        session_ref *r = &ref[ns++];
        r->user = acc[i].e->user;
        r->start = acc[i].e->ts;
        r->end = acc[j - 1].e->ts;
        r->clicks = (long long)(j - i);
        r->entry = acc[i].e->url;
        r->exit = acc[j - 1].e->url;
        for (size_t k = i; k < j; k++)
            urls[k - i] = acc[k].e->url;
        qsort(urls, j - i, sizeof *urls, by_string);
        for (size_t k = 0; k < j - i; k++)
            r->unique_urls += k == 0 || strcmp(urls[k - 1], urls[k]) != 0;
        user_count++;
        user_total += r->end - r->start;
        r->user_sessions = user_count;
        r->user_avg = (double)user_total / (double)user_count;
        /* Released by the first event whose watermark passes end + gap +
         * lateness (watermarks never go down), else at the end of input. */
        size_t lo = 0, hi = s->n;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (s->ev[mid].wm != INT64_MIN && s->ev[mid].wm > r->end + cfg->gap + cfg->allowed_lateness)
                hi = mid;
            else
                lo = mid + 1;
        }
        r->due_at = lo;
        i = j;
    }
    /* One instance emits in watermark order, then (end, user, start). Tasks
     * each do so for their users, merged in stream order: there the order
     * is checked per user only (a user's sessions in time order), and the
     * sessions as a set. */
    qsort(ref, ns, sizeof *ref, cfg->partitions == 1 ? by_emission : by_user_start);

    char *path = ts_strf("%s/sessions.jsonl", out_dir);
    char *text = ts_read_file(path, NULL);
    ck_assert_msg(text != NULL, "no %s", path);
    output_line *lines = calloc(ns + 1, sizeof *lines);
    size_t k = 0;
    for (char *line = text; *line; k++) {
        char *nl = strchr(line, '\n');
        ck_assert(nl != NULL);
        ck_assert_msg(k < ns, "%s: more sessions than the %zu expected", cfg->name, ns);
        json_error_t err;
        lines[k] = (output_line){json_loadb(line, (size_t)(nl - line), 0, &err), line, (int)(nl - line), k};
        ck_assert_msg(lines[k].o != NULL, "bad session line: %s", err.text);
        line = nl + 1;
    }
    ck_assert_msg(k == ns, "%s: %zu sessions, want %zu", cfg->name, k, ns);
    if (cfg->partitions != 1) {
        qsort(lines, k, sizeof *lines, output_by_user_start);
        for (size_t i = 1; i < k; i++)
            ck_assert_msg(strcmp(json_string_value(json_object_get(lines[i].o, "user_id")),
                                 json_string_value(json_object_get(lines[i - 1].o, "user_id"))) != 0 ||
                              lines[i].index > lines[i - 1].index,
                          "%s: a session of %s came out before an earlier one", cfg->name,
                          json_string_value(json_object_get(lines[i].o, "user_id")));
    }
    for (k = 0; k < ns; k++) {
        json_t *o = lines[k].o;
        const session_ref *r = &ref[k];
        int same = strcmp(json_string_value(json_object_get(o, "kind")), "session") == 0 &&
                   strcmp(json_string_value(json_object_get(o, "user_id")), r->user) == 0 &&
                   json_integer_value(json_object_get(o, "session_start")) == r->start &&
                   json_integer_value(json_object_get(o, "session_end")) == r->end &&
                   json_integer_value(json_object_get(o, "duration_ms")) == r->end - r->start &&
                   json_integer_value(json_object_get(o, "clicks")) == r->clicks &&
                   json_integer_value(json_object_get(o, "unique_urls")) == r->unique_urls &&
                   strcmp(json_string_value(json_object_get(o, "entry_url")), r->entry) == 0 &&
                   strcmp(json_string_value(json_object_get(o, "exit_url")), r->exit) == 0 &&
                   json_integer_value(json_object_get(o, "user_sessions")) == r->user_sessions &&
                   json_number_value(json_object_get(o, "user_avg_duration_ms")) == r->user_avg;
        ck_assert_msg(same,
                      "%s: session #%zu is\n%.*s\nwant user %s [%lld, %lld] clicks %lld urls "
                      "%lld entry %s exit %s n %lld avg %.17g",
                      cfg->name, k, lines[k].len, lines[k].text, r->user, (long long)r->start,
                      (long long)r->end, r->clicks, r->unique_urls, r->entry, r->exit, r->user_sessions,
                      r->user_avg);
        json_decref(o);
    }
    free(lines);
    free(text);
    free(path);
    free(urls);
    free(ref);
}

/* --- dead letters ----------------------------------------------------------- */

static void check_rejections(const config *cfg, const ref_stream *s, const char *out_dir)
{
    static const char *const reasons[] = {"too_large", "malformed", "bad_user",  "bad_url",
                                          "bad_ts",    "future_ts", "duplicate", "too_late"};
    long long want[8] = {0}, got[8] = {0};
    for (size_t i = 0; i < s->n; i++) {
        const ref_event *e = &s->ev[i];
        const char *reason = e->reason                               ? e->reason
                             : e->duplicate                          ? "duplicate"
                             : e->ts < e->wm - cfg->allowed_lateness ? "too_late"
                                                                     : NULL;
        for (size_t r = 0; reason && r < 8; r++)
            want[r] += strcmp(reason, reasons[r]) == 0;
    }
    char *path = ts_strf("%s/rejected.jsonl", out_dir);
    char *text = ts_read_file(path, NULL);
    ck_assert_msg(text != NULL, "no %s", path);
    for (char *line = text; *line;) {
        char *nl = strchr(line, '\n');
        ck_assert(nl != NULL);
        json_error_t err;
        json_t *o = json_loadb(line, (size_t)(nl - line), 0, &err);
        ck_assert_msg(o != NULL, "bad dead letter: %s", err.text);
        const char *reason = json_string_value(json_object_get(o, "reason"));
        size_t r = 0;
        while (r < 8 && strcmp(reason, reasons[r]) != 0)
            r++;
        ck_assert_msg(r < 8, "unknown reason %s", reason);
        got[r]++;
        json_decref(o);
        line = nl + 1;
    }
    for (size_t r = 0; r < 8; r++)
        ck_assert_msg(got[r] == want[r], "%s: %lld dead letters %s, want %lld", cfg->name, got[r], reasons[r],
                      want[r]);
    /* Every kind of rejection the stream is meant to exercise did occur. */
    for (size_t r = 1; r < 8; r++)
        ck_assert_msg(want[r] > 0, "%s: the stream has no %s event", cfg->name, reasons[r]);
    free(text);
    free(path);
}

static void check_config(const config *cfg, ref_stream *s, const char *dir)
{
    char *out_dir = ts_strf("%s/%s", dir, cfg->name);
    char *cmd =
        ts_strf("cd '%s' && INPUT=in.jsonl OUT_DIR='%s' MAX_FUTURE=1h "
                "MAX_OUT_OF_ORDER=5s ALLOWED_LATENESS=%lldms GAP=%lldms WINDOW=%lldms "
                "TOP=%d BATCH_SIZE=%d PARTITIONS=%d THREADS=2 '%s' run '%s/pipelines/replay.yaml'",
                dir, out_dir, (long long)cfg->allowed_lateness, (long long)cfg->gap, (long long)cfg->window,
                cfg->top, cfg->batch_size, cfg->partitions, SLUICE_BIN, SLUICE_SOURCE_DIR);
    mkdir(out_dir, 0755);
    char *err = NULL;
    int rc = ts_run(cmd, NULL, &err);
    ck_assert_msg(rc == 0, "%s: sluice failed (%d): %s", cfg->name, rc, err ? err : "");

    accepted *acc = calloc(s->n + 1, sizeof *acc);
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++) {
        const ref_event *e = &s->ev[i];
        if (e->reason == NULL && !e->duplicate && !(e->ts < e->wm - cfg->allowed_lateness))
            acc[n++] = (accepted){e, i};
    }
    ck_assert_uint_gt(n, EVENTS / 2);
    check_rejections(cfg, s, out_dir);
    check_windows(cfg, acc, n, out_dir);
    check_sessions(cfg, s, acc, n, out_dir);
    free(acc);
    free(err);
    free(cmd);
    free(out_dir);
}

START_TEST(streaming_results_equal_a_naive_batch_computation)
{
    const char *dir = ts_tmpdir();
    char *input = generate_input(dir);
    char *in_path = ts_strf("%s/in.jsonl", dir);
    ts_write_file(in_path, input);
    ref_stream s = decode_all(input);
    ck_assert_uint_eq(s.n, EVENTS);
    replay_watermark_and_dedup(&s, 5000);

    /* Lateness 0, 30s and 5m (the generator's late events are 2-10 minutes
     * behind: none, none and some of them are accepted), with gaps around
     * the generator's think time so sessions split, and late events bridge
     * them, and windows of several sizes. */
    const config configs[] = {
        {"lateness_0", 0, 30 * 60000, 60000, 10, 4096, 1},
        {"lateness_30s", 30000, 60000, 10000, 3, 1000, 1},
        {"lateness_5m", 5 * 60000, 45000, 60000, 5, 4096, 1},
        /* The same in keyed tasks on two threads. */
        {"lateness_0_tasks", 0, 30 * 60000, 60000, 10, 4096, 8},
        {"lateness_30s_tasks", 30000, 60000, 10000, 3, 1000, 5},
        {"lateness_5m_tasks", 5 * 60000, 45000, 60000, 5, 333, 3},
    };
    for (size_t i = 0; i < sizeof configs / sizeof configs[0]; i++)
        check_config(&configs[i], &s, dir);
    stream_free(&s);
    free(in_path);
    free(input);
}
END_TEST

int main(void)
{
    /* The keyed runs' small batches (333, 1000) on the workers too. */
    setenv("SLUICE_PARALLEL_MIN", "1", 1);
    Suite *s = suite_create("reference");
    TCase *tc = tcase_create("replay");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, streaming_results_equal_a_naive_batch_computation);
    suite_add_tcase(s, tc);
    return ts_run_suite(s);
}
