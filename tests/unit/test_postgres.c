/* The postgres sink against a real PostgreSQL 15 (test_pg_server.h), each
 * test with a server of its own:
 *  - the tables hold exactly the results the file sink writes for the same
 *    input (the last record per key), the shipped views answer, and the file
 *    loaded back raw (a backfill) gives the same rows;
 *  - SIGKILL at random points while writing, then a restart: the tables equal
 *    one clean run's, no row missing, none twice;
 *  - the server stopped mid-run and started again: the run waits, resumes and
 *    loses nothing;
 *  - a row the server refuses (a CHECK constraint) becomes a dead letter with
 *    the server's message, the rest is stored;
 *  - a schema written by a newer sluice is refused;
 *  - an unreachable server or a wrong password fails the run with exit 1 and a
 *    message naming host and port, and the password never appears in any
 *    output. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_pg_server.h"
#include "test_support.h"

#define START_MS 1795737600000LL

static char *tmp(const char *name) { return ts_strf("%s/%s", ts_tmpdir(), name); }

/* Clicks from clickgen with its default flaws (invalid, duplicate events). */
static char *generate(int count)
{
    char *out = tmp("clicks.jsonl"), *yaml_path = tmp("gen.yaml");
    char *yaml =
        ts_strf("steps:\n"
                "  - name: clicks\n"
                "    plugin: clickgen\n"
                "    options: {start: %lld, count: %d, seed: 31, users: 1500, event_interval: 20ms,\n"
                "              session_gap: 1m, think_time: 10s, late: 0}\n"
                "    event: raw\n"
                "  - name: out\n"
                "    plugin: file\n"
                "    input: clicks\n"
                "    options: {path: '%s', truncate: true}\n",
                START_MS, count, out);
    ts_write_file(yaml_path, yaml);
    char *cmd = ts_strf("'%s' run '%s'", SLUICE_BIN, yaml_path), *err = NULL;
    int rc = ts_run(cmd, NULL, &err);
    ck_assert_msg(rc == 0, "clickgen failed (%d): %s", rc, err ? err : "");
    free(err);
    free(cmd);
    free(yaml);
    free(yaml_path);
    return out;
}

/* The analysis of replay.yaml into the postgres sink only. `top` goes at the
 * top of the pipeline (state_dir, batch_size), `sink` into its options. */
static char *pg_pipeline(const char *name, const char *input, const char *top, const char *sink)
{
    char *path = ts_strf("%s/%s.yaml", ts_tmpdir(), name);
    char *yaml = ts_strf("name: pgtest\n"
                         "checkpoint_interval: 200ms\n"
                         "%s\n"
                         "steps:\n"
                         "  - name: clicks\n"
                         "    plugin: file\n"
                         "    options: {path: '%s'}\n"
                         "  - {name: dedup, plugin: dedup, input: clicks, options: {emit_rejected: true}}\n"
                         "  - {name: url_count, plugin: url_count, input: dedup}\n"
                         "  - {name: sessionize, plugin: sessionize, input: dedup}\n"
                         "  - name: postgres\n"
                         "    plugin: postgres\n"
                         "    input: [url_count, sessionize, clicks.rejected, dedup.rejected, "
                         "url_count.rejected]\n"
                         "    options: {conninfo: '${PG_URL}', %s}\n",
                         top, input, sink);
    ts_write_file(path, yaml);
    free(yaml);
    return path;
}

/* Fail when the password shows anywhere in `text`. */
static void assert_no_password(const pg_server *pg, const char *what, const char *text)
{
    ck_assert_msg(text == NULL || strstr(text, pg->password) == NULL, "the password appears in %s:\n%s", what,
                  text);
}

/* Run `sluice run` on a pipeline with PG_URL set (env: more assignments);
 * returns the exit code, stderr in *err_out if asked. */
static int run_pipeline(const pg_server *pg, const char *env, const char *yaml, char **err_out)
{
    char *metrics = tmp("run.metrics");
    char *cmd =
        ts_strf("PG_URL='%s' %s '%s' run --metrics '%s' '%s'", pg->url, env, SLUICE_BIN, metrics, yaml);
    char *out = NULL, *err = NULL;
    int rc = ts_run(cmd, &out, &err);
    assert_no_password(pg, "stdout", out);
    assert_no_password(pg, "stderr", err);
    char *m = ts_read_file(metrics, NULL);
    assert_no_password(pg, "the metrics", m);
    free(m);
    free(out);
    free(cmd);
    free(metrics);
    if (err_out)
        *err_out = err;
    else
        free(err);
    return rc;
}

