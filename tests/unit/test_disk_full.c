/* A full disk, played by a file-size limit (RLIMIT_FSIZE, SIGXFSZ ignored,
 * so write(2) returns EFBIG once a file would grow past it), while the real
 * `sluice` writes a file sink's output or a state checkpoint: the run fails
 * with an error naming the file, the output holds whole lines only, the
 * previous checkpoint stays the current one and readable, and a rerun
 * without the limit loses nothing. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_support.h"

/* `sluice run pipeline` in dir with files limited to limit bytes (0: no
 * limit); returns its exit code, its stderr in *err. */
static int run_limited(const char *dir, const char *pipeline, rlim_t limit, char **err)
{
    char *err_path = ts_strf("%s/stderr.txt", dir);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int fd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0666);
        int null = open("/dev/null", O_WRONLY);
        if (fd < 0 || null < 0 || dup2(fd, 2) < 0 || dup2(null, 1) < 0 || chdir(dir) != 0)
            _exit(126);
        signal(SIGXFSZ, SIG_IGN); /* stays ignored across exec: writes fail with EFBIG */
        struct rlimit rl = {limit, limit};
        if (limit > 0 && setrlimit(RLIMIT_FSIZE, &rl) != 0)
            _exit(126);
        execl(SLUICE_BIN, "sluice", "run", "--no-progress", pipeline, (char *)NULL);
        _exit(127);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    *err = ts_read_file(err_path, NULL);
    ck_assert_ptr_nonnull(*err);
    free(err_path);
    ck_assert_msg(WIFEXITED(status), "sluice did not exit (status %d): %s", status, *err);
    return WEXITSTATUS(status);
}

static char *make_dir(const char *name)
{
    char *dir = ts_strf("%s/%s", ts_tmpdir(), name);
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    return dir;
}

#define LINES 3000

static void input_line(char *buf, size_t size, int n)
{
    snprintf(buf, size, "{\"n\":%d,\"pad\":\"%0*d\"}", n, 60 + n % 23, n);
}

