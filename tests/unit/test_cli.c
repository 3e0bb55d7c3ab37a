/* The sluice command line: help, version, exit codes, check, graph, run with
 * several pipelines, and signals. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_support.h"

static char *write_pipeline(const char *name, const char *body)
{
    char *path = ts_strf("%s/%s", ts_tmpdir(), name);
    ts_write_file(path, body);
    return path;
}

static int sluice(const char *args, char **out, char **err)
{
    char *cmd = ts_strf("%s %s", SLUICE_BIN, args);
    int rc = ts_run(cmd, out, err);
    free(cmd);
    return rc;
}

START_TEST(version_and_help)
{
    char *out = NULL;
    ck_assert_int_eq(sluice("--version", &out, NULL), 0);
    ck_assert_msg(strncmp(out, "sluice " SLUICE_VERSION " ", strlen("sluice " SLUICE_VERSION " ")) == 0 &&
                      strstr(out, "plugin ABI 1."),
                  "%s", out);
    free(out);
    const char *cmds[] = {"--help",       "run --help",     "check --help",
                          "graph --help", "plugins --help", "broker --help"};
    for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++) {
        ck_assert_msg(sluice(cmds[i], &out, NULL) == 0, "%s failed", cmds[i]);
        ck_assert_msg(strstr(out, "Usage: sluice") != NULL, "%s: %s", cmds[i], out);
        free(out);
    }
}
END_TEST

START_TEST(usage_errors_exit_2)
{
    ck_assert_int_eq(sluice("", NULL, NULL), 2);
    ck_assert_int_eq(sluice("frobnicate", NULL, NULL), 2);
    ck_assert_int_eq(sluice("run", NULL, NULL), 2);
    ck_assert_int_eq(sluice("--log-level loud run x.yaml", NULL, NULL), 2);
}
END_TEST

START_TEST(check_reports_every_error_with_positions)
{
    char *p = write_pipeline("bad.yaml", "name: bad\n"
                                         "steps:\n"
                                         "  - name: clicks\n"
                                         "    plugin: file\n"
                                         "    options: {path: /dev/null, colour: red}\n"
                                         "  - name: counts\n"
                                         "    plugin: url_count\n"
                                         "    input: clickz\n"
                                         "    options: {size: 5 minutes}\n"
                                         "  - name: out\n"
                                         "    plugin: stdout\n"
                                         "    input: counts\n"
                                         "    event: raw\n");
    char *args = ts_strf("check %s", p);
    char *err = NULL;
    ck_assert_int_eq(sluice(args, NULL, &err), 3);
    ck_assert_msg(strstr(err, "bad.yaml:5:32: error: unknown option 'colour'") != NULL, "%s", err);
    ck_assert_msg(strstr(err, "bad.yaml:9:21: error:") != NULL && strstr(err, "5 minutes"), "%s", err);
    ck_assert_msg(strstr(err, "bad.yaml:13:12: error: step 'out': event: applies only to the source step") !=
                      NULL,
                  "%s", err);
    free(err);
    free(args);
    free(p);
}
END_TEST

START_TEST(check_reports_graph_errors_after_plugins_load)
{
    char *p = write_pipeline("graph-bad.yaml", "steps:\n"
                                               "  - name: clicks\n"
                                               "    plugin: file\n"
                                               "    options: {path: /dev/null}\n"
                                               "  - name: out\n"
                                               "    plugin: stdout\n"
                                               "    input: clickz\n");
    char *args = ts_strf("check %s", p);
    char *err = NULL;
    ck_assert_int_eq(sluice(args, NULL, &err), 3);
    ck_assert_msg(strstr(err, "graph-bad.yaml:7:12: error:") != NULL && strstr(err, "did you mean 'clicks'"),
                  "%s", err);
    free(err);
    free(args);
    free(p);
}
END_TEST

START_TEST(undefined_variable_is_an_error_not_an_empty_string)
{
    char *p = write_pipeline("env.yaml", "steps:\n"
                                         "  - name: clicks\n"
                                         "    plugin: file\n"
                                         "    options: {path: \"${SLUICE_TEST_SURELY_UNSET}\"}\n"
                                         "  - name: out\n"
                                         "    plugin: stdout\n"
                                         "    input: clicks\n");
    char *args = ts_strf("check %s", p);
    char *err = NULL;
    ck_assert_int_eq(sluice(args, NULL, &err), 3);
    ck_assert_msg(strstr(err, "env.yaml:4:") && strstr(err, "SLUICE_TEST_SURELY_UNSET"), "%s", err);
    free(err);
    free(args);
    free(p);
}
END_TEST

START_TEST(help_ends_in_whole_sentences)
{
    char *out = NULL;
    ck_assert_int_eq(sluice("--help", &out, NULL), 0);
    /* Every line of the usage that ends a sentence ends with '.', and none
     * is cut off after a possessive ("for a command's"). */
    ck_assert_msg(strstr(out, "command's\n") == NULL, "%s", out);
    ck_assert_msg(strstr(out, "`sluice COMMAND --help` explains a command\n") != NULL, "%s", out);
    size_t len = strlen(out);
    ck_assert_msg(len > 2 && out[len - 1] == '\n' && out[len - 2] == '.', "%s", out);
    free(out);
}
END_TEST

