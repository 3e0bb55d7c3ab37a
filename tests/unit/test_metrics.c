/* sluice run --metrics-listen: /metrics scraped with a real HTTP client
 * while pipelines run; what it serves passes `promtool check metrics` and
 * agrees with --metrics FILE at exit; bad addresses are refused with their
 * position. */
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test_support.h"

static char *write_in_tmp(const char *name, const char *body)
{
    char *path = ts_strf("%s/%s", ts_tmpdir(), name);
    ts_write_file(path, body);
    return path;
}

/* setenv from a path in the test's folder. */
static void set_path_env(const char *var, const char *name)
{
    char *path = ts_strf("%s/%s", ts_tmpdir(), name);
    setenv(var, path, 1);
    free(path);
}

static void need_tool(const char *tool)
{
    char *cmd = ts_strf("command -v %s >/dev/null", tool);
    int rc = ts_run(cmd, NULL, NULL);
    free(cmd);
    ck_assert_msg(rc == 0, "%s is not installed: scripts/deps installs it (see scripts/deps' package list)",
                  tool);
}

/* `sluice run ARGS` in the background, stderr to err_path; it dies with the
 * test process. */
static pid_t spawn_sluice(const char *args, const char *err_path)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        char *cmd = ts_strf("exec %s run %s 2>%s >/dev/null", SLUICE_BIN, args, err_path);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    return pid;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* The URL sluice logged for /metrics, waiting up to 10 s for it. */
static char *wait_for_url(const char *err_path)
{
    for (int i = 0; i < 200; i++) {
        char *log = ts_read_file(err_path, NULL);
        const char *at = log ? strstr(log, "metrics at http://") : NULL;
        if (at) {
            at += strlen("metrics at ");
            char *url = strndup(at, strcspn(at, " \n"));
            free(log);
            return url;
        }
        free(log);
        sleep_ms(50);
    }
    char *log = ts_read_file(err_path, NULL);
    ck_abort_msg("no metrics URL logged: %s", log ? log : "(no output)");
    return NULL;
}

static char *scrape(const char *url)
{
    char *cmd = ts_strf("curl -sS --fail --max-time 5 '%s'", url), *out = NULL, *err = NULL;
    int rc = ts_run(cmd, &out, &err);
    ck_assert_msg(rc == 0, "curl %s: %s", url, err ? err : "");
    free(cmd);
    free(err);
    return out;
}

/* The value of the sample whose name and labels are exactly `series`. */
static int sample(const char *text, const char *series, double *value)
{
    size_t len = strlen(series);
    for (const char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        if (strncmp(line, series, len) == 0 && line[len] == ' ') {
            *value = strtod(line + len + 1, NULL);
            return 1;
        }
    }
    return 0;
}

static double sample_or_fail(const char *text, const char *series)
{
    double v;
    ck_assert_msg(sample(text, series, &v), "no sample %s in:\n%s", series, text);
    return v;
}

static const char *rate_pipeline = "name: live\n"
                                   "steps:\n"
                                   "  - name: clicks\n"
                                   "    plugin: clickgen\n"
                                   "    options: {count: 0, rate: 400}\n"
                                   "  - name: dedup\n"
                                   "    plugin: dedup\n"
                                   "    input: clicks\n"
                                   "    options: {emit_rejected: true}\n"
                                   "  - name: counts\n"
                                   "    plugin: url_count\n"
                                   "    input: dedup\n"
                                   "    options: {size: 1s}\n"
                                   "  - name: out\n"
                                   "    plugin: file\n"
                                   "    input: [counts, clicks.rejected, dedup.rejected]\n"
                                   "    options: {path: '${OUT}'}\n";

static void stop_and_wait(pid_t pid, int expect_status)
{
    kill(pid, SIGTERM);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == expect_status, "sluice ended with status %d",
                  status);
}

