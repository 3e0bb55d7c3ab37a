/* The dashboard sink, run in the real `sluice` binary as a user would: a
 * known clickstream fed on stdin, the page opened in headless Chromium, the
 * snapshot read over HTTP, SSE clients that read and one that does not.
 *
 * The pipeline reads stdin, so the test decides when the data flows (after
 * the pages connected) and when the input ends (EOF: every window fires and
 * the sink's pages get the final results before the process exits). */
#include <arpa/inet.h>
#include <check.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test_support.h"

#define T0 1700000000000LL
#define USERS 40
#define URLS 30
#define MAX_WINDOWS 4000
#define TOP 10

/* ---- a known input and what the pipeline must make of it ---------------- */

typedef struct expected_window {
    int64_t start, end;
    int clicks, users, urls;
    int ntop, top_url[TOP], top_clicks[TOP];
} expected_window;

typedef struct expected {
    int nwindows;
    expected_window w[MAX_WINDOWS];
    int users_seen;
} expected;

static uint64_t lcg_state;
static unsigned lcg(void)
{
    lcg_state = lcg_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (unsigned)(lcg_state >> 33);
}

/* A few URLs take most clicks, as on a real site. */
static int skewed_url(void)
{
    unsigned r = lcg() % 100;
    return r < 40 ? 1 : r < 60 ? 2 : r < 72 ? 3 : r < 80 ? 4 : 5 + (int)(r % (URLS - 4));
}

static int url_counts[URLS + 1];
static int by_clicks_then_url(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    if (url_counts[x] != url_counts[y])
        return url_counts[y] - url_counts[x];
    char sx[16], sy[16];
    snprintf(sx, sizeof sx, "/p/%d", x);
    snprintf(sy, sizeof sy, "/p/%d", y);
    return strcmp(sx, sy); /* ties by URL in byte order (docs/semantics.md section 5) */
}

/* nwindows windows of size_ms with per_window clicks each, spread evenly.
 * With errors: a malformed line, a bad ts and a duplicate, which count as
 * rejections and in no window. Returns the JSON lines (malloc'd). */
static char *make_input(int nwindows, int per_window, int64_t size_ms, int errors, expected *exp)
{
    lcg_state = 42;
    size_t cap = (size_t)nwindows * (size_t)per_window * 64 + 256, len = 0;
    char *text = malloc(cap);
    memset(exp, 0, sizeof *exp);
    exp->nwindows = nwindows;
    uint64_t all_users = 0;
    for (int w = 0; w < nwindows; w++) {
        expected_window *e = &exp->w[w];
        e->start = T0 + w * size_ms;
        e->end = e->start + size_ms;
        memset(url_counts, 0, sizeof url_counts);
        uint64_t users = 0;
        for (int k = 0; k < per_window; k++) {
            int user = (int)(lcg() % USERS), url = skewed_url();
            int64_t ts = e->start + k * (size_ms / per_window);
            int n =
                snprintf(text + len, cap - len, "{\"user_id\":\"user-%d\",\"url\":\"/p/%d\",\"ts\":%lld}\n",
                         user, url, (long long)ts);
            if (errors && w == 1 && k == 5) { /* the very same event again: a duplicate */
                memmove(text + len + n, text + len, (size_t)n);
                n *= 2;
            }
            len += (size_t)n;
            url_counts[url]++;
            users |= 1ULL << user;
            e->clicks++;
        }
        if (errors && w == 2)
            len += (size_t)snprintf(text + len, cap - len,
                                    "not json\n{\"user_id\":\"x\",\"url\":\"/a\",\"ts\":\"yesterday\"}\n");
        all_users |= users;
        e->users = __builtin_popcountll(users);
        int ids[URLS];
        int nurls = 0;
        for (int u = 1; u <= URLS; u++)
            if (url_counts[u] > 0)
                ids[nurls++] = u;
        e->urls = nurls;
        qsort(ids, (size_t)nurls, sizeof ids[0], by_clicks_then_url);
        e->ntop = nurls < TOP ? nurls : TOP;
        for (int i = 0; i < e->ntop; i++) {
            e->top_url[i] = ids[i];
            e->top_clicks[i] = url_counts[ids[i]];
        }
    }
    exp->users_seen = __builtin_popcountll(all_users);
    text[len] = '\0';
    return text;
}