static void run_ok(const pg_server *pg, const char *env, const char *yaml)
{
    char *err = NULL;
    int rc = run_pipeline(pg, env, yaml, &err);
    ck_assert_msg(rc == 0, "sluice run failed (%d):\n%s", rc, err);
    free(err);
}

/* The columns to compare of each table (all but stored_at). */
static const char *const compared[][2] = {
    {"url_clicks", "window_start, window_end, url, clicks"},
    {"window_summary", "window_start, window_end, clicks, unique_users, unique_urls, top_urls"},
    {"sessions",
     "user_id, session_start, session_end, duration_ms, clicks, unique_urls, entry_url, exit_url, "
     "user_sessions, user_avg_duration_ms"},
    {"rejected", "origin, reason, detail, raw"},
};

/* Rows in one schema's table and not the other's, both ways (multisets). */
static long long differences(const pg_server *pg, const char *a, const char *b, int t)
{
    char *sql =
        ts_strf("SELECT (SELECT count(*) FROM (SELECT %2$s FROM %3$s.%1$s EXCEPT ALL SELECT %2$s FROM "
                "%4$s.%1$s) x) + (SELECT count(*) FROM (SELECT %2$s FROM %4$s.%1$s EXCEPT ALL SELECT %2$s "
                "FROM %3$s.%1$s) y)",
                compared[t][0], compared[t][1], a, b);
    long long n = pg_query_int(pg, sql);
    free(sql);
    return n;
}

static void assert_same_tables(const pg_server *pg, const char *a, const char *b)
{
    for (int t = 0; t < 4; t++) {
        long long d = differences(pg, a, b, t);
        char *sql = ts_strf("SELECT count(*) FROM %s.%s", a, compared[t][0]);
        long long n = pg_query_int(pg, sql);
        free(sql);
        ck_assert_msg(d == 0, "%s.%s and %s.%s differ in %lld rows", a, compared[t][0], b, compared[t][0], d);
        ck_assert_msg(n > 0, "%s.%s is empty", a, compared[t][0]);
    }
}

/* ---- the tables hold the file sink's results --------------------------- */

/* A JSON-lines file as rows (n, j) of a temporary table, for psql. */
static char *load_jsonl(const char *table, const char *path)
{
    return ts_strf("CREATE TEMP TABLE %s (n bigserial, j jsonb);\n"
                   "\\copy %s (j) FROM '%s' WITH (FORMAT csv, QUOTE E'\\x01', DELIMITER E'\\x02')\n",
                   table, table, path);
}

