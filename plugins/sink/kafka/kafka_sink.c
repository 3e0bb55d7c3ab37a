/*
 * Sink `kafka`: every record as one message on a Kafka topic.
 *
 * Value: the record as JSON. Key: the `key_field` member of the record when
 * that option is set, else the key the producing operator set (docs/semantics.md:
 * url_clicks "<window_start>|<url>", window_summary "<window_start>",
 * session the user id); records without one (dead letters) are sent
 * without a key.
 *
 * The producer is idempotent with acks=all, and the sink is synchronous from
 * the engine's point of view: flush() returns only once every message handed
 * over before it is acknowledged by the brokers, and that is what lets the
 * source commit its offsets. Nothing is ever dropped silently: a full local
 * queue makes the sink wait, and a message that cannot be delivered after
 * librdkafka's retries (message.timeout.ms, 5 min by default) stops the
 * pipeline with an error naming the topic, partition and reason.
 */
#include <sluice/plugin.h>

#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kafka_config.h"
#include "key_field.h"

#define QUEUE_FULL_WAIT_MS 100
/* The embedded broker keeps about this much of each partition. */
#define EMBEDDED_KEEPS_BYTES (5u << 20)
#define EMBEDDED_KEEPS_MESSAGES 100000u

typedef struct partition_volume {
    uint64_t bytes, messages;
    int warned;
} partition_volume;

typedef struct kafka_sink {
    kc_host host; /* first: the librdkafka opaque */
    rd_kafka_t *rk;
    rd_kafka_topic_t *rkt;
    const char *topic;
    const char *key_field; /* NULL: the record's own key */
    int64_t flush_timeout_ms;
    int failed;               /* a delivery failed for good: the pipeline is stopping */
    int closing;              /* in destroy: purged messages are not failures */
    partition_volume *volume; /* per partition, for the embedded broker's limits */
    size_t nvolume;
    sluice_counter *c_delivered, *c_queue_full, *c_queue;
    char key[4096];
} kafka_sink;

static const sluice_option_spec kafka_sink_options[] = {
    {sizeof(sluice_option_spec), "brokers", SLUICE_OPT_STRING, "embedded", 0,
     "bootstrap servers (host:port,...); embedded: the in-process development broker", 0, 0, NULL, 0, 0},
    {sizeof(sluice_option_spec), "topic", SLUICE_OPT_STRING, NULL, 1, "topic to write to", 0, 0, NULL, 0, 0},
    {sizeof(sluice_option_spec), "key_field", SLUICE_OPT_STRING, NULL, 0,
     "message key from this top-level field of each record (a string, or a number as written), "
     "e.g. user_id; default: the key set by the operator, if any",
     0, 0, NULL, 0, 0},
    {sizeof(sluice_option_spec), "acks", SLUICE_OPT_ENUM, "all", 0,
     "acknowledgements awaited per message; all makes the producer idempotent too", 0, 0, "all|1|0", 0, 0},
    {sizeof(sluice_option_spec), "linger", SLUICE_OPT_DURATION, "5ms", 0,
     "how long messages wait to be sent in batches (linger.ms)", 0, 900000, NULL, 0, 0},
    {sizeof(sluice_option_spec), "batch_size", SLUICE_OPT_INT, "10000", 0,
     "most messages in one batch (batch.num.messages)", 1, 1000000, NULL, 0, 0},
    {sizeof(sluice_option_spec), "flush_timeout", SLUICE_OPT_DURATION, "60s", 0,
     "how long a checkpoint waits for the brokers to acknowledge everything before the "
     "pipeline fails",
     1000, 3600000, NULL, 0, 0},
    {sizeof(sluice_option_spec), "config", SLUICE_OPT_MAP, NULL, 0,
     "librdkafka producer properties passed as is (security.protocol, sasl.*, ssl.*, "
     "compression.type, ...); values of keys containing password, secret or key are never "
     "logged",
     0, 0, NULL, 0, 1},
    SLUICE_OPTION_END,
};

