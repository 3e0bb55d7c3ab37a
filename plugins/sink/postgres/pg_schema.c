#include "pg_schema.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A single-value query: 0 with the value (or "" for NULL) in out, else the
 * outcome with a message. */
static pg_outcome query_value(pg_conn_info *ci, PGconn *conn, const char *sql, char *out, size_t n, char *err,
                              size_t errsz)
{
    PGresult *res = PQexec(conn, sql);
    if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
        pg_outcome o = pg_conn_classify(conn, res);
        pg_conn_message(ci, conn, res, err, errsz);
        PQclear(res);
        return o == PG_DONE ? PG_FATAL : o;
    }
    snprintf(out, n, "%s", PQntuples(res) > 0 && !PQgetisnull(res, 0, 0) ? PQgetvalue(res, 0, 0) : "");
    PQclear(res);
    return PG_DONE;
}

static pg_outcome exists(pg_conn_info *ci, PGconn *conn, const char *schema, const char *name, int *yes,
                         char *err, size_t errsz)
{
    pg_text sql = {0}, rel = {0};
    pg_quote_ident(&rel, schema);
    pg_text_putc(&rel, '.');
    pg_quote_ident(&rel, name);
    pg_text_puts(&sql, "SELECT to_regclass(");
    pg_quote_literal(&sql, rel.ptr ? rel.ptr : "", rel.len);
    pg_text_puts(&sql, ") IS NOT NULL");
    char v[8];
    pg_outcome o = sql.oom ? PG_FATAL : query_value(ci, conn, sql.ptr, v, sizeof v, err, errsz);
    *yes = o == PG_DONE && strcmp(v, "t") == 0;
    pg_text_free(&sql);
    pg_text_free(&rel);
    return o;
}

static int default_names(const char *const tables[])
{
    for (int k = 0; k < PG_NKINDS; k++)
        if (strcmp(tables[k], pg_layouts[k].default_table) != 0)
            return 0;
    return 1;
}

static pg_outcome check_version(pg_conn_info *ci, PGconn *conn, const char *schema, int create, char *err,
                                size_t errsz)
{
    int have = 0;
    pg_outcome o = exists(ci, conn, schema, "schema_version", &have, err, errsz);
    if (o != PG_DONE)
        return o;
    pg_text sql = {0};
    if (!have) {
        if (!create) {
            snprintf(err, errsz,
                     "schema \"%s\" holds no sluice tables (no %s.schema_version) and create_tables is "
                     "false: create them once with create_tables: true",
                     schema, schema);
            return PG_FATAL;
        }
        pg_text_puts(&sql, "CREATE SCHEMA IF NOT EXISTS ");
        pg_quote_ident(&sql, schema);
        pg_text_puts(&sql, "; CREATE TABLE ");
        pg_quote_ident(&sql, schema);
        pg_text_puts(&sql, ".schema_version (version integer PRIMARY KEY, installed_at timestamptz NOT NULL "
                           "DEFAULT now(), note text); INSERT INTO ");
        pg_quote_ident(&sql, schema);
        pg_text_printf(&sql,
                       ".schema_version (version, note) VALUES (%d, 'created by the sluice postgres sink')",
                       PG_SCHEMA_VERSION);
        o = sql.oom ? PG_FATAL : pg_conn_exec(ci, conn, sql.ptr, err, errsz);
        pg_text_free(&sql);
        return o;
    }
    pg_text_puts(&sql, "SELECT max(version) FROM ");
    pg_quote_ident(&sql, schema);
    pg_text_puts(&sql, ".schema_version");
    char v[32];
    o = sql.oom ? PG_FATAL : query_value(ci, conn, sql.ptr, v, sizeof v, err, errsz);
    pg_text_free(&sql);
    if (o != PG_DONE)
        return o;
    long version = strtol(v, NULL, 10);
    if (version > PG_SCHEMA_VERSION) {
        snprintf(err, errsz,
                 "schema \"%s\" is at version %ld, newer than the version %d this sluice writes: it was set "
                 "up by a newer sluice; upgrade sluice, or use another schema",
                 schema, version, PG_SCHEMA_VERSION);
        return PG_FATAL;
    }
    /* Older versions would be migrated here; version 1 is the first. */
    return PG_DONE;
}

pg_outcome pg_schema_setup(pg_conn_info *ci, PGconn *conn, const char *schema, const char *const tables[],
                           int create, char *err, size_t errsz)
{
    pg_outcome o = pg_conn_exec(ci, conn, "BEGIN", err, errsz);
    if (o != PG_DONE)
        return o;
    pg_text sql = {0};
    if (create) {
        /* Two sinks starting at once on an empty database: one creates,
         * the other then finds everything there. */
        pg_text_puts(&sql, "SELECT pg_advisory_xact_lock(hashtext(");
        pg_text_printf(&sql, "'sluice schema ' || ");
        pg_quote_literal(&sql, schema, strlen(schema));
        pg_text_puts(&sql, "))");
        o = sql.oom ? PG_FATAL : pg_conn_exec(ci, conn, sql.ptr, err, errsz);
        sql.len = 0;
    }
    if (o == PG_DONE)
        o = check_version(ci, conn, schema, create, err, errsz);
    if (o == PG_DONE && create) {
        for (int k = 0; k < PG_NKINDS; k++)
            pg_layout_create_table((pg_kind)k, schema, tables[k], &sql);
        o = sql.oom ? PG_FATAL : pg_conn_exec(ci, conn, sql.ptr, err, errsz);
        sql.len = 0;
        if (o == PG_DONE && default_names(tables)) {
            pg_text_puts(&sql, "SET LOCAL search_path TO ");
            pg_quote_ident(&sql, schema);
            pg_text_puts(&sql, ";\n");
            pg_text_puts(&sql, pg_views_sql);
            o = sql.oom ? PG_FATAL : pg_conn_exec(ci, conn, sql.ptr, err, errsz);
            if (o != PG_DONE) {
                char why[600];
                snprintf(why, sizeof why, "%s", err);
                snprintf(err, errsz, "cannot create the views of sql/views.sql: %s", why);
            }
        } else if (o == PG_DONE) {
            ci->api->log(ci->ctx, SLUICE_LOG_INFO,
                         "tables renamed with the `tables` option: the views of sql/views.sql (which use the "
                         "default names) are not created");
        }
    }
    for (int k = 0; o == PG_DONE && !create && k < PG_NKINDS; k++) {
        int have = 0;
        o = exists(ci, conn, schema, tables[k], &have, err, errsz);
        if (o == PG_DONE && !have) {
            snprintf(err, errsz, "table %s.%s does not exist and create_tables is false", schema, tables[k]);
            o = PG_FATAL;
        }
    }
    pg_text_free(&sql);
    if (o == PG_DONE)
        return pg_conn_exec(ci, conn, "COMMIT", err, errsz);
    char ignored[64];
    pg_conn_exec(ci, conn, "ROLLBACK", ignored, sizeof ignored);
    return o;
}
