/* Pipeline files: the YAML tree (cfg_yaml.c) -> pipeline_def, with every
 * structural problem collected in diags rather than stopping at the first. */
#include "pipeline_def.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cfg_yaml.h"
#include "duration.h"
#include "listen_addr.h"
#include "suggest.h"
#include "xalloc.h"
/* ------------------------------------------------------------------------ */
/* From the tree to a pipeline_def                                           */

static const char *const top_keys[] = {
    "name",    "plugin_path",  "batch_size", "state_dir", "checkpoint_interval", "partitions", "threads",
    "metrics", "memory_limit", "two_phase",  "steps"};
static const char *const metrics_keys[] = {"listen"};
static const char *const step_keys[] = {"name", "plugin", "input", "options", "event", "key"};
#define NKEYS(a) (sizeof(a) / sizeof(a)[0])

/* Report keys of `map` that are not in `allowed`, with a suggestion. */
static void check_keys(const cfg_node *map, const char *const *allowed, size_t nallowed, const char *where,
                       diag_list *diags)
{
    for (size_t i = 0; i < map->count; i++) {
        size_t k = 0;
        while (k < nallowed && strcmp(map->keys[i], allowed[k]) != 0)
            k++;
        if (k < nallowed)
            continue;
        const char *hint = suggest_closest(map->keys[i], allowed, nallowed);
        if (hint)
            diag_add(diags, map->key_pos[i], "unknown key '%s' in %s; did you mean '%s'?", map->keys[i],
                     where, hint);
        else
            diag_add(diags, map->key_pos[i], "unknown key '%s' in %s", map->keys[i], where);
    }
}

/* The value of `key` when it is a scalar; reports another kind. */
static const char *get_scalar(const cfg_node *map, const char *key, const char *where, diag_list *diags,
                              src_pos *pos)
{
    const cfg_node *n = cfg_map_get(map, key);
    if (!n)
        return NULL;
    if (n->kind != CFG_SCALAR) {
        diag_add(diags, n->pos, "'%s' of %s must be a scalar, not %s", key, where, cfg_kind_name(n->kind));
        return NULL;
    }
    if (pos)
        *pos = n->pos;
    return n->scalar;
}

static int is_name(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_' ||
              *s == '-'))
            return 0;
    return 1;
}

static int parse_input_ref(const cfg_node *n, const char *step, input_ref *out, diag_list *diags)
{
    if (n->kind != CFG_SCALAR) {
        diag_add(diags, n->pos, "an input of step '%s' must be a step name, not %s", step,
                 cfg_kind_name(n->kind));
        return -1;
    }
    const char *text = n->scalar;
    if (!*text) {
        diag_add(diags, n->pos, "an input of step '%s' is empty", step);
        return -1;
    }
    const char *dot = strchr(text, '.');
    size_t step_len = dot ? (size_t)(dot - text) : strlen(text);
    char *ref_step = xstrndup(text, step_len);
    char *ref_out = xstrdup(dot ? dot + 1 : "main");
    if (!ref_step || !ref_out || !is_name(ref_step) || !is_name(ref_out)) {
        diag_add(diags, n->pos,
                 "input '%s' of step '%s' is not 'step' or 'step.output' (names use "
                 "letters, digits, '_' and '-')",
                 text, step);
        free(ref_step);
        free(ref_out);
        return -1;
    }
    *out = (input_ref){ref_step, ref_out, n->pos};
    return 0;
}

static void step_free(step_def *s)
{
    free(s->name);
    free(s->plugin);
    for (size_t i = 0; i < s->ninputs; i++) {
        free(s->inputs[i].step);
        free(s->inputs[i].output);
    }
    free(s->inputs);
}

