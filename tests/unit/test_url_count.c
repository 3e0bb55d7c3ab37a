/* The url_count operator (docs/semantics.md section 5). Its rules run
 * through the test driver (sluice/testing.h): the plugin as built, records
 * pushed with the watermark a source computes, each output and counter
 * read back, snapshots restored into fresh instances. Batch-size
 * independence and a restart from a state checkpoint run through the real
 * `sluice` binary (file source -> url_count -> file sinks). */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sluice/testing.h"
#include "test_support.h"

/* Exact text comparison that shows both texts when they differ. */
#define assert_text(got, want)                                                     \
    do {                                                                           \
        const char *got_ = (got), *want_ = (want);                                 \
        ck_assert_msg(strcmp(got_, want_) == 0, "got:\n%swant:\n%s", got_, want_); \
    } while (0)

/* What the driver collected: the outputs as JSON lines, the main output's
 * keys as "key<TAB>json" lines, and the too-late count. */
typedef struct driven {
    char *out, *rejected, *keyed;
    int64_t too_late;
} driven;

/* Input through a fresh url_count (options: a YAML flow-map body), then
 * the end of the input. */
static driven drive_counts(const char *input, const char *options, int64_t ooo_ms)
{
    sluice_harness *h = ts_harness("operator-url_count.so", options, ooo_ms);
    ts_harness_push_lines(h, input);
    ck_assert_msg(sluice_harness_end(h) == 0, "%s", sluice_harness_error(h));
    driven r = {strdup(sluice_harness_output_text(h, "main")),
                strdup(sluice_harness_output_text(h, "rejected")), NULL,
                sluice_harness_counter(h, "rejected.too_late")};
    r.keyed = ts_harness_keyed(h, "main");
    sluice_harness_free(h);
    return r;
}

static void driven_free(driven *r)
{
    free(r->out);
    free(r->rejected);
    free(r->keyed);
}

typedef struct run_result {
    char *out;      /* url_count's main output */
    char *rejected; /* its dead letters */
} run_result;

/* Run input through url_count (with `options`, a YAML flow-map body) in its
 * own folder under the test's tmpdir, by the binary. */
static run_result run_counts(const char *folder, const char *input, const char *options, int64_t ooo_ms,
                             int batch_size)
{
    char *dir = ts_strf("%s/%s", ts_tmpdir(), folder);
    mkdir(dir, 0755);
    char *in = ts_strf("%s/in.jsonl", dir);
    ts_write_file(in, input);
    char *yaml = ts_strf("name: url_count_test\n"
                         "batch_size: %d\n"
                         "steps:\n"
                         "  - name: clicks\n"
                         "    plugin: file\n"
                         "    options: {path: in.jsonl}\n"
                         "    event: {max_future: off, max_out_of_order: %lldms}\n"
                         "  - name: counts\n"
                         "    plugin: url_count\n"
                         "    input: clicks\n"
                         "    options: {%s}\n"
                         "  - name: out\n"
                         "    plugin: file\n"
                         "    input: counts\n"
                         "    options: {path: out.jsonl, truncate: true}\n"
                         "  - name: dead\n"
                         "    plugin: file\n"
                         "    input: counts.rejected\n"
                         "    options: {path: rejected.jsonl, truncate: true}\n",
                         batch_size, (long long)ooo_ms, options);
    char *pipeline = ts_strf("%s/p.yaml", dir);
    ts_write_file(pipeline, yaml);
    char *cmd = ts_strf("cd '%s' && '%s' run p.yaml", dir, SLUICE_BIN);
    char *err = NULL;
    int rc = ts_run(cmd, NULL, &err);
    ck_assert_msg(rc == 0, "sluice failed (%d): %s", rc, err ? err : "");
    run_result r;
    const char *names[] = {"out.jsonl", "rejected.jsonl"};
    char **slots[] = {&r.out, &r.rejected};
    for (size_t i = 0; i < 2; i++) {
        char *path = ts_strf("%s/%s", dir, names[i]);
        *slots[i] = ts_read_file(path, NULL);
        ck_assert_msg(*slots[i] != NULL, "no %s", names[i]);
        free(path);
    }
    free(err);
    free(cmd);
    free(pipeline);
    free(yaml);
    free(in);
    free(dir);
    return r;
}

static void run_free(run_result *r)
{
    free(r->out);
    free(r->rejected);
}

/* Input and expected lines. */
#define EV(user, url, ts) "{\"user_id\":\"" user "\",\"url\":\"" url "\",\"ts\":" #ts "}\n"
#define UC(start, end, url, clicks)                                                               \
    "{\"kind\":\"url_clicks\",\"window_start\":" #start ",\"window_end\":" #end ",\"url\":\"" url \
    "\",\"clicks\":" #clicks "}\n"
#define SUM(start, end, clicks, users, urls, top)                                                          \
    "{\"kind\":\"window_summary\",\"window_start\":" #start ",\"window_end\":" #end ",\"clicks\":" #clicks \
    ",\"unique_users\":" #users ",\"unique_urls\":" #urls ",\"top_urls\":[" top "]}\n"
