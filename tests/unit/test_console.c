/* The console sink as a person reads it: windows as blocks, then one
 * summary per interval with sessions, the users' running average session
 * and one line per rejection reason, never one line per rejected event. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_support.h"

static size_t count_of(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

/* `every` longer than the run: the only summary is the last one, printed
 * when the pipeline ends, so the output is the same on any machine. */
START_TEST(rejections_are_grouped_by_reason_and_sessions_show_running_averages)
{
    char *in = ts_strf("%s/clicks.jsonl", ts_tmpdir()), *pipeline = ts_strf("%s/console.yaml", ts_tmpdir());
    ts_write_file(in, "{\"user_id\":\"u1\",\"url\":\"/a\",\"ts\":1700000000000}\n"
                      "{\"user_id\":\"u2\",\"url\":\"/b\",\"ts\":1700000005000}\n"
                      "not json\n"
                      "{\"user_id\":\"u1\",\"url\":\"/a\",\"ts\":1700000010000}\n"
                      "{\"user_id\":\"u1\",\"url\":\"/a\",\"ts\":1700000010000}\n"
                      "[1]\n"
                      "{\"user_id\":\"u3\",\"url\":\"/c\",\"ts\":\"soon\"}\n"
                      "{broken\n"
                      "{\"user_id\":\"u1\",\"url\":\"/b\",\"ts\":1700003600000}\n"
                      "{\"user_id\":\"u1\",\"url\":\"/c\",\"ts\":1700003620000}\n");
    char *yaml = ts_strf("steps:\n"
                         "  - name: clicks\n"
                         "    plugin: file\n"
                         "    options: {path: '%s'}\n"
                         "    event: {max_future: 'off'}\n"
                         "  - name: dedup\n"
                         "    plugin: dedup\n"
                         "    input: clicks\n"
                         "    options: {emit_rejected: true}\n"
                         "  - name: url_count\n"
                         "    plugin: url_count\n"
                         "    input: dedup\n"
                         "  - name: sessionize\n"
                         "    plugin: sessionize\n"
                         "    input: dedup\n"
                         "  - name: windows\n"
                         "    plugin: kind_filter\n"
                         "    input: url_count\n"
                         "    options: {kinds: [window_summary]}\n"
                         "  - name: live\n"
                         "    plugin: console\n"
                         "    input: [windows, sessionize, clicks.rejected, dedup.rejected]\n"
                         "    options: {every: 1h, top: 2}\n",
                         in);
    ts_write_file(pipeline, yaml);
    char *cmd = ts_strf("'%s' run '%s'", SLUICE_BIN, pipeline);
    char *out = NULL, *err = NULL;
    ck_assert_msg(ts_run(cmd, &out, &err) == 0, "%s", err);
    ck_assert_msg(strstr(out, "3 clicks by 2 users on 2 URLs; most clicked:\n") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "     1. /a") != NULL, "%s", out);
    /* Three malformed lines, one bad ts, one duplicate: three lines. */
    ck_assert_uint_eq(count_of(out, "malformed"), 1);
    ck_assert_msg(strstr(out, "rejected       3 malformed    (3 in all)\n") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "               1 ") != NULL && count_of(out, "bad_ts") == 1 &&
                      count_of(out, "duplicate") == 1,
                  "%s", out);
    /* u1: a 10 s session, then a 20 s one: 15 s on average over two. */
    ck_assert_msg(strstr(out, "sessions  3 closed in the last 1h00m (3 in all): avg 10s, 1.7 clicks; longest "
                              "20s by u1\n") != NULL,
                  "%s", out);
    ck_assert_msg(
        strstr(out, "longest running average per user: u1 15s over 2 sessions, u2 0s over 1 session\n") !=
            NULL,
        "%s", out);
    free(out);
    free(err);
    free(cmd);
    free(yaml);
    free(pipeline);
    free(in);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("console");
    TCase *tc = tcase_create("console");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, rejections_are_grouped_by_reason_and_sessions_show_running_averages);
    suite_add_tcase(s, tc);
    return ts_run_suite(s);
}
