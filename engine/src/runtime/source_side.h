/* The source side of a pipeline: where a source's messages become events
 * (decoded, validated, given sequence numbers and watermarks) or dead
 * letters, and the host functions a source calls (source_push, partition
 * events). The run loop (pipeline_run.c) uses it; it does not call back
 * into the run loop but through decode_round, which the loop sets. */
#ifndef SLUICE_SOURCE_SIDE_H
#define SLUICE_SOURCE_SIDE_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "event_decoder.h"
#include "record.h"
#include "sluice/plugin.h"
#include "watermark.h"

struct pipeline;

/* The source side: how messages become events and time. */
typedef struct source_side {
    int raw; /* event: raw — no decoding, no event time */
    event_config events;
    wm_tracker wm;
    uint64_t next_seq;
    int64_t tick_now; /* wall clock for this tick */
    int ended;
    struct sluice_counter *c_accepted;
    /* Messages the tick's records point into (zero copy), released at its end. */
    struct borrowed_message {
        void (*release)(void *);
        void *arg;
    } * borrowed;
    size_t nborrowed, borrowed_cap;
    /* With worker threads, messages wait here undecoded until the end of
     * poll (or a partition event): the workers decode them side by side,
     * then this thread takes them in order (decode_round.c). */
    struct pending_message {
        sluice_record *rec;
        uint64_t seq;
        size_t payload_len;
        event_verdict verdict;
    } * pending;
    size_t npending, pending_cap;
    struct decode_arena {
        _Alignas(64) arena a; /* a cache line of its own: one per worker */
    } * decode_arenas;        /* [threads]: what decoding a message allocates */
    /* Polling ahead (SLUICE_SOURCE_POLL_AHEAD): the next batch is read by
     * a helper thread while this tick runs, and waits in `ahead` until
     * the next tick takes it. Its messages live in msgs[ahead_side]; the
     * other side holds the current tick's, released when it ends. */
    struct pending_message *ahead;
    size_t nahead, ahead_cap;
    arena msgs[2];
    unsigned ahead_side;
    int polling_ahead;          /* inside such a poll */
    int has_ahead;              /* a batch polled ahead waits (its status at least) */
    sluice_status ahead_status; /* what that poll returned: the next tick's status */
    uint64_t ahead_seq;         /* the sequence number of its first message */
    uint64_t polls_ahead;       /* polls ahead that read something (the metrics' runtime) */
    /* Runs pending messages' decoding on the workers: set by the run loop,
     * which owns them (source_take_pending calls it). */
    void (*decode_round)(struct pipeline *p);
} source_side;

/* Hand every borrowed message of the tick back to the source. */
void source_release_borrowed(source_side *src);
/* The end of a tick: what its messages hold is released (not a batch
 * polled ahead). */
void source_end_tick(source_side *src);
/* The sequence number the next message taken in will have (a batch
 * polled ahead is not taken in yet), and that of the last (0 before any). */
uint64_t source_seq_taken(const source_side *src);
uint64_t source_last_seq(const source_side *src);
/* Poll the source for the next tick's batch now, from a worker thread,
 * while this tick is still running (SLUICE_SOURCE_POLL_AHEAD). The next
 * tick takes it. */
void source_poll_ahead(struct pipeline *p, size_t budget);
/* A source must not call back into the run loop from a poll ahead: it
 * runs on a helper thread while the pipeline's thread is inside a tick.
 * 0 (and the pipeline failed, naming `what`) when it did. */
int source_not_polling_ahead(struct pipeline *p, const char *what);
/* Decode what waits (in parallel) and take it in, in order. */
void source_take_pending(struct pipeline *p);
/* Decode pending messages [from, to) on this thread with arena a. */
void source_decode_range(struct pipeline *p, size_t from, size_t to, arena *a);

/* The host functions for sources (host_api.c puts them in the table). */
sluice_status source_push(sluice_ctx *ctx, const sluice_message *msg);
void source_partition_revoked(sluice_ctx *ctx, int32_t partition);
void source_partition_ended(sluice_ctx *ctx, int32_t partition);
void source_partition_assigned(sluice_ctx *ctx, int32_t partition);
sluice_status source_partition_state(sluice_ctx *ctx, int32_t partition, const void *data, size_t size,
                                     const char *error);
/* 1 when ctx is the pipeline's source; else the pipeline fails naming `what`. */
int source_called_by_source(sluice_ctx *ctx, const char *what);
/* In pipeline_run.c: it runs the pipeline from inside the source's poll. */
sluice_status source_checkpoint_now(sluice_ctx *ctx);

#endif