START_TEST(a_scrape_during_a_run_passes_promtool_and_moves)
{
    need_tool("curl");
    need_tool("promtool");
    char *yaml = write_in_tmp("live.yaml", rate_pipeline);
    char *err_path = ts_strf("%s/live.err", ts_tmpdir());
    char *args = ts_strf("--metrics-listen 127.0.0.1:0 %s", yaml);
    set_path_env("OUT", "live.out");
    pid_t pid = spawn_sluice(args, err_path);
    char *url = wait_for_url(err_path);
    ck_assert_msg(strncmp(url, "http://127.0.0.1:", 17) == 0 &&
                      strcmp(url + strlen(url) - 8, "/metrics") == 0,
                  "%s", url);
    sleep_ms(1500);
    char *first = scrape(url);
    sleep_ms(1000);
    char *second = scrape(url);

    /* promtool reads the exposition and lints its names. */
    char *saved = write_in_tmp("scrape.txt", second);
    char *cmd = ts_strf("promtool check metrics < %s", saved), *out = NULL, *err = NULL;
    int rc = ts_run(cmd, &out, &err);
    ck_assert_msg(rc == 0, "promtool check metrics failed:\n%s%s\n--- the scrape:\n%s", out, err, second);

    const char *read = "sluice_source_messages_read_total{pipeline=\"live\",step=\"clicks\"}";
    double a = sample_or_fail(first, read), b = sample_or_fail(second, read);
    ck_assert_msg(a > 0 && b > a, "the count does not move: %g then %g", a, b);
    sample_or_fail(second, "sluice_step_events_in_total{pipeline=\"live\",step=\"dedup\"}");
    sample_or_fail(second, "sluice_step_events_out_total{pipeline=\"live\",step=\"dedup\"}");
    sample_or_fail(second, "sluice_step_state_keys{pipeline=\"live\",step=\"dedup\"}");
    sample_or_fail(second, "sluice_step_state_bytes{pipeline=\"live\",step=\"counts\"}");
    sample_or_fail(second, "sluice_pipeline_running{pipeline=\"live\"}");
    double lag = sample_or_fail(second, "sluice_pipeline_watermark_lag_seconds{pipeline=\"live\"}");
    ck_assert_msg(lag >= 0 && lag < 60, "watermark lag %g s for a clock-paced source", lag);
    double n = sample_or_fail(second, "sluice_pipeline_batch_duration_seconds_count{pipeline=\"live\"}");
    ck_assert_double_eq(n, sample_or_fail(second, "sluice_pipeline_batch_duration_seconds_bucket{pipeline="
                                                  "\"live\",le=\"+Inf\"}"));
    ck_assert_msg(n > 0, "no batch observed");
    sample_or_fail(second, "sluice_pipeline_tasks{pipeline=\"live\"}");

    /* Anything else is not found, and nothing but GET is served. */
    char *cmd404 =
        ts_strf("curl -s -o /dev/null -w '%%{http_code}' '%.*s/nope'", (int)(strlen(url) - 8), url);
    char *code = NULL;
    ts_run(cmd404, &code, NULL);
    ck_assert_str_eq(code, "404");
    stop_and_wait(pid, 0);
    free(code);
    free(cmd404);
    free(out);
    free(err);
    free(cmd);
    free(saved);
    free(first);
    free(second);
    free(url);
    free(args);
    free(err_path);
    free(yaml);
}
END_TEST

/* A JSON-lines input of n events (some malformed, some repeated), ts in ms. */
static char *known_input(int n)
{
    size_t cap = (size_t)n * 100 + 1;
    char *text = malloc(cap);
    size_t len = 0;
    for (int i = 0; i < n; i++) {
        if (i % 97 == 5)
            len += (size_t)snprintf(text + len, cap - len, "[not an event]\n");
        else
            len +=
                (size_t)snprintf(text + len, cap - len,
                                 "{\"event_id\":\"e%d\",\"user_id\":\"u%d\",\"url\":\"/p%d\",\"ts\":%lld}\n",
                                 i % 50 == 7 ? i - 1 : i, i % 37, i % 11, 1700000000000LL + i * 20LL);
    }
    return text;
}

