/* The test driver itself (sluice/testing.h): what a plugin author relies on
 * beyond pushing records into an operator. A descriptor linked into the
 * test, explicit event times and watermarks, the wall clock and the timer
 * hook (a plugin of this file's, and the file sink's flush_interval), a
 * source polled through the engine's source side, counters across a
 * restart, and snapshots handed over by hand. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sluice/testing.h"
#include "test_support.h"

/* Exact text comparison that shows both texts when they differ. */
#define assert_text_eq(got, want)                                                  \
    do {                                                                           \
        const char *got_ = (got), *want_ = (want);                                 \
        ck_assert_msg(strcmp(got_, want_) == 0, "got:\n%swant:\n%s", got_, want_); \
    } while (0)

/* ---- a plugin linked into the test -------------------------------------- */

/* `stamp`: for each record, emits {n, time, wm} (how many records it has
 * seen in all, and the record's event time and watermark); every `every`
 * of wall clock its timer emits {tick: now}. n survives a restart. */
typedef struct stamp {
    int64_t n, every;
    sluice_counter *seen;
} stamp;

static const sluice_option_spec stamp_options[] = {
    {sizeof(sluice_option_spec), "every", SLUICE_OPT_DURATION, "1s", 0, "timer period", 0, 0, NULL, 0, 0},
    {0},
};

static void *stamp_create(const sluice_host_api *api, sluice_ctx *ctx, const sluice_options *opts,
                          char *errbuf, size_t errbuf_size)
{
    (void)errbuf, (void)errbuf_size;
    stamp *s = calloc(1, sizeof *s);
    s->every = api->opt_duration_ms(opts, "every");
    s->seen = api->counter(ctx, "seen");
    api->timer_set(ctx, api->now_ms(ctx) + s->every);
    return s;
}

static void stamp_destroy(const sluice_host_api *api, sluice_ctx *ctx, void *self)
{
    (void)api, (void)ctx;
    free(self);
}

static sluice_status stamp_process(const sluice_host_api *api, sluice_ctx *ctx, void *self,
                                   sluice_batch *batch)
{
    stamp *s = self;
    for (const sluice_record *r; (r = api->batch_next(batch)) != NULL;) {
        sluice_record *out = api->record_new(ctx);
        api->set_int(out, "n", ++s->n);
        api->set_int(out, "time", api->record_time(r));
        api->set_int(out, "wm", api->record_watermark(r));
        api->counter_add(s->seen, 1);
        sluice_status st = api->emit(ctx, NULL, out);
        if (st != SLUICE_OK)
            return st;
    }
    return SLUICE_OK;
}

static sluice_status stamp_timer(const sluice_host_api *api, sluice_ctx *ctx, void *self, int64_t now_ms)
{
    stamp *s = self;
    sluice_record *out = api->record_new(ctx);
    api->set_int(out, "tick", now_ms);
    api->timer_set(ctx, now_ms + s->every);
    return api->emit(ctx, NULL, out);
}

static sluice_status stamp_snapshot(const sluice_host_api *api, sluice_ctx *ctx, void *self,
                                    sluice_snapshot *out)
{
    (void)ctx;
    const stamp *s = self;
    out->encoding_version = 1;
    out->size = sizeof s->n;
    out->data = api->alloc(out->size);
    memcpy(out->data, &s->n, sizeof s->n);
    return SLUICE_OK;
}

static sluice_status stamp_restore(const sluice_host_api *api, sluice_ctx *ctx, void *self,
                                   const sluice_snapshot *in)
{
    stamp *s = self;
    if (in->encoding_version != 1 || in->size != sizeof s->n) {
        api->log(ctx, SLUICE_LOG_ERROR, "snapshot encoding %u, %zu bytes: not mine", in->encoding_version,
                 in->size);
        return SLUICE_ERR_STATE;
    }
    memcpy(&s->n, in->data, sizeof s->n);
    return SLUICE_OK;
}

static const sluice_plugin stamp_plugin = {
    .struct_size = sizeof(sluice_plugin),
    .abi_version = SLUICE_ABI_VERSION,
    .name = "stamp",
    .kind = SLUICE_KIND_OPERATOR,
    .version = "1.0.0",
    .description = "emits each record's position, and a tick per timer",
    .options = stamp_options,
    .create = stamp_create,
    .destroy = stamp_destroy,
    .process = stamp_process,
    .snapshot = stamp_snapshot,
    .restore = stamp_restore,
    .timer = stamp_timer,
    .state = SLUICE_STATE_KEPT,
};

