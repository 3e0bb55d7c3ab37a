/* A PostgreSQL 15 server of the test's own, for test_postgres.c: initdb in
 * a fresh temporary folder, postgres on a free port of 127.0.0.1 (no Unix
 * socket), scram password auth with a random password. PostgreSQL refuses
 * to run as root, so as root the server runs as the `postgres` system user
 * (Debian's package makes it) or else `nobody`.
 *
 * It always stops: pg_server_stop at the end of a test, an atexit handler
 * for an exit(), and the kernel's parent-death signal (PR_SET_PDEATHSIG:
 * SIGQUIT, immediate shutdown) when the test process ends any other way (a
 * failed assertion's _exit in Check's fork mode, a timeout's SIGKILL, a
 * crash). The postmaster is the test process's own child, never a daemon.
 * Every server's folder lies in one base folder that main() makes before
 * the suite and removes after it (pg_servers_begin / pg_servers_end), so a
 * failed test leaves no files behind either.
 *
 * Header-only (static functions) so the suite stays one file for ctest. */
#ifndef SLUICE_TEST_PG_SERVER_H
#define SLUICE_TEST_PG_SERVER_H

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test_support.h"

#define PG_BIN_DIR "/usr/lib/postgresql/15/bin"

typedef struct pg_server {
    char dir[256]; /* the server's folder (data/ and server.log) */
    char password[64];
    char url[200]; /* postgresql://sluice:<password>@127.0.0.1:<port>/postgres */
    int port;
    pid_t pid; /* the postmaster, a child of this process; 0 when stopped */
    uid_t uid;
    gid_t gid;
} pg_server;

static pg_server *pgs_running[4];
static char pgs_base[200];

/* Before the suite: the base folder of every server's folder. */
static void pg_servers_begin(void)
{
    snprintf(pgs_base, sizeof pgs_base, "%s/sluice-pgtest-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (mkdtemp(pgs_base) == NULL || chmod(pgs_base, 0711) != 0) {
        perror("mkdtemp");
        pgs_base[0] = '\0';
    }
}

static double pgs_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void pgs_sleep_ms(int ms)
{
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) != 0 && errno == EINTR) {
    }
}

/* Fast shutdown, waiting for the postmaster (and so its backends) to end. */
static void pgs_halt(pg_server *s)
{
    if (s->pid <= 0)
        return;
    kill(s->pid, SIGINT);
    double deadline = pgs_now() + 30;
    int status;
    while (waitpid(s->pid, &status, WNOHANG) == 0) {
        if (pgs_now() > deadline) {
            kill(s->pid, SIGKILL);
            waitpid(s->pid, &status, 0);
            break;
        }
        pgs_sleep_ms(20);
    }
    s->pid = 0;
}

static void pgs_stop_all(void)
{
    for (size_t i = 0; i < sizeof pgs_running / sizeof pgs_running[0]; i++)
        if (pgs_running[i]) {
            pgs_halt(pgs_running[i]);
            char *cmd = ts_strf("rm -rf '%s'", pgs_running[i]->dir);
            if (system(cmd) != 0) {
                /* best effort */
            }
            free(cmd);
            pgs_running[i] = NULL;
        }
}

/* Run argv as the server's user, output to `log`; returns the exit code. */
static int pgs_run_as(const pg_server *s, char *const argv[], const char *log)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        if (getuid() == 0 && (setgid(s->gid) != 0 || setuid(s->uid) != 0))
            _exit(126);
        execv(argv[0], argv);
        _exit(127);
    }
    int status;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int pgs_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* psql's exit code for `sql` (stdout into *out if given, stderr into *err). */
static int pgs_psql(const pg_server *s, const char *sql, char **out, char **err)
{
    char *path = ts_strf("%s/q-%d.sql", ts_tmpdir(), (int)getpid());
    ts_write_file(path, sql);
    char *cmd = ts_strf(PG_BIN_DIR "/psql -X -q -At -v ON_ERROR_STOP=1 '%s' -f '%s'", s->url, path);
    int rc = ts_run(cmd, out, err);
    unlink(path);
    free(path);
    free(cmd);
    return rc;
}

/* Start (or start again) the postmaster on s->port; 0 once it answers. */
static int pgs_launch(pg_server *s)
{
    char *data = ts_strf("%s/data", s->dir), *log = ts_strf("%s/server.log", s->dir);
    char *port = ts_strf("port=%d", s->port);
    pid_t parent = getpid();
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        if (getuid() == 0 && (setgid(s->gid) != 0 || setuid(s->uid) != 0))
            _exit(126);
        /* After setuid, which clears it; and the parent may already be gone. */
        prctl(PR_SET_PDEATHSIG, SIGQUIT);
        if (getppid() != parent)
            _exit(1);
        execl(PG_BIN_DIR "/postgres", "postgres", "-D", data, "-c", "listen_addresses=127.0.0.1", "-c", port,
              "-c", "unix_socket_directories=", "-c", "fsync=off", "-c", "max_connections=30", "-c",
              "shared_buffers=32MB", (char *)NULL);
        _exit(127);
    }
    s->pid = pid;
    free(data);
    free(log);
    free(port);
    double deadline = pgs_now() + 30;
    while (pgs_now() < deadline) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            s->pid = 0;
            return -1; /* e.g. the port was taken meanwhile */
        }
        if (pgs_psql(s, "SELECT 1", NULL, NULL) == 0)
            return 0;
        pgs_sleep_ms(50);
    }
    return -1;
}