/* An event two hours on: its watermark fires every window and closes every
 * session before it, while stdin stays open. */
static const char closing_event[] = "{\"user_id\":\"closer\",\"url\":\"/close\",\"ts\":1700007200000}\n";

/* ---- running sluice with stdin in the test's hands ----------------------- */

typedef struct run {
    FILE *in;
    char *err_path;
    char *results_path;
    int port;
} run;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Waits up to `seconds` for `needle` in the file; returns what it read
 * (malloc'd) or NULL. */
static char *wait_for_text(const char *path, const char *needle, double seconds)
{
    double deadline = now_s() + seconds;
    for (;;) {
        char *text = ts_read_file(path, NULL);
        if (text != NULL && strstr(text, needle) != NULL)
            return text;
        free(text);
        if (now_s() > deadline)
            return NULL;
        usleep(50000);
    }
}

static run start_run(const char *name, const char *window, const char *dash_options)
{
    static int serial;
    run r = {0};
    serial++;
    char *yaml_path = ts_strf("%s/%s-%d.yaml", ts_tmpdir(), name, serial);
    r.err_path = ts_strf("%s/%s-%d.err", ts_tmpdir(), name, serial);
    r.results_path = ts_strf("%s/%s-%d.results.jsonl", ts_tmpdir(), name, serial);
    /* partitions: 1, one task per keyed step: every session closes as soon
     * as the watermark passes it, also while stdin stays open (with several
     * tasks, one that gets no record may hold its sessions until later). */
    char *yaml =
        ts_strf("name: %s\n"
                "partitions: 1\n"
                "steps:\n"
                "  - name: clicks\n"
                "    plugin: file\n"
                "    options: {path: '-'}\n"
                "    event: {max_future: 'off'}\n"
                "  - name: dedup\n"
                "    plugin: dedup\n"
                "    input: clicks\n"
                "    options: {emit_rejected: true}\n"
                "  - name: url_count\n"
                "    plugin: url_count\n"
                "    input: dedup\n"
                "    options: {size: %s}\n"
                "  - name: sessionize\n"
                "    plugin: sessionize\n"
                "    input: dedup\n"
                "  - name: windows\n"
                "    plugin: kind_filter\n"
                "    input: url_count\n"
                "    options: {kinds: [window_summary]}\n"
                "  - name: results\n"
                "    plugin: file\n"
                "    input: windows\n"
                "    options: {path: '%s', truncate: true}\n"
                "  - name: dash\n"
                "    plugin: dashboard\n"
                "    input: [windows, sessionize, clicks.rejected, dedup.rejected, url_count.rejected]\n"
                "    options: {listen: '127.0.0.1:0'%s}\n",
                name, window, r.results_path, dash_options);
    ts_write_file(yaml_path, yaml);
    char *cmd =
        ts_strf("exec '%s' --log-level info run '%s' >/dev/null 2>'%s'", SLUICE_BIN, yaml_path, r.err_path);
    /* "e": the pipe is close-on-exec, so a browser started later does not
     * hold stdin open and the input can end. */
    r.in = popen(cmd, "we");
    ck_assert_ptr_nonnull(r.in);
    char *log = wait_for_text(r.err_path, "dashboard at http://127.0.0.1:", 60);
    ck_assert_msg(log != NULL, "no dashboard URL logged");
    r.port = atoi(strstr(log, "dashboard at http://127.0.0.1:") + strlen("dashboard at http://127.0.0.1:"));
    ck_assert_int_gt(r.port, 0);
    free(log);
    free(cmd);
    free(yaml);
    free(yaml_path);
    return r;
}

static void feed(run *r, const char *text)
{
    ck_assert_uint_eq(fwrite(text, 1, strlen(text), r->in), strlen(text));
    fflush(r->in);
}

/* Ends the input and waits for the exit; returns the exit code. */
static int finish(run *r)
{
    int status = pclose(r->in);
    r->in = NULL;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void run_free(run *r)
{
    free(r->err_path);
    free(r->results_path);
}

/* ---- plain HTTP ------------------------------------------------------------ */

static int connect_to(int port, int rcvbuf)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    if (rcvbuf > 0) /* before connect, so the TCP window is small from the start */
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&addr, sizeof addr), 0);
    return fd;
}

