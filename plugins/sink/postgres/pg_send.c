#include "pg_send.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COPY_CHUNK ((size_t)1 << 20)

pg_outcome pg_batch_run(pg_conn_info *ci, PGconn *conn, const char *sql, const char *data, size_t n,
                        char *err, size_t errsz)
{
    if (!PQsendQuery(conn, sql)) {
        pg_conn_message(ci, conn, NULL, err, errsz);
        return PQstatus(conn) == CONNECTION_OK ? PG_FATAL : PG_TRANSIENT;
    }
    pg_outcome o = PG_DONE;
    int copied = 0, sent_ok = 1;
    PGresult *res;
    while ((res = PQgetResult(conn)) != NULL) {
        ExecStatusType st = PQresultStatus(res);
        if (st == PGRES_COPY_IN) {
            PQclear(res);
            /* After a failed statement the server skips the rest of the
             * query: a COPY_IN always comes before any error. */
            for (size_t at = 0; sent_ok && at < n; at += COPY_CHUNK) {
                size_t len = n - at < COPY_CHUNK ? n - at : COPY_CHUNK;
                sent_ok = PQputCopyData(conn, data + at, (int)len) == 1;
            }
            if (PQputCopyEnd(conn, sent_ok ? NULL : "sluice: sending failed") != 1)
                sent_ok = 0;
            copied = 1;
            continue;
        }
        if (o == PG_DONE && st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
            o = pg_conn_classify(conn, res);
            pg_conn_message(ci, conn, res, err, errsz);
            if (o == PG_DONE)
                o = PG_FATAL;
        }
        PQclear(res);
        if (PQstatus(conn) != CONNECTION_OK)
            break;
    }
    if (o == PG_DONE && (!copied || !sent_ok)) {
        pg_conn_message(ci, conn, NULL, err, errsz);
        return PQstatus(conn) == CONNECTION_OK && !copied ? PG_FATAL : PG_TRANSIENT;
    }
    if (o == PG_ROW_REFUSED) {
        char ignored[256];
        pg_outcome undo =
            pg_conn_exec(ci, conn, "ROLLBACK TO SAVEPOINT sluice_batch; RELEASE SAVEPOINT sluice_batch",
                         ignored, sizeof ignored);
        if (undo != PG_DONE) {
            snprintf(err, errsz, "%s", ignored);
            return undo == PG_ROW_REFUSED ? PG_FATAL : undo;
        }
    }
    return o;
}

struct line_ref {
    const char *p;
    size_t n;
};

struct pg_sender {
    pg_conn_info *ci;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int quit;
    int state; /* 0 idle, 1 submitted, 2 running, 3 done */
    PGconn *conn;
    const char *sql;
    char *data, *sorted;
    size_t n, cap, sorted_cap;
    unsigned key_cols; /* bit c: column c is part of the key; 0: no sorting */
    struct line_ref *lines;
    size_t lines_cap;
    pg_outcome outcome;
    char err[1024];
};

/* Column c of a line, its bytes as escaped for COPY. */
static struct line_ref column(struct line_ref line, unsigned c)
{
    const char *p = line.p, *end = line.p + line.n;
    for (; c > 0 && p < end; c--) {
        const char *tab = memchr(p, '\t', (size_t)(end - p));
        p = tab ? tab + 1 : end;
    }
    const char *stop = memchr(p, '\t', (size_t)(end - p));
    if (stop == NULL)
        stop = end[-1] == '\n' ? end - 1 : end;
    return (struct line_ref){p, (size_t)(stop - p)};
}

static int compare_lines(const void *a, const void *b, void *key_cols)
{
    const struct line_ref *x = a, *y = b;
    unsigned cols = *(const unsigned *)key_cols;
    for (unsigned c = 0; cols >> c; c++) {
        if (!(cols >> c & 1))
            continue;
        struct line_ref u = column(*x, c), v = column(*y, c);
        int d = memcmp(u.p, v.p, u.n < v.n ? u.n : v.n);
        if (d == 0)
            d = (u.n > v.n) - (u.n < v.n);
        if (d)
            return d;
    }
    return 0;
}

/* The batch's lines in the order of their key columns. The server then
 * inserts each key next to the previous one, and a key above every key of
 * the table (a newer window) takes the B-tree's fast path to its rightmost
 * leaf instead of a descent from the root. Key bytes are compared as
 * escaped and times as their text (year-first, so in time order): close to
 * the index's order, which is all that matters (the order of rows with
 * distinct keys changes nothing in the table). NULL when out of memory. */
