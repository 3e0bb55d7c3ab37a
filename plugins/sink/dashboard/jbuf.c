#include "jbuf.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void jbuf_free(jbuf *b)
{
    free(b->ptr);
    *b = (jbuf){0};
}

void jbuf_reset(jbuf *b)
{
    b->len = 0;
    b->failed = 0;
    if (b->ptr)
        b->ptr[0] = '\0';
}

static int reserve(jbuf *b, size_t extra)
{
    if (b->failed)
        return 0;
    if (b->len + extra + 1 <= b->cap)
        return 1;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1)
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

void jbuf_append(jbuf *b, const char *s, size_t n)
{
    if (!reserve(b, n))
        return;
    memcpy(b->ptr + b->len, s, n);
    b->len += n;
    b->ptr[b->len] = '\0';
}

void jbuf_puts(jbuf *b, const char *s) { jbuf_append(b, s, strlen(s)); }

void jbuf_printf(jbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = 1;
        return;
    }
    if ((size_t)n < sizeof small) {
        jbuf_append(b, small, (size_t)n);
        return;
    }
    if (!reserve(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->ptr + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void jbuf_int(jbuf *b, int64_t v) { jbuf_printf(b, "%lld", (long long)v); }

void jbuf_double(jbuf *b, double v)
{
    if (!isfinite(v))
        jbuf_puts(b, "null");
    else
        jbuf_printf(b, "%.17g", v);
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when it is not one. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned min;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2, min = 0x80;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3, min = 0x800;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4, min = 0x10000;
    else
        return 0;
    if (len > n)
        return 0;
    unsigned cp = c & (0x7f >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

void jbuf_string(jbuf *b, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    jbuf_append(b, "\"", 1);
    size_t run = 0; /* bytes at p[i - run .. i) copied as they are */
    for (size_t i = 0; i < n;) {
        unsigned char c = p[i];
        size_t len = utf8_len(p + i, n - i);
        if (len > 0 && c >= 0x20 && c != '"' && c != '\\') {
            i += len;
            run += len;
            continue;
        }
        jbuf_append(b, (const char *)p + i - run, run);
        run = 0;
        if (len == 0) {
            jbuf_puts(b, "\\ufffd");
        } else if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            jbuf_append(b, esc, 2);
        } else {
            jbuf_printf(b, "\\u%04x", c);
        }
        i++;
    }
    jbuf_append(b, (const char *)p + n - run, run);
    jbuf_append(b, "\"", 1);
}

char *jbuf_take(jbuf *b, size_t *len)
{
    if (b->failed || b->ptr == NULL) {
        jbuf_free(b);
        if (len)
            *len = 0;
        return NULL;
    }
    char *p = b->ptr;
    if (len)
        *len = b->len;
    *b = (jbuf){0};
    return p;
}
