/* The click-event decoder: every rejection reason of docs/semantics.md section 1,
 * their precedence, the role values and hashes, and RFC 3339 timestamps. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "event_decoder.h"
#include "record.h"
#include "test_support.h"

#define NOW INT64_C(1795737600000) /* 2026-11-27T00:00:00Z */

static arena a;
static event_config cfg;
static event_verdict v;

static void setup(void)
{
    arena_init(&a, 1 << 16);
    event_config_defaults(&cfg);
    cfg.max_future_ms = -1;
}

static void teardown(void) { arena_free(&a); }

static sluice_record *rec_of(const char *json, size_t len)
{
    sluice_record *r = record_new(&a);
    r->raw = arena_memdup(&a, json, len);
    r->raw_len = (uint32_t)len;
    return r;
}

/* Decode a NUL-terminated message; returns the record (verdict in v). */
static sluice_record *dec(const char *json)
{
    sluice_record *r = rec_of(json, strlen(json));
    event_decode(&cfg, r, NOW, &v);
    return r;
}

#define ck_reason(json, want)                                                                            \
    do {                                                                                                 \
        dec(json);                                                                                       \
        ck_assert_msg(v.reason != NULL, "accepted: %s", json);                                           \
        ck_assert_msg(strcmp(v.reason, want) == 0, "%s: got %s (%s), want %s", json, v.reason, v.detail, \
                      want);                                                                             \
    } while (0)

#define ck_valid(json)                                                                     \
    do {                                                                                   \
        dec(json);                                                                         \
        ck_assert_msg(v.reason == NULL, "%s rejected: %s (%s)", json, v.reason, v.detail); \
    } while (0)

static int role(const sluice_record *r, sluice_role ro, const char *want)
{
    if (!(r->role_present & (1u << ro)))
        return want == NULL;
    return want && r->roles[ro].len == strlen(want) && memcmp(r->roles[ro].ptr, want, r->roles[ro].len) == 0;
}

START_TEST(valid_event_sets_roles_time_and_fields)
{
    sluice_record *r =
        dec("{\"event_id\":\"e-1\",\"user_id\":\"u-4821\",\"url\":\"https://shop.example/p/42\","
            "\"ts\":1795737600000,\"referrer\":null}");
    ck_assert_ptr_null(v.reason);
    ck_assert_int_eq(r->time, NOW);
    ck_assert(role(r, SLUICE_ROLE_USER, "u-4821"));
    ck_assert(role(r, SLUICE_ROLE_URL, "https://shop.example/p/42"));
    ck_assert(role(r, SLUICE_ROLE_EVENT_ID, "e-1"));
    ck_assert_uint_eq(r->role_hash[SLUICE_ROLE_USER], record_hash_bytes("u-4821", 6));
    ck_assert_uint_eq(r->nfields, 5);
    ck_assert_int_eq(r->modified, 0);
}
END_TEST

START_TEST(equal_role_bytes_hash_equal_escaped_or_not)
{
    sluice_record *r1 = dec("{\"user_id\":\"u-1\",\"url\":\"/a\",\"ts\":1}");
    sluice_record *r2 = dec("{\"user_id\":\"\\u0075-1\",\"url\":\"\\/a\",\"ts\":2}");
    sluice_record *r3 = dec("{\"user_id\":\"u-2\",\"url\":\"/b\",\"ts\":2}");
    ck_assert_ptr_null(v.reason);
    ck_assert_uint_eq(r1->role_hash[SLUICE_ROLE_USER], r2->role_hash[SLUICE_ROLE_USER]);
    ck_assert_uint_eq(r1->role_hash[SLUICE_ROLE_URL], r2->role_hash[SLUICE_ROLE_URL]);
    ck_assert_uint_ne(r1->role_hash[SLUICE_ROLE_USER], r3->role_hash[SLUICE_ROLE_USER]);
    ck_assert_uint_ne(r1->role_hash[SLUICE_ROLE_URL], r3->role_hash[SLUICE_ROLE_URL]);
}
END_TEST

