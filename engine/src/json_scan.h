/* The hot-path JSON decoder: validates one message as strict RFC 8259 JSON
 * (UTF-8 checked, nesting depth limited like jansson's) in a single pass,
 * builds no tree, and records the top-level object's members as fields of a
 * record. Strings without escapes are views into the input; escaped ones are
 * decoded into the arena. Nested objects and arrays become SLUICE_TYPE_JSON
 * fields holding their exact text. */
#ifndef SLUICE_JSON_SCAN_H
#define SLUICE_JSON_SCAN_H

#include <stddef.h>

#include "record.h"

typedef enum json_scan_status {
    JSON_SCAN_OK = 0,
    JSON_SCAN_NOT_OBJECT = 1, /* valid JSON whose top level is not an object */
    JSON_SCAN_INVALID = 2,    /* not JSON: syntax, bad UTF-8, depth, ... */
} json_scan_status;

/* Decode `len` bytes at `buf` (which must stay alive as long as the record:
 * the engine copies messages into the arena first) into rec's fields.
 * On failure writes a short reason ("invalid UTF-8 at byte 17") to err. */
json_scan_status json_scan_record(const char *buf, size_t len, sluice_record *rec,
                                  char *err, size_t errsz);

/* Append the JSON string literal for (p, n) (quotes included, escaped like
 * jansson's default output) to buf; returns the bytes written. buf must have
 * room for 6 * n + 2 bytes. Invalid UTF-8 is replaced by U+FFFD (needs
 * 3 bytes per bad byte, within the same bound). */
size_t json_escape_string(char *buf, const char *p, size_t n);

/* Write the record as one JSON object into the arena (no newline). */
sluice_str json_write_record(const sluice_record *rec, arena *a);

#endif
