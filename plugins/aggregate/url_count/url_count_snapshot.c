#include "url_count_snapshot.h"

#include <string.h>

#include <sluice/bytes.h>

sluice_status url_count_snapshot_write(const sluice_host_api *api, const window_list *windows,
                                       int64_t size_ms, uint32_t version, sluice_snapshot *out)
{
    sluice_bytes_writer w = {0};
    sluice_bytes_put_i64(&w, size_ms);
    sluice_bytes_put_u64(&w, windows->count);
    for (size_t k = 0; k < windows->count; k++)
        window_counts_encode(windows->items[k], &w);
    return url_count_snapshot_hand_over(api, &w, version, out);
}

sluice_status url_count_snapshot_hand_over(const sluice_host_api *api, sluice_bytes_writer *w,
                                           uint32_t version, sluice_snapshot *out)
{
    unsigned char *data = w->failed ? NULL : api->alloc(w->len ? w->len : 1);
    if (data != NULL)
        memcpy(data, w->data, w->len);
    free(w->data);
    if (data == NULL)
        return SLUICE_ERR_NOMEM;
    out->encoding_version = version;
    out->data = data;
    out->size = w->len;
    return SLUICE_OK;
}

static sluice_status refuse(const sluice_host_api *api, sluice_ctx *ctx, window_list *windows,
                            const char *why)
{
    for (size_t k = 0; k < windows->count; k++)
        window_counts_free(windows->items[k]);
    windows->count = windows->nfired = 0;
    api->log(ctx, SLUICE_LOG_ERROR, "url_count state: %s", why);
    return SLUICE_ERR_STATE;
}

sluice_status url_count_snapshot_read(const sluice_host_api *api, sluice_ctx *ctx, window_list *windows,
                                      int64_t size_ms, uint32_t top_n, uint32_t version,
                                      const sluice_snapshot *in)
{
    if (in->encoding_version != version)
        return refuse(
            api, ctx, windows,
            version == URL_COUNT_SNAPSHOT_VERSION
                ? "not written by url_count run whole (two_phase: true writes its parts' state): run "
                  "it as it was written, or without this step's state (--discard-state)"
                : "unknown encoding version");
    unsigned counts = version == URL_COUNT_BY_URL_SNAPSHOT_VERSION ? WINDOW_COUNTS_URLS
                      : version == URL_COUNT_BY_USER_SNAPSHOT_VERSION
                          ? WINDOW_COUNTS_USERS
                          : WINDOW_COUNTS_URLS | WINDOW_COUNTS_USERS;
    sluice_bytes_reader r = sluice_bytes_reader_of(in->data, in->size);
    int64_t stored_size = sluice_bytes_get_i64(&r);
    uint64_t n = sluice_bytes_get_u64(&r);
    if (r.failed)
        return refuse(api, ctx, windows, "malformed");
    if (stored_size != size_ms)
        return refuse(api, ctx, windows, "written with another window size");
    for (uint64_t k = 0; k < n; k++) {
        window_counts *w = window_counts_decode(&r, top_n, counts);
        if (w == NULL)
            return r.failed ? refuse(api, ctx, windows, "malformed")
                            : (refuse(api, ctx, windows, "out of memory"), SLUICE_ERR_NOMEM);
        const window_counts *prev = windows->count ? windows->items[windows->count - 1] : NULL;
        int ordered = prev == NULL || prev->start < w->start;
        int fired_prefix = !w->fired || windows->nfired == windows->count;
        /* In unsigned arithmetic: end - start of arbitrary bytes may overflow. */
        if (!ordered || !fired_prefix || (uint64_t)w->end - (uint64_t)w->start != (uint64_t)size_ms) {
            window_counts_free(w);
            return refuse(api, ctx, windows, "windows out of order");
        }
        if (windows->count == windows->cap) {
            size_t cap = windows->cap ? windows->cap * 2 : 8;
            window_counts **items = realloc(windows->items, cap * sizeof *items);
            if (items == NULL) {
                window_counts_free(w);
                refuse(api, ctx, windows, "out of memory");
                return SLUICE_ERR_NOMEM;
            }
            windows->items = items;
            windows->cap = cap;
        }
        windows->items[windows->count++] = w;
        windows->nfired += (size_t)w->fired;
    }
    if (r.pos != r.len)
        return refuse(api, ctx, windows, "malformed (trailing bytes)");
    return SLUICE_OK;
}
