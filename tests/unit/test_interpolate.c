/* ${VAR} interpolation, durations and "did you mean" suggestions: the small
 * text helpers of pipeline configuration. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"
#include "interpolate.h"
#include "suggest.h"
#include "test_support.h"

static const char *env(void *ud, const char *name)
{
    (void)ud;
    static const char *const vars[][2] = {
        {"HOST", "kafka"}, {"PORT", "9092"}, {"EMPTY", ""}, {"DOLLAR", "$x"}, {"B", "inner"}};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        if (strcmp(vars[i][0], name) == 0)
            return vars[i][1];
    return NULL;
}

/* Expand and compare; NULL `want` means an error whose text contains `err`. */
static void expect(const char *text, const char *want, const char *err)
{
    char *error = (char *)"untouched";
    char *got = interpolate(text, env, NULL, &error);
    if (want) {
        ck_assert_msg(got != NULL, "'%s' failed: %s", text, error ? error : "?");
        ck_assert_str_eq(got, want);
        ck_assert_ptr_null(error);
    } else {
        ck_assert_msg(got == NULL, "'%s' should fail, gave '%s'", text, got ? got : "");
        ck_assert_ptr_nonnull(error);
        ck_assert_msg(strstr(error, err) != NULL, "'%s': error '%s' lacks '%s'", text, error, err);
        free(error);
    }
    free(got);
}

START_TEST(plain_text_is_unchanged)
{
    expect("", "", NULL);
    expect("no variables here", "no variables here", NULL);
    expect("cost: 5$ or $5", "cost: 5$ or $5", NULL); /* a lone $ stays */
}
END_TEST

START_TEST(set_variables_are_substituted_within_text)
{
    expect("${HOST}", "kafka", NULL);
    expect("${HOST}:${PORT}", "kafka:9092", NULL);
    expect("tcp://${HOST}:${PORT}/x", "tcp://kafka:9092/x", NULL);
    expect("[${EMPTY}]", "[]", NULL);
    expect("${DOLLAR}", "$x", NULL); /* values are not expanded again */
}
END_TEST

START_TEST(an_unset_variable_is_an_error)
{
    expect("a ${NOPE} b", NULL, "environment variable NOPE is not set");
}
END_TEST

START_TEST(defaults_apply_when_unset_or_empty)
{
    expect("${NOPE:-fallback}", "fallback", NULL);
    expect("${EMPTY:-fallback}", "fallback", NULL);
    expect("${HOST:-fallback}", "kafka", NULL);
    expect("${NOPE:-}", "", NULL);
    expect("${NOPE:-a:b-c}", "a:b-c", NULL);
    expect("${NOPE:-${B}-x}", "inner-x", NULL); /* defaults may nest */
    expect("${NOPE:-${ALSO_NOPE}}", NULL, "ALSO_NOPE is not set");
}
END_TEST

START_TEST(required_variables_fail_with_the_message)
{
    expect("${NOPE:?set NOPE to the broker list}", NULL, "NOPE: set NOPE to the broker list");
    expect("${EMPTY:?must not be empty}", NULL, "EMPTY: must not be empty");
    expect("${EMPTY:?}", NULL, "EMPTY is not set or empty");
    expect("${HOST:?unused}", "kafka", NULL);
}
END_TEST

START_TEST(double_dollar_is_a_literal_dollar)
{
    expect("$$", "$", NULL);
    expect("$${HOST}", "${HOST}", NULL);
    expect("price: $$5 for ${HOST}", "price: $5 for kafka", NULL);
    expect("$$$${HOST}", "$${HOST}", NULL);
}
END_TEST

START_TEST(malformed_references_are_errors)
{
    expect("${HOST", NULL, "unterminated '${'");
    expect("abc ${", NULL, "unterminated '${'");
    expect("${NOPE:-x", NULL, "unterminated");
    expect("${}", NULL, "invalid variable reference");
    expect("${1X}", NULL, "invalid variable reference");
    expect("${A B}", NULL, "invalid variable reference");
    expect("${HOST-x}", NULL, "invalid variable reference");
}
END_TEST

