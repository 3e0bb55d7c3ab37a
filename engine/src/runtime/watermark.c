#include "watermark.h"

#include <stdlib.h>
#include <string.h>

#include "sluice/bytes.h"
#include "sluice/plugin.h"
#include "xalloc.h"

/* Unlike plain saturation, the infinities stay put: MIN - x is still "no
 * watermark yet" and MAX + x still "ended", whatever the sign of x. */
int64_t wm_sub(int64_t a, int64_t b)
{
    if (a == SLUICE_TIME_MAX || a == SLUICE_TIME_MIN)
        return a;
    return sluice_sub_sat_i64(a, b);
}

int64_t wm_add(int64_t a, int64_t b)
{
    if (a == SLUICE_TIME_MAX || a == SLUICE_TIME_MIN)
        return a;
    return sluice_add_sat_i64(a, b);
}

void wm_init(wm_tracker *t, int64_t max_out_of_order, int64_t idle_timeout)
{
    memset(t, 0, sizeof *t);
    t->max_out_of_order = max_out_of_order;
    t->idle_timeout = idle_timeout;
    t->current = SLUICE_TIME_MIN;
    t->min_index = SIZE_MAX;
}

void wm_free(wm_tracker *t)
{
    free(t->parts);
    t->parts = NULL;
    t->count = t->cap = 0;
}

static wm_partition *find_partition(wm_tracker *t, int32_t id)
{
    for (size_t i = 0; i < t->count; i++)
        if (t->parts[i].id == id)
            return &t->parts[i];
    if (t->count == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 8;
        t->parts = xrealloc(t->parts, t->cap * sizeof *t->parts);
    }
    wm_partition *p = &t->parts[t->count++];
    memset(p, 0, sizeof *p);
    p->id = id;
    p->max_ts = SLUICE_TIME_MIN;
    return p;
}

static int counts(const wm_partition *p) { return (p->has_data || p->assigned) && !p->idle && !p->gone; }

/* Recompute the minimum over counting partitions; the watermark only rises. */
static int64_t recompute(wm_tracker *t)
{
    int64_t min_ts = SLUICE_TIME_MAX;
    t->min_index = SIZE_MAX;
    for (size_t i = 0; i < t->count; i++) {
        if (counts(&t->parts[i]) && t->parts[i].max_ts < min_ts) {
            min_ts = t->parts[i].max_ts;
            t->min_index = i;
        }
    }
    if (t->min_index != SIZE_MAX) {
        int64_t wm = wm_sub(min_ts, t->max_out_of_order);
        if (wm > t->current)
            t->current = wm;
    }
    return t->current;
}

int64_t wm_observe(wm_tracker *t, int32_t partition, int64_t ts, int64_t now)
{
    /* The common case, one partition seen again: no search. */
    wm_partition *p =
        (t->count == 1 && t->parts[0].id == partition) ? &t->parts[0] : find_partition(t, partition);
    int was_counting = counts(p);
    p->last_data_wall = now;
    p->has_data = 1;
    p->idle = 0;
    p->gone = 0; /* a revoked partition assigned again counts again */
    if (ts > p->max_ts)
        t->observed = wm_sub(ts, t->max_out_of_order);
    else
        t->observed = wm_sub(p->max_ts, t->max_out_of_order);
    if (ts <= p->max_ts && was_counting)
        return t->current;
    if (ts > p->max_ts)
        p->max_ts = ts;
    size_t index = (size_t)(p - t->parts);
    /* Only the partition holding the minimum, or one that starts counting,
     * can move the minimum. */
    if (!was_counting || index == t->min_index || t->min_index == SIZE_MAX)
        return recompute(t);
    return t->current;
}

int64_t wm_partition_assigned(wm_tracker *t, int32_t partition, int64_t now)
{
    wm_partition *p = find_partition(t, partition);
    if (!p->has_data || p->gone) {
        p->assigned = 1;
        p->gone = 0;
        p->idle = 0;
        p->last_data_wall = now; /* idleness counts from the assignment */
    }
    return recompute(t);
}

int64_t wm_refresh(wm_tracker *t, int64_t now)
{
    if (t->idle_timeout <= 0)
        return t->current;
    int changed = 0;
    for (size_t i = 0; i < t->count; i++) {
        wm_partition *p = &t->parts[i];
        if ((p->has_data || p->assigned) && !p->idle && now - p->last_data_wall >= t->idle_timeout) {
            p->idle = 1;
            changed = 1;
        }
    }
    return changed ? recompute(t) : t->current;
}

int64_t wm_partition_gone(wm_tracker *t, int32_t partition)
{
    wm_partition *p = find_partition(t, partition);
    p->gone = 1;
    return recompute(t);
}

int64_t wm_partition_max_ts(wm_tracker *t, int32_t partition) { return find_partition(t, partition)->max_ts; }

void wm_partition_restore(wm_tracker *t, int32_t partition, int64_t max_ts)
{
    find_partition(t, partition)->max_ts = max_ts; /* its last owner's, which may be behind ours */
}

#define WM_SAVE_VERSION 1
#define WM_SAVED_PARTITION 13 /* id, largest event time, idle | gone << 1 */

void *wm_save(const wm_tracker *t, size_t *size)
{
    sluice_bytes_writer w = {0};
    sluice_bytes_put_u32(&w, WM_SAVE_VERSION);
    sluice_bytes_put_i64(&w, t->current);
    uint32_t n = 0;
    for (size_t i = 0; i < t->count; i++)
        n += t->parts[i].has_data;
    sluice_bytes_put_u32(&w, n);
    for (size_t i = 0; i < t->count; i++) {
        if (!t->parts[i].has_data)
            continue;
        sluice_bytes_put_u32(&w, (uint32_t)t->parts[i].id);
        sluice_bytes_put_i64(&w, t->parts[i].max_ts);
        uint8_t flags = (uint8_t)(t->parts[i].idle | t->parts[i].gone << 1);
        sluice_bytes_put(&w, &flags, 1);
    }
    if (w.failed) {
        free(w.data);
        return NULL;
    }
    *size = w.len;
    return w.data;
}

int wm_load(wm_tracker *t, const void *data, size_t size, int64_t now)
{
    sluice_bytes_reader r = sluice_bytes_reader_of(data, size);
    if (sluice_bytes_get_u32(&r) != WM_SAVE_VERSION)
        return -1;
    int64_t current = sluice_bytes_get_i64(&r);
    uint32_t n = sluice_bytes_get_u32(&r);
    if (r.failed || n > (size - r.pos) / WM_SAVED_PARTITION ||
        (size - r.pos) != (size_t)n * WM_SAVED_PARTITION)
        return -1;
    for (uint32_t i = 0; i < n; i++) {
        int32_t id = (int32_t)sluice_bytes_get_u32(&r);
        wm_partition *p = find_partition(t, id);
        p->max_ts = sluice_bytes_get_i64(&r);
        const uint8_t *flags = sluice_bytes_take(&r, 1);
        p->has_data = 1;
        p->idle = *flags & 1; /* idle stays idle until its next event */
        p->gone = *flags >> 1 & 1;
        p->last_data_wall = now;
    }
    if (current > t->current)
        t->current = current;
    recompute(t);
    return 0;
}
