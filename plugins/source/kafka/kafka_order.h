/* The order in which the kafka source hands fetched messages to the engine:
 * always the partition whose next pending message has the oldest Kafka
 * timestamp, so that partitions advance together in event time and a
 * partition read ahead of the others does not make their events late.
 * Among equal timestamps, the partition served longest ago goes first
 * (round robin).
 *
 * A binary min-heap of the partitions with pending messages: O(log P) per
 * message instead of a scan of every partition (bench/run reads 112). */
#ifndef SLUICE_KAFKA_ORDER_H
#define SLUICE_KAFKA_ORDER_H

#include <stddef.h>
#include <stdint.h>

#include "kafka_positions.h"

typedef struct korder {
    kpart **heap;
    size_t len, cap;
    uint64_t clock; /* stamps each (re)entry: the tie-break among equal timestamps */
} korder;

void korder_free(korder *o);
/* p's pending list changed at its head (a message taken, the first one
 * added, or all dropped): p enters, moves in or leaves the order. Returns -1
 * when out of memory (p is then not in the order). */
int korder_update(korder *o, kpart *p);
/* The partition to take the next message from, or NULL when none has one. */
static inline kpart *korder_next(const korder *o) { return o->len ? o->heap[0] : NULL; }

#endif