START_TEST(too_large_is_checked_first_at_the_exact_limit)
{
    cfg.max_event_bytes = 20;
    const char *j20 = "{\"user_id\":1,\"x\":12}"; /* 20 bytes, but no url */
    ck_assert_uint_eq(strlen(j20), 20);
    ck_reason(j20, SLUICE_REASON_BAD_URL);
    ck_reason("{\"user_id\":1,\"x\":123}", SLUICE_REASON_TOO_LARGE);
    ck_reason("not json at all, and long", SLUICE_REASON_TOO_LARGE);
    ck_assert_ptr_nonnull(strstr(v.detail, "25 bytes"));
}
END_TEST

START_TEST(malformed_inputs_say_why)
{
    ck_reason("", SLUICE_REASON_MALFORMED);
    ck_reason("{\"user_id\":\"u\",}", SLUICE_REASON_MALFORMED);
    ck_reason("[1,2]", SLUICE_REASON_MALFORMED);
    ck_assert_str_eq(v.detail, "not a JSON object");
    ck_reason("\"just a string\"", SLUICE_REASON_MALFORMED);
    ck_reason("{\"user_id\":\"u\xff\",\"url\":\"/\",\"ts\":1}", SLUICE_REASON_MALFORMED);
    ck_assert_str_eq(v.detail, "invalid UTF-8 at byte 13");
    ck_reason("{\"user_id\":\"u\",\"url\":\"/\",\"ts\":1} x", SLUICE_REASON_MALFORMED);
    ck_assert_ptr_nonnull(strstr(v.detail, "trailing"));
}
END_TEST

START_TEST(malformed_record_keeps_no_fields)
{
    sluice_record *r = dec("{\"user_id\":\"u\",\"url\":\"/\",\"ts\":01}");
    ck_assert_str_eq(v.reason, SLUICE_REASON_MALFORMED);
    ck_assert_uint_eq(r->nfields, 0);
    ck_assert_int_eq(r->role_present, 0);
}
END_TEST

START_TEST(precedence_follows_the_table_order)
{
    /* Everything wrong at once: the earliest reason wins, one by one. */
    cfg.max_future_ms = 0;
    ck_reason("{\"user_id\":\"\",\"url\":\"\",\"ts\":-1}", SLUICE_REASON_BAD_USER);
    ck_reason("{\"user_id\":\"u\",\"url\":\"\",\"ts\":-1}", SLUICE_REASON_BAD_URL);
    ck_reason("{\"user_id\":\"u\",\"url\":\"/\",\"ts\":-1}", SLUICE_REASON_BAD_TS);
    ck_reason("{\"user_id\":\"u\",\"url\":\"/\",\"ts\":1795737600001}", SLUICE_REASON_FUTURE_TS);
    ck_valid("{\"user_id\":\"u\",\"url\":\"/\",\"ts\":1795737600000}");
}
END_TEST

START_TEST(bad_user_cases)
{
    ck_reason("{\"url\":\"/\",\"ts\":1}", SLUICE_REASON_BAD_USER);
    ck_assert_str_eq(v.detail, "user_id is missing");
    ck_reason("{\"user_id\":\"\",\"url\":\"/\",\"ts\":1}", SLUICE_REASON_BAD_USER);
    ck_assert_str_eq(v.detail, "user_id is empty");
    ck_reason("{\"user_id\":1.5,\"url\":\"/\",\"ts\":1}", SLUICE_REASON_BAD_USER);
    ck_reason("{\"user_id\":true,\"url\":\"/\",\"ts\":1}", SLUICE_REASON_BAD_USER);
    ck_reason("{\"user_id\":null,\"url\":\"/\",\"ts\":1}", SLUICE_REASON_BAD_USER);
    ck_reason("{\"user_id\":{\"id\":1},\"url\":\"/\",\"ts\":1}", SLUICE_REASON_BAD_USER);
    ck_assert_ptr_nonnull(strstr(v.detail, "object"));
    ck_reason("{\"user_id\":[\"u\"],\"url\":\"/\",\"ts\":1}", SLUICE_REASON_BAD_USER);
    ck_reason("{\"user_id\":1e400,\"url\":\"/\",\"ts\":1}", SLUICE_REASON_BAD_USER);
}
END_TEST

