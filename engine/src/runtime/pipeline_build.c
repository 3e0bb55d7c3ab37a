/* From a pipeline file to a pipeline ready to start: plugins found and
 * vetted, options checked against each plugin's declared table, the event
 * settings read, the graph validated and its ports wired. Every error is
 * collected with its position, so `sluice check` can show them all. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "event_settings.h"
#include "graph.h"
#include "log.h"
#include "options.h"
#include "pipeline.h"
#include "step_validate.h"
#include "workers.h"
#include "xalloc.h"

static const char *const source_outputs[] = {"rejected", NULL};

int pipeline_plugin_info(void *ud, size_t i, sluice_kind *kind, const char *const **outputs)
{
    pipeline *p = ud;
    if (p->steps[i].plugin == NULL)
        return 0;
    *kind = p->steps[i].plugin->desc.kind;
    *outputs =
        p->steps[i].plugin->desc.kind == SLUICE_KIND_SOURCE ? source_outputs : p->steps[i].plugin->outputs;
    return 1;
}

/* A plugin named by path is relative to the pipeline file's folder. */
static const loaded_plugin *load_by_path(const pipeline_def *def, const char *spec, char *err, size_t errsz)
{
    if (spec[0] == '/')
        return plugin_load_file(spec, err, errsz);
    char *dir = xstrdup(def->path);
    char *slash = strrchr(dir, '/');
    char *full;
    if (slash) {
        *slash = '\0';
        xasprintf(&full, "%s/%s", dir, spec);
    } else {
        full = xstrdup(spec);
    }
    const loaded_plugin *p = plugin_load_file(full, err, errsz);
    free(full);
    free(dir);
    return p;
}

static void load_step_plugin(pipeline *p, size_t i, diag_list *diags)
{
    const step_def *sd = &p->def->steps[i];
    step *s = &p->steps[i];
    unsigned kinds =
        sd->ninputs == 0 ? 1u << SLUICE_KIND_SOURCE : (1u << SLUICE_KIND_OPERATOR) | (1u << SLUICE_KIND_SINK);
    char err[2048];
    const loaded_plugin *lp = strchr(sd->plugin, '/')
                                  ? load_by_path(p->def, sd->plugin, err, sizeof err)
                                  : plugin_find(&p->path, sd->plugin, kinds, err, sizeof err);
    if (lp == NULL) {
        diag_add(diags, sd->plugin_pos, "%s", err);
        return;
    }
    if (!(kinds & (1u << lp->desc.kind))) {
        diag_add(diags, sd->plugin_pos, "step '%s': %s is %s %s plugin, but the step %s", sd->name,
                 sd->plugin, lp->desc.kind == SLUICE_KIND_OPERATOR ? "an" : "a",
                 plugin_kind_name(lp->desc.kind),
                 sd->ninputs == 0 ? "has no input, so it must be a source"
                                  : "has an input, so it cannot be a source");
        return;
    }
    s->plugin = lp;
    s->opts = options_build_at(lp->desc.options, sd->options, lp->desc.name, sd->pos, diags);
}

static void build_ports(pipeline *p, size_t i)
{
    step *s = &p->steps[i];
    const loaded_plugin *lp = s->plugin;
    size_t extra = 0;
    const char *const *outs = lp->desc.kind == SLUICE_KIND_SOURCE ? source_outputs : lp->outputs;
    while (outs[extra])
        extra++;
    s->nports = lp->desc.kind == SLUICE_KIND_SINK ? 0 : 1 + extra;
    s->ports = xcalloc(s->nports ? s->nports : 1, sizeof *s->ports);
    if (s->nports) {
        s->ports[0].name = "main";
        for (size_t k = 0; k < extra; k++)
            s->ports[1 + k].name = outs[k];
    }
    for (size_t k = 0; k < s->nports; k++)
        s->ports[k].last_wm = SLUICE_TIME_MIN;
}