#define TOP(url, clicks) "{\"url\":\"" url "\",\"clicks\":" #clicks "}"
#define TOO_LATE(ts, wm, lateness, n, raw)                                          \
    "{\"reason\":\"too_late\",\"detail\":\"ts " #ts " is older than watermark " #wm \
    " minus allowed_lateness " #lateness " ms\",\"origin\":\"push:" #n "\",\"raw\":\"" raw "\"}\n"
#define RAW(user, url, ts) "{\\\"user_id\\\":\\\"" user "\\\",\\\"url\\\":\\\"" url "\\\",\\\"ts\\\":" #ts "}"

START_TEST(kafka_keys_follow_semantics)
{
    /* url_clicks by "<window_start>|<url>", window_summary by "<window_start>". */
    driven r =
        drive_counts(EV("u1", "/a", 60000) EV("u2", "/b|c", 61000) EV("u1", "/a", 200000), "size: 1m", 0);
    char *line = strtok(r.keyed, "\n");
    const char *want_keys[] = {"60000|/a\t", "60000|/b|c\t", "60000\t", "180000|/a\t", "180000\t"};
    for (size_t i = 0; i < 5; i++) {
        ck_assert_msg(line != NULL, "missing line %zu", i);
        ck_assert_msg(strncmp(line, want_keys[i], strlen(want_keys[i])) == 0, "line %zu: %s", i, line);
        line = strtok(NULL, "\n");
    }
    ck_assert_msg(line == NULL, "extra line %s", line);
    driven_free(&r);
}
END_TEST

START_TEST(windows_are_epoch_aligned_and_end_exclusive)
{
    /* 1795737600000 is a whole minute: its last ms stays in the window, the
     * next ms opens the next one. */
    driven r = drive_counts(EV("u1", "/a", 1795737600000) EV("u2", "/b", 1795737659999)
                                EV("u3", "/c", 1795737660000),
                            "size: 1m", 0);
    assert_text(r.out, UC(1795737600000, 1795737660000, "/a", 1) UC(1795737600000, 1795737660000, "/b", 1)
                           SUM(1795737600000, 1795737660000, 2, 2, 2, TOP("/a", 1) "," TOP("/b", 1))
                               UC(1795737660000, 1795737720000, "/c", 1)
                                   SUM(1795737660000, 1795737720000, 1, 1, 1, TOP("/c", 1)));
    driven_free(&r);

    /* A size that does not divide a minute is still aligned to the epoch. */
    r = drive_counts(EV("u1", "/a", 13999) EV("u1", "/a", 14000), "size: 7s", 0);
    assert_text(r.out, UC(7000, 14000, "/a", 1) SUM(7000, 14000, 1, 1, 1, TOP("/a", 1))
                           UC(14000, 21000, "/a", 1) SUM(14000, 21000, 1, 1, 1, TOP("/a", 1)));
    driven_free(&r);
}
END_TEST

START_TEST(window_fires_exactly_when_the_watermark_reaches_its_end)
{
    /* 1s out of order: the watermark is max ts - 1000. At 59999 window
     * [0, 60000) has not fired, so an event at 59999 joins it silently; at
     * 60000 it fires, before the next event (too late for it) is handled. */
    const char *window0 =
        UC(0, 60000, "/a", 1) UC(0, 60000, "/c", 1) SUM(0, 60000, 2, 2, 2, TOP("/a", 1) "," TOP("/c", 1));
    const char *window1 = UC(60000, 120000, "/b", 2) SUM(60000, 120000, 2, 2, 1, TOP("/b", 2));
    const char *late = TOO_LATE(59999, 60000, 0, 5, RAW("u5", "/d", 59999));
    sluice_harness *h = ts_harness("operator-url_count.so", "size: 1m", 1000);
    ts_harness_push_lines(h, EV("u1", "/a", 100) EV("u2", "/b", 60999) EV("u3", "/c", 59999));
    assert_text(sluice_harness_output_text(h, "main"), "");
    ts_harness_push_lines(h, EV("u4", "/b", 61000));
    assert_text(sluice_harness_output_text(h, "main"), window0);
    assert_text(sluice_harness_output_text(h, "rejected"), "");
    ts_harness_push_lines(h, EV("u5", "/d", 59999));
    assert_text(sluice_harness_output_text(h, "rejected"), late);
    ck_assert_int_eq(sluice_harness_end(h), 0);
    char *out = ts_strf("%s%s", window0, window1);
    assert_text(sluice_harness_output_text(h, "main"), out);
    free(out);
    sluice_harness_free(h);
}
END_TEST

