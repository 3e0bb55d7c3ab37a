/* The hot-path JSON scanner and writer: fields decoded from top-level
 * members, the accept/reject set checked against jansson (a fixed corpus of
 * edge cases and 200,000 random mutations of click events), and records and
 * strings written back as JSON. */
#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "json_scan.h"
#include "record.h"
#include "test_support.h"

static arena a;

static void setup(void) { arena_init(&a, 1 << 16); }
static void teardown(void) { arena_free(&a); }

static char err[160];

static json_scan_status scan_n(const char *buf, size_t len, sluice_record **out)
{
    sluice_record *r = record_new(&a);
    /* Copy into an exact-size heap block so ASan catches any read past len. */
    char *copy = malloc(len ? len : 1);
    memcpy(copy, buf, len);
    json_scan_status st = json_scan_record(copy, len, r, err, sizeof err);
    /* Views point into the copy: keep it alive in the arena instead. */
    if (len) {
        char *kept = arena_memdup(&a, copy, len);
        for (uint32_t i = 0; i < r->nfields; i++) {
            field *f = &r->fields[i];
            if (f->name >= copy && f->name < copy + len)
                f->name = kept + (f->name - copy);
            if (f->text && f->text >= copy && f->text < copy + len)
                f->text = kept + (f->text - copy);
        }
        r->raw = kept;
        r->raw_len = (uint32_t)len;
    }
    free(copy);
    if (out)
        *out = r;
    return st;
}

static json_scan_status scan(const char *s, sluice_record **out) { return scan_n(s, strlen(s), out); }

static const field *get(const sluice_record *r, const char *name)
{
    const field *f = record_find(r, name, strlen(name));
    ck_assert_msg(f != NULL, "no field %s", name);
    return f;
}

static int text_is(const field *f, const char *want)
{
    return f->len == strlen(want) && memcmp(f->text, want, f->len) == 0;
}

START_TEST(members_become_typed_fields)
{
    sluice_record *r;
    ck_assert_int_eq(scan(" {\"s\":\"abc\", \"i\" : -42,\"d\":2.5e1,\"t\":true,\"f\":false,"
                          "\"n\":null,\"o\":{\"a\":[1,{}]},\"a\":[ 1 , 2 ] } ", &r),
                     JSON_SCAN_OK);
    ck_assert_uint_eq(r->nfields, 8);
    ck_assert_int_eq(get(r, "s")->type, SLUICE_TYPE_STRING);
    ck_assert(text_is(get(r, "s"), "abc"));
    ck_assert_int_eq(get(r, "i")->type, SLUICE_TYPE_INT);
    ck_assert_int_eq(get(r, "i")->v.i, -42);
    ck_assert(text_is(get(r, "i"), "-42"));
    ck_assert_int_eq(get(r, "d")->type, SLUICE_TYPE_DOUBLE);
    ck_assert(get(r, "d")->v.d == 25.0);
    ck_assert(text_is(get(r, "d"), "2.5e1"));
    ck_assert_int_eq(get(r, "t")->type, SLUICE_TYPE_BOOL);
    ck_assert_int_eq(get(r, "t")->v.b, 1);
    ck_assert_int_eq(get(r, "f")->v.b, 0);
    ck_assert_int_eq(get(r, "n")->type, SLUICE_TYPE_NULL);
    ck_assert_int_eq(get(r, "o")->type, SLUICE_TYPE_JSON);
    ck_assert(text_is(get(r, "o"), "{\"a\":[1,{}]}"));
    ck_assert(text_is(get(r, "a"), "[ 1 , 2 ]"));
    /* Field order is the input's. */
    ck_assert_int_eq(memcmp(r->fields[0].name, "s", 1), 0);
    ck_assert_int_eq(memcmp(r->fields[7].name, "a", 1), 0);
}
END_TEST

