/* The step graph: sources, inputs, outputs, cycles, order, and DOT. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "pipeline_def.h"
#include "test_support.h"

static diag_list diags;
static pipeline_def *def;

/* Plugins by name, as a loader would describe them. "missing" failed to
 * load. */
static const char *const dedup_outputs[] = {"rejected", NULL};
static const char *const split_outputs[] = {"late", "early", NULL};

static int fake_info(void *ud, size_t step, sluice_kind *kind, const char *const **outputs)
{
    const pipeline_def *d = ud;
    const char *p = d->steps[step].plugin;
    *outputs = NULL;
    if (strcmp(p, "file") == 0 || strcmp(p, "clickgen") == 0)
        *kind = SLUICE_KIND_SOURCE;
    else if (strcmp(p, "stdout") == 0)
        *kind = SLUICE_KIND_SINK;
    else if (strcmp(p, "dedup") == 0)
        *kind = SLUICE_KIND_OPERATOR, *outputs = dedup_outputs;
    else if (strcmp(p, "split") == 0)
        *kind = SLUICE_KIND_OPERATOR, *outputs = split_outputs;
    else if (strcmp(p, "missing") == 0)
        return 0;
    else
        *kind = SLUICE_KIND_OPERATOR;
    return 1;
}

static pipeline_def *load(const char *yaml)
{
    char *path = ts_strf("%s/g.yaml", ts_tmpdir());
    ts_write_file(path, yaml);
    diag_init(&diags);
    def = pipeline_def_load(path, &diags);
    ck_assert_diag_count(&diags, 0);
    free(path);
    return def;
}

static int validate(size_t *order)
{
    int rc = graph_validate(def, fake_info, def, order, &diags);
    return rc;
}

static void teardown(void)
{
    pipeline_def_free(def);
    def = NULL;
    diag_free(&diags);
}

static int has_diag(int line, int column, const char *text)
{
    for (size_t i = 0; i < diags.count; i++)
        if (diags.items[i].pos.line == line && diags.items[i].pos.column == column &&
            strstr(diags.items[i].message, text))
            return 1;
    return 0;
}

static size_t index_of(const size_t *order, const char *name)
{
    for (size_t i = 0; i < def->nsteps; i++)
        if (strcmp(def->steps[order[i]].name, name) == 0)
            return i;
    ck_abort_msg("step %s not in order", name);
    return 0;
}

START_TEST(a_valid_graph_is_ordered_source_first)
{
    /* Steps listed out of data-flow order, with fan-out and fan-in. */
    load("steps:\n"
         "  - {name: out, plugin: stdout, input: [count, dedup.rejected, clicks.rejected]}\n"
         "  - {name: count, plugin: url_count, input: dedup}\n"
         "  - {name: dedup, plugin: dedup, input: clicks}\n"
         "  - {name: clicks, plugin: file}\n"
         "  - {name: late, plugin: stdout, input: split.late}\n"
         "  - {name: split, plugin: split, input: clicks}\n");
    size_t order[6];
    ck_assert_int_eq(validate(order), 0);
    ck_assert_diag_count(&diags, 0);
    ck_assert_str_eq(def->steps[order[0]].name, "clicks");
    ck_assert_uint_lt(index_of(order, "dedup"), index_of(order, "count"));
    ck_assert_uint_lt(index_of(order, "count"), index_of(order, "out"));
    ck_assert_uint_lt(index_of(order, "split"), index_of(order, "late"));
    /* Each step exactly once. */
    int seen[6] = {0};
    for (size_t i = 0; i < 6; i++)
        seen[order[i]]++;
    for (size_t i = 0; i < 6; i++)
        ck_assert_int_eq(seen[i], 1);
}
END_TEST

