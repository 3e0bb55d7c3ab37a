/* url_count's open windows as snapshot bytes, and back (encoding version 1).
 *
 * Version 1, little-endian: the window size (u64) and number of windows
 * (u64), then per window in start order: start, end (u64), fired (u32),
 * clicks (u64), number of URLs (u32) and per URL its role hash (u64), length
 * (u32), bytes and clicks (u64); then the number of users (u64) and per user
 * its role hash (u64), length (u32) and bytes. Role hashes are stored rather
 * than recomputed, so the engine's role hash must stay the same function for
 * old snapshots to be read (a changed role hash needs a new version here). */
#ifndef URL_COUNT_SNAPSHOT_H
#define URL_COUNT_SNAPSHOT_H

#include <sluice/plugin.h>

#include "window_counts.h"

#define URL_COUNT_SNAPSHOT_VERSION 1u
/* The same layout for the parts, whose windows count URLs only (by_url) or
 * users only (by_user): another version each, so no part reads another's. */
#define URL_COUNT_BY_URL_SNAPSHOT_VERSION 3u
#define URL_COUNT_BY_USER_SNAPSHOT_VERSION 4u
/* The partial part's windows count both, as a whole url_count's do, but
 * hold one input partition's clicks. (5: url_total.h is 6.) */
#define URL_COUNT_PARTIAL_SNAPSHOT_VERSION 5u

/* The windows of one url_count instance. */
typedef struct window_list {
    window_counts **items; /* sorted by start; items[0..nfired) have fired */
    size_t count, cap, nfired;
} window_list;

sluice_status url_count_snapshot_write(const sluice_host_api *api, const window_list *windows,
                                       int64_t size_ms, uint32_t version, sluice_snapshot *out);
/* The writer's bytes as the snapshot (api->alloc'd), its buffer freed. */
sluice_status url_count_snapshot_hand_over(const sluice_host_api *api, sluice_bytes_writer *w,
                                           uint32_t version, sluice_snapshot *out);

/* Read windows into an empty list. SLUICE_ERR_STATE (logged) for an unknown
 * version, malformed bytes or another window size. */
sluice_status url_count_snapshot_read(const sluice_host_api *api, sluice_ctx *ctx, window_list *windows,
                                      int64_t size_ms, uint32_t top_n, uint32_t version,
                                      const sluice_snapshot *in);

#endif
