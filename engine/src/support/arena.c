#include "arena.h"
#include "xalloc.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct arena_chunk {
    arena_chunk *next;
    size_t size; /* usable bytes in data */
    size_t used;
    _Alignas(16) unsigned char data[];
};

#define ARENA_ALIGN 16u

static arena_chunk *chunk_new(size_t size)
{
    arena_chunk *c = xmalloc(sizeof *c + size);
    c->next = NULL;
    c->size = size;
    c->used = 0;
    return c;
}

void arena_init(arena *a, size_t chunk_size)
{
    a->head = NULL;
    a->spare = NULL;
    a->chunk_size = chunk_size ? chunk_size : 1u << 20;
    a->used_total = 0;
}

static void free_list(arena_chunk *c)
{
    while (c) {
        arena_chunk *next = c->next;
        free(c);
        c = next;
    }
}

void arena_free(arena *a)
{
    free_list(a->head);
    free_list(a->spare);
    a->head = a->spare = NULL;
    a->used_total = 0;
}

void arena_reset(arena *a)
{
    /* Keep standard-size chunks for reuse; give oversized ones back. */
    arena_chunk *c = a->head;
    while (c) {
        arena_chunk *next = c->next;
        if (c->size == a->chunk_size) {
            c->used = 0;
            c->next = a->spare;
            a->spare = c;
        } else {
            free(c);
        }
        c = next;
    }
    a->head = NULL;
    a->used_total = 0;
}

void *arena_alloc(arena *a, size_t size)
{
    size_t rounded = (size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    arena_chunk *c = a->head;
    if (c == NULL || c->size - c->used < rounded) {
        if (rounded > a->chunk_size / 4) {
            /* Large: a chunk of its own, behind the current head. */
            arena_chunk *big = chunk_new(rounded);
            big->used = rounded;
            if (c) {
                big->next = c->next;
                c->next = big;
            } else {
                a->head = big;
            }
            a->used_total += rounded;
            return big->data;
        }
        if (a->spare) {
            c = a->spare;
            a->spare = c->next;
        } else {
            c = chunk_new(a->chunk_size);
        }
        c->next = a->head;
        a->head = c;
    }
    void *p = c->data + c->used;
    c->used += rounded;
    a->used_total += rounded;
    return p;
}

void *arena_memdup(arena *a, const void *p, size_t size)
{
    void *d = arena_alloc(a, size + 1);
    if (size)
        memcpy(d, p, size);
    ((char *)d)[size] = '\0';
    return d;
}

void *arena_grow(arena *a, void *p, size_t old_size, size_t new_size)
{
    if (p == NULL)
        return arena_alloc(a, new_size);
    arena_chunk *c = a->head;
    size_t old_rounded = (old_size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    size_t new_rounded = (new_size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    /* In place when p is the last allocation of the head chunk. */
    if (c && (unsigned char *)p + old_rounded == c->data + c->used &&
        c->used - old_rounded + new_rounded <= c->size) {
        c->used = c->used - old_rounded + new_rounded;
        a->used_total += new_rounded - old_rounded;
        return p;
    }
    void *n = arena_alloc(a, new_size);
    memcpy(n, p, old_size < new_size ? old_size : new_size);
    return n;
}
