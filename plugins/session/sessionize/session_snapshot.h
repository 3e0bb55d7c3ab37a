/* sessionize's state as snapshot bytes, and back (encoding version 1).
 *
 * Version 1, little-endian: the gap in ms (u64); the number of users (u64)
 * and per user its role hash (u64), id length (u32) and bytes, sessions
 * emitted (u64) and their duration sum (u64); the number of URLs held by
 * open sessions (u32) and per URL its role hash (u64), length (u32) and
 * bytes; the number of open sessions (u64) and per session, grouped by user
 * and newest first: the user's index (u32, from 1), start, end, clicks
 * (u64), entry and exit URL indexes (u32, from 0), and its distinct URLs as
 * a count (u32) and indexes (u32 each). Role hashes are stored, not
 * recomputed: the engine's role hash is frozen for ABI 1. */
#ifndef SESSIONIZE_SESSION_SNAPSHOT_H
#define SESSIONIZE_SESSION_SNAPSHOT_H

#include <sluice/plugin.h>

#include "session_store.h"

#define SESSIONIZE_SNAPSHOT_VERSION 1u

sluice_status sessionize_snapshot_write(const sluice_host_api *api, const session_store *st,
                                        sluice_snapshot *out);
/* Read into an empty store initialised with the instance's gap. On
 * SLUICE_ERR_STATE (logged: an unknown version, another gap, malformed
 * bytes) or SLUICE_ERR_NOMEM the store is left empty. */
sluice_status sessionize_snapshot_read(const sluice_host_api *api, sluice_ctx *ctx, session_store *st,
                                       const sluice_snapshot *in);

#endif