static void wire_inputs(pipeline *p)
{
    for (size_t i = 0; i < p->nsteps; i++) {
        const step_def *sd = &p->def->steps[i];
        step *s = &p->steps[i];
        s->inputs = xcalloc(sd->ninputs ? sd->ninputs : 1, sizeof *s->inputs);
        s->ninputs = sd->ninputs;
        for (size_t k = 0; k < sd->ninputs; k++) {
            for (size_t j = 0; j < p->nsteps; j++) {
                if (strcmp(p->def->steps[j].name, sd->inputs[k].step) != 0)
                    continue;
                s->inputs[k].step = j;
                port *pt = step_port(&p->steps[j], sd->inputs[k].output);
                s->inputs[k].port = (size_t)(pt - p->steps[j].ports);
                pt->consumers++;
                /* Operators pass watermarks on even without a hook of their own. */
                if (s->plugin->desc.kind == SLUICE_KIND_OPERATOR || s->plugin->desc.watermark)
                    pt->needs_markers = 1;
            }
        }
    }
}

/* `key:` on the source says its input is partitioned by the events' user
 * field (Kafka topics keyed by user_id): the keyed steps then run in one task
 * per input partition, whose state follows the partition (tasks.c). A
 * duplicate carries its original's user, so it lands in the same partition:
 * dedup by event is exact there too. */
static void check_source_key(pipeline *p, const event_settings *ev, diag_list *diags)
{
    for (size_t i = 0; i < p->nsteps; i++) {
        const step_def *sd = &p->def->steps[i];
        const cfg_node *key = sd->key;
        if (key == NULL)
            continue;
        if (sd->ninputs > 0) {
            diag_add(diags, key->pos,
                     "step '%s': key: applies only to the source step (how its input is keyed)", sd->name);
            continue;
        }
        const char *user = ev->decode.field_user;
        if (key->kind != CFG_SCALAR || strcmp(key->scalar, user) != 0) {
            diag_add(diags, key->pos,
                     "step '%s': key: names the field the input is partitioned by; only the user field "
                     "('%s') is supported, not %s%s%s",
                     sd->name, user, key->kind == CFG_SCALAR ? "'" : "",
                     key->kind == CFG_SCALAR ? key->scalar : cfg_kind_name(key->kind),
                     key->kind == CFG_SCALAR ? "'" : "");
            continue;
        }
        const loaded_plugin *lp = p->steps[i].plugin;
        if (lp && (lp->desc.partition_count == NULL || lp->desc.partition_state_save == NULL)) {
            diag_add(diags, key->pos,
                     "step '%s': plugin '%s' cannot run partition tasks (it has no partition_count and "
                     "partition_state_save hooks, ABI 1.5): remove key:",
                     sd->name, lp->desc.name);
            continue;
        }
        p->by_partition = 1;
    }
}

/* The layout of a decomposable operator's parts that fits how the keyed
 * steps run (plugin.h, sluice_plugin.parts): its first part's index in the
 * table, and how many parts it has (0: the step runs whole). */
static size_t layout_of(const step *s, int by_partition, size_t *first)
{
    *first = 0;
    if (!(s->plugin && s->plugin->desc.kind == SLUICE_KIND_OPERATOR && s->plugin->desc.parts))
        return 0;
    const sluice_part *parts = s->plugin->desc.parts;
    size_t start = 0;
    for (size_t k = 0; parts[k].name; k++) {
        if (parts[k].key != SLUICE_STATE_KEY_ALL)
            continue;
        if ((parts[start].key == SLUICE_STATE_KEY_PARTITION) == (by_partition != 0)) {
            *first = start;
            return k + 1 - start;
        }
        start = k + 1;
    }
    return 0;
}

static char *part_name(const char *step, const sluice_part *part)
{
    char *name;
    xasprintf(&name, "%s/%s", step, part->name);
    return name;
}

