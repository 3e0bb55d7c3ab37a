/* The run loop: ticks, watermark markers, fan-in, timers and checkpoints. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "pipeline.h"

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void items_push(item_vec *v, sluice_record *rec, int64_t wm, uint64_t seq)
{
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 256;
        v->v = realloc(v->v, v->cap * sizeof *v->v);
        if (v->v == NULL)
            abort();
    }
    v->v[v->n++] = (item){rec, wm, seq};
}

/* After a step finished with an input item at watermark wm: any output that
 * has not yet carried wm gets a marker, so consumers see the watermark move
 * at exactly this point of the stream. Consecutive markers collapse. */
void step_advance_ports(step *s, int64_t wm, uint64_t seq)
{
    for (size_t k = 0; k < s->nports; k++) {
        port *pt = &s->ports[k];
        if (pt->last_wm >= wm || !pt->needs_markers)
            continue;
        pt->last_wm = wm;
        item_vec *q = &pt->queue;
        if (q->n > 0 && q->v[q->n - 1].rec == NULL)
            q->v[q->n - 1] = (item){NULL, wm, seq};
        else
            items_push(q, NULL, wm, seq);
    }
}

struct sluice_counter *step_counter(step *s, const char *name)
{
    for (size_t k = 0; k < s->ncounters; k++)
        if (strcmp(s->counters[k]->name, name) == 0)
            return s->counters[k];
    s->counters = realloc(s->counters, (s->ncounters + 1) * sizeof *s->counters);
    struct sluice_counter *c = calloc(1, sizeof *c);
    c->name = strdup(name);
    s->counters[s->ncounters++] = c;
    return c;
}

port *step_port(step *s, const char *name)
{
    if (name == NULL)
        return s->nports ? &s->ports[0] : NULL;
    for (size_t k = 0; k < s->nports; k++)
        if (strcmp(s->ports[k].name, name) == 0)
            return &s->ports[k];
    return NULL;
}

void pipeline_fail(pipeline *p, const char *scope, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char msg[400];
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    log_msg(SLUICE_LOG_ERROR, scope, "%s", msg);
    if (!p->failed) {
        p->failed = 1;
        snprintf(p->failure, sizeof p->failure, "%s: %s", scope ? scope : p->def->name, msg);
    }
}

int pipeline_start(pipeline *p)
{
    /* Sinks first, the source last: nothing is read before it can be written. */
    for (size_t k = p->nsteps; k-- > 0;) {
        step *s = &p->steps[p->order[k]];
        char err[1024] = "";
        s->self = s->plugin->desc.create(&host_api, &s->ctx, s->opts, err, sizeof err);
        if (s->self == NULL) {
            err[sizeof err - 1] = '\0';
            pipeline_fail(p, s->scope, "cannot start %s plugin '%s': %s", plugin_kind_name(s->plugin->desc.kind),
                          s->plugin->desc.name, err[0] ? err : "create failed (no reason given)");
            return -1;
        }
        s->created = 1;
    }
    return 0;
}

/* The items a step reads this tick: its one input's queue, or its inputs
 * merged by source sequence (stable: ties keep input order). */
static const item_vec *gather(pipeline *p, step *s)
{
    if (s->ninputs == 1)
        return &p->steps[s->inputs[0].step].ports[s->inputs[0].port].queue;
    s->merged.n = 0;
    size_t pos[s->ninputs];
    memset(pos, 0, sizeof pos);
    for (;;) {
        const item *best = NULL;
        size_t best_k = 0;
        for (size_t k = 0; k < s->ninputs; k++) {
            const item_vec *q = &p->steps[s->inputs[k].step].ports[s->inputs[k].port].queue;
            if (pos[k] < q->n && (best == NULL || q->v[pos[k]].seq < best->seq)) {
                best = &q->v[pos[k]];
                best_k = k;
            }
        }
        if (best == NULL)
            break;
        /* Markers from several inputs: the watermark is the least of them,
         * which, with one source, is the one with the smaller sequence. */
        items_push(&s->merged, best->rec, best->wm, best->seq);
        pos[best_k]++;
    }
    return &s->merged;
}

