/*
 * sink `console`: clickstream results for people watching a terminal.
 *
 * A window_summary prints as a block (the window, its clicks and users, the
 * `top` URLs); sessions and dead letters, which come by the hundred, are
 * summed up every `every` of wall clock: sessions closed, their average
 * duration, the longest, and the running average session duration of the
 * users who closed one (the longest three); then one line per rejection
 * reason seen in the interval, never one per event. url_clicks are left to
 * the machine-readable sinks. Anything else prints as its JSON line.
 */
#include <sluice/plugin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_REASONS 16
#define AVG_USERS 3 /* users shown with their running average per summary */

typedef struct user_avg {
    char user[64];
    double avg_ms;
    int64_t sessions;
} user_avg;

typedef struct console {
    int64_t every_ms;
    int color;
    int top;
    /* sessions since the last summary */
    int64_t sessions, session_ms_total, session_clicks;
    int64_t longest_ms;
    char longest_user[64];
    int64_t sessions_total;
    user_avg avg_users[AVG_USERS]; /* the longest running averages, longest first */
    int navg_users;
    /* dead letters: in all, and since the last summary */
    char reasons[MAX_REASONS][32];
    int64_t reason_counts[MAX_REASONS], reason_new[MAX_REASONS];
    int64_t other_reasons, other_new;
    FILE *out;
} console;

static const sluice_option_spec options[] = {
    {sizeof(sluice_option_spec), "every", SLUICE_OPT_DURATION, "10s", 0,
     "how often sessions and rejections are summed up (one line per rejection reason)", 100, 3600000, NULL, 0,
     0},
    {sizeof(sluice_option_spec), "top", SLUICE_OPT_INT, "5", 0,
     "top URLs printed under each window (0: the window's totals line only)", 0, 100, NULL, 0, 0},
    {sizeof(sluice_option_spec), "color", SLUICE_OPT_ENUM, "auto", 0,
     "ANSI colours: auto (when a terminal), on, off", 0, 0, "auto|on|off", 0, 0},
    SLUICE_OPTION_END,
};

static void fmt_duration(int64_t ms, char *buf, size_t n)
{
    if (ms % 1000 == 0 && ms < 60000)
        snprintf(buf, n, "%llds", (long long)(ms / 1000));
    else if (ms < 1000)
        snprintf(buf, n, "%lldms", (long long)ms);
    else if (ms < 60000)
        snprintf(buf, n, "%.1fs", (double)ms / 1000);
    else if (ms < 3600000)
        snprintf(buf, n, "%lldm%02llds", (long long)(ms / 60000), (long long)(ms / 1000 % 60));
    else
        snprintf(buf, n, "%lldh%02lldm", (long long)(ms / 3600000), (long long)(ms / 60000 % 60));
}

