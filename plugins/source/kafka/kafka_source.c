/*
 * Source `kafka`: messages from Kafka topics through a consumer group.
 *
 * Delivery is at-least-once. Offsets are never committed automatically: the
 * source remembers its positions (the offset after the last message it
 * pushed, per partition) when the host begins a checkpoint, and commits
 * exactly those when the host says everything derived from them is durable
 * (checkpoint_complete). After a crash, what was pushed after the last
 * completed checkpoint is read again.
 *
 * Where each assigned partition starts: a position restored from a state
 * snapshot, else the group's committed offset, else `start` (earliest or
 * latest). The consumer runs with auto.offset.reset=error, so a committed
 * offset the broker no longer holds (retention deleted the data before it
 * was read) is not silently skipped: it is reported at error level with the
 * offsets lost, counted (data_loss.messages, data_loss.events), and
 * consumption goes on from the earliest offset still available.
 *
 * Messages are read in batches from the consumer queue; rebalance, commit
 * and log callbacks are served on the same queue, so everything happens on
 * the pipeline's thread inside poll().
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kafka_source.h"

static const sluice_option_spec kafka_source_options[] = {
    {sizeof(sluice_option_spec), "brokers", SLUICE_OPT_STRING, "embedded", 0,
     "bootstrap servers (host:port,...); embedded: the in-process development broker", 0, 0, NULL, 0, 0},
    {sizeof(sluice_option_spec), "topics", SLUICE_OPT_LIST, NULL, 1,
     "topics to subscribe to (a name starting with ^ is a regular expression)", 0, 0, NULL, 0, 0},
    {sizeof(sluice_option_spec), "group", SLUICE_OPT_STRING, NULL, 1,
     "consumer group id: the group's committed offsets are where a run resumes", 0, 0, NULL, 0, 0},
    {sizeof(sluice_option_spec), "start", SLUICE_OPT_ENUM, "earliest", 0,
     "where a partition without a committed offset starts", 0, 0, "earliest|latest", 0, 0},
    {sizeof(sluice_option_spec), "stop_at_end", SLUICE_OPT_BOOL, "false", 0,
     "end once every assigned partition has been read to its end (bounded runs, tests)", 0, 0, NULL, 0, 0},
    {sizeof(sluice_option_spec), "session_timeout", SLUICE_OPT_DURATION, "10s", 0,
     "group session timeout: how long a silent consumer keeps its partitions", 1000, 3600000, NULL, 0, 0},
    {sizeof(sluice_option_spec), "align_wait", SLUICE_OPT_DURATION, "2s", 0,
     "partitions are read oldest message first; while one has nothing fetched and is not read "
     "to its end, the others wait up to this long for it (0: never wait)",
     0, 3600000, NULL, 0, 0},
    {sizeof(sluice_option_spec), "use_kafka_timestamp", SLUICE_OPT_BOOL, "false", 0,
     "reserved: event time comes from the event's own time field (the engine's decoder); the "
     "message timestamp is always handed over alongside",
     0, 0, NULL, 0, 0},
    {sizeof(sluice_option_spec), "state_topic", SLUICE_OPT_STRING, "", 0,
     "with key: on this step, the changelog topic keeping each partition's task state "
     "(default <group>.<step>.state)",
     0, 0, NULL, 0, 0},
    {sizeof(sluice_option_spec), "state_max_bytes", SLUICE_OPT_INT, "268435456", 0,
     "with key:, the largest task state of one partition kept in the changelog; more fails the run", 1024,
     1e12, NULL, 0, 0},
    {sizeof(sluice_option_spec), "config", SLUICE_OPT_MAP, NULL, 0,
     "librdkafka consumer properties passed as is (security.protocol, sasl.*, ssl.*, ...); "
     "values of keys containing password, secret or key are never logged",
     0, 0, NULL, 0, 1},
    SLUICE_OPTION_END,
};

/* Properties the source owns: its guarantees depend on them. Pairs of
 * (name, why), NULL terminated. */
