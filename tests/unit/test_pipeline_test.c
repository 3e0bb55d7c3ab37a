/* `sluice test`: a shipped test file passes, and the same file with one
 * expectation changed (a record's field, a record too many, a counter)
 * fails with exit 1 and names the line of what it expected, so the
 * pipeline tests run by CI can fail. An invalid test file exits 3. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

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
    ck_assert_msg(strstr(out, "3 passed, 0 failed") != NULL, "%s", out);
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
    suite_add_tcase(s, tc);
    return ts_run_suite(s);
}