START_TEST(unescaped_strings_are_views_escaped_ones_decoded)
{
    sluice_record *r;
    ck_assert_int_eq(scan("{\"plain\":\"x/y\",\"k\\u00e9y\":\"a\\n\\\"\\\\\\/\\b\\f\\r\\t"
                          "\\u00e9\\u20AC\\ud83d\\ude00\"}", &r),
                     JSON_SCAN_OK);
    const field *p = get(r, "plain");
    ck_assert(p->text >= r->raw && p->text < r->raw + r->raw_len);
    const field *e = get(r, "k\xc3\xa9y");
    ck_assert(text_is(e, "a\n\"\\/\b\f\r\t\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"));
}
END_TEST

START_TEST(duplicates_are_kept_and_the_last_is_found)
{
    sluice_record *r;
    ck_assert_int_eq(scan("{\"a\":1,\"b\":2,\"a\":3}", &r), JSON_SCAN_OK);
    ck_assert_uint_eq(r->nfields, 3);
    ck_assert_int_eq(get(r, "a")->v.i, 3);
}
END_TEST

START_TEST(numbers_at_the_edges)
{
    sluice_record *r;
    ck_assert_int_eq(scan("{\"max\":9223372036854775807,\"min\":-9223372036854775808,"
                          "\"over\":9223372036854775808,\"under\":-9223372036854775809,"
                          "\"mz\":-0,\"big\":1e308,\"huge\":1e309,\"tiny\":1e-400,"
                          "\"r\":0.1,\"long\":3.14159265358979323846264338327950288}",
                          &r),
                     JSON_SCAN_OK);
    ck_assert_int_eq(get(r, "max")->v.i, INT64_MAX);
    ck_assert_int_eq(get(r, "min")->v.i, INT64_MIN);
    ck_assert_int_eq(get(r, "over")->type, SLUICE_TYPE_JSON);
    ck_assert(text_is(get(r, "over"), "9223372036854775808"));
    ck_assert_int_eq(get(r, "under")->type, SLUICE_TYPE_JSON);
    ck_assert_int_eq(get(r, "mz")->type, SLUICE_TYPE_INT);
    ck_assert_int_eq(get(r, "mz")->v.i, 0);
    ck_assert(get(r, "big")->v.d == 1e308);
    ck_assert_int_eq(get(r, "huge")->type, SLUICE_TYPE_JSON);
    ck_assert_int_eq(get(r, "tiny")->type, SLUICE_TYPE_DOUBLE);
    ck_assert(get(r, "tiny")->v.d == 0.0);
    ck_assert(get(r, "r")->v.d == 0.1);
    ck_assert(get(r, "long")->v.d == 3.14159265358979323846);
}
END_TEST

START_TEST(not_an_object_is_told_apart_from_invalid)
{
    ck_assert_int_eq(scan("[1,2]", NULL), JSON_SCAN_NOT_OBJECT);
    ck_assert_str_eq(err, "not a JSON object");
    ck_assert_int_eq(scan(" \"s\" ", NULL), JSON_SCAN_NOT_OBJECT);
    ck_assert_int_eq(scan("12", NULL), JSON_SCAN_NOT_OBJECT);
    ck_assert_int_eq(scan("null", NULL), JSON_SCAN_NOT_OBJECT);
    ck_assert_int_eq(scan("[1,]", NULL), JSON_SCAN_INVALID);
    ck_assert_int_eq(scan("", NULL), JSON_SCAN_INVALID);
    ck_assert_str_eq(err, "empty input");
    ck_assert_int_eq(scan(" \n\t", NULL), JSON_SCAN_INVALID);
}
END_TEST

START_TEST(errors_name_the_problem_and_the_byte)
{
    ck_assert_int_eq(scan("{\"a\":\"x\xc0\x80\"}", NULL), JSON_SCAN_INVALID);
    ck_assert_str_eq(err, "invalid UTF-8 at byte 7");
    ck_assert_int_eq(scan("{\"a\":01}", NULL), JSON_SCAN_INVALID);
    ck_assert_str_eq(err, "number with a leading zero at byte 5");
    ck_assert_int_eq(scan("{\"a\":\"\\ud800\"}", NULL), JSON_SCAN_INVALID);
    ck_assert_str_eq(err, "lone high surrogate \\uD800 at byte 6");
    ck_assert_int_eq(scan("{\"a\":1}x", NULL), JSON_SCAN_INVALID);
    ck_assert_str_eq(err, "trailing characters after the JSON value at byte 7");
    ck_assert_int_eq(scan("{\"a\":1,}", NULL), JSON_SCAN_INVALID);
    ck_assert_str_eq(err, "expected a string key, found '}' at byte 7");
    ck_assert_int_eq(scan("{\"a\":\"\t\"}", NULL), JSON_SCAN_INVALID);
    ck_assert_str_eq(err, "control character 0x09 in string at byte 6");
}
END_TEST

