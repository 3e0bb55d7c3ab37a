/* Checkpoints: between ticks, when no record is in flight, the source notes
 * its positions, every instance's state is snapshot (with a state folder)
 * and every step flushes. A checkpoint completes once every sink has made
 * its output durable; then the state is written and the source may commit
 * its positions. At start the last written state is restored.
 *
 * A step of a keyed stage has one snapshot per task, stored under
 * "<step>[<task>/<tasks>]": state is keyed by user and a user's task depends
 * on the number of tasks, so state written with another `partitions` is
 * refused rather than restored into the wrong instances.
 *
 * Without `key:` the source side's watermark is the process's, and is saved
 * too, under WATERMARK_ENTRY (no step can have that name): a restart then
 * judges lateness as an uninterrupted run would. With `key:` each
 * partition's goes with its task's state (partition_tasks.c). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "clock.h"
#include "log.h"

#define WATERMARK_ENTRY "(watermark)"

/* An entry's step name and task: "dedup" (task -1) or "dedup[3/8]". */
static int parse_entry_name(const char *name, char *base, size_t basesz, long *task, long *tasks)
{
    const char *open = strchr(name, '[');
    *task = *tasks = -1;
    size_t len = open ? (size_t)(open - name) : strlen(name);
    if (len >= basesz)
        return -1;
    memcpy(base, name, len);
    base[len] = '\0';
    if (open == NULL)
        return 0;
    char tail;
    if (sscanf(open, "[%ld/%ld%c", task, tasks, &tail) != 3 || tail != ']' || *task < 0 || *tasks < 1 ||
        *task >= *tasks)
        return -1;
    return 0;
}

static step *find_step(pipeline *p, const char *name, size_t *index)
{
    for (size_t k = 0; k < p->nsteps; k++)
        if (strcmp(p->steps[k].def->name, name) == 0) {
            *index = k;
            return &p->steps[k];
        }
    return NULL;
}

int checkpoint_discards(const pipeline *p, const char *step_name)
{
    for (size_t i = 0; i < p->ndiscard_state; i++)
        if (strcmp(p->discard_state[i], step_name) == 0)
            return 1;
    return 0;
}

/* Why an entry's state cannot be restored into this pipeline, before any
 * plugin is asked: the step is gone, it runs another plugin or one that
 * cannot restore, or its state is split over another number of tasks.
 * Returns the step (and *instance, the entry's task) when it can be
 * handed to the plugin; NULL with the reason in why otherwise. The
 * messages say what to do. */
static step *entry_target(pipeline *p, const state_entry *e, size_t *instance, char *why, size_t whysz)
{
    char base[256];
    long task, tasks;
    if (parse_entry_name(e->step, base, sizeof base, &task, &tasks) != 0) {
        snprintf(why, whysz, "the checkpoint names an unknown step '%s'", e->step);
        return NULL;
    }
    size_t i;
    step *s = find_step(p, base, &i);
    if (s == NULL) {
        snprintf(why, whysz,
                 "the checkpoint holds state of step '%s' (plugin '%s'), which the pipeline no longer has; "
                 "name the step '%s' again to keep its state, or run with --discard-state %s to drop it",
                 base, e->plugin, base, base);
        return NULL;
    }
    if (strcmp(s->plugin->desc.name, e->plugin) != 0 || s->plugin->desc.restore == NULL) {
        snprintf(why, whysz,
                 "step '%s': the state was written by plugin '%s' %s, the step now runs '%s'%s; run with "
                 "--discard-state %s to start it empty",
                 base, e->plugin, e->version, s->plugin->desc.name,
                 s->plugin->desc.restore ? "" : ", which cannot restore state", base);
        return NULL;
    }
    size_t now = step_instances(p, i);
    size_t then = task < 0 ? 1 : (size_t)tasks;
    if (now != then || (task < 0) != (s->stage == 0)) {
        snprintf(why, whysz,
                 "step '%s': the checkpoint holds this step's state split over %zu task%s, the "
                 "pipeline now runs it in %zu (state is keyed by user, and a user's task depends on "
                 "the number of tasks); set 'partitions: %zu' to read it, or run with --discard-state %s",
                 base, then, then == 1 ? "" : "s", now, then, base);
        return NULL;
    }
    *instance = task < 0 ? 0 : (size_t)task;
    return s;
}

static const char *entry_step_base(const state_entry *e, char *base, size_t size)
{
    long task, tasks;
    if (parse_entry_name(e->step, base, size, &task, &tasks) != 0)
        snprintf(base, size, "%s", e->step);
    return base;
}