static char *event_with(const char *user_json, const char *url_json)
{
    return ts_strf("{\"user_id\":%s,\"url\":%s,\"ts\":1}", user_json, url_json);
}

static char *quoted(char c, size_t n)
{
    char *s = malloc(n + 3);
    s[0] = '"';
    memset(s + 1, c, n);
    s[n + 1] = '"';
    s[n + 2] = '\0';
    return s;
}

START_TEST(user_and_url_length_limits_exactly)
{
    char *u256 = quoted('u', 256), *u257 = quoted('u', 257);
    char *l4096 = quoted('l', 4096), *l4097 = quoted('l', 4097);
    char *j;
    ck_valid((j = event_with(u256, "\"/\"")));
    free(j);
    ck_reason((j = event_with(u257, "\"/\"")), SLUICE_REASON_BAD_USER);
    ck_assert_str_eq(v.detail, "user_id is longer than 256 bytes");
    free(j);
    ck_valid((j = event_with("\"u\"", l4096)));
    free(j);
    ck_reason((j = event_with("\"u\"", l4097)), SLUICE_REASON_BAD_URL);
    ck_assert_str_eq(v.detail, "url is longer than 4096 bytes");
    free(j);
    /* The limit is on decoded bytes: 256 escaped 'u's are 256 bytes. */
    char esc[256 * 6 + 3], *o = esc;
    *o++ = '"';
    for (int i = 0; i < 256; i++, o += 6)
        memcpy(o, "\\u0075", 6);
    strcpy(o, "\"");
    ck_valid((j = event_with(esc, "\"/\"")));
    free(j);
    free(u256);
    free(u257);
    free(l4096);
    free(l4097);
}
END_TEST

START_TEST(integer_user_ids_are_their_decimal_text)
{
    sluice_record *r = dec("{\"user_id\":4821,\"url\":\"/\",\"ts\":1}");
    ck_assert_ptr_null(v.reason);
    ck_assert(role(r, SLUICE_ROLE_USER, "4821"));
    ck_assert_uint_eq(r->role_hash[SLUICE_ROLE_USER],
                      dec("{\"user_id\":\"4821\",\"url\":\"/\",\"ts\":1}")->role_hash[SLUICE_ROLE_USER]);
    r = dec("{\"user_id\":-9223372036854775808,\"url\":\"/\",\"ts\":1}");
    ck_assert(role(r, SLUICE_ROLE_USER, "-9223372036854775808"));
    r = dec("{\"user_id\":123456789012345678901234567890,\"url\":\"/\",\"ts\":1}");
    ck_assert_ptr_null(v.reason);
    ck_assert(role(r, SLUICE_ROLE_USER, "123456789012345678901234567890"));
    r = dec("{\"user_id\":-0,\"url\":\"/\",\"ts\":1}");
    ck_assert(role(r, SLUICE_ROLE_USER, "0"));
    r = dec("{\"user_id\":0,\"url\":\"/\",\"ts\":1}");
    ck_assert(role(r, SLUICE_ROLE_USER, "0"));
}
END_TEST

