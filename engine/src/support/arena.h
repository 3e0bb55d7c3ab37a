/* A bump allocator for everything that lives as long as one engine tick
 * (records, their fields and strings): no per-event malloc, one reset. */
#ifndef SLUICE_ARENA_H
#define SLUICE_ARENA_H

#include <stddef.h>

typedef struct arena_chunk arena_chunk;

typedef struct arena {
    arena_chunk *head;  /* chunk being filled */
    arena_chunk *spare; /* chunks kept for reuse after a reset */
    size_t chunk_size;
    size_t used_total;
} arena;

void arena_init(arena *a, size_t chunk_size);
void arena_free(arena *a);
/* Release everything allocated since init/reset, keeping the chunks. */
void arena_reset(arena *a);
/* 16-byte aligned; never NULL (aborts the process on out-of-memory). */
void *arena_alloc(arena *a, size_t size);
void *arena_memdup(arena *a, const void *p, size_t size);
/* Grow the most recent allocation `p` (of old_size) to new_size, moving it if needed. */
void *arena_grow(arena *a, void *p, size_t old_size, size_t new_size);

#endif
