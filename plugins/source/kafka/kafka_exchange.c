/* The exchange through the broker (plugin.h, sluice_plugin.exchange_open;
 * the engine's side is engine/src/runtime/exchange.c): a topic named
 * "<group>.<name>.repartition" that this source writes with the changelog's
 * idempotent producer and reads in its own group, beside its input topic.
 * Its partitions get the sluice partition ids of topic index 1
 * (kafka_positions.h). The topic is made where it does not exist: with
 * the Admin API as the input topic's partition count, else by the first
 * metadata request where the broker creates topics on first use (the
 * embedded one: 4 partitions). Its partition count is always read back from
 * the broker, never assumed.
 *
 * Its partitions are read into a queue of their own, drained first at every
 * poll: in the consumer's shared queue they would wait behind a backlog of
 * the input (fetching stops while that queue is full), and what the
 * pipeline sends itself would pile up in the broker meanwhile, past the
 * embedded broker's retention of about 5 MiB per partition. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kafka_source.h"

#define ADMIN_TIMEOUT_MS 10000
#define QUEUE_FULL_WAIT_MS 100

/* Create the topic with the Admin API; 0 when it now exists. */
static int create_topic(kafka_source *s, const char *topic, int32_t partitions, char *err, size_t errsz)
{
    rd_kafka_t *rk = s->cl.producer;
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, partitions, -1, err, errsz);
    if (nt == NULL)
        return -1;
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *o = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_request_timeout(o, ADMIN_TIMEOUT_MS, NULL, 0);
    rd_kafka_CreateTopics(rk, &nt, 1, o, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, ADMIN_TIMEOUT_MS + 2000);
    int rc = -1;
    if (ev == NULL) {
        snprintf(err, errsz, "no answer to CreateTopics");
    } else if (rd_kafka_event_error(ev)) {
        snprintf(err, errsz, "%s", rd_kafka_event_error_string(ev));
    } else {
        size_t n = 0;
        const rd_kafka_topic_result_t **res =
            rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
        rd_kafka_resp_err_t e = n == 1 ? rd_kafka_topic_result_error(res[0]) : RD_KAFKA_RESP_ERR__FAIL;
        rc = e == RD_KAFKA_RESP_ERR_NO_ERROR || e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS ? 0 : -1;
        if (rc != 0)
            snprintf(err, errsz, "%s", n == 1 ? rd_kafka_err2str(e) : "no result");
    }
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_NewTopic_destroy(nt);
    rd_kafka_queue_destroy(q);
    return rc;
}

int32_t kx_open(kafka_source *s, const char *name, int32_t *first_partition)
{
    const sluice_host_api *api = s->host.api;
    if (!s->tasks || s->cl.producer == NULL) {
        api->log(s->host.ctx, SLUICE_LOG_ERROR, "an exchange needs partition tasks (key: on the source)");
        return -1;
    }
    char topic[600];
    snprintf(topic, sizeof topic, "%s.%s.repartition", api->opt_string(s->opts, "group"), name);
    rd_kafka_resp_err_t err;
    int32_t n = kc_topic_partitions(s->cl.producer, topic, &err);
    if (n <= 0 && !s->host.embedded) {
        char why[512];
        if (create_topic(s, topic, s->input_partitions, why, sizeof why) != 0)
            api->log(s->host.ctx, SLUICE_LOG_WARN, "cannot create %s with the Admin API (%s)", topic, why);
        n = kc_topic_partitions(s->cl.producer, topic, &err);
    }
    if (n <= 0) {
        api->log(s->host.ctx, SLUICE_LOG_ERROR,
                 "the exchange topic %s does not exist and cannot be created (%s): create it, with as many "
                 "partitions as the input topic, and start again",
                 topic, rd_kafka_err2str(err ? err : RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART));
        return -1;
    }
    long ti = kpos_topic(&s->pos, topic);
    if (ti != 1 || (s->exchange_topic = strdup(topic)) == NULL) {
        api->log(s->host.ctx, SLUICE_LOG_ERROR, "cannot open a second exchange, or out of memory");
        return -1;
    }
    rd_kafka_topic_partition_list_add(s->subscription, topic, RD_KAFKA_PARTITION_UA);
    s->exchange_partitions = n;
    *first_partition = KPOS_PARTITIONS_PER_TOPIC;
    api->log(s->host.ctx, SLUICE_LOG_INFO, "exchange: topic %s, %d partitions, read in group %s", topic,
             (int)n, api->opt_string(s->opts, "group"));
    return n;
}

void kx_assigned(kafka_source *s, const rd_kafka_topic_partition_list_t *parts)
{
    if (s->exchange_topic == NULL)
        return;
    if (s->exchange_queue == NULL)
        s->exchange_queue = rd_kafka_queue_new(s->rk);
    for (int i = 0; i < parts->cnt; i++) {
        if (strcmp(parts->elems[i].topic, s->exchange_topic) != 0)
            continue;
        rd_kafka_queue_t *q =
            rd_kafka_queue_get_partition(s->rk, s->exchange_topic, parts->elems[i].partition);
        if (q) {
            rd_kafka_queue_forward(q, s->exchange_queue);
            rd_kafka_queue_destroy(q);
        }
    }
}

int kx_is_exchange(const kafka_source *s, const kpart *p)
{
    return s->exchange_topic != NULL && p->id >= KPOS_PARTITIONS_PER_TOPIC;
}

sluice_status kx_send(kafka_source *s, int32_t partition, const void *key, size_t key_len, const void *value,
                      size_t value_len)
{
    if (s->exchange_topic == NULL || partition < 0 || partition >= s->exchange_partitions)
        return SLUICE_ERR;
    if (s->exchange_failed)
        return SLUICE_ERR_IO; /* reported once, by the delivery report */
    for (;;) {
        rd_kafka_resp_err_t err = rd_kafka_producev(
            s->cl.producer, RD_KAFKA_V_TOPIC(s->exchange_topic), RD_KAFKA_V_PARTITION(partition),
            RD_KAFKA_V_KEY(key, key_len), RD_KAFKA_V_VALUE((void *)value, value_len),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(NULL), RD_KAFKA_V_END);
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
            break;
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            s->host.api->log(s->host.ctx, SLUICE_LOG_ERROR, "cannot write to the exchange %s: %s",
                             s->exchange_topic, rd_kafka_err2str(err));
            return SLUICE_ERR_IO;
        }
        rd_kafka_poll(s->cl.producer, QUEUE_FULL_WAIT_MS); /* room frees as deliveries complete */
    }
    if (++s->exchange_unpolled >= 1000) { /* serve delivery reports now and then */
        rd_kafka_poll(s->cl.producer, 0);
        s->exchange_unpolled = 0;
    }
    return SLUICE_OK;
}
