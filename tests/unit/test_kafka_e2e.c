/* End to end through Kafka: a generated click stream is produced to
 * click-data on a broker of the test's own, pipelines/clickstream.yaml runs
 * over it (stop_at_end), and what it writes to click-insights, session-stats
 * and click-rejects is compared with pipelines/replay.yaml run on the same
 * file.
 *
 * What is compared, and why:
 *  - One input partition: the source reads the file's order exactly, so the
 *    results must be the reference's, record for record and in order (output
 *    topics have one partition to keep their order), including which events
 *    were too late; dead letters must name the same events, with origin
 *    click-data/0@<line - 1> for <path>:<line>.
 *  - Six input partitions keyed by user: each user's events keep their
 *    order, but how partitions interleave is the consumer's business, and the
 *    watermark is the minimum over partitions, so lateness decisions may
 *    differ from the file's order. With no very late events in the stream
 *    and an allowed lateness (1h) beyond any interleaving skew, no event is
 *    too late either way and the FINAL results are order independent: the
 *    last url_clicks per (window, url) and window_summary per window, every
 *    session (each final when emitted), and every dead letter.
 * Kafka keys are checked against SEMANTICS.md sections 5 and 6. */
#include "test_kafka_support.h"

static char *tmp(const char *name) { return ts_strf("%s/%s", ts_tmpdir(), name); }

/* The embedded broker keeps about 5 MiB per partition: 20,000 events of
 * about 190 bytes fit in one. */

/* The reference: replay.yaml over `input` into folder `out`. */
static void run_replay(const char *input, const char *out, const char *lateness)
{
    char *cmd = ts_strf("INPUT='%s' OUT_DIR='%s' GAP=1m ALLOWED_LATENESS=%s '%s' run '%s/pipelines/replay.yaml'", input,
                        out, lateness, SLUICE_BIN, SLUICE_SOURCE_DIR);
    char *err = NULL;
    int rc = ts_run(cmd, NULL, &err);
    ck_assert_msg(rc == 0, "replay failed (%d): %s", rc, err);
    free(err);
    free(cmd);
}

/* clickstream.yaml over click-data on `b`; output topics consumed into
 * <out>/{click-insights,session-stats,click-rejects}.txt as key<TAB>value. */
static void run_clickstream(embedded_broker *b, const char *out, const char *lateness)
{
    const char *bs = broker_bootstraps(b);
    char *metrics = ts_strf("%s/metrics.json", out);
    char *cmd = ts_strf("mkdir -p '%s' && KAFKA_BROKERS='%s' STOP_AT_END=true GROUP=e2e GAP=1m ALLOWED_LATENESS=%s "
                        "'%s' run --metrics '%s' '%s/pipelines/clickstream.yaml' > /dev/null",
                        out, bs, lateness, SLUICE_BIN, metrics, SLUICE_SOURCE_DIR);
    char *err = NULL;
    int rc = ts_run(cmd, NULL, &err);
    ck_assert_msg(rc == 0, "clickstream failed (%d): %s", rc, err);
    static const char *const topics[] = {"click-insights", "session-stats", "click-rejects"};
    for (int i = 0; i < 3; i++) {
        char *path = ts_strf("%s/%s.txt", out, topics[i]);
        kt_consume_topic(bs, topics[i], path);
        free(path);
    }
    free(err);
    free(cmd);
    free(metrics);
}

/* A broker with click-data in `partitions` partitions and the output topics
 * in one, holding `input`. */
static embedded_broker *loaded_broker(const char *input, int partitions, size_t *lines)
{
    embedded_broker *b = kt_broker(partitions, "click-data");
    char err[256];
    ck_assert_int_eq(broker_create_topics(b, "click-insights,session-stats,click-rejects", 1, err, sizeof err), 0);
    *lines = kt_produce_file(broker_bootstraps(b), "click-data", input, partitions);
    return b;
}

/* The values of `kind` from a key<TAB>value file, in order, each checked to
 * carry the key SEMANTICS.md gives its kind. */
