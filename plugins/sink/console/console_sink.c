/*
 * sink `console`: clickstream results for people watching a terminal.
 *
 * A window_summary prints as a block (the window, its clicks and users, the
 * top URLs); sessions and dead letters, which come by the hundred, are
 * summed up every `every` of wall clock (sessions closed, their average
 * duration, the longest; rejections per reason). url_clicks are left to the
 * machine-readable sinks. Anything else prints as its JSON line.
 */
#include <sluice/plugin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_REASONS 16

typedef struct console {
    int64_t every_ms;
    int color;
    /* sessions since the last summary */
    int64_t sessions, session_ms_total, session_clicks;
    int64_t longest_ms;
    char longest_user[64];
    int64_t sessions_total;
    /* dead letters, since the start */
    char reasons[MAX_REASONS][32];
    int64_t reason_counts[MAX_REASONS];
    int64_t rejected_since_summary;
    FILE *out;
} console;

static const sluice_option_spec options[] = {
    {sizeof(sluice_option_spec), "every", SLUICE_OPT_DURATION, "2s", 0,
     "how often sessions and rejections are summed up", 100, 3600000, NULL, 0, 0},
    {sizeof(sluice_option_spec), "color", SLUICE_OPT_ENUM, "auto", 0,
     "ANSI colours: auto (when a terminal), on, off", 0, 0, "auto|on|off", 0, 0},
    SLUICE_OPTION_END,
};

static void fmt_duration(int64_t ms, char *buf, size_t n)
{
    if (ms < 1000)
        snprintf(buf, n, "%lldms", (long long)ms);
    else if (ms < 60000)
        snprintf(buf, n, "%.1fs", (double)ms / 1000);
    else if (ms < 3600000)
        snprintf(buf, n, "%lldm%02llds", (long long)(ms / 60000), (long long)(ms / 1000 % 60));
    else
        snprintf(buf, n, "%lldh%02lldm", (long long)(ms / 3600000), (long long)(ms / 60000 % 60));
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
    const char *color = api->opt_string(opts, "color");
    c->color = strcmp(color, "on") == 0 ||
               (strcmp(color, "auto") == 0 && getenv("NO_COLOR") == NULL && isatty_stdout());
    api->timer_set(ctx, api->now_ms(ctx) + c->every_ms);
    return c;
}

static void console_destroy(const sluice_host_api *api, sluice_ctx *ctx, void *self)
{
    (void)api, (void)ctx;
    free(self);
}

/* The top_urls array is JSON written by url_count: [{"url":"..","clicks":N},...].
 * Print it as lines without a JSON parser: the URLs were escaped by the
 * writer, so they are shown as written. */
static void print_top(console *c, const char *p, size_t n)
{
    const char *end = p + n;
    int rank = 0;
    while (p < end) {
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
        long long clicks = k ? strtoll(k + 9, NULL, 10) : 0;
        fprintf(c->out, "    %2d. %-56.*s %8lld\n", ++rank, (int)(q - u), u, clicks);
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
    char a[16], b[16];
    fmt_time(start, a, sizeof a);
    fmt_time(end, b, sizeof b);
    fprintf(c->out, "%swindow %s-%s UTC%s  %lld clicks, %lld users, %lld urls\n", bold(c), a, b, reset(c),
            (long long)clicks, (long long)users, (long long)urls);
    sluice_str top;
    if (api->field_json(r, "top_urls", &top))
        print_top(c, top.ptr, top.len);
}

static void note_session(console *c, const sluice_host_api *api, const sluice_record *r)
{
    int64_t duration = 0, clicks = 0;
    api->field_int(r, "duration_ms", &duration);
    api->field_int(r, "clicks", &clicks);
    c->sessions++;
    c->sessions_total++;
    c->session_ms_total += duration;
    c->session_clicks += clicks;
    if (duration >= c->longest_ms) {
        sluice_str user;
        c->longest_ms = duration;
        if (api->field_string(r, "user_id", &user))
            snprintf(c->longest_user, sizeof c->longest_user, "%.*s", (int)(user.len > 60 ? 60 : user.len),
                     user.ptr);
    }
}

static void note_rejection(console *c, sluice_str reason)
{
    c->rejected_since_summary++;
    for (int i = 0; i < MAX_REASONS; i++) {
        if (c->reasons[i][0] == '\0') {
            snprintf(c->reasons[i], sizeof c->reasons[i], "%.*s", (int)(reason.len > 30 ? 30 : reason.len),
                     reason.ptr);
            c->reason_counts[i] = 1;
            return;
        }
        if (strlen(c->reasons[i]) == reason.len && memcmp(c->reasons[i], reason.ptr, reason.len) == 0) {
            c->reason_counts[i]++;
            return;
        }
    }
}

static void print_summary(console *c)
{
    if (c->sessions > 0) {
        char avg[32], longest[32];
        fmt_duration(c->session_ms_total / c->sessions, avg, sizeof avg);
        fmt_duration(c->longest_ms, longest, sizeof longest);
        fprintf(c->out,
                "%ssessions%s  %lld closed (%lld in all), avg %s, %.1f clicks each; longest %s by %s\n",
                bold(c), reset(c), (long long)c->sessions, (long long)c->sessions_total, avg,
                (double)c->session_clicks / (double)c->sessions, longest, c->longest_user);
        c->sessions = c->session_ms_total = c->session_clicks = c->longest_ms = 0;
    }
    if (c->rejected_since_summary > 0) {
        fprintf(c->out, "%srejected so far:", dim(c));
        for (int i = 0; i < MAX_REASONS && c->reasons[i][0]; i++)
            fprintf(c->out, " %s %lld", c->reasons[i], (long long)c->reason_counts[i]);
        fprintf(c->out, "%s\n", reset(c));
        c->rejected_since_summary = 0;
    }
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

static sluice_status console_flush(const sluice_host_api *api, sluice_ctx *ctx, void *self)
{
    (void)api, (void)ctx;
    print_summary(self);
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
