#include <stdlib.h>
#include <string.h>

/* Watermarks over partitions (docs/semantics.md section 4): max ts - max_out_of_order
 * per partition, the minimum over partitions with data, idle partitions
 * stop holding it back, and it never goes back. */
#include "test_support.h"
#include "watermark.h"

START_TEST(single_partition_is_max_ts_minus_out_of_order)
{
    wm_tracker t;
    wm_init(&t, 5000, 30000);
    ck_assert(t.current == SLUICE_TIME_MIN);
    ck_assert_int_eq(wm_observe(&t, 0, 100000, 0), 95000);
    ck_assert_int_eq(wm_observe(&t, 0, 90000, 0), 95000); /* older event: no change */
    ck_assert_int_eq(wm_observe(&t, 0, 100001, 0), 95001);
    wm_free(&t);
}
END_TEST

START_TEST(pipeline_watermark_is_minimum_over_partitions_with_data)
{
    wm_tracker t;
    wm_init(&t, 0, 30000);
    ck_assert_int_eq(wm_observe(&t, 0, 1000, 0), 1000); /* only partition 0 has data */
    ck_assert_int_eq(wm_observe(&t, 1, 500, 0), 1000);  /* never goes back */
    ck_assert_int_eq(wm_observe(&t, 0, 5000, 0), 1000); /* held by partition 1 at 500 */
    ck_assert_int_eq(wm_observe(&t, 1, 3000, 0), 3000);
    ck_assert_int_eq(wm_observe(&t, 1, 9000, 0), 5000); /* now held by partition 0 */
    wm_free(&t);
}
END_TEST

START_TEST(idle_partition_stops_holding_back_and_counts_again_with_data)
{
    wm_tracker t;
    wm_init(&t, 0, 30000);
    wm_observe(&t, 0, 1000, 0);
    wm_observe(&t, 1, 8000, 0);
    ck_assert_int_eq(t.current, 1000);
    ck_assert_int_eq(wm_refresh(&t, 29999), 1000);           /* not idle yet */
    wm_observe(&t, 1, 9000, 20000);                          /* partition 1 is busy */
    ck_assert_int_eq(wm_refresh(&t, 30000), 9000);           /* partition 0 idle since 0 */
    ck_assert_int_eq(wm_observe(&t, 0, 2000, 31000), 9000);  /* back, but no going back */
    ck_assert_int_eq(wm_observe(&t, 1, 20000, 31000), 9000); /* held by partition 0 again */
    ck_assert_int_eq(wm_observe(&t, 0, 15000, 31000), 15000);
    wm_free(&t);
}
END_TEST

START_TEST(idle_timeout_off_never_releases)
{
    wm_tracker t;
    wm_init(&t, 0, -1);
    wm_observe(&t, 0, 1000, 0);
    wm_observe(&t, 1, 8000, 0);
    ck_assert_int_eq(wm_refresh(&t, 1000000000), 1000);
    wm_free(&t);
}
END_TEST

START_TEST(revoked_or_ended_partition_stops_counting)
{
    wm_tracker t;
    wm_init(&t, 0, 30000);
    wm_observe(&t, 0, 1000, 0);
    wm_observe(&t, 1, 8000, 0);
    ck_assert_int_eq(wm_partition_gone(&t, 0), 8000);
    wm_free(&t);
}
END_TEST

START_TEST(assigned_partition_holds_back_until_data_idle_or_end)
{
    wm_tracker t;
    wm_init(&t, 0, 30000);
    wm_partition_assigned(&t, 0, 0);
    wm_partition_assigned(&t, 1, 0);
    ck_assert(wm_observe(&t, 0, 5000, 0) == SLUICE_TIME_MIN); /* 1 may hold older events */
    ck_assert_int_eq(wm_observe(&t, 1, 3000, 0), 3000);
    wm_partition_assigned(&t, 2, 1000);
    ck_assert_int_eq(wm_observe(&t, 0, 9000, 1000), 3000); /* 2 holds it where it is */
    ck_assert_int_eq(wm_observe(&t, 1, 9000, 1000), 3000);
    ck_assert_int_eq(wm_partition_gone(&t, 2), 9000); /* 2 ended empty */
    wm_partition_assigned(&t, 3, 2000);
    ck_assert_int_eq(wm_refresh(&t, 31999), 9000);
    ck_assert_int_eq(wm_observe(&t, 0, 12000, 31999), 9000);
    ck_assert_int_eq(wm_observe(&t, 1, 12000, 31999), 9000); /* 3 still holds */
    ck_assert_int_eq(wm_refresh(&t, 32000), 12000);          /* 3 silent for 30 s */
    wm_free(&t);
}
END_TEST

