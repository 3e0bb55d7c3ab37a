/*
 * Sink `postgres`: every record stored once, by its key, in PostgreSQL.
 *
 * Records become rows of one table per kind (pg_layout.h): url_clicks,
 * window_summary, sessions, dead letters in rejected, and any other kind as
 * JSONB in records. Rows gather per table as COPY text; each batch is
 * COPYed into the table itself when none of its keys repeats, and when one
 * does, or is already in the table, into a temporary staging table and
 * moved with one INSERT ... ON CONFLICT DO UPDATE. All batches of a
 * checkpoint are one transaction, committed in flush(). flush() is the
 * sink's acknowledgement, so the source commits its positions only for
 * what the database holds, and a replay after a crash upserts the same rows
 * again: exactly once in the database.
 *
 * Batches go to the server on the sink's sender thread (pg_send.h): the
 * pipeline goes on while the server stores the previous batch, and waits
 * for it only when the next is due, or at the checkpoint.
 *
 * Every row of the open transaction stays in memory until COMMIT succeeds.
 * When the server goes away the transaction is lost with it, so the sink
 * reconnects with backoff and sends them all again; flush() does not return
 * before that commit (or before retry_timeout, when the pipeline fails and
 * nothing of the checkpoint counts as stored). A row the server refuses
 * (a data or constraint error) is retried alone and, refused again, goes to
 * the rejected table with the server's message, while the rest of its batch
 * is stored.
 */
#include <sluice/plugin.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pg_conn.h"
#include "pg_layout.h"
#include "pg_schema.h"
#include "pg_send.h"

#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 5000
#define RETRY_LOG_EVERY_MS 10000
#define DIRECT_SKIP 16

typedef struct pg_table {
    const char *name;
    pg_text rows;       /* COPY lines of the open checkpoint, not yet committed */
    size_t sent;        /* bytes of rows inside the server's open transaction */
    size_t nrows;       /* lines in rows */
    size_t sent_rows;   /* lines in rows[0, sent) */
    char *direct_sql;   /* a batch by COPY into the table */
    char *stage_sql[2]; /* a batch by COPY into the staging table and an upsert; [1] keeps the last row of a
                           key */
    int direct_skip;    /* batches to send through the staging table before a direct COPY again */
    /* Key hashes of the unsent rows: the sort that keeps the last row of a
     * key is paid only by a batch that repeats one. */
    uint64_t *keys;
    size_t keys_cap, keys_n;
    int repeats; /* a key repeats among the unsent rows (or may: not tracked) */
} pg_table;

typedef struct pg_sink {
    pg_conn_info ci; /* its address is the notice processor's argument */
    const sluice_host_api *api;
    sluice_ctx *ctx;
    const char *schema;
    PGconn *conn;
    pg_sender *sender; /* NULL: every batch is sent on the pipeline's thread */
    int inflight;      /* the table of the batch on the sender thread, or -1 */
    int inflight_direct;
    size_t inflight_to, inflight_to_rows; /* sent and sent_rows once it is stored */
    int in_tx;
    int failed;
    pg_table t[PG_NKINDS];
    char *stage_sql;
    size_t batch_rows;
    int64_t flush_interval_ms, retry_timeout_ms;
    int timer_armed;
    int64_t retry_at_ms, backoff_ms, outage_since_ms, last_retry_log_ms;
    sluice_counter *c_rows, *c_commits, *c_reconnects, *c_refused;
    char err[1024];
} pg_sink;

