/*
 * Sink `dashboard`: clickstream results live in a browser.
 *
 * Serves a page over HTTP (`listen`, default 127.0.0.1:8080) that draws the
 * top URLs of the latest window, the click trend, session durations, the
 * users with the longest average session, rejections by reason and the
 * pipeline's status, and updates them as results arrive over Server-Sent
 * Events. GET /snapshot returns the same state as JSON.
 *
 * Input: window_summary and session records and dead letters (url_clicks
 * and anything else are counted and otherwise ignored).
 *
 * The pipeline never waits for a browser. process() only updates bounded
 * state under a lock and publishes into the SSE feed, which drops a page
 * that falls client_buffer bytes behind; the HTTP server runs on its own
 * threads. Status, sessions and rejections go out once per `interval`;
 * each window as it closes.
 *
 * What a sink can see of the pipeline's status: the watermark its records
 * carry, the records and their rate, and flush() calls, which the engine
 * makes at each checkpoint; and (ABI 1.4) the consumer lag per partition
 * that a Kafka source reports as its kafka.lag.<topic>/<partition> gauges.
 *
 * At the end of the input the pages are sent the final results and an `end`
 * event; `linger` bounds how long that may hold up the pipeline's exit.
 *
 * `listen: off` turns the sink into a no-op, so that a pipeline can keep the
 * step and leave the choice to the environment (${DASHBOARD_LISTEN}).
 */
#include <sluice/plugin.h>

#include "dash_state.h"
#include "http_server.h"
#include "jbuf.h"
#include "page_assets.h"
#include "sse_feed.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The Kafka source's lag gauges (docs/metrics.md). */
#define LAG_PREFIX "kafka.lag."

typedef struct dashboard {
    /* Guards `state`, and orders a new page's snapshot against publishing
     * (both happen under it), so a page misses nothing and sees nothing
     * twice. Lock order: this, then the feed's own lock. */
    pthread_mutex_t lock;
    dash_state *state;
    sse_feed *feed;
    dash_http *http;
    page_assets assets;
    http_routes routes;
    int64_t interval_ms, linger_ms;
    int ended; /* the end-of-input tick was published */
    int off;   /* listen: off */
    jbuf scratch;
} dashboard;

static const sluice_option_spec options[] = {
    {sizeof(sluice_option_spec), "listen", SLUICE_OPT_STRING, "127.0.0.1:8080", 0,
     "host:port the dashboard is served on; port 0 picks a free port (the URL is logged); off: no dashboard",
     0, 0, NULL, 0, 0},
    {sizeof(sluice_option_spec), "history", SLUICE_OPT_INT, "60", 0,
     "windows kept for the trend and sent to a page when it opens", 1, 10000, NULL, 0, 0},
    {sizeof(sluice_option_spec), "interval", SLUICE_OPT_DURATION, "1s", 0,
     "how often status, sessions and rejections are sent to the pages", 100, 60000, NULL, 0, 0},
    {sizeof(sluice_option_spec), "client_buffer", SLUICE_OPT_INT, "1048576", 0,
     "bytes of updates a page may fall behind before it is dropped (one buffer serves every page)", 4096,
     (double)(1u << 30), NULL, 0, 0},
    {sizeof(sluice_option_spec), "max_clients", SLUICE_OPT_INT, "16", 0,
     "pages that may be open at once; more are refused", 1, 1000, NULL, 0, 0},
    {sizeof(sluice_option_spec), "linger", SLUICE_OPT_DURATION, "2s", 0,
     "at the end of the input, how long open pages get to receive the final results", 0, 3600000, NULL, 0, 0},
    {sizeof(sluice_option_spec), "chart_js", SLUICE_OPT_STRING, NULL, 0,
     "Chart.js file the page draws with; default: dashboard/chart.min.js beside the plugin, else Debian's "
     "libjs-chart.js",
     0, 0, NULL, 0, 0},
    SLUICE_OPTION_END,
};