/* 12345678 -> "12,345,678": counts a person reads at a glance. */
static void fmt_count(int64_t v, char *buf, size_t n)
{
    char digits[32];
    int len = snprintf(digits, sizeof digits, "%lld", (long long)(v < 0 ? -v : v));
    size_t o = 0;
    if (v < 0 && o + 1 < n)
        buf[o++] = '-';
    for (int i = 0; i < len && o + 2 < n; i++) {
        if (i > 0 && (len - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = digits[i];
    }
    buf[o] = '\0';
}

static void fmt_time(int64_t ms, char *buf, size_t n)
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    snprintf(buf, n, "%02d:%02d:%02d", tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static int isatty_stdout(void) { return isatty(STDOUT_FILENO); }

static const char *bold(const console *c) { return c->color ? "\033[1m" : ""; }
static const char *dim(const console *c) { return c->color ? "\033[2m" : ""; }
static const char *reset(const console *c) { return c->color ? "\033[0m" : ""; }

static void *console_create(const sluice_host_api *api, sluice_ctx *ctx, const sluice_options *opts,
                            char *errbuf, size_t errbuf_size)
{
    (void)errbuf, (void)errbuf_size;
    console *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->out = stdout;
    c->every_ms = api->opt_duration_ms(opts, "every");
    c->top = (int)api->opt_int(opts, "top");
    const char *color = api->opt_string(opts, "color");
    c->color = strcmp(color, "on") == 0 ||
               (strcmp(color, "auto") == 0 && getenv("NO_COLOR") == NULL && isatty_stdout());
    api->timer_set(ctx, api->now_ms(ctx) + c->every_ms);
    return c;
}

static void print_summary(console *c);

static void console_destroy(const sluice_host_api *api, sluice_ctx *ctx, void *self)
{
    (void)api, (void)ctx;
    print_summary(self); /* what came since the last one */
    free(self);
}

/* The top_urls array is JSON written by url_count: [{"url":"..","clicks":N},...].
 * Print it as lines without a JSON parser: the URLs were escaped by the
 * writer, so they are shown as written. */
static void print_top(console *c, const char *p, size_t n)
{
    const char *end = p + n;
    int rank = 0;
    while (p < end && rank < c->top) {
        const char *u = memmem(p, (size_t)(end - p), "\"url\":\"", 7);
        if (u == NULL)
            break;
        u += 7;
        const char *q = u;
        while (q < end && *q != '"')
            q += *q == '\\' ? 2 : 1;
        if (q >= end)
            break;
        const char *k = memmem(q, (size_t)(end - q), "\"clicks\":", 9);
        char clicks[32];
        fmt_count(k ? strtoll(k + 9, NULL, 10) : 0, clicks, sizeof clicks);
        fprintf(c->out, "    %2d. %-56.*s %10s\n", ++rank, (int)(q - u), u, clicks);
        p = k ? k + 9 : q;
    }
}

static void print_window(console *c, const sluice_host_api *api, const sluice_record *r)
{
    int64_t start = 0, end = 0, clicks = 0, users = 0, urls = 0;
    api->field_int(r, "window_start", &start);
    api->field_int(r, "window_end", &end);
    api->field_int(r, "clicks", &clicks);
    api->field_int(r, "unique_users", &users);
    api->field_int(r, "unique_urls", &urls);
    char a[16], b[16], nc[32], nu[32], nl[32];
    fmt_time(start, a, sizeof a);
    fmt_time(end, b, sizeof b);
    fmt_count(clicks, nc, sizeof nc);
    fmt_count(users, nu, sizeof nu);
    fmt_count(urls, nl, sizeof nl);
    fprintf(c->out, "%swindow %s-%s UTC%s  %s click%s by %s user%s on %s URL%s%s\n", bold(c), a, b, reset(c),
            nc, clicks == 1 ? "" : "s", nu, users == 1 ? "" : "s", nl, urls == 1 ? "" : "s",
            c->top > 0 ? "; most clicked:" : "");
    sluice_str top;
    if (api->field_json(r, "top_urls", &top))
        print_top(c, top.ptr, top.len);
}

/* Keeps the AVG_USERS users with the longest running average among those
 * whose session closed since the last summary (each session carries its
 * user's average over all their sessions so far: docs/semantics.md section 6). */
static void note_user_avg(console *c, sluice_str user, double avg_ms, int64_t sessions)
{
    char name[64];
    snprintf(name, sizeof name, "%.*s", (int)(user.len > 60 ? 60 : user.len), user.ptr);
    int i = 0;
    while (i < c->navg_users && strcmp(c->avg_users[i].user, name) != 0)
        i++;
    if (i == c->navg_users) { /* not listed: take the last place if it beats it */
        if (c->navg_users < AVG_USERS)
            c->navg_users++;
        else if (avg_ms <= c->avg_users[AVG_USERS - 1].avg_ms)
            return;
        i = c->navg_users - 1;
    }
    c->avg_users[i] = (user_avg){"", avg_ms, sessions};
    memcpy(c->avg_users[i].user, name, sizeof name);
    for (; i > 0 && c->avg_users[i].avg_ms > c->avg_users[i - 1].avg_ms; i--) { /* keep them sorted */
        user_avg t = c->avg_users[i];
        c->avg_users[i] = c->avg_users[i - 1];
        c->avg_users[i - 1] = t;
    }
}

static void note_session(console *c, const sluice_host_api *api, const sluice_record *r)
{
    int64_t duration = 0, clicks = 0, user_sessions = 0;
    double user_avg = 0;
    sluice_str user = {"", 0};
    api->field_int(r, "duration_ms", &duration);
    api->field_int(r, "clicks", &clicks);
    api->field_string(r, "user_id", &user);
    if (api->field_double(r, "user_avg_duration_ms", &user_avg) &&
        api->field_int(r, "user_sessions", &user_sessions))
        note_user_avg(c, user, user_avg, user_sessions);
    c->sessions++;
    c->sessions_total++;
    c->session_ms_total += duration;
    c->session_clicks += clicks;
    if (duration >= c->longest_ms) {
        c->longest_ms = duration;
        snprintf(c->longest_user, sizeof c->longest_user, "%.*s", (int)(user.len > 60 ? 60 : user.len),
                 user.ptr);
    }
}

static void note_rejection(console *c, sluice_str reason)
{
    for (int i = 0; i < MAX_REASONS; i++) {
        if (c->reasons[i][0] == '\0') {
            if (reason.len == 0 || reason.len >= sizeof c->reasons[i])
                break;
            memcpy(c->reasons[i], reason.ptr, reason.len);
            c->reasons[i][reason.len] = '\0';
        }
        if (strlen(c->reasons[i]) == reason.len && memcmp(c->reasons[i], reason.ptr, reason.len) == 0) {
            c->reason_counts[i]++;
            c->reason_new[i]++;
            return;
        }
    }
    c->other_reasons++; /* more reasons than we keep apart, or a strange one */
    c->other_new++;
}

/* One line per reason, most frequent first, as a small table:
 *     rejected   105 duplicate    (321 in all)
 *                 15 too_late     (36 in all)                              */
static void print_rejections(console *c)
{
    int order[MAX_REASONS + 1], n = 0;
    for (int i = 0; i < MAX_REASONS && c->reasons[i][0]; i++)
        if (c->reason_new[i] > 0)
            order[n++] = i;
    if (c->other_new > 0)
        order[n++] = MAX_REASONS; /* "other" */
    for (int i = 1; i < n; i++)   /* insertion sort: a handful of reasons */
        for (int j = i; j > 0; j--) {
            int a = order[j - 1], b = order[j];
            int64_t na = a == MAX_REASONS ? c->other_new : c->reason_new[a];
            int64_t nb = b == MAX_REASONS ? c->other_new : c->reason_new[b];
            if (nb <= na)
                break;
            order[j - 1] = b, order[j] = a;
        }
    for (int k = 0; k < n; k++) {
        int i = order[k];
        const char *reason = i == MAX_REASONS ? "other" : c->reasons[i];
        char fresh[32], all[32];
        fmt_count(i == MAX_REASONS ? c->other_new : c->reason_new[i], fresh, sizeof fresh);
        fmt_count(i == MAX_REASONS ? c->other_reasons : c->reason_counts[i], all, sizeof all);
        fprintf(c->out, "%s%-9s%s %6s %-12s (%s in all)\n", dim(c), k == 0 ? "rejected" : "", reset(c), fresh,
                reason, all);
    }
    for (int i = 0; i < MAX_REASONS; i++)
        c->reason_new[i] = 0;
    c->other_new = 0;
}

static void print_summary(console *c)
{
    if (c->sessions > 0) {
        char avg[32], longest[32], closed[32], all[32], every[32];
        fmt_duration(c->session_ms_total / c->sessions, avg, sizeof avg);
        fmt_duration(c->longest_ms, longest, sizeof longest);
        fmt_count(c->sessions, closed, sizeof closed);
        fmt_count(c->sessions_total, all, sizeof all);
        fmt_duration(c->every_ms, every, sizeof every);
        fprintf(c->out,
                "%ssessions%s  %s closed in the last %s (%s in all): avg %s, %.1f clicks; longest %s by %s\n",
                bold(c), reset(c), closed, every, all, avg, (double)c->session_clicks / (double)c->sessions,
                longest, c->longest_user);
        if (c->navg_users > 0) {
            fprintf(c->out, "          longest running average per user:");
            for (int i = 0; i < c->navg_users; i++) {
                char d[32];
                fmt_duration((int64_t)c->avg_users[i].avg_ms, d, sizeof d);
                fprintf(c->out, "%s %s %s over %lld session%s", i ? "," : "", c->avg_users[i].user, d,
                        (long long)c->avg_users[i].sessions, c->avg_users[i].sessions == 1 ? "" : "s");
            }
            fputc('\n', c->out);
        }
        c->sessions = c->session_ms_total = c->session_clicks = c->longest_ms = 0;
        c->navg_users = 0;
    }
    print_rejections(c);
    fflush(c->out);
}

static sluice_status console_process(const sluice_host_api *api, sluice_ctx *ctx, void *self,
                                     sluice_batch *batch)
{
    (void)ctx;
    console *c = self;
    for (const sluice_record *r; (r = api->batch_next(batch)) != NULL;) {
        sluice_str kind, reason;
        if (api->field_string(r, "kind", &kind)) {
            if (kind.len == 14 && memcmp(kind.ptr, "window_summary", 14) == 0)
                print_window(c, api, r);
            else if (kind.len == 7 && memcmp(kind.ptr, "session", 7) == 0)
                note_session(c, api, r);
            else if (!(kind.len == 10 && memcmp(kind.ptr, "url_clicks", 10) == 0)) {
                sluice_str json;
                api->record_json(r, &json);
                fprintf(c->out, "%.*s\n", (int)json.len, json.ptr);
            }
        } else if (api->field_string(r, "reason", &reason)) {
            note_rejection(c, reason);
        } else {
            sluice_str json;
            api->record_json(r, &json);
            fprintf(c->out, "%.*s\n", (int)json.len, json.ptr);
        }
    }
    fflush(c->out);
    return SLUICE_OK;
}

static sluice_status console_timer(const sluice_host_api *api, sluice_ctx *ctx, void *self, int64_t now_ms)
{
    console *c = self;
    print_summary(c);
    api->timer_set(ctx, now_ms + c->every_ms);
    return SLUICE_OK;
}

/* Checkpoints flush every few seconds: summing up there too would break the
 * rhythm of one summary per `every`. The last one is printed by destroy. */
static sluice_status console_flush(const sluice_host_api *api, sluice_ctx *ctx, void *self)
{
    (void)api, (void)ctx;
    console *c = self;
    fflush(c->out);
    return SLUICE_OK;
}

static const sluice_plugin descriptor = {
    .struct_size = sizeof(sluice_plugin),
    .abi_version = SLUICE_ABI_VERSION,
    .name = "console",
    .kind = SLUICE_KIND_SINK,
    .version = "1.0.0",
    .description = "readable live output: window top URLs, session and rejection summaries",
    .options = options,
    .create = console_create,
    .state = SLUICE_STATE_NONE,
    .destroy = console_destroy,
    .process = console_process,
    .flush = console_flush,
    .timer = console_timer,
};

SLUICE_PLUGIN_EXPORT const sluice_plugin *sluice_plugin_entry(void) { return &descriptor; }
