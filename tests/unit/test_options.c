/* Plugin options: validation against the declared spec, defaults, typed
 * read-back, older spec layouts, and help output. */
#include <check.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"
#include "pipeline_def.h"
#include "test_support.h"

#define OPT(...)                                \
    {                                           \
        sizeof(sluice_option_spec), __VA_ARGS__ \
    }

static const sluice_option_spec spec[] = {
    OPT("path", SLUICE_OPT_STRING, NULL, 1, "The file to read.", 0, 0, NULL, 0, 0),
    OPT("retries", SLUICE_OPT_INT, "3", 0, "How often to retry.", 0, 10, NULL, 0, 0),
    OPT("offset", SLUICE_OPT_INT, "-5", 0, "Unbounded.", 1, 0, NULL, 0, 0),
    OPT("ratio", SLUICE_OPT_DOUBLE, "0.5", 0, "A fraction.", 0, 1, NULL, 0, 0),
    OPT("follow", SLUICE_OPT_BOOL, "no", 0, "Keep reading.", 0, 0, NULL, 0, 0),
    OPT("ttl", SLUICE_OPT_DURATION, "1h", 0, "Memory.", 1000, 86400000, NULL, 0, 0),
    OPT("max_future", SLUICE_OPT_DURATION, "off", 0, "Clock skew.", 0, 0, NULL, 1, 0),
    OPT("mode", SLUICE_OPT_ENUM, "fast", 0, "Speed.", 0, 0, "fast|safe|paranoid", 0, 0),
    OPT("config", SLUICE_OPT_MAP, "{a: 1}", 0, "Extra settings.", 0, 0, NULL, 0, 0),
    OPT("topics", SLUICE_OPT_LIST, "[clicks, views]", 0, "Topics.", 0, 0, NULL, 0, 0),
    OPT("password", SLUICE_OPT_STRING, NULL, 0, "Secret.", 0, 0, NULL, 0, 1),
    SLUICE_OPTION_END,
};

static diag_list diags;
static pipeline_def *def;
static sluice_options *opts;
static char *misuse;

static void record_misuse(const sluice_options *o, const char *message)
{
    (void)o;
    free(misuse);
    misuse = strdup(message);
}

static void setup(void)
{
    diag_init(&diags);
    options_set_misuse_handler(record_misuse);
}

static void teardown(void)
{
    options_free(opts);
    opts = NULL;
    pipeline_def_free(def);
    def = NULL;
    diag_free(&diags);
    free(misuse);
    misuse = NULL;
}

/* The options map of a one-step pipeline whose options are `body` (YAML
 * lines indented by 6, starting on line 5). */
static const cfg_node *options_map(const char *body)
{
    char *path = ts_strf("%s/o.yaml", ts_tmpdir());
    char *yaml = ts_strf("steps:\n  - name: s\n    plugin: x\n    options:\n%s", body);
    ts_write_file(path, yaml);
    diag_list d;
    diag_init(&d);
    def = pipeline_def_load(path, &d);
    ck_assert_diag_count(&d, 0);
    diag_free(&d);
    free(yaml);
    free(path);
    return def->steps[0].options;
}

static sluice_options *build(const char *body)
{
    opts = options_build(spec, body ? options_map(body) : NULL, "demo", "o.yaml", &diags);
    return opts;
}

static int has_diag(int line, int column, const char *text)
{
    for (size_t i = 0; i < diags.count; i++)
        if (diags.items[i].pos.line == line && diags.items[i].pos.column == column &&
            strstr(diags.items[i].message, text))
            return 1;
    return 0;
}

