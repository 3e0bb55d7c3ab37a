/* Pipeline files: parsing, positions, and every structural error. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline_def.h"
#include "test_support.h"

/* A fixed environment, so tests do not depend on the caller's. */
static const char *fake_env(void *ud, const char *name)
{
    (void)ud;
    if (strcmp(name, "INPUT") == 0)
        return "/data/in.jsonl";
    if (strcmp(name, "EMPTY") == 0)
        return "";
    return NULL;
}

static diag_list diags;
static pipeline_def *def;
static char *path; /* diagnostics of a NULL load point at it */

static pipeline_def *load_named(const char *file, const char *yaml)
{
    path = ts_strf("%s/%s", ts_tmpdir(), file);
    ts_write_file(path, yaml);
    diag_init(&diags);
    def = pipeline_def_load_with(path, fake_env, NULL, &diags);
    return def;
}

static pipeline_def *load(const char *yaml) { return load_named("p.yaml", yaml); }

static void teardown(void)
{
    pipeline_def_free(def);
    def = NULL;
    diag_free(&diags);
    free(path);
    path = NULL;
}

/* Is there a diagnostic at line:column whose message contains `text`? */
static int has_diag(int line, int column, const char *text)
{
    for (size_t i = 0; i < diags.count; i++)
        if (diags.items[i].pos.line == line && diags.items[i].pos.column == column &&
            strstr(diags.items[i].message, text))
            return 1;
    return 0;
}

static const char *good = "name: replay\n"
                          "plugin_path: [./my-plugins, /abs/plugins]\n"
                          "batch_size: 128\n"
                          "steps:\n"
                          "  - name: clicks\n"
                          "    plugin: file\n"
                          "    options:\n"
                          "      path: ${INPUT:-/dev/stdin}\n"
                          "    event:\n"
                          "      max_future: off\n"
                          "  - name: dedup\n"
                          "    plugin: dedup\n"
                          "    input: clicks\n"
                          "    options: {ttl: 1h}\n"
                          "  - name: rejected\n"
                          "    plugin: file\n"
                          "    input: [clicks.rejected, dedup.rejected]\n";

START_TEST(a_valid_pipeline_loads_with_positions)
{
    ck_assert_ptr_nonnull(load(good));
    ck_assert_diag_count(&diags, 0);
    ck_assert_str_eq(def->name, "replay");
    ck_assert_int_eq(def->batch_size, 128);
    ck_assert_uint_eq(def->nsteps, 3);
    const step_def *clicks = &def->steps[0], *dedup = &def->steps[1], *rej = &def->steps[2];
    ck_assert_str_eq(clicks->name, "clicks");
    ck_assert_str_eq(clicks->plugin, "file");
    ck_assert_int_eq(clicks->plugin_pos.line, 6);
    ck_assert_int_eq(clicks->plugin_pos.column, 13);
    ck_assert_int_eq(clicks->pos.line, 5);
    ck_assert_int_eq(clicks->pos.column, 5);
    ck_assert_uint_eq(clicks->ninputs, 0);
    const cfg_node *path = cfg_map_get(clicks->options, "path");
    ck_assert_ptr_nonnull(path);
    ck_assert_str_eq(path->scalar, "/data/in.jsonl");
    ck_assert_int_eq(path->pos.line, 8);
    ck_assert_int_eq(path->pos.column, 13);
    ck_assert_ptr_nonnull(clicks->event);
    ck_assert_str_eq(cfg_map_get(clicks->event, "max_future")->scalar, "off");
    ck_assert_uint_eq(dedup->ninputs, 1);
    ck_assert_str_eq(dedup->inputs[0].step, "clicks");
    ck_assert_str_eq(dedup->inputs[0].output, "main");
    ck_assert_int_eq(dedup->inputs[0].pos.line, 13);
    ck_assert_str_eq(cfg_map_get(dedup->options, "ttl")->scalar, "1h");
    ck_assert_ptr_null(dedup->event);
    ck_assert_uint_eq(rej->ninputs, 2);
    ck_assert_str_eq(rej->inputs[0].step, "clicks");
    ck_assert_str_eq(rej->inputs[0].output, "rejected");
    ck_assert_str_eq(rej->inputs[1].step, "dedup");
    ck_assert_str_eq(rej->inputs[1].output, "rejected");
    ck_assert_int_eq(rej->inputs[1].pos.column, 30);
    ck_assert_ptr_null(rej->options);
}
END_TEST

