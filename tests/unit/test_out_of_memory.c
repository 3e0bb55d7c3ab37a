/* The out-of-memory policy (engine/src/support/xalloc.h): when an allocation
 * fails, the engine stops with a message and exit code 4, never with a
 * signal or a sanitizer report. The replay pipeline (with state
 * checkpoints, so the state writer runs too) and `sluice check` are run
 * with the Nth allocation made to fail (SLUICE_FAIL_ALLOC_AFTER=N), for N
 * spread over the whole run, from loading the YAML to the end-of-input
 * flush; each run must end with 0 (N past the run's last allocation) or 4
 * and the message. The state a failed run leaves must still be readable. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "test_support.h"

static char *input;

static void make_input(void)
{
    input = ts_strf("%s/clicks.jsonl", ts_tmpdir());
    ts_generate_clicks("count: 3000, users: 200, seed: 5", input);
}

/* Run `args` with the (after+1)th allocation failing; returns the exit
 * status as ts_run gives it, and checks how the run ended. */
static int run_failing(const char *args, long after)
{
    char *cmd = ts_strf("SLUICE_FAIL_ALLOC_AFTER=%ld '%s' %s", after, SLUICE_BIN, args);
    char *err = NULL;
    int rc = ts_run(cmd, NULL, &err);
    ck_assert_msg(rc == 0 || rc == 4, "allocation %ld failing: exit %d (want 0 or 4):\n%s", after + 1, rc,
                  err ? err : "");
    if (rc == 4)
        ck_assert_msg(err && strstr(err, "sluice: out of memory ("), "exit 4 without the message:\n%s", err);
    ck_assert_msg(err == NULL || strstr(err, "Sanitizer") == NULL, "sanitizer report:\n%s", err);
    free(err);
    free(cmd);
    return rc;
}

START_TEST(every_failing_allocation_stops_the_run_with_a_message)
{
    make_input();
    char *state = ts_strf("%s/state", ts_tmpdir()), *out = ts_strf("%s/out", ts_tmpdir());
    char *args = ts_strf("--log-level warn run '%s/pipelines/replay.yaml'", SLUICE_SOURCE_DIR);
    /* replay.yaml's INPUT, OUT_DIR and STATE_DIR, inherited by the runs. */
    setenv("INPUT", input, 1);
    setenv("OUT_DIR", out, 1);
    setenv("STATE_DIR", state, 1);
    setenv("THREADS", "2", 1);
    setenv("SLUICE_PARALLEL_MIN", "1", 1); /* the workers' rounds, however small */
    int stopped = 0, finished = 0;
    /* Dense at the start (loading, building), then spread geometrically. */
    for (long after = 0; after < 4000000 && finished < 3; after = after < 64 ? after + 1 : after * 5 / 4) {
        int rc = run_failing(args, after);
        stopped += rc == 4;
        finished += rc == 0;
    }
    ck_assert_int_gt(stopped, 60);
    ck_assert_int_ge(finished, 1); /* the runs reached past the last allocation */
    /* What the failed runs left behind (a state folder) still starts a run. */
    char *cmd = ts_strf("'%s' %s", SLUICE_BIN, args);
    char *err = NULL;
    ck_assert_msg(ts_run(cmd, NULL, &err) == 0, "%s", err);
    free(err);
    free(cmd);
    free(out);
    free(args);
    free(state);
    free(input);
}
END_TEST

START_TEST(check_stops_with_a_message_too)
{
    char *args = ts_strf("check '%s/pipelines/clickstream.yaml'", SLUICE_SOURCE_DIR);
    int finished = 0;
    for (long after = 0; after < 1000000 && !finished; after = after < 64 ? after + 1 : after * 3 / 2)
        finished = run_failing(args, after) == 0;
    ck_assert(finished);
    free(args);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("out_of_memory");
    TCase *tc = tcase_create("oom");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, every_failing_allocation_stops_the_run_with_a_message);
    tcase_add_test(tc, check_stops_with_a_message_too);
    suite_add_tcase(s, tc);
    return ts_run_suite(s);
}
