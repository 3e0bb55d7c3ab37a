#include "session_heap.h"

#include <stdlib.h>
#include <string.h>

void session_heap_init(session_heap *h) { memset(h, 0, sizeof *h); }

void session_heap_free(session_heap *h)
{
    free(h->nodes);
    free(h->pos);
    memset(h, 0, sizeof *h);
}

int session_heap_reserve(session_heap *h, uint32_t id_cap)
{
    if (id_cap <= h->pos_cap)
        return 0;
    uint32_t *pos = realloc(h->pos, (size_t)id_cap * sizeof *pos);
    if (pos == NULL)
        return -1;
    h->pos = pos;
    h->pos_cap = id_cap;
    return 0;
}

static void place(session_heap *h, uint32_t i, session_heap_node n)
{
    h->nodes[i] = n;
    h->pos[n.id] = i;
}

static void sift_up(session_heap *h, uint32_t i)
{
    session_heap_node n = h->nodes[i];
    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        if (h->nodes[parent].end <= n.end)
            break;
        place(h, i, h->nodes[parent]);
        i = parent;
    }
    place(h, i, n);
}

static void sift_down(session_heap *h, uint32_t i)
{
    session_heap_node n = h->nodes[i];
    for (;;) {
        uint32_t child = 2 * i + 1;
        if (child >= h->count)
            break;
        if (child + 1 < h->count && h->nodes[child + 1].end < h->nodes[child].end)
            child++;
        if (h->nodes[child].end >= n.end)
            break;
        place(h, i, h->nodes[child]);
        i = child;
    }
    place(h, i, n);
}

int session_heap_push(session_heap *h, uint32_t id, int64_t end)
{
    if (h->count == h->cap) {
        uint32_t cap = h->cap == 0 ? 256 : h->cap * 2;
        session_heap_node *nodes = realloc(h->nodes, (size_t)cap * sizeof *nodes);
        if (nodes == NULL)
            return -1;
        h->nodes = nodes;
        h->cap = cap;
    }
    h->nodes[h->count] = (session_heap_node){.end = end, .id = id};
    sift_up(h, h->count++);
    return 0;
}

void session_heap_update(session_heap *h, uint32_t id, int64_t end)
{
    uint32_t i = h->pos[id];
    int64_t old = h->nodes[i].end;
    h->nodes[i].end = end;
    if (end < old)
        sift_up(h, i);
    else
        sift_down(h, i);
}

void session_heap_remove(session_heap *h, uint32_t id)
{
    uint32_t i = h->pos[id];
    session_heap_node last = h->nodes[--h->count];
    if (i == h->count)
        return;
    int64_t old = h->nodes[i].end;
    place(h, i, last);
    if (last.end < old)
        sift_up(h, i);
    else
        sift_down(h, i);
}

size_t session_heap_memory(const session_heap *h)
{
    return (size_t)h->cap * sizeof(session_heap_node) + (size_t)h->pos_cap * sizeof(uint32_t);
}
