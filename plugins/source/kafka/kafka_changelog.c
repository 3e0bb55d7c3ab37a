/* Partition task state in a changelog topic: see kafka_changelog.h. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kafka_source.h"

#define CHUNK_BYTES (256u * 1024u) /* well under every broker's message limit */
#define FLUSH_TIMEOUT_MS 30000
#define READ_TIMEOUT_MS 30000
#define POINTER_PREFIX "sluice-state/1 "

static uint64_t fnv1a(const void *data, size_t n)
{
    const unsigned char *p = data;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

/* A delivery report: each chunk's outcome, and where the first landed. */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    kstate_save *sv = m->_private;
    if (sv == NULL) { /* a record of the exchange (kafka_exchange.c) */
        kafka_source *s = opaque;
        if (m->err && !s->exchange_failed)
            s->host.api->log(s->host.ctx, SLUICE_LOG_ERROR, "a write to the exchange %s failed: %s",
                             s->exchange_topic ? s->exchange_topic : "?", rd_kafka_err2str(m->err));
        s->exchange_failed |= m->err != RD_KAFKA_RESP_ERR_NO_ERROR;
        return;
    }
    if (m->err) {
        if (!sv->failed)
            snprintf(sv->error, sizeof sv->error, "%s", rd_kafka_err2str(m->err));
        sv->failed = 1;
        return;
    }
    if (sv->acked++ == 0 || m->offset < sv->first_offset)
        sv->first_offset = m->offset;
    sv->log_partition = m->partition;
}

static int client_conf(kafka_source *s, rd_kafka_conf_t *conf, char *err, size_t errsz)
{
    const sluice_host_api *api = s->host.api;
    const char *bootstrap = kc_bootstrap(&s->host, api->opt_string(s->opts, "brokers"), err, errsz);
    if (bootstrap == NULL || kc_set(conf, "bootstrap.servers", bootstrap, err, errsz) != 0)
        return -1;
    static const char *const none[] = {NULL};
    return kc_apply_map(&s->host, s->opts, conf, none, err, errsz);
}

int kcl_open(kafka_source *s, char *err, size_t errsz)
{
    kchangelog *cl = &s->cl;
    const sluice_host_api *api = s->host.api;
    const char *topic = api->opt_string(s->opts, "state_topic");
    char name[512];
    if (topic && *topic)
        snprintf(name, sizeof name, "%s", topic);
    else
        snprintf(name, sizeof name, "%s.%s.state", api->opt_string(s->opts, "group"),
                 api->step_name(s->host.ctx));
    cl->topic = strdup(name);
    cl->max_bytes = api->opt_int(s->opts, "state_max_bytes");
    rd_kafka_conf_t *pconf = rd_kafka_conf_new();
    char why[512];
    if (cl->topic == NULL || client_conf(s, pconf, err, errsz) != 0 ||
        kc_set(pconf, "enable.idempotence", "true", err, errsz) != 0 ||
        kc_set(pconf, "acks", "all", err, errsz) != 0 || kc_set(pconf, "linger.ms", "5", err, errsz) != 0) {
        rd_kafka_conf_destroy(pconf);
        return -1;
    }
    rd_kafka_conf_set_dr_msg_cb(pconf, on_delivery);
    rd_kafka_conf_set_opaque(pconf, s);
    if ((cl->producer = rd_kafka_new(RD_KAFKA_PRODUCER, pconf, why, sizeof why)) == NULL) {
        rd_kafka_conf_destroy(pconf);
        snprintf(err, errsz, "cannot create the state producer: %s", why);
        return -1;
    }
    rd_kafka_conf_t *rconf = rd_kafka_conf_new();
    char group[600];
    snprintf(group, sizeof group, "%s.reader", cl->topic); /* never joined: partitions are assigned */
    if (client_conf(s, rconf, err, errsz) != 0 || kc_set(rconf, "group.id", group, err, errsz) != 0 ||
        kc_set(rconf, "enable.auto.commit", "false", err, errsz) != 0 ||
        kc_set(rconf, "enable.partition.eof", "true", err, errsz) != 0 ||
        kc_set(rconf, "auto.offset.reset", "error", err, errsz) != 0) {
        rd_kafka_conf_destroy(rconf);
        return -1;
    }
    if ((cl->reader = rd_kafka_new(RD_KAFKA_CONSUMER, rconf, why, sizeof why)) == NULL) {
        rd_kafka_conf_destroy(rconf);
        snprintf(err, errsz, "cannot create the state reader: %s", why);
        return -1;
    }
    rd_kafka_poll_set_consumer(cl->reader);
    api->log(s->host.ctx, SLUICE_LOG_INFO, "partition task state goes to topic %s", cl->topic);
    return 0;
}

