/* The clickgen source through the real `sluice` binary: determinism, the
 * shape of the stream (sessions, Zipf URLs, bounded disorder), and the
 * fractions of duplicates, late and invalid events it is asked for. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "test_support.h"

#define START_MS 1795737600000LL /* 2026-11-27T00:00:00Z: in the past, never future_ts */

static char *tmp_path(const char *name) { return ts_strf("%s/%s", ts_tmpdir(), name); }

/* Runs clickgen with `options` (YAML flow-map entries) into `out` as raw
 * lines; returns the exit code. */
static int generate(const char *options, const char *out)
{
    char *pipeline = tmp_path("gen.yaml");
    char *yaml = ts_strf("steps:\n"
                         "  - name: clicks\n"
                         "    plugin: clickgen\n"
                         "    options: {start: %lld, %s}\n"
                         "    event: raw\n"
                         "  - name: out\n"
                         "    plugin: file\n"
                         "    input: clicks\n"
                         "    options: {path: '%s', truncate: true}\n",
                         START_MS, options, out);
    ts_write_file(pipeline, yaml);
    char *cmd = ts_strf("'%s' run '%s'", SLUICE_BIN, pipeline);
    char *err = NULL;
    int rc = ts_run(cmd, NULL, &err);
    if (rc != 0)
        fprintf(stderr, "sluice failed (%d): %s\n", rc, err);
    free(err);
    free(cmd);
    free(yaml);
    free(pipeline);
    return rc;
}

typedef struct event {
    long long n;    /* from the event id e-<seed>-<n> */
    long long user; /* u-<user> or the integer user id */
    long long url;  /* .../p/<url> */
    long long ts;
    const char *line;
    size_t len;
} event;

static long long number_after(const char *line, const char *key)
{
    const char *p = strstr(line, key);
    return p ? strtoll(p + strlen(key), NULL, 10) : -1;
}

/* Parses one valid clickgen line; ts as an integer or RFC 3339 string. */
static void parse_event(const char *line, size_t len, event *ev)
{
    ev->line = line;
    ev->len = len;
    const char *id = strstr(line, "\"event_id\":\"e-");
    ck_assert_ptr_nonnull(id);
    ev->n = strtoll(strchr(id + 14, '-') + 1, NULL, 10);
    ev->user = strstr(line, "\"user_id\":\"u-") ? number_after(line, "\"user_id\":\"u-")
                                                : number_after(line, "\"user_id\":");
    ev->url = number_after(line, "/p/");
    const char *ts = strstr(line, "\"ts\":");
    ck_assert_ptr_nonnull(ts);
    if (ts[5] == '"') {
        struct tm tm = {0};
        int ms = 0;
        ck_assert_int_eq(sscanf(ts + 6, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                                &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms),
                         7);
        tm.tm_year -= 1900;
        tm.tm_mon -= 1;
        ev->ts = (long long)timegm(&tm) * 1000 + ms;
    } else {
        ev->ts = strtoll(ts + 5, NULL, 10);
    }
}

/* All lines of a file as events (the file's text stays alive in *text). */
static event *read_events(const char *path, size_t *count, char **text)
{
    *text = ts_read_file(path, NULL);
    ck_assert_ptr_nonnull(*text);
    size_t cap = 1024, n = 0;
    event *evs = malloc(cap * sizeof *evs);
    for (char *p = *text; *p;) {
        char *nl = strchr(p, '\n');
        ck_assert_ptr_nonnull(nl);
        *nl = '\0';
        if (n == cap)
            evs = realloc(evs, (cap *= 2) * sizeof *evs);
        parse_event(p, (size_t)(nl - p), &evs[n++]);
        p = nl + 1;
    }
    *count = n;
    return evs;
}

START_TEST(the_same_seed_gives_the_same_bytes_and_another_seed_others)
{
    char *a = tmp_path("a.jsonl"), *b = tmp_path("b.jsonl"), *c = tmp_path("c.jsonl");
    ck_assert_int_eq(generate("seed: 7, count: 20000", a), 0);
    ck_assert_int_eq(generate("seed: 7, count: 20000", b), 0);
    ck_assert_int_eq(generate("seed: 8, count: 20000", c), 0);
    size_t la, lb, lc;
    char *ta = ts_read_file(a, &la), *tb = ts_read_file(b, &lb), *tc = ts_read_file(c, &lc);
    ck_assert_uint_gt(la, 0);
    ck_assert_msg(la == lb && memcmp(ta, tb, la) == 0, "seed 7 gave different output twice");
    ck_assert_msg(la != lc || memcmp(ta, tc, la) != 0, "seeds 7 and 8 gave the same output");
    free(ta);
    free(tb);
    free(tc);
    free(a);
    free(b);
    free(c);
}
END_TEST

