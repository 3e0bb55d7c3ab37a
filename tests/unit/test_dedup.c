/* The dedup operator (docs/semantics.md section 3), run by the test driver
 * (sluice/testing.h) for its rules, its key table over long streams (against
 * a plain reference, growing and shrinking, memory per key) and its
 * snapshots; and through the real `sluice` binary (file source -> dedup ->
 * file sinks for its main and rejected outputs) for batch sizes and a
 * restart from a state checkpoint. */
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

typedef struct run_result {
    int rc;
    char *out;      /* dedup's main output */
    char *rejected; /* its dead letters */
    char *metrics;  /* --metrics lines */
    char *err;
} run_result;

/* Run input through dedup (with `options`, a YAML flow-map body) in its own
 * folder under the test's tmpdir, at a given batch size and out-of-order
 * allowance (ms). */
static run_result run_dedup(const char *folder, const char *input, const char *options, int ooo_ms,
                            int batch_size)
{
    char *dir = ts_strf("%s/%s", ts_tmpdir(), folder);
    mkdir(dir, 0755);
    char *in = ts_strf("%s/in.jsonl", dir);
    ts_write_file(in, input);
    char *yaml = ts_strf("name: dedup_test\n"
                         "batch_size: %d\n"
                         "steps:\n"
                         "  - name: clicks\n"
                         "    plugin: file\n"
                         "    options: {path: in.jsonl}\n"
                         "    event: {max_future: off, max_out_of_order: %dms}\n"
                         "  - name: dedup\n"
                         "    plugin: dedup\n"
                         "    input: clicks\n"
                         "    options: {%s}\n"
                         "  - name: out\n"
                         "    plugin: file\n"
                         "    input: dedup\n"
                         "    options: {path: out.jsonl, truncate: true}\n"
                         "  - name: dead\n"
                         "    plugin: file\n"
                         "    input: dedup.rejected\n"
                         "    options: {path: rejected.jsonl, truncate: true}\n",
                         batch_size, ooo_ms, options);
    char *pipeline = ts_strf("%s/p.yaml", dir);
    ts_write_file(pipeline, yaml);
    char *cmd = ts_strf("cd '%s' && '%s' run --metrics metrics.jsonl p.yaml", dir, SLUICE_BIN);
    run_result r = {0};
    r.rc = ts_run(cmd, NULL, &r.err);
    char *path = ts_strf("%s/out.jsonl", dir);
    r.out = ts_read_file(path, NULL);
    free(path);
    path = ts_strf("%s/rejected.jsonl", dir);
    r.rejected = ts_read_file(path, NULL);
    free(path);
    path = ts_strf("%s/metrics.jsonl", dir);
    r.metrics = ts_read_file(path, NULL);
    free(path);
    ck_assert_msg(r.rc == 0, "sluice failed (%d): %s", r.rc, r.err ? r.err : "");
    ck_assert_msg(r.out != NULL && r.rejected != NULL && r.metrics != NULL, "missing output");
    free(cmd);
    free(pipeline);
    free(yaml);
    free(in);
    free(dir);
    return r;
}

static size_t lines_in(const char *text)
{
    size_t n = 0;
    for (; *text; text++)
        n += *text == '\n';
    return n;
}

static void run_free(run_result *r)
{
    free(r->out);
    free(r->rejected);
    free(r->metrics);
    free(r->err);
}

/* What the driver collected from dedup: its outputs as JSON lines and the
 * counters the rules are about. */
typedef struct driven {
    char *out, *rejected;
    int64_t duplicates, emitted;
} driven;

/* Push each line of input into dedup (options: a YAML flow-map body), each
 * stamped with the watermark a source allowing ooo_ms out of order gives it,
 * then end the input. */
