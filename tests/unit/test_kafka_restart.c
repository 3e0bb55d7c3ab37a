/* Stopping the clickstream pipeline in the middle of click-data and starting
 * it again, with the engine's state checkpoints (state_dir) and without:
 *  - SIGTERM with state_dir: the last checkpoint is taken on the way out, so
 *    the second run reads exactly what the first did not (the two runs'
 *    reads add up to the input, nothing read twice) and the results equal
 *    the reference's, with no record repeated.
 *  - SIGKILL with state_dir: the second run resumes from the last checkpoint
 *    (it reads less than everything); what came after it is read again, so
 *    records may repeat, but none is missing.
 *  - SIGTERM without state_dir: with operator state in memory only, offsets
 *    are not committed before the end, so the second run reads everything
 *    again: nothing lost.
 *  - SIGKILL with partition tasks and url_count in two phases (key:
 *    user_id, two_phase: true): the kill lands while partial counts are on
 *    their way through the exchange topic. The restarted tasks send again
 *    what came after their checkpoint (a partial count replaces the one
 *    before it, so a repeat changes nothing) and the total's tasks read the
 *    exchange again from their committed offsets: the final counts are
 *    exact.
 * The reference is replay.yaml on the same events (allowed lateness 1h, so
 * how partitions interleave does not change the final results). */
#include "test_kafka_support.h"

#define EVENTS 30000
#define PARTITIONS 6

static char *tmp(const char *name) { return ts_strf("%s/%s", ts_tmpdir(), name); }

typedef struct fixture {
    embedded_broker *broker;
    rd_kafka_mock_cluster_t *mock;
    char *input, *ref, *out, *yaml_path;
} fixture;

/* `keyed`: the source declares key: user_id (a task per input partition,
 * state in the changelog topic). */
static void setup(fixture *f, const char *top, int keyed)
{
    f->input = tmp("clicks.jsonl");
    f->ref = tmp("ref");
    f->out = tmp("kafka");
    f->broker =
        kt_clickstream_setup(PARTITIONS,
                             "count: 30000, seed: 31, users: 2000, event_interval: 20ms, session_gap: "
                             "1m, think_time: 10s, late: 0",
                             f->input, f->ref);
    f->mock = broker_mock_cluster(f->broker);
    ck_assert_uint_eq(kt_produce_file(broker_bootstraps(f->broker), "click-data", f->input, PARTITIONS),
                      EVENTS);
    /* Slow reading (small fetches over 20 ms of latency) so the run lasts
     * long enough to be stopped in the middle. */
    rd_kafka_mock_broker_set_rtt(f->mock, 1, 20);
    char *yaml =
        kt_clickstream_yaml(broker_bootstraps(f->broker), "restart", top,
                            ", session_timeout: 4s, config: {max.partition.fetch.bytes: '4096'}", "");
    if (keyed) {
        const char *at = "    plugin: kafka\n";
        char *source = strstr(yaml, at);
        ck_assert_ptr_nonnull(source);
        source += strlen(at);
        char *with_key = ts_strf("%.*s    key: user_id\n%s", (int)(source - yaml), yaml, source);
        free(yaml);
        yaml = with_key;
    }
    f->yaml_path = tmp("clickstream.yaml");
    ts_write_file(f->yaml_path, yaml);
    free(yaml);
}

/* Run the pipeline; with a signal, send it `after_ms` after the partitions
 * are assigned (checking the run is still going). Returns the exit code;
 * *read gets the source's read counter (-1 when killed). */
static int run(fixture *f, const char *name, int sig, int after_ms, long long *read)
{
    char *metrics = ts_strf("%s/%s.metrics", ts_tmpdir(), name);
    char *err_path = ts_strf("%s/%s.err", ts_tmpdir(), name),
         *out_path = ts_strf("%s/%s.out", ts_tmpdir(), name);
    char *cmd = ts_strf("'%s' run --metrics '%s' '%s'", SLUICE_BIN, metrics, f->yaml_path);
    pid_t pid = kt_spawn(cmd, out_path, err_path);
    if (sig) {
        ck_assert_msg(kt_wait_for_text(err_path, " partition(s): click-data/", 40), "no assignment");
        kt_sleep_ms(after_ms);
        ck_assert_msg(waitpid(pid, NULL, WNOHANG) == 0, "the run ended before the signal");
        kill(pid, sig);
    }
    int rc = kt_wait(pid, 120);
    char *err = ts_read_file(err_path, NULL);
    if (rc != (sig == SIGKILL ? 128 + SIGKILL : 0))
        ck_abort_msg("%s ended with %d:\n%s", name, rc, err);
    *read = sig == SIGKILL ? -1 : kt_metric(metrics, "clickstream", "clicks", "read");
    free(err);
    free(cmd);
    free(metrics);
    free(err_path);
    free(out_path);
    return rc;
}