START_TEST(values_and_defaults_are_read_back_typed)
{
    ck_assert_ptr_nonnull(build("      path: in.jsonl\n"
                                "      retries: 7\n"
                                "      ratio: 0.25\n"
                                "      follow: On\n"
                                "      ttl: 30m\n"
                                "      mode: safe\n"
                                "      config: {bootstrap.servers: 'k:9092', acks: all}\n"
                                "      topics: one\n"));
    ck_assert_diag_count(&diags, 0);
    ck_assert_str_eq(options_string(opts, "path"), "in.jsonl");
    ck_assert_int_eq(options_int(opts, "retries"), 7);
    ck_assert_int_eq(options_int(opts, "offset"), -5);
    ck_assert_double_eq(options_double(opts, "ratio"), 0.25);
    ck_assert_int_eq(options_bool(opts, "follow"), 1);
    ck_assert_int_eq(options_duration_ms(opts, "ttl"), 30 * 60 * 1000);
    ck_assert_int_eq(options_duration_ms(opts, "max_future"), -1);
    ck_assert_str_eq(options_string(opts, "mode"), "safe");
    ck_assert_uint_eq(options_count(opts, "config"), 2);
    const char *k, *v;
    ck_assert_int_eq(options_entry(opts, "config", 0, &k, &v), 1);
    ck_assert_str_eq(k, "bootstrap.servers");
    ck_assert_str_eq(v, "k:9092");
    ck_assert_int_eq(options_entry(opts, "config", 2, &k, &v), 0);
    ck_assert_uint_eq(options_count(opts, "topics"), 1); /* a scalar is a list of one */
    ck_assert_int_eq(options_entry(opts, "topics", 0, &k, &v), 1);
    ck_assert_ptr_null(k);
    ck_assert_str_eq(v, "one");
    ck_assert_int_eq(options_is_set(opts, "ttl"), 1);
    ck_assert_int_eq(options_is_set(opts, "max_future"), 0);
    ck_assert_ptr_null(options_string(opts, "password")); /* no value, no default */
    ck_assert_ptr_null(misuse);
}
END_TEST

START_TEST(defaults_apply_when_not_given)
{
    ck_assert_ptr_nonnull(build("      path: p\n"));
    ck_assert_int_eq(options_int(opts, "retries"), 3);
    ck_assert_double_eq(options_double(opts, "ratio"), 0.5);
    ck_assert_int_eq(options_bool(opts, "follow"), 0);
    ck_assert_int_eq(options_duration_ms(opts, "ttl"), 3600000);
    ck_assert_str_eq(options_string(opts, "mode"), "fast");
    ck_assert_uint_eq(options_count(opts, "config"), 1);
    ck_assert_uint_eq(options_count(opts, "topics"), 2);
    const char *v;
    ck_assert_int_eq(options_entry(opts, "topics", 1, NULL, &v), 1);
    ck_assert_str_eq(v, "views");
}
END_TEST

START_TEST(a_missing_required_option_is_reported)
{
    ck_assert_ptr_null(build("      retries: 1\n"));
    ck_assert_diag_count(&diags, 1);
    ck_assert_diag(&diags, has_diag(5, 7, "missing required option 'path' of plugin 'demo'"));
    teardown();
    setup();
    /* Without any options map the error still names the file. */
    ck_assert_ptr_null(options_build(spec, NULL, "demo", "o.yaml", &diags));
    ck_assert_diag_count(&diags, 1);
    ck_assert_str_eq(diags.items[0].pos.file, "o.yaml");
}
END_TEST

START_TEST(unknown_options_are_reported_with_a_suggestion)
{
    ck_assert_ptr_null(build("      path: p\n"
                             "      retires: 2\n"
                             "      zzzzzz: 1\n"));
    ck_assert_diag_count(&diags, 2);
    ck_assert_diag(&diags,
                   has_diag(6, 7, "unknown option 'retires' for plugin 'demo'; did you mean 'retries'?"));
    ck_assert_diag(&diags, has_diag(7, 7, "unknown option 'zzzzzz' for plugin 'demo'"));
    ck_assert_diag(&diags, !has_diag(7, 7, "did you mean"));
}
END_TEST

START_TEST(a_plugin_without_options_rejects_any)
{
    opts = options_build(NULL, options_map("      x: 1\n"), "bare", "o.yaml", &diags);
    ck_assert_ptr_null(opts);
    ck_assert_diag(&diags, has_diag(5, 7, "plugin 'bare' takes no options"));
    teardown();
    setup();
    opts = options_build(NULL, NULL, "bare", "o.yaml", &diags);
    ck_assert_ptr_nonnull(opts);
    ck_assert_diag_count(&diags, 0);
}
END_TEST

