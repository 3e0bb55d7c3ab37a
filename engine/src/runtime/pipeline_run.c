/* The run loop: ticks, watermark markers, fan-in, the keyed stages' tasks
 * on worker threads, and timers. Checkpoints are in checkpoint.c. */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include "checkpoint.h"
#include "clock.h"
#include "log.h"
#include "pipeline.h"
#include "stats.h"
#include "workers.h"
#include "xalloc.h"

void items_reserve(item_vec *v, size_t more)
{
    if (v->n + more <= v->cap)
        return;
    size_t cap = v->cap ? v->cap : 256;
    while (cap < v->n + more)
        cap *= 2;
    v->v = xrealloc(v->v, cap * sizeof *v->v);
    v->cap = cap;
}

void items_push(item_vec *v, sluice_record *rec, int64_t wm, uint64_t seq)
{
    if (v->n == v->cap)
        items_reserve(v, 1);
    v->v[v->n++] = (item){rec, wm, seq};
}

/* After a step finished with an input item at watermark wm: any output that
 * has not yet carried wm gets a marker, so consumers see the watermark move
 * at exactly this point of the stream. Consecutive markers collapse. */
void port_advance(port *pt, int64_t wm, uint64_t seq)
{
    if (pt->last_wm >= wm || !pt->needs_markers)
        return;
    pt->last_wm = wm;
    item_vec *q = &pt->queue;
    if (q->n > 0 && q->v[q->n - 1].rec == NULL && !pt->keep_markers)
        q->v[q->n - 1] = (item){NULL, wm, seq};
    else
        items_push(q, NULL, wm, seq);
}

void step_advance_ports(step *s, int64_t wm, uint64_t seq)
{
    for (size_t k = 0; k < s->nports; k++)
        port_advance(&s->ports[k], wm, seq);
}

struct sluice_counter *step_counter(step *s, const char *name)
{
    for (size_t k = 0; k < s->ncounters; k++)
        if (strcmp(s->counters[k]->name, name) == 0)
            return s->counters[k];
    s->counters = xrealloc(s->counters, (s->ncounters + 1) * sizeof *s->counters);
    struct sluice_counter *c = xaligned_alloc(_Alignof(struct sluice_counter), sizeof *c);
    memset(c, 0, sizeof *c);
    c->name = xstrdup(name);
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
    pthread_mutex_lock(&p->fail_lock); /* workers may fail at once */
    if (!p->failed) {
        snprintf(p->failure, sizeof p->failure, "%s: %s", scope ? scope : p->def->name, msg);
        p->failed = 1;
    }
    pthread_mutex_unlock(&p->fail_lock);
}

int step_create(pipeline *p, step *s)
{
    char err[1024] = "";
    s->self = s->plugin->desc.create(&host_api, &s->ctx, s->opts, err, sizeof err);
    if (s->self == NULL) {
        err[sizeof err - 1] = '\0';
        pipeline_fail(p, s->scope, "cannot start %s plugin '%s': %s", plugin_kind_name(s->plugin->desc.kind),
                      s->plugin->desc.name, err[0] ? err : "create failed (no reason given)");
        return -1;
    }
    s->created = 1;
    return 0;
}

static void worker_round(void *arg, size_t worker);
static void decode_round(pipeline *p);

/* Waking the helpers and waiting for them costs tens of microseconds, far
 * more on a machine whose cores are busy with the Kafka client's threads: a
 * round with fewer records than this is done by the pipeline's thread alone
 * (a Kafka source at its consumer's pace hands over ticks of a few dozen
 * messages; on 2 cores, 2 threads took 18 s where 1 took 12). What a round
 * computes does not depend on who runs it. SLUICE_PARALLEL_MIN (records)
 * overrides it: 1 makes every round parallel, as the tests of threads do. */
#define PARALLEL_MIN_RECORDS 1024

static size_t choose_parallel_min(void)
{
    const char *v = getenv("SLUICE_PARALLEL_MIN");
    long n = v ? atol(v) : 0;
    return n > 0 ? (size_t)n : PARALLEL_MIN_RECORDS;
}

/* Threads for the stages' tasks: as asked, else one per core; never more
 * than there are tasks. */
static size_t choose_threads(const pipeline *p)
{
    if (p->ntasks == 0)
        return 1;
    size_t n = p->def->threads > 0 ? (size_t)p->def->threads : 0;
    if (n == 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        n = cores > 0 ? (size_t)cores : 1;
    }
    return n < p->ntasks ? n : p->ntasks;
}