START_TEST(url_clicks_in_byte_order_and_top_ties_broken_by_url)
{
    /* Early URLs enter the top and are pushed out as others overtake them;
     * "/B" sorts before "/a" and "/é" (0xC3 0xA9) after "/z". */
    driven r = drive_counts(EV("u1", "/z", 1) EV("u1", "/é", 2) EV("u2", "/b", 3) EV("u3", "/a", 4)
                                EV("u1", "/ab", 5) EV("u4", "/c", 6) EV("u2", "/b", 7) EV("u1", "/B", 8)
                                    EV("u1", "/c", 9) EV("u5", "/a", 10) EV("u1", "/ab", 11)
                                        EV("u6", "/B", 12) EV("u2", "/c", 13),
                            "size: 1m, top: 3", 0);
    assert_text(r.out,
                UC(0, 60000, "/B", 2) UC(0, 60000, "/a", 2) UC(0, 60000, "/ab", 2) UC(0, 60000, "/b", 2)
                    UC(0, 60000, "/c", 3) UC(0, 60000, "/z", 1) UC(0, 60000, "/é", 1)
                        SUM(0, 60000, 13, 6, 7, TOP("/c", 3) "," TOP("/B", 2) "," TOP("/a", 2)));
    driven_free(&r);
}
END_TEST

START_TEST(unique_users_are_exact_and_integer_ids_are_their_decimal_text)
{
    /* 7 and "7" are one user, "07" another. */
    driven r = drive_counts("{\"user_id\":7,\"url\":\"/a\",\"ts\":1}\n"
                            "{\"user_id\":\"7\",\"url\":\"/a\",\"ts\":2}\n"
                            "{\"user_id\":\"07\",\"url\":\"/b\",\"ts\":3}\n"
                            "{\"user_id\":8,\"url\":\"/a\",\"ts\":4}\n",
                            "", 0);
    assert_text(r.out, UC(0, 60000, "/a", 3) UC(0, 60000, "/b", 1)
                           SUM(0, 60000, 4, 3, 2, TOP("/a", 3) "," TOP("/b", 1)));
    driven_free(&r);
}
END_TEST

START_TEST(counts_stay_exact_for_many_users_and_urls)
{
    /* 3000 clicks by 1000 users on 37 URLs in one window: /u00../u02 get 82
     * clicks, the rest 81 (3000 = 37 * 81 + 3). Sets and tables must grow. */
    size_t cap = 3000 * 64;
    char *input = malloc(cap);
    size_t len = 0;
    for (int i = 0; i < 3000; i++)
        len += (size_t)snprintf(input + len, cap - len,
                                "{\"user_id\":\"user-%d\",\"url\":\"/u%02d\",\"ts\":%d}\n", i % 1000, i % 37,
                                1000 + i);
    driven r = drive_counts(input, "top: 3", 0);
    char *want = malloc(37 * 128 + 512);
    size_t w = 0;
    /* UC stringizes its count: %d must stay one token for printf. */
    // clang-format off
    for (int u = 0; u < 37; u++)
        w += (size_t)sprintf(want + w, UC(0, 60000, "/u%02d", %d), u, u < 3 ? 82 : 81);
    // clang-format on
    sprintf(want + w, SUM(0, 60000, 3000, 1000, 37, TOP("/u00", 82) "," TOP("/u01", 82) "," TOP("/u02", 82)));
    assert_text(r.out, want);
    free(want);
    free(input);
    driven_free(&r);
}
END_TEST

START_TEST(late_event_within_allowed_lateness_reemits_url_and_summary)
{
    /* allowed_lateness 10s, watermark = max ts. Window [0, 60000) fires at
     * 60000 and takes updates while the watermark < 70000; an event is too
     * late below watermark - 10000: 50000 is accepted, 49999 is not. */
    driven r =
        drive_counts(EV("u1", "/a", 1000) EV("u2", "/b", 60000) EV("u3", "/a", 55000) EV("u1", "/c", 50000)
                         EV("u1", "/d", 49999) EV("u2", "/b", 70000) EV("u9", "/e", 59999),
                     "size: 1m, allowed_lateness: 10s", 0);
    assert_text(r.out, UC(0, 60000, "/a", 1) SUM(0, 60000, 1, 1, 1, TOP("/a", 1)) UC(0, 60000, "/a", 2)
                           SUM(0, 60000, 2, 2, 1, TOP("/a", 2)) UC(0, 60000, "/c", 1)
                               SUM(0, 60000, 3, 2, 2, TOP("/a", 2) "," TOP("/c", 1))
                                   UC(60000, 120000, "/b", 2) SUM(60000, 120000, 2, 1, 1, TOP("/b", 2)));
    assert_text(r.rejected, TOO_LATE(49999, 60000, 10000, 5, RAW("u1", "/d", 49999))
                                TOO_LATE(59999, 70000, 10000, 7, RAW("u9", "/e", 59999)));
    ck_assert_int_eq(r.too_late, 2);
    driven_free(&r);
}
END_TEST

