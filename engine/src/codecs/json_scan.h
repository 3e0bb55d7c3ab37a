/* The hot-path JSON decoder: validates one message as strict RFC 8259 JSON
 * (UTF-8 checked, nesting depth limited like jansson's) in a single pass,
 * builds no tree, and records the top-level object's members as fields of a
 * record. Strings without escapes are views into the input; escaped ones are
 * decoded into the arena. Nested objects and arrays become SLUICE_TYPE_JSON
 * fields holding their exact text. */
#ifndef SLUICE_JSON_SCAN_H
#define SLUICE_JSON_SCAN_H

#include <stddef.h>
#include <stdint.h>

#include "record.h"

typedef enum json_scan_status {
    JSON_SCAN_OK = 0,
    JSON_SCAN_NOT_OBJECT = 1, /* valid JSON whose top level is not an object */
    JSON_SCAN_INVALID = 2,    /* not JSON: syntax, bad UTF-8, depth, ... */
} json_scan_status;

/* Decode `len` bytes at `buf` (which must stay alive as long as the record:
 * the engine copies messages into the arena first) into rec's fields.
 * On failure writes a short reason ("invalid UTF-8 at byte 17") to err. */
json_scan_status json_scan_record(const char *buf, size_t len, sluice_record *rec, char *err, size_t errsz);

/* Append the JSON string literal for (p, n) (quotes included, escaped like
 * jansson's default output) to buf; returns the bytes written. buf must have
 * room for 6 * n + 2 bytes. Invalid UTF-8 is replaced by U+FFFD (needs
 * 3 bytes per bad byte, within the same bound). */
size_t json_escape_string(char *buf, const char *p, size_t n);

/* Write the record as one JSON object into the arena (no newline): the raw
 * bytes (trimmed of surrounding whitespace) when the record is unmodified,
 * else its fields in order. */
sluice_str json_write_record(const sluice_record *rec, arena *a);

/* Format a number as JSON into buf (at least 32 bytes, NUL-terminated);
 * returns the length. Doubles get the shortest text that reads back the same
 * (with ".0" added to stay a real); NaN and infinities become null. */
size_t json_format_int(char *buf, int64_t v);
size_t json_format_double(char *buf, double d);

/* Length of the UTF-8 sequence at p (n > 0 bytes available). *ok says whether
 * it is valid (no overlongs, no surrogates, at most U+10FFFF); when not, the
 * length is that of the maximal invalid subpart (at least 1), which is what
 * one U+FFFD replaces. */
static inline size_t json_utf8_seq(const unsigned char *p, size_t n, int *ok)
{
    unsigned c = p[0];
    unsigned lo = 0x80, hi = 0xbf;
    size_t need;
    if (c < 0x80) {
        *ok = 1;
        return 1;
    }
    if (c >= 0xc2 && c <= 0xdf) {
        need = 1;
    } else if (c >= 0xe0 && c <= 0xef) {
        need = 2;
        if (c == 0xe0)
            lo = 0xa0; /* overlong */
        else if (c == 0xed)
            hi = 0x9f; /* surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        need = 3;
        if (c == 0xf0)
            lo = 0x90; /* overlong */
        else if (c == 0xf4)
            hi = 0x8f; /* beyond U+10FFFF */
    } else {
        *ok = 0;
        return 1;
    }
    for (size_t i = 1; i <= need; i++) {
        if (i >= n || p[i] < lo || p[i] > hi) {
            *ok = 0;
            return i;
        }
        lo = 0x80;
        hi = 0xbf;
    }
    *ok = 1;
    return need + 1;
}

#endif
