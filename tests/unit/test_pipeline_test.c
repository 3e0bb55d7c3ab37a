/* `sluice test`: a shipped test file passes, and the same file with one
 * expectation changed (a record's field, a record too many, a counter)
 * fails with exit 1 and names the line of what it expected, so the
 * pipeline tests run by CI can fail. An invalid test file exits 3. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "test_support.h"

#define REPLAY_TEST SLUICE_SOURCE_DIR "/pipelines/replay.test.yaml"

/* `sluice test` on the replay tests with `from` replaced by `to` (once). */
static int run_mutated(const char *from, const char *to, char **err)
{
    char *text = ts_read_file(REPLAY_TEST, NULL);
    ck_assert_ptr_nonnull(text);
    char *at = strstr(text, from);
    ck_assert_msg(at != NULL, "'%s' is not in %s", from, REPLAY_TEST);
    *at = '\0';
    char *pipeline = strstr(text, "pipeline: replay.yaml");
    ck_assert_ptr_nonnull(pipeline);
    *pipeline = '\0';
    char *mutated = ts_strf("%spipeline: %s/pipelines/replay.yaml%s%s%s", text, SLUICE_SOURCE_DIR,
                            pipeline + strlen("pipeline: replay.yaml"), to, at + strlen(from));
    char *path = ts_strf("%s/replay.test.yaml", ts_tmpdir());
    ts_write_file(path, mutated);
    char *cmd = ts_strf("'%s' test '%s'", SLUICE_BIN, path);
    int rc = ts_run(cmd, NULL, err);
    free(cmd);
    free(path);
    free(mutated);
    free(text);
    return rc;
}

START_TEST(the_shipped_replay_tests_pass)
{
    char *out = NULL, *err = NULL;
    char *cmd = ts_strf("'%s' test '%s'", SLUICE_BIN, REPLAY_TEST);
    ck_assert_msg(ts_run(cmd, &out, &err) == 0, "%s%s", out, err);
    ck_assert_msg(strstr(out, "4 passed, 0 failed") != NULL, "%s", out);
    free(cmd);
    free(out);
    free(err);
}
END_TEST

START_TEST(a_changed_field_fails_at_the_line_of_the_expected_record)
{
    char *err = NULL;
    int rc = run_mutated("url: /home, clicks: 2}", "url: /home, clicks: 3}", &err);
    ck_assert_msg(rc == 1, "exit %d: %s", rc, err);
    ck_assert_msg(strstr(err, "replay.test.yaml:18:11: error: test 'clicks are counted per URL and window") !=
                      NULL,
                  "%s", err);
    ck_assert_msg(strstr(err, "record 2: field 'clicks' is 2, expected 3") != NULL, "%s", err);
    ck_assert_msg(strstr(err, "received:") != NULL, "%s", err);
    free(err);
}
END_TEST

START_TEST(a_missing_record_fails_with_the_counts)
{
    char *err = NULL;
    int rc = run_mutated("        - {reason: too_late}\n",
                         "        - {reason: too_late}\n        - {reason: too_late}\n", &err);
    ck_assert_msg(rc == 1, "exit %d: %s", rc, err);
    ck_assert_msg(strstr(err, "sink 'rejected': received 4 records, expected 5") != NULL, "%s", err);
    free(err);
}
END_TEST

START_TEST(a_wrong_counter_fails_at_its_value)
{
    char *err = NULL;
    int rc = run_mutated("dedup: {rejected.duplicate: 1}", "dedup: {rejected.duplicate: 0}", &err);
    ck_assert_msg(rc == 1, "exit %d: %s", rc, err);
    ck_assert_msg(strstr(err, "step 'dedup': counter 'rejected.duplicate' is 1, expected 0") != NULL, "%s",
                  err);
    free(err);
}
END_TEST

START_TEST(an_unknown_sink_or_key_is_an_invalid_test_file)
{
    char *err = NULL;
    int rc = run_mutated("      rejected: []", "      rejected_typo: []", &err);
    ck_assert_msg(rc == 3, "exit %d: %s", rc, err);
    ck_assert_msg(strstr(err, "'rejected_typo' is no step of the pipeline") != NULL, "%s", err);
    free(err);
    rc = run_mutated("    counters:\n      clicks: {accepted: 4}",
                     "    countrs:\n      clicks: {accepted: 4}", &err);
    ck_assert_msg(rc == 3, "exit %d: %s", rc, err);
    ck_assert_msg(strstr(err, "unknown key 'countrs'") != NULL, "%s", err);
    free(err);
}
END_TEST

