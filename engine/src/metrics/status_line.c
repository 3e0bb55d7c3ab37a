/* The live status line (see status_line.h). */
#include "status_line.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "sluice/plugin.h"
#include "xalloc.h"

#define REFRESH_MS 1000

static struct {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    int stop;
    pipeline_stats **stats;
    size_t n;
    int64_t *last_total, *last_ms; /* for events/s: the previous refresh's */
    int rows, cols;                /* of the terminal the region was set for; 0: none set */
    size_t lines;                  /* reserved at the bottom */
} sl = {.lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER};

static volatile int region_set; /* read by status_line_abandon in a signal handler */

int status_line_possible(void)
{
    const char *term = getenv("TERM");
    struct winsize ws;
    return isatty(STDERR_FILENO) && term && *term && strcmp(term, "dumb") != 0 &&
           ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row >= 4 && ws.ws_col >= 20;
}

/* A growable text for one write(2). */
typedef struct buf {
    char *p;
    size_t n, cap;
} buf;

static void put(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(buf *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int len = vsnprintf(b->p ? b->p + b->n : NULL, b->p ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        if (len < 0)
            return;
        if (b->p && b->n + (size_t)len < b->cap) {
            b->n += (size_t)len;
            return;
        }
        size_t cap = b->cap ? b->cap * 2 : 1024;
        while (cap < b->n + (size_t)len + 1)
            cap *= 2;
        char *grown = xrealloc(b->p, cap);
        if (grown == NULL)
            return;
        b->p = grown;
        b->cap = cap;
    }
}

/* 1234567 as "1,234,567". */
static void thousands(int64_t v, char *out, size_t size)
{
    char digits[32];
    int len = snprintf(digits, sizeof digits, "%lld", (long long)(v < 0 ? -v : v));
    size_t o = 0;
    if (v < 0 && o + 1 < size)
        out[o++] = '-';
    for (int i = 0; i < len && o + 1 < size; i++) {
        if (i > 0 && (len - i) % 3 == 0 && o + 1 < size)
            out[o++] = ',';
        if (o + 1 < size)
            out[o++] = digits[i];
    }
    out[o] = '\0';
}

static void format_lag(double s, char *out, size_t size)
{
    long whole = s < 0 ? 0 : (long)s;
    if (s < 100)
        snprintf(out, size, "%.1fs", s < 0 ? 0 : s);
    else if (whole < 6000)
        snprintf(out, size, "%ldm%02lds", whole / 60, whole % 60);
    else
        snprintf(out, size, "%.1fh", s / 3600);
}

/* One pipeline's line, at most width bytes (plain ASCII, so bytes are
 * columns and the line never wraps). */
static void format_line(size_t i, const stats_snapshot *s, int64_t now_ms, char *out, size_t width)
{
    char line[512];
    if (s == NULL) {
        snprintf(line, sizeof line, "[pipeline %zu] starting", i + 1);
    } else {
        int64_t total = 0, rejected = 0, lag_msgs = 0;
        int kafka = 0;
        for (size_t k = 0; k < s->nsteps; k++)
            for (size_t c = 0; c < s->steps[k].ncounters; c++) {
                const stats_counter *ctr = &s->steps[k].counters[c];
                if (s->steps[k].kind == SLUICE_KIND_SOURCE && strcmp(ctr->name, "read") == 0)
                    total += ctr->value;
                else if (strncmp(ctr->name, "rejected.", 9) == 0)
                    rejected += ctr->value;
                else if (strncmp(ctr->name, "kafka.lag.", 10) == 0) {
                    lag_msgs += ctr->value;
                    kafka = 1;
                }
            }
        double rate = 0;
        if (sl.last_ms[i] > 0 && s->taken_ms > sl.last_ms[i])
            rate = (double)(total - sl.last_total[i]) * 1000.0 / (double)(s->taken_ms - sl.last_ms[i]);
        if (s->taken_ms != sl.last_ms[i]) {
            sl.last_total[i] = total;
            sl.last_ms[i] = s->taken_ms;
        }
        char t[32], r[32], rt[32], wm[128] = "none yet", kl[64] = "";
        thousands(total, t, sizeof t);
        thousands(rejected, r, sizeof r);
        thousands((int64_t)(rate + 0.5), rt, sizeof rt);
        if (s->watermark == SLUICE_TIME_MAX) {
            snprintf(wm, sizeof wm, "end of input");
        } else if (s->watermark != SLUICE_TIME_MIN) {
            time_t secs = (time_t)(s->watermark / 1000);
            struct tm tm;
            gmtime_r(&secs, &tm);
            char lag[32];
            format_lag((double)(now_ms - s->watermark) / 1000.0, lag, sizeof lag);
            snprintf(wm, sizeof wm, "%04d-%02d-%02d %02d:%02d:%02dZ, lag %s", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, lag);
        }
        if (kafka) {
            char m[32];
            thousands(lag_msgs, m, sizeof m);
            snprintf(kl, sizeof kl, " | kafka lag %s msgs", m);
        }
        snprintf(line, sizeof line, "[%s] %s%s ev/s | %s events | %s rejected | watermark %s%s", s->pipeline,
                 s->running ? "" : "done, ", rt, t, r, wm, kl);
    }
    size_t len = strlen(line);
    if (len > width)
        len = width;
    memcpy(out, line, len);
    out[len] = '\0';
}

/* Reserve the bottom lines: scroll everything up by as many, then confine
 * scrolling to the rows above them (DECSTBM homes the cursor, hence the
 * save and restore around it). */
static void set_region(buf *b, int rows)
{
    for (size_t k = 0; k < sl.lines; k++)
        put(b, "\n");
    put(b, "\033[%zuA\0337\033[1;%dr\0338", sl.lines, rows - (int)sl.lines);
    region_set = 1;
}

static void draw(int final)
{
    struct winsize ws;
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) != 0 || ws.ws_row < 4 || ws.ws_col < 20)
        return;
    buf b = {0};
    if (final) {
        if (sl.rows)
            put(&b, "\0337\033[r\033[%d;1H\033[J\0338", ws.ws_row - (int)sl.lines + 1);
        region_set = 0;
    } else {
        /* A resized terminal drops the region: set it again for the new size. */
        if (ws.ws_row != sl.rows || ws.ws_col != sl.cols) {
            if (sl.rows)
                put(&b, "\0337\033[r\033[%d;1H\033[J\0338", sl.rows - (int)sl.lines + 1);
            set_region(&b, ws.ws_row);
            sl.rows = ws.ws_row;
            sl.cols = ws.ws_col;
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t now_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
        put(&b, "\0337");
        for (size_t i = 0; i < sl.lines; i++) {
            stats_snapshot *s = stats_acquire(sl.stats[i]);
            char line[512];
            format_line(i, s, now_ms, line,
                        (size_t)ws.ws_col - 1 < sizeof line - 1 ? (size_t)ws.ws_col - 1 : sizeof line - 1);
            stats_release(sl.stats[i], s);
            put(&b, "\033[%d;1H\033[2K%s", ws.ws_row - (int)sl.lines + 1 + (int)i, line);
        }
        put(&b, "\0338");
    }
    if (b.p)
        log_write_raw(b.p, b.n);
    free(b.p);
}