START_TEST(bad_url_cases)
{
    ck_reason("{\"user_id\":\"u\",\"ts\":1}", SLUICE_REASON_BAD_URL);
    ck_assert_str_eq(v.detail, "url is missing");
    ck_reason("{\"user_id\":\"u\",\"url\":\"\",\"ts\":1}", SLUICE_REASON_BAD_URL);
    ck_reason("{\"user_id\":\"u\",\"url\":42,\"ts\":1}", SLUICE_REASON_BAD_URL);
    ck_reason("{\"user_id\":\"u\",\"url\":null,\"ts\":1}", SLUICE_REASON_BAD_URL);
    ck_reason("{\"user_id\":\"u\",\"url\":[\"/\"],\"ts\":1}", SLUICE_REASON_BAD_URL);
}
END_TEST

START_TEST(ts_integer_edges)
{
    sluice_record *r = dec("{\"user_id\":\"u\",\"url\":\"/\",\"ts\":0}");
    ck_assert_ptr_null(v.reason);
    ck_assert_int_eq(r->time, 0);
    r = dec("{\"user_id\":\"u\",\"url\":\"/\",\"ts\":9007199254740991}");
    ck_assert_ptr_null(v.reason);
    ck_assert_int_eq(r->time, INT64_C(9007199254740991));
    ck_reason("{\"user_id\":\"u\",\"url\":\"/\",\"ts\":9007199254740992}", SLUICE_REASON_BAD_TS);
    ck_reason("{\"user_id\":\"u\",\"url\":\"/\",\"ts\":-1}", SLUICE_REASON_BAD_TS);
    ck_assert_str_eq(v.detail, "ts is negative");
    ck_reason("{\"user_id\":\"u\",\"url\":\"/\",\"ts\":99999999999999999999}", SLUICE_REASON_BAD_TS);
    ck_reason("{\"user_id\":\"u\",\"url\":\"/\",\"ts\":-99999999999999999999}", SLUICE_REASON_BAD_TS);
    ck_reason("{\"user_id\":\"u\",\"url\":\"/\"}", SLUICE_REASON_BAD_TS);
    ck_assert_str_eq(v.detail, "ts is missing");
}
END_TEST

START_TEST(ts_of_other_types)
{
    ck_reason("{\"user_id\":\"u\",\"url\":\"/\",\"ts\":1795737600000.0}", SLUICE_REASON_BAD_TS);
    ck_assert_ptr_nonnull(strstr(v.detail, "JSON real"));
    ck_reason("{\"user_id\":\"u\",\"url\":\"/\",\"ts\":1e3}", SLUICE_REASON_BAD_TS);
    ck_assert_ptr_nonnull(strstr(v.detail, "JSON real"));
    ck_reason("{\"user_id\":\"u\",\"url\":\"/\",\"ts\":1e999}", SLUICE_REASON_BAD_TS);
    ck_assert_ptr_nonnull(strstr(v.detail, "JSON real"));
    ck_reason("{\"user_id\":\"u\",\"url\":\"/\",\"ts\":true}", SLUICE_REASON_BAD_TS);
    ck_reason("{\"user_id\":\"u\",\"url\":\"/\",\"ts\":null}", SLUICE_REASON_BAD_TS);
    ck_reason("{\"user_id\":\"u\",\"url\":\"/\",\"ts\":{}}", SLUICE_REASON_BAD_TS);
    ck_reason("{\"user_id\":\"u\",\"url\":\"/\",\"ts\":\"yesterday\"}", SLUICE_REASON_BAD_TS);
    ck_assert_str_eq(v.detail, "ts is a string that is not RFC 3339");
    ck_reason("{\"user_id\":\"u\",\"url\":\"/\",\"ts\":\"1969-12-31T23:59:59.999Z\"}", SLUICE_REASON_BAD_TS);
    sluice_record *r = dec("{\"user_id\":\"u\",\"url\":\"/\",\"ts\":\"2026-11-27T00:00:00Z\"}");
    ck_assert_ptr_null(v.reason);
    ck_assert_int_eq(r->time, NOW);
}
END_TEST