static const char *const reserved_properties[] = {
    "enable.auto.commit",
    "offsets are committed at checkpoints only",
    "enable.auto.offset.store",
    "offsets are committed at checkpoints only",
    "auto.offset.reset",
    "use the `start` option; lost data is reported, never skipped silently",
    "group.id",
    "use the `group` option",
    "bootstrap.servers",
    "use the `brokers` option",
    "enable.partition.eof",
    "the source needs it; see the `stop_at_end` option",
    "session.timeout.ms",
    "use the `session_timeout` option",
    NULL,
};

/* ---- create / destroy ----------------------------------------------------- */

static void kafka_source_destroy(const sluice_host_api *api, sluice_ctx *ctx, void *self);

static int build_conf(kafka_source *s, const sluice_options *opts, rd_kafka_conf_t *conf, char *err,
                      size_t errsz)
{
    const sluice_host_api *api = s->host.api;
    const char *bootstrap = kc_bootstrap(&s->host, api->opt_string(opts, "brokers"), err, errsz);
    if (bootstrap == NULL)
        return -1;
    char session[32], client_id[200];
    snprintf(session, sizeof session, "%" PRId64, api->opt_duration_ms(opts, "session_timeout"));
    snprintf(client_id, sizeof client_id, "sluice-%s", api->step_name(s->host.ctx));
    const char *settings[][2] = {
        {"bootstrap.servers", bootstrap},
        {"group.id", api->opt_string(opts, "group")},
        {"client.id", client_id},
        {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"},
        {"auto.offset.reset", "error"},
        {"enable.partition.eof", "true"}, /* for stop_at_end, and cheap */
        {"session.timeout.ms", session},
        /* Eager rebalancing: cooperative-sticky loses assignments with manual
         * commits on some brokers (the embedded one among them). */
        {"partition.assignment.strategy", "range"},
        /* What librdkafka fetches ahead is bounded by the consumer queue
         * (shared by every partition): fetching stops once it holds this
         * many messages or kilobytes, and resumes up to a second later, so
         * the queue must hold more than a second of reading. Memory: about
         * twice the kilobytes (each message also costs librdkafka ~100
         * bytes, and a fetch response lives until its last message is
         * taken from the queue) plus one response, fetch.max.bytes. Before
         * that bound, the default of 1,000,000 messages let a slow pipeline
         * reading 112 partitions hold 150 MB of them (docs/kafka.md,
         * "Memory"). */
        {"queued.min.messages", "200000"},
        {"queued.max.messages.kbytes", "32768"},
        {"fetch.max.bytes", "16777216"},
        /* Fetch responses carry a little of each partition rather than a
         * megabyte of one after another, so partitions interleave finely in
         * the consumer queue (see kafka_fetch.c). */
        {"max.partition.fetch.bytes", "262144"},
        {"fetch.wait.max.ms", "100"},
        /* The embedded broker creates topics on first use, whoever comes first. */
    };
    for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++)
        if (kc_set(conf, settings[i][0], settings[i][1], err, errsz) != 0)
            return -1;
    /* The embedded broker creates topics on first use, whoever comes first. */
    if (s->host.embedded && kc_set(conf, "allow.auto.create.topics", "true", err, errsz) != 0)
        return -1;
    if (kc_apply_map(&s->host, opts, conf, reserved_properties, err, errsz) != 0)
        return -1;
    char strategy[256];
    size_t len = sizeof strategy;
    if (rd_kafka_conf_get(conf, "partition.assignment.strategy", strategy, &len) == RD_KAFKA_CONF_OK &&
        strstr(strategy, "cooperative") != NULL) {
        snprintf(err, errsz,
                 "config: partition.assignment.strategy '%s' is not supported: the source uses "
                 "eager rebalancing (range or roundrobin)",
                 strategy);
        return -1;
    }
    return 0;
}

/* `sluice check`: the topics, and every config entry as librdkafka would
 * take it (on a throwaway configuration: no consumer, no connection). */
