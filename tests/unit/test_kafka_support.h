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
static inline size_t kt_produce_file(const char *bootstrap, const char *topic, const char *path,
                                     int partitions)
{
    char err[256];
    int failures = 0;
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, err, sizeof err);
    rd_kafka_conf_set(conf, "linger.ms", "5", err, sizeof err);
    /* Small batches, as a live producer sends: a consumer asking for little
     * at a time then gets little (a fetch returns at least a whole batch). */
    rd_kafka_conf_set(conf, "batch.num.messages", "25", err, sizeof err);
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
                                 RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                 RD_KAFKA_V_VALUE(p, (size_t)(nl - p)),
                                 RD_KAFKA_V_KEY(ulen ? user : NULL, ulen), RD_KAFKA_V_TIMESTAMP(last_ts),
                                 RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(rk, 10);
        lines++;
    }
    ck_assert_int_eq(rd_kafka_flush(rk, 60000), 0);
    ck_assert_int_eq(failures, 0);
    rd_kafka_destroy(rk);
    free(text);
    return lines;
}

/* How many messages `topic` holds: the sum over its partitions of high
 * watermark minus log start. */
static inline long long kt_topic_size(const char *bootstrap, const char *topic)
{
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, err, sizeof err);
    rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    ck_assert_msg(rk != NULL, "%s", err);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    ck_assert_int_eq(rd_kafka_metadata(rk, 0, rkt, &md, 10000), 0);
    long long total = 0;
    for (int i = 0; i < md->topics[0].partition_cnt; i++) {
        int64_t low = -1, high = -1;
        ck_assert_int_eq(
            rd_kafka_query_watermark_offsets(rk, topic, md->topics[0].partitions[i].id, &low, &high, 10000),
            0);
        total += high - low;
    }
    rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    return total;
}

/* Every message of `topic` as "key<TAB>value" lines in `out_path`. */
static inline size_t kt_consume_topic(const char *bootstrap, const char *topic, const char *out_path)
{
    char *cmd = ts_strf("kcat -C -b '%s' -t '%s' -e -o beginning -q -f '%%k\\t%%s\\n' > '%s'", bootstrap,
                        topic, out_path);
    char *err = NULL;
    int rc = ts_run(cmd, NULL, &err);
    ck_assert_msg(rc == 0, "%s failed (%d): %s", cmd, rc, err ? err : "");
    free(err);
    free(cmd);
    size_t lines = ts_count_lines(out_path);
    long long held = kt_topic_size(bootstrap, topic);
    ck_assert_msg((long long)lines == held, "kcat read %zu messages of %s, which holds %lld", lines, topic,
                  held);
    return lines;
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
    char *with_start = ts_strf("start: %lld, %s", KT_START_MS, options);
    ts_generate_clicks(with_start, out);
    free(with_start);
}

/* Write `yaml` to `name` in the temporary folder and run it with `env`
 * (shell assignments, may be ""), metrics to <name>.metrics. Returns the
 * exit code; *err (NULL, or what an earlier call left there, which is freed)
 * gets stderr when err is not NULL. */
static inline int kt_run_yaml(const char *name, const char *yaml, const char *env, char **err)
{
    if (err) {
        free(*err);
        *err = NULL;
    }
    char *path = ts_strf("%s/%s", ts_tmpdir(), name);
    ts_write_file(path, yaml);
    char *cmd = ts_strf("cd '%s' && %s '%s' run --metrics '%s.metrics' '%s'", ts_tmpdir(), env, SLUICE_BIN,
                        path, path);
    int rc = ts_run(cmd, NULL, err);
    free(cmd);
    free(path);
    return rc;
}

static inline int kt_cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The reference: replay.yaml over `input` into folder `out`. */
static inline void kt_run_replay(const char *input, const char *out, const char *lateness)
{
    char *cmd =
        ts_strf("INPUT='%s' OUT_DIR='%s' GAP=1m ALLOWED_LATENESS=%s '%s' run '%s/pipelines/replay.yaml'",
                input, out, lateness, SLUICE_BIN, SLUICE_SOURCE_DIR);
    char *err = NULL;
    int rc = ts_run(cmd, NULL, &err);
    ck_assert_msg(rc == 0, "replay failed (%d): %s", rc, err);
    free(err);
    free(cmd);
}

