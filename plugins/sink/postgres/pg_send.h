/* Sending one batch of COPY rows to the server, on the calling thread or on
 * the sink's sender thread.
 *
 * A batch is one simple query, "SAVEPOINT sluice_batch; COPY ... FROM
 * STDIN; ...; RELEASE SAVEPOINT sluice_batch", with the COPY data sent in
 * the middle: two round trips, whatever the statements after the COPY (an
 * upsert from the staging table). When the server refuses the data (SQLSTATE
 * classes 22 and 23: a constraint, a key already there for a direct COPY),
 * the batch is rolled back to its savepoint, so the transaction goes on.
 *
 * The sender thread keeps one batch in flight while the pipeline's thread
 * goes on encoding the next rows: the server stores a batch while the
 * engine computes the next. The connection belongs to the sender from
 * pg_sender_submit until pg_sender_wait returns; the sink touches it only
 * in between. */
#ifndef SLUICE_PG_SEND_H
#define SLUICE_PG_SEND_H

#include <stddef.h>

#include "pg_conn.h"

/* Run a batch on the calling thread. PG_DONE, or the outcome with its
 * message in err; after PG_ROW_REFUSED the batch is undone and the
 * transaction usable. */
pg_outcome pg_batch_run(pg_conn_info *ci, PGconn *conn, const char *sql, const char *data, size_t n,
                        char *err, size_t errsz);

typedef struct pg_sender pg_sender;

/* A sender thread, or NULL (out of memory, no thread: the sink then sends
 * every batch on its own thread). */
pg_sender *pg_sender_start(pg_conn_info *ci);
/* Waits for the batch in flight, ends the thread. NULL is fine. */
void pg_sender_stop(pg_sender *snd);

/* Start a batch on the sender thread; `data` is copied. With key_cols (bit
 * c: column c is part of the key), the sender sends the lines in the order
 * of their keys, which the server's B-tree inserts faster; only for a batch
 * whose order does not matter (no key twice). Returns 0, or -1 when it
 * cannot (out of memory): then nothing was started. No batch may be in
 * flight. */
int pg_sender_submit(pg_sender *snd, PGconn *conn, const char *sql, const char *data, size_t n,
                     unsigned key_cols);
/* 1 while a submitted batch is not waited for. */
int pg_sender_pending(pg_sender *snd);
/* Wait for the batch in flight and take its outcome (as pg_batch_run's);
 * PG_DONE when there is none. */
pg_outcome pg_sender_wait(pg_sender *snd, char *err, size_t errsz);

#endif