static const char *const reserved_properties[] = {
    "bootstrap.servers",
    "use the `brokers` option",
    "acks",
    "use the `acks` option",
    "request.required.acks",
    "use the `acks` option",
    "linger.ms",
    "use the `linger` option",
    "queue.buffering.max.ms",
    "use the `linger` option",
    "batch.num.messages",
    "use the `batch_size` option",
    NULL,
};

/* ---- delivery reports ------------------------------------------------------ */

static void track_volume(kafka_sink *s, const rd_kafka_message_t *m)
{
    if (m->partition < 0)
        return;
    size_t p = (size_t)m->partition;
    if (p >= s->nvolume) {
        partition_volume *grown = realloc(s->volume, (p + 1) * sizeof *grown);
        if (grown == NULL)
            return;
        memset(grown + s->nvolume, 0, (p + 1 - s->nvolume) * sizeof *grown);
        s->volume = grown;
        s->nvolume = p + 1;
    }
    partition_volume *v = &s->volume[p];
    v->bytes += m->len + m->key_len;
    v->messages++;
    if (!v->warned && (v->bytes > EMBEDDED_KEEPS_BYTES || v->messages > EMBEDDED_KEEPS_MESSAGES)) {
        v->warned = 1;
        s->host.api->log(s->host.ctx, SLUICE_LOG_WARN,
                         "%s/%d has received %" PRIu64 " messages (%" PRIu64 " KiB): the embedded broker "
                         "keeps only about the last 5 MiB or 100,000 messages of a partition and drops "
                         "older ones; a consumer that falls this far behind loses data (it is reported)",
                         s->topic, (int)m->partition, v->messages, v->bytes >> 10);
    }
}

static void delivery_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    kafka_sink *s = opaque;
    if (m->err) {
        if (s->closing || s->failed)
            return;
        s->failed = 1;
        s->host.api->fail(s->host.ctx, "delivery to %s/%d failed for good: %s", s->topic, (int)m->partition,
                          rd_kafka_err2str(m->err));
        return;
    }
    s->host.api->counter_add(s->c_delivered, 1);
    if (s->host.embedded)
        track_volume(s, m);
}

/* ---- create / destroy ----------------------------------------------------- */

static void kafka_sink_destroy(const sluice_host_api *api, sluice_ctx *ctx, void *self);

static int build_conf(kafka_sink *s, const sluice_options *opts, rd_kafka_conf_t *conf, char *err,
                      size_t errsz)
{
    const sluice_host_api *api = s->host.api;
    const char *bootstrap = kc_bootstrap(&s->host, api->opt_string(opts, "brokers"), err, errsz);
    if (bootstrap == NULL)
        return -1;
    const char *acks = api->opt_string(opts, "acks");
    int all = strcmp(acks, "all") == 0;
    char linger[32], batch[32], client_id[200];
    snprintf(linger, sizeof linger, "%" PRId64, api->opt_duration_ms(opts, "linger"));
    snprintf(batch, sizeof batch, "%" PRId64, api->opt_int(opts, "batch_size"));
    snprintf(client_id, sizeof client_id, "sluice-%s", api->step_name(s->host.ctx));
    const char *settings[][2] = {
        {"bootstrap.servers", bootstrap},
        {"client.id", client_id},
        {"acks", all ? "-1" : acks},
        /* Retries without duplicates or reordering; needs acks=all. */
        {"enable.idempotence", all ? "true" : "false"},
        {"linger.ms", linger},
        {"batch.num.messages", batch},
        {"queue.buffering.max.messages", "1000000"},
        /* Keys land where Java clients would put them. */
        {"partitioner", "murmur2_random"},
    };
    for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++)
        if (kc_set(conf, settings[i][0], settings[i][1], err, errsz) != 0)
            return -1;
    if (!all)
        api->log(s->host.ctx, SLUICE_LOG_WARN,
                 "acks=%s: a broker failure can lose acknowledged messages, and retries may duplicate "
                 "them (the producer is idempotent only with acks=all)",
                 acks);
    return kc_apply_map(&s->host, opts, conf, reserved_properties, err, errsz);
}

/* `sluice check`: topic and key_field, and every config entry as librdkafka
 * would take it (on a throwaway configuration: no producer, no connection). */
