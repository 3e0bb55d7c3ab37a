/* One-pass strict JSON scanner for the engine's hot path, and the matching
 * writer. The accept/reject set is jansson's (json_loadb with
 * JSON_DECODE_ANY) with one deliberate difference, proven by the differential
 * test: numbers beyond int64 (integers) or beyond double (reals) are valid
 * JSON (RFC 8259 section 6) and are kept as SLUICE_TYPE_JSON text, where
 * jansson refuses them ("too big integer", "real number overflow"). */
#include "json_scan.h"
#include "xalloc.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* jansson's JSON_PARSER_MAX_DEPTH: every value, scalar or not, sits at
 * depth (enclosing containers + 1), which must not exceed this. */
#define JSON_SCAN_MAX_DEPTH 2048

typedef const unsigned char *cur;

typedef struct scanner {
    cur start, end;
    char *err;
    size_t errsz;
} scanner;

/* ------------------------------------------------------------------------ */
/* Character classes                                                         */

enum { SC_PLAIN = 0, SC_QUOTE, SC_BACKSLASH, SC_CONTROL, SC_HIGH };

/* What a byte means inside a string. */
static const unsigned char string_class[256] = {
    [0x00 ... 0x1f] = SC_CONTROL,
    ['"'] = SC_QUOTE,
    ['\\'] = SC_BACKSLASH,
    [0x80 ... 0xff] = SC_HIGH,
};

static const unsigned char is_ws[256] = {[' '] = 1, ['\t'] = 1, ['\n'] = 1, ['\r'] = 1};
static const unsigned char is_digit[256] = {['0' ... '9'] = 1};

