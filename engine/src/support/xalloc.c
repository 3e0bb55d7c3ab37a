/* The out-of-memory policy (xalloc.h). */
#include "xalloc.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* SLUICE_FAIL_ALLOC_AFTER: allocations left before one fails (tests); -1 none. */
static atomic_long fail_after = -2; /* -2: not read yet */

static int injected_failure(void)
{
    long left = atomic_load(&fail_after);
    if (left == -2) {
        const char *env = getenv("SLUICE_FAIL_ALLOC_AFTER");
        long want = env && *env ? strtol(env, NULL, 10) : -1;
        long expected = -2;
        atomic_compare_exchange_strong(&fail_after, &expected, want < 0 ? -1 : want);
        left = atomic_load(&fail_after);
    }
    if (left < 0)
        return 0;
    return atomic_fetch_sub(&fail_after, 1) <= 0;
}

_Noreturn void out_of_memory(size_t bytes)
{
    /* No allocation, no stdio buffers: write(2) of a fixed text. */
    char line[200];
    int n = snprintf(line, sizeof line,
                     "sluice: out of memory (%zu bytes could not be allocated): stopping; the next start "
                     "resumes from the last checkpoint\n",
                     bytes);
    if (n > 0 && write(STDERR_FILENO, line, (size_t)n) < 0) {
        /* nothing more can be said */
    }
    _exit(EXIT_OUT_OF_MEMORY);
}

static void *checked(void *p, size_t bytes)
{
    if (p == NULL)
        out_of_memory(bytes);
    return p;
}

void *xmalloc(size_t n) { return checked(injected_failure() ? NULL : malloc(n ? n : 1), n); }

void *xcalloc(size_t count, size_t size)
{
    return checked(injected_failure() ? NULL : calloc(count ? count : 1, size ? size : 1), count * size);
}

void *xrealloc(void *p, size_t n)
{
    if (injected_failure())
        out_of_memory(n);
    return checked(realloc(p, n ? n : 1), n);
}

void *xaligned_alloc(size_t align, size_t n)
{
    size_t rounded = (n + align - 1) / align * align; /* C11: a multiple of the alignment */
    return checked(injected_failure() ? NULL : aligned_alloc(align, rounded ? rounded : align), n);
}

char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(xmalloc(n), s, n);
}

char *xstrndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *copy = xmalloc(len + 1);
    memcpy(copy, s, len);
    copy[len] = '\0';
    return copy;
}

int xasprintf(char **out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    *out = xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(*out, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return n;
}
