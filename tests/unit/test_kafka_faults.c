/* Broker faults in the middle of a run, injected into the test's own broker
 * (librdkafka's mock cluster) while `sluice run` reads from it and writes
 * back to it: the broker going down for several seconds, and Produce and
 * Fetch requests failing. The run must still end normally with every result
 * present: final window results equal to the reference (replay.yaml on the
 * same events), every session and dead letter there (a retried send may
 * repeat one: at-least-once), and every input message read.
 *
 * The source fetches in small pieces over a link with RTT_MS of latency so
 * that the run lasts long enough for the faults to land mid-stream. */
#include "test_kafka_support.h"

#define EVENTS 30000
#define PARTITIONS 6
#define RTT_MS 20

static char *tmp(const char *name) { return ts_strf("%s/%s", ts_tmpdir(), name); }

typedef struct fixture {
    embedded_broker *broker;
    rd_kafka_mock_cluster_t *mock;
    char *input, *ref, *out, *err_path, *metrics;
    pid_t pid;
} fixture;

/* Events on click-data (6 partitions), the reference computed, and the
 * pipeline started in the background; returns once it has its partitions. */
static void start(fixture *f, const char *name)
{
    f->input = tmp("clicks.jsonl");
    f->ref = tmp("ref");
    f->out = tmp("kafka");
    f->broker =
        kt_clickstream_setup(PARTITIONS,
                             "count: 30000, seed: 21, users: 2000, event_interval: 20ms, session_gap: "
                             "1m, think_time: 10s, late: 0",
                             f->input, f->ref);
    f->mock = broker_mock_cluster(f->broker);
    ck_assert_uint_eq(kt_produce_file(broker_bootstraps(f->broker), "click-data", f->input, PARTITIONS),
                      EVENTS);

    rd_kafka_mock_broker_set_rtt(f->mock, 1, RTT_MS);
    const char *bs = broker_bootstraps(f->broker);
    char *yaml = kt_clickstream_yaml(bs, "faults", "checkpoint_interval: 1s",
                                     ", session_timeout: 30s, config: {max.partition.fetch.bytes: '4096', "
                                     "reconnect.backoff.max.ms: '1000'}",
                                     /* see failing_produce_and_fetch_requests... */
                                     ", config: {reconnect.backoff.max.ms: '1000', "
                                     "max.in.flight.requests.per.connection: '1'}");
    char *path = ts_strf("%s/%s.yaml", ts_tmpdir(), name);
    ts_write_file(path, yaml);
    f->err_path = ts_strf("%s/%s.err", ts_tmpdir(), name);
    f->metrics = ts_strf("%s/%s.metrics", ts_tmpdir(), name);
    char *cmd = ts_strf("'%s' run --metrics '%s' '%s'", SLUICE_BIN, f->metrics, path);
    char *out_path = ts_strf("%s/%s.out", ts_tmpdir(), name);
    f->pid = kt_spawn(cmd, out_path, f->err_path);
    ck_assert_msg(kt_wait_for_text(f->err_path, "assigned 6 partition(s)", 30), "no assignment");
    free(out_path);
    free(cmd);
    free(path);
    free(yaml);
}

/* Wait for the pipeline to end on its own, then check everything arrived. */
static void finish(fixture *f)
{
    int rc = kt_wait(f->pid, 150);
    char *err = ts_read_file(f->err_path, NULL);
    ck_assert_msg(rc == 0, "sluice ended with %d:\n%s", rc, err);
    ck_assert_int_eq(kt_metric(f->metrics, "clickstream", "clicks", "read"), EVENTS);
    ck_assert_int_le(kt_metric(f->metrics, "clickstream", "clicks", "data_loss.events"), 0);
    ck_assert_int_le(kt_metric(f->metrics, "clickstream", "url_count", "rejected.too_late"), 0);
    rd_kafka_mock_broker_set_rtt(f->mock, 1, 0);
    static const char *const topics[] = {"click-insights", "session-stats", "click-rejects"};
    char *mk = ts_strf("mkdir -p '%s'", f->out);
    ck_assert_int_eq(ts_run(mk, NULL, NULL), 0);
    for (int i = 0; i < 3; i++) {
        char *path = ts_strf("%s/%s.txt", f->out, topics[i]);
        kt_consume_topic(broker_bootstraps(f->broker), topics[i], path);
        free(path);
    }
    /* Every message the sinks had acknowledged is in its topic (a resent
     * one possibly twice). */
    static const char *const sinks[] = {"click-insights", "session-stats", "click-rejects"};
    for (int i = 0; i < 3; i++)
        ck_assert_int_ge(kt_topic_size(broker_bootstraps(f->broker), sinks[i]),
                         kt_metric(f->metrics, "clickstream", sinks[i], "delivered"));
    kt_assert_final_results(f->out, f->ref, 1);
    free(mk);
    free(err);
    free(f->input);
    free(f->ref);
    free(f->out);
    free(f->err_path);
    free(f->metrics);
    broker_stop(f->broker);
}

START_TEST(a_broker_down_for_five_seconds_mid_run_loses_nothing)
{
    fixture f;
    start(&f, "down");
    kt_sleep_ms(1500);
    long long before = kt_metric(f.metrics, "clickstream", "clicks", "read");
    ck_assert_int_eq(rd_kafka_mock_broker_set_down(f.mock, 1), 0);
    kt_sleep_ms(5000);
    ck_assert_int_eq(rd_kafka_mock_broker_set_up(f.mock, 1), 0);
    /* The outage really was in the middle: the run had not ended before it. */
    ck_assert_int_eq(before, -1);
    ck_assert_int_eq(waitpid(f.pid, NULL, WNOHANG), 0);
    finish(&f);
    char *path = tmp("down.err"), *err = ts_read_file(path, NULL);
    ck_assert_msg(strstr(err, "brokers are down") != NULL, "the outage went unnoticed:\n%s", err);
    free(err);
    free(path);
}
END_TEST

START_TEST(failing_produce_and_fetch_requests_are_retried_without_loss)
{
    fixture f;
    start(&f, "errors");
    kt_sleep_ms(1000);
    /* Retriable errors, as a broker moving leadership or overloaded sends. */
    rd_kafka_mock_push_request_errors(
        f.mock, 1 /* Fetch */, 8, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
        RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
        RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
        RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE,
        RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION);
    /* The sinks send one request at a time (see start()): after a failed
     * Produce, librdkafka rightly takes the batch as written once a later
     * batch is accepted (a real broker would refuse the later one
     * otherwise), but the mock broker, which does not check sequence
     * numbers, accepts it without having written the first, which loses that
     * batch there and only there (1 run in 3 with 5 requests in flight). */
    rd_kafka_mock_push_request_errors(
        f.mock, 0 /* Produce */, 8, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
        RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS, RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE,
        RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE,
        RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
        RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS);
    ck_assert_int_eq(waitpid(f.pid, NULL, WNOHANG), 0);
    finish(&f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("kafka_faults");
    TCase *tc = tcase_create("faults");
    tcase_set_timeout(tc, 200);
    tcase_add_test(tc, a_broker_down_for_five_seconds_mid_run_loses_nothing);
    tcase_add_test(tc, failing_produce_and_fetch_requests_are_retried_without_loss);
    suite_add_tcase(s, tc);
    return ts_run_suite(s);
}