/* The series a --metrics FILE counter appears as in the scrape. */
static char *series_of(const char *pipe, const char *step, const char *name, int source)
{
    if (source && strcmp(name, "read") == 0)
        return ts_strf("sluice_source_messages_read_total{pipeline=\"%s\",step=\"%s\"}", pipe, step);
    if (source && strcmp(name, "accepted") == 0)
        return ts_strf("sluice_source_events_accepted_total{pipeline=\"%s\",step=\"%s\"}", pipe, step);
    if (strcmp(name, "in") == 0 || strcmp(name, "out") == 0)
        return ts_strf("sluice_step_events_%s_total{pipeline=\"%s\",step=\"%s\"}", name, pipe, step);
    if (strncmp(name, "rejected.", 9) == 0)
        return ts_strf("sluice_step_rejected_total{pipeline=\"%s\",step=\"%s\",reason=\"%s\"}", pipe, step,
                       name + 9);
    if (strncmp(name, "state.", 6) == 0)
        return ts_strf("sluice_step_state_%s{pipeline=\"%s\",step=\"%s\"}", name + 6, pipe, step);
    return ts_strf("sluice_plugin_counted_total{pipeline=\"%s\",step=\"%s\",name=\"%s\"}", pipe, step, name);
}

static const char *followed_pipeline = "name: known\n"
                                       "steps:\n"
                                       "  - name: clicks\n"
                                       "    plugin: file\n"
                                       "    options: {path: '${IN}', follow: true}\n"
                                       "    event: {idle_timeout: 1h}\n"
                                       "  - name: dedup\n"
                                       "    plugin: dedup\n"
                                       "    input: clicks\n"
                                       "    options: {emit_rejected: true}\n"
                                       "  - name: counts\n"
                                       "    plugin: url_count\n"
                                       "    input: dedup\n"
                                       "    options: {size: 1s}\n"
                                       "  - name: sessions\n"
                                       "    plugin: sessionize\n"
                                       "    input: dedup\n"
                                       "    options: {gap: 2s}\n"
                                       "  - name: out\n"
                                       "    plugin: file\n"
                                       "    input: [counts, sessions, clicks.rejected, dedup.rejected]\n"
                                       "    options: {path: '${OUT}'}\n";

/* Only the step counters, runtime figures and checkpoints: what must not
 * move once the input is read. */
static char *stable_part(const char *scrape_text)
{
    size_t len = strlen(scrape_text);
    char *out = calloc(1, len + 1);
    size_t o = 0;
    for (const char *line = scrape_text; *line;) {
        const char *end = strchr(line, '\n');
        size_t n = end ? (size_t)(end - line) + 1 : strlen(line);
        if (strncmp(line, "sluice_step_", 12) == 0 || strncmp(line, "sluice_source_", 14) == 0 ||
            strncmp(line, "sluice_pipeline_thread_events", 29) == 0) {
            memcpy(out + o, line, n);
            o += n;
        }
        line += n;
    }
    return out;
}

