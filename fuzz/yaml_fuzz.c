/* libFuzzer target: a pipeline file, as `sluice check` reads one before any
 * plugin is loaded. The input is the file's text; it goes through
 *  - interpolate() on its own (the text as one scalar),
 *  - cfg_yaml_read_string (YAML without interpolation, as plugin option
 *    defaults are read),
 *  - pipeline_def_load_with from a file (YAML with positions, ${VAR}
 *    interpolation of every scalar, the pipeline's keys and steps), with
 *    variables from a fixed table rather than the environment;
 * then, for what loaded: every diagnostic rendered, each source's `event:`
 * settings parsed, each step's `options:` validated against a table with
 * one option of every type, and the step graph validated and drawn (DOT and
 * text), with a step's kind guessed from its plugin's name.
 * Memory errors, undefined behaviour and leaks are the findings. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg_yaml.h"
#include "diag.h"
#include "event_settings.h"
#include "graph.h"
#include "interpolate.h"
#include "options.h"
#include "pipeline_def.h"

static char path[] = "/tmp/sluice-yaml-fuzz-XXXXXX";
static FILE *devnull;

static const char *lookup(void *ud, const char *name)
{
    (void)ud;
    static const char *const vars[][2] = {
        {"WINDOW", "10s"}, {"OUT", "/tmp/out"},     {"EMPTY", ""},    {"RATE", "2000"},
        {"BAD", "5x"},     {"NESTED", "${WINDOW}"}, {"DOLLAR", "$$"}, {"QUOTE", "'\"{}[],: #"},
        {"NL", "a\nb"},    {"BROKERS", "embedded"},
    };
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        if (strcmp(vars[i][0], name) == 0)
            return vars[i][1];
    return NULL;
}

#define SPEC(name, type, def, min, max, values, off)                                    \
    {                                                                                   \
        sizeof(sluice_option_spec), name, type, def, 0, "doc", min, max, values, off, 0 \
    }
static const sluice_option_spec spec[] = {
    SPEC("path", SLUICE_OPT_STRING, NULL, 0, 0, NULL, 0),
    SPEC("ttl", SLUICE_OPT_DURATION, "1h", 1, 1e17, NULL, 1),
    SPEC("size", SLUICE_OPT_DURATION, "1m", 0, 0, NULL, 0),
    SPEC("top", SLUICE_OPT_INT, "10", 1, 1000000, NULL, 0),
    SPEC("rate", SLUICE_OPT_DOUBLE, "1.5", 0, 1e9, NULL, 0),
    SPEC("follow", SLUICE_OPT_BOOL, "false", 0, 0, NULL, 0),
    SPEC("start", SLUICE_OPT_ENUM, "earliest", 0, 0, "earliest|latest", 0),
    SPEC("config", SLUICE_OPT_MAP, NULL, 0, 0, NULL, 0),
    SPEC("topics", SLUICE_OPT_LIST, NULL, 0, 0, NULL, 0),
    SLUICE_OPTION_END,
};

static const char *const operator_outputs[] = {"rejected", "late", NULL};

static int plugin_info(void *ud, size_t i, sluice_kind *kind, const char *const **outputs)
{
    const pipeline_def *def = ud;
    const char *name = def->steps[i].plugin;
    *outputs = NULL;
    if (strstr(name, "source") || strcmp(name, "clickgen") == 0 || strcmp(name, "file") == 0) {
        *kind = SLUICE_KIND_SOURCE;
    } else if (strstr(name, "sink") || strcmp(name, "stdout") == 0 || strcmp(name, "console") == 0) {
        *kind = SLUICE_KIND_SINK;
    } else {
        *kind = SLUICE_KIND_OPERATOR;
        *outputs = operator_outputs;
    }
    return strcmp(name, "missing") != 0;
}

static void check_def(pipeline_def *def, diag_list *d)
{
    for (size_t i = 0; i < def->nsteps; i++) {
        const step_def *s = &def->steps[i];
        if (s->ninputs == 0) {
            event_settings ev;
            event_settings_parse(s->event, &ev, d);
        }
        sluice_options *opts = options_build_at(spec, s->options, "fuzz", s->pos, d);
        if (opts) {
            options_print_values(opts, devnull);
            options_free(opts);
        }
    }
    size_t *order = calloc(def->nsteps + 1, sizeof *order);
    if (graph_validate(def, plugin_info, def, order, d) == 0) {
        graph_print_dot(def, plugin_info, NULL, def, devnull);
        graph_print_text(def, plugin_info, def, devnull);
    }
    free(order);
}

static void remove_file(void) { unlink(path); }

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    int fd = mkstemp(path);
    devnull = fopen("/dev/null", "w");
    if (fd < 0 || devnull == NULL)
        abort();
    close(fd);
    atexit(remove_file);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';

    char *error = NULL;
    char *out = interpolate(text, lookup, NULL, &error);
    if ((out == NULL) == (error == NULL))
        abort(); /* exactly one of a result and an error */
    free(out);
    free(error);

    diag_list d;
    diag_init(&d);
    cfg_free(cfg_yaml_read_string(text, "<string>", &d));
    diag_print(&d, devnull);
    diag_free(&d);
    free(text);

    FILE *fp = fopen(path, "wb");
    if (fp == NULL || fwrite(data, 1, size, fp) != size || fclose(fp) != 0)
        abort();
    diag_init(&d);
    pipeline_def *def = pipeline_def_load_with(path, lookup, NULL, &d);
    if (def)
        check_def(def, &d);
    diag_print(&d, devnull);
    pipeline_def_free(def);
    diag_free(&d);
    return 0;
}
