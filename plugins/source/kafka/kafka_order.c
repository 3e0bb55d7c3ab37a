#include "kafka_order.h"

#include <stdlib.h>

/* kpart.order_at: 0 when not in the heap, else its index + 1. */

static int before(const kpart *a, const kpart *b)
{
    if (a->order_ts != b->order_ts)
        return a->order_ts < b->order_ts;
    return a->order_stamp < b->order_stamp;
}

static void place(korder *o, size_t i, kpart *p)
{
    o->heap[i] = p;
    p->order_at = i + 1;
}

static void sift_up(korder *o, size_t i)
{
    kpart *p = o->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!before(p, o->heap[parent]))
            break;
        place(o, i, o->heap[parent]);
        i = parent;
    }
    place(o, i, p);
}

static void sift_down(korder *o, size_t i)
{
    kpart *p = o->heap[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= o->len)
            break;
        if (child + 1 < o->len && before(o->heap[child + 1], o->heap[child]))
            child++;
        if (!before(o->heap[child], p))
            break;
        place(o, i, o->heap[child]);
        i = child;
    }
    place(o, i, p);
}

static void remove_at(korder *o, size_t i)
{
    o->heap[i]->order_at = 0;
    kpart *last = o->heap[--o->len];
    if (i == o->len)
        return;
    place(o, i, last);
    sift_down(o, i);
    sift_up(o, last->order_at - 1);
}

int korder_update(korder *o, kpart *p)
{
    if (p->pending.len == 0) {
        if (p->order_at)
            remove_at(o, p->order_at - 1);
        return 0;
    }
    p->order_ts = kpending_head_ts(&p->pending);
    p->order_stamp = o->clock++;
    if (p->order_at) {
        /* Later as a rule, but a partition's timestamps may be out of order. */
        sift_down(o, p->order_at - 1);
        sift_up(o, p->order_at - 1);
        return 0;
    }
    if (o->len == o->cap) {
        size_t cap = o->cap ? 2 * o->cap : 64;
        kpart **heap = realloc(o->heap, cap * sizeof *heap);
        if (heap == NULL)
            return -1;
        o->heap = heap;
        o->cap = cap;
    }
    o->heap[o->len++] = p;
    sift_up(o, o->len - 1);
    return 0;
}

void korder_free(korder *o)
{
    free(o->heap);
    *o = (korder){0};
}
