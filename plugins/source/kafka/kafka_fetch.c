/* Reading for the kafka source: poll() drains the consumer queue into one
 * pending list per partition, then pushes messages to the host in
 * timestamp order across partitions.
 *
 * Why interleave: librdkafka hands over a fetch response partition by
 * partition, up to a megabyte of one partition before the next. Pushed in
 * that order, a backlog (after a restart, or a consumer that fell behind)
 * would let the first partition's watermark run minutes ahead of the
 * others, whose events would then count as too late. Taking, among the
 * partitions with fetched messages, the one whose next message is oldest
 * (ties in turn) reads a backlog about as it was written. Within a
 * partition the order is always Kafka's.
 *
 * For the choice to be fair, every assigned partition should have fetched
 * messages, or be known to be read to its end: while one lags with nothing
 * fetched yet, the others are held back for up to `align_wait` (as Kafka
 * Streams does with max.task.idle.ms), then read anyway, so that a
 * partition whose leader is away cannot stall the pipeline. The default
 * (2s) covers a partition whose first fetch librdkafka puts off by 500 ms
 * because its leader was not known yet when it was assigned.
 *
 * Lost data: the consumer runs with auto.offset.reset=error, so a position
 * the broker no longer holds comes back as an error naming it. The loss is
 * reported and counted, and the partition restarts at its log start. */
#include <sluice/bytes.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kafka_source.h"

#define PENDING_MIN_CAP 65536 /* messages fetched and not yet pushed, at most */

/* A committed or restored offset is outside the partition's log: find the
 * log start, report what was lost, restart there. In the exchange a loss is
 * fatal: what the pipeline sent itself is gone, and its totals would be
 * wrong from then on. */
static sluice_status recover_offset_reset(kafka_source *s, const rd_kafka_message_t *m)
{
    const sluice_host_api *api = s->host.api;
    const char *topic = rd_kafka_topic_name(m->rkt);
    int32_t partition = m->partition;
    kpart *p = kpos_find(&s->pos, topic, partition);
    if (p == NULL || !p->assigned)
        return SLUICE_OK;
    int64_t target;
    if (m->offset < 0) {
        /* No committed offset after all (the group's offsets were not known
         * at assignment): `start` applies. */
        target = s->start_latest ? RD_KAFKA_OFFSET_END : RD_KAFKA_OFFSET_BEGINNING;
    } else {
        int64_t low = -1, high = -1;
        rd_kafka_resp_err_t err =
            rd_kafka_query_watermark_offsets(s->rk, topic, partition, &low, &high, WATERMARK_TIMEOUT_MS);
        if (err) {
            kc_warn_limited(&s->host,
                            "%s/%d: offset %" PRId64 " is out of range and the log bounds are unknown (%s): "
                            "retrying",
                            topic, (int)partition, m->offset, rd_kafka_err2str(err));
            target = m->offset;
        } else if (m->offset < low) {
            api->log(s->host.ctx, SLUICE_LOG_ERROR,
                     "DATA LOSS: %s/%d: offsets [%" PRId64 ", %" PRId64
                     ") were deleted by the broker (retention) "
                     "before they were read: %" PRId64 " message(s) lost; continuing from offset %" PRId64,
                     topic, (int)partition, m->offset, low, low - m->offset, low);
            api->counter_add(s->c_loss_messages, low - m->offset);
            api->counter_add(s->c_loss_events, 1);
            target = low;
            if (kx_is_exchange(s, p)) {
                api->log(s->host.ctx, SLUICE_LOG_ERROR,
                         "the exchange lost records the pipeline sent itself, so its totals would be wrong: "
                         "stopping. The embedded broker keeps about 5 MiB per partition, less than a "
                         "window's partial counts of many partitions and URLs: use a real cluster, or "
                         "two_phase: false with a single instance");
                return SLUICE_ERR_IO;
            }
        } else if (m->offset > high) {
            api->log(s->host.ctx, SLUICE_LOG_ERROR,
                     "DATA LOSS: %s/%d: position %" PRId64 " is past the end of the log (%" PRId64
                     "): the topic "
                     "was recreated or truncated; reading it again from offset %" PRId64,
                     topic, (int)partition, m->offset, high, low);
            api->counter_add(s->c_loss_events, 1);
            target = low;
        } else {
            target = m->offset; /* back in range by now: try again */
        }
    }
    p->next = target >= 0 ? target : -1;
    p->start = target;
    s->reassign = 1;
    return SLUICE_OK;
}

