/* The table of functions every plugin receives: the whole of what a plugin
 * can do to the engine. */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "clock.h"
#include "deadletter.h"
#include "json_scan.h"
#include "log.h"
#include "options.h"
#include "pipeline.h"
#include "step_validate.h"
#include "xalloc.h"

/* --- logging and memory ------------------------------------------------ */

static void api_log(sluice_ctx *ctx, sluice_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(level, ctx ? ctx->s->scope : NULL, fmt, ap);
    va_end(ap);
}

static void *api_alloc(size_t size) { return xmalloc(size ? size : 1); /* never NULL: xalloc.h */ }

static void api_free(void *ptr) { free(ptr); }

static const char *api_step_name(sluice_ctx *ctx) { return ctx->s->def->name; }

/* --- batches -------------------------------------------------------------- */

static const sluice_record *api_batch_next(sluice_batch *b)
{
    sluice_ctx *ctx = b->ctx;
    if (b->pos > 0)
        step_advance_ports(ctx->s, ctx->cur_wm, ctx->cur_seq);
    while (b->pos < b->n && b->items[b->pos].rec == NULL)
        b->pos++; /* markers that moved nothing stay inside a segment */
    if (b->pos >= b->n)
        return NULL;
    const item *it = &b->items[b->pos++];
    ctx->cur_wm = it->wm;
    ctx->cur_seq = it->seq;
    /* Records may be shared by fan-out consumers; the stamp is the item's and
     * is written right before each delivery. Mostly it is there already:
     * not writing it then keeps tasks on other threads, reading records
     * next to this one, from losing their cache lines; and a step running
     * beside the tasks reads a record with the stamp they read it with
     * (pipeline_run.c, run_downstream), so no two threads write it. */
    if (it->rec->watermark != it->wm)
        it->rec->watermark = it->wm;
    if (it->rec->seq != it->seq)
        it->rec->seq = it->seq;
    return it->rec;
}

static size_t api_batch_size(const sluice_batch *b) { return b->n; }

static const sluice_record *api_batch_peek(const sluice_batch *b, size_t k)
{
    for (size_t i = b->pos; i < b->n; i++) {
        if (b->items[i].rec == NULL)
            continue;
        if (k-- == 0)
            return b->items[i].rec;
    }
    return NULL;
}

/* --- reading records ---------------------------------------------------- */

static const field *lookup(const sluice_record *rec, const char *name)
{
    return record_find(rec, name, strlen(name));
}

static sluice_type api_field_type(const sluice_record *rec, const char *name)
{
    const field *f = lookup(rec, name);
    return f ? (sluice_type)f->type : SLUICE_TYPE_NONE;
}

static int api_field_string(const sluice_record *rec, const char *name, sluice_str *out)
{
    const field *f = lookup(rec, name);
    if (f == NULL || f->type != SLUICE_TYPE_STRING)
        return 0;
    out->ptr = f->text;
    out->len = f->len;
    return 1;
}

static int api_field_int(const sluice_record *rec, const char *name, int64_t *out)
{
    const field *f = lookup(rec, name);
    if (f == NULL || f->type != SLUICE_TYPE_INT)
        return 0;
    *out = f->v.i;
    return 1;
}

static int api_field_double(const sluice_record *rec, const char *name, double *out)
{
    const field *f = lookup(rec, name);
    if (f && f->type == SLUICE_TYPE_DOUBLE) {
        *out = f->v.d;
        return 1;
    }
    if (f && f->type == SLUICE_TYPE_INT) {
        *out = (double)f->v.i;
        return 1;
    }
    return 0;
}

static int api_field_bool(const sluice_record *rec, const char *name, int *out)
{
    const field *f = lookup(rec, name);
    if (f == NULL || f->type != SLUICE_TYPE_BOOL)
        return 0;
    *out = f->v.b;
    return 1;
}

_Thread_local arena *host_thread_arena;

/* Where text made from a received record for the caller goes: the calling
 * task's arena, as the record itself may be read by several tasks at once. */
static arena *scratch_arena(const sluice_record *rec)
{
    return host_thread_arena ? host_thread_arena : rec->arena;
}