START_TEST(type_errors_are_reported_at_the_value)
{
    ck_assert_ptr_null(build("      path: [a, b]\n"      /* 5 */
                             "      retries: 2x\n"       /* 6 */
                             "      offset: 1.0\n"       /* 7 */
                             "      ratio: half\n"       /* 8 */
                             "      follow: maybe\n"     /* 9 */
                             "      ttl: 5 minutes\n"    /* 10 */
                             "      max_future: -1s\n"   /* 11 */
                             "      mode: safer\n"       /* 12 */
                             "      config: [a]\n"       /* 13 */
                             "      topics: {a: b}\n")); /* 14 */
    ck_assert_diag_count(&diags, 10);
    ck_assert_diag(&diags,
                   has_diag(5, 13, "option 'path' of plugin 'demo' must be a single value, not a list"));
    ck_assert_diag(&diags, has_diag(6, 16, "option 'retries' of plugin 'demo' must be an integer, not '2x'"));
    ck_assert_diag(&diags, has_diag(7, 15, "must be an integer, not '1.0'"));
    ck_assert_diag(&diags, has_diag(8, 14, "option 'ratio' of plugin 'demo' must be a number, not 'half'"));
    ck_assert_diag(&diags, has_diag(9, 15, "must be true or false"));
    ck_assert_diag(&diags, has_diag(10, 12, "must be a duration such as 250ms"));
    ck_assert_diag(&diags, has_diag(11, 19, "(or off), not '-1s'"));
    ck_assert_diag(&diags,
                   has_diag(12, 13, "must be one of fast|safe|paranoid, not 'safer'; did you mean 'safe'?"));
    ck_assert_diag(&diags, has_diag(13, 15, "option 'config' of plugin 'demo' must be a map, not a list"));
    ck_assert_diag(&diags, has_diag(14, 15, "must be a list or a single value, not a map"));
}
END_TEST

START_TEST(ranges_are_checked)
{
    ck_assert_ptr_null(build("      path: p\n"
                             "      retries: 11\n"
                             "      ratio: -0.1\n"
                             "      ttl: 500ms\n"));
    ck_assert_diag_count(&diags, 3);
    ck_assert_diag(&diags, has_diag(6, 16, "must be in 0..10, not '11'"));
    ck_assert_diag(&diags, has_diag(7, 14, "must be in 0..1, not '-0.1'"));
    ck_assert_diag(&diags, has_diag(8, 12, "must be in 1s..1d, not '500ms'"));
    teardown();
    setup();
    /* The edges are inside; min > max means no range. */
    ck_assert_ptr_nonnull(build("      path: p\n"
                                "      retries: 10\n"
                                "      offset: -9223372036854775808\n"
                                "      ttl: 1d\n"));
    ck_assert_int_eq(options_int(opts, "offset"), INT64_MIN);
}
END_TEST

START_TEST(huge_bounds_read_as_open_ended)
{
    static const sluice_option_spec open_spec[] = {
        OPT("ttl", SLUICE_OPT_DURATION, NULL, 0, "", 1, 1e17, NULL, 0, 0),
        OPT("n", SLUICE_OPT_INT, NULL, 0, "", -1e19, 5, NULL, 0, 0),
        /* Bounds no int64 holds, never converted to one (found by
         * fuzz/descriptor_fuzz: clang's UBSan flagged the conversion). */
        OPT("wait", SLUICE_OPT_DURATION, NULL, 0, "", -1e300, 1e300, NULL, 0, 0),
        SLUICE_OPTION_END,
    };
    opts = options_build(open_spec, options_map("      ttl: 0\n      n: 6\n"), "o", "o.yaml", &diags);
    ck_assert_ptr_null(opts);
    ck_assert_diag(&diags, has_diag(5, 12, "option 'ttl' of plugin 'o' must be at least 1ms, not '0'"));
    ck_assert_diag(&diags, has_diag(6, 10, "option 'n' of plugin 'o' must be at most 5, not '6'"));
    char *path = ts_strf("%s/open.txt", ts_tmpdir());
    FILE *f = fopen(path, "w");
    options_print_help(open_spec, f);
    fclose(f);
    char *text = ts_read_file(path, NULL);
    ck_assert_str_eq(text, "  ttl (duration, at least 1ms)\n  n (int, up to 5)\n  wait (duration)\n");
    free(text);
    free(path);
}
END_TEST