static driven drive_dedup(const char *input, const char *options, int ooo_ms)
{
    sluice_harness *h = ts_harness("operator-dedup.so", options, ooo_ms);
    ts_harness_push_lines(h, input);
    ck_assert_msg(sluice_harness_end(h) == 0, "%s", sluice_harness_error(h));
    driven r = {strdup(sluice_harness_output_text(h, "main")),
                strdup(sluice_harness_output_text(h, "rejected")),
                sluice_harness_counter(h, "rejected.duplicate"), sluice_harness_counter(h, "out")};
    sluice_harness_free(h);
    return r;
}

static void driven_free(driven *r)
{
    free(r->out);
    free(r->rejected);
}

#define E1 "{\"user_id\":\"u1\",\"url\":\"/a\",\"ts\":1000,\"event_id\":\"e1\"}\n"
#define E1_OTHER_FIELDS "{\"user_id\":\"u2\",\"url\":\"/b\",\"ts\":1500,\"event_id\":\"e1\"}\n"
#define E2 "{\"user_id\":\"u1\",\"url\":\"/a\",\"ts\":1000,\"event_id\":\"e2\"}\n"

START_TEST(same_event_id_is_a_duplicate_whatever_the_other_fields)
{
    driven r = drive_dedup(E1 E1_OTHER_FIELDS E2 E1, "", 0);
    assert_text(r.out, E1 E2);
    ck_assert_msg(r.duplicates == 2, "%lld duplicates", (long long)r.duplicates);
    ck_assert_msg(r.emitted == 2, "%lld out", (long long)r.emitted);
    driven_free(&r);
}
END_TEST

#define T1 "{\"user_id\":\"u1\",\"url\":\"/a\",\"ts\":2000}\n"
#define T1_AGAIN "{\"url\":\"/a\",\"user_id\":\"u1\",\"ts\":2000,\"extra\":1}\n"
#define T1_NEXT_MS "{\"user_id\":\"u1\",\"url\":\"/a\",\"ts\":2001}\n"
#define T1_OTHER_URL "{\"user_id\":\"u1\",\"url\":\"/ab\",\"ts\":2000}\n"
#define T1_WITH_ID "{\"user_id\":\"u1\",\"url\":\"/a\",\"ts\":2000,\"event_id\":\"x\"}\n"
#define INT_USER "{\"user_id\":7,\"url\":\"/a\",\"ts\":2000}\n"
#define STRING_USER "{\"user_id\":\"7\",\"url\":\"/a\",\"ts\":2000}\n"

START_TEST(without_event_id_the_key_is_user_url_and_ts)
{
    /* An event with an event_id is keyed by it alone, so it never matches a
     * triple; an integer user id is its decimal text. */
    driven r = drive_dedup(T1 T1_AGAIN T1_NEXT_MS T1_OTHER_URL T1_WITH_ID INT_USER STRING_USER, "", 0);
    assert_text(r.out, T1 T1_NEXT_MS T1_OTHER_URL T1_WITH_ID INT_USER);
    ck_assert_msg(r.duplicates == 2, "%lld duplicates", (long long)r.duplicates);
    driven_free(&r);
}
END_TEST

#define K0 "{\"user_id\":\"u\",\"url\":\"/k\",\"ts\":1000}\n"
#define CLOCK_10999 "{\"user_id\":\"v\",\"url\":\"/tick\",\"ts\":10999}\n"
#define CLOCK_11000 "{\"user_id\":\"v\",\"url\":\"/tick\",\"ts\":11000}\n"