START_TEST(a_file_sink_on_a_full_disk_fails_naming_the_file_and_leaves_whole_lines)
{
    char *dir = make_dir("sink");
    char *in = ts_strf("%s/in.jsonl", dir), *out = ts_strf("%s/out.jsonl", dir);
    FILE *f = fopen(in, "w");
    ck_assert_ptr_nonnull(f);
    char line[256];
    for (int n = 0; n < LINES; n++) {
        input_line(line, sizeof line, n);
        fprintf(f, "%s\n", line);
    }
    fclose(f);
    char *yaml = ts_strf("%s/p.yaml", dir);
    ts_write_file(yaml, "name: p\n"
                        "state_dir: state\n"
                        "checkpoint_interval: 10ms\n"
                        "steps:\n"
                        "  - name: lines\n"
                        "    plugin: file\n"
                        "    options: {path: in.jsonl}\n"
                        "    event: raw\n"
                        "  - name: copy\n"
                        "    plugin: file\n"
                        "    input: lines\n"
                        "    options: {path: out.jsonl, buffer_size: 4096}\n");

    /* 100,000 bytes: the input (about 270 KB) cannot fit, and the limit
     * falls inside a line. */
    char *err = NULL;
    int rc = run_limited(dir, "p.yaml", 100000, &err);
    ck_assert_msg(rc == 1, "exit code %d: %s", rc, err);
    char *want = ts_strf("cannot write to '%s': %s", "out.jsonl", strerror(EFBIG));
    ck_assert_msg(strstr(err, want) != NULL, "no '%s' in: %s", want, err);
    free(want);
    free(err);
    size_t len = 0;
    char *text = ts_read_file(out, &len);
    ck_assert_ptr_nonnull(text);
    ck_assert_msg(len > 0 && len <= 100000, "%zu bytes", len);
    ck_assert_msg(text[len - 1] == '\n', "the output ends in a partial line");
    free(text);

    /* Room again: the rerun resumes from the last checkpoint, so every input
     * line is in the output (some twice: at-least-once), and only whole ones. */
    rc = run_limited(dir, "p.yaml", 0, &err);
    ck_assert_msg(rc == 0, "exit code %d: %s", rc, err);
    free(err);
    text = ts_read_file(out, &len);
    ck_assert_ptr_nonnull(text);
    char *seen = calloc(LINES, 1);
    for (char *p = text, *nl; (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
        *nl = '\0';
        int n = -1;
        ck_assert_msg(sscanf(p, "{\"n\":%d,", &n) == 1 && n >= 0 && n < LINES, "not an input line: %s", p);
        input_line(line, sizeof line, n);
        ck_assert_str_eq(p, line);
        seen[n] = 1;
    }
    for (int n = 0; n < LINES; n++)
        ck_assert_msg(seen[n], "line %d is missing after the rerun", n);
    free(seen);
    free(text);
    free(yaml);
    free(in);
    free(out);
    free(dir);
}
END_TEST

/* clickgen's state is 32 bytes per user: with 2,000 users a checkpoint
 * (about 67 KB) outgrows a 32 KB limit that its output never reaches. */
static void write_clickgen_pipeline(const char *dir, int count)
{
    char *path = ts_strf("%s/p.yaml", dir);
    char *yaml = ts_strf("name: p\n"
                         "state_dir: state\n"
                         "steps:\n"
                         "  - name: clicks\n"
                         "    plugin: clickgen\n"
                         "    options: {count: %d, users: 2000, start: 1700000000000}\n"
                         "    event: raw\n"
                         "  - name: out\n"
                         "    plugin: file\n"
                         "    input: clicks\n"
                         "    options: {path: out.jsonl}\n",
                         count);
    ts_write_file(path, yaml);
    free(yaml);
    free(path);
}

START_TEST(a_checkpoint_on_a_full_disk_fails_naming_it_and_the_previous_one_stays_current)
{
    char *dir = make_dir("checkpoint");
    char *state = ts_strf("%s/state/p.state", dir), *tmp = ts_strf("%s/state/p.state.tmp", dir);
    write_clickgen_pipeline(dir, 50);
    char *err = NULL;
    int rc = run_limited(dir, "p.yaml", 0, &err);
    ck_assert_msg(rc == 0, "exit code %d: %s", rc, err);
    free(err);
    size_t before_len = 0;
    char *before = ts_read_file(state, &before_len);
    ck_assert_ptr_nonnull(before);
    ck_assert_msg(before_len > 40000, "a checkpoint of %zu bytes fits the limit", before_len);

    write_clickgen_pipeline(dir, 100);
    rc = run_limited(dir, "p.yaml", 32768, &err);
    ck_assert_msg(rc == 1, "exit code %d: %s", rc, err);
    char *want = ts_strf("cannot write state/p.state.tmp: %s", strerror(EFBIG));
    ck_assert_msg(strstr(err, want) != NULL, "no '%s' in: %s", want, err);
    free(want);
    free(err);
    size_t after_len = 0;
    char *after = ts_read_file(state, &after_len);
    ck_assert_ptr_nonnull(after);
    ck_assert_msg(after_len == before_len && memcmp(before, after, before_len) == 0,
                  "the previous checkpoint was replaced");
    ck_assert_msg(access(tmp, F_OK) != 0, "the partial checkpoint %s was left behind", tmp);

    /* The previous checkpoint is still read, and the run completes. */
    rc = run_limited(dir, "p.yaml", 0, &err);
    ck_assert_msg(rc == 0, "exit code %d: %s", rc, err);
    ck_assert_msg(strstr(err, "restored checkpoint") != NULL, "%s", err);
    free(err);
    free(before);
    free(after);
    free(state);
    free(tmp);
    free(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("disk_full");
    TCase *tc = tcase_create("disk_full");
    tcase_add_test(tc, a_file_sink_on_a_full_disk_fails_naming_the_file_and_leaves_whole_lines);
    tcase_add_test(tc, a_checkpoint_on_a_full_disk_fails_naming_it_and_the_previous_one_stays_current);
    suite_add_tcase(s, tc);
    return ts_run_suite(s);
}