/* As a person would write them: no `0ms..50000000m`. */
START_TEST(ranges_in_help_read_as_a_person_writes_them)
{
    static const sluice_option_spec spec_h[] = {
        OPT("gap", SLUICE_OPT_DURATION, NULL, 0, "", 0, 3e12, NULL, 0, 0),
        OPT("linger", SLUICE_OPT_DURATION, NULL, 0, "", 0, 900000, NULL, 0, 0),
        OPT("every", SLUICE_OPT_DURATION, NULL, 0, "", 100, 3600000, NULL, 0, 0),
        OPT("think", SLUICE_OPT_DURATION, NULL, 0, "", 1, 1e12, NULL, 0, 0),
        OPT("rate", SLUICE_OPT_DOUBLE, NULL, 0, "", 0, 1e9, NULL, 0, 0),
        SLUICE_OPTION_END,
    };
    char *path = ts_strf("%s/human.txt", ts_tmpdir());
    FILE *f = fopen(path, "w");
    options_print_help(spec_h, f);
    fclose(f);
    char *text = ts_read_file(path, NULL);
    ck_assert_str_eq(text, "  gap (duration)\n"
                           "  linger (duration, up to 15m)\n"
                           "  every (duration, 100ms..1h)\n"
                           "  think (duration, at least 1ms)\n"
                           "  rate (double, 0..1e9)\n");
    free(text);
    free(path);
    /* A bound the help leaves out as "no limit" is still exact in an error. */
    opts = options_build(spec_h, options_map("      gap: 40000d\n"), "o", "o.yaml", &diags);
    ck_assert_ptr_null(opts);
    ck_assert_diag(&diags,
                   has_diag(5, 12, "option 'gap' of plugin 'o' must be at most 50000000m, not '40000d'"));
}
END_TEST

START_TEST(nested_values_in_maps_and_lists_are_reported_at_the_entry)
{
    ck_assert_ptr_null(build("      path: p\n"
                             "      config:\n"
                             "        ok: 1\n"
                             "        nested: {a: b}\n"
                             "      topics: [a, [b]]\n"));
    ck_assert_diag_count(&diags, 2);
    ck_assert_diag(&diags, has_diag(8, 17, "entry 'nested' must be a single value"));
    ck_assert_diag(&diags, has_diag(9, 19, "item 2 must be a single value"));
}
END_TEST

START_TEST(secret_values_are_never_echoed)
{
    static const sluice_option_spec secret_spec[] = {
        OPT("pin", SLUICE_OPT_INT, NULL, 0, "A PIN.", 0, 0, NULL, 0, 1),
        SLUICE_OPTION_END,
    };
    opts = options_build(secret_spec, options_map("      pin: hunter2\n"), "vault", "o.yaml", &diags);
    ck_assert_ptr_null(opts);
    ck_assert_diag_count(&diags, 1);
    ck_assert_ptr_null(strstr(diags.items[0].message, "hunter2"));
    ck_assert_ptr_nonnull(strstr(diags.items[0].message, "***"));
}
END_TEST

START_TEST(a_bad_default_is_an_error_naming_the_plugin)
{
    static const sluice_option_spec bad[] = {
        OPT("n", SLUICE_OPT_INT, "many", 0, "", 0, 0, NULL, 0, 0),
        OPT("l", SLUICE_OPT_LIST, "[a, b", 0, "", 0, 0, NULL, 0, 0),
        OPT("e", SLUICE_OPT_ENUM, "c", 0, "", 0, 0, "a|b", 0, 0),
        SLUICE_OPTION_END,
    };
    ck_assert_ptr_null(options_build(bad, NULL, "broken", "o.yaml", &diags));
    ck_assert_diag_count(&diags, 3);
    ck_assert_ptr_nonnull(
        strstr(diags.items[0].message, "plugin 'broken' declares a bad default for option 'n'"));
    ck_assert_ptr_nonnull(strstr(diags.items[1].message, "option 'l'"));
    ck_assert_ptr_nonnull(strstr(diags.items[2].message, "option 'e'"));
}
END_TEST