/* Partition tasks: the source, created first, says how many partitions its
 * input has; the stages get a task for each. */
static int make_partition_tasks(pipeline *p)
{
    step *src = &p->steps[p->source];
    if (src->plugin->desc.partition_count == NULL) {
        /* Another source stands in for the keyed one (`sluice test` feeds
         * the pipeline its own events): in-process tasks keyed by user,
         * which serve both keys as the partitions would. */
        p->by_partition = 0;
        p->stands_in = 1;
        exchange_undo(p);
        tasks_free(p);
        for (size_t i = 0; i < p->nsteps; i++)
            p->steps[i].stage = 0;
        if (tasks_build(p) == 0)
            return 0;
        pipeline_fail(p, p->def->name, "out of memory making the tasks");
        return -1;
    }
    if (step_create(p, src) != 0)
        return -1;
    int32_t n = src->plugin->desc.partition_count(&host_api, &src->ctx, src->self);
    if (n <= 0) {
        pipeline_fail(p, src->scope,
                      "key: is set, but the source cannot tell how many partitions its input has (one topic "
                      "that exists, with its partition count in the broker's metadata, is needed)");
        return -1;
    }
    long exchanged = exchange_open(p, (size_t)n);
    if (exchanged < 0)
        return -1;
    if (tasks_make(p, (size_t)n + (size_t)exchanged) != 0) {
        pipeline_fail(p, p->def->name, "out of memory making %d partition tasks", (int)n);
        return -1;
    }
    log_msg(SLUICE_LOG_INFO, p->def->name, "keyed steps run in a task per input partition: %d", (int)n);
    if (exchanged)
        log_msg(SLUICE_LOG_INFO, p->def->name, "%s runs in a task per partition of its exchange: %ld",
                p->steps[p->xchg.to].def->name, exchanged);
    return 0;
}

int pipeline_start(pipeline *p)
{
    if (p->by_partition && make_partition_tasks(p) != 0)
        return -1;
    /* Sinks first, the source last: nothing is read before it can be written. */
    for (size_t k = p->nsteps; k-- > 0;) {
        size_t i = p->order[k];
        for (size_t n = 0; n < step_instances(p, i); n++)
            if (!step_instance(p, i, n)->created && step_create(p, step_instance(p, i, n)) != 0)
                return -1;
        if (p->steps[i].plugin->desc.kind == SLUICE_KIND_OPERATOR && p->steps[i].plugin->desc.snapshot) {
            p->stateful = 1;
            p->stateful_global |= p->steps[i].stage == 0;
        }
    }
    p->src.decode_round = decode_round;
    p->threads = choose_threads(p);
    p->parallel_min = choose_parallel_min();
    p->worker_records = xcalloc(p->threads, sizeof *p->worker_records);
    if (p->worker_records == NULL) {
        pipeline_fail(p, p->def->name, "out of memory");
        return -1;
    }
    if (p->threads > 1 && (p->workers = workers_start(p->threads, worker_round, p)) == NULL) {
        pipeline_fail(p, p->def->name, "cannot start %zu worker threads", p->threads);
        return -1;
    }
    if (p->workers && !p->src.raw) { /* the workers decode the source's messages too */
        size_t bytes = p->threads * sizeof *p->src.decode_arenas;
        p->src.decode_arenas = xaligned_alloc(_Alignof(struct decode_arena), bytes);
        if (p->src.decode_arenas == NULL) {
            pipeline_fail(p, p->def->name, "out of memory");
            return -1;
        }
        for (size_t w = 0; w < p->threads; w++)
            arena_init(&p->src.decode_arenas[w].a, 1u << 20);
    }
    for (size_t k = 0; k < p->nstages; k++)
        log_msg(SLUICE_LOG_DEBUG, p->def->name,
                "stage %zu (keyed by %s): %zu step%s in %zu tasks on %zu thread%s", k + 1,
                stage_key_name(p->stages[k].key), p->stages[k].n, p->stages[k].n == 1 ? "" : "s", p->ntasks,
                p->threads, p->threads == 1 ? "" : "s");
    if (p->def->state_dir)
        return checkpoint_restore(p);
    if (p->stateful && p->steps[p->source].plugin->desc.checkpoint_complete)
        log_msg(SLUICE_LOG_INFO, p->def->name,
                "no state_dir: source positions are committed only once a bounded input has ended "
                "(a restart re-reads from the last commit)");
    return 0;
}