/* Hex digit value plus one; 0 for anything else. */
static const unsigned char hex_value1[256] = {
    ['0'] = 1,  ['1'] = 2,  ['2'] = 3,  ['3'] = 4,  ['4'] = 5,  ['5'] = 6,  ['6'] = 7,  ['7'] = 8,
    ['8'] = 9,  ['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
    ['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
};

static cur fail(scanner *s, cur at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static cur fail(scanner *s, cur at, const char *fmt, ...)
{
    if (s->err && s->errsz) {
        char what[96];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(what, sizeof what, fmt, ap);
        va_end(ap);
        snprintf(s->err, s->errsz, "%s at byte %zu", what, (size_t)(at - s->start));
    }
    return NULL;
}

static inline cur skip_ws(cur p, cur end)
{
    while (p < end && is_ws[*p])
        p++;
    return p;
}

/* ------------------------------------------------------------------------ */
/* Strings                                                                   */

/* Flags (high bit of each byte) for the special string bytes among 8:
 * quote, backslash, control character, non-ASCII. Borrows only carry
 * upward, so the lowest flagged byte is always a true one. */
static inline uint64_t special8(cur p)
{
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    uint64_t v;
    memcpy(&v, p, 8);
    uint64_t q = v ^ (ones * '"'), b = v ^ (ones * '\\');
    return (((q - ones) & ~q) | ((b - ones) & ~b) | (v - ones * 0x20) | v) & highs;
}

static inline int read_hex4(cur p, unsigned *out)
{
    unsigned a = hex_value1[p[0]], b = hex_value1[p[1]], c = hex_value1[p[2]], d = hex_value1[p[3]];
    if (!a || !b || !c || !d)
        return -1;
    *out = (a - 1) << 12 | (b - 1) << 8 | (c - 1) << 4 | (d - 1);
    return 0;
}

/* p is at a backslash; validate the escape and return what follows it. */
static cur scan_escape(scanner *s, cur p)
{
    cur end = s->end;
    if (end - p < 2)
        return fail(s, p, "unterminated string");
    switch (p[1]) {
    case '"':
    case '\\':
    case '/':
    case 'b':
    case 'f':
    case 'n':
    case 'r':
    case 't':
        return p + 2;
    case 'u':
        break;
    default:
        return fail(s, p, "invalid escape");
    }
    unsigned u;
    if (end - p < 6 || read_hex4(p + 2, &u) != 0)
        return fail(s, p, "invalid \\u escape");
    if (u == 0)
        return fail(s, p, "\\u0000 is not allowed");
    if (u >= 0xdc00 && u <= 0xdfff)
        return fail(s, p, "lone low surrogate \\u%04X", u);
    if (u >= 0xd800 && u <= 0xdbff) {
        unsigned lo;
        if (end - p < 12 || p[6] != '\\' || p[7] != 'u' || read_hex4(p + 8, &lo) != 0 || lo < 0xdc00 ||
            lo > 0xdfff)
            return fail(s, p, "lone high surrogate \\u%04X", u);
        return p + 12;
    }
    return p + 6;
}

/* The first byte at or after p that is special in a string, or end. */
static inline cur skip_plain(cur p, cur end)
{
    while (end - p >= 8) {
        uint64_t m = special8(p);
        if (m != 0) {
#if defined(__GNUC__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
            return p + (__builtin_ctzll(m) >> 3);
#else
            break;
#endif
        }
        p += 8;
    }
    while (p < end && string_class[*p] == SC_PLAIN)
        p++;
    return p;
}

/* scan_string past its first special byte: escapes and UTF-8 (rare). */
static cur scan_string_rest(scanner *s, cur p, int *escaped)
{
    cur end = s->end;
    for (;; p = skip_plain(p, end)) {
        if (p >= end)
            return fail(s, p, "unterminated string");
        switch (string_class[*p]) {
        case SC_QUOTE:
            return p + 1;
        case SC_BACKSLASH:
            *escaped = 1;
            p = scan_escape(s, p);
            if (p == NULL)
                return NULL;
            break;
        case SC_CONTROL:
            return fail(s, p, "control character 0x%02X in string", *p);
        default: {
            int ok;
            size_t n = json_utf8_seq(p, (size_t)(end - p), &ok);
            if (!ok)
                return fail(s, p, "invalid UTF-8");
            p += n;
        }
        }
    }
}

/* p is just past the opening quote. Returns just past the closing quote;
 * *escaped tells whether the contents hold a backslash. Inline for the
 * common plain ASCII string. */
static inline cur scan_string(scanner *s, cur p, int *escaped)
{
    p = skip_plain(p, s->end);
    if (p < s->end && *p == '"')
        return p + 1;
    return scan_string_rest(s, p, escaped);
}

static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | cp >> 12);
        o[1] = (char)(0x80 | (cp >> 6 & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | cp >> 18);
    o[1] = (char)(0x80 | (cp >> 12 & 0x3f));
    o[2] = (char)(0x80 | (cp >> 6 & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Decode already validated string contents [p, q) into the arena. Every
 * escape is longer than what it stands for, so q - p bytes suffice. */
static const char *decode_string(arena *a, cur p, cur q, uint32_t *len)
{
    char *out = arena_alloc(a, (size_t)(q - p) + 1);
    char *o = out;
    while (p < q) {
        cur bs = memchr(p, '\\', (size_t)(q - p));
        if (bs == NULL)
            bs = q;
        memcpy(o, p, (size_t)(bs - p));
        o += bs - p;
        p = bs;
        if (p == q)
            break;
        char c = (char)p[1];
        p += 2;
        switch (c) {
        case 'b':
            *o++ = '\b';
            break;
        case 'f':
            *o++ = '\f';
            break;
        case 'n':
            *o++ = '\n';
            break;
        case 'r':
            *o++ = '\r';
            break;
        case 't':
            *o++ = '\t';
            break;
        case 'u': {
            unsigned u = 0, lo = 0xdc00; /* validated by scan_escape */
            read_hex4(p, &u);
            p += 4;
            if (u >= 0xd800 && u <= 0xdbff) {
                read_hex4(p + 2, &lo);
                p += 6;
                u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
            }
            o += put_utf8(o, u);
            break;
        }
        default:
            *o++ = c;
            break; /* " \ / */
        }
    }
    *o = '\0';
    *len = (uint32_t)(o - out);
    return out;
}

/* ------------------------------------------------------------------------ */
/* Numbers                                                                   */

static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;
static void c_locale_init(void) { c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0); }

/* strtod on a bounded, validated number, immune to the process locale. */
static double slow_strtod(cur p, size_t n, int *overflow)
{
    char small[64];
    char *tmp = n < sizeof small ? small : xmalloc(n + 1);
    if (tmp == NULL) {
        *overflow = 1;
        return 0;
    }
    memcpy(tmp, p, n);
    tmp[n] = '\0';
    pthread_once(&c_locale_once, c_locale_init);
    errno = 0;
    double d = c_locale ? strtod_l(tmp, NULL, c_locale) : strtod(tmp, NULL);
    *overflow = errno == ERANGE && isinf(d);
    if (tmp != small)
        free(tmp);
    return d;
}

static const double exact_pow10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                       1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* p is at '-' or a digit. Sets the field's type, value and text. */
static cur scan_number(scanner *s, cur p, field *f)
{
    cur end = s->end, start = p;
    int neg = 0;
    uint64_t mant = 0;
    int digits = 0;  /* significant mantissa digits accumulated */
    int dropped = 0; /* mantissa digits beyond 19, not accumulated */
    int frac = 0;    /* fraction digits (count toward the exponent) */
    int is_int = 1;
    if (*p == '-') {
        neg = 1;
        p++;
    }
    if (p >= end || !is_digit[*p])
        return fail(s, start, "invalid number");
    if (*p == '0') {
        p++;
        if (p < end && is_digit[*p])
            return fail(s, start, "number with a leading zero");
    } else {
        for (; p < end && is_digit[*p]; p++) {
            if (digits < 19) {
                mant = mant * 10 + (uint64_t)(*p - '0');
                digits++;
            } else {
                dropped++;
            }
        }
    }
    if (p < end && *p == '.') {
        is_int = 0;
        p++;
        if (p >= end || !is_digit[*p])
            return fail(s, start, "invalid number");
        for (; p < end && is_digit[*p]; p++) {
            if (digits < 19) {
                if (mant != 0 || *p != '0')
                    digits++;
                mant = mant * 10 + (uint64_t)(*p - '0');
                frac++;
            } else {
                dropped++;
            }
        }
    }
    int64_t exp10 = 0;
    if (p < end && (*p == 'e' || *p == 'E')) {
        int eneg = 0;
        is_int = 0;
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            eneg = *p++ == '-';
        if (p >= end || !is_digit[*p])
            return fail(s, start, "invalid number");
        for (; p < end && is_digit[*p]; p++)
            if (exp10 < 100000)
                exp10 = exp10 * 10 + (*p - '0');
        if (eneg)
            exp10 = -exp10;
    }
    f->text = (const char *)start;
    f->len = (uint32_t)(p - start);
    if (is_int) {
        uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
        if (dropped || mant > limit) {
            f->type = SLUICE_TYPE_JSON; /* beyond int64: kept as text */
        } else {
            f->type = SLUICE_TYPE_INT;
            f->v.i = neg ? (int64_t)(0 - mant) : (int64_t)mant;
        }
        return p;
    }
    f->type = SLUICE_TYPE_DOUBLE;
    exp10 -= frac;
    if (!dropped && mant <= (1ull << 53) && exp10 >= -22 && exp10 <= 22) {
        /* Clinger's fast path: both operands exact, one rounding. */
        double d = (double)mant;
        d = exp10 < 0 ? d / exact_pow10[-exp10] : d * exact_pow10[exp10];
        f->v.d = neg ? -d : d;
    } else {
        int overflow;
        f->v.d = slow_strtod(start, f->len, &overflow);
        if (overflow)
            f->type = SLUICE_TYPE_JSON; /* beyond double: kept as text */
    }
    return p;
}

/* ------------------------------------------------------------------------ */
/* Nested values: validated, not decoded, iteratively (no C recursion).      */

static cur scan_literal(scanner *s, cur p, field *f)
{
    size_t left = (size_t)(s->end - p);
    if (left >= 4 && memcmp(p, "true", 4) == 0) {
        f->type = SLUICE_TYPE_BOOL;
        f->v.b = 1;
        return p + 4;
    }
    if (left >= 5 && memcmp(p, "false", 5) == 0) {
        f->type = SLUICE_TYPE_BOOL;
        f->v.b = 0;
        return p + 5;
    }
    if (left >= 4 && memcmp(p, "null", 4) == 0) {
        f->type = SLUICE_TYPE_NULL;
        return p + 4;
    }
    return fail(s, p, "invalid literal");
}

static cur unexpected(scanner *s, cur p, const char *wanted)
{
    if (p >= s->end)
        return fail(s, p, "unexpected end of input, expected %s", wanted);
    if (*p >= 0x80) {
        int ok;
        json_utf8_seq(p, (size_t)(s->end - p), &ok);
        if (!ok)
            return fail(s, p, "invalid UTF-8");
    }
    if (*p >= 0x20 && *p < 0x7f)
        return fail(s, p, "expected %s, found '%c'", wanted, *p);
    return fail(s, p, "expected %s, found byte 0x%02X", wanted, *p);
}

/* Validate any value at p, itself at nesting depth `depth` (the top level is
 * 1). Containers keep their kinds on a bit stack, one bit per level. */
static cur skip_value(scanner *s, cur p, unsigned depth)
{
    uint64_t is_object[JSON_SCAN_MAX_DEPTH / 64 + 1];
    cur end = s->end;
    unsigned base = depth; /* depth of the outermost container, if any */
    field scratch;
    int escaped;

value: /* a value at `depth` */
    if (depth > JSON_SCAN_MAX_DEPTH)
        return fail(s, p, "nesting deeper than %d", JSON_SCAN_MAX_DEPTH);
    if (p >= end)
        return unexpected(s, p, "a value");
    switch (*p) {
    case '{':
        is_object[depth / 64] |= 1ull << (depth % 64);
        p = skip_ws(p + 1, end);
        if (p < end && *p == '}') {
            p++;
            goto after;
        }
        goto key;
    case '[':
        is_object[depth / 64] &= ~(1ull << (depth % 64));
        p = skip_ws(p + 1, end);
        if (p < end && *p == ']') {
            p++;
            goto after;
        }
        depth++;
        goto value;
    case '"':
        p = scan_string(s, p + 1, &escaped);
        break;
    case '-':
    case '0':
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
    case '7':
    case '8':
    case '9':
        p = scan_number(s, p, &scratch);
        break;
    case 't':
    case 'f':
    case 'n':
        p = scan_literal(s, p, &scratch);
        break;
    default:
        return unexpected(s, p, "a value");
    }
    if (p == NULL)
        return NULL;
    goto after;

key: /* inside the object at `depth`, a member's key is due */
    if (p >= end || *p != '"')
        return unexpected(s, p, "a string key");
    p = scan_string(s, p + 1, &escaped);
    if (p == NULL)
        return NULL;
    p = skip_ws(p, end);
    if (p >= end || *p != ':')
        return unexpected(s, p, "':'");
    p = skip_ws(p + 1, end);
    depth++;
    goto value;

after: /* a value at `depth` ended; p is just past it */
    if (depth == base)
        return p;
    depth--;
    p = skip_ws(p, end);
    if (is_object[depth / 64] >> (depth % 64) & 1) {
        if (p < end && *p == ',') {
            p = skip_ws(p + 1, end);
            goto key;
        }
        if (p < end && *p == '}') {
            p++;
            goto after;
        }
        return unexpected(s, p, "',' or '}'");
    }
    if (p < end && *p == ',') {
        p = skip_ws(p + 1, end);
        depth++;
        goto value;
    }
    if (p < end && *p == ']') {
        p++;
        goto after;
    }
    return unexpected(s, p, "',' or ']'");
}

/* ------------------------------------------------------------------------ */
/* The top-level object                                                      */

static cur scan_members(scanner *s, cur p, sluice_record *rec)
{
    cur end = s->end;
    p = skip_ws(p + 1, end);
    if (p < end && *p == '}')
        return p + 1;
    for (;;) {
        if (p >= end || *p != '"')
            return unexpected(s, p, "a string key");
        int escaped = 0;
        cur kq = scan_string(s, p + 1, &escaped);
        if (kq == NULL)
            return NULL;
        field *f;
        if (escaped) {
            uint32_t n;
            const char *name = decode_string(rec->arena, p + 1, kq - 1, &n);
            f = record_add_field(rec, name, n);
        } else {
            f = record_add_field(rec, (const char *)p + 1, (uint32_t)(kq - 1 - (p + 1)));
        }
        p = kq;
        if (p < end && *p == ':')
            p++;
        else {
            p = skip_ws(p, end);
            if (p >= end || *p != ':')
                return unexpected(s, p, "':'");
            p++;
        }
        if (p < end && is_ws[*p])
            p = skip_ws(p, end);
        if (p >= end)
            return unexpected(s, p, "a value");
        cur v = p;
        switch (*p) {
        case '"':
            escaped = 0;
            p = scan_string(s, p + 1, &escaped);
            if (p == NULL)
                return NULL;
            f->type = SLUICE_TYPE_STRING;
            if (escaped) {
                f->text = decode_string(rec->arena, v + 1, p - 1, &f->len);
            } else {
                f->text = (const char *)v + 1;
                f->len = (uint32_t)(p - 1 - (v + 1));
            }
            break;
        case '-':
        case '0':
        case '1':
        case '2':
        case '3':
        case '4':
        case '5':
        case '6':
        case '7':
        case '8':
        case '9':
            p = scan_number(s, p, f);
            break;
        case 't':
        case 'f':
        case 'n':
            p = scan_literal(s, p, f);
            break;
        case '{':
        case '[':
            p = skip_value(s, p, 2);
            if (p == NULL)
                return NULL;
            f->type = SLUICE_TYPE_JSON;
            f->text = (const char *)v;
            f->len = (uint32_t)(p - v);
            break;
        default:
            return unexpected(s, p, "a value");
        }
        if (p == NULL)
            return NULL;
        if (p < end && is_ws[*p])
            p = skip_ws(p, end);
        if (p < end && *p == ',') {
            p = skip_ws(p + 1, end);
            continue;
        }
        if (p < end && *p == '}')
            return p + 1;
        return unexpected(s, p, "',' or '}'");
    }
}

json_scan_status json_scan_record(const char *buf, size_t len, sluice_record *rec, char *err, size_t errsz)
{
    scanner s = {(cur)buf, (cur)buf + len, err, errsz};
    uint32_t nfields = rec->nfields;
    if (err && errsz)
        err[0] = '\0';
    cur p = skip_ws(s.start, s.end);
    if (p == s.end) {
        if (err && errsz)
            snprintf(err, errsz, "%s", len ? "only whitespace" : "empty input");
        return JSON_SCAN_INVALID;
    }
    int object = *p == '{';
    p = object ? scan_members(&s, p, rec) : skip_value(&s, p, 1);
    if (p != NULL) {
        p = skip_ws(p, s.end);
        if (p != s.end)
            p = fail(&s, p, "trailing characters after the JSON value");
    }
    if (p == NULL) {
        rec->nfields = nfields;
        return JSON_SCAN_INVALID;
    }
    if (!object) {
        if (err && errsz)
            snprintf(err, errsz, "not a JSON object");
        return JSON_SCAN_NOT_OBJECT;
    }
    return JSON_SCAN_OK;
}