/* A one-window pipeline for the input format's own tests: the window size
 * comes from ${WINDOW} (1m when unset). */
#define WM_PIPELINE                                         \
    "name: wm\n"                                            \
    "steps:\n"                                              \
    "  - name: clicks\n"                                    \
    "    plugin: file\n"                                    \
    "    options: {path: unused.jsonl}\n"                   \
    "    event: {max_future: off, max_out_of_order: 0ms}\n" \
    "  - name: counts\n"                                    \
    "    plugin: url_count\n"                               \
    "    input: clicks\n"                                   \
    "    options: {size: \"${WINDOW:-1m}\"}\n"              \
    "  - name: out\n"                                       \
    "    plugin: file\n"                                    \
    "    input: counts\n"                                   \
    "    options: {path: out.jsonl}\n"                      \
    "  - name: dead\n"                                      \
    "    plugin: file\n"                                    \
    "    input: counts.rejected\n"                          \
    "    options: {path: dead.jsonl}\n"

/* `sluice test` on `tests` (a test file's body) against WM_PIPELINE. */
static int run_wm(const char *name, const char *tests, char **out, char **err)
{
    char *dir = ts_strf("%s/%s", ts_tmpdir(), name);
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    char *path = ts_strf("%s/wm.yaml", dir);
    ts_write_file(path, WM_PIPELINE);
    free(path);
    path = ts_strf("%s/wm.test.yaml", dir);
    char *text = ts_strf("pipeline: wm.yaml\ntests:\n%s", tests);
    ts_write_file(path, text);
    char *cmd = ts_strf("'%s' test '%s'", SLUICE_BIN, path);
    int rc = ts_run(cmd, out, err);
    free(cmd);
    free(text);
    free(path);
    free(dir);
    return rc;
}

START_TEST(a_watermark_step_fires_the_window_before_the_next_event)
{
    /* Without the step the event at 2000 joins the window; with it (in ms
     * or as RFC 3339 text) the window has fired and 2000 is too late. */
    const char *tests = "  - name: no step\n"                                             /* 3 */
                        "    env: {WINDOW: 10s}\n"                                        /* 4 */
                        "    input:\n"                                                    /* 5 */
                        "      - {user_id: u1, url: /a, ts: 1000}\n"                      /* 6 */
                        "      - {user_id: u2, url: /b, ts: 2000}\n"                      /* 7 */
                        "    expect:\n"                                                   /* 8 */
                        "      out:\n"                                                    /* 9 */
                        "        - {url: /a, window_end: 10000}\n"                        /* 10 */
                        "        - {url: /b, window_end: 10000}\n"                        /* 11 */
                        "        - {kind: window_summary, clicks: 2}\n"                   /* 12 */
                        "      dead: []\n"                                                /* 13 */
                        "  - name: a step in ms\n"                                        /* 14 */
                        "    env: {WINDOW: 10s}\n"                                        /* 15 */
                        "    input:\n"                                                    /* 16 */
                        "      - {user_id: u1, url: /a, ts: 1000}\n"                      /* 17 */
                        "      - {watermark: 10000}\n"                                    /* 18 */
                        "      - {user_id: u2, url: /b, ts: 2000}\n"                      /* 19 */
                        "    expect:\n"                                                   /* 20 */
                        "      out:\n"                                                    /* 21 */
                        "        - {url: /a, window_end: 10000}\n"                        /* 22 */
                        "        - {kind: window_summary, clicks: 1}\n"                   /* 23 */
                        "      dead: [{reason: too_late, origin: \"wm.test.yaml:19\"}]\n" /* 24 */
                        "  - name: a step as text, on the source named\n"                 /* 25 */
                        "    env: {WINDOW: 10s}\n"                                        /* 26 */
                        "    input:\n"                                                    /* 27 */
                        "      clicks:\n"                                                 /* 28 */
                        "        - {user_id: u1, url: /a, ts: 1000}\n"                    /* 29 */
                        "        - {watermark: \"1970-01-01T00:00:10Z\"}\n"               /* 30 */
                        "        - {user_id: u2, url: /b, ts: 2000}\n"                    /* 31 */
                        "    expect:\n"                                                   /* 32 */
                        "      dead: [{reason: too_late}]\n"                              /* 33 */
                        "    counters:\n"                                                 /* 34 */
                        "      counts: {in: 2, rejected.too_late: 1}\n";                  /* 35 */
    char *out = NULL, *err = NULL;
    int rc = run_wm("wm_steps", tests, &out, &err);
    ck_assert_msg(rc == 0, "exit %d: %s%s", rc, out, err);
    ck_assert_msg(strstr(out, "3 passed, 0 failed") != NULL, "%s", out);
    free(out);
    free(err);

    /* The step is exact: at watermark 2000 an event at 2000 is not late
     * (at 2001 it is), so this expectation fails. */
    rc = run_wm("wm_step_fails",
                "  - name: a step one ms short\n"
                "    env: {WINDOW: 10s}\n"
                "    input:\n"
                "      - {user_id: u1, url: /a, ts: 1000}\n"
                "      - {watermark: 2000}\n"
                "      - {user_id: u2, url: /b, ts: 2000}\n"
                "    expect:\n"
                "      dead: [{reason: too_late}]\n",
                &out, &err);
    ck_assert_msg(rc == 1, "exit %d: %s%s", rc, out, err);
    ck_assert_msg(strstr(err, "sink 'dead': received 0 records, expected 1") != NULL, "%s", err);
    free(out);
    free(err);
}
END_TEST

