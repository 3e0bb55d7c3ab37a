/* Merging the queues of several tasks (or inputs) back into stream order.
 *
 * Every queue is in sequence order already, and a tick's sequence numbers
 * span little more than its batch, so a stable counting sort over the span
 * does it in two linear passes; a k-way scan (k compares per item) is kept
 * for the rare tick whose span is much wider than its items (a queue holding
 * an item stamped long ago). Both order equal sequence numbers by queue,
 * then by position in the queue: the order fan-in has always had. */
#include <stdlib.h>
#include <string.h>

#include "pipeline.h"
#include "xalloc.h"

static void merge_scan(const item_vec *const *queues, size_t *pos, size_t nq, item_vec *out)
{
    memset(pos, 0, nq * sizeof *pos);
    for (;;) {
        const item *best = NULL;
        size_t best_k = 0;
        for (size_t k = 0; k < nq; k++) {
            const item_vec *q = queues[k];
            if (pos[k] < q->n && (best == NULL || q->v[pos[k]].seq < best->seq)) {
                best = &q->v[pos[k]];
                best_k = k;
            }
        }
        if (best == NULL)
            return;
        out->v[out->n++] = *best;
        pos[best_k]++;
    }
}

void items_merge(const item_vec *const *queues, size_t *pos, size_t nq, item_vec *out)
{
    size_t total = 0;
    uint64_t lo = UINT64_MAX, hi = 0;
    for (size_t k = 0; k < nq; k++) {
        const item_vec *q = queues[k];
        if (q->n == 0)
            continue;
        total += q->n;
        lo = q->v[0].seq < lo ? q->v[0].seq : lo;
        hi = q->v[q->n - 1].seq > hi ? q->v[q->n - 1].seq : hi;
    }
    if (total == 0)
        return;
    items_reserve(out, total);
    uint64_t span = hi - lo + 1;
    size_t *start = span <= 4 * (uint64_t)total + 4096 ? xcalloc((size_t)span + 1, sizeof *start) : NULL;
    if (start == NULL) {
        merge_scan(queues, pos, nq, out);
        return;
    }
    for (size_t k = 0; k < nq; k++)
        for (size_t i = 0; i < queues[k]->n; i++)
            start[queues[k]->v[i].seq - lo + 1]++;
    for (uint64_t i = 0; i < span; i++)
        start[i + 1] += start[i];
    item *dst = out->v + out->n;
    for (size_t k = 0; k < nq; k++)
        for (size_t i = 0; i < queues[k]->n; i++) {
            const item *it = &queues[k]->v[i];
            dst[start[it->seq - lo]++] = *it;
        }
    out->n += total;
    free(start);
}
