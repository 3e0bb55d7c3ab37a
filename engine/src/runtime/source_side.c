/* Where a source's messages enter the engine: each is copied into the tick
 * arena (or, lent by the source, referenced until the tick ends), given its
 * sequence number, decoded and validated once
 * (docs/semantics.md section 1), and either queued on the source's main output
 * with the watermark after it, or turned into a dead letter on its
 * `rejected` output. Every message is counted exactly once: accepted, or
 * under one rejection reason. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deadletter.h"
#include "pipeline.h"

sluice_status source_push(sluice_ctx *ctx, const sluice_message *msg);
void source_partition_revoked(sluice_ctx *ctx, int32_t partition);
void source_partition_ended(sluice_ctx *ctx, int32_t partition);
void source_partition_assigned(sluice_ctx *ctx, int32_t partition);

/* Members a source built against ABI 1.0 always has. */
#define MESSAGE_MIN_SIZE (offsetof(sluice_message, timestamp_ms) + sizeof(int64_t))
#define MESSAGE_HAS(msg, member) \
    ((msg)->struct_size >= offsetof(sluice_message, member) + sizeof((msg)->member))

/* Take a zero-copy message: released with the tick. -1 when out of memory
 * (then released at once). */
static int borrow(source_side *src, const sluice_message *msg)
{
    if (src->nborrowed == src->borrowed_cap) {
        size_t cap = src->borrowed_cap ? 2 * src->borrowed_cap : 1024;
        struct borrowed_message *grown = realloc(src->borrowed, cap * sizeof *grown);
        if (grown == NULL) {
            msg->release(msg->release_arg);
            return -1;
        }
        src->borrowed = grown;
        src->borrowed_cap = cap;
    }
    src->borrowed[src->nborrowed++] = (struct borrowed_message){msg->release, msg->release_arg};
    return 0;
}

void source_release_borrowed(source_side *src)
{
    /* Counted down first: a release that re-entered would see none twice. */
    while (src->nborrowed > 0) {
        struct borrowed_message b = src->borrowed[--src->nborrowed];
        b.release(b.arg);
    }
}

static void queue(step *s, port *pt, sluice_record *rec, int64_t wm, uint64_t seq)
{
    if (pt->consumers == 0)
        return;
    items_push(&pt->queue, rec, wm, seq);
    if (wm > pt->last_wm)
        pt->last_wm = wm;
    /* The other output hears of the watermark too. */
    step_advance_ports(s, wm, seq);
}

sluice_status source_push(sluice_ctx *ctx, const sluice_message *msg)
{
    pipeline *p = ctx->p;
    step *s = ctx->s;
    source_side *src = &p->src;
    if (s != &p->steps[p->source]) {
        pipeline_fail(p, s->scope, "source_push called by a step that is not the source");
        return SLUICE_ERR;
    }
    int borrowed = msg != NULL && MESSAGE_HAS(msg, release_arg) && msg->release != NULL;
    if (borrowed && borrow(src, msg) != 0) {
        pipeline_fail(p, s->scope, "out of memory");
        return SLUICE_ERR_NOMEM;
    }
    if (msg == NULL || msg->struct_size < MESSAGE_MIN_SIZE || (msg->payload == NULL && msg->payload_len)) {
        pipeline_fail(p, s->scope, "source_push with a malformed sluice_message");
        return SLUICE_ERR;
    }
    arena *a = &p->tick_arena;
    uint64_t seq = src->next_seq++;
    sluice_record *rec = record_new(a);
    rec->seq = seq;
    rec->partition = msg->partition;
    rec->raw_len = (uint32_t)(msg->payload_len > UINT32_MAX ? UINT32_MAX : msg->payload_len);
    rec->raw = borrowed ? msg->payload : arena_memdup(a, msg->payload, rec->raw_len);
    if (msg->origin) {
        rec->origin = arena_memdup(a, msg->origin, msg->origin_len);
        rec->origin_len = (uint32_t)msg->origin_len;
    }
    if (MESSAGE_HAS(msg, key_len) && msg->key) {
        rec->key = borrowed ? msg->key : arena_memdup(a, msg->key, msg->key_len);
        rec->key_len = (uint32_t)msg->key_len;
    }
    s->c_out->value++; /* messages read */
    int64_t wm = src->wm.current;
    if (src->raw) {
        src->c_accepted->value++;
        queue(s, &s->ports[0], rec, wm, seq);
        return SLUICE_OK;
    }
    event_verdict v;
    if (msg->payload_len > UINT32_MAX) {
        v.reason = SLUICE_REASON_TOO_LARGE;
        snprintf(v.detail, sizeof v.detail, "message of %zu bytes", msg->payload_len);
    } else if (event_decode(&src->events, rec, src->tick_now, &v)) {
        wm = wm_observe(&src->wm, msg->partition < 0 ? 0 : msg->partition, rec->time, src->tick_now);
        rec->watermark = wm;
        src->c_accepted->value++;
        queue(s, &s->ports[0], rec, wm, seq);
        return SLUICE_OK;
    }
    char name[96];
    snprintf(name, sizeof name, "rejected.%s", v.reason);
    step_counter(s, name)->value++;
    port *rejected = &s->ports[1];
    if (rejected->consumers) {
        sluice_record *dl = deadletter_make(a, v.reason, v.detail, (sluice_str){rec->origin, rec->origin_len},
                                            (sluice_str){rec->raw, rec->raw_len});
        queue(s, rejected, dl, wm, seq);
    }
    return SLUICE_OK;
}

static void partition_gone(sluice_ctx *ctx, int32_t partition)
{
    pipeline *p = ctx->p;
    if (p->src.raw)
        return;
    int64_t before = p->src.wm.current;
    int64_t wm = wm_partition_gone(&p->src.wm, partition);
    if (wm > before)
        step_advance_ports(&p->steps[p->source], wm, p->src.next_seq ? p->src.next_seq - 1 : 0);
}

void source_partition_revoked(sluice_ctx *ctx, int32_t partition) { partition_gone(ctx, partition); }
void source_partition_ended(sluice_ctx *ctx, int32_t partition) { partition_gone(ctx, partition); }

void source_partition_assigned(sluice_ctx *ctx, int32_t partition)
{
    pipeline *p = ctx->p;
    if (!p->src.raw)
        wm_partition_assigned(&p->src.wm, partition, p->src.tick_now);
}