START_TEST(input_naming_a_step_other_than_the_source_is_an_invalid_test_file)
{
    char *out = NULL, *err = NULL;
    int rc = run_wm("wrong_input",
                    "  - name: typo\n"
                    "    input:\n"
                    "      clickz: [{user_id: u1, url: /a, ts: 1000}]\n",
                    &out, &err);
    ck_assert_msg(rc == 3, "exit %d: %s%s", rc, out, err);
    ck_assert_msg(strstr(err, "wm.test.yaml:5:7: error: test 'typo': input: 'clickz' is no step of the "
                              "pipeline; events go to the source step 'clicks'") != NULL,
                  "%s", err);
    free(out);
    free(err);
    rc = run_wm("not_source_input",
                "  - name: not the source\n"
                "    input:\n"
                "      counts: [{user_id: u1, url: /a, ts: 1000}]\n",
                &out, &err);
    ck_assert_msg(rc == 3, "exit %d: %s%s", rc, out, err);
    ck_assert_msg(strstr(err, "input: 'counts' is not its source; events go to the source step 'clicks'") !=
                      NULL,
                  "%s", err);
    free(out);
    free(err);
    rc = run_wm("bad_watermark",
                "  - name: bad step\n"
                "    input:\n"
                "      - {watermark: soon}\n",
                &out, &err);
    ck_assert_msg(rc == 3, "exit %d: %s%s", rc, out, err);
    ck_assert_msg(
        strstr(err, "wm.test.yaml:5:21: error: test 'bad step': a watermark step is {watermark: T}") != NULL,
        "%s", err);
    free(out);
    free(err);
}
END_TEST

START_TEST(a_tests_env_does_not_reach_the_next_test)
{
    /* The first test sets WINDOW; the second has none, so its window is
     * the pipeline's default minute, not the 10s of the test before. */
    char *out = NULL, *err = NULL;
    int rc = run_wm("env_scope",
                    "  - name: ten seconds\n"
                    "    env: {WINDOW: 10s}\n"
                    "    input: [{user_id: u1, url: /a, ts: 1000}]\n"
                    "    expect: {out: [{window_end: 10000}, {kind: window_summary}]}\n"
                    "  - name: the default\n"
                    "    input: [{user_id: u1, url: /a, ts: 1000}]\n"
                    "    expect: {out: [{window_end: 60000}, {kind: window_summary}]}\n",
                    &out, &err);
    ck_assert_msg(rc == 0, "exit %d: %s%s", rc, out, err);
    free(out);
    free(err);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pipeline_test");
    TCase *tc = tcase_create("sluice_test");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, the_shipped_replay_tests_pass);
    tcase_add_test(tc, a_changed_field_fails_at_the_line_of_the_expected_record);
    tcase_add_test(tc, a_missing_record_fails_with_the_counts);
    tcase_add_test(tc, a_wrong_counter_fails_at_its_value);
    tcase_add_test(tc, an_unknown_sink_or_key_is_an_invalid_test_file);
    tcase_add_test(tc, a_watermark_step_fires_the_window_before_the_next_event);
    tcase_add_test(tc, input_naming_a_step_other_than_the_source_is_an_invalid_test_file);
    tcase_add_test(tc, a_tests_env_does_not_reach_the_next_test);
    suite_add_tcase(s, tc);
    return ts_run_suite(s);
}
