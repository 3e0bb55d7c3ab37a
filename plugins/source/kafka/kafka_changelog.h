/* Partition task state in Kafka (engine side: engine/src/runtime/
 * partition_tasks.c). With `key:` on the source, the engine hands the source
 * the state of each input partition's task at checkpoints; the source writes
 * it to a changelog topic (option state_topic, default
 * "<group>.<step>.state"), in chunks under the message size limit, and when
 * the checkpoint commits the partition's offset, the commit's metadata
 * points at that state: "offset N" then means "state as of N", atomically,
 * as Kafka commits offset and metadata together. Whoever is assigned the
 * partition next reads the pointer with the committed offset
 * (rd_kafka_committed), reads the chunks back and hands them to the engine
 * before the partition's first message. A pointer whose chunks cannot be
 * read (deleted by retention, corrupt) is reported as data loss. */
#ifndef SLUICE_KAFKA_CHANGELOG_H
#define SLUICE_KAFKA_CHANGELOG_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

struct kafka_source;
struct kpart;

/* One partition's state written at one checkpoint. */
typedef struct kstate_save {
    uint64_t checkpoint_id;
    struct kpart *part;
    int32_t log_partition; /* of the changelog */
    uint32_t chunks, acked;
    int64_t first_offset;
    size_t size;
    uint64_t hash;
    int failed;
    char error[200];
} kstate_save;

typedef struct kchangelog {
    char *topic;
    rd_kafka_t *producer; /* idempotent, acks=all */
    rd_kafka_t *reader;   /* assigns changelog partitions to read state back */
    int32_t log_partitions;
    kstate_save **saves; /* in flight or awaiting their checkpoint's completion */
    size_t nsaves, cap;
    int64_t max_bytes; /* largest state of one partition (state_max_bytes) */
} kchangelog;

/* Make the producer and reader (`key:` is set: the engine asked for the
 * partition count). -1 with err. */
int kcl_open(struct kafka_source *s, char *err, size_t errsz);
void kcl_close(kchangelog *cl);
/* Write one partition's state for checkpoint id. -1 with err. */
int kcl_save(struct kafka_source *s, uint64_t id, struct kpart *part, const void *data, size_t size,
             char *err, size_t errsz);
/* Checkpoint id is complete in the engine: wait for its chunks to be
 * written, and set each saved partition's pointer (kpart.state_ptr). -1 when
 * any could not be written: the checkpoint must then commit nothing. */
int kcl_complete(struct kafka_source *s, uint64_t id);
/* Read back the state a partition's committed pointer names: 1 with
 * *data (malloc'd) and *size, 0 when it has no pointer, -1 with err (data
 * loss: the pointer names state that cannot be read). */
int kcl_load(struct kafka_source *s, const struct kpart *part, void **data, size_t *size, char *err,
             size_t errsz);

#endif