/* What every clickstream test on Kafka starts from: a broker of its own with
 * `partitions` partitions of click-data and the three output topics, the
 * events clickgen makes with `options` (kt_generate) in `input`, and the
 * reference results of replay.yaml over them in folder `ref`. */
static inline embedded_broker *kt_clickstream_setup(int partitions, const char *options, const char *input,
                                                    const char *ref)
{
    embedded_broker *b = kt_broker(partitions, "click-data");
    char err[256];
    ck_assert_int_eq(
        broker_create_topics(b, "click-insights,session-stats,click-rejects", 1, err, sizeof err), 0);
    kt_generate(options, input);
    kt_run_replay(input, ref, "1h");
    return b;
}

/* The values of `kind` (NULL: all) from a key<TAB>value file, in order, each
 * checked to carry the key docs/semantics.md gives its kind. */
static inline char **kt_values_of_kind(const char *path, const char *kind, char **buf, size_t *count)
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
        ck_assert_msg(strcmp(lines[i], want_key) == 0, "key '%s', want '%s' for %s", lines[i], want_key,
                      value);
        if (kind == NULL || (got && strcmp(got, kind) == 0))
            lines[k++] = value;
        json_decref(rec);
    }
    lines[k] = NULL;
    *count = k;
    return lines;
}