static const sluice_option_spec pg_options[] = {
    {sizeof(sluice_option_spec), "conninfo", SLUICE_OPT_STRING, NULL, 1,
     "libpq connection string or URI, e.g. ${PG_URL:?set PG_URL}; never logged (it may hold the "
     "password)",
     0, 0, NULL, 0, 1},
    {sizeof(sluice_option_spec), "schema", SLUICE_OPT_STRING, "sluice", 0,
     "schema of the tables, created if missing ([a-z_][a-z0-9_]*)", 0, 0, NULL, 0, 0},
    {sizeof(sluice_option_spec), "create_tables", SLUICE_OPT_BOOL, "true", 0,
     "create the schema, tables, indexes and views when missing; false: they must exist", 0, 0, NULL, 0, 0},
    {sizeof(sluice_option_spec), "batch_size", SLUICE_OPT_INT, "10000", 0,
     "rows per COPY batch sent to the server (visible at the next checkpoint's commit)", 1, 10000000, NULL, 0,
     0},
    {sizeof(sluice_option_spec), "flush_interval", SLUICE_OPT_DURATION, "1s", 0,
     "longest time a row waits before it is sent to the server (committed at the next checkpoint); off: "
     "only full batches and checkpoints",
     0, 0, NULL, 1, 0},
    {sizeof(sluice_option_spec), "retry_timeout", SLUICE_OPT_DURATION, "5m", 0,
     "how long a checkpoint waits for an unreachable server (retrying with backoff) before the pipeline "
     "fails; off: forever",
     0, 0, NULL, 1, 0},
    {sizeof(sluice_option_spec), "tables", SLUICE_OPT_MAP, NULL, 0,
     "table per record kind, in the schema: url_clicks (default url_clicks), window_summary "
     "(window_summary), session (sessions), rejected (rejected), other (records: any other kind, as "
     "jsonb)",
     0, 0, NULL, 0, 0},
    SLUICE_OPTION_END,
};

