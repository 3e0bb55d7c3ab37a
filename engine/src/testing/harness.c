/* The test driver (sluice/testing.h): one plugin instance run by the
 * engine's own host API, with delivery and time in the test's hands. The
 * delivery loop mirrors the run loop's for one step (pipeline_run.c:
 * segments split where the watermark moves, the watermark hook called again
 * while it returns SLUICE_MORE); everything a hook can call is the engine's. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg_yaml.h"
#include "harness.h"
#include "options.h"
#include "step_validate.h"

#define OPTIONS_FILE "<options>"

static const char *const source_outputs[] = {"rejected", NULL};

static int64_t harness_now(sluice_ctx *ctx) { return ((sluice_harness *)ctx->p)->clock; }

static int32_t harness_step_part(sluice_ctx *ctx, uint32_t *task, uint32_t *ntasks)
{
    const sluice_harness *h = (const sluice_harness *)ctx->p;
    if (task)
        *task = h->part ? h->task : 0;
    if (ntasks)
        *ntasks = h->part ? h->ntasks : 1;
    return h->part - 1;
}

static void set_error(sluice_harness *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_error(sluice_harness *h, const char *fmt, ...)
{
    free(h->error);
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&h->error, fmt, ap) < 0)
        h->error = NULL;
    va_end(ap);
}

static sluice_harness *harness_make(const loaded_plugin *lp)
{
    sluice_harness *h = calloc(1, sizeof *h);
    if (h == NULL)
        return NULL;
    h->plugin = lp;
    h->api = host_api;
    h->api.now_ms = harness_now;
    h->api.step_part = harness_step_part;
    h->wm = SLUICE_TIME_MIN;
    snprintf(h->name, sizeof h->name, "step");
    event_config_defaults(&h->events);
    h->events.max_future_ms = -1; /* the test's clock is not the events' */
    return h;
}

sluice_harness *sluice_harness_new(const char *plugin_path, char *err, size_t errsz)
{
    const loaded_plugin *lp = plugin_load_file(plugin_path, err, errsz);
    return lp ? harness_make(lp) : NULL;
}

sluice_harness *sluice_harness_new_descriptor(const sluice_plugin *desc, char *err, size_t errsz)
{
    loaded_plugin *lp = plugin_from_descriptor(desc, err, errsz);
    if (lp == NULL)
        return NULL;
    sluice_harness *h = harness_make(lp);
    if (h == NULL) {
        plugin_descriptor_free(lp);
        return NULL;
    }
    h->owned = lp;
    return h;
}

void sluice_harness_step_name(sluice_harness *h, const char *name)
{
    snprintf(h->name, sizeof h->name, "%s", name);
}

int sluice_harness_part(sluice_harness *h, const char *part, uint32_t task, uint32_t ntasks)
{
    const sluice_part *parts = h->plugin->desc.parts;
    int k = 0;
    while (parts && parts[k].name && strcmp(parts[k].name, part) != 0)
        k++;
    if (h->started || parts == NULL || parts[k].name == NULL || ntasks == 0 || task >= ntasks) {
        set_error(h, "sluice_harness_part: %s",
                  h->started                        ? "call it before sluice_harness_start"
                  : parts == NULL || !parts[k].name ? "the plugin has no such part"
                                                    : "the task must be below the number of tasks");
        return -1;
    }
    h->part = k + 1;
    h->task = task;
    h->ntasks = ntasks;
    return 0;
}

/* Put (or replace) key in the options map. Takes value. */
static void options_put(sluice_harness *h, const char *key, cfg_node *value)
{
    if (h->opts_root == NULL) {
        h->opts_root = calloc(1, sizeof *h->opts_root);
        h->opts_root->kind = CFG_MAP;
        h->opts_root->pos = (src_pos){OPTIONS_FILE, 1, 1};
    }
    cfg_node *m = h->opts_root;
    for (size_t i = 0; i < m->count; i++) {
        if (strcmp(m->keys[i], key) == 0) {
            cfg_free(m->items[i]);
            m->items[i] = value;
            return;
        }
    }
    m->keys = realloc(m->keys, (m->count + 1) * sizeof *m->keys);
    m->key_pos = realloc(m->key_pos, (m->count + 1) * sizeof *m->key_pos);
    m->items = realloc(m->items, (m->count + 1) * sizeof *m->items);
    if (m->keys == NULL || m->key_pos == NULL || m->items == NULL)
        abort();
    m->keys[m->count] = strdup(key);
    m->key_pos[m->count] = value->pos;
    m->items[m->count++] = value;
}