static int is_fatal(rd_kafka_resp_err_t err)
{
    switch (err) {
    case RD_KAFKA_RESP_ERR__FATAL:
    case RD_KAFKA_RESP_ERR__AUTHENTICATION:
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
    case RD_KAFKA_RESP_ERR_INVALID_GROUP_ID:
        return 1;
    default:
        return 0;
    }
}

/* A fetched message waiting in its partition's pending list, copied out of
 * librdkafka's fetch buffer. A fetch response is one buffer holding a
 * share of every partition, freed when its last message is destroyed; read
 * oldest message first, a partition ahead of the others keeps messages
 * pending for a while, and each of them would keep its whole response
 * alive: with many partitions, hundreds of megabytes of responses read long
 * ago. Copied, a response is freed as soon as its messages leave
 * librdkafka's queue, so memory is bounded by that queue's settings
 * (queued.max.messages.kbytes) plus the pending messages themselves. */
typedef struct kheld {
    int64_t offset, ts;
    size_t len, key_len;
    unsigned char eof, has_payload, has_key;
    char bytes[]; /* the key, then the payload */
} kheld;

static kheld *hold(const rd_kafka_message_t *m, int64_t ts)
{
    size_t len = m->err ? 0 : m->len, key_len = m->err ? 0 : m->key_len;
    kheld *h = malloc(sizeof *h + key_len + len);
    if (h == NULL)
        return NULL;
    *h = (kheld){m->offset, ts, len, key_len, m->err != 0, m->payload != NULL, m->key != NULL};
    if (key_len)
        memcpy(h->bytes, m->key, key_len);
    if (len)
        memcpy(h->bytes + key_len, m->payload, len);
    return h;
}

void kfetch_free_held(void *held) { free(held); }

/* One message from the consumer queue: data and end-of-partition markers
 * join their partition's pending list (in order), copied; errors are dealt
 * with now. Takes ownership of m (destroyed here). */
static sluice_status route(kafka_source *s, rd_kafka_message_t *m)
{
    kpart *p = m->rkt ? kpos_find(&s->pos, rd_kafka_topic_name(m->rkt), m->partition) : NULL;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR || m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        if (p == NULL || !p->assigned) {
            rd_kafka_message_destroy(m); /* fetched before a revoke: its next owner reads it */
            return SLUICE_OK;
        }
        if (m->err && p->pending.len == 0) {
            p->at_eof = 1;
            rd_kafka_message_destroy(m);
            return SLUICE_OK;
        }
        /* The exchange's records go first: they carry no event time to
         * interleave by, and hold nothing back. */
        int64_t ts = m->err || kx_is_exchange(s, p) ? INT64_MIN : rd_kafka_message_timestamp(m, NULL);
        kheld *h = hold(m, ts);
        rd_kafka_message_destroy(m);
        if (h == NULL || kpending_push(&p->pending, h, ts) != 0) {
            free(h);
            return SLUICE_ERR_NOMEM;
        }
        s->pending_total++;
        if (p->pending.len == 1 && korder_update(&s->order, p) != 0)
            return SLUICE_ERR_NOMEM; /* the message stays pending, for destroy to free */
        return SLUICE_OK;
    }
    sluice_status st = SLUICE_OK;
    const char *topic = m->rkt ? rd_kafka_topic_name(m->rkt) : NULL;
    if (m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET && p != NULL) {
        st = recover_offset_reset(s, m);
    } else if (is_fatal(m->err)) {
        s->host.api->log(s->host.ctx, SLUICE_LOG_ERROR, "kafka consumer%s%s: %s", topic ? " on " : "",
                         topic ? topic : "", rd_kafka_message_errstr(m));
        st = SLUICE_ERR_IO;
    } else {
        kc_warn_limited(&s->host, "kafka consumer%s%s: %s (retrying)", topic ? " on " : "",
                        topic ? topic : "", rd_kafka_message_errstr(m));
    }
    rd_kafka_message_destroy(m);
    return st;
}

/* Up to `want` messages of queue q into the pending lists, waiting up to
 * wait_ms for the first; how many it took, or an error. */
static ssize_t take_batch(kafka_source *s, rd_kafka_queue_t *q, int wait_ms, size_t want, sluice_status *st)
{
    ssize_t n = rd_kafka_consume_batch_queue(q, wait_ms, s->batch, want);
    *st = SLUICE_OK;
    for (ssize_t i = 0; i < n; i++) {
        sluice_status r = *st >= 0 ? route(s, s->batch[i]) : (rd_kafka_message_destroy(s->batch[i]), *st);
        if (r < 0)
            *st = r;
    }
    return n;
}

/* Move what the consumer queue holds into the pending lists, waiting up to
 * timeout_ms when nothing is pending yet (a little while a lagging
 * partition holds the others back). */
