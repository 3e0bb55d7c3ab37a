/* The kafka source's instance, shared by its files:
 *   kafka_source.c  options, create/destroy, checkpoints and snapshots
 *   kafka_group.c   the consumer group: assignments, start offsets, commits
 *   kafka_fetch.c   poll(): reading, interleaving partitions, lost data
 *   kafka_changelog.c  partition task state in a changelog topic (key:)
 *   kafka_exchange.c   the exchange through the broker (a repartition topic) */
#ifndef SLUICE_KAFKA_SOURCE_H
#define SLUICE_KAFKA_SOURCE_H

#include <sluice/plugin.h>

#include <librdkafka/rdkafka.h>

#include "kafka_changelog.h"
#include "kafka_config.h"
#include "kafka_order.h"
#include "kafka_positions.h"

#define COMMITTED_TIMEOUT_MS 10000 /* asking the group for committed offsets */
#define WATERMARK_TIMEOUT_MS 5000  /* asking a leader for its log start */
#define COMMIT_WAIT_MS 5000        /* longest a checkpoint waits for its commit */

typedef struct kafka_source {
    kc_host host; /* first: the librdkafka opaque */
    rd_kafka_t *rk;
    rd_kafka_queue_t *queue;        /* messages, rebalances, errors, logs */
    rd_kafka_queue_t *commit_queue; /* commit outcomes */
    int commits_in_flight;
    kpos_table pos;
    int start_latest;
    int stop_at_end;
    int assignment_seen; /* a first assignment happened (stop_at_end waits for it) */
    int ended;
    int closing;          /* in destroy: the host no longer hears of partitions */
    int reassign;         /* a partition must restart at a new offset: assign again */
    size_t pending_total; /* messages fetched, not yet pushed, over all partitions */
    size_t pending_cap;
    korder order;          /* partitions with pending messages, oldest first */
    int64_t align_wait_ms; /* longest a lagging partition holds the others back */
    int64_t lagging_since; /* wall clock when one began to, or 0 */
    uint64_t pushed;       /* messages handed to the host */
    int64_t first_push_ms; /* wall clock of the first */
    rd_kafka_message_t **batch;
    size_t batch_cap;
    sluice_counter *c_loss_messages, *c_loss_events, *c_commits, *c_commit_failures;
    sluice_counter *c_changelog_states, *c_changelog_bytes; /* task states written to the changelog */
    int64_t lag_reported_ms;                                /* wall clock of the last consumer lag report */
    const sluice_options *opts;
    int tasks;     /* partition tasks (the engine asked for partition_count) */
    kchangelog cl; /* where their state goes */
    int32_t input_partitions;
    rd_kafka_topic_partition_list_t *subscription; /* subscribed at the first poll */
    char *exchange_topic;                          /* kafka_exchange.c; NULL none */
    rd_kafka_queue_t *exchange_queue;              /* its partitions' messages */
    int32_t exchange_partitions;
    int exchange_failed; /* a write to it was lost: no checkpoint may commit */
    unsigned exchange_unpolled;
    int input_ended_told; /* stop_at_end: the host was told every input partition ended */
} kafka_source;

/* kafka_group.c */
void kgroup_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts,
                         void *opaque);
/* Restart fetching every assigned partition at its position. */
void kgroup_reassign(kafka_source *s);
/* Commit the positions of checkpoint `id`, waiting a bounded time. */
void kgroup_commit(kafka_source *s, uint64_t id);
/* Wait for commits still in flight (destroy). */
void kgroup_drain_commits(kafka_source *s);
/* Forget a partition's fetched, unpushed messages. */
void kgroup_drop_pending(kafka_source *s, kpart *p);
/* Free a pending message (kafka_fetch.c copies them out of librdkafka). */
void kfetch_free_held(void *held);

/* kafka_exchange.c */
int32_t kx_open(kafka_source *s, const char *name, int32_t *first_partition);
sluice_status kx_send(kafka_source *s, int32_t partition, const void *key, size_t key_len, const void *value,
                      size_t value_len);
/* Is p a partition of the exchange? */
int kx_is_exchange(const kafka_source *s, const kpart *p);
/* The exchange's partitions among those just assigned read into a queue of
 * their own (kafka_exchange.c says why). */
void kx_assigned(kafka_source *s, const rd_kafka_topic_partition_list_t *parts);

/* kafka_fetch.c */
sluice_status kfetch_poll(kafka_source *s, size_t budget, int timeout_ms);

#endif