int sluice_harness_options(sluice_harness *h, const char *yaml)
{
    diag_list d;
    diag_init(&d);
    cfg_node *root = cfg_yaml_read_string(yaml, OPTIONS_FILE, &d);
    int rc = 0;
    if (d.count > 0 || (root && root->kind != CFG_MAP)) {
        set_error(h, "options are not a YAML or JSON map: %s", d.count ? d.items[0].message : yaml);
        rc = -1;
    } else if (root) {
        /* Move the entries over, so that later calls replace by name. */
        for (size_t i = 0; i < root->count; i++) {
            options_put(h, root->keys[i], root->items[i]);
            root->items[i] = NULL;
        }
    }
    cfg_free(root);
    diag_free(&d);
    return rc;
}

int sluice_harness_option(sluice_harness *h, const char *name, const char *value)
{
    cfg_node *n = calloc(1, sizeof *n);
    if (n == NULL)
        return -1;
    n->kind = CFG_SCALAR;
    n->pos = (src_pos){OPTIONS_FILE, 0, 0};
    n->scalar = strdup(value);
    options_put(h, name, n);
    return 0;
}

/* Ports as pipeline_build.c makes them, each with a consumer: the test. */
static void build_ports(step *s)
{
    const loaded_plugin *lp = s->plugin;
    const char *const *outs = lp->desc.kind == SLUICE_KIND_SOURCE ? source_outputs : lp->outputs;
    size_t extra = 0;
    while (outs[extra])
        extra++;
    s->nports = lp->desc.kind == SLUICE_KIND_SINK ? 0 : 1 + extra;
    s->ports = calloc(s->nports + 1, sizeof *s->ports);
    for (size_t k = 0; k < s->nports; k++) {
        s->ports[k].name = k == 0 ? "main" : outs[k - 1];
        s->ports[k].last_wm = SLUICE_TIME_MIN;
        s->ports[k].consumers = 1;
    }
}

static char *diag_text(const diag_list *d)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (f == NULL)
        return NULL;
    diag_print(d, f);
    fclose(f);
    if (len > 0 && text[len - 1] == '\n')
        text[len - 1] = '\0';
    return text;
}

/* The one-step pipeline around the plugin, as pipeline_open wires a step. */
static void build_pipeline(sluice_harness *h)
{
    pipeline *p = &h->p;
    step *s = &h->s;
    pthread_mutex_init(&p->fail_lock, NULL);
    h->def.path = OPTIONS_FILE;
    h->def.name = "test";
    h->def.steps = &h->sdef;
    h->def.nsteps = 1;
    h->sdef.name = h->name;
    h->sdef.plugin = (char *)h->plugin->desc.name;
    h->sdef.pos = h->sdef.plugin_pos = (src_pos){OPTIONS_FILE, 0, 0};
    h->sdef.options = h->opts_root;
    p->def = &h->def;
    p->steps = s;
    p->nsteps = 1;
    p->order = &p->source; /* source = 0: the one step */
    arena_init(&p->tick_arena, 1u << 16);
    s->def = &h->sdef;
    s->plugin = h->plugin;
    snprintf(s->scope, sizeof s->scope, "test/%s", h->name);
    s->ctx = (struct sluice_ctx){.p = p, .s = s, .arena = &p->tick_arena, .cur_wm = SLUICE_TIME_MIN};
    build_ports(s);
    sluice_kind kind = h->plugin->desc.kind;
    if (kind == SLUICE_KIND_SOURCE) {
        s->c_out = step_counter(s, "read");
        p->src.c_accepted = step_counter(s, "accepted");
        p->src.events = h->events;
        wm_init(&p->src.wm, h->auto_wm ? h->tracker.max_out_of_order : 0, -1);
    } else {
        s->c_in = step_counter(s, "in");
        if (kind == SLUICE_KIND_OPERATOR)
            s->c_out = step_counter(s, "out");
    }
}

static int create_instance(sluice_harness *h)
{
    step *s = &h->s;
    char err[1024] = "";
    s->self = s->plugin->desc.create(&h->api, &s->ctx, s->opts, err, sizeof err);
    if (s->self == NULL) {
        pipeline_fail(&h->p, s->scope, "cannot start %s plugin '%s': %s",
                      plugin_kind_name(s->plugin->desc.kind), s->plugin->desc.name,
                      err[0] ? err : "create failed (no reason given)");
        return -1;
    }
    s->created = 1;
    return 0;
}