/* The HTTP threads may not call the host API (its hooks are the pipeline
 * thread's), so time comes from the C library everywhere, for consistency. */
static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static dash_pages pages_of(dashboard *d)
{
    feed_stats st = feed_get_stats(d->feed);
    return (dash_pages){st.clients, st.dropped};
}

/* ---- HTTP side (server threads) ------------------------------------------ */

static char *route_snapshot(void *cls, size_t *len)
{
    dashboard *d = cls;
    jbuf b = {0};
    pthread_mutex_lock(&d->lock);
    state_render_snapshot(d->state, &b, wall_ms(), pages_of(d));
    pthread_mutex_unlock(&d->lock);
    return jbuf_take(&b, len);
}

static sse_client *route_join(void *cls, int fd, const char *peer)
{
    dashboard *d = cls;
    jbuf b = {0};
    /* retry: how long a browser waits before reconnecting after a drop. */
    jbuf_puts(&b, "retry: 3000\nevent: snapshot\ndata: ");
    pthread_mutex_lock(&d->lock);
    feed_stats st = feed_get_stats(d->feed);
    state_render_snapshot(d->state, &b, wall_ms(), (dash_pages){st.clients + 1, st.dropped});
    jbuf_puts(&b, "\n\n");
    size_t len = 0;
    char *greeting = jbuf_take(&b, &len);
    sse_client *c = greeting ? feed_join(d->feed, greeting, len, fd, peer) : NULL;
    pthread_mutex_unlock(&d->lock);
    return c;
}

/* ---- pipeline side ---------------------------------------------------------- */

static void log_notes(const sluice_host_api *api, sluice_ctx *ctx, dashboard *d)
{
    char note[256];
    int warn;
    while (feed_take_note(d->feed, note, sizeof note, &warn))
        api->log(ctx, warn ? SLUICE_LOG_WARN : SLUICE_LOG_INFO, "%s", note);
}

/* Under d->lock. */
static void publish_tick(dashboard *d, int64_t now)
{
    jbuf_reset(&d->scratch);
    state_render_tick(d->state, &d->scratch, now, pages_of(d));
    if (!d->scratch.failed)
        feed_publish(d->feed, "tick", d->scratch.ptr, d->scratch.len);
}

