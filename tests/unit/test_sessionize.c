/* The sessionize operator (docs/semantics.md sections 4 and 6). Its rules
 * run through the test driver (sluice/testing.h): the plugin as built,
 * records pushed with the watermark a source computes, each output, key and
 * counter read back, snapshots restored into fresh instances. Batch-size
 * independence and a restart from a state checkpoint run through the real
 * `sluice` binary (file source -> sessionize -> file sinks). */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sluice/testing.h"
#include "test_support.h"

#define assert_text(got, want)                                                     \
    do {                                                                           \
        const char *got_ = (got), *want_ = (want);                                 \
        ck_assert_msg(strcmp(got_, want_) == 0, "got:\n%swant:\n%s", got_, want_); \
    } while (0)

/* What the driver collected: the outputs as JSON lines, the sessions as
 * "key<TAB>json" lines, and the counters the rules are about. */
typedef struct driven {
    char *out, *rejected, *keyed;
    int64_t too_late, keys, urls, users, user_bytes;
} driven;

/* Input through a fresh sessionize (options: a YAML flow-map body), then
 * the end of the input. */
static driven drive_sessions(const char *input, const char *options, int64_t ooo_ms)
{
    sluice_harness *h = ts_harness("operator-sessionize.so", options, ooo_ms);
    ts_harness_push_lines(h, input);
    ck_assert_msg(sluice_harness_end(h) == 0, "%s", sluice_harness_error(h));
    driven r = {strdup(sluice_harness_output_text(h, "main")),
                strdup(sluice_harness_output_text(h, "rejected")),
                NULL,
                sluice_harness_counter(h, "rejected.too_late"),
                sluice_harness_counter(h, "state.keys"),
                sluice_harness_counter(h, "state.urls"),
                sluice_harness_counter(h, "state.users"),
                sluice_harness_counter(h, "state.user_bytes")};
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
    char *out;      /* sessionize's main output */
    char *rejected; /* its dead letters */
    char *timeline; /* input events, sessions and dead letters in source order */
} run_result;

/* Run input through sessionize (with `options`, a YAML flow-map body) in its
 * own folder under the test's tmpdir, by the binary. */