static char **values_of_kind(const char *path, const char *kind, char **buf, size_t *count)
{
    size_t n;
    char **lines = kt_lines(path, buf, &n);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        char *value = strchr(lines[i], '\t');
        ck_assert_ptr_nonnull(value);
        *value++ = '\0';
        json_t *rec = json_loads(value, 0, NULL);
        ck_assert_msg(rec != NULL, "not JSON: %s", value);
        const char *got = json_string_value(json_object_get(rec, "kind"));
        char want_key[8192] = "";
        if (got && strcmp(got, "url_clicks") == 0)
            snprintf(want_key, sizeof want_key, "%lld|%s",
                     (long long)json_integer_value(json_object_get(rec, "window_start")),
                     json_string_value(json_object_get(rec, "url")));
        else if (got && strcmp(got, "window_summary") == 0)
            snprintf(want_key, sizeof want_key, "%lld",
                     (long long)json_integer_value(json_object_get(rec, "window_start")));
        else if (got && strcmp(got, "session") == 0)
            snprintf(want_key, sizeof want_key, "%s", json_string_value(json_object_get(rec, "user_id")));
        ck_assert_msg(strcmp(lines[i], want_key) == 0, "key '%s', want '%s' for %s", lines[i], want_key, value);
        if ((kind == NULL && got == NULL) || (kind && got && strcmp(got, kind) == 0))
            lines[k++] = value;
        json_decref(rec);
    }
    lines[k] = NULL;
    *count = k;
    return lines;
}

static void assert_same_sequence(char **got, size_t ngot, const char *want_path, const char *what)
{
    char *buf;
    size_t nwant;
    char **want = kt_lines(want_path, &buf, &nwant);
    ck_assert_msg(ngot == nwant, "%s: %zu records through Kafka, %zu in the reference", what, ngot, nwant);
    for (size_t i = 0; i < ngot; i++)
        ck_assert_msg(strcmp(got[i], want[i]) == 0, "%s #%zu:\n kafka:     %s\n reference: %s", what, i, got[i],
                      want[i]);
    free(want);
    free(buf);
}