START_TEST(count_events_are_sent_then_the_source_ends)
{
    char *out = tmp_path("count.jsonl");
    ck_assert_int_eq(generate("count: 12345", out), 0);
    ck_assert_uint_eq(ts_count_lines(out), 12345);
    free(out);
}
END_TEST

START_TEST(events_look_like_clicks_of_about_165_bytes)
{
    char *out = tmp_path("shape.jsonl"), *text;
    ck_assert_int_eq(generate("count: 20000, invalid: 0, duplicates: 0, late: 0", out), 0);
    size_t n;
    event *evs = read_events(out, &n, &text);
    size_t bytes = 0, rfc3339 = 0, int_users = 0;
    for (size_t i = 0; i < n; i++) {
        bytes += evs[i].len;
        rfc3339 += strstr(evs[i].line, "\"ts\":\"") != NULL;
        int_users += strstr(evs[i].line, "\"user_id\":\"") == NULL;
        ck_assert_msg(evs[i].user >= 1 && evs[i].user <= 10000, "%s", evs[i].line);
        ck_assert_msg(evs[i].url >= 1 && evs[i].url <= 1000, "%s", evs[i].line);
        ck_assert_msg(strstr(evs[i].line, "\"referrer\":") && strstr(evs[i].line, "\"ua\":"), "%s",
                      evs[i].line);
    }
    double mean = (double)bytes / (double)n;
    ck_assert_msg(mean > 140 && mean < 200, "mean event size %.1f bytes", mean);
    /* About 5% each, so the decoder's other paths are exercised. */
    ck_assert_msg(rfc3339 > n / 40 && rfc3339 < n / 10, "%zu RFC 3339 ts of %zu", rfc3339, n);
    ck_assert_msg(int_users > n / 50 && int_users < n / 8, "%zu integer user ids", int_users);
    free(evs);
    free(text);
    free(out);
}
END_TEST

START_TEST(duplicates_resend_an_earlier_event_byte_for_byte_at_the_asked_rate)
{
    char *out = tmp_path("dups.jsonl"), *text;
    ck_assert_int_eq(generate("count: 40000, duplicates: 0.05, invalid: 0, late: 0", out), 0);
    size_t n;
    event *evs = read_events(out, &n, &text);
    const event **first = calloc(n + 1, sizeof *first);
    size_t dups = 0;
    for (size_t i = 0; i < n; i++) {
        ck_assert(evs[i].n >= 1 && (size_t)evs[i].n <= n);
        const event *seen = first[evs[i].n];
        if (seen == NULL) {
            first[evs[i].n] = &evs[i];
            continue;
        }
        dups++;
        ck_assert_msg(seen->len == evs[i].len && memcmp(seen->line, evs[i].line, seen->len) == 0,
                      "duplicate differs:\n%s\n%s", seen->line, evs[i].line);
    }
    ck_assert_msg(dups > 1600 && dups < 2400, "%zu duplicates of 40000 at 5%%", dups);
    free(first);
    free(evs);
    free(text);
    free(out);
}
END_TEST

START_TEST(disorder_stays_bounded_except_for_late_events)
{
    char *out = tmp_path("late.jsonl"), *text;
    ck_assert_int_eq(generate("count: 40000, duplicates: 0, invalid: 0, late: 0.02, disorder: 3s", out), 0);
    size_t n;
    event *evs = read_events(out, &n, &text);
    long long max_ts = 0;
    size_t late = 0;
    for (size_t i = 0; i < n; i++) {
        long long behind = max_ts - evs[i].ts;
        if (behind >= 60000) { /* late ones are 2 to 10 minutes behind */
            late++;
            ck_assert_msg(behind <= 600000 + 3000, "%lld ms behind: %s", behind, evs[i].line);
            continue; /* a late event does not move the clock */
        }
        ck_assert_msg(behind <= 3000, "%lld ms out of order: %s", behind, evs[i].line);
        if (evs[i].ts > max_ts)
            max_ts = evs[i].ts;
    }
    ck_assert_msg(late > 600 && late < 1000, "%zu late events of 40000 at 2%%", late);
    free(evs);
    free(text);
    free(out);
}
END_TEST