START_TEST(tables_equal_the_file_sinks_results)
{
    pg_server pg;
    pg_server_start(&pg);
    char *input = generate(20000), *out = tmp("out");
    char *env = ts_strf("INPUT='%s' OUT_DIR='%s'", input, out);
    char *yaml = ts_strf("%s/pipelines/replay-postgres.yaml", SLUICE_SOURCE_DIR);
    run_ok(&pg, env, yaml);
    /* The expected rows: the last record per key of each file. */
    static const char *const files[] = {"url_clicks", "window_summary", "sessions", "rejected"};
    char *script = ts_strf("CREATE SCHEMA expected;\n");
    for (int i = 0; i < 4; i++) {
        char *path = ts_strf("%s/%s.jsonl", out, files[i]), *load = load_jsonl(files[i], path);
        char *more = ts_strf("%s%s", script, load);
        free(script);
        script = more;
        free(path);
        free(load);
    }
    const char *ms = "timestamptz 'epoch' + interval '1 millisecond' * ";
    char *expect = ts_strf(
        "%1$s"
        "CREATE TABLE expected.url_clicks AS SELECT DISTINCT ON (j->>'window_start', j->>'url') "
        "%2$s(j->>'window_start')::bigint AS window_start, %2$s(j->>'window_end')::bigint AS window_end, "
        "j->>'url' AS url, (j->>'clicks')::bigint AS clicks FROM url_clicks ORDER BY j->>'window_start', "
        "j->>'url', n DESC;\n"
        "CREATE TABLE expected.window_summary AS SELECT DISTINCT ON (j->>'window_start') "
        "%2$s(j->>'window_start')::bigint AS window_start, %2$s(j->>'window_end')::bigint AS window_end, "
        "(j->>'clicks')::bigint AS clicks, (j->>'unique_users')::bigint AS unique_users, "
        "(j->>'unique_urls')::bigint AS unique_urls, j->'top_urls' AS top_urls FROM window_summary "
        "ORDER BY j->>'window_start', n DESC;\n"
        "CREATE TABLE expected.sessions AS SELECT j->>'user_id' AS user_id, "
        "%2$s(j->>'session_start')::bigint AS session_start, %2$s(j->>'session_end')::bigint AS session_end, "
        "(j->>'duration_ms')::bigint AS duration_ms, (j->>'clicks')::bigint AS clicks, "
        "(j->>'unique_urls')::bigint AS unique_urls, j->>'entry_url' AS entry_url, j->>'exit_url' AS "
        "exit_url, "
        "(j->>'user_sessions')::bigint AS user_sessions, (j->>'user_avg_duration_ms')::float8 AS "
        "user_avg_duration_ms FROM sessions;\n"
        "CREATE TABLE expected.rejected AS SELECT j->>'origin' AS origin, j->>'reason' AS reason, "
        "j->>'detail' AS detail, j->>'raw' AS raw FROM rejected;\n",
        script, ms);
    free(pg_query(&pg, expect));
    assert_same_tables(&pg, "sluice", "expected");
    ck_assert_int_eq(pg_query_int(&pg, "SELECT max(version) FROM sluice.schema_version"), 1);
    /* Every shipped view answers. */
    char *views = pg_query(&pg, "SET search_path TO sluice;\n"
                                "SELECT count(*) FROM top_urls_hourly WHERE rank <= 3;\n"
                                "SELECT count(*) FROM top_urls_daily;\n"
                                "SELECT count(*) FROM top_urls_between('2026-11-27', '2026-11-28', 5);\n"
                                "SELECT sum(clicks) FROM click_trend_hourly;\n"
                                "SELECT count(*) FROM session_duration_by_user;\n"
                                "SELECT sum(sessions) FROM session_duration_daily;\n"
                                "SELECT sum(rejected) FROM rejected_share_daily;\n");
    ck_assert_msg(strstr(views, "\n5\n") != NULL, "views answered:\n%s", views);
    /* A second run over the same input changes nothing. */
    run_ok(&pg, env, yaml);
    assert_same_tables(&pg, "sluice", "expected");
    /* The file sink's results loaded back raw (a backfill) land in the same
     * rows: raw records are parsed and routed by kind. */
    char *backfill = tmp("backfill.yaml");
    char *bf = ts_strf(
        "name: backfill\nsteps:\n  - {name: rows, plugin: file, options: {path: '%s/url_clicks.jsonl'}, "
        "event: raw}\n  - {name: pg, plugin: postgres, input: rows, options: {conninfo: '${PG_URL}', "
        "schema: backfill}}\n",
        out);
    ts_write_file(backfill, bf);
    run_ok(&pg, "", backfill);
    ck_assert_int_eq(differences(&pg, "backfill", "expected", 0), 0);
    ck_assert_int_eq(pg_query_int(&pg, "SELECT count(*) FROM backfill.records"), 0);
    free(bf);
    free(backfill);
    free(views);
    free(expect);
    free(script);
    free(yaml);
    free(env);
    free(out);
    free(input);
    pg_server_stop(&pg);
}
END_TEST

/* ---- crashes and outages ------------------------------------------------- */

/* Runs that last: every batch of the sink waits 30 ms in the server, and
 * the pipeline reads 64 events per tick and sends what it has at once, so
 * it reads at the pace the server writes. */
static const char slow_sink[] = "batch_size: 200, flush_interval: 0";
static const char *slow_server = "CREATE FUNCTION public.slow() RETURNS trigger LANGUAGE plpgsql AS "
                                 "$$BEGIN PERFORM pg_sleep(0.03); RETURN NULL; END$$;\n"
                                 "CREATE TRIGGER slow AFTER INSERT ON sluice.url_clicks "
                                 "FOR EACH STATEMENT EXECUTE FUNCTION public.slow();\n"
                                 "CREATE TRIGGER slow AFTER INSERT ON sluice.sessions "
                                 "FOR EACH STATEMENT EXECUTE FUNCTION public.slow();\n"
                                 "CREATE TRIGGER slow AFTER INSERT ON sluice.rejected "
                                 "FOR EACH STATEMENT EXECUTE FUNCTION public.slow();\n";