/* Decomposable operators (plugin.h, sluice_plugin.parts) become one step
 * per part of the layout that fits when the keyed steps run in tasks:
 * "<step>/<part>" for each keyed part, reading the step's inputs, and the
 * step itself, now its last part, reading theirs. Consumers of the step's
 * other outputs read the first part's. Done on the definition, before the graph is checked, so
 * that everything after (ports, stages, checkpoints, `sluice graph`) sees
 * the parts as the steps they are. */
static void split_parts(pipeline *p, diag_list *diags)
{
    pipeline_def *def = p->def;
    size_t n = def->nsteps;
    size_t first;
    for (size_t i = 0; i < def->nsteps; i++)
        n += layout_of(&p->steps[i], p->by_partition, &first)
                 ? layout_of(&p->steps[i], p->by_partition, &first) - 1
                 : 0;
    if (n == def->nsteps)
        return;
    step_def *defs = xcalloc(n, sizeof *defs);
    step *steps = xcalloc(n, sizeof *steps);
    size_t at = 0;
    for (size_t i = 0; i < def->nsteps; i++) {
        step_def *sd = &def->steps[i];
        size_t np = layout_of(&p->steps[i], p->by_partition, &first);
        const sluice_part *parts = np ? p->steps[i].plugin->desc.parts + first : NULL;
        for (size_t k = 0; k + 1 < np; k++, at++) {
            step_def *d = &defs[at];
            d->name = part_name(sd->name, &parts[k]);
            d->pos = sd->pos;
            d->plugin = xstrdup(sd->plugin);
            d->plugin_pos = sd->plugin_pos;
            d->options = sd->options;
            d->ninputs = sd->ninputs;
            d->inputs = xcalloc(sd->ninputs, sizeof *d->inputs);
            for (size_t j = 0; j < sd->ninputs; j++)
                d->inputs[j] = (input_ref){xstrdup(sd->inputs[j].step), xstrdup(sd->inputs[j].output),
                                           sd->inputs[j].pos};
            steps[at].plugin = p->steps[i].plugin;
            steps[at].opts = options_build_at(steps[at].plugin->desc.options, sd->options,
                                              steps[at].plugin->desc.name, sd->pos, diags);
            steps[at].key = parts[k].key;
            steps[at].part = (int)(first + k) + 1;
        }
        defs[at] = *sd;
        steps[at] = p->steps[i];
        if (np) { /* the step itself runs the last part, fed by the others */
            for (size_t j = 0; j < sd->ninputs; j++) {
                free(sd->inputs[j].step);
                free(sd->inputs[j].output);
            }
            free(sd->inputs);
            defs[at].ninputs = np - 1;
            defs[at].inputs = xcalloc(np - 1, sizeof *defs[at].inputs);
            for (size_t k = 0; k + 1 < np; k++)
                defs[at].inputs[k] = (input_ref){part_name(sd->name, &parts[k]), xstrdup("main"), sd->pos};
            steps[at].key = SLUICE_STATE_KEY_ALL;
            steps[at].part = (int)(first + np);
        }
        at++;
    }
    /* "<step>.rejected" and the like: the first part's. */
    for (size_t i = 0; i < def->nsteps; i++) {
        size_t np = layout_of(&p->steps[i], p->by_partition, &first);
        if (np == 0)
            continue;
        for (size_t d = 0; d < n; d++)
            for (size_t j = 0; j < defs[d].ninputs; j++) {
                input_ref *in = &defs[d].inputs[j];
                if (strcmp(in->step, def->steps[i].name) == 0 && strcmp(in->output, "main") != 0) {
                    free(in->step);
                    in->step = part_name(def->steps[i].name, &p->steps[i].plugin->desc.parts[first]);
                }
            }
    }
    free(def->steps);
    def->steps = defs;
    def->nsteps = n;
    free(p->steps);
    p->steps = steps;
    p->nsteps = n;
    free(p->order);
    p->order = xcalloc(n, sizeof *p->order);
    for (size_t i = 0; i < n; i++)
        p->steps[i].def = &def->steps[i];
}