static int by_user_then_ts(const void *a, const void *b)
{
    const event *x = a, *y = b;
    if (x->user != y->user)
        return x->user < y->user ? -1 : 1;
    return (x->ts > y->ts) - (x->ts < y->ts);
}

START_TEST(a_users_clicks_form_sessions_separated_by_more_than_the_gap)
{
    char *out = tmp_path("sessions.jsonl"), *text;
    ck_assert_int_eq(generate("count: 40000, users: 400, duplicates: 0, invalid: 0, late: 0, "
                              "session_gap: 30m, think_time: 30s",
                              out),
                     0);
    size_t n;
    event *evs = read_events(out, &n, &text);
    qsort(evs, n, sizeof *evs, by_user_then_ts);
    const long long gap = 30 * 60000;
    size_t breaks = 0, users = 0;
    for (size_t i = 1; i < n; i++) {
        if (evs[i].user != evs[i - 1].user) {
            users++;
            continue;
        }
        long long d = evs[i].ts - evs[i - 1].ts;
        /* Within a session at most half the gap (plus disorder), between
         * sessions more than the gap: nothing in between. */
        ck_assert_msg(d <= gap / 2 + 2000 || d > gap, "user %lld: %lld ms between clicks", evs[i].user, d);
        breaks += d > gap;
    }
    ck_assert_msg(breaks > 4 * users, "only %zu session breaks for %zu users", breaks, users);
    free(evs);
    free(text);
    free(out);
}
END_TEST

static int by_count_desc(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x < y) - (x > y);
}

/* Clicks of the most popular URL over those of the median one. */
static double url_skew(const char *options)
{
    char *out = tmp_path("zipf.jsonl"), *text;
    ck_assert_int_eq(generate(options, out), 0);
    size_t n;
    event *evs = read_events(out, &n, &text);
    size_t counts[100] = {0};
    for (size_t i = 0; i < n; i++) {
        ck_assert(evs[i].url >= 1 && evs[i].url <= 100);
        counts[evs[i].url - 1]++;
    }
    qsort(counts, 100, sizeof counts[0], by_count_desc);
    free(evs);
    free(text);
    free(out);
    return (double)counts[0] / (double)(counts[50] ? counts[50] : 1);
}

START_TEST(url_popularity_follows_zipf)
{
    const char *common = "count: 40000, urls: 100, invalid: 0, duplicates: 0, late: 0";
    char *skewed = ts_strf("%s, zipf: 1.1", common), *flat = ts_strf("%s, zipf: 0", common);
    double zipf = url_skew(skewed), uniform = url_skew(flat);
    /* 51^1.1 is about 76 */
    ck_assert_msg(zipf > 40 && zipf < 130, "zipf 1.1: top/median %.1f", zipf);
    ck_assert_msg(uniform < 1.5, "zipf 0: top/median %.1f", uniform);
    free(skewed);
    free(flat);
}
END_TEST

START_TEST(invalid_events_are_rejected_with_every_reason_at_the_asked_rate)
{
    char *good = tmp_path("good.jsonl"), *bad = tmp_path("bad.jsonl"), *pipeline = tmp_path("decoded.yaml");
    char *yaml = ts_strf("steps:\n"
                         "  - name: clicks\n"
                         "    plugin: clickgen\n"
                         "    options: {start: %lld, count: 40000, invalid: 0.04}\n"
                         "  - name: good\n"
                         "    plugin: file\n"
                         "    input: clicks\n"
                         "    options: {path: '%s', truncate: true}\n"
                         "  - name: bad\n"
                         "    plugin: file\n"
                         "    input: clicks.rejected\n"
                         "    options: {path: '%s', truncate: true}\n",
                         START_MS, good, bad);
    ts_write_file(pipeline, yaml);
    char *cmd = ts_strf("'%s' run '%s'", SLUICE_BIN, pipeline);
    char *err = NULL;
    ck_assert_msg(ts_run(cmd, NULL, &err) == 0, "%s", err);
    size_t accepted = ts_count_lines(good), rejected = ts_count_lines(bad);
    ck_assert_uint_eq(accepted + rejected, 40000);
    ck_assert_msg(rejected > 1300 && rejected < 1900, "%zu rejected of 40000 at 4%%", rejected);
    char *text = ts_read_file(bad, NULL);
    const char *reasons[] = {"malformed", "bad_user", "bad_url", "bad_ts", "future_ts"};
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++) {
        char *needle = ts_strf("\"reason\":\"%s\"", reasons[i]);
        ck_assert_msg(strstr(text, needle) != NULL, "no %s rejection", reasons[i]);
        free(needle);
    }
    ck_assert_msg(strstr(text, "\"origin\":\"clickgen:") != NULL, "no clickgen:<n> origin");
    free(text);
    free(err);
    free(cmd);
    free(yaml);
    free(good);
    free(bad);
    free(pipeline);
}
END_TEST

