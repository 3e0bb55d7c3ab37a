/* Keyed stages in tasks on worker threads (docs/pipelines.md, "Partitions
 * and threads"): the replay pipeline gives the same records for any thread
 * count and batch size (byte for byte: the order of the merged output is
 * fixed by the partition count alone), the same records as one instance per
 * step (compared sorted), the work is shared between threads (rounds too
 * small to be worth waking a helper stay on the pipeline's thread), and state
 * checkpointed per task is restored into the same tasks or refused when the
 * partition count changed. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "test_support.h"

static const char *const outputs[] = {"url_clicks.jsonl", "window_summary.jsonl", "sessions.jsonl",
                                      "rejected.jsonl"};

/* clickgen with these options into dir/clicks.jsonl; returns its path. */
static char *generate_with(const char *dir, const char *options)
{
    char *input = ts_strf("%s/clicks.jsonl", dir);
    char *yaml = ts_strf("%s/gen.yaml", dir);
    char *body = ts_strf("steps:\n"
                         "  - name: gen\n"
                         "    plugin: clickgen\n"
                         "    options: %s\n"
                         "    event: raw\n"
                         "  - name: out\n"
                         "    plugin: file\n"
                         "    input: gen\n"
                         "    options: {path: %s, truncate: true}\n",
                         options, input);
    ts_write_file(yaml, body);
    char *cmd = ts_strf("%s run %s", SLUICE_BIN, yaml);
    char *err = NULL;
    ck_assert_msg(ts_run(cmd, NULL, &err) == 0, "generate: %s", err);
    free(err);
    free(cmd);
    free(body);
    free(yaml);
    return input;
}

static char *generate(const char *dir)
{
    return generate_with(dir, "{count: 20000, users: 400, urls: 60, start: 1795737600000, seed: 5, "
                              "event_interval: 40ms, think_time: 15s, duplicates: 0.03, late: 0.02, "
                              "invalid: 0.02, disorder: 4s}");
}

static int two_phase; /* replay() runs url_count in parts (TWO_PHASE=true) */

/* Runs replay.yaml; returns the metrics JSON (parsed). */
static json_t *replay(const char *input, const char *out_dir, int partitions, int threads, int batch_size)
{
    char *metrics = ts_strf("%s.metrics.json", out_dir);
    char *cmd =
        ts_strf("mkdir -p %s && INPUT=%s OUT_DIR=%s PARTITIONS=%d THREADS=%d BATCH_SIZE=%d WINDOW=10s "
                "GAP=1m ALLOWED_LATENESS=30s MAX_OUT_OF_ORDER=2s TWO_PHASE=%s %s run --metrics %s "
                "%s/pipelines/replay.yaml",
                out_dir, input, out_dir, partitions, threads, batch_size, two_phase ? "true" : "false",
                SLUICE_BIN, metrics, SLUICE_SOURCE_DIR);
    char *err = NULL;
    ck_assert_msg(ts_run(cmd, NULL, &err) == 0, "replay (%d partitions, %d threads, batch %d): %s",
                  partitions, threads, batch_size, err);
    json_error_t jerr;
    json_t *m = json_load_file(metrics, 0, &jerr);
    ck_assert_msg(m != NULL, "metrics: %s", jerr.text);
    free(err);
    free(cmd);
    free(metrics);
    return m;
}

static char *read_output(const char *out_dir, const char *name)
{
    char *path = ts_strf("%s/%s", out_dir, name);
    char *text = ts_read_file(path, NULL);
    ck_assert_msg(text != NULL, "no %s", path);
    free(path);
    return text;
}

static int by_line(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The lines of text, sorted, joined again. */
static char *sorted(const char *text)
{
    size_t n = 0, len = strlen(text);
    char *copy = strdup(text);
    char **lines = malloc((len + 1) * sizeof *lines);
    for (char *line = copy; *line;) {
        char *nl = strchr(line, '\n');
        lines[n++] = line;
        if (nl == NULL)
            break;
        *nl = '\0';
        line = nl + 1;
    }
    qsort(lines, n, sizeof *lines, by_line);
    char *out = malloc(len + 2);
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(lines[i]);
        memcpy(out + at, lines[i], l);
        at += l;
        out[at++] = '\n';
    }
    out[at] = '\0';
    free(lines);
    free(copy);
    return out;
}

/* The last line of every key (url_clicks: window and URL; window_summary:
 * window), sorted: the final results, whatever updates came before. */