START_TEST(key_expires_when_the_watermark_reaches_first_ts_plus_ttl)
{
    /* ttl 10s, first_ts 1000: the key lives while the watermark < 11000. */
    driven before = drive_dedup(K0 CLOCK_10999 K0, "ttl: 10s", 0);
    assert_text(before.out, K0 CLOCK_10999);
    driven_free(&before);

    driven at = drive_dedup(K0 CLOCK_11000 K0, "ttl: 10s", 0);
    assert_text(at.out, K0 CLOCK_11000 K0);
    driven_free(&at);

    /* The watermark, not the event's ts: with 5s out of order allowed a tick
     * at 16000 brings it to 11000 exactly, 15999 to one ms short. */
    driven lag_before =
        drive_dedup(K0 "{\"user_id\":\"v\",\"url\":\"/t\",\"ts\":15999}\n" K0, "ttl: 10s", 5000);
    assert_text(lag_before.out, K0 "{\"user_id\":\"v\",\"url\":\"/t\",\"ts\":15999}\n");
    driven_free(&lag_before);

    driven lag_at = drive_dedup(K0 "{\"user_id\":\"v\",\"url\":\"/t\",\"ts\":16000}\n" K0, "ttl: 10s", 5000);
    assert_text(lag_at.out, K0 "{\"user_id\":\"v\",\"url\":\"/t\",\"ts\":16000}\n" K0);
    driven_free(&lag_at);
}
END_TEST

#define R_AT(ts) "{\"user_id\":\"u\",\"url\":\"/k\",\"ts\":" #ts ",\"event_id\":\"r\"}\n"
#define TICK(ts) "{\"user_id\":\"v\",\"url\":\"/tick\",\"ts\":" #ts "}\n"

START_TEST(an_event_that_renews_an_expired_key_starts_its_ttl_again)
{
    /* "r" first at 1000 lives until 11000; seen again at 11000 it is new and
     * lives until 21000, counted from that event's ts. */
    driven r = drive_dedup(R_AT(1000) TICK(11000) R_AT(11000) TICK(20999) R_AT(12000) TICK(21000) R_AT(12000),
                           "ttl: 10s", 0);
    assert_text(r.out, R_AT(1000) TICK(11000) R_AT(11000) TICK(20999) TICK(21000) R_AT(12000));
    driven_free(&r);
}
END_TEST

START_TEST(emit_rejected_sends_duplicates_as_dead_letters)
{
    driven r = drive_dedup(E1 T1 E1_OTHER_FIELDS T1, "emit_rejected: true", 0);
    assert_text(r.out, E1 T1);
    assert_text(r.rejected,
                "{\"reason\":\"duplicate\",\"detail\":\"event_id already seen within ttl\","
                "\"origin\":\"push:3\",\"raw\":\"{\\\"user_id\\\":\\\"u2\\\",\\\"url\\\":\\\"/b\\\","
                "\\\"ts\\\":1500,\\\"event_id\\\":\\\"e1\\\"}\"}\n"
                "{\"reason\":\"duplicate\",\"detail\":\"same user, url and ts already seen within ttl\","
                "\"origin\":\"push:4\",\"raw\":\"{\\\"user_id\\\":\\\"u1\\\",\\\"url\\\":\\\"/a\\\","
                "\\\"ts\\\":2000}\"}\n");
    ck_assert_msg(r.duplicates == 2, "%lld duplicates", (long long)r.duplicates);
    driven_free(&r);
}
END_TEST

START_TEST(without_emit_rejected_duplicates_are_only_counted)
{
    driven r = drive_dedup(E1 T1 E1_OTHER_FIELDS T1, "emit_rejected: false", 0);
    assert_text(r.out, E1 T1);
    assert_text(r.rejected, "");
    ck_assert_msg(r.duplicates == 2, "%lld duplicates", (long long)r.duplicates);
    driven_free(&r);
}
END_TEST

/* ---- a longer stream, against a plain reference ------------------------- */

typedef struct ref_key {
    char key[96];
    int64_t expires_at;
} ref_key;

/* Deterministic pseudo-random numbers (no dependence on libc's rand). */
static uint64_t lcg_next(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 33;
}

/* A disordered stream with event ids, triples, replays and long gaps; and the
 * lines dedup must pass, computed by brute force from docs/semantics.md. */
