/* ${VAR} interpolation: a single left-to-right pass into a growing buffer. */
#include "interpolate.h"
#include "xalloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct buf {
    char *data;
    size_t len, cap;
} buf;

static int buf_put(buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 32;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *d = xrealloc(b->data, cap);
        if (!d)
            return -1;
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

static char *fmt_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *fmt_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    return s;
}

static const char *env_lookup(void *ud, const char *name)
{
    (void)ud;
    return getenv(name);
}

/* Index of the `}` closing the `${` whose body starts at s, counting nested
 * `${`; -1 when there is none. */
static long find_close(const char *s)
{
    int depth = 0;
    for (size_t i = 0; s[i]; i++) {
        if (s[i] == '$' && s[i + 1] == '$') {
            i++;
        } else if (s[i] == '$' && s[i + 1] == '{') {
            depth++;
            i++;
        } else if (s[i] == '}') {
            if (depth == 0)
                return (long)i;
            depth--;
        }
    }
    return -1;
}

static int is_name_char(char c, int first)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || (!first && c >= '0' && c <= '9');
}

/* Expand one ${...} whose body is body[0..len); append to out. */
static int expand_one(const char *body, size_t len, interp_lookup_fn lookup, void *ud, buf *out, char **error)
{
    size_t n = 0;
    while (n < len && is_name_char(body[n], n == 0))
        n++;
    if (n == 0 || (n < len && body[n] != ':')) {
        *error = fmt_error("invalid variable reference '${%.*s}' (expected ${NAME}, "
                           "${NAME:-default} or ${NAME:?message})",
                           (int)len, body);
        return -1;
    }
    char *name = xstrndup(body, n);
    if (!name)
        return -1;
    const char *value = lookup(ud, name);
    int rc = 0;
    if (n == len) {
        if (!value) {
            *error = fmt_error("environment variable %s is not set", name);
            rc = -1;
        } else {
            rc = buf_put(out, value, strlen(value));
        }
    } else if (n + 1 < len && (body[n + 1] == '-' || body[n + 1] == '?')) {
        const char *rest = body + n + 2;
        size_t rest_len = len - n - 2;
        if (value && *value) {
            rc = buf_put(out, value, strlen(value));
        } else if (body[n + 1] == '?') {
            if (rest_len)
                *error = fmt_error("%s: %.*s", name, (int)rest_len, rest);
            else
                *error = fmt_error("environment variable %s is not set or empty", name);
            rc = -1;
        } else {
            char *def_text = xstrndup(rest, rest_len);
            char *def = def_text ? interpolate(def_text, lookup, ud, error) : NULL;
            rc = def ? buf_put(out, def, strlen(def)) : -1;
            free(def);
            free(def_text);
        }
    } else {
        *error = fmt_error("invalid variable reference '${%.*s}' (expected ${NAME}, "
                           "${NAME:-default} or ${NAME:?message})",
                           (int)len, body);
        rc = -1;
    }
    free(name);
    return rc;
}

char *interpolate(const char *text, interp_lookup_fn lookup, void *ud, char **error)
{
    *error = NULL;
    if (!lookup)
        lookup = env_lookup;
    buf out = {0};
    if (buf_put(&out, "", 0) < 0)
        goto nomem;
    for (const char *p = text; *p;) {
        const char *dollar = strchr(p, '$');
        if (!dollar) {
            if (buf_put(&out, p, strlen(p)) < 0)
                goto nomem;
            break;
        }
        if (buf_put(&out, p, (size_t)(dollar - p)) < 0)
            goto nomem;
        if (dollar[1] == '$') {
            if (buf_put(&out, "$", 1) < 0)
                goto nomem;
            p = dollar + 2;
        } else if (dollar[1] == '{') {
            long close = find_close(dollar + 2);
            if (close < 0) {
                *error = fmt_error("unterminated '${' (missing '}')");
                goto fail;
            }
            if (expand_one(dollar + 2, (size_t)close, lookup, ud, &out, error) < 0)
                goto fail;
            p = dollar + 2 + close + 1;
        } else {
            if (buf_put(&out, "$", 1) < 0)
                goto nomem;
            p = dollar + 1;
        }
    }
    return out.data;
nomem:
    *error = NULL;
fail:
    if (!*error)
        *error = xstrdup("out of memory");
    free(out.data);
    return NULL;
}