START_TEST(plugin_path_is_relative_to_the_pipeline_file)
{
    ck_assert_ptr_nonnull(load(good));
    ck_assert_uint_eq(def->nplugin_path, 2);
    char *want = ts_strf("%s/my-plugins", ts_tmpdir());
    ck_assert_str_eq(def->plugin_path[0], want);
    ck_assert_str_eq(def->plugin_path[1], "/abs/plugins");
    free(want);
}
END_TEST

START_TEST(a_single_plugin_path_and_defaults)
{
    ck_assert_ptr_nonnull(load_named("night-replay.yaml", "plugin_path: plugins\n"
                                                          "steps:\n"
                                                          "  - {name: gen, plugin: clickgen}\n"));
    ck_assert_diag_count(&diags, 0);
    ck_assert_str_eq(def->name, "night-replay");
    ck_assert_int_eq(def->batch_size, 4096);
    ck_assert_uint_eq(def->nplugin_path, 1);
    char *want = ts_strf("%s/plugins", ts_tmpdir());
    ck_assert_str_eq(def->plugin_path[0], want);
    free(want);
}
END_TEST

START_TEST(a_yaml_syntax_error_is_reported_at_its_position)
{
    ck_assert_ptr_null(load("steps:\n"
                            "  - name: a\n"
                            "    plugin: file\n"
                            "   bad: indentation\n"));
    ck_assert_diag_count(&diags, 1);
    ck_assert_str_eq(diags.items[0].pos.file, path);
    ck_assert_diag(&diags, has_diag(4, 4, "invalid YAML"));
}
END_TEST

START_TEST(an_unclosed_flow_list_is_a_syntax_error)
{
    ck_assert_ptr_null(load("steps: [\n  {name: a, plugin: file}\n"));
    ck_assert_diag_count(&diags, 1);
    ck_assert_int_eq(diags.items[0].pos.line, 3);
    ck_assert_ptr_nonnull(strstr(diags.items[0].message, "invalid YAML"));
}
END_TEST

START_TEST(unknown_keys_are_reported_with_a_suggestion)
{
    ck_assert_ptr_nonnull(load("nmae: x\n"
                               "steps:\n"
                               "  - name: a\n"
                               "    plugin: file\n"
                               "  - name: b\n"
                               "    plugin: dedup\n"
                               "    inptu: a\n"
                               "    colour: red\n"));
    ck_assert_diag_count(&diags, 3);
    ck_assert_diag(&diags, has_diag(1, 1, "unknown key 'nmae' in the pipeline; did you mean 'name'?"));
    ck_assert_diag(&diags, has_diag(7, 5, "unknown key 'inptu' in step 'b'; did you mean 'input'?"));
    ck_assert_diag(&diags, has_diag(8, 5, "unknown key 'colour' in step 'b'"));
    ck_assert_diag(&diags, !has_diag(8, 5, "did you mean"));
}
END_TEST

START_TEST(missing_name_and_plugin_are_reported_at_the_step)
{
    ck_assert_ptr_nonnull(load("steps:\n"
                               "  - plugin: file\n"
                               "  - name: b\n"
                               "    input: a\n"));
    ck_assert_diag_count(&diags, 2);
    ck_assert_diag(&diags, has_diag(2, 5, "step 1 has no 'name'"));
    ck_assert_diag(&diags, has_diag(3, 5, "step 'b' has no 'plugin'"));
    ck_assert_uint_eq(def->nsteps, 0); /* broken steps are left out */
}
END_TEST

START_TEST(missing_steps_is_reported)
{
    ck_assert_ptr_nonnull(load("name: x\n"));
    ck_assert_diag(&diags, has_diag(1, 1, "the pipeline has no 'steps'"));
}
END_TEST

START_TEST(duplicate_step_names_are_reported_at_the_second)
{
    ck_assert_ptr_nonnull(load("steps:\n"
                               "  - name: a\n"
                               "    plugin: file\n"
                               "  - name: a\n"
                               "    plugin: stdout\n"));
    ck_assert_diag_count(&diags, 1);
    ck_assert_diag(&diags, has_diag(4, 11, "duplicate step name 'a' (first defined at line 2)"));
    ck_assert_uint_eq(def->nsteps, 1);
}
END_TEST

START_TEST(duplicate_map_keys_are_reported)
{
    ck_assert_ptr_nonnull(load("steps:\n"
                               "  - name: a\n"
                               "    plugin: file\n"
                               "    plugin: other\n"));
    ck_assert_diag_count(&diags, 1);
    ck_assert_diag(&diags, has_diag(4, 5, "duplicate key 'plugin' (first given at line 3)"));
    ck_assert_str_eq(def->steps[0].plugin, "file"); /* the first one wins */
}
END_TEST