static void make_stream(size_t n, int64_t ttl, int64_t ooo, char **input, char **expected)
{
    size_t cap = n * 128 + 1;
    char *in = calloc(1, cap), *want = calloc(1, cap);
    size_t in_len = 0, want_len = 0;
    ref_key *seen = calloc(n, sizeof *seen);
    size_t nseen = 0;
    char(*lines)[128] = calloc(n, sizeof *lines);
    uint64_t rng = 42;
    int64_t clock = 10000, max_ts = INT64_MIN; /* ts stay >= 0 */
    for (size_t i = 0; i < n; i++) {
        char *line = lines[i];
        uint64_t pick = lcg_next(&rng) % 10;
        if (pick == 0 && i > 0) {
            /* replay an earlier line verbatim */
            memcpy(line, lines[lcg_next(&rng) % i], sizeof lines[i]);
        } else {
            clock += (int64_t)(lcg_next(&rng) % 40);
            if (lcg_next(&rng) % 200 == 0)
                clock += ttl; /* a gap that expires everything */
            int64_t ts = clock - (int64_t)(lcg_next(&rng) % 3000);
            unsigned user = (unsigned)(lcg_next(&rng) % 7), url = (unsigned)(lcg_next(&rng) % 5);
            if (pick < 5)
                snprintf(line, 128, "{\"user_id\":\"u%u\",\"url\":\"/p%u\",\"ts\":%lld}", user, url,
                         (long long)ts);
            else
                snprintf(line, 128, "{\"user_id\":%u,\"url\":\"/p%u\",\"ts\":%lld,\"event_id\":\"id%u\"}",
                         user, url, (long long)ts, (unsigned)(lcg_next(&rng) % 400));
        }
        /* Reference: key text, watermark after this event, linear lookup. */
        long long ts;
        unsigned user, url, id;
        char key[96];
        if (sscanf(line, "{\"user_id\":%u,\"url\":\"/p%u\",\"ts\":%lld,\"event_id\":\"id%u\"}", &user, &url,
                   &ts, &id) == 4)
            snprintf(key, sizeof key, "id:%u", id);
        else if (sscanf(line, "{\"user_id\":\"u%u\",\"url\":\"/p%u\",\"ts\":%lld}", &user, &url, &ts) == 3)
            snprintf(key, sizeof key, "t:%u|%u|%lld", user, url, ts);
        else
            ck_abort_msg("unparsed %s", line);
        if (ts > max_ts)
            max_ts = ts;
        int64_t wm = max_ts - ooo;
        ref_key *k = NULL;
        for (size_t j = 0; j < nseen; j++)
            if (strcmp(seen[j].key, key) == 0)
                k = &seen[j];
        int duplicate = k != NULL && wm < k->expires_at;
        if (!duplicate) {
            if (k == NULL) {
                k = &seen[nseen++];
                strcpy(k->key, key);
            }
            k->expires_at = ts + ttl;
            want_len += (size_t)sprintf(want + want_len, "%s\n", line);
        }
        in_len += (size_t)sprintf(in + in_len, "%s\n", line);
    }
    free(lines);
    free(seen);
    *input = in;
    *expected = want;
}

START_TEST(keys_survive_a_restart_of_the_instance)
{
    /* Snapshot, a fresh instance, restore: e1 and the triple are still known. */
    sluice_harness *h = ts_harness("operator-dedup.so", "emit_rejected: true", -1);
    ck_assert_int_eq(sluice_harness_push(h, E1), 0);
    ck_assert_int_eq(sluice_harness_push(h, T1), 0);
    ck_assert_msg(sluice_harness_restart(h) == 0, "%s", sluice_harness_error(h));
    ck_assert_int_eq(sluice_harness_push(h, E1_OTHER_FIELDS), 0);
    ck_assert_int_eq(sluice_harness_push(h, T1), 0);
    ck_assert_int_eq(sluice_harness_push(h, E2), 0);
    assert_text(sluice_harness_output_text(h, "main"), E1 T1 E2);
    ck_assert_uint_eq(sluice_harness_count(h, "rejected"), 2);
    ck_assert_str_eq(sluice_harness_field(h, "rejected", 0, "reason"), "duplicate");
    ck_assert_str_eq(sluice_harness_field(h, "rejected", 1, "origin"), "push:4");
    ck_assert_int_eq(sluice_harness_counter(h, "state.keys"), 3);
    sluice_harness_free(h);
}
END_TEST