static void send_get(int fd, const char *path)
{
    /* HTTP/1.0: the body ends when the connection closes, with no chunked
     * framing cutting through the event stream. */
    char *req = ts_strf("GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
    ck_assert_int_eq(send(fd, req, strlen(req), MSG_NOSIGNAL), (ssize_t)strlen(req));
    free(req);
}

/* Everything the server sends until it closes (malloc'd, NUL-terminated). */
static char *read_all(int fd, size_t *len)
{
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (cap - n < 4096)
            buf = realloc(buf, cap *= 2);
        ssize_t got = recv(fd, buf + n, cap - n - 1, 0);
        if (got <= 0)
            break;
        n += (size_t)got;
    }
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

/* GET path; returns the status code and the body (malloc'd). */
static int http_get(int port, const char *path, char **body)
{
    int fd = connect_to(port, 0);
    send_get(fd, path);
    char *all = read_all(fd, NULL);
    close(fd);
    int status = 0;
    sscanf(all, "HTTP/1.%*d %d", &status);
    char *start = strstr(all, "\r\n\r\n");
    *body = strdup(start ? start + 4 : "");
    free(all);
    return status;
}

static size_t count_of(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

/* ---- tests ------------------------------------------------------------------- */

START_TEST(the_plugin_exports_only_its_entry_function)
{
    char *cmd = ts_strf("nm -D --defined-only '%s/sink-dashboard.so'", SLUICE_PLUGIN_DIR);
    char *out = NULL;
    ck_assert_msg(ts_run(cmd, &out, NULL) == 0,
                  "sink-dashboard.so missing: is libmicrohttpd-dev installed (scripts/deps)?");
    ck_assert_msg(count_of(out, "\n") == 1 && strstr(out, " T sluice_plugin_entry\n") != NULL, "exports:\n%s",
                  out);
    free(out);
    free(cmd);
}
END_TEST

static expected exp_small;

/* The snapshot is the state a late page starts from: the windows of the
 * input exactly (history bounds how many), totals, sessions, rejections. */
START_TEST(the_snapshot_holds_the_windows_of_the_input)
{
    char *input = make_input(30, 100, 10000, 1, &exp_small);
    run r = start_run("snapshot", "10s", ", history: 20");
    feed(&r, input);
    feed(&r, closing_event);
    json_t *snap = NULL;
    double deadline = now_s() + 60;
    for (;;) { /* the windows fire as the pipeline gets to the closing event */
        char *body = NULL;
        ck_assert_int_eq(http_get(r.port, "/snapshot", &body), 200);
        json_error_t jerr;
        snap = json_loads(body, 0, &jerr);
        ck_assert_msg(snap != NULL, "/snapshot is not JSON (%s): %.300s", jerr.text, body);
        free(body);
        json_t *status = json_object_get(snap, "status");
        if (json_integer_value(json_object_get(status, "windows")) == 30 &&
            json_integer_value(json_object_get(json_object_get(snap, "sessions"), "total")) ==
                exp_small.users_seen)
            break;
        json_decref(snap);
        ck_assert_msg(now_s() < deadline, "the snapshot never showed 30 windows and every session");
        usleep(100000);
    }
    json_t *windows = json_object_get(snap, "windows");
    ck_assert_int_eq(json_integer_value(json_object_get(snap, "history")), 20);
    ck_assert_uint_eq(json_array_size(windows), 20); /* the last 20 of 30 */
    for (size_t i = 0; i < 20; i++) {
        const expected_window *e = &exp_small.w[10 + i];
        json_t *w = json_array_get(windows, i);
        ck_assert_int_eq(json_integer_value(json_object_get(w, "window_start")), e->start);
        ck_assert_int_eq(json_integer_value(json_object_get(w, "window_end")), e->end);
        ck_assert_int_eq(json_integer_value(json_object_get(w, "clicks")), e->clicks);
        ck_assert_int_eq(json_integer_value(json_object_get(w, "unique_users")), e->users);
        ck_assert_int_eq(json_integer_value(json_object_get(w, "unique_urls")), e->urls);
        json_t *top = json_object_get(w, "top_urls");
        ck_assert_int_eq((int)json_array_size(top), e->ntop);
        for (int k = 0; k < e->ntop; k++) {
            char url[16];
            snprintf(url, sizeof url, "/p/%d", e->top_url[k]);
            ck_assert_str_eq(json_string_value(json_object_get(json_array_get(top, (size_t)k), "url")), url);
            ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(top, (size_t)k), "clicks")),
                             e->top_clicks[k]);
        }
    }
    json_t *status = json_object_get(snap, "status");
    ck_assert_int_eq(json_integer_value(json_object_get(status, "clicks")), 30 * 100);
    ck_assert(json_is_null(json_object_get(status, "consumer_lag")));
    ck_assert(json_is_false(json_object_get(status, "input_ended")));
    json_t *reasons = json_object_get(json_object_get(snap, "rejections"), "by_reason");
    ck_assert_int_eq(json_integer_value(json_object_get(reasons, "malformed")), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(reasons, "bad_ts")), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(reasons, "duplicate")), 1);
    json_t *sessions = json_object_get(snap, "sessions");
    ck_assert_int_eq(json_array_size(json_object_get(sessions, "longest_avg")), 10);
    json_decref(snap);

    char *body = NULL;
    ck_assert_int_eq(http_get(r.port, "/", &body), 200);
    ck_assert_msg(strstr(body, "<title>Sluice dashboard</title>") != NULL, "%.200s", body);
    ck_assert_msg(strstr(body, "cdn") == NULL && strstr(body, "https://") == NULL,
                  "the page loads from the net");
    free(body);
    ck_assert_int_eq(http_get(r.port, "/chart.js", &body), 200); /* Debian's libjs-chart.js (scripts/deps) */
    ck_assert_msg(strstr(body, "Chart") != NULL, "not Chart.js");
    free(body);
    ck_assert_int_eq(http_get(r.port, "/nope", &body), 404);
    free(body);

    ck_assert_int_eq(finish(&r), 0);
    run_free(&r);
    free(input);
}
END_TEST