START_TEST(a_bad_spec_table_is_reported)
{
    static const sluice_option_spec bad[] = {
        OPT("a", (sluice_opt_type)42, NULL, 0, "", 0, 0, NULL, 0, 0),
        OPT("b", SLUICE_OPT_ENUM, NULL, 0, "", 0, 0, NULL, 0, 0),
        OPT("b", SLUICE_OPT_STRING, NULL, 0, "", 0, 0, NULL, 0, 0),
        SLUICE_OPTION_END,
    };
    ck_assert_ptr_null(options_build(bad, NULL, "broken", "o.yaml", &diags));
    ck_assert_diag_count(&diags, 3);
}
END_TEST

/* A plugin built against a layout that ended after `doc`. */
typedef struct old_option_spec {
    uint32_t struct_size;
    const char *name;
    sluice_opt_type type;
    const char *default_value;
    int required;
    const char *doc;
} old_option_spec;

START_TEST(an_older_smaller_spec_is_read_with_its_own_stride)
{
    static const old_option_spec old[] = {
        {sizeof(old_option_spec), "count", SLUICE_OPT_INT, "12", 0, "A count."},
        {sizeof(old_option_spec), "name", SLUICE_OPT_STRING, NULL, 1, "A name."},
        {sizeof(old_option_spec), "ttl", SLUICE_OPT_DURATION, NULL, 0, "No 'off' back then."},
        {sizeof(old_option_spec), NULL, 0, NULL, 0, NULL},
    };
    ck_assert_uint_lt(sizeof(old_option_spec), sizeof(sluice_option_spec));
    const sluice_option_spec *as_new = (const sluice_option_spec *)(const void *)old;
    opts = options_build(as_new, options_map("      name: n\n      count: 99999\n"), "old", "o.yaml", &diags);
    ck_assert_ptr_nonnull(opts);
    /* min/max past its end read as zero: no range, so 99999 is fine. */
    ck_assert_int_eq(options_int(opts, "count"), 99999);
    ck_assert_str_eq(options_string(opts, "name"), "n");
    ck_assert_int_eq(options_is_secret(opts, "name"), 0);
    options_free(opts);
    opts = NULL;
    pipeline_def_free(def);
    /* allow_off is past its end too: "off" is not accepted. */
    opts = options_build(as_new, options_map("      name: n\n      ttl: off\n"), "old", "o.yaml", &diags);
    ck_assert_ptr_null(opts);
    ck_assert_diag(&diags, has_diag(6, 12, "must be a duration"));
}
END_TEST

START_TEST(a_spec_smaller_than_the_oldest_layout_is_refused)
{
    static const old_option_spec tiny[] = {
        {offsetof(old_option_spec, doc), "count", SLUICE_OPT_INT, "12", 0, "A count."},
        {0, NULL, 0, NULL, 0, NULL},
    };
    ck_assert_ptr_null(
        options_build((const sluice_option_spec *)(const void *)tiny, NULL, "tiny", "o.yaml", &diags));
    ck_assert_diag_count(&diags, 1);
    ck_assert_ptr_nonnull(strstr(diags.items[0].message, "plugin 'tiny'"));
    ck_assert_ptr_nonnull(strstr(diags.items[0].message, "struct_size"));
}
END_TEST

START_TEST(wrong_names_and_types_return_zero_and_report)
{
    ck_assert_ptr_nonnull(build("      path: p\n"));
    ck_assert_int_eq(options_int(opts, "path"), 0);
    ck_assert_ptr_nonnull(misuse);
    ck_assert_ptr_nonnull(strstr(misuse, "reads option 'path' (a string) as an int"));
    ck_assert_ptr_null(options_string(opts, "nope"));
    ck_assert_ptr_nonnull(strstr(misuse, "'nope', which it does not declare"));
    ck_assert_int_eq(options_duration_ms(opts, "retries"), 0);
    ck_assert_uint_eq(options_count(opts, "path"), 0);
}
END_TEST

