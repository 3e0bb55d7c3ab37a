/*
 * Source `clickgen`: synthetic click events for demos, tests and benchmarks.
 *
 * Deterministic for a given seed and options (unless the event time follows
 * the wall clock, see `start`). Users browse in sessions (click_model.h); on
 * top of that, as real streams do, events arrive a little out of order
 * (`disorder`), some are sent twice (`duplicates`, same event_id and bytes),
 * some very late (`late`, 2 to 10 minutes behind), and some are broken in
 * every way docs/semantics.md section 1 rejects (`invalid`, click_format.h).
 * About 5% of events carry ts as an RFC 3339 string, and 5% of users have an
 * integer user_id, so the decoder's other paths run too.
 */
#include <sluice/bytes.h>
#include <sluice/plugin.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "click_format.h"
#include "click_model.h"

#define RECENT_EVENTS 32 /* duplicates re-send one of the last valid events */
#define LATE_MIN_MS 120000
#define LATE_SPAN_MS 480000
#define MAX_PACING_BACKLOG_MS 1000 /* a stalled pipeline does not cause a burst */
#define SNAPSHOT_VERSION 1u

typedef struct clickgen {
    click_model model;
    uint64_t seed;
    uint64_t count; /* 0: unlimited */
    uint64_t sent;
    double rate;    /* events per second, 0: unlimited */
    int live_clock; /* event time is the wall clock at emission */
    int64_t start_ms;
    int64_t disorder_ms;
    double p_duplicate, p_invalid, p_late;
    uint32_t partitions;
    int64_t pace_start_ms; /* wall clock when pacing began, -1 before */
    uint64_t paced;        /* events sent since pace_start_ms */
    click_event recent[RECENT_EVENTS];
    uint32_t recent_count, recent_next;
    char origin[32];
    char buf[CLICK_FORMAT_MAX];
} clickgen;

#define OPT(name, type, def, doc, min, max)                                       \
    {                                                                             \
        sizeof(sluice_option_spec), name, type, def, 0, doc, min, max, NULL, 0, 0 \
    }

static const sluice_option_spec clickgen_options[] = {
    OPT("seed", SLUICE_OPT_INT, "1", "same seed and options, same events", -9e18, 9e18),
    OPT("count", SLUICE_OPT_INT, "100000", "events to send, then end; 0: never end", 0, 9e18),
    OPT("rate", SLUICE_OPT_DOUBLE, "0", "events per second of wall clock; 0: as fast as possible", 0, 1e9),
    OPT("users", SLUICE_OPT_INT, "10000", "distinct users", 1, 1e8),
    OPT("urls", SLUICE_OPT_INT, "1000", "distinct URLs", 1, 1e8),
    OPT("zipf", SLUICE_OPT_DOUBLE, "1.1", "exponent of URL popularity (0: all equally popular)", 0, 10),
    OPT("start", SLUICE_OPT_INT, "0",
        "epoch ms where event time begins (events may be up to `disorder` earlier); 0: with a "
        "rate, event time follows the wall clock; without, it is set so the events end about now",
        0, 9007199254740991.0),
    OPT("session_gap", SLUICE_OPT_DURATION, "30m",
        "users pause longer than this between sessions, never within one", 1, 1e12),
    OPT("think_time", SLUICE_OPT_DURATION, "30s", "mean pause between clicks of a session", 0, 1e12),
    OPT("session_clicks", SLUICE_OPT_DOUBLE, "8", "mean clicks per session", 1, 1e6),
    OPT("away_time", SLUICE_OPT_DURATION, "2h", "mean absence between a user's sessions, beyond session_gap",
        0, 1e12),
    OPT("event_interval", SLUICE_OPT_DURATION, "0",
        "mean event time between events; 0: what users, think_time, session_clicks, session_gap "
        "and away_time give (set, it overrides away_time)",
        0, 1e12),
    OPT("disorder", SLUICE_OPT_DURATION, "2s",
        "each event's ts moves back by up to this much (bounded out-of-order)", 0, 1e12),
    OPT("duplicates", SLUICE_OPT_DOUBLE, "0.01",
        "fraction of events that re-send a recent event verbatim (same event_id)", 0, 1),
    OPT("late", SLUICE_OPT_DOUBLE, "0.001", "fraction of events 2 to 10 minutes behind", 0, 1),
    OPT("invalid", SLUICE_OPT_DOUBLE, "0.005",
        "fraction of events broken in one of the ways the decoder rejects (future ones are in "
        "2100: valid when max_future is off)",
        0, 1),
    OPT("partitions", SLUICE_OPT_INT, "1", "streams events are spread over by user", 1, 65536),
    SLUICE_OPTION_END,
};

