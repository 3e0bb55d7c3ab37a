/* Keyed stages and their tasks: which steps run once per in-process
 * partition, their instances, and the exchanges that route records to them.
 *
 * Planning, in topological order: an operator keyed by user or by event
 * (sluice_state_key) joins the stage of its key, made when first needed; a
 * stateless operator joins the stage of its inputs when they all come from
 * one stage; everything else runs once, outside the stages. A stage may
 * read the source's events or the output of an earlier stage, never of a
 * step outside the stages (they run after the stages in each tick), so a
 * step that would has to run outside them too.
 *
 * An exchange takes one upstream port (the source's events, or a port of an
 * earlier stage's step, its tasks' output merged in stream order) and sends
 * each record to the task of its key. Watermarks are the source's,
 * unchanged: each record carries the watermark after it, so every judgement
 * of lateness and expiry is the one a single instance makes.
 *
 * What a task emits is read downstream merged with the other tasks' output
 * by sequence number, so the sequence number an emission is stamped with
 * decides the order of the merged stream, and it must not depend on how the
 * stream was cut into ticks or onto threads. Hence a task hears of watermark
 * moves made by other tasks' records only at fixed points of the stream:
 * the first record past every MARKER_EVERY sequence numbers, every marker
 * upstream (idleness, partitions ending, the end, a dropped record), and the
 * last record of a tick in which the source was caught up (it had fewer
 * messages than the batch: a live stream, or the end of a file), so that a
 * quiet stream still closes every task's sessions as soon as the watermark
 * passes them. A replay at full speed fills every tick but the last, whose
 * last record is the end of the input whatever the batch size. Markers in a
 * stage are never merged with the next one, as they are elsewhere, so each
 * emission keeps the sequence number of the point where it became due. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "json_scan.h"
#include "pipeline.h"
#include "xalloc.h"

/* How often, in source sequence numbers, every task hears of the stream's
 * watermark: a task fires at most this far behind the stream's position,
 * at a cost of one marker per task per MARKER_EVERY records. */
#define MARKER_EVERY 256

const char *stage_key_name(sluice_state_key key)
{
    return key == SLUICE_STATE_KEY_USER ? "user" : key == SLUICE_STATE_KEY_URL ? "url" : "event";
}

static int keyed(sluice_state_key key)
{
    return key == SLUICE_STATE_KEY_USER || key == SLUICE_STATE_KEY_EVENT || key == SLUICE_STATE_KEY_URL ||
           key == SLUICE_STATE_KEY_PARTITION;
}

static stage *stage_for_key(pipeline *p, sluice_state_key key)
{
    for (size_t k = 0; k < p->nstages; k++)
        if (p->stages[k].key == key)
            return &p->stages[k];
    stage *st = &p->stages[p->nstages++];
    st->key = key;
    st->order = xcalloc(p->nsteps, sizeof *st->order);
    st->ex = xcalloc(p->nsteps * 4 + 1, sizeof *st->ex);
    return st->order && st->ex ? st : NULL;
}

size_t stage_exchange(const stage *st, size_t step, size_t port)
{
    size_t x = 0;
    while (x < st->nex && !(st->ex[x].step == step && st->ex[x].port == port))
        x++;
    return x;
}

/* Add step s to stage st if every input allows it; returns 1 when added. */
static int try_join(pipeline *p, step *s, stage *st)
{
    size_t index = (size_t)(st - p->stages) + 1;
    for (size_t k = 0; k < s->ninputs; k++) {
        size_t j = s->inputs[k].step;
        const step *up = &p->steps[j];
        int source_port = s->remote ? (int)p->xchg.port : 0;
        if (j == p->source ? s->inputs[k].port != (size_t)source_port : up->stage == 0 || up->stage > index)
            return 0;
    }
    s->stage = index;
    st->order[st->n++] = (size_t)(s - p->steps);
    for (size_t k = 0; k < s->ninputs; k++) {
        size_t j = s->inputs[k].step, pt = s->inputs[k].port;
        if (p->steps[j].stage == index)
            continue;
        if (stage_exchange(st, j, pt) == st->nex)
            st->ex[st->nex++] = (exchange){j, pt, SLUICE_TIME_MIN, 0, {0}, 0, NULL, NULL};
    }
    return 1;
}

