/* Partition tasks' state: with `key:` on the source, a keyed stage's task t
 * is the source's input partition t, and its state belongs to that
 * partition, not to this process (Kafka Streams' model). At each checkpoint
 * the state of every task whose partition is assigned here and that took
 * records since its last save goes, as one image, to the source
 * (partition_state_save), which stores it next to the position it commits
 * (for Kafka: a changelog topic, pointed at by the commit's metadata). When
 * a partition is assigned, the source hands its image back before the
 * partition's first message, and the task starts from it; when it is
 * revoked, the task starts afresh, as its state now lives on elsewhere.
 *
 * The image also holds the partition's watermark (its largest event time):
 * a task's lateness and expiry decisions depend on its partition alone, so
 * the next owner carries on exactly where the last one stopped. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "log.h"
#include "pipeline.h"
#include "sluice/bytes.h"
#include "xalloc.h"

/* The image entry holding the partition's largest event time. */
#define WATERMARK_ENTRY "sluice.partition_max_ts"
#define WATERMARK_PLUGIN "sluice"
#define WATERMARK_VERSION "1"

int partition_task_reset(pipeline *p, size_t t)
{
    for (size_t k = 0; k < p->nstages && !p->failed; k++) {
        stage *st = &p->stages[k];
        task *tk = &st->tasks[t];
        for (size_t x = 0; x < st->nex; x++)
            tk->in[x].last_wm = SLUICE_TIME_MIN;
        for (size_t m = 0; m < st->n; m++) {
            step *s = &tk->steps[st->order[m]];
            if (s->created)
                s->plugin->desc.destroy(&host_api, &s->ctx, s->self);
            s->created = 0;
            s->self = NULL;
            s->timer_due = 0;
            s->ctx.cur_wm = SLUICE_TIME_MIN;
            for (size_t q = 0; q < s->nports; q++)
                s->ports[q].last_wm = SLUICE_TIME_MIN;
            if (step_create(p, s) != 0)
                return -1;
        }
    }
    if (!exchange_has_partition(p, exchange_partition_of(p, t)))
        wm_partition_restore(&p->src.wm, (int32_t)t, SLUICE_TIME_MIN);
    exchange_reset_task(p, t);
    p->task_state[t] = (struct task_state){0, 0};
    return p->failed ? -1 : 0;
}

/* The stage step called `name`, or NULL. */
static step *stage_step(pipeline *p, size_t t, const char *name)
{
    for (size_t k = 0; k < p->nstages; k++)
        for (size_t m = 0; m < p->stages[k].n; m++) {
            size_t i = p->stages[k].order[m];
            if (strcmp(p->steps[i].def->name, name) == 0)
                return &p->stages[k].tasks[t].steps[i];
        }
    return NULL;
}

/* Every stateful step of the stages is being started empty on purpose. */
static int all_discarded(const pipeline *p)
{
    for (size_t k = 0; k < p->nstages; k++)
        for (size_t m = 0; m < p->stages[k].n; m++) {
            const step *s = &p->steps[p->stages[k].order[m]];
            if (s->plugin->desc.snapshot && !checkpoint_discards(p, s->def->name))
                return 0;
        }
    return 1;
}

/* State the committed position points at is gone: never start empty
 * silently (that would lose every open session and duplicate filter). */
static sluice_status data_loss(pipeline *p, size_t t, const char *why)
{
    if (all_discarded(p)) {
        log_msg(SLUICE_LOG_ERROR, p->def->name,
                "data loss: the state of input partition %zu cannot be read (%s); its keyed steps start "
                "empty, as asked (--discard-state)",
                t, why);
        return SLUICE_OK;
    }
    pipeline_fail(p, p->def->name,
                  "data loss: the state of input partition %zu cannot be read (%s); its keyed steps would "
                  "start empty, so the run stops. To start them empty on purpose, run with --discard-state "
                  "for each keyed step",
                  t, why);
    return SLUICE_ERR_STATE;
}

static void restore_entry(pipeline *p, size_t t, const state_entry *e)
{
    if (exchange_restore_entry(p, t, e))
        return;
    if (strcmp(e->step, WATERMARK_ENTRY) == 0) {
        if (e->snap.size == 8)
            wm_partition_restore(&p->src.wm, (int32_t)t, sluice_le64_load_i64(e->snap.data));
        return;
    }
    if (checkpoint_discards(p, e->step))
        return;
    step *s = stage_step(p, t, e->step);
    if (s == NULL || strcmp(s->plugin->desc.name, e->plugin) != 0 || s->plugin->desc.restore == NULL) {
        pipeline_fail(p, p->def->name,
                      "input partition %zu holds state of step '%s' (plugin '%s' %s), which no keyed step of "
                      "this pipeline can take; name the step as before, or run with --discard-state %s",
                      t, e->step, e->plugin, e->version, e->step);
        return;
    }
    sluice_status st = s->plugin->desc.restore(&host_api, &s->ctx, s->self, &e->snap);
    if (st != SLUICE_OK)
        pipeline_fail(p, s->scope,
                      "cannot restore input partition %zu's state written by %s %s (encoding %u): status %d; "
                      "run with --discard-state %s to start this step empty",
                      t, e->plugin, e->version, e->snap.encoding_version, (int)st, e->step);
}