/* Saved and loaded (a checkpoint without key:), the tracker goes on as
 * if never stopped: the same watermark, and a partition behind the others
 * still holds it back, so an event it would have accepted is not judged
 * late by a minimum over fewer partitions. */
START_TEST(a_saved_tracker_goes_on_where_it_was)
{
    wm_tracker t;
    wm_init(&t, 100, 30000);
    wm_observe(&t, 1, 2000, 0);
    wm_observe(&t, 0, 5000, 0);
    wm_observe(&t, 0, 9000, 0);
    ck_assert_int_eq(t.current, 1900);
    size_t size = 0;
    void *saved = wm_save(&t, &size);
    ck_assert_ptr_nonnull(saved);
    wm_free(&t);

    wm_tracker r;
    wm_init(&r, 100, 30000);
    ck_assert_int_eq(wm_load(&r, saved, size, 50), 0);
    ck_assert_int_eq(r.current, 1900);
    ck_assert_int_eq(wm_observe(&r, 0, 9500, 60), 1900); /* partition 1 still holds it */
    ck_assert_int_eq(wm_observe(&r, 1, 3000, 60), 2900);
    ck_assert_int_eq(wm_partition_max_ts(&r, 0), 9500);
    /* Partition 1 idles; saved and loaded, it still does not hold it back. */
    ck_assert_int_eq(wm_refresh(&r, 60 + 30000), 2900);
    ck_assert_int_eq(wm_observe(&r, 0, 12000, 30100), 11900);
    size_t idle_size = 0;
    void *idle_saved = wm_save(&r, &idle_size);
    wm_free(&r);
    wm_init(&r, 100, 30000);
    ck_assert_int_eq(wm_load(&r, idle_saved, idle_size, 40000), 0);
    ck_assert_int_eq(wm_observe(&r, 0, 13000, 40000), 12900);
    free(idle_saved);
    wm_free(&r);

    /* Cut short, grown or of another version: refused. */
    wm_init(&r, 100, 30000);
    ck_assert_int_eq(wm_load(&r, saved, size - 1, 0), -1);
    unsigned char *longer = calloc(1, size + 13);
    memcpy(longer, saved, size);
    ck_assert_int_eq(wm_load(&r, longer, size + 13, 0), -1);
    longer[0] = 9;
    ck_assert_int_eq(wm_load(&r, longer, size, 0), -1);
    wm_free(&r);
    free(longer);
    free(saved);
}
END_TEST

START_TEST(arithmetic_saturates)
{
    ck_assert(wm_sub(SLUICE_TIME_MIN, 5000) == SLUICE_TIME_MIN);
    ck_assert(wm_sub(SLUICE_TIME_MAX, 5000) == SLUICE_TIME_MAX);
    ck_assert(wm_add(SLUICE_TIME_MAX - 1, 5000) == SLUICE_TIME_MAX);
    ck_assert(wm_sub(INT64_MIN + 10, 20) == SLUICE_TIME_MIN);
    wm_tracker t;
    wm_init(&t, INT64_MAX, 0);
    ck_assert(wm_observe(&t, 0, 0, 0) == -INT64_MAX);
    wm_free(&t);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("watermark");
    TCase *tc = tcase_create("tracker");
    tcase_add_test(tc, single_partition_is_max_ts_minus_out_of_order);
    tcase_add_test(tc, pipeline_watermark_is_minimum_over_partitions_with_data);
    tcase_add_test(tc, idle_partition_stops_holding_back_and_counts_again_with_data);
    tcase_add_test(tc, idle_timeout_off_never_releases);
    tcase_add_test(tc, revoked_or_ended_partition_stops_counting);
    tcase_add_test(tc, assigned_partition_holds_back_until_data_idle_or_end);
    tcase_add_test(tc, arithmetic_saturates);
    tcase_add_test(tc, a_saved_tracker_goes_on_where_it_was);
    suite_add_tcase(s, tc);
    return ts_run_suite(s);
}
