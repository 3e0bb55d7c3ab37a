/* The summary part of url_count (url_count_parts.h): the window summaries
 * merged from what the by_url and by_user tasks send, emitted once every
 * task has passed the window's end.
 *
 * Snapshot encoding version 2, little-endian: window size (u64), tasks
 * (u32), the last watermark of every by_url task then of every by_user task
 * (u64 each), number of windows (u64), then per window in start order:
 * start, end (u64), fired (u32); per by_url task its clicks and URLs (u64),
 * number of top URLs (u32) and per top URL its length (u32), bytes and
 * clicks (u64); per by_user task its users (u64). */
#ifndef URL_MERGE_H
#define URL_MERGE_H

#include <sluice/plugin.h>

#define URL_MERGE_SNAPSHOT_VERSION 2u

typedef struct url_merge url_merge;

/* NULL when out of memory. */
url_merge *url_merge_new(int64_t size_ms, int64_t lateness_ms, uint32_t top_n);
void url_merge_free(url_merge *m);
sluice_status url_merge_process(const sluice_host_api *api, sluice_ctx *ctx, url_merge *m,
                                sluice_batch *batch);
sluice_status url_merge_snapshot(const sluice_host_api *api, const url_merge *m, sluice_snapshot *out);
sluice_status url_merge_restore(const sluice_host_api *api, sluice_ctx *ctx, url_merge *m,
                                const sluice_snapshot *in);
size_t url_merge_windows(const url_merge *m);
size_t url_merge_bytes(const url_merge *m);

#endif
