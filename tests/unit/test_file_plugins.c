/* The shipped file source and file/stdout sinks, run through the real
 * `sluice` binary as a user would: lines in, lines out, origins, errors. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "test_support.h"

static char *tmp_path(const char *name) { return ts_strf("%s/%s", ts_tmpdir(), name); }

/* Writes a pipeline file and runs it; returns the exit code. */
static int run_pipeline(const char *name, const char *yaml, char **out, char **err)
{
    char *path = tmp_path(name);
    ts_write_file(path, yaml);
    char *cmd = ts_strf("cd '%s' && '%s' run '%s'", ts_tmpdir(), SLUICE_BIN, path);
    int rc = ts_run(cmd, out, err);
    free(cmd);
    free(path);
    return rc;
}

static void write_bytes(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot write %s", path);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    fclose(f);
}

/* A raw file-to-file pipeline from `in` to `out` with extra sink options. */
static char *raw_copy_yaml(const char *in, const char *source_opts, const char *out, const char *sink_opts)
{
    return ts_strf("steps:\n"
                   "  - name: lines\n"
                   "    plugin: file\n"
                   "    options: {path: '%s'%s}\n"
                   "    event: raw\n"
                   "  - name: copy\n"
                   "    plugin: file\n"
                   "    input: lines\n"
                   "    options: {path: '%s'%s}\n",
                   in, source_opts, out, sink_opts);
}

static const char *const plugin_files[] = {"source-file.so", "sink-file.so", "sink-stdout.so",
                                           "source-clickgen.so"};

START_TEST(each_plugin_exports_only_its_entry_function)
{
    for (size_t i = 0; i < sizeof plugin_files / sizeof plugin_files[0]; i++) {
        char *cmd = ts_strf("nm -D --defined-only '%s/%s'", SLUICE_PLUGIN_DIR, plugin_files[i]);
        char *out = NULL;
        ck_assert_int_eq(ts_run(cmd, &out, NULL), 0);
        size_t lines = 0;
        for (char *p = out; *p; p++)
            lines += *p == '\n';
        ck_assert_msg(lines == 1 && strstr(out, " T sluice_plugin_entry\n") != NULL, "%s exports:\n%s",
                      plugin_files[i], out);
        free(out);
        free(cmd);
    }
}
END_TEST

START_TEST(plugins_link_no_engine_library)
{
    for (size_t i = 0; i < sizeof plugin_files / sizeof plugin_files[0]; i++) {
        char *cmd = ts_strf("readelf -d '%s/%s' | grep NEEDED", SLUICE_PLUGIN_DIR, plugin_files[i]);
        char *out = NULL;
        ts_run(cmd, &out, NULL);
        ck_assert_msg(strstr(out, "libc.so") != NULL, "%s: %s", plugin_files[i], out);
        ck_assert_msg(strstr(out, "jansson") == NULL && strstr(out, "yaml") == NULL &&
                          strstr(out, "rdkafka") == NULL && strstr(out, "sluice") == NULL,
                      "%s needs an engine library:\n%s", plugin_files[i], out);
        free(out);
        free(cmd);
    }
}
END_TEST

START_TEST(raw_copy_keeps_every_line_byte_for_byte)
{
    /* CRLF, an empty line, a 3 MiB line (longer than the 1 MiB read buffer)
     * and a last line without newline. */
    size_t long_len = 3u << 20;
    char *long_line = malloc(long_len + 1);
    for (size_t i = 0; i < long_len; i++)
        long_line[i] = (char)('a' + i % 26);
    long_line[long_len] = '\0';
    char *input = ts_strf("{\"a\":1}\r\n\n%s\n{\"b\":2}\n{\"c\":\"last\"}", long_line);
    char *expected = ts_strf("{\"a\":1}\n\n%s\n{\"b\":2}\n{\"c\":\"last\"}\n", long_line);
    char *in = tmp_path("in.jsonl"), *out = tmp_path("out.jsonl");
    write_bytes(in, input, strlen(input));
    char *yaml = raw_copy_yaml(in, "", out, "");
    char *err = NULL;
    ck_assert_msg(run_pipeline("copy.yaml", yaml, NULL, &err) == 0, "%s", err);
    size_t got_len = 0;
    char *got = ts_read_file(out, &got_len);
    ck_assert_ptr_nonnull(got);
    ck_assert_uint_eq(got_len, strlen(expected));
    ck_assert_msg(memcmp(got, expected, got_len) == 0, "output differs from the input lines");
    free(got);
    free(err);
    free(yaml);
    free(in);
    free(out);
    free(expected);
    free(input);
    free(long_line);
}
END_TEST