static char *final_by_key(const char *text)
{
    char *copy = strdup(text), **keyed = malloc((strlen(text) + 1) * sizeof *keyed);
    size_t n = 0;
    for (char *line = strtok(copy, "\n"); line; line = strtok(NULL, "\n")) {
        json_t *r = json_loads(line, 0, NULL);
        ck_assert_msg(r != NULL, "not JSON: %s", line);
        const char *url = json_string_value(json_object_get(r, "url"));
        char *key = ts_strf("%lld|%s", (long long)json_integer_value(json_object_get(r, "window_start")),
                            url ? url : "");
        json_decref(r);
        size_t k = 0;
        size_t klen = strlen(key);
        while (k < n && !(strncmp(keyed[k], key, klen) == 0 && keyed[k][klen] == '\t'))
            k++;
        if (k == n)
            n++;
        else
            free(keyed[k]);
        keyed[k] = ts_strf("%s\t%s\n", key, line);
        free(key);
    }
    qsort(keyed, n, sizeof *keyed, by_line);
    size_t len = 1;
    for (size_t k = 0; k < n; k++)
        len += strlen(keyed[k]);
    char *out = calloc(1, len);
    for (size_t k = 0; k < n; k++) {
        strcat(out, keyed[k]);
        free(keyed[k]);
    }
    free(keyed);
    free(copy);
    return out;
}

static json_int_t metric(json_t *m, const char *step, const char *name)
{
    return json_integer_value(json_object_get(json_object_get(json_object_get(m, "steps"), step), name));
}

START_TEST(any_thread_count_and_batch_size_give_the_same_records)
{
    const char *dir = ts_tmpdir();
    char *input = generate(dir);
    char *one_dir = ts_strf("%s/one", dir);
    json_decref(replay(input, one_dir, 1, 1, 4096));
    const struct {
        int threads, batch;
    } runs[] = {{1, 4096}, {2, 4096}, {4, 4096}, {2, 7}, {4, 1000}};
    char *first[4] = {NULL};
    for (size_t r = 0; r < sizeof runs / sizeof runs[0]; r++) {
        char *out_dir = ts_strf("%s/t%d-b%d", dir, runs[r].threads, runs[r].batch);
        json_t *m = replay(input, out_dir, 4, runs[r].threads, runs[r].batch);
        json_t *rt = json_object_get(m, "runtime");
        ck_assert_int_eq(json_integer_value(json_object_get(rt, "tasks")), 4);
        ck_assert_int_eq(json_integer_value(json_object_get(rt, "threads")), runs[r].threads);
        ck_assert_int_eq(json_integer_value(json_object_get(rt, "stages")), 2); /* by event, by user */
        for (size_t k = 0; k < 4; k++) {
            char *text = read_output(out_dir, outputs[k]);
            if (r == 0) {
                first[k] = text;
                char *single = read_output(one_dir, outputs[k]);
                char *a = sorted(single), *b = sorted(text);
                ck_assert_msg(strcmp(a, b) == 0, "%s: 4 tasks and one instance give other records",
                              outputs[k]);
                ck_assert_msg(strlen(a) > 0 || k == 3, "%s is empty", outputs[k]);
                free(a);
                free(b);
                free(single);
                continue;
            }
            ck_assert_msg(strcmp(first[k], text) == 0, "%s differs with %d threads and batch size %d",
                          outputs[k], runs[r].threads, runs[r].batch);
            free(text);
        }
        json_decref(m);
        free(out_dir);
    }
    for (size_t k = 0; k < 4; k++)
        free(first[k]);
    free(one_dir);
    free(input);
}
END_TEST

START_TEST(four_tasks_on_two_threads_share_the_work)
{
    const char *dir = ts_tmpdir();
    char *input = generate(dir);
    char *out_dir = ts_strf("%s/shared", dir);
    json_t *m = replay(input, out_dir, 4, 2, 256);
    json_t *per_thread = json_object_get(json_object_get(m, "runtime"), "thread_events");
    ck_assert_uint_eq(json_array_size(per_thread), 2);
    json_int_t a = json_integer_value(json_array_get(per_thread, 0));
    json_int_t b = json_integer_value(json_array_get(per_thread, 1));
    /* Every event is routed once into the dedup stage, and every one dedup
     * passes once into the sessionize stage. */
    ck_assert_int_eq(a + b, metric(m, "clicks", "accepted") + metric(m, "dedup", "out"));
    ck_assert_msg(a > 0 && b > 0, "one thread did all the work: %lld and %lld events", (long long)a,
                  (long long)b);
    /* url_count and the sinks after it need only dedup's stage: they ran
     * while sessionize's tasks did, in every tick. */
    json_int_t beside =
        json_integer_value(json_object_get(json_object_get(m, "runtime"), "rounds_beside_tasks"));
    ck_assert_msg(beside > 0, "url_count never ran beside sessionize's tasks");
    json_decref(m);
    m = replay(input, out_dir, 4, 1, 256);
    beside = json_integer_value(json_object_get(json_object_get(m, "runtime"), "rounds_beside_tasks"));
    ck_assert_msg(beside == 0, "with one thread there is no one to run beside: %lld", (long long)beside);
    json_decref(m);
    free(out_dir);
    free(input);
}
END_TEST

static size_t count_lines(const char *text)
{
    size_t n = 0;
    for (; *text; text++)
        n += *text == '\n';
    return n;
}

/* The end of the input: the tasks flush their open sessions side by side,
 * a chunk each per round (sessionize emits 4,096 a call). With several
 * chunks open in each task, every session is there, as one instance emits
 * them, and the order is the same on any number of threads. */