sluice_status partition_task_restore(pipeline *p, size_t partition, const void *data, size_t size,
                                     const char *error)
{
    long task = exchange_task_of(p, (int32_t)partition);
    size_t t = task < 0 ? p->ntasks : (size_t)task;
    if (t >= p->ntasks) {
        pipeline_fail(
            p, p->def->name,
            "the source was assigned input partition %zu, but said at start that its input has %zu; "
            "restart to run the new partitions",
            partition, p->xchg.on ? p->xchg.ninput : p->ntasks);
        return SLUICE_ERR;
    }
    if (partition_task_reset(p, t) != 0)
        return SLUICE_ERR;
    p->task_state[t].owned = 1;
    if (error)
        return data_loss(p, t, error);
    if (data == NULL || size == 0)
        return SLUICE_OK;
    char what[64], err[512];
    snprintf(what, sizeof what, "the state of input partition %zu", t);
    state_image img;
    if (state_image_decode(data, size, &img, what, err, sizeof err) < 0)
        return data_loss(p, t, err);
    for (size_t i = 0; i < img.count && !p->failed; i++)
        restore_entry(p, t, &img.entries[i]);
    log_msg(SLUICE_LOG_DEBUG, p->def->name,
            "input partition %zu: state of checkpoint %llu restored (%zu bytes)", t,
            (unsigned long long)img.checkpoint_id, size);
    state_image_free(&img);
    return p->failed ? SLUICE_ERR_STATE : SLUICE_OK;
}

/* One task's image: its keyed steps' snapshots and its partition's
 * watermark. */
static void save_task(pipeline *p, step *src, size_t t, uint64_t id)
{
    state_image img = {id, NULL, 0};
    for (size_t k = 0; k < p->nstages && !p->failed; k++)
        for (size_t m = 0; m < p->stages[k].n && !p->failed; m++) {
            step *s = &p->stages[k].tasks[t].steps[p->stages[k].order[m]];
            if (s->plugin->desc.snapshot == NULL)
                continue;
            sluice_snapshot snap = {sizeof snap, 0, NULL, 0};
            sluice_status st = s->plugin->desc.snapshot(&host_api, &s->ctx, s->self, &snap);
            if (step_check_status(p, s, "snapshot", st) == 0)
                state_image_add(&img, s->def->name, s->plugin->desc.name, s->plugin->desc.version, &snap);
            free(snap.data);
        }
    int32_t partition = exchange_partition_of(p, t);
    if (exchange_has_partition(p, partition)) {
        exchange_save_task(p, t, &img); /* no event time: no watermark */
    } else {
        unsigned char max_ts[8];
        sluice_le64_store_i64(max_ts, wm_partition_max_ts(&p->src.wm, (int32_t)t));
        sluice_snapshot wm = {sizeof wm, 1, xmalloc(8), 8};
        if (wm.data == NULL) {
            pipeline_fail(p, p->def->name, "out of memory");
        } else {
            memcpy(wm.data, max_ts, 8);
            state_image_add(&img, WATERMARK_ENTRY, WATERMARK_PLUGIN, WATERMARK_VERSION, &wm);
        }
    }
    if (!p->failed) {
        size_t size;
        void *data = state_image_encode(&img, &size);
        step_check_status(p, src, "partition_state_save",
                          src->plugin->desc.partition_state_save(&host_api, &src->ctx, src->self, id,
                                                                 partition, data, size));
        free(data);
    }
    state_image_free(&img);
}

void partition_tasks_save(pipeline *p, uint64_t id)
{
    step *src = &p->steps[p->source];
    int stateful = 0;
    for (size_t k = 0; k < p->nstages; k++)
        for (size_t m = 0; m < p->stages[k].n; m++)
            stateful |= p->steps[p->stages[k].order[m]].plugin->desc.snapshot != NULL;
    for (size_t t = 0; t < p->ntasks && !p->failed; t++) {
        if (!stateful || !p->task_state[t].owned || !p->task_state[t].dirty)
            continue;
        save_task(p, src, t, id);
        p->task_state[t].dirty = 0;
    }
}
