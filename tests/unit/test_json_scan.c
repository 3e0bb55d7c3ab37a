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
                          "\"n\":null,\"o\":{\"a\":[1,{}]},\"a\":[ 1 , 2 ] } ",
                          &r),
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
                          "\\u00e9\\u20AC\\ud83d\\ude00\"}",
                          &r),
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
    ck_assert_str_eq(escaped("a\xff"
                             "b",
                             3),
                     "\"a\xef\xbf\xbd"
                     "b\"");
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

/* A task encodes its records ahead (tasks_encode_ahead); the sink then
 * writes that text, and any change to a field made since drops it. */
START_TEST(json_encoded_ahead_is_written_until_a_field_changes)
{
    sluice_record *r;
    scan("{\"a\":1}", &r);
    field *f = record_set(r, "b");
    f->type = SLUICE_TYPE_INT;
    f->v.i = 2;
    sluice_str ahead = json_write_record(r, &a);
    r->json = ahead.ptr;
    r->json_len = (uint32_t)ahead.len;
    sluice_str again = json_write_record(r, &a);
    ck_assert_ptr_eq(again.ptr, ahead.ptr);
    ck_assert_uint_eq(again.len, ahead.len);
    f = record_set(r, "b");
    f->type = SLUICE_TYPE_INT;
    f->v.i = 3;
    ck_assert_ptr_null(r->json);
    sluice_str s = json_write_record(r, &a);
    ck_assert_uint_eq(s.len, 13);
    ck_assert_int_eq(memcmp(s.ptr, "{\"a\":1,\"b\":3}", s.len), 0);
    r->json = ahead.ptr;
    record_add_field(r, "c", 1)->type = SLUICE_TYPE_NULL;
    ck_assert_ptr_null(r->json);
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
    /* Whole numbers take a shortcut: the same text as the general path. */
    const double whole[] = {
        0.0,   -0.0,           1.0,  -1.0,        1000.0, 9007199254740991.0, 999999999999999.0, 1e15,
        -1e15, 123456789012.0, 1e16, 4294967296.0};
    for (size_t i = 0; i < sizeof whole / sizeof *whole; i++) {
        char want[40];
        int n = snprintf(want, sizeof want, "%.15g", whole[i]);
        if (strtod(want, NULL) != whole[i])
            n = snprintf(want, sizeof want, "%.17g", whole[i]);
        if (strspn(want, "-0123456789") == (size_t)n)
            strcat(want, ".0");
        json_format_double(buf, whole[i]);
        ck_assert_str_eq(buf, want);
    }
    json_format_double(buf, INFINITY);
    ck_assert_str_eq(buf, "null");
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Differential testing against jansson                                      */

/* jansson's verdict on (buf, len), with the deliberate difference taken
 * out: jansson refuses numbers beyond int64 / double ("too big integer",
 * "real number overflow") which RFC 8259 allows and the scanner keeps as
 * text. Each such number is replaced by 0 and jansson asked again, so the
 * returned (malloc'd) input is the one both must agree on. */
static char *without_number_overflow(const char *buf, size_t len, size_t *out_len, json_t **out)
{
    char *cur = malloc(len + 1);
    memcpy(cur, buf, len);
    for (;;) {
        json_error_t e;
        *out = json_loadb(cur, len, JSON_DECODE_ANY, &e);
        if (*out || json_error_code(&e) != json_error_numeric_overflow) {
            *out_len = len;
            return cur;
        }
        /* The token ends at e.position; its text is quoted after "near '". */
        size_t end = (size_t)e.position, start = end;
        const char *near = strstr(e.text, "near '");
        size_t tl = near ? strlen(near + 6) : 0;
        if (near && tl > 0 && near[6 + tl - 1] == '\'' && tl - 1 <= end) {
            start = end - (tl - 1);
        } else { /* text cut short: walk back over number characters */
            while (start > 0 && strchr("0123456789+-.eE", cur[start - 1]) && cur[start - 1])
                start--;
        }
        /* "0 ": the space keeps what follows a separate token, as it was. */
        ck_assert_msg(start + 2 <= end && end <= len, "cannot locate the overflowing number");
        memmove(cur + start + 2, cur + end, len - end);
        memcpy(cur + start, "0 ", 2);
        len = len - (end - start) + 2;
    }
}

static void dump_hex(const char *what, const char *buf, size_t len)
{
    fprintf(stderr, "%s (%zu bytes):", what, len);
    for (size_t i = 0; i < len; i++)
        fprintf(stderr, " %02x", (unsigned char)buf[i]);
    fprintf(stderr, "\n");
}

static int same_double(double x, double y) { return memcmp(&x, &y, sizeof x) == 0; }

/* Does the scanner's field hold jansson's value? */
static int field_matches(const field *f, json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_STRING:
        return f->type == SLUICE_TYPE_STRING && f->len == json_string_length(v) &&
               memcmp(f->text, json_string_value(v), f->len) == 0;
    case JSON_INTEGER:
        return f->type == SLUICE_TYPE_INT && f->v.i == json_integer_value(v);
    case JSON_REAL:
        return f->type == SLUICE_TYPE_DOUBLE && same_double(f->v.d, json_real_value(v));
    case JSON_TRUE:
    case JSON_FALSE:
        return f->type == SLUICE_TYPE_BOOL && f->v.b == json_is_true(v);
    case JSON_NULL:
        return f->type == SLUICE_TYPE_NULL;
    default: {
        if (f->type != SLUICE_TYPE_JSON)
            return 0;
        json_t *mine = json_loadb(f->text, f->len, 0, NULL);
        int eq = mine && json_equal(mine, v);
        json_decref(mine);
        return eq;
    }
    }
}

