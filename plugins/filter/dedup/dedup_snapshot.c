#include "dedup_snapshot.h"

#include <string.h>

#define ENTRY_BYTES 24

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

sluice_status dedup_snapshot_write(const sluice_host_api *api, const dedup_table *t, sluice_snapshot *out)
{
    size_t n = dedup_table_count(t);
    size_t size = 8 + n * ENTRY_BYTES;
    unsigned char *data = api->alloc(size);
    if (data == NULL)
        return SLUICE_ERR_NOMEM;
    unsigned char *p = data;
    put_u64(p, n);
    p += 8;
    for (size_t i = 0; i <= t->mask; i++) {
        const dedup_slot *s = &t->slots[i];
        if (s->hi == 0)
            continue;
        put_u64(p, s->lo);
        put_u64(p + 8, s->hi);
        put_u64(p + 16, (uint64_t)s->expires_at);
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
    uint64_t n = in->size >= 8 ? get_u64(p) : UINT64_MAX;
    if (in->size < 8 || n > (in->size - 8) / ENTRY_BYTES || in->size != 8 + n * ENTRY_BYTES) {
        api->log(ctx, SLUICE_LOG_ERROR, "dedup state is malformed (%zu bytes)", in->size);
        return SLUICE_ERR_STATE;
    }
    p += 8;
    for (uint64_t i = 0; i < n; i++, p += ENTRY_BYTES) {
        dedup_fp fp = {get_u64(p), get_u64(p + 8)};
        if (fp.hi == 0) {
            dedup_table_clear(t);
            api->log(ctx, SLUICE_LOG_ERROR, "dedup state holds an empty fingerprint");
            return SLUICE_ERR_STATE;
        }
        /* At the lowest watermark nothing counts as expired: every key goes in. */
        if (dedup_table_check(t, fp, (int64_t)get_u64(p + 16), SLUICE_TIME_MIN) == DEDUP_NOMEM) {
            dedup_table_clear(t);
            return SLUICE_ERR_NOMEM;
        }
    }
    return SLUICE_OK;
}