START_TEST(wrong_node_kinds_are_reported)
{
    ck_assert_ptr_nonnull(load("name: [a, b]\n"
                               "steps:\n"
                               "  - name: a\n"
                               "    plugin: {x: y}\n"
                               "    options: [1, 2]\n"
                               "  - just-a-string\n"
                               "  - name: c\n"
                               "    plugin: x\n"
                               "    input: {a: b}\n"));
    ck_assert_diag_count(&diags, 5);
    ck_assert_diag(&diags, has_diag(1, 7, "'name' of the pipeline must be a scalar, not a list"));
    ck_assert_diag(&diags, has_diag(4, 13, "'plugin' of step 'a' must be a scalar, not a map"));
    ck_assert_diag(&diags, has_diag(5, 14, "'options' of step 'a' must be a map, not a list"));
    ck_assert_diag(&diags, has_diag(6, 5, "step 2 must be a map"));
    ck_assert_diag(&diags, has_diag(9, 12, "'input' of step 'c' must be a step name or a list of them"));
}
END_TEST

START_TEST(steps_must_be_a_list)
{
    ck_assert_ptr_nonnull(load("steps:\n  a: b\n"));
    ck_assert_diag(&diags, has_diag(2, 3, "'steps' must be a list of steps, not a map"));
}
END_TEST

START_TEST(a_bad_batch_size_is_reported)
{
    static const char *const bad[] = {"0", "-3", "abc", "1.5", "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *yaml = ts_strf("batch_size: %s\nsteps:\n  - {name: a, plugin: file}\n", bad[i]);
        ck_assert_ptr_nonnull(load(yaml));
        ck_assert_msg(has_diag(1, 13, "'batch_size' must be an integer >= 1"),
                      "value %s; diagnostics were:\n%s", bad[i], ts_diag_text(&diags));
        teardown();
        free(yaml);
    }
}
END_TEST

START_TEST(bad_step_names_and_input_references_are_reported)
{
    ck_assert_ptr_nonnull(load("steps:\n"
                               "  - name: a.b\n"
                               "    plugin: file\n"
                               "  - name: c\n"
                               "    plugin: x\n"
                               "    input: [a.b.c, '', .x]\n"));
    ck_assert_diag_count(&diags, 4);
    ck_assert_diag(&diags, has_diag(2, 11, "step name 'a.b' may only use letters"));
    ck_assert_diag(&diags, has_diag(6, 13, "input 'a.b.c' of step 'c' is not 'step' or 'step.output'"));
    ck_assert_diag(&diags, has_diag(6, 20, "an input of step 'c' is empty"));
    ck_assert_diag(&diags, has_diag(6, 24, "input '.x' of step 'c'"));
}
END_TEST

START_TEST(all_errors_are_collected_not_just_the_first)
{
    ck_assert_ptr_nonnull(load("batch_size: 0\n"
                               "steps:\n"
                               "  - name: a\n"
                               "  - plugin: b\n"
                               "    optoins: {}\n"));
    ck_assert_diag_count(&diags, 4);
}
END_TEST

START_TEST(interpolation_errors_carry_the_scalar_position)
{
    ck_assert_ptr_nonnull(load("steps:\n"
                               "  - name: a\n"
                               "    plugin: file\n"
                               "    options:\n"
                               "      path: \"in/${NOPE}.jsonl\"\n"
                               "      other: ${EMPTY:?set EMPTY to the topic}\n"
                               "      third: ${INPUT\n"));
    ck_assert_diag_count(&diags, 3);
    ck_assert_diag(&diags, has_diag(5, 13, "environment variable NOPE is not set"));
    ck_assert_diag(&diags, has_diag(6, 14, "EMPTY: set EMPTY to the topic"));
    ck_assert_diag(&diags, has_diag(7, 14, "unterminated '${'"));
}
END_TEST

START_TEST(keys_are_not_interpolated_and_dollar_dollar_is_a_dollar)
{
    ck_assert_ptr_nonnull(load("steps:\n"
                               "  - name: a\n"
                               "    plugin: file\n"
                               "    options:\n"
                               "      ${KEY}: 'price $$5 at ${INPUT}'\n"));
    ck_assert_diag_count(&diags, 0);
    const cfg_node *v = cfg_map_get(def->steps[0].options, "${KEY}");
    ck_assert_ptr_nonnull(v);
    ck_assert_str_eq(v->scalar, "price $5 at /data/in.jsonl");
    ck_assert_int_eq(v->quoted, 1);
}
END_TEST