int checkpoint_restore(pipeline *p)
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
        char base[256], why[2048];
        size_t at;
        if (strcmp(e->step, WATERMARK_ENTRY) == 0) {
            if (!p->by_partition && !p->src.raw &&
                wm_load(&p->src.wm, e->snap.data, e->snap.size, clock_wall_ms()) != 0)
                pipeline_fail(
                    p, p->def->name,
                    "cannot restore the checkpoint in %s: its watermark entry is malformed (%zu bytes)",
                    p->def->state_dir, e->snap.size);
            continue;
        }
        if (p->by_partition && find_step(p, entry_step_base(e, base, sizeof base), &at) && at == p->source) {
            log_msg(SLUICE_LOG_INFO, p->def->name,
                    "positions of source '%s' in %s not used: with key: the group's committed offsets are "
                    "where partitions start",
                    base, p->def->state_dir);
            continue;
        }
        if (checkpoint_discards(p, entry_step_base(e, base, sizeof base))) {
            log_msg(SLUICE_LOG_WARN, p->def->name, "state of step '%s' discarded as asked (--discard-state)",
                    e->step);
            continue;
        }
        size_t instance;
        step *target = entry_target(p, e, &instance, why, sizeof why);
        if (target == NULL) {
            pipeline_fail(p, p->def->name, "cannot restore the checkpoint in %s: %s", p->def->state_dir, why);
            break;
        }
        step *s = step_instance(p, (size_t)(target - p->steps), instance);
        sluice_status st = s->plugin->desc.restore(&host_api, &s->ctx, s->self, &e->snap);
        if (st != SLUICE_OK)
            pipeline_fail(p, s->scope,
                          "cannot restore state written by %s %s (encoding %u): status %d; run with "
                          "--discard-state %s to start this step empty",
                          e->plugin, e->version, e->snap.encoding_version, (int)st, base);
    }
    for (size_t k = 0; k < p->ndiscard_state && !p->failed; k++) {
        int found = 0;
        for (size_t i = 0; i < img.count && !found; i++) {
            char base[256];
            found = strcmp(entry_step_base(&img.entries[i], base, sizeof base), p->discard_state[k]) == 0;
        }
        if (!found)
            log_msg(SLUICE_LOG_WARN, p->def->name, "--discard-state %s: the checkpoint holds no state of it",
                    p->discard_state[k]);
    }
    if (!p->failed)
        log_msg(SLUICE_LOG_INFO, p->def->name, "restored checkpoint %llu from %s",
                (unsigned long long)img.checkpoint_id, p->def->state_dir);
    p->checkpoint_id = img.checkpoint_id;
    state_image_free(&img);
    return p->failed ? -1 : 0;
}

int checkpoint_check(pipeline *p, int create_all, diag_list *diags)
{
    if (p->def->state_dir == NULL)
        return 0;
    const cfg_node *at = cfg_map_get(p->def->root, "state_dir");
    src_pos where = at ? at->pos : (src_pos){p->def->path, 0, 0};
    state_image img;
    char err[512];
    int rc = state_read(p->def->state_dir, p->def->name, &img, err, sizeof err);
    if (rc < 0) {
        diag_add(diags, where, "cannot read the checkpoint in %s: %s", p->def->state_dir, err);
        return -1;
    }
    if (rc == 0)
        return 0;
    size_t before = diags->count;
    for (size_t i = 0; i < img.count; i++) {
        const state_entry *e = &img.entries[i];
        char base[256], why[2048];
        if (strcmp(e->step, WATERMARK_ENTRY) == 0 ||
            checkpoint_discards(p, entry_step_base(e, base, sizeof base)))
            continue;
        size_t instance;
        step *s = entry_target(p, e, &instance, why, sizeof why);
        if (s == NULL) {
            diag_add(diags, where, "cannot restore the checkpoint in %s: %s", p->def->state_dir, why);
            continue;
        }
        /* Try the restore on a fresh instance: operators always (they only
         * transform records), sources and sinks only when asked (creating
         * them may connect). */
        if (s->plugin->desc.kind != SLUICE_KIND_OPERATOR && !create_all)
            continue;
        char cerr[1024] = "";
        void *self = s->plugin->desc.create(&host_api, &s->ctx, s->opts, cerr, sizeof cerr);
        if (self == NULL) {
            diag_add(diags, s->def->plugin_pos, "step '%s': cannot create it to try its state: %s", base,
                     cerr[0] ? cerr : "create failed");
            continue;
        }
        sluice_status st = s->plugin->desc.restore(&host_api, &s->ctx, self, &e->snap);
        if (s->plugin->desc.flush)
            s->plugin->desc.flush(&host_api, &s->ctx, self);
        s->plugin->desc.destroy(&host_api, &s->ctx, self);
        if (st != SLUICE_OK)
            diag_add(
                diags, s->def->plugin_pos,
                "step '%s': plugin '%s' %s refuses the state in %s (written by %s %s, encoding %u): status "
                "%d; run with --discard-state %s to start it empty",
                base, s->plugin->desc.name, s->plugin->desc.version, p->def->state_dir, e->plugin, e->version,
                e->snap.encoding_version, (int)st, base);
    }
    state_image_free(&img);
    return diags->count == before ? 0 : -1;
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
    } else if ((p->by_partition ? p->stateful_global : p->stateful) && !p->src.ended) {
        return; /* partition tasks' state is with the positions; other state would be lost */
    }
    step *src = &p->steps[p->source];
    if (src->plugin->desc.checkpoint_complete)
        step_check_status(p, src, "checkpoint_complete",
                          src->plugin->desc.checkpoint_complete(&host_api, &src->ctx, src->self, id));
}

