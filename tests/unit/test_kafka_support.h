/* Shared by the test_kafka_*.c suites: a broker of the test's own (the
 * engine's embedded one, in the test process, on loopback TCP), producing a
 * JSON-lines file to a topic, reading a topic back with kcat, running
 * `sluice` in the background, and reading --metrics files.
 *
 * Header-only (static functions) so each suite stays one file for ctest. */
#ifndef SLUICE_TEST_KAFKA_SUPPORT_H
#define SLUICE_TEST_KAFKA_SUPPORT_H

#include <check.h>
#include <errno.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "broker.h"
#include "test_support.h"

static inline double kt_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static inline void kt_sleep_ms(int ms)
{
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) != 0 && errno == EINTR) {
    }
}

/* A broker of the test's own, with `topics` (comma-separated) created with
 * `partitions` partitions. */
static inline embedded_broker *kt_broker(int partitions, const char *topics)
{
    char err[256];
    embedded_broker *b = broker_start(1, partitions, topics, err, sizeof err);
    ck_assert_msg(b != NULL, "broker: %s", err);
    return b;
}

/* The user_id of a click line (string or integer), for keys and partitions;
 * empty when there is none. */
static inline size_t kt_user_of(const char *line, size_t len, char *out, size_t cap)
{
    const char *k = memmem(line, len, "\"user_id\":", 10);
    if (k == NULL)
        return 0;
    const char *p = k + 10, *end = line + len;
    size_t n = 0;
    if (p < end && *p == '"') {
        for (p++; p < end && *p != '"' && n + 1 < cap; p++)
            out[n++] = *p;
    } else {
        for (; p < end && *p != ',' && *p != '}' && n + 1 < cap; p++)
            out[n++] = *p;
    }
    out[n] = '\0';
    return n;
}

static inline uint32_t kt_hash(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

static inline void kt_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    if (m->err)
        (*(int *)opaque)++;
}

/* The integer `ts` of a click line, or -1. */
static inline int64_t kt_ts_of(const char *line, size_t len)
{
    const char *k = memmem(line, len, "\"ts\":", 5);
    if (k == NULL || k + 5 >= line + len || k[5] < '0' || k[5] > '9')
        return -1;
    return strtoll(k + 5, NULL, 10);
}

/* Produce every line of `path` to `topic`, in file order, keyed by user_id,
 * to partition hash(user) % partitions. The message timestamp is the event's
 * ts (the previous one for events without a usable ts), as if each event
 * had been sent when it happened: a bulk load would otherwise squeeze
 * minutes of events into a few milliseconds of timestamps. Returns the
 * number of lines. */
static inline size_t kt_produce_file(const char *bootstrap, const char *topic, const char *path, int partitions)
{
    char err[256];
    int failures = 0;
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, err, sizeof err);
    rd_kafka_conf_set(conf, "linger.ms", "5", err, sizeof err);
    rd_kafka_conf_set(conf, "queue.buffering.max.messages", "1000000", err, sizeof err);
    rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);
    rd_kafka_conf_set_dr_msg_cb(conf, kt_dr_cb);
    rd_kafka_conf_set_opaque(conf, &failures);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    ck_assert_msg(rk != NULL, "producer: %s", err);
    size_t len = 0, lines = 0;
    int64_t last_ts = 0; /* 0: the time of sending */
    char *text = ts_read_file(path, &len);
    ck_assert_msg(text != NULL, "cannot read %s", path);
    for (char *p = text, *nl; p < text + len; p = nl + 1) {
        nl = memchr(p, '\n', (size_t)(text + len - p));
        if (nl == NULL)
            nl = text + len;
        char user[4100];
        size_t ulen = kt_user_of(p, (size_t)(nl - p), user, sizeof user);
        int32_t partition = (int32_t)(kt_hash(user, ulen) % (uint32_t)partitions);
        int64_t ts = kt_ts_of(p, (size_t)(nl - p));
        if (ts > 0 && ts < 4102444800000LL) /* before 2100: not a deliberately broken one */
            last_ts = ts;
        while (rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
                                 RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_VALUE(p, (size_t)(nl - p)),
                                 RD_KAFKA_V_KEY(ulen ? user : NULL, ulen), RD_KAFKA_V_TIMESTAMP(last_ts),
                                 RD_KAFKA_V_END) ==
               RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(rk, 10);
        lines++;
    }
    ck_assert_int_eq(rd_kafka_flush(rk, 60000), 0);
    ck_assert_int_eq(failures, 0);
    rd_kafka_destroy(rk);
    free(text);
    return lines;
}

/* Every message of `topic` as "key<TAB>value" lines in `out_path`. */
static inline size_t kt_consume_topic(const char *bootstrap, const char *topic, const char *out_path)
{
    char *cmd = ts_strf("kcat -C -b '%s' -t '%s' -e -o beginning -q -f '%%k\\t%%s\\n' > '%s'", bootstrap, topic,
                        out_path);
    char *err = NULL;
    int rc = ts_run(cmd, NULL, &err);
    ck_assert_msg(rc == 0, "%s failed (%d): %s", cmd, rc, err ? err : "");
    free(err);
    free(cmd);
    return ts_count_lines(out_path);
}