START_TEST(future_ts_on_and_off)
{
    cfg.max_future_ms = 3600000;
    ck_valid("{\"user_id\":\"u\",\"url\":\"/\",\"ts\":1795741200000}"); /* exactly now + 1h */
    ck_reason("{\"user_id\":\"u\",\"url\":\"/\",\"ts\":1795741200001}", SLUICE_REASON_FUTURE_TS);
    ck_assert_ptr_nonnull(strstr(v.detail, "1795741200001"));
    ck_reason("{\"user_id\":\"u\",\"url\":\"/\",\"ts\":\"2026-11-27T01:00:00.001Z\"}",
              SLUICE_REASON_FUTURE_TS);
    cfg.max_future_ms = -1;
    ck_valid("{\"user_id\":\"u\",\"url\":\"/\",\"ts\":9007199254740991}");
    cfg.max_future_ms = INT64_MAX; /* must not wrap around */
    ck_valid("{\"user_id\":\"u\",\"url\":\"/\",\"ts\":9007199254740991}");
}
END_TEST

START_TEST(configured_field_names_are_used)
{
    cfg.field_user = "uid";
    cfg.field_url = "page";
    cfg.field_time = "when";
    cfg.field_event_id = "id";
    sluice_record *r = dec("{\"uid\":\"u-9\",\"page\":\"/x\",\"when\":5,\"id\":7,"
                           "\"user_id\":\"other\",\"url\":\"/other\",\"ts\":6}");
    ck_assert_ptr_null(v.reason);
    ck_assert(role(r, SLUICE_ROLE_USER, "u-9"));
    ck_assert(role(r, SLUICE_ROLE_URL, "/x"));
    ck_assert(role(r, SLUICE_ROLE_EVENT_ID, "7"));
    ck_assert_int_eq(r->time, 5);
    ck_reason("{\"user_id\":\"u\",\"url\":\"/\",\"ts\":1}", SLUICE_REASON_BAD_USER);
    ck_assert_str_eq(v.detail, "uid is missing");
}
END_TEST

START_TEST(event_id_string_integer_absent_or_other)
{
    sluice_record *r = dec("{\"user_id\":\"u\",\"url\":\"/\",\"ts\":1,\"event_id\":\"e-7\"}");
    ck_assert(role(r, SLUICE_ROLE_EVENT_ID, "e-7"));
    r = dec("{\"user_id\":\"u\",\"url\":\"/\",\"ts\":1,\"event_id\":77}");
    ck_assert(role(r, SLUICE_ROLE_EVENT_ID, "77"));
    r = dec("{\"user_id\":\"u\",\"url\":\"/\",\"ts\":1,\"event_id\":18446744073709551616}");
    ck_assert(role(r, SLUICE_ROLE_EVENT_ID, "18446744073709551616"));
    r = dec("{\"user_id\":\"u\",\"url\":\"/\",\"ts\":1}");
    ck_assert_ptr_null(v.reason);
    ck_assert(role(r, SLUICE_ROLE_EVENT_ID, NULL));
    /* Another type is treated as absent (documented in event_decoder.c). */
    r = dec("{\"user_id\":\"u\",\"url\":\"/\",\"ts\":1,\"event_id\":{\"a\":1}}");
    ck_assert_ptr_null(v.reason);
    ck_assert(role(r, SLUICE_ROLE_EVENT_ID, NULL));
    r = dec("{\"user_id\":\"u\",\"url\":\"/\",\"ts\":1,\"event_id\":1.5}");
    ck_assert(role(r, SLUICE_ROLE_EVENT_ID, NULL));
}
END_TEST

START_TEST(duplicate_keys_last_one_wins)
{
    sluice_record *r = dec("{\"user_id\":\"first\",\"url\":\"/\",\"ts\":1,\"user_id\":\"last\"}");
    ck_assert_ptr_null(v.reason);
    ck_assert(role(r, SLUICE_ROLE_USER, "last"));
    ck_reason("{\"user_id\":\"u\",\"url\":\"/\",\"ts\":1,\"ts\":-5}", SLUICE_REASON_BAD_TS);
}
END_TEST