/* A user's fixed traits come from their number, not from the random stream,
 * so a user keeps them whatever the seed. */
static uint64_t user_hash(uint32_t user)
{
    uint64_t x = user * 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 33)) * 0xff51afd7ed558ccdULL;
    x = (x ^ (x >> 33)) * 0xc4ceb9fe1a85ec53ULL;
    return x ^ (x >> 33);
}

static void sleep_ms(int64_t ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* The fractions of odd events cannot add up past 1 (checked by `sluice check`). */
static sluice_status clickgen_validate(const sluice_host_api *api, sluice_ctx *ctx,
                                       const sluice_options *opts)
{
    double sum = api->opt_double(opts, "duplicates") + api->opt_double(opts, "invalid") +
                 api->opt_double(opts, "late");
    if (sum > 1.0) {
        const char *at = api->opt_is_set(opts, "late")         ? "late"
                         : api->opt_is_set(opts, "invalid")    ? "invalid"
                         : api->opt_is_set(opts, "duplicates") ? "duplicates"
                                                               : NULL;
        api->option_error(
            ctx, at, "duplicates + invalid + late is %g: the fractions cannot add up to more than 1", sum);
        return SLUICE_ERR_CONFIG;
    }
    return SLUICE_OK;
}

static void *clickgen_create(const sluice_host_api *api, sluice_ctx *ctx, const sluice_options *opts,
                             char *errbuf, size_t errbuf_size)
{
    clickgen *g = calloc(1, sizeof *g);
    if (g == NULL) {
        snprintf(errbuf, errbuf_size, "out of memory");
        return NULL;
    }
    g->seed = (uint64_t)api->opt_int(opts, "seed");
    g->count = (uint64_t)api->opt_int(opts, "count");
    g->rate = api->opt_double(opts, "rate");
    g->disorder_ms = api->opt_duration_ms(opts, "disorder");
    g->p_duplicate = api->opt_double(opts, "duplicates");
    g->p_invalid = api->opt_double(opts, "invalid");
    g->p_late = api->opt_double(opts, "late");
    g->partitions = (uint32_t)api->opt_int(opts, "partitions");
    g->pace_start_ms = -1;
    if (g->p_duplicate + g->p_invalid + g->p_late > 1.0) {
        snprintf(errbuf, errbuf_size,
                 "duplicates + invalid + late is %g: the fractions cannot add up to more than 1",
                 g->p_duplicate + g->p_invalid + g->p_late);
        free(g);
        return NULL;
    }
    click_params p = {
        .users = (uint32_t)api->opt_int(opts, "users"),
        .urls = (uint32_t)api->opt_int(opts, "urls"),
        .zipf = api->opt_double(opts, "zipf"),
        .think_ms = (double)api->opt_duration_ms(opts, "think_time"),
        .session_clicks = api->opt_double(opts, "session_clicks"),
        .gap_ms = (double)api->opt_duration_ms(opts, "session_gap"),
        .disorder_ms = (double)g->disorder_ms,
        .away_ms = (double)api->opt_duration_ms(opts, "away_time"),
    };
    /* The pace of event time: asked for, or the rate's when it follows the clock. */
    int64_t start = api->opt_int(opts, "start");
    g->live_clock = start == 0 && g->rate > 0;
    double interval = (double)api->opt_duration_ms(opts, "event_interval");
    if (interval == 0 && g->live_clock)
        interval = 1000.0 / g->rate;
    if (interval > 0) {
        double away = click_model_away_for_interval(&p, interval);
        p.away_ms = away > 0 ? away : 0;
        if (away < 0 && !g->live_clock)
            api->log(ctx, SLUICE_LOG_WARN,
                     "%u users cannot click every %gms on average with these sessions: events "
                     "will be %gms apart (add users)",
                     p.users, interval, click_model_interval_ms(&p));
    }
    if (click_model_init(&g->model, &p, g->seed) != 0) {
        snprintf(errbuf, errbuf_size, "out of memory for %u users and %u urls", p.users, p.urls);
        free(g);
        return NULL;
    }
    if (start == 0 && !g->live_clock) {
        /* Replay-like: end about now, so no event looks like it is from the future. */
        int64_t span = (int64_t)(click_model_interval_ms(&p) * (double)g->count);
        start = api->now_ms(ctx) - span;
        if (start < 0)
            start = 0;
    }
    g->start_ms = start;
    return g;
}

static void clickgen_destroy(const sluice_host_api *api, sluice_ctx *ctx, void *self)
{
    (void)api;
    (void)ctx;
    clickgen *g = self;
    click_model_free(&g->model);
    free(g);
}

/* 2^53 ms (285,000 years): simulated time and the start of event time stay
 * below it, so their sum is an exact double and fits an int64. */
#define MAX_SIMULATED_MS 9007199254740992.0

static int64_t clamp_ts(int64_t ts) { return ts < 0 ? 0 : ts; }

/* Renders message number g->sent into g->buf; returns its length and the user. */
static size_t next_event(clickgen *g, int64_t now_ms, uint32_t *user)
{
    click_rng *rng = &g->model.rng;
    double u = click_rng_uniform(rng);
    if (u < g->p_duplicate && g->recent_count > 0) {
        const click_event *ev = &g->recent[click_rng_below(rng, g->recent_count)];
        *user = ev->user;
        return click_format(g->buf, ev);
    }
    u -= g->p_duplicate;
    click c;
    click_model_next(&g->model, &c);
    int64_t base = g->live_clock ? now_ms : g->start_ms + (int64_t)c.time_ms;
    uint64_t traits = user_hash(c.user);
    click_event ev = {
        .seed = g->seed,
        .id = g->sent,
        .user = c.user,
        .url = c.url,
        .referrer = c.referrer,
        .ts_rfc3339 = click_rng_below(rng, 20) == 0,
        .user_int = traits % 20 == 0,
        .ua = (uint8_t)(traits >> 8),
        .external = (uint8_t)click_rng_below(rng, 4),
    };
    *user = c.user;
    if (u < g->p_late) {
        ev.ts = clamp_ts(base - LATE_MIN_MS - (int64_t)click_rng_below(rng, LATE_SPAN_MS + 1));
        return click_format(g->buf, &ev);
    }
    ev.ts = clamp_ts(base - (int64_t)click_rng_below(rng, (uint64_t)g->disorder_ms + 1));
    if (u < g->p_late + g->p_invalid) {
        click_flaw flaw = (click_flaw)click_rng_below(rng, CLICK_FLAW_COUNT_);
        return click_format_flawed(g->buf, &ev, flaw);
    }
    g->recent[g->recent_next] = ev;
    g->recent_next = (g->recent_next + 1) % RECENT_EVENTS;
    if (g->recent_count < RECENT_EVENTS)
        g->recent_count++;
    return click_format(g->buf, &ev);
}

/* How many events are due now under `rate`, sleeping (at most timeout_ms)
 * when none is. */
static uint64_t paced_allowance(const sluice_host_api *api, sluice_ctx *ctx, clickgen *g, int timeout_ms,
                                int64_t *now_ms)
{
    int64_t now = api->now_ms(ctx);
    if (g->pace_start_ms < 0) {
        g->pace_start_ms = now;
        g->paced = 0;
    }
    double owed = (double)(now - g->pace_start_ms) * g->rate / 1000.0 + 1.0 - (double)g->paced;
    if (owed > g->rate * MAX_PACING_BACKLOG_MS / 1000.0 + 1.0) {
        g->pace_start_ms = now; /* fell far behind: do not catch up in one burst */
        g->paced = 0;
        owed = 1.0;
    }
    if (owed < 1.0) {
        int64_t due = g->pace_start_ms + (int64_t)((double)g->paced * 1000.0 / g->rate + 0.999);
        int64_t wait = due - now;
        sleep_ms(timeout_ms < 0 || wait < timeout_ms ? wait : timeout_ms); /* < 0: no limit */
        now = api->now_ms(ctx);
        owed = (double)(now - g->pace_start_ms) * g->rate / 1000.0 + 1.0 - (double)g->paced;
    }
    *now_ms = now;
    return owed < 1.0 ? 0 : (uint64_t)owed;
}

static sluice_status clickgen_poll(const sluice_host_api *api, sluice_ctx *ctx, void *self, size_t budget,
                                   int timeout_ms)
{
    clickgen *g = self;
    if (g->count > 0 && g->sent >= g->count)
        return SLUICE_END;
    uint64_t n = budget;
    if (g->count > 0 && g->count - g->sent < n)
        n = g->count - g->sent;
    int64_t now = 0;
    if (g->rate > 0) {
        uint64_t allowed = paced_allowance(api, ctx, g, timeout_ms, &now);
        if (allowed < n)
            n = allowed;
        g->paced += n;
    } else if (g->live_clock) {
        now = api->now_ms(ctx);
    }
    memcpy(g->origin, "clickgen:", 9);
    for (uint64_t i = 0; i < n; i++) {
        g->sent++;
        uint32_t user;
        size_t len = next_event(g, now, &user);
        size_t origin_len = 9 + sluice_format_u64(g->origin + 9, g->sent);
        sluice_message msg = {
            .struct_size = sizeof msg,
            .payload = g->buf,
            .payload_len = len,
            .origin = g->origin,
            .origin_len = origin_len,
            .partition = (int32_t)(user_hash(user) % g->partitions),
            .timestamp_ms = SLUICE_TIME_MIN,
        };
        sluice_status st = api->source_push(ctx, &msg);
        if (st < 0)
            return st;
    }
    return g->count > 0 && g->sent >= g->count ? SLUICE_END : SLUICE_OK;
}

/* ---- snapshot: the generator resumes where the checkpoint left it -------- */

#define SNAPSHOT_HEADER_WORDS 11 /* seed users urls sent start rng[4] recent_count recent_next */
#define SNAPSHOT_EVENT_WORDS 6
#define SNAPSHOT_USER_WORDS 4

static size_t snapshot_size(uint64_t users)
{
    return 8 * (SNAPSHOT_HEADER_WORDS + RECENT_EVENTS * SNAPSHOT_EVENT_WORDS + users * SNAPSHOT_USER_WORDS);
}

static sluice_status clickgen_snapshot(const sluice_host_api *api, sluice_ctx *ctx, void *self,
                                       sluice_snapshot *out)
{
    (void)ctx;
    clickgen *g = self;
    const click_model *m = &g->model;
    size_t size = snapshot_size(m->p.users);
    unsigned char *data = api->alloc(size);
    if (data == NULL)
        return SLUICE_ERR_NOMEM;
    sluice_bytes_writer w = sluice_bytes_writer_over(data, size);
    sluice_bytes_put_u64(&w, g->seed);
    sluice_bytes_put_u64(&w, m->p.users);
    sluice_bytes_put_u64(&w, m->p.urls);
    sluice_bytes_put_u64(&w, g->sent);
    sluice_bytes_put_i64(&w, g->start_ms);
    for (int i = 0; i < 4; i++)
        sluice_bytes_put_u64(&w, m->rng.s[i]);
    sluice_bytes_put_u64(&w, g->recent_count);
    sluice_bytes_put_u64(&w, g->recent_next);
    for (int i = 0; i < RECENT_EVENTS; i++) {
        const click_event *ev = &g->recent[i];
        sluice_bytes_put_u64(&w, ev->id);
        sluice_bytes_put_i64(&w, ev->ts);
        sluice_bytes_put_u64(&w, ev->user);
        sluice_bytes_put_u64(&w, ev->url);
        sluice_bytes_put_u64(&w, ev->referrer);
        sluice_bytes_put_u64(&w, (uint64_t)ev->ts_rfc3339 | (uint64_t)ev->user_int << 8 |
                                     (uint64_t)ev->ua << 16 | (uint64_t)ev->external << 24);
    }
    for (uint32_t i = 0; i < m->p.users; i++) {
        const click_user *u = &m->heap[i];
        uint64_t bits;
        memcpy(&bits, &u->next_ms, sizeof bits);
        sluice_bytes_put_u64(&w, bits);
        sluice_bytes_put_u64(&w, u->user);
        sluice_bytes_put_u64(&w, u->clicks_left);
        sluice_bytes_put_u64(&w, u->last_url);
    }
    out->encoding_version = SNAPSHOT_VERSION;
    out->data = data;
    out->size = size;
    return SLUICE_OK;
}

static sluice_status clickgen_restore(const sluice_host_api *api, sluice_ctx *ctx, void *self,
                                      const sluice_snapshot *in)
{
    clickgen *g = self;
    click_model *m = &g->model;
    if (in->encoding_version != SNAPSHOT_VERSION) {
        api->log(ctx, SLUICE_LOG_ERROR,
                 "cannot read a clickgen snapshot of encoding %u; this build writes %u", in->encoding_version,
                 SNAPSHOT_VERSION);
        return SLUICE_ERR_STATE;
    }
    sluice_bytes_reader r = sluice_bytes_reader_of(in->data, in->size);
    uint64_t v;
    if (in->size < 24) {
        api->log(ctx, SLUICE_LOG_ERROR, "clickgen snapshot too short (%zu bytes)", in->size);
        return SLUICE_ERR_STATE;
    }
    uint64_t seed = sluice_bytes_get_u64(&r), users = sluice_bytes_get_u64(&r),
             urls = sluice_bytes_get_u64(&r);
    if (seed != g->seed || users != m->p.users || urls != m->p.urls) {
        api->log(ctx, SLUICE_LOG_ERROR,
                 "the checkpoint was taken with seed %lld, %llu users and %llu urls, not "
                 "seed %lld, %u users and %u urls: restore with the same options or start "
                 "afresh",
                 (long long)seed, (unsigned long long)users, (unsigned long long)urls, (long long)g->seed,
                 m->p.users, m->p.urls);
        return SLUICE_ERR_STATE;
    }
    if (in->size != snapshot_size(users)) {
        api->log(ctx, SLUICE_LOG_ERROR, "clickgen snapshot of %zu bytes, expected %zu", in->size,
                 snapshot_size(users));
        return SLUICE_ERR_STATE;
    }
    g->sent = sluice_bytes_get_u64(&r);
    g->start_ms = sluice_bytes_get_i64(&r);
    if (g->start_ms < 0 || (double)g->start_ms > MAX_SIMULATED_MS) {
        api->log(ctx, SLUICE_LOG_ERROR, "clickgen snapshot: start time %lld is malformed",
                 (long long)g->start_ms);
        return SLUICE_ERR_STATE;
    }
    for (int i = 0; i < 4; i++)
        m->rng.s[i] = sluice_bytes_get_u64(&r);
    v = sluice_bytes_get_u64(&r);
    g->recent_count = v > RECENT_EVENTS ? RECENT_EVENTS : (uint32_t)v;
    v = sluice_bytes_get_u64(&r);
    g->recent_next = (uint32_t)(v % RECENT_EVENTS);
    for (int i = 0; i < RECENT_EVENTS; i++) {
        click_event *ev = &g->recent[i];
        ev->seed = g->seed;
        ev->id = sluice_bytes_get_u64(&r);
        ev->ts = sluice_bytes_get_i64(&r);
        ev->user = (uint32_t)sluice_bytes_get_u64(&r);
        ev->url = (uint32_t)sluice_bytes_get_u64(&r);
        ev->referrer = (uint32_t)sluice_bytes_get_u64(&r);
        v = sluice_bytes_get_u64(&r);
        ev->ts_rfc3339 = (uint8_t)v;
        ev->user_int = (uint8_t)(v >> 8);
        ev->ua = (uint8_t)(v >> 16);
        ev->external = (uint8_t)(v >> 24);
    }
    for (uint32_t i = 0; i < m->p.users; i++) {
        click_user *u = &m->heap[i];
        v = sluice_bytes_get_u64(&r);
        memcpy(&u->next_ms, &v, sizeof v);
        /* Event time is start_ms + next_ms as an int64: a time that is not
         * a number, or beyond what a double counts exactly, is no state
         * this plugin wrote (and would overflow the conversion). */
        if (!(u->next_ms >= 0 && u->next_ms <= MAX_SIMULATED_MS)) {
            api->log(ctx, SLUICE_LOG_ERROR, "clickgen snapshot: user %u's next click time is malformed", i);
            return SLUICE_ERR_STATE;
        }
        u->user = (uint32_t)sluice_bytes_get_u64(&r);
        u->clicks_left = (uint32_t)sluice_bytes_get_u64(&r);
        u->last_url = (uint32_t)sluice_bytes_get_u64(&r);
    }
    g->pace_start_ms = -1;
    return SLUICE_OK;
}

static const sluice_plugin clickgen_plugin = {
    .struct_size = sizeof(sluice_plugin),
    .abi_version = SLUICE_ABI_VERSION,
    .name = "clickgen",
    .kind = SLUICE_KIND_SOURCE,
    .version = "1.0.0",
    .description = "synthetic click events with sessions, Zipf URLs, disorder, duplicates, late "
                   "and invalid events",
    .options = clickgen_options,
    .create = clickgen_create,
    .validate = clickgen_validate,
    .state = SLUICE_STATE_KEPT, /* its position in the generated stream */
    .destroy = clickgen_destroy,
    .poll = clickgen_poll,
    .snapshot = clickgen_snapshot,
    .restore = clickgen_restore,
    .source_flags = SLUICE_SOURCE_POLL_AHEAD, /* poll() never calls back into the run loop */
};

SLUICE_PLUGIN_EXPORT const sluice_plugin *sluice_plugin_entry(void) { return &clickgen_plugin; }