static int64_t mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void sleep_ms(int64_t ms)
{
    /* A signal cuts the sleep short; the loop around it decides. */
    struct timespec t = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

static int valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 50 || !((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return 0;
    return 1;
}

/* ---- sending ----------------------------------------------------------- */

static pg_outcome exec(pg_sink *s, const char *sql)
{
    return pg_conn_exec(&s->ci, s->conn, sql, s->err, sizeof s->err);
}

/* Drop the connection: the server rolls the open transaction back, so every
 * row of the checkpoint counts as unsent again. */
static void drop_connection(pg_sink *s)
{
    char ignored[64];
    pg_sender_wait(s->sender, ignored, sizeof ignored); /* it may be using the connection */
    s->inflight = -1;
    if (s->conn)
        PQfinish(s->conn);
    s->conn = NULL;
    s->in_tx = 0;
    for (int k = 0; k < PG_NKINDS; k++) {
        s->t[k].sent = 0;
        s->t[k].sent_rows = 0;
        s->t[k].repeats = 1; /* the key set covered only the unsent part */
    }
}

/* Note a row's key among the unsent ones. */
static void track_key(pg_table *t, uint64_t h)
{
    if (t->repeats)
        return;
    if (h == 0) {
        t->repeats = 1;
        return;
    }
    if (2 * (t->keys_n + 1) > t->keys_cap) {
        size_t cap = t->keys_cap ? t->keys_cap * 2 : 1024;
        uint64_t *grown = calloc(cap, sizeof *grown);
        if (grown == NULL) {
            t->repeats = 1; /* the sort instead: correct, slower */
            return;
        }
        for (size_t i = 0; i < t->keys_cap; i++)
            if (t->keys[i])
                for (size_t j = t->keys[i] & (cap - 1);; j = (j + 1) & (cap - 1))
                    if (grown[j] == 0) {
                        grown[j] = t->keys[i];
                        break;
                    }
        free(t->keys);
        t->keys = grown;
        t->keys_cap = cap;
    }
    for (size_t j = h & (t->keys_cap - 1);; j = (j + 1) & (t->keys_cap - 1)) {
        if (t->keys[j] == h) {
            t->repeats = 1;
            return;
        }
        if (t->keys[j] == 0) {
            t->keys[j] = h;
            t->keys_n++;
            return;
        }
    }
}

/* Every row is sent: the next batch starts with no keys. */
static void forget_keys(pg_table *t)
{
    if (t->keys_n)
        memset(t->keys, 0, t->keys_cap * sizeof *t->keys);
    t->keys_n = 0;
    t->repeats = 0;
}

static pg_outcome ensure_connected(pg_sink *s)
{
    if (s->conn)
        return PG_DONE;
    s->conn = pg_conn_open(&s->ci, s->err, sizeof s->err);
    if (s->conn == NULL)
        return PG_TRANSIENT;
    pg_outcome o = pg_conn_exec(&s->ci, s->conn, s->stage_sql, s->err, sizeof s->err);
    if (o != PG_DONE)
        drop_connection(s);
    return o;
}

/* A batch holds a row the server refuses: send its rows one at a time,
 * each under a savepoint, keep those it takes and turn the others into
 * dead letters with the server's message. Refused rows leave the buffer,
 * so a resend after a reconnect does not meet them again. */
static pg_outcome send_one_by_one(pg_sink *s, pg_kind k)
{
    pg_table *t = &s->t[k];
    size_t w = t->sent, r = t->sent;
    pg_outcome o = PG_DONE;
    while (r < t->rows.len) {
        const char *nl = memchr(t->rows.ptr + r, '\n', t->rows.len - r);
        size_t n = nl ? (size_t)(nl - (t->rows.ptr + r)) + 1 : t->rows.len - r;
        o = pg_batch_run(&s->ci, s->conn, t->stage_sql[0], t->rows.ptr + r, n, s->err, sizeof s->err);
        if (o == PG_DONE) {
            if (w != r)
                memmove(t->rows.ptr + w, t->rows.ptr + r, n);
            w += n;
            r += n;
            continue;
        }
        if (o != PG_ROW_REFUSED)
            break;
        o = PG_DONE; /* the row is undone, the transaction goes on */
        s->api->counter_add(s->c_refused, 1);
        if (k == PG_REJECTED) {
            /* Nowhere left to put it: said loudly, never silently. */
            s->api->log(s->ctx, SLUICE_LOG_ERROR, "the server refused a dead letter for %s.%s: %s", s->schema,
                        t->name, s->err);
        } else {
            s->api->log(s->ctx, SLUICE_LOG_WARN, "the server refused a row of %s.%s (stored in %s.%s): %s",
                        s->schema, t->name, s->schema, s->t[PG_REJECTED].name, s->err);
            pg_layout_dead_letter(k, t->name, t->rows.ptr + r, n, s->err, &s->t[PG_REJECTED].rows);
            s->t[PG_REJECTED].nrows++;
            s->t[PG_REJECTED].repeats = 1; /* two refused rows may share a key */
        }
        t->nrows--;
        r += n;
    }
    /* Keep what was not looked at yet, after what was kept. */
    if (w != r)
        memmove(t->rows.ptr + w, t->rows.ptr + r, t->rows.len - r);
    t->rows.len = w + (t->rows.len - r);
    if (o == PG_DONE) {
        t->sent = t->rows.len;
        t->sent_rows = t->nrows;
        forget_keys(t);
    }
    return o;
}

/* How table k's next batch goes: straight into the table with COPY when
 * no key repeats in it (the common case: results are final per key, and
 * most are new), else COPY into the staging table and one upsert. A direct
 * COPY that meets a key already in the table (a replay after a crash, a
 * window re-emitted by a late event) is undone and sent again through the
 * staging table, and the next DIRECT_SKIP batches go that way too. */
static const char *batch_sql(pg_table *t, pg_kind k, int *direct)
{
    *direct = k != PG_OTHER && !t->repeats && t->direct_skip == 0;
    if (!*direct && t->direct_skip > 0)
        t->direct_skip--;
    return *direct ? t->direct_sql : t->stage_sql[t->repeats ? 1 : 0];
}

static pg_outcome send_batch(pg_sink *s, pg_kind k, int async);

static unsigned key_columns(pg_kind k)
{
    unsigned cols = 0;
    for (size_t c = 0; c < pg_layouts[k].ncols && c < 32; c++)
        cols |= pg_layouts[k].cols[c].key ? 1u << c : 0;
    return cols;
}

/* The outcome of a batch that went directly or through the staging table,
 * and was refused (then undone). */
static pg_outcome refused(pg_sink *s, pg_kind k, int direct)
{
    if (direct) {
        s->t[k].direct_skip = DIRECT_SKIP;
        return send_batch(s, k, 0);
    }
    return send_one_by_one(s, k);
}

/* Wait for the batch on the sender thread, and account for it. */
static pg_outcome settle(pg_sink *s)
{
    if (s->inflight < 0)
        return PG_DONE;
    pg_kind k = (pg_kind)s->inflight;
    pg_table *t = &s->t[k];
    s->inflight = -1;
    pg_outcome o = pg_sender_wait(s->sender, s->err, sizeof s->err);
    if (o == PG_DONE) {
        t->sent = s->inflight_to;
        t->sent_rows = s->inflight_to_rows;
        return PG_DONE;
    }
    t->repeats = 1; /* its rows are unsent again, and their keys forgotten */
    return o == PG_ROW_REFUSED ? refused(s, k, s->inflight_direct) : o;
}

/* Send table k's unsent rows, all in one batch, on the sender thread (or
 * here, without one). With `async` it returns at once, and the outcome
 * comes with the next settle(). */
static pg_outcome send_batch(pg_sink *s, pg_kind k, int async)
{
    pg_outcome o = settle(s);
    pg_table *t = &s->t[k];
    if (o != PG_DONE || t->sent == t->rows.len)
        return o;
    if (!s->in_tx) {
        o = exec(s, "BEGIN");
        if (o != PG_DONE)
            return o;
        s->in_tx = 1;
    }
    int direct;
    const char *sql = batch_sql(t, k, &direct);
    const char *data = t->rows.ptr + t->sent;
    size_t n = t->rows.len - t->sent;
    if (s->sender && pg_sender_submit(s->sender, s->conn, sql, data, n, direct ? key_columns(k) : 0) == 0) {
        s->inflight = (int)k;
        s->inflight_direct = direct;
        s->inflight_to = t->rows.len;
        s->inflight_to_rows = t->nrows;
        forget_keys(t);
        return async ? PG_DONE : settle(s);
    }
    o = pg_batch_run(&s->ci, s->conn, sql, data, n, s->err, sizeof s->err);
    if (o == PG_DONE) {
        t->sent = t->rows.len;
        t->sent_rows = t->nrows;
        forget_keys(t);
        return PG_DONE;
    }
    return o == PG_ROW_REFUSED ? refused(s, k, direct) : o;
}

/* Rows of table k not sent yet nor on their way. */
static size_t waiting_rows(const pg_sink *s, int k)
{
    return s->t[k].nrows - (s->inflight == k ? s->inflight_to_rows : s->t[k].sent_rows);
}

/* Send the unsent rows of every table that has at least min_rows of them
 * (dead letters last: sending the others may add some). With `async` the
 * last batch may still be on its way; without, everything is sent. */
static pg_outcome send_pending(pg_sink *s, size_t min_rows, int async)
{
    pg_outcome o = ensure_connected(s);
    if (o == PG_DONE && !async)
        o = settle(s);
    for (int k = 0; o == PG_DONE && k < PG_NKINDS; k++) {
        pg_table *t = &s->t[k];
        if (t->rows.oom) {
            snprintf(s->err, sizeof s->err, "out of memory for the rows of %s", t->name);
            return PG_FATAL;
        }
        if (t->sent < t->rows.len && waiting_rows(s, k) >= min_rows)
            o = send_batch(s, (pg_kind)k, async);
    }
    return o;
}

static pg_outcome commit(pg_sink *s)
{
    pg_outcome o = send_pending(s, 1, 0);
    if (o != PG_DONE || !s->in_tx)
        return o;
    o = exec(s, "COMMIT");
    if (o != PG_DONE)
        return o == PG_ROW_REFUSED ? PG_FATAL : o; /* a deferred constraint: nothing to single out */
    s->in_tx = 0;
    size_t rows = 0;
    for (int k = 0; k < PG_NKINDS; k++) {
        rows += s->t[k].nrows;
        s->t[k].rows.len = s->t[k].sent = s->t[k].nrows = s->t[k].sent_rows = 0;
        forget_keys(&s->t[k]);
    }
    s->api->counter_add(s->c_rows, (int64_t)rows);
    s->api->counter_add(s->c_commits, 1);
    return PG_DONE;
}

static void fail(pg_sink *s, const char *what)
{
    s->failed = 1;
    s->api->fail(s->ctx, "%s: %s", what, s->err);
    drop_connection(s);
}

/* A transient failure: start or continue the backoff. */
static void backoff(pg_sink *s)
{
    int64_t now = mono_ms();
    drop_connection(s);
    if (s->outage_since_ms == 0) {
        s->outage_since_ms = now;
        s->backoff_ms = BACKOFF_FIRST_MS;
        s->last_retry_log_ms = now;
        s->api->log(s->ctx, SLUICE_LOG_WARN,
                    "PostgreSQL at %s: %s; holding the checkpoint and retrying with backoff", s->ci.target,
                    s->err);
    } else {
        s->backoff_ms = s->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : s->backoff_ms * 2;
        if (now - s->last_retry_log_ms >= RETRY_LOG_EVERY_MS) {
            s->last_retry_log_ms = now;
            s->api->log(s->ctx, SLUICE_LOG_WARN, "PostgreSQL at %s still unavailable after %" PRId64 " s: %s",
                        s->ci.target, (now - s->outage_since_ms) / 1000, s->err);
        }
    }
    s->retry_at_ms = now + s->backoff_ms;
    s->api->counter_add(s->c_reconnects, 1);
}

static void recovered(pg_sink *s)
{
    if (s->outage_since_ms == 0)
        return;
    s->api->log(s->ctx, SLUICE_LOG_INFO,
                "PostgreSQL at %s is back after %" PRId64 " ms; resent the checkpoint's rows", s->ci.target,
                mono_ms() - s->outage_since_ms);
    s->outage_since_ms = 0;
    s->backoff_ms = BACKOFF_FIRST_MS;
}

/* Between checkpoints: send what is due (tables with min_rows unsent rows),
 * the last batch on the sender thread, unless the server is down, in which
 * case the rows wait in memory for the checkpoint, which retries. */
static sluice_status send_opportunistically(pg_sink *s, size_t min_rows)
{
    if (s->outage_since_ms && mono_ms() < s->retry_at_ms)
        return SLUICE_OK;
    pg_outcome o = send_pending(s, min_rows, 1);
    if (o == PG_FATAL) {
        fail(s, "cannot store rows in PostgreSQL");
        return SLUICE_ERR_IO;
    }
    if (o != PG_DONE)
        backoff(s);
    else
        recovered(s);
    return SLUICE_OK;
}

/* ---- hooks --------------------------------------------------------------- */

static void pg_destroy(const sluice_host_api *api, sluice_ctx *ctx, void *self);

static int read_tables(pg_sink *s, const sluice_options *opts, char *errbuf, size_t errbuf_size)
{
    const sluice_host_api *api = s->api;
    for (int k = 0; k < PG_NKINDS; k++)
        s->t[k].name = pg_layouts[k].default_table;
    size_t n = api->opt_count(opts, "tables");
    for (size_t i = 0; i < n; i++) {
        const char *key = NULL, *value = NULL;
        api->opt_entry(opts, "tables", i, &key, &value);
        int k = 0;
        while (k < PG_NKINDS && strcmp(pg_layouts[k].kind, key ? key : "") != 0)
            k++;
        if (k == PG_NKINDS) {
            snprintf(
                errbuf, errbuf_size,
                "tables: unknown record kind '%s' (known: url_clicks, window_summary, session, rejected, "
                "other)",
                key ? key : "");
            return -1;
        }
        if (value == NULL || !valid_name(value)) {
            snprintf(errbuf, errbuf_size, "tables: '%s' is not a plain table name ([a-z_][a-z0-9_]*)",
                     value ? value : "");
            return -1;
        }
        s->t[k].name = value;
    }
    for (int a = 0; a < PG_NKINDS; a++)
        for (int b = a + 1; b < PG_NKINDS; b++)
            if (strcmp(s->t[a].name, s->t[b].name) == 0) {
                snprintf(errbuf, errbuf_size, "tables: %s and %s both map to table '%s'", pg_layouts[a].kind,
                         pg_layouts[b].kind, s->t[a].name);
                return -1;
            }
    return 0;
}

static char *batch_text(const char *copy, const char *then)
{
    pg_text sql = {0};
    pg_text_puts(&sql, "SAVEPOINT sluice_batch; ");
    pg_text_puts(&sql, copy);
    pg_text_puts(&sql, "; ");
    if (then) {
        pg_text_puts(&sql, then);
        pg_text_puts(&sql, "; ");
    }
    pg_text_puts(&sql, "RELEASE SAVEPOINT sluice_batch");
    if (sql.oom)
        pg_text_free(&sql);
    return sql.ptr;
}

static int build_sql(pg_sink *s)
{
    pg_text stage = {0};
    int ok = 1;
    for (int k = 0; k < PG_NKINDS; k++) {
        pg_text direct = {0}, copy = {0}, then[2] = {{0}, {0}};
        pg_layout_create_stage((pg_kind)k, &stage);
        pg_layout_copy((pg_kind)k, s->schema, s->t[k].name, &direct);
        pg_layout_copy((pg_kind)k, NULL, NULL, &copy);
        for (int dedup = 0; dedup < 2; dedup++) {
            pg_layout_upsert((pg_kind)k, s->schema, s->t[k].name, dedup, &then[dedup]);
            pg_text_puts(&then[dedup], "; ");
            pg_layout_truncate_stage((pg_kind)k, &then[dedup]);
        }
        if (!direct.oom && !copy.oom && !then[0].oom && !then[1].oom) {
            s->t[k].direct_sql = batch_text(direct.ptr, NULL);
            s->t[k].stage_sql[0] = batch_text(copy.ptr, then[0].ptr);
            s->t[k].stage_sql[1] = batch_text(copy.ptr, then[1].ptr);
        }
        ok &= s->t[k].direct_sql && s->t[k].stage_sql[0] && s->t[k].stage_sql[1];
        pg_text_free(&direct);
        pg_text_free(&copy);
        pg_text_free(&then[0]);
        pg_text_free(&then[1]);
    }
    s->stage_sql = stage.ptr;
    return stage.oom || !ok ? -1 : 0;
}

/* Schema and table names, and no two kinds into one table (checked by
 * `sluice check`, without connecting). */
static sluice_status pg_validate(const sluice_host_api *api, sluice_ctx *ctx, const sluice_options *opts)
{
    sluice_status st = SLUICE_OK;
    const char *schema = api->opt_string(opts, "schema");
    if (!valid_name(schema)) {
        api->option_error(ctx, "schema", "'%s' is not a plain schema name ([a-z_][a-z0-9_]*)", schema);
        st = SLUICE_ERR_CONFIG;
    }
    pg_sink scratch = {.api = api, .ctx = ctx};
    char err[512];
    if (read_tables(&scratch, opts, err, sizeof err) != 0) {
        const char *prefix = "tables: ";
        api->option_error(ctx, "tables", "%s",
                          strncmp(err, prefix, strlen(prefix)) == 0 ? err + strlen(prefix) : err);
        st = SLUICE_ERR_CONFIG;
    }
    return st;
}

static void *pg_create(const sluice_host_api *api, sluice_ctx *ctx, const sluice_options *opts, char *errbuf,
                       size_t errbuf_size)
{
    pg_sink *s = calloc(1, sizeof *s);
    if (s == NULL) {
        snprintf(errbuf, errbuf_size, "out of memory");
        return NULL;
    }
    s->api = api;
    s->ctx = ctx;
    s->schema = api->opt_string(opts, "schema");
    s->batch_rows = (size_t)api->opt_int(opts, "batch_size");
    s->flush_interval_ms = api->opt_duration_ms(opts, "flush_interval");
    s->retry_timeout_ms = api->opt_duration_ms(opts, "retry_timeout");
    s->c_rows = api->counter(ctx, "rows_committed");
    s->c_commits = api->counter(ctx, "commits");
    s->c_reconnects = api->counter(ctx, "retries");
    s->c_refused = api->counter(ctx, "rejected.db_rejected");
    s->inflight = -1;
    if (!valid_name(s->schema)) {
        snprintf(errbuf, errbuf_size, "schema: '%s' is not a plain schema name ([a-z_][a-z0-9_]*)",
                 s->schema);
        goto fail;
    }
    if (read_tables(s, opts, errbuf, errbuf_size) != 0)
        goto fail;
    if (build_sql(s) != 0) {
        snprintf(errbuf, errbuf_size, "out of memory");
        goto fail;
    }
    if (pg_conn_init(&s->ci, api, ctx, api->opt_string(opts, "conninfo"), errbuf, errbuf_size) != 0)
        goto fail;
    s->conn = pg_conn_open(&s->ci, errbuf, errbuf_size);
    if (s->conn == NULL)
        goto fail;
    const char *names[PG_NKINDS];
    for (int k = 0; k < PG_NKINDS; k++)
        names[k] = s->t[k].name;
    pg_outcome o = pg_schema_setup(&s->ci, s->conn, s->schema, names, api->opt_bool(opts, "create_tables"),
                                   s->err, sizeof s->err);
    if (o == PG_DONE)
        o = exec(s, s->stage_sql);
    if (o != PG_DONE) {
        snprintf(errbuf, errbuf_size, "PostgreSQL at %s, schema %s: %s", s->ci.target, s->schema, s->err);
        goto fail;
    }
    /* Without it (no thread), every batch is sent on the pipeline's thread. */
    s->sender = pg_sender_start(&s->ci);
    api->log(ctx, SLUICE_LOG_INFO, "writing to PostgreSQL at %s, schema %s (version %d)", s->ci.target,
             s->schema, PG_SCHEMA_VERSION);
    return s;
fail:
    pg_destroy(api, ctx, s);
    return NULL;
}

static void pg_destroy(const sluice_host_api *api, sluice_ctx *ctx, void *self)
{
    (void)api;
    (void)ctx;
    pg_sink *s = self;
    /* flush() ran before: an open transaction here is one that failed, and
     * the server rolls it back as the connection closes. */
    drop_connection(s);
    pg_sender_stop(s->sender);
    for (int k = 0; k < PG_NKINDS; k++) {
        pg_text_free(&s->t[k].rows);
        free(s->t[k].direct_sql);
        free(s->t[k].stage_sql[0]);
        free(s->t[k].stage_sql[1]);
        free(s->t[k].keys);
    }
    free(s->stage_sql);
    free(s);
}

static sluice_status pg_process(const sluice_host_api *api, sluice_ctx *ctx, void *self, sluice_batch *batch)
{
    pg_sink *s = self;
    if (s->failed)
        return SLUICE_ERR_IO;
    int due = 0;
    for (const sluice_record *r; (r = api->batch_next(batch)) != NULL;) {
        json_t *doc = pg_layout_parse_raw(api, r);
        pg_kind k = pg_layout_route(api, r, doc);
        pg_table *t = &s->t[k];
        size_t at = t->rows.len;
        pg_layout_encode(api, k, r, doc, &t->rows);
        json_decref(doc);
        if (!t->rows.oom)
            track_key(t, pg_layout_key_hash(k, t->rows.ptr + at, t->rows.len - at));
        t->nrows++;
        due |= waiting_rows(s, k) >= s->batch_rows;
    }
    for (int k = 0; k < PG_NKINDS; k++)
        if (s->t[k].rows.oom) {
            snprintf(s->err, sizeof s->err, "%zu rows of %s held for the checkpoint", s->t[k].nrows,
                     s->t[k].name);
            fail(s, "out of memory");
            return SLUICE_ERR_NOMEM;
        }
    if (due || s->flush_interval_ms == 0)
        return send_opportunistically(s, s->flush_interval_ms == 0 ? 1 : s->batch_rows);
    if (s->flush_interval_ms > 0 && !s->timer_armed) {
        api->timer_set(ctx, api->now_ms(ctx) + s->flush_interval_ms);
        s->timer_armed = 1;
    }
    return SLUICE_OK;
}

static sluice_status pg_timer(const sluice_host_api *api, sluice_ctx *ctx, void *self, int64_t now_ms)
{
    (void)api;
    (void)ctx;
    (void)now_ms;
    pg_sink *s = self;
    s->timer_armed = 0;
    return s->failed ? SLUICE_ERR_IO : send_opportunistically(s, 1);
}

/* The checkpoint: everything since the last one committed, however long the
 * server takes to come back (up to retry_timeout). */
static sluice_status pg_flush(const sluice_host_api *api, sluice_ctx *ctx, void *self)
{
    pg_sink *s = self;
    if (s->failed)
        return SLUICE_ERR_IO;
    int pending = s->in_tx;
    for (int k = 0; k < PG_NKINDS; k++)
        pending |= s->t[k].nrows > 0;
    if (!pending)
        return SLUICE_OK;
    int64_t start = mono_ms();
    for (;;) {
        int64_t now = mono_ms();
        if (!s->outage_since_ms || now >= s->retry_at_ms) {
            pg_outcome o = commit(s);
            if (o == PG_DONE) {
                recovered(s);
                return SLUICE_OK;
            }
            if (o != PG_TRANSIENT) {
                fail(s, "cannot store rows in PostgreSQL");
                return SLUICE_ERR_IO;
            }
            backoff(s);
            now = mono_ms();
        }
        if (s->retry_timeout_ms >= 0 && now - start >= s->retry_timeout_ms) {
            s->failed = 1;
            api->fail(ctx,
                      "PostgreSQL at %s unavailable for %" PRId64
                      " s (retry_timeout): %s; this checkpoint is "
                      "not stored and its input not committed, so a restart resumes before it",
                      s->ci.target, (now - start) / 1000, s->err);
            drop_connection(s);
            return SLUICE_ERR_IO;
        }
        int64_t wait = s->retry_at_ms - now;
        if (s->retry_timeout_ms >= 0 && start + s->retry_timeout_ms - now < wait)
            wait = start + s->retry_timeout_ms - now;
        if (wait > 0)
            sleep_ms(wait);
    }
}

static const sluice_plugin pg_plugin = {
    .struct_size = sizeof(sluice_plugin),
    .abi_version = SLUICE_ABI_VERSION,
    .name = "postgres",
    .kind = SLUICE_KIND_SINK,
    .version = "1.0.0",
    .description = "stores each record once by its key in PostgreSQL tables (COPY + upsert, one "
                   "transaction per checkpoint)",
    .options = pg_options,
    .create = pg_create,
    .validate = pg_validate,
    .state = SLUICE_STATE_NONE,
    .destroy = pg_destroy,
    .process = pg_process,
    .flush = pg_flush,
    .timer = pg_timer,
};

SLUICE_PLUGIN_EXPORT const sluice_plugin *sluice_plugin_entry(void) { return &pg_plugin; }
