#include "dedup_snapshot.h"

#include <string.h>

#include <sluice/bytes.h>

#define ENTRY_BYTES 24

sluice_status dedup_snapshot_write(const sluice_host_api *api, const dedup_table *t, sluice_snapshot *out)
{
    size_t n = dedup_table_count(t);
    size_t size = 8 + n * ENTRY_BYTES;
    unsigned char *data = api->alloc(size);
    if (data == NULL)
        return SLUICE_ERR_NOMEM;
    unsigned char *p = data;
    sluice_le64_store(p, n);
    p += 8;
    for (size_t i = 0; i <= t->mask; i++) {
        const dedup_slot *s = &t->slots[i];
        if (s->hi == 0)
            continue;
        sluice_le64_store(p, s->lo);
        sluice_le64_store(p + 8, s->hi);
        sluice_le64_store_i64(p + 16, s->expires_at);
        p += ENTRY_BYTES;
    }
    out->encoding_version = DEDUP_SNAPSHOT_VERSION;
    out->data = data;
    out->size = size;
    return SLUICE_OK;
}

sluice_status dedup_snapshot_read(const sluice_host_api *api, sluice_ctx *ctx, dedup_table *t,
                                  const sluice_snapshot *in)
{
    dedup_table_clear(t);
    if (in->encoding_version != DEDUP_SNAPSHOT_VERSION) {
        api->log(ctx, SLUICE_LOG_ERROR, "dedup state has encoding version %u; this build reads %u",
                 in->encoding_version, DEDUP_SNAPSHOT_VERSION);
        return SLUICE_ERR_STATE;
    }
    const unsigned char *p = in->data;
    uint64_t n = in->size >= 8 ? sluice_le64_load(p) : UINT64_MAX;
    if (in->size < 8 || n > (in->size - 8) / ENTRY_BYTES || in->size != 8 + n * ENTRY_BYTES) {
        api->log(ctx, SLUICE_LOG_ERROR, "dedup state is malformed (%zu bytes)", in->size);
        return SLUICE_ERR_STATE;
    }
    p += 8;
    for (uint64_t i = 0; i < n; i++, p += ENTRY_BYTES) {
        dedup_fp fp = {sluice_le64_load(p), sluice_le64_load(p + 8)};
        if (fp.hi == 0) {
            dedup_table_clear(t);
            api->log(ctx, SLUICE_LOG_ERROR, "dedup state holds an empty fingerprint");
            return SLUICE_ERR_STATE;
        }
        /* At the lowest watermark nothing counts as expired: every key goes in. */
        if (dedup_table_check(t, fp, sluice_le64_load_i64(p + 16), SLUICE_TIME_MIN) == DEDUP_NOMEM) {
            dedup_table_clear(t);
            return SLUICE_ERR_NOMEM;
        }
    }
    return SLUICE_OK;
}
