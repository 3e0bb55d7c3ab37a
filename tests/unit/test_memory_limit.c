/* memory_limit (engine/src/runtime/memory_budget.c): the operators' state
 * counted against a budget, the source paused above it, and an input that
 * cannot fit failing with a message rather than growing without bound. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_support.h"

static char *input;

static void make_input(void)
{
    input = ts_strf("%s/clicks.jsonl", ts_tmpdir());
    ts_generate_clicks("count: 20000, users: 2000, seed: 9", input);
}

/* replay.yaml with `memory_limit: limit` added, into folder `out`; returns
 * the exit code, stderr in *err. */
static int replay(const char *limit, const char *out, char **err)
{
    char *src = ts_strf("%s/pipelines/replay.yaml", SLUICE_SOURCE_DIR);
    char *text = ts_read_file(src, NULL);
    ck_assert_ptr_nonnull(text);
    char *yaml = limit ? ts_strf("memory_limit: %s\n%s", limit, text) : ts_strf("%s", text);
    char *path = ts_strf("%s/replay-%s.yaml", ts_tmpdir(), limit ? limit : "none");
    ts_write_file(path, yaml);
    char *cmd = ts_strf("mkdir -p '%s' && INPUT='%s' OUT_DIR='%s' '%s' run --metrics '%s/metrics.json' '%s'",
                        out, input, out, SLUICE_BIN, out, path);
    int rc = ts_run(cmd, NULL, err);
    free(cmd);
    free(path);
    free(yaml);
    free(text);
    free(src);
    return rc;
}

START_TEST(a_limit_the_state_stays_under_changes_nothing)
{
    make_input();
    char *a = ts_strf("%s/none", ts_tmpdir()), *b = ts_strf("%s/roomy", ts_tmpdir());
    char *err = NULL;
    ck_assert_msg(replay(NULL, a, &err) == 0, "%s", err);
    free(err);
    err = NULL;
    ck_assert_msg(replay("1GiB", b, &err) == 0, "%s", err);
    free(err);
    static const char *const files[] = {"url_clicks", "window_summary", "sessions", "rejected"};
    for (int i = 0; i < 4; i++) {
        char *cmd = ts_strf("cmp '%s/%s.jsonl' '%s/%s.jsonl'", a, files[i], b, files[i]);
        ck_assert_msg(ts_run(cmd, NULL, NULL) == 0, "%s.jsonl differs with memory_limit", files[i]);
        free(cmd);
    }
    /* The source reports the budget's gauges. */
    char *metrics = ts_strf("%s/metrics.json", b);
    char *m = ts_read_file(metrics, NULL);
    ck_assert_msg(m && strstr(m, "\"memory.state_bytes\"") && strstr(m, "\"memory.paused\":0"), "%s", m);
    free(m);
    free(metrics);
    free(a);
    free(b);
    free(input);
}
END_TEST

START_TEST(an_input_that_cannot_fit_fails_with_what_to_do)
{
    make_input();
    char *out = ts_strf("%s/tiny", ts_tmpdir());
    char *err = NULL;
    int rc = replay("64KiB", out, &err);
    ck_assert_msg(rc == 1, "exit %d:\n%s", rc, err);
    ck_assert_msg(strstr(err, "over the limit of 0.1 MiB: the source pauses"), "no pause logged:\n%s", err);
    ck_assert_msg(strstr(err, "the input does not fit in 0.1 MiB. Raise memory_limit"), "no failure:\n%s",
                  err);
    free(err);
    free(out);
    free(input);
}
END_TEST

/* State that drains with time (fixture_draining_state): the source pauses
 * over the limit, resumes under it, and every record gets through. */
START_TEST(the_source_pauses_and_resumes_as_state_drains)
{
    make_input();
    char *out = ts_strf("%s/drained.jsonl", ts_tmpdir()), *metrics = ts_strf("%s/drain.json", ts_tmpdir());
    char *yaml =
        ts_strf("memory_limit: 256KiB\n"
                "batch_size: 512\n"
                "steps:\n"
                "  - {name: clicks, plugin: file, event: raw, options: {path: '%s'}}\n"
                "  - {name: drain, plugin: '%s/tests/plugins/fixture_draining_state.so', input: clicks}\n"
                "  - {name: out, plugin: file, input: drain, options: {path: '%s', truncate: true}}\n",
                input, SLUICE_BINARY_DIR, out);
    char *path = ts_strf("%s/drain.yaml", ts_tmpdir());
    ts_write_file(path, yaml);
    char *cmd = ts_strf("'%s' run --metrics '%s' '%s'", SLUICE_BIN, metrics, path);
    char *err = NULL;
    ck_assert_msg(ts_run(cmd, NULL, &err) == 0, "%s", err);
    ck_assert_msg(strstr(err, "the source pauses") && strstr(err, "reading resumes"), "no pause:\n%s", err);
    ck_assert_uint_eq(ts_count_lines(out), ts_count_lines(input));
    char *m = ts_read_file(metrics, NULL);
    ck_assert_msg(m && strstr(m, "\"memory.pauses\":") && !strstr(m, "\"memory.pauses\":0,"), "%s", m);
    free(m);
    free(err);
    free(cmd);
    free(path);
    free(yaml);
    free(metrics);
    free(out);
    free(input);
}
END_TEST

START_TEST(a_bad_memory_limit_is_refused_at_its_line)
{
    make_input();
    char *err = NULL;
    char *out = ts_strf("%s/bad", ts_tmpdir());
    ck_assert_int_eq(replay("lots", out, &err), 3);
    ck_assert_msg(strstr(err, ":1:15: error: 'memory_limit' must be a size like 512MiB"), "%s", err);
    free(err);
    free(out);
    free(input);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("memory_limit");
    TCase *tc = tcase_create("memory_limit");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, a_limit_the_state_stays_under_changes_nothing);
    tcase_add_test(tc, an_input_that_cannot_fit_fails_with_what_to_do);
    tcase_add_test(tc, the_source_pauses_and_resumes_as_state_drains);
    tcase_add_test(tc, a_bad_memory_limit_is_refused_at_its_line);
    suite_add_tcase(s, tc);
    return ts_run_suite(s);
}
