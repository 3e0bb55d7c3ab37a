/* End to end through Kafka: a generated click stream is produced to
 * click-data on a broker of the test's own, pipelines/clickstream.yaml runs
 * over it (stop_at_end), and what it writes to click-insights, session-stats
 * and click-rejects is compared with pipelines/replay.yaml run on the same
 * file.
 *
 * What is compared, and why:
 *  - One input partition, one instance per step (partitions: 1): the source
 *    reads the file's order exactly, so the results must be the reference's,
 *    record for record and in order (output
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
 * Kafka keys are checked against docs/semantics.md sections 5 and 6. */
#include "test_kafka_support.h"

static char *tmp(const char *name) { return ts_strf("%s/%s", ts_tmpdir(), name); }

/* The embedded broker keeps about 5 MiB per partition: 20,000 events of
 * about 190 bytes fit in one. */

/* clickstream.yaml over click-data on `b`; output topics consumed into
 * <out>/{click-insights,session-stats,click-rejects}.txt as key<TAB>value. */
static void run_clickstream(embedded_broker *b, const char *out, const char *lateness, const char *env)
{
    const char *bs = broker_bootstraps(b);
    char *metrics = ts_strf("%s/metrics.json", out);
    char *cmd =
        ts_strf("mkdir -p '%s' && KAFKA_BROKERS='%s' STOP_AT_END=true GROUP=e2e GAP=1m ALLOWED_LATENESS=%s "
                "%s '%s' run --metrics '%s' '%s/pipelines/clickstream.yaml' > /dev/null",
                out, bs, lateness, env, SLUICE_BIN, metrics, SLUICE_SOURCE_DIR);
    char *err = NULL;
    int rc = ts_run(cmd, NULL, &err);
    ck_assert_msg(rc == 0, "clickstream failed (%d): %s", rc, err);
    char *log_path = ts_strf("%s/clickstream.log", out);
    ts_write_file(log_path, err);
    free(log_path);
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
    ck_assert_int_eq(
        broker_create_topics(b, "click-insights,session-stats,click-rejects", 1, err, sizeof err), 0);
    *lines = kt_produce_file(broker_bootstraps(b), "click-data", input, partitions);
    return b;
}

static void assert_same_sequence(char **got, size_t ngot, const char *want_path, const char *what)
{
    char *buf;
    size_t nwant;
    char **want = kt_lines(want_path, &buf, &nwant);
    ck_assert_msg(ngot == nwant, "%s: %zu records through Kafka, %zu in the reference", what, ngot, nwant);
    for (size_t i = 0; i < ngot; i++)
        ck_assert_msg(strcmp(got[i], want[i]) == 0, "%s #%zu:\n kafka:     %s\n reference: %s", what, i,
                      got[i], want[i]);
    free(want);
    free(buf);
}