/* One entry of `steps:`; returns 0 and fills *out when usable. */
static int read_step(const cfg_node *n, size_t index, step_def *out, diag_list *diags)
{
    memset(out, 0, sizeof *out);
    if (n->kind != CFG_MAP) {
        diag_add(diags, n->pos, "step %zu must be a map (name, plugin, input, options), not %s", index + 1,
                 cfg_kind_name(n->kind));
        return -1;
    }
    char where[64];
    snprintf(where, sizeof where, "step %zu", index + 1);
    const char *name = get_scalar(n, "name", where, diags, NULL);
    int ok = 1;
    if (name) {
        const cfg_node *nn = cfg_map_get(n, "name");
        if (!is_name(name)) {
            diag_add(diags, nn->pos, "step name '%s' may only use letters, digits, '_' and '-'", name);
            ok = 0;
        } else {
            snprintf(where, sizeof where, "step '%.40s'", name);
        }
    } else {
        if (!cfg_map_get(n, "name"))
            diag_add(diags, n->pos, "%s has no 'name'", where);
        ok = 0;
    }
    check_keys(n, step_keys, NKEYS(step_keys), where, diags);
    src_pos plugin_pos = n->pos;
    const char *plugin = get_scalar(n, "plugin", where, diags, &plugin_pos);
    if (!plugin) {
        if (!cfg_map_get(n, "plugin"))
            diag_add(diags, n->pos, "%s has no 'plugin'", where);
        ok = 0;
    } else if (!*plugin) {
        diag_add(diags, plugin_pos, "'plugin' of %s is empty", where);
        ok = 0;
    }
    const cfg_node *input = cfg_map_get(n, "input");
    if (input) {
        size_t count = input->kind == CFG_LIST ? input->count : 1;
        if (input->kind == CFG_MAP) {
            diag_add(diags, input->pos, "'input' of %s must be a step name or a list of them, not a map",
                     where);
            ok = 0;
            count = 0;
        } else if (input->kind == CFG_LIST && input->count == 0) {
            diag_add(diags, input->pos, "'input' of %s is an empty list", where);
            ok = 0;
        }
        out->inputs = count ? xcalloc(count, sizeof *out->inputs) : NULL;
        for (size_t i = 0; i < count && out->inputs; i++) {
            const cfg_node *item = input->kind == CFG_LIST ? input->items[i] : input;
            if (parse_input_ref(item, name ? name : "?", &out->inputs[out->ninputs], diags) == 0)
                out->ninputs++;
            else
                ok = 0;
        }
    }
    const cfg_node *options = cfg_map_get(n, "options");
    if (options && options->kind == CFG_SCALAR && !options->quoted && !*options->scalar)
        options = NULL; /* `options:` with nothing after it */
    if (options && options->kind != CFG_MAP) {
        diag_add(diags, options->pos, "'options' of %s must be a map, not %s", where,
                 cfg_kind_name(options->kind));
        options = NULL;
        ok = 0;
    }
    out->options = options;
    out->event = cfg_map_get(n, "event");
    out->key = cfg_map_get(n, "key");
    out->pos = n->pos;
    out->plugin_pos = plugin_pos;
    out->name = ok ? xstrdup(name) : NULL;
    out->plugin = ok ? xstrdup(plugin) : NULL;
    if (!ok || !out->name || !out->plugin) {
        step_free(out);
        return -1;
    }
    return 0;
}

/* A size: an integer with an optional unit, B, KiB/MiB/GiB/TiB (powers of
 * 1024) or KB/MB/GB/TB (powers of 1000), any case; "off" is 0 (no limit). */
static int parse_bytes(const char *text, int64_t *out)
{
    if (strcmp(text, "off") == 0) {
        *out = 0;
        return 0;
    }
    char *end;
    errno = 0;
    long long n = strtoll(text, &end, 10);
    if (end == text || n < 0 || errno)
        return -1;
    while (*end == ' ')
        end++;
    static const struct {
        const char *unit;
        int64_t scale;
    } units[] = {{"", 1},
                 {"b", 1},
                 {"kib", 1LL << 10},
                 {"mib", 1LL << 20},
                 {"gib", 1LL << 30},
                 {"tib", 1LL << 40},
                 {"kb", 1000},
                 {"mb", 1000000},
                 {"gb", 1000000000},
                 {"tb", 1000000000000LL},
                 {"k", 1LL << 10},
                 {"m", 1LL << 20},
                 {"g", 1LL << 30}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strcasecmp(end, units[i].unit) == 0) {
            if (n > INT64_MAX / units[i].scale)
                return -1;
            *out = n * units[i].scale;
            return 0;
        }
    return -1;
}

static void read_steps(pipeline_def *def, const cfg_node *steps, diag_list *diags)
{
    if (steps->kind != CFG_LIST) {
        diag_add(diags, steps->pos, "'steps' must be a list of steps, not %s", cfg_kind_name(steps->kind));
        return;
    }
    def->steps = steps->count ? xcalloc(steps->count, sizeof *def->steps) : NULL;
    if (steps->count && !def->steps)
        return;
    for (size_t i = 0; i < steps->count; i++) {
        step_def s;
        if (read_step(steps->items[i], i, &s, diags) < 0)
            continue;
        size_t dup = 0;
        while (dup < def->nsteps && strcmp(def->steps[dup].name, s.name) != 0)
            dup++;
        if (dup < def->nsteps) {
            diag_add(diags, cfg_map_get(steps->items[i], "name")->pos,
                     "duplicate step name '%s' (first defined at line %d)", s.name, def->steps[dup].pos.line);
            step_free(&s);
            continue;
        }
        def->steps[def->nsteps++] = s;
    }
}

/* In-process partitions: a fixed number, so that results never depend on
 * the thread count; enough for a few cores, few enough that the per-task
 * overhead of small inputs stays small. */
#define DEFAULT_PARTITIONS 8
#define MAX_PARTITIONS 1024
#define MAX_THREADS 256

