/* Several instances of the clickstream pipeline in one consumer group, with
 * `key: user_id` on the source (partition tasks, docs/kafka.md "Scaling
 * out"): each input partition's dedup and sessionize state is kept in the
 * changelog topic and follows the partition from instance to instance.
 *
 *  - The choreography of issue #10: a 12-partition topic keyed by user_id,
 *    three instances (each its own state_dir, checkpoints every second), two
 *    fifths of the data produced, one instance SIGKILLed, two fifths more,
 *    the killed one restarted, all three stopped with SIGTERM, the last fifth
 *    produced, all three started again to the end of the data. Sessions and
 *    dead letters equal those of one instance reading everything (the
 *    reference, replay.yaml), as sets: the SIGKILL makes delivery
 *    at-least-once. URL counts and window summaries equal the reference's
 *    final records: url_count runs in two phases (two_phase: true), the
 *    partition tasks' partial counts going through the exchange topic to
 *    the total's tasks, each owned by one instance. The same with the
 *    instance count going from 3 to 2.
 *  - A committed state pointer that names state the changelog does not hold
 *    is data loss: the run stops with an error saying so, it does not start
 *    empty.
 */
#include "test_kafka_support.h"

#define EVENTS 30000
#define PARTITIONS 12
#define GROUP "scale"

static char *tmp(const char *name) { return ts_strf("%s/%s", ts_tmpdir(), name); }

typedef struct fixture {
    embedded_broker *broker;
    char *input, *ref, *out, *yaml_path;
    char *part[5]; /* the input in fifths */
} fixture;

static char *scale_yaml(const char *bootstrap)
{
    return ts_strf(
        "name: clickstream\n"
        "state_dir: ${STATE_DIR}\n"
        "checkpoint_interval: 1s\n"
        "two_phase: true\n"
        "steps:\n"
        "  - name: clicks\n"
        "    plugin: kafka\n"
        "    key: user_id\n"
        "    options: {brokers: '%s', topics: [click-data], group: " GROUP
        ", stop_at_end: '${STOP_AT_END}',\n"
        "              session_timeout: 4s}\n"
        "  - {name: dedup, plugin: dedup, input: clicks, options: {emit_rejected: true}}\n"
        "  - {name: url_count, plugin: url_count, input: dedup, options: {allowed_lateness: 1h}}\n"
        "  - {name: sessionize, plugin: sessionize, input: dedup, options: {gap: 1m, allowed_lateness: 1h}}\n"
        "  - {name: click-insights, plugin: kafka, input: url_count, options: {brokers: '%s', topic: "
        "click-insights}}\n"
        "  - {name: session-stats, plugin: kafka, input: sessionize, options: {brokers: '%s', topic: "
        "session-stats}}\n"
        "  - {name: click-rejects, plugin: kafka, input: [clicks.rejected, dedup.rejected, "
        "url_count.rejected],\n"
        "     options: {brokers: '%s', topic: click-rejects}}\n",
        bootstrap, bootstrap, bootstrap, bootstrap);
}

/* Split the input file into fifths, in order. */
static void split_fifths(fixture *f)
{
    size_t len;
    char *text = ts_read_file(f->input, &len);
    ck_assert_ptr_nonnull(text);
    char *p = text;
    for (int k = 0; k < 5; k++) {
        size_t lines = 0;
        char *start = p;
        while (p < text + len && lines < EVENTS / 5) {
            char *nl = memchr(p, '\n', (size_t)(text + len - p));
            p = nl ? nl + 1 : text + len;
            lines++;
        }
        f->part[k] = ts_strf("%s/fifth%d.jsonl", ts_tmpdir(), k);
        char *chunk = ts_strf("%.*s", (int)(p - start), start);
        ts_write_file(f->part[k], chunk);
        free(chunk);
    }
    free(text);
}

static void setup(fixture *f)
{
    f->input = tmp("clicks.jsonl");
    f->ref = tmp("ref");
    f->out = tmp("kafka");
    f->broker =
        kt_clickstream_setup(PARTITIONS,
                             "count: 30000, seed: 41, users: 3000, event_interval: 20ms, session_gap: "
                             "1m, think_time: 10s, late: 0",
                             f->input, f->ref);
    split_fifths(f);
    char *yaml = scale_yaml(broker_bootstraps(f->broker));
    f->yaml_path = tmp("clickstream.yaml");
    ts_write_file(f->yaml_path, yaml);
    free(yaml);
}

static void produce(fixture *f, int fifth)
{
    kt_produce_file(broker_bootstraps(f->broker), "click-data", f->part[fifth], PARTITIONS);
}