static void snapshot_instance(pipeline *p, step *s, const char *entry_name)
{
    sluice_snapshot snap = {sizeof snap, 0, NULL, 0};
    if (step_check_status(p, s, "snapshot", s->plugin->desc.snapshot(&host_api, &s->ctx, s->self, &snap)) ==
        0)
        state_image_add(&p->pending_state, entry_name, s->plugin->desc.name, s->plugin->desc.version, &snap);
    free(snap.data);
}

static void save_watermark(pipeline *p)
{
    sluice_snapshot snap = {sizeof snap, 1, NULL, 0};
    snap.data = wm_save(&p->src.wm, &snap.size);
    if (snap.data == NULL) {
        pipeline_fail(p, p->def->name, "out of memory saving the watermark");
        return;
    }
    state_image_add(&p->pending_state, WATERMARK_ENTRY, "sluice", "1", &snap);
    free(snap.data);
}

/* Flush every instance but the source's (failed: best effort, on). */
static void flush_all(pipeline *p, int only_async)
{
    for (size_t k = 1; k < p->nsteps; k++) {
        size_t i = p->order[k];
        for (size_t n = 0; n < step_instances(p, i); n++) {
            step *s = step_instance(p, i, n);
            if (!s->created || s->plugin->desc.flush == NULL || (only_async && !s->async_sink))
                continue;
            sluice_status st = s->plugin->desc.flush(&host_api, &s->ctx, s->self);
            if (!p->failed)
                step_check_status(p, s, "flush", st);
        }
    }
}

/* With partition tasks, the state folder holds only the steps outside the
 * stages but the source: the source's positions are the group's committed
 * offsets, and the tasks' state goes with them (partition_tasks.c). */
static int in_state_dir(const pipeline *p, size_t i) { return i != p->source && p->steps[i].stage == 0; }

void checkpoint_take(pipeline *p)
{
    if (p->checkpoint_pending)
        return; /* one at a time */
    uint64_t id = ++p->checkpoint_id;
    step *src = &p->steps[p->source];
    if (src->plugin->desc.checkpoint_begin)
        step_check_status(p, src, "checkpoint_begin",
                          src->plugin->desc.checkpoint_begin(&host_api, &src->ctx, src->self, id));
    if (p->by_partition)
        partition_tasks_save(p, id);
    if (p->def->state_dir) {
        state_image_free(&p->pending_state);
        if (!p->by_partition && !p->src.raw)
            save_watermark(p);
        for (size_t k = 0; k < p->nsteps && !p->failed; k++) {
            size_t i = p->order[k];
            if (p->steps[i].plugin->desc.snapshot == NULL || (p->by_partition && !in_state_dir(p, i)))
                continue;
            if (p->steps[i].stage == 0) {
                snapshot_instance(p, &p->steps[i], p->steps[i].def->name);
                continue;
            }
            for (size_t t = 0; t < p->ntasks && !p->failed; t++) {
                char name[300];
                snprintf(name, sizeof name, "%s[%zu/%zu]", p->steps[i].def->name, t, p->ntasks);
                snapshot_instance(p, step_instance(p, i, t), name);
            }
        }
    }
    if (!p->failed)
        flush_all(p, 0);
    if (p->failed)
        return;
    if (async_sinks_acked(p, id))
        finish_checkpoint(p, id);
    else
        p->checkpoint_pending = id;
}

void checkpoint_poll(pipeline *p)
{
    if (p->checkpoint_pending && async_sinks_acked(p, p->checkpoint_pending)) {
        uint64_t id = p->checkpoint_pending;
        p->checkpoint_pending = 0;
        finish_checkpoint(p, id);
    }
}

/* Wait (a bounded time) for the checkpoint in progress to complete. */
static void checkpoint_wait(pipeline *p, const char *which)
{
    for (int tries = 0; p->checkpoint_pending && !p->failed && tries < 600; tries++) {
        flush_all(p, 1);
        checkpoint_poll(p);
    }
    if (p->checkpoint_pending && !p->failed)
        pipeline_fail(p, p->def->name, "sinks did not confirm delivery of the %s checkpoint", which);
}

void checkpoint_now(pipeline *p)
{
    checkpoint_wait(p, "earlier");
    if (p->failed)
        return;
    checkpoint_take(p);
    checkpoint_wait(p, "rebalance");
}

void checkpoint_final(pipeline *p)
{
    if (p->failed) {
        flush_all(p, 0); /* keep what was written */
        return;
    }
    checkpoint_take(p);
    checkpoint_wait(p, "final");
}