/* Who runs a list of steps: a task of a stage (its instances of the
 * stage's steps) or the pipeline's thread (every step outside the stages
 * but the source). */
typedef struct runner {
    pipeline *p;
    stage *st; /* NULL outside the stages */
    task *t;
    const size_t *order;
    size_t n;
    int beside_tasks; /* steps outside the stages, run while tasks run: the tick cannot end early */
} runner;

static const item_vec no_items;

static void gather_add(step *s, size_t *nq, const item_vec *q)
{
    if (q->n > 0)
        s->gather_q[(*nq)++] = q;
}

/* The items a step reads this tick: its one input's queue, or the queues of
 * its inputs (of every task, for a stage's step read from outside it)
 * merged by source sequence; ties keep input order, then task order. */
static const item_vec *gather(const runner *r, step *s)
{
    pipeline *p = r->p;
    size_t need = s->ninputs * (p->ntasks ? p->ntasks : 1);
    if (need > s->gather_cap) {
        free(s->gather_q);
        free(s->gather_pos);
        s->gather_q = xmalloc(need * sizeof *s->gather_q);
        s->gather_pos = xmalloc(need * sizeof *s->gather_pos);
        if (s->gather_q == NULL || s->gather_pos == NULL) {
            s->gather_cap = 0;
            pipeline_fail(p, s->scope, "out of memory");
            return &no_items;
        }
        s->gather_cap = need;
    }
    size_t nq = 0;
    int restamp = 0; /* partition tasks' output read outside the stages */
    for (size_t k = 0; k < s->ninputs; k++) {
        size_t j = s->inputs[k].step, pt = s->inputs[k].port;
        size_t from = p->steps[j].stage;
        restamp |= r->st == NULL && from && p->by_partition;
        if (r->st != NULL && from == s->stage)
            gather_add(s, &nq, &r->t->steps[j].ports[pt].queue);
        else if (r->st != NULL)
            gather_add(s, &nq, &r->t->in[stage_exchange(r->st, j, pt)].queue);
        else if (from && tasks_merged(p, j, pt))
            gather_add(s, &nq, tasks_merged(p, j, pt));
        else if (from)
            for (size_t u = 0; u < p->ntasks; u++)
                gather_add(s, &nq, &p->stages[from - 1].tasks[u].steps[j].ports[pt].queue);
        else
            gather_add(s, &nq, &p->steps[j].ports[pt].queue);
    }
    if (nq <= 1 && !restamp)
        return nq ? s->gather_q[0] : &no_items;
    s->merged.n = 0;
    items_merge(s->gather_q, s->gather_pos, nq, &s->merged);
    if (restamp)
        tasks_restamp(p, &s->merged);
    return &s->merged;
}

int step_check_status(pipeline *p, step *s, const char *hook, sluice_status st)
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
    step_check_status(p, s, "process", st);
}

static void run_from(const runner *r, size_t k);
static void run_global(pipeline *p);

static void end_tick(pipeline *p)
{
    source_end_tick(&p->src);
    for (size_t w = 0; p->src.decode_arenas && w < p->threads; w++)
        arena_reset(&p->src.decode_arenas[w].a);
    for (size_t i = 0; i < p->nsteps; i++)
        for (size_t k = 0; k < p->steps[i].nports; k++)
            p->steps[i].ports[k].queue.n = 0;
    tasks_end_tick(p);
    arena_reset(&p->tick_arena);
}

/* Call a step's watermark hook until it has emitted everything due. Outside
 * the stages, when the marker is the last item the step reads this tick,
 * each chunk is run through the rest of the pipeline and the tick's memory
 * released before the next call, so a flush of millions of sessions never
 * sits in memory at once. Returns 1 when it did so (the step's input is then
 * gone). In a task the chunks wait for the end of the tick. */
