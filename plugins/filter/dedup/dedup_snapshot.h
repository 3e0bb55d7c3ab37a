/* dedup's state as snapshot bytes, and back (encoding version 1).
 *
 * Version 1: the number of keys (u64), then per key its fingerprint lo, hi
 * and expires_at (u64 each), all little-endian. Fingerprints stay valid
 * across processes because both halves are deterministic functions of the
 * key bytes: `hi` is ours (byte-order independent), `lo` the engine's role
 * hash, which must stay the same function for old snapshots to be read (a
 * changed role hash needs a new encoding version here). */
#ifndef DEDUP_SNAPSHOT_H
#define DEDUP_SNAPSHOT_H

#include <sluice/plugin.h>

#include "dedup_table.h"

#define DEDUP_SNAPSHOT_VERSION 1u

sluice_status dedup_snapshot_write(const sluice_host_api *api, const dedup_table *t, sluice_snapshot *out);
/* Replace the table's keys with the snapshot's. SLUICE_ERR_STATE for an
 * unknown version or malformed bytes (logged), the table then left empty. */
sluice_status dedup_snapshot_read(const sluice_host_api *api, sluice_ctx *ctx, dedup_table *t,
                                  const sluice_snapshot *in);

#endif
