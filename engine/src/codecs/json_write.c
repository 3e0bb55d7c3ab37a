/* The JSON writer: strings escaped like jansson's default output (no '/'
 * escape, non-ASCII kept as UTF-8, invalid UTF-8 replaced by U+FFFD) and
 * whole records, sized exactly before one arena allocation. */
#include "json_scan.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const unsigned char is_ws[256] = {[' '] = 1, ['\t'] = 1, ['\n'] = 1, ['\r'] = 1};

/* Bytes each ASCII byte takes once escaped (0: non-ASCII, see utf8_seq). */
static const unsigned char escaped_len[256] = {
    [0x00 ... 0x07] = 6, ['\b'] = 2, ['\t'] = 2,          ['\n'] = 2,          [0x0b] = 6,
    ['\f'] = 2,          ['\r'] = 2, [0x0e ... 0x1f] = 6, [0x20 ... 0x21] = 1, ['"'] = 2,
    [0x23 ... 0x5b] = 1, ['\\'] = 2, [0x5d ... 0x7f] = 1,
};

static size_t escape_string_len(const char *str, size_t n)
{
    const unsigned char *p = (const unsigned char *)str, *end = n ? p + n : p; /* str may be NULL */
    size_t out = 2;
    while (p < end) {
        unsigned e = escaped_len[*p];
        if (e) {
            out += e;
            p++;
        } else {
            int ok;
            size_t k = json_utf8_seq(p, (size_t)(end - p), &ok);
            out += ok ? k : 3;
            p += k;
        }
    }
    return out;
}

size_t json_escape_string(char *buf, const char *str, size_t n)
{
    static const char hexd[] = "0123456789ABCDEF";
    const unsigned char *p = (const unsigned char *)str, *end = n ? p + n : p; /* str may be NULL */
    char *o = buf;
    *o++ = '"';
    while (p < end) {
        const unsigned char *run = p;
        while (p < end && escaped_len[*p] == 1)
            p++;
        memcpy(o, run, (size_t)(p - run));
        o += p - run;
        if (p == end)
            break;
        unsigned c = *p;
        if (c >= 0x80) {
            int ok;
            size_t k = json_utf8_seq(p, (size_t)(end - p), &ok);
            if (ok) {
                memcpy(o, p, k);
                o += k;
            } else {
                memcpy(o, "\xEF\xBF\xBD", 3); /* U+FFFD */
                o += 3;
            }
            p += k;
            continue;
        }
        p++;
        *o++ = '\\';
        switch (c) {
        case '"':
            *o++ = '"';
            break;
        case '\\':
            *o++ = '\\';
            break;
        case '\b':
            *o++ = 'b';
            break;
        case '\f':
            *o++ = 'f';
            break;
        case '\n':
            *o++ = 'n';
            break;
        case '\r':
            *o++ = 'r';
            break;
        case '\t':
            *o++ = 't';
            break;
        default:
            memcpy(o, "u00", 3);
            o[3] = hexd[c >> 4];
            o[4] = hexd[c & 15];
            o += 5;
        }
    }
    *o++ = '"';
    return (size_t)(o - buf);
}

/* Integers are most of what operators write (times, counts): digits by hand,
 * not through printf. */
size_t json_format_int(char *buf, int64_t v)
{
    char tmp[24];
    size_t n = 0, len = 0;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        buf[len++] = '-';
    while (n)
        buf[len++] = tmp[--n];
    buf[len] = '\0';
    return len;
}

size_t json_format_double(char *buf, double d)
{
    if (!isfinite(d)) {
        memcpy(buf, "null", 5);
        return 4;
    }
    /* Whole numbers below 1e15 (every average of one session is one) print
     * as %.15g prints them, without printf. */
    if (d > -1e15 && d < 1e15 && d == (double)(int64_t)d && !(d == 0 && signbit(d))) {
        size_t len = json_format_int(buf, (int64_t)d);
        memcpy(buf + len, ".0", 3);
        return len + 2;
    }
    int n = 0;
    /* The shortest %.Ng that reads back as the same double. */
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(buf, 32, "%.*g", prec, d);
        if (prec == 17 || strtod(buf, NULL) == d)
            break;
    }
    /* Keep it a real on the way back in, as jansson does. */
    if (strspn(buf, "-0123456789") == (size_t)n) {
        memcpy(buf + n, ".0", 3);
        n += 2;
    }
    return (size_t)n;
}

/* The value's JSON text for numbers, JSON and literals; NULL for strings. */
static const char *scalar_text(const field *f, char tmp[32], size_t *len)
{
    switch (f->type) {
    case SLUICE_TYPE_INT:
        if (f->text) {
            *len = f->len;
            return f->text;
        }
        *len = json_format_int(tmp, f->v.i);
        return tmp;
    case SLUICE_TYPE_DOUBLE:
        if (f->text) {
            *len = f->len;
            return f->text;
        }
        *len = json_format_double(tmp, f->v.d);
        return tmp;
    case SLUICE_TYPE_JSON:
        if (f->text && f->len) {
            *len = f->len;
            return f->text;
        }
        break;
    case SLUICE_TYPE_BOOL:
        *len = f->v.b ? 4 : 5;
        return f->v.b ? "true" : "false";
    case SLUICE_TYPE_STRING:
        return NULL;
    default:
        break;
    }
    *len = 4;
    return "null";
}

sluice_str json_write_record(const sluice_record *rec, arena *a)
{
    if (rec->json != NULL)
        return (sluice_str){rec->json, rec->json_len};
    if (!rec->modified && rec->raw != NULL) {
        const char *p = rec->raw, *end = rec->raw + rec->raw_len;
        while (p < end && is_ws[(unsigned char)*p])
            p++;
        while (end > p && is_ws[(unsigned char)end[-1]])
            end--;
        return (sluice_str){p, (size_t)(end - p)};
    }
    char tmp[32];
    size_t size = 2, n;
    for (uint32_t i = 0; i < rec->nfields; i++) {
        const field *f = &rec->fields[i];
        if (f->type == SLUICE_TYPE_NONE)
            continue;
        size += escape_string_len(f->name, f->name_len) + 2; /* ':' and ',' */
        if (f->type == SLUICE_TYPE_STRING)
            size += escape_string_len(f->text, f->len);
        else if (f->type != SLUICE_TYPE_INT && f->type != SLUICE_TYPE_DOUBLE)
            size += (scalar_text(f, tmp, &n), n);
        else
            size += f->text ? f->len : 32;
    }
    char *out = arena_alloc(a, size), *o = out;
    *o++ = '{';
    for (uint32_t i = 0; i < rec->nfields; i++) {
        const field *f = &rec->fields[i];
        if (f->type == SLUICE_TYPE_NONE)
            continue;
        if (o != out + 1)
            *o++ = ',';
        o += json_escape_string(o, f->name, f->name_len);
        *o++ = ':';
        const char *t = scalar_text(f, tmp, &n);
        if (t == NULL) {
            o += json_escape_string(o, f->text, f->len);
        } else {
            memcpy(o, t, n);
            o += n;
        }
    }
    *o++ = '}';
    return (sluice_str){out, (size_t)(o - out)};
}