START_TEST(help_lists_every_option_and_hides_secrets)
{
    static const sluice_option_spec s2[] = {
        OPT("password", SLUICE_OPT_STRING, "swordfish", 0, "The password.", 0, 0, NULL, 0, 1),
        OPT("ttl", SLUICE_OPT_DURATION, "1h", 0, "Memory.", 1000, 86400000, NULL, 1, 0),
        OPT("mode", SLUICE_OPT_ENUM, NULL, 1, "Speed.", 0, 0, "fast|safe", 0, 0),
        SLUICE_OPTION_END,
    };
    char *path = ts_strf("%s/help.txt", ts_tmpdir());
    FILE *f = fopen(path, "w");
    options_print_help(s2, f);
    fclose(f);
    char *text = ts_read_file(path, NULL);
    ck_assert_str_eq(text, "  password (string, default ***, secret)\n"
                           "      The password.\n"
                           "  ttl (duration, default 1h, 1s..1d, or off)\n"
                           "      Memory.\n"
                           "  mode (enum: fast|safe, required)\n"
                           "      Speed.\n");
    free(text);
    free(path);
}
END_TEST

START_TEST(printed_values_mask_secrets)
{
    ck_assert_ptr_nonnull(build("      path: p\n      password: hunter2\n"));
    ck_assert_int_eq(options_is_secret(opts, "password"), 1);
    ck_assert_int_eq(options_is_secret(opts, "path"), 0);
    char *path = ts_strf("%s/values.txt", ts_tmpdir());
    FILE *f = fopen(path, "w");
    options_print_values(opts, f);
    fclose(f);
    char *text = ts_read_file(path, NULL);
    ck_assert_ptr_null(strstr(text, "hunter2"));
    ck_assert_ptr_nonnull(strstr(text, "  password: ***\n"));
    ck_assert_ptr_nonnull(strstr(text, "  topics: [clicks, views]\n"));
    ck_assert_ptr_nonnull(strstr(text, "  ttl: 1h\n"));
    free(text);
    free(path);
}
END_TEST

START_TEST(durations_format_with_the_largest_exact_unit)
{
    char buf[32];
    options_format_duration(90000, buf, sizeof buf);
    ck_assert_str_eq(buf, "90s");
    options_format_duration(7200000, buf, sizeof buf);
    ck_assert_str_eq(buf, "2h");
    options_format_duration(250, buf, sizeof buf);
    ck_assert_str_eq(buf, "250ms");
    options_format_duration(0, buf, sizeof buf);
    ck_assert_str_eq(buf, "0ms");
    options_format_duration(-1, buf, sizeof buf);
    ck_assert_str_eq(buf, "off");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("options");
    TCase *tc = tcase_create("options");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, values_and_defaults_are_read_back_typed);
    tcase_add_test(tc, defaults_apply_when_not_given);
    tcase_add_test(tc, a_missing_required_option_is_reported);
    tcase_add_test(tc, unknown_options_are_reported_with_a_suggestion);
    tcase_add_test(tc, a_plugin_without_options_rejects_any);
    tcase_add_test(tc, type_errors_are_reported_at_the_value);
    tcase_add_test(tc, ranges_are_checked);
    tcase_add_test(tc, huge_bounds_read_as_open_ended);
    tcase_add_test(tc, ranges_in_help_read_as_a_person_writes_them);
    tcase_add_test(tc, nested_values_in_maps_and_lists_are_reported_at_the_entry);
    tcase_add_test(tc, secret_values_are_never_echoed);
    tcase_add_test(tc, a_bad_default_is_an_error_naming_the_plugin);
    tcase_add_test(tc, a_bad_spec_table_is_reported);
    tcase_add_test(tc, an_older_smaller_spec_is_read_with_its_own_stride);
    tcase_add_test(tc, a_spec_smaller_than_the_oldest_layout_is_refused);
    tcase_add_test(tc, wrong_names_and_types_return_zero_and_report);
    tcase_add_test(tc, help_lists_every_option_and_hides_secrets);
    tcase_add_test(tc, printed_values_mask_secrets);
    tcase_add_test(tc, durations_format_with_the_largest_exact_unit);
    suite_add_tcase(s, tc);
    return ts_run_suite(s);
}