START_TEST(the_watermark_alone_expires_keys_between_batches)
{
    /* ttl 10s from first_ts 1000: a watermark moved to 11000 with no record
     * (an upstream filter dropped them) expires the key; 10999 does not. */
    sluice_harness *h = ts_harness("operator-dedup.so", "ttl: 10s", -1);
    ck_assert_int_eq(sluice_harness_push(h, K0), 0);
    ck_assert_int_eq(sluice_harness_watermark(h, 10999), 0);
    ck_assert_int_eq(sluice_harness_push(h, K0), 0);
    ck_assert_int_eq(sluice_harness_watermark(h, 11000), 0);
    ck_assert_int_eq(sluice_harness_push(h, K0), 0);
    assert_text(sluice_harness_output_text(h, "main"), K0 K0);
    ck_assert_int_eq(sluice_harness_counter(h, "rejected.duplicate"), 1);
    ck_assert_int_eq(sluice_harness_counter(h, "in"), 3);
    sluice_harness_free(h);
}
END_TEST

START_TEST(batch_sizes_give_identical_output_matching_the_reference)
{
    char *input, *expected;
    make_stream(3000, 4000, 1000, &input, &expected);
    const int sizes[] = {1, 7, 4096};
    for (size_t i = 0; i < 3; i++) {
        char *folder = ts_strf("batches_%d", sizes[i]);
        run_result r = run_dedup(folder, input, "ttl: 4s", 1000, sizes[i]);
        ck_assert_msg(strcmp(r.out, expected) == 0, "batch size %d differs from the reference", sizes[i]);
        run_free(&r);
        free(folder);
    }
    free(input);
    free(expected);
}
END_TEST

/* ---- state checkpoints ---------------------------------------------------- */

/* Runs `first` through dedup until `marker` shows in the dead letters, stops
 * the pipeline with SIGTERM (final checkpoint into a state folder), appends
 * `second` and runs again to the end. Returns what both runs wrote. */
static run_result run_interrupted(const char *folder, const char *first, const char *second,
                                  const char *marker)
{
    char *dir = ts_strf("%s/%s", ts_tmpdir(), folder);
    mkdir(dir, 0755);
    char *path = ts_strf("%s/first.jsonl", dir);
    ts_write_file(path, first);
    free(path);
    path = ts_strf("%s/second.jsonl", dir);
    ts_write_file(path, second);
    free(path);
    char *yaml = ts_strf("name: dedup_restore\n"
                         "state_dir: '%s/state'\n"
                         "steps:\n"
                         "  - name: clicks\n"
                         "    plugin: file\n"
                         "    options:\n"
                         "      path: in.jsonl\n"
                         "      follow: ${FOLLOW}\n"
                         "    event: {max_future: off, max_out_of_order: 0ms}\n"
                         "  - name: dedup\n"
                         "    plugin: dedup\n"
                         "    input: clicks\n"
                         "    options: {emit_rejected: true}\n"
                         "  - name: out\n"
                         "    plugin: file\n"
                         "    input: dedup\n"
                         "    options: {path: out.jsonl, flush_interval: 0}\n"
                         "  - name: dead\n"
                         "    plugin: file\n"
                         "    input: dedup.rejected\n"
                         "    options: {path: rejected.jsonl, flush_interval: 0}\n",
                         dir);
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
    run_result r = {0};
    r.rc = ts_run(cmd, NULL, &r.err);
    ck_assert_msg(r.rc == 0, "sluice failed (%d): %s", r.rc, r.err ? r.err : "");
    path = ts_strf("%s/out.jsonl", dir);
    r.out = ts_read_file(path, NULL);
    free(path);
    path = ts_strf("%s/rejected.jsonl", dir);
    r.rejected = ts_read_file(path, NULL);
    free(path);
    ck_assert_msg(r.out != NULL && r.rejected != NULL, "missing output");
    free(cmd);
    free(yaml);
    free(dir);
    return r;
}