static sluice_harness *start_stamp(const char *options)
{
    char err[512];
    sluice_harness *h = sluice_harness_new_descriptor(&stamp_plugin, err, sizeof err);
    ck_assert_msg(h != NULL, "%s", err);
    ck_assert_int_eq(sluice_harness_options(h, options), 0);
    ck_assert_msg(sluice_harness_start(h) == 0, "%s", sluice_harness_error(h));
    return h;
}

#define CLICK(ts) "{\"user_id\":\"u\",\"url\":\"/a\",\"ts\":" #ts "}"

START_TEST(a_descriptor_linked_into_the_test_is_vetted_and_run)
{
    /* Vetted as the loader vets a file: a bad option is refused at start. */
    char err[512];
    sluice_harness *bad = sluice_harness_new_descriptor(&stamp_plugin, err, sizeof err);
    ck_assert_ptr_nonnull(bad);
    ck_assert_int_eq(sluice_harness_options(bad, "{every: soon}"), 0);
    ck_assert_int_eq(sluice_harness_start(bad), -1);
    ck_assert_msg(strstr(sluice_harness_error(bad), "every") != NULL, "%s", sluice_harness_error(bad));
    sluice_harness_free(bad);

    sluice_plugin broken = stamp_plugin;
    broken.abi_version = SLUICE_ABI_VERSION_OF(2, 0);
    ck_assert_ptr_null(sluice_harness_new_descriptor(&broken, err, sizeof err));
    ck_assert_msg(strstr(err, "ABI 2.0") != NULL, "%s", err);

    sluice_harness *h = start_stamp("{}");
    ck_assert_int_eq(sluice_harness_push(h, CLICK(1000)), 0);
    ck_assert_uint_eq(sluice_harness_count(h, "main"), 1);
    ck_assert_str_eq(sluice_harness_field(h, "main", 0, "n"), "1");
    sluice_harness_free(h);
}
END_TEST

START_TEST(push_at_gives_the_event_time_and_the_watermark)
{
    sluice_harness *h = start_stamp("{}");
    /* Both given: they win over the record's ts and the current watermark. */
    ck_assert_int_eq(sluice_harness_push_at(h, CLICK(1000), 5000, 4000), 0);
    /* Neither: the decoded ts, and the watermark stays where it was. */
    ck_assert_int_eq(sluice_harness_push_at(h, CLICK(7000), SLUICE_TIME_MIN, SLUICE_TIME_MIN), 0);
    /* A watermark never moves back. */
    ck_assert_int_eq(sluice_harness_push_at(h, "{\"x\":1}", 3000, 2000), 0);
    ck_assert_int_eq(sluice_harness_current_watermark(h), 4000);
    assert_text_eq(sluice_harness_output_text(h, "main"), "{\"n\":1,\"time\":5000,\"wm\":4000}\n"
                                                          "{\"n\":2,\"time\":7000,\"wm\":4000}\n"
                                                          "{\"n\":3,\"time\":3000,\"wm\":4000}\n");
    sluice_harness_free(h);
}
END_TEST

START_TEST(the_timer_fires_when_the_test_clock_reaches_it)
{
    sluice_harness *h = start_stamp("{every: 1s}");
    /* The clock starts at 0: create asked for 1000. */
    ck_assert_int_eq(sluice_harness_timer_due(h), 1000);
    ck_assert_int_eq(sluice_harness_advance_clock(h, 999), 0);
    ck_assert_uint_eq(sluice_harness_count(h, "main"), 0);
    ck_assert_int_eq(sluice_harness_advance_clock(h, 1), 0);
    ck_assert_uint_eq(sluice_harness_count(h, "main"), 1);
    ck_assert_str_eq(sluice_harness_field(h, "main", 0, "tick"), "1000");
    ck_assert_int_eq(sluice_harness_timer_due(h), 2000);
    /* A jump past several periods fires once, at the new time (as a late
     * wake-up of the run loop does); records pushed before it go first. */
    ck_assert_int_eq(sluice_harness_push(h, CLICK(1)), 0);
    ck_assert_int_eq(sluice_harness_set_clock(h, 5500), 0);
    ck_assert_uint_eq(sluice_harness_count(h, "main"), 3);
    ck_assert_str_eq(sluice_harness_field(h, "main", 1, "n"), "1");
    ck_assert_str_eq(sluice_harness_field(h, "main", 2, "tick"), "5500");
    ck_assert_int_eq(sluice_harness_timer_due(h), 6500);
    sluice_harness_free(h);
}
END_TEST

