#include "url_set.h"

#include <stdlib.h>

static uint32_t set_slot_of(uint32_t id, uint32_t mask)
{
    return (id * 0x9E3779B1u >> 7) & mask; /* Fibonacci mixing; ids are dense */
}

static void set_table_put(uint32_t *tab, uint32_t mask, uint32_t id)
{
    uint32_t s = set_slot_of(id, mask);
    while (tab[s] != 0)
        s = (s + 1) & mask;
    tab[s] = id;
}

static int set_grow(url_set *s)
{
    uint32_t cap = s->cap == 0 ? 16 : s->cap * 2;
    uint32_t *tab = calloc(cap, sizeof *tab);
    if (tab == NULL)
        return -1;
    for (uint32_t i = 0; i < url_set_span(s); i++) {
        uint32_t id = url_set_at(s, i);
        if (id != 0)
            set_table_put(tab, cap - 1, id);
    }
    if (s->cap != 0)
        free(s->u.tab);
    s->u.tab = tab;
    s->cap = cap;
    return 0;
}

int url_set_contains(const url_set *s, uint32_t id)
{
    if (s->cap == 0) {
        for (uint32_t i = 0; i < s->count; i++)
            if (s->u.inl[i] == id)
                return 1;
        return 0;
    }
    uint32_t mask = s->cap - 1;
    for (uint32_t i = set_slot_of(id, mask); s->u.tab[i] != 0; i = (i + 1) & mask)
        if (s->u.tab[i] == id)
            return 1;
    return 0;
}

int url_set_add(url_set *s, uint32_t id)
{
    if (s->cap == 0) {
        for (uint32_t i = 0; i < s->count; i++)
            if (s->u.inl[i] == id)
                return 0;
        if (s->count < URL_SET_INLINE) {
            s->u.inl[s->count++] = id;
            return 1;
        }
    } else {
        uint32_t mask = s->cap - 1;
        for (uint32_t i = set_slot_of(id, mask); s->u.tab[i] != 0; i = (i + 1) & mask)
            if (s->u.tab[i] == id)
                return 0;
    }
    /* Absent: make room (load at most 3/4), then insert. */
    if (s->cap == 0 || (s->count + 1) * 4 > s->cap * 3) {
        if (set_grow(s) != 0)
            return -1;
    }
    set_table_put(s->u.tab, s->cap - 1, id);
    s->count++;
    return 1;
}

void url_set_free(url_set *s)
{
    if (s->cap != 0)
        free(s->u.tab);
    s->count = 0;
    s->cap = 0;
}
