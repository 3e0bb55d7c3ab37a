/* The exchange through the broker, Kafka Streams' repartition topic: with
 * partition tasks (`key:` on the source), a step that must see every input
 * partition's records (the last part of a PARTITION layout: url_count's
 * total) cannot run once per process, as each instance of the pipeline
 * holds only some input partitions. It runs instead in a task per
 * partition of a topic that the source writes and reads in its own group,
 * so each exchange partition, and the state of its task, is owned by
 * exactly one instance at a time and follows its partition like an input
 * partition's.
 *
 * What goes through: after each round of the input tasks, every record the
 * sending part emitted, as JSON, to the exchange partition of its key
 * (api->set_key: records of one key meet in one task) or, without a key, to
 * every partition (a task's watermark: each receiving task hears every
 * sending task's). What a task sends one partition in a round is one
 * message of JSON lines, keyed by the sending task's number, so a receiver
 * knows whom the records are from (the records' own keys only choose the
 * partition). The receiving step sees the records
 * in the order each sender wrote them; senders interleave as the broker
 * delivers. Delivery is at-least-once: a sender restarted from its last
 * checkpoint sends again what it sent after it, so what is sent must be
 * safe to receive twice (url_count's partial counts replace, they do not
 * add).
 *
 * The end (stop_at_end): when the source has read its input partitions to
 * their end, the engine takes the input as ended (watermark +infinity), and
 * each input task owned here, once it has emitted what the end makes due,
 * sends an end marker to every exchange partition. An exchange partition
 * whose last message from every sending task is its end marker has all it
 * will get; the source polls on until every exchange partition it holds
 * has (api->source_exchange_pending), so an instance that ends has emitted
 * every record of the partitions it held. A record after a task's end
 * marker (a later run) makes it a sender again. Which senders ended is part
 * of the exchange task's state. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "json_scan.h"
#include "log.h"
#include "pipeline.h"
#include "sluice/bytes.h"
#include "xalloc.h"

#define END_KIND "sluice.exchange_end"
#define ENDED_ENTRY "sluice.exchange_ended"

/* The steps of a PARTITION layout: the last part reads exactly one keyed
 * part, which runs in the input tasks. */
static int reads_one_partition_part(const pipeline *p, const step *s)
{
    return s->part > 0 && s->key == SLUICE_STATE_KEY_ALL && s->ninputs == 1 &&
           p->steps[s->inputs[0].step].key == SLUICE_STATE_KEY_PARTITION;
}

void exchange_plan(pipeline *p)
{
    step *src = &p->steps[p->source];
    if (!p->by_partition || src->plugin->desc.exchange_open == NULL ||
        src->plugin->desc.exchange_send == NULL)
        return; /* the last part runs once, in this process */
    for (size_t i = 0; i < p->nsteps; i++) {
        step *s = &p->steps[i];
        if (!reads_one_partition_part(p, s))
            continue;
        if (p->xchg.on) { /* one exchange per pipeline: the others run once */
            log_msg(SLUICE_LOG_WARN, p->def->name,
                    "step '%s' runs once per instance: the pipeline's exchange is '%s''s", s->def->name,
                    p->steps[p->xchg.to].def->name);
            continue;
        }
        port *grown = xrealloc(src->ports, (src->nports + 1) * sizeof *grown);
        if (grown == NULL)
            return;
        src->ports = grown;
        p->xchg.port = src->nports++;
        src->ports[p->xchg.port] =
            (port){.name = "exchange", .last_wm = SLUICE_TIME_MIN, .consumers = 1, .needs_markers = 1};
        p->xchg.on = 1;
        p->xchg.from = s->inputs[0].step;
        p->xchg.to = i;
        s->inputs[0] = (step_input){p->source, p->xchg.port};
        s->remote = 1;
        snprintf(p->xchg.name, sizeof p->xchg.name, "%s.%s", p->def->name, s->def->name);
    }
}

void exchange_undo(pipeline *p)
{
    if (!p->xchg.on)
        return;
    step *to = &p->steps[p->xchg.to];
    to->inputs[0] = (step_input){p->xchg.from, 0};
    to->remote = 0;
    p->steps[p->source].ports[p->xchg.port].consumers = 0;
    p->xchg.on = 0;
}

