/* The records url_count emits (docs/semantics.md section 5): url_clicks and
 * window_summary, made the same way whether one url_count instance counted
 * the window or its parts did (url_merge.h, url_total.h). */
#ifndef SUMMARY_RECORD_H
#define SUMMARY_RECORD_H

#include <sluice/plugin.h>

#include "text_buf.h"
#include "window_counts.h"

typedef struct summary_top {
    const char *url;
    uint32_t len;
    int64_t clicks;
} summary_top;

typedef struct summary_counts {
    int64_t start, end;
    int64_t clicks, unique_users, unique_urls;
    const summary_top *top; /* best first */
    uint32_t ntop;
} summary_counts;

/* key and json are scratch. */
sluice_status summary_record_emit(const sluice_host_api *api, sluice_ctx *ctx, text_buf *key, text_buf *json,
                                  const summary_counts *c);

/* The window_summary of window w with its running top (top is scratch of
 * w->top_n entries) and unique_users distinct users (a whole url_count's
 * own, or the sum of its parts'). */
sluice_status window_summary_emit(const sluice_host_api *api, sluice_ctx *ctx, text_buf *key, text_buf *json,
                                  const window_counts *w, int64_t unique_users, summary_top *top);

/* The url_clicks record of URL i of window w (its clicks so far); key is
 * scratch. */
sluice_status url_clicks_record_emit(const sluice_host_api *api, sluice_ctx *ctx, text_buf *key,
                                     const window_counts *w, uint32_t i);

/* Byte order of URLs, a prefix before its extensions: the tie-break of
 * top_urls. */
int summary_url_cmp(const char *a, uint32_t alen, const char *b, uint32_t blen);

#endif