START_TEST(without_invalid_events_every_event_is_accepted)
{
    char *good = tmp_path("good.jsonl"), *bad = tmp_path("bad.jsonl"), *pipeline = tmp_path("clean.yaml");
    /* Default start: the events end about now, so none is from the future. */
    char *yaml = ts_strf("steps:\n"
                         "  - name: clicks\n"
                         "    plugin: clickgen\n"
                         "    options: {count: 30000, invalid: 0, partitions: 4}\n"
                         "  - name: good\n"
                         "    plugin: file\n"
                         "    input: clicks\n"
                         "    options: {path: '%s', truncate: true}\n"
                         "  - name: bad\n"
                         "    plugin: file\n"
                         "    input: clicks.rejected\n"
                         "    options: {path: '%s', truncate: true}\n",
                         good, bad);
    ts_write_file(pipeline, yaml);
    char *cmd = ts_strf("'%s' run '%s'", SLUICE_BIN, pipeline);
    char *err = NULL;
    ck_assert_msg(ts_run(cmd, NULL, &err) == 0, "%s", err);
    char *rejections = ts_read_file(bad, NULL);
    ck_assert_msg(ts_count_lines(bad) == 0, "rejected: %.500s", rejections ? rejections : "");
    ck_assert_uint_eq(ts_count_lines(good), 30000);
    free(rejections);
    free(err);
    free(cmd);
    free(yaml);
    free(good);
    free(bad);
    free(pipeline);
}
END_TEST

static double seconds_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

START_TEST(a_rate_paces_events_against_the_wall_clock)
{
    char *out = tmp_path("paced.jsonl");
    double t0 = seconds_now();
    ck_assert_int_eq(generate("count: 200, rate: 1000", out), 0);
    double paced = seconds_now() - t0;
    ck_assert_uint_eq(ts_count_lines(out), 200);
    /* 200 events at 1000/s: the last is due 0.199 s after the first. */
    ck_assert_msg(paced >= 0.15, "200 events at 1000/s took only %.3f s", paced);
    free(out);
}
END_TEST

START_TEST(with_a_rate_and_no_start_event_time_follows_the_wall_clock)
{
    char *out = tmp_path("live.jsonl"), *pipeline = tmp_path("live.yaml"), *text;
    char *yaml = ts_strf("steps:\n"
                         "  - name: clicks\n"
                         "    plugin: clickgen\n"
                         "    options: {count: 50, rate: 500, invalid: 0, late: 0}\n"
                         "    event: raw\n"
                         "  - name: out\n"
                         "    plugin: file\n"
                         "    input: clicks\n"
                         "    options: {path: '%s', truncate: true}\n",
                         out);
    ts_write_file(pipeline, yaml);
    char *cmd = ts_strf("'%s' run '%s'", SLUICE_BIN, pipeline);
    long long before = (long long)time(NULL) * 1000;
    ck_assert_int_eq(ts_run(cmd, NULL, NULL), 0);
    long long after = (long long)time(NULL) * 1000 + 1000;
    size_t n;
    event *evs = read_events(out, &n, &text);
    ck_assert_uint_eq(n, 50);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(evs[i].ts >= before - 3000 && evs[i].ts <= after, "ts %lld not in [%lld, %lld]",
                      evs[i].ts, before - 3000, after);
    free(evs);
    free(text);
    free(cmd);
    free(yaml);
    free(out);
    free(pipeline);
}
END_TEST

START_TEST(fractions_adding_up_to_more_than_one_are_refused)
{
    char *out = tmp_path("never.jsonl"), *pipeline = tmp_path("bad-fractions.yaml");
    char *yaml = ts_strf("steps:\n"
                         "  - name: clicks\n"
                         "    plugin: clickgen\n"
                         "    options: {duplicates: 0.6, invalid: 0.6}\n"
                         "    event: raw\n"
                         "  - name: out\n"
                         "    plugin: file\n"
                         "    input: clicks\n"
                         "    options: {path: '%s'}\n",
                         out);
    ts_write_file(pipeline, yaml);
    char *cmd = ts_strf("'%s' run '%s'", SLUICE_BIN, pipeline);
    char *err = NULL;
    ck_assert_int_ne(ts_run(cmd, NULL, &err), 0);
    ck_assert_msg(strstr(err, "more than 1") != NULL, "%s", err);
    free(err);
    free(cmd);
    free(yaml);
    free(out);
    free(pipeline);
}
END_TEST