START_TEST(late_event_into_a_window_never_seen_emits_it_at_once)
{
    /* With 200s of lateness, an event for [60000, 120000) arriving after the
     * watermark passed 120000 creates that window already fired: it is
     * emitted right away, and updated by the next such event. */
    driven r =
        drive_counts(EV("u1", "/a", 1000) EV("u1", "/c", 200000) EV("u2", "/b", 70000) EV("u3", "/b", 70001),
                     "allowed_lateness: 200s", 0);
    assert_text(r.out, UC(0, 60000, "/a", 1) SUM(0, 60000, 1, 1, 1, TOP("/a", 1)) UC(60000, 120000, "/b", 1)
                           SUM(60000, 120000, 1, 1, 1, TOP("/b", 1)) UC(60000, 120000, "/b", 2)
                               SUM(60000, 120000, 2, 2, 1, TOP("/b", 2)) UC(180000, 240000, "/c", 1)
                                   SUM(180000, 240000, 1, 1, 1, TOP("/c", 1)));
    driven_free(&r);
}
END_TEST

START_TEST(end_of_input_fires_every_open_window_in_start_order)
{
    /* An hour out of order allowed: nothing is due until the input ends. */
    driven r =
        drive_counts(EV("u1", "/c", 130000) EV("u1", "/a", 5000) EV("u2", "/b", 70000) EV("u2", "/c", 125000),
                     "", 3600000);
    assert_text(r.out, UC(0, 60000, "/a", 1) SUM(0, 60000, 1, 1, 1, TOP("/a", 1)) UC(60000, 120000, "/b", 1)
                           SUM(60000, 120000, 1, 1, 1, TOP("/b", 1)) UC(120000, 180000, "/c", 2)
                               SUM(120000, 180000, 2, 2, 1, TOP("/c", 2)));
    driven_free(&r);
}
END_TEST

START_TEST(json_special_characters_in_urls_are_escaped_in_top_urls)
{
    driven r =
        drive_counts("{\"user_id\":\"u\",\"url\":\"/q?a=\\\"x\\\"&b=\\\\&c=\\u0001\",\"ts\":5}\n", "", 0);
#define ESCAPED "/q?a=\\\"x\\\"&b=\\\\&c=\\u0001"
    assert_text(r.out, UC(0, 60000, ESCAPED, 1) SUM(0, 60000, 1, 1, 1, TOP(ESCAPED, 1)));
    driven_free(&r);
}
END_TEST

/* ---- state checkpoints ---------------------------------------------------- */

/* Runs `first` through url_count until `marker` shows in the dead letters,
 * stops the pipeline with SIGTERM (final checkpoint into a state folder, no
 * end-of-input firing), appends `second` and runs again to the end. */
static run_result run_interrupted(const char *folder, const char *first, const char *second,
                                  const char *options, const char *marker)
{
    char *dir = ts_strf("%s/%s", ts_tmpdir(), folder);
    mkdir(dir, 0755);
    char *path = ts_strf("%s/first.jsonl", dir);
    ts_write_file(path, first);
    free(path);
    path = ts_strf("%s/second.jsonl", dir);
    ts_write_file(path, second);
    free(path);
    char *yaml = ts_strf("name: url_count_restore\n"
                         "state_dir: '%s/state'\n"
                         "steps:\n"
                         "  - name: clicks\n"
                         "    plugin: file\n"
                         "    options:\n"
                         "      path: in.jsonl\n"
                         "      follow: ${FOLLOW}\n"
                         "    event: {max_future: off, max_out_of_order: 0ms}\n"
                         "  - name: counts\n"
                         "    plugin: url_count\n"
                         "    input: clicks\n"
                         "    options: {%s}\n"
                         "  - name: out\n"
                         "    plugin: file\n"
                         "    input: counts\n"
                         "    options: {path: out.jsonl, flush_interval: 0}\n"
                         "  - name: dead\n"
                         "    plugin: file\n"
                         "    input: counts.rejected\n"
                         "    options: {path: rejected.jsonl, flush_interval: 0}\n",
                         dir, options);
    path = ts_strf("%s/p.yaml", dir);
    ts_write_file(path, yaml);
    free(path);
    char *cmd = ts_strf("cd '%s' && cp first.jsonl in.jsonl && "
                        "{ FOLLOW=true '%s' run p.yaml & pid=$!; i=0; "
                        "  while ! grep -q '%s' rejected.jsonl 2>/dev/null && [ $i -lt 400 ]; do "
                        "    sleep 0.05; i=$((i+1)); done; "
                        "  kill -TERM $pid; wait $pid; } && "
                        "cat second.jsonl >> in.jsonl && FOLLOW=false '%s' run p.yaml",
                        dir, SLUICE_BIN, marker, SLUICE_BIN);
    char *err = NULL;
    int rc = ts_run(cmd, NULL, &err);
    ck_assert_msg(rc == 0, "sluice failed (%d): %s", rc, err ? err : "");
    run_result r = {0};
    path = ts_strf("%s/out.jsonl", dir);
    r.out = ts_read_file(path, NULL);
    free(path);
    path = ts_strf("%s/rejected.jsonl", dir);
    r.rejected = ts_read_file(path, NULL);
    free(path);
    ck_assert_msg(r.out != NULL && r.rejected != NULL, "missing output");
    free(err);
    free(cmd);
    free(yaml);
    free(dir);
    return r;
}