/* Start instance `name` (its own state folder). */
static pid_t start(fixture *f, const char *name, const char *stop_at_end)
{
    char *cmd = ts_strf("env STATE_DIR='%s/state-%s' STOP_AT_END=%s '%s' run --metrics '%s/%s.metrics' '%s'",
                        ts_tmpdir(), name, stop_at_end, SLUICE_BIN, ts_tmpdir(), name, f->yaml_path);
    char *out = ts_strf("%s/%s.out", ts_tmpdir(), name), *err = ts_strf("%s/%s.err", ts_tmpdir(), name);
    pid_t pid = kt_spawn(cmd, out, err);
    free(cmd);
    free(out);
    free(err);
    return pid;
}

static void expect_exit(pid_t pid, const char *name, int want)
{
    int rc = kt_wait(pid, 180);
    if (rc != want) {
        char *path = ts_strf("%s/%s.err", ts_tmpdir(), name);
        char *err = ts_read_file(path, NULL);
        ck_abort_msg("%s ended with %d, not %d:\n%s", name, rc, want, err ? err : "");
    }
}

static int log_says(const char *name, const char *text)
{
    char *path = ts_strf("%s/%s.err", ts_tmpdir(), name);
    int found = kt_wait_for_text(path, text, 0.1);
    free(path);
    return found;
}

/* Every instance has had an assignment (the group has formed). */
static void wait_assigned(const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char *path = ts_strf("%s/%s.err", ts_tmpdir(), names[i]);
        ck_assert_msg(kt_wait_for_text(path, "assigned ", 60), "%s got no assignment", names[i]);
        free(path);
    }
}

/* The last url_clicks of every (window, URL) and window_summary of every
 * window are the reference's. */
static void check_url_counts(fixture *f)
{
    char *path = ts_strf("%s/click-insights.txt", f->out);
    kt_consume_topic(broker_bootstraps(f->broker), "click-insights", path);
    char *b0, *b1, *r0, *r1;
    size_t n0, n1, m0, m1;
    char **clicks = kt_values_of_kind(path, "url_clicks", &b0, &n0);
    char **summaries = kt_values_of_kind(path, "window_summary", &b1, &n1);
    char *ref_path = ts_strf("%s/url_clicks.jsonl", f->ref);
    char **ref_clicks = kt_lines(ref_path, &r0, &m0);
    free(ref_path);
    ref_path = ts_strf("%s/window_summary.jsonl", f->ref);
    char **ref_summaries = kt_lines(ref_path, &r1, &m1);
    free(ref_path);
    ck_assert_uint_gt(m0, 1000);
    kt_assert_same_finals(clicks, n0, ref_clicks, m0, "url_clicks");
    kt_assert_same_finals(summaries, n1, ref_summaries, m1, "window_summary");
    free(clicks);
    free(summaries);
    free(ref_clicks);
    free(ref_summaries);
    free(b0);
    free(b1);
    free(r0);
    free(r1);
    free(path);
}

static void check_results(fixture *f)
{
    static const char *const topics[] = {"session-stats", "click-rejects"};
    char *mk = ts_strf("mkdir -p '%s'", f->out);
    ck_assert_int_eq(ts_run(mk, NULL, NULL), 0);
    free(mk);
    char *buf[2], *ref_buf[2];
    size_t n[2], nref[2];
    char **got[2], **want[2];
    for (int i = 0; i < 2; i++) {
        char *path = ts_strf("%s/%s.txt", f->out, topics[i]);
        kt_consume_topic(broker_bootstraps(f->broker), topics[i], path);
        got[i] = kt_values_of_kind(path, i == 0 ? "session" : NULL, &buf[i], &n[i]);
        free(path);
        path = ts_strf("%s/%s.jsonl", f->ref, i == 0 ? "sessions" : "rejected");
        want[i] = kt_lines(path, &ref_buf[i], &nref[i]);
        free(path);
    }
    ck_assert_uint_gt(nref[0], 1000);
    kt_assert_same_multiset(got[0], n[0], want[0], nref[0], "sessions", 1);
    /* Dead letters without their origins (Kafka's vs the file's). */
    char origin[512];
    for (size_t i = 0; i < n[1]; i++)
        got[1][i] = kt_without_origin(got[1][i], origin, sizeof origin);
    for (size_t i = 0; i < nref[1]; i++)
        want[1][i] = kt_without_origin(want[1][i], origin, sizeof origin);
    char **g = malloc((n[1] + 1) * sizeof *g), **w = malloc((nref[1] + 1) * sizeof *w);
    memcpy(g, got[1], n[1] * sizeof *g);
    memcpy(w, want[1], nref[1] * sizeof *w);
    kt_assert_same_multiset(g, n[1], w, nref[1], "dead letters", 1);
    for (size_t i = 0; i < n[1]; i++)
        free(got[1][i]);
    for (size_t i = 0; i < nref[1]; i++)
        free(want[1][i]);
    free(g);
    free(w);
    for (int i = 0; i < 2; i++) {
        free(got[i]);
        free(want[i]);
        free(buf[i]);
        free(ref_buf[i]);
    }
}