static void *refresh_thread(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&sl.lock);
    while (!sl.stop) {
        pthread_mutex_unlock(&sl.lock);
        draw(0);
        pthread_mutex_lock(&sl.lock);
        struct timespec due;
        clock_gettime(CLOCK_REALTIME, &due);
        due.tv_sec += REFRESH_MS / 1000;
        while (!sl.stop && pthread_cond_timedwait(&sl.wake, &sl.lock, &due) != ETIMEDOUT)
            ;
    }
    pthread_mutex_unlock(&sl.lock);
    return NULL;
}

int status_line_start(pipeline_stats *const *stats, size_t n)
{
    struct winsize ws;
    if (n == 0 || ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) != 0)
        return -1;
    sl.stats = xcalloc(n, sizeof *sl.stats);
    sl.last_total = xcalloc(n, sizeof *sl.last_total);
    sl.last_ms = xcalloc(n, sizeof *sl.last_ms);
    if (sl.stats == NULL || sl.last_total == NULL || sl.last_ms == NULL)
        goto fail;
    memcpy(sl.stats, stats, n * sizeof *stats);
    sl.n = n;
    /* At most half the screen: the log must stay readable. */
    sl.lines = n < (size_t)ws.ws_row / 2 ? n : (size_t)ws.ws_row / 2;
    sl.stop = 0;
    sl.rows = sl.cols = 0;
    if (pthread_create(&sl.thread, NULL, refresh_thread, NULL) != 0)
        goto fail;
    return 0;
fail:
    free(sl.stats);
    free(sl.last_total);
    free(sl.last_ms);
    sl.stats = NULL;
    sl.n = 0;
    return -1;
}

void status_line_stop(void)
{
    if (sl.stats == NULL)
        return;
    pthread_mutex_lock(&sl.lock);
    sl.stop = 1;
    pthread_cond_signal(&sl.wake);
    pthread_mutex_unlock(&sl.lock);
    pthread_join(sl.thread, NULL);
    draw(1);
    free(sl.stats);
    free(sl.last_total);
    free(sl.last_ms);
    sl.stats = NULL;
    sl.n = 0;
}

void status_line_abandon(void)
{
    static const char reset[] = "\0337\033[r\0338\n";
    if (region_set) {
        ssize_t ignored = write(STDERR_FILENO, reset, sizeof reset - 1);
        (void)ignored;
    }
}