/* A dead letter without its origin (the only field that names the transport). */
static char *without_origin(const char *line, char *origin, size_t cap)
{
    json_t *dl = json_loads(line, 0, NULL);
    ck_assert_msg(dl != NULL, "not JSON: %s", line);
    snprintf(origin, cap, "%s", json_string_value(json_object_get(dl, "origin")));
    json_object_del(dl, "origin");
    char *text = json_dumps(dl, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(dl);
    return text;
}

START_TEST(one_partition_gives_the_reference_results_record_for_record)
{
    char *input = tmp("clicks.jsonl"), *ref = tmp("ref"), *out = tmp("kafka");
    kt_generate("count: 20000, seed: 11, users: 2000, event_interval: 20ms, session_gap: 1m, think_time: 10s", input);
    size_t lines;
    embedded_broker *b = loaded_broker(input, 1, &lines);
    ck_assert_uint_eq(lines, 20000);
    run_replay(input, ref, "0");
    run_clickstream(b, out, "0");
    char *metrics = ts_strf("%s/metrics.json", out);
    ck_assert_int_eq(kt_metric(metrics, "clickstream", "clicks", "read"), 20000);
    ck_assert_int_gt(kt_metric(metrics, "clickstream", "url_count", "rejected.too_late"), 0);

    char *ins_path = ts_strf("%s/click-insights.txt", out), *ses_path = ts_strf("%s/session-stats.txt", out);
    char *rej_path = ts_strf("%s/click-rejects.txt", out);
    char *b1, *b2, *b3, *b4;
    size_t n1, n2, n3, n4;
    char **url_clicks = values_of_kind(ins_path, "url_clicks", &b1, &n1);
    char **summaries = values_of_kind(ins_path, "window_summary", &b2, &n2);
    char **sessions = values_of_kind(ses_path, "session", &b3, &n3);
    ck_assert_uint_gt(n3, 1000);
    char *p;
    assert_same_sequence(url_clicks, n1, p = ts_strf("%s/url_clicks.jsonl", ref), "url_clicks");
    free(p);
    assert_same_sequence(summaries, n2, p = ts_strf("%s/window_summary.jsonl", ref), "window_summary");
    free(p);
    assert_same_sequence(sessions, n3, p = ts_strf("%s/sessions.jsonl", ref), "sessions");
    free(p);

    /* Dead letters: the same events, in the same order, named by offset. */
    char **dead = values_of_kind(rej_path, NULL, &b4, &n4);
    char *rbuf;
    size_t nref;
    char **ref_dead = kt_lines(p = ts_strf("%s/rejected.jsonl", ref), &rbuf, &nref);
    free(p);
    ck_assert_uint_eq(n4, nref);
    ck_assert_uint_gt(n4, 100);
    for (size_t i = 0; i < n4; i++) {
        char o1[512], o2[512];
        char *a = without_origin(dead[i], o1, sizeof o1), *r = without_origin(ref_dead[i], o2, sizeof o2);
        ck_assert_msg(strcmp(a, r) == 0, "dead letter #%zu:\n kafka:     %s\n reference: %s", i, a, r);
        long line = atol(strrchr(o2, ':') + 1);
        char *want = ts_strf("click-data/0@%ld", line - 1);
        ck_assert_str_eq(o1, want);
        free(want);
        free(a);
        free(r);
    }
    free(ref_dead);
    free(rbuf);
    free(url_clicks);
    free(summaries);
    free(sessions);
    free(dead);
    free(b1);
    free(b2);
    free(b3);
    free(b4);
    free(ins_path);
    free(ses_path);
    free(rej_path);
    free(metrics);
    free(input);
    free(ref);
    free(out);
    broker_stop(b);
}
END_TEST

/* Last record per key of `kind` ("url_clicks": window_start|url,
 * "window_summary": window_start), as sorted "key<TAB>json" strings. */
static char **finals(char **values, size_t n, const char *kind, size_t *count)
{
    typedef struct {
        char *key;
        size_t seq;
        const char *line;
    } entry;
    entry *e = malloc((n ? n : 1) * sizeof *e);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *rec = json_loads(values[i], 0, NULL);
        if (strcmp(json_string_value(json_object_get(rec, "kind")), kind) == 0) {
            long long ws = (long long)json_integer_value(json_object_get(rec, "window_start"));
            const char *url = json_string_value(json_object_get(rec, "url"));
            e[m].key = url ? ts_strf("%020lld|%s", ws, url) : ts_strf("%020lld", ws);
            e[m].seq = i;
            e[m].line = values[i];
            m++;
        }
        json_decref(rec);
    }
    /* Stable order by key, then keep each key's last. */
    for (size_t i = 1; i < m; i++) {
        entry x = e[i];
        size_t j = i;
        while (j > 0 && strcmp(e[j - 1].key, x.key) > 0) {
            e[j] = e[j - 1];
            j--;
        }
        e[j] = x;
    }
    char **out = malloc((m + 1) * sizeof *out);
    size_t k = 0;
    for (size_t i = 0; i < m; i++) {
        if (i + 1 < m && strcmp(e[i].key, e[i + 1].key) == 0) {
            free(e[i].key);
            continue;
        }
        out[k++] = ts_strf("%s\t%s", e[i].key, e[i].line);
        free(e[i].key);
    }
    free(e);
    *count = k;
    return out;
}

static void assert_same_finals(char **got, size_t ngot, char **want, size_t nwant, const char *kind)
{
    size_t a, b;
    char **fa = finals(got, ngot, kind, &a), **fb = finals(want, nwant, kind, &b);
    ck_assert_msg(a == b, "%s: %zu final records through Kafka, %zu in the reference", kind, a, b);
    for (size_t i = 0; i < a; i++) {
        ck_assert_msg(strcmp(fa[i], fb[i]) == 0, "%s:\n kafka:     %s\n reference: %s", kind, fa[i], fb[i]);
        free(fa[i]);
        free(fb[i]);
    }
    free(fa);
    free(fb);
}

static void assert_same_multiset(char **got, size_t ngot, char **want, size_t nwant, const char *what)
{
    ck_assert_msg(ngot == nwant, "%s: %zu through Kafka, %zu in the reference", what, ngot, nwant);
    qsort(got, ngot, sizeof *got, kt_cmp_str);
    qsort(want, nwant, sizeof *want, kt_cmp_str);
    for (size_t i = 0; i < ngot; i++)
        ck_assert_msg(strcmp(got[i], want[i]) == 0, "%s:\n kafka:     %s\n reference: %s", what, got[i], want[i]);
}