START_TEST(one_partition_gives_the_reference_results_record_for_record)
{
    /* One instance per step: with keyed tasks, different users' records
     * interleave where a live stream happened to be cut into ticks (each
     * user's own stay in order; the six-partition test runs with tasks). */
    setenv("PARTITIONS", "1", 1);
    char *input = tmp("clicks.jsonl"), *ref = tmp("ref"), *out = tmp("kafka");
    kt_generate("count: 20000, seed: 11, users: 2000, event_interval: 20ms, session_gap: 1m, think_time: 10s",
                input);
    size_t lines;
    embedded_broker *b = loaded_broker(input, 1, &lines);
    ck_assert_uint_eq(lines, 20000);
    kt_run_replay(input, ref, "0");
    run_clickstream(b, out, "0", "TWO_PHASE=false"); /* url_count whole: one instance's order */
    char *metrics = ts_strf("%s/metrics.json", out);
    ck_assert_int_eq(kt_metric(metrics, "clickstream", "clicks", "read"), 20000);
    ck_assert_int_gt(kt_metric(metrics, "clickstream", "url_count", "rejected.too_late"), 0);

    char *ins_path = ts_strf("%s/click-insights.txt", out), *ses_path = ts_strf("%s/session-stats.txt", out);
    char *rej_path = ts_strf("%s/click-rejects.txt", out);
    char *b1, *b2, *b3, *b4;
    size_t n1, n2, n3, n4;
    char **url_clicks = kt_values_of_kind(ins_path, "url_clicks", &b1, &n1);
    char **summaries = kt_values_of_kind(ins_path, "window_summary", &b2, &n2);
    char **sessions = kt_values_of_kind(ses_path, "session", &b3, &n3);
    ck_assert_uint_gt(n3, 1000);
    char *p;
    assert_same_sequence(url_clicks, n1, p = ts_strf("%s/url_clicks.jsonl", ref), "url_clicks");
    free(p);
    assert_same_sequence(summaries, n2, p = ts_strf("%s/window_summary.jsonl", ref), "window_summary");
    free(p);
    assert_same_sequence(sessions, n3, p = ts_strf("%s/sessions.jsonl", ref), "sessions");
    free(p);

    /* Dead letters: the same events, in the same order, named by offset. */
    char **dead = kt_values_of_kind(rej_path, NULL, &b4, &n4);
    char *rbuf;
    size_t nref;
    char **ref_dead = kt_lines(p = ts_strf("%s/rejected.jsonl", ref), &rbuf, &nref);
    free(p);
    ck_assert_uint_eq(n4, nref);
    ck_assert_uint_gt(n4, 100);
    for (size_t i = 0; i < n4; i++) {
        char o1[512], o2[512];
        char *a = kt_without_origin(dead[i], o1, sizeof o1),
             *r = kt_without_origin(ref_dead[i], o2, sizeof o2);
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

/* Six partitions, with url_count whole (env "") or in two phases. */
static void six_partitions(const char *env)
{
    char *input = tmp("clicks.jsonl"), *ref = tmp("ref"), *out = tmp("kafka");
    kt_generate("count: 30000, seed: 12, users: 2000, event_interval: 20ms, session_gap: 1m, think_time: "
                "10s, late: 0",
                input);
    size_t lines;
    embedded_broker *b = loaded_broker(input, 6, &lines);
    kt_run_replay(input, ref, "1h");
    run_clickstream(b, out, "1h", env);
    char *metrics = ts_strf("%s/metrics.json", out);
    ck_assert_int_eq(kt_metric(metrics, "clickstream", "clicks", "read"), 30000);
    ck_assert_int_le(kt_metric(metrics, "clickstream", "url_count", "rejected.too_late"), 0);
    if (env[0]) {
        /* The partition tasks counted; their partial counts went through
         * the exchange topic (a watermark to each of its partitions) and
         * came back, all of them, to the total's tasks (exchange.sent counts
         * messages, exchange.read records). */
        long long partials = kt_metric(metrics, "clickstream", "url_count/partial", "out");
        long long sent = kt_metric(metrics, "clickstream", "clicks", "exchange.sent");
        ck_assert_int_gt(partials, 0);
        ck_assert_int_lt(partials, 30000 / 2);
        /* A round's records to one partition travel as one message. */
        ck_assert_int_gt(sent, 0);
        ck_assert_int_lt(sent, partials / 10);
        ck_assert_int_ge(kt_metric(metrics, "clickstream", "clicks", "exchange.read"), partials);
        ck_assert_int_ge(kt_metric(metrics, "clickstream", "url_count", "in"), partials);
    }
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
    char **clicks = kt_values_of_kind(ins_path, "url_clicks", &b0, &n0);
    char **summaries = kt_values_of_kind(ins_path, "window_summary", &b1, &n1);
    char **ref_clicks = kt_lines(p = ts_strf("%s/url_clicks.jsonl", ref), &r1, &m1);
    free(p);
    char **ref_summaries = kt_lines(p = ts_strf("%s/window_summary.jsonl", ref), &r2, &m2);
    free(p);
    kt_assert_same_finals(clicks, n0, ref_clicks, m1, "url_clicks");
    kt_assert_same_finals(summaries, n1, ref_summaries, m2, "window_summary");

    char **sessions = kt_values_of_kind(ses_path, "session", &b2, &n2);
    char **ref_sessions = kt_lines(p = ts_strf("%s/sessions.jsonl", ref), &r3, &m3);
    free(p);
    kt_assert_same_multiset(sessions, n2, ref_sessions, m3, "sessions", 0);

    char **dead = kt_values_of_kind(rej_path, NULL, &b3, &n3);
    char **ref_dead = kt_lines(p = ts_strf("%s/rejected.jsonl", ref), &r4, &m4);
    free(p);
    char origin[512];
    for (size_t i = 0; i < n3; i++)
        dead[i] = kt_without_origin(dead[i], origin, sizeof origin);
    for (size_t i = 0; i < m4; i++)
        ref_dead[i] = kt_without_origin(ref_dead[i], origin, sizeof origin);
    kt_assert_same_multiset(dead, n3, ref_dead, m4, "dead letters", 0);
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

START_TEST(six_partitions_give_the_reference_final_results) { six_partitions(""); }
END_TEST

/* url_count in two phases: each partition's task counts its own clicks, the
 * total sums them, and the final results are the reference's. */
START_TEST(six_partitions_in_two_phases_give_the_reference_final_results)
{
    six_partitions("TWO_PHASE=true");
}
END_TEST

/* The demo: generator and analytics in one process, both on the embedded
 * broker (`brokers: embedded` is one broker per process). Window summaries
 * and sessions must show up on standard output while it runs, and a
 * signal must end it cleanly. */
/* With key: on the source, url_count (outside the partition tasks) judges
 * lateness by the event's partition's watermark, as sessionize in the
 * tasks does: an event late in its own partition, while another partition
 * holds the pipeline's watermark back, is rejected by both, and its dead
 * letter (url_count's) is written. */
START_TEST(url_count_and_the_tasks_reject_the_same_late_events)
{
    embedded_broker *b = kt_broker(2, "click-data");
    /* A user of each partition, as kt_produce_file places them. */
    char users[2][16] = {"", ""};
    for (int i = 0; (!users[0][0] || !users[1][0]) && i < 1000; i++) {
        char u[16];
        snprintf(u, sizeof u, "u%d", i);
        uint32_t part = kt_hash(u, strlen(u)) % 2;
        if (!users[part][0])
            snprintf(users[part], sizeof users[part], "%s", u);
    }
    long long t0 = KT_START_MS;
    char *input = tmp("late_in_partition.jsonl");
    /* users[1]'s partition stays at t0, holding the pipeline's watermark
     * back; users[0]'s third click is a minute behind its partition. */
    char *events = ts_strf("{\"user_id\":\"%s\",\"url\":\"/b\",\"ts\":%lld}\n"
                           "{\"user_id\":\"%s\",\"url\":\"/a\",\"ts\":%lld}\n"
                           "{\"user_id\":\"%s\",\"url\":\"/a\",\"ts\":%lld}\n"
                           "{\"user_id\":\"%s\",\"url\":\"/late\",\"ts\":%lld}\n",
                           users[1], t0, users[0], t0 + 60000, users[0], t0 + 120000, users[0], t0 + 30000);
    ts_write_file(input, events);
    ck_assert_uint_eq(kt_produce_file(broker_bootstraps(b), "click-data", input, 2), 4);
    char *dead = tmp("late_in_partition.dead.jsonl");
    char *yaml =
        ts_strf("name: late_in_partition\n"
                "two_phase: false\n" /* url_count whole, outside the tasks: the rule under test */
                "steps:\n"
                "  - name: clicks\n"
                "    plugin: kafka\n"
                "    key: user_id\n"
                "    options: {brokers: '%s', topics: [click-data], group: late, stop_at_end: true}\n"
                "    event: {max_future: 'off', max_out_of_order: 0ms}\n"
                "  - {name: url_count, plugin: url_count, input: clicks, options: {size: 10s}}\n"
                "  - {name: sessionize, plugin: sessionize, input: clicks, options: {gap: 1m}}\n"
                "  - {name: dead, plugin: file, input: url_count.rejected, options: {path: '%s'}}\n",
                broker_bootstraps(b), dead);
    char *err = NULL;
    ck_assert_msg(kt_run_yaml("late_in_partition.yaml", yaml, "", &err) == 0, "%s", err);
    char *metrics = tmp("late_in_partition.yaml.metrics");
    ck_assert_int_eq(kt_metric(metrics, "late_in_partition", "sessionize", "rejected.too_late"), 1);
    ck_assert_int_eq(kt_metric(metrics, "late_in_partition", "url_count", "rejected.too_late"), 1);
    char *text = ts_read_file(dead, NULL);
    ck_assert_msg(text && strstr(text, "\"reason\":\"too_late\"") && strstr(text, "/late"),
                  "dead letters: %s", text ? text : "(none)");
    free(text);
    free(metrics);
    free(err);
    free(yaml);
    free(dead);
    free(events);
    free(input);
    broker_stop(b);
}
END_TEST

START_TEST(the_demo_runs_generator_and_analytics_in_one_process)
{
    char *out = tmp("demo.out"), *errp = tmp("demo.err");
    char *cmd = ts_strf("env WINDOW=2s GAP=2s RATE=3000 '%s' run '%s/pipelines/generate.yaml' "
                        "'%s/pipelines/clickstream.yaml'",
                        SLUICE_BIN, SLUICE_SOURCE_DIR, SLUICE_SOURCE_DIR);
    pid_t pid = kt_spawn(cmd, out, errp);
    ck_assert_msg(kt_wait_for_text(out, "\"kind\":\"session\"", 40), "no session on stdout");
    ck_assert_msg(kt_wait_for_text(out, "\"kind\":\"window_summary\"", 20), "no window summary on stdout");
    kill(pid, SIGINT);
    int rc = kt_wait(pid, 30);
    char *err = ts_read_file(errp, NULL);
    ck_assert_msg(rc == 0, "exit %d:\n%s", rc, err);
    ck_assert_msg(strstr(err, "embedded broker") != NULL, "%s", err);
    ck_assert_msg(strstr(err, "[clickstream/clicks] info: assigned") != NULL, "%s", err);
    free(err);
    free(cmd);
    free(out);
    free(errp);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("kafka_e2e");
    TCase *tc = tcase_create("e2e");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, one_partition_gives_the_reference_results_record_for_record);
    tcase_add_test(tc, six_partitions_give_the_reference_final_results);
    tcase_add_test(tc, six_partitions_in_two_phases_give_the_reference_final_results);
    tcase_add_test(tc, url_count_and_the_tasks_reject_the_same_late_events);
    tcase_add_test(tc, the_demo_runs_generator_and_analytics_in_one_process);
    suite_add_tcase(s, tc);
    return ts_run_suite(s);
}
