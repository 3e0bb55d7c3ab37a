/* Helpers shared by the Check suites: temporary folders, files, and running
 * the real `sluice` binary with its output captured. */
#ifndef SLUICE_TEST_SUPPORT_H
#define SLUICE_TEST_SUPPORT_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "sluice/testing.h"

/* A new empty folder under $TMPDIR (or /tmp), removed at exit. */
const char *ts_tmpdir(void);
/* printf into a malloc'd string. */
char *ts_strf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Whole file as a NUL-terminated malloc'd buffer (NULL if unreadable). */
char *ts_read_file(const char *path, size_t *len);
void ts_write_file(const char *path, const char *content);
/* Run `sh -c cmd`; capture stdout and stderr (malloc'd, may be NULL if not
 * wanted); return the exit status (128+signal when killed). */
int ts_run(const char *cmd, char **out, char **err);
/* Count lines of a file (0 if missing). */
size_t ts_count_lines(const char *path);
/* The diagnostics as `sluice check` prints them (malloc'd). */
char *ts_diag_text(const diag_list *d);
/* Errors a test provokes on purpose are asserted on, never printed: only an
 * assertion about them that fails shows them, in its message, so that the
 * suite's output is quiet unless something is wrong. The message is built
 * only on failure. */
#define ck_assert_diag(d, expr) ck_assert_msg((expr), "diagnostics were:\n%s", ts_diag_text(d))
#define ck_assert_diag_count(d, n)                                                                  \
    ck_assert_msg((d)->count == (size_t)(n), "expected %zu diagnostics, got %zu:\n%s", (size_t)(n), \
                  (d)->count, ts_diag_text(d))
/* The test driver on a plugin of this build (its file name, e.g.
 * "operator-dedup.so"), started with `options` (a YAML flow-map body, as
 * "ttl: 10s") and, when ooo_ms >= 0, the watermark of a source allowing
 * ooo_ms out of order. Fails the test when the plugin does not start. */
sluice_harness *ts_harness(const char *plugin_file, const char *options, int64_t ooo_ms);
/* Push each line of input (JSON objects, one per line) as its own batch. */
void ts_harness_push_lines(sluice_harness *h, const char *input);
/* The records of output as "key<TAB>json" lines (malloc'd). */
char *ts_harness_keyed(sluice_harness *h, const char *output);
/* Run one suite with the CK_NORMAL summary; returns the process exit code. */
int ts_run_suite(Suite *s);

/* Click events from clickgen into `out` (raw JSON lines), with `options`
 * (YAML flow-map entries, e.g. "count: 1000, seed: 5"); fails the test if
 * the run does. Times start at 2026-11-27 unless options say `start:`. */
void ts_generate_clicks(const char *options, const char *out);

#endif