START_TEST(a_line_longer_than_max_line_bytes_is_cut_and_the_next_lines_survive)
{
    char *in = tmp_path("in.jsonl"), *out = tmp_path("out.jsonl");
    ts_write_file(in, "0123456789abcdef\n{\"x\":1}\nshort\n");
    char *yaml = raw_copy_yaml(in, ", max_line_bytes: 8", out, "");
    char *err = NULL;
    ck_assert_msg(run_pipeline("cut.yaml", yaml, NULL, &err) == 0, "%s", err);
    char *got = ts_read_file(out, NULL);
    ck_assert_str_eq(got, "01234567\n{\"x\":1}\nshort\n");
    ck_assert_msg(strstr(err, "max_line_bytes") != NULL, "no warning about the cut line: %s", err);
    free(got);
    free(err);
    free(yaml);
    free(in);
    free(out);
}
END_TEST

START_TEST(rejected_lines_carry_their_path_and_line_as_origin)
{
    char *in = tmp_path("clicks.jsonl"), *good = tmp_path("good.jsonl"), *bad = tmp_path("bad.jsonl");
    ts_write_file(in, "{\"user_id\":\"u1\",\"url\":\"/a\",\"ts\":1000}\n"
                      "not json\r\n"
                      "{\"user_id\":\"u2\",\"url\":\"/b\",\"ts\":2000}\r\n"
                      "\n"
                      "{\"user_id\":\"u3\",\"url\":\"/c\",\"ts\":3000}");
    char *yaml = ts_strf("steps:\n"
                         "  - name: clicks\n"
                         "    plugin: file\n"
                         "    options: {path: '%s'}\n"
                         "  - name: good\n"
                         "    plugin: file\n"
                         "    input: clicks\n"
                         "    options: {path: '%s'}\n"
                         "  - name: bad\n"
                         "    plugin: file\n"
                         "    input: clicks.rejected\n"
                         "    options: {path: '%s'}\n",
                         in, good, bad);
    char *err = NULL;
    ck_assert_msg(run_pipeline("origins.yaml", yaml, NULL, &err) == 0, "%s", err);
    /* Every line is counted: 3 accepted, 2 rejected (the empty one too). */
    ck_assert_uint_eq(ts_count_lines(good), 3);
    ck_assert_uint_eq(ts_count_lines(bad), 2);
    char *rejected = ts_read_file(bad, NULL);
    char *origin2 = ts_strf("\"origin\":\"%s:2\"", in);
    char *origin4 = ts_strf("\"origin\":\"%s:4\"", in);
    ck_assert_msg(strstr(rejected, origin2) != NULL, "no %s in %s", origin2, rejected);
    ck_assert_msg(strstr(rejected, origin4) != NULL, "no %s in %s", origin4, rejected);
    /* The CR of a CRLF line ends the line: it is not part of the message. */
    ck_assert_msg(strstr(rejected, "\"raw\":\"not json\"") != NULL, "%s", rejected);
    free(origin2);
    free(origin4);
    free(rejected);
    free(err);
    free(yaml);
    free(in);
    free(good);
    free(bad);
}
END_TEST