START_TEST(the_last_scrape_agrees_with_the_metrics_file)
{
    need_tool("curl");
    const int n = 3000;
    char *in = ts_strf("%s/known.jsonl", ts_tmpdir());
    char *input = known_input(n);
    ts_write_file(in, input);
    setenv("IN", in, 1);
    set_path_env("OUT", "known.out");
    char *yaml = write_in_tmp("known.yaml", followed_pipeline);
    char *err_path = ts_strf("%s/known.err", ts_tmpdir());
    char *json_path = ts_strf("%s/known.json", ts_tmpdir());
    char *args = ts_strf("--metrics %s --metrics-listen 127.0.0.1:0 %s", json_path, yaml);
    pid_t pid = spawn_sluice(args, err_path);
    char *url = wait_for_url(err_path);

    /* Read to the end of the file and quiet: two scrapes a second apart
     * with the same counters, every line read. */
    char *prev = NULL, *last = NULL;
    int settled = 0;
    for (int i = 0; i < 30 && !settled; i++) {
        sleep_ms(600);
        free(last);
        last = scrape(url);
        char *now = stable_part(last);
        double read;
        settled =
            prev && strcmp(prev, now) == 0 &&
            sample(last, "sluice_source_messages_read_total{pipeline=\"known\",step=\"clicks\"}", &read) &&
            read == n;
        free(prev);
        prev = now;
    }
    ck_assert_msg(settled, "the counters never settled at %d lines read:\n%s", n, last);
    stop_and_wait(pid, 0);

    /* Every counter of --metrics FILE, as the last scrape had it. */
    json_error_t jerr;
    json_t *root = json_load_file(json_path, 0, &jerr);
    ck_assert_msg(root != NULL, "%s: %s", json_path, jerr.text);
    const char *step_name;
    json_t *counters;
    size_t compared = 0;
    json_object_foreach(json_object_get(root, "steps"), step_name, counters)
    {
        const char *cname;
        json_t *value;
        json_object_foreach(counters, cname, value)
        {
            char *series = series_of("known", step_name, cname, strcmp(step_name, "clicks") == 0);
            double got = sample_or_fail(last, series);
            ck_assert_msg(got == (double)json_integer_value(value), "%s: scraped %g, --metrics says %lld",
                          series, got, (long long)json_integer_value(value));
            free(series);
            compared++;
        }
    }
    json_t *runtime = json_object_get(root, "runtime");
    ck_assert_double_eq(sample_or_fail(last, "sluice_pipeline_tasks{pipeline=\"known\"}"),
                        (double)json_integer_value(json_object_get(runtime, "tasks")));
    size_t w;
    json_t *events;
    json_array_foreach(json_object_get(runtime, "thread_events"), w, events)
    {
        char *series = ts_strf("sluice_pipeline_thread_events_total{pipeline=\"known\",thread=\"%zu\"}", w);
        ck_assert_double_eq(sample_or_fail(last, series), (double)json_integer_value(events));
        free(series);
    }
    ck_assert_msg(compared >= 15, "only %zu counters compared", compared);
    /* The input's malformed lines and repeats were counted as such. */
    ck_assert_double_eq(
        sample_or_fail(last,
                       "sluice_step_rejected_total{pipeline=\"known\",step=\"clicks\",reason=\"malformed\"}"),
        31);
    json_decref(root);
    free(prev);
    free(last);
    free(url);
    free(args);
    free(json_path);
    free(err_path);
    free(yaml);
    free(input);
    free(in);
}
END_TEST

START_TEST(an_invalid_listen_address_is_an_error_at_its_position)
{
    char *yaml = write_in_tmp("bad-listen.yaml", "name: bad\n"
                                                 "metrics:\n"
                                                 "  listen: 127.0.0.1:99999\n"
                                                 "  port: 3\n"
                                                 "steps:\n"
                                                 "  - name: clicks\n"
                                                 "    plugin: clickgen\n"
                                                 "  - name: out\n"
                                                 "    plugin: file\n"
                                                 "    input: clicks\n"
                                                 "    options: {path: /dev/null}\n");
    char *cmd = ts_strf("%s check %s", SLUICE_BIN, yaml), *out = NULL, *err = NULL;
    ck_assert_int_eq(ts_run(cmd, &out, &err), 3);
    char *want =
        ts_strf("%s:3:11: error: 'listen' of 'metrics': '127.0.0.1:99999': the port must be a number "
                "from 0 to 65535",
                yaml);
    ck_assert_msg(strstr(err, want) != NULL, "%s", err);
    char *unknown = ts_strf("%s:4:3: error: unknown key 'port' in 'metrics'", yaml);
    ck_assert_msg(strstr(err, unknown) != NULL, "%s", err);
    free(out);
    free(err);
    free(cmd);

    char *not_map = write_in_tmp("listen-scalar.yaml", "metrics: 9464\nsteps: []\n");
    cmd = ts_strf("%s check %s", SLUICE_BIN, not_map);
    ck_assert_int_eq(ts_run(cmd, &out, &err), 3);
    char *want2 = ts_strf("%s:1:10: error: 'metrics' must be a map (listen), not a scalar", not_map);
    ck_assert_msg(strstr(err, want2) != NULL, "%s", err);
    free(out);
    free(err);
    free(cmd);

    /* On the command line: a usage error, before anything starts. */
    cmd = ts_strf("%s run --metrics-listen localhost %s", SLUICE_BIN, yaml);
    ck_assert_int_eq(ts_run(cmd, &out, &err), 2);
    ck_assert_msg(strstr(err, "'localhost' is not HOST:PORT") != NULL, "%s", err);
    free(out);
    free(err);
    free(cmd);
    free(want);
    free(want2);
    free(unknown);
    free(not_map);
    free(yaml);
}
END_TEST