START_TEST(the_end_flushes_the_tasks_in_rounds_the_same_on_any_thread_count)
{
    const char *dir = ts_tmpdir();
    /* 40,000 clicks in 40 s, by 22,932 users (of a million): as many
     * sessions open at the end (GAP is 1m), 11,000 in each of 2 tasks. */
    char *input =
        generate_with(dir, "{count: 40000, users: 1000000, urls: 50, start: 1795737600000, seed: 9, "
                           "event_interval: 1ms}");
    char *one_dir = ts_strf("%s/one", dir);
    json_decref(replay(input, one_dir, 1, 1, 4096));
    char *single = read_output(one_dir, "sessions.jsonl");
    ck_assert_msg(count_lines(single) > 2 * 2 * 4096, "only %zu sessions: fewer than 3 chunks a task",
                  count_lines(single));
    char *want = sorted(single), *first = NULL;
    const int threads[] = {1, 2, 4};
    for (size_t r = 0; r < 3; r++) {
        char *out_dir = ts_strf("%s/t%d", dir, threads[r]);
        json_decref(replay(input, out_dir, 2, threads[r], 4096));
        char *text = read_output(out_dir, "sessions.jsonl");
        char *got = sorted(text);
        ck_assert_msg(strcmp(want, got) == 0, "%d threads: %zu sessions, one instance %zu", threads[r],
                      count_lines(text), count_lines(single));
        free(got);
        if (first == NULL)
            first = text;
        else {
            ck_assert_msg(strcmp(first, text) == 0, "the sessions' order differs on %d threads", threads[r]);
            free(text);
        }
        free(out_dir);
    }
    free(first);
    free(want);
    free(single);
    free(one_dir);
    free(input);
}
END_TEST

/* Without SLUICE_PARALLEL_MIN (main sets it to 1 for the other tests), a
 * round of fewer than 1024 records is run by the pipeline's thread alone:
 * ticks of 256 events never wake the helper, ticks of 4096 do, and the
 * records are the same either way. */
START_TEST(small_rounds_stay_on_the_pipelines_thread)
{
    const char *dir = ts_tmpdir();
    char *input = generate(dir);
    const int batches[] = {256, 4096};
    char *first[4] = {NULL};
    for (size_t r = 0; r < 2; r++) {
        char *out_dir = ts_strf("%s/b%d", dir, batches[r]);
        unsetenv("SLUICE_PARALLEL_MIN");
        json_t *m = replay(input, out_dir, 4, 2, batches[r]);
        json_t *per_thread = json_object_get(json_object_get(m, "runtime"), "thread_events");
        json_int_t helper = json_integer_value(json_array_get(per_thread, 1));
        if (batches[r] < 1024)
            ck_assert_msg(helper == 0, "the helper took %lld events in ticks of %d", (long long)helper,
                          batches[r]);
        else
            ck_assert_msg(helper > 0, "the helper took nothing in ticks of %d", batches[r]);
        for (size_t k = 0; k < 4; k++) {
            char *text = read_output(out_dir, outputs[k]);
            if (r == 0) {
                first[k] = text;
                continue;
            }
            ck_assert_msg(strcmp(first[k], text) == 0, "%s differs between ticks run alone and shared",
                          outputs[k]);
            free(text);
        }
        json_decref(m);
        free(out_dir);
    }
    for (size_t k = 0; k < 4; k++)
        free(first[k]);
    free(input);
}
END_TEST

/* two_phase: url_count in parts (by URL, by user, merged): the final
 * records of one instance, and byte for byte the same output for any
 * thread count and batch size. With allowed_lateness a late event the
 * tasks take before every task has passed the window's end is in the
 * window's first emission, where one instance emits the window and then
 * an update: so url_clicks and window_summary are compared by their last
 * record per key, sessions and dead letters as they are. */
START_TEST(two_phase_gives_the_final_records_of_one_instance_for_any_thread_count)
{
    const char *dir = ts_tmpdir();
    char *input = generate(dir);
    char *one_dir = ts_strf("%s/one", dir);
    json_decref(replay(input, one_dir, 1, 1, 4096));
    two_phase = 1;
    const struct {
        int threads, batch;
    } runs[] = {{1, 4096}, {2, 4096}, {4, 4096}, {2, 7}};
    char *first[4] = {NULL};
    for (size_t r = 0; r < sizeof runs / sizeof runs[0]; r++) {
        char *out_dir = ts_strf("%s/two-t%d-b%d", dir, runs[r].threads, runs[r].batch);
        json_t *m = replay(input, out_dir, 4, runs[r].threads, runs[r].batch);
        ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(m, "runtime"), "stages")),
                         3); /* by event, by url, by user */
        ck_assert_int_gt(metric(m, "url_count/by_url", "in"), 0);
        ck_assert_int_eq(metric(m, "url_count/by_url", "in"), metric(m, "url_count/by_user", "in"));
        for (size_t k = 0; k < 4; k++) {
            char *text = read_output(out_dir, outputs[k]);
            if (r > 0) {
                ck_assert_msg(strcmp(first[k], text) == 0, "%s differs in parts with %d threads, batch %d",
                              outputs[k], runs[r].threads, runs[r].batch);
                free(text);
                continue;
            }
            first[k] = text;
            char *single = read_output(one_dir, outputs[k]);
            char *a = k < 2 ? final_by_key(single) : sorted(single);
            char *b = k < 2 ? final_by_key(text) : sorted(text);
            ck_assert_msg(strlen(a) > 0 || k == 3, "%s is empty", outputs[k]);
            ck_assert_msg(strcmp(a, b) == 0, "%s: url_count in parts and one instance give other results",
                          outputs[k]);
            free(a);
            free(b);
            free(single);
        }
        json_decref(m);
        free(out_dir);
    }
    two_phase = 0;
    for (size_t k = 0; k < 4; k++)
        free(first[k]);
    free(one_dir);
    free(input);
}
END_TEST