START_TEST(the_default_lookup_is_the_environment)
{
    setenv("SLUICE_TEST_INTERP", "from-env", 1);
    char *error = NULL;
    char *got = interpolate("${SLUICE_TEST_INTERP}", NULL, NULL, &error);
    ck_assert_str_eq(got, "from-env");
    free(got);
}
END_TEST

static int64_t ms(const char *s)
{
    int64_t v = -42;
    ck_assert_msg(duration_parse_ms(s, &v) == 0, "'%s' should parse", s);
    return v;
}

static void bad_duration(const char *s)
{
    int64_t v = 7;
    ck_assert_msg(duration_parse_ms(s, &v) == -1, "'%s' should be refused", s);
    ck_assert_int_eq(v, 7); /* left alone */
}

START_TEST(durations_parse_every_unit)
{
    ck_assert_int_eq(ms("250ms"), 250);
    ck_assert_int_eq(ms("5s"), 5000);
    ck_assert_int_eq(ms("30m"), 1800000);
    ck_assert_int_eq(ms("1h"), 3600000);
    ck_assert_int_eq(ms("1d"), 86400000);
    ck_assert_int_eq(ms("0"), 0);
    ck_assert_int_eq(ms("1500"), 1500);
    ck_assert_int_eq(ms("0s"), 0);
    ck_assert_int_eq(ms("9223372036854775807"), INT64_MAX);
    ck_assert_int_eq(ms("106751991167d"), 106751991167LL * 86400000);
}
END_TEST

START_TEST(bad_durations_are_refused)
{
    static const char *const bad[] = {"",
                                      "-5s",
                                      "+5s",
                                      " 5s",
                                      "5s ",
                                      "5 s",
                                      "5x",
                                      "s",
                                      "ms",
                                      "5S",
                                      "1.5h",
                                      "off",
                                      "5sec",
                                      "1h30m",
                                      "9223372036854775808",
                                      "106751991168d",
                                      "9223372036854776s"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        bad_duration(bad[i]);
    int64_t v;
    ck_assert_int_eq(duration_parse_ms(NULL, &v), -1);
}
END_TEST

START_TEST(suggestions_find_near_misses_only)
{
    static const char *const keys[] = {"name", "plugin", "input", "options", "event"};
    ck_assert_str_eq(suggest_closest("inptu", keys, 5), "input");  /* swap */
    ck_assert_str_eq(suggest_closest("plugn", keys, 5), "plugin"); /* deletion */
    ck_assert_str_eq(suggest_closest("optionss", keys, 5), "options");
    ck_assert_str_eq(suggest_closest("Name", keys, 5), "name"); /* case */
    ck_assert_ptr_null(suggest_closest("colour", keys, 5));
    ck_assert_ptr_null(suggest_closest("x", keys, 5));
    ck_assert_ptr_null(suggest_closest("input", keys, 5)); /* an exact match needs no hint */
    ck_assert_ptr_null(suggest_closest("abc", NULL, 0));
    ck_assert_uint_eq(suggest_distance("kitten", "sitting"), 3);
    ck_assert_uint_eq(suggest_distance("ab", "ba"), 1);
    ck_assert_uint_eq(suggest_distance("", "abc"), 3);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("interpolate");
    TCase *tc = tcase_create("interpolate");
    tcase_add_test(tc, plain_text_is_unchanged);
    tcase_add_test(tc, set_variables_are_substituted_within_text);
    tcase_add_test(tc, an_unset_variable_is_an_error);
    tcase_add_test(tc, defaults_apply_when_unset_or_empty);
    tcase_add_test(tc, required_variables_fail_with_the_message);
    tcase_add_test(tc, double_dollar_is_a_literal_dollar);
    tcase_add_test(tc, malformed_references_are_errors);
    tcase_add_test(tc, the_default_lookup_is_the_environment);
    suite_add_tcase(s, tc);
    TCase *td = tcase_create("duration");
    tcase_add_test(td, durations_parse_every_unit);
    tcase_add_test(td, bad_durations_are_refused);
    suite_add_tcase(s, td);
    TCase *tg = tcase_create("suggest");
    tcase_add_test(tg, suggestions_find_near_misses_only);
    suite_add_tcase(s, tg);
    return ts_run_suite(s);
}
