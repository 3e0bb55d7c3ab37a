#include "click_format.h"

#include <string.h>

#include <sluice/bytes.h>

#define PUT(p, lit) (memcpy((p), (lit), sizeof(lit) - 1), (p) + sizeof(lit) - 1)

static const char *const user_agents[] = {
    "Mozilla/5.0 (Windows NT 10.0) Chrome/131",   "Mozilla/5.0 (Macintosh) Safari/605.1",
    "Mozilla/5.0 (iPhone) Mobile/15E148",         "Mozilla/5.0 (X11; Linux) Firefox/133",
    "Mozilla/5.0 (Android 15) Chrome/131 Mobile",
};
#define USER_AGENT_COUNT (sizeof user_agents / sizeof user_agents[0])

static const char *const external_referrers[] = {
    "https://www.google.com/", "https://www.bing.com/", "https://t.co/", "", /* typed in or bookmarked */
};
#define EXTERNAL_REFERRER_COUNT (sizeof external_referrers / sizeof external_referrers[0])

#define FUTURE_BASE_MS 4102444800000LL /* 2100-01-01T00:00:00Z */

const char *click_flaw_reason(click_flaw flaw)
{
    switch (flaw) {
    case CLICK_FLAW_TRUNCATED:
    case CLICK_FLAW_NOT_OBJECT:
    case CLICK_FLAW_BAD_UTF8:
        return "malformed";
    case CLICK_FLAW_NO_USER:
    case CLICK_FLAW_EMPTY_USER:
    case CLICK_FLAW_LONG_USER:
    case CLICK_FLAW_USER_TYPE:
        return "bad_user";
    case CLICK_FLAW_NO_URL:
    case CLICK_FLAW_EMPTY_URL:
    case CLICK_FLAW_LONG_URL:
    case CLICK_FLAW_URL_TYPE:
        return "bad_url";
    case CLICK_FLAW_TS_FUTURE:
        return "future_ts";
    default:
        return "bad_ts";
    }
}

static char *put_2(char *p, unsigned v)
{
    p[0] = (char)('0' + v / 10);
    p[1] = (char)('0' + v % 10);
    return p + 2;
}

static char *put_str(char *p, const char *s)
{
    size_t n = strlen(s);
    memcpy(p, s, n);
    return p + n;
}

/* Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm). */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

/* Splits epoch ms (>= 0) into date and time of day. */
static void split_time(int64_t ms, int64_t *y, unsigned *mo, unsigned *d, unsigned *h, unsigned *mi,
                       unsigned *s, unsigned *milli)
{
    int64_t days = ms / 86400000;
    int64_t rest = ms % 86400000;
    civil_from_days(days, y, mo, d);
    *h = (unsigned)(rest / 3600000);
    *mi = (unsigned)(rest / 60000 % 60);
    *s = (unsigned)(rest / 1000 % 60);
    *milli = (unsigned)(rest % 1000);
}

/* "2026-11-27T10:15:30.123Z" */
static char *put_rfc3339(char *p, int64_t ms)
{
    int64_t y;
    unsigned mo, d, h, mi, s, milli;
    split_time(ms, &y, &mo, &d, &h, &mi, &s, &milli);
    p = put_2(p, (unsigned)(y / 100));
    p = put_2(p, (unsigned)(y % 100));
    *p++ = '-';
    p = put_2(p, mo);
    *p++ = '-';
    p = put_2(p, d);
    *p++ = 'T';
    p = put_2(p, h);
    *p++ = ':';
    p = put_2(p, mi);
    *p++ = ':';
    p = put_2(p, s);
    *p++ = '.';
    *p++ = (char)('0' + milli / 100);
    p = put_2(p, milli % 100);
    *p++ = 'Z';
    return p;
}

/* "27/11/2026 10:15": a date any person reads, not RFC 3339. */
static char *put_local_date(char *p, int64_t ms)
{
    int64_t y;
    unsigned mo, d, h, mi, s, milli;
    split_time(ms, &y, &mo, &d, &h, &mi, &s, &milli);
    p = put_2(p, d);
    *p++ = '/';
    p = put_2(p, mo);
    *p++ = '/';
    p = put_2(p, (unsigned)(y / 100));
    p = put_2(p, (unsigned)(y % 100));
    *p++ = ' ';
    p = put_2(p, h);
    *p++ = ':';
    return put_2(p, mi);
}

