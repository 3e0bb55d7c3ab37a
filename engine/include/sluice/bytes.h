/*
 * sluice/bytes.h - small byte helpers for plugins and the engine alike:
 * header-only, nothing to link, independent of the ABI (plugin.h).
 *
 *  - Little-endian codecs for snapshots. A snapshot outlives the build that
 *    wrote it, so its bytes are fixed little-endian whatever the machine:
 *    sluice_le64_store / sluice_le64_load and friends work at a pointer
 *    whose bounds the caller checked; sluice_bytes_writer fills a buffer
 *    (its own, growing, or the caller's, bounded); sluice_bytes_reader
 *    checks every read against the end and remembers the first overrun, so
 *    a decoder tests once, after reading.
 *  - sluice_format_u64: decimal digits without printf (hot paths: origins,
 *    generated events).
 *  - Saturating int64 arithmetic, for event times where SLUICE_TIME_MIN and
 *    SLUICE_TIME_MAX (INT64_MIN / INT64_MAX) stand for minus and plus
 *    infinity and must not wrap around.
 *
 * Every function is static inline; none allocates except a growing writer,
 * with realloc, or SLUICE_BYTES_REALLOC if defined before the first include
 * (an allocator with realloc's contract, e.g. one that never returns NULL).
 */
#ifndef SLUICE_BYTES_H
#define SLUICE_BYTES_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifndef SLUICE_BYTES_REALLOC
#define SLUICE_BYTES_REALLOC realloc
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- little-endian at a pointer (the caller checks the bounds) ---------- */

/* Written out byte by byte, not as loops: GCC and clang then compile each
 * to one load or store on little-endian machines (a loop stays a loop in a
 * GCC -O2 build), and these run on hot paths such as hashing. */

static inline void sluice_le16_store(void *p, uint16_t v)
{
    unsigned char *b = (unsigned char *)p;
    b[0] = (unsigned char)v;
    b[1] = (unsigned char)(v >> 8);
}

static inline void sluice_le32_store(void *p, uint32_t v)
{
    unsigned char *b = (unsigned char *)p;
    b[0] = (unsigned char)v;
    b[1] = (unsigned char)(v >> 8);
    b[2] = (unsigned char)(v >> 16);
    b[3] = (unsigned char)(v >> 24);
}

static inline void sluice_le64_store(void *p, uint64_t v)
{
    sluice_le32_store(p, (uint32_t)v);
    sluice_le32_store((unsigned char *)p + 4, (uint32_t)(v >> 32));
}

static inline uint16_t sluice_le16_load(const void *p)
{
    const unsigned char *b = (const unsigned char *)p;
    return (uint16_t)(b[0] | b[1] << 8);
}