int sluice_harness_start(sluice_harness *h)
{
    if (h->started) {
        set_error(h, "sluice_harness_start: already started");
        return -1;
    }
    h->started = 1;
    build_pipeline(h);
    diag_list d;
    diag_init(&d);
    h->s.opts = options_build_at(h->plugin->desc.options, h->opts_root, h->plugin->desc.name,
                                 (src_pos){OPTIONS_FILE, 0, 0}, &d);
    if (h->s.opts != NULL)
        pipeline_validate_steps(&h->p, &d);
    int rc = 0;
    if (d.count > 0) {
        free(h->error);
        h->error = diag_text(&d);
        rc = -1;
        h->p.failed = 1;
    }
    diag_free(&d);
    return rc == 0 ? create_instance(h) : rc;
}

static int failed(sluice_harness *h)
{
    if (!h->started || h->s.opts == NULL) {
        if (h->error == NULL)
            set_error(h, "the harness was not started (sluice_harness_start)");
        return 1;
    }
    return h->p.failed || !h->s.created;
}

/* One segment of records through process(), as the run loop hands it. */
static void process_segment(sluice_harness *h, const item *items, size_t n)
{
    step *s = &h->s;
    if (n == 0 || h->p.failed)
        return;
    sluice_batch batch = {items, n, 0, &s->ctx};
    for (size_t i = 0; i < n; i++)
        s->c_in->value += items[i].rec != NULL;
    sluice_status st = s->plugin->desc.process(&h->api, &s->ctx, s->self, &batch);
    s->ctx.cur_wm = items[n - 1].wm;
    s->ctx.cur_seq = items[n - 1].seq;
    step_advance_ports(s, s->ctx.cur_wm, s->ctx.cur_seq);
    step_check_status(&h->p, s, "process", st);
}

static void fire_watermark(sluice_harness *h, const item *marker)
{
    step *s = &h->s;
    for (long rounds = 0; !h->p.failed; rounds++) {
        sluice_status st = s->plugin->desc.watermark(&h->api, &s->ctx, s->self, marker->wm);
        step_advance_ports(s, marker->wm, marker->seq);
        harness_capture(h);
        if (st != SLUICE_MORE) {
            step_check_status(&h->p, s, "watermark", st);
            return;
        }
        if (rounds == 10000000)
            pipeline_fail(&h->p, s->scope, "the watermark hook returned SLUICE_MORE ten million times");
    }
}

int sluice_harness_run(sluice_harness *h)
{
    if (failed(h))
        return -1;
    step *s = &h->s;
    const item *in = h->pending.v;
    size_t start = 0, n = h->pending.n;
    int64_t prev_wm = s->ctx.cur_wm;
    for (size_t j = 0; j < n && !h->p.failed; j++) {
        int64_t wm = prev_wm;
        prev_wm = in[j].wm > prev_wm ? in[j].wm : prev_wm;
        if (in[j].rec != NULL || in[j].wm <= wm)
            continue;
        process_segment(h, in + start, j - start);
        start = j + 1;
        s->ctx.cur_wm = in[j].wm;
        s->ctx.cur_seq = in[j].seq;
        if (s->plugin->desc.watermark)
            fire_watermark(h, &in[j]);
        else
            step_advance_ports(s, in[j].wm, in[j].seq);
    }
    if (start < n) /* in is NULL when nothing was ever pushed: no offset from it */
        process_segment(h, in + start, n - start);
    h->pending.n = 0;
    harness_capture(h);
    arena_reset(&h->p.tick_arena);
    return h->p.failed ? -1 : 0;
}