static char *put_user(char *p, const click_event *ev, click_flaw flaw)
{
    switch (flaw) {
    case CLICK_FLAW_NO_USER:
        return p;
    case CLICK_FLAW_EMPTY_USER:
        return PUT(p, ",\"user_id\":\"\"");
    case CLICK_FLAW_LONG_USER:
        p = PUT(p, ",\"user_id\":\"u-");
        memset(p, 'x', 300);
        p += 300;
        *p++ = '"';
        return p;
    case CLICK_FLAW_USER_TYPE:
        return PUT(p, ",\"user_id\":true");
    case CLICK_FLAW_BAD_UTF8:
        p = PUT(p, ",\"user_id\":\"u-");
        p += sluice_format_u64(p, ev->user);
        return PUT(p, "\xff\xfe\"");
    default:
        break;
    }
    if (ev->user_int) {
        p = PUT(p, ",\"user_id\":");
        return p + sluice_format_u64(p, ev->user);
    }
    p = PUT(p, ",\"user_id\":\"u-");
    p += sluice_format_u64(p, ev->user);
    *p++ = '"';
    return p;
}

static char *put_url(char *p, const click_event *ev, click_flaw flaw)
{
    switch (flaw) {
    case CLICK_FLAW_NO_URL:
        return p;
    case CLICK_FLAW_EMPTY_URL:
        return PUT(p, ",\"url\":\"\"");
    case CLICK_FLAW_URL_TYPE:
        p = PUT(p, ",\"url\":");
        return p + sluice_format_u64(p, ev->url);
    default:
        break;
    }
    p = PUT(p, ",\"url\":\"https://shop.example/p/");
    p += sluice_format_u64(p, ev->url);
    if (flaw == CLICK_FLAW_LONG_URL) {
        p = PUT(p, "?q=");
        memset(p, 'a', 4200);
        p += 4200;
    }
    *p++ = '"';
    return p;
}

static char *put_ts(char *p, const click_event *ev, click_flaw flaw)
{
    switch (flaw) {
    case CLICK_FLAW_NO_TS:
        return p;
    case CLICK_FLAW_TS_NULL:
        return PUT(p, ",\"ts\":null");
    case CLICK_FLAW_TS_REAL:
        p = PUT(p, ",\"ts\":");
        p += sluice_format_u64(p, (uint64_t)ev->ts);
        return PUT(p, ".5");
    case CLICK_FLAW_TS_NEGATIVE:
        p = PUT(p, ",\"ts\":-");
        return p + sluice_format_u64(p, ev->ts > 0 ? (uint64_t)ev->ts : 1);
    case CLICK_FLAW_TS_NOT_RFC3339:
        p = PUT(p, ",\"ts\":\"");
        p = put_local_date(p, ev->ts);
        *p++ = '"';
        return p;
    case CLICK_FLAW_TS_FUTURE:
        p = PUT(p, ",\"ts\":");
        return p + sluice_format_u64(p, (uint64_t)(FUTURE_BASE_MS + ev->ts % 86400000));
    default:
        break;
    }
    if (ev->ts_rfc3339) {
        p = PUT(p, ",\"ts\":\"");
        p = put_rfc3339(p, ev->ts);
        *p++ = '"';
        return p;
    }
    p = PUT(p, ",\"ts\":");
    return p + sluice_format_u64(p, (uint64_t)ev->ts);
}

static char *put_event(char *p, const click_event *ev, click_flaw flaw)
{
    p = PUT(p, "{\"event_id\":\"e-");
    p += sluice_format_u64(p, ev->seed);
    *p++ = '-';
    p += sluice_format_u64(p, ev->id);
    *p++ = '"';
    p = put_user(p, ev, flaw);
    p = put_url(p, ev, flaw);
    p = put_ts(p, ev, flaw);
    p = PUT(p, ",\"referrer\":\"");
    if (ev->referrer != 0) {
        p = PUT(p, "https://shop.example/p/");
        p += sluice_format_u64(p, ev->referrer);
    } else {
        p = put_str(p, external_referrers[ev->external % EXTERNAL_REFERRER_COUNT]);
    }
    p = PUT(p, "\",\"ua\":\"");
    p = put_str(p, user_agents[ev->ua % USER_AGENT_COUNT]);
    return PUT(p, "\"}");
}

size_t click_format(char *out, const click_event *ev)
{
    return (size_t)(put_event(out, ev, CLICK_FLAW_COUNT_) - out);
}

size_t click_format_flawed(char *out, const click_event *ev, click_flaw flaw)
{
    if (flaw == CLICK_FLAW_TRUNCATED)
        return click_format(out, ev) / 2; /* an object without its end is never valid */
    if (flaw == CLICK_FLAW_NOT_OBJECT) {
        out[0] = '[';
        char *end = put_event(out + 1, ev, CLICK_FLAW_COUNT_);
        *end++ = ']';
        return (size_t)(end - out);
    }
    return (size_t)(put_event(out, ev, flaw) - out);
}
