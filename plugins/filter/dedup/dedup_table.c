#include "dedup_table.h"

#include <stdlib.h>
#include <string.h>

#define MIN_CAPACITY ((size_t)16)

static size_t capacity(const dedup_table *t) { return t->mask + 1; }

/* Sweep when an insert would pass 7/8 full: Robin Hood probing keeps probe
 * lengths short at that load. */
static int over_sweep_limit(size_t count, size_t cap) { return count > cap - cap / 8; }

/* How far slot i's entry sits from its home slot. */
static size_t distance(const dedup_table *t, size_t i)
{
    return (i - (size_t)(t->slots[i].lo & t->mask)) & t->mask;
}

/* Robin Hood placement of `e`, probing from slot i at distance d: take a slot
 * from any entry closer to its home than we are, and carry that one on. */
static void place(dedup_table *t, size_t i, size_t d, dedup_slot e)
{
    for (;;) {
        dedup_slot *s = &t->slots[i];
        if (s->hi == 0) {
            *s = e;
            return;
        }
        size_t sd = distance(t, i);
        if (sd < d) {
            dedup_slot tmp = *s;
            *s = e;
            e = tmp;
            d = sd;
        }
        i = (i + 1) & t->mask;
        d++;
    }
}

static int alloc_slots(dedup_table *t, size_t cap)
{
    dedup_slot *slots = calloc(cap, sizeof *slots);
    if (slots == NULL)
        return -1;
    t->slots = slots;
    t->mask = cap - 1;
    return 0;
}

int dedup_table_init(dedup_table *t)
{
    t->count = 0;
    t->checks_since_sweep = 0;
    return alloc_slots(t, MIN_CAPACITY);
}

void dedup_table_free(dedup_table *t)
{
    free(t->slots);
    t->slots = NULL;
    t->mask = 0;
    t->count = 0;
}

void dedup_table_clear(dedup_table *t)
{
    if (capacity(t) != MIN_CAPACITY) {
        dedup_slot *slots = calloc(MIN_CAPACITY, sizeof *slots);
        if (slots != NULL) {
            free(t->slots);
            t->slots = slots;
            t->mask = MIN_CAPACITY - 1;
            t->count = 0;
            t->checks_since_sweep = 0;
            return;
        }
    }
    memset(t->slots, 0, capacity(t) * sizeof *t->slots);
    t->count = 0;
    t->checks_since_sweep = 0;
}

/* Remove slot i's entry by shifting its successors back one slot each, so
 * the table needs no tombstones. */
static void delete_at(dedup_table *t, size_t i)
{
    for (;;) {
        size_t next = (i + 1) & t->mask;
        if (t->slots[next].hi == 0 || distance(t, next) == 0) {
            memset(&t->slots[i], 0, sizeof t->slots[i]);
            break;
        }
        t->slots[i] = t->slots[next];
        i = next;
    }
    t->count--;
}

size_t dedup_table_sweep(dedup_table *t, int64_t wm)
{
    /* A backward shift only moves entries onto slots at or after i (or, past
     * the wrap, onto slots already checked and still live), so one pass
     * that re-checks slot i after each deletion catches every expired key. */
    size_t cap = capacity(t);
    for (size_t i = 0; i < cap; i++) {
        while (t->slots[i].hi != 0 && wm >= t->slots[i].expires_at)
            delete_at(t, i);
    }
    return t->count;
}

static int resize(dedup_table *t, size_t cap)
{
    dedup_table grown;
    if (alloc_slots(&grown, cap) != 0)
        return -1;
    grown.count = t->count;
    grown.checks_since_sweep = 0;
    for (size_t i = 0; i <= t->mask; i++) {
        if (t->slots[i].hi != 0)
            place(&grown, (size_t)(t->slots[i].lo & grown.mask), 0, t->slots[i]);
    }
    free(t->slots);
    *t = grown;
    return 0;
}

/* Sweep, then pick the capacity that keeps live keys (plus `incoming`)
 * between 3/8 and 3/4 of it. Returns -1 only when a needed growth failed. */
static int maintain(dedup_table *t, int64_t wm, size_t incoming)
{
    size_t live = dedup_table_sweep(t, wm) + incoming;
    size_t cap = capacity(t);
    size_t want = cap;
    t->checks_since_sweep = 0;
    if (live > cap / 4 * 3)
        want = cap * 2;
    else
        while (want > MIN_CAPACITY && live < want / 8 * 3)
            want /= 2;
    if (want == cap)
        return 0;
    if (want < cap) {
        (void)resize(t, want); /* a failed shrink is harmless */
        return 0;
    }
    return resize(t, want);
}

dedup_verdict dedup_table_check(dedup_table *t, dedup_fp fp, int64_t expires_at, int64_t wm)
{
    /* Also sweep once per 4 * capacity checks, so that memory follows the
     * live keys even when few new keys arrive to trigger it (amortised O(1)). */
    if (++t->checks_since_sweep > 4 * capacity(t))
        (void)maintain(t, wm, 0);

    size_t i = (size_t)(fp.lo & t->mask), d = 0;
    for (;;) {
        dedup_slot *s = &t->slots[i];
        /* An empty slot, or an entry nearer its home than we are, ends the
         * search: with Robin Hood order our key cannot lie further on. */
        if (s->hi == 0 || distance(t, i) < d)
            break;
        if (s->lo == fp.lo && s->hi == fp.hi) {
            if (wm < s->expires_at)
                return DEDUP_DUPLICATE;
            s->expires_at = expires_at; /* expired: seen afresh */
            return DEDUP_NEW;
        }
        i = (i + 1) & t->mask;
        d++;
    }

    dedup_slot e = {fp.lo, fp.hi, expires_at};
    if (over_sweep_limit(t->count + 1, capacity(t))) {
        /* Could not grow: carry on fuller while one slot stays empty, which
         * every probe needs to end. */
        if (maintain(t, wm, 1) != 0 && t->count + 1 >= capacity(t))
            return DEDUP_NOMEM;
        place(t, (size_t)(fp.lo & t->mask), 0, e);
    } else {
        place(t, i, d, e);
    }
    t->count++;
    return DEDUP_NEW;
}

size_t dedup_table_count(const dedup_table *t) { return t->count; }

size_t dedup_table_capacity(const dedup_table *t) { return capacity(t); }

size_t dedup_table_bytes(const dedup_table *t) { return capacity(t) * sizeof(dedup_slot); }
