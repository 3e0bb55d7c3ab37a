#include "dedup_key.h"

#include <string.h>

#include <sluice/bytes.h>

/* Primes from xxHash64; the round below is its accumulator step. The engine's
 * role hash is FNV-1a based, so the two halves come from unrelated
 * constructions. */
#define PRIME1 0x9E3779B185EBCA87ull
#define PRIME2 0xC2B2AE3D27D4EB4Full
#define PRIME3 0x165667B19E3779F9ull
#define PRIME4 0x85EBCA77C2B2AE63ull

/* Seeds per key kind: an event_id and a triple never share a fingerprint. */
#define SEED_EVENT_ID 0x6576656e745f6964ull
#define SEED_TRIPLE 0x7472697069657321ull

static inline uint64_t rotl64(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

static inline uint64_t round_in(uint64_t h, uint64_t word)
{
    h ^= rotl64(word * PRIME2, 31) * PRIME1;
    return rotl64(h, 27) * PRIME1 + PRIME4;
}

/* Final avalanche (splitmix64 style): every input bit reaches every output bit. */
static inline uint64_t avalanche(uint64_t h)
{
    h ^= h >> 33;
    h *= PRIME2;
    h ^= h >> 29;
    h *= PRIME3;
    h ^= h >> 32;
    return h;
}

/* Fold n bytes into h, length included so that consecutive fields cannot be
 * confused ("ab"+"c" differs from "a"+"bc"). Reads 8 bytes at a time, as
 * little-endian words whatever the machine, so fingerprints in a snapshot
 * mean the same everywhere. */
static uint64_t fold_bytes(uint64_t h, const char *p, size_t n)
{
    h = round_in(h, (uint64_t)n);
    while (n >= 8) {
        h = round_in(h, sluice_le64_load(p));
        p += 8;
        n -= 8;
    }
    if (n > 0) {
        char tail[8] = {0};
        memcpy(tail, p, n);
        h = round_in(h, sluice_le64_load(tail));
    }
    return h;
}

static uint64_t nonzero(uint64_t h) { return h != 0 ? h : 1; /* 0 marks an empty table slot */ }

dedup_fp dedup_key_event_id(uint64_t id_hash, const char *id, size_t id_len)
{
    dedup_fp fp;
    fp.lo = id_hash;
    fp.hi = nonzero(avalanche(fold_bytes(SEED_EVENT_ID, id, id_len)));
    return fp;
}

dedup_fp dedup_key_triple(uint64_t user_hash, const char *user, size_t user_len, uint64_t url_hash,
                          const char *url, size_t url_len, int64_t ts)
{
    dedup_fp fp;
    /* Combine the role hashes asymmetrically (user and url are not
     * interchangeable) and mix in the time. */
    uint64_t lo = avalanche(user_hash ^ rotl64(url_hash, 29) * PRIME1);
    fp.lo = avalanche(lo + (uint64_t)ts * PRIME3);

    uint64_t h = fold_bytes(SEED_TRIPLE, user, user_len);
    h = fold_bytes(h, url, url_len);
    h = round_in(h, (uint64_t)ts);
    fp.hi = nonzero(avalanche(h));
    return fp;
}
