/* A shared, reference-counted table of the URLs that open sessions point to.
 * A session keeps 4-byte ids instead of copies, so a URL clicked in many
 * sessions is stored once, and it is freed when the last session holding it
 * is emitted. Lookups are exact (hash, then bytes), so two URLs whose 64-bit
 * hashes collide still get different ids. */
#ifndef SESSIONIZE_URL_INTERN_H
#define SESSIONIZE_URL_INTERN_H

#include <stddef.h>
#include <stdint.h>

typedef struct url_intern_entry {
    uint64_t hash;
    char *bytes; /* malloc'd copy; NULL while the id is free */
    uint32_t len;
    uint32_t refs; /* while free: next free id (0 = none) */
} url_intern_entry;

typedef struct url_intern {
    url_intern_entry *entries; /* by id; id 0 is never used */
    uint32_t entries_cap;
    uint32_t next_fresh; /* first never-used id */
    uint32_t free_head;  /* a released id to reuse, 0 = none */
    uint32_t live;       /* URLs currently held */
    uint32_t *slots;     /* open addressing (linear probing) over ids, 0 = empty */
    uint32_t slot_mask;
    size_t url_bytes; /* sum of the copies' lengths */
} url_intern;

void url_intern_init(url_intern *t);
void url_intern_free(url_intern *t);

/* The id of these URL bytes, adding them when new, with one reference taken
 * for the caller. Returns 0 when out of memory. */
uint32_t url_intern_acquire(url_intern *t, const char *bytes, size_t len, uint64_t hash);
/* One more reference to an id already held. */
static inline void url_intern_ref(url_intern *t, uint32_t id) { t->entries[id].refs++; }
/* Drop one reference; the URL is freed with its last one. */
void url_intern_release(url_intern *t, uint32_t id);

static inline const char *url_intern_bytes(const url_intern *t, uint32_t id, size_t *len)
{
    *len = t->entries[id].len;
    return t->entries[id].bytes;
}

/* Heap bytes held by the table (entries, slots and the URL copies). */
size_t url_intern_memory(const url_intern *t);

#endif