/* Two pipelines sharing a state_dir: the first stops after part of the input
 * (SIGTERM), the second resumes from its checkpoint. */
static void write_pipeline(const char *path, const char *dir, int partitions)
{
    char *yaml = ts_strf("name: tasks_restore\n"
                         "state_dir: '%s/state'\n"
                         "partitions: %d\n"
                         "threads: 2\n"
                         "steps:\n"
                         "  - name: clicks\n"
                         "    plugin: file\n"
                         "    options: {path: '%s/in.jsonl', follow: '${FOLLOW:-false}'}\n"
                         "    event: {max_future: 'off', max_out_of_order: 0ms}\n"
                         "  - name: dedup\n"
                         "    plugin: dedup\n"
                         "    input: clicks\n"
                         "  - name: sessionize\n"
                         "    plugin: sessionize\n"
                         "    input: dedup\n"
                         "    options: {gap: 10s}\n"
                         "  - name: out\n"
                         "    plugin: file\n"
                         "    input: sessionize\n"
                         "    options: {path: '%s/out.jsonl'}\n",
                         dir, partitions, dir, dir);
    ts_write_file(path, yaml);
    free(yaml);
}

/* Seven users clicking every 3.5 s, with a minute's pause every 100 clicks:
 * sessions of ~14 clicks that the cut below falls into. */
static char *clicks(int from, int to)
{
    size_t cap = (size_t)(to - from) * 96 + 1, len = 0;
    char *text = malloc(cap);
    text[0] = '\0';
    for (int i = from; i < to; i++)
        len += (size_t)snprintf(text + len, cap - len, "{\"user_id\":\"u%d\",\"url\":\"/p%d\",\"ts\":%d}\n",
                                i % 7, i % 11, 1000 + i * 500 + i / 100 * 60000);
    return text;
}

/* In dir: follow in.jsonl holding `first` until stopped (SIGTERM after 2 s),
 * append `second`, and resume to the end; in ref_dir: one run over both. */
static void stop_resume_and_reference(const char *dir, const char *ref_dir, const char *first,
                                      const char *second)
{
    char *whole = ts_strf("%s%s", first, second);
    char *in = ts_strf("%s/in.jsonl", dir), *second_path = ts_strf("%s/second.jsonl", dir);
    char *ref_in = ts_strf("%s/in.jsonl", ref_dir);
    ts_write_file(in, first);
    ts_write_file(second_path, second);
    ts_write_file(ref_in, whole);
    char *cmd =
        ts_strf("cd '%s' && { FOLLOW=true '%s' run p.yaml & pid=$!; sleep 2; kill -TERM $pid; "
                "wait $pid; } && cat second.jsonl >> in.jsonl && '%s' run p.yaml && cd '%s' && '%s' run "
                "p.yaml",
                dir, SLUICE_BIN, SLUICE_BIN, ref_dir, SLUICE_BIN);
    char *err = NULL;
    ck_assert_msg(ts_run(cmd, NULL, &err) == 0, "runs failed: %s", err);
    free(err);
    free(cmd);
    free(ref_in);
    free(second_path);
    free(in);
    free(whole);
}

/* Without key: the watermark is the process's and the checkpoint keeps it.
 * A click dated 2100 (max_future is off) lifts it past every later click:
 * one run rejects them all as too late, and so must a run stopped after
 * the 2100 click and resumed (it used to start its watermark afresh and
 * take them). */
START_TEST(a_restart_keeps_the_watermark_so_late_clicks_stay_late)
{
    char *dir = ts_strf("%s/wm_restart", ts_tmpdir()), *ref_dir = ts_strf("%s/wm_reference", ts_tmpdir());
    mkdir(dir, 0755);
    mkdir(ref_dir, 0755);
    char *yaml = ts_strf("%s/p.yaml", dir), *ref_yaml = ts_strf("%s/p.yaml", ref_dir);
    write_pipeline(yaml, dir, 4);
    write_pipeline(ref_yaml, ref_dir, 4);
    char *head = clicks(0, 250), *tail = clicks(250, 600);
    char *first = ts_strf("%s{\"user_id\":\"u0\",\"url\":\"/p0\",\"ts\":4102444800000}\n", head);
    stop_resume_and_reference(dir, ref_dir, first, tail);
    char *resumed = read_output(dir, "out.jsonl"), *reference = read_output(ref_dir, "out.jsonl");
    ck_assert_msg(strstr(reference, "4102444800000") != NULL, "no session of the 2100 click: %s", reference);
    char *a = sorted(resumed), *b = sorted(reference);
    ck_assert_msg(strcmp(a, b) == 0, "resumed (%s/out.jsonl) differs from one run (%s/out.jsonl)", dir,
                  ref_dir);
    free(a);
    free(b);
    free(resumed);
    free(reference);
    free(first);
    free(head);
    free(tail);
    free(ref_yaml);
    free(yaml);
    free(ref_dir);
    free(dir);
}
END_TEST