void kcl_close(kchangelog *cl)
{
    if (cl->producer) {
        rd_kafka_flush(cl->producer, FLUSH_TIMEOUT_MS);
        rd_kafka_destroy(cl->producer);
    }
    if (cl->reader) {
        rd_kafka_consumer_close(cl->reader);
        rd_kafka_destroy(cl->reader);
    }
    for (size_t i = 0; i < cl->nsaves; i++)
        free(cl->saves[i]);
    free(cl->saves);
    free(cl->topic);
    memset(cl, 0, sizeof *cl);
}

int kcl_save(kafka_source *s, uint64_t id, kpart *part, const void *data, size_t size, char *err,
             size_t errsz)
{
    kchangelog *cl = &s->cl;
    if (cl->max_bytes > 0 && size > (uint64_t)cl->max_bytes) {
        snprintf(err, errsz,
                 "the state of %s/%d is %zu bytes, over state_max_bytes (%" PRId64
                 "): it cannot be kept in the changelog; raise state_max_bytes (and the topic's retention) "
                 "or use more partitions",
                 part->topic, (int)part->partition, size, cl->max_bytes);
        return -1;
    }
    rd_kafka_resp_err_t why; /* it may not exist yet: the first write makes it where the broker allows */
    if (cl->log_partitions <= 0)
        cl->log_partitions = kc_topic_partitions(cl->producer, cl->topic, &why);
    if (cl->nsaves == cl->cap) {
        size_t cap = cl->cap ? 2 * cl->cap : 16;
        kstate_save **grown = realloc(cl->saves, cap * sizeof *grown);
        if (grown == NULL)
            goto nomem;
        cl->saves = grown;
        cl->cap = cap;
    }
    kstate_save *sv = calloc(1, sizeof *sv);
    if (sv == NULL)
        goto nomem;
    sv->checkpoint_id = id;
    sv->part = part;
    sv->size = size;
    sv->hash = fnv1a(data, size);
    sv->chunks = (uint32_t)((size + CHUNK_BYTES - 1) / CHUNK_BYTES);
    if (sv->chunks == 0)
        sv->chunks = 1;
    /* Every chunk of a state in one changelog partition, in order: the
     * idempotent producer keeps them so. */
    int32_t target = cl->log_partitions > 0 ? part->partition % cl->log_partitions : RD_KAFKA_PARTITION_UA;
    cl->saves[cl->nsaves++] = sv;
    for (uint32_t c = 0; c < sv->chunks; c++) {
        char key[96];
        int klen = snprintf(key, sizeof key, "%d/%" PRIu64 "/%u", (int)part->partition, id, c);
        size_t off = (size_t)c * CHUNK_BYTES, len = size - off < CHUNK_BYTES ? size - off : CHUNK_BYTES;
        rd_kafka_resp_err_t e =
            rd_kafka_producev(cl->producer, RD_KAFKA_V_TOPIC(cl->topic), RD_KAFKA_V_PARTITION(target),
                              RD_KAFKA_V_KEY(key, (size_t)klen), RD_KAFKA_V_VALUE((char *)data + off, len),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY | RD_KAFKA_MSG_F_BLOCK),
                              RD_KAFKA_V_OPAQUE(sv), RD_KAFKA_V_END);
        if (e) {
            snprintf(err, errsz, "cannot write the state of %s/%d to %s: %s", part->topic,
                     (int)part->partition, cl->topic, rd_kafka_err2str(e));
            sv->failed = 1;
            return -1;
        }
        /* Partition auto-assignment would scatter chunks: fix it after the first. */
        if (target == RD_KAFKA_PARTITION_UA) {
            rd_kafka_flush(cl->producer, FLUSH_TIMEOUT_MS);
            if (sv->failed || sv->acked == 0) {
                snprintf(err, errsz, "cannot write the state of %s/%d to %s: %s", part->topic,
                         (int)part->partition, cl->topic, sv->error[0] ? sv->error : "not acknowledged");
                return -1;
            }
            target = sv->log_partition;
        }
    }
    return 0;