/* The scanner and jansson agree on (buf, len): validity, and for objects
 * every member. Returns 1 when they agree, else prints why in hex. */
static int last_was_valid; /* for the mutation test's own sanity check */

static int agrees_with_jansson(const char *buf, size_t len)
{
    size_t xlen;
    json_t *ref;
    char *x = without_number_overflow(buf, len, &xlen, &ref);
    int ok = 1;
    sluice_record *r;
    json_scan_status orig = scan_n(buf, len, NULL);
    json_scan_status st = scan_n(x, xlen, &r);
    const char *why = NULL;
    /* jansson's one-byte lookahead treats a NUL as "nothing buffered", so a
     * NUL right after a number or literal is silently skipped (it accepts
     * [1\0]). A raw NUL is never valid JSON (neither whitespace nor allowed
     * in a string): the scanner rejects those inputs, by design. */
    if (ref && memchr(x, '\0', xlen)) {
        json_decref(ref);
        ref = NULL;
    }
    if (orig != st)
        why = "a number beyond int64/double changed the scanner's verdict";
    else if ((st != JSON_SCAN_INVALID) != (ref != NULL))
        why = ref ? "scanner rejects what jansson accepts" : "scanner accepts what jansson rejects";
    else if (ref && (st == JSON_SCAN_OK) != json_is_object(ref))
        why = "object or not";
    else if (st == JSON_SCAN_OK) {
        /* Every member name of mine is jansson's, with jansson's (last) value. */
        size_t distinct = 0;
        for (uint32_t i = 0; i < r->nfields && !why; i++) {
            const field *f = &r->fields[i];
            char *name = strndup(f->name, f->name_len);
            json_t *v = json_object_get(ref, name);
            const field *last = record_find(r, f->name, f->name_len);
            if (v == NULL || strlen(name) != f->name_len)
                why = "member name differs";
            else if (last == f && (distinct++, !field_matches(f, v)))
                why = "member value differs";
            free(name);
        }
        if (!why && distinct != json_object_size(ref))
            why = "member count differs";
    }
    last_was_valid = st != JSON_SCAN_INVALID;
    if (why) {
        fprintf(stderr, "disagreement with jansson: %s (scanner: %d %s)\n", why, st, err);
        dump_hex("input", buf, len);
        ok = 0;
    }
    json_decref(ref);
    free(x);
    return ok;
}

#define B(lit)              \
    {                       \
        lit, sizeof lit - 1 \
    }
