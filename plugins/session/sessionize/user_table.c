#include "user_table.h"

#include <stdlib.h>
#include <string.h>

#define USER_REGION_MIN 65536u

void user_table_init(user_table *t) { memset(t, 0, sizeof *t); }

void user_table_free(user_table *t)
{
    free(t->region);
    free(t->slots);
    memset(t, 0, sizeof *t);
}

static uint32_t user_slot_of(uint64_t hash, uint32_t mask) { return (uint32_t)(hash ^ (hash >> 32)) & mask; }

void user_table_prefetch_slot(const user_table *t, uint64_t hash)
{
    if (t->slots != NULL)
        __builtin_prefetch(&t->slots[user_slot_of(hash, t->slot_mask)]);
}

void user_table_prefetch_user(const user_table *t, uint64_t hash)
{
    if (t->slots == NULL)
        return;
    uint32_t ref = t->slots[user_slot_of(hash, t->slot_mask)];
    if (ref != 0)
        __builtin_prefetch(user_table_at(t, ref));
}

static int user_grow_slots(user_table *t)
{
    uint32_t cap = t->slots == NULL ? 256 : (t->slot_mask + 1) * 2;
    uint32_t *slots = calloc(cap, sizeof *slots);
    if (slots == NULL)
        return -1;
    for (uint32_t ref = user_table_next(t, 0); ref != 0; ref = user_table_next(t, ref)) {
        uint32_t s = user_slot_of(user_table_at(t, ref)->hash, cap - 1);
        while (slots[s] != 0)
            s = (s + 1) & (cap - 1);
        slots[s] = ref;
    }
    free(t->slots);
    t->slots = slots;
    t->slot_mask = cap - 1;
    return 0;
}

uint32_t user_table_get(user_table *t, const char *bytes, size_t len, uint64_t hash)
{
    if (t->slots != NULL) {
        for (uint32_t s = user_slot_of(hash, t->slot_mask);; s = (s + 1) & t->slot_mask) {
            uint32_t ref = t->slots[s];
            if (ref == 0)
                break;
            const user_entry *u = user_table_at(t, ref);
            if (u->hash == hash && u->len == len && memcmp(u->bytes, bytes, len) == 0)
                return ref;
        }
    }
    if (t->slots == NULL || (size_t)(t->count + 1) * 2 > (size_t)t->slot_mask + 1) {
        if (user_grow_slots(t) != 0)
            return 0;
    }
    size_t size = (sizeof(user_entry) + len + 7) & ~(size_t)7;
    size_t offset = t->used == 0 ? 8 : t->used; /* ref 0 means none */
    if (offset + size > (size_t)UINT32_MAX * 8)
        return 0;
    if (offset + size > t->cap) {
        size_t cap = t->cap == 0 ? USER_REGION_MIN : t->cap;
        while (cap < offset + size)
            cap *= 2;
        unsigned char *region = realloc(t->region, cap);
        if (region == NULL)
            return 0;
        t->region = region;
        t->cap = cap;
    }
    uint32_t ref = (uint32_t)(offset / 8);
    user_entry *u = user_table_at(t, ref);
    memset(u, 0, sizeof *u);
    u->hash = hash;
    u->len = (uint32_t)len;
    memcpy(u->bytes, bytes, len);
    t->used = offset + size;
    t->count++;
    uint32_t s = user_slot_of(hash, t->slot_mask);
    while (t->slots[s] != 0)
        s = (s + 1) & t->slot_mask;
    t->slots[s] = ref;
    return ref;
}

size_t user_table_memory(const user_table *t)
{
    size_t slots = t->slots == NULL ? 0 : ((size_t)t->slot_mask + 1) * sizeof(uint32_t);
    return t->cap + slots;
}
