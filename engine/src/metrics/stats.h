/* What a running pipeline publishes for readers on other threads (the
 * /metrics endpoint, the terminal status line).
 *
 * Counters are plain int64s written by the pipeline's thread and its
 * workers, and a step's counter array is realloc'ed when a plugin makes a
 * new counter, so no other thread may read them. Instead the pipeline's
 * thread, between ticks (no worker runs then), copies everything a reader
 * needs into an immutable snapshot at most every STATS_PUBLISH_MS, and swaps
 * it in under a mutex. A reader takes a reference to the current snapshot
 * and renders it at leisure; the pipeline never waits for a reader beyond
 * the pointer swap. */
#ifndef SLUICE_STATS_H
#define SLUICE_STATS_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define STATS_PUBLISH_MS 250

/* Upper bounds (seconds) of the latency histograms' buckets; +Inf implied. */
#define STATS_NBUCKETS 14
extern const double stats_bucket_bounds[STATS_NBUCKETS];

typedef struct stats_histogram {
    uint64_t buckets[STATS_NBUCKETS]; /* non-cumulative: observations per bucket */
    uint64_t count;                   /* every observation, the +Inf bucket's included */
    double sum;                       /* seconds */
} stats_histogram;

void stats_histogram_observe(stats_histogram *h, double seconds);

typedef struct stats_counter {
    char *name;
    int64_t value;
    int gauge; /* set through counter_set */
} stats_counter;

typedef struct stats_step {
    char *name;
    int kind; /* sluice_kind */
    stats_counter *counters;
    size_t ncounters;
} stats_step;

typedef struct stats_snapshot {
    int refs; /* under the owning pipeline_stats' lock */
    char *pipeline;
    int64_t taken_ms;  /* wall clock */
    int64_t watermark; /* ms of event time; SLUICE_TIME_MIN none yet, SLUICE_TIME_MAX the input ended */
    int running;       /* 0 once the run loop is over */
    stats_step *steps; /* in topological order, the source first */
    size_t nsteps;
    stats_histogram batches;     /* downstream processing of each non-empty batch */
    stats_histogram checkpoints; /* from begin to completion */
    uint64_t checkpoints_done;
    int64_t last_checkpoint_ms; /* wall clock of the last completion, 0 none */
    size_t stages, tasks, threads;
    uint64_t *thread_events; /* [threads] */
} stats_snapshot;

struct pipeline;

/* One pipeline's publication point. The fields after `lock` belong to the
 * pipeline's thread. */
typedef struct pipeline_stats {
    pthread_mutex_t lock;
    stats_snapshot *current; /* NULL until the first publication */
    stats_histogram batches, checkpoints;
    uint64_t checkpoints_done;
    int64_t last_checkpoint_ms;
    uint64_t checkpoint_id;    /* the one being timed, 0 none */
    uint64_t checkpoints_seen; /* the pipeline's last begun id when last looked at */
    int64_t checkpoint_start_ns;
    int64_t last_publish_ms;
} pipeline_stats;

pipeline_stats *stats_new(void);
void stats_free(pipeline_stats *st);

/* Monotonic nanoseconds, for the hooks below. */
int64_t stats_clock_ns(void);

/* Hooks of the run loop, on the pipeline's thread between ticks; each does
 * nothing when p->stats is NULL. stats_tick: a tick is over; `events` the
 * source read in it, its downstream processing began at batch_start_ns;
 * publishes when the last publication is STATS_PUBLISH_MS old.
 * stats_checkpoint_begun: checkpoint_take was called at start_ns.
 * stats_finish: the run is over; publishes the final figures. */
void stats_tick(struct pipeline *p, int64_t batch_start_ns, uint64_t events);
void stats_checkpoint_begun(struct pipeline *p, int64_t start_ns);
void stats_finish(struct pipeline *p);

/* The latest snapshot with a reference taken (NULL before the first);
 * give it back with stats_release. Any thread. */
stats_snapshot *stats_acquire(pipeline_stats *st);
void stats_release(pipeline_stats *st, stats_snapshot *snap);

#endif
