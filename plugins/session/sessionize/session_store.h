/* Open sessions of all users: where an accepted event goes (a new session,
 * an existing one, or the bridge that merges two), which sessions are due at
 * a watermark, and the running per-user totals updated when one is emitted.
 *
 * Memory per open session: the 72-byte `session` in a pool, its 16-byte heap
 * node and 4-byte heap position (92 bytes), plus 4 bytes per distinct URL
 * past the 6 held inline (table at load <= 3/4), plus its share of the URL
 * intern table (each distinct URL among all open sessions: 24-byte entry,
 * 8-16 bytes of slots, and the URL bytes once). Measured on a clickgen
 * stream (100k users, 10k URLs, gap 30m; peak 21.9k open sessions): 165
 * bytes per open session live, 210 with the pools' growth slack. Freed when
 * the session is emitted: its URL table and its references (a URL goes with
 * its last one); pool, heap and tables keep their high-water capacity and
 * reuse it. Users are kept forever (user_table.h: about 53 bytes each). */
#ifndef SESSIONIZE_SESSION_STORE_H
#define SESSIONIZE_SESSION_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "session_heap.h"
#include "url_intern.h"
#include "url_set.h"
#include "user_table.h"

/* No arrival sequence is stored for the entry/exit tie-break: each event is
 * applied when it arrives, so it is always the latest arrival in the state.
 * It becomes the entry only on a strictly smaller ts (an equal ts arrived
 * later) and the exit on an equal or larger ts; and two sessions that merge
 * are more than `gap` apart, so their entries and exits never tie. */
typedef struct session {
    int64_t start, end;
    uint64_t clicks;
    uint32_t entry_url, exit_url; /* url_intern ids */
    uint32_t user;                /* user_table ref */
    uint32_t next; /* the user's next older open session; in the pool's free list, next free id */
    url_set urls;
} session;

typedef struct session_store {
    int64_t gap;
    session *pool; /* by id; id 0 is never used */
    uint32_t pool_cap, next_fresh, free_head;
    uint32_t open;    /* sessions currently open */
    size_t set_bytes; /* URL set tables beyond the inline ones */
    session_heap heap;
    url_intern urls;
    user_table users;
    uint32_t *due; /* ids collected by session_store_take_due */
    uint32_t due_count, due_cap;
} session_store;

void session_store_init(session_store *st, int64_t gap_ms);
void session_store_free(session_store *st);

/* Add one accepted event. 0, or -1 when out of memory. */
int session_store_add(session_store *st, const char *user, size_t user_len, uint64_t user_hash,
                      const char *url, size_t url_len, uint64_t url_hash, int64_t ts);

/* Move every session whose end is below `end_limit` (or every session when
 * `all`) out of the heap into st->due / st->due_count, in no given order.
 * 0, or -1 when out of memory. */
int session_store_take_due(session_store *st, int64_t end_limit, int all);

/* Count session `id` (taken as due) in its user's running totals and free it.
 * Returns the user's session count and their total duration, this one
 * included. */
void session_store_close(session_store *st, uint32_t id, uint64_t *user_sessions, int64_t *user_duration_sum);

/* Restoring a snapshot: append an open session as the user's oldest so far
 * (sessions come newest first), with its entry and exit URLs (ids held by
 * the caller; the session takes no reference for them: they must also be
 * put in its set). Returns the session id, 0 when out of memory. */
uint32_t session_store_restore_session(session_store *st, uint32_t user, int64_t start, int64_t end,
                                       uint64_t clicks, uint32_t entry_url, uint32_t exit_url);
/* Put URL `url` (held by the caller) in session `id`'s set, taking a
 * reference: 1 added, 0 already there, -1 out of memory. */
int session_store_restore_url(session_store *st, uint32_t id, uint32_t url);

size_t session_store_memory(const session_store *st);

#endif