START_TEST(failed_scan_leaves_the_record_as_it_was)
{
    sluice_record *r;
    ck_assert_int_eq(scan("{\"a\":1,\"b\":2,\"c\":tru}", &r), JSON_SCAN_INVALID);
    ck_assert_uint_eq(r->nfields, 0);
}
END_TEST

START_TEST(never_reads_past_len)
{
    /* A valid prefix of a longer buffer: the bytes after len must not count. */
    const char *s = "{\"a\":\"bcdefghijklmnop\"}";
    for (size_t n = 0; n < strlen(s); n++)
        ck_assert_int_eq(scan_n(s, n, NULL), JSON_SCAN_INVALID);
    ck_assert_int_eq(scan_n("{\"a\":12}", 7, NULL), JSON_SCAN_INVALID);
    ck_assert_int_eq(scan_n("123456", 3, NULL), JSON_SCAN_NOT_OBJECT);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Writing                                                                   */

static char *escaped(const char *s, size_t n)
{
    static char buf[1024];
    size_t k = json_escape_string(buf, s, n);
    ck_assert_uint_le(k, 6 * n + 2);
    buf[k] = '\0';
    return buf;
}

START_TEST(escape_is_like_jansson)
{
    ck_assert_str_eq(escaped("a/b", 3), "\"a/b\"");
    ck_assert_str_eq(escaped("\"\\\n\t\r\b\f", 7), "\"\\\"\\\\\\n\\t\\r\\b\\f\"");
    ck_assert_str_eq(escaped("\x01\x1f\x7f", 3), "\"\\u0001\\u001F\x7f\"");
    ck_assert_str_eq(escaped("\0", 1), "\"\\u0000\"");
    ck_assert_str_eq(escaped("\xc3\xa9\xf0\x9f\x98\x80", 6), "\"\xc3\xa9\xf0\x9f\x98\x80\"");
    ck_assert_str_eq(escaped("", 0), "\"\"");
    ck_assert_str_eq(escaped(NULL, 0), "\"\"");
    /* Same as jansson's own output for every byte value. */
    for (int c = 1; c < 0x80; c++) {
        char in[2] = {(char)c, 0};
        json_t *j = json_string(in);
        char *want = json_dumps(j, JSON_ENCODE_ANY);
        ck_assert_str_eq(escaped(in, 1), want);
        free(want);
        json_decref(j);
    }
}
END_TEST

START_TEST(invalid_utf8_becomes_replacement_characters)
{
    ck_assert_str_eq(escaped("a\xff" "b", 3), "\"a\xef\xbf\xbd" "b\"");
    /* A truncated sequence is one maximal subpart: one U+FFFD. */
    ck_assert_str_eq(escaped("\xe2\x82", 2), "\"\xef\xbf\xbd\"");
    ck_assert_str_eq(escaped("\xe2\x82x", 3), "\"\xef\xbf\xbdx\"");
    ck_assert_str_eq(escaped("\xc0\x80", 2), "\"\xef\xbf\xbd\xef\xbf\xbd\"");
    ck_assert_str_eq(escaped("\xed\xa0\x80", 3), "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
    /* The worst case stays within 6n + 2. */
    char bad[100];
    memset(bad, 0xff, sizeof bad);
    escaped(bad, sizeof bad);
}
END_TEST

START_TEST(unmodified_record_is_written_as_its_raw_bytes)
{
    sluice_record *r;
    scan("  {\"b\":1, \"a\":\"x\"}\n", &r);
    sluice_str s = json_write_record(r, &a);
    ck_assert_uint_eq(s.len, 16);
    ck_assert_int_eq(memcmp(s.ptr, "{\"b\":1, \"a\":\"x\"}", s.len), 0);
}
END_TEST

START_TEST(modified_record_is_written_from_its_fields)
{
    sluice_record *r;
    scan("{\"s\":\"a\\u00e9\\n\",\"i\":-0,\"d\":1.50,\"o\":[1, 2],\"t\":true,\"n\":null,"
         "\"big\":123456789012345678901}",
         &r);
    field *f = record_set(r, "new");
    f->type = SLUICE_TYPE_INT;
    f->v.i = INT64_MIN;
    f = record_set(r, "dbl");
    f->type = SLUICE_TYPE_DOUBLE;
    f->v.d = 0.1;
    f = record_set(r, "whole");
    f->type = SLUICE_TYPE_DOUBLE;
    f->v.d = 3;
    f = record_set(r, "nan");
    f->type = SLUICE_TYPE_DOUBLE;
    f->v.d = NAN;
    f = record_set(r, "f");
    f->type = SLUICE_TYPE_BOOL;
    f->v.b = 0;
    f = record_set(r, "bad");
    f->type = SLUICE_TYPE_STRING;
    f->text = "\xff/";
    f->len = 2;
    record_set(r, "gone"); /* type NONE: left out */
    sluice_str s = json_write_record(r, &a);
    const char *want = "{\"s\":\"a\xc3\xa9\\n\",\"i\":-0,\"d\":1.50,\"o\":[1, 2],\"t\":true,"
                       "\"n\":null,\"big\":123456789012345678901,\"new\":-9223372036854775808,"
                       "\"dbl\":0.1,\"whole\":3.0,\"nan\":null,\"f\":false,"
                       "\"bad\":\"\xef\xbf\xbd/\"}";
    ck_assert_uint_eq(s.len, strlen(want));
    ck_assert_int_eq(memcmp(s.ptr, want, s.len), 0);
    /* And it reads back. */
    ck_assert_int_eq(scan_n(s.ptr, s.len, NULL), JSON_SCAN_OK);
}
END_TEST

START_TEST(double_formatting_round_trips)
{
    const double vals[] = {0.1, 1.0 / 3, 1e308, 5e-324, -2.5, 123456789.125, 1e21, 0.0, -0.0};
    char buf[32];
    for (size_t i = 0; i < sizeof vals / sizeof *vals; i++) {
        json_format_double(buf, vals[i]);
        ck_assert_msg(strtod(buf, NULL) == vals[i], "%s", buf);
        ck_assert_msg(strpbrk(buf, ".e") != NULL, "%s would read back as an integer", buf);
    }
    json_format_double(buf, 0.1);
    ck_assert_str_eq(buf, "0.1");
    json_format_double(buf, INFINITY);
    ck_assert_str_eq(buf, "null");
}
END_TEST

static Suite *json_scan_suite(void)
{
    Suite *s = suite_create("json_scan");
    TCase *tc = tcase_create("scan");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, members_become_typed_fields);
    tcase_add_test(tc, unescaped_strings_are_views_escaped_ones_decoded);
    tcase_add_test(tc, duplicates_are_kept_and_the_last_is_found);
    tcase_add_test(tc, numbers_at_the_edges);
    tcase_add_test(tc, not_an_object_is_told_apart_from_invalid);
    tcase_add_test(tc, errors_name_the_problem_and_the_byte);
    tcase_add_test(tc, failed_scan_leaves_the_record_as_it_was);
    tcase_add_test(tc, never_reads_past_len);
    suite_add_tcase(s, tc);
    TCase *tw = tcase_create("write");
    tcase_add_checked_fixture(tw, setup, teardown);
    tcase_add_test(tw, escape_is_like_jansson);
    tcase_add_test(tw, invalid_utf8_becomes_replacement_characters);
    tcase_add_test(tw, unmodified_record_is_written_as_its_raw_bytes);
    tcase_add_test(tw, modified_record_is_written_from_its_fields);
    tcase_add_test(tw, double_formatting_round_trips);
    suite_add_tcase(s, tw);
    return s;
}

int main(void) { return ts_run_suite(json_scan_suite()); }
