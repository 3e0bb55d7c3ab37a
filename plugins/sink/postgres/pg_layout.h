/* How each kind of record becomes a row: the tables the postgres sink
 * writes, their columns, keys and indexes, the COPY line of a record, and
 * the SQL that stages a batch and upserts it.
 *
 * Results are final per key (docs/semantics.md: (window_start, url),
 * (window_start), (user_id, session_start)), dead letters are keyed by their
 * origin, other kinds by (kind, key): an upsert of the same records leaves
 * the same rows, which is what makes a replay after a crash exactly once in
 * the database. */
#ifndef SLUICE_PG_LAYOUT_H
#define SLUICE_PG_LAYOUT_H

#include <jansson.h>
#include <sluice/plugin.h>

#include "pg_text.h"

typedef enum pg_col_type {
    PG_COL_TIME,   /* epoch ms in the record, timestamptz in the table */
    PG_COL_INT,    /* bigint */
    PG_COL_DOUBLE, /* double precision */
    PG_COL_TEXT,
    PG_COL_JSON /* jsonb */
} pg_col_type;

typedef struct pg_column {
    const char *name; /* the record's field and the table's column */
    pg_col_type type;
    int key;      /* part of the primary key */
    int nullable; /* NOT NULL otherwise */
} pg_column;

typedef enum pg_kind {
    PG_URL_CLICKS,
    PG_WINDOW_SUMMARY,
    PG_SESSION,
    PG_OTHER,
    PG_REJECTED, /* last: dead letters made while sending the others join it */
    PG_NKINDS
} pg_kind;

typedef struct pg_layout {
    const char *kind;          /* the record's "kind" and the `tables` option's key */
    const char *default_table; /* in the sink's schema */
    const pg_column *cols;
    size_t ncols;
    const char *indexes; /* extra indexes: "name(cols);name(cols)" */
    int stored_at;       /* has a stored_at column, set when first stored */
} pg_layout;

extern const pg_layout pg_layouts[PG_NKINDS];

/* A record read raw (a source's `event: raw`, e.g. a file of results
 * written by the file sink, loaded back) has no fields, only its JSON text:
 * its object, parsed, or NULL for a record with fields or one that is not
 * a JSON object. The caller json_decref()s it. */
json_t *pg_layout_parse_raw(const sluice_host_api *api, const sluice_record *rec);

/* Which layout a record goes to: its "kind", or a dead letter by its
 * fields, or PG_OTHER. `doc` is pg_layout_parse_raw's, or NULL. */
pg_kind pg_layout_route(const sluice_host_api *api, const sluice_record *rec, const json_t *doc);

/* Append the record's COPY line (the layout's columns, times as
 * timestamptz text), from its fields, or from `doc` when not NULL. The same
 * line goes into the table or into its staging table. */
void pg_layout_encode(const sluice_host_api *api, pg_kind k, const sluice_record *rec, const json_t *doc,
                      pg_text *line);

/* A dead letter's COPY line for a row the server refused: origin
 * "postgres:<table>/<key columns joined by |>", reason "db_rejected", the
 * server's message as detail, and the row as a JSON object as raw (times as
 * epoch milliseconds, as in the record). */
void pg_layout_dead_letter(pg_kind k, const char *table, const char *line, size_t n, const char *message,
                           pg_text *out);

/* SQL, appended to `sql`. `schema` and `table` are plain names (quoted
 * here). The staging table is a temporary table of the session. */
void pg_layout_create_table(pg_kind k, const char *schema, const char *table, pg_text *sql);
void pg_layout_create_stage(pg_kind k, pg_text *sql);
/* COPY of the layout's columns into `table`, or into the staging table
 * when `table` is NULL. */
void pg_layout_copy(pg_kind k, const char *schema, const char *table, pg_text *sql);
/* With `dedup`, the batch is first reduced to the last row of each key
 * (a sort): needed only when a key repeats within the batch. */
void pg_layout_upsert(pg_kind k, const char *schema, const char *table, int dedup, pg_text *sql);

/* A hash of a COPY line's key columns (their escaped bytes, which are equal
 * for equal keys), to tell whether a batch repeats a key; 0 when the layout
 * cannot tell (other kinds: their key may be computed by the server). */
uint64_t pg_layout_key_hash(pg_kind k, const char *line, size_t n);
void pg_layout_truncate_stage(pg_kind k, pg_text *sql);

#endif
