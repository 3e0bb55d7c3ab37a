/* The sink's tables in the database: created when asked, checked always,
 * and versioned in <schema>.schema_version so that this build refuses a
 * database laid out by a newer one instead of writing into it wrongly. */
#ifndef SLUICE_PG_SCHEMA_H
#define SLUICE_PG_SCHEMA_H

#include "pg_conn.h"
#include "pg_layout.h"

/* The layout this build writes. Bump it with a migration in pg_schema.c
 * whenever a table changes. */
#define PG_SCHEMA_VERSION 1

/* Check the schema's version, create what is missing when `create` (the
 * tables named in `tables`, their indexes, and the views of sql/views.sql
 * when every table has its default name), or check every table exists.
 * Returns PG_DONE, or another outcome with a message in err. */
pg_outcome pg_schema_setup(pg_conn_info *ci, PGconn *conn, const char *schema, const char *const tables[],
                           int create, char *err, size_t errsz);

/* The text of sql/views.sql, built into the plugin. */
extern const char pg_views_sql[];

#endif