static sluice_status kafka_sink_validate(const sluice_host_api *api, sluice_ctx *ctx,
                                         const sluice_options *opts)
{
    int bad = 0;
    if (api->opt_string(opts, "topic")[0] == '\0') {
        api->option_error(ctx, "topic", "must not be empty");
        bad = 1;
    }
    if (api->opt_is_set(opts, "key_field") && api->opt_string(opts, "key_field")[0] == '\0') {
        api->option_error(ctx, "key_field", "must not be empty (leave it out for no key)");
        bad = 1;
    }
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    bad |= kc_validate_map(api, ctx, opts, reserved_properties, conf) != 0;
    rd_kafka_conf_destroy(conf);
    return bad ? SLUICE_ERR_CONFIG : SLUICE_OK;
}

static void *kafka_sink_create(const sluice_host_api *api, sluice_ctx *ctx, const sluice_options *opts,
                               char *errbuf, size_t errbuf_size)
{
    kafka_sink *s = calloc(1, sizeof *s);
    if (s == NULL) {
        snprintf(errbuf, errbuf_size, "out of memory");
        return NULL;
    }
    s->host = (kc_host){.api = api, .ctx = ctx, .what = "producer"};
    s->topic = api->opt_string(opts, "topic");
    s->key_field = api->opt_is_set(opts, "key_field") ? api->opt_string(opts, "key_field") : NULL;
    s->flush_timeout_ms = api->opt_duration_ms(opts, "flush_timeout");
    s->c_delivered = api->counter(ctx, "delivered");
    s->c_queue_full = api->counter(ctx, "queue_full_waits");
    /* A gauge by the engine's naming convention (docs/metrics.md): the
     * producer queue depth, sluice_kafka_producer_queue_messages. */
    s->c_queue = api->counter(ctx, "kafka.queue.messages");
    if (s->topic[0] == '\0' || (s->key_field && s->key_field[0] == '\0')) {
        snprintf(errbuf, errbuf_size, "%s must not be empty", s->topic[0] ? "key_field" : "topic");
        free(s);
        return NULL;
    }
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (build_conf(s, opts, conf, errbuf, errbuf_size) != 0) {
        rd_kafka_conf_destroy(conf);
        free(s);
        return NULL;
    }
    kc_install_callbacks(conf);
    rd_kafka_conf_set_dr_msg_cb(conf, delivery_cb);
    rd_kafka_conf_set_opaque(conf, s);
    char why[512];
    s->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof why);
    if (s->rk == NULL) {
        snprintf(errbuf, errbuf_size, "cannot create the Kafka producer: %s", why);
        rd_kafka_conf_destroy(conf);
        free(s);
        return NULL;
    }
    kc_route_logs(s->rk);
    s->rkt = rd_kafka_topic_new(s->rk, s->topic, NULL);
    if (s->rkt == NULL) {
        snprintf(errbuf, errbuf_size, "cannot use topic '%s': %s", s->topic,
                 rd_kafka_err2str(rd_kafka_last_error()));
        kafka_sink_destroy(api, ctx, s);
        return NULL;
    }
    kc_log_config(&s->host, opts);
    return s;
}