pipeline *pipeline_open(const char *path, diag_list *diags)
{
    size_t errors = diags->count;
    pipeline_def *def = pipeline_def_load(path, diags);
    if (def == NULL)
        return NULL;
    pipeline *p = xcalloc(1, sizeof *p);
    pthread_mutex_init(&p->fail_lock, NULL);
    p->def = def;
    p->nsteps = def->nsteps;
    p->steps = xcalloc(def->nsteps ? def->nsteps : 1, sizeof *p->steps);
    p->order = xcalloc(def->nsteps ? def->nsteps : 1, sizeof *p->order);
    plugin_path_init(&p->path, def->plugin_path, def->nplugin_path);
    for (size_t i = 0; i < def->nsteps; i++) {
        p->steps[i].def = &def->steps[i];
        load_step_plugin(p, i, diags);
    }
    event_settings ev;
    event_settings_parse(NULL, &ev, diags);
    for (size_t i = 0; i < def->nsteps; i++) {
        if (def->steps[i].event && def->steps[i].ninputs > 0)
            diag_add(diags, def->steps[i].event->pos, "step '%s': event: applies only to the source step",
                     def->steps[i].name);
        if (def->steps[i].ninputs == 0)
            event_settings_parse(def->steps[i].event, &ev, diags);
    }
    check_source_key(p, &ev, diags);
    for (size_t i = 0; i < p->nsteps; i++)
        if (p->steps[i].plugin)
            p->steps[i].key = p->steps[i].plugin->desc.state_key;
    /* Unless the pipeline says: in parts with partition tasks (what several
     * instances need, docs/kafka.md), whole otherwise (faster on few cores). */
    int two_phase = def->two_phase < 0 ? p->by_partition : def->two_phase;
    if (diags->count == errors && two_phase && (def->partitions > 1 || p->by_partition) && !ev.raw)
        split_parts(p, diags);
    /* The graph is checked even after other errors (unloaded plugins are
     * skipped), so that `sluice check` shows every problem at once. */
    if (graph_validate(def, pipeline_plugin_info, p, p->order, diags) == 0 && diags->count == errors) {
        p->source = p->order[0];
        for (size_t i = 0; i < p->nsteps; i++)
            build_ports(p, i);
        wire_inputs(p);
        exchange_plan(p);
    }
    if (def->state_dir && diags->count == errors) {
        const step *src = &p->steps[p->source];
        if (src->plugin->desc.snapshot == NULL || src->plugin->desc.restore == NULL)
            diag_add(diags, src->def->plugin_pos,
                     "state_dir is set, but source plugin '%s' cannot snapshot and restore its position, "
                     "so a restart would read its input again into restored state",
                     src->plugin->desc.name);
    }
    if (diags->count != errors) {
        pipeline_close(p);
        return NULL;
    }
    p->src.raw = ev.raw;
    p->src.events = ev.decode;
    wm_init(&p->src.wm, ev.max_out_of_order_ms, ev.idle_timeout_ms);
    arena_init(&p->tick_arena, 1u << 20);
    for (size_t k = 0; k < 2; k++)
        arena_init(&p->src.msgs[k], 1u << 20);
    for (size_t i = 0; i < p->nsteps; i++) {
        step *s = &p->steps[i];
        snprintf(s->scope, sizeof s->scope, "%s/%s", def->name, def->steps[i].name);
        s->ctx.p = p;
        s->ctx.s = s;
        s->ctx.arena = &p->tick_arena;
        s->ctx.cur_wm = SLUICE_TIME_MIN;
        /* Sources count messages read; operators records in and out; sinks
         * records in. Unused ones still exist, uncounted and unreported. */
        sluice_kind kind = s->plugin->desc.kind;
        s->c_out = kind == SLUICE_KIND_SOURCE ? step_counter(s, "read") : NULL;
        s->c_in = kind == SLUICE_KIND_SOURCE ? NULL : step_counter(s, "in");
        if (kind == SLUICE_KIND_OPERATOR)
            s->c_out = step_counter(s, "out");
    }
    p->src.c_accepted = step_counter(&p->steps[p->source], "accepted");
    if (pipeline_validate_steps(p, diags) != 0) {
        pipeline_close(p);
        return NULL;
    }
    if (tasks_build(p) != 0) {
        diag_add(diags, (src_pos){def->path, 0, 0}, "out of memory building the pipeline's tasks");
        pipeline_close(p);
        return NULL;
    }
    return p;
}