static void check_results(fixture *f, int at_least_once)
{
    rd_kafka_mock_broker_set_rtt(f->mock, 1, 0);
    static const char *const topics[] = {"click-insights", "session-stats", "click-rejects"};
    char *mk = ts_strf("mkdir -p '%s'", f->out);
    ck_assert_int_eq(ts_run(mk, NULL, NULL), 0);
    for (int i = 0; i < 3; i++) {
        char *path = ts_strf("%s/%s.txt", f->out, topics[i]);
        kt_consume_topic(broker_bootstraps(f->broker), topics[i], path);
        free(path);
    }
    kt_assert_final_results(f->out, f->ref, at_least_once);
    free(mk);
}

static void teardown(fixture *f)
{
    free(f->input);
    free(f->ref);
    free(f->out);
    free(f->yaml_path);
    broker_stop(f->broker);
}

static int log_says(const char *name, const char *text)
{
    char *path = ts_strf("%s/%s.err", ts_tmpdir(), name);
    char *err = ts_read_file(path, NULL);
    int found = err && strstr(err, text) != NULL;
    free(err);
    free(path);
    return found;
}

START_TEST(sigterm_then_restart_reads_every_message_exactly_once_with_state)
{
    fixture f;
    char *top = ts_strf("state_dir: '%s/state'\ncheckpoint_interval: 500ms", ts_tmpdir());
    setup(&f, top, 0);
    long long first, second;
    run(&f, "first", SIGTERM, 2500, &first);
    ck_assert_int_gt(first, 0);
    ck_assert_int_lt(first, EVENTS);
    run(&f, "second", 0, 0, &second);
    ck_assert_msg(log_says("second", "restored checkpoint"), "the second run did not restore the state");
    ck_assert_int_eq(first + second, EVENTS);
    check_results(&f, 0);
    teardown(&f);
    free(top);
}
END_TEST

START_TEST(sigkill_then_restart_loses_nothing_with_state)
{
    fixture f;
    char *top = ts_strf("state_dir: '%s/state'\ncheckpoint_interval: 500ms", ts_tmpdir());
    setup(&f, top, 0);
    long long first, second;
    run(&f, "first", SIGKILL, 3000, &first);
    run(&f, "second", 0, 0, &second);
    ck_assert_msg(log_says("second", "restored checkpoint"), "the second run did not restore the state");
    ck_assert_int_gt(second, 0);
    ck_assert_int_lt(second, EVENTS); /* resumed, not started over */
    check_results(&f, 1);
    teardown(&f);
    free(top);
}
END_TEST

START_TEST(sigterm_then_restart_without_state_reads_again_from_the_last_commit)
{
    fixture f;
    setup(&f, "checkpoint_interval: 500ms", 0);
    long long first, second;
    run(&f, "first", SIGTERM, 2500, &first);
    ck_assert_int_gt(first, 0);
    ck_assert_int_lt(first, EVENTS);
    run(&f, "second", 0, 0, &second);
    ck_assert_int_eq(second, EVENTS);
    check_results(&f, 1);
    teardown(&f);
}
END_TEST

START_TEST(sigkill_with_partition_tasks_and_the_exchange_loses_nothing)
{
    fixture f;
    char *top = ts_strf("state_dir: '%s/state'\ncheckpoint_interval: 500ms\ntwo_phase: true", ts_tmpdir());
    setup(&f, top, 1);
    const char *exchange = "restart.clickstream.url_count.repartition";
    long long first, second;
    run(&f, "first", SIGKILL, 3000, &first);
    ck_assert_msg(log_says("first", "url_count runs in a task per partition of its exchange"), "no exchange");
    /* The killed run had sent partial counts that the restart must deal with. */
    ck_assert_int_gt(kt_topic_size(broker_bootstraps(f.broker), exchange), 0);
    run(&f, "second", 0, 0, &second);
    ck_assert_int_gt(second, 0);
    ck_assert_int_lt(second, EVENTS); /* resumed from the changelog, not started over */
    /* Each checkpoint wrote a state per input partition: counted. */
    char *metrics = ts_strf("%s/second.metrics", ts_tmpdir());
    ck_assert_int_ge(kt_metric(metrics, "clickstream", "clicks", "changelog.states"), PARTITIONS);
    ck_assert_int_gt(kt_metric(metrics, "clickstream", "clicks", "changelog.bytes"), 0);
    free(metrics);
    check_results(&f, 1);
    teardown(&f);
    free(top);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("kafka_restart");
    TCase *tc = tcase_create("restart");
    tcase_set_timeout(tc, 200);
    tcase_add_test(tc, sigterm_then_restart_reads_every_message_exactly_once_with_state);
    tcase_add_test(tc, sigkill_then_restart_loses_nothing_with_state);
    tcase_add_test(tc, sigterm_then_restart_without_state_reads_again_from_the_last_commit);
    tcase_add_test(tc, sigkill_with_partition_tasks_and_the_exchange_loses_nothing);
    suite_add_tcase(s, tc);
    return ts_run_suite(s);
}
