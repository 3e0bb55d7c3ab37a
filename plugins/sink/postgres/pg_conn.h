/* Connections to the server: connecting with a message that names host and
 * port, keeping the password out of every message, routing the server's
 * notices to the host's log, and telling a refused row from a lost
 * connection. */
#ifndef SLUICE_PG_CONN_H
#define SLUICE_PG_CONN_H

#include <libpq-fe.h>
#include <sluice/plugin.h>

typedef struct pg_conn_info {
    const sluice_host_api *api;
    sluice_ctx *ctx;
    const char *conninfo; /* secret: never logged */
    char password[256];   /* from conninfo or PGPASSWORD, to scrub from messages */
    char target[300];     /* "host H port P" */
} pg_conn_info;

/* Checks conninfo and fills password and target. Returns 0, or -1 with a
 * message (which never quotes conninfo) in err. */
int pg_conn_init(pg_conn_info *ci, const sluice_host_api *api, sluice_ctx *ctx, const char *conninfo,
                 char *err, size_t errsz);

/* A new connection, or NULL with "cannot connect to PostgreSQL at host H
 * port P: <why>" in err. */
PGconn *pg_conn_open(pg_conn_info *ci, char *err, size_t errsz);

/* The connection's last error on one line, the password replaced by ***. */
void pg_conn_message(const pg_conn_info *ci, const PGconn *conn, const PGresult *res, char *out, size_t n);

typedef enum pg_outcome {
    PG_DONE = 0,
    PG_ROW_REFUSED = 1, /* the server refused the data (classes 22 and 23) */
    PG_TRANSIENT = 2,   /* connection lost or server unavailable: retry */
    PG_FATAL = 3        /* anything else: a configuration or schema problem */
} pg_outcome;

pg_outcome pg_conn_classify(const PGconn *conn, const PGresult *res);

/* Run a command; PG_DONE, or the class of its failure with the message. */
pg_outcome pg_conn_exec(pg_conn_info *ci, PGconn *conn, const char *sql, char *err, size_t errsz);

#endif
