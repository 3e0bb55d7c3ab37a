/* The engine's out-of-memory policy, in one place.
 *
 * Every allocation the engine makes goes through these functions, which
 * never return NULL: when memory runs out, out_of_memory() writes one line
 * to standard error naming what could not be had, and ends the process with
 * exit code 4 (EXIT_OUT_OF_MEMORY). No checkpoint is written on the way out,
 * so state and committed positions stay those of the last completed
 * checkpoint, and a restart reads again what came after it: nothing
 * acknowledged is lost. It is an orderly stop, never a crash: no signal,
 * no core, no half-written file.
 *
 * Why not fail only the pipeline and go on: by the time an allocation
 * fails, any step of any pipeline in the process may be next to need one,
 * and C gives no way to unwind a plugin's hook; Redis, PostgreSQL's
 * postmaster children and the JVM's OutOfMemoryError-then-exit in Kafka
 * Streams deployments take the same line. Bounded memory is the job of
 * `memory_limit` (backpressure), not of recovery after the fact.
 *
 * The host API functions that allocate (alloc, record_new, record_copy,
 * set_*, emit, reject) therefore never return NULL to a plugin.
 *
 * Tests make allocations fail on purpose: with SLUICE_FAIL_ALLOC_AFTER=N in
 * the environment, the (N+1)th allocation through these functions fails. */
#ifndef SLUICE_XALLOC_H
#define SLUICE_XALLOC_H

#include <stddef.h>

#define EXIT_OUT_OF_MEMORY 4

_Noreturn void out_of_memory(size_t bytes);

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
void *xaligned_alloc(size_t align, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* asprintf that never fails; returns the length. */
int xasprintf(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
