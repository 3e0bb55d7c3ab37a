#include "record.h"

#include "sluice/bytes.h"

#include <string.h>

sluice_record *record_new(arena *a)
{
    sluice_record *r = arena_alloc(a, sizeof *r);
    memset(r, 0, sizeof *r);
    r->time = SLUICE_TIME_MIN;
    r->watermark = SLUICE_TIME_MIN;
    r->partition_wm = r->pipeline_wm = SLUICE_TIME_MIN;
    r->partition = -1;
    r->arena = a;
    return r;
}

field *record_add_field(sluice_record *rec, const char *name, uint32_t name_len)
{
    if (rec->nfields == rec->cap) {
        uint32_t cap = rec->cap ? rec->cap * 2 : 8;
        rec->fields = arena_grow(rec->arena, rec->fields, rec->cap * sizeof(field), cap * sizeof(field));
        rec->cap = cap;
    }
    field *f = &rec->fields[rec->nfields++];
    rec->json = NULL;
    memset(f, 0, sizeof *f);
    f->name = name;
    f->name_len = name_len;
    return f;
}

const field *record_find(const sluice_record *rec, const char *name, size_t name_len)
{
    for (uint32_t i = rec->nfields; i-- > 0;) {
        const field *f = &rec->fields[i];
        if (f->name_len == name_len && memcmp(f->name, name, name_len) == 0)
            return f;
    }
    return NULL;
}

field *record_set(sluice_record *rec, const char *name)
{
    size_t n = strlen(name);
    rec->modified = 1;
    rec->json = NULL;
    field *f = (field *)record_find(rec, name, n);
    if (f) {
        const char *kept = f->name;
        uint32_t kept_len = f->name_len;
        memset(f, 0, sizeof *f);
        f->name = kept;
        f->name_len = kept_len;
        return f;
    }
    return record_add_field(rec, arena_memdup(rec->arena, name, n), (uint32_t)n);
}

/* Eight bytes at a time, multiply-rotate mixing, and a splitmix64
 * avalanche at the end: fast on the short keys of clickstreams (user ids,
 * URLs) and well spread for power-of-two tables. Frozen for plugin ABI 1:
 * operators keep these hashes in their state snapshots, so changing it would
 * need new snapshot encodings. Words are read little-endian. */
uint64_t record_hash_bytes(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t h = 0x9e3779b97f4a7c15ull ^ ((uint64_t)n * 0xff51afd7ed558ccdull);
    for (; n >= 8; s += 8, n -= 8) {
        uint64_t v = sluice_le64_load(s) * 0xc4ceb9fe1a85ec53ull;
        h ^= (v << 31) | (v >> 33);
        h = ((h << 27) | (h >> 37)) * 0x9e3779b97f4a7c15ull + 0x52dce729ull;
    }
    uint64_t tail = 0;
    for (size_t i = 0; i < n; i++)
        tail |= (uint64_t)s[i] << (8 * i);
    h ^= tail * 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebull;
    h ^= h >> 31;
    return h;
}
