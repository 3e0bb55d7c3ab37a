/* A growable text buffer for the JSON and keys url_count writes itself
 * (top_urls, "<window_start>|<url>"). Reused across records: no per-event
 * allocation once it has grown. */
#ifndef TEXT_BUF_H
#define TEXT_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct text_buf {
    char *ptr;
    size_t len, cap;
    int failed; /* an allocation failed: the text is incomplete */
} text_buf;

void text_buf_free(text_buf *b);
void text_buf_reset(text_buf *b); /* empty, keeping the memory */
void text_buf_append(text_buf *b, const char *s, size_t n);
void text_buf_append_int(text_buf *b, int64_t v);
/* s (valid UTF-8) as a JSON string, quotes included: ", \ and control
 * characters escaped, the latter as \u00XX. */
void text_buf_append_json_string(text_buf *b, const char *s, size_t n);

#endif