START_TEST(counters_start_at_zero_after_a_restart_and_state_carries_on)
{
    sluice_harness *h = start_stamp("{}");
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(sluice_harness_push(h, CLICK(1000)), 0);
    ck_assert_int_eq(sluice_harness_counter(h, "in"), 3);
    ck_assert_int_eq(sluice_harness_counter(h, "seen"), 3);
    ck_assert_msg(sluice_harness_restart(h) == 0, "%s", sluice_harness_error(h));
    /* A new process counts from zero; the snapshot brought n back. */
    ck_assert_int_eq(sluice_harness_counter(h, "in"), 0);
    ck_assert_int_eq(sluice_harness_counter(h, "seen"), 0);
    ck_assert_int_eq(sluice_harness_push(h, CLICK(1000)), 0);
    ck_assert_int_eq(sluice_harness_counter(h, "in"), 1);
    ck_assert_int_eq(sluice_harness_counter(h, "out"), 1);
    ck_assert_uint_eq(sluice_harness_count(h, "main"), 4); /* outputs are kept */
    ck_assert_str_eq(sluice_harness_field(h, "main", 3, "n"), "4");
    /* The fresh instance asked for its timer again. */
    ck_assert_int_eq(sluice_harness_timer_due(h), 1000);
    sluice_harness_free(h);
}
END_TEST

START_TEST(a_snapshot_handed_over_by_hand_is_restored_or_refused)
{
    sluice_harness *h = start_stamp("{}");
    ck_assert_int_eq(sluice_harness_push(h, CLICK(1000)), 0);
    ck_assert_int_eq(sluice_harness_push(h, CLICK(1000)), 0);
    sluice_snapshot snap;
    ck_assert_msg(sluice_harness_snapshot(h, &snap) == 0, "%s", sluice_harness_error(h));
    ck_assert_uint_eq(snap.encoding_version, 1);
    ck_assert_uint_eq(snap.size, sizeof(int64_t));

    /* Into another harness: it carries on from n = 2. */
    sluice_harness *other = start_stamp("{}");
    ck_assert_msg(sluice_harness_restore(other, &snap) == 0, "%s", sluice_harness_error(other));
    ck_assert_int_eq(sluice_harness_push(other, CLICK(1000)), 0);
    ck_assert_str_eq(sluice_harness_field(other, "main", 0, "n"), "3");
    sluice_harness_free(other);

    /* Another encoding: refused, and the harness stops as a run would. */
    snap.encoding_version = 2;
    other = start_stamp("{}");
    ck_assert_int_eq(sluice_harness_restore(other, &snap), -1);
    ck_assert_msg(strstr(sluice_harness_error(other), "refused the snapshot (encoding 2, 8 bytes)") != NULL,
                  "%s", sluice_harness_error(other));
    ck_assert_int_eq(sluice_harness_push(other, CLICK(1000)), -1);
    sluice_harness_free(other);
    free(snap.data);
    sluice_harness_free(h);
}
END_TEST

/* ---- the shipped plugins ------------------------------------------------- */

START_TEST(the_file_sink_writes_when_its_flush_interval_timer_fires)
{
    char *path = ts_strf("%s/timer.jsonl", ts_tmpdir());
    char err[512];
    sluice_harness *h = sluice_harness_new(SLUICE_PLUGIN_DIR "/sink-file.so", err, sizeof err);
    ck_assert_msg(h != NULL, "%s", err);
    ck_assert_int_eq(sluice_harness_option(h, "path", path), 0);
    ck_assert_int_eq(sluice_harness_options(h, "{flush_interval: 5s, truncate: true}"), 0);
    ck_assert_msg(sluice_harness_start(h) == 0, "%s", sluice_harness_error(h));
    ck_assert_int_eq(sluice_harness_set_clock(h, 10000), 0);
    ck_assert_int_eq(sluice_harness_push(h, CLICK(1)), 0);
    ck_assert_int_eq(sluice_harness_push(h, CLICK(2)), 0);
    ck_assert_int_eq(sluice_harness_run(h), 0);
    ck_assert_int_eq(sluice_harness_timer_due(h), 15000);
    ck_assert_int_eq(sluice_harness_advance_clock(h, 4999), 0);
    char *text = ts_read_file(path, NULL);
    ck_assert_str_eq(text, "");
    free(text);
    ck_assert_int_eq(sluice_harness_advance_clock(h, 1), 0);
    text = ts_read_file(path, NULL);
    ck_assert_str_eq(text, CLICK(1) "\n" CLICK(2) "\n");
    free(text);
    ck_assert_int_eq(sluice_harness_counter(h, "in"), 2);
    sluice_harness_free(h);
    free(path);
}
END_TEST