START_TEST(check_counts_steps_in_words_and_warns_without_a_sink)
{
    char *one = write_pipeline("one.yaml", "steps:\n"
                                           "  - name: clicks\n"
                                           "    plugin: file\n"
                                           "    options: {path: /dev/null}\n");
    char *two = write_pipeline("two.yaml", "steps:\n"
                                           "  - name: clicks\n"
                                           "    plugin: file\n"
                                           "    options: {path: /dev/null}\n"
                                           "  - name: out\n"
                                           "    plugin: stdout\n"
                                           "    input: clicks\n");
    char *args = ts_strf("check %s %s", one, two);
    char *out = NULL, *err = NULL;
    ck_assert_int_eq(sluice(args, &out, &err), 0);
    ck_assert_msg(strstr(out, "one.yaml: ok (1 step)\n") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "two.yaml: ok (2 steps)\n") != NULL, "%s", out);
    ck_assert_msg(strstr(err, "one.yaml: warning: no step is a sink, so the results go nowhere") != NULL,
                  "%s", err);
    ck_assert_msg(strstr(err, "two.yaml") == NULL, "%s", err);
    free(out);
    free(err);
    free(args);
    free(one);
    free(two);
}
END_TEST

START_TEST(a_bad_value_from_a_variable_names_the_variable)
{
    char *p = write_pipeline("window.yaml", "steps:\n"
                                            "  - name: clicks\n"
                                            "    plugin: file\n"
                                            "    options: {path: /dev/null}\n"
                                            "  - name: counts\n"
                                            "    plugin: url_count\n"
                                            "    input: clicks\n"
                                            "    options: {size: \"${WINDOW:-1m}\"}\n"
                                            "  - name: out\n"
                                            "    plugin: stdout\n"
                                            "    input: counts\n");
    char *args = ts_strf("check %s", p);
    char *cmd = ts_strf("WINDOW=5x %s %s", SLUICE_BIN, args);
    char *err = NULL;
    ck_assert_int_eq(ts_run(cmd, NULL, &err), 3);
    ck_assert_msg(strstr(err, "window.yaml:8:") && strstr(err, "not '5x'") &&
                      strstr(err, "(from $WINDOW, interpolated here into '${WINDOW:-1m}')"),
                  "%s", err);
    free(err);
    free(cmd);
    free(args);
    free(p);
}
END_TEST

START_TEST(graph_prints_dot)
{
    char *p = write_pipeline("g.yaml", "steps:\n"
                                       "  - name: clicks\n"
                                       "    plugin: file\n"
                                       "    options: {path: /dev/null}\n"
                                       "  - name: dedup\n"
                                       "    plugin: dedup\n"
                                       "    input: clicks\n"
                                       "  - name: rejects\n"
                                       "    plugin: stdout\n"
                                       "    input: [clicks.rejected, dedup.rejected]\n"
                                       "  - name: out\n"
                                       "    plugin: stdout\n"
                                       "    input: dedup\n");
    char *args = ts_strf("graph %s", p);
    char *out = NULL;
    ck_assert_int_eq(sluice(args, &out, NULL), 0);
    ck_assert_msg(strstr(out, "digraph") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "\"clicks\" -> \"dedup\"") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "\"clicks\" -> \"rejects\"") != NULL && strstr(out, "rejected"), "%s", out);
    free(out);
    free(args);
    free(p);
}
END_TEST

START_TEST(graph_as_text_and_a_hint_when_dot_is_missing)
{
    char *p = write_pipeline("t.yaml", "steps:\n"
                                       "  - name: clicks\n"
                                       "    plugin: file\n"
                                       "    options: {path: /dev/null}\n"
                                       "  - name: out\n"
                                       "    plugin: stdout\n"
                                       "    input: [clicks, clicks.rejected]\n");
    char *args = ts_strf("graph --format text %s", p);
    char *out = NULL, *err = NULL;
    ck_assert_int_eq(sluice(args, &out, NULL), 0);
    ck_assert_str_eq(out, "pipeline t: 2 steps\n"
                          "  clicks  file    source\n"
                          "  out     stdout  sink      <- clicks, clicks.rejected\n");
    free(out);
    free(args);
    /* With no dot on PATH, DOT still goes to stdout and stderr says where
     * Graphviz comes from. */
    char *cmd = ts_strf("PATH=/nonexistent %s graph %s", SLUICE_BIN, p);
    ck_assert_int_eq(ts_run(cmd, &out, &err), 0);
    ck_assert_msg(strstr(out, "digraph") != NULL, "%s", out);
    ck_assert_msg(strstr(err, "apt-get install graphviz") && strstr(err, "--format text"), "%s", err);
    free(out);
    free(err);
    free(cmd);
    ck_assert_int_eq(sluice("graph --format png x.yaml", NULL, NULL), 2);
    free(p);
}
END_TEST

