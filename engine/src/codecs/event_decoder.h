/* Turns a source's raw message into a validated click event (docs/semantics.md
 * section 1): JSON decoded once, the configured fields checked and their
 * roles (user, url, event id) and event time extracted. */
#ifndef SLUICE_EVENT_DECODER_H
#define SLUICE_EVENT_DECODER_H

#include <stddef.h>
#include <stdint.h>

#include "record.h"

typedef struct event_config {
    const char *field_user;     /* default "user_id"  */
    const char *field_url;      /* default "url"      */
    const char *field_time;     /* default "ts"       */
    const char *field_event_id; /* default "event_id" */
    size_t max_event_bytes;     /* default 65536 */
    int64_t max_future_ms;      /* default 3600000; -1 = off */
} event_config;

void event_config_defaults(event_config *cfg);

typedef struct event_verdict {
    const char *reason; /* NULL when valid, else one of SLUICE_REASON_* */
    char detail[160];   /* human-readable, e.g. "ts is a string that is not RFC 3339" */
} event_verdict;

/* Decode and validate the message already copied into rec->raw. On success
 * rec has its fields, rec->time and the roles (with hashes) set. now_ms is
 * the wall clock for the future_ts rule. Returns 1 when valid. */
int event_decode(const event_config *cfg, sluice_record *rec, int64_t now_ms, event_verdict *v);

/* Parse an RFC 3339 timestamp (e.g. 2026-11-27T10:15:30.123Z, +02:00
 * offsets, fractions beyond ms truncated) to epoch ms. Returns 0 on success. */
int rfc3339_parse_ms(const char *p, size_t n, int64_t *out_ms);

#endif
