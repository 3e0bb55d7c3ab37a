/* Every user seen, kept for the life of the instance: the running session
 * count and duration sum behind user_sessions / user_avg_duration_ms must
 * outlive the user's sessions. Cost per user: one 40-byte user_entry, a
 * 4-byte slot at load <= 1/2 (8 bytes), and the user id bytes in a chunked
 * arena: about 48 bytes + the id's length. */
#ifndef SESSIONIZE_USER_TABLE_H
#define SESSIONIZE_USER_TABLE_H

#include <stddef.h>
#include <stdint.h>

typedef struct user_entry {
    uint64_t hash;
    const char *bytes;    /* in the table's arena */
    uint32_t len;
    uint32_t open_head;   /* newest open session id, 0 = none */
    uint64_t sessions;    /* emitted so far */
    int64_t duration_sum; /* of the emitted sessions, ms */
} user_entry;

typedef struct user_chunk user_chunk;

typedef struct user_table {
    user_entry *users; /* by id; id 0 is never used */
    uint32_t count;    /* ids in use, including the unused 0 */
    uint32_t cap;
    uint32_t *slots;   /* open addressing over ids, 0 = empty */
    uint32_t slot_mask;
    user_chunk *chunks; /* arena for the id bytes */
    size_t chunk_used, chunk_size;
    size_t arena_bytes;
} user_table;

void user_table_init(user_table *t);
void user_table_free(user_table *t);
/* The user's id, added when new. Returns 0 when out of memory. Pointers into
 * t->users move when a user is added. */
uint32_t user_table_get(user_table *t, const char *bytes, size_t len, uint64_t hash);
size_t user_table_memory(const user_table *t);

static inline uint32_t user_table_size(const user_table *t)
{
    return t->count == 0 ? 0 : t->count - 1;
}

#endif