static int fire_watermark(const runner *r, step *s, size_t k, const item *marker, int last)
{
    pipeline *p = r->p;
    int drained = 0;
    for (;;) {
        sluice_status st = s->plugin->desc.watermark(&host_api, &s->ctx, s->self, marker->wm);
        step_advance_ports(s, marker->wm, marker->seq);
        if (st != SLUICE_MORE) {
            step_check_status(p, s, "watermark", st);
            if (drained)
                run_from(r, k + 1); /* the last chunk, as the earlier ones */
            return drained;
        }
        if (last && p->flush_rounds && r->st != NULL && r->t->flush_step == 0) {
            /* One chunk a round: the rest of the task runs over it now, the
             * next chunk comes in the next round (flush_resume). */
            r->t->flush_step = k + 1;
            r->t->flush_marker = *marker;
            run_from(r, k + 1);
            return 1;
        }
        if (last && !r->beside_tasks && (r->st == NULL || r->t == p->flushing)) {
            run_from(r, k + 1);
            if (r->st != NULL)
                run_global(p);
            end_tick(p);
            drained = 1;
        }
        if (p->failed)
            return drained;
    }
}

/* Run the runner's step k over what its inputs queued this tick. Returns 1
 * when a watermark flush ended the tick early (see fire_watermark). */
static int run_step(const runner *r, size_t k)
{
    pipeline *p = r->p;
    size_t i = r->order[k];
    step *s = r->t ? &r->t->steps[i] : &p->steps[i];
    const item_vec *in = gather(r, s);
    size_t start = 0, n = in->n;
    int64_t prev_wm = s->ctx.cur_wm;
    for (size_t j = 0; j < n && !p->failed; j++) {
        const item *it = &in->v[j];
        int64_t wm = prev_wm;
        prev_wm = it->wm > prev_wm ? it->wm : prev_wm;
        if (it->rec != NULL || it->wm <= wm)
            continue; /* records, and markers that move nothing (fan-in) */
        process_segment(p, s, in->v + start, j - start);
        start = j + 1;
        s->ctx.cur_wm = it->wm;
        s->ctx.cur_seq = it->seq;
        if (s->plugin->desc.watermark) {
            item marker = *it; /* the queue holding it may be cleared */
            if (fire_watermark(r, s, k, &marker, j + 1 == n))
                return 1;
        } else {
            step_advance_ports(s, it->wm, it->seq);
        }
    }
    if (!p->failed)
        process_segment(p, s, in->v + start, n - start);
    return 0;
}

/* The runner's steps k.. in turn. A step that drained the tick has run every
 * later step already. */
static void run_from(const runner *r, size_t k)
{
    for (; k < r->n && !r->p->failed; k++)
        if (run_step(r, k))
            return;
}

/* A task's next chunk of a flush in rounds, and the rest of the task over
 * it. */
static void flush_resume(const runner *r)
{
    task *t = r->t;
    size_t k = t->flush_step - 1;
    item marker = t->flush_marker;
    t->flush_step = 0;
    if (!fire_watermark(r, &t->steps[r->order[k]], k, &marker, 1))
        run_from(r, k + 1); /* the last chunk */
}

/* Messages a worker takes at a time to decode: small enough that a worker
 * on a slower core (a virtual machine's cores are not always equal) takes
 * fewer, large enough that taking them costs nothing. */
#define DECODE_SLICE 256

static void run_task(pipeline *p, stage *st, task *t, size_t worker)
{
    uint64_t events = 0; /* added once: the threads' totals share a line */
    for (size_t x = 0; x < st->nex; x++)
        for (size_t k = 0; k < t->in[x].queue.n; k++)
            events += t->in[x].queue.v[k].rec != NULL;
    p->worker_records[worker] += events;
    runner r = {p, st, t, st->order, st->n, 0};
    host_thread_arena = &t->arena;
    if (p->flush_rounds < 2)
        run_from(&r, 0);
    else if (t->flush_step)
        flush_resume(&r);
    tasks_encode_ahead(st, t);
    host_thread_arena = NULL;
}

/* One round of the workers: decoding the source's pending messages (slices
 * taken until none is left), or a stage's tasks. A worker takes its own
 * tasks first (worker, worker + threads, ...), then any left: a task's state
 * stays in one core's caches from round to round (on this machine a cache
 * line moving between the cores took 190 ns), and a worker done early still
 * takes work from a busy one. */