long exchange_open(pipeline *p, size_t ninput)
{
    if (!p->xchg.on)
        return 0;
    step *src = &p->steps[p->source];
    int32_t first = -1;
    int32_t n = src->plugin->desc.exchange_open(&host_api, &src->ctx, src->self, p->xchg.name, &first);
    if (n <= 0 || first < 0 || (size_t)first < ninput) {
        pipeline_fail(p, src->scope, "the source cannot open the exchange of step '%s' (see above)",
                      p->steps[p->xchg.to].def->name);
        return -1;
    }
    /* What crosses is JSON: the tasks encode it on their workers
     * (tasks_encode_ahead), not this thread when it sends. */
    atomic_store(&p->steps[p->xchg.from].ports[0].json_wanted, 1);
    p->xchg.c_sent = step_counter(src, "exchange.sent");
    p->xchg.c_sent_bytes = step_counter(src, "exchange.sent_bytes");
    p->xchg.c_received = step_counter(src, "exchange.read");
    p->xchg.first_id = first;
    p->xchg.nparts = (size_t)n;
    p->xchg.ninput = ninput;
    p->xchg.ended = xcalloc((size_t)n * ninput, 1);
    p->xchg.end_sent = xcalloc(ninput ? ninput : 1, 1);
    p->xchg.batches = xcalloc((size_t)n, sizeof *p->xchg.batches);
    if (p->xchg.ended == NULL || p->xchg.end_sent == NULL || p->xchg.batches == NULL) {
        pipeline_fail(p, p->def->name, "out of memory");
        return -1;
    }
    return n;
}

int exchange_has_partition(const pipeline *p, int32_t partition)
{
    return p->xchg.on && p->xchg.nparts && partition >= p->xchg.first_id &&
           (size_t)(partition - p->xchg.first_id) < p->xchg.nparts;
}

long exchange_task_of(const pipeline *p, int32_t partition)
{
    if (exchange_has_partition(p, partition))
        return (long)(p->xchg.ninput + (size_t)(partition - p->xchg.first_id));
    size_t inputs = p->xchg.on ? p->xchg.ninput : p->ntasks;
    return partition >= 0 && (size_t)partition < inputs ? partition : -1;
}

int32_t exchange_partition_of(const pipeline *p, size_t t)
{
    if (p->xchg.on && t >= p->xchg.ninput)
        return p->xchg.first_id + (int32_t)(t - p->xchg.ninput);
    return (int32_t)t;
}

/* The sending task named by a message key "<task>", or -1. */
static long sender_of(const pipeline *p, const sluice_record *rec)
{
    long t = 0;
    uint32_t i = 0;
    for (; i < rec->key_len && rec->key[i] >= '0' && rec->key[i] <= '9' && t < 1 << 24; i++)
        t = t * 10 + (rec->key[i] - '0');
    if (i == 0 || i != rec->key_len || (size_t)t >= p->xchg.ninput)
        return -1;
    return t;
}

/* One line of a message from sending task `from`: an end marker, or a
 * record for the receiving step. 0, or -1 when it is not JSON. */
static int take_line(pipeline *p, const sluice_record *msg, size_t part, long from, const char *line,
                     size_t len, uint64_t seq)
{
    sluice_record *rec = record_new(&p->tick_arena);
    char err[128];
    rec->raw = line;
    rec->raw_len = (uint32_t)len;
    rec->origin = msg->origin;
    rec->origin_len = msg->origin_len;
    rec->partition = msg->partition;
    rec->seq = seq;
    if (json_scan_record(line, len, rec, err, sizeof err) != JSON_SCAN_OK)
        return -1;
    p->xchg.c_received->value++;
    const field *kind = record_find(rec, "kind", 4);
    int end = kind && kind->type == SLUICE_TYPE_STRING && kind->len == strlen(END_KIND) &&
              memcmp(kind->text, END_KIND, kind->len) == 0;
    uint8_t *ended = &p->xchg.ended[part * p->xchg.ninput + (size_t)from];
    if (end || *ended)
        log_msg(SLUICE_LOG_DEBUG, p->def->name, "exchange partition %zu: task %ld %s", part, from,
                end ? "ended" : "sends again");
    *ended = (uint8_t)end;
    if (end)
        return 0;
    rec->time = SLUICE_TIME_MIN;
    rec->partition_wm = rec->pipeline_wm = SLUICE_TIME_MIN;
    port *pt = &p->steps[p->source].ports[p->xchg.port];
    items_push(&pt->queue, rec, pt->last_wm, seq);
    return 0;
}