/* A field's value as JSON text, in the caller's arena. */
static int api_field_json(const sluice_record *rec, const char *name, sluice_str *out)
{
    const field *f = lookup(rec, name);
    if (f == NULL)
        return 0;
    char *buf;
    switch ((sluice_type)f->type) {
    case SLUICE_TYPE_STRING:
        buf = arena_alloc(scratch_arena(rec), (size_t)f->len * 6 + 2);
        out->len = json_escape_string(buf, f->text, f->len);
        out->ptr = buf;
        return 1;
    case SLUICE_TYPE_NULL:
        *out = (sluice_str){"null", 4};
        return 1;
    case SLUICE_TYPE_BOOL:
        *out = f->v.b ? (sluice_str){"true", 4} : (sluice_str){"false", 5};
        return 1;
    case SLUICE_TYPE_INT:
    case SLUICE_TYPE_DOUBLE:
    case SLUICE_TYPE_JSON:
        if (f->text) {
            out->ptr = f->text;
            out->len = f->len;
            return 1;
        }
        buf = arena_alloc(scratch_arena(rec), 32);
        out->len =
            f->type == SLUICE_TYPE_INT ? json_format_int(buf, f->v.i) : json_format_double(buf, f->v.d);
        out->ptr = buf;
        return 1;
    case SLUICE_TYPE_NONE:
        break;
    }
    return 0;
}

static size_t api_field_count(const sluice_record *rec) { return rec->nfields; }

static int api_field_at(const sluice_record *rec, size_t i, sluice_str *name, sluice_type *type)
{
    if (i >= rec->nfields)
        return 0;
    name->ptr = rec->fields[i].name;
    name->len = rec->fields[i].name_len;
    *type = (sluice_type)rec->fields[i].type;
    return 1;
}

static int64_t api_record_time(const sluice_record *rec) { return rec->time; }
static int64_t api_record_watermark(const sluice_record *rec) { return rec->watermark; }

static int64_t api_record_lateness_watermark(sluice_ctx *ctx, const sluice_record *rec)
{
    if (ctx->p->by_partition && rec->time != SLUICE_TIME_MIN && rec->partition >= 0)
        return rec->partition_wm;
    return rec->watermark;
}

static int api_record_role(const sluice_record *rec, sluice_role role, sluice_str *out, uint64_t *hash)
{
    if ((unsigned)role >= SLUICE_ROLE_COUNT_ || !(rec->role_present & (1u << role)))
        return 0;
    if (out)
        *out = rec->roles[role];
    if (hash)
        *hash = rec->role_hash[role];
    return 1;
}

static sluice_str api_record_raw(const sluice_record *rec)
{
    return (sluice_str){rec->raw, rec->raw ? rec->raw_len : 0};
}

static sluice_str api_record_origin(const sluice_record *rec)
{
    return (sluice_str){rec->origin, rec->origin ? rec->origin_len : 0};
}

static int api_record_json(const sluice_record *rec, sluice_str *out)
{
    if (rec->json_wanted != NULL && !atomic_load_explicit(rec->json_wanted, memory_order_relaxed))
        atomic_store_explicit(rec->json_wanted, 1, memory_order_relaxed);
    *out = json_write_record(rec, scratch_arena(rec));
    return 1;
}

static sluice_str api_record_key(const sluice_record *rec)
{
    return (sluice_str){rec->key, rec->key ? rec->key_len : 0};
}

/* --- making records ---------------------------------------------------- */

static sluice_record *api_record_new(sluice_ctx *ctx)
{
    sluice_record *rec = record_new(ctx->arena);
    rec->modified = 1;
    return rec;
}

static sluice_record *api_record_copy(sluice_ctx *ctx, const sluice_record *rec)
{
    arena *a = ctx->arena;
    sluice_record *copy = arena_memdup(a, rec, sizeof *rec);
    copy->arena = a;
    copy->fields = rec->nfields ? arena_memdup(a, rec->fields, rec->nfields * sizeof(field)) : NULL;
    copy->cap = rec->nfields;
    return copy;
}

static void api_set_string(sluice_record *rec, const char *name, const char *ptr, size_t len)
{
    field *f = record_set(rec, name);
    f->type = SLUICE_TYPE_STRING;
    f->text = arena_memdup(rec->arena, ptr, len);
    f->len = (uint32_t)len;
}

static void api_set_int(sluice_record *rec, const char *name, int64_t value)
{
    field *f = record_set(rec, name);
    f->type = SLUICE_TYPE_INT;
    f->v.i = value;
}

static void api_set_double(sluice_record *rec, const char *name, double value)
{
    field *f = record_set(rec, name);
    f->type = SLUICE_TYPE_DOUBLE;
    f->v.d = value;
}

static void api_set_bool(sluice_record *rec, const char *name, int value)
{
    field *f = record_set(rec, name);
    f->type = SLUICE_TYPE_BOOL;
    f->v.b = value != 0;
}

static void api_set_null(sluice_record *rec, const char *name)
{
    field *f = record_set(rec, name);
    f->type = SLUICE_TYPE_NULL;
}