START_TEST(a_busy_address_fails_the_run_with_the_reason)
{
    /* Our own endpoint holds a free port; a second run on it is refused. */
    char *yaml = write_in_tmp("busy.yaml", rate_pipeline);
    set_path_env("OUT", "busy.out");
    char *err_path = ts_strf("%s/busy.err", ts_tmpdir());
    char *args = ts_strf("--metrics-listen 127.0.0.1:0 %s", yaml);
    pid_t pid = spawn_sluice(args, err_path);
    char *url = wait_for_url(err_path);
    const char *hostport = url + strlen("http://");
    char *cmd = ts_strf("%s run --metrics-listen %.*s %s", SLUICE_BIN, (int)strcspn(hostport, "/"), hostport,
                        yaml),
         *err = NULL;
    ck_assert_int_eq(ts_run(cmd, NULL, &err), 1);
    ck_assert_msg(strstr(err, "Address already in use") != NULL, "%s", err);
    stop_and_wait(pid, 0);
    free(err);
    free(cmd);
    free(url);
    free(args);
    free(err_path);
    free(yaml);
}
END_TEST

START_TEST(kafka_lag_per_partition_and_producer_queue_depth)
{
    need_tool("curl");
    need_tool("promtool");
    char *produce = write_in_tmp("produce.yaml", "name: produce\n"
                                                 "steps:\n"
                                                 "  - name: clicks\n"
                                                 "    plugin: clickgen\n"
                                                 "    options: {count: 0, rate: 1000}\n"
                                                 "    event: raw\n"
                                                 "  - name: to-kafka\n"
                                                 "    plugin: kafka\n"
                                                 "    input: clicks\n"
                                                 "    options: {brokers: embedded, topic: clicks-m}\n");
    char *consume =
        write_in_tmp("consume.yaml", "name: consume\n"
                                     "steps:\n"
                                     "  - name: from-kafka\n"
                                     "    plugin: kafka\n"
                                     "    options: {brokers: embedded, topics: [clicks-m], group: m}\n"
                                     "  - name: out\n"
                                     "    plugin: file\n"
                                     "    input: from-kafka\n"
                                     "    options: {path: /dev/null}\n");
    char *err_path = ts_strf("%s/kafka.err", ts_tmpdir());
    char *args = ts_strf("--metrics-listen 127.0.0.1:0 %s %s", produce, consume);
    pid_t pid = spawn_sluice(args, err_path);
    char *url = wait_for_url(err_path);
    char *text = NULL;
    double v;
    /* The consumer joins its group and fetches within a few seconds. */
    for (int i = 0; i < 40; i++) {
        sleep_ms(500);
        free(text);
        text = scrape(url);
        if (sample(
                text,
                "sluice_kafka_consumer_lag_messages{pipeline=\"consume\",step=\"from-kafka\",topic=\"clicks-"
                "m\",partition=\"3\"}",
                &v))
            break;
    }
    /* The embedded broker makes a topic it does not know with 4 partitions. */
    for (int part = 0; part < 4; part++) {
        char *series = ts_strf("sluice_kafka_consumer_lag_messages{pipeline=\"consume\",step=\"from-kafka\","
                               "topic=\"clicks-m\",partition=\"%d\"}",
                               part);
        ck_assert_msg(sample_or_fail(text, series) >= 0, "%s", series);
        free(series);
    }
    ck_assert_msg(sample_or_fail(text, "sluice_kafka_producer_queue_messages{pipeline=\"produce\",step=\"to-"
                                       "kafka\"}") >= 0,
                  "queue depth");
    char *saved = write_in_tmp("kafka-scrape.txt", text);
    char *cmd = ts_strf("promtool check metrics < %s", saved), *out = NULL, *err = NULL;
    ck_assert_msg(ts_run(cmd, &out, &err) == 0, "promtool check metrics failed:\n%s%s", out, err);
    stop_and_wait(pid, 0);
    free(out);
    free(err);
    free(cmd);
    free(saved);
    free(text);
    free(url);
    free(args);
    free(err_path);
    free(consume);
    free(produce);
}
END_TEST

