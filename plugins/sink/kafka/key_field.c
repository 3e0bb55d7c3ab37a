#include "key_field.h"

#include <string.h>

typedef struct scan {
    const char *p, *end;
} scan;

static void skip_ws(scan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

static int hex4(const char *p, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

static size_t put_utf8(char *out, unsigned cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* A string at s->p (on its opening quote), unescaped into buf when buf is
 * not NULL. Returns its unescaped length, or -1 (malformed, or too long). */
static long read_string(scan *s, char *buf, size_t cap)
{
    if (s->p >= s->end || *s->p != '"')
        return -1;
    s->p++;
    size_t n = 0;
    while (s->p < s->end) {
        char c = *s->p++;
        char tmp[4];
        size_t w = 1;
        tmp[0] = c;
        if (c == '"')
            return (long)n;
        if (c == '\\') {
            if (s->p >= s->end)
                return -1;
            char e = *s->p++;
            switch (e) {
            case 'b':
                tmp[0] = '\b';
                break;
            case 'f':
                tmp[0] = '\f';
                break;
            case 'n':
                tmp[0] = '\n';
                break;
            case 'r':
                tmp[0] = '\r';
                break;
            case 't':
                tmp[0] = '\t';
                break;
            case '"':
            case '\\':
            case '/':
                tmp[0] = e;
                break;
            case 'u': {
                unsigned cp;
                if (s->end - s->p < 4 || hex4(s->p, &cp) != 0)
                    return -1;
                s->p += 4;
                if (cp >= 0xD800 && cp < 0xDC00 && s->end - s->p >= 6 && s->p[0] == '\\' && s->p[1] == 'u') {
                    unsigned lo;
                    if (hex4(s->p + 2, &lo) == 0 && lo >= 0xDC00 && lo < 0xE000) {
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                        s->p += 6;
                    }
                }
                w = put_utf8(tmp, cp);
                break;
            }
            default:
                return -1;
            }
        }
        if (buf) {
            if (n + w > cap)
                return -1;
            memcpy(buf + n, tmp, w);
        }
        n += w;
    }
    return -1;
}

/* Skip one value of any type. */
static int skip_value(scan *s)
{
    skip_ws(s);
    if (s->p >= s->end)
        return -1;
    if (*s->p == '"')
        return read_string(s, NULL, 0) < 0 ? -1 : 0;
    if (*s->p == '{' || *s->p == '[') {
        int depth = 0;
        while (s->p < s->end) {
            char c = *s->p;
            if (c == '"') {
                if (read_string(s, NULL, 0) < 0)
                    return -1;
                continue;
            }
            s->p++;
            if (c == '{' || c == '[')
                depth++;
            else if ((c == '}' || c == ']') && --depth == 0)
                return 0;
        }
        return -1;
    }
    while (s->p < s->end && *s->p != ',' && *s->p != '}' && *s->p != ']' && *s->p != ' ' && *s->p != '\t' &&
           *s->p != '\n' && *s->p != '\r')
        s->p++;
    return 0;
}

long key_field_from_json(const char *json, size_t len, const char *name, char *buf, size_t cap)
{
    scan s = {json, json + len};
    size_t name_len = strlen(name);
    char key[256];
    skip_ws(&s);
    if (s.p >= s.end || *s.p != '{')
        return -1;
    s.p++;
    for (;;) {
        skip_ws(&s);
        if (s.p >= s.end || *s.p != '"')
            return -1;
        const char *key_start = s.p;
        long klen = read_string(&s, key, sizeof key);
        int match = klen == (long)name_len && memcmp(key, name, name_len) == 0;
        if (klen < 0) { /* a member name too long to be ours, or malformed */
            s.p = key_start;
            if (read_string(&s, NULL, 0) < 0)
                return -1;
        }
        skip_ws(&s);
        if (s.p >= s.end || *s.p != ':')
            return -1;
        s.p++;
        skip_ws(&s);
        if (match) {
            if (s.p < s.end && *s.p == '"')
                return read_string(&s, buf, cap);
            const char *start = s.p;
            while (s.p < s.end && (*s.p == '-' || *s.p == '+' || *s.p == '.' || *s.p == 'e' || *s.p == 'E' ||
                                   (*s.p >= '0' && *s.p <= '9')))
                s.p++;
            size_t n = (size_t)(s.p - start);
            if (n == 0 || n > cap)
                return -1;
            memcpy(buf, start, n);
            return (long)n;
        }
        if (skip_value(&s) != 0)
            return -1;
        skip_ws(&s);
        if (s.p < s.end && *s.p == ',') {
            s.p++;
            continue;
        }
        return -1; /* '}' (not found) or malformed */
    }
}