START_TEST(keys_survive_a_restart_from_a_state_checkpoint)
{
    /* The second part repeats keys of the first: only a restored table can
     * tell. The first part ends with a duplicate whose dead letter shows
     * that it has been read. */
    const char *first = E1 T1 "{\"user_id\":\"u3\",\"url\":\"/c\",\"ts\":3000,\"event_id\":\"e3\"}\n" E1;
    const char *second = "{\"user_id\":\"u9\",\"url\":\"/z\",\"ts\":4000,\"event_id\":\"e3\"}\n" T1
                         "{\"user_id\":\"u4\",\"url\":\"/d\",\"ts\":5000,\"event_id\":\"e4\"}\n"
                         "{\"user_id\":\"u4\",\"url\":\"/d\",\"ts\":5000,\"event_id\":\"e4\"}\n";
    char *whole = ts_strf("%s%s", first, second);
    run_result ref = run_dedup("restore_reference", whole, "emit_rejected: true", 0, 1);
    run_result resumed = run_interrupted("restore", first, second, "in.jsonl:4");
    assert_text(resumed.out, ref.out);
    assert_text(resumed.rejected, ref.rejected);
    ck_assert_uint_eq(lines_in(resumed.rejected), 4);
    run_free(&ref);
    run_free(&resumed);
    free(whole);
}
END_TEST

/* ---- the key table, through the driver ----------------------------------- */

START_TEST(table_agrees_with_a_plain_reference_through_sweeps_and_resizes)
{
    /* Phases of many and few live event ids, so the table grows, sweeps and
     * shrinks; each event's verdict against a brute-force reference. */
    enum { KEYS = 6000, STEPS = 120000, PHASE = 20000 };
    const int64_t ttl = 2000;
    int64_t *expires = malloc(KEYS * sizeof *expires);
    for (size_t k = 0; k < KEYS; k++)
        expires[k] = INT64_MIN;
    sluice_harness *h = ts_harness("operator-dedup.so", "ttl: 2s", -1);
    sluice_harness_max_out_of_order(h, 0);
    uint64_t rng = 7;
    int64_t ts = 0, max_bytes = 0, duplicates = 0;
    for (size_t step = 0; step < STEPS; step++) {
        unsigned universe = (step / PHASE) % 2 ? 200 : KEYS;
        unsigned k = (unsigned)(lcg_next(&rng) % universe);
        ts += (int64_t)(lcg_next(&rng) % 3);
        int want_dup = expires[k] != INT64_MIN && ts < expires[k]; /* the watermark is ts */
        if (!want_dup)
            expires[k] = ts + ttl;
        duplicates += want_dup;
        char line[96];
        snprintf(line, sizeof line, "{\"user_id\":\"u\",\"url\":\"/\",\"ts\":%lld,\"event_id\":\"k%u\"}",
                 (long long)ts, k);
        ck_assert_int_eq(sluice_harness_push(h, line), 0);
        if (step % 1000 == 999) {
            ck_assert_msg(sluice_harness_counter(h, "rejected.duplicate") == duplicates,
                          "step %zu: %lld, want %lld", step,
                          (long long)sluice_harness_counter(h, "rejected.duplicate"), (long long)duplicates);
            int64_t bytes = sluice_harness_counter(h, "state.bytes");
            if (bytes > max_bytes)
                max_bytes = bytes;
            sluice_harness_clear(h);
        }
    }
    /* It grew for the big phases and gave the memory back in the small one. */
    ck_assert_int_ge(max_bytes, 1024 * 16);
    ck_assert_int_le(sluice_harness_counter(h, "state.bytes"), max_bytes / 4);
    sluice_harness_free(h);
    free(expires);
}
END_TEST