START_TEST(run_several_pipelines_in_one_process)
{
    const char *dir = ts_tmpdir();
    char *in = ts_strf("%s/multi-in.jsonl", dir);
    ts_write_file(in, "{\"user_id\":\"u1\",\"url\":\"/a\",\"ts\":1795737600000}\n"
                      "{\"user_id\":\"u2\",\"url\":\"/b\",\"ts\":1795737601000}\n");
    char *paths[2];
    for (int i = 0; i < 2; i++) {
        char *body = ts_strf("name: multi%d\n"
                             "steps:\n"
                             "  - name: clicks\n"
                             "    plugin: file\n"
                             "    options: {path: %s}\n"
                             "    event: raw\n"
                             "  - name: out\n"
                             "    plugin: file\n"
                             "    input: clicks\n"
                             "    options: {path: %s/multi-out%d.jsonl, truncate: true}\n",
                             i, in, dir, i);
        char *name = ts_strf("multi%d.yaml", i);
        paths[i] = write_pipeline(name, body);
        free(name);
        free(body);
    }
    /* Options may follow the pipeline files, as getopt lets them. */
    char *args = ts_strf("run %s %s --metrics %s/multi-metrics.json", paths[0], paths[1], dir);
    char *err = NULL;
    ck_assert_msg(sluice(args, NULL, &err) == 0, "%s", err);
    for (int i = 0; i < 2; i++) {
        char *outp = ts_strf("%s/multi-out%d.jsonl", dir, i);
        ck_assert_uint_eq(ts_count_lines(outp), 2);
        free(outp);
    }
    char *metrics_path = ts_strf("%s/multi-metrics.json", dir);
    ck_assert_uint_eq(ts_count_lines(metrics_path), 2);
    free(metrics_path);
    free(err);
    free(args);
    free(in);
    free(paths[0]);
    free(paths[1]);
}
END_TEST

START_TEST(sigterm_flushes_and_exits_zero)
{
    const char *dir = ts_tmpdir();
    char *body = ts_strf("steps:\n"
                         "  - name: gen\n"
                         "    plugin: clickgen\n"
                         "    options: {count: 0, rate: 2000, start: 1795737600000}\n"
                         "    event: raw\n"
                         "  - name: out\n"
                         "    plugin: file\n"
                         "    input: gen\n"
                         "    options: {path: %s/sig-out.jsonl, truncate: true, flush_interval: 1h}\n",
                         dir);
    char *p = write_pipeline("sig.yaml", body);
    /* Run for a moment, then SIGTERM; everything generated must be on disk. */
    char *cmd =
        ts_strf("%s run --metrics %s/sig-metrics.json %s & pid=$!; sleep 1; kill -TERM $pid; wait $pid",
                SLUICE_BIN, dir, p);
    char *err = NULL;
    int rc = ts_run(cmd, NULL, &err);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, err);
    char *outp = ts_strf("%s/sig-out.jsonl", dir);
    size_t lines = ts_count_lines(outp);
    ck_assert_msg(lines > 100, "only %zu lines written", lines);
    char *metrics_path = ts_strf("%s/sig-metrics.json", dir);
    char *metrics = ts_read_file(metrics_path, NULL);
    free(metrics_path);
    char *expect = ts_strf("\"out\":{\"in\":%zu", lines);
    ck_assert_msg(strstr(metrics, expect) != NULL, "flushed %zu lines but metrics say %s", lines, metrics);
    free(expect);
    free(metrics);
    free(outp);
    free(err);
    free(cmd);
    free(p);
    free(body);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cli");
    TCase *tc = tcase_create("cli");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, version_and_help);
    tcase_add_test(tc, usage_errors_exit_2);
    tcase_add_test(tc, check_reports_every_error_with_positions);
    tcase_add_test(tc, check_reports_graph_errors_after_plugins_load);
    tcase_add_test(tc, undefined_variable_is_an_error_not_an_empty_string);
    tcase_add_test(tc, help_ends_in_whole_sentences);
    tcase_add_test(tc, check_counts_steps_in_words_and_warns_without_a_sink);
    tcase_add_test(tc, a_bad_value_from_a_variable_names_the_variable);
    tcase_add_test(tc, graph_prints_dot);
    tcase_add_test(tc, graph_as_text_and_a_hint_when_dot_is_missing);
    tcase_add_test(tc, run_several_pipelines_in_one_process);
    tcase_add_test(tc, sigterm_flushes_and_exits_zero);
    suite_add_tcase(s, tc);
    return ts_run_suite(s);
}