static const struct {
    const char *p;
    size_t n;
} corpus[] = {
    /* whole-input shapes */
    B(""),
    B(" "),
    B("\n\t\r "),
    B("{}"),
    B(" {} "),
    B("[]"),
    B("{"),
    B("}"),
    B("{}}"),
    B("{}{}"),
    B("{} x"),
    B("\xef\xbb\xbf{}"),
    B("{}\xef\xbb\xbf"),
    B("\x00{}"),
    B("{}\x00"),
    B("\f{}"),
    B("\v{}"),
    B("{\"a\":1}\n"),
    B("[1] [2]"),
    /* scalars at the top */
    B("1"),
    B("\"s\""),
    B("true"),
    B("false"),
    B("null"),
    B("nul"),
    B("True"),
    B("NaN"),
    B("Infinity"),
    B("-Infinity"),
    B("undefined"),
    B("'s'"),
    /* objects */
    B("{\"a\"}"),
    B("{\"a\":}"),
    B("{\"a\" 1}"),
    B("{a:1}"),
    B("{\"a\":1,}"),
    B("{,}"),
    B("{\"a\":1 \"b\":2}"),
    B("{\"a\":1,,\"b\":2}"),
    B("{1:1}"),
    B("{\"a\":1}}"),
    B("{\"a\":1,\"a\":2}"),
    B("{\"\":0}"),
    B("{\"a\":[}"),
    B("{\"a\":{]}"),
    B("{\"a\":/*c*/1}"),
    B("{\"a\":1}//c"),
    B("{\"a\":1}#"),
    /* arrays */
    B("[1,]"),
    B("[,1]"),
    B("[1 2]"),
    B("[1,,2]"),
    B("[[]]]"),
    B("[[[]]"),
    B("[{}]"),
    /* literals */
    B("{\"a\":tru}"),
    B("{\"a\":truex}"),
    B("{\"a\":nulll}"),
    B("{\"a\":fals}"),
    B("[true1]"),
    /* numbers */
    B("{\"n\":9223372036854775807}"),
    B("{\"n\":-9223372036854775808}"),
    B("{\"n\":9223372036854775808}"),
    B("{\"n\":-9223372036854775809}"),
    B("{\"n\":18446744073709551616}"),
    B("{\"n\":99999999999999999999999999999}"),
    B("{\"n\":-0}"),
    B("{\"n\":-0.0}"),
    B("{\"n\":0e0}"),
    B("{\"n\":1e308}"),
    B("{\"n\":1e309}"),
    B("{\"n\":-1e309}"),
    B("{\"n\":1e-400}"),
    B("{\"n\":2.2250738585072014e-308}"),
    B("{\"n\":4.9e-324}"),
    B("{\"n\":1.7976931348623157e308}"),
    B("{\"n\":1.7976931348623159e308}"),
    B("{\"n\":01}"),
    B("{\"n\":00}"),
    B("{\"n\":-01}"),
    B("{\"n\":1.}"),
    B("{\"n\":.5}"),
    B("{\"n\":-}"),
    B("{\"n\":-.5}"),
    B("{\"n\":+1}"),
    B("{\"n\":1e}"),
    B("{\"n\":1e+}"),
    B("{\"n\":1E+2}"),
    B("{\"n\":1e-2}"),
    B("{\"n\":1.5e+10}"),
    B("{\"n\":1ee2}"),
    B("{\"n\":1.2.3}"),
    B("{\"n\":0x10}"),
    B("{\"n\":1_000}"),
    B("{\"n\":0.1}"),
    B("{\"n\":123456789012345678}"),
    B("{\"n\":1234567890123456789}"),
    B("{\"n\":12345678901234567890}"),
    B("{\"n\":0.30000000000000004}"),
    B("{\"n\":1e22}"),
    B("{\"n\":1e23}"),
    B("{\"n\":9007199254740993.0}"),
    B("{\"n\":123456789012345678901234567890e-10}"),
    B("{\"n\":1e99999999999999999999}"),
    B("{\"n\":0.000000000000000000000000000001}"),
    B("-"),
    B("-0"),
    B("01"),
    /* strings and escapes */
    B("{\"s\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"}"),
    B("{\"s\":\"\\a\"}"),
    B("{\"s\":\"\\x41\"}"),
    B("{\"s\":\"\\'\"}"),
    B("{\"s\":\"\\u\"}"),
    B("{\"s\":\"\\u12\"}"),
    B("{\"s\":\"\\u12G4\"}"),
    B("{\"s\":\"\\u0041\"}"),
    B("{\"s\":\"\\u00e9\\u00E9\"}"),
    B("{\"s\":\"\\u0000\"}"),
    B("{\"s\":\"\\u0001\"}"),
    B("{\"s\":\"\\uFFFF\"}"),
    B("{\"s\":\"\\uFEFF\"}"),
    B("{\"s\":\"\\ud83d\\ude00\"}"),
    B("{\"s\":\"\\uD83D\\uDE00\"}"),
    B("{\"s\":\"\\ud800\"}"),
    B("{\"s\":\"\\udbff\"}"),
    B("{\"s\":\"\\udc00\"}"),
    B("{\"s\":\"\\udfff\"}"),
    B("{\"s\":\"\\ude00\\ud83d\"}"),
    B("{\"s\":\"\\ud83d\\ud83d\"}"),
    B("{\"s\":\"\\ud83dx\"}"),
    B("{\"s\":\"\\ud83d\\u0041\"}"),
    B("{\"s\":\"\\ud83d\\\"}"),
    B("{\"s\":\"\\ud83d\\n\"}"),
    B("{\"s\":\"\\ud83d\"}"),
    B("{\"\\ud800\":1}"),
    B("{\"k\\u0000\":1}"),
    B("{\"s\":\"\\"),
    B("{\"s\":\"abc"),
    B("{\"s\":\"abc\\\"}"),
    /* control characters */
    B("{\"s\":\"\x00\"}"),
    B("{\"s\":\"\x01\"}"),
    B("{\"s\":\"\t\"}"),
    B("{\"s\":\"\n\"}"),
    B("{\"s\":\"\x1f\"}"),
    B("{\"s\":\"\x7f\"}"),
    B("{\"s\x0a\":1}"),
    /* UTF-8 */
    B("{\"s\":\"\xc3\xa9\"}"),
    B("{\"s\":\"\xe2\x82\xac\"}"),
    B("{\"s\":\"\xf0\x9f\x98\x80\"}"),
    B("{\"s\":\"\xf4\x8f\xbf\xbf\"}"),
    B("{\"s\":\"\xef\xbf\xbf\"}"),
    B("{\"s\":\"\xc0\xaf\"}"),
    B("{\"s\":\"\xc1\xbf\"}"),
    B("{\"s\":\"\xe0\x80\xaf\"}"),
    B("{\"s\":\"\xe0\x9f\xbf\"}"),
    B("{\"s\":\"\xf0\x80\x80\xaf\"}"),
    B("{\"s\":\"\xf0\x8f\xbf\xbf\"}"),
    B("{\"s\":\"\xed\xa0\x80\"}"),
    B("{\"s\":\"\xed\xbf\xbf\"}"),
    B("{\"s\":\"\xed\xa0\xbd\xed\xb8\x80\"}"),
    B("{\"s\":\"\xed\x9f\xbf\"}"),
    B("{\"s\":\"\xf4\x90\x80\x80\"}"),
    B("{\"s\":\"\xf5\x80\x80\x80\"}"),
    B("{\"s\":\"\xf8\x88\x80\x80\x80\"}"),
    B("{\"s\":\"\xfc\x84\x80\x80\x80\x80\"}"),
    B("{\"s\":\"\xc3\"}"),
    B("{\"s\":\"\xe2\x82\"}"),
    B("{\"s\":\"\xf0\x9f\x98\"}"),
    B("{\"s\":\"\xc3"),
    B("{\"s\":\"\xf0\x9f"),
    B("{\"s\":\"\x80\"}"),
    B("{\"s\":\"\xbf\"}"),
    B("{\"s\":\"\xff\"}"),
    B("{\"s\":\"\xfe\"}"),
    B("{\"s\":\"\xc3\xc3\"}"),
    B("{\"s\":\"\xe2\x28\xa1\"}"),
    B("{\"\xff\":1}"),
    B("{\"a\":1,\xc3\xa9:1}"),
    B("\xc3\xa9"),
    B("{\"a\":\xff}"),
    /* nested values as members */
    B("{\"o\":{\"a\":[1,2,{\"b\":null}],\"c\":\"\\u00e9\"},\"x\":[[],{},\"\"]}"),
    B("{\"o\":{\"a\":1,}}"),
    B("{\"o\":[1,]}"),
    B("{\"o\":{\"a\"}}"),
    B("{\"o\":[\"\xff\"]}"),
    B("{\"o\":{\"\":{\"\":[]}}}"),
};
#undef B