START_TEST(memory_per_live_key_stays_within_64_bytes)
{
    /* A steady stream of new keys: one per ms, ttl 20s, watermark 5s behind,
     * so about 20000 keys are live. Measure from the first expiry on. */
    enum { N = 100000 };
    const int64_t ttl = 20000, ooo = 5000;
    sluice_harness *h = ts_harness("operator-dedup.so", "ttl: 20s", -1);
    sluice_harness_max_out_of_order(h, ooo);
    double worst = 0;
    for (int64_t i = 0; i < N; i++) {
        char line[96];
        snprintf(line, sizeof line,
                 "{\"user_id\":\"u\",\"url\":\"/\",\"ts\":%lld,\"event_id\":\"event-%lld\"}", (long long)i,
                 (long long)i);
        ck_assert_int_eq(sluice_harness_push(h, line), 0);
        if (i > ttl + ooo && i % 97 == 0) {
            int64_t live = sluice_harness_counter(h, "state.keys"); /* delivers the batch */
            ck_assert_int_ge(live, ttl - 1);
            double per_key = (double)sluice_harness_counter(h, "state.bytes") / (double)live;
            if (per_key > worst)
                worst = per_key;
            sluice_harness_clear(h);
        }
    }
    ck_assert_int_eq(sluice_harness_counter(h, "rejected.duplicate"), 0);
    ck_assert_msg(worst <= 64.0, "%.1f bytes per live key", worst);
    sluice_harness_free(h);
}
END_TEST

START_TEST(keys_separate_kinds_and_field_boundaries)
{
    /* Same bytes split differently, or another kind of key: all new. */
    sluice_harness *h = ts_harness("operator-dedup.so", "", -1);
    const char *events[] = {
        "{\"user_id\":\"ab\",\"url\":\"c\",\"ts\":10}",
        "{\"user_id\":\"a\",\"url\":\"bc\",\"ts\":10}",
        "{\"user_id\":\"ab\",\"url\":\"c\",\"ts\":11}",
        "{\"user_id\":\"u\",\"url\":\"/\",\"ts\":10,\"event_id\":\"abc\"}",
        "{\"user_id\":\"u\",\"url\":\"/\",\"ts\":10,\"event_id\":\"abd\"}",
        "{\"user_id\":\"u\",\"url\":\"/\",\"ts\":10,\"event_id\":\"\"}",
        "{\"user_id\":\"ab|c\",\"url\":\"/\",\"ts\":10}",
        "{\"user_id\":\"ab\",\"url\":\"c|/\",\"ts\":10}",
    };
    for (size_t i = 0; i < sizeof events / sizeof *events; i++)
        ck_assert_int_eq(sluice_harness_push(h, events[i]), 0);
    ck_assert_uint_eq(sluice_harness_count(h, "main"), sizeof events / sizeof *events);
    ck_assert_int_eq(sluice_harness_counter(h, "rejected.duplicate"), 0);
    sluice_harness_free(h);
}
END_TEST

/* ---- snapshots ------------------------------------------------------------ */

/* 500 event ids k0..k499, k first seen at ts k with ttl 1s: k expires when
 * the watermark reaches 1000 + k. */
static sluice_harness *sample_keys(void)
{
    sluice_harness *h = ts_harness("operator-dedup.so", "ttl: 1s", -1);
    for (int k = 0; k < 500; k++) {
        char line[96];
        snprintf(line, sizeof line, "{\"user_id\":\"u\",\"url\":\"/\",\"ts\":%d,\"event_id\":\"k%d\"}", k, k);
        ck_assert_int_eq(sluice_harness_push(h, line), 0);
    }
    ck_assert_int_eq(sluice_harness_counter(h, "state.keys"), 500);
    return h;
}

