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

/* Bring every step back to the last state checkpoint, if there is one. */
static int restore_state(pipeline *p)
{
    state_image img;
    char err[512];
    int rc = state_read(p->def->state_dir, p->def->name, &img, err, sizeof err);
    if (rc < 0) {
        pipeline_fail(p, p->def->name, "cannot restore state: %s", err);
        return -1;
    }
    if (rc == 0) {
        log_msg(SLUICE_LOG_INFO, p->def->name, "no state in %s yet: starting fresh", p->def->state_dir);
        return 0;
    }
    for (size_t i = 0; i < img.count && !p->failed; i++) {
        const state_entry *e = &img.entries[i];
        step *s = NULL;
        for (size_t k = 0; k < p->nsteps; k++)
            if (strcmp(p->steps[k].def->name, e->step) == 0)
                s = &p->steps[k];
        if (s == NULL) {
            log_msg(SLUICE_LOG_WARN, p->def->name,
                    "state of step '%s' ignored: the pipeline has no such step", e->step);
            continue;
        }
        if (strcmp(s->plugin->desc.name, e->plugin) != 0 || s->plugin->desc.restore == NULL) {
            pipeline_fail(p, s->scope,
                          "cannot restore: the state was written by plugin '%s' %s, the step now runs '%s'%s",
                          e->plugin, e->version, s->plugin->desc.name,
                          s->plugin->desc.restore ? "" : ", which cannot restore state");
            break;
        }
        sluice_status st = s->plugin->desc.restore(&host_api, &s->ctx, s->self, &e->snap);
        if (st != SLUICE_OK)
            pipeline_fail(p, s->scope, "cannot restore state written by %s %s (encoding %u): status %d",
                          e->plugin, e->version, e->snap.encoding_version, (int)st);
    }
    if (!p->failed)
        log_msg(SLUICE_LOG_INFO, p->def->name, "restored checkpoint %llu from %s",
                (unsigned long long)img.checkpoint_id, p->def->state_dir);
    p->checkpoint_id = img.checkpoint_id;
    state_image_free(&img);
    return p->failed ? -1 : 0;
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
            pipeline_fail(p, s->scope, "cannot start %s plugin '%s': %s",
                          plugin_kind_name(s->plugin->desc.kind), s->plugin->desc.name,
                          err[0] ? err : "create failed (no reason given)");
            return -1;
        }
        s->created = 1;
        if (s->plugin->desc.kind == SLUICE_KIND_OPERATOR && s->plugin->desc.snapshot)
            p->stateful = 1;
    }
    if (p->def->state_dir)
        return restore_state(p);
    if (p->stateful && p->steps[p->source].plugin->desc.checkpoint_complete)
        log_msg(SLUICE_LOG_INFO, p->def->name,
                "no state_dir: source positions are committed only once a bounded input has ended "
                "(a restart re-reads from the last commit)");
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

static void run_from(pipeline *p, size_t k);

static void end_tick(pipeline *p)
{
    source_release_borrowed(&p->src);
    for (size_t i = 0; i < p->nsteps; i++)
        for (size_t k = 0; k < p->steps[i].nports; k++)
            p->steps[i].ports[k].queue.n = 0;
    arena_reset(&p->tick_arena);
}

/* Call a step's watermark hook until it has emitted everything due. When
 * the marker is the last item the step reads this tick, each chunk is run
 * through the rest of the pipeline and the tick's memory released before
 * the next call, so a flush of millions of sessions never sits in memory at
 * once. Returns 1 when it did so (the step's input is then gone). */
static int fire_watermark(pipeline *p, step *s, size_t k, const item *marker, int last)
{
    int drained = 0;
    for (;;) {
        sluice_status st = s->plugin->desc.watermark(&host_api, &s->ctx, s->self, marker->wm);
        step_advance_ports(s, marker->wm, marker->seq);
        if (st != SLUICE_MORE) {
            check_status(p, s, "watermark", st);
            if (drained)
                run_from(p, k + 1); /* the last chunk, as the earlier ones */
            return drained;
        }
        if (last) {
            run_from(p, k + 1);
            end_tick(p);
            drained = 1;
        }
        if (p->failed)
            return drained;
    }
}

/* Run step order[k] over what its inputs queued this tick. Returns 1 when a
 * watermark flush ended the tick early (see fire_watermark). */