static void pg_server_start(pg_server *s)
{
    memset(s, 0, sizeof *s);
    ck_assert_msg(access(PG_BIN_DIR "/initdb", X_OK) == 0 && access(PG_BIN_DIR "/postgres", X_OK) == 0,
                  "no PostgreSQL 15 in " PG_BIN_DIR ": scripts/deps installs postgresql-15 (a real failure: "
                  "these tests need a real server)");
    s->uid = getuid();
    s->gid = getgid();
    if (s->uid == 0) {
        struct passwd *pw = getpwnam("postgres");
        if (pw == NULL)
            pw = getpwnam("nobody");
        ck_assert_msg(pw != NULL,
                      "running as root, and neither a postgres nor a nobody user to run the server as");
        s->uid = pw->pw_uid;
        s->gid = pw->pw_gid;
    }
    /* Not under ts_tmpdir(): that one is root's alone (0700). */
    snprintf(s->dir, sizeof s->dir, "%.200s/server-XXXXXX", pgs_base[0] ? pgs_base : "/tmp");
    ck_assert_msg(mkdtemp(s->dir) != NULL, "mkdtemp: %s", strerror(errno));
    ck_assert_int_eq(chown(s->dir, s->uid, s->gid), 0);
    for (size_t i = 0; i < sizeof pgs_running / sizeof pgs_running[0]; i++)
        if (pgs_running[i] == NULL) {
            pgs_running[i] = s;
            break;
        }
    static int registered;
    if (!registered) {
        atexit(pgs_stop_all);
        registered = 1;
    }
    srand((unsigned)(getpid() ^ (unsigned)time(NULL)));
    snprintf(s->password, sizeof s->password, "pw%08x%08x", (unsigned)rand(), (unsigned)rand());
    char *pwfile = ts_strf("%s/pwfile", s->dir), *data = ts_strf("%s/data", s->dir),
         *log = ts_strf("%s/initdb.log", s->dir), *pwarg = ts_strf("--pwfile=%s", pwfile);
    ts_write_file(pwfile, s->password);
    ck_assert_int_eq(chown(pwfile, s->uid, s->gid), 0);
    char *const initdb[] = {PG_BIN_DIR "/initdb",   "-D", data,   "-U",         "sluice",    pwarg,
                            "--auth=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync", NULL};
    int rc = pgs_run_as(s, initdb, log);
    char *text = ts_read_file(log, NULL);
    ck_assert_msg(rc == 0, "initdb failed (%d): %s", rc, text ? text : "");
    free(text);
    unlink(pwfile);
    int started = -1;
    for (int attempt = 0; attempt < 3 && started != 0; attempt++) {
        s->port = pgs_free_port();
        snprintf(s->url, sizeof s->url, "postgresql://sluice:%s@127.0.0.1:%d/postgres", s->password, s->port);
        started = pgs_launch(s);
    }
    char *slog = ts_strf("%s/server.log", s->dir);
    text = ts_read_file(slog, NULL);
    ck_assert_msg(started == 0, "the PostgreSQL server did not start: %s", text ? text : "");
    free(text);
    free(slog);
    free(pwfile);
    free(data);
    free(log);
    free(pwarg);
}

/* Stop it and remove its folder. */
static void pg_server_stop(pg_server *s)
{
    pgs_halt(s);
    for (size_t i = 0; i < sizeof pgs_running / sizeof pgs_running[0]; i++)
        if (pgs_running[i] == s)
            pgs_running[i] = NULL;
    char *cmd = ts_strf("rm -rf '%s'", s->dir);
    ck_assert_int_eq(system(cmd), 0);
    free(cmd);
}

/* Stop it, keeping its data, and start it again on the same port. */
static void pg_server_pause(pg_server *s) { pgs_halt(s); }
static void pg_server_resume(pg_server *s)
{
    ck_assert_msg(pgs_launch(s) == 0, "the server did not start again");
}

/* The single value (or the rows, one per line) psql prints for `sql`;
 * the test fails when it fails. */
static char *pg_query(const pg_server *s, const char *sql)
{
    char *out = NULL, *err = NULL;
    int rc = pgs_psql(s, sql, &out, &err);
    ck_assert_msg(rc == 0, "psql failed (%d) on\n%s\n%s", rc, sql, err ? err : "");
    free(err);
    size_t n = out ? strlen(out) : 0;
    while (n > 0 && out[n - 1] == '\n')
        out[--n] = '\0';
    return out;
}

static long long pg_query_int(const pg_server *s, const char *sql)
{
    char *v = pg_query(s, sql);
    long long n = strtoll(v, NULL, 10);
    free(v);
    return n;
}

/* After the suite: every server is gone (each died with its test process
 * at the latest); remove what their folders left. */
static void pg_servers_end(void)
{
    if (pgs_base[0] == '\0' || getenv("SLUICE_KEEP_TMP"))
        return;
    pgs_sleep_ms(200); /* an immediate shutdown is still exiting */
    char *cmd = ts_strf("rm -rf '%s'", pgs_base);
    if (system(cmd) != 0) {
        /* best effort */
    }
    free(cmd);
}

#endif