static void api_set_json(sluice_record *rec, const char *name, const char *json, size_t len)
{
    field *f = record_set(rec, name);
    f->type = SLUICE_TYPE_JSON;
    f->text = arena_memdup(rec->arena, json, len);
    f->len = (uint32_t)len;
}

static void api_set_key(sluice_record *rec, const char *ptr, size_t len)
{
    rec->key = arena_memdup(rec->arena, ptr, len);
    rec->key_len = (uint32_t)len;
}

/* --- emitting ----------------------------------------------------------- */

static sluice_status api_emit(sluice_ctx *ctx, const char *output, const sluice_record *rec)
{
    step *s = ctx->s;
    port *pt = output == NULL ? &s->ports[0] : step_port(s, output);
    if (pt == NULL) {
        pipeline_fail(ctx->p, s->scope, "emit to undeclared output '%s'", output);
        return SLUICE_ERR;
    }
    if (pt == &s->ports[0] && s->c_out)
        s->c_out->value++;
    if (pt->consumers == 0)
        return SLUICE_OK;
    /* Only a record made here (in this task's arena): its first emission. */
    if (pt->json_wanted_at != NULL && rec->modified && rec->json_wanted == NULL)
        ((sluice_record *)rec)->json_wanted = pt->json_wanted_at;
    items_push(&pt->queue, (sluice_record *)rec, ctx->cur_wm, ctx->cur_seq);
    if (ctx->cur_wm > pt->last_wm)
        pt->last_wm = ctx->cur_wm;
    return SLUICE_OK;
}

/* A reason becomes a counter name and a dead-letter field: [a-z][a-z0-9_]{0,62}. */
static int valid_reason(const char *r)
{
    if (r == NULL || !(*r >= 'a' && *r <= 'z'))
        return 0;
    size_t n = 0;
    for (; r[n]; n++)
        if (!((r[n] >= 'a' && r[n] <= 'z') || (r[n] >= '0' && r[n] <= '9') || r[n] == '_') || n >= 63)
            return 0;
    return 1;
}

static sluice_status api_reject(sluice_ctx *ctx, const sluice_record *rec, const char *reason,
                                const char *detail)
{
    step *s = ctx->s;
    if (!valid_reason(reason)) {
        pipeline_fail(ctx->p, s->scope,
                      "plugin bug: %s '%s' rejected a record with reason '%.80s', which is not 1 to 63 of "
                      "[a-z0-9_] starting with a letter",
                      plugin_kind_name(s->plugin->desc.kind), s->plugin->desc.name,
                      reason ? reason : "(null)");
        return SLUICE_ERR;
    }
    char name[96];
    snprintf(name, sizeof name, "rejected.%s", reason);
    step_counter(s, name)->value++;
    port *pt = step_port(s, "rejected");
    if (pt == NULL || pt->consumers == 0)
        return SLUICE_OK;
    sluice_record *dl =
        deadletter_make(ctx->arena, reason, detail, (sluice_str){rec->origin, rec->origin_len},
                        (sluice_str){rec->raw, rec->raw_len});
    dl->json_wanted = pt->json_wanted_at;
    items_push(&pt->queue, dl, ctx->cur_wm, ctx->cur_seq);
    if (ctx->cur_wm > pt->last_wm)
        pt->last_wm = ctx->cur_wm;
    return SLUICE_OK;
}

/* --- sources --------------------------------------------------------------- */

/* The sources' functions are in source_side.h (and pipeline_run.c). */

/* --- time ------------------------------------------------------------------ */

static int64_t api_now_ms(sluice_ctx *ctx)
{
    (void)ctx;
    return clock_wall_ms();
}

static void api_timer_set(sluice_ctx *ctx, int64_t due_ms) { ctx->s->timer_due = due_ms > 0 ? due_ms : 1; }

static int64_t api_current_watermark(sluice_ctx *ctx) { return ctx->cur_wm; }

/* --- counters ---------------------------------------------------------- */

static sluice_counter *api_counter(sluice_ctx *ctx, const char *name) { return step_counter(ctx->s, name); }
static void api_counter_add(sluice_counter *c, int64_t delta) { c->value += delta; }
static void api_counter_set(sluice_counter *c, int64_t value)
{
    c->value = value;
    c->gauge = 1;
}

/* --- failure and acknowledgements ---------------------------------------- */

static void api_fail(sluice_ctx *ctx, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pipeline_fail(ctx->p, ctx->s->scope, "%s", msg);
}

static void api_sink_ack(sluice_ctx *ctx, uint64_t checkpoint_id)
{
    if (checkpoint_id > ctx->s->acked_checkpoint)
        ctx->s->acked_checkpoint = checkpoint_id;
}