static void worker_round(void *arg, size_t worker)
{
    pipeline *p = arg;
    stage *st = p->running;
    if (st == NULL) {
        size_t n = p->src.npending;
        for (;;) {
            size_t from = atomic_fetch_add(&p->next_task, DECODE_SLICE);
            if (from >= n)
                return;
            source_decode_range(p, from, from + DECODE_SLICE < n ? from + DECODE_SLICE : n,
                                &p->src.decode_arenas[worker].a);
        }
    }
    if (worker == 1 && p->ahead_job)
        source_poll_ahead(p, (size_t)p->def->batch_size);
    for (int steal = 0; steal < 2; steal++)
        for (size_t ti = steal ? 0 : worker; ti < p->ntasks; ti += steal ? 1 : p->threads)
            if (atomic_exchange(&st->tasks[ti].claimed, p->round) != p->round)
                run_task(p, st, &st->tasks[ti], worker);
}

static void decode_round(pipeline *p)
{
    size_t n = p->src.npending;
    if (n < p->parallel_min) { /* not worth waking the helpers */
        source_decode_range(p, 0, n, &p->src.decode_arenas[0].a);
        return;
    }
    p->running = NULL;
    p->next_task = 0;
    workers_round(p->workers);
}

static void run_global(pipeline *p)
{
    runner g = {p, NULL, NULL, p->global_order, p->nglobal, 0};
    run_from(&g, 0);
}

/* The tasks of stage st over what was routed to them, on every worker. */
static void run_round(pipeline *p, stage *st, size_t records)
{
    p->running = st;
    p->round++;
    if (p->workers && records >= p->parallel_min)
        workers_round(p->workers);
    else
        worker_round(p, 0);
    if (!p->failed)
        exchange_send_round(p, st);
}

static void run_stage(pipeline *p, stage *st) { run_round(p, st, tasks_route(p, st)); }

/* Steps outside the stages global_by_stage[from..to) on this thread. */
static void run_global_range(pipeline *p, size_t from, size_t to, int beside_tasks)
{
    runner g = {p, NULL, NULL, p->global_by_stage + from, to - from, beside_tasks};
    run_from(&g, 0);
}

/* A tick's stages, and the steps outside them. While the helpers run the
 * tasks of a stage, the pipeline's thread first runs the steps outside the
 * stages that need only earlier stages (url_count after dedup, while
 * sessionize's tasks run), then takes its share of the tasks. What each
 * step reads is the same either way (a stage never reads a step outside
 * the stages), so the results are too. A record read on both sides is
 * stamped with the same watermark by both (the same merged items feed the
 * exchange and the step outside), except with partition tasks, whose
 * records carry their partition's watermark in the tasks and the
 * pipeline's outside: those never overlap (one stage, and steps outside
 * it that need only the source are rare). */
static void run_downstream(pipeline *p)
{
    size_t ran = 0; /* global_by_stage[0..ran) have run this tick */
    for (size_t k = 0; k < p->nstages && !p->failed; k++) {
        stage *st = &p->stages[k];
        size_t records = tasks_route(p, st);
        if (p->workers == NULL || records < p->parallel_min || p->ready_end[k] == ran || p->by_partition ||
            p->failed) {
            run_round(p, st, records);
            continue;
        }
        p->running = st;
        p->round++;
        /* The helper reads the source's next batch first: the pipeline's
         * thread, busy with the steps beside, would otherwise read it
         * alone after the tick (what was lent is held until the tick
         * ends: then it waits). */
        p->ahead_job = p->poll_ahead_now && p->src.nborrowed == 0;
        workers_begin(p->workers);
        p->overlapping = 1;
        p->rounds_beside++;
        run_global_range(p, ran, p->ready_end[k], 1);
        p->overlapping = 0;
        ran = p->ready_end[k];
        workers_join(p->workers);
        p->ahead_job = 0;
    }
    if (!p->failed)
        run_global_range(p, ran, p->nglobal, 0);
    end_tick(p);
}

/* A source gives partitions up (a rebalance): everything it pushed so far
 * is run through to the sinks, then a checkpoint is taken and waited for,
 * all from inside its poll. */
sluice_status source_checkpoint_now(sluice_ctx *ctx)
{
    pipeline *p = ctx->p;
    if (!source_called_by_source(ctx, "source_checkpoint_now") || p->failed ||
        !source_not_polling_ahead(p, "source_checkpoint_now"))
        return SLUICE_ERR;
    source_take_pending(p);
    if (!p->failed)
        run_downstream(p);
    if (!p->failed)
        checkpoint_now(p);
    return p->failed ? SLUICE_ERR : SLUICE_OK;
}