void step_free_instance(step *s)
{
    if (s->created && s->plugin->desc.destroy)
        s->plugin->desc.destroy(&host_api, &s->ctx, s->self);
    s->created = 0;
    for (size_t k = 0; k < s->nports; k++)
        free(s->ports[k].queue.v);
    free(s->ports);
    free(s->merged.v);
    free(s->gather_q);
    free(s->gather_pos);
    for (size_t k = 0; k < s->ncounters; k++) {
        free(s->counters[k]->name);
        free(s->counters[k]);
    }
    free(s->counters);
    if (!s->is_instance) {
        if (s->opts)
            options_free(s->opts);
        free(s->inputs);
    }
}

void pipeline_close(pipeline *p)
{
    if (p == NULL)
        return;
    /* Before the source that lent them is destroyed. */
    source_release_borrowed(&p->src);
    free(p->src.borrowed);
    free(p->src.pending);
    free(p->src.ahead);
    for (size_t k = 0; k < 2; k++)
        arena_free(&p->src.msgs[k]);
    for (size_t w = 0; p->src.decode_arenas && w < p->threads; w++)
        arena_free(&p->src.decode_arenas[w].a);
    free(p->src.decode_arenas);
    workers_stop(p->workers);
    /* Task instances first: they borrow their steps' options and inputs. */
    tasks_free(p);
    exchange_free(p);
    for (size_t i = 0; i < p->nsteps; i++)
        step_free_instance(&p->steps[i]);
    free(p->steps);
    free(p->order);
    wm_free(&p->src.wm);
    state_image_free(&p->pending_state);
    arena_free(&p->tick_arena);
    free(p->worker_records);
    pthread_mutex_destroy(&p->fail_lock);
    plugin_path_free(&p->path);
    for (size_t i = 0; i < p->ndiscard_state; i++)
        free(p->discard_state[i]);
    free(p->discard_state);
    pipeline_def_free(p->def);
    free(p);
}

char *pipeline_metrics_json(const pipeline *p)
{
    json_t *root = json_object();
    json_object_set_new(root, "pipeline", json_string(p->def->name));
    json_t *steps = json_object();
    for (size_t k = 0; k < p->nsteps; k++) {
        counter_total *totals;
        size_t n = pipeline_step_totals(p, p->order[k], &totals);
        json_t *c = json_object();
        for (size_t j = 0; j < n; j++)
            json_object_set_new(c, totals[j].name, json_integer(totals[j].value));
        free(totals);
        json_object_set_new(steps, p->steps[p->order[k]].def->name, c);
    }
    json_object_set_new(root, "steps", steps);
    /* How the stages' work was shared: records taken in per thread. */
    json_t *runtime = json_object();
    json_object_set_new(runtime, "stages", json_integer((json_int_t)p->nstages));
    json_object_set_new(runtime, "tasks", json_integer((json_int_t)p->ntasks));
    json_object_set_new(runtime, "threads", json_integer((json_int_t)p->threads));
    json_t *per_thread = json_array();
    for (size_t w = 0; w < p->threads && p->worker_records; w++)
        json_array_append_new(per_thread, json_integer((json_int_t)p->worker_records[w]));
    json_object_set_new(runtime, "thread_events", per_thread);
    json_object_set_new(runtime, "rounds_beside_tasks", json_integer((json_int_t)p->rounds_beside));
    json_object_set_new(runtime, "polls_ahead", json_integer((json_int_t)p->src.polls_ahead));
    json_object_set_new(root, "runtime", runtime);
    char *text = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(root);
    return text;
}