int sluice_harness_push_at(sluice_harness *h, const char *json, int64_t event_time, int64_t watermark)
{
    if (failed(h))
        return -1;
    if (h->plugin->desc.kind == SLUICE_KIND_SOURCE) {
        set_error(h, "sluice_harness_push: a source reads its own input (sluice_harness_poll)");
        return -1;
    }
    arena *a = &h->p.tick_arena;
    sluice_record *rec = record_new(a);
    rec->raw_len = (uint32_t)strlen(json);
    rec->raw = arena_memdup(a, json, rec->raw_len);
    uint64_t seq = h->next_seq++;
    char origin[32];
    rec->origin_len = (uint32_t)snprintf(origin, sizeof origin, "push:%llu", (unsigned long long)seq + 1);
    rec->origin = arena_memdup(a, origin, rec->origin_len);
    rec->partition = 0;
    event_verdict v;
    event_decode(&h->events, rec, h->clock, &v);
    if (v.reason != NULL && strcmp(v.reason, SLUICE_REASON_MALFORMED) == 0) {
        set_error(h, "sluice_harness_push: not a JSON object (%s): %s", v.detail, json);
        return -1;
    }
    if (event_time != SLUICE_TIME_MIN)
        rec->time = event_time;
    int64_t wm = h->wm;
    if (watermark != SLUICE_TIME_MIN)
        wm = watermark;
    else if (h->auto_wm && rec->time != SLUICE_TIME_MIN)
        wm = wm_observe(&h->tracker, 0, rec->time, h->clock);
    if (wm > h->wm)
        h->wm = wm;
    rec->seq = seq;
    rec->watermark = h->wm;
    items_push(&h->pending, rec, h->wm, seq);
    return 0;
}

int sluice_harness_push(sluice_harness *h, const char *json)
{
    return sluice_harness_push_at(h, json, SLUICE_TIME_MIN, SLUICE_TIME_MIN);
}

void sluice_harness_max_out_of_order(sluice_harness *h, int64_t ms)
{
    if (h->auto_wm)
        wm_free(&h->tracker);
    wm_init(&h->tracker, ms, -1);
    h->auto_wm = 1;
    h->p.src.wm.max_out_of_order = ms; /* a source's, from its next event */
}

int sluice_harness_watermark(sluice_harness *h, int64_t wm)
{
    if (failed(h))
        return -1;
    if (wm > h->wm) {
        h->wm = wm;
        items_push(&h->pending, NULL, wm, h->next_seq ? h->next_seq - 1 : 0);
    }
    return sluice_harness_run(h);
}

int64_t sluice_harness_current_watermark(const sluice_harness *h) { return h->wm; }

static int flush(sluice_harness *h)
{
    step *s = &h->s;
    if (s->plugin->desc.flush)
        step_check_status(&h->p, s, "flush", s->plugin->desc.flush(&h->api, &s->ctx, s->self));
    harness_capture(h);
    return h->p.failed ? -1 : 0;
}

int sluice_harness_end(sluice_harness *h)
{
    if (sluice_harness_watermark(h, SLUICE_TIME_MAX) != 0)
        return -1;
    return flush(h);
}

static int fire_timers(sluice_harness *h)
{
    step *s = &h->s;
    /* A timer may ask again for a time already past: run it until it does not. */
    for (int rounds = 0; rounds < 10000 && !h->p.failed; rounds++) {
        if (s->timer_due == 0 || s->timer_due > h->clock || s->plugin->desc.timer == NULL)
            break;
        s->timer_due = 0;
        s->ctx.cur_wm = h->wm;
        s->ctx.cur_seq = h->next_seq ? h->next_seq - 1 : 0;
        step_check_status(&h->p, s, "timer", s->plugin->desc.timer(&h->api, &s->ctx, s->self, h->clock));
        harness_capture(h);
    }
    arena_reset(&h->p.tick_arena);
    return h->p.failed ? -1 : 0;
}

int sluice_harness_set_clock(sluice_harness *h, int64_t now_ms)
{
    if (sluice_harness_run(h) != 0)
        return -1;
    h->clock = now_ms;
    return fire_timers(h);
}

int sluice_harness_advance_clock(sluice_harness *h, int64_t ms)
{
    return sluice_harness_set_clock(h, h->clock + ms);
}

int64_t sluice_harness_timer_due(const sluice_harness *h) { return h->s.timer_due; }

/* The instance's snapshot hook into snap (data from api->alloc, i.e. malloc). */
static int take_snapshot(sluice_harness *h, sluice_snapshot *snap)
{
    step *s = &h->s;
    const sluice_plugin *d = &s->plugin->desc;
    *snap = (sluice_snapshot){sizeof *snap, 0, NULL, 0};
    if (d->snapshot == NULL || d->restore == NULL)
        return 0;
    return step_check_status(&h->p, s, "snapshot", d->snapshot(&h->api, &s->ctx, s->self, snap));
}

