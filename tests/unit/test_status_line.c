/* The live status line of `sluice run`, seen as a person sees it: in a tmux
 * pane (capture-pane), with log lines scrolling above it; and never a byte
 * of it when stderr is not a terminal or with --no-progress. */
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "test_support.h"

/* A tmux server of our own (its socket name has the suite's pid), so no
 * test ever touches a user's sessions; killed after every test, failed or
 * not (an unchecked fixture runs in the suite's process), which ends the
 * pipelines in its pane. */
static char server[64];

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void need_tmux(void)
{
    ck_assert_msg(ts_run("command -v tmux >/dev/null", NULL, NULL) == 0,
                  "tmux is not installed: scripts/deps installs it");
}

static int tmux(const char *args, char **out)
{
    char *cmd = ts_strf("tmux -L %s -f /dev/null %s", server, args);
    int rc = ts_run(cmd, out, NULL);
    free(cmd);
    return rc;
}

static void tmux_kill(void) { tmux("kill-server 2>/dev/null", NULL); }

static char *capture(void)
{
    char *out = NULL;
    ck_assert_int_eq(tmux("capture-pane -p -t t", &out), 0);
    return out;
}

static char *write_pipeline(const char *name, const char *body)
{
    char *path = ts_strf("%s/%s", ts_tmpdir(), name);
    ts_write_file(path, body);
    return path;
}

/* Runs for ever at a steady pace. */
static const char *steady = "name: steady\n"
                            "steps:\n"
                            "  - name: clicks\n"
                            "    plugin: clickgen\n"
                            "    options: {count: 0, rate: 300}\n"
                            "  - name: out\n"
                            "    plugin: file\n"
                            "    input: clicks\n"
                            "    options: {path: /dev/null}\n";
/* Ends after about 2 s, logging its summary while the other one runs. */
static const char *brief = "name: brief\n"
                           "steps:\n"
                           "  - name: clicks\n"
                           "    plugin: clickgen\n"
                           "    options: {count: 600, rate: 300}\n"
                           "  - name: out\n"
                           "    plugin: file\n"
                           "    input: clicks\n"
                           "    options: {path: /dev/null}\n";

/* The events figure of pipeline name's status line in a capture, -1 none. */
static long status_count(const char *screen, const char *name)
{
    char *pattern = ts_strf(
        "^\\[%s\\] (done, )?[0-9,]+ ev/s \\| ([0-9,]+) events \\| [0-9,]+ rejected \\| watermark ", name);
    regex_t re;
    ck_assert_int_eq(regcomp(&re, pattern, REG_EXTENDED | REG_NEWLINE), 0);
    regmatch_t m[3];
    long v = -1;
    if (regexec(&re, screen, 3, m, 0) == 0) {
        v = 0;
        for (regoff_t i = m[2].rm_so; i < m[2].rm_eo; i++)
            if (screen[i] != ',')
                v = v * 10 + (screen[i] - '0');
    }
    regfree(&re);
    free(pattern);
    return v;
}

/* The last non-empty line of a capture. */
static char *last_line(const char *screen)
{
    const char *end = screen + strlen(screen);
    while (end > screen && end[-1] == '\n')
        end--;
    const char *start = end;
    while (start > screen && start[-1] != '\n')
        start--;
    return strndup(start, (size_t)(end - start));
}

START_TEST(the_status_line_moves_below_intact_log_lines)
{
    need_tmux();
    char *a = write_pipeline("steady.yaml", steady), *b = write_pipeline("brief.yaml", brief);
    char *cmd = ts_strf("new-session -d -s t -x 150 -y 30 '%s run %s %s; sleep 60'", SLUICE_BIN, a, b);
    ck_assert_int_eq(tmux(cmd, NULL), 0);
    sleep_ms(3500);
    char *first = capture();
    sleep_ms(1500);
    char *second = capture();
    tmux_kill();

    /* One line per pipeline, at the bottom, the steady one's count moving. */
    long c1 = status_count(first, "steady"), c2 = status_count(second, "steady");
    ck_assert_msg(c1 > 0 && c2 > c1, "no moving status line (%ld then %ld):\n%s\n----\n%s", c1, c2, first,
                  second);
    ck_assert_msg(status_count(second, "brief") == 600, "brief's final line:\n%s", second);
    char *bottom = last_line(second);
    ck_assert_msg(strncmp(bottom, "[brief] ", 8) == 0, "the bottom line is '%s'", bottom);
    /* brief's summary, logged while the lines were shown, reads whole. */
    regex_t re;
    ck_assert_int_eq(
        regcomp(
            &re,
            "^[0-9:.]{12} \\[brief/clicks\\] info: read=600 accepted=[0-9]+( rejected\\.[a-z_]+=[0-9]+)*$",
            REG_EXTENDED | REG_NEWLINE | REG_NOSUB),
        0);
    ck_assert_msg(regexec(&re, second, 0, NULL, 0) == 0, "brief's summary is not intact:\n%s", second);
    regfree(&re);
    ck_assert_msg(strstr(second, "[brief/out] info: in=") != NULL, "%s", second);
    /* Status text only on status lines: none leaked into a log line. */
    for (const char *line = second; *line; line += strcspn(line, "\n") + (line[strcspn(line, "\n")] != 0)) {
        const char *ev = strstr(line, "ev/s");
        ck_assert_msg(ev == NULL || ev > line + strcspn(line, "\n") || line[0] == '[',
                      "status text in a log line:\n%s", second);
    }
    free(bottom);
    free(first);
    free(second);
    free(cmd);
    free(a);
    free(b);
}
END_TEST

START_TEST(no_progress_shows_no_status_line)
{
    need_tmux();
    char *a = write_pipeline("steady2.yaml", steady);
    char *cmd =
        ts_strf("new-session -d -s t -x 150 -y 30 '%s run --no-progress %s; sleep 60'", SLUICE_BIN, a);
    ck_assert_int_eq(tmux(cmd, NULL), 0);
    sleep_ms(2500);
    char *screen = capture();
    tmux_kill();
    ck_assert_msg(strstr(screen, "ev/s") == NULL, "%s", screen);
    free(screen);
    free(cmd);
    free(a);
}
END_TEST

START_TEST(stderr_to_a_file_gets_no_status_bytes)
{
    char *a = write_pipeline("steady3.yaml", steady);
    char *err_path = ts_strf("%s/steady3.err", ts_tmpdir());
    /* `timeout` signals it after 2.5 s: a clean stop, output flushed. */
    char *cmd = ts_strf("timeout --preserve-status 2.5 %s run %s 2>%s", SLUICE_BIN, a, err_path);
    ck_assert_int_eq(ts_run(cmd, NULL, NULL), 0);
    char *log = ts_read_file(err_path, NULL);
    ck_assert_ptr_nonnull(log);
    ck_assert_msg(strchr(log, '\033') == NULL && strstr(log, "ev/s") == NULL, "status bytes in:\n%s", log);
    ck_assert_msg(strstr(log, "[steady/clicks] info: read=") != NULL, "%s", log);
    free(log);
    free(cmd);
    free(err_path);
    free(a);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("status_line");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    snprintf(server, sizeof server, "sluice-test-%d", (int)getpid());
    tcase_add_checked_fixture(tc, tmux_kill, NULL);
    tcase_add_unchecked_fixture(tc, NULL, tmux_kill);
    tcase_add_test(tc, the_status_line_moves_below_intact_log_lines);
    tcase_add_test(tc, no_progress_shows_no_status_line);
    tcase_add_test(tc, stderr_to_a_file_gets_no_status_bytes);
    suite_add_tcase(s, tc);
    return ts_run_suite(s);
}
