#include "kafka_positions.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sluice/bytes.h>

#define OFFSET_DIGITS 24

int kpos_init(kpos_table *t, const char *const *topics, size_t n)
{
    memset(t, 0, sizeof *t);
    t->topics = calloc(n ? n : 1, sizeof *t->topics);
    if (t->topics == NULL)
        return -1;
    for (size_t i = 0; i < n; i++) {
        t->topics[i] = strdup(topics[i]);
        if (t->topics[i] == NULL)
            return -1;
        t->ntopics++;
    }
    return 0;
}

static void clear_restored(kpos_table *t)
{
    for (size_t i = 0; i < t->nrestored; i++)
        free(t->restored[i].topic);
    free(t->restored);
    t->restored = NULL;
    t->nrestored = 0;
}

void kpos_free(kpos_table *t)
{
    for (size_t i = 0; i < t->count; i++) {
        free(t->parts[i]->origin);
        free(t->parts[i]->state_ptr);
        free(t->parts[i]->pending.items);
        free(t->parts[i]->pending.ts);
        free(t->parts[i]);
    }
    free(t->parts);
    for (size_t i = 0; i < t->ntopics; i++)
        free(t->topics[i]);
    free(t->topics);
    for (size_t i = 0; i < t->ncheckpoints; i++)
        free(t->checkpoints[i].entries);
    free(t->checkpoints);
    clear_restored(t);
    memset(t, 0, sizeof *t);
}

static long topic_index(kpos_table *t, const char *topic)
{
    for (size_t i = 0; i < t->ntopics; i++)
        if (strcmp(t->topics[i], topic) == 0)
            return (long)i;
    char **grown = realloc(t->topics, (t->ntopics + 1) * sizeof *grown);
    if (grown == NULL)
        return -1;
    t->topics = grown;
    if ((t->topics[t->ntopics] = strdup(topic)) == NULL)
        return -1;
    return (long)t->ntopics++;
}

kpart *kpos_find(kpos_table *t, const char *topic, int32_t partition)
{
    kpart *p = t->last;
    if (p && p->partition == partition && strcmp(p->topic, topic) == 0)
        return p;
    for (size_t i = 0; i < t->count; i++) {
        p = t->parts[i];
        if (p->partition == partition && strcmp(p->topic, topic) == 0)
            return t->last = p;
    }
    return NULL;
}

long kpos_topic(kpos_table *t, const char *topic) { return topic_index(t, topic); }

kpart *kpos_find_id(kpos_table *t, int32_t id)
{
    for (size_t i = 0; i < t->count; i++)
        if (t->parts[i]->id == id)
            return t->parts[i];
    return NULL;
}

kpart *kpos_get(kpos_table *t, const char *topic, int32_t partition)
{
    kpart *p = kpos_find(t, topic, partition);
    if (p)
        return p;
    long ti = topic_index(t, topic);
    if (ti < 0)
        return NULL;
    if (t->count == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        kpart **grown = realloc(t->parts, cap * sizeof *grown);
        if (grown == NULL)
            return NULL;
        t->parts = grown;
        t->cap = cap;
    }
    p = calloc(1, sizeof *p);
    if (p == NULL)
        return NULL;
    p->topic = t->topics[ti];
    p->partition = partition;
    p->id = (int32_t)(ti * KPOS_PARTITIONS_PER_TOPIC + partition);
    p->next = -1;
    size_t tlen = strlen(topic);
    p->origin = malloc(tlen + 16 + OFFSET_DIGITS);
    if (p->origin == NULL) {
        free(p);
        return NULL;
    }
    p->origin_prefix = (size_t)sprintf(p->origin, "%s/%d@", topic, (int)partition);
    t->parts[t->count++] = p;
    return t->last = p;
}

int kpending_push(kpending *q, void *item, int64_t ts)
{
    if (q->len == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 256;
        void **items = malloc(cap * sizeof *items);
        int64_t *tss = malloc(cap * sizeof *tss);
        if (items == NULL || tss == NULL) {
            free(items);
            free(tss);
            return -1;
        }
        for (size_t i = 0; i < q->len; i++) {
            items[i] = q->items[(q->head + i) % q->cap];
            tss[i] = q->ts[(q->head + i) % q->cap];
        }
        free(q->items);
        free(q->ts);
        q->items = items;
        q->ts = tss;
        q->cap = cap;
        q->head = 0;
    }
    size_t at = (q->head + q->len) & (q->cap - 1); /* cap: a power of two */
    q->items[at] = item;
    q->ts[at] = ts;
    q->len++;
    return 0;
}

void *kpending_pop(kpending *q)
{
    if (q->len == 0)
        return NULL;
    void *item = q->items[q->head];
    q->head = (q->head + 1) & (q->cap - 1);
    q->len--;
    return item;
}

int64_t kpos_take_restored(kpos_table *t, const char *topic, int32_t partition)
{
    for (size_t i = 0; i < t->nrestored; i++) {
        kpos_restored *r = &t->restored[i];
        if (r->partition == partition && strcmp(r->topic, topic) == 0) {
            int64_t offset = r->offset;
            free(r->topic);
            t->restored[i] = t->restored[--t->nrestored];
            return offset;
        }
    }
    return -1;
}