START_TEST(an_unknown_input_step_is_reported_with_a_suggestion)
{
    load("steps:\n"
         "  - name: clicks\n"
         "    plugin: file\n"
         "  - name: out\n"
         "    plugin: stdout\n"
         "    input: [clikcs, nowhere]\n");
    ck_assert_int_eq(validate(NULL), -1);
    ck_assert_diag_count(&diags, 2);
    ck_assert_diag(&diags, has_diag(6, 13, "names unknown step 'clikcs'; did you mean 'clicks'?"));
    ck_assert_diag(&diags, has_diag(6, 21, "names unknown step 'nowhere'"));
    ck_assert_diag(&diags, !has_diag(6, 21, "did you mean"));
}
END_TEST

START_TEST(an_unknown_output_is_reported_with_the_outputs_there_are)
{
    load("steps:\n"
         "  - {name: clicks, plugin: file}\n"
         "  - {name: dedup, plugin: dedup, input: clicks.rejectd}\n"
         "  - {name: count, plugin: url_count, input: dedup.late}\n"
         "  - {name: out, plugin: stdout, input: [count.rejected, dedup.rejected]}\n");
    ck_assert_int_eq(validate(NULL), -1);
    ck_assert_diag_count(&diags, 3);
    ck_assert_diag(&diags, has_diag(3, 41,
                                    "step 'clicks' has no output 'rejectd' (it has: main, rejected); "
                                    "did you mean 'clicks.rejected'?"));
    ck_assert_diag(&diags, has_diag(4, 45, "step 'dedup' has no output 'late' (it has: main, rejected)"));
    /* Only the source has an implicit "rejected". */
    ck_assert_diag(&diags, has_diag(5, 41, "step 'count' has no output 'rejected' (it has: main)"));
}
END_TEST

START_TEST(an_input_from_a_sink_is_reported)
{
    load("steps:\n"
         "  - {name: clicks, plugin: file}\n"
         "  - {name: out, plugin: stdout, input: clicks}\n"
         "  - {name: again, plugin: stdout, input: out}\n");
    ck_assert_int_eq(validate(NULL), -1);
    ck_assert_diag_count(&diags, 1);
    ck_assert_diag(&diags, has_diag(4, 42, "input 'out' of step 'again' is a sink, which has no outputs"));
}
END_TEST

START_TEST(a_cycle_is_reported_with_its_steps)
{
    load("steps:\n"
         "  - {name: clicks, plugin: file}\n"
         "  - {name: a, plugin: op, input: [clicks, c]}\n"
         "  - {name: b, plugin: op, input: a}\n"
         "  - {name: c, plugin: op, input: b}\n"
         "  - {name: after, plugin: stdout, input: c}\n"
         "  - {name: self, plugin: op, input: self}\n");
    ck_assert_int_eq(validate(NULL), -1);
    ck_assert_diag_count(&diags, 2);
    int found = 0;
    for (size_t i = 0; i < diags.count; i++) {
        const char *m = diags.items[i].message;
        found += strstr(m, "steps form a cycle: a -> b -> c -> a") ||
                 strstr(m, "steps form a cycle: b -> c -> a -> b") ||
                 strstr(m, "steps form a cycle: c -> a -> b -> c");
        found += strstr(m, "steps form a cycle: self -> self") != NULL;
    }
    ck_assert_int_eq(found, 2);
}
END_TEST

START_TEST(two_sources_are_reported)
{
    load("steps:\n"
         "  - {name: one, plugin: file}\n"
         "  - {name: two, plugin: clickgen}\n"
         "  - {name: out, plugin: stdout, input: [one, two]}\n");
    ck_assert_int_eq(validate(NULL), -1);
    ck_assert_diag_count(&diags, 1);
    ck_assert_diag(&diags, has_diag(3, 25, "step 'two' is a second source"));
}
END_TEST

