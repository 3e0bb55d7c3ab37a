/* sluice/bytes.h, the public byte helpers: snapshot bytes are little-endian
 * whatever the machine, readers never read past the end and writers never
 * write past a caller's buffer, decimal digits and saturating sums are exact
 * at the edges, and the header builds alone under a plugin author's strict
 * warnings, in C and C++. */
#include <sluice/bytes.h>
#include <stdlib.h>
#include <string.h>

#include "test_support.h"

START_TEST(pointer_codecs_are_little_endian_and_round_trip)
{
    unsigned char b[8];
    sluice_le64_store(b, 0x0102030405060708ull);
    const unsigned char want64[8] = {8, 7, 6, 5, 4, 3, 2, 1};
    ck_assert_mem_eq(b, want64, 8);
    ck_assert(sluice_le64_load(b) == 0x0102030405060708ull);

    sluice_le32_store(b, 0xa1b2c3d4u);
    const unsigned char want32[4] = {0xd4, 0xc3, 0xb2, 0xa1};
    ck_assert_mem_eq(b, want32, 4);
    ck_assert_uint_eq(sluice_le32_load(b), 0xa1b2c3d4u);

    sluice_le16_store(b, 0xbeef);
    ck_assert_uint_eq(b[0], 0xef);
    ck_assert_uint_eq(b[1], 0xbe);
    ck_assert_uint_eq(sluice_le16_load(b), 0xbeef);

    /* Signed values as two's complement, the extremes included. */
    const int64_t signed_values[] = {INT64_MIN, INT64_MIN + 1, -1, 0, 1, INT64_MAX};
    for (size_t i = 0; i < sizeof signed_values / sizeof *signed_values; i++) {
        sluice_le64_store_i64(b, signed_values[i]);
        ck_assert(sluice_le64_load(b) == (uint64_t)signed_values[i]);
        ck_assert(sluice_le64_load_i64(b) == signed_values[i]);
    }
    sluice_le64_store_i64(b, -2);
    const unsigned char minus_two[8] = {0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    ck_assert_mem_eq(b, minus_two, 8);
}
END_TEST

START_TEST(growing_writer_and_reader_round_trip_many_values)
{
    sluice_bytes_writer w = {0};
    for (uint32_t i = 0; i < 5000; i++) { /* well past the first 4 KiB */
        sluice_bytes_put_u16(&w, (uint16_t)i);
        sluice_bytes_put_u32(&w, i * 2654435761u);
        sluice_bytes_put_u64(&w, (uint64_t)i << 40 | i);
        sluice_bytes_put_i64(&w, -(int64_t)i);
        sluice_bytes_put(&w, "ab", 2);
    }
    ck_assert(!w.failed);
    ck_assert_uint_eq(w.len, 5000 * 24);
    ck_assert_uint_eq(w.data[0], 0); /* u16 0 */
    ck_assert_uint_eq(w.data[24], 1);

    sluice_bytes_reader r = sluice_bytes_reader_of(w.data, w.len);
    for (uint32_t i = 0; i < 5000; i++) {
        ck_assert_uint_eq(sluice_bytes_get_u16(&r), (uint16_t)i);
        ck_assert_uint_eq(sluice_bytes_get_u32(&r), i * 2654435761u);
        ck_assert(sluice_bytes_get_u64(&r) == ((uint64_t)i << 40 | i));
        ck_assert(sluice_bytes_get_i64(&r) == -(int64_t)i);
        ck_assert_mem_eq(sluice_bytes_take(&r, 2), "ab", 2);
    }
    ck_assert(!r.failed);
    ck_assert_uint_eq(r.pos, r.len);
    free(w.data);
}
END_TEST

START_TEST(reader_past_the_end_returns_zero_and_stays_failed)
{
    const unsigned char three[3] = {1, 2, 3};
    sluice_bytes_reader r = sluice_bytes_reader_of(three, sizeof three);
    ck_assert_uint_eq(sluice_bytes_get_u32(&r), 0);
    ck_assert(r.failed);
    ck_assert_uint_eq(r.pos, 0);
    /* Two bytes are there, but a decoder checks once, after reading: every
     * read after the first overrun fails too. */
    ck_assert_uint_eq(sluice_bytes_get_u16(&r), 0);
    ck_assert_ptr_null(sluice_bytes_take(&r, 0));

    r = sluice_bytes_reader_of(three, sizeof three);
    ck_assert_uint_eq(sluice_bytes_get_u16(&r), 0x0201);
    ck_assert_ptr_null(sluice_bytes_take(&r, SIZE_MAX)); /* no wrap-around in the bound */
    ck_assert(r.failed);
}
END_TEST

START_TEST(fixed_writer_fills_the_callers_buffer_and_never_overruns_it)
{
    unsigned char buf[12];
    memset(buf, 0xaa, sizeof buf);
    sluice_bytes_writer w = sluice_bytes_writer_over(buf, 10);
    sluice_bytes_put_u64(&w, 0x1122334455667788ull);
    ck_assert(!w.failed);
    sluice_bytes_put_u32(&w, 7); /* 4 bytes, 2 left: refused */
    ck_assert(w.failed);
    sluice_bytes_put_u16(&w, 7); /* would fit, but the bytes are incomplete already */
    ck_assert_uint_eq(w.len, 8);
    ck_assert_ptr_eq(w.data, buf);
    ck_assert_uint_eq(buf[0], 0x88);
    for (size_t i = 8; i < sizeof buf; i++)
        ck_assert_uint_eq(buf[i], 0xaa);

    w = sluice_bytes_writer_over(buf, 10);
    sluice_bytes_put_u64(&w, 1);
    sluice_bytes_put_u16(&w, 2); /* exactly full */
    ck_assert(!w.failed);
    ck_assert_uint_eq(w.len, 10);
}
END_TEST

static void assert_digits(uint64_t v, const char *want)
{
    char buf[SLUICE_U64_DIGITS + 1];
    memset(buf, '#', sizeof buf);
    size_t n = sluice_format_u64(buf, v);
    ck_assert_uint_eq(n, strlen(want));
    ck_assert_mem_eq(buf, want, n);
    if (n < sizeof buf)
        ck_assert_int_eq(buf[n], '#'); /* no terminating NUL */
}

START_TEST(format_u64_writes_the_decimal_digits_only)
{
    assert_digits(0, "0");
    assert_digits(7, "7");
    assert_digits(10, "10");
    assert_digits(1234567890, "1234567890");
    assert_digits(UINT64_MAX, "18446744073709551615");
}
END_TEST

START_TEST(saturating_sums_clamp_at_both_ends_and_are_exact_inside)
{
    ck_assert(sluice_add_sat_i64(1, 2) == 3);
    ck_assert(sluice_add_sat_i64(INT64_MAX - 1, 1) == INT64_MAX);
    ck_assert(sluice_add_sat_i64(INT64_MAX, 1) == INT64_MAX);
    ck_assert(sluice_add_sat_i64(INT64_MAX, INT64_MAX) == INT64_MAX);
    ck_assert(sluice_add_sat_i64(INT64_MIN, -1) == INT64_MIN);
    ck_assert(sluice_add_sat_i64(INT64_MIN, INT64_MAX) == -1);
    ck_assert(sluice_add_sat_i64(INT64_MAX, INT64_MIN) == -1);

    ck_assert(sluice_sub_sat_i64(1, 2) == -1);
    ck_assert(sluice_sub_sat_i64(INT64_MIN + 1, 1) == INT64_MIN);
    ck_assert(sluice_sub_sat_i64(INT64_MIN, 1) == INT64_MIN);
    ck_assert(sluice_sub_sat_i64(INT64_MIN, INT64_MAX) == INT64_MIN);
    ck_assert(sluice_sub_sat_i64(INT64_MAX, -1) == INT64_MAX);
    ck_assert(sluice_sub_sat_i64(0, INT64_MIN) == INT64_MAX);
    ck_assert(sluice_sub_sat_i64(-1, INT64_MIN) == INT64_MAX);
    ck_assert(sluice_sub_sat_i64(INT64_MAX, INT64_MAX) == 0);
}
END_TEST

/* Plugin authors build with warnings we do not use (conversions, pedantic,
 * shadowing) and sometimes in C++: the header must stay quiet there too. */
START_TEST(header_builds_alone_under_strict_warnings_in_c_and_cxx)
{
    const char *flags = "-fsyntax-only -Wall -Wextra -Wpedantic -Wconversion -Wsign-conversion -Wshadow "
                        "-Wcast-qual -Wcast-align -Werror";
    char *dir = ts_strf("%s/bytes-header", ts_tmpdir());
    char *cmd =
        ts_strf("mkdir -p %s && printf '#include <sluice/bytes.h>\\nint main(void) { return 0; }\\n' > "
                "%s/use.c && cc -std=c11 %s -Wmissing-prototypes -I %s/engine/include %s/use.c",
                dir, dir, flags, SLUICE_SOURCE_DIR, dir);
    char *out = NULL, *err = NULL;
    int rc = ts_run(cmd, &out, &err);
    ck_assert_msg(rc == 0, "C: %s%s", out, err);
    free(out);
    free(err);
    free(cmd);
    cmd = ts_strf("command -v c++ >/dev/null || exit 0; c++ -x c++ -std=c++11 %s -I "
                  "%s/engine/include %s/use.c",
                  flags, SLUICE_SOURCE_DIR, dir);
    out = err = NULL;
    rc = ts_run(cmd, &out, &err);
    ck_assert_msg(rc == 0, "C++: %s%s", out, err);
    free(out);
    free(err);
    free(cmd);
    free(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("bytes");
    TCase *tc = tcase_create("bytes");
    tcase_add_test(tc, pointer_codecs_are_little_endian_and_round_trip);
    tcase_add_test(tc, growing_writer_and_reader_round_trip_many_values);
    tcase_add_test(tc, reader_past_the_end_returns_zero_and_stays_failed);
    tcase_add_test(tc, fixed_writer_fills_the_callers_buffer_and_never_overruns_it);
    tcase_add_test(tc, format_u64_writes_the_decimal_digits_only);
    tcase_add_test(tc, saturating_sums_clamp_at_both_ends_and_are_exact_inside);
    tcase_add_test(tc, header_builds_alone_under_strict_warnings_in_c_and_cxx);
    suite_add_tcase(s, tc);
    return ts_run_suite(s);
}