/* ------------------------------------------------------------------------ */

static int64_t parse(const char *s)
{
    int64_t ms = -42;
    ck_assert_msg(rfc3339_parse_ms(s, strlen(s), &ms) == 0, "refused %s", s);
    return ms;
}

static int refused(const char *s)
{
    int64_t ms;
    return rfc3339_parse_ms(s, strlen(s), &ms) != 0;
}

START_TEST(rfc3339_forms_and_offsets)
{
    ck_assert_int_eq(parse("1970-01-01T00:00:00Z"), 0);
    ck_assert_int_eq(parse("2026-11-27T00:00:00Z"), NOW);
    ck_assert_int_eq(parse("2026-11-27t00:00:00z"), NOW);
    ck_assert_int_eq(parse("2026-11-27 00:00:00Z"), NOW);
    ck_assert_int_eq(parse("2026-11-27T02:00:00+02:00"), NOW);
    ck_assert_int_eq(parse("2026-11-26T18:30:00-05:30"), NOW);
    ck_assert_int_eq(parse("2026-11-27T00:00:00-00:00"), NOW);
    ck_assert_int_eq(parse("2026-11-27T09:00:00+09:00"), NOW);
    ck_assert_int_eq(parse("2000-01-01T00:00:00Z"), INT64_C(946684800000));
    ck_assert_int_eq(parse("1969-12-31T23:59:59Z"), -1000);
    ck_assert_int_eq(parse("0000-01-01T00:00:00Z"), INT64_C(-62167219200000));
    ck_assert_int_eq(parse("9999-12-31T23:59:59.999Z"), INT64_C(253402300799999));
}
END_TEST

START_TEST(rfc3339_fractions_are_truncated_to_ms)
{
    ck_assert_int_eq(parse("2026-11-27T00:00:00.1Z"), NOW + 100);
    ck_assert_int_eq(parse("2026-11-27T00:00:00.12Z"), NOW + 120);
    ck_assert_int_eq(parse("2026-11-27T00:00:00.123Z"), NOW + 123);
    ck_assert_int_eq(parse("2026-11-27T00:00:00.1239Z"), NOW + 123);
    ck_assert_int_eq(parse("2026-11-27T00:00:00.99999Z"), NOW + 999);
    ck_assert_int_eq(parse("2026-11-27T00:00:00.999999Z"), NOW + 999);
    ck_assert_int_eq(parse("2026-11-27T00:00:00.0000009Z"), NOW);
    ck_assert_int_eq(parse("2026-11-27T00:00:00.99999999Z"), NOW + 999);
    ck_assert_int_eq(parse("2026-11-27T00:00:00.123456789Z"), NOW + 123);
    ck_assert_int_eq(parse("2026-11-27T02:00:00.5+02:00"), NOW + 500);
    ck_assert(refused("2026-11-27T00:00:00.Z"));
}
END_TEST

START_TEST(rfc3339_calendar_is_validated)
{
    ck_assert_int_eq(parse("2024-02-29T00:00:00Z"), INT64_C(1709164800000));
    ck_assert_int_eq(parse("2000-02-29T00:00:00Z"), INT64_C(951782400000));
    ck_assert(refused("2023-02-29T00:00:00Z"));
    ck_assert(refused("1900-02-29T00:00:00Z"));
    ck_assert(refused("2026-04-31T00:00:00Z"));
    ck_assert(refused("2026-13-01T00:00:00Z"));
    ck_assert(refused("2026-00-01T00:00:00Z"));
    ck_assert(refused("2026-01-00T00:00:00Z"));
    ck_assert(refused("2026-01-32T00:00:00Z"));
    ck_assert(refused("2026-01-01T24:00:00Z"));
    ck_assert(refused("2026-01-01T23:60:00Z"));
    ck_assert(refused("2026-01-01T23:59:61Z"));
    ck_assert(refused("2026-01-01T00:00:00+24:00"));
    ck_assert(refused("2026-01-01T00:00:00+01:60"));
}
END_TEST