static int parse_positive(const char *s, int64_t *out)
{
    if (!*s)
        return -1;
    int64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9' || v > (INT64_MAX - (*p - '0')) / 10)
            return -1;
        v = v * 10 + (*p - '0');
    }
    if (v < 1)
        return -1;
    *out = v;
    return 0;
}

/* Relative entries are relative to the pipeline file's folder. */
static char *resolve_path(const char *file, const char *entry)
{
    if (entry[0] == '/')
        return xstrdup(entry);
    while (entry[0] == '.' && entry[1] == '/')
        entry += 2;
    const char *slash = strrchr(file, '/');
    if (!slash)
        return xstrdup(*entry ? entry : ".");
    char *out = NULL;
    if (xasprintf(&out, "%.*s/%s", (int)(slash - file), file, *entry ? entry : ".") < 0)
        return NULL;
    return out;
}

static void read_plugin_path(pipeline_def *def, const cfg_node *n, diag_list *diags)
{
    size_t count = n->kind == CFG_LIST ? n->count : 1;
    if (n->kind == CFG_MAP) {
        diag_add(diags, n->pos, "'plugin_path' must be a folder or a list of folders, not a map");
        return;
    }
    def->plugin_path = xcalloc(count ? count : 1, sizeof *def->plugin_path);
    for (size_t i = 0; i < count && def->plugin_path; i++) {
        const cfg_node *item = n->kind == CFG_LIST ? n->items[i] : n;
        if (item->kind != CFG_SCALAR || !*item->scalar) {
            diag_add(diags, item->pos, "an entry of 'plugin_path' must be a folder name, not %s",
                     item->kind == CFG_SCALAR ? "empty" : cfg_kind_name(item->kind));
            continue;
        }
        char *p = resolve_path(def->path, item->scalar);
        if (p)
            def->plugin_path[def->nplugin_path++] = p;
    }
}

static char *default_name(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t len = strlen(base);
    if (len > 5 && strcmp(base + len - 5, ".yaml") == 0)
        len -= 5;
    else if (len > 4 && strcmp(base + len - 4, ".yml") == 0)
        len -= 4;
    return xstrndup(base, len);
}

/* `metrics: {listen: ADDR}`: where to serve /metrics while it runs. */
static void read_metrics(pipeline_def *def, const cfg_node *n, diag_list *diags)
{
    if (n->kind != CFG_MAP) {
        diag_add(diags, n->pos, "'metrics' must be a map (listen), not %s", cfg_kind_name(n->kind));
        return;
    }
    check_keys(n, metrics_keys, NKEYS(metrics_keys), "'metrics'", diags);
    src_pos pos = n->pos;
    const char *listen = get_scalar(n, "listen", "'metrics'", diags, &pos);
    if (listen == NULL)
        return;
    char host[256], err[300];
    int port;
    if (listen_addr_split(listen, host, sizeof host, &port, err, sizeof err) != 0) {
        diag_add(diags, pos, "'listen' of 'metrics': %s", err);
        return;
    }
    def->metrics_listen = xstrdup(listen);
    def->metrics_listen_pos = pos;
}