/* url_count in parts with state: stopped after part of the input and
 * resumed, its final results are those of one run; state written whole is
 * refused by the parts and the other way round. */
static void write_url_pipeline(const char *dir, const char *two_phase_setting)
{
    char *path = ts_strf("%s/p.yaml", dir);
    char *yaml = ts_strf("name: tasks_two_phase\n"
                         "state_dir: '%s/state'\n"
                         "partitions: 4\n"
                         "threads: 2\n"
                         "two_phase: %s\n"
                         "steps:\n"
                         "  - name: clicks\n"
                         "    plugin: file\n"
                         "    options: {path: '%s/in.jsonl', follow: '${FOLLOW:-false}'}\n"
                         "    event: {max_future: 'off', max_out_of_order: 2s}\n"
                         "  - name: url_count\n"
                         "    plugin: url_count\n"
                         "    input: clicks\n"
                         "    options: {size: 10s, allowed_lateness: 5s, top: 3}\n"
                         "  - name: out\n"
                         "    plugin: file\n"
                         "    input: url_count\n"
                         "    options: {path: '%s/out.jsonl'}\n",
                         dir, two_phase_setting, dir, dir);
    ts_write_file(path, yaml);
    free(yaml);
    free(path);
}

START_TEST(two_phase_state_survives_a_restart_and_whole_state_is_refused)
{
    char *dir = ts_strf("%s/two_phase_restart", ts_tmpdir());
    char *ref_dir = ts_strf("%s/two_phase_reference", ts_tmpdir());
    mkdir(dir, 0755);
    mkdir(ref_dir, 0755);
    write_url_pipeline(dir, "true");
    write_url_pipeline(ref_dir, "true");
    char *first = clicks(0, 250), *second = clicks(250, 600);
    stop_resume_and_reference(dir, ref_dir, first, second);
    char *out = ts_strf("%s/out.jsonl", dir), *ref_out = ts_strf("%s/out.jsonl", ref_dir);
    char *resumed = ts_read_file(out, NULL), *reference = ts_read_file(ref_out, NULL);
    ck_assert_msg(resumed && reference && strstr(reference, "window_summary"), "missing output");
    char *a = final_by_key(resumed), *b = final_by_key(reference);
    ck_assert_msg(strcmp(a, b) == 0, "resumed in parts (%s), the results differ from one run's (%s)", out,
                  ref_out);

    /* The state holds the parts' snapshots: url_count run whole cannot
     * read it, and parts cannot read a whole url_count's. */
    write_url_pipeline(dir, "false");
    char *err = NULL;
    char *run = ts_strf("cd '%s' && '%s' run p.yaml", dir, SLUICE_BIN);
    ck_assert_int_eq(ts_run(run, NULL, &err), 1);
    ck_assert_msg(err && strstr(err, "url_count/by_url"), "unclear refusal: %s", err ? err : "");
    free(err);
    char *fresh = ts_strf("rm -rf '%s/state' && cd '%s' && '%s' run p.yaml", dir, dir, SLUICE_BIN);
    ck_assert_int_eq(ts_run(fresh, NULL, NULL), 0);
    write_url_pipeline(dir, "true");
    err = NULL;
    ck_assert_int_eq(ts_run(run, NULL, &err), 1);
    ck_assert_msg(err && strstr(err, "written by url_count run whole"), "unclear refusal: %s",
                  err ? err : "");
    free(err);
    free(fresh);
    free(run);
    free(a);
    free(b);
    free(resumed);
    free(reference);
    free(out);
    free(ref_out);
    free(first);
    free(second);
    free(ref_dir);
    free(dir);
}
END_TEST