static const char *find_chromium(void)
{
    static const char *const names[] = {"chromium", "chromium-browser", "google-chrome"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char *cmd = ts_strf("command -v %s", names[i]);
        int rc = ts_run(cmd, NULL, NULL);
        free(cmd);
        if (rc == 0)
            return names[i];
    }
    return NULL;
}

/* Pipeline -> SSE -> DOM: the page is open before any data flows, so what
 * it shows arrived over the event stream as the windows closed. */
START_TEST(the_page_shows_the_top_urls_and_window_counts_it_was_sent)
{
    const char *chromium = find_chromium();
    if (chromium == NULL) {
        fprintf(stderr, "SKIP the_page_shows_the_top_urls_and_window_counts_it_was_sent: no Chromium here "
                        "(Debian: apt-get install chromium; scripts/deps installs it)\n");
        return;
    }
    static expected exp;
    char *input = make_input(30, 100, 10000, 1, &exp);
    run r = start_run("browser", "10s", ", linger: 20s");
    char *artifacts = ts_strf("%s/test-artifacts", SLUICE_BINARY_DIR);
    mkdir(artifacts, 0777);
    char *shot = ts_strf("%s/dashboard.png", artifacts);
    char *dom_path = ts_strf("%s/dom.html", ts_tmpdir()), *rc_path = ts_strf("%s/chromium.rc", ts_tmpdir());
    char *chrome_err = ts_strf("%s/chromium.err", ts_tmpdir());
    unlink(shot);
    /* Virtual time stands still while the event stream is open; once the
     * page has the `end` event and closes it, 5 s of page time let the last
     * draw happen, then the DOM is dumped and the screenshot taken. Its own
     * profile folder keeps it apart from any other Chromium. */
    char *cmd =
        ts_strf("(cd '%s' && timeout 240 %s --headless --no-sandbox --disable-gpu --disable-dev-shm-usage "
                "--hide-scrollbars --user-data-dir='%s/chromium-profile' --window-size=1400,1250 "
                "--virtual-time-budget=5000 --screenshot='%s' --dump-dom http://127.0.0.1:%d/ "
                ">'%s' 2>'%s'; echo $? >'%s') &",
                ts_tmpdir(), chromium, ts_tmpdir(), shot, r.port, dom_path, chrome_err, rc_path);
    ck_assert_int_eq(system(cmd), 0);
    char *log = wait_for_text(r.err_path, "dashboard page opened", 180);
    if (log == NULL) {
        char *cerr = ts_read_file(chrome_err, NULL);
        ck_abort_msg("Chromium never opened the page; its log:\n%s", cerr ? cerr : "(none)");
    }
    free(log);
    feed(&r, input);
    ck_assert_int_eq(finish(&r), 0);
    char *rc = wait_for_text(rc_path, "\n", 240);
    ck_assert_msg(rc != NULL && atoi(rc) == 0, "Chromium failed: %s", rc ? rc : "timeout");
    char *dom = ts_read_file(dom_path, NULL);
    ck_assert_ptr_nonnull(dom);
    ck_assert_msg(strstr(dom, "pipeline ended") != NULL, "the page never got the end event:\n%.2000s", dom);

    /* Every window's row, with its counts. */
    for (int i = 0; i < exp.nwindows; i++) {
        const expected_window *e = &exp.w[i];
        char *row_start = ts_strf("<tr data-start=\"%lld\">", (long long)e->start);
        char *row = strstr(dom, row_start);
        ck_assert_msg(row != NULL, "no row for window %lld in the page", (long long)e->start);
        char *row_end = strstr(row, "</tr>");
        *row_end = '\0';
        char *clicks = ts_strf("class=\"num clicks\">%d<", e->clicks);
        char *users = ts_strf("class=\"num users\">%d<", e->users);
        char *urls = ts_strf("class=\"num urls\">%d<", e->urls);
        ck_assert_msg(strstr(row, clicks) && strstr(row, users) && strstr(row, urls),
                      "window %lld: expected %d clicks, %d users, %d URLs; the page has %s",
                      (long long)e->start, e->clicks, e->users, e->urls, row);
        *row_end = '<';
        free(clicks);
        free(users);
        free(urls);
        free(row_start);
    }
    /* The latest window's top URLs, in order, with their clicks. */
    const expected_window *last = &exp.w[exp.nwindows - 1];
    const char *table = strstr(dom, "id=\"top-urls\"");
    ck_assert_ptr_nonnull(table);
    const char *at = table;
    for (int k = 0; k < last->ntop; k++) {
        char *row_start = ts_strf("<tr data-url=\"/p/%d\"><td>%d</td>", last->top_url[k], k + 1);
        const char *row = strstr(at, row_start);
        ck_assert_msg(row != NULL, "top URL #%d should be /p/%d", k + 1, last->top_url[k]);
        char *clicks = ts_strf("class=\"num clicks\">%d<", last->top_clicks[k]);
        const char *cell = strstr(row, clicks), *next = strstr(row, "</tr>");
        ck_assert_msg(cell != NULL && cell < next, "/p/%d should have %d clicks", last->top_url[k],
                      last->top_clicks[k]);
        at = next;
        free(clicks);
        free(row_start);
    }
    ck_assert_msg(strstr(dom, "data-reason=\"malformed\"") && strstr(dom, "data-reason=\"duplicate\""),
                  "rejections missing");

    struct stat st;
    ck_assert_msg(stat(shot, &st) == 0 && st.st_size > 20000, "no screenshot at %s", shot);
    fprintf(stderr, "dashboard screenshot: %s\n", shot);
    free(dom);
    free(rc);
    free(cmd);
    free(chrome_err);
    free(rc_path);
    free(dom_path);
    free(shot);
    free(artifacts);
    run_free(&r);
    free(input);
}
END_TEST