START_TEST(rfc3339_leap_second_only_at_2359_utc)
{
    /* 23:59:60 UTC counts as the next day's 00:00:00. */
    ck_assert_int_eq(parse("2016-12-31T23:59:60Z"), parse("2017-01-01T00:00:00Z"));
    ck_assert_int_eq(parse("2016-12-31T23:59:60.5Z"), parse("2017-01-01T00:00:00.500Z"));
    ck_assert_int_eq(parse("2017-01-01T00:59:60+01:00"), parse("2017-01-01T00:00:00Z"));
    ck_assert(refused("2016-12-31T12:00:60Z"));
    ck_assert(refused("2016-12-31T23:59:60+01:00"));
}
END_TEST

START_TEST(rfc3339_syntax_is_strict)
{
    const char *bad[] = {
        "",
        "2026-11-27",
        "2026-11-27T00:00:00", /* no offset */
        "2026-11-27T16:00Z",   /* no seconds */
        "2026-11-27X16:00:00Z",
        "2026/11/27T16:00:00Z",
        "26-11-27T16:00:00Z",
        "2026-11-27T00:00:00+0200",
        "2026-11-27T00:00:00+02",
        "2026-11-27T00:00:00Z ",
        " 2026-11-27T00:00:00Z",
        "2026-11-27T00:00:00ZZ",
        "2026-1-27T16:00:00Z",
        "2026-11-27T00:00:00,5Z",
        "+2026-11-27T00:00:00Z",
        "2026-11-27T00:0a:00Z",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        ck_assert_msg(refused(bad[i]), "accepted \"%s\"", bad[i]);
    /* Bounded by n, not by a NUL. */
    int64_t ms;
    ck_assert_int_eq(rfc3339_parse_ms("2026-11-27T00:00:00Zjunk", 20, &ms), 0);
    ck_assert_int_eq(ms, NOW);
    ck_assert_int_ne(rfc3339_parse_ms("2026-11-27T00:00:00Z", 19, &ms), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("event_decoder");
    TCase *tc = tcase_create("decode");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, valid_event_sets_roles_time_and_fields);
    tcase_add_test(tc, equal_role_bytes_hash_equal_escaped_or_not);
    tcase_add_test(tc, too_large_is_checked_first_at_the_exact_limit);
    tcase_add_test(tc, malformed_inputs_say_why);
    tcase_add_test(tc, malformed_record_keeps_no_fields);
    tcase_add_test(tc, precedence_follows_the_table_order);
    tcase_add_test(tc, bad_user_cases);
    tcase_add_test(tc, user_and_url_length_limits_exactly);
    tcase_add_test(tc, integer_user_ids_are_their_decimal_text);
    tcase_add_test(tc, bad_url_cases);
    tcase_add_test(tc, ts_integer_edges);
    tcase_add_test(tc, ts_of_other_types);
    tcase_add_test(tc, future_ts_on_and_off);
    tcase_add_test(tc, configured_field_names_are_used);
    tcase_add_test(tc, event_id_string_integer_absent_or_other);
    tcase_add_test(tc, duplicate_keys_last_one_wins);
    suite_add_tcase(s, tc);
    TCase *tr = tcase_create("rfc3339");
    tcase_add_test(tr, rfc3339_forms_and_offsets);
    tcase_add_test(tr, rfc3339_fractions_are_truncated_to_ms);
    tcase_add_test(tr, rfc3339_calendar_is_validated);
    tcase_add_test(tr, rfc3339_leap_second_only_at_2359_utc);
    tcase_add_test(tr, rfc3339_syntax_is_strict);
    suite_add_tcase(s, tr);
    return ts_run_suite(s);
}