/* The reference: one clean run of the same pipeline into schema `clean`. */
static void clean_run(const pg_server *pg, const char *input)
{
    char *yaml = pg_pipeline("clean", input, "", "schema: clean");
    run_ok(pg, "", yaml);
    free(yaml);
}

/* Creates the tables (a run over an empty input) and slows them down. */
static void prepare_slow_tables(const pg_server *pg)
{
    char *empty = tmp("empty.jsonl");
    ts_write_file(empty, "");
    char *yaml = pg_pipeline("create", empty, "", "schema: sluice");
    run_ok(pg, "", yaml);
    free(pg_query(pg, slow_server));
    free(yaml);
    free(empty);
}

static pid_t spawn(const char *cmd, const char *err_path)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        /* A failed assertion ends the test, never a run left retrying. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        char *full = ts_strf("exec %s >/dev/null 2>>'%s' </dev/null", cmd, err_path);
        execl("/bin/sh", "sh", "-c", full, (char *)NULL);
        _exit(127);
    }
    return pid;
}

static int wait_exit(pid_t pid, double timeout_s)
{
    double deadline = pgs_now() + timeout_s;
    int status;
    for (;;) {
        if (waitpid(pid, &status, WNOHANG) == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        if (pgs_now() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return -1;
        }
        pgs_sleep_ms(20);
    }
}

static int file_has(const char *path, const char *text)
{
    char *t = ts_read_file(path, NULL);
    int yes = t && strstr(t, text);
    free(t);
    return yes;
}

START_TEST(sigkill_at_random_points_then_restart_leaves_the_rows_of_one_clean_run)
{
    pg_server pg;
    pg_server_start(&pg);
    char *input = generate(15000);
    clean_run(&pg, input);
    prepare_slow_tables(&pg);
    char *top = ts_strf("batch_size: 64\nstate_dir: '%s/state'", ts_tmpdir());
    char *yaml = pg_pipeline("killed", input, top, slow_sink), *log = tmp("killed.err");
    char *cmd = ts_strf("env PG_URL='%s' '%s' run '%s'", pg.url, SLUICE_BIN, yaml);
    unsigned seed = (unsigned)time(NULL);
    srand(seed);
    int kills = 0;
    long long before_last = 0;
    for (int i = 0; i < 4; i++) {
        pid_t pid = spawn(cmd, log);
        /* Somewhere in the first 2.5 s of writing (a run takes about 6 to 12 s). */
        int delay = 300 + rand() % 2200;
        pgs_sleep_ms(delay);
        if (waitpid(pid, NULL, WNOHANG) != 0)
            break; /* it ended before the kill: nothing left to test with */
        kill(pid, SIGKILL);
        ck_assert_int_eq(wait_exit(pid, 30), 128 + SIGKILL);
        fprintf(stderr, "sigkill test (seed %u): killed run %d after %d ms\n", seed, i + 1, delay);
        kills++;
        before_last = pg_query_int(&pg, "SELECT (SELECT count(*) FROM sluice.url_clicks) + "
                                        "(SELECT count(*) FROM sluice.rejected)");
    }
    ck_assert_msg(kills >= 2, "the runs ended before they could be killed (seed %u)", seed);
    ck_assert_msg(before_last > 0, "no checkpoint committed before the kills: they tested nothing");
    pid_t pid = spawn(cmd, log);
    int rc = wait_exit(pid, 120);
    char *err = ts_read_file(log, NULL);
    ck_assert_msg(rc == 0, "the last run failed (%d):\n%s", rc, err);
    ck_assert_msg(strstr(err, "restored checkpoint") != NULL, "no run restored a checkpoint:\n%s", err);
    assert_no_password(&pg, "the log", err);
    assert_same_tables(&pg, "sluice", "clean");
    free(err);
    free(cmd);
    free(log);
    free(yaml);
    free(top);
    free(input);
    pg_server_stop(&pg);
}
END_TEST