void exchange_take(pipeline *p, sluice_record *msg, uint64_t seq)
{
    step *src = &p->steps[p->source];
    size_t part = (size_t)(msg->partition - p->xchg.first_id);
    long from = sender_of(p, msg);
    int bad = from < 0 || msg->raw_len == 0;
    /* JSON lines: every record the task sent this partition in one round. */
    for (uint32_t at = 0; at < msg->raw_len && !bad;) {
        const char *nl = memchr(msg->raw + at, '\n', msg->raw_len - at);
        uint32_t end = nl ? (uint32_t)(nl - msg->raw) : msg->raw_len;
        if (end > at)
            bad = take_line(p, msg, part, from, msg->raw + at, end - at, seq) != 0;
        at = end + 1;
    }
    p->task_state[p->xchg.ninput + part].dirty = 1;
    /* Only this engine writes the exchange: anything else is a bug or a
     * stranger writing to its topic, and it must not be lost. */
    if (bad)
        pipeline_fail(p, src->scope,
                      "a message in the exchange of step '%s' at %.*s is not one of its records",
                      p->steps[p->xchg.to].def->name, (int)msg->origin_len, msg->origin ? msg->origin : "");
}

static uint64_t key_hash(const char *k, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)k[i]) * 0x100000001b3ull;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    return h ^ (h >> 33);
}

static void send_one(pipeline *p, size_t part, const char *key, size_t key_len, sluice_str value)
{
    step *src = &p->steps[p->source];
    sluice_status st = src->plugin->desc.exchange_send(&host_api, &src->ctx, src->self, (int32_t)part, key,
                                                       key_len, value.ptr, value.len);
    step_check_status(p, src, "exchange_send", st);
    p->xchg.c_sent->value++;
    p->xchg.c_sent_bytes->value += (int64_t)(key_len + value.len);
}

/* What a task sends one partition in a round goes as one message of JSON
 * lines (a message per record would cost the broker, the producer and the
 * consumer as much again as the input itself), cut at this size. */
#define BATCH_BYTES (256u * 1024u)

static void flush_batch(pipeline *p, size_t part, const char *key, size_t key_len)
{
    exchange_batch *b = &p->xchg.batches[part];
    if (b->len == 0)
        return;
    send_one(p, part, key, key_len, (sluice_str){b->data, b->len});
    b->len = 0;
}

static void batch_add(pipeline *p, size_t part, sluice_str json, const char *key, size_t key_len)
{
    exchange_batch *b = &p->xchg.batches[part];
    if (b->len + json.len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + json.len + 1)
            cap *= 2;
        char *grown = xrealloc(b->data, cap);
        if (grown == NULL) {
            pipeline_fail(p, p->def->name, "out of memory");
            return;
        }
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, json.ptr, json.len);
    b->len += json.len;
    b->data[b->len++] = '\n';
    if (b->len >= BATCH_BYTES)
        flush_batch(p, part, key, key_len);
}

void exchange_send_round(pipeline *p, const stage *st)
{
    if (!p->xchg.on || p->steps[p->xchg.from].stage != (size_t)(st - p->stages) + 1)
        return;
    static const char end_value[] = "{\"kind\":\"" END_KIND "\"}";
    for (size_t t = 0; t < p->xchg.ninput && !p->failed; t++) {
        /* A task whose partition is not here has nothing to say: what the
         * end makes it emit would make its owner's end marker not the last. */
        if (!p->task_state[t].owned)
            continue;
        task *tk = &st->tasks[t];
        char key[24];
        size_t key_len = (size_t)snprintf(key, sizeof key, "%zu", t);
        const item_vec *q = &tk->steps[p->xchg.from].ports[0].queue;
        for (size_t i = 0; i < q->n && !p->failed; i++) {
            const sluice_record *rec = q->v[i].rec;
            if (rec == NULL)
                continue;
            sluice_str json = json_write_record(rec, &tk->arena);
            if (rec->key) /* to its key's partition, or to every one */
                batch_add(p, key_hash(rec->key, rec->key_len) % p->xchg.nparts, json, key, key_len);
            else
                for (size_t part = 0; part < p->xchg.nparts; part++)
                    batch_add(p, part, json, key, key_len);
        }
        for (size_t part = 0; part < p->xchg.nparts && !p->failed; part++)
            flush_batch(p, part, key, key_len);
        /* Its end, once what the end made due is sent. */
        int at_end = st->nex > 0 && tk->in[0].last_wm == SLUICE_TIME_MAX;
        if (at_end && !p->xchg.end_sent[t]) {
            for (size_t part = 0; part < p->xchg.nparts && !p->failed; part++)
                send_one(p, part, key, key_len, (sluice_str){end_value, sizeof end_value - 1});
            p->xchg.end_sent[t] = 1;
            log_msg(SLUICE_LOG_DEBUG, p->def->name, "input task %zu: its end sent to the exchange", t);
        }
    }
}