static sluice_status kafka_source_validate(const sluice_host_api *api, sluice_ctx *ctx,
                                           const sluice_options *opts)
{
    int bad = 0;
    size_t ntopics = api->opt_count(opts, "topics");
    if (ntopics == 0) {
        api->option_error(ctx, "topics", "give at least one topic name");
        bad = 1;
    }
    for (size_t i = 0; i < ntopics; i++) {
        const char *key = NULL, *topic = NULL;
        if (api->opt_entry(opts, "topics", i, &key, &topic) && (topic == NULL || topic[0] == '\0')) {
            api->option_error(ctx, "topics", "topic %zu is empty", i + 1);
            bad = 1;
        }
    }
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    bad |= kc_validate_map(api, ctx, opts, reserved_properties, conf) != 0;
    char strategy[256];
    size_t len = sizeof strategy;
    if (rd_kafka_conf_get(conf, "partition.assignment.strategy", strategy, &len) == RD_KAFKA_CONF_OK &&
        strstr(strategy, "cooperative") != NULL) {
        api->option_error(ctx, "config.partition.assignment.strategy",
                          "'%s' is not supported: the source uses eager rebalancing (range or roundrobin)",
                          strategy);
        bad = 1;
    }
    rd_kafka_conf_destroy(conf);
    return bad ? SLUICE_ERR_CONFIG : SLUICE_OK;
}

static void *kafka_source_create(const sluice_host_api *api, sluice_ctx *ctx, const sluice_options *opts,
                                 char *errbuf, size_t errbuf_size)
{
    kafka_source *s = calloc(1, sizeof *s);
    if (s == NULL) {
        snprintf(errbuf, errbuf_size, "out of memory");
        return NULL;
    }
    s->host = (kc_host){.api = api, .ctx = ctx, .what = "consumer"};
    s->opts = opts;
    s->start_latest = strcmp(api->opt_string(opts, "start"), "latest") == 0;
    s->stop_at_end = api->opt_bool(opts, "stop_at_end");
    s->align_wait_ms = api->opt_duration_ms(opts, "align_wait");
    s->c_loss_messages = api->counter(ctx, "data_loss.messages");
    s->c_loss_events = api->counter(ctx, "data_loss.events");
    s->c_commits = api->counter(ctx, "commits");
    s->c_commit_failures = api->counter(ctx, "commit_failures");
    s->c_changelog_states = api->counter(ctx, "changelog.states");
    s->c_changelog_bytes = api->counter(ctx, "changelog.bytes");

    size_t ntopics = api->opt_count(opts, "topics");
    const char **topics = calloc(ntopics ? ntopics : 1, sizeof *topics);
    if (topics == NULL) {
        snprintf(errbuf, errbuf_size, "out of memory");
        free(s);
        return NULL;
    }
    rd_kafka_topic_partition_list_t *subscription = rd_kafka_topic_partition_list_new((int)ntopics);
    for (size_t i = 0; i < ntopics; i++) {
        const char *key = NULL;
        api->opt_entry(opts, "topics", i, &key, &topics[i]);
        rd_kafka_topic_partition_list_add(subscription, topics[i], RD_KAFKA_PARTITION_UA);
    }
    int bad_topics = ntopics == 0;
    for (size_t i = 0; i < ntopics; i++)
        bad_topics |= topics[i] == NULL || topics[i][0] == '\0';
    if (bad_topics || kpos_init(&s->pos, topics, ntopics) != 0) {
        snprintf(errbuf, errbuf_size, bad_topics ? "topics: give at least one topic name" : "out of memory");
        free(topics);
        rd_kafka_topic_partition_list_destroy(subscription);
        kpos_free(&s->pos);
        korder_free(&s->order);
        free(s);
        return NULL;
    }
    free(topics);

    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (build_conf(s, opts, conf, errbuf, errbuf_size) != 0) {
        rd_kafka_conf_destroy(conf);
        goto fail;
    }
    kc_install_callbacks(conf);
    rd_kafka_conf_set_rebalance_cb(conf, kgroup_rebalance_cb);
    rd_kafka_conf_set_opaque(conf, s);
    char why[512];
    s->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof why);
    if (s->rk == NULL) {
        snprintf(errbuf, errbuf_size, "cannot create the Kafka consumer: %s", why);
        rd_kafka_conf_destroy(conf);
        goto fail;
    }
    rd_kafka_poll_set_consumer(s->rk); /* one queue for messages and callbacks */
    kc_route_logs(s->rk);
    s->queue = rd_kafka_queue_get_consumer(s->rk);
    s->commit_queue = rd_kafka_queue_new(s->rk);
    s->subscription = subscription; /* at the first poll: an exchange may join it */
    kc_log_config(&s->host, opts);
    if (api->opt_bool(opts, "use_kafka_timestamp"))
        api->log(ctx, SLUICE_LOG_INFO,
                 "use_kafka_timestamp is reserved: event time comes from the event's time field");
    return s;