/* What a restart does to the instance: flush and destroy it, create a fresh
 * one with the same options and restore snap into it (NULL: start afresh).
 * Counters start at zero again, as in a new process: checkpoints do not
 * keep them. */
static int replace_instance(sluice_harness *h, const sluice_snapshot *snap)
{
    step *s = &h->s;
    const sluice_plugin *d = &s->plugin->desc;
    if (flush(h) != 0)
        return -1;
    d->destroy(&h->api, &s->ctx, s->self);
    s->created = 0;
    s->self = NULL;
    s->timer_due = 0;
    for (size_t k = 0; k < s->ncounters; k++)
        s->counters[k]->value = 0;
    int rc = create_instance(h);
    if (rc == 0 && snap != NULL && d->restore != NULL) {
        sluice_status st = d->restore(&h->api, &s->ctx, s->self, snap);
        if (st != SLUICE_OK)
            pipeline_fail(&h->p, s->scope, "%s '%s' refused the snapshot (encoding %u, %zu bytes): status %d",
                          plugin_kind_name(d->kind), d->name, snap->encoding_version, snap->size, (int)st);
    }
    harness_capture(h);
    arena_reset(&h->p.tick_arena);
    return h->p.failed ? -1 : 0;
}

int sluice_harness_restart(sluice_harness *h)
{
    if (sluice_harness_run(h) != 0)
        return -1;
    sluice_snapshot snap;
    if (take_snapshot(h, &snap) != 0)
        return -1;
    const sluice_plugin *d = &h->s.plugin->desc;
    int rc = replace_instance(h, d->snapshot != NULL && d->restore != NULL ? &snap : NULL);
    free(snap.data);
    return rc;
}

int sluice_harness_snapshot(sluice_harness *h, sluice_snapshot *out)
{
    if (sluice_harness_run(h) != 0)
        return -1;
    const sluice_plugin *d = &h->s.plugin->desc;
    if (d->snapshot == NULL || d->restore == NULL) {
        set_error(h, "sluice_harness_snapshot: '%s' has no snapshot and restore hooks", d->name);
        *out = (sluice_snapshot){sizeof *out, 0, NULL, 0};
        return -1;
    }
    return take_snapshot(h, out);
}

int sluice_harness_restore(sluice_harness *h, const sluice_snapshot *snap)
{
    if (sluice_harness_run(h) != 0)
        return -1;
    if (h->s.plugin->desc.restore == NULL) {
        set_error(h, "sluice_harness_restore: '%s' has no restore hook", h->s.plugin->desc.name);
        return -1;
    }
    return replace_instance(h, snap);
}

int sluice_harness_poll(sluice_harness *h, size_t budget)
{
    if (failed(h))
        return -1;
    step *s = &h->s;
    if (s->plugin->desc.kind != SLUICE_KIND_SOURCE) {
        set_error(h, "sluice_harness_poll: '%s' is not a source", s->plugin->desc.name);
        return -1;
    }
    h->p.src.tick_now = h->clock;
    s->ctx.cur_wm = h->p.src.wm.current;
    sluice_status st = s->plugin->desc.poll(&h->api, &s->ctx, s->self, budget, 0);
    h->wm = h->p.src.wm.current;
    step_check_status(&h->p, s, "poll", st);
    harness_capture(h);
    source_release_borrowed(&h->p.src);
    arena_reset(&h->p.tick_arena);
    return h->p.failed ? -1 : (int)st;
}

const char *sluice_harness_error(const sluice_harness *h)
{
    if (h->p.failed && h->p.failure[0])
        return h->p.failure;
    return h->error ? h->error : "";
}

void sluice_harness_free(sluice_harness *h)
{
    if (h == NULL)
        return;
    if (h->started) {
        if (h->s.created && !h->p.failed)
            flush(h);
        step_free_instance(&h->s); /* destroy, ports, counters, options */
        source_release_borrowed(&h->p.src);
        free(h->p.src.borrowed);
        wm_free(&h->p.src.wm);
        arena_free(&h->p.tick_arena);
        pthread_mutex_destroy(&h->p.fail_lock);
    }
    if (h->auto_wm)
        wm_free(&h->tracker);
    free(h->pending.v);
    harness_outputs_free(h);
    cfg_free(h->opts_root);
    plugin_descriptor_free(h->owned);
    free(h->error);
    free(h);
}
