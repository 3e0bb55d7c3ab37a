#include "test_support.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmpdir_path[512];
static pid_t tmpdir_owner; /* forked test processes inherit the atexit, not the folder */

static void remove_tmpdir(void)
{
    if (tmpdir_path[0] != '\0' && getpid() == tmpdir_owner && getenv("SLUICE_KEEP_TMP") == NULL) {
        char *cmd = ts_strf("rm -rf '%s'", tmpdir_path);
        if (system(cmd) != 0) {
            /* best effort */
        }
        free(cmd);
    }
}

const char *ts_tmpdir(void)
{
    if (tmpdir_path[0] == '\0') {
        const char *base = getenv("TMPDIR");
        snprintf(tmpdir_path, sizeof tmpdir_path, "%s/sluice-test-XXXXXX", base ? base : "/tmp");
        if (mkdtemp(tmpdir_path) == NULL) {
            perror("mkdtemp");
            abort();
        }
        tmpdir_owner = getpid();
        atexit(remove_tmpdir);
    }
    return tmpdir_path;
}

char *ts_strf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        abort();
    va_end(ap);
    return s;
}

char *ts_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (cap - n < 2) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
    }
    fclose(f);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

void ts_write_file(const char *path, const char *content)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot write %s", path);
    fputs(content, f);
    fclose(f);
}

int ts_run(const char *cmd, char **out, char **err)
{
    /* Temp files rather than pipes: no deadlock when both streams are large. */
    char *out_path = ts_strf("%s/.run-out-%d", ts_tmpdir(), (int)getpid());
    char *err_path = ts_strf("%s/.run-err-%d", ts_tmpdir(), (int)getpid());
    char *full = ts_strf("( %s ) >'%s' 2>'%s' </dev/null", cmd, out_path, err_path);
    int status = system(full);
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (out)
        *out = ts_read_file(out_path, NULL);
    if (err)
        *err = ts_read_file(err_path, NULL);
    unlink(out_path);
    unlink(err_path);
    free(out_path);
    free(err_path);
    free(full);
    return code;
}

size_t ts_count_lines(const char *path)
{
    size_t n = 0;
    char *buf = ts_read_file(path, NULL);
    if (buf == NULL)
        return 0;
    for (char *p = buf; *p; p++)
        n += *p == '\n';
    free(buf);
    return n;
}

char *ts_diag_text(const diag_list *d)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (f == NULL)
        abort();
    diag_print(d, f);
    fclose(f);
    return text;
}

int ts_run_suite(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

void ts_generate_clicks(const char *options, const char *out)
{
    char *pipeline = ts_strf("%s/generate-%d.yaml", ts_tmpdir(), (int)getpid());
    char *yaml = ts_strf("steps:\n"
                         "  - name: clicks\n"
                         "    plugin: clickgen\n"
                         "    options: {%s%s}\n"
                         "    event: raw\n"
                         "  - name: out\n"
                         "    plugin: file\n"
                         "    input: clicks\n"
                         "    options: {path: '%s', truncate: true}\n",
                         strstr(options, "start:") ? "" : "start: 1795737600000, ", options, out);
    ts_write_file(pipeline, yaml);
    char *cmd = ts_strf("'%s' run '%s'", SLUICE_BIN, pipeline);
    char *err = NULL;
    int rc = ts_run(cmd, NULL, &err);
    ck_assert_msg(rc == 0, "clickgen failed (%d): %s", rc, err ? err : "");
    free(err);
    free(cmd);
    free(yaml);
    free(pipeline);
}

sluice_harness *ts_harness(const char *plugin_file, const char *options, int64_t ooo_ms)
{
    char err[512];
    char *path = ts_strf("%s/%s", SLUICE_PLUGIN_DIR, plugin_file);
    sluice_harness *h = sluice_harness_new(path, err, sizeof err);
    ck_assert_msg(h != NULL, "%s", err);
    free(path);
    char *opts = ts_strf("{%s}", options);
    ck_assert_int_eq(sluice_harness_options(h, opts), 0);
    free(opts);
    ck_assert_msg(sluice_harness_start(h) == 0, "%s", sluice_harness_error(h));
    if (ooo_ms >= 0)
        sluice_harness_max_out_of_order(h, ooo_ms);
    return h;
}

void ts_harness_push_lines(sluice_harness *h, const char *input)
{
    for (const char *line = input; *line;) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        char *one = strndup(line, len);
        ck_assert_msg(sluice_harness_push(h, one) == 0, "%s", sluice_harness_error(h));
        ck_assert_msg(sluice_harness_run(h) == 0, "%s", sluice_harness_error(h));
        free(one);
        line += len + (nl != NULL);
    }
}

char *ts_harness_keyed(sluice_harness *h, const char *output)
{
    size_t n = sluice_harness_count(h, output), len = 0;
    for (size_t i = 0; i < n; i++) {
        const char *key = sluice_harness_key(h, output, i);
        len += (key ? strlen(key) : 0) + strlen(sluice_harness_record(h, output, i)) + 2;
    }
    char *text = calloc(1, len + 1);
    for (size_t i = 0, at = 0; i < n; i++) {
        const char *key = sluice_harness_key(h, output, i);
        at += (size_t)sprintf(text + at, "%s\t%s\n", key ? key : "", sluice_harness_record(h, output, i));
    }
    return text;
}
