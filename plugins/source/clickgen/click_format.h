/*
 * clickgen's JSON: a click event rendered to bytes, valid or broken in one
 * of the ways docs/semantics.md section 1 rejects. Hand-rolled (no printf) since
 * it runs millions of times a second; the output depends only on the event,
 * so a duplicate re-rendered from the same event is byte-identical.
 */
#ifndef CLICK_FORMAT_H
#define CLICK_FORMAT_H

#include <stddef.h>
#include <stdint.h>

/* Every rendering fits in this many bytes (the longest is a too-long URL). */
#define CLICK_FORMAT_MAX 8192

typedef struct click_event {
    uint64_t seed;      /* part of the event id: e-<seed>-<id> */
    uint64_t id;        /* message number the event was first sent as */
    int64_t ts;         /* event time, epoch ms */
    uint32_t user;      /* 1-based */
    uint32_t url;       /* 1-based */
    uint32_t referrer;  /* URL of the previous click of the session; 0: external */
    uint8_t ts_rfc3339; /* ts as an RFC 3339 string instead of an integer */
    uint8_t user_int;   /* user_id as a JSON integer instead of "u-<n>" */
    uint8_t ua;         /* index into the user-agent table */
    uint8_t external;   /* which external referrer when referrer == 0 */
} click_event;

/* The ways an event can be invalid, each mapped to the reason the engine
 * must give (the comment). */
typedef enum click_flaw {
    CLICK_FLAW_TRUNCATED = 0,  /* malformed: JSON cut in the middle      */
    CLICK_FLAW_NOT_OBJECT,     /* malformed: an array around the event   */
    CLICK_FLAW_BAD_UTF8,       /* malformed: bytes 0xff 0xfe in user_id  */
    CLICK_FLAW_NO_USER,        /* bad_user: missing                      */
    CLICK_FLAW_EMPTY_USER,     /* bad_user: ""                           */
    CLICK_FLAW_LONG_USER,      /* bad_user: 300 bytes                    */
    CLICK_FLAW_USER_TYPE,      /* bad_user: true                         */
    CLICK_FLAW_NO_URL,         /* bad_url: missing                       */
    CLICK_FLAW_EMPTY_URL,      /* bad_url: ""                            */
    CLICK_FLAW_LONG_URL,       /* bad_url: 4200 bytes                    */
    CLICK_FLAW_URL_TYPE,       /* bad_url: a number                      */
    CLICK_FLAW_TS_REAL,        /* bad_ts: 1795737600000.5                */
    CLICK_FLAW_TS_NEGATIVE,    /* bad_ts: -ts                            */
    CLICK_FLAW_TS_NOT_RFC3339, /* bad_ts: "27/11/2026 10:15"             */
    CLICK_FLAW_NO_TS,          /* bad_ts: missing                        */
    CLICK_FLAW_TS_NULL,        /* bad_ts: null                           */
    CLICK_FLAW_TS_FUTURE,      /* future_ts: in the year 2100            */
    CLICK_FLAW_COUNT_
} click_flaw;

/* The reason the engine gives for a flaw (SLUICE_REASON_* text). */
const char *click_flaw_reason(click_flaw flaw);

/* The event as JSON; returns its length (< CLICK_FORMAT_MAX). */
size_t click_format(char *out, const click_event *ev);
/* The event broken by `flaw`; returns its length (< CLICK_FORMAT_MAX). */
size_t click_format_flawed(char *out, const click_event *ev, click_flaw flaw);

#endif