static void kafka_sink_destroy(const sluice_host_api *api, sluice_ctx *ctx, void *self)
{
    (void)api;
    (void)ctx;
    kafka_sink *s = self;
    s->closing = 1;
    if (s->rk) {
        /* flush() ran before this; what is left only remains after a failure. */
        rd_kafka_purge(s->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_poll(s->rk, 0);
        if (s->rkt)
            rd_kafka_topic_destroy(s->rkt);
        rd_kafka_destroy(s->rk);
    }
    free(s->volume);
    free(s);
}

/* ---- producing ------------------------------------------------------------ */

static sluice_str record_key(kafka_sink *s, const sluice_record *r, sluice_str value)
{
    const sluice_host_api *api = s->host.api;
    if (s->key_field == NULL)
        return api->record_key(r);
    sluice_str k = {NULL, 0};
    if (api->field_string(r, s->key_field, &k))
        return k;
    int64_t i;
    if (api->field_int(r, s->key_field, &i)) {
        int n = snprintf(s->key, sizeof s->key, "%" PRId64, i);
        return (sluice_str){s->key, (size_t)n};
    }
    long n = key_field_from_json(value.ptr, value.len, s->key_field, s->key, sizeof s->key);
    if (n >= 0)
        return (sluice_str){s->key, (size_t)n};
    return api->record_key(r); /* no such field: the record's own key, if any */
}

static sluice_status check_fatal(kafka_sink *s)
{
    if (s->host.fatal && !s->failed) {
        s->failed = 1;
        s->host.api->fail(s->host.ctx, "kafka producer failed: %s: %s", rd_kafka_err2name(s->host.fatal),
                          s->host.fatal_text);
    }
    return s->failed ? SLUICE_ERR_IO : SLUICE_OK;
}

static sluice_status produce(kafka_sink *s, sluice_str value, sluice_str key)
{
    for (;;) {
        if (rd_kafka_produce(s->rkt, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, (void *)value.ptr, value.len,
                             key.len ? key.ptr : NULL, key.len, NULL) == 0)
            return SLUICE_OK;
        rd_kafka_resp_err_t err = rd_kafka_last_error();
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            s->failed = 1;
            s->host.api->fail(s->host.ctx, "cannot send a %zu-byte message to %s: %s", value.len, s->topic,
                              rd_kafka_err2str(err));
            return SLUICE_ERR_IO;
        }
        /* The local queue is full: wait for deliveries (back-pressure). */
        s->host.api->counter_add(s->c_queue_full, 1);
        rd_kafka_poll(s->rk, QUEUE_FULL_WAIT_MS);
        if (check_fatal(s) != SLUICE_OK)
            return SLUICE_ERR_IO;
    }
}

static sluice_status kafka_sink_process(const sluice_host_api *api, sluice_ctx *ctx, void *self,
                                        sluice_batch *batch)
{
    (void)ctx;
    kafka_sink *s = self;
    if (check_fatal(s) != SLUICE_OK)
        return SLUICE_ERR_IO;
    for (const sluice_record *r; (r = api->batch_next(batch)) != NULL;) {
        sluice_str value = {NULL, 0};
        api->record_json(r, &value);
        sluice_status st = produce(s, value, record_key(s, r, value));
        if (st != SLUICE_OK)
            return st;
    }
    rd_kafka_poll(s->rk, 0); /* serve delivery reports */
    api->counter_set(s->c_queue, rd_kafka_outq_len(s->rk));
    return check_fatal(s);
}

static sluice_status kafka_sink_flush(const sluice_host_api *api, sluice_ctx *ctx, void *self)
{
    kafka_sink *s = self;
    int64_t deadline = api->now_ms(ctx) + s->flush_timeout_ms;
    while (!s->failed) {
        int64_t left = deadline - api->now_ms(ctx);
        if (rd_kafka_flush(s->rk, (int)(left > 1000 ? 1000
                                        : left > 0  ? left
                                                    : 0)) == RD_KAFKA_RESP_ERR_NO_ERROR)
            break;
        if (check_fatal(s) != SLUICE_OK)
            break;
        if (left <= 0) {
            s->failed = 1;
            api->fail(ctx, "%d message(s) to %s not acknowledged within flush_timeout (%" PRId64 " ms)",
                      rd_kafka_outq_len(s->rk), s->topic, s->flush_timeout_ms);
            break;
        }
    }
    api->counter_set(s->c_queue, rd_kafka_outq_len(s->rk));
    return check_fatal(s);
}

static const sluice_plugin kafka_sink_plugin = {
    .struct_size = sizeof(sluice_plugin),
    .abi_version = SLUICE_ABI_VERSION,
    .name = "kafka",
    .kind = SLUICE_KIND_SINK,
    .version = "1.0.0",
    .description = "records as JSON messages on a Kafka topic (idempotent producer, acknowledged at "
                   "every checkpoint)",
    .options = kafka_sink_options,
    .create = kafka_sink_create,
    .destroy = kafka_sink_destroy,
    .process = kafka_sink_process,
    .validate = kafka_sink_validate,
    .state = SLUICE_STATE_NONE,
    .flush = kafka_sink_flush,
};

SLUICE_PLUGIN_EXPORT const sluice_plugin *sluice_plugin_entry(void) { return &kafka_sink_plugin; }