fail:
    if (s->subscription == NULL)
        rd_kafka_topic_partition_list_destroy(subscription);
    kafka_source_destroy(api, ctx, s);
    return NULL;
}

static void kafka_source_destroy(const sluice_host_api *api, sluice_ctx *ctx, void *self)
{
    (void)api;
    (void)ctx;
    kafka_source *s = self;
    s->closing = 1;
    if (s->queue)
        rd_kafka_queue_destroy(s->queue);
    if (s->exchange_queue)
        rd_kafka_queue_destroy(s->exchange_queue);
    if (s->commit_queue) {
        kgroup_drain_commits(s); /* the outcome of a commit in flight is worth knowing */
        rd_kafka_queue_destroy(s->commit_queue);
    }
    if (s->rk) {
        /* Leaves the group at once (revoking through rebalance_cb) and lets
         * commits in flight finish. Commits nothing by itself. */
        rd_kafka_consumer_close(s->rk);
        rd_kafka_destroy(s->rk);
    }
    kcl_close(&s->cl);
    if (s->subscription)
        rd_kafka_topic_partition_list_destroy(s->subscription);
    free(s->exchange_topic);
    for (size_t i = 0; i < s->pos.count; i++)
        kgroup_drop_pending(s, s->pos.parts[i]);
    kpos_free(&s->pos);
    korder_free(&s->order);
    free(s->batch);
    free(s);
}

static sluice_status kafka_source_poll(const sluice_host_api *api, sluice_ctx *ctx, void *self, size_t budget,
                                       int timeout_ms)
{
    (void)api;
    (void)ctx;
    return kfetch_poll(self, budget, timeout_ms);
}

/* ---- checkpoints and state ------------------------------------------------ */

static sluice_status kafka_source_checkpoint_begin(const sluice_host_api *api, sluice_ctx *ctx, void *self,
                                                   uint64_t checkpoint_id)
{
    (void)api;
    (void)ctx;
    kafka_source *s = self;
    return kpos_checkpoint_begin(&s->pos, checkpoint_id) == 0 ? SLUICE_OK : SLUICE_ERR_NOMEM;
}

static sluice_status kafka_source_checkpoint_complete(const sluice_host_api *api, sluice_ctx *ctx, void *self,
                                                      uint64_t checkpoint_id)
{
    kafka_source *s = self;
    if (s->tasks && kcl_complete(s, checkpoint_id) != 0) {
        kpos_checkpoint_done(&s->pos, checkpoint_id); /* no offset without its state */
        return SLUICE_OK;
    }
    if (s->exchange_failed) { /* what it sent is lost: the input must be read again */
        kpos_checkpoint_done(&s->pos, checkpoint_id);
        api->fail(ctx,
                  "records written to the exchange %s were lost; stopping without committing, so a "
                  "restart sends them again",
                  s->exchange_topic);
        return SLUICE_ERR_IO;
    }
    kgroup_commit(s, checkpoint_id);
    return SLUICE_OK;
}

/* Partition tasks (key:): one topic's partitions, from the broker. */
static int32_t kafka_source_partition_count(const sluice_host_api *api, sluice_ctx *ctx, void *self)
{
    kafka_source *s = self;
    if (s->pos.ntopics != 1 || s->pos.topics[0][0] == '^') {
        api->log(ctx, SLUICE_LOG_ERROR, "key: needs exactly one topic, named (not a pattern)");
        return -1;
    }
    const char *topic = s->pos.topics[0];
    rd_kafka_resp_err_t err;
    int32_t n = kc_topic_partitions(s->rk, topic, &err);
    if (n <= 0)
        api->log(ctx, SLUICE_LOG_ERROR, "cannot read the partition count of %s: %s", topic,
                 rd_kafka_err2str(err ? err : RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART));
    char why[512];
    if (n > 0 && kcl_open(s, why, sizeof why) != 0) {
        api->log(ctx, SLUICE_LOG_ERROR, "%s", why);
        return -1;
    }
    s->tasks = n > 0;
    s->input_partitions = n;
    return n;
}

