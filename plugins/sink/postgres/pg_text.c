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

/* Floor division, for times before the epoch. */
static int64_t floor_div(int64_t a, int64_t b) { return a / b - (a % b != 0 && (a < 0) != (b < 0)); }

/* Proleptic Gregorian calendar, days since 1970-01-01 (H. Hinnant's
 * civil_from_days / days_from_civil). */
static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = floor_div(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = floor_div(y, 400);
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static char *two(char *p, int v)
{
    p[0] = (char)('0' + v / 10);
    p[1] = (char)('0' + v % 10);
    return p + 2;
}

void pg_copy_time(pg_text *t, int64_t ms)
{
    int64_t day = floor_div(ms, 86400000), rem = ms - day * 86400000, y;
    int m, d;
    civil_from_days(day, &y, &m, &d);
    int h = (int)(rem / 3600000), mi = (int)(rem / 60000 % 60), sec = (int)(rem / 1000 % 60),
        milli = (int)(rem % 1000);
    if (y < 1 || y > 9999) {
        /* Year 0 is 1 BC in PostgreSQL's input. */
        pg_text_printf(t, "%04" PRId64 "-%02d-%02d %02d:%02d:%02d.%03d+00%s", y < 1 ? 1 - y : y, m, d, h, mi,
                       sec, milli, y < 1 ? " BC" : "");
        return;
    }
    char buf[32], *p = buf;
    p = two(p, (int)(y / 100));
    p = two(p, (int)(y % 100));
    *p++ = '-';
    p = two(p, m);
    *p++ = '-';
    p = two(p, d);
    *p++ = ' ';
    p = two(p, h);
    *p++ = ':';
    p = two(p, mi);
    *p++ = ':';
    p = two(p, sec);
    *p++ = '.';
    *p++ = (char)('0' + milli / 100);
    p = two(p, milli % 100);
    memcpy(p, "+00", 3);
    pg_text_put(t, buf, (size_t)(p + 3 - buf));
}

int pg_time_ms(const char *p, size_t n, int64_t *ms)
{
    char buf[64];
    if (n >= sizeof buf)
        return -1;
    memcpy(buf, p, n);
    buf[n] = '\0';
    long long y;
    int m, d, h, mi, sec, milli, used = 0;
    if (sscanf(buf, "%lld-%d-%d %d:%d:%d.%3d+00%n", &y, &m, &d, &h, &mi, &sec, &milli, &used) != 7)
        return -1;
    if (strcmp(buf + used, " BC") == 0)
        y = 1 - y;
    else if (buf[used] != '\0')
        return -1;
    *ms = days_from_civil((int64_t)y, m, d) * 86400000 + (int64_t)h * 3600000 + (int64_t)mi * 60000 +
          (int64_t)sec * 1000 + milli;
    return 0;
}

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
