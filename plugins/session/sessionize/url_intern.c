#include "url_intern.h"

#include <stdlib.h>
#include <string.h>

#define URL_INTERN_MIN_SLOTS 64u

void url_intern_init(url_intern *t) { memset(t, 0, sizeof *t); }

void url_intern_free(url_intern *t)
{
    if (t->entries != NULL) {
        for (uint32_t id = 1; id < t->next_fresh; id++)
            free(t->entries[id].bytes);
    }
    free(t->entries);
    free(t->slots);
    memset(t, 0, sizeof *t);
}

static uint32_t intern_slot_of(uint64_t hash, uint32_t mask)
{
    /* The role hash is already well mixed; fold the high bits in anyway. */
    return (uint32_t)(hash ^ (hash >> 32)) & mask;
}

static int intern_grow_slots(url_intern *t)
{
    uint32_t cap = t->slots == NULL ? URL_INTERN_MIN_SLOTS : (t->slot_mask + 1) * 2;
    uint32_t *slots = calloc(cap, sizeof *slots);
    if (slots == NULL)
        return -1;
    uint32_t mask = cap - 1;
    if (t->slots != NULL) {
        for (uint32_t i = 0; i <= t->slot_mask; i++) {
            uint32_t id = t->slots[i];
            if (id == 0)
                continue;
            uint32_t s = intern_slot_of(t->entries[id].hash, mask);
            while (slots[s] != 0)
                s = (s + 1) & mask;
            slots[s] = id;
        }
    }
    free(t->slots);
    t->slots = slots;
    t->slot_mask = mask;
    return 0;
}

static uint32_t intern_new_id(url_intern *t)
{
    if (t->free_head != 0) {
        uint32_t id = t->free_head;
        t->free_head = t->entries[id].refs;
        return id;
    }
    if (t->next_fresh == 0)
        t->next_fresh = 1;
    if (t->next_fresh >= t->entries_cap) {
        uint32_t cap = t->entries_cap == 0 ? 64 : t->entries_cap * 2;
        url_intern_entry *e = realloc(t->entries, (size_t)cap * sizeof *e);
        if (e == NULL)
            return 0;
        t->entries = e;
        t->entries_cap = cap;
    }
    return t->next_fresh++;
}

uint32_t url_intern_acquire(url_intern *t, const char *bytes, size_t len, uint64_t hash)
{
    if (t->slots != NULL) {
        for (uint32_t s = intern_slot_of(hash, t->slot_mask);; s = (s + 1) & t->slot_mask) {
            uint32_t id = t->slots[s];
            if (id == 0)
                break;
            url_intern_entry *e = &t->entries[id];
            if (e->hash == hash && e->len == len && memcmp(e->bytes, bytes, len) == 0) {
                e->refs++;
                return id;
            }
        }
    }
    /* Keep the load at most 1/2 so probes stay short. */
    if (t->slots == NULL || (size_t)(t->live + 1) * 2 > (size_t)t->slot_mask + 1) {
        if (intern_grow_slots(t) != 0)
            return 0;
    }
    char *copy = malloc(len > 0 ? len : 1);
    if (copy == NULL)
        return 0;
    uint32_t id = intern_new_id(t);
    if (id == 0) {
        free(copy);
        return 0;
    }
    memcpy(copy, bytes, len);
    t->entries[id] = (url_intern_entry){.hash = hash, .bytes = copy, .len = (uint32_t)len, .refs = 1};
    uint32_t s = intern_slot_of(hash, t->slot_mask);
    while (t->slots[s] != 0)
        s = (s + 1) & t->slot_mask;
    t->slots[s] = id;
    t->live++;
    t->url_bytes += len;
    return id;
}

/* Backward-shift deletion: linear probing without tombstones, so a table that
 * sees URLs come and go forever never degrades. */
static void intern_remove_slot(url_intern *t, uint32_t hole)
{
    uint32_t mask = t->slot_mask;
    for (uint32_t j = (hole + 1) & mask; t->slots[j] != 0; j = (j + 1) & mask) {
        uint32_t home = intern_slot_of(t->entries[t->slots[j]].hash, mask);
        /* Move j into the hole unless its home lies cyclically in (hole, j]. */
        int home_between = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (!home_between) {
            t->slots[hole] = t->slots[j];
            hole = j;
        }
    }
    t->slots[hole] = 0;
}

void url_intern_release(url_intern *t, uint32_t id)
{
    url_intern_entry *e = &t->entries[id];
    if (--e->refs > 0)
        return;
    uint32_t s = intern_slot_of(e->hash, t->slot_mask);
    while (t->slots[s] != id)
        s = (s + 1) & t->slot_mask;
    intern_remove_slot(t, s);
    t->url_bytes -= e->len;
    free(e->bytes);
    e->bytes = NULL;
    e->refs = t->free_head;
    t->free_head = id;
    t->live--;
}

size_t url_intern_memory(const url_intern *t)
{
    size_t slots = t->slots == NULL ? 0 : ((size_t)t->slot_mask + 1) * sizeof(uint32_t);
    return (size_t)t->entries_cap * sizeof(url_intern_entry) + slots + t->url_bytes;
}