START_TEST(six_partitions_give_the_reference_final_results)
{
    char *input = tmp("clicks.jsonl"), *ref = tmp("ref"), *out = tmp("kafka");
    kt_generate("count: 30000, seed: 12, users: 2000, event_interval: 20ms, session_gap: 1m, think_time: 10s, late: 0",
                input);
    size_t lines;
    embedded_broker *b = loaded_broker(input, 6, &lines);
    run_replay(input, ref, "1h");
    run_clickstream(b, out, "1h");
    char *metrics = ts_strf("%s/metrics.json", out);
    ck_assert_int_eq(kt_metric(metrics, "clickstream", "clicks", "read"), 30000);
    ck_assert_int_le(kt_metric(metrics, "clickstream", "url_count", "rejected.too_late"), 0);
    /* Partitions are read oldest message first, so windows fired once, when
     * complete: no late update re-emitted anything. */
    char *ref_c = ts_strf("%s/url_clicks.jsonl", ref), *ref_s = ts_strf("%s/window_summary.jsonl", ref);
    ck_assert_int_eq(kt_metric(metrics, "clickstream", "url_count", "out"),
                     (long long)(ts_count_lines(ref_c) + ts_count_lines(ref_s)));
    free(ref_c);
    free(ref_s);

    char *ins_path = ts_strf("%s/click-insights.txt", out), *ses_path = ts_strf("%s/session-stats.txt", out);
    char *rej_path = ts_strf("%s/click-rejects.txt", out);
    char *b0, *b1, *b2, *b3, *r1, *r2, *r3, *r4, *p;
    size_t n0, n1, n2, n3, m1, m2, m3, m4;
    char **clicks = values_of_kind(ins_path, "url_clicks", &b0, &n0);
    char **summaries = values_of_kind(ins_path, "window_summary", &b1, &n1);
    char **ref_clicks = kt_lines(p = ts_strf("%s/url_clicks.jsonl", ref), &r1, &m1);
    free(p);
    char **ref_summaries = kt_lines(p = ts_strf("%s/window_summary.jsonl", ref), &r2, &m2);
    free(p);
    assert_same_finals(clicks, n0, ref_clicks, m1, "url_clicks");
    assert_same_finals(summaries, n1, ref_summaries, m2, "window_summary");

    char **sessions = values_of_kind(ses_path, "session", &b2, &n2);
    char **ref_sessions = kt_lines(p = ts_strf("%s/sessions.jsonl", ref), &r3, &m3);
    free(p);
    assert_same_multiset(sessions, n2, ref_sessions, m3, "sessions");

    char **dead = values_of_kind(rej_path, NULL, &b3, &n3);
    char **ref_dead = kt_lines(p = ts_strf("%s/rejected.jsonl", ref), &r4, &m4);
    free(p);
    char origin[512];
    for (size_t i = 0; i < n3; i++)
        dead[i] = without_origin(dead[i], origin, sizeof origin);
    for (size_t i = 0; i < m4; i++)
        ref_dead[i] = without_origin(ref_dead[i], origin, sizeof origin);
    assert_same_multiset(dead, n3, ref_dead, m4, "dead letters");
    for (size_t i = 0; i < n3; i++)
        free(dead[i]);
    for (size_t i = 0; i < m4; i++)
        free(ref_dead[i]);

    free(clicks);
    free(summaries);
    free(b0);
    free(ref_clicks);
    free(ref_summaries);
    free(sessions);
    free(ref_sessions);
    free(dead);
    free(ref_dead);
    free(b1);
    free(b2);
    free(b3);
    free(r1);
    free(r2);
    free(r3);
    free(r4);
    free(ins_path);
    free(ses_path);
    free(rej_path);
    free(metrics);
    free(input);
    free(ref);
    free(out);
    broker_stop(b);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("kafka_e2e");
    TCase *tc = tcase_create("e2e");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, one_partition_gives_the_reference_results_record_for_record);
    tcase_add_test(tc, six_partitions_give_the_reference_final_results);
    suite_add_tcase(s, tc);
    return ts_run_suite(s);
}