static void *dashboard_create(const sluice_host_api *api, sluice_ctx *ctx, const sluice_options *opts,
                              char *errbuf, size_t errbuf_size)
{
    dashboard *d = calloc(1, sizeof *d);
    if (d == NULL) {
        snprintf(errbuf, errbuf_size, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&d->lock, NULL);
    if (strcmp(api->opt_string(opts, "listen"), "off") == 0) {
        d->off = 1;
        api->log(ctx, SLUICE_LOG_INFO, "dashboard off (listen: off)");
        return d;
    }
    d->interval_ms = api->opt_duration_ms(opts, "interval");
    d->linger_ms = api->opt_duration_ms(opts, "linger");
    if (assets_load(&d->assets, api->opt_string(opts, "chart_js"), errbuf, errbuf_size) != 0)
        goto fail;
    size_t max_clients = (size_t)api->opt_int(opts, "max_clients");
    d->state = state_new((size_t)api->opt_int(opts, "history"), wall_ms());
    d->feed = feed_new((size_t)api->opt_int(opts, "client_buffer"), max_clients, 10000);
    if (d->state == NULL || d->feed == NULL) {
        snprintf(errbuf, errbuf_size, "out of memory");
        goto fail;
    }
    d->routes = (http_routes){.cls = d,
                              .snapshot = route_snapshot,
                              .join = route_join,
                              .feed = d->feed,
                              .page = dash_page_html,
                              .page_len = dash_page_html_len,
                              .chart_js = d->assets.chart_js,
                              .chart_js_len = d->assets.chart_js_len};
    char url[300];
    /* Room for the page and snapshot requests beside the streams. */
    d->http = http_start(api->opt_string(opts, "listen"), &d->routes, (unsigned)max_clients + 8, url,
                         sizeof url, errbuf, errbuf_size);
    if (d->http == NULL)
        goto fail;
    if (d->assets.chart_js == NULL)
        api->log(ctx, SLUICE_LOG_WARN,
                 "no chart library at %s: the dashboard shows tables only (install libjs-chart.js or set "
                 "chart_js)",
                 d->assets.chart_js_path);
    api->log(ctx, SLUICE_LOG_INFO, "dashboard at %s", url);
    api->timer_set(ctx, api->now_ms(ctx) + d->interval_ms);
    return d;
fail:
    feed_free(d->feed);
    state_free(d->state);
    assets_free(&d->assets);
    pthread_mutex_destroy(&d->lock);
    free(d);
    return NULL;
}

static void dashboard_destroy(const sluice_host_api *api, sluice_ctx *ctx, void *self)
{
    dashboard *d = self;
    if (d->off) {
        pthread_mutex_destroy(&d->lock);
        free(d);
        return;
    }
    int64_t now = wall_ms();
    pthread_mutex_lock(&d->lock);
    publish_tick(d, now);
    char end[64];
    int n = snprintf(end, sizeof end, "{\"input_ended\":%s}", d->ended ? "true" : "false");
    feed_publish(d->feed, "end", end, (size_t)n);
    pthread_mutex_unlock(&d->lock);
    /* Not under the lock: the pages' threads need it to finish. */
    feed_close(d->feed, d->linger_ms);
    http_stop(d->http);
    log_notes(api, ctx, d);
    feed_free(d->feed);
    state_free(d->state);
    assets_free(&d->assets);
    jbuf_free(&d->scratch);
    pthread_mutex_destroy(&d->lock);
    free(d);
}

static int str_is(sluice_str s, const char *lit)
{
    size_t n = strlen(lit);
    return s.len == n && memcmp(s.ptr, lit, n) == 0;
}

static void take_window(const sluice_host_api *api, dashboard *d, const sluice_record *r, int64_t now)
{
    dash_window w = {0};
    api->field_int(r, "window_start", &w.start);
    api->field_int(r, "window_end", &w.end);
    api->field_int(r, "clicks", &w.clicks);
    api->field_int(r, "unique_users", &w.unique_users);
    api->field_int(r, "unique_urls", &w.unique_urls);
    sluice_str json;
    api->record_json(r, &json);
    state_add_window(d->state, &w, json.ptr, json.len, now);
    jbuf_reset(&d->scratch);
    jbuf_append(&d->scratch, json.ptr, json.len);
    for (size_t i = 0; i < d->scratch.len && !d->scratch.failed; i++)
        if (d->scratch.ptr[i] == '\n' || d->scratch.ptr[i] == '\r')
            d->scratch.ptr[i] = ' '; /* one SSE data line; see window_json in dash_state.c */
    if (!d->scratch.failed)
        feed_publish(d->feed, "window", d->scratch.ptr, d->scratch.len);
}

static void take_session(const sluice_host_api *api, dashboard *d, const sluice_record *r)
{
    dash_session s = {0};
    sluice_str user = {"", 0}, entry = {"", 0}, exit_url = {"", 0};
    api->field_string(r, "user_id", &user);
    api->field_string(r, "entry_url", &entry);
    api->field_string(r, "exit_url", &exit_url);
    s.user = user.ptr, s.user_len = user.len;
    s.entry_url = entry.ptr, s.entry_len = entry.len;
    s.exit_url = exit_url.ptr, s.exit_len = exit_url.len;
    api->field_int(r, "session_start", &s.start);
    api->field_int(r, "session_end", &s.end);
    api->field_int(r, "duration_ms", &s.duration_ms);
    api->field_int(r, "clicks", &s.clicks);
    api->field_int(r, "user_sessions", &s.user_sessions);
    api->field_double(r, "user_avg_duration_ms", &s.user_avg_duration_ms);
    state_add_session(d->state, &s);
}

static sluice_status dashboard_process(const sluice_host_api *api, sluice_ctx *ctx, void *self,
                                       sluice_batch *batch)
{
    dashboard *d = self;
    if (d->off)
        return SLUICE_OK;
    int64_t now = wall_ms();
    size_t n = 0;
    pthread_mutex_lock(&d->lock);
    for (const sluice_record *r; (r = api->batch_next(batch)) != NULL; n++) {
        state_note_watermark(d->state, api->record_watermark(r));
        sluice_str kind, reason;
        if (api->field_string(r, "kind", &kind)) {
            if (str_is(kind, "window_summary"))
                take_window(api, d, r, now);
            else if (str_is(kind, "session"))
                take_session(api, d, r);
        } else if (api->field_string(r, "reason", &reason)) {
            state_add_rejection(d->state, reason.ptr, reason.len, now);
        }
    }
    state_note_records(d->state, n, now);
    pthread_mutex_unlock(&d->lock);
    log_notes(api, ctx, d);
    return SLUICE_OK;
}

static sluice_status dashboard_watermark(const sluice_host_api *api, sluice_ctx *ctx, void *self,
                                         int64_t watermark)
{
    (void)api, (void)ctx;
    dashboard *d = self;
    if (d->off)
        return SLUICE_OK;
    pthread_mutex_lock(&d->lock);
    state_note_watermark(d->state, watermark);
    if (watermark == SLUICE_TIME_MAX && !d->ended) {
        d->ended = 1;
        publish_tick(d, wall_ms()); /* the pages show "end of input" at once */
    }
    pthread_mutex_unlock(&d->lock);
    return SLUICE_OK;
}

static sluice_status dashboard_flush(const sluice_host_api *api, sluice_ctx *ctx, void *self)
{
    (void)api, (void)ctx;
    dashboard *d = self;
    if (d->off)
        return SLUICE_OK;
    pthread_mutex_lock(&d->lock);
    state_note_checkpoint(d->state, wall_ms());
    pthread_mutex_unlock(&d->lock);
    return SLUICE_OK;
}

static void add_lag(void *ud, const char *name, int64_t value)
{
    dashboard *d = ud;
    state_lag_add(d->state, name + strlen(LAG_PREFIX), value);
}

static sluice_status dashboard_timer(const sluice_host_api *api, sluice_ctx *ctx, void *self, int64_t now_ms)
{
    dashboard *d = self;
    pthread_mutex_lock(&d->lock);
    /* The source's consumer lag, where the engine can tell (ABI 1.4) and
     * the source reports it (Kafka: kafka.lag.<topic>/<partition>). */
    if (SLUICE_HOST_HAS(api, step_counters)) {
        state_lag_begin(d->state);
        api->step_counters(ctx, NULL, LAG_PREFIX, add_lag, d);
        state_lag_end(d->state);
    }
    publish_tick(d, wall_ms());
    pthread_mutex_unlock(&d->lock);
    log_notes(api, ctx, d);
    api->timer_set(ctx, now_ms + d->interval_ms);
    return SLUICE_OK;
}

static const sluice_plugin descriptor = {
    .struct_size = sizeof(sluice_plugin),
    .abi_version = SLUICE_ABI_VERSION,
    .name = "dashboard",
    .kind = SLUICE_KIND_SINK,
    .version = "1.0.0",
    .description = "live web dashboard: top URLs, click trend, sessions, rejections, pipeline status",
    .options = options,
    .create = dashboard_create,
    .destroy = dashboard_destroy,
    .process = dashboard_process,
    .watermark = dashboard_watermark,
    .flush = dashboard_flush,
    .timer = dashboard_timer,
};

SLUICE_PLUGIN_EXPORT const sluice_plugin *sluice_plugin_entry(void) { return &descriptor; }