START_TEST(server_stopped_mid_run_and_restarted_loses_nothing)
{
    pg_server pg;
    pg_server_start(&pg);
    char *input = generate(15000);
    clean_run(&pg, input);
    prepare_slow_tables(&pg);
    char *yaml = pg_pipeline("outage", input, "batch_size: 64", slow_sink), *log = tmp("outage.err");
    char *cmd = ts_strf("env PG_URL='%s' '%s' run '%s'", pg.url, SLUICE_BIN, yaml);
    pid_t pid = spawn(cmd, log);
    pgs_sleep_ms(1500);
    ck_assert_msg(waitpid(pid, NULL, WNOHANG) == 0, "the run ended before the server was stopped");
    pg_server_pause(&pg);
    pgs_sleep_ms(2000); /* several retries */
    ck_assert_msg(waitpid(pid, NULL, WNOHANG) == 0, "the run did not wait for the server");
    pg_server_resume(&pg);
    int rc = wait_exit(pid, 120);
    char *err = ts_read_file(log, NULL);
    ck_assert_msg(rc == 0, "the run failed (%d):\n%s", rc, err);
    ck_assert_msg(file_has(log, "holding the checkpoint and retrying"), "no retry logged:\n%s", err);
    ck_assert_msg(file_has(log, "is back after"), "no recovery logged:\n%s", err);
    assert_no_password(&pg, "the log", err);
    assert_same_tables(&pg, "sluice", "clean");
    free(err);
    free(cmd);
    free(log);
    free(yaml);
    free(input);
    pg_server_stop(&pg);
}
END_TEST

/* ---- refusals ------------------------------------------------------------ */

START_TEST(a_row_the_server_refuses_goes_to_the_dead_letters_with_its_message)
{
    pg_server pg;
    pg_server_start(&pg);
    char *empty = tmp("empty.jsonl");
    ts_write_file(empty, "");
    char *create = pg_pipeline("create", empty, "", "schema: sluice");
    run_ok(&pg, "", create);
    free(pg_query(&pg, "ALTER TABLE sluice.url_clicks ADD CONSTRAINT no_forbidden "
                       "CHECK (url NOT LIKE '%forbidden%')"));
    char *input = tmp("few.jsonl");
    ts_write_file(input,
                  "{\"user_id\":\"u1\",\"url\":\"https://shop.example/a\",\"ts\":1795737600000}\n"
                  "{\"user_id\":\"u2\",\"url\":\"https://shop.example/forbidden\",\"ts\":1795737601000}\n"
                  "{\"user_id\":\"u3\",\"url\":\"https://shop.example/b\",\"ts\":1795737602000}\n"
                  "{\"user_id\":\"u5\",\"url\":\"https://shop.example/a\",\"ts\":1795737604000}\n");
    char *yaml = pg_pipeline("refused", input, "", "schema: sluice");
    char *err = NULL;
    int rc = run_pipeline(&pg, "", yaml, &err);
    ck_assert_msg(rc == 0, "the run failed (%d):\n%s", rc, err);
    ck_assert_msg(strstr(err, "violates check constraint") != NULL, "not logged:\n%s", err);
    char *rows = pg_query(&pg, "SELECT url || '=' || clicks FROM sluice.url_clicks ORDER BY url");
    ck_assert_str_eq(rows, "https://shop.example/a=2\nhttps://shop.example/b=1");
    char *check =
        pg_query(&pg, "SELECT detail FROM sluice.rejected WHERE reason = 'db_rejected' AND origin = "
                      "'postgres:url_clicks/1795737600000|https://shop.example/forbidden'");
    ck_assert_msg(
        strstr(check, "new row for relation \"url_clicks\" violates check constraint \"no_forbidden\"") !=
            NULL,
        "dead letter: '%s'", check);
    char *raw = pg_query(&pg, "SELECT raw FROM sluice.rejected WHERE reason = 'db_rejected'");
    ck_assert_msg(strstr(raw, "\"url\":\"https://shop.example/forbidden\",\"clicks\":1") != NULL,
                  "the refused row is not in raw: '%s'", raw);
    /* Sessions were all stored: the refusals cost nothing else. */
    ck_assert_int_eq(pg_query_int(&pg, "SELECT count(*) FROM sluice.sessions"), 4);
    /* Again: the dead letters are not stored twice. */
    run_ok(&pg, "", yaml);
    ck_assert_int_eq(pg_query_int(&pg, "SELECT count(*) FROM sluice.rejected WHERE reason = 'db_rejected'"),
                     1);
    free(raw);
    free(check);
    free(rows);
    free(err);
    free(yaml);
    free(input);
    free(create);
    free(empty);
    pg_server_stop(&pg);
}
END_TEST