nomem:
    snprintf(err, errsz, "out of memory");
    return -1;
}

int kcl_complete(kafka_source *s, uint64_t id)
{
    kchangelog *cl = &s->cl;
    if (cl->producer == NULL)
        return 0;
    if (rd_kafka_flush(cl->producer, FLUSH_TIMEOUT_MS) != RD_KAFKA_RESP_ERR_NO_ERROR)
        s->host.api->log(s->host.ctx, SLUICE_LOG_ERROR, "state writes to %s not confirmed within %d s",
                         cl->topic, FLUSH_TIMEOUT_MS / 1000);
    int ok = 1;
    size_t kept = 0;
    for (size_t i = 0; i < cl->nsaves; i++) {
        kstate_save *sv = cl->saves[i];
        if (sv->checkpoint_id > id) {
            cl->saves[kept++] = sv;
            continue;
        }
        if (sv->failed || sv->acked != sv->chunks) {
            ok = 0;
            s->host.api->log(s->host.ctx, SLUICE_LOG_ERROR,
                             "the state of %s/%d at checkpoint %" PRIu64
                             " was not written to %s (%s): its offset is not committed",
                             sv->part->topic, (int)sv->part->partition, sv->checkpoint_id, cl->topic,
                             sv->error[0] ? sv->error : "not acknowledged");
        } else if (sv->checkpoint_id == id) {
            char ptr[700];
            snprintf(ptr, sizeof ptr,
                     POINTER_PREFIX "topic=%s partition=%d offset=%" PRId64
                                    " chunks=%u size=%zu hash=%016" PRIx64 " checkpoint=%" PRIu64,
                     cl->topic, (int)sv->log_partition, sv->first_offset, sv->chunks, sv->size, sv->hash, id);
            char *copy = strdup(ptr);
            if (copy == NULL) {
                ok = 0;
            } else {
                free(sv->part->state_ptr);
                sv->part->state_ptr = copy;
            }
        }
        free(sv);
    }
    cl->nsaves = kept;
    return ok ? 0 : -1;
}

typedef struct kpointer {
    char topic[256];
    int partition;
    int64_t offset;
    unsigned chunks;
    size_t size;
    uint64_t hash, checkpoint;
} kpointer;

static int parse_pointer(const char *text, kpointer *ptr)
{
    if (strncmp(text, POINTER_PREFIX, strlen(POINTER_PREFIX)) != 0)
        return -1;
    int used = 0;
    int n = sscanf(text + strlen(POINTER_PREFIX),
                   "topic=%255s partition=%d offset=%" SCNd64 " chunks=%u size=%zu hash=%" SCNx64
                   " checkpoint=%" SCNu64 "%n",
                   ptr->topic, &ptr->partition, &ptr->offset, &ptr->chunks, &ptr->size, &ptr->hash,
                   &ptr->checkpoint, &used);
    return n == 7 && ptr->chunks > 0 && ptr->offset >= 0 ? 0 : -1;
}