/* The one stage all of s's inputs come from, or NULL. */
static stage *inputs_stage(pipeline *p, const step *s)
{
    size_t common = 0;
    for (size_t k = 0; k < s->ninputs; k++) {
        size_t st = p->steps[s->inputs[k].step].stage;
        if (st == 0 || (common && st != common))
            return NULL;
        common = st;
    }
    return common ? &p->stages[common - 1] : NULL;
}

static int plan_stages(pipeline *p)
{
    p->stages = xcalloc(8, sizeof *p->stages); /* one per key at most */
    if (p->stages == NULL)
        return -1;
    for (size_t k = 1; k < p->nsteps; k++) {
        step *s = &p->steps[p->order[k]];
        if (s->plugin->desc.kind != SLUICE_KIND_OPERATOR)
            continue;
        sluice_state_key key = s->key;
        if (s->remote) { /* in the exchange's tasks (exchange.c) */
            stage *st = stage_for_key(p, SLUICE_STATE_KEY_ALL);
            if (st == NULL)
                return -1;
            try_join(p, s, st);
            continue;
        }
        /* Partitioned by user, the input serves both user and event keys,
         * and a part that pre-aggregates per partition: one stage, no
         * exchange between them. A step keyed by URL runs once there. */
        if (key == SLUICE_STATE_KEY_URL && p->by_partition)
            key = SLUICE_STATE_KEY_ALL;
        else if (keyed(key) && p->by_partition)
            key = SLUICE_STATE_KEY_USER;
        else if (key == SLUICE_STATE_KEY_PARTITION) /* a stand-in source: tasks by user, as the topic's */
            key = SLUICE_STATE_KEY_USER;
        if (keyed(key)) {
            stage *st = stage_for_key(p, key);
            if (st == NULL)
                return -1;
            try_join(p, s, st);
        } else if (key == SLUICE_STATE_KEY_NONE) {
            stage *st = inputs_stage(p, s);
            if (st)
                try_join(p, s, st);
        }
    }
    /* A stage nothing joined (its first candidate could not) is dropped. */
    size_t kept = 0;
    for (size_t k = 0; k < p->nstages; k++) {
        if (p->stages[k].n == 0) {
            free(p->stages[k].order);
            free(p->stages[k].ex);
            continue;
        }
        p->stages[kept++] = p->stages[k];
    }
    p->nstages = kept;
    for (size_t k = 0; k < kept; k++)
        for (size_t m = 0; m < p->stages[k].n; m++)
            p->steps[p->stages[k].order[m]].stage = k + 1;
    return 0;
}

static int instance_init(pipeline *p, task *t, step *inst, const step *tmpl)
{
    *inst = *tmpl;
    inst->is_instance = 1;
    inst->self = NULL;
    inst->created = 0;
    inst->counters = NULL;
    inst->ncounters = 0;
    inst->merged = (item_vec){0};
    inst->gather_q = NULL;
    inst->gather_pos = NULL;
    inst->gather_cap = 0;
    inst->ports = xcalloc(tmpl->nports ? tmpl->nports : 1, sizeof *inst->ports);
    if (inst->ports == NULL)
        return -1;
    for (size_t k = 0; k < tmpl->nports; k++) {
        inst->ports[k] = tmpl->ports[k];
        inst->ports[k].queue = (item_vec){0};
        inst->ports[k].keep_markers = 1;
        inst->ports[k].json_wanted_at = &tmpl->ports[k].json_wanted;
    }
    snprintf(inst->scope, sizeof inst->scope, "%s/%s[%zu]", p->def->name, tmpl->def->name, t->index);
    inst->ctx = (struct sluice_ctx){p, inst, t, &t->arena, SLUICE_TIME_MIN, 0};
    inst->c_in = step_counter(inst, "in");
    inst->c_out = step_counter(inst, "out");
    return 0;
}

