/* The floor under any Kafka consumer built on librdkafka: a group consumer
 * that reads a topic in large batches from the consumer queue and does
 * nothing with the messages. bench/run compares Sluice's kafka source
 * against it.
 *
 *     raw_consumer BROKERS TOPIC GROUP [-X key=value]...
 *
 * Subscribes to TOPIC as member of GROUP, reads from the earliest offset
 * until every assigned partition has reached its end, then prints one line:
 *
 *     messages=N bytes=B partitions=P wall_s=W consume_s=C
 *
 * wall_s runs from before rd_kafka_new to the last end of partition (what a
 * process costs, group join included); consume_s from the first message to
 * the last end of partition (the steady read rate). The fetch settings are
 * those of Sluice's kafka source; -X overrides any property. */
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BATCH 100000
#define MAX_PARTITIONS 65536
#define STALL_LIMIT_S 60.0 /* give up when nothing arrives for this long */

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int set(rd_kafka_conf_t *conf, const char *name, const char *value)
{
    char err[256];
    if (rd_kafka_conf_set(conf, name, value, err, sizeof err) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "raw_consumer: %s=%s: %s\n", name, value, err);
        return -1;
    }
    return 0;
}

/* Eager (range) rebalancing: take what the group hands over, from the
 * earliest offset since the group has no committed ones. */
static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts,
                         void *opaque)
{
    (void)opaque;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS)
        rd_kafka_assign(rk, parts);
    else
        rd_kafka_assign(rk, NULL);
}

/* Whether every partition in the current assignment has reported its end. */
static int all_at_end(rd_kafka_t *rk, const unsigned char *at_end)
{
    rd_kafka_topic_partition_list_t *parts = NULL;
    if (rd_kafka_assignment(rk, &parts) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return 0;
    int done = parts->cnt > 0;
    for (int i = 0; i < parts->cnt && done; i++) {
        int32_t p = parts->elems[i].partition;
        done = p >= 0 && p < MAX_PARTITIONS && at_end[p];
    }
    rd_kafka_topic_partition_list_destroy(parts);
    return done;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fputs("usage: raw_consumer BROKERS TOPIC GROUP [-X key=value]...\n", stderr);
        return 2;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    double t_start = now_s();
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    const char *settings[][2] = {
        {"bootstrap.servers", argv[1]},          {"group.id", argv[3]},
        {"auto.offset.reset", "earliest"},       {"enable.auto.commit", "false"},
        {"enable.partition.eof", "true"},        {"partition.assignment.strategy", "range"},
        {"session.timeout.ms", "10000"},         {"queued.min.messages", "200000"},
        {"queued.max.messages.kbytes", "32768"}, {"fetch.max.bytes", "16777216"},
        {"max.partition.fetch.bytes", "262144"}, {"fetch.wait.max.ms", "100"},
    };
    for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++)
        if (set(conf, settings[i][0], settings[i][1]) != 0)
            return 2;
    for (int i = 4; i < argc; i++) {
        char *eq = i + 1 < argc && strcmp(argv[i], "-X") == 0 ? strchr(argv[i + 1], '=') : NULL;
        if (eq == NULL) {
            fprintf(stderr, "raw_consumer: expected -X key=value, got '%s'\n", argv[i]);
            return 2;
        }
        *eq = '\0';
        if (set(conf, argv[i + 1], eq + 1) != 0)
            return 2;
        i++;
    }
    rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
    char err[256];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (rk == NULL) {
        fprintf(stderr, "raw_consumer: %s\n", err);
        return 1;
    }
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, argv[2], RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(rk, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "raw_consumer: subscribe: %s\n", rd_kafka_err2str(e));
        rd_kafka_destroy(rk);
        return 1;
    }

    rd_kafka_queue_t *queue = rd_kafka_queue_get_consumer(rk);
    rd_kafka_message_t **batch = malloc(BATCH * sizeof *batch);
    unsigned char *at_end = calloc(MAX_PARTITIONS, 1);
    unsigned long long messages = 0, bytes = 0;
    int partitions = 0, done = 0, failed = 0;
    double t_first = 0, t_last = now_s(), t_end = 0;
    while (!done && !stop && !failed) {
        ssize_t n = rd_kafka_consume_batch_queue(queue, 1000, batch, BATCH);
        if (n < 0) {
            fprintf(stderr, "raw_consumer: %s\n", rd_kafka_err2str(rd_kafka_last_error()));
            failed = 1;
            break;
        }
        int saw_end = 0;
        for (ssize_t i = 0; i < n; i++) {
            rd_kafka_message_t *m = batch[i];
            if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
                if (messages == 0)
                    t_first = now_s();
                messages++;
                bytes += m->len;
            } else if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                if (m->partition >= 0 && m->partition < MAX_PARTITIONS && !at_end[m->partition]) {
                    at_end[m->partition] = 1;
                    partitions++;
                }
                saw_end = 1;
            } else {
                fprintf(stderr, "raw_consumer: %s\n", rd_kafka_message_errstr(m));
            }
            rd_kafka_message_destroy(m);
        }
        double t = now_s();
        if (n > 0)
            t_last = t;
        else if (t - t_last > STALL_LIMIT_S) {
            fprintf(stderr, "raw_consumer: nothing for %.0f s, giving up\n", STALL_LIMIT_S);
            failed = 1;
        }
        if (saw_end && all_at_end(rk, at_end)) {
            t_end = t;
            done = 1;
        }
    }
    printf("messages=%llu bytes=%llu partitions=%d wall_s=%.3f consume_s=%.3f\n", messages, bytes, partitions,
           (done ? t_end : now_s()) - t_start, messages ? (done ? t_end : now_s()) - t_first : 0.0);
    fflush(stdout);
    rd_kafka_queue_destroy(queue);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    free(batch);
    free(at_end);
    return done ? 0 : 1;
}