START_TEST(known_differences_from_jansson)
{
    /* Numbers beyond int64 or double: valid JSON kept as text; jansson refuses. */
    json_error_t e;
    ck_assert_ptr_null(json_loadb("{\"n\":9223372036854775808}", 25, 0, &e));
    ck_assert_int_eq(scan("{\"n\":9223372036854775808}", NULL), JSON_SCAN_OK);
    ck_assert_ptr_null(json_loadb("[1e309]", 7, 0, &e));
    ck_assert_int_eq(scan("[1e309]", NULL), JSON_SCAN_NOT_OBJECT);
    /* A raw NUL after a number or literal: jansson skips it; invalid JSON. */
    json_t *j = json_loadb("[1\0]", 4, 0, &e);
    ck_assert_ptr_nonnull(j);
    json_decref(j);
    ck_assert_int_eq(scan_n("[1\0]", 4, NULL), JSON_SCAN_INVALID);
    ck_assert_int_eq(scan_n("{\"a\":true\0}", 10, NULL), JSON_SCAN_INVALID);
}
END_TEST

START_TEST(corpus_agrees_with_jansson)
{
    int bad = 0;
    for (size_t i = 0; i < sizeof corpus / sizeof *corpus; i++)
        bad += !agrees_with_jansson(corpus[i].p, corpus[i].n);
    ck_assert_int_eq(bad, 0);
}
END_TEST