/* api->source_exchange_pending (plugin.h). */
int exchange_pending(pipeline *p)
{
    if (!p->xchg.on)
        return 0;
    if (!p->xchg.input_ended) {
        p->xchg.input_ended = 1;
        source_take_pending(p);
        p->src.wm.current = SLUICE_TIME_MAX;
        step_advance_ports(&p->steps[p->source], SLUICE_TIME_MAX, source_last_seq(&p->src));
        return 1;
    }
    /* An input task assigned here since (a rebalance) hears of the end too. */
    stage *st = &p->stages[p->steps[p->xchg.from].stage - 1];
    int waiting = 0;
    for (size_t t = 0; t < p->xchg.ninput; t++) {
        if (!p->task_state[t].owned || p->xchg.end_sent[t])
            continue;
        waiting = 1;
        for (size_t x = 0; x < st->nex; x++)
            port_advance(&st->tasks[t].in[x], SLUICE_TIME_MAX, source_last_seq(&p->src));
    }
    if (waiting)
        return 1;
    for (size_t part = 0; part < p->xchg.nparts; part++) {
        if (!p->task_state[p->xchg.ninput + part].owned)
            continue;
        for (size_t t = 0; t < p->xchg.ninput; t++)
            if (!p->xchg.ended[part * p->xchg.ninput + t])
                return 1;
    }
    return 0;
}

void exchange_reset_task(pipeline *p, size_t t)
{
    if (!p->xchg.on || p->xchg.ended == NULL)
        return;
    if (t < p->xchg.ninput)
        p->xchg.end_sent[t] = 0;
    else
        memset(p->xchg.ended + (t - p->xchg.ninput) * p->xchg.ninput, 0, p->xchg.ninput);
}

void exchange_save_task(const pipeline *p, size_t t, state_image *img)
{
    if (!p->xchg.on || t < p->xchg.ninput)
        return;
    sluice_snapshot snap = {sizeof snap, 1, xmalloc(p->xchg.ninput ? p->xchg.ninput : 1), p->xchg.ninput};
    if (snap.data == NULL)
        return;
    memcpy(snap.data, p->xchg.ended + (t - p->xchg.ninput) * p->xchg.ninput, p->xchg.ninput);
    state_image_add(img, ENDED_ENTRY, "sluice", "1", &snap);
}

int exchange_restore_entry(pipeline *p, size_t t, const state_entry *e)
{
    if (strcmp(e->step, ENDED_ENTRY) != 0)
        return 0;
    if (p->xchg.on && t >= p->xchg.ninput && e->snap.size == p->xchg.ninput)
        memcpy(p->xchg.ended + (t - p->xchg.ninput) * p->xchg.ninput, e->snap.data, p->xchg.ninput);
    return 1;
}

void exchange_free(pipeline *p)
{
    for (size_t part = 0; p->xchg.batches && part < p->xchg.nparts; part++)
        free(p->xchg.batches[part].data);
    free(p->xchg.batches);
    p->xchg.batches = NULL;
    free(p->xchg.ended);
    free(p->xchg.end_sent);
    p->xchg.ended = p->xchg.end_sent = NULL;
}

void exchange_print(const pipeline *p, const char *indent, FILE *out)
{
    if (!p->xchg.on)
        return;
    fprintf(out,
            "%sexchange \"%s\" through the broker: %s -> %s (the source writes and reads it in its group)\n",
            indent, p->xchg.name, p->steps[p->xchg.from].def->name, p->steps[p->xchg.to].def->name);
}