START_TEST(state_follows_its_task_across_a_restart_and_a_new_partition_count_is_refused)
{
    char *dir = ts_strf("%s/restart", ts_tmpdir());
    mkdir(dir, 0755);
    char *yaml = ts_strf("%s/p.yaml", dir);
    write_pipeline(yaml, dir, 4);
    char *first = clicks(0, 250), *second = clicks(250, 600);
    char *path = ts_strf("%s/in.jsonl", dir);
    ts_write_file(path, first);
    /* Run following the file until the first part is read and checkpointed,
     * stop, append the rest, and run to the end. */
    char *cmd = ts_strf("cd '%s' && { FOLLOW=true '%s' run p.yaml & pid=$!; sleep 2; kill -TERM $pid; "
                        "wait $pid; } && cat second.jsonl >> in.jsonl && '%s' run p.yaml",
                        dir, SLUICE_BIN, SLUICE_BIN);
    char *second_path = ts_strf("%s/second.jsonl", dir);
    ts_write_file(second_path, second);
    char *err = NULL;
    ck_assert_msg(ts_run(cmd, NULL, &err) == 0, "interrupted run failed: %s", err);
    free(err);
    char *out_path = ts_strf("%s/out.jsonl", dir);
    char *resumed = ts_read_file(out_path, NULL);

    /* The same input in one go, elsewhere. */
    char *ref_dir = ts_strf("%s/reference", ts_tmpdir());
    mkdir(ref_dir, 0755);
    char *ref_yaml = ts_strf("%s/p.yaml", ref_dir);
    write_pipeline(ref_yaml, ref_dir, 4);
    char *whole = ts_strf("%s%s", first, second);
    char *ref_in = ts_strf("%s/in.jsonl", ref_dir);
    ts_write_file(ref_in, whole);
    char *ref_cmd = ts_strf("cd '%s' && '%s' run p.yaml", ref_dir, SLUICE_BIN);
    err = NULL;
    ck_assert_msg(ts_run(ref_cmd, NULL, &err) == 0, "reference run failed: %s", err);
    free(err);
    char *ref_out = ts_strf("%s/out.jsonl", ref_dir);
    char *reference = ts_read_file(ref_out, NULL);
    ck_assert_msg(resumed && reference && strlen(reference) > 0, "missing output");
    char *a = sorted(resumed), *b = sorted(reference);
    ck_assert_msg(strcmp(a, b) == 0, "the resumed run's sessions (%s) differ from one run's (%s)", out_path,
                  ref_out);

    /* The state holds 4 tasks' snapshots: 3 partitions cannot read it. */
    write_pipeline(yaml, dir, 3);
    char *refused = ts_strf("cd '%s' && '%s' run p.yaml", dir, SLUICE_BIN);
    err = NULL;
    ck_assert_int_eq(ts_run(refused, NULL, &err), 1);
    ck_assert_msg(err && strstr(err, "split over 4 tasks, the pipeline now runs it in 3") &&
                      strstr(err, "partitions: 4"),
                  "unclear refusal: %s", err ? err : "");
    free(err);
    free(a);
    free(b);
    free(refused);
    free(ref_cmd);
    free(ref_in);
    free(ref_out);
    free(out_path);
    free(whole);
    free(ref_yaml);
    free(resumed);
    free(reference);
    free(second_path);
    free(cmd);
    free(path);
    free(first);
    free(second);
    free(yaml);
    free(ref_dir);
    free(dir);
}
END_TEST

/* key: on the source: shown by check for the shipped clickstream pipeline,
 * refused with a reason everywhere it cannot apply. */
/* A pipeline whose url_count runs beside sessionize's tasks, so that on 2
 * threads a helper polls the file ahead in every tick (docs/pipelines.md). */
static void write_ahead_pipeline(const char *dir, const char *input)
{
    char *path = ts_strf("%s/p.yaml", dir);
    char *yaml = ts_strf(
        "name: tasks_ahead\n"
        "state_dir: '%s/state'\n"
        "batch_size: 4\n" /* many ticks: the stop lands mid-stream */
        "partitions: 4\n"
        "threads: 2\n"
        "steps:\n"
        "  - name: clicks\n"
        "    plugin: file\n"
        "    options: {path: '%s'}\n"
        "    event: {max_future: 1h, max_out_of_order: 2s}\n"
        "  - {name: dedup, plugin: dedup, input: clicks}\n"
        "  - {name: url_count, plugin: url_count, input: dedup, options: {size: 10s}}\n"
        "  - {name: sessionize, plugin: sessionize, input: dedup, options: {gap: 1m}}\n"
        "  - {name: counts, plugin: file, input: url_count, options: {path: '%s/counts.jsonl'}}\n"
        "  - {name: sessions, plugin: file, input: sessionize, options: {path: '%s/sessions.jsonl'}}\n",
        dir, input, dir, dir);
    ts_write_file(path, yaml);
    free(yaml);
    free(path);
}

/* Stopped (SIGTERM) while a batch polled ahead waits, the run processes
 * that batch before its last checkpoint: the source's saved position is
 * past it. Resumed, the results are those of one run. */
