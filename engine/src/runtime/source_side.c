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
#include "xalloc.h"

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
        struct borrowed_message *grown = xrealloc(src->borrowed, cap * sizeof *grown);
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

void source_end_tick(source_side *src)
{
    source_release_borrowed(src);
    arena_reset(&src->msgs[src->ahead_side ^ 1]);
}

uint64_t source_seq_taken(const source_side *src) { return src->has_ahead ? src->ahead_seq : src->next_seq; }

uint64_t source_last_seq(const source_side *src)
{
    uint64_t next = source_seq_taken(src);
    return next ? next - 1 : 0;
}

/* A message pushed: where it waits to be decoded. NULL when out of memory. */
static struct pending_message *pending_add(struct pending_message **v, size_t *n, size_t *cap)
{
    if (*n == *cap) {
        size_t grown_cap = *cap ? 2 * *cap : 1024;
        struct pending_message *grown = xrealloc(*v, grown_cap * sizeof *grown);
        if (grown == NULL)
            return NULL;
        *v = grown;
        *cap = grown_cap;
    }
    return &(*v)[(*n)++];
}

void source_poll_ahead(pipeline *p, size_t budget)
{
    source_side *src = &p->src;
    step *s = &p->steps[p->source];
    src->ahead_seq = src->next_seq;
    src->polling_ahead = 1;
    sluice_status st = s->plugin->desc.poll(&host_api, &s->ctx, s->self, budget, 0);
    src->polling_ahead = 0;
    src->ahead_status = st;
    /* Nothing read and nothing to tell: the next tick polls as usual. */
    src->has_ahead = st != SLUICE_OK || src->nahead > 0;
    src->polls_ahead += src->nahead > 0;
}

/* The batch polled ahead becomes the tick's: its messages, and its arena
 * (released when this tick ends). */
static void take_ahead(source_side *src)
{
    struct pending_message *v = src->pending;
    size_t cap = src->pending_cap;
    src->pending = src->ahead;
    src->pending_cap = src->ahead_cap;
    src->npending = src->nahead;
    src->ahead = v;
    src->ahead_cap = cap;
    src->nahead = 0;
    src->ahead_side ^= 1;
    src->has_ahead = 0;
    src->ahead_status = SLUICE_OK;
}

int source_not_polling_ahead(pipeline *p, const char *what)
{
    if (!p->src.polling_ahead)
        return 1;
    pipeline_fail(p, p->steps[p->source].scope,
                  "%s called from a poll ahead: a source that declares SLUICE_SOURCE_POLL_AHEAD must not "
                  "call it from poll() (docs/plugin-abi.md)",
                  what);
    return 0;
}

static void take(pipeline *p, sluice_record *rec, uint64_t seq, size_t payload_len, event_verdict *verdict);

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
    int lent = msg != NULL && MESSAGE_HAS(msg, release_arg) && msg->release != NULL;
    /* Read ahead: the message is kept past this tick's end in its own
     * arena, and lent bytes are copied and handed back at once (the tick
     * still holds what the source lent it). */
    int ahead = src->polling_ahead, borrowed = lent && !ahead;
    if (borrowed && borrow(src, msg) != 0) {
        pipeline_fail(p, s->scope, "out of memory");
        return SLUICE_ERR_NOMEM;
    }
    if (msg == NULL || msg->struct_size < MESSAGE_MIN_SIZE || (msg->payload == NULL && msg->payload_len)) {
        if (lent && ahead)
            msg->release(msg->release_arg);
        pipeline_fail(p, s->scope, "source_push with a malformed sluice_message");
        return SLUICE_ERR;
    }
    arena *a = ahead ? &src->msgs[src->ahead_side] : &p->tick_arena;
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
    if (lent && ahead)
        msg->release(msg->release_arg);
    if (exchange_has_partition(p, msg->partition)) { /* counted as the exchange's */
        exchange_take(p, rec, seq);
        return p->failed ? SLUICE_ERR : SLUICE_OK;
    }
    s->c_out->value++; /* messages read */
    if (src->raw) {
        src->c_accepted->value++;
        queue(s, &s->ports[0], rec, src->wm.current, seq);
        return SLUICE_OK;
    }
    if (src->decode_arenas != NULL) { /* decoded later, by the workers */
        struct pending_message *pm = ahead ? pending_add(&src->ahead, &src->nahead, &src->ahead_cap)
                                           : pending_add(&src->pending, &src->npending, &src->pending_cap);
        if (pm == NULL) {
            pipeline_fail(p, s->scope, "out of memory");
            return SLUICE_ERR_NOMEM;
        }
        pm->rec = rec;
        pm->seq = seq;
        pm->payload_len = msg->payload_len;
        return SLUICE_OK;
    }
    event_verdict v = {NULL, ""};
    if (msg->payload_len <= UINT32_MAX)
        event_decode(&src->events, rec, src->tick_now, &v);
    take(p, rec, seq, msg->payload_len, &v);
    return SLUICE_OK;
}

