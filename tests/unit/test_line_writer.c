/* plugins/common/line_writer.c, what the file and stdout sinks write lines
 * with: lines leave whole and in order, a line larger than the buffer goes
 * straight out after what is buffered, and a failed write fails the pipeline
 * once with a message naming the output, after which nothing more is
 * written. (A full disk, through the real binary: test_disk_full.c.) */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Linked as the sinks link it (sluice_line_writer); it needs only libc and
 * the host table. Before check.h, whose fail() macro would rewrite
 * api->fail(). */
#include "line_writer.h"

#include "test_support.h"

static char failure[512];
static int failures;
static int64_t counted;

static void record_fail(sluice_ctx *ctx, const char *fmt, ...)
{
    (void)ctx;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(failure, sizeof failure, fmt, ap);
    va_end(ap);
    failures++;
}

static void count(sluice_counter *c, int64_t delta)
{
    (void)c;
    counted += delta;
}

static sluice_host_api test_host(void)
{
    sluice_host_api api;
    memset(&api, 0, sizeof api);
    api.struct_size = sizeof api;
    api.fail = record_fail;
    api.counter_add = count;
    failure[0] = '\0';
    failures = 0;
    counted = 0;
    return api;
}

static char *temp_file(const char *name, int *fd)
{
    char *path = ts_strf("%s/%s", ts_tmpdir(), name);
    *fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0666);
    ck_assert_int_ge(*fd, 0);
    return path;
}

static sluice_str str(const char *s) { return (sluice_str){s, strlen(s)}; }

START_TEST(lines_leave_whole_and_in_order_and_a_large_one_goes_straight_out)
{
    sluice_host_api api = test_host();
    int fd;
    char *path = temp_file("order.jsonl", &fd);
    line_writer w;
    ck_assert_int_eq(line_writer_init(&w, fd, "'order.jsonl'", 16, -1), 0);
    w.written = (sluice_counter *)&w; /* any non-NULL counter */
    sluice_str key_line[3] = {str("k"), str("\t"), str("{\"a\":1}")};
    ck_assert_int_eq(line_writer_put(&api, NULL, &w, key_line, 3), SLUICE_OK);
    sluice_str small = str("{\"b\":2}");
    ck_assert_int_eq(line_writer_put(&api, NULL, &w, &small, 1), SLUICE_OK); /* buffer full: first goes */
    sluice_str big = str("{\"c\":\"more than sixteen bytes\"}");
    ck_assert_int_eq(line_writer_put(&api, NULL, &w, &big, 1), SLUICE_OK);
    ck_assert_int_eq(line_writer_flush(&api, NULL, &w), SLUICE_OK);
    const char *want = "k\t{\"a\":1}\n{\"b\":2}\n{\"c\":\"more than sixteen bytes\"}\n";
    char *got = ts_read_file(path, NULL);
    ck_assert_str_eq(got, want);
    ck_assert_int_eq(counted, (int64_t)strlen(want));
    ck_assert_int_eq(failures, 0);
    free(got);
    line_writer_free(&w);
    close(fd);
    free(path);
}
END_TEST

START_TEST(a_reader_gone_fails_once_naming_the_output_and_nothing_more_is_written)
{
    signal(SIGPIPE, SIG_IGN); /* as sluice does: EPIPE, not a signal */
    sluice_host_api api = test_host();
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    close(p[0]);
    line_writer w;
    ck_assert_int_eq(line_writer_init(&w, p[1], "standard output", 64, -1), 0);
    sluice_str line = str("{\"a\":1}");
    ck_assert_int_eq(line_writer_put(&api, NULL, &w, &line, 1), SLUICE_OK);
    ck_assert_int_eq(line_writer_flush(&api, NULL, &w), SLUICE_ERR_IO);
    ck_assert_str_eq(failure, "cannot write to standard output: closed by its reader (broken pipe)");
    ck_assert_int_eq(line_writer_put(&api, NULL, &w, &line, 1), SLUICE_ERR_IO);
    ck_assert_int_eq(line_writer_flush(&api, NULL, &w), SLUICE_ERR_IO);
    ck_assert_int_eq(failures, 1);
    line_writer_free(&w);
    close(p[1]);
}
END_TEST

START_TEST(any_other_write_error_names_the_output_and_the_reason)
{
    sluice_host_api api = test_host();
    int fd;
    char *path = temp_file("readonly.jsonl", &fd);
    close(fd);
    fd = open(path, O_RDONLY);
    line_writer w;
    ck_assert_int_eq(line_writer_init(&w, fd, "'readonly.jsonl'", 64, -1), 0);
    sluice_str line = str("{}");
    ck_assert_int_eq(line_writer_put(&api, NULL, &w, &line, 1), SLUICE_OK);
    ck_assert_int_eq(line_writer_flush(&api, NULL, &w), SLUICE_ERR_IO);
    char *want = ts_strf("cannot write to 'readonly.jsonl': %s", strerror(EBADF));
    ck_assert_str_eq(failure, want);
    free(want);
    line_writer_free(&w);
    close(fd);
    free(path);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("line_writer");
    TCase *tc = tcase_create("line_writer");
    tcase_add_test(tc, lines_leave_whole_and_in_order_and_a_large_one_goes_straight_out);
    tcase_add_test(tc, a_reader_gone_fails_once_naming_the_output_and_nothing_more_is_written);
    tcase_add_test(tc, any_other_write_error_names_the_output_and_the_reason);
    suite_add_tcase(s, tc);
    return ts_run_suite(s);
}