START_TEST(dash_reads_stdin_with_stdin_origins)
{
    char *in = tmp_path("in.jsonl"), *bad = tmp_path("bad.jsonl"), *pipeline = tmp_path("stdin.yaml");
    ts_write_file(in, "{\"user_id\":\"u1\",\"url\":\"/a\",\"ts\":1000}\n[1,2]\n");
    char *yaml = ts_strf("steps:\n"
                         "  - name: clicks\n"
                         "    plugin: file\n"
                         "    options: {path: '-'}\n"
                         "  - name: out\n"
                         "    plugin: stdout\n"
                         "    input: clicks\n"
                         "  - name: bad\n"
                         "    plugin: file\n"
                         "    input: clicks.rejected\n"
                         "    options: {path: '%s'}\n",
                         bad);
    ts_write_file(pipeline, yaml);
    /* Through a pipe, so the source waits on a stream rather than a file. */
    char *cmd = ts_strf("cat '%s' | '%s' run '%s'", in, SLUICE_BIN, pipeline);
    char *out = NULL, *err = NULL;
    ck_assert_msg(ts_run(cmd, &out, &err) == 0, "%s", err);
    ck_assert_str_eq(out, "{\"user_id\":\"u1\",\"url\":\"/a\",\"ts\":1000}\n");
    char *rejected = ts_read_file(bad, NULL);
    ck_assert_msg(strstr(rejected, "\"origin\":\"stdin:2\"") != NULL, "%s", rejected);
    free(rejected);
    free(out);
    free(err);
    free(cmd);
    free(yaml);
    free(in);
    free(bad);
    free(pipeline);
}
END_TEST

START_TEST(the_file_sink_appends_unless_asked_to_truncate)
{
    char *in = tmp_path("in.jsonl"), *out = tmp_path("out.jsonl");
    ts_write_file(in, "{\"n\":1}\n{\"n\":2}\n");
    char *append = raw_copy_yaml(in, "", out, "");
    char *truncate = raw_copy_yaml(in, "", out, ", truncate: true");
    ck_assert_int_eq(run_pipeline("append.yaml", append, NULL, NULL), 0);
    ck_assert_int_eq(run_pipeline("append.yaml", append, NULL, NULL), 0);
    ck_assert_uint_eq(ts_count_lines(out), 4);
    ck_assert_int_eq(run_pipeline("truncate.yaml", truncate, NULL, NULL), 0);
    char *got = ts_read_file(out, NULL);
    ck_assert_str_eq(got, "{\"n\":1}\n{\"n\":2}\n");
    free(got);
    free(append);
    free(truncate);
    free(in);
    free(out);
}
END_TEST

START_TEST(the_file_sink_creates_missing_parent_folders)
{
    char *in = tmp_path("in.jsonl"), *out = tmp_path("out/deeper/results.jsonl");
    ts_write_file(in, "{\"n\":1}\n");
    char *yaml = raw_copy_yaml(in, "", out, ", fsync: true, buffer_size: 4");
    char *err = NULL;
    ck_assert_msg(run_pipeline("mkdir.yaml", yaml, NULL, &err) == 0, "%s", err);
    char *got = ts_read_file(out, NULL);
    ck_assert_ptr_nonnull(got);
    ck_assert_str_eq(got, "{\"n\":1}\n");
    free(got);
    free(err);
    free(yaml);
    free(in);
    free(out);
}
END_TEST

START_TEST(an_unwritable_output_path_fails_with_a_message_naming_it)
{
    char *in = tmp_path("in.jsonl"), *blocker = tmp_path("not-a-folder");
    ts_write_file(in, "{\"n\":1}\n");
    ts_write_file(blocker, "a file where a folder is expected\n");
    char *out = ts_strf("%s/out.jsonl", blocker);
    char *yaml = raw_copy_yaml(in, "", out, "");
    char *err = NULL;
    int rc = run_pipeline("unwritable.yaml", yaml, NULL, &err);
    ck_assert_int_ne(rc, 0);
    ck_assert_msg(strstr(err, out) != NULL || strstr(err, blocker) != NULL,
                  "the error does not name the path: %s", err);
    free(err);
    free(yaml);
    free(out);
    free(in);
    free(blocker);
}
END_TEST