/* Read the chunks `ptr` names from the changelog into buf. */
static int read_chunks(kafka_source *s, const kpart *part, const kpointer *ptr, char *buf, char *err,
                       size_t errsz)
{
    rd_kafka_t *rk = s->cl.reader;
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(list, ptr->topic, ptr->partition)->offset = ptr->offset;
    rd_kafka_resp_err_t e = rd_kafka_assign(rk, list);
    rd_kafka_topic_partition_list_destroy(list);
    if (e) {
        snprintf(err, errsz, "cannot read %s/%d: %s", ptr->topic, ptr->partition, rd_kafka_err2str(e));
        return -1;
    }
    char prefix[96];
    int plen = snprintf(prefix, sizeof prefix, "%d/%" PRIu64 "/", (int)part->partition, ptr->checkpoint);
    unsigned next = 0;
    size_t filled = 0;
    int64_t deadline = s->host.api->now_ms(s->host.ctx) + READ_TIMEOUT_MS;
    int rc = -1;
    snprintf(err, errsz, "timed out reading %s/%d from offset %" PRId64, ptr->topic, ptr->partition,
             ptr->offset);
    while (s->host.api->now_ms(s->host.ctx) < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (m == NULL)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            snprintf(err, errsz,
                     "chunk %u of %u is not in %s/%d after offset %" PRId64 " (deleted by retention?)",
                     next + 1, ptr->chunks, ptr->topic, ptr->partition, ptr->offset);
            rd_kafka_message_destroy(m);
            break;
        }
        if (m->err) {
            snprintf(err, errsz, "reading %s/%d at offset %" PRId64 ": %s", ptr->topic, ptr->partition,
                     ptr->offset, rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            break;
        }
        char want[128];
        int wlen = snprintf(want, sizeof want, "%.*s%u", plen, prefix, next);
        int ours = m->key_len == (size_t)wlen && memcmp(m->key, want, (size_t)wlen) == 0;
        if (ours && (m->len > ptr->size - filled || (next + 1 < ptr->chunks && m->len != CHUNK_BYTES))) {
            snprintf(err, errsz,
                     "chunk %u in %s/%d at offset %" PRId64 " has %zu bytes, not what the pointer says",
                     next + 1, ptr->topic, ptr->partition, m->offset, m->len);
            rd_kafka_message_destroy(m);
            break;
        }
        if (ours) {
            memcpy(buf + filled, m->payload, m->len);
            filled += m->len;
            next++;
        }
        rd_kafka_message_destroy(m);
        if (next == ptr->chunks) {
            rc = 0;
            break;
        }
    }
    rd_kafka_assign(rk, NULL);
    if (rc == 0 && (filled != ptr->size || fnv1a(buf, filled) != ptr->hash)) {
        snprintf(err, errsz,
                 "the state read from %s/%d at offset %" PRId64 " is corrupt (size or checksum differs)",
                 ptr->topic, ptr->partition, ptr->offset);
        rc = -1;
    }
    return rc;
}

int kcl_load(kafka_source *s, const kpart *part, void **data, size_t *size, char *err, size_t errsz)
{
    *data = NULL;
    *size = 0;
    if (part->state_ptr == NULL)
        return 0;
    kpointer ptr;
    if (parse_pointer(part->state_ptr, &ptr) != 0) {
        snprintf(err, errsz,
                 "the committed offset's metadata is not a state pointer this build reads: '%.200s'",
                 part->state_ptr);
        return -1;
    }
    if (s->cl.max_bytes > 0 && ptr.size > (uint64_t)s->cl.max_bytes) {
        snprintf(err, errsz, "the state pointer names %zu bytes, over state_max_bytes", ptr.size);
        return -1;
    }
    char *buf = malloc(ptr.size ? ptr.size : 1);
    if (buf == NULL) {
        snprintf(err, errsz, "out of memory for %zu bytes of state", ptr.size);
        return -1;
    }
    if (read_chunks(s, part, &ptr, buf, err, errsz) != 0) {
        free(buf);
        return -1;
    }
    *data = buf;
    *size = ptr.size;
    return 1;
}
