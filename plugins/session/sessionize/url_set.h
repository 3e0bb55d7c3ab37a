/* The distinct URLs of one session, as url_intern ids: a few inline (most
 * sessions visit only a handful of URLs), then an open-addressing table of
 * ids that grows as needed. 32 bytes when inline. */
#ifndef SESSIONIZE_URL_SET_H
#define SESSIONIZE_URL_SET_H

#include <stddef.h>
#include <stdint.h>

#define URL_SET_INLINE 6

typedef struct url_set {
    uint32_t count;
    uint32_t cap; /* 0 while inline, else the table's size (a power of two) */
    union {
        uint32_t inl[URL_SET_INLINE];
        uint32_t *tab; /* 0 = empty slot (id 0 is never used) */
    } u;
} url_set;

static inline void url_set_init(url_set *s)
{
    s->count = 0;
    s->cap = 0;
}

/* 1 when added, 0 when already present, -1 when out of memory. */
int url_set_add(url_set *s, uint32_t id);
void url_set_free(url_set *s);
int url_set_contains(const url_set *s, uint32_t id);

/* The ids: iterate i over [0, url_set_span(s)) and skip zeros. */
static inline uint32_t url_set_span(const url_set *s) { return s->cap == 0 ? s->count : s->cap; }
static inline uint32_t url_set_at(const url_set *s, uint32_t i)
{
    return s->cap == 0 ? s->u.inl[i] : s->u.tab[i];
}

/* Heap bytes beyond the struct itself. */
static inline size_t url_set_memory(const url_set *s) { return (size_t)s->cap * sizeof(uint32_t); }

#endif
