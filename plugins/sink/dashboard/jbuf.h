/* A growable text buffer for the JSON the dashboard writes (snapshots, SSE
 * messages). An allocation failure is remembered rather than reported at
 * every append: the caller checks `failed` once, when the text is done. */
#ifndef DASH_JBUF_H
#define DASH_JBUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct jbuf {
    char *ptr; /* NUL-terminated while !failed */
    size_t len, cap;
    int failed;
} jbuf;

void jbuf_free(jbuf *b);
void jbuf_reset(jbuf *b); /* empty, keeping the memory */
void jbuf_append(jbuf *b, const char *s, size_t n);
void jbuf_puts(jbuf *b, const char *s);
void jbuf_printf(jbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void jbuf_int(jbuf *b, int64_t v);
/* A finite double as JSON (NaN and infinities, which JSON lacks, as null). */
void jbuf_double(jbuf *b, double v);
/* s as a JSON string, quotes included. Control characters are escaped and
 * invalid UTF-8 becomes U+FFFD, so whatever a record holds, the result is
 * valid JSON on one line (an SSE data line must not contain a newline). */
void jbuf_string(jbuf *b, const char *s, size_t n);
/* Hands the text over (the caller frees it) and leaves the buffer empty. */
char *jbuf_take(jbuf *b, size_t *len);

#endif