static int32_t kafka_source_exchange_open(const sluice_host_api *api, sluice_ctx *ctx, void *self,
                                          const char *name, int32_t *first_partition)
{
    (void)api;
    (void)ctx;
    return kx_open(self, name, first_partition);
}

static sluice_status kafka_source_exchange_send(const sluice_host_api *api, sluice_ctx *ctx, void *self,
                                                int32_t partition, const void *key, size_t key_len,
                                                const void *value, size_t value_len)
{
    (void)api;
    (void)ctx;
    return kx_send(self, partition, key, key_len, value, value_len);
}

static sluice_status kafka_source_partition_state_save(const sluice_host_api *api, sluice_ctx *ctx,
                                                       void *self, uint64_t checkpoint_id, int32_t partition,
                                                       const void *data, size_t size)
{
    kafka_source *s = self;
    kpart *part = kpos_find_id(&s->pos, partition);
    char err[512];
    if (part == NULL) {
        api->fail(ctx, "state of partition %d, which this source never had", (int)partition);
        return SLUICE_ERR;
    }
    if (kcl_save(s, checkpoint_id, part, data, size, err, sizeof err) != 0) {
        api->fail(ctx, "%s", err);
        return SLUICE_ERR_IO;
    }
    api->counter_add(s->c_changelog_states, 1);
    api->counter_add(s->c_changelog_bytes, (int64_t)size);
    return SLUICE_OK;
}

static sluice_status kafka_source_snapshot(const sluice_host_api *api, sluice_ctx *ctx, void *self,
                                           sluice_snapshot *out)
{
    (void)ctx;
    kafka_source *s = self;
    size_t size = 0;
    void *data = kpos_encode(&s->pos, api->alloc, &size);
    if (data == NULL)
        return SLUICE_ERR_NOMEM;
    out->encoding_version = KPOS_SNAPSHOT_VERSION;
    out->data = data;
    out->size = size;
    return SLUICE_OK;
}

static sluice_status kafka_source_restore(const sluice_host_api *api, sluice_ctx *ctx, void *self,
                                          const sluice_snapshot *in)
{
    kafka_source *s = self;
    if (in->encoding_version != KPOS_SNAPSHOT_VERSION) {
        api->log(ctx, SLUICE_LOG_ERROR, "cannot read kafka positions of encoding %u; this build reads %u",
                 in->encoding_version, KPOS_SNAPSHOT_VERSION);
        return SLUICE_ERR_STATE;
    }
    if (kpos_decode(&s->pos, in->data, in->size) != 0) {
        api->log(ctx, SLUICE_LOG_ERROR, "the kafka positions in the snapshot are malformed (%zu bytes)",
                 in->size);
        return SLUICE_ERR_STATE;
    }
    api->log(ctx, SLUICE_LOG_INFO, "restored positions of %zu partition(s): they start there when assigned",
             s->pos.nrestored);
    return SLUICE_OK;
}

static const sluice_plugin kafka_source_plugin = {
    .struct_size = sizeof(sluice_plugin),
    .abi_version = SLUICE_ABI_VERSION,
    .name = "kafka",
    .kind = SLUICE_KIND_SOURCE,
    .version = "1.0.0",
    .description = "messages from Kafka topics in a consumer group; offsets committed at checkpoints "
                   "(at-least-once)",
    .options = kafka_source_options,
    .create = kafka_source_create,
    .destroy = kafka_source_destroy,
    .poll = kafka_source_poll,
    .validate = kafka_source_validate,
    .state = SLUICE_STATE_KEPT, /* its positions */
    .snapshot = kafka_source_snapshot,
    .restore = kafka_source_restore,
    .checkpoint_begin = kafka_source_checkpoint_begin,
    .checkpoint_complete = kafka_source_checkpoint_complete,
    .partition_count = kafka_source_partition_count,
    .partition_state_save = kafka_source_partition_state_save,
    .exchange_open = kafka_source_exchange_open,
    .exchange_send = kafka_source_exchange_send,
};

SLUICE_PLUGIN_EXPORT const sluice_plugin *sluice_plugin_entry(void) { return &kafka_source_plugin; }
