/* The event-time index of open sessions: an indexed binary min-heap of
 * session ids by session end. Each session is due at end + gap + allowed
 * lateness, the same constant for all, so the earliest end is the first due;
 * the heap finds what to emit at a watermark without looking at any other
 * session or user. Ids know their position, so a session that grows or is
 * merged away is moved or removed in O(log n), with no stale entries. */
#ifndef SESSIONIZE_SESSION_HEAP_H
#define SESSIONIZE_SESSION_HEAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct session_heap_node {
    int64_t end;
    uint32_t id;
} session_heap_node;

typedef struct session_heap {
    session_heap_node *nodes;
    uint32_t count, cap;
    uint32_t *pos; /* pos[id] = index in nodes */
    uint32_t pos_cap;
} session_heap;

void session_heap_init(session_heap *h);
void session_heap_free(session_heap *h);
/* Make room for ids below id_cap. 0 or -1 when out of memory. */
int session_heap_reserve(session_heap *h, uint32_t id_cap);
int session_heap_push(session_heap *h, uint32_t id, int64_t end);
/* The session's end grew (or changed): restore heap order. */
void session_heap_update(session_heap *h, uint32_t id, int64_t end);
void session_heap_remove(session_heap *h, uint32_t id);

static inline int session_heap_empty(const session_heap *h) { return h->count == 0; }
static inline const session_heap_node *session_heap_top(const session_heap *h) { return &h->nodes[0]; }

size_t session_heap_memory(const session_heap *h);

#endif