START_TEST(no_source_is_reported)
{
    load("steps:\n"
         "  - {name: a, plugin: op, input: b}\n"
         "  - {name: b, plugin: stdout, input: a}\n");
    ck_assert_int_eq(validate(NULL), -1);
    int found = 0;
    for (size_t i = 0; i < diags.count; i++)
        found += strstr(diags.items[i].message, "has no source step") != NULL;
    ck_assert_int_eq(found, 1);
}
END_TEST

START_TEST(a_source_with_an_input_and_a_step_without_are_reported)
{
    load("steps:\n"
         "  - {name: clicks, plugin: file, input: x}\n"
         "  - {name: x, plugin: op}\n");
    ck_assert_int_eq(validate(NULL), -1);
    ck_assert_diag(&diags, has_diag(2, 41, "source step 'clicks' cannot have an input"));
    ck_assert_diag(&diags, has_diag(3, 5, "step 'x' (an operator) has no 'input'"));
}
END_TEST

START_TEST(an_input_listed_twice_is_reported)
{
    load("steps:\n"
         "  - {name: clicks, plugin: file}\n"
         "  - {name: out, plugin: stdout, input: [clicks, clicks.main]}\n");
    ck_assert_int_eq(validate(NULL), -1);
    ck_assert_diag_count(&diags, 1);
    ck_assert_diag(&diags, has_diag(3, 49, "step 'out' lists input 'clicks.main' twice"));
}
END_TEST

START_TEST(checks_needing_an_unloaded_plugin_are_skipped)
{
    load("steps:\n"
         "  - {name: clicks, plugin: missing}\n"
         "  - {name: out, plugin: stdout, input: clicks.whatever}\n");
    size_t order[2];
    ck_assert_int_eq(validate(order), 0);
    ck_assert_uint_eq(order[0], 0);
}
END_TEST

START_TEST(dot_output_draws_steps_and_labelled_edges)
{
    load("name: demo\n"
         "steps:\n"
         "  - {name: clicks, plugin: file}\n"
         "  - {name: dedup, plugin: dedup, input: clicks}\n"
         "  - {name: out, plugin: stdout, input: [dedup, clicks.rejected]}\n");
    char *path = ts_strf("%s/g.dot", ts_tmpdir());
    FILE *f = fopen(path, "w");
    graph_print_dot(def, fake_info, NULL, def, f);
    fclose(f);
    char *text = ts_read_file(path, NULL);
    ck_assert_str_eq(text, "digraph \"demo\" {\n"
                           "  rankdir=LR;\n"
                           "  node [fontname=\"Helvetica\"];\n"
                           "  \"clicks\" [label=\"clicks\\nfile\", shape=invhouse];\n"
                           "  \"dedup\" [label=\"dedup\\ndedup\", shape=box];\n"
                           "  \"out\" [label=\"out\\nstdout\", shape=house];\n"
                           "  \"clicks\" -> \"dedup\";\n"
                           "  \"dedup\" -> \"out\";\n"
                           "  \"clicks\" -> \"out\" [label=\"rejected\"];\n"
                           "}\n");
    free(text);
    free(path);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("graph");
    TCase *tc = tcase_create("graph");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, a_valid_graph_is_ordered_source_first);
    tcase_add_test(tc, an_unknown_input_step_is_reported_with_a_suggestion);
    tcase_add_test(tc, an_unknown_output_is_reported_with_the_outputs_there_are);
    tcase_add_test(tc, an_input_from_a_sink_is_reported);
    tcase_add_test(tc, a_cycle_is_reported_with_its_steps);
    tcase_add_test(tc, two_sources_are_reported);
    tcase_add_test(tc, no_source_is_reported);
    tcase_add_test(tc, a_source_with_an_input_and_a_step_without_are_reported);
    tcase_add_test(tc, an_input_listed_twice_is_reported);
    tcase_add_test(tc, checks_needing_an_unloaded_plugin_are_skipped);
    tcase_add_test(tc, dot_output_draws_steps_and_labelled_edges);
    suite_add_tcase(s, tc);
    return ts_run_suite(s);
}
