/* The total part of url_count (url_count_parts.h, the layout for partition
 * tasks): every window's clicks per URL and its summary, summed from what
 * the partial tasks counted in their input partitions, emitted once every
 * partial task has passed the window's end.
 *
 * What a partial task sends of a (window, URL) is its count so far, which
 * only grows: the total keeps the largest it heard per task and adds the
 * difference, so a partial sent twice (a replay after a restart) counts
 * once, and one older than what it holds changes nothing. A partial of a
 * window the total has freed (every task passed its end plus
 * allowed_lateness, so no task can accept a click of it any more) is such
 * a replay and is dropped.
 *
 * Snapshot encoding version 6 (URL_COUNT_TOTAL_SNAPSHOT_VERSION),
 * little-endian: window size (u64), tasks (u32), every partial task's last
 * watermark (u64), number of windows (u64), then per window in start order:
 * the window as url_count_snapshot.h lays it out (URLs, no users), every
 * task's distinct users (u64), and per URL in that order every task's
 * clicks (u64). */
#ifndef URL_TOTAL_H
#define URL_TOTAL_H

#include <sluice/plugin.h>

#define URL_COUNT_TOTAL_SNAPSHOT_VERSION 6u

typedef struct url_total url_total;

/* NULL when out of memory. */
url_total *url_total_new(int64_t size_ms, int64_t lateness_ms, uint32_t top_n);
void url_total_free(url_total *t);
sluice_status url_total_process(const sluice_host_api *api, sluice_ctx *ctx, url_total *t,
                                sluice_batch *batch);
sluice_status url_total_snapshot(const sluice_host_api *api, const url_total *t, sluice_snapshot *out);
sluice_status url_total_restore(const sluice_host_api *api, sluice_ctx *ctx, url_total *t,
                                const sluice_snapshot *in);
size_t url_total_windows(const url_total *t);
size_t url_total_keys(const url_total *t);
size_t url_total_bytes(const url_total *t);

#endif
