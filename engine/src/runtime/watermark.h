/* Event-time watermarks over a source's partitions (docs/semantics.md section 4):
 * a partition's watermark is max(valid ts seen) - max_out_of_order; the
 * pipeline's is the minimum over partitions that have data and are neither
 * idle (no data for idle_timeout of wall clock), ended nor revoked. It never
 * goes back. */
#ifndef SLUICE_WATERMARK_H
#define SLUICE_WATERMARK_H

#include <stddef.h>
#include <stdint.h>

#include "sluice/plugin.h"

typedef struct wm_partition {
    int32_t id;
    int64_t max_ts;
    int64_t last_data_wall;       /* wall clock of its last event */
    uint8_t has_data, idle, gone; /* gone: ended or revoked */
    uint8_t assigned;             /* announced before its first event: holds the watermark back */
} wm_partition;

typedef struct wm_tracker {
    wm_partition *parts;
    size_t count, cap;
    int64_t max_out_of_order; /* ms */
    int64_t idle_timeout;     /* ms; <= 0 disables idleness */
    int64_t current;          /* the pipeline watermark */
    size_t min_index;         /* the partition holding the minimum, or SIZE_MAX */
    int64_t observed;         /* the watermark of the partition wm_observe last saw */
} wm_tracker;

void wm_init(wm_tracker *t, int64_t max_out_of_order, int64_t idle_timeout);
void wm_free(wm_tracker *t);
/* A valid event of `partition` at event time ts, seen at wall clock now.
 * Returns the pipeline watermark after it. */
int64_t wm_observe(wm_tracker *t, int32_t partition, int64_t ts, int64_t now);
/* The largest valid event time seen in the partition (SLUICE_TIME_MIN: none),
 * and setting it when a partition's task state is restored (or the
 * partition starts without any): a partition task's watermark is part of
 * its state. */
int64_t wm_partition_max_ts(wm_tracker *t, int32_t partition);
void wm_partition_restore(wm_tracker *t, int32_t partition, int64_t max_ts);
/* The tracker as a checkpoint holds it when the watermark is the process's
 * (no `key:`): the watermark, and each partition that has had data with its
 * largest event time and whether it was idle or gone, so that a restarted
 * pipeline judges lateness as an uninterrupted one would ("so far" spans
 * the restart, as Kafka Streams keeps a partition's stream time in its
 * commit). wm_save returns malloc'd bytes (NULL when out of memory);
 * wm_load counts idleness from wall clock now and returns -1 for bytes it
 * cannot read. */
void *wm_save(const wm_tracker *t, size_t *size);
int wm_load(wm_tracker *t, const void *data, size_t size, int64_t now);
/* Re-evaluate idleness at wall clock now; returns the pipeline watermark. */
int64_t wm_refresh(wm_tracker *t, int64_t now);
/* The partition is assigned at wall clock now: until its first event it
 * holds the watermark where it is (or until it idles, ends or is revoked). */
int64_t wm_partition_assigned(wm_tracker *t, int32_t partition, int64_t now);
/* The partition no longer counts (revoked by a rebalance, or ended). */
int64_t wm_partition_gone(wm_tracker *t, int32_t partition);
/* Saturating a - b for watermark arithmetic. */
int64_t wm_sub(int64_t a, int64_t b);
int64_t wm_add(int64_t a, int64_t b);

#endif