static int run_step(pipeline *p, size_t k)
{
    step *s = &p->steps[p->order[k]];
    const item_vec *in = gather(p, s);
    size_t start = 0, n = in->n;
    int64_t prev_wm = s->ctx.cur_wm;
    for (size_t i = 0; i < n && !p->failed; i++) {
        const item *it = &in->v[i];
        int64_t wm = prev_wm;
        prev_wm = it->wm > prev_wm ? it->wm : prev_wm;
        if (it->rec != NULL || it->wm <= wm)
            continue; /* records, and markers that move nothing (fan-in) */
        process_segment(p, s, in->v + start, i - start);
        start = i + 1;
        s->ctx.cur_wm = it->wm;
        s->ctx.cur_seq = it->seq;
        if (s->plugin->desc.watermark) {
            item marker = *it; /* the queue holding it may be cleared */
            if (fire_watermark(p, s, k, &marker, i + 1 == n))
                return 1;
        } else {
            step_advance_ports(s, it->wm, it->seq);
        }
    }
    if (!p->failed)
        process_segment(p, s, in->v + start, n - start);
    return 0;
}

/* Steps order[k..] in turn. A step that drained the tick has run every
 * later step already. */
static void run_from(pipeline *p, size_t k)
{
    for (; k < p->nsteps && !p->failed; k++)
        if (run_step(p, k))
            return;
}

static void run_downstream(pipeline *p)
{
    run_from(p, 1);
    end_tick(p);
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

/* Every sink holds what was emitted before checkpoint id: write the state
 * taken at the checkpoint, then let the source commit its positions. Without
 * a state folder, positions are only committed when no operator state
 * depends on them: there is none, or the bounded input has ended. */
static void finish_checkpoint(pipeline *p, uint64_t id)
{
    if (p->def->state_dir) {
        char err[512];
        p->pending_state.checkpoint_id = id;
        if (state_write(p->def->state_dir, p->def->name, &p->pending_state, err, sizeof err) != 0) {
            pipeline_fail(p, p->def->name, "cannot write state checkpoint %llu: %s", (unsigned long long)id,
                          err);
            return;
        }
        state_image_free(&p->pending_state);
    } else if (p->stateful && !p->src.ended) {
        return;
    }
    step *src = &p->steps[p->source];
    if (src->plugin->desc.checkpoint_complete)
        check_status(p, src, "checkpoint_complete",
                     src->plugin->desc.checkpoint_complete(&host_api, &src->ctx, src->self, id));
}

/* A checkpoint happens between ticks, when no record is in flight: the
 * source notes its positions, every step's state is snapshot (with a state
 * folder), and every step flushes. It completes once every sink has made its
 * output durable. */
static void checkpoint(pipeline *p)
{
    if (p->checkpoint_pending)
        return; /* one at a time */
    uint64_t id = ++p->checkpoint_id;
    step *src = &p->steps[p->source];
    if (src->plugin->desc.checkpoint_begin)
        check_status(p, src, "checkpoint_begin",
                     src->plugin->desc.checkpoint_begin(&host_api, &src->ctx, src->self, id));
    if (p->def->state_dir) {
        state_image_free(&p->pending_state);
        for (size_t k = 0; k < p->nsteps && !p->failed; k++) {
            step *s = &p->steps[p->order[k]];
            if (s->plugin->desc.snapshot == NULL)
                continue;
            sluice_snapshot snap = {sizeof snap, 0, NULL, 0};
            if (check_status(p, s, "snapshot",
                             s->plugin->desc.snapshot(&host_api, &s->ctx, s->self, &snap)) == 0)
                state_image_add(&p->pending_state, s->def->name, s->plugin->desc.name,
                                s->plugin->desc.version, &snap);
            free(snap.data);
        }
    }
    for (size_t k = 1; k < p->nsteps && !p->failed; k++) {
        step *s = &p->steps[p->order[k]];
        if (s->plugin->desc.flush)
            check_status(p, s, "flush", s->plugin->desc.flush(&host_api, &s->ctx, s->self));
    }
    if (p->failed)
        return;
    if (async_sinks_acked(p, id))
        finish_checkpoint(p, id);
    else
        p->checkpoint_pending = id;
}

static void check_pending_checkpoint(pipeline *p)
{
    if (p->checkpoint_pending && async_sinks_acked(p, p->checkpoint_pending)) {
        uint64_t id = p->checkpoint_pending;
        p->checkpoint_pending = 0;
        finish_checkpoint(p, id);
    }
}

static void log_summary(const pipeline *p)
{
    for (size_t k = 0; k < p->nsteps; k++) {
        const step *s = &p->steps[p->order[k]];
        char line[1024];
        size_t len = 0;
        for (size_t j = 0; j < s->ncounters && len < sizeof line; j++)
            len += (size_t)snprintf(line + len, sizeof line - len, "%s%s=%lld", j ? " " : "",
                                    s->counters[j]->name, (long long)s->counters[j]->value);
        log_msg(SLUICE_LOG_INFO, s->scope, "%s", line);
    }
}

int pipeline_run(pipeline *p, const volatile sig_atomic_t *stop)
{
    p->stop = stop;
    step *src = &p->steps[p->source];
    size_t budget = (size_t)p->def->batch_size;
    int64_t next_checkpoint = wall_ms() + p->def->checkpoint_interval_ms;
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
            next_checkpoint = now + p->def->checkpoint_interval_ms;
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