static int check_status(pipeline *p, step *s, const char *hook, sluice_status st)
{
    if (st >= 0)
        return 0;
    pipeline_fail(p, s->scope, "%s failed (status %d)", hook, (int)st);
    return -1;
}

static void process_segment(pipeline *p, step *s, const item *items, size_t n)
{
    if (n == 0)
        return;
    sluice_batch batch = {items, n, 0, &s->ctx};
    for (size_t i = 0; i < n; i++)
        s->c_in->value += items[i].rec != NULL;
    sluice_status st = s->plugin->desc.process(&host_api, &s->ctx, s->self, &batch);
    /* Whatever the plugin did not read counts as consumed at the last item. */
    s->ctx.cur_wm = items[n - 1].wm;
    s->ctx.cur_seq = items[n - 1].seq;
    step_advance_ports(s, s->ctx.cur_wm, s->ctx.cur_seq);
    check_status(p, s, "process", st);
}

static void run_step(pipeline *p, step *s)
{
    const item_vec *in = gather(p, s);
    size_t start = 0;
    int64_t prev_wm = s->ctx.cur_wm;
    for (size_t i = 0; i < in->n && !p->failed; i++) {
        const item *it = &in->v[i];
        int64_t wm = prev_wm;
        prev_wm = it->wm > prev_wm ? it->wm : prev_wm;
        if (it->rec != NULL || it->wm <= wm)
            continue; /* records, and markers that move nothing (fan-in) */
        process_segment(p, s, in->v + start, i - start);
        start = i + 1;
        s->ctx.cur_wm = it->wm;
        s->ctx.cur_seq = it->seq;
        if (s->plugin->desc.watermark)
            check_status(p, s, "watermark", s->plugin->desc.watermark(&host_api, &s->ctx, s->self, it->wm));
        step_advance_ports(s, it->wm, it->seq);
    }
    if (!p->failed)
        process_segment(p, s, in->v + start, in->n - start);
}

static void run_downstream(pipeline *p)
{
    for (size_t k = 1; k < p->nsteps && !p->failed; k++)
        run_step(p, &p->steps[p->order[k]]);
    for (size_t i = 0; i < p->nsteps; i++)
        for (size_t k = 0; k < p->steps[i].nports; k++)
            p->steps[i].ports[k].queue.n = 0;
    arena_reset(&p->tick_arena);
}

static uint64_t last_seq(const pipeline *p) { return p->src.next_seq ? p->src.next_seq - 1 : 0; }

static void run_timers(pipeline *p, int64_t now)
{
    for (size_t k = 0; k < p->nsteps && !p->failed; k++) {
        step *s = &p->steps[p->order[k]];
        if (s->timer_due == 0 || s->timer_due > now || s->plugin->desc.timer == NULL)
            continue;
        s->timer_due = 0;
        s->ctx.cur_wm = p->src.wm.current;
        s->ctx.cur_seq = last_seq(p);
        check_status(p, s, "timer", s->plugin->desc.timer(&host_api, &s->ctx, s->self, now));
    }
}

static int async_sinks_acked(const pipeline *p, uint64_t id)
{
    for (size_t i = 0; i < p->nsteps; i++)
        if (p->steps[i].async_sink && p->steps[i].acked_checkpoint < id)
            return 0;
    return 1;
}

static void complete_checkpoint(pipeline *p, uint64_t id)
{
    step *src = &p->steps[p->source];
    if (src->plugin->desc.checkpoint_complete)
        check_status(p, src, "checkpoint_complete",
                     src->plugin->desc.checkpoint_complete(&host_api, &src->ctx, src->self, id));
}

/* Begin a checkpoint: the source notes its positions, every step flushes;
 * once every sink has made its output durable the source may commit. */