static int stage_build(pipeline *p, stage *st)
{
    st->tasks = xaligned_alloc(_Alignof(task), p->ntasks * sizeof *st->tasks);
    if (st->tasks == NULL)
        return -1;
    memset(st->tasks, 0, p->ntasks * sizeof *st->tasks);
    for (size_t x = 0; x < st->nex; x++) {
        exchange *ex = &st->ex[x];
        size_t nq = p->steps[ex->step].stage ? p->ntasks : 1;
        ex->queues = xcalloc(nq, sizeof *ex->queues);
        ex->pos = xcalloc(nq, sizeof *ex->pos);
        if (ex->queues == NULL || ex->pos == NULL)
            return -1;
    }
    for (size_t ti = 0; ti < p->ntasks; ti++) {
        task *t = &st->tasks[ti];
        t->index = ti;
        arena_init(&t->arena, 1u << 18);
        t->steps = xcalloc(p->nsteps, sizeof *t->steps);
        t->in = xcalloc(st->nex ? st->nex : 1, sizeof *t->in);
        if (t->steps == NULL || t->in == NULL)
            return -1;
        for (size_t x = 0; x < st->nex; x++)
            t->in[x] = (port){.name = "exchange",
                              .last_wm = SLUICE_TIME_MIN,
                              .consumers = 1,
                              .needs_markers = 1,
                              .keep_markers = 1};
        for (size_t k = 0; k < st->n; k++) {
            size_t i = st->order[k];
            if (instance_init(p, t, &t->steps[i], &p->steps[i]) != 0)
                return -1;
        }
    }
    return 0;
}

int tasks_make(pipeline *p, size_t ntasks)
{
    p->ntasks = p->nstages ? ntasks : 0;
    if (p->by_partition && p->ntasks) {
        p->task_state = xcalloc(p->ntasks, sizeof *p->task_state);
        if (p->task_state == NULL)
            return -1;
    }
    for (size_t k = 0; k < p->nstages; k++) {
        stage *st = &p->stages[k];
        if (p->by_partition && st->key == SLUICE_STATE_KEY_ALL)
            snprintf(st->label, sizeof st->label, "a task per partition of the exchange");
        else if (p->by_partition)
            snprintf(st->label, sizeof st->label, "keyed by %s, a task per input partition",
                     stage_key_name(st->key));
        else
            snprintf(st->label, sizeof st->label, "keyed by %s, %zu tasks", stage_key_name(st->key),
                     p->ntasks);
        if (p->ntasks && stage_build(p, st) != 0)
            return -1;
    }
    return 0;
}

/* global_by_stage and ready_end (pipeline.h). A step's level is the
 * highest stage among its inputs, or its inputs' levels when they run
 * outside the stages; sorting by level keeps the topological order, since
 * a step's level is never below its inputs'. */
static int order_by_stage(pipeline *p)
{
    size_t *level = xcalloc(p->nsteps, sizeof *level);
    p->global_by_stage = xcalloc(p->nglobal ? p->nglobal : 1, sizeof *p->global_by_stage);
    p->ready_end = xcalloc(p->nstages + 1, sizeof *p->ready_end);
    if (level == NULL || p->global_by_stage == NULL || p->ready_end == NULL) {
        free(level);
        return -1;
    }
    for (size_t k = 0; k < p->nglobal; k++) {
        const step *s = &p->steps[p->global_order[k]];
        size_t lv = 0;
        for (size_t i = 0; i < s->ninputs; i++) {
            const step *up = &p->steps[s->inputs[i].step];
            size_t up_level = up->stage ? up->stage : level[s->inputs[i].step];
            lv = up_level > lv ? up_level : lv;
        }
        level[p->global_order[k]] = lv;
    }
    size_t n = 0;
    for (size_t lv = 0; lv <= p->nstages; lv++) {
        for (size_t k = 0; k < p->nglobal; k++)
            if (level[p->global_order[k]] == lv)
                p->global_by_stage[n++] = p->global_order[k];
        p->ready_end[lv] = n;
    }
    free(level);
    return 0;
}

int tasks_build(pipeline *p)
{
    p->global_order = xcalloc(p->nsteps, sizeof *p->global_order);
    if (p->global_order == NULL)
        return -1;
    if (!p->src.raw && (p->def->partitions > 1 || p->by_partition) && plan_stages(p) != 0)
        return -1;
    for (size_t k = 1; k < p->nsteps; k++)
        if (p->steps[p->order[k]].stage == 0)
            p->global_order[p->nglobal++] = p->order[k];
    if (order_by_stage(p) != 0)
        return -1;
    /* Partition tasks wait for the source to say how many partitions. */
    return tasks_make(p, p->by_partition ? 0 : (size_t)p->def->partitions);
}

