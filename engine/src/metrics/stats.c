/* Snapshots of a running pipeline for other threads (see stats.h). */
#include "stats.h"

#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "pipeline.h"
#include "xalloc.h"

/* From a fast tick to a checkpoint stuck behind a slow sink. */
const double stats_bucket_bounds[STATS_NBUCKETS] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                    0.025,  0.05,    0.1,    0.25,  0.5,    1,     10};

void stats_histogram_observe(stats_histogram *h, double seconds)
{
    for (size_t b = 0; b < STATS_NBUCKETS; b++)
        if (seconds <= stats_bucket_bounds[b]) {
            h->buckets[b]++;
            break;
        }
    h->count++;
    h->sum += seconds;
}

int64_t stats_clock_ns(void) { return clock_mono_ns(); }

pipeline_stats *stats_new(void)
{
    pipeline_stats *st = xcalloc(1, sizeof *st);
    if (st)
        pthread_mutex_init(&st->lock, NULL);
    return st;
}

static void snapshot_free(stats_snapshot *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->nsteps; i++) {
        for (size_t c = 0; c < s->steps[i].ncounters; c++)
            free(s->steps[i].counters[c].name);
        free(s->steps[i].counters);
        free(s->steps[i].name);
    }
    free(s->steps);
    free(s->thread_events);
    free(s->pipeline);
    free(s);
}

void stats_free(pipeline_stats *st)
{
    if (st == NULL)
        return;
    snapshot_free(st->current);
    pthread_mutex_destroy(&st->lock);
    free(st);
}

/* A step's counters summed over its instances, with the gauge flag that
 * pipeline_step_totals leaves out. */
static int copy_step(pipeline *p, size_t i, stats_step *out)
{
    out->name = xstrdup(p->steps[i].def->name);
    out->kind = (int)p->steps[i].plugin->desc.kind;
    if (out->name == NULL)
        return -1;
    size_t cap = 0;
    for (size_t n = 0; n < step_instances(p, i); n++) {
        const step *inst = step_instance(p, i, n);
        for (size_t c = 0; c < inst->ncounters; c++) {
            const struct sluice_counter *ctr = inst->counters[c];
            size_t k = 0;
            while (k < out->ncounters && strcmp(out->counters[k].name, ctr->name) != 0)
                k++;
            if (k == out->ncounters) {
                if (k == cap) {
                    cap = cap ? 2 * cap : 16;
                    stats_counter *grown = xrealloc(out->counters, cap * sizeof *grown);
                    if (grown == NULL)
                        return -1;
                    out->counters = grown;
                }
                out->counters[k] = (stats_counter){xstrdup(ctr->name), 0, 0};
                out->ncounters++;
                if (out->counters[k].name == NULL)
                    return -1;
            }
            out->counters[k].value += ctr->value;
            out->counters[k].gauge |= ctr->gauge;
        }
    }
    return 0;
}

static stats_snapshot *take_snapshot(pipeline *p, int running)
{
    pipeline_stats *st = p->stats;
    stats_snapshot *s = xcalloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    s->refs = 1;
    s->pipeline = xstrdup(p->def->name);
    s->taken_ms = clock_wall_ms();
    s->watermark = p->src.wm.current;
    s->running = running;
    s->batches = st->batches;
    s->checkpoints = st->checkpoints;
    s->checkpoints_done = st->checkpoints_done;
    s->last_checkpoint_ms = st->last_checkpoint_ms;
    s->stages = p->nstages;
    s->tasks = p->ntasks;
    s->threads = p->threads;
    s->steps = xcalloc(p->nsteps ? p->nsteps : 1, sizeof *s->steps);
    s->thread_events = xcalloc(p->threads ? p->threads : 1, sizeof *s->thread_events);
    if (s->pipeline == NULL || s->steps == NULL || s->thread_events == NULL) {
        snapshot_free(s);
        return NULL;
    }
    for (size_t w = 0; w < p->threads && p->worker_records; w++)
        s->thread_events[w] = p->worker_records[w];
    for (size_t k = 0; k < p->nsteps; k++) {
        s->nsteps++;
        if (copy_step(p, p->order[k], &s->steps[k]) != 0) {
            snapshot_free(s);
            return NULL;
        }
    }
    return s;
}

static void publish(pipeline *p, int running)
{
    pipeline_stats *st = p->stats;
    stats_snapshot *s = take_snapshot(p, running);
    if (s == NULL)
        return; /* out of memory: readers keep the previous figures */
    st->last_publish_ms = s->taken_ms;
    pthread_mutex_lock(&st->lock);
    stats_snapshot *old = st->current;
    st->current = s;
    int drop = old && --old->refs == 0;
    pthread_mutex_unlock(&st->lock);
    if (drop)
        snapshot_free(old);
}

/* A checkpoint being timed is complete once it is no longer pending. */
static void check_checkpoint(pipeline *p, int64_t now_ns)
{
    pipeline_stats *st = p->stats;
    if (st->checkpoint_id == 0 || p->checkpoint_pending == st->checkpoint_id)
        return;
    if (!p->failed) {
        stats_histogram_observe(&st->checkpoints, (double)(now_ns - st->checkpoint_start_ns) / 1e9);
        st->checkpoints_done++;
        st->last_checkpoint_ms = clock_wall_ms();
    }
    st->checkpoint_id = 0;
}

void stats_checkpoint_begun(pipeline *p, int64_t start_ns)
{
    pipeline_stats *st = p->stats;
    if (st == NULL)
        return;
    /* checkpoint_take begins nothing while one is pending: keep timing that. */
    if (st->checkpoint_id == 0 && p->checkpoint_id > st->checkpoints_seen) {
        st->checkpoint_id = p->checkpoint_id;
        st->checkpoint_start_ns = start_ns;
    }
    st->checkpoints_seen = p->checkpoint_id;
    check_checkpoint(p, stats_clock_ns());
}

void stats_tick(pipeline *p, int64_t batch_start_ns, uint64_t events)
{
    pipeline_stats *st = p->stats;
    if (st == NULL)
        return;
    int64_t now_ns = stats_clock_ns();
    if (events > 0)
        stats_histogram_observe(&st->batches, (double)(now_ns - batch_start_ns) / 1e9);
    check_checkpoint(p, now_ns);
    if (clock_wall_ms() - st->last_publish_ms >= STATS_PUBLISH_MS)
        publish(p, 1);
}

void stats_finish(pipeline *p)
{
    if (p->stats)
        publish(p, 0);
}

stats_snapshot *stats_acquire(pipeline_stats *st)
{
    pthread_mutex_lock(&st->lock);
    stats_snapshot *s = st->current;
    if (s)
        s->refs++;
    pthread_mutex_unlock(&st->lock);
    return s;
}

void stats_release(pipeline_stats *st, stats_snapshot *snap)
{
    if (snap == NULL)
        return;
    pthread_mutex_lock(&st->lock);
    int drop = --snap->refs == 0;
    pthread_mutex_unlock(&st->lock);
    if (drop)
        snapshot_free(snap);
}
