#include "pg_text.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void pg_text_free(pg_text *t)
{
    free(t->ptr);
    *t = (pg_text){0};
}

static int reserve(pg_text *t, size_t more)
{
    if (t->oom)
        return -1;
    if (t->len + more + 1 <= t->cap)
        return 0;
    size_t cap = t->cap ? t->cap : 4096;
    while (cap < t->len + more + 1)
        cap *= 2;
    char *p = realloc(t->ptr, cap);
    if (p == NULL) {
        t->oom = 1;
        return -1;
    }
    t->ptr = p;
    t->cap = cap;
    return 0;
}

void pg_text_put(pg_text *t, const char *p, size_t n)
{
    if (reserve(t, n) != 0)
        return;
    if (n)
        memcpy(t->ptr + t->len, p, n);
    t->len += n;
    t->ptr[t->len] = '\0';
}

void pg_text_putc(pg_text *t, char c) { pg_text_put(t, &c, 1); }

void pg_text_puts(pg_text *t, const char *s) { pg_text_put(t, s, strlen(s)); }

void pg_text_printf(pg_text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof small) {
        pg_text_put(t, small, (size_t)n);
        return;
    }
    if (reserve(t, (size_t)n) != 0)
        return;
    va_start(ap, fmt);
    vsnprintf(t->ptr + t->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    t->len += (size_t)n;
}

/* Length of the valid UTF-8 sequence at p (1-4), or 0 when it is not one. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    unsigned c = p[0];
    if (c < 0x80)
        return 1;
    size_t len = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    if (len == 0 || len > n)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    if ((c == 0xE0 && p[1] < 0xA0) || (c == 0xED && p[1] > 0x9F) || (c == 0xF0 && p[1] < 0x90) ||
        (c == 0xF4 && p[1] > 0x8F))
        return 0; /* overlong, surrogate, or beyond U+10FFFF */
    return len;
}

static const char replacement[] = "\xEF\xBF\xBD";

void pg_copy_value(pg_text *t, const char *p, size_t n, int sanitize)
{
    if (reserve(t, n + 16) != 0)
        return;
    size_t run = 0; /* bytes copied as they are, in one go */
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)p[i];
        const char *esc = NULL;
        size_t step = 1;
        switch (c) {
        case '\\':
            esc = "\\\\";
            break;
        case '\t':
            esc = "\\t";
            break;
        case '\n':
            esc = "\\n";
            break;
        case '\r':
            esc = "\\r";
            break;
        default:
            if (sanitize && (c == 0 || c >= 0x80)) {
                step = c == 0 ? 0 : utf8_len((const unsigned char *)p + i, n - i);
                if (step == 0) {
                    esc = replacement;
                    step = 1;
                }
            }
        }
        if (esc == NULL) {
            i += step;
            run += step;
            continue;
        }
        pg_text_put(t, p + i - run, run);
        run = 0;
        pg_text_puts(t, esc);
        i += step;
    }
    pg_text_put(t, p + n - run, run);
}

void pg_copy_int(pg_text *t, int64_t v)
{
    char num[24];
    int n = snprintf(num, sizeof num, "%" PRId64, v);
    pg_text_put(t, num, (size_t)n);
}

void pg_copy_null(pg_text *t) { pg_text_put(t, "\\N", 2); }

void pg_quote_ident(pg_text *t, const char *s)
{
    pg_text_putc(t, '"');
    for (; *s; s++) {
        if (*s == '"')
            pg_text_putc(t, '"');
        pg_text_putc(t, *s);
    }
    pg_text_putc(t, '"');
}

void pg_quote_literal(pg_text *t, const char *s, size_t n)
{
    pg_text_putc(t, '\'');
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\'')
            pg_text_putc(t, '\'');
        if (s[i] != '\0')
            pg_text_putc(t, s[i]);
    }
    pg_text_putc(t, '\'');
}

int pg_copy_column(const char *line, size_t n, size_t col, pg_text *out)
{
    size_t i = 0;
    for (size_t c = 0; c < col; c++) {
        const char *tab = memchr(line + i, '\t', n - i);
        if (tab == NULL)
            return -1;
        i = (size_t)(tab - line) + 1;
    }
    const char *end = memchr(line + i, '\t', n - i);
    size_t stop = end ? (size_t)(end - line) : n;
    if (stop - i == 2 && line[i] == '\\' && line[i + 1] == 'N')
        return 1;
    for (; i < stop; i++) {
        char c = line[i];
        if (c == '\\' && i + 1 < stop) {
            c = line[++i];
            c = c == 't' ? '\t' : c == 'n' ? '\n' : c == 'r' ? '\r' : c;
        }
        pg_text_putc(out, c);
    }
    return 0;
}

void pg_json_string(pg_text *t, const char *p, size_t n)
{
    pg_text_putc(t, '"');
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)p[i];
        if (c == '"' || c == '\\') {
            pg_text_putc(t, '\\');
            pg_text_putc(t, (char)c);
            i++;
        } else if (c < 0x20) {
            pg_text_printf(t, "\\u%04x", c);
            i++;
        } else if (c < 0x80) {
            pg_text_putc(t, (char)c);
            i++;
        } else {
            size_t len = utf8_len((const unsigned char *)p + i, n - i);
            if (len == 0) {
                pg_text_puts(t, replacement);
                i++;
            } else {
                pg_text_put(t, p + i, len);
                i += len;
            }
        }
    }
    pg_text_putc(t, '"');
}