static void stage_info(void *ud, size_t i, size_t *stage, const char **label)
{
    const pipeline *p = ud;
    *stage = p->steps[i].stage;
    *label = *stage ? p->stages[*stage - 1].label : NULL;
}

void pipeline_print_dot(const pipeline *p, FILE *out)
{
    graph_print_dot(p->def, pipeline_plugin_info, stage_info, (void *)p, out);
}

void pipeline_print_stages(const pipeline *p, const char *indent, FILE *out)
{
    for (size_t k = 0; k < p->nstages; k++) {
        const stage *st = &p->stages[k];
        fprintf(out, "%sstage %zu (%s):", indent, k + 1, st->label);
        for (size_t m = 0; m < st->n; m++)
            fprintf(out, "%s%s", m ? ", " : " ", p->steps[st->order[m]].def->name);
        if (p->by_partition && st->key == SLUICE_STATE_KEY_ALL && p->xchg.on) {
            fprintf(out, "; through the broker from %s\n", p->steps[p->xchg.from].def->name);
            continue;
        }
        if (p->by_partition)
            fprintf(out, "; by input partition (keyed by user) from");
        else
            fprintf(out, "; exchange by %s from", stage_key_name(st->key));
        for (size_t x = 0; x < st->nex; x++) {
            const step *up = &p->steps[st->ex[x].step];
            fprintf(out, "%s%s%s%s", x ? ", " : " ", up->def->name, st->ex[x].port ? "." : "",
                    st->ex[x].port ? up->ports[st->ex[x].port].name : "");
        }
        fputc('\n', out);
    }
    if (p->nstages == 0)
        return; /* every step runs once: nothing to say */
    exchange_print(p, indent, out);
    fprintf(out, "%sonce, on the pipeline's thread:", indent);
    fprintf(out, " %s", p->steps[p->source].def->name);
    for (size_t k = 0; k < p->nglobal; k++)
        fprintf(out, ", %s", p->steps[p->global_order[k]].def->name);
    fputc('\n', out);
}

/* The task of a record: the same for a key in every process and run, so a
 * task's snapshot holds the same keys whoever restores it. -1 when the
 * record lacks what the key needs (made by an operator, not decoded). */
static long task_of(const pipeline *p, sluice_state_key key, const sluice_record *rec)
{
    if (p->by_partition) /* the input is keyed already: its partition is the task */
        return exchange_task_of(p, rec->partition);
    uint64_t h;
    if (key == SLUICE_STATE_KEY_URL) {
        if (!(rec->role_present & (1u << SLUICE_ROLE_URL)))
            return -1;
        h = rec->role_hash[SLUICE_ROLE_URL];
    } else if (key == SLUICE_STATE_KEY_EVENT && (rec->role_present & (1u << SLUICE_ROLE_EVENT_ID))) {
        h = rec->role_hash[SLUICE_ROLE_EVENT_ID];
    } else {
        uint8_t need = (1u << SLUICE_ROLE_USER) | (key == SLUICE_STATE_KEY_EVENT ? 1u << SLUICE_ROLE_URL : 0);
        if ((rec->role_present & need) != need)
            return -1;
        h = rec->role_hash[SLUICE_ROLE_USER];
        if (key == SLUICE_STATE_KEY_EVENT) /* the (user, url, ts) triple */
            h = (h ^ rec->role_hash[SLUICE_ROLE_URL] * 0x9e3779b97f4a7c15ull) * 0xff51afd7ed558ccdull ^
                (uint64_t)rec->time;
    }
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 29;
    return (long)(h % p->ntasks);
}

/* The upstream's items of this tick: one queue, or its tasks' merged. */
static const item_vec *exchange_input(pipeline *p, exchange *ex)
{
    const step *up = &p->steps[ex->step];
    if (up->stage == 0)
        return &p->steps[ex->step].ports[ex->port].queue;
    const stage *from = &p->stages[up->stage - 1];
    for (size_t u = 0; u < p->ntasks; u++)
        ex->queues[u] = &from->tasks[u].steps[ex->step].ports[ex->port].queue;
    ex->merged.n = 0;
    items_merge(ex->queues, ex->pos, p->ntasks, &ex->merged);
    if (p->by_partition)
        tasks_restamp(p, &ex->merged); /* routing reads each record's own partition's */
    ex->merged_now = 1;
    return &ex->merged;
}

