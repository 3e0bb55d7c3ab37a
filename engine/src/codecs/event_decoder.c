/* Click-event validation, docs/semantics.md section 1: the reasons are checked in
 * the table's order (too_large, malformed, bad_user, bad_url, bad_ts,
 * future_ts) so the first that matches is the one reported. */
#include "event_decoder.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "json_scan.h"

#define MAX_USER_BYTES 256
#define MAX_URL_BYTES 4096
#define TS_LIMIT (INT64_C(1) << 53)

void event_config_defaults(event_config *cfg)
{
    cfg->field_user = "user_id";
    cfg->field_url = "url";
    cfg->field_time = "ts";
    cfg->field_event_id = "event_id";
    cfg->max_event_bytes = 65536;
    cfg->max_future_ms = 3600000;
}

static int reject(event_verdict *v, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int reject(event_verdict *v, const char *reason, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->detail, sizeof v->detail, fmt, ap);
    va_end(ap);
    v->reason = reason;
    return 0;
}

static const char *type_name(const field *f)
{
    switch (f->type) {
    case SLUICE_TYPE_NULL:
        return "null";
    case SLUICE_TYPE_BOOL:
        return "a boolean";
    case SLUICE_TYPE_INT:
        return "an integer";
    case SLUICE_TYPE_DOUBLE:
        return "a JSON real";
    case SLUICE_TYPE_STRING:
        return "a string";
    case SLUICE_TYPE_JSON:
        if (f->len && f->text[0] == '{')
            return "an object";
        if (f->len && f->text[0] == '[')
            return "an array";
        return "a number out of range";
    default:
        return "of no type";
    }
}

/* Is this JSON-typed field an integer too large for int64 (its text is
 * [-]digits), as opposed to a nested value or an overflowing real? */
static int is_big_integer(const field *f)
{
    if (f->type != SLUICE_TYPE_JSON || f->len == 0)
        return 0;
    uint32_t i = f->text[0] == '-';
    if (i == f->len)
        return 0;
    for (; i < f->len; i++)
        if (f->text[i] < '0' || f->text[i] > '9')
            return 0;
    return 1;
}

/* An integer's decimal text: as written (JSON forbids leading zeros and '+',
 * so that is already canonical) except "-0", which is "0". */
static sluice_str integer_text(const field *f)
{
    if (f->len == 2 && f->text[0] == '-' && f->text[1] == '0')
        return (sluice_str){"0", 1};
    return (sluice_str){f->text, f->len};
}

static void set_role(sluice_record *rec, sluice_role role, sluice_str s)
{
    rec->roles[role] = s;
    rec->role_hash[role] = record_hash_bytes(s.ptr, s.len);
    rec->role_present |= (uint8_t)(1u << role);
}

static const field *find(const sluice_record *rec, const char *name)
{
    return record_find(rec, name, strlen(name));
}