START_TEST(poll_reads_a_source_through_the_engine_source_side)
{
    char *dir = ts_strf("%s/poll", ts_tmpdir());
    mkdir(dir, 0755);
    char *path = ts_strf("%s/in.jsonl", dir);
    ts_write_file(path, CLICK(1000) "\nnot json\n" CLICK(9000) "\n");
    char err[512];
    sluice_harness *h = sluice_harness_new(SLUICE_PLUGIN_DIR "/source-file.so", err, sizeof err);
    ck_assert_msg(h != NULL, "%s", err);
    ck_assert_int_eq(sluice_harness_option(h, "path", path), 0);
    ck_assert_msg(sluice_harness_start(h) == 0, "%s", sluice_harness_error(h));
    /* A source reads its own input. */
    ck_assert_int_eq(sluice_harness_push(h, CLICK(1)), -1);
    sluice_harness_free(h);

    h = sluice_harness_new(SLUICE_PLUGIN_DIR "/source-file.so", err, sizeof err);
    ck_assert_int_eq(sluice_harness_option(h, "path", path), 0);
    sluice_harness_max_out_of_order(h, 5000);
    ck_assert_msg(sluice_harness_start(h) == 0, "%s", sluice_harness_error(h));
    ck_assert_int_eq(sluice_harness_poll(h, 2), SLUICE_OK); /* a budget of two lines */
    ck_assert_uint_eq(sluice_harness_count(h, "main"), 1);
    ck_assert_uint_eq(sluice_harness_count(h, "rejected"), 1);
    int rc;
    while ((rc = sluice_harness_poll(h, 2)) == SLUICE_OK)
        ;
    ck_assert_int_eq(rc, SLUICE_END);
    /* Decoded as in a run: the event passes as read, the broken line is a
     * dead letter with its file:line, both counted. */
    ck_assert_str_eq(sluice_harness_record(h, "main", 0), CLICK(1000));
    ck_assert_uint_eq(sluice_harness_count(h, "main"), 2);
    ck_assert_str_eq(sluice_harness_field(h, "rejected", 0, "reason"), "malformed");
    char *origin = ts_strf("%s:2", path);
    ck_assert_str_eq(sluice_harness_field(h, "rejected", 0, "origin"), origin);
    free(origin);
    ck_assert_int_eq(sluice_harness_counter(h, "read"), 3);
    ck_assert_int_eq(sluice_harness_counter(h, "accepted"), 2);
    /* The source side's watermark, 5s out of order allowed. */
    ck_assert_int_eq(sluice_harness_current_watermark(h), 4000);
    sluice_harness_free(h);
    free(path);
    free(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("harness");
    TCase *linked = tcase_create("linked_plugin");
    tcase_add_test(linked, a_descriptor_linked_into_the_test_is_vetted_and_run);
    tcase_add_test(linked, push_at_gives_the_event_time_and_the_watermark);
    tcase_add_test(linked, the_timer_fires_when_the_test_clock_reaches_it);
    tcase_add_test(linked, counters_start_at_zero_after_a_restart_and_state_carries_on);
    tcase_add_test(linked, a_snapshot_handed_over_by_hand_is_restored_or_refused);
    suite_add_tcase(s, linked);

    TCase *shipped = tcase_create("shipped_plugins");
    tcase_add_test(shipped, the_file_sink_writes_when_its_flush_interval_timer_fires);
    tcase_add_test(shipped, poll_reads_a_source_through_the_engine_source_side);
    suite_add_tcase(s, shipped);
    return ts_run_suite(s);
}