static int only_markers(const pipeline *p, const stage *st)
{
    for (size_t t = 0; t < p->ntasks; t++)
        for (size_t x = 0; x < st->nex; x++)
            for (size_t i = 0; i < st->tasks[t].in[x].queue.n; i++)
                if (st->tasks[t].in[x].queue.v[i].rec != NULL)
                    return 0;
    return 1;
}

/* What a task of the last stage reads at the end: the end of the input,
 * once, whatever was routed to it (markers only). */
static void end_only(stage *last, task *t, uint64_t end_seq)
{
    for (size_t x = 0; x < last->nex; x++) {
        t->in[x].queue.n = 0;
        items_push(&t->in[x].queue, NULL, SLUICE_TIME_MAX, end_seq);
    }
}

/* The last stage's tasks flush in rounds, on every worker: in each round
 * every task with more to emit emits its next chunk (the first round fires
 * the end marker), and the steps outside the stages take the round's chunks
 * in task order before its memory is released. What a round emits does not
 * depend on the threads, so neither does the output's order. */
static void flush_in_rounds(pipeline *p, stage *last, uint64_t end_seq)
{
    for (size_t t = 0; t < p->ntasks; t++)
        end_only(last, &last->tasks[t], end_seq);
    for (p->flush_rounds = 1; !p->failed; p->flush_rounds = 2) {
        p->running = last;
        p->round++;
        if (p->workers)
            workers_round(p->workers);
        else
            worker_round(p, 0);
        run_global(p);
        end_tick(p);
        size_t more = 0;
        for (size_t t = 0; t < p->ntasks; t++)
            more += last->tasks[t].flush_step != 0;
        if (more == 0)
            break;
    }
    p->flush_rounds = 0;
}

/* The end of a bounded input: the watermark goes to +infinity and every
 * open window and session is emitted. Where the last stage's tasks get
 * nothing but that (its upstream emits nothing at the end, as dedup does),
 * they flush a chunk at a time, each chunk of what they emit run to the
 * sinks and its memory released before the next, as a single instance
 * does: a replay of a million users' sessions never holds them all at
 * once. In-process tasks flush side by side, a chunk each per round
 * (flush_in_rounds); partition tasks (and tasks standing in for them, so
 * that `sluice test` shows the order of a live run) one after the other
 * on this thread. */
static void end_of_input(pipeline *p, uint64_t end_seq)
{
    step *src = &p->steps[p->source];
    p->src.ended = 1;
    p->src.wm.current = SLUICE_TIME_MAX;
    step_advance_ports(src, SLUICE_TIME_MAX, end_seq);
    if (p->nstages == 0) {
        run_downstream(p);
        return;
    }
    for (size_t k = 0; k + 1 < p->nstages && !p->failed; k++)
        run_stage(p, &p->stages[k]);
    stage *last = &p->stages[p->nstages - 1];
    size_t routed = tasks_route(p, last);
    if (p->failed || !only_markers(p, last)) {
        run_round(p, last, routed);
        run_global(p);
        end_tick(p);
        return;
    }
    if (!p->by_partition && !p->stands_in) {
        flush_in_rounds(p, last, end_seq);
        return;
    }
    for (size_t t = 0; t < p->ntasks && !p->failed; t++) {
        task *tk = &last->tasks[t];
        end_only(last, tk, end_seq); /* an earlier task's flush ended the tick */
        p->flushing = tk;
        runner r = {p, last, tk, last->order, last->n, 0};
        run_from(&r, 0);
        p->flushing = NULL;
        run_global(p);
        end_tick(p);
    }
}

/* Timers of every instance, on the pipeline's thread before the tick's poll:
 * what they emit precedes the tick's records. */
static void run_timers(pipeline *p, int64_t now)
{
    for (size_t k = 0; k < p->nsteps && !p->failed; k++) {
        size_t i = p->order[k];
        for (size_t n = 0; n < step_instances(p, i) && !p->failed; n++) {
            step *s = step_instance(p, i, n);
            if (s->timer_due == 0 || s->timer_due > now || s->plugin->desc.timer == NULL)
                continue;
            s->timer_due = 0;
            s->ctx.cur_wm = p->src.wm.current;
            s->ctx.cur_seq = source_last_seq(&p->src);
            step_check_status(p, s, "timer", s->plugin->desc.timer(&host_api, &s->ctx, s->self, now));
        }
    }
}