void tasks_restamp(const pipeline *p, item_vec *v)
{
    int64_t wm = SLUICE_TIME_MIN;
    for (size_t i = 0; i < v->n; i++) {
        item *it = &v->v[i];
        if (it->rec != NULL && it->rec->pipeline_wm > wm)
            wm = it->rec->pipeline_wm;
        else if (it->rec == NULL && it->wm == SLUICE_TIME_MAX)
            wm = SLUICE_TIME_MAX; /* the end of the input */
        it->wm = wm;
    }
    /* Where the pipeline's watermark stands now: idle partitions and
     * partitions gone move it without any record. */
    if (p->src.wm.current > wm) {
        uint64_t seq = source_last_seq(&p->src);
        if (v->n && v->v[v->n - 1].seq > seq)
            seq = v->v[v->n - 1].seq;
        items_push(v, NULL, p->src.wm.current, seq);
    }
}

/* Partition tasks: each record goes to its partition's task carrying that
 * partition's watermark, so a task's lateness and expiry depend on its
 * partition alone, whichever instance runs it and whatever else it runs;
 * the only marker every task hears of is the end of the input. */
static size_t route_by_partition(pipeline *p, stage *st, size_t x, const item_vec *q)
{
    exchange *ex = &st->ex[x];
    size_t routed = 0;
    for (size_t i = 0; i < q->n; i++) {
        const item *it = &q->v[i];
        if (it->rec == NULL) {
            if (it->wm == SLUICE_TIME_MAX && ex->routed_wm < SLUICE_TIME_MAX) {
                ex->routed_wm = SLUICE_TIME_MAX;
                for (size_t k = 0; k < p->ntasks; k++)
                    port_advance(&st->tasks[k].in[x], SLUICE_TIME_MAX, it->seq);
            }
            continue;
        }
        long ti = task_of(p, st->key, it->rec);
        if (ti < 0) {
            pipeline_fail(p, p->steps[st->order[0]].scope,
                          "a record from step '%s' has no input partition below %zu to route it by: with "
                          "key: on the source, the keyed steps must be fed the source's events",
                          p->steps[ex->step].def->name, p->ntasks);
            return routed;
        }
        port *in = &st->tasks[ti].in[x];
        int64_t wm = it->rec->partition_wm > in->last_wm ? it->rec->partition_wm : in->last_wm;
        items_push(&in->queue, it->rec, wm, it->seq);
        in->last_wm = wm;
        p->task_state[ti].dirty = 1;
        routed++;
    }
    return routed;
}

const item_vec *tasks_merged(const pipeline *p, size_t step, size_t port)
{
    for (size_t k = 0; k < p->nstages; k++)
        for (size_t x = 0; x < p->stages[k].nex; x++) {
            const exchange *ex = &p->stages[k].ex[x];
            if (ex->merged_now && ex->step == step && ex->port == port)
                return &ex->merged;
        }
    return NULL;
}

size_t tasks_route(pipeline *p, stage *st)
{
    size_t routed = 0;
    for (size_t x = 0; x < st->nex && !p->failed; x++) {
        exchange *ex = &st->ex[x];
        const item_vec *q = exchange_input(p, ex);
        if (p->by_partition) {
            routed += route_by_partition(p, st, x, q);
            continue;
        }
        for (size_t i = 0; i < q->n; i++) {
            const item *it = &q->v[i];
            if (it->rec != NULL) {
                long ti = task_of(p, st->key, it->rec);
                if (ti < 0) {
                    pipeline_fail(p, p->steps[st->order[0]].scope,
                                  "a record from step '%s' has no %s to route it by: a step keyed by %s must "
                                  "be fed the source's events (or records copied from them)",
                                  p->steps[ex->step].def->name,
                                  st->key == SLUICE_STATE_KEY_USER  ? "user id"
                                  : st->key == SLUICE_STATE_KEY_URL ? "url"
                                                                    : "event id, user or url",
                                  stage_key_name(st->key));
                    return routed;
                }
                port *in = &st->tasks[ti].in[x];
                items_push(&in->queue, it->rec, it->wm, it->seq);
                routed++;
                if (it->wm > in->last_wm)
                    in->last_wm = it->wm;
            }
            int due = it->rec == NULL || it->seq / MARKER_EVERY != ex->routed_seq / MARKER_EVERY ||
                      (p->tick_caught_up && i + 1 == q->n);
            if (due && it->wm > ex->routed_wm) {
                ex->routed_wm = it->wm;
                ex->routed_seq = it->seq;
                for (size_t k = 0; k < p->ntasks; k++)
                    port_advance(&st->tasks[k].in[x], it->wm, it->seq);
            }
        }
    }
    return routed;
}