/* A dead letter without its origin (the only field that names the transport). */
static inline char *kt_without_origin(const char *line, char *origin, size_t cap)
{
    json_t *dl = json_loads(line, 0, NULL);
    ck_assert_msg(dl != NULL, "not JSON: %s", line);
    snprintf(origin, cap, "%s", json_string_value(json_object_get(dl, "origin")));
    json_object_del(dl, "origin");
    char *text = json_dumps(dl, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(dl);
    return text;
}

/* Last record per key of `kind` ("url_clicks": window_start|url,
 * "window_summary": window_start), as sorted "key<TAB>json" strings. */
static inline char **kt_finals(char **values, size_t n, const char *kind, size_t *count)
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

static inline void kt_assert_same_finals(char **got, size_t ngot, char **want, size_t nwant, const char *kind)
{
    size_t a, b;
    char **fa = kt_finals(got, ngot, kind, &a), **fb = kt_finals(want, nwant, kind, &b);
    ck_assert_msg(a == b, "%s: %zu final records through Kafka, %zu in the reference", kind, a, b);
    for (size_t i = 0; i < a; i++) {
        ck_assert_msg(strcmp(fa[i], fb[i]) == 0, "%s:\n kafka:     %s\n reference: %s", kind, fa[i], fb[i]);
        free(fa[i]);
        free(fb[i]);
    }
    free(fa);
    free(fb);
}

/* Drop repeated strings of a sorted array; returns the new count. */
static inline size_t kt_unique(char **v, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (k == 0 || strcmp(v[k - 1], v[i]) != 0)
            v[k++] = v[i];
    return k;
}

/* The same strings, in any order; with `unique`, as sets (at-least-once
 * delivery may repeat a record). Sorts both arrays. */
static inline void kt_assert_same_multiset(char **got, size_t ngot, char **want, size_t nwant,
                                           const char *what, int unique)
{
    qsort(got, ngot, sizeof *got, kt_cmp_str);
    qsort(want, nwant, sizeof *want, kt_cmp_str);
    if (unique) {
        ngot = kt_unique(got, ngot);
        nwant = kt_unique(want, nwant);
    }
    ck_assert_msg(ngot == nwant, "%s: %zu through Kafka, %zu in the reference", what, ngot, nwant);
    for (size_t i = 0; i < ngot; i++)
        ck_assert_msg(strcmp(got[i], want[i]) == 0, "%s:\n kafka:     %s\n reference: %s", what, got[i],
                      want[i]);
}

/* The steps of pipelines/clickstream.yaml, for tests that need settings the
 * shipped file does not take from the environment: `top` goes at the top
 * (state_dir, checkpoint_interval), `source` and `sink` into the kafka
 * options (e.g. ", config: {...}"). Gap 1m, allowed lateness 1h, windows of
 * 1m; the live stdout step is left out. */
static inline char *kt_clickstream_yaml(const char *bootstrap, const char *group, const char *top,
                                        const char *source, const char *sink)
{
    return ts_strf(
        "name: clickstream\n"
        "%s\n"
        "steps:\n"
        "  - name: clicks\n"
        "    plugin: kafka\n"
        "    options: {brokers: '%s', topics: [click-data], group: %s, stop_at_end: true%s}\n"
        "  - {name: dedup, plugin: dedup, input: clicks, options: {emit_rejected: true}}\n"
        "  - {name: url_count, plugin: url_count, input: dedup, options: {allowed_lateness: 1h}}\n"
        "  - {name: sessionize, plugin: sessionize, input: dedup, options: {gap: 1m, allowed_lateness: 1h}}\n"
        "  - {name: click-insights, plugin: kafka, input: url_count,\n"
        "     options: {brokers: '%s', topic: click-insights%s}}\n"
        "  - {name: session-stats, plugin: kafka, input: sessionize,\n"
        "     options: {brokers: '%s', topic: session-stats%s}}\n"
        "  - {name: click-rejects, plugin: kafka, input: [clicks.rejected, dedup.rejected, "
        "url_count.rejected],\n"
        "     options: {brokers: '%s', topic: click-rejects%s}}\n",
        top, bootstrap, group, source, bootstrap, sink, bootstrap, sink, bootstrap, sink);
}

/* Compare the three output topics, read into <out>/<topic>.txt, with the
 * reference in folder `ref` (replay.yaml with allowed lateness 1h): final
 * window results, and sessions and dead letters as sets when `at_least_once`
 * (a record may then be repeated), as multisets otherwise. */
static inline void kt_assert_final_results(const char *out, const char *ref, int at_least_once)
{
    static const char *const topics[] = {"click-insights", "session-stats", "click-rejects"};
    char *got_buf[3], *ref_buf[4], **got[4], **want[4], *path;
    size_t ngot[4], nwant[4];
    for (int i = 0; i < 3; i++) {
        path = ts_strf("%s/%s.txt", out, topics[i]);
        got[i] = kt_values_of_kind(path, i == 0 ? NULL : i == 1 ? "session" : NULL, &got_buf[i], &ngot[i]);
        free(path);
    }
    static const char *const ref_files[] = {"url_clicks", "window_summary", "sessions", "rejected"};
    for (int i = 0; i < 4; i++) {
        path = ts_strf("%s/%s.jsonl", ref, ref_files[i]);
        want[i] = kt_lines(path, &ref_buf[i], &nwant[i]);
        free(path);
    }
    ck_assert_uint_gt(nwant[0], 100);
    ck_assert_uint_gt(nwant[2], 100);
    ck_assert_uint_gt(nwant[3], 10);
    kt_assert_same_finals(got[0], ngot[0], want[0], nwant[0], "url_clicks");
    kt_assert_same_finals(got[0], ngot[0], want[1], nwant[1], "window_summary");
    kt_assert_same_multiset(got[1], ngot[1], want[2], nwant[2], "sessions", at_least_once);
    /* Dead letters without their origins, in arrays of their own (the
     * comparison reorders and shortens the ones it is given). */
    char origin[512], **dead = malloc((ngot[2] + 1) * sizeof *dead),
                      **ref_dead = malloc((nwant[3] + 1) * sizeof *ref_dead);
    char **dead_cmp = malloc((ngot[2] + 1) * sizeof *dead),
         **ref_cmp = malloc((nwant[3] + 1) * sizeof *ref_dead);
    for (size_t i = 0; i < ngot[2]; i++)
        dead[i] = dead_cmp[i] = kt_without_origin(got[2][i], origin, sizeof origin);
    for (size_t i = 0; i < nwant[3]; i++)
        ref_dead[i] = ref_cmp[i] = kt_without_origin(want[3][i], origin, sizeof origin);
    kt_assert_same_multiset(dead_cmp, ngot[2], ref_cmp, nwant[3], "dead letters", at_least_once);
    for (size_t i = 0; i < ngot[2]; i++)
        free(dead[i]);
    for (size_t i = 0; i < nwant[3]; i++)
        free(ref_dead[i]);
    free(dead);
    free(ref_dead);
    free(dead_cmp);
    free(ref_cmp);
    for (int i = 0; i < 3; i++) {
        free(got[i]);
        free(got_buf[i]);
    }
    for (int i = 0; i < 4; i++) {
        free(want[i]);
        free(ref_buf[i]);
    }
}

#endif