/* `depth` containers, innermost holding `inner`; objects nest as {"a":...}. */
static char *nested(int depth, int objects, const char *inner, size_t *len)
{
    size_t il = strlen(inner), open = objects ? 5 : 1;
    char *b = malloc((size_t)depth * (open + 1) + il + 1), *o = b;
    for (int i = 0; i < depth; i++) {
        /* Each level opens forwards, the innermost object as just {inner}:
         * writing every level as {"a": and then stepping back over the last
         * one is what GCC 12's -Wstringop-overflow could not follow. */
        const char *head = !objects ? "[" : i + 1 < depth ? "{\"a\":" : "{";
        size_t hl = strlen(head);
        memcpy(o, head, hl);
        o += hl;
    }
    memcpy(o, inner, il);
    o += il;
    for (int i = 0; i < depth; i++)
        *o++ = objects ? '}' : ']';
    *len = (size_t)(o - b);
    return b;
}

START_TEST(nesting_limit_is_jansson_s)
{
    const int depths[] = {1, 2, 2046, 2047, 2048, 2049, 2050, 100000};
    const char *inners_arr[] = {"", "1", "[]", "{}", "\"s\""};
    const char *inners_obj[] = {"", "\"b\":1", "\"b\":[]", "\"b\":{}"};
    int bad = 0;
    for (size_t d = 0; d < sizeof depths / sizeof *depths; d++) {
        for (size_t k = 0; k < sizeof inners_arr / sizeof *inners_arr; k++) {
            size_t len;
            char *b = nested(depths[d], 0, inners_arr[k], &len);
            bad += !agrees_with_jansson(b, len);
            /* The same inside a top-level member: the scanner's other path. */
            char *m = malloc(len + 6);
            memcpy(m, "{\"m\":", 5);
            memcpy(m + 5, b, len);
            m[len + 5] = '}';
            bad += !agrees_with_jansson(m, len + 6);
            free(m);
            free(b);
        }
        for (size_t k = 0; k < sizeof inners_obj / sizeof *inners_obj; k++) {
            size_t len;
            char *b = nested(depths[d], 1, inners_obj[k], &len);
            bad += !agrees_with_jansson(b, len);
            free(b);
        }
    }
    ck_assert_int_eq(bad, 0);
    /* And the limit is where jansson puts it: 2048 levels of [] pass. */
    size_t len;
    char *b = nested(2048, 0, "", &len);
    ck_assert_int_eq(scan_n(b, len, NULL), JSON_SCAN_NOT_OBJECT);
    free(b);
    b = nested(2049, 0, "", &len);
    ck_assert_int_eq(scan_n(b, len, NULL), JSON_SCAN_INVALID);
    free(b);
}
END_TEST

