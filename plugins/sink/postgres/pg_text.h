/* Growable text buffers and the COPY text format (one row per line, columns
 * separated by tabs, \N for NULL, backslash escapes), in which the postgres
 * sink keeps every row of the open transaction until it commits. */
#ifndef SLUICE_PG_TEXT_H
#define SLUICE_PG_TEXT_H

#include <stddef.h>
#include <stdint.h>

typedef struct pg_text {
    char *ptr;
    size_t len, cap;
    int oom; /* an allocation failed: the content is incomplete */
} pg_text;

void pg_text_free(pg_text *t);
void pg_text_put(pg_text *t, const char *p, size_t n);
void pg_text_putc(pg_text *t, char c);
void pg_text_puts(pg_text *t, const char *s);
void pg_text_printf(pg_text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A value escaped for the COPY text format. With `sanitize`, invalid UTF-8
 * and NUL bytes become U+FFFD (for dead letters, whose raw bytes may be
 * anything); without it they are passed on for the server to judge. */
void pg_copy_value(pg_text *t, const char *p, size_t n, int sanitize);
void pg_copy_int(pg_text *t, int64_t v);
void pg_copy_null(pg_text *t);

/* Epoch milliseconds as timestamptz input text in UTC,
 * "2026-11-27 00:00:00.000+00" ("... BC" before year 1), so that COPY
 * fills a timestamptz column without a conversion in SQL. A value beyond
 * PostgreSQL's range is written all the same: the server refuses the row. */
void pg_copy_time(pg_text *t, int64_t ms);
/* The inverse for what pg_copy_time wrote: 0 with *ms, or -1. */
int pg_time_ms(const char *p, size_t n, int64_t *ms);

/* A SQL identifier or literal, quoted ("x""y", 'it''s'). */
void pg_quote_ident(pg_text *t, const char *s);
void pg_quote_literal(pg_text *t, const char *s, size_t n);

/* Column `col` (0-based) of a COPY line [line, line+n) unescaped into `out`
 * (appended). Returns 0, or 1 when it is \N, or -1 when there is no such
 * column. */
int pg_copy_column(const char *line, size_t n, size_t col, pg_text *out);

/* A JSON string literal of bytes that are valid UTF-8 or not (invalid
 * bytes become U+FFFD). */
void pg_json_string(pg_text *t, const char *p, size_t n);

#endif