/* Run a shell command in the background (exec'd: the pid is the command's),
 * its output going to files. */
static inline pid_t kt_spawn(const char *cmd, const char *out_path, const char *err_path)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        char *full = ts_strf("exec %s >'%s' 2>'%s' </dev/null", cmd, out_path, err_path);
        execl("/bin/sh", "sh", "-c", full, (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* Exit code of a background command (128+signal when killed); -1 when it
 * is still running after timeout_s (it is then killed). */
static inline int kt_wait(pid_t pid, double timeout_s)
{
    double deadline = kt_now() + timeout_s;
    int status;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        if (kt_now() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return -1;
        }
        kt_sleep_ms(50);
    }
}

/* Wait until `path` contains `needle` (a log line), up to timeout_s. */
static inline int kt_wait_for_text(const char *path, const char *needle, double timeout_s)
{
    double deadline = kt_now() + timeout_s;
    while (kt_now() < deadline) {
        char *text = ts_read_file(path, NULL);
        int found = text && strstr(text, needle) != NULL;
        free(text);
        if (found)
            return 1;
        kt_sleep_ms(50);
    }
    return 0;
}

/* A counter from a --metrics file (the last line whose pipeline is
 * `pipeline`); -1 when absent. */
static inline long long kt_metric(const char *metrics_path, const char *pipeline, const char *step,
                                  const char *counter)
{
    char *text = ts_read_file(metrics_path, NULL);
    long long value = -1;
    for (char *line = text ? strtok(text, "\n") : NULL; line; line = strtok(NULL, "\n")) {
        json_t *root = json_loads(line, 0, NULL);
        if (root == NULL)
            continue;
        const char *name = json_string_value(json_object_get(root, "pipeline"));
        json_t *c = json_object_get(json_object_get(json_object_get(root, "steps"), step), counter);
        if (name && strcmp(name, pipeline) == 0 && json_is_integer(c))
            value = json_integer_value(c);
        json_decref(root);
    }
    free(text);
    return value;
}

/* Lines of a file as a NULL-terminated array of strings (owned by *buf). */
static inline char **kt_lines(const char *path, char **buf, size_t *count)
{
    *buf = ts_read_file(path, NULL);
    ck_assert_msg(*buf != NULL, "cannot read %s", path);
    size_t n = 0, cap = 1024;
    char **v = malloc(cap * sizeof *v);
    for (char *p = *buf, *nl; *p; p = nl + 1) {
        nl = strchr(p, '\n');
        if (nl == NULL)
            nl = p + strlen(p);
        if (n + 1 >= cap)
            v = realloc(v, (cap *= 2) * sizeof *v);
        int last = *nl == '\0';
        *nl = '\0';
        v[n++] = p;
        if (last)
            break;
    }
    v[n] = NULL;
    *count = n;
    return v;
}

#define KT_START_MS 1795737600000LL /* 2026-11-27T00:00:00Z: in the past, never future_ts */

/* clickgen with `options` (YAML flow-map entries) into `out`, raw lines. */
static inline void kt_generate(const char *options, const char *out)
{
    char *pipeline = ts_strf("%s/gen-%d.yaml", ts_tmpdir(), (int)getpid());
    char *yaml = ts_strf("steps:\n"
                         "  - name: clicks\n"
                         "    plugin: clickgen\n"
                         "    options: {start: %lld, %s}\n"
                         "    event: raw\n"
                         "  - name: out\n"
                         "    plugin: file\n"
                         "    input: clicks\n"
                         "    options: {path: '%s', truncate: true}\n",
                         KT_START_MS, options, out);
    ts_write_file(pipeline, yaml);
    char *cmd = ts_strf("'%s' run '%s'", SLUICE_BIN, pipeline);
    char *err = NULL;
    int rc = ts_run(cmd, NULL, &err);
    ck_assert_msg(rc == 0, "clickgen failed (%d): %s", rc, err ? err : "");
    free(err);
    free(cmd);
    free(yaml);
    free(pipeline);
}

/* Write `yaml` to `name` in the temporary folder and run it with `env`
 * (shell assignments, may be ""), metrics to <name>.metrics. Returns the
 * exit code; *err gets stderr when err is not NULL. */
static inline int kt_run_yaml(const char *name, const char *yaml, const char *env, char **err)
{
    char *path = ts_strf("%s/%s", ts_tmpdir(), name);
    ts_write_file(path, yaml);
    char *cmd = ts_strf("cd '%s' && %s '%s' run --metrics '%s.metrics' '%s'", ts_tmpdir(), env, SLUICE_BIN, path,
                        path);
    int rc = ts_run(cmd, NULL, err);
    free(cmd);
    free(path);
    return rc;
}

static inline int kt_cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

#endif