/* ---- SSE clients: one that reads, one that does not ------------------------ */

typedef struct reader {
    int fd;
    char *data;
    size_t len;
    pthread_t thread;
} reader;

static void *read_stream(void *arg)
{
    reader *rd = arg;
    rd->data = read_all(rd->fd, &rd->len);
    return NULL;
}

static expected exp_big;

/* Returns the seconds from the first byte fed to the exit. */
static double timed_run(run *r, const char *input)
{
    double t = now_s();
    feed(r, input);
    ck_assert_int_eq(finish(r), 0);
    return now_s() - t;
}

/* A page that stops reading must cost the pipeline nothing: with one, and
 * with one that reads beside it, the results are the same and the run takes
 * about as long as with no page at all; the reading page gets every window. */
START_TEST(a_page_that_stops_reading_does_not_slow_the_pipeline)
{
    char *input = make_input(3000, 10, 1000, 0, &exp_big);
    const char *opts = ", client_buffer: 8388608, linger: 1s";
    run alone = start_run("alone", "1s", opts);
    double t_alone = timed_run(&alone, input);

    run both = start_run("both", "1s", opts);
    reader fast = {.fd = connect_to(both.port, 0)};
    send_get(fast.fd, "/events");
    pthread_create(&fast.thread, NULL, read_stream, &fast);
    int slow = connect_to(both.port, 4096);
    send_get(slow, "/events"); /* and never reads */
    char *log = wait_for_text(both.err_path, "(2 open)", 30);
    ck_assert_msg(log != NULL, "the two pages did not connect");
    free(log);
    double t_both = timed_run(&both, input);
    pthread_join(fast.thread, NULL);
    close(fast.fd);
    close(slow);

    char *a = ts_read_file(alone.results_path, NULL), *b = ts_read_file(both.results_path, NULL);
    ck_assert_uint_eq(ts_count_lines(alone.results_path), 3000);
    ck_assert_msg(strcmp(a, b) == 0, "the results differ with a slow page");
    ck_assert_uint_eq(count_of(fast.data, "event: window\n"), 3000);
    ck_assert_msg(strstr(fast.data, "event: end\n") != NULL, "the reading page got no end event");
    fprintf(stderr, "3000 windows: %.2f s alone, %.2f s with a reading and a stuck page\n", t_alone, t_both);
    /* The stuck page can only hold the exit up for the linger time (1 s). */
    ck_assert_msg(t_both < 2 * t_alone + 1 + 5, "%.2f s with pages vs %.2f s alone", t_both, t_alone);
    log = ts_read_file(both.err_path, NULL);
    ck_assert_msg(strstr(log, "dropped the dashboard page") != NULL, "the stuck page was not dropped:\n%s",
                  log);
    free(log);
    free(fast.data);
    free(a);
    free(b);
    run_free(&alone);
    run_free(&both);
    free(input);
}
END_TEST