void source_decode_range(pipeline *p, size_t from, size_t to, arena *a)
{
    source_side *src = &p->src;
    for (size_t i = from; i < to; i++) {
        struct pending_message *pm = &src->pending[i];
        if (pm->payload_len > UINT32_MAX)
            continue;
        pm->rec->arena = a; /* fields and unescaped strings: this thread's */
        event_decode(&src->events, pm->rec, src->tick_now, &pm->verdict);
    }
}

void source_take_pending(pipeline *p)
{
    source_side *src = &p->src;
    if (src->has_ahead)
        take_ahead(src);
    if (src->npending == 0)
        return;
    src->decode_round(p);
    for (size_t i = 0; i < src->npending; i++) {
        struct pending_message *pm = &src->pending[i];
        take(p, pm->rec, pm->seq, pm->payload_len, &pm->verdict);
    }
    src->npending = 0;
}

/* A decoded message, in stream order: counted, its watermark observed, and
 * queued as an event or a dead letter. */
static void take(pipeline *p, sluice_record *rec, uint64_t seq, size_t payload_len, event_verdict *verdict)
{
    source_side *src = &p->src;
    step *s = &p->steps[p->source];
    int64_t wm = src->wm.current;
    event_verdict large;
    const event_verdict *v = verdict;
    if (payload_len > UINT32_MAX) {
        large.reason = SLUICE_REASON_TOO_LARGE;
        snprintf(large.detail, sizeof large.detail, "message of %zu bytes", payload_len);
        v = &large;
    } else if (v->reason == NULL) {
        wm = wm_observe(&src->wm, rec->partition < 0 ? 0 : rec->partition, rec->time, src->tick_now);
        rec->watermark = rec->pipeline_wm = wm;
        rec->partition_wm = src->wm.observed;
        src->c_accepted->value++;
        queue(s, &s->ports[0], rec, wm, seq);
        return;
    }
    char name[96];
    snprintf(name, sizeof name, "rejected.%s", v->reason);
    step_counter(s, name)->value++;
    port *rejected = &s->ports[1];
    if (rejected->consumers) {
        sluice_record *dl =
            deadletter_make(&p->tick_arena, v->reason, v->detail, (sluice_str){rec->origin, rec->origin_len},
                            (sluice_str){rec->raw, rec->raw_len});
        queue(s, rejected, dl, wm, seq);
    }
}

/* 0 when the call was refused (from a poll ahead). */
static int partition_gone(sluice_ctx *ctx, int32_t partition, const char *what)
{
    pipeline *p = ctx->p;
    if (!source_not_polling_ahead(p, what))
        return 0;
    if (p->src.raw || exchange_has_partition(p, partition))
        return 1;           /* the exchange's partitions have no event time */
    source_take_pending(p); /* the messages before this point come first */
    int64_t before = p->src.wm.current;
    int64_t wm = wm_partition_gone(&p->src.wm, partition);
    if (wm > before)
        step_advance_ports(&p->steps[p->source], wm, source_last_seq(&p->src));
    return 1;
}

void source_partition_revoked(sluice_ctx *ctx, int32_t partition)
{
    if (!partition_gone(ctx, partition, "source_partition_revoked"))
        return;
    pipeline *p = ctx->p;
    /* Its state lives on with its next owner: this task starts afresh. */
    long t = p->by_partition ? exchange_task_of(p, partition) : -1;
    if (t >= 0 && (size_t)t < p->ntasks)
        partition_task_reset(p, (size_t)t);
}
void source_partition_ended(sluice_ctx *ctx, int32_t partition)
{
    (void)partition_gone(ctx, partition, "source_partition_ended");
}

int source_called_by_source(sluice_ctx *ctx, const char *what)
{
    pipeline *p = ctx->p;
    if (ctx->s == &p->steps[p->source])
        return 1;
    pipeline_fail(p, ctx->s->scope, "%s called by a step that is not the source", what);
    return 0;
}

sluice_status source_partition_state(sluice_ctx *ctx, int32_t partition, const void *data, size_t size,
                                     const char *error)
{
    pipeline *p = ctx->p;
    if (!source_called_by_source(ctx, "source_partition_state") ||
        !source_not_polling_ahead(p, "source_partition_state"))
        return SLUICE_ERR;
    if (!p->by_partition)
        return SLUICE_OK; /* without key:, state is the process's (state_dir) */
    if (partition < 0) {
        pipeline_fail(p, ctx->s->scope, "source_partition_state with partition %d", (int)partition);
        return SLUICE_ERR;
    }
    source_take_pending(p); /* messages of its last owner's era come first */
    return partition_task_restore(p, (size_t)partition, data, size, error);
}

void source_partition_assigned(sluice_ctx *ctx, int32_t partition)
{
    pipeline *p = ctx->p;
    if (!source_not_polling_ahead(p, "source_partition_assigned") || p->src.raw ||
        exchange_has_partition(p, partition))
        return;
    source_take_pending(p);
    wm_partition_assigned(&p->src.wm, partition, p->src.tick_now);
}
