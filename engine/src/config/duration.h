/* Durations in configuration: "250ms", "5s", "30m", "1h", "1d" or plain ms. */
#ifndef SLUICE_DURATION_H
#define SLUICE_DURATION_H

#include <stdint.h>

/* Parse a non-negative duration into milliseconds. Returns 0 on success, -1
 * for empty text, junk, a negative value, an unknown unit or overflow. The
 * word "off" is not accepted here: callers that allow it check it first. */
int duration_parse_ms(const char *s, int64_t *out_ms);

#endif
