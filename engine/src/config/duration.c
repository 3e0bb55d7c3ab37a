/* Duration parsing: digits followed by an optional unit, nothing else. */
#include "duration.h"

#include <string.h>

int duration_parse_ms(const char *s, int64_t *out_ms)
{
    if (!s || !*s)
        return -1;
    const char *p = s;
    int64_t value = 0;
    if (*p < '0' || *p > '9')
        return -1; /* also rejects signs and leading blanks */
    for (; *p >= '0' && *p <= '9'; p++) {
        int digit = *p - '0';
        if (value > (INT64_MAX - digit) / 10)
            return -1;
        value = value * 10 + digit;
    }
    static const struct {
        const char *unit;
        int64_t ms;
    } units[] = {{"", 1},          {"ms", 1},          {"s", 1000},
                 {"m", 60 * 1000}, {"h", 3600 * 1000}, {"d", 86400 * 1000LL}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(p, units[i].unit) != 0)
            continue;
        if (value > INT64_MAX / units[i].ms)
            return -1;
        *out_ms = value * units[i].ms;
        return 0;
    }
    return -1;
}