START_TEST(windows_survive_a_restart_from_a_state_checkpoint)
{
    /* When the first part has been read, window [0, 60000) has fired but
     * still takes updates (lateness 10s) and [60000, 120000) is open. The
     * second part updates both: only restored counts, users and fired flags
     * give the same output as one uninterrupted run. */
    const char *first = EV("u1", "/a", 1000) EV("u2", "/b", 30000) EV("u1", "/a", 61000) EV("u3", "/c", 62000)
        EV("u4", "/x", 50000);
    const char *second = EV("u2", "/a", 55000) EV("u1", "/c", 63000) EV("u6", "/b", 125000);
    const char *options = "size: 1m, allowed_lateness: 10s, top: 2";
    char *whole = ts_strf("%s%s", first, second);
    run_result ref = run_counts("restore_reference", whole, options, 0, 1);
    run_result resumed = run_interrupted("restore", first, second, options, "in.jsonl:5");
    assert_text(resumed.out, ref.out);
    assert_text(resumed.rejected, ref.rejected);
    /* The reference itself re-emitted window 0 with the late click. */
    ck_assert_ptr_nonnull(strstr(ref.out, SUM(0, 60000, 3, 2, 2, TOP("/a", 2) "," TOP("/b", 1))));
    run_free(&ref);
    run_free(&resumed);
    free(whole);
}
END_TEST

/* ---- a longer disordered stream --------------------------------------- */

static uint64_t lcg_next(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 33;
}

/* Value of integer field `name` in a line, or -1. */
static long long field_of(const char *line, const char *name)
{
    char *key = ts_strf("\"%s\":", name);
    const char *p = strstr(line, key);
    free(key);
    return p ? atoll(p + strlen(name) + 3) : -1;
}

typedef struct final_count {
    long long start;
    char url[16]; /* "" for the window's summary */
    long long clicks;
} final_count;

