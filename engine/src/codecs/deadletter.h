/* Dead-letter records (docs/semantics.md section 2):
 * {"reason":..,"detail":..,"origin":..,"raw":..} with raw cut to 1024 bytes;
 * invalid UTF-8 in it becomes U+FFFD when the record is written. */
#ifndef SLUICE_DEADLETTER_H
#define SLUICE_DEADLETTER_H

#include "record.h"

#define DEADLETTER_RAW_MAX 1024

sluice_record *deadletter_make(arena *a, const char *reason, const char *detail, sluice_str origin,
                               sluice_str raw);

#endif
