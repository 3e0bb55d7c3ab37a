/* `sluice test` (pipeline_test.h). The pipeline is opened as `sluice run`
 * opens it (plugins, options, validate hooks, graph, keyed stages), then its
 * source becomes test_input and its sinks test_expect, it runs on one
 * thread with no state folder, and what reached each sink is compared. */
#include "pipeline_test.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cfg_yaml.h"
#include "event_decoder.h"
#include "log.h"
#include "pipeline.h"
#include "test_expect.h"
#include "test_plugins.h"

typedef struct test_run {
    const char *file;
    FILE *out, *err;
    const loaded_plugin *feed, *capture;
    char *pipeline_path;
    int invalid;
} test_run;

static void report(test_run *r, src_pos pos, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void report(test_run *r, src_pos pos, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(r->err, "%s:%d:%d: error: ", pos.file ? pos.file : r->file, pos.line, pos.column);
    vfprintf(r->err, fmt, ap);
    fputc('\n', r->err);
    va_end(ap);
}

static const cfg_node *get_kind(test_run *r, const cfg_node *map, const char *key, cfg_kind kind)
{
    const cfg_node *n = cfg_map_get(map, key);
    if (n && n->kind != kind) {
        report(r, n->pos, "'%s' must be %s, not %s", key, cfg_kind_name(kind), cfg_kind_name(n->kind));
        r->invalid = 1;
        return NULL;
    }
    return n;
}

/* A test's env: set for its run, then put back as it was, so that one
 * test's values never reach the next. */
typedef struct saved_env {
    char **names, **values; /* values[i] NULL: it was unset */
    size_t n;
} saved_env;

static void set_env(const cfg_node *env, saved_env *saved)
{
    for (size_t i = 0; env && i < env->count; i++) {
        if (env->items[i]->kind != CFG_SCALAR)
            continue;
        {
            saved->names = realloc(saved->names, (saved->n + 1) * sizeof *saved->names);
            saved->values = realloc(saved->values, (saved->n + 1) * sizeof *saved->values);
            if (saved->names == NULL || saved->values == NULL)
                abort();
            const char *was = getenv(env->keys[i]);
            saved->names[saved->n] = strdup(env->keys[i]);
            saved->values[saved->n++] = was ? strdup(was) : NULL;
        }
        setenv(env->keys[i], env->items[i]->scalar, 1);
    }
}

static void restore_env(saved_env *saved)
{
    /* Backwards: a name set twice gets its first value back. */
    for (size_t i = saved->n; i-- > 0;) {
        if (saved->values[i])
            setenv(saved->names[i], saved->values[i], 1);
        else
            unsetenv(saved->names[i]);
        free(saved->names[i]);
        free(saved->values[i]);
    }
    free(saved->names);
    free(saved->values);
    *saved = (saved_env){0};
}

static int step_index(const pipeline *p, const char *name)
{
    for (size_t i = 0; i < p->nsteps; i++)
        if (strcmp(p->steps[i].def->name, name) == 0)
            return (int)i;
    return -1;
}

/* Every sink's records against the test's `expect:`; 0 when all match. */
static int check_sinks(test_run *r, pipeline *p, const char *test, const cfg_node *expect)
{
    int failed = 0;
    for (size_t k = 0; expect && k < expect->count; k++) {
        const cfg_node *want = expect->items[k];
        int i = step_index(p, expect->keys[k]);
        if (i < 0 || p->steps[i].plugin != r->capture || want->kind != CFG_LIST) {
            report(r, expect->key_pos[k], "test '%s': '%s' is %s", test, expect->keys[k],
                   i < 0                              ? "no step of the pipeline"
                   : p->steps[i].plugin != r->capture ? "not a sink: expect names sinks"
                                                      : "not a list of records");
            r->invalid = 1;
            continue;
        }
        const test_capture *got = p->steps[i].self;
        char why[512] = "";
        src_pos where = expect->key_pos[k];
        if (got->n != want->count) {
            snprintf(why, sizeof why, "received %zu records, expected %zu", got->n, want->count);
        } else {
            for (size_t j = 0; j < got->n; j++) {
                char diff[400];
                if (test_record_matches(want->items[j], got->records[j], diff, sizeof diff) != 0) {
                    snprintf(why, sizeof why, "record %zu: %s", j + 1, diff);
                    where = want->items[j]->pos;
                    break;
                }
            }
        }
        if (!why[0])
            continue;
        failed = 1;
        report(r, where, "test '%s': sink '%s': %s", test, expect->keys[k], why);
        fprintf(r->err, "  expected:\n");
        for (size_t j = 0; j < want->count; j++) {
            json_t *v = test_yaml_to_json(want->items[j]);
            char *text =
                want->items[j]->kind == CFG_SCALAR ? NULL : json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
            fprintf(r->err, "    %s:%d  %s\n", r->file, want->items[j]->pos.line,
                    text ? text : want->items[j]->scalar);
            free(text);
            json_decref(v);
        }
        fprintf(r->err, "  received:\n");
        for (size_t j = 0; j < got->n; j++)
            fprintf(r->err, "    %s\n", got->records[j]);
    }
    return failed;
}

/* `counters: {step: {name: value}}`: each named counter summed over the
 * step's tasks (0 when it never counted). */
static int check_counters(test_run *r, pipeline *p, const char *test, const cfg_node *counters)
{
    int failed = 0;
    for (size_t k = 0; counters && k < counters->count; k++) {
        int i = step_index(p, counters->keys[k]);
        const cfg_node *want = counters->items[k];
        if (i < 0 || want->kind != CFG_MAP) {
            report(r, counters->key_pos[k], "test '%s': counters: '%s' is %s", test, counters->keys[k],
                   i < 0 ? "no step of the pipeline" : "not a map of counter: value");
            r->invalid = 1;
            continue;
        }
        counter_total *totals;
        size_t n = pipeline_step_totals(p, (size_t)i, &totals);
        for (size_t c = 0; c < want->count; c++) {
            long long value = 0;
            for (size_t t = 0; t < n; t++)
                if (strcmp(totals[t].name, want->keys[c]) == 0)
                    value = (long long)totals[t].value;
            const cfg_node *v = want->items[c];
            char *end = NULL;
            long long expected = v->kind == CFG_SCALAR ? strtoll(v->scalar, &end, 10) : 0;
            if (end == NULL || *end != '\0' || end == v->scalar) {
                report(r, v->pos, "test '%s': counter '%s' must be an integer", test, want->keys[c]);
                r->invalid = 1;
            } else if (value != expected) {
                report(r, v->pos, "test '%s': step '%s': counter '%s' is %lld, expected %lld", test,
                       counters->keys[k], want->keys[c], value, expected);
                failed = 1;
            }
        }
        free(totals);
    }
    return failed;
}

/* A watermark step's time: integer ms, or RFC 3339 text as `ts` takes it. */
static int watermark_value(const cfg_node *v, int64_t *out)
{
    if (v->kind != CFG_SCALAR)
        return -1;
    char *end = NULL;
    long long ms = strtoll(v->scalar, &end, 10);
    if (end != v->scalar && *end == '\0') {
        *out = ms;
        return 0;
    }
    return rfc3339_parse_ms(v->scalar, strlen(v->scalar), out);
}

/* The test's input items: events as JSON text, each with its "file:line"
 * origin, and watermark steps ({watermark: T}: a NULL payload). */
typedef struct test_input {
    char **payloads, **origins;
    int64_t *watermarks;
    size_t n;
} test_input;

static void input_texts(test_run *r, const cfg_node *input, const char *test, test_input *in)
{
    size_t n = input ? input->count : 0;
    in->payloads = calloc(n + 1, sizeof *in->payloads);
    in->origins = calloc(n + 1, sizeof *in->origins);
    in->watermarks = calloc(n + 1, sizeof *in->watermarks);
    in->n = n;
    /* The file's base name: the same origin from whatever folder it runs. */
    const char *base = strrchr(r->file, '/');
    for (size_t i = 0; i < n; i++) {
        const cfg_node *e = input->items[i];
        if (asprintf(&in->origins[i], "%s:%d", base ? base + 1 : r->file, e->pos.line) < 0)
            abort();
        if (e->kind == CFG_SCALAR) {
            in->payloads[i] = strdup(e->scalar); /* as written: also for broken events */
        } else if (e->kind == CFG_MAP && e->count == 1 && strcmp(e->keys[0], "watermark") == 0) {
            if (watermark_value(e->items[0], &in->watermarks[i]) != 0) {
                report(r, e->items[0]->pos,
                       "test '%s': a watermark step is {watermark: T}, T in ms or RFC 3339 text "
                       "(\"2024-03-02T10:00:00Z\")",
                       test);
                r->invalid = 1;
            }
        } else {
            json_t *v = test_yaml_to_json(e);
            in->payloads[i] = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
            json_decref(v);
        }
    }
}

static void input_free(test_input *in)
{
    for (size_t i = 0; i < in->n; i++) {
        free(in->payloads[i]);
        free(in->origins[i]);
    }
    free(in->payloads);
    free(in->origins);
    free(in->watermarks);
}

/* `input:` is the list of items for the pipeline's source, or a map naming
 * the source step it feeds: {clicks: [...]}. NULL after reporting a name
 * that is not the source. */
static const cfg_node *source_input(test_run *r, const pipeline *p, const cfg_node *tc, const char *test)
{
    const cfg_node *input = cfg_map_get(tc, "input");
    if (input == NULL || input->kind == CFG_LIST)
        return input;
    const char *source = p->steps[p->source].def->name;
    if (input->kind != CFG_MAP) {
        report(r, input->pos, "test '%s': 'input' is a list of events, or {%s: [events]}", test, source);
        r->invalid = 1;
        return NULL;
    }
    const cfg_node *list = NULL;
    for (size_t i = 0; i < input->count; i++) {
        if (strcmp(input->keys[i], source) != 0) {
            report(r, input->key_pos[i], "test '%s': input: '%s' is %s; events go to the source step '%s'",
                   test, input->keys[i],
                   step_index(p, input->keys[i]) < 0 ? "no step of the pipeline" : "not its source", source);
            r->invalid = 1;
        } else if (input->items[i]->kind != CFG_LIST) {
            report(r, input->items[i]->pos, "test '%s': input: '%s' must be a list of events", test, source);
            r->invalid = 1;
        } else {
            list = input->items[i];
        }
    }
    return r->invalid ? NULL : list;
}

/* One test case: 0 passed, 1 failed (reported). */
static int run_case(test_run *r, const cfg_node *tc, const char *name)
{
    saved_env env = {0};
    set_env(get_kind(r, tc, "env", CFG_MAP), &env);
    diag_list d;
    diag_init(&d);
    pipeline *p = pipeline_open(r->pipeline_path, &d);
    if (p == NULL) {
        diag_print(&d, r->err);
        diag_free(&d);
        restore_env(&env);
        r->invalid = 1;
        return 1;
    }
    diag_free(&d);
    free(p->def->state_dir); /* a test starts empty and leaves no state behind */
    p->def->state_dir = NULL;
    p->def->threads = 1; /* results are the same on any number: see docs/pipelines.md */
    for (size_t i = 0; i < p->nsteps; i++) {
        sluice_kind kind = p->steps[i].plugin->desc.kind;
        if (kind == SLUICE_KIND_SOURCE)
            p->steps[i].plugin = r->feed;
        else if (kind == SLUICE_KIND_SINK)
            p->steps[i].plugin = r->capture;
    }
    test_input in = {0};
    input_texts(r, source_input(r, p, tc, name), name, &in);
    int failed = 1;
    if (r->invalid) {
        /* reported */
    } else if (pipeline_start(p) == 0) {
        test_feed *feed = p->steps[p->source].self;
        feed->payloads = (const char **)in.payloads;
        feed->origins = (const char **)in.origins;
        feed->watermarks = in.watermarks;
        feed->n = in.n;
        if (pipeline_run(p, NULL) != 0) {
            report(r, tc->pos, "test '%s': the pipeline failed: %s", name, p->failure);
        } else {
            failed = check_sinks(r, p, name, get_kind(r, tc, "expect", CFG_MAP));
            failed |= check_counters(r, p, name, get_kind(r, tc, "counters", CFG_MAP));
        }
    } else {
        report(r, tc->pos, "test '%s': the pipeline did not start: %s", name, p->failure);
    }
    pipeline_close(p);
    input_free(&in);
    restore_env(&env);
    return failed;
}

static char *beside(const char *file, const char *rel)
{
    const char *slash = strrchr(file, '/');
    char *out;
    if (rel[0] == '/' || slash == NULL)
        out = strdup(rel);
    else if (asprintf(&out, "%.*s/%s", (int)(slash - file), file, rel) < 0)
        abort();
    return out;
}

static const char *const file_keys[] = {"pipeline", "env", "tests", NULL};
static const char *const case_keys[] = {"name", "env", "input", "expect", "counters", NULL};

static void check_keys(test_run *r, const cfg_node *map, const char *const *keys)
{
    for (size_t i = 0; i < map->count; i++) {
        size_t k = 0;
        while (keys[k] && strcmp(keys[k], map->keys[i]) != 0)
            k++;
        if (keys[k] == NULL) {
            report(r, map->key_pos[i], "unknown key '%s' (docs/testing.md lists them)", map->keys[i]);
            r->invalid = 1;
        }
    }
}

static int run_file(test_run *r, const cfg_node *root)
{
    check_keys(r, root, file_keys);
    const cfg_node *pl = get_kind(r, root, "pipeline", CFG_SCALAR);
    const cfg_node *tests = get_kind(r, root, "tests", CFG_LIST);
    if (pl == NULL || tests == NULL) {
        report(r, root->pos, "a test file needs 'pipeline:' (a file, relative to this one) and 'tests:'");
        return 3;
    }
    saved_env file_env = {0};
    set_env(get_kind(r, root, "env", CFG_MAP), &file_env);
    r->pipeline_path = beside(r->file, pl->scalar);
    size_t failed = 0, passed = 0;
    for (size_t i = 0; i < tests->count && !r->invalid; i++) {
        const cfg_node *tc = tests->items[i];
        if (tc->kind != CFG_MAP) {
            report(r, tc->pos, "a test is a map (name, input, expect, counters)");
            r->invalid = 1;
            break;
        }
        check_keys(r, tc, case_keys);
        const cfg_node *nm = get_kind(r, tc, "name", CFG_SCALAR);
        char fallback[32];
        snprintf(fallback, sizeof fallback, "#%zu", i + 1);
        const char *name = nm ? nm->scalar : fallback;
        if (r->invalid)
            break;
        int f = run_case(r, tc, name);
        if (r->invalid)
            break;
        fprintf(r->out, "%s %s: %s\n", f ? "FAIL" : "ok  ", r->file, name);
        f ? failed++ : passed++;
    }
    free(r->pipeline_path);
    restore_env(&file_env);
    if (r->invalid)
        return 3;
    fprintf(r->out, "%s: %zu passed, %zu failed\n", r->file, passed, failed);
    return failed ? 1 : 0;
}

int pipeline_test_file(const char *path, FILE *out, FILE *err)
{
    test_run r = {.file = path, .out = out, .err = err};
    FILE *fp = fopen(path, "r");
    if (fp == NULL) {
        fprintf(err, "%s: cannot open: %m\n", path);
        return 3;
    }
    diag_list d;
    diag_init(&d);
    cfg_node *root = cfg_yaml_read_file(fp, path, NULL, NULL, &d);
    fclose(fp);
    int code = 3;
    char why[256];
    loaded_plugin *feed = plugin_from_descriptor(&test_feed_plugin, why, sizeof why);
    loaded_plugin *capture = plugin_from_descriptor(&test_capture_plugin, why, sizeof why);
    if (d.count > 0 || root == NULL || root->kind != CFG_MAP) {
        diag_print(&d, err);
        if (d.count == 0)
            fprintf(err, "%s: error: a test file is a map (pipeline, tests)\n", path);
    } else if (feed == NULL || capture == NULL) {
        fprintf(err, "%s: error: %s\n", path, why);
    } else {
        r.feed = feed;
        r.capture = capture;
        code = run_file(&r, root);
    }
    plugin_descriptor_free(feed);
    plugin_descriptor_free(capture);
    cfg_free(root);
    diag_free(&d);
    return code;
}