static void teardown(fixture *f)
{
    for (int k = 0; k < 5; k++)
        free(f->part[k]);
    free(f->input);
    free(f->ref);
    free(f->out);
    free(f->yaml_path);
    broker_stop(f->broker);
}

/* The choreography with `first` instances in the phases before the
 * restart and `last` after it. */
static void choreography(int first, int last)
{
    static const char *const names[] = {"a", "b", "c"};
    fixture f;
    setup(&f);
    produce(&f, 0);
    produce(&f, 1);
    pid_t pid[3];
    for (int i = 0; i < first; i++)
        pid[i] = start(&f, names[i], "false");
    wait_assigned(names, (size_t)first);
    kt_sleep_ms(8000);
    kill(pid[1], SIGKILL);
    expect_exit(pid[1], "b", 128 + SIGKILL);
    produce(&f, 2);
    produce(&f, 3);
    pid[1] = start(&f, "b", "false");
    wait_assigned(&names[1], 1);
    kt_sleep_ms(8000); /* the group settles with b back */
    for (int i = 0; i < first; i++)
        kill(pid[i], SIGTERM);
    for (int i = 0; i < first; i++)
        expect_exit(pid[i], names[i], 0);
    produce(&f, 4);
    for (int i = 0; i < last; i++)
        pid[i] = start(&f, names[i], "true");
    for (int i = 0; i < last; i++)
        expect_exit(pid[i], names[i], 0);
    ck_assert_msg(log_says("a", "task per input partition: 12"), "no partition tasks");
    ck_assert_msg(log_says("a", "url_count runs in a task per partition of its exchange"), "no exchange");
    check_results(&f);
    check_url_counts(&f);
    teardown(&f);
}

START_TEST(three_instances_killed_restarted_and_stopped_equal_one) { choreography(3, 3); }
END_TEST

START_TEST(three_instances_then_two_equal_one) { choreography(3, 2); }
END_TEST

/* Commit offsets for every partition of the group with a state pointer
 * naming chunks the changelog does not have. */
static void commit_bad_pointer(const char *bootstrap)
{
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, err, sizeof err);
    rd_kafka_conf_set(conf, "group.id", GROUP, err, sizeof err);
    rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    ck_assert_ptr_nonnull(rk);
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(PARTITIONS);
    for (int p = 0; p < PARTITIONS; p++) {
        rd_kafka_topic_partition_t *tp = rd_kafka_topic_partition_list_add(list, "click-data", p);
        tp->offset = 1;
        const char *ptr = "sluice-state/1 topic=" GROUP ".clicks.state partition=0 offset=999999 chunks=1 "
                          "size=10 hash=0000000000000000 checkpoint=7";
        tp->metadata = strdup(ptr);
        tp->metadata_size = strlen(ptr);
    }
    ck_assert_int_eq(rd_kafka_commit(rk, list, 0), 0);
    rd_kafka_topic_partition_list_destroy(list);
    rd_kafka_destroy(rk);
}

START_TEST(an_unreadable_state_pointer_is_data_loss_not_a_fresh_start)
{
    fixture f;
    setup(&f);
    produce(&f, 0);
    commit_bad_pointer(broker_bootstraps(f.broker));
    pid_t pid = start(&f, "a", "true");
    int rc = kt_wait(pid, 120);
    char *path = ts_strf("%s/a.err", ts_tmpdir());
    char *err = ts_read_file(path, NULL);
    ck_assert_msg(rc != 0, "the run went on from an unreadable state:\n%s", err);
    ck_assert_msg(strstr(err, "data loss: the state of input partition") != NULL, "no data loss error:\n%s",
                  err);
    ck_assert_msg(strstr(err, "ERROR") != NULL || strstr(err, "error") != NULL, "not at error level:\n%s",
                  err);
    free(err);
    free(path);
    teardown(&f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("kafka_scale");
    TCase *tc = tcase_create("scale");
    tcase_set_timeout(tc, 400);
    tcase_add_test(tc, an_unreadable_state_pointer_is_data_loss_not_a_fresh_start);
    tcase_add_test(tc, three_instances_killed_restarted_and_stopped_equal_one);
    tcase_add_test(tc, three_instances_then_two_equal_one);
    suite_add_tcase(s, tc);
    return ts_run_suite(s);
}
