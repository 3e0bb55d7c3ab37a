#include "user_table.h"

#include <stdlib.h>
#include <string.h>

#define USER_CHUNK_BYTES 65536u

struct user_chunk {
    user_chunk *next;
    size_t size;
    char data[];
};

void user_table_init(user_table *t)
{
    memset(t, 0, sizeof *t);
}

void user_table_free(user_table *t)
{
    for (user_chunk *c = t->chunks, *next; c != NULL; c = next) {
        next = c->next;
        free(c);
    }
    free(t->users);
    free(t->slots);
    memset(t, 0, sizeof *t);
}

static uint32_t user_slot_of(uint64_t hash, uint32_t mask)
{
    return (uint32_t)(hash ^ (hash >> 32)) & mask;
}

static char *user_bytes_copy(user_table *t, const char *bytes, size_t len)
{
    if (t->chunks == NULL || t->chunk_size - t->chunk_used < len) {
        size_t size = len > USER_CHUNK_BYTES ? len : USER_CHUNK_BYTES;
        user_chunk *c = malloc(sizeof *c + size);
        if (c == NULL)
            return NULL;
        c->next = t->chunks;
        c->size = size;
        t->chunks = c;
        t->chunk_used = 0;
        t->chunk_size = size;
        t->arena_bytes += sizeof *c + size;
    }
    char *p = t->chunks->data + t->chunk_used;
    memcpy(p, bytes, len);
    t->chunk_used += len;
    return p;
}

static int user_grow_slots(user_table *t)
{
    uint32_t cap = t->slots == NULL ? 256 : (t->slot_mask + 1) * 2;
    uint32_t *slots = calloc(cap, sizeof *slots);
    if (slots == NULL)
        return -1;
    for (uint32_t id = 1; id < t->count; id++) {
        uint32_t s = user_slot_of(t->users[id].hash, cap - 1);
        while (slots[s] != 0)
            s = (s + 1) & (cap - 1);
        slots[s] = id;
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
            uint32_t id = t->slots[s];
            if (id == 0)
                break;
            const user_entry *u = &t->users[id];
            if (u->hash == hash && u->len == len && memcmp(u->bytes, bytes, len) == 0)
                return id;
        }
    }
    if (t->count == 0)
        t->count = 1;
    if (t->slots == NULL || (size_t)t->count * 2 > (size_t)t->slot_mask + 1) {
        if (user_grow_slots(t) != 0)
            return 0;
    }
    if (t->count >= t->cap) {
        uint32_t cap = t->cap == 0 ? 256 : t->cap * 2;
        user_entry *users = realloc(t->users, (size_t)cap * sizeof *users);
        if (users == NULL)
            return 0;
        t->users = users;
        t->cap = cap;
    }
    const char *copy = user_bytes_copy(t, bytes, len);
    if (copy == NULL)
        return 0;
    uint32_t id = t->count++;
    t->users[id] = (user_entry){.hash = hash, .bytes = copy, .len = (uint32_t)len};
    uint32_t s = user_slot_of(hash, t->slot_mask);
    while (t->slots[s] != 0)
        s = (s + 1) & t->slot_mask;
    t->slots[s] = id;
    return id;
}

size_t user_table_memory(const user_table *t)
{
    size_t slots = t->slots == NULL ? 0 : ((size_t)t->slot_mask + 1) * sizeof(uint32_t);
    return (size_t)t->cap * sizeof(user_entry) + slots + t->arena_bytes;
}