/* The dashboard sink reads the same gauges from the engine (ABI 1.4,
 * step_counters) and shows the lag per partition in its status. */
START_TEST(the_dashboard_shows_the_kafka_sources_consumer_lag)
{
    need_tool("curl");
    char *produce = write_in_tmp("produce-d.yaml", "name: produce\n"
                                                   "steps:\n"
                                                   "  - name: clicks\n"
                                                   "    plugin: clickgen\n"
                                                   "    options: {count: 0, rate: 1000}\n"
                                                   "    event: raw\n"
                                                   "  - name: to-kafka\n"
                                                   "    plugin: kafka\n"
                                                   "    input: clicks\n"
                                                   "    options: {brokers: embedded, topic: clicks-d}\n");
    char *consume = write_in_tmp("consume-d.yaml",
                                 "name: consume\n"
                                 "steps:\n"
                                 "  - name: from-kafka\n"
                                 "    plugin: kafka\n"
                                 "    options: {brokers: embedded, topics: [clicks-d], group: d}\n"
                                 "  - name: board\n"
                                 "    plugin: dashboard\n"
                                 "    input: from-kafka\n"
                                 "    options: {listen: '127.0.0.1:0', interval: 200ms, linger: 0ms}\n");
    char *err_path = ts_strf("%s/dashboard.err", ts_tmpdir());
    char *args = ts_strf("%s %s", produce, consume);
    pid_t pid = spawn_sluice(args, err_path);
    char *base = NULL;
    for (int i = 0; i < 200 && base == NULL; i++) {
        char *log = ts_read_file(err_path, NULL);
        const char *at = log ? strstr(log, "dashboard at http://") : NULL;
        if (at) {
            at += strlen("dashboard at ");
            base = strndup(at, strcspn(at, " \n"));
        }
        free(log);
        if (base == NULL)
            sleep_ms(50);
    }
    ck_assert_msg(base != NULL, "the dashboard logged no URL");
    char *url = ts_strf("%s%ssnapshot", base, base[strlen(base) - 1] == '/' ? "" : "/");
    json_t *lag = NULL;
    char *text = NULL;
    /* The consumer joins its group and fetches within a few seconds. */
    for (int i = 0; i < 80 && (lag == NULL || json_object_size(json_object_get(lag, "partitions")) < 4);
         i++) {
        sleep_ms(500);
        free(text);
        text = scrape(url);
        json_decref(lag);
        json_t *snap = json_loads(text, 0, NULL);
        ck_assert_msg(snap != NULL, "/snapshot is not JSON: %s", text);
        lag = json_incref(json_object_get(json_object_get(snap, "status"), "consumer_lag"));
        json_decref(snap);
    }
    ck_assert_msg(json_is_object(lag), "no consumer lag in the dashboard's status: %s", text);
    /* The embedded broker makes a topic it does not know with 4 partitions. */
    json_t *parts = json_object_get(lag, "partitions");
    json_int_t total = 0;
    for (int part = 0; part < 4; part++) {
        char *name = ts_strf("clicks-d/%d", part);
        json_t *n = json_object_get(parts, name);
        ck_assert_msg(json_is_integer(n) && json_integer_value(n) >= 0, "no lag for %s: %s", name, text);
        total += json_integer_value(n);
        free(name);
    }
    ck_assert_int_eq(json_integer_value(json_object_get(lag, "total")), total);
    stop_and_wait(pid, 0);
    json_decref(lag);
    free(text);
    free(url);
    free(base);
    free(args);
    free(err_path);
    free(consume);
    free(produce);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, a_scrape_during_a_run_passes_promtool_and_moves);
    tcase_add_test(tc, the_last_scrape_agrees_with_the_metrics_file);
    tcase_add_test(tc, an_invalid_listen_address_is_an_error_at_its_position);
    tcase_add_test(tc, a_busy_address_fails_the_run_with_the_reason);
    tcase_add_test(tc, kafka_lag_per_partition_and_producer_queue_depth);
    tcase_add_test(tc, the_dashboard_shows_the_kafka_sources_consumer_lag);
    suite_add_tcase(s, tc);
    return ts_run_suite(s);
}