START_TEST(a_stop_runs_the_batch_polled_ahead_before_the_last_checkpoint)
{
    const char *tmp = ts_tmpdir();
    char *dir = ts_strf("%s/ahead_stop", tmp), *ref_dir = ts_strf("%s/ahead_reference", tmp);
    mkdir(dir, 0755);
    mkdir(ref_dir, 0755);
    char *input =
        generate_with(tmp, "{count: 300000, users: 5000, urls: 200, start: 1795737600000, seed: 11}");
    write_ahead_pipeline(dir, input);
    write_ahead_pipeline(ref_dir, input);
    char *cmd =
        ts_strf("cd '%s' && { '%s' run --metrics m1.json p.yaml & pid=$!; sleep 0.3; kill -TERM $pid; "
                "wait $pid; } && '%s' run p.yaml && cd '%s' && '%s' run p.yaml",
                dir, SLUICE_BIN, SLUICE_BIN, ref_dir, SLUICE_BIN);
    char *err = NULL;
    ck_assert_msg(ts_run(cmd, NULL, &err) == 0, "runs failed: %s", err);
    free(err);
    char *m_path = ts_strf("%s/m1.json", dir);
    json_error_t jerr;
    json_t *m = json_load_file(m_path, 0, &jerr);
    ck_assert_msg(m != NULL, "metrics: %s", jerr.text);
    json_int_t read = metric(m, "clicks", "read");
    ck_assert_msg(read > 0 && read < 300000, "the stop did not land mid-stream: %lld read", (long long)read);
    json_int_t ahead = json_integer_value(json_object_get(json_object_get(m, "runtime"), "polls_ahead"));
    ck_assert_msg(ahead > 0, "the stopped run never polled ahead");
    const char *outs[] = {"counts.jsonl", "sessions.jsonl"};
    for (size_t k = 0; k < 2; k++) {
        char *a_text = read_output(dir, outs[k]), *b_text = read_output(ref_dir, outs[k]);
        char *a = sorted(a_text), *b = sorted(b_text);
        ck_assert_msg(strlen(b) > 0, "%s is empty", outs[k]);
        ck_assert_msg(strcmp(a, b) == 0, "%s: stopped and resumed (%s) differs from one run (%s)", outs[k],
                      dir, ref_dir);
        free(a);
        free(b);
        free(a_text);
        free(b_text);
    }
    json_decref(m);
    free(m_path);
    free(cmd);
    free(input);
    free(ref_dir);
    free(dir);
}
END_TEST

