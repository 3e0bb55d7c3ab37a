#include "log.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static sluice_log_level current_level = SLUICE_LOG_INFO;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

void log_set_level(sluice_log_level level) { current_level = level; }

int log_level_parse(const char *s)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return -1;
}

int log_enabled(sluice_log_level level) { return level <= current_level; }

void log_vmsg(sluice_log_level level, const char *scope, const char *fmt, va_list ap)
{
    static const char *const tags[] = {"error", "warn", "info", "debug"};
    if (!log_enabled(level))
        return;
    char text[2048];
    vsnprintf(text, sizeof text, fmt, ap);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    /* One fprintf under a lock: lines from pipeline threads never interleave. */
    pthread_mutex_lock(&log_lock);
    fprintf(stderr, "%02d:%02d:%02d.%03ld %s%s%s%s: %s\n", tm.tm_hour, tm.tm_min, tm.tm_sec,
            ts.tv_nsec / 1000000, scope ? "[" : "", scope ? scope : "", scope ? "] " : "", tags[level], text);
    pthread_mutex_unlock(&log_lock);
}

void log_msg(sluice_log_level level, const char *scope, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(level, scope, fmt, ap);
    va_end(ap);
}

void log_write_raw(const char *buf, size_t len)
{
    pthread_mutex_lock(&log_lock);
    while (len > 0) {
        ssize_t n = write(STDERR_FILENO, buf, len);
        if (n <= 0)
            break; /* a terminal gone away: nothing to show it on */
        buf += n;
        len -= (size_t)n;
    }
    pthread_mutex_unlock(&log_lock);
}
