#include "text_buf.h"

#include <stdlib.h>
#include <string.h>

static int reserve(text_buf *b, size_t more)
{
    if (b->failed)
        return 0;
    if (b->cap - b->len >= more)
        return 1;
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len < more)
        cap *= 2;
    char *p = realloc(b->ptr, cap);
    if (p == NULL) {
        b->failed = 1;
        return 0;
    }
    b->ptr = p;
    b->cap = cap;
    return 1;
}

void text_buf_free(text_buf *b)
{
    free(b->ptr);
    memset(b, 0, sizeof *b);
}

void text_buf_reset(text_buf *b)
{
    b->len = 0;
    b->failed = 0;
}

void text_buf_append(text_buf *b, const char *s, size_t n)
{
    if (!reserve(b, n))
        return;
    memcpy(b->ptr + b->len, s, n);
    b->len += n;
}

void text_buf_append_int(text_buf *b, int64_t v)
{
    /* By hand: this runs for every url_clicks key, and snprintf is slow. */
    char digits[24];
    char *end = digits + sizeof digits, *p = end;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (v < 0)
        *--p = '-';
    text_buf_append(b, p, (size_t)(end - p));
}

void text_buf_append_json_string(text_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    /* Worst case every byte becomes \u00XX. */
    if (!reserve(b, n * 6 + 2))
        return;
    char *out = b->ptr + b->len;
    *out++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            *out++ = '\\';
            *out++ = (char)c;
        } else if (c < 0x20) {
            memcpy(out, "\\u00", 4);
            out[4] = hex[c >> 4];
            out[5] = hex[c & 15];
            out += 6;
        } else {
            *out++ = (char)c;
        }
    }
    *out++ = '"';
    b->len = (size_t)(out - b->ptr);
}