START_TEST(a_missing_input_file_fails_with_a_message_naming_it)
{
    char *in = tmp_path("no-such-input.jsonl"), *out = tmp_path("out.jsonl");
    char *yaml = raw_copy_yaml(in, "", out, "");
    char *err = NULL;
    ck_assert_int_ne(run_pipeline("missing.yaml", yaml, NULL, &err), 0);
    ck_assert_msg(strstr(err, in) != NULL && strstr(err, "No such file") != NULL, "%s", err);
    free(err);
    free(yaml);
    free(in);
    free(out);
}
END_TEST

START_TEST(the_stdout_sink_writes_one_json_line_per_record)
{
    char *in = tmp_path("in.jsonl");
    ts_write_file(in, "{\"n\":1}\n{\"n\":2}\n{\"n\":3}");
    char *yaml = ts_strf("steps:\n"
                         "  - name: lines\n"
                         "    plugin: file\n"
                         "    options: {path: '%s'}\n"
                         "    event: raw\n"
                         "  - name: out\n"
                         "    plugin: stdout\n"
                         "    input: lines\n",
                         in);
    char *out = NULL, *err = NULL;
    ck_assert_msg(run_pipeline("stdout.yaml", yaml, &out, &err) == 0, "%s", err);
    ck_assert_str_eq(out, "{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n");
    free(out);
    free(err);
    free(yaml);
    free(in);
}
END_TEST

START_TEST(a_closed_stdout_stops_the_pipeline_with_a_clear_error)
{
    char *pipeline = tmp_path("endless.yaml"), *rc_path = tmp_path("rc"), *err_path = tmp_path("err");
    ts_write_file(pipeline, "steps:\n"
                            "  - name: clicks\n"
                            "    plugin: clickgen\n"
                            "    options: {count: 0}\n"
                            "    event: raw\n"
                            "  - name: out\n"
                            "    plugin: stdout\n"
                            "    input: clicks\n");
    char *cmd = ts_strf("('%s' run '%s' 2>'%s'; echo $? >'%s') | head -c 100 >/dev/null", SLUICE_BIN,
                        pipeline, err_path, rc_path);
    ts_run(cmd, NULL, NULL);
    char *rc = ts_read_file(rc_path, NULL);
    char *err = ts_read_file(err_path, NULL);
    ck_assert_ptr_nonnull(rc);
    ck_assert_msg(atoi(rc) != 0, "exit code %s", rc);
    ck_assert_msg(strstr(err, "broken pipe") != NULL, "%s", err);
    free(rc);
    free(err);
    free(cmd);
    free(pipeline);
    free(rc_path);
    free(err_path);
}
END_TEST

/* A followed input never ends, so what shows in the output while the
 * pipeline runs can only have been written by the flush timer. */
START_TEST(followed_lines_reach_the_output_file_while_the_pipeline_runs)
{
    char *in = tmp_path("growing.jsonl"), *out = tmp_path("live.jsonl"), *pipeline = tmp_path("follow.yaml");
    ts_write_file(in, "{\"n\":1}\n");
    char *yaml = raw_copy_yaml(in, ", follow: true", out, ", flush_interval: 100ms");
    ts_write_file(pipeline, yaml);
    char *cmd = ts_strf("'%s' run '%s' & pid=$!; sleep 1; "
                        "printf '{\"n\":2}\\n{\"n\":' >>'%s'; sleep 0.3; printf '3}\\n' >>'%s'; "
                        "sleep 1; cp '%s' '%s.seen'; kill $pid; wait $pid",
                        SLUICE_BIN, pipeline, in, in, out, out);
    char *err = NULL;
    ts_run(cmd, NULL, &err);
    char *seen_path = ts_strf("%s.seen", out);
    char *seen = ts_read_file(seen_path, NULL);
    ck_assert_ptr_nonnull(seen);
    ck_assert_msg(strcmp(seen, "{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n") == 0, "seen: %s\nlog: %s", seen, err);
    free(seen);
    free(seen_path);
    free(err);
    free(cmd);
    free(yaml);
    free(in);
    free(out);
    free(pipeline);
}
END_TEST