static const char *const seeds[] = {
    ("{\"event_id\":\"e-123\",\"user_id\":\"u-4821\",\"url\":\"https://shop.example/p/42\","
     "\"ts\":1795737600000,\"referrer\":\"https://google.com/\",\"ua\":\"Mozilla/5.0 (X11; Linux "
     "x86_64)\",\"session_hint\":null}"),
    ("{\"user_id\":4821,\"url\":\"/caf\xc3\xa9?q=\\u00e9&x=\\ud83d\\ude00\",\"ts\":\"2026-11-27T10:"
     "15:30.123+02:00\",\"score\":-12.5e-3,\"tags\":[\"a\",{\"b\":[true,false]}],\"n\":0}"),
    " { \"user_id\" : \"u\\\"q\\\\\" , \"url\" : \"/\\t\" , \"ts\" : 9007199254740991 } ",
    "[1,-0.5e+7,\"x\",null,true,{\"k\":\"v\"}]",
};

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

START_TEST(random_mutations_agree_with_jansson)
{
    static const unsigned char interesting[] = "{}[],:\"\\ 0123456789eE.+-tfnu/\x00\x01\x1f\x7f"
                                               "\x80\xbf\xc0\xc3\xe0\xed\xef\xf0\xf4\xf5\xff";
    unsigned char buf[512];
    int bad = 0, valid = 0;
    for (int iter = 0; iter < 200000 && bad < 10; iter++) {
        const char *seed = seeds[rng() % (sizeof seeds / sizeof *seeds)];
        size_t len = strlen(seed);
        memcpy(buf, seed, len);
        int edits = 1 + (int)(rng() % 3);
        for (int e = 0; e < edits && len > 0; e++) {
            size_t at = rng() % len;
            unsigned char byte =
                rng() % 2 ? (unsigned char)rng() : interesting[rng() % (sizeof interesting - 1)];
            switch (rng() % 6) {
            case 0:
                buf[at] = byte;
                break; /* replace */
            case 1:
                buf[at] ^= (unsigned char)(1u << (rng() % 8));
                break; /* flip a bit */
            case 2:    /* insert */
                if (len < sizeof buf) {
                    memmove(buf + at + 1, buf + at, len - at);
                    buf[at] = byte;
                    len++;
                }
                break;
            case 3: /* delete */
                memmove(buf + at, buf + at + 1, len - at - 1);
                len--;
                break;
            case 4:
                len = at;
                break; /* truncate */
            default: { /* duplicate a short run */
                size_t n = 1 + rng() % 8;
                if (at + n <= len && len + n <= sizeof buf) {
                    memmove(buf + at + n, buf + at, len - at);
                    len += n;
                }
            }
            }
        }
        bad += !agrees_with_jansson((const char *)buf, len);
        valid += last_was_valid;
        arena_reset(&a);
    }
    ck_assert_int_eq(bad, 0);
    /* Both verdicts well represented, or the test proves little. */
    ck_assert_int_gt(valid, 20000);
    ck_assert_int_lt(valid, 180000);
}
END_TEST

START_TEST(integers_are_formatted_exactly_at_the_edges)
{
    const struct {
        int64_t v;
        const char *text;
    } cases[] = {{0, "0"},
                 {-1, "-1"},
                 {7, "7"},
                 {1795737600000, "1795737600000"},
                 {INT64_MAX, "9223372036854775807"},
                 {INT64_MIN, "-9223372036854775808"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[32];
        size_t n = json_format_int(buf, cases[i].v);
        ck_assert_uint_eq(n, strlen(cases[i].text));
        ck_assert_str_eq(buf, cases[i].text);
    }
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
    TCase *td = tcase_create("jansson");
    tcase_add_checked_fixture(td, setup, teardown);
    tcase_add_test(td, known_differences_from_jansson);
    tcase_add_test(td, corpus_agrees_with_jansson);
    tcase_add_test(td, nesting_limit_is_jansson_s);
    tcase_add_test(td, random_mutations_agree_with_jansson);
    suite_add_tcase(s, td);
    TCase *tw = tcase_create("write");
    tcase_add_checked_fixture(tw, setup, teardown);
    tcase_add_test(tw, escape_is_like_jansson);
    tcase_add_test(tw, invalid_utf8_becomes_replacement_characters);
    tcase_add_test(tw, unmodified_record_is_written_as_its_raw_bytes);
    tcase_add_test(tw, modified_record_is_written_from_its_fields);
    tcase_add_test(tw, json_encoded_ahead_is_written_until_a_field_changes);
    tcase_add_test(tw, double_formatting_round_trips);
    tcase_add_test(tw, integers_are_formatted_exactly_at_the_edges);
    suite_add_tcase(s, tw);
    return s;
}

int main(void) { return ts_run_suite(json_scan_suite()); }