START_TEST(a_schema_of_a_newer_version_is_refused)
{
    pg_server pg;
    pg_server_start(&pg);
    char *empty = tmp("empty.jsonl");
    ts_write_file(empty, "");
    char *yaml = pg_pipeline("create", empty, "", "schema: sluice");
    run_ok(&pg, "", yaml);
    free(pg_query(&pg, "INSERT INTO sluice.schema_version (version, note) VALUES (2, 'from the future')"));
    char *err = NULL;
    int rc = run_pipeline(&pg, "", yaml, &err);
    ck_assert_msg(rc == 1, "exit %d:\n%s", rc, err);
    ck_assert_msg(
        strstr(err, "schema \"sluice\" is at version 2, newer than the version 1 this sluice writes"), "%s",
        err);
    free(err);
    free(yaml);
    free(empty);
    pg_server_stop(&pg);
}
END_TEST

START_TEST(an_unreachable_server_or_a_wrong_password_fails_naming_host_and_port_never_the_password)
{
    pg_server pg;
    pg_server_start(&pg);
    char *empty = tmp("empty.jsonl");
    ts_write_file(empty, "");
    char *yaml = pg_pipeline("create", empty, "", "schema: sluice");
    /* Nothing listens on a port just freed. */
    pg_server other = pg;
    other.port = pgs_free_port();
    snprintf(other.url, sizeof other.url, "postgresql://sluice:%s@127.0.0.1:%d/postgres", pg.password,
             other.port);
    char *err = NULL;
    int rc = run_pipeline(&other, "", yaml, &err);
    char *expect = ts_strf("cannot connect to PostgreSQL at host 127.0.0.1 port %d", other.port);
    ck_assert_msg(rc == 1 && strstr(err, expect), "exit %d:\n%s", rc, err);
    free(err);
    free(expect);
    /* A wrong password: the server's refusal, without the password. */
    pg_server wrong = pg;
    snprintf(wrong.password, sizeof wrong.password, "wrong%.50s", pg.password);
    snprintf(wrong.url, sizeof wrong.url, "postgresql://sluice:%s@127.0.0.1:%d/postgres", wrong.password,
             pg.port);
    rc = run_pipeline(&wrong, "", yaml, &err);
    ck_assert_msg(rc == 1 && strstr(err, "password authentication failed"), "exit %d:\n%s", rc, err);
    free(err);
    /* `sluice check` and `sluice plugins` keep it to themselves too. */
    char *out = NULL;
    char *cmd = ts_strf("PG_URL='%s' '%s' check '%s'", pg.url, SLUICE_BIN, yaml);
    rc = ts_run(cmd, &out, &err);
    ck_assert_msg(rc == 0, "check: %d %s", rc, err);
    assert_no_password(&pg, "check's output", out);
    assert_no_password(&pg, "check's errors", err);
    free(out);
    free(err);
    free(cmd);
    /* A malformed conninfo is not quoted back. */
    cmd = ts_strf("PG_URL='host=127.0.0.1 password=%s port' '%s' run '%s'", pg.password, SLUICE_BIN, yaml);
    rc = ts_run(cmd, &out, &err);
    ck_assert_msg(rc == 1 && strstr(err, "not a valid libpq connection string"), "exit %d:\n%s", rc, err);
    assert_no_password(&pg, "the malformed conninfo's error", err);
    free(out);
    free(err);
    free(cmd);
    free(yaml);
    free(empty);
    pg_server_stop(&pg);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("postgres");
    TCase *tc = tcase_create("postgres");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, tables_equal_the_file_sinks_results);
    tcase_add_test(tc, sigkill_at_random_points_then_restart_leaves_the_rows_of_one_clean_run);
    tcase_add_test(tc, server_stopped_mid_run_and_restarted_loses_nothing);
    tcase_add_test(tc, a_row_the_server_refuses_goes_to_the_dead_letters_with_its_message);
    tcase_add_test(tc, a_schema_of_a_newer_version_is_refused);
    tcase_add_test(tc,
                   an_unreachable_server_or_a_wrong_password_fails_naming_host_and_port_never_the_password);
    suite_add_tcase(s, tc);
    pg_servers_begin();
    int rc = ts_run_suite(s);
    pg_servers_end();
    return rc;
}
