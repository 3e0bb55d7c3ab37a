/* What the dashboard shows, kept up to date from the records the sink gets:
 * the last windows (the click trend and top URLs), session statistics,
 * rejections per reason, and the pipeline status a sink can observe.
 *
 * Memory is bounded whatever the stream: `history` windows, a fixed number
 * of recent sessions and of users ranked by average session, a fixed number
 * of rejection reasons. Not thread-safe: the dashboard guards it with its
 * state lock (the pipeline's thread updates it, the HTTP threads render it).
 */
#ifndef DASH_STATE_H
#define DASH_STATE_H

#include "jbuf.h"

#include <stddef.h>
#include <stdint.h>

typedef struct dash_state dash_state;

dash_state *state_new(size_t history, int64_t now_ms);
void state_free(dash_state *s);

typedef struct dash_window {
    int64_t start, end, clicks, unique_users, unique_urls;
} dash_window;

/* A window_summary; `json` is the whole record as one line of JSON (kept
 * and sent to the pages as is). A window seen before (re-emitted after a
 * late event) replaces the old one. */
void state_add_window(dash_state *s, const dash_window *w, const char *json, size_t len, int64_t now_ms);

typedef struct dash_session {
    const char *user;
    size_t user_len;
    const char *entry_url, *exit_url;
    size_t entry_len, exit_len;
    int64_t start, end, duration_ms, clicks, user_sessions;
    double user_avg_duration_ms;
} dash_session;
void state_add_session(dash_state *s, const dash_session *session);

void state_add_rejection(dash_state *s, const char *reason, size_t len, int64_t now_ms);
/* Any record reached the sink (for records/s). */
void state_note_records(dash_state *s, size_t n, int64_t now_ms);
void state_note_watermark(dash_state *s, int64_t watermark);
/* A flush: the engine flushes sinks at its checkpoints. */
void state_note_checkpoint(dash_state *s, int64_t now_ms);

/* Consumer lag of the pipeline's Kafka source, per partition ("topic/3"),
 * as the source last reported it: begin a new reading, add each partition,
 * end it. Without any reading the status says null (not Kafka, or an
 * engine too old to tell). At most DASH_LAG_PARTITIONS are kept, the total
 * counts them all. */
#define DASH_LAG_PARTITIONS 64
void state_lag_begin(dash_state *s);
void state_lag_add(dash_state *s, const char *partition, int64_t messages);
/* A reading that found no partition leaves the lag unknown (null). */
void state_lag_end(dash_state *s);

/* What the HTTP side adds to the status. */
typedef struct dash_pages {
    size_t open;
    uint64_t dropped;
} dash_pages;

/* The full state as JSON (GET /snapshot, and the first event of a stream). */
void state_render_snapshot(const dash_state *s, jbuf *out, int64_t now_ms, dash_pages pages);
/* Everything but the windows (the periodic `tick` event). */
void state_render_tick(const dash_state *s, jbuf *out, int64_t now_ms, dash_pages pages);

#endif