/* The last count per (window, url) and per window: the final results. */
static size_t final_counts(char *out, final_count *fc, size_t cap)
{
    size_t n = 0;
    for (char *line = strtok(out, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        final_count c = {field_of(line, "window_start"), "", field_of(line, "clicks")};
        if (strstr(line, "\"kind\":\"url_clicks\"") != NULL)
            sscanf(strstr(line, "\"url\":\"") + 7, "%15[^\"]", c.url);
        size_t i = 0;
        while (i < n && !(fc[i].start == c.start && strcmp(fc[i].url, c.url) == 0))
            i++;
        if (i == n) {
            ck_assert_uint_lt(n, cap);
            n++;
        }
        fc[i] = c;
    }
    return n;
}

START_TEST(batch_sizes_give_identical_output_and_every_event_is_accounted_for)
{
    enum { N = 4000 };
    char *input = malloc(N * 80);
    size_t len = 0;
    uint64_t rng = 99;
    long long clock = 1000000;
    for (int i = 0; i < N; i++) {
        clock += (long long)(lcg_next(&rng) % 15);
        long long ts = clock - (long long)(lcg_next(&rng) % 4000); /* up to 4s behind */
        len += (size_t)sprintf(input + len, "{\"user_id\":%u,\"url\":\"/p%u\",\"ts\":%lld}\n",
                               (unsigned)(lcg_next(&rng) % 50), (unsigned)(lcg_next(&rng) % 23), ts);
    }
    const char *options = "size: 10s, allowed_lateness: 1500ms, top: 4";
    run_result first = run_counts("batches_1", input, options, 1000, 1);
    const int sizes[] = {7, 4096};
    for (size_t i = 0; i < 2; i++) {
        char *folder = ts_strf("batches_%d", sizes[i]);
        run_result other = run_counts(folder, input, options, 1000, sizes[i]);
        ck_assert_msg(strcmp(first.out, other.out) == 0, "batch size %d: output differs", sizes[i]);
        ck_assert_msg(strcmp(first.rejected, other.rejected) == 0, "batch size %d: dead letters differ",
                      sizes[i]);
        run_free(&other);
        free(folder);
    }

    /* Some events were too late, some updated fired windows: the stream
     * exercises both. Final counts + too-late events = input events, and
     * each window's final URL counts add up to its final summary. */
    size_t too_late = 0;
    for (const char *p = first.rejected; *p; p++)
        too_late += *p == '\n';
    ck_assert_uint_gt(too_late, 0);
    final_count *fc = calloc(4000, sizeof *fc);
    size_t n = final_counts(first.out, fc, 4000);
    long long summed = 0;
    for (size_t i = 0; i < n; i++) {
        if (fc[i].url[0] != '\0')
            continue;
        summed += fc[i].clicks;
        long long by_url = 0;
        for (size_t j = 0; j < n; j++)
            if (fc[j].start == fc[i].start && fc[j].url[0] != '\0')
                by_url += fc[j].clicks;
        ck_assert_int_eq(by_url, fc[i].clicks);
    }
    ck_assert_int_eq(summed + (long long)too_late, N);
    free(fc);
    free(input);
    run_free(&first);
}
END_TEST

/* ---- snapshots ------------------------------------------------------------ */

/* Two windows, the first fired and still taking updates (lateness 10s),
 * with top 2: /a 3, /c 2, /b 1 by users u1 and u2; the second open. */
/* url_count in parts (url_count_parts.h), each part driven alone: task 0
 * of 1 of by_url and of by_user over the same clicks, and the summary fed
 * what they sent. */
static sluice_harness *task_harness(const char *part, const char *options, uint32_t task, uint32_t ntasks)
{
    char err[512];
    char *path = ts_strf("%s/operator-url_count.so", SLUICE_PLUGIN_DIR);
    sluice_harness *h = sluice_harness_new(path, err, sizeof err);
    ck_assert_msg(h != NULL, "%s", err);
    free(path);
    ck_assert_int_eq(sluice_harness_options(h, options), 0);
    ck_assert_msg(sluice_harness_part(h, part, task, ntasks) == 0, "%s", sluice_harness_error(h));
    ck_assert_msg(sluice_harness_start(h) == 0, "%s", sluice_harness_error(h));
    sluice_harness_max_out_of_order(h, 0);
    return h;
}

static sluice_harness *part_harness(const char *part, const char *options)
{
    return task_harness(part, options, 0, 1);
}

START_TEST(parts_send_what_the_summary_merges_into_one_instances_summary)
{
    const char *input = EV("u1", "/a", 1000) EV("u2", "/a", 2000) EV("u1", "/b", 3000) EV("u3", "/c", 4000)
        EV("u3", "/c", 5000) EV("u3", "/c", 6000);
    const char *options = "{size: 10s, top: 2}";
    sluice_harness *by_url = part_harness("by_url", options), *by_user = part_harness("by_user", options);
    ts_harness_push_lines(by_url, input);
    ts_harness_push_lines(by_user, input);
    ck_assert_msg(sluice_harness_end(by_url) == 0, "%s", sluice_harness_error(by_url));
    ck_assert_msg(sluice_harness_end(by_user) == 0, "%s", sluice_harness_error(by_user));
    const char *urls = sluice_harness_output_text(by_url, "main");
    const char *users = sluice_harness_output_text(by_user, "main");
    /* by_url: the url_clicks, its top 2 and its totals; no summary. */
    ck_assert_msg(strstr(urls, UC(0, 10000, "/a", 2)) && strstr(urls, UC(0, 10000, "/c", 3)), "%s", urls);
    ck_assert_msg(strstr(urls, "\"kind\":\"url_count.window\"") &&
                      strstr(urls, "\"clicks\":6,\"urls\":3,\"ntop\":2"),
                  "%s", urls);
    ck_assert_msg(!strstr(urls, "window_summary") && !strstr(users, "window_summary"), "a part summed up");
    ck_assert_msg(strstr(users, "\"kind\":\"url_count.users\"") && strstr(users, "\"users\":3"), "%s", users);

    /* The summary: nothing until both parts' tasks have passed the end. */
    sluice_harness *sum = part_harness("summary", options);
    ts_harness_push_lines(sum, urls);
    ck_assert_int_eq(sluice_harness_run(sum), 0);
    ck_assert_msg(!strstr(sluice_harness_output_text(sum, "main"), "window_summary"),
                  "summed before by_user's task passed the window's end");
    ts_harness_push_lines(sum, users);
    ck_assert_int_eq(sluice_harness_run(sum), 0);
    const char *merged = sluice_harness_output_text(sum, "main");
    ck_assert_msg(strstr(merged, UC(0, 10000, "/b", 1)), "url_clicks not passed on: %s", merged);
    ck_assert_msg(strstr(merged,
                         "{\"kind\":\"window_summary\",\"window_start\":0,\"window_end\":10000,"
                         "\"clicks\":6,\"unique_users\":3,\"unique_urls\":3,\"top_urls\":[{\"url\":\"/c\","
                         "\"clicks\":3},{\"url\":\"/a\",\"clicks\":2}]}"),
                  "%s", merged);

    /* What one instance emits for the same clicks. */
    driven whole = drive_counts(input, "size: 10s, top: 2", 0);
    const char *summary = strstr(whole.out, "{\"kind\":\"window_summary\"");
    ck_assert_msg(summary && strstr(merged, summary), "one instance: %s", whole.out);
    /* Its state: the summary's snapshot restores into a summary only. */
    sluice_snapshot snap;
    ck_assert_int_eq(sluice_harness_snapshot(sum, &snap), 0);
    ck_assert_uint_eq(snap.encoding_version, 2);
    free(snap.data);
    ck_assert_int_eq(sluice_harness_restart(sum), 0);
    driven_free(&whole);
    sluice_harness_free(sum);
    sluice_harness_free(by_url);
    sluice_harness_free(by_user);
}
END_TEST

/* The layout for partition tasks: two partial tasks, each over its own
 * users' clicks with late events among them, and the total fed what they
 * sent: the total fires a window only once both tasks passed its end, its
 * final records are what one instance emits over every click, and what a
 * task sends again (a replay after a restart) changes nothing. */
START_TEST(partial_counts_sum_to_one_instances_records_and_a_replay_changes_nothing)
{
    /* u1 in task 0, u2 in task 1; 4000 and 6000 are late but allowed. */
    const char *in0 = EV("u1", "/a", 1000) EV("u1", "/b", 3000) EV("u1", "/a", 12000) EV("u1", "/a", 4000)
        EV("u1", "/c", 25000);
    const char *in1 = EV("u2", "/a", 2000) EV("u2", "/c", 5000) EV("u2", "/a", 15000) EV("u2", "/b", 6000)
        EV("u2", "/b", 21000);
    const char *options = "{size: 10s, top: 2, allowed_lateness: 10s}";
    sluice_harness *t0 = task_harness("partial", options, 0, 2), *t1 = task_harness("partial", options, 1, 2);
    ts_harness_push_lines(t0, in0);
    ts_harness_push_lines(t1, in1);
    ck_assert_msg(sluice_harness_end(t0) == 0, "%s", sluice_harness_error(t0));
    ck_assert_msg(sluice_harness_end(t1) == 0, "%s", sluice_harness_error(t1));
    char *sent0 = strdup(sluice_harness_output_text(t0, "main"));
    char *sent1 = strdup(sluice_harness_output_text(t1, "main"));
    /* A task sends counts, not clicks: /a of window 0 is 2 in task 0 once
     * the late click is in, never a url_clicks or a summary. */
    ck_assert_msg(strstr(sent0, "\"kind\":\"url_count.partial\"") &&
                      strstr(sent0, "\"window_start\":0,\"url\":\"/a\",\"clicks\":2"),
                  "%s", sent0);
    ck_assert_msg(!strstr(sent0, "url_clicks") && !strstr(sent0, "window_summary"), "%s", sent0);

    sluice_harness *total = task_harness("total", options, 0, 1);
    ts_harness_push_lines(total, sent0);
    ck_assert_int_eq(sluice_harness_run(total), 0);
    ck_assert_msg(sluice_harness_count(total, "main") == 0, "fired before task 1 passed the end: %s",
                  sluice_harness_output_text(total, "main"));
    ts_harness_push_lines(total, sent1);
    ck_assert_int_eq(sluice_harness_run(total), 0);
    const char *out = sluice_harness_output_text(total, "main");
    /* Task 1's late /b came after it passed 10000: an update, as one
     * instance would emit it. */
    ck_assert_str_eq(out, UC(0, 10000, "/a", 3) UC(0, 10000, "/b", 1) UC(0, 10000, "/c", 1)
                              SUM(0, 10000, 5, 2, 3, TOP("/a", 3) "," TOP("/b", 1)) UC(0, 10000, "/b", 2)
                                  SUM(0, 10000, 6, 2, 3, TOP("/a", 3) "," TOP("/b", 2))
                                      UC(10000, 20000, "/a", 2) SUM(10000, 20000, 2, 2, 1, TOP("/a", 2))
                                          UC(20000, 30000, "/b", 1) UC(20000, 30000, "/c", 1)
                                              SUM(20000, 30000, 2, 2, 2, TOP("/b", 1) "," TOP("/c", 1)));

    /* One instance over both tasks' clicks: the same final records. */
    char *both = ts_strf("%s%s", in0, in1);
    driven whole = drive_counts(both, "size: 10s, top: 2, allowed_lateness: 30s", 0);
    ck_assert_msg(strstr(whole.out, SUM(0, 10000, 6, 2, 3, TOP("/a", 3) "," TOP("/b", 2))) &&
                      strstr(whole.out, UC(0, 10000, "/a", 3)),
                  "one instance: %s", whole.out);

    /* Both tasks send it all again: nothing new. */
    size_t before = sluice_harness_count(total, "main");
    ts_harness_push_lines(total, sent0);
    ts_harness_push_lines(total, sent1);
    ck_assert_int_eq(sluice_harness_run(total), 0);
    ck_assert_uint_eq(sluice_harness_count(total, "main"), before);

    /* Its state restores into a total only. */
    sluice_snapshot snap;
    ck_assert_int_eq(sluice_harness_snapshot(total, &snap), 0);
    ck_assert_uint_eq(snap.encoding_version, 6);
    free(snap.data);
    ck_assert_int_eq(sluice_harness_restart(total), 0);
    driven_free(&whole);
    free(both);
    free(sent0);
    free(sent1);
    sluice_harness_free(total);
    sluice_harness_free(t0);
    sluice_harness_free(t1);
}
END_TEST

static sluice_harness *sample_windows(void)
{
    sluice_harness *h = ts_harness("operator-url_count.so", "size: 1m, allowed_lateness: 10s, top: 2", 0);
    ts_harness_push_lines(h,
                          EV("u2", "/c", 1000) EV("u1", "/a", 2000) EV("u2", "/b", 3000) EV("u1", "/a", 4000)
                              EV("u2", "/c", 5000) EV("u1", "/a", 6000) EV("u3", "/z", 61000));
    ck_assert_uint_eq(sluice_harness_count(h, "main"), 4); /* window 0 fired: 3 URLs, a summary */
    sluice_harness_clear(h);
    return h;
}

START_TEST(snapshot_round_trip_keeps_counts_users_top_and_fired_windows)
{
    sluice_harness *h = sample_windows();
    ck_assert_msg(sluice_harness_restart(h) == 0, "%s", sluice_harness_error(h));
    ck_assert_int_eq(sluice_harness_counter(h, "state.windows"), 2);
    /* A late click by a known user on a known URL: the fired window is
     * re-emitted with its restored counts, users and top; no new user or URL. */
    ts_harness_push_lines(h, EV("u1", "/b", 55000)); /* within 10s of the watermark 61000 */
    assert_text(sluice_harness_output_text(h, "main"),
                UC(0, 60000, "/b", 2) SUM(0, 60000, 7, 2, 3, TOP("/a", 3) "," TOP("/b", 2)));
    sluice_harness_clear(h);
    /* The open window was restored open: it fires at its end. */
    ck_assert_int_eq(sluice_harness_watermark(h, 120000), 0);
    assert_text(sluice_harness_output_text(h, "main"),
                UC(60000, 120000, "/z", 1) SUM(60000, 120000, 1, 1, 1, TOP("/z", 1)));
    sluice_harness_free(h);
}
END_TEST

START_TEST(snapshot_of_another_version_size_or_malformed_is_refused)
{
    sluice_harness *h = sample_windows();
    sluice_snapshot snap;
    ck_assert_msg(sluice_harness_snapshot(h, &snap) == 0, "%s", sluice_harness_error(h));
    sluice_harness_free(h);

    /* As written, into the same options: accepted. */
    h = ts_harness("operator-url_count.so", "size: 1m, allowed_lateness: 10s, top: 2", 0);
    ck_assert_msg(sluice_harness_restore(h, &snap) == 0, "%s", sluice_harness_error(h));
    ck_assert_int_eq(sluice_harness_counter(h, "state.windows"), 2);
    sluice_harness_free(h);

    /* Another encoding version, another window size, or cut short anywhere. */
    sluice_snapshot other = snap;
    other.encoding_version = snap.encoding_version + 1;
    h = ts_harness("operator-url_count.so", "size: 1m, top: 2", 0);
    ck_assert_int_eq(sluice_harness_restore(h, &other), -1);
    ck_assert_msg(strstr(sluice_harness_error(h), "refused the snapshot") != NULL, "%s",
                  sluice_harness_error(h));
    sluice_harness_free(h);
    h = ts_harness("operator-url_count.so", "size: 30s, top: 2", 0);
    ck_assert_int_eq(sluice_harness_restore(h, &snap), -1);
    sluice_harness_free(h);
    for (size_t cut = 1; cut < snap.size; cut += 7) {
        sluice_snapshot part = snap;
        part.size = snap.size - cut;
        h = ts_harness("operator-url_count.so", "size: 1m, top: 2", 0);
        ck_assert_msg(sluice_harness_restore(h, &part) == -1, "cut by %zu: accepted", cut);
        sluice_harness_free(h);
    }
    free(snap.data);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("url_count");
    TCase *driver = tcase_create("through_the_test_driver");
    tcase_add_test(driver, kafka_keys_follow_semantics);
    tcase_add_test(driver, windows_are_epoch_aligned_and_end_exclusive);
    tcase_add_test(driver, window_fires_exactly_when_the_watermark_reaches_its_end);
    tcase_add_test(driver, url_clicks_in_byte_order_and_top_ties_broken_by_url);
    tcase_add_test(driver, unique_users_are_exact_and_integer_ids_are_their_decimal_text);
    tcase_add_test(driver, counts_stay_exact_for_many_users_and_urls);
    tcase_add_test(driver, late_event_within_allowed_lateness_reemits_url_and_summary);
    tcase_add_test(driver, late_event_into_a_window_never_seen_emits_it_at_once);
    tcase_add_test(driver, end_of_input_fires_every_open_window_in_start_order);
    tcase_add_test(driver, json_special_characters_in_urls_are_escaped_in_top_urls);
    tcase_add_test(driver, snapshot_round_trip_keeps_counts_users_top_and_fired_windows);
    tcase_add_test(driver, snapshot_of_another_version_size_or_malformed_is_refused);
    tcase_add_test(driver, parts_send_what_the_summary_merges_into_one_instances_summary);
    tcase_add_test(driver, partial_counts_sum_to_one_instances_records_and_a_replay_changes_nothing);
    suite_add_tcase(s, driver);

    TCase *tc = tcase_create("through_the_binary");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, batch_sizes_give_identical_output_and_every_event_is_accounted_for);
    tcase_add_test(tc, windows_survive_a_restart_from_a_state_checkpoint);
    suite_add_tcase(s, tc);
    return ts_run_suite(s);
}
