/* `sluice test FILE.test.yaml`: a pipeline run in-process on a test's input
 * events (its source replaced by them, its sinks by collectors), with the
 * records each sink received and the steps' counters compared with what
 * the test expects. The format is in docs/testing.md. */
#ifndef SLUICE_PIPELINE_TEST_H
#define SLUICE_PIPELINE_TEST_H

#include <stdio.h>

/* Run every test of the file: a line per test on out, each mismatch as
 * `file:line:column: error: ...` with what was received on err. Returns 0
 * when all passed, 1 when one failed, 3 when the file or its pipeline is
 * invalid. */
int pipeline_test_file(const char *path, FILE *out, FILE *err);

#endif
