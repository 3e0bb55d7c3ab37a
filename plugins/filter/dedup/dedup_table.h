/* The set of dedup keys seen, with their expiry: an open-addressing table of
 * 128-bit fingerprints (Robin Hood linear probing, 24 bytes a slot).
 *
 * Memory follows the live keys, not the stream: an expired key counts as
 * absent on lookup, and expired keys are swept out in one pass whenever the
 * table would otherwise have to grow, and at least once every 4 * capacity
 * lookups. A sweep costs O(capacity) but comes at most once every capacity/8
 * inserts or 4 * capacity lookups, so both stay amortised O(1). After a sweep the
 * table doubles only if live keys fill more than 3/4 of it and halves while
 * they fill less than 3/8, so right after any sweep a live key costs
 * 24 / load = 32..64 bytes. */
#ifndef DEDUP_TABLE_H
#define DEDUP_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "dedup_key.h"

typedef struct dedup_slot {
    uint64_t lo, hi;    /* the fingerprint; hi == 0 marks an empty slot */
    int64_t expires_at; /* first_ts + ttl: gone once the watermark reaches it */
} dedup_slot;

typedef struct dedup_table {
    dedup_slot *slots;
    size_t mask;  /* capacity - 1; capacity is a power of two */
    size_t count; /* occupied slots, expired keys included until swept */
    size_t checks_since_sweep;
} dedup_table;

typedef enum dedup_verdict {
    DEDUP_NEW = 0,       /* not seen, or seen but expired: now recorded  */
    DEDUP_DUPLICATE = 1, /* seen and not expired at this watermark        */
    DEDUP_NOMEM = -1     /* the table could not grow; nothing recorded    */
} dedup_verdict;

/* Returns 0, or -1 when out of memory. */
int dedup_table_init(dedup_table *t);
void dedup_table_free(dedup_table *t);
/* Forget every key and shrink back to the smallest size (keeps the table usable). */
void dedup_table_clear(dedup_table *t);

/* Is `fp` a live key at watermark `wm` (live while wm < its expires_at)? If
 * not, record it with `expires_at` (replacing an expired entry of that key). */
dedup_verdict dedup_table_check(dedup_table *t, dedup_fp fp, int64_t expires_at, int64_t wm);

/* Drop every key expired at `wm`; returns how many remain. */
size_t dedup_table_sweep(dedup_table *t, int64_t wm);

size_t dedup_table_count(const dedup_table *t);    /* stored keys (>= live keys) */
size_t dedup_table_capacity(const dedup_table *t); /* slots                      */
size_t dedup_table_bytes(const dedup_table *t);    /* heap bytes held            */

/* Hint that fp will be checked soon: fetch its home slot into the cache. */
static inline void dedup_table_prefetch(const dedup_table *t, dedup_fp fp)
{
    __builtin_prefetch(&t->slots[fp.lo & t->mask]);
}

#endif