static sluice_status drain(kafka_source *s, size_t chunk, int timeout_ms)
{
    sluice_status st = SLUICE_OK;
    /* The exchange's own queue first (kafka_exchange.c): never held back. */
    while (s->exchange_queue && take_batch(s, s->exchange_queue, 0, chunk, &st) == (ssize_t)chunk && st >= 0)
        ;
    if (st < 0)
        return st;
    int wait = s->pending_total == 0 ? timeout_ms
               : s->lagging_since    ? (timeout_ms < 10 ? timeout_ms : 10)
                                     : 0;
    while (s->pending_total < s->pending_cap) {
        size_t room = s->pending_cap - s->pending_total;
        size_t want = room < chunk ? room : chunk;
        ssize_t n = take_batch(s, s->queue, wait, want, &st);
        if (st < 0)
            return st;
        if (n < (ssize_t)want)
            break;
        wait = 0;
    }
    return SLUICE_OK;
}

/* Hands m to the host, which releases it once done (zero copy) when it
 * speaks ABI 1.1; otherwise it copies and m is freed here. */
static sluice_status push_message(kafka_source *s, kpart *p, kheld *m)
{
    int lend = s->host.api->abi_version >= SLUICE_ABI_VERSION_OF(1, 1);
    size_t origin_len =
        p->origin_prefix + sluice_format_u64(p->origin + p->origin_prefix, (uint64_t)m->offset);
    sluice_message msg = {
        .struct_size = sizeof msg,
        .payload = m->has_payload ? m->bytes + m->key_len : NULL,
        .payload_len = m->len,
        .origin = p->origin,
        .origin_len = origin_len,
        .partition = p->id,
        .timestamp_ms = m->ts >= 0 ? m->ts : SLUICE_TIME_MIN,
        .key = m->has_key ? m->bytes : NULL,
        .key_len = m->key_len,
        .release = lend ? kfetch_free_held : NULL,
        .release_arg = lend ? m : NULL,
    };
    if (s->pushed++ == 0)
        s->first_push_ms = s->host.api->now_ms(s->host.ctx);
    p->next = m->offset + 1;
    p->at_eof = 0;
    sluice_status st = s->host.api->source_push(s->host.ctx, &msg);
    if (!lend)
        free(m);
    return st;
}

/* An assigned partition with nothing fetched that is not known to be read
 * to its end: pushing the others now might run their watermarks ahead. */
static const kpart *lagging_partition(const kafka_source *s)
{
    for (size_t i = 0; i < s->pos.count; i++) {
        const kpart *p = s->pos.parts[i];
        if (p->assigned && p->pending.len == 0 && !p->at_eof && !kx_is_exchange(s, p))
            return p;
    }
    return NULL;
}

/* Hold pending messages back while a partition lags, up to align_wait. */
static int hold_back(kafka_source *s)
{
    /* With the pending lists full, the lagging partition's messages may be
     * queued behind the others' where draining cannot reach: waiting would
     * only stall. */
    int can_wait = s->align_wait_ms > 0 && s->pending_total > 0 && s->pending_total < s->pending_cap;
    const kpart *lagging = can_wait ? lagging_partition(s) : NULL;
    if (lagging == NULL) {
        s->lagging_since = 0;
        return 0;
    }
    int64_t now = s->host.api->now_ms(s->host.ctx);
    if (s->lagging_since == 0) {
        s->lagging_since = now;
        s->host.api->log(s->host.ctx, SLUICE_LOG_DEBUG, "%s/%d has nothing fetched: holding the others back",
                         lagging->topic, (int)lagging->partition);
    }
    if (now - s->lagging_since < s->align_wait_ms)
        return 1;
    s->host.api->log(s->host.ctx, SLUICE_LOG_DEBUG, "align_wait passed: reading on without %s/%d",
                     lagging->topic, (int)lagging->partition);
    return 0;
}

/* stop_at_end: every assigned input partition has been read to its end
 * (the exchange's end is the engine's to tell: source_exchange_pending). */
static int all_at_end(const kafka_source *s)
{
    if (!s->assignment_seen)
        return 0;
    for (size_t i = 0; i < s->pos.count; i++) {
        const kpart *p = s->pos.parts[i];
        if (p->assigned && !kx_is_exchange(s, p) && (!p->at_eof || p->pending.len > 0))
            return 0;
    }
    return 1;
}

#define LAG_REPORT_MS 1000

/* Consumer lag per partition as gauges named kafka.lag.<topic>/<partition>
 * (the engine's convention, docs/metrics.md): the log's end as the last
 * fetch response gave it (librdkafka's cache, no broker round trip) minus
 * the next offset to push, fetched-but-unpushed messages included. A
 * partition no longer assigned reads 0: its lag is another member's now. */