START_TEST(snapshot_round_trip_keeps_keys_and_their_expiry)
{
    sluice_harness *h = sample_keys();
    ck_assert_msg(sluice_harness_restart(h) == 0, "%s", sluice_harness_error(h));
    ck_assert_int_eq(sluice_harness_counter(h, "state.keys"), 500);
    /* At watermark 1250 keys k0..k250 have expired, k251..k499 have not. */
    ck_assert_int_eq(sluice_harness_watermark(h, 1250), 0);
    sluice_harness_clear(h);
    for (int k = 0; k < 500; k++) {
        char line[96];
        snprintf(line, sizeof line, "{\"user_id\":\"u\",\"url\":\"/\",\"ts\":5000,\"event_id\":\"k%d\"}", k);
        ck_assert_int_eq(sluice_harness_push(h, line), 0);
    }
    ck_assert_uint_eq(sluice_harness_count(h, "main"), 251);
    ck_assert_str_eq(sluice_harness_field(h, "main", 250, "event_id"), "k250");
    ck_assert_int_eq(sluice_harness_counter(h, "rejected.duplicate"), 249);
    sluice_harness_free(h);
}
END_TEST

START_TEST(snapshot_of_another_version_or_malformed_is_refused)
{
    sluice_harness *h = sample_keys();
    sluice_snapshot snap;
    ck_assert_msg(sluice_harness_snapshot(h, &snap) == 0, "%s", sluice_harness_error(h));
    sluice_harness_free(h);

    sluice_snapshot other = snap;
    other.encoding_version = snap.encoding_version + 1;
    h = ts_harness("operator-dedup.so", "ttl: 1s", -1);
    ck_assert_int_eq(sluice_harness_restore(h, &other), -1);
    ck_assert_msg(strstr(sluice_harness_error(h), "refused the snapshot") != NULL, "%s",
                  sluice_harness_error(h));
    sluice_harness_free(h);
    const size_t sizes[] = {snap.size - 1, 4}; /* truncated; shorter than its header */
    for (size_t i = 0; i < 2; i++) {
        other = snap;
        other.size = sizes[i];
        h = ts_harness("operator-dedup.so", "ttl: 1s", -1);
        ck_assert_msg(sluice_harness_restore(h, &other) == -1, "%zu bytes: accepted", sizes[i]);
        sluice_harness_free(h);
    }
    free(snap.data);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("dedup");
    TCase *driver = tcase_create("through_the_test_driver");
    tcase_add_test(driver, same_event_id_is_a_duplicate_whatever_the_other_fields);
    tcase_add_test(driver, without_event_id_the_key_is_user_url_and_ts);
    tcase_add_test(driver, key_expires_when_the_watermark_reaches_first_ts_plus_ttl);
    tcase_add_test(driver, an_event_that_renews_an_expired_key_starts_its_ttl_again);
    tcase_add_test(driver, emit_rejected_sends_duplicates_as_dead_letters);
    tcase_add_test(driver, without_emit_rejected_duplicates_are_only_counted);
    tcase_add_test(driver, keys_survive_a_restart_of_the_instance);
    tcase_add_test(driver, the_watermark_alone_expires_keys_between_batches);
    suite_add_tcase(s, driver);

    TCase *binary = tcase_create("through_the_binary");
    tcase_set_timeout(binary, 120);
    tcase_add_test(binary, batch_sizes_give_identical_output_matching_the_reference);
    tcase_add_test(binary, keys_survive_a_restart_from_a_state_checkpoint);
    suite_add_tcase(s, binary);

    TCase *table = tcase_create("key_table");
    tcase_set_timeout(table, 120);
    tcase_add_test(table, table_agrees_with_a_plain_reference_through_sweeps_and_resizes);
    tcase_add_test(table, memory_per_live_key_stays_within_64_bytes);
    tcase_add_test(table, keys_separate_kinds_and_field_boundaries);
    tcase_add_test(table, snapshot_round_trip_keeps_keys_and_their_expiry);
    tcase_add_test(table, snapshot_of_another_version_or_malformed_is_refused);
    suite_add_tcase(s, table);
    return ts_run_suite(s);
}