/* Is `part` (len bytes) at the start (or the end) of `whole`? */
static int has_prefix(const char *whole, size_t whole_len, const char *part, size_t len)
{
    return len <= whole_len && memcmp(whole, part, len) == 0;
}

static int has_suffix(const char *whole, size_t whole_len, const char *part, size_t len)
{
    return len <= whole_len && memcmp(whole + whole_len - len, part, len) == 0;
}

START_TEST(a_restarted_generator_continues_its_stream_from_the_checkpoint)
{
    char *ref = tmp_path("reference.jsonl"), *first = tmp_path("first.jsonl"),
         *second = tmp_path("second.jsonl"), *state = tmp_path("state"), *pipeline = tmp_path("restart.yaml");
    ck_assert_int_eq(generate("count: 1000", ref), 0);
    char *yaml = ts_strf("state_dir: '%s'\n"
                         "checkpoint_interval: 50ms\n"
                         "steps:\n"
                         "  - name: clicks\n"
                         "    plugin: clickgen\n"
                         "    options: {count: 1000, rate: 1000, start: %lld}\n"
                         "    event: raw\n"
                         "  - name: out\n"
                         "    plugin: file\n"
                         "    input: clicks\n"
                         "    options: {path: '${OUT}', flush_interval: 0}\n",
                         state, START_MS);
    ts_write_file(pipeline, yaml);
    /* Killed without warning once 200 events are out and a few checkpoints
     * later (the whole run needs 1 s), then run again. */
    char *cmd = ts_strf("OUT='%s' '%s' run '%s' & pid=$!; i=0; "
                        "while [ $i -lt 200 ] && [ $(cat '%s' 2>/dev/null | wc -l) -lt 200 ]; do "
                        "sleep 0.02; i=$((i+1)); done; sleep 0.15; kill -9 $pid; wait $pid; "
                        "OUT='%s' '%s' run '%s'",
                        first, SLUICE_BIN, pipeline, first, second, SLUICE_BIN, pipeline);
    char *err = NULL;
    ck_assert_msg(ts_run(cmd, NULL, &err) == 0, "%s", err);
    size_t lr, l1, l2;
    char *r = ts_read_file(ref, &lr), *a = ts_read_file(first, &l1), *b = ts_read_file(second, &l2);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    /* The first run wrote the stream's beginning, the second its end, from a
     * checkpoint at or before where the first stopped: nothing lost, nothing
     * invented, and not started over. */
    ck_assert_msg(has_prefix(r, lr, a, l1), "the first run is not the stream's beginning");
    ck_assert_msg(has_suffix(r, lr, b, l2), "the second run is not the stream's end");
    ck_assert_msg(l1 + l2 >= lr, "%zu + %zu bytes do not cover the %zu of the stream", l1, l2, lr);
    ck_assert_msg(l2 < lr, "the second run started over instead of resuming");
    free(r);
    free(a);
    free(b);
    free(err);
    free(cmd);
    free(yaml);
    free(ref);
    free(first);
    free(second);
    free(state);
    free(pipeline);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("clickgen");
    TCase *tc = tcase_create("clickgen");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, the_same_seed_gives_the_same_bytes_and_another_seed_others);
    tcase_add_test(tc, count_events_are_sent_then_the_source_ends);
    tcase_add_test(tc, events_look_like_clicks_of_about_165_bytes);
    tcase_add_test(tc, duplicates_resend_an_earlier_event_byte_for_byte_at_the_asked_rate);
    tcase_add_test(tc, disorder_stays_bounded_except_for_late_events);
    tcase_add_test(tc, a_users_clicks_form_sessions_separated_by_more_than_the_gap);
    tcase_add_test(tc, url_popularity_follows_zipf);
    tcase_add_test(tc, invalid_events_are_rejected_with_every_reason_at_the_asked_rate);
    tcase_add_test(tc, without_invalid_events_every_event_is_accepted);
    tcase_add_test(tc, a_rate_paces_events_against_the_wall_clock);
    tcase_add_test(tc, with_a_rate_and_no_start_event_time_follows_the_wall_clock);
    tcase_add_test(tc, fractions_adding_up_to_more_than_one_are_refused);
    tcase_add_test(tc, a_restarted_generator_continues_its_stream_from_the_checkpoint);
    suite_add_tcase(s, tc);
    return ts_run_suite(s);
}
