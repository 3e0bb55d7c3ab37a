#include "pg_conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int pg_conn_init(pg_conn_info *ci, const sluice_host_api *api, sluice_ctx *ctx, const char *conninfo,
                 char *err, size_t errsz)
{
    memset(ci, 0, sizeof *ci);
    ci->api = api;
    ci->ctx = ctx;
    ci->conninfo = conninfo;
    char *why = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &why);
    if (opts == NULL) {
        /* libpq's message quotes the string, password and all. */
        PQfreemem(why);
        snprintf(err, errsz,
                 "conninfo is not a valid libpq connection string or URI (not shown here: it may hold "
                 "a password)");
        return -1;
    }
    const char *host = NULL, *hostaddr = NULL, *port = NULL, *password = NULL;
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (o->val == NULL || o->val[0] == '\0')
            continue;
        if (strcmp(o->keyword, "host") == 0)
            host = o->val;
        else if (strcmp(o->keyword, "hostaddr") == 0)
            hostaddr = o->val;
        else if (strcmp(o->keyword, "port") == 0)
            port = o->val;
        else if (strcmp(o->keyword, "password") == 0)
            password = o->val;
    }
    if (host == NULL)
        host = hostaddr ? hostaddr : getenv("PGHOST");
    if (port == NULL)
        port = getenv("PGPORT");
    if (password == NULL)
        password = getenv("PGPASSWORD");
    snprintf(ci->target, sizeof ci->target, "host %s port %s", host && *host ? host : "localhost (default)",
             port && *port ? port : "5432 (default)");
    if (password)
        snprintf(ci->password, sizeof ci->password, "%s", password);
    PQconninfoFree(opts);
    return 0;
}

/* Replace every occurrence of the password (at least 3 bytes: shorter ones
 * would hit ordinary words) by ***, in place. */
static void scrub(const pg_conn_info *ci, char *text)
{
    size_t plen = strlen(ci->password);
    if (plen < 3)
        return;
    for (char *p; (p = strstr(text, ci->password)) != NULL;) {
        memmove(p + 3, p + plen, strlen(p + plen) + 1); /* never longer: 3 <= plen */
        memcpy(p, "***", 3);
    }
}

/* One line: libpq's messages end in a newline and may hold a hint on the next. */
static void one_line(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' '))
        s[--n] = '\0';
    for (char *p = s; *p; p++)
        if (*p == '\n' || *p == '\t')
            *p = ' ';
}

static void on_notice(void *arg, const char *message)
{
    pg_conn_info *ci = arg;
    char line[1024];
    snprintf(line, sizeof line, "%s", message);
    one_line(line);
    scrub(ci, line);
    ci->api->log(ci->ctx, SLUICE_LOG_DEBUG, "server: %s", line);
}

PGconn *pg_conn_open(pg_conn_info *ci, char *err, size_t errsz)
{
    /* Defaults first: what conninfo says overrides them (expand_dbname). */
    const char *const keys[] = {"connect_timeout",
                                "fallback_application_name",
                                "keepalives_idle",
                                "keepalives_interval",
                                "keepalives_count",
                                "dbname",
                                NULL};
    const char *const values[] = {"10", "sluice", "30", "10", "3", ci->conninfo, NULL};
    PGconn *conn = PQconnectdbParams(keys, values, 1);
    if (conn == NULL) {
        snprintf(err, errsz, "cannot connect to PostgreSQL at %s: out of memory", ci->target);
        return NULL;
    }
    if (PQstatus(conn) != CONNECTION_OK) {
        char why[1024];
        pg_conn_message(ci, conn, NULL, why, sizeof why);
        /* What libpq tried last, when conninfo named several hosts. */
        const char *host = PQhost(conn), *port = PQport(conn);
        if (host && *host && port && *port)
            snprintf(err, errsz, "cannot connect to PostgreSQL at host %s port %s: %s", host, port, why);
        else
            snprintf(err, errsz, "cannot connect to PostgreSQL at %s: %s", ci->target, why);
        PQfinish(conn);
        return NULL;
    }
    PQsetNoticeProcessor(conn, on_notice, ci);
    return conn;
}

void pg_conn_message(const pg_conn_info *ci, const PGconn *conn, const PGresult *res, char *out, size_t n)
{
    const char *msg = res ? PQresultErrorMessage(res) : NULL;
    if (msg == NULL || *msg == '\0')
        msg = PQerrorMessage(conn);
    if (msg == NULL || *msg == '\0')
        msg = "unknown error";
    /* Drop libpq's "ERROR:  " prefix: the log says it is an error. */
    if (strncmp(msg, "ERROR:  ", 8) == 0)
        msg += 8;
    snprintf(out, n, "%s", msg);
    one_line(out);
    scrub(ci, out);
}

pg_outcome pg_conn_classify(const PGconn *conn, const PGresult *res)
{
    if (PQstatus(conn) != CONNECTION_OK)
        return PG_TRANSIENT;
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (state == NULL)
        return PG_TRANSIENT; /* no answer from the server at all */
    if (strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0)
        return PG_ROW_REFUSED;
    /* Connection exceptions, shutdown and recovery, resources, and the
     * conflicts a retry resolves. */
    if (strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0 || strncmp(state, "53", 2) == 0 ||
        strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 || strcmp(state, "55P03") == 0 ||
        strcmp(state, "25P03") == 0)
        return PG_TRANSIENT;
    return PG_FATAL;
}

pg_outcome pg_conn_exec(pg_conn_info *ci, PGconn *conn, const char *sql, char *err, size_t errsz)
{
    PGresult *res = PQexec(conn, sql);
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        PQclear(res);
        return PG_DONE;
    }
    pg_outcome o = pg_conn_classify(conn, res);
    pg_conn_message(ci, conn, res, err, errsz);
    PQclear(res);
    return o == PG_DONE ? PG_FATAL : o;
}