int kpos_checkpoint_begin(kpos_table *t, uint64_t id)
{
    kpos_checkpoint *grown = realloc(t->checkpoints, (t->ncheckpoints + 1) * sizeof *grown);
    if (grown == NULL)
        return -1;
    t->checkpoints = grown;
    kpos_checkpoint *cp = &t->checkpoints[t->ncheckpoints];
    cp->id = id;
    cp->count = 0;
    cp->entries = malloc((t->count ? t->count : 1) * sizeof *cp->entries);
    if (cp->entries == NULL)
        return -1;
    for (size_t i = 0; i < t->count; i++) {
        kpart *p = t->parts[i];
        if (p->assigned && p->next >= 0)
            cp->entries[cp->count++] = (kpos_entry){p, p->generation, p->next};
    }
    t->ncheckpoints++;
    return 0;
}

kpos_checkpoint *kpos_checkpoint_take(kpos_table *t, uint64_t id, size_t *valid)
{
    for (size_t i = 0; i < t->ncheckpoints; i++) {
        kpos_checkpoint *cp = &t->checkpoints[i];
        if (cp->id != id)
            continue;
        size_t n = 0;
        for (size_t k = 0; k < cp->count; k++) {
            kpos_entry e = cp->entries[k];
            if (e.part->assigned && e.part->generation == e.generation)
                cp->entries[n++] = e;
        }
        *valid = n;
        return cp;
    }
    *valid = 0;
    return NULL;
}

void kpos_checkpoint_done(kpos_table *t, uint64_t id)
{
    size_t kept = 0;
    for (size_t i = 0; i < t->ncheckpoints; i++) {
        if (t->checkpoints[i].id <= id)
            free(t->checkpoints[i].entries);
        else
            t->checkpoints[kept++] = t->checkpoints[i];
    }
    t->ncheckpoints = kept;
}

/* ---- snapshot encoding ------------------------------------------------- */

static void put_position(sluice_bytes_writer *w, const char *topic, int32_t partition, int64_t offset)
{
    size_t len = strlen(topic);
    sluice_bytes_put_u16(w, (uint16_t)len);
    sluice_bytes_put(w, topic, len);
    sluice_bytes_put_u32(w, (uint32_t)partition);
    sluice_bytes_put_i64(w, offset);
}

void *kpos_encode(const kpos_table *t, void *(*alloc_fn)(size_t), size_t *size)
{
    size_t total = 4, count = 0;
    for (size_t i = 0; i < t->count; i++) {
        if (t->parts[i]->assigned && t->parts[i]->next >= 0) {
            total += 2 + strlen(t->parts[i]->topic) + 4 + 8;
            count++;
        }
    }
    for (size_t i = 0; i < t->nrestored; i++) {
        total += 2 + strlen(t->restored[i].topic) + 4 + 8;
        count++;
    }
    unsigned char *buf = alloc_fn(total);
    if (buf == NULL)
        return NULL;
    sluice_bytes_writer w = sluice_bytes_writer_over(buf, total);
    sluice_bytes_put_u32(&w, (uint32_t)count);
    for (size_t i = 0; i < t->count; i++) {
        const kpart *k = t->parts[i];
        if (k->assigned && k->next >= 0)
            put_position(&w, k->topic, k->partition, k->next);
    }
    for (size_t i = 0; i < t->nrestored; i++)
        put_position(&w, t->restored[i].topic, t->restored[i].partition, t->restored[i].offset);
    *size = total;
    return buf;
}

int kpos_decode(kpos_table *t, const void *data, size_t size)
{
    sluice_bytes_reader in = sluice_bytes_reader_of(data, size);
    uint32_t count = sluice_bytes_get_u32(&in);
    if (in.failed)
        return -1;
    /* Each entry takes at least 15 bytes (a one-byte topic): a count the
     * bytes cannot hold is malformed, not an allocation to attempt. */
    if (count > (size - 4) / 15)
        return -1;
    kpos_restored *r = calloc(count ? count : 1, sizeof *r);
    if (r == NULL)
        return -1;
    size_t n = 0;
    for (; n < count; n++) {
        size_t len = sluice_bytes_get_u16(&in);
        const char *topic = sluice_bytes_take(&in, len);
        int32_t partition = (int32_t)sluice_bytes_get_u32(&in);
        int64_t offset = sluice_bytes_get_i64(&in);
        if (in.failed || len == 0 || partition < 0 || offset < 0)
            goto bad;
        /* A topic name holds no NUL: one inside would cut it short. */
        if (memchr(topic, '\0', len) != NULL)
            goto bad;
        r[n].topic = strndup(topic, len);
        if (r[n].topic == NULL)
            goto bad;
        r[n].partition = partition;
        r[n].offset = offset;
    }
    if (in.pos != in.len)
        goto bad;
    clear_restored(t);
    t->restored = r;
    t->nrestored = n;
    return 0;
bad:
    for (size_t i = 0; i < n; i++)
        free(r[i].topic);
    free(r);
    return -1;
}
