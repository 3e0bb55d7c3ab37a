/* The dedup key of an event as a 128-bit fingerprint (docs/semantics.md section 3).
 *
 * The key is the event_id role when present, else the triple (user, url, ts).
 * Only the fingerprint is stored, never the key bytes, so memory per key is
 * fixed. Half of it (`lo`) comes from the engine's role hashes, the other half
 * (`hi`) from a second hash of a different construction computed here over the
 * key bytes, seeded per key kind so an event_id can never equal a triple.
 *
 * Two different keys share a fingerprint with probability about 2^-127 (one
 * bit of `hi` is spent on marking empty table slots). With n live keys the
 * chance that one new event is a false duplicate is about n / 2^127: for
 * 10^8 live keys and 10^15 events in total, about 6e-16 over the whole run.
 * The hashes are not keyed: this holds for ordinary input, not for keys
 * crafted by an adversary who knows both hash functions. */
#ifndef DEDUP_KEY_H
#define DEDUP_KEY_H

#include <stddef.h>
#include <stdint.h>

typedef struct dedup_fp {
    uint64_t lo; /* from the role hashes: picks the table slot */
    uint64_t hi; /* our own hash of the key bytes; never 0     */
} dedup_fp;

/* Key from an event_id: role hash and bytes. */
dedup_fp dedup_key_event_id(uint64_t id_hash, const char *id, size_t id_len);

/* Key from the triple (user, url, ts): role hashes, bytes and event time. */
dedup_fp dedup_key_triple(uint64_t user_hash, const char *user, size_t user_len, uint64_t url_hash,
                          const char *url, size_t url_len, int64_t ts);

#endif