START_TEST(with_a_state_folder_a_rerun_reads_only_the_lines_appended_since)
{
    char *in = tmp_path("growing.jsonl"), *state = tmp_path("state");
    ts_write_file(in, "{\"n\":1}\n{\"n\":2}\n");
    char *yaml = ts_strf("state_dir: '%s'\n"
                         "steps:\n"
                         "  - name: lines\n"
                         "    plugin: file\n"
                         "    options: {path: '%s'}\n"
                         "    event: raw\n"
                         "  - name: out\n"
                         "    plugin: stdout\n"
                         "    input: lines\n",
                         state, in);
    char *out = NULL, *err = NULL;
    ck_assert_msg(run_pipeline("resume.yaml", yaml, &out, &err) == 0, "%s", err);
    ck_assert_str_eq(out, "{\"n\":1}\n{\"n\":2}\n");
    free(out);
    free(err);
    FILE *f = fopen(in, "ab");
    fputs("{\"n\":3}\n", f);
    fclose(f);
    ck_assert_msg(run_pipeline("resume.yaml", yaml, &out, &err) == 0, "%s", err);
    ck_assert_str_eq(out, "{\"n\":3}\n");
    free(out);
    free(err);
    free(yaml);
    free(in);
    free(state);
}
END_TEST

/* Killed without a chance to flush at exit: whatever reached stdout was
 * written by the flush timer while the pipeline ran. */
START_TEST(the_stdout_sink_shows_live_output_while_the_pipeline_runs)
{
    char *pipeline = tmp_path("live.yaml"), *out = tmp_path("live.out");
    ts_write_file(pipeline, "steps:\n"
                            "  - name: clicks\n"
                            "    plugin: clickgen\n"
                            "    options: {count: 0, rate: 50}\n"
                            "    event: raw\n"
                            "  - name: out\n"
                            "    plugin: stdout\n"
                            "    input: clicks\n"
                            "    options: {flush_interval: 200ms}\n");
    char *cmd = ts_strf("'%s' run '%s' >'%s' & pid=$!; sleep 1.5; kill -9 $pid; wait $pid", SLUICE_BIN,
                        pipeline, out);
    ts_run(cmd, NULL, NULL);
    size_t lines = ts_count_lines(out);
    ck_assert_msg(lines >= 20, "only %zu lines visible after 1.5 s at 50 events/s", lines);
    free(cmd);
    free(pipeline);
    free(out);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("file_plugins");
    TCase *tc = tcase_create("file_plugins");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, each_plugin_exports_only_its_entry_function);
    tcase_add_test(tc, plugins_link_no_engine_library);
    tcase_add_test(tc, raw_copy_keeps_every_line_byte_for_byte);
    tcase_add_test(tc, a_line_longer_than_max_line_bytes_is_cut_and_the_next_lines_survive);
    tcase_add_test(tc, rejected_lines_carry_their_path_and_line_as_origin);
    tcase_add_test(tc, dash_reads_stdin_with_stdin_origins);
    tcase_add_test(tc, the_file_sink_appends_unless_asked_to_truncate);
    tcase_add_test(tc, the_file_sink_creates_missing_parent_folders);
    tcase_add_test(tc, an_unwritable_output_path_fails_with_a_message_naming_it);
    tcase_add_test(tc, a_missing_input_file_fails_with_a_message_naming_it);
    tcase_add_test(tc, the_stdout_sink_writes_one_json_line_per_record);
    tcase_add_test(tc, a_closed_stdout_stops_the_pipeline_with_a_clear_error);
    tcase_add_test(tc, the_stdout_sink_shows_live_output_while_the_pipeline_runs);
    tcase_add_test(tc, followed_lines_reach_the_output_file_while_the_pipeline_runs);
    tcase_add_test(tc, with_a_state_folder_a_rerun_reads_only_the_lines_appended_since);
    suite_add_tcase(s, tc);
    return ts_run_suite(s);
}