static const char *sort_lines(pg_sender *snd)
{
    size_t count = 0;
    for (const char *p = snd->data, *end = snd->data + snd->n; p < end; count++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        p = nl ? nl + 1 : end;
    }
    if (count > snd->lines_cap) {
        struct line_ref *grown = realloc(snd->lines, count * sizeof *grown);
        if (grown == NULL)
            return NULL;
        snd->lines = grown;
        snd->lines_cap = count;
    }
    if (snd->n > snd->sorted_cap) {
        char *grown = realloc(snd->sorted, snd->n);
        if (grown == NULL)
            return NULL;
        snd->sorted = grown;
        snd->sorted_cap = snd->n;
    }
    size_t i = 0;
    for (const char *p = snd->data, *end = snd->data + snd->n; p < end; i++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *next = nl ? nl + 1 : end;
        snd->lines[i] = (struct line_ref){p, (size_t)(next - p)};
        p = next;
    }
    qsort_r(snd->lines, count, sizeof *snd->lines, compare_lines, &snd->key_cols);
    char *w = snd->sorted;
    for (i = 0; i < count; i++) {
        memcpy(w, snd->lines[i].p, snd->lines[i].n);
        w += snd->lines[i].n;
    }
    return snd->sorted;
}

static void *sender_main(void *arg)
{
    pg_sender *snd = arg;
    pthread_mutex_lock(&snd->mu);
    for (;;) {
        while (!snd->quit && snd->state != 1)
            pthread_cond_wait(&snd->cv, &snd->mu);
        if (snd->state != 1)
            break; /* quit, nothing submitted */
        snd->state = 2;
        pthread_mutex_unlock(&snd->mu);
        char err[sizeof snd->err];
        err[0] = '\0';
        const char *data = snd->key_cols ? sort_lines(snd) : NULL;
        pg_outcome o =
            pg_batch_run(snd->ci, snd->conn, snd->sql, data ? data : snd->data, snd->n, err, sizeof err);
        pthread_mutex_lock(&snd->mu);
        snd->outcome = o;
        memcpy(snd->err, err, sizeof err);
        snd->state = 3;
        pthread_cond_broadcast(&snd->cv);
    }
    pthread_mutex_unlock(&snd->mu);
    return NULL;
}

pg_sender *pg_sender_start(pg_conn_info *ci)
{
    pg_sender *snd = calloc(1, sizeof *snd);
    if (snd == NULL)
        return NULL;
    snd->ci = ci;
    if (pthread_mutex_init(&snd->mu, NULL) != 0) {
        free(snd);
        return NULL;
    }
    if (pthread_cond_init(&snd->cv, NULL) != 0) {
        pthread_mutex_destroy(&snd->mu);
        free(snd);
        return NULL;
    }
    if (pthread_create(&snd->thread, NULL, sender_main, snd) != 0) {
        pthread_cond_destroy(&snd->cv);
        pthread_mutex_destroy(&snd->mu);
        free(snd);
        return NULL;
    }
    return snd;
}

void pg_sender_stop(pg_sender *snd)
{
    if (snd == NULL)
        return;
    char ignored[16];
    pg_sender_wait(snd, ignored, sizeof ignored);
    pthread_mutex_lock(&snd->mu);
    snd->quit = 1;
    pthread_cond_broadcast(&snd->cv);
    pthread_mutex_unlock(&snd->mu);
    pthread_join(snd->thread, NULL);
    pthread_cond_destroy(&snd->cv);
    pthread_mutex_destroy(&snd->mu);
    free(snd->data);
    free(snd->sorted);
    free(snd->lines);
    free(snd);
}

int pg_sender_submit(pg_sender *snd, PGconn *conn, const char *sql, const char *data, size_t n,
                     unsigned key_cols)
{
    /* Only the pipeline's thread submits and waits: state 0 means the
     * sender does not touch these fields. */
    if (n > snd->cap) {
        size_t cap = snd->cap ? snd->cap : 1 << 16;
        while (cap < n)
            cap *= 2;
        char *grown = realloc(snd->data, cap);
        if (grown == NULL)
            return -1;
        snd->data = grown;
        snd->cap = cap;
    }
    if (n)
        memcpy(snd->data, data, n);
    pthread_mutex_lock(&snd->mu);
    snd->conn = conn;
    snd->sql = sql;
    snd->n = n;
    snd->key_cols = n ? key_cols : 0;
    snd->state = 1;
    pthread_cond_broadcast(&snd->cv);
    pthread_mutex_unlock(&snd->mu);
    return 0;
}

int pg_sender_pending(pg_sender *snd)
{
    if (snd == NULL)
        return 0;
    pthread_mutex_lock(&snd->mu);
    int pending = snd->state != 0;
    pthread_mutex_unlock(&snd->mu);
    return pending;
}

pg_outcome pg_sender_wait(pg_sender *snd, char *err, size_t errsz)
{
    if (snd == NULL)
        return PG_DONE;
    pthread_mutex_lock(&snd->mu);
    if (snd->state == 0) {
        pthread_mutex_unlock(&snd->mu);
        return PG_DONE;
    }
    while (snd->state != 3)
        pthread_cond_wait(&snd->cv, &snd->mu);
    pg_outcome o = snd->outcome;
    if (o != PG_DONE && errsz > 0) {
        /* Cut to fit (what a caller that ignores the message passes). */
        size_t n = strnlen(snd->err, errsz - 1);
        memcpy(err, snd->err, n);
        err[n] = '\0';
    }
    snd->state = 0;
    pthread_mutex_unlock(&snd->mu);
    return o;
}