START_TEST(anchors_aliases_and_merge_keys_are_expanded)
{
    ck_assert_ptr_nonnull(load("common: &common {ttl: 1h, max: 10}\n"
                               "steps:\n"
                               "  - name: a\n"
                               "    plugin: &p file\n"
                               "  - name: b\n"
                               "    plugin: *p\n"
                               "    input: a\n"
                               "    options:\n"
                               "      <<: *common\n"
                               "      max: 20\n"));
    /* Only the unknown top-level key `common` is an error. */
    ck_assert_diag_count(&diags, 1);
    ck_assert_diag(&diags, has_diag(1, 1, "unknown key 'common'"));
    ck_assert_str_eq(def->steps[1].plugin, "file");
    const cfg_node *opts = def->steps[1].options;
    ck_assert_uint_eq(opts->count, 2);
    ck_assert_str_eq(cfg_map_get(opts, "ttl")->scalar, "1h");
    ck_assert_str_eq(cfg_map_get(opts, "max")->scalar, "20"); /* explicit keys win */
}
END_TEST

/* Found by fuzz/descriptor_fuzz: a map key's text was taken from its node,
 * so an alias to an anchored key read NULL (and strcmp crashed on it). */
START_TEST(an_anchored_key_can_be_aliased)
{
    ck_assert_ptr_nonnull(load("steps:\n"
                               "  - name: a\n"
                               "    plugin: file\n"
                               "    options: {&k ttl: 1h, max: *k}\n"
                               "  - name: b\n"
                               "    plugin: file\n"
                               "    input: a\n"
                               "    options: {&j ttl: 1h, *j : 2h}\n"));
    ck_assert_diag_count(&diags, 1);
    ck_assert_diag(&diags, has_diag(8, 27, "duplicate key 'ttl' (first given at line 8)"));
    ck_assert_str_eq(cfg_map_get(def->steps[0].options, "max")->scalar, "ttl");
}
END_TEST

START_TEST(an_unknown_alias_is_reported)
{
    ck_assert_ptr_null(load("steps:\n  - name: a\n    plugin: *nope\n"));
    ck_assert_diag_count(&diags, 1);
    ck_assert_diag(&diags, has_diag(3, 13, "unknown alias '*nope'"));
}
END_TEST

START_TEST(alias_bombs_and_deep_nesting_are_refused)
{
    /* Each level doubles: 2^25 nodes if expanded blindly. */
    char *yaml = ts_strf("a0: &a0 [x, x]\n");
    for (int i = 1; i <= 25; i++) {
        char *next = ts_strf("%sa%d: &a%d [*a%d, *a%d]\n", yaml, i, i, i - 1, i - 1);
        free(yaml);
        yaml = next;
    }
    ck_assert_ptr_null(load(yaml));
    free(yaml);
    ck_assert_diag_count(&diags, 1);
    ck_assert_ptr_nonnull(strstr(diags.items[0].message, "document too large"));
    teardown();
    char deep[1001];
    memset(deep, '[', 1000);
    deep[1000] = '\0';
    ck_assert_ptr_null(load(deep));
    ck_assert_diag_count(&diags, 1);
    ck_assert_ptr_nonnull(strstr(diags.items[0].message, "nesting deeper than"));
}
END_TEST

START_TEST(an_empty_file_and_a_second_document_are_reported)
{
    ck_assert_ptr_null(load(""));
    ck_assert_diag_count(&diags, 1);
    ck_assert_ptr_nonnull(strstr(diags.items[0].message, "empty"));
    teardown();
    ck_assert_ptr_nonnull(load("steps: []\n---\nsteps: []\n"));
    ck_assert_diag(&diags, has_diag(2, 1, "one YAML document"));
}
END_TEST

START_TEST(a_missing_file_is_reported)
{
    diag_init(&diags);
    ck_assert_ptr_null(pipeline_def_load("/nonexistent/p.yaml", &diags));
    ck_assert_diag_count(&diags, 1);
    ck_assert_str_eq(diags.items[0].pos.file, "/nonexistent/p.yaml");
    ck_assert_ptr_nonnull(strstr(diags.items[0].message, "cannot open"));
}
END_TEST