static void log_summary(const pipeline *p)
{
    for (size_t k = 0; k < p->nsteps; k++) {
        const step *s = &p->steps[p->order[k]];
        counter_total *totals;
        size_t n = pipeline_step_totals(p, p->order[k], &totals);
        char line[1024];
        size_t len = 0;
        for (size_t j = 0; j < n && len < sizeof line; j++)
            len += (size_t)snprintf(line + len, sizeof line - len, "%s%s=%lld", j ? " " : "", totals[j].name,
                                    (long long)totals[j].value);
        free(totals);
        log_msg(SLUICE_LOG_INFO, s->scope, "%s", len ? line : "(no counters)");
    }
}

/* Whether the source may be polled ahead at all (SLUICE_SOURCE_POLL_AHEAD):
 * by a helper thread, in a round where the pipeline's thread runs steps
 * beside a stage's tasks (run_downstream), and where no tick's end depends
 * on what the source has read (partition tasks and their exchange save
 * positions per partition; memory_limit decides each tick whether to
 * read). */
static int can_poll_ahead(const pipeline *p)
{
    const step *src = &p->steps[p->source];
    return p->workers && p->src.decode_arenas &&
           (src->plugin->desc.source_flags & SLUICE_SOURCE_POLL_AHEAD) && !p->by_partition && !p->stands_in &&
           !p->xchg.on && p->def->memory_limit <= 0;
}

int pipeline_run(pipeline *p, const volatile sig_atomic_t *stop)
{
    p->stop = stop;
    step *src = &p->steps[p->source];
    size_t budget = (size_t)p->def->batch_size;
    int64_t next_checkpoint = clock_wall_ms() + p->def->checkpoint_interval_ms;
    int ahead_ok = can_poll_ahead(p);
    /* A batch polled ahead is run before stopping: the source has moved
     * past it, so the final checkpoint must include it. */
    while (!p->failed && !p->src.ended && (!(stop && *stop) || p->src.has_ahead)) {
        int64_t now = clock_wall_ms();
        p->src.tick_now = now;
        run_timers(p, now);
        if (!p->src.raw) {
            int64_t before = p->src.wm.current;
            if (wm_refresh(&p->src.wm, now) > before)
                step_advance_ports(src, p->src.wm.current, source_last_seq(&p->src));
        }
        src->ctx.cur_wm = p->src.wm.current;
        if (!p->src.has_ahead && memory_budget_pause(p, now)) {
            run_downstream(p); /* what timers and idleness moved */
            checkpoint_poll(p);
            if (!p->failed && now >= next_checkpoint) {
                checkpoint_take(p);
                next_checkpoint = now + p->def->checkpoint_interval_ms;
            }
            usleep(50000);
            continue;
        }
        uint64_t seq_before = source_seq_taken(&p->src);
        sluice_status st = p->src.has_ahead
                               ? p->src.ahead_status
                               : src->plugin->desc.poll(&host_api, &src->ctx, src->self, budget, 100);
        int64_t batch_start = stats_clock_ns();
        /* The next batch may be read while this tick runs, unless a
         * checkpoint (which saves the source's position) ends the tick. */
        p->poll_ahead_now = ahead_ok && st == SLUICE_OK && now < next_checkpoint && !(stop && *stop);
        source_take_pending(p);
        uint64_t taken = source_seq_taken(&p->src) - seq_before;
        /* At the end, the end itself tells every task (end_of_input). */
        p->tick_caught_up = st != SLUICE_END && taken < budget;
        if (st == SLUICE_END) {
            run_downstream(p); /* what came before the end */
            end_of_input(p, p->src.next_seq);
        } else {
            step_check_status(p, src, "poll", st);
            run_downstream(p);
        }
        p->poll_ahead_now = 0;
        checkpoint_poll(p);
        stats_tick(p, batch_start, taken);
        if (!p->failed && now >= next_checkpoint) {
            int64_t started = stats_clock_ns();
            checkpoint_take(p);
            stats_checkpoint_begun(p, started);
            next_checkpoint = now + p->def->checkpoint_interval_ms;
        }
    }
    /* The end: one last checkpoint (flushing every sink) unless we failed;
     * sinks still flush after a failure so what was written is kept. */
    int64_t final_started = stats_clock_ns();
    checkpoint_final(p);
    stats_checkpoint_begun(p, final_started);
    stats_finish(p);
    log_summary(p);
    return p->failed ? -1 : 0;
}