static void report_lag(kafka_source *s)
{
    const sluice_host_api *api = s->host.api;
    int64_t now = api->now_ms(s->host.ctx);
    if (now - s->lag_reported_ms < LAG_REPORT_MS)
        return;
    s->lag_reported_ms = now;
    for (size_t i = 0; i < s->pos.count; i++) {
        kpart *p = s->pos.parts[i];
        int64_t low, high, lag = 0;
        if (p->assigned) {
            if (p->next < 0 ||
                rd_kafka_get_watermark_offsets(s->rk, p->topic, p->partition, &low, &high) != 0 || high < 0)
                continue; /* not known yet */
            lag = high > p->next ? high - p->next : 0;
        }
        char name[300];
        snprintf(name, sizeof name, "kafka.lag.%s/%d", p->topic, (int)p->partition);
        api->counter_set(api->counter(s->host.ctx, name), lag);
    }
}

sluice_status kfetch_poll(kafka_source *s, size_t budget, int timeout_ms)
{
    const sluice_host_api *api = s->host.api;
    if (s->ended)
        return SLUICE_END;
    if (s->subscription) { /* after exchange_open, which may add to it */
        rd_kafka_resp_err_t err = rd_kafka_subscribe(s->rk, s->subscription);
        rd_kafka_topic_partition_list_destroy(s->subscription);
        s->subscription = NULL;
        if (err) {
            api->log(s->host.ctx, SLUICE_LOG_ERROR, "cannot subscribe: %s", rd_kafka_err2str(err));
            return SLUICE_ERR_IO;
        }
    }
    if (budget > s->batch_cap) {
        rd_kafka_message_t **grown = realloc(s->batch, budget * sizeof *grown);
        if (grown == NULL)
            return SLUICE_ERR_NOMEM;
        s->batch = grown;
        s->batch_cap = budget;
    }
    /* Enough fetched to see several fetch responses at once, i.e. data of
     * every partition (each response carries up to max.partition.fetch.bytes
     * of each). */
    if (s->pending_cap < 8 * budget)
        s->pending_cap = 8 * budget < PENDING_MIN_CAP ? PENDING_MIN_CAP : 8 * budget;
    sluice_status st = drain(s, budget, timeout_ms);
    if (st < 0)
        return st;
    if (s->host.fatal) {
        api->log(s->host.ctx, SLUICE_LOG_ERROR, "kafka consumer failed: %s: %s",
                 rd_kafka_err2name(s->host.fatal), s->host.fatal_text);
        return SLUICE_ERR_IO;
    }
    if (s->reassign)
        kgroup_reassign(s);
    int held = hold_back(s);
    for (size_t pushed = 0; pushed < budget && !held;) {
        kpart *p = korder_next(&s->order);
        if (p == NULL)
            break;
        kheld *m = kpending_pop(&p->pending);
        s->pending_total--;
        korder_update(&s->order, p); /* in the order already: cannot fail */
        if (m->eof) {
            p->at_eof = p->pending.len == 0; /* an end-of-partition marker */
            free(m);
        } else {
            st = push_message(s, p, m);
            pushed++;
        }
        if (st < 0)
            return st;
        /* It ran out of fetched messages before its end: it lags now. */
        held = s->align_wait_ms > 0 && s->lagging_since == 0 && p->pending.len == 0 && !p->at_eof;
    }
    if (s->stop_at_end && all_at_end(s)) {
        if (!s->input_ended_told)
            for (size_t i = 0; i < s->pos.count; i++)
                if (s->pos.parts[i]->assigned && !kx_is_exchange(s, s->pos.parts[i]))
                    api->source_partition_ended(s->host.ctx, s->pos.parts[i]->id);
        s->input_ended_told = 1;
        /* What the end makes due still travels through the exchange. */
        if (s->exchange_topic && SLUICE_HOST_HAS(api, source_exchange_pending) &&
            api->source_exchange_pending(s->host.ctx)) {
            report_lag(s);
            return SLUICE_OK;
        }
        int64_t ms = s->first_push_ms ? api->now_ms(s->host.ctx) - s->first_push_ms : 0;
        api->log(s->host.ctx, SLUICE_LOG_INFO,
                 "every assigned partition read to its end (stop_at_end): %llu message(s) in %lld ms from "
                 "the first",
                 (unsigned long long)s->pushed, (long long)ms);
        s->ended = 1;
        return SLUICE_END;
    }
    report_lag(s);
    return SLUICE_OK;
}