static void api_sink_set_async(sluice_ctx *ctx) { ctx->s->async_sink = 1; }

static const char *api_embedded_kafka(sluice_ctx *ctx, char *err, size_t errsz)
{
    (void)ctx;
    return broker_embedded_bootstraps(err, errsz);
}

static int api_source_exchange_pending(sluice_ctx *ctx)
{
    if (!source_called_by_source(ctx, "source_exchange_pending"))
        return 0;
    return exchange_pending(ctx->p);
}

static int32_t api_step_part(sluice_ctx *ctx, uint32_t *task, uint32_t *ntasks)
{
    const pipeline *p = ctx->p;
    size_t t = ctx->task ? ctx->task->index : 0, n = ctx->task ? p->ntasks : 1;
    if (ctx->task && p->xchg.on) { /* the input's tasks, or the exchange's (exchange.c) */
        int theirs = ctx->s->remote;
        t = theirs ? t - p->xchg.ninput : t;
        n = theirs ? p->xchg.nparts : p->xchg.ninput;
    }
    if (task)
        *task = (uint32_t)t;
    if (ntasks)
        *ntasks = (uint32_t)n;
    return (int32_t)ctx->s->part - 1;
}

static void api_step_counters(sluice_ctx *ctx, const char *step, const char *prefix,
                              void (*fn)(void *ud, const char *name, int64_t value), void *ud)
{
    pipeline *p = ctx->p;
    if (ctx->task != NULL || fn == NULL) /* workers may be counting: see plugin.h */
        return;
    size_t i = p->source;
    if (step != NULL) {
        for (i = 0; i < p->nsteps && strcmp(p->steps[i].def->name, step) != 0; i++)
            ;
        if (i == p->nsteps)
            return;
    }
    if (p->overlapping && p->steps[i].stage) /* its tasks are counting right now */
        return;
    counter_total *totals;
    size_t n = pipeline_step_totals(p, i, &totals);
    size_t plen = prefix ? strlen(prefix) : 0;
    for (size_t k = 0; k < n; k++)
        if (plen == 0 || strncmp(totals[k].name, prefix, plen) == 0)
            fn(ud, totals[k].name, totals[k].value);
    free(totals);
}

const sluice_host_api host_api = {
    .struct_size = sizeof(sluice_host_api),
    .abi_version = SLUICE_ABI_VERSION,
    .log = api_log,
    .alloc = api_alloc,
    .free = api_free,
    .opt_string = options_string,
    .opt_int = options_int,
    .opt_double = options_double,
    .opt_bool = options_bool,
    .opt_duration_ms = options_duration_ms,
    .opt_is_set = options_is_set,
    .opt_count = options_count,
    .opt_entry = options_entry,
    .step_name = api_step_name,
    .batch_next = api_batch_next,
    .batch_size = api_batch_size,
    .field_type = api_field_type,
    .field_string = api_field_string,
    .field_int = api_field_int,
    .field_double = api_field_double,
    .field_bool = api_field_bool,
    .field_json = api_field_json,
    .field_count = api_field_count,
    .field_at = api_field_at,
    .record_time = api_record_time,
    .record_watermark = api_record_watermark,
    .record_role = api_record_role,
    .record_raw = api_record_raw,
    .record_origin = api_record_origin,
    .record_json = api_record_json,
    .record_key = api_record_key,
    .record_new = api_record_new,
    .set_string = api_set_string,
    .set_int = api_set_int,
    .set_double = api_set_double,
    .set_bool = api_set_bool,
    .set_null = api_set_null,
    .set_json = api_set_json,
    .set_key = api_set_key,
    .emit = api_emit,
    .reject = api_reject,
    .source_push = source_push,
    .source_partition_revoked = source_partition_revoked,
    .source_partition_ended = source_partition_ended,
    .now_ms = api_now_ms,
    .timer_set = api_timer_set,
    .current_watermark = api_current_watermark,
    .counter = api_counter,
    .counter_add = api_counter_add,
    .counter_set = api_counter_set,
    .fail = api_fail,
    .sink_ack = api_sink_ack,
    .sink_set_async = api_sink_set_async,
    .record_copy = api_record_copy,
    .embedded_kafka = api_embedded_kafka,
    .batch_peek = api_batch_peek,
    .source_partition_assigned = source_partition_assigned,
    .option_error = step_option_error,
    .step_counters = api_step_counters,
    .source_partition_state = source_partition_state,
    .source_checkpoint_now = source_checkpoint_now,
    .step_part = api_step_part,
    .record_lateness_watermark = api_record_lateness_watermark,
    .source_exchange_pending = api_source_exchange_pending,
};
