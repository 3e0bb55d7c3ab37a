/* Where a kafka source is in each partition it has been assigned: the
 * offset after the last message it pushed to the host. These positions are
 * what checkpoints commit and what snapshots carry; the consumer's own
 * notion of position is never used, so nothing is committed that the host
 * has not been handed.
 *
 * Partitions get a sluice partition id (the stream the engine keeps a
 * watermark for): topic_index * 100000 + partition, where topic_index is the
 * topic's place in the `topics` option (topics met otherwise, e.g. through a
 * pattern, are numbered after them in the order they first appear). */
#ifndef SLUICE_KAFKA_POSITIONS_H
#define SLUICE_KAFKA_POSITIONS_H

#include <stddef.h>
#include <stdint.h>

#define KPOS_PARTITIONS_PER_TOPIC 100000
#define KPOS_SNAPSHOT_VERSION 1u

/* Messages fetched for a partition and not yet pushed, oldest first, with
 * their timestamps (the source interleaves partitions by them). The items
 * are the source's (librdkafka messages); this file only keeps them. */
typedef struct kpending {
    void **items;
    int64_t *ts;
    size_t head, len, cap;
} kpending;

typedef struct kpart {
    const char *topic; /* owned by the table */
    int32_t partition;
    int32_t id; /* sluice partition id */
    int assigned;
    uint32_t generation; /* bumped at each assignment, so a checkpoint taken
                          * before a revoke never commits for a later owner */
    int64_t next;        /* next offset to push; -1 unknown (committed offset applies) */
    int64_t start;       /* where it was (re)started: an offset or a logical one */
    int at_eof;          /* reached the end of the log at `next` (stop_at_end) */
    char *state_ptr;     /* partition tasks: where the task's state for the offset committed
                          * with it is (the commit's metadata; kafka_changelog.c), or NULL */
    char *origin;        /* "topic/partition@" followed by room for the offset */
    size_t origin_prefix;
    kpending pending;
    /* kafka_order.c's: position in the order (index + 1, 0 when out of it),
     * and the key it was placed by */
    size_t order_at;
    int64_t order_ts;
    uint64_t order_stamp;
} kpart;

typedef struct kpos_entry {
    kpart *part;
    uint32_t generation;
    int64_t offset;
} kpos_entry;

typedef struct kpos_checkpoint {
    uint64_t id;
    kpos_entry *entries;
    size_t count;
} kpos_checkpoint;

typedef struct kpos_restored {
    char *topic;
    int32_t partition;
    int64_t offset;
} kpos_restored;

typedef struct kpos_table {
    kpart **parts; /* pointers stay valid for the table's life */
    size_t count, cap;
    char **topics; /* by topic index */
    size_t ntopics;
    kpart *last;                  /* lookup cache: messages come in runs per partition */
    kpos_checkpoint *checkpoints; /* begun, not yet completed */
    size_t ncheckpoints;
    kpos_restored *restored; /* from a snapshot, applied at first assignment */
    size_t nrestored;
} kpos_table;

/* `topics`: the configured names, in order (they get indexes 0..n-1). */
int kpos_init(kpos_table *t, const char *const *topics, size_t n);
void kpos_free(kpos_table *t);

/* The partition's entry, created on first use; NULL when out of memory. */
kpart *kpos_get(kpos_table *t, const char *topic, int32_t partition);
/* The entry if it exists, else NULL (fast for repeated lookups). */
kpart *kpos_find(kpos_table *t, const char *topic, int32_t partition);
/* The partition with sluice partition id `id`, or NULL. */
kpart *kpos_find_id(kpos_table *t, int32_t id);
/* A topic's index, added when new; -1 when out of memory. */
long kpos_topic(kpos_table *t, const char *topic);

/* Restored offset for a partition (removed from the restored set), or -1. */
int64_t kpos_take_restored(kpos_table *t, const char *topic, int32_t partition);

/* Remember the positions of the assigned partitions under `id`; -1 on OOM. */
int kpos_checkpoint_begin(kpos_table *t, uint64_t id);
/* Checkpoint `id` completed: the entries still valid to commit (partition
 * still assigned in the same generation) are moved to the front of
 * cp->entries and counted in *valid. Returns NULL when `id` is unknown.
 * Release with kpos_checkpoint_done, which also drops older checkpoints. */
kpos_checkpoint *kpos_checkpoint_take(kpos_table *t, uint64_t id, size_t *valid);
void kpos_checkpoint_done(kpos_table *t, uint64_t id);

/* Append to / take from a partition's pending messages; push returns -1
 * when out of memory. */
int kpending_push(kpending *q, void *item, int64_t ts);
void *kpending_pop(kpending *q);
static inline int64_t kpending_head_ts(const kpending *q) { return q->ts[q->head]; }

/* Snapshot encoding (version KPOS_SNAPSHOT_VERSION, little-endian):
 *   u32 count, then per partition: u16 topic length, topic bytes,
 *   i32 partition, i64 next offset.
 * Known positions of assigned partitions, plus restored ones not yet
 * applied. Returns a buffer from alloc_fn, its size in *size. */
void *kpos_encode(const kpos_table *t, void *(*alloc_fn)(size_t), size_t *size);
/* Replace the restored set; -1 when the bytes are malformed. */
int kpos_decode(kpos_table *t, const void *data, size_t size);

#endif