static void checkpoint(pipeline *p)
{
    if (p->checkpoint_pending)
        return; /* one at a time */
    uint64_t id = ++p->checkpoint_id;
    step *src = &p->steps[p->source];
    if (src->plugin->desc.checkpoint_begin)
        check_status(p, src, "checkpoint_begin", src->plugin->desc.checkpoint_begin(&host_api, &src->ctx, src->self, id));
    for (size_t k = 1; k < p->nsteps && !p->failed; k++) {
        step *s = &p->steps[p->order[k]];
        if (s->plugin->desc.flush)
            check_status(p, s, "flush", s->plugin->desc.flush(&host_api, &s->ctx, s->self));
    }
    if (p->failed)
        return;
    if (async_sinks_acked(p, id))
        complete_checkpoint(p, id);
    else
        p->checkpoint_pending = id;
}

static void check_pending_checkpoint(pipeline *p)
{
    if (p->checkpoint_pending && async_sinks_acked(p, p->checkpoint_pending)) {
        uint64_t id = p->checkpoint_pending;
        p->checkpoint_pending = 0;
        complete_checkpoint(p, id);
    }
}

static void log_summary(const pipeline *p)
{
    for (size_t k = 0; k < p->nsteps; k++) {
        const step *s = &p->steps[p->order[k]];
        char line[1024];
        size_t len = 0;
        for (size_t j = 0; j < s->ncounters && len < sizeof line; j++)
            len += (size_t)snprintf(line + len, sizeof line - len, "%s%s=%lld", j ? " " : "", s->counters[j]->name,
                                    (long long)s->counters[j]->value);
        log_msg(SLUICE_LOG_INFO, s->scope, "%s", line);
    }
}

int pipeline_run(pipeline *p, const volatile sig_atomic_t *stop)
{
    p->stop = stop;
    step *src = &p->steps[p->source];
    size_t budget = (size_t)p->def->batch_size;
    int64_t next_checkpoint = wall_ms() + p->checkpoint_interval_ms;
    while (!p->failed && !p->src.ended && !(stop && *stop)) {
        int64_t now = wall_ms();
        p->src.tick_now = now;
        run_timers(p, now);
        if (!p->src.raw) {
            int64_t before = p->src.wm.current;
            if (wm_refresh(&p->src.wm, now) > before)
                step_advance_ports(src, p->src.wm.current, last_seq(p));
        }
        src->ctx.cur_wm = p->src.wm.current;
        sluice_status st = src->plugin->desc.poll(&host_api, &src->ctx, src->self, budget, 100);
        if (st == SLUICE_END) {
            p->src.ended = 1;
            p->src.wm.current = SLUICE_TIME_MAX;
            step_advance_ports(src, SLUICE_TIME_MAX, p->src.next_seq);
        } else {
            check_status(p, src, "poll", st);
        }
        run_downstream(p);
        check_pending_checkpoint(p);
        if (!p->failed && now >= next_checkpoint) {
            checkpoint(p);
            next_checkpoint = now + p->checkpoint_interval_ms;
        }
    }
    /* The end: one last checkpoint (flushing every sink) unless we failed;
     * sinks still flush after a failure so what was written is kept. */
    if (!p->failed) {
        checkpoint(p);
        for (int tries = 0; p->checkpoint_pending && !p->failed && tries < 600; tries++) {
            for (size_t k = 1; k < p->nsteps; k++) {
                step *s = &p->steps[p->order[k]];
                if (s->async_sink && s->plugin->desc.flush)
                    check_status(p, s, "flush", s->plugin->desc.flush(&host_api, &s->ctx, s->self));
            }
            check_pending_checkpoint(p);
        }
        if (p->checkpoint_pending && !p->failed)
            pipeline_fail(p, p->def->name, "sinks did not confirm delivery of the final checkpoint");
    } else {
        for (size_t k = 1; k < p->nsteps; k++) {
            step *s = &p->steps[p->order[k]];
            if (s->created && s->plugin->desc.flush)
                s->plugin->desc.flush(&host_api, &s->ctx, s->self);
        }
    }
    log_summary(p);
    return p->failed ? -1 : 0;
}