/* With a small client_buffer the stuck page is dropped while the data flows,
 * with a log line naming it, and the pipeline carries on. */
START_TEST(a_page_that_falls_a_client_buffer_behind_is_dropped)
{
    char *input = make_input(3000, 10, 1000, 0, &exp_big);
    run r = start_run("drop", "1s", ", client_buffer: 65536, linger: 0s");
    int slow = connect_to(r.port, 4096);
    send_get(slow, "/events");
    struct sockaddr_in local;
    socklen_t len = sizeof local;
    getsockname(slow, (struct sockaddr *)&local, &len);
    char *log = wait_for_text(r.err_path, "(1 open)", 30);
    ck_assert_ptr_nonnull(log);
    free(log);
    feed(&r, input);
    char *needle = ts_strf("dropped the dashboard page at 127.0.0.1:%d: too slow", ntohs(local.sin_port));
    log = wait_for_text(r.err_path, needle, 60);
    ck_assert_msg(log != NULL, "no log line '%s'", needle);
    free(log);
    ck_assert_int_eq(finish(&r), 0);
    ck_assert_uint_eq(ts_count_lines(r.results_path), 3000);
    /* Dropped means closed: what the page has left to read ends. */
    char *rest = read_all(slow, NULL);
    ck_assert_msg(strstr(rest, "event: end") == NULL, "a dropped page was sent the end");
    free(rest);
    close(slow);
    free(needle);
    run_free(&r);
    free(input);
}
END_TEST

