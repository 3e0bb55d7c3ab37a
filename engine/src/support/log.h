/* Engine logging to stderr: one line per message, prefixed with the
 * pipeline and step it concerns, filtered by level (SLUICE_LOG_LEVEL or
 * --log-level). */
#ifndef SLUICE_LOG_H
#define SLUICE_LOG_H

#include <stdarg.h>
#include <stddef.h>

#include "sluice/plugin.h"

void log_set_level(sluice_log_level level);
/* Parse "error", "warn", "info", "debug"; returns -1 when unknown. */
int log_level_parse(const char *s);
int log_enabled(sluice_log_level level);
/* scope is e.g. "replay/dedup" or NULL. */
void log_msg(sluice_log_level level, const char *scope, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void log_vmsg(sluice_log_level level, const char *scope, const char *fmt, va_list ap);
/* Write bytes to stderr in one write(2), under the lock log lines take, so
 * that a terminal sequence (the status line's) never splits a log line or
 * is split by one. */
void log_write_raw(const char *buf, size_t len);

#endif