int event_decode(const event_config *cfg, sluice_record *rec, int64_t now_ms, event_verdict *v)
{
    v->reason = NULL;
    v->detail[0] = '\0';

    if (rec->raw_len > cfg->max_event_bytes)
        return reject(v, SLUICE_REASON_TOO_LARGE, "event is %u bytes, more than the limit of %zu",
                      (unsigned)rec->raw_len, cfg->max_event_bytes);

    json_scan_status st = json_scan_record(rec->raw, rec->raw_len, rec, v->detail, sizeof v->detail);
    if (st != JSON_SCAN_OK) {
        v->reason = SLUICE_REASON_MALFORMED;
        return 0;
    }

    const char *name = cfg->field_user;
    const field *f = find(rec, name);
    sluice_str user;
    if (f == NULL)
        return reject(v, SLUICE_REASON_BAD_USER, "%s is missing", name);
    if (f->type == SLUICE_TYPE_STRING) {
        if (f->len == 0)
            return reject(v, SLUICE_REASON_BAD_USER, "%s is empty", name);
        if (f->len > MAX_USER_BYTES)
            return reject(v, SLUICE_REASON_BAD_USER, "%s is longer than %d bytes", name, MAX_USER_BYTES);
        user = (sluice_str){f->text, f->len};
    } else if (f->type == SLUICE_TYPE_INT || is_big_integer(f)) {
        if (f->len > MAX_USER_BYTES) /* only a big integer of > 256 digits */
            return reject(v, SLUICE_REASON_BAD_USER, "%s is longer than %d bytes", name, MAX_USER_BYTES);
        user = integer_text(f);
    } else {
        return reject(v, SLUICE_REASON_BAD_USER, "%s is %s, not a string or an integer", name, type_name(f));
    }

    name = cfg->field_url;
    f = find(rec, name);
    if (f == NULL)
        return reject(v, SLUICE_REASON_BAD_URL, "%s is missing", name);
    if (f->type != SLUICE_TYPE_STRING)
        return reject(v, SLUICE_REASON_BAD_URL, "%s is %s, not a string", name, type_name(f));
    if (f->len == 0)
        return reject(v, SLUICE_REASON_BAD_URL, "%s is empty", name);
    if (f->len > MAX_URL_BYTES)
        return reject(v, SLUICE_REASON_BAD_URL, "%s is longer than %d bytes", name, MAX_URL_BYTES);
    sluice_str url = {f->text, f->len};

    name = cfg->field_time;
    f = find(rec, name);
    int64_t ts;
    if (f == NULL)
        return reject(v, SLUICE_REASON_BAD_TS, "%s is missing", name);
    if (f->type == SLUICE_TYPE_INT) {
        ts = f->v.i;
        if (ts < 0)
            return reject(v, SLUICE_REASON_BAD_TS, "%s is negative", name);
        if (ts >= TS_LIMIT)
            return reject(v, SLUICE_REASON_BAD_TS, "%s is %lld, not below 2^53", name, (long long)ts);
    } else if (is_big_integer(f)) {
        if (f->text[0] == '-')
            return reject(v, SLUICE_REASON_BAD_TS, "%s is negative", name);
        return reject(v, SLUICE_REASON_BAD_TS, "%s is beyond int64, not below 2^53", name);
    } else if (f->type == SLUICE_TYPE_STRING) {
        if (rfc3339_parse_ms(f->text, f->len, &ts) != 0)
            return reject(v, SLUICE_REASON_BAD_TS, "%s is a string that is not RFC 3339", name);
        if (ts < 0)
            return reject(v, SLUICE_REASON_BAD_TS, "%s is before 1970 (negative epoch ms)", name);
        /* Years end at 9999, far below 2^53 ms: no upper check needed. */
    } else if (f->type == SLUICE_TYPE_DOUBLE ||
               (f->type == SLUICE_TYPE_JSON && f->len && f->text[0] != '{' && f->text[0] != '[')) {
        return reject(v, SLUICE_REASON_BAD_TS, "%s is a JSON real, not an integer", name);
    } else {
        return reject(v, SLUICE_REASON_BAD_TS, "%s is %s, not an integer or a string", name, type_name(f));
    }

    if (cfg->max_future_ms >= 0) {
        /* Saturating: a huge max_future must not wrap around. */
        int64_t limit = now_ms > INT64_MAX - cfg->max_future_ms ? INT64_MAX : now_ms + cfg->max_future_ms;
        if (ts > limit)
            /* The wall clock itself stays out of the detail, so that dead
             * letters are the same whatever the moment of a replay. */
            return reject(v, SLUICE_REASON_FUTURE_TS, "%s is %lld, more than %lld ms ahead of the wall clock",
                          name, (long long)ts, (long long)cfg->max_future_ms);
    }

    rec->time = ts;
    set_role(rec, SLUICE_ROLE_USER, user);
    set_role(rec, SLUICE_ROLE_URL, url);
    /* event_id is optional. One of another type than string or integer is
     * treated as absent (docs/semantics.md lists no rejection for it): such an
     * event is deduplicated by (user, url, ts). An empty string is present. */
    f = find(rec, cfg->field_event_id);
    if (f && f->type == SLUICE_TYPE_STRING)
        set_role(rec, SLUICE_ROLE_EVENT_ID, (sluice_str){f->text, f->len});
    else if (f && (f->type == SLUICE_TYPE_INT || is_big_integer(f)))
        set_role(rec, SLUICE_ROLE_EVENT_ID, integer_text(f));
    return 1;
}

/* ------------------------------------------------------------------------ */
/* RFC 3339                                                                  */

static int digits(const char *p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    *out = v;
    return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

/* YYYY-MM-DD(T|t| )HH:MM:SS[.frac](Z|z|+HH:MM|-HH:MM). The fraction may have
 * any number of digits and is truncated to ms. A leap second (:60) is
 * accepted only where one can occur, at 23:59:60 UTC, and counts as the
 * following second (00:00:00 of the next day), as POSIX time has no room
 * for it. Year 0000-9999 keeps the result far within 2^53 ms; a result
 * before 1970 is negative and left to the caller to refuse. */
int rfc3339_parse_ms(const char *p, size_t n, int64_t *out_ms)
{
    int y, mo, d, h, mi, s, oh = 0, om = 0;
    if (n < 20)
        return -1;
    if (digits(p, 4, &y) || p[4] != '-' || digits(p + 5, 2, &mo) || p[7] != '-' || digits(p + 8, 2, &d) ||
        (p[10] != 'T' && p[10] != 't' && p[10] != ' ') || digits(p + 11, 2, &h) || p[13] != ':' ||
        digits(p + 14, 2, &mi) || p[16] != ':' || digits(p + 17, 2, &s))
        return -1;
    size_t i = 19;
    int64_t ms = 0;
    if (p[i] == '.') {
        size_t first = ++i;
        for (; i < n && p[i] >= '0' && p[i] <= '9'; i++)
            if (i - first < 3)
                ms = ms * 10 + (p[i] - '0');
        if (i == first)
            return -1;
        for (size_t k = i - first; k < 3; k++)
            ms *= 10;
    }
    if (i >= n)
        return -1;
    int sign = 0;
    if (p[i] == 'Z' || p[i] == 'z') {
        i++;
    } else if (p[i] == '+' || p[i] == '-') {
        sign = p[i] == '+' ? 1 : -1;
        if (n - i < 6 || digits(p + i + 1, 2, &oh) || p[i + 3] != ':' || digits(p + i + 4, 2, &om))
            return -1;
        i += 6;
    } else {
        return -1;
    }
    if (i != n)
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || s > 60 || oh > 23 ||
        om > 59)
        return -1;
    int64_t offset_s = (int64_t)sign * (oh * 3600 + om * 60);
    int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s - offset_s;
    if (s == 60 && ((secs - 60) % 86400 + 86400) % 86400 != 86340)
        return -1; /* :60 that is not 23:59:60 UTC */
    *out_ms = secs * 1000 + ms;
    return 0;
}