static inline uint32_t sluice_le32_load(const void *p)
{
    const unsigned char *b = (const unsigned char *)p;
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static inline uint64_t sluice_le64_load(const void *p)
{
    const unsigned char *b = (const unsigned char *)p;
    return (uint64_t)b[0] | (uint64_t)b[1] << 8 | (uint64_t)b[2] << 16 | (uint64_t)b[3] << 24 |
           (uint64_t)b[4] << 32 | (uint64_t)b[5] << 40 | (uint64_t)b[6] << 48 | (uint64_t)b[7] << 56;
}

/* Portable inverse of (uint64_t)v: converting a value above INT64_MAX to
 * int64_t directly is implementation-defined in C. */
static inline int64_t sluice_i64_from_u64(uint64_t u)
{
    return u <= (uint64_t)INT64_MAX ? (int64_t)u : -(int64_t)(~u) - 1;
}

/* Two's complement, as (uint64_t)v. */
static inline void sluice_le64_store_i64(void *p, int64_t v) { sluice_le64_store(p, (uint64_t)v); }
static inline int64_t sluice_le64_load_i64(const void *p) { return sluice_i64_from_u64(sluice_le64_load(p)); }

/* ---- a growing writer ---------------------------------------------------- */

/* Zero-initialised, it grows with realloc (free(w.data) when done). Made by
 * sluice_bytes_writer_over, it fills a buffer the caller sized (say, from
 * api->alloc) and never grows it. */
typedef struct sluice_bytes_writer {
    unsigned char *data;
    size_t len, cap;
    int failed; /* out of memory or room: the bytes are incomplete, later puts do nothing */
    int fixed;  /* data is the caller's: never realloc'd */
} sluice_bytes_writer;

static inline sluice_bytes_writer sluice_bytes_writer_over(void *buf, size_t size)
{
    sluice_bytes_writer w = {(unsigned char *)buf, 0, size, 0, 1};
    return w;
}

static inline void sluice_bytes_put(sluice_bytes_writer *w, const void *src, size_t n)
{
    if (w->failed)
        return;
    if (w->cap - w->len < n) {
        if (w->fixed) {
            w->failed = 1;
            return;
        }
        size_t cap = w->cap ? w->cap : 4096;
        while (cap - w->len < n) {
            if (cap > SIZE_MAX / 2) {
                w->failed = 1;
                return;
            }
            cap *= 2;
        }
        unsigned char *p = (unsigned char *)SLUICE_BYTES_REALLOC(w->data, cap);
        if (p == NULL) {
            w->failed = 1;
            return;
        }
        w->data = p;
        w->cap = cap;
    }
    if (n > 0)
        memcpy(w->data + w->len, src, n);
    w->len += n;
}

static inline void sluice_bytes_put_u16(sluice_bytes_writer *w, uint16_t v)
{
    unsigned char b[2];
    sluice_le16_store(b, v);
    sluice_bytes_put(w, b, sizeof b);
}

static inline void sluice_bytes_put_u32(sluice_bytes_writer *w, uint32_t v)
{
    unsigned char b[4];
    sluice_le32_store(b, v);
    sluice_bytes_put(w, b, sizeof b);
}

static inline void sluice_bytes_put_u64(sluice_bytes_writer *w, uint64_t v)
{
    unsigned char b[8];
    sluice_le64_store(b, v);
    sluice_bytes_put(w, b, sizeof b);
}

static inline void sluice_bytes_put_i64(sluice_bytes_writer *w, int64_t v)
{
    sluice_bytes_put_u64(w, (uint64_t)v);
}

/* ---- a bounded reader ---------------------------------------------------- */

typedef struct sluice_bytes_reader {
    const unsigned char *data;
    size_t len, pos;
    int failed; /* a read went past the end: every later read fails too */
} sluice_bytes_reader;

static inline sluice_bytes_reader sluice_bytes_reader_of(const void *data, size_t len)
{
    sluice_bytes_reader r = {(const unsigned char *)data, len, 0, 0};
    return r;
}

/* The next n bytes, or NULL (and failed set) past the end. */
static inline const void *sluice_bytes_take(sluice_bytes_reader *r, size_t n)
{
    if (r->failed || r->len - r->pos < n) {
        r->failed = 1;
        return NULL;
    }
    const void *p = r->data + r->pos;
    r->pos += n;
    return p;
}

/* Each get returns 0 past the end (and sets failed). */
static inline uint16_t sluice_bytes_get_u16(sluice_bytes_reader *r)
{
    const void *p = sluice_bytes_take(r, 2);
    return p != NULL ? sluice_le16_load(p) : 0;
}

static inline uint32_t sluice_bytes_get_u32(sluice_bytes_reader *r)
{
    const void *p = sluice_bytes_take(r, 4);
    return p != NULL ? sluice_le32_load(p) : 0;
}

static inline uint64_t sluice_bytes_get_u64(sluice_bytes_reader *r)
{
    const void *p = sluice_bytes_take(r, 8);
    return p != NULL ? sluice_le64_load(p) : 0;
}

static inline int64_t sluice_bytes_get_i64(sluice_bytes_reader *r)
{
    return sluice_i64_from_u64(sluice_bytes_get_u64(r));
}

/* ---- decimal ------------------------------------------------------------- */

#define SLUICE_U64_DIGITS 20 /* the most sluice_format_u64 writes (UINT64_MAX) */

/* Writes the decimal digits of v at p, no terminating NUL; returns their count. */
static inline size_t sluice_format_u64(char *p, uint64_t v)
{
    char tmp[SLUICE_U64_DIGITS];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    for (size_t i = 0; i < n; i++)
        p[i] = tmp[n - 1 - i];
    return n;
}

/* ---- saturating int64 ---------------------------------------------------- */

/* a + b, clamped to [INT64_MIN, INT64_MAX] instead of overflowing. */
static inline int64_t sluice_add_sat_i64(int64_t a, int64_t b)
{
    if (b > 0 && a > INT64_MAX - b)
        return INT64_MAX;
    if (b < 0 && a < INT64_MIN - b)
        return INT64_MIN;
    return a + b;
}

/* a - b, clamped to [INT64_MIN, INT64_MAX] instead of overflowing. */
static inline int64_t sluice_sub_sat_i64(int64_t a, int64_t b)
{
    if (b > 0 && a < INT64_MIN + b)
        return INT64_MIN;
    if (b < 0 && a > INT64_MAX + b)
        return INT64_MAX;
    return a - b;
}

#ifdef __cplusplus
}
#endif

#endif