START_TEST(diagnostics_outlive_the_def_and_the_callers_path)
{
    char *p = ts_strf("%s/gone.yaml", ts_tmpdir());
    ts_write_file(p, "steps:\n  - {name: a, plugin: file, colour: red}\n");
    diag_init(&diags);
    pipeline_def *d = pipeline_def_load(p, &diags);
    ck_assert_ptr_nonnull(d);
    pipeline_def_free(d);
    char *want = strdup(p);
    memset(p, 'x', strlen(p)); /* the caller reuses its buffer */
    free(p);
    ck_assert_diag_count(&diags, 1);
    ck_assert_str_eq(diags.items[0].pos.file, want);
    free(want);
}
END_TEST

START_TEST(diagnostics_print_as_file_line_column)
{
    diag_list d;
    diag_init(&d);
    diag_add(&d, (src_pos){"p.yaml", 3, 7}, "bad %s", "thing");
    diag_add(&d, (src_pos){"p.yaml", 0, 0}, "no position");
    diag_add(&d, (src_pos){NULL, 0, 0}, "no file");
    char *path = ts_strf("%s/diag.txt", ts_tmpdir());
    FILE *f = fopen(path, "w");
    diag_print(&d, f);
    fclose(f);
    char *text = ts_read_file(path, NULL);
    ck_assert_str_eq(text, "p.yaml:3:7: error: bad thing\n"
                           "p.yaml: error: no position\n"
                           "error: no file\n");
    free(text);
    free(path);
    diag_free(&d);
}
END_TEST

START_TEST(interpolation_in_a_flow_map_gets_a_hint_to_quote)
{
    ck_assert_ptr_null(load("steps:\n"
                            "  - name: a\n"
                            "    plugin: file\n"
                            "    options: {path: ${INPUT}/x.jsonl}\n"));
    ck_assert_diag_count(&diags, 1);
    ck_assert_diag(&diags, has_diag(4, 22, "invalid YAML: did not find expected ',' or '}'"));
    ck_assert_diag(&diags, has_diag(4, 22,
                                    "must be quoted (path: \"${OUT}/x.jsonl\") or the map written in "
                                    "block style"));
    teardown();
    /* A flow error without ${ gets no such hint. */
    ck_assert_ptr_null(load("steps: [a, b\n"));
    ck_assert_diag_count(&diags, 1);
    ck_assert_diag(&diags, strstr(diags.items[0].message, "quoted") == NULL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("pipeline_def");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, a_valid_pipeline_loads_with_positions);
    tcase_add_test(tc, plugin_path_is_relative_to_the_pipeline_file);
    tcase_add_test(tc, a_single_plugin_path_and_defaults);
    tcase_add_test(tc, a_yaml_syntax_error_is_reported_at_its_position);
    tcase_add_test(tc, an_unclosed_flow_list_is_a_syntax_error);
    tcase_add_test(tc, unknown_keys_are_reported_with_a_suggestion);
    tcase_add_test(tc, missing_name_and_plugin_are_reported_at_the_step);
    tcase_add_test(tc, missing_steps_is_reported);
    tcase_add_test(tc, duplicate_step_names_are_reported_at_the_second);
    tcase_add_test(tc, duplicate_map_keys_are_reported);
    tcase_add_test(tc, wrong_node_kinds_are_reported);
    tcase_add_test(tc, steps_must_be_a_list);
    tcase_add_test(tc, a_bad_batch_size_is_reported);
    tcase_add_test(tc, bad_step_names_and_input_references_are_reported);
    tcase_add_test(tc, all_errors_are_collected_not_just_the_first);
    tcase_add_test(tc, interpolation_errors_carry_the_scalar_position);
    tcase_add_test(tc, keys_are_not_interpolated_and_dollar_dollar_is_a_dollar);
    tcase_add_test(tc, anchors_aliases_and_merge_keys_are_expanded);
    tcase_add_test(tc, an_anchored_key_can_be_aliased);
    tcase_add_test(tc, an_unknown_alias_is_reported);
    tcase_add_test(tc, alias_bombs_and_deep_nesting_are_refused);
    tcase_add_test(tc, an_empty_file_and_a_second_document_are_reported);
    tcase_add_test(tc, a_missing_file_is_reported);
    tcase_add_test(tc, diagnostics_outlive_the_def_and_the_callers_path);
    tcase_add_test(tc, diagnostics_print_as_file_line_column);
    tcase_add_test(tc, interpolation_in_a_flow_map_gets_a_hint_to_quote);
    suite_add_tcase(s, tc);
    return ts_run_suite(s);
}