START_TEST(check_shows_partition_tasks_and_refuses_key_where_it_cannot_apply)
{
    char *cmd = ts_strf("%s check %s/pipelines/clickstream.yaml", SLUICE_BIN, SLUICE_SOURCE_DIR);
    char *out = NULL, *err = NULL;
    ck_assert_msg(ts_run(cmd, &out, &err) == 0, "%s", err);
    ck_assert_msg(strstr(out,
                         "stage 1 (keyed by user, a task per input partition): dedup, url_count/partial, "
                         "sessionize; by input partition (keyed by user) from clicks\n"),
                  "check does not show the partition tasks:\n%s", out);
    ck_assert_msg(strstr(out, "stage 2 (a task per partition of the exchange): url_count, window_summaries; "
                              "through the broker from url_count/partial\n") &&
                      strstr(out,
                             "exchange \"clickstream.url_count\" through the broker: url_count/partial -> "
                             "url_count"),
                  "check does not show the exchange:\n%s", out);
    free(out);
    free(err);
    free(cmd);
    static const char *const bad[][2] = {
        {"  - {name: clicks, plugin: file, key: user_id, options: {path: /dev/null}}\n",
         "plugin 'file' cannot run partition tasks"},
        {"  - {name: clicks, plugin: kafka, key: url, options: {topics: [t], group: g}}\n",
         "only the user field ('user_id') is supported, not 'url'"},
        {"  - {name: clicks, plugin: file, options: {path: /dev/null}}\n"
         "  - {name: d, plugin: dedup, input: clicks, key: user_id}\n",
         "key: applies only to the source step"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *path = ts_strf("%s/key%zu.yaml", ts_tmpdir(), i);
        char *yaml = ts_strf("steps:\n%s  - {name: out, plugin: stdout, input: %s}\n", bad[i][0],
                             i == 2 ? "d" : "clicks");
        ts_write_file(path, yaml);
        cmd = ts_strf("%s check %s", SLUICE_BIN, path);
        err = NULL;
        ck_assert_int_ne(ts_run(cmd, NULL, &err), 0);
        ck_assert_msg(err && strstr(err, bad[i][1]), "case %zu: want '%s' in:\n%s", i, bad[i][1], err);
        free(err);
        free(cmd);
        free(yaml);
        free(path);
    }
}
END_TEST

START_TEST(check_and_graph_show_the_stages_and_their_exchanges)
{
    char *cmd = ts_strf(
        "PARTITIONS=6 %s check %s/pipelines/replay.yaml && PARTITIONS=6 %s graph %s/pipelines/replay.yaml",
        SLUICE_BIN, SLUICE_SOURCE_DIR, SLUICE_BIN, SLUICE_SOURCE_DIR);
    char *out = NULL, *err = NULL;
    ck_assert_msg(ts_run(cmd, &out, &err) == 0, "%s", err);
    ck_assert_msg(
        strstr(out, "stage 1 (keyed by event, 6 tasks): dedup; exchange by event from clicks\n") &&
            strstr(out, "stage 2 (keyed by user, 6 tasks): sessionize; exchange by user from dedup\n") &&
            strstr(out, "once, on the pipeline's thread: clicks, url_count,"),
        "check does not show the stages:\n%s", out);
    /* The graph boxes each stage and draws the exchanges into it in bold. */
    ck_assert_msg(strstr(out, "label=\"stage 2: keyed by user, 6 tasks\";\n    \"sessionize\";") &&
                      strstr(out, "\"dedup\" -> \"sessionize\" [label=\"exchange\", style=bold];") &&
                      strstr(out, "\"dedup\" -> \"url_count\";"),
                  "graph does not show the stages:\n%s", out);
    free(out);
    free(err);
    free(cmd);
    cmd = ts_strf("PARTITIONS=1 %s check %s/pipelines/replay.yaml", SLUICE_BIN, SLUICE_SOURCE_DIR);
    ck_assert_int_eq(ts_run(cmd, &out, NULL), 0);
    ck_assert_msg(strstr(out, "stage") == NULL && strstr(out, "once") == NULL,
                  "one partition still shows stages:\n%s", out);
    free(out);
    free(cmd);
}
END_TEST

START_TEST(a_quiet_stream_closes_every_tasks_sessions_in_time)
{
    /* Nine users click once; an hour later one of them clicks again. The
     * watermark then passes the others' sessions (gap 30m), in tasks that
     * get no record after theirs: they must come out while the input is
     * still open, not at its end. */
    char *dir = ts_strf("%s/quiet", ts_tmpdir());
    mkdir(dir, 0755);
    char *yaml = ts_strf("%s/p.yaml", dir);
    char *body = ts_strf("partitions: 8\n"
                         "threads: 2\n"
                         "checkpoint_interval: 50ms\n"
                         "steps:\n"
                         "  - name: clicks\n"
                         "    plugin: file\n"
                         "    options: {path: /dev/stdin}\n"
                         "    event: {max_future: 'off', max_out_of_order: 0ms}\n"
                         "  - name: sessionize\n"
                         "    plugin: sessionize\n"
                         "    input: clicks\n"
                         "    options: {gap: 30m}\n"
                         "  - name: out\n"
                         "    plugin: file\n"
                         "    input: sessionize\n"
                         "    options: {path: '%s/out.jsonl'}\n",
                         dir);
    ts_write_file(yaml, body);
    char *cmd = ts_strf("cd '%s' && { for u in 1 2 3 4 5 6 7 8 9; do "
                        "printf '{\"user_id\":\"u%%s\",\"url\":\"/\",\"ts\":%%s}\\n' $u $((1000 + u)); done; "
                        "printf '{\"user_id\":\"u1\",\"url\":\"/\",\"ts\":7200000}\\n'; "
                        "sleep 1.5; cp out.jsonl seen.jsonl; } | '%s' run p.yaml",
                        dir, SLUICE_BIN);
    char *err = NULL;
    ck_assert_msg(ts_run(cmd, NULL, &err) == 0, "%s", err);
    char *seen_path = ts_strf("%s/seen.jsonl", dir);
    char *seen = ts_read_file(seen_path, NULL);
    ck_assert_msg(seen != NULL, "no output while the input was open");
    /* u1's first session and u2..u9's: all nine, before the end. */
    ck_assert_uint_eq(ts_count_lines(seen_path), 9);
    for (int u = 1; u <= 9; u++) {
        char *want = ts_strf("\"user_id\":\"u%d\"", u);
        ck_assert_msg(strstr(seen, want), "u%d's session had not come out: %s", u, seen);
        free(want);
    }
    free(seen);
    free(seen_path);
    free(err);
    free(cmd);
    free(body);
    free(yaml);
    free(dir);
}
END_TEST

int main(void)
{
    /* Every round on the workers, however small: the tests of threads
     * below run small ticks (batch_size 7, 256). */
    setenv("SLUICE_PARALLEL_MIN", "1", 1);
    Suite *s = suite_create("tasks");
    TCase *tc = tcase_create("replay");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, any_thread_count_and_batch_size_give_the_same_records);
    tcase_add_test(tc, four_tasks_on_two_threads_share_the_work);
    tcase_add_test(tc, small_rounds_stay_on_the_pipelines_thread);
    tcase_add_test(tc, the_end_flushes_the_tasks_in_rounds_the_same_on_any_thread_count);
    tcase_add_test(tc, two_phase_gives_the_final_records_of_one_instance_for_any_thread_count);
    tcase_add_test(tc, state_follows_its_task_across_a_restart_and_a_new_partition_count_is_refused);
    tcase_add_test(tc, two_phase_state_survives_a_restart_and_whole_state_is_refused);
    tcase_add_test(tc, check_and_graph_show_the_stages_and_their_exchanges);
    tcase_add_test(tc, check_shows_partition_tasks_and_refuses_key_where_it_cannot_apply);
    tcase_add_test(tc, a_quiet_stream_closes_every_tasks_sessions_in_time);
    tcase_add_test(tc, a_stop_runs_the_batch_polled_ahead_before_the_last_checkpoint);
    tcase_add_test(tc, a_restart_keeps_the_watermark_so_late_clicks_stay_late);
    suite_add_tcase(s, tc);
    return ts_run_suite(s);
}