START_TEST(a_busy_port_fails_with_a_message_naming_it)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&addr, sizeof addr), 0);
    ck_assert_int_eq(listen(fd, 1), 0);
    socklen_t len = sizeof addr;
    getsockname(fd, (struct sockaddr *)&addr, &len);
    char *yaml = ts_strf("steps:\n"
                         "  - name: clicks\n"
                         "    plugin: file\n"
                         "    options: {path: /dev/null}\n"
                         "  - name: dash\n"
                         "    plugin: dashboard\n"
                         "    input: clicks\n"
                         "    options: {listen: '127.0.0.1:%d'}\n",
                         ntohs(addr.sin_port));
    char *path = ts_strf("%s/busy.yaml", ts_tmpdir());
    ts_write_file(path, yaml);
    char *cmd = ts_strf("'%s' run '%s'", SLUICE_BIN, path);
    char *err = NULL;
    ck_assert_int_ne(ts_run(cmd, NULL, &err), 0);
    char *expected = ts_strf("cannot listen on 127.0.0.1:%d: Address already in use", ntohs(addr.sin_port));
    ck_assert_msg(strstr(err, expected) != NULL, "%s", err);
    close(fd);
    free(expected);
    free(err);
    free(cmd);
    free(path);
    free(yaml);
}
END_TEST

/* max_clients bounds the open streams (and the threads serving them): one
 * more is refused with 503 rather than queued. */
START_TEST(pages_beyond_max_clients_are_refused)
{
    run r = start_run("max", "10s", ", max_clients: 1");
    reader first = {.fd = connect_to(r.port, 0)};
    send_get(first.fd, "/events");
    pthread_create(&first.thread, NULL, read_stream, &first);
    char *log = wait_for_text(r.err_path, "(1 open)", 30);
    ck_assert_ptr_nonnull(log);
    free(log);
    char *body = NULL;
    ck_assert_int_eq(http_get(r.port, "/events", &body), 503);
    free(body);
    ck_assert_int_eq(http_get(r.port, "/snapshot", &body), 200); /* the rest still answers */
    free(body);
    ck_assert_int_eq(finish(&r), 0);
    pthread_join(first.thread, NULL);
    ck_assert_msg(strstr(first.data, "event: snapshot\n") && strstr(first.data, "event: end\n"), "%s",
                  first.data);
    log = ts_read_file(r.err_path, NULL);
    ck_assert_msg(strstr(log, "refused a dashboard page") != NULL, "%s", log);
    free(log);
    free(first.data);
    close(first.fd);
    run_free(&r);
}
END_TEST

/* listen: off leaves the step in a pipeline and serves nothing. */
START_TEST(listen_off_serves_nothing)
{
    char *yaml = ts_strf("steps:\n"
                         "  - name: clicks\n"
                         "    plugin: file\n"
                         "    options: {path: /dev/null}\n"
                         "  - name: dash\n"
                         "    plugin: dashboard\n"
                         "    input: clicks\n"
                         "    options: {listen: 'off'}\n");
    char *path = ts_strf("%s/off.yaml", ts_tmpdir());
    ts_write_file(path, yaml);
    char *cmd = ts_strf("'%s' run '%s'", SLUICE_BIN, path);
    char *err = NULL;
    ck_assert_msg(ts_run(cmd, NULL, &err) == 0, "%s", err);
    ck_assert_msg(strstr(err, "dashboard off") != NULL && strstr(err, "dashboard at") == NULL, "%s", err);
    free(err);
    free(cmd);
    free(path);
    free(yaml);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("dashboard");
    TCase *tc = tcase_create("dashboard");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, the_plugin_exports_only_its_entry_function);
    tcase_add_test(tc, a_busy_port_fails_with_a_message_naming_it);
    tcase_add_test(tc, listen_off_serves_nothing);
    tcase_add_test(tc, pages_beyond_max_clients_are_refused);
    tcase_add_test(tc, the_snapshot_holds_the_windows_of_the_input);
    tcase_add_test(tc, a_page_that_stops_reading_does_not_slow_the_pipeline);
    tcase_add_test(tc, a_page_that_falls_a_client_buffer_behind_is_dropped);
    tcase_add_test(tc, the_page_shows_the_top_urls_and_window_counts_it_was_sent);
    suite_add_tcase(s, tc);
    return ts_run_suite(s);
}
