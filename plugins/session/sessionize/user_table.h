/* Every user seen, kept for the life of the instance: the running session
 * count and duration sum behind user_sessions / user_avg_duration_ms must
 * outlive the user's sessions.
 *
 * Each user is one record in a single growing region: a 32-byte header and
 * the id bytes right after it (padded to 8), so a lookup touches one slot
 * and one record, usually one cache line. Cost per user: 32 bytes + the id
 * length rounded up to 8, plus a 4-byte slot at load 1/4..1/2 (8-16 bytes):
 * about 56 bytes for an id like "u-48213". */
#ifndef SESSIONIZE_USER_TABLE_H
#define SESSIONIZE_USER_TABLE_H

#include <stddef.h>
#include <stdint.h>

typedef struct user_entry {
    uint64_t hash;
    uint64_t sessions;    /* emitted so far */
    int64_t duration_sum; /* of the emitted sessions, ms */
    uint32_t open_head;   /* newest open session id, 0 = none */
    uint32_t len;
    char bytes[]; /* the user id */
} user_entry;

typedef struct user_table {
    unsigned char *region; /* the records; a user's ref is its offset / 8 */
    size_t used, cap;
    uint32_t count;  /* users */
    uint32_t *slots; /* open addressing over refs, 0 = empty */
    uint32_t slot_mask;
} user_table;

void user_table_init(user_table *t);
void user_table_free(user_table *t);
/* The user's ref, added when new. Returns 0 when out of memory. Adding a
 * user may move every record: do not keep user_entry pointers across it. */
uint32_t user_table_get(user_table *t, const char *bytes, size_t len, uint64_t hash);
size_t user_table_memory(const user_table *t);

static inline user_entry *user_table_at(const user_table *t, uint32_t ref)
{
    return (user_entry *)(void *)(t->region + (size_t)ref * 8);
}

/* Users in the order they were added: first ref, then next, 0 at the end. */
static inline uint32_t user_table_next(const user_table *t, uint32_t ref)
{
    size_t offset =
        ref == 0 ? 8 : (size_t)ref * 8 + ((sizeof(user_entry) + user_table_at(t, ref)->len + 7) & ~(size_t)7);
    return offset < t->used ? (uint32_t)(offset / 8) : 0;
}

static inline uint32_t user_table_size(const user_table *t) { return t->count; }

/* Prefetch hints for a lookup of `hash` coming soon: its home slot, and
 * (once the slot is likely cached) the user record it points to. */
void user_table_prefetch_slot(const user_table *t, uint64_t hash);
void user_table_prefetch_user(const user_table *t, uint64_t hash);

#endif