static void read_pipeline(pipeline_def *def, const cfg_node *root, diag_list *diags)
{
    if (root->kind != CFG_MAP) {
        diag_add(diags, root->pos, "a pipeline file must be a map (name, steps, ...), not %s",
                 cfg_kind_name(root->kind));
        return;
    }
    check_keys(root, top_keys, NKEYS(top_keys), "the pipeline", diags);
    const char *name = get_scalar(root, "name", "the pipeline", diags, NULL);
    if (name && *name) {
        free(def->name);
        def->name = xstrdup(name);
    }
    const cfg_node *pp = cfg_map_get(root, "plugin_path");
    if (pp)
        read_plugin_path(def, pp, diags);
    src_pos bs_pos;
    const char *bs = get_scalar(root, "batch_size", "the pipeline", diags, &bs_pos);
    if (bs && parse_positive(bs, &def->batch_size) < 0)
        diag_add(diags, bs_pos, "'batch_size' must be an integer >= 1, not '%s'", bs);
    const char *state_dir = get_scalar(root, "state_dir", "the pipeline", diags, NULL);
    if (state_dir && *state_dir)
        def->state_dir = xstrdup(state_dir);
    src_pos ci_pos;
    const char *ci = get_scalar(root, "checkpoint_interval", "the pipeline", diags, &ci_pos);
    if (ci && (duration_parse_ms(ci, &def->checkpoint_interval_ms) != 0 || def->checkpoint_interval_ms < 10))
        diag_add(diags, ci_pos,
                 "'checkpoint_interval' must be a duration of at least 10ms (like 5s), not '%s'", ci);
    src_pos pt_pos;
    const char *pt = get_scalar(root, "partitions", "the pipeline", diags, &pt_pos);
    if (pt && (parse_positive(pt, &def->partitions) < 0 || def->partitions > MAX_PARTITIONS))
        diag_add(diags, pt_pos, "'partitions' must be an integer from 1 to %d, not '%s'", MAX_PARTITIONS, pt);
    src_pos th_pos;
    const char *th = get_scalar(root, "threads", "the pipeline", diags, &th_pos);
    if (th && strcmp(th, "auto") == 0)
        def->threads = 0;
    else if (th && (parse_positive(th, &def->threads) < 0 || def->threads > MAX_THREADS))
        diag_add(diags, th_pos, "'threads' must be 'auto' or an integer from 1 to %d, not '%s'", MAX_THREADS,
                 th);
    src_pos tp_pos;
    const char *tp = get_scalar(root, "two_phase", "the pipeline", diags, &tp_pos);
    def->two_phase = -1; /* not said: the engine's choice (pipeline_build.c) */
    if (tp && (strcmp(tp, "true") == 0 || strcmp(tp, "yes") == 0 || strcmp(tp, "on") == 0))
        def->two_phase = 1;
    else if (tp && (strcmp(tp, "false") == 0 || strcmp(tp, "no") == 0 || strcmp(tp, "off") == 0))
        def->two_phase = 0;
    else if (tp)
        diag_add(diags, tp_pos, "'two_phase' must be true or false, not '%s'", tp);
    src_pos ml_pos;
    const char *ml = get_scalar(root, "memory_limit", "the pipeline", diags, &ml_pos);
    if (ml && parse_bytes(ml, &def->memory_limit) < 0)
        diag_add(diags, ml_pos, "'memory_limit' must be a size like 512MiB, 2GiB or 300MB (or off), not '%s'",
                 ml);
    const cfg_node *metrics = cfg_map_get(root, "metrics");
    if (metrics)
        read_metrics(def, metrics, diags);
    const cfg_node *steps = cfg_map_get(root, "steps");
    if (steps)
        read_steps(def, steps, diags);
    else
        diag_add(diags, root->pos, "the pipeline has no 'steps'");
}

/* Positions name their file by pointer, and diagnostics are often printed
 * after the def is gone (a failed load frees it): file names are therefore
 * kept for the life of the process, once each. */
typedef struct interned_path {
    struct interned_path *next;
    char name[];
} interned_path;

static interned_path *interned;
static pthread_mutex_t interned_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *intern_path(const char *path)
{
    pthread_mutex_lock(&interned_lock);
    interned_path *it = interned;
    while (it && strcmp(it->name, path) != 0)
        it = it->next;
    if (!it) {
        size_t len = strlen(path);
        it = xmalloc(sizeof *it + len + 1);
        if (it) {
            memcpy(it->name, path, len + 1);
            it->next = interned;
            interned = it;
        }
    }
    pthread_mutex_unlock(&interned_lock);
    return it ? it->name : NULL;
}

pipeline_def *pipeline_def_load_with(const char *path, interp_lookup_fn lookup, void *ud, diag_list *diags)
{
    const char *file = intern_path(path);
    if (!file) {
        diag_add(diags, (src_pos){NULL, 0, 0}, "out of memory");
        return NULL;
    }
    path = file;
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        diag_add(diags, (src_pos){path, 0, 0}, "cannot open pipeline file: %s", strerror(errno));
        return NULL;
    }
    pipeline_def *def = xcalloc(1, sizeof *def);
    if (!def || !(def->path = xstrdup(path)) || !(def->name = default_name(path))) {
        fclose(fp);
        pipeline_def_free(def);
        diag_add(diags, (src_pos){path, 0, 0}, "out of memory");
        return NULL;
    }
    def->batch_size = 4096;
    def->checkpoint_interval_ms = 5000;
    def->partitions = DEFAULT_PARTITIONS;
    def->root = cfg_yaml_read_file(fp, path, lookup, ud, diags);
    fclose(fp);
    if (!def->root) {
        pipeline_def_free(def);
        if (diags->count == 0)
            diag_add(diags, (src_pos){path, 1, 1}, "the pipeline file is empty");
        return NULL;
    }
    read_pipeline(def, def->root, diags);
    return def;
}

pipeline_def *pipeline_def_load(const char *path, diag_list *diags)
{
    return pipeline_def_load_with(path, NULL, NULL, diags);
}

void pipeline_def_free(pipeline_def *def)
{
    if (!def)
        return;
    for (size_t i = 0; i < def->nsteps; i++)
        step_free(&def->steps[i]);
    free(def->steps);
    for (size_t i = 0; i < def->nplugin_path; i++)
        free(def->plugin_path[i]);
    free(def->plugin_path);
    free(def->state_dir);
    free(def->metrics_listen);
    cfg_free(def->root);
    free(def->name);
    free(def->path);
    free(def);
}