void tasks_encode_ahead(const stage *st, task *t)
{
    for (size_t m = 0; m < st->n; m++) {
        step *s = &t->steps[st->order[m]];
        for (size_t q = 0; q < s->nports; q++) {
            port *pt = &s->ports[q];
            if (pt->json_wanted_at == NULL || !atomic_load_explicit(pt->json_wanted_at, memory_order_relaxed))
                continue;
            for (size_t i = 0; i < pt->queue.n; i++) {
                sluice_record *rec = pt->queue.v[i].rec;
                if (rec == NULL || !rec->modified || rec->json != NULL ||
                    rec->json_wanted != pt->json_wanted_at)
                    continue; /* made by another step: encoded there, if wanted */
                sluice_str j = json_write_record(rec, &t->arena);
                rec->json = j.ptr;
                rec->json_len = (uint32_t)j.len;
            }
        }
    }
}

void tasks_end_tick(pipeline *p)
{
    for (size_t k = 0; k < p->nstages; k++) {
        stage *st = &p->stages[k];
        for (size_t x = 0; x < st->nex; x++) {
            st->ex[x].merged.n = 0;
            st->ex[x].merged_now = 0;
        }
        for (size_t ti = 0; ti < p->ntasks; ti++) {
            task *t = &st->tasks[ti];
            for (size_t x = 0; x < st->nex; x++)
                t->in[x].queue.n = 0;
            for (size_t m = 0; m < st->n; m++) {
                step *s = &t->steps[st->order[m]];
                for (size_t q = 0; q < s->nports; q++)
                    s->ports[q].queue.n = 0;
            }
            arena_reset(&t->arena);
        }
    }
}

void tasks_free(pipeline *p)
{
    for (size_t k = 0; k < p->nstages; k++) {
        stage *st = &p->stages[k];
        for (size_t ti = 0; ti < p->ntasks && st->tasks; ti++) {
            task *t = &st->tasks[ti];
            for (size_t m = 0; m < st->n && t->steps; m++)
                step_free_instance(&t->steps[st->order[m]]);
            for (size_t x = 0; x < st->nex && t->in; x++)
                free(t->in[x].queue.v);
            free(t->steps);
            free(t->in);
            arena_free(&t->arena);
        }
        for (size_t x = 0; x < st->nex; x++) {
            free(st->ex[x].merged.v);
            free(st->ex[x].queues);
            free(st->ex[x].pos);
        }
        free(st->tasks);
        free(st->order);
        free(st->ex);
    }
    free(p->stages);
    free(p->global_order);
    p->global_order = NULL;
    p->nglobal = 0;
    free(p->global_by_stage);
    free(p->ready_end);
    p->global_by_stage = p->ready_end = NULL;
    free(p->task_state);
    p->task_state = NULL;
    p->stages = NULL;
    p->nstages = 0;
    p->ntasks = 0;
}

size_t pipeline_step_totals(const pipeline *p, size_t i, counter_total **out)
{
    size_t n = 0, cap = 0;
    counter_total *totals = NULL;
    for (size_t ti = 0; ti < step_instances(p, i); ti++) {
        const step *inst = step_instance((pipeline *)p, i, ti);
        for (size_t c = 0; c < inst->ncounters; c++) {
            const struct sluice_counter *ctr = inst->counters[c];
            size_t k = 0;
            while (k < n && strcmp(totals[k].name, ctr->name) != 0)
                k++;
            if (k == n) {
                if (n == cap) {
                    cap = cap ? 2 * cap : 16;
                    counter_total *grown = xrealloc(totals, cap * sizeof *totals);
                    if (grown == NULL)
                        break;
                    totals = grown;
                }
                totals[n++] = (counter_total){ctr->name, 0};
            }
            totals[k].value += ctr->value;
        }
    }
    *out = totals;
    return n;
}