static run_result run_sessions(const char *folder, const char *input, const char *options, long long ooo_ms,
                               int batch_size)
{
    char *dir = ts_strf("%s/%s", ts_tmpdir(), folder);
    mkdir(dir, 0755);
    char *in = ts_strf("%s/in.jsonl", dir);
    ts_write_file(in, input);
    /* One instance: these tests pin the plugin's own emission order (tasks
     * interleave their users' sessions; test_tasks.c covers that). */
    char *yaml = ts_strf("name: sessionize_test\n"
                         "batch_size: %d\n"
                         "partitions: 1\n"
                         "steps:\n"
                         "  - name: clicks\n"
                         "    plugin: file\n"
                         "    options: {path: in.jsonl}\n"
                         "    event: {max_future: off, max_out_of_order: %lldms}\n"
                         "  - name: sessions\n"
                         "    plugin: sessionize\n"
                         "    input: clicks\n"
                         "    options: {%s}\n"
                         "  - name: out\n"
                         "    plugin: file\n"
                         "    input: sessions\n"
                         "    options: {path: out.jsonl, truncate: true}\n"
                         "  - name: dead\n"
                         "    plugin: file\n"
                         "    input: sessions.rejected\n"
                         "    options: {path: rejected.jsonl, truncate: true}\n"
                         "  - name: timeline\n"
                         "    plugin: file\n"
                         "    input: [clicks, sessions, sessions.rejected]\n"
                         "    options: {path: timeline.jsonl, truncate: true}\n",
                         batch_size, ooo_ms, options);
    char *pipeline = ts_strf("%s/p.yaml", dir);
    ts_write_file(pipeline, yaml);
    char *cmd = ts_strf("cd '%s' && '%s' run p.yaml", dir, SLUICE_BIN);
    char *err = NULL;
    int rc = ts_run(cmd, NULL, &err);
    ck_assert_msg(rc == 0, "sluice failed (%d): %s", rc, err ? err : "");
    run_result r;
    const char *names[] = {"out.jsonl", "rejected.jsonl", "timeline.jsonl"};
    char **slots[] = {&r.out, &r.rejected, &r.timeline};
    for (size_t i = 0; i < 3; i++) {
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
    free(r->timeline);
}

/* An input event (also how it appears in the timeline: passed on verbatim). */
#define EV(user, url, ts) "{\"user_id\":\"" user "\",\"url\":\"" url "\",\"ts\":" #ts "}\n"
#define SESSION(user, start, end, dur, clicks, urls, entry, exit, n, avg)                               \
    "{\"kind\":\"session\",\"user_id\":\"" user "\",\"session_start\":" #start ",\"session_end\":" #end \
    ",\"duration_ms\":" #dur ",\"clicks\":" #clicks ",\"unique_urls\":" #urls ",\"entry_url\":\"" entry \
    "\",\"exit_url\":\"" exit "\",\"user_sessions\":" #n ",\"user_avg_duration_ms\":" avg "}\n"
#define TOO_LATE(ts, wm, lateness, n, raw)                                          \
    "{\"reason\":\"too_late\",\"detail\":\"ts " #ts " is older than watermark " #wm \
    " minus allowed_lateness " #lateness " ms\",\"origin\":\"push:" #n "\",\"raw\":\"" raw "\"}\n"
#define RAW(user, url, ts) "{\\\"user_id\\\":\\\"" user "\\\",\\\"url\\\":\\\"" url "\\\",\\\"ts\\\":" #ts "}"

START_TEST(one_click_session_lasts_zero)
{
    driven r = drive_sessions(EV("u1", "/a", 5000), "gap: 10s", 0);
    assert_text(r.out, SESSION("u1", 5000, 5000, 0, 1, 1, "/a", "/a", 1, "0.0"));
    driven_free(&r);
}
END_TEST

START_TEST(kafka_key_is_the_user_id)
{
    driven r =
        drive_sessions(EV("u|1", "/a", 1000) "{\"user_id\":42,\"url\":\"/b\",\"ts\":2000}\n", "gap: 10s", 0);
    char *want = ts_strf("u|1\t%s42\t%s", SESSION("u|1", 1000, 1000, 0, 1, 1, "/a", "/a", 1, "0.0"),
                         SESSION("42", 2000, 2000, 0, 1, 1, "/b", "/b", 1, "0.0"));
    assert_text(r.keyed, want);
    free(want);
    driven_free(&r);
}
END_TEST

START_TEST(gap_exactly_equal_joins_and_one_more_ms_splits)
{
    /* 10s gap: 0 -> 10000 is exactly the gap (one session), 10000 -> 20001
     * is one ms more (a new one). */
    driven r = drive_sessions(EV("u1", "/a", 0) EV("u1", "/b", 10000) EV("u1", "/c", 20001), "gap: 10s", 0);
    assert_text(r.out, SESSION("u1", 0, 10000, 10000, 2, 2, "/a", "/b", 1, "10000.0")
                           SESSION("u1", 20001, 20001, 0, 1, 1, "/c", "/c", 2, "5000.0"));
    driven_free(&r);
}
END_TEST

START_TEST(out_of_order_event_extends_the_start)
{
    /* 5s out of order allowed: the event at 7000 arrives after 10000 and
     * becomes the entry; a repeated URL counts once in unique_urls. */
    driven r =
        drive_sessions(EV("u1", "/b", 10000) EV("u1", "/c", 12000) EV("u1", "/a", 7000) EV("u1", "/b", 11000),
                       "gap: 10s", 5000);
    assert_text(r.out, SESSION("u1", 7000, 12000, 5000, 4, 3, "/a", "/c", 1, "5000.0"));
    ck_assert_str_eq(r.rejected, "");
    driven_free(&r);
}
END_TEST

START_TEST(late_event_bridging_two_open_sessions_merges_them)
{
    /* gap 10s, lateness 30s: [0, 1000] and [20000, 21000] are two sessions
     * (19s apart) until the late event at 10500 arrives, within 10s of both;
     * u2 keeps the watermark moving without releasing either. */
    driven r =
        drive_sessions(EV("u1", "/a", 0) EV("u1", "/b", 1000) EV("u1", "/c", 20000) EV("u1", "/d", 21000)
                           EV("u2", "/x", 30000) EV("u1", "/bridge", 10500) EV("u1", "/b", 10600),
                       "gap: 10s, allowed_lateness: 30s", 0);
    assert_text(r.out, SESSION("u1", 0, 21000, 21000, 6, 5, "/a", "/d", 1, "21000.0")
                           SESSION("u2", 30000, 30000, 0, 1, 1, "/x", "/x", 1, "0.0"));
    ck_assert_str_eq(r.rejected, "");
    driven_free(&r);
}
END_TEST

START_TEST(entry_and_exit_ties_are_broken_by_arrival)
{
    /* Several clicks share the first and the last ts: the earliest arrival
     * at the smallest ts is the entry, the latest arrival at the largest ts
     * the exit - also when the ties come from two sessions a late event
     * merges (the right-hand session's ties and the left one's). */
    driven r = drive_sessions(EV("u1", "/first", 1000) EV("u1", "/second", 1000) EV("u1", "/mid", 2000)
                                  EV("u1", "/exit1", 3000) EV("u1", "/exit2", 3000) EV("u2", "/left1", 100000)
                                      EV("u2", "/left2", 100000) EV("u2", "/right1", 120000)
                                          EV("u2", "/right2", 120000) EV("u2", "/bridge", 110000),
                              "gap: 10s, allowed_lateness: 1m", 0);
    assert_text(r.out, SESSION("u1", 1000, 3000, 2000, 5, 5, "/first", "/exit2", 1, "2000.0")
                           SESSION("u2", 100000, 120000, 20000, 5, 5, "/left1", "/right2", 1, "20000.0"));
    /* An out-of-order click at the same ts as the current entry arrives
     * later, so it does not take the entry over. */
    driven_free(&r);
    r = drive_sessions(EV("u1", "/x", 5000) EV("u1", "/y", 6000) EV("u1", "/z", 5000), "gap: 10s", 5000);
    assert_text(r.out, SESSION("u1", 5000, 6000, 1000, 3, 3, "/x", "/y", 1, "1000.0"));
    driven_free(&r);
}
END_TEST

START_TEST(session_is_emitted_only_once_the_watermark_passes_end_plus_gap_plus_lateness)
{
    /* gap 10s, lateness 5s, no disorder: the u1 session [1000, 1000] is due
     * when the watermark passes 16000. At 16000 exactly it is still open (a
     * click at 11000 would be accepted and join it): it is emitted right
     * after the event at 16001. */
    driven r = drive_sessions(EV("u1", "/a", 1000) EV("u2", "/b", 11000) EV("u2", "/c", 16000)
                                  EV("u1", "/d", 11000) EV("u3", "/e", 16001) EV("u3", "/f", 16002),
                              "gap: 10s, allowed_lateness: 5s", 0);
    /* u1's click at 11000 = 1000 + gap joined at watermark 16000, so the
     * session now ends at 11000 and is due after 26000: end of input. */
    const char *s_u1 = SESSION("u1", 1000, 11000, 10000, 2, 2, "/a", "/d", 1, "10000.0");
    const char *s_u2 = SESSION("u2", 11000, 16000, 5000, 2, 2, "/b", "/c", 1, "5000.0");
    const char *s_u3 = SESSION("u3", 16001, 16002, 1, 2, 2, "/e", "/f", 1, "1.0");
    char *want = ts_strf("%s%s%s", s_u1, s_u2, s_u3);
    assert_text(r.out, want);
    free(want);
    driven_free(&r);

    /* Same without the joining click: released by 16001, not by 16000. */
    sluice_harness *h = ts_harness("operator-sessionize.so", "gap: 10s, allowed_lateness: 5s", 0);
    ts_harness_push_lines(h, EV("u1", "/a", 1000) EV("u2", "/c", 16000));
    ck_assert_uint_eq(sluice_harness_count(h, "main"), 0);
    ts_harness_push_lines(h, EV("u3", "/e", 16001));
    assert_text(sluice_harness_output_text(h, "main"),
                SESSION("u1", 1000, 1000, 0, 1, 1, "/a", "/a", 1, "0.0"));
    ck_assert_int_eq(sluice_harness_end(h), 0);
    assert_text(sluice_harness_output_text(h, "main"),
                SESSION("u1", 1000, 1000, 0, 1, 1, "/a", "/a", 1, "0.0")
                    SESSION("u2", 16000, 16000, 0, 1, 1, "/c", "/c", 1, "0.0")
                        SESSION("u3", 16001, 16001, 0, 1, 1, "/e", "/e", 1, "0.0"));
    sluice_harness_free(h);
}
END_TEST

START_TEST(too_late_is_judged_at_the_exact_boundary)
{
    /* Lateness 2s, no disorder: after 10000 the watermark is 10000; an event
     * at 8000 (= watermark - lateness) is accepted, 7999 is too late. */
    driven r = drive_sessions(EV("u1", "/a", 10000) EV("u1", "/b", 8000) EV("u2", "/c", 7999),
                              "gap: 2s, allowed_lateness: 2s", 0);
    assert_text(r.out, SESSION("u1", 8000, 10000, 2000, 2, 2, "/b", "/a", 1, "2000.0"));
    assert_text(r.rejected, TOO_LATE(7999, 10000, 2000, 3, RAW("u2", "/c", 7999)));
    ck_assert_int_eq(r.too_late, 1);
    driven_free(&r);
}
END_TEST

START_TEST(running_average_covers_every_session_of_the_user_so_far)
{
    /* u1's sessions last 1000, 0 and 2500 ms: averages 1000, 500 and
     * 3500/3; u2's own count starts at 1 in between. */
    driven r =
        drive_sessions(EV("u1", "/a", 0) EV("u1", "/b", 1000) EV("u2", "/x", 5000) EV("u1", "/c", 20000)
                           EV("u1", "/d", 40000) EV("u1", "/e", 42500) EV("u2", "/y", 60000),
                       "gap: 5s", 0);
    assert_text(r.out, SESSION("u1", 0, 1000, 1000, 2, 2, "/a", "/b", 1,
                               "1000.0") SESSION("u2", 5000, 5000, 0, 1, 1, "/x", "/x", 1, "0.0")
                           SESSION("u1", 20000, 20000, 0, 1, 1, "/c", "/c", 2, "500.0")
                               SESSION("u1", 40000, 42500, 2500, 2, 2, "/d", "/e", 3, "1166.6666666666667")
                                   SESSION("u2", 60000, 60000, 0, 1, 1, "/y", "/y", 2, "0.0"));
    driven_free(&r);
}
END_TEST

START_TEST(integer_user_ids_are_their_decimal_text)
{
    /* 7 and "7" are one user; "07" is another. */
    driven r = drive_sessions("{\"user_id\":7,\"url\":\"/a\",\"ts\":1000}\n"
                              "{\"user_id\":\"7\",\"url\":\"/b\",\"ts\":2000}\n"
                              "{\"user_id\":\"07\",\"url\":\"/c\",\"ts\":2000}\n",
                              "gap: 10s", 0);
    assert_text(r.out, SESSION("07", 2000, 2000, 0, 1, 1, "/c", "/c", 1, "0.0")
                           SESSION("7", 1000, 2000, 1000, 2, 2, "/a", "/b", 1, "1000.0"));
    driven_free(&r);
}
END_TEST

START_TEST(end_of_input_emits_everything_by_end_then_user_then_start)
{
    /* All still open at the end: ordered by session_end, then user bytes
     * ("B" < "a" < "ab"), then session_start; state is empty afterwards. */
    driven r = drive_sessions(EV("ab", "/1", 100) EV("a", "/2", 200) EV("B", "/3", 150) EV("B", "/4", 200)
                                  EV("a", "/5", 50) EV("zz", "/6", 300),
                              "gap: 1h", 1000);
    assert_text(r.out, SESSION("ab", 100, 100, 0, 1, 1, "/1", "/1", 1, "0.0")
                           SESSION("B", 150, 200, 50, 2, 2, "/3", "/4", 1, "50.0")
                               SESSION("a", 50, 200, 150, 2, 2, "/5", "/2", 1, "150.0")
                                   SESSION("zz", 300, 300, 0, 1, 1, "/6", "/6", 1, "0.0"));
    ck_assert_int_eq(r.keys, 0);
    ck_assert_int_eq(r.urls, 0);
    /* The users and their running averages stay, and are reported apart. */
    ck_assert_int_eq(r.users, 4);
    ck_assert_int_gt(r.user_bytes, 0);
    driven_free(&r);
}
END_TEST

START_TEST(end_of_input_flush_in_chunks_keeps_every_session_in_order)
{
    /* 10,000 users each with one open session at the end: more than one
     * chunk of the end-of-input flush. All arrive, once, in emission order
     * (by end: each user's one click is 1 ms after the previous one). */
    size_t users = 10000;
    char *input = calloc(users, 64);
    size_t len = 0;
    for (size_t u = 0; u < users; u++)
        len +=
            (size_t)sprintf(input + len, "{\"user_id\":\"u%05zu\",\"url\":\"/x\",\"ts\":%zu}\n", u, 1000 + u);
    driven r = drive_sessions(input, "gap: 1h", 0);
    size_t lines = 0;
    long long last_end = -1;
    for (char *line = strtok(r.out, "\n"); line; line = strtok(NULL, "\n")) {
        char *end = strstr(line, "\"session_end\":");
        ck_assert_ptr_nonnull(end);
        long long e = atoll(end + 14);
        ck_assert_msg(e > last_end, "session_end %lld after %lld", e, last_end);
        last_end = e;
        lines++;
    }
    ck_assert_uint_eq(lines, users);
    ck_assert_int_eq(last_end, 1000 + (long long)users - 1);
    driven_free(&r);
    free(input);
}
END_TEST

static uint64_t lcg_next(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return *s >> 33;
}

START_TEST(batch_sizes_give_identical_output)
{
    enum { N = 6000 };
    char *input = malloc(N * 80);
    size_t len = 0;
    uint64_t rng = 7;
    long long clock = 1000000;
    for (int i = 0; i < N; i++) {
        clock += (long long)(lcg_next(&rng) % 40);
        long long ts = clock - (long long)(lcg_next(&rng) % 6000); /* up to 6s behind */
        len += (size_t)sprintf(input + len, "{\"user_id\":\"u%u\",\"url\":\"/p%u\",\"ts\":%lld}\n",
                               (unsigned)(lcg_next(&rng) % 40), (unsigned)(lcg_next(&rng) % 30), ts);
    }
    const char *options = "gap: 2s, allowed_lateness: 1500ms";
    run_result first = run_sessions("batches_1", input, options, 2000, 1);
    const int sizes[] = {7, 4096};
    for (size_t i = 0; i < 2; i++) {
        char *folder = ts_strf("batches_%d", sizes[i]);
        run_result other = run_sessions(folder, input, options, 2000, sizes[i]);
        ck_assert_msg(strcmp(first.out, other.out) == 0, "batch size %d: output differs", sizes[i]);
        ck_assert_msg(strcmp(first.rejected, other.rejected) == 0, "batch size %d: dead letters differ",
                      sizes[i]);
        ck_assert_msg(strcmp(first.timeline, other.timeline) == 0, "batch size %d: emission points differ",
                      sizes[i]);
        run_free(&other);
        free(folder);
    }
    /* The stream exercises both outcomes, and every click is in exactly one
     * session or one dead letter. */
    size_t too_late = 0, sessions = 0;
    long long clicks = 0;
    for (const char *p = first.rejected; *p; p++)
        too_late += *p == '\n';
    for (const char *p = strstr(first.out, "\"clicks\":"); p; p = strstr(p + 1, "\"clicks\":")) {
        clicks += atoll(p + 9);
        sessions++;
    }
    ck_assert_uint_gt(too_late, 0);
    ck_assert_uint_gt(sessions, 100);
    ck_assert_int_eq(clicks + (long long)too_late, N);
    run_free(&first);
    free(input);
}
END_TEST

/* ---- state checkpoints ---------------------------------------------------- */

/* Run `first` with a state_dir until its last line (too late: its dead letter
 * is the `marker`) has been handled, stop sluice, append `second` and run
 * again: the second run starts from the checkpoint taken at the stop. */
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
    char *yaml = ts_strf("name: sessionize_restore\n"
                         "state_dir: '%s/state'\n"
                         "partitions: 1\n"
                         "steps:\n"
                         "  - name: clicks\n"
                         "    plugin: file\n"
                         "    options:\n"
                         "      path: in.jsonl\n"
                         "      follow: ${FOLLOW}\n"
                         "    event: {max_future: off, max_out_of_order: 0ms}\n"
                         "  - name: sessions\n"
                         "    plugin: sessionize\n"
                         "    input: clicks\n"
                         "    options: {%s}\n"
                         "  - name: out\n"
                         "    plugin: file\n"
                         "    input: sessions\n"
                         "    options: {path: out.jsonl, flush_interval: 0}\n"
                         "  - name: dead\n"
                         "    plugin: file\n"
                         "    input: sessions.rejected\n"
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
    ck_assert(r.out != NULL && r.rejected != NULL);
    free(err);
    free(cmd);
    free(yaml);
    free(dir);
    return r;
}

START_TEST(open_sessions_and_user_averages_survive_a_restart_from_a_state_checkpoint)
{
    /* At the stop u1 has one emitted session (2000 ms) and two open ones,
     * [30000] and [42000], and u2 one open. After the restart a late click
     * bridges u1's two, u2's grows: only restored sessions, URLs and running
     * totals give the same output as one uninterrupted run. */
    const char *first = EV("u1", "/a", 1000) EV("u1", "/b", 3000) EV("u1", "/c", 30000) EV("u1", "/d", 42000)
        EV("u2", "/x", 40000) EV("u3", "/late", 20000);
    const char *second =
        EV("u1", "/bridge", 38000) EV("u2", "/y", 45000) EV("u1", "/c", 40000) EV("u4", "/z", 100000);
    const char *options = "gap: 10s, allowed_lateness: 5s";
    char *whole = ts_strf("%s%s", first, second);
    run_result ref = run_sessions("restore_reference", whole, options, 0, 1);
    run_result resumed = run_interrupted("restore", first, second, options, "in.jsonl:6");
    assert_text(resumed.out, ref.out);
    assert_text(resumed.rejected, ref.rejected);
    assert_text(ref.out, SESSION("u1", 1000, 3000, 2000, 2, 2, "/a", "/b", 1, "2000.0")
                             SESSION("u1", 30000, 42000, 12000, 4, 3, "/c", "/d", 2, "7000.0")
                                 SESSION("u2", 40000, 45000, 5000, 2, 2, "/x", "/y", 1, "5000.0")
                                     SESSION("u4", 100000, 100000, 0, 1, 1, "/z", "/z", 1, "0.0"));
    run_free(&ref);
    run_free(&resumed);
    free(whole);
}
END_TEST

/* ---- snapshots ------------------------------------------------------------ */

/* gap 10s: u1 with one emitted session (1000..2000) and two open ones,
 * [30000] and [50000], u2 with one open, u3 with one open past the inline
 * URL set (12 URLs); URLs shared between sessions. */
static sluice_harness *sample_store(void)
{
    sluice_harness *h =
        ts_harness("operator-sessionize.so", "gap: 10s", 3600000); /* the watermark moves by hand */
    ts_harness_push_lines(h, EV("u1", "/a", 1000) EV("u1", "/b", 2000));
    ck_assert_int_eq(sluice_harness_watermark(h, 12001), 0); /* 2000 + gap passed: emitted */
    ck_assert_uint_eq(sluice_harness_count(h, "main"), 1);
    ts_harness_push_lines(h, EV("u1", "/a", 30000) EV("u1", "/c", 50000) EV("u2", "/a", 31000));
    for (int i = 0; i < 12; i++) {
        char *line = ts_strf("{\"user_id\":\"u3\",\"url\":\"/many%d\",\"ts\":%d}\n", i, 40000 + i);
        ts_harness_push_lines(h, line);
        free(line);
    }
    sluice_harness_clear(h);
    return h;
}

START_TEST(snapshot_round_trip_keeps_sessions_urls_and_running_totals)
{
    sluice_harness *h = sample_store();
    sluice_snapshot snap, again;
    ck_assert_msg(sluice_harness_snapshot(h, &snap) == 0, "%s", sluice_harness_error(h));
    ck_assert_msg(sluice_harness_restart(h) == 0, "%s", sluice_harness_error(h));
    ck_assert_int_eq(sluice_harness_counter(h, "state.keys"), 4);
    ck_assert_int_eq(sluice_harness_counter(h, "state.urls"), 14); /* /b left with the emitted session */
    ck_assert_int_eq(sluice_harness_counter(h, "state.users"), 3);
    /* Written again, the restored state gives the same bytes. */
    ck_assert_msg(sluice_harness_snapshot(h, &again) == 0, "%s", sluice_harness_error(h));
    ck_assert_uint_eq(again.size, snap.size);
    ck_assert(memcmp(again.data, snap.data, snap.size) == 0);
    /* And behaves the same: a click bridging u1's two open sessions merges
     * them, keeping the first's entry; u1's running totals carry on
     * (sessions of 1000 and 20000 ms). By session end at the end. */
    ts_harness_push_lines(h, EV("u1", "/a", 40000));
    ck_assert_int_eq(sluice_harness_counter(h, "state.keys"), 3);
    ck_assert_int_eq(sluice_harness_end(h), 0);
    assert_text(sluice_harness_output_text(h, "main"),
                SESSION("u2", 31000, 31000, 0, 1, 1, "/a", "/a", 1, "0.0")
                    SESSION("u3", 40000, 40011, 11, 12, 12, "/many0", "/many11", 1, "11.0")
                        SESSION("u1", 30000, 50000, 20000, 3, 2, "/a", "/c", 2, "10500.0"));
    free(snap.data);
    free(again.data);
    sluice_harness_free(h);
}
END_TEST

START_TEST(snapshot_of_another_version_gap_or_malformed_is_refused)
{
    sluice_harness *h = sample_store();
    sluice_snapshot snap;
    ck_assert_msg(sluice_harness_snapshot(h, &snap) == 0, "%s", sluice_harness_error(h));
    sluice_harness_free(h);

    sluice_snapshot other = snap;
    other.encoding_version = snap.encoding_version + 1;
    h = ts_harness("operator-sessionize.so", "gap: 10s", 0);
    ck_assert_int_eq(sluice_harness_restore(h, &other), -1);
    ck_assert_msg(strstr(sluice_harness_error(h), "refused the snapshot") != NULL, "%s",
                  sluice_harness_error(h));
    sluice_harness_free(h);
    h = ts_harness("operator-sessionize.so", "gap: 5s", 0); /* sessions cut with another gap */
    ck_assert_int_eq(sluice_harness_restore(h, &snap), -1);
    sluice_harness_free(h);
    for (size_t cut = 1; cut < snap.size; cut += 3) {
        sluice_snapshot part = snap;
        part.size = snap.size - cut;
        h = ts_harness("operator-sessionize.so", "gap: 10s", 0);
        ck_assert_msg(sluice_harness_restore(h, &part) == -1, "cut by %zu: accepted", cut);
        sluice_harness_free(h);
    }
    free(snap.data);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sessionize");
    TCase *driver = tcase_create("through_the_test_driver");
    tcase_add_test(driver, one_click_session_lasts_zero);
    tcase_add_test(driver, kafka_key_is_the_user_id);
    tcase_add_test(driver, gap_exactly_equal_joins_and_one_more_ms_splits);
    tcase_add_test(driver, out_of_order_event_extends_the_start);
    tcase_add_test(driver, late_event_bridging_two_open_sessions_merges_them);
    tcase_add_test(driver, entry_and_exit_ties_are_broken_by_arrival);
    tcase_add_test(driver, session_is_emitted_only_once_the_watermark_passes_end_plus_gap_plus_lateness);
    tcase_add_test(driver, too_late_is_judged_at_the_exact_boundary);
    tcase_add_test(driver, running_average_covers_every_session_of_the_user_so_far);
    tcase_add_test(driver, integer_user_ids_are_their_decimal_text);
    tcase_add_test(driver, end_of_input_emits_everything_by_end_then_user_then_start);
    tcase_add_test(driver, end_of_input_flush_in_chunks_keeps_every_session_in_order);
    tcase_add_test(driver, snapshot_round_trip_keeps_sessions_urls_and_running_totals);
    tcase_add_test(driver, snapshot_of_another_version_gap_or_malformed_is_refused);
    suite_add_tcase(s, driver);

    TCase *tc = tcase_create("through_the_binary");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, batch_sizes_give_identical_output);
    tcase_add_test(tc, open_sessions_and_user_averages_survive_a_restart_from_a_state_checkpoint);
    suite_add_tcase(s, tc);
    return ts_run_suite(s);
}
