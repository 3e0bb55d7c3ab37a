/* Little-endian bytes for url_count's snapshots: a growable writer and a
 * bounds-checked reader that remembers the first overrun. */
#ifndef BYTE_CODEC_H
#define BYTE_CODEC_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct byte_writer {
    unsigned char *ptr;
    size_t len, cap;
    int failed; /* out of memory: the bytes are incomplete */
} byte_writer;

static inline void bw_put(byte_writer *w, const void *src, size_t n)
{
    if (w->failed)
        return;
    if (w->cap - w->len < n) {
        size_t cap = w->cap ? w->cap : 4096;
        while (cap - w->len < n)
            cap *= 2;
        unsigned char *p = realloc(w->ptr, cap);
        if (p == NULL) {
            w->failed = 1;
            return;
        }
        w->ptr = p;
        w->cap = cap;
    }
    memcpy(w->ptr + w->len, src, n);
    w->len += n;
}

static inline void bw_u64(byte_writer *w, uint64_t v)
{
    unsigned char b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    bw_put(w, b, 8);
}

static inline void bw_u32(byte_writer *w, uint32_t v)
{
    unsigned char b[4];
    for (int i = 0; i < 4; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    bw_put(w, b, 4);
}

typedef struct byte_reader {
    const unsigned char *ptr;
    size_t len, pos;
    int failed; /* read past the end */
} byte_reader;

/* n bytes, or NULL (and failed set) past the end. */
static inline const void *br_take(byte_reader *r, size_t n)
{
    if (r->failed || r->len - r->pos < n) {
        r->failed = 1;
        return NULL;
    }
    const void *p = r->ptr + r->pos;
    r->pos += n;
    return p;
}

static inline uint64_t br_u64(byte_reader *r)
{
    const unsigned char *b = br_take(r, 8);
    uint64_t v = 0;
    for (int i = 0; b != NULL && i < 8; i++)
        v |= (uint64_t)b[i] << (8 * i);
    return v;
}

static inline uint32_t br_u32(byte_reader *r)
{
    const unsigned char *b = br_take(r, 4);
    uint32_t v = 0;
    for (int i = 0; b != NULL && i < 4; i++)
        v |= (uint32_t)b[i] << (8 * i);
    return v;
}

#endif
