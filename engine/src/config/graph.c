/* Step graph checks and ordering (Kahn's algorithm) and its DOT and text renderings. */
#include "graph.h"

#include <stdlib.h>
#include <string.h>

#include "suggest.h"
#include "xalloc.h"

typedef struct step_info {
    int known; /* the plugin was loaded */
    sluice_kind kind;
    const char *const *outputs;
} step_info;

static const char *kind_name(sluice_kind k)
{
    return k == SLUICE_KIND_SOURCE ? "a source" : k == SLUICE_KIND_SINK ? "a sink" : "an operator";
}

int graph_has_output(sluice_kind kind, const char *const *outputs, const char *output)
{
    if (kind == SLUICE_KIND_SINK)
        return 0;
    if (strcmp(output, "main") == 0)
        return 1;
    if (kind == SLUICE_KIND_SOURCE && strcmp(output, "rejected") == 0)
        return 1;
    for (size_t i = 0; outputs && outputs[i]; i++)
        if (strcmp(outputs[i], output) == 0)
            return 1;
    return 0;
}

static long find_step(const pipeline_def *def, const char *name)
{
    for (size_t i = 0; i < def->nsteps; i++)
        if (strcmp(def->steps[i].name, name) == 0)
            return (long)i;
    return -1;
}

static step_info *collect_info(const pipeline_def *def, graph_plugin_info_fn info, void *ud)
{
    step_info *si = xcalloc(def->nsteps ? def->nsteps : 1, sizeof *si);
    for (size_t i = 0; si && i < def->nsteps; i++) {
        sluice_kind kind = SLUICE_KIND_OPERATOR;
        const char *const *outputs = NULL;
        if (info && info(ud, i, &kind, &outputs))
            si[i] = (step_info){1, kind, outputs};
    }
    return si;
}

static void check_sources(const pipeline_def *def, const step_info *si, diag_list *diags)
{
    long first = -1;
    int all_known = 1;
    for (size_t i = 0; i < def->nsteps; i++) {
        const step_def *s = &def->steps[i];
        all_known = all_known && si[i].known;
        if (!si[i].known)
            continue;
        if (si[i].kind == SLUICE_KIND_SOURCE) {
            if (first < 0)
                first = (long)i;
            else
                diag_add(diags, s->plugin_pos,
                         "step '%s' is a second source (plugin '%s'); a pipeline has exactly one, "
                         "and '%s' (line %d) is already its source",
                         s->name, s->plugin, def->steps[first].name, def->steps[first].pos.line);
            if (s->ninputs)
                diag_add(diags, s->inputs[0].pos, "source step '%s' cannot have an input", s->name);
        } else if (s->ninputs == 0) {
            diag_add(diags, s->pos, "step '%s' (%s) has no 'input'", s->name, kind_name(si[i].kind));
        }
    }
    if (first < 0 && all_known) {
        src_pos pos = def->nsteps ? def->steps[0].pos : (def->root ? def->root->pos : (src_pos){NULL, 0, 0});
        diag_add(diags, pos, "the pipeline has no source step (one whose plugin is a source)");
    }
}

/* "main, rejected, late" for messages. */
static void list_outputs(const step_info *t, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = '\0';
    const char *fixed[2] = {"main", t->kind == SLUICE_KIND_SOURCE ? "rejected" : NULL};
    for (size_t i = 0; i < 2 && fixed[i]; i++)
        len += (size_t)snprintf(buf + len, len < size ? size - len : 0, "%s%s", i ? ", " : "", fixed[i]);
    for (size_t i = 0; t->outputs && t->outputs[i] && len < size; i++)
        if (!(t->kind == SLUICE_KIND_SOURCE && strcmp(t->outputs[i], "rejected") == 0))
            len += (size_t)snprintf(buf + len, size - len, ", %s", t->outputs[i]);
}

static void check_output(const pipeline_def *def, const step_info *t, const step_def *s, const input_ref *in,
                         diag_list *diags)
{
    if (t->kind == SLUICE_KIND_SINK) {
        diag_add(diags, in->pos, "input '%s' of step '%s' is a sink, which has no outputs", in->step,
                 s->name);
        return;
    }
    if (graph_has_output(t->kind, t->outputs, in->output))
        return;
    const char *cands[64];
    size_t n = 0;
    cands[n++] = "main";
    if (t->kind == SLUICE_KIND_SOURCE)
        cands[n++] = "rejected";
    for (size_t i = 0; t->outputs && t->outputs[i] && n < 64; i++)
        cands[n++] = t->outputs[i];
    char have[512];
    list_outputs(t, have, sizeof have);
    const char *hint = suggest_closest(in->output, cands, n);
    (void)def;
    if (hint)
        diag_add(diags, in->pos, "step '%s' has no output '%s' (it has: %s); did you mean '%s.%s'?", in->step,
                 in->output, have, in->step, hint);
    else
        diag_add(diags, in->pos, "step '%s' has no output '%s' (it has: %s)", in->step, in->output, have);
}

static void check_inputs(const pipeline_def *def, const step_info *si, diag_list *diags)
{
    const char **names = xmalloc((def->nsteps ? def->nsteps : 1) * sizeof *names);
    for (size_t i = 0; names && i < def->nsteps; i++)
        names[i] = def->steps[i].name;
    for (size_t i = 0; i < def->nsteps; i++) {
        const step_def *s = &def->steps[i];
        for (size_t k = 0; k < s->ninputs; k++) {
            const input_ref *in = &s->inputs[k];
            for (size_t j = 0; j < k; j++) {
                if (strcmp(s->inputs[j].step, in->step) == 0 &&
                    strcmp(s->inputs[j].output, in->output) == 0) {
                    diag_add(diags, in->pos, "step '%s' lists input '%s.%s' twice", s->name, in->step,
                             in->output);
                    break;
                }
            }
            long t = find_step(def, in->step);
            if (t < 0) {
                const char *hint = names ? suggest_closest(in->step, names, def->nsteps) : NULL;
                if (hint)
                    diag_add(diags, in->pos, "input of step '%s' names unknown step '%s'; did you mean '%s'?",
                             s->name, in->step, hint);
                else
                    diag_add(diags, in->pos, "input of step '%s' names unknown step '%s'", s->name, in->step);
                continue;
            }
            if (si[t].known)
                check_output(def, &si[t], s, in, diags);
        }
    }
    free(names);
}

/* Kahn's algorithm: place ready steps after the n already in order[];
 * returns the new count. indeg[i] counts step i's inputs from steps not yet
 * placed. */
static size_t kahn(const pipeline_def *def, size_t *indeg, char *placed, size_t *order, size_t n)
{
    for (;;) {
        /* The lowest-index ready step next, so the order is deterministic. */
        size_t next = def->nsteps;
        for (size_t i = 0; i < def->nsteps; i++) {
            if (!placed[i] && indeg[i] == 0) {
                next = i;
                break;
            }
        }
        if (next == def->nsteps)
            return n;
        placed[next] = 1;
        order[n++] = next;
        for (size_t j = 0; j < def->nsteps; j++)
            for (size_t k = 0; k < def->steps[j].ninputs; k++)
                if (strcmp(def->steps[j].inputs[k].step, def->steps[next].name) == 0)
                    indeg[j]--;
    }
}

/* Each unplaced step has an input from another unplaced step: walk inputs
 * backwards until a step repeats; the loop found is a cycle. Report it and
 * place its steps so the search can go on to other cycles. */
static void report_cycle(const pipeline_def *def, size_t *indeg, char *placed, diag_list *diags)
{
    size_t start = 0;
    while (start < def->nsteps && placed[start])
        start++;
    if (start == def->nsteps)
        return;
    size_t *seen_at = xmalloc(def->nsteps * sizeof *seen_at);
    size_t *path = xmalloc((def->nsteps + 1) * sizeof *path);
    if (!seen_at || !path) {
        free(seen_at);
        free(path);
        return;
    }
    for (size_t i = 0; i < def->nsteps; i++)
        seen_at[i] = (size_t)-1;
    size_t len = 0, cur = start;
    while (seen_at[cur] == (size_t)-1) {
        seen_at[cur] = len;
        path[len++] = cur;
        const step_def *s = &def->steps[cur];
        size_t prev = cur;
        for (size_t k = 0; k < s->ninputs; k++) {
            long t = find_step(def, s->inputs[k].step);
            if (t >= 0 && !placed[t]) {
                prev = (size_t)t;
                break;
            }
        }
        cur = prev;
    }
    /* path[seen_at[cur]..len) walks inputs backwards: print it forwards. */
    char text[1024];
    size_t tl = 0;
    text[0] = '\0';
    size_t from = seen_at[cur];
    for (size_t i = len; i-- > from && tl < sizeof text;)
        tl += (size_t)snprintf(text + tl, sizeof text - tl, "%s -> ", def->steps[path[i]].name);
    if (tl < sizeof text)
        snprintf(text + tl, sizeof text - tl, "%s", def->steps[path[len - 1]].name);
    const step_def *first = &def->steps[path[len - 1]];
    diag_add(diags, first->pos, "steps form a cycle: %s", text);
    for (size_t i = from; i < len; i++) {
        placed[path[i]] = 1;
        const char *name = def->steps[path[i]].name;
        for (size_t j = 0; j < def->nsteps; j++)
            for (size_t k = 0; k < def->steps[j].ninputs; k++)
                if (strcmp(def->steps[j].inputs[k].step, name) == 0)
                    indeg[j]--;
    }
    free(seen_at);
    free(path);
}

static int order_steps(const pipeline_def *def, size_t *order, diag_list *diags)
{
    size_t n = def->nsteps;
    size_t *indeg = xcalloc(n ? n : 1, sizeof *indeg);
    char *placed = xcalloc(n ? n : 1, 1);
    size_t *scratch = xmalloc((n ? n : 1) * sizeof *scratch);
    int rc = 0;
    if (!indeg || !placed || !scratch) {
        rc = -1;
        goto out;
    }
    for (size_t j = 0; j < n; j++)
        for (size_t k = 0; k < def->steps[j].ninputs; k++)
            if (find_step(def, def->steps[j].inputs[k].step) >= 0)
                indeg[j]++;
    size_t placed_count = kahn(def, indeg, placed, scratch, 0);
    if (placed_count == n) {
        if (order)
            memcpy(order, scratch, n * sizeof *order);
        goto out;
    }
    rc = -1;
    for (size_t guard = 0; guard < n && placed_count < n; guard++) {
        report_cycle(def, indeg, placed, diags);
        size_t before = 0;
        for (size_t i = 0; i < n; i++)
            before += placed[i] != 0;
        placed_count = kahn(def, indeg, placed, scratch, before);
    }
out:
    free(indeg);
    free(placed);
    free(scratch);
    return rc;
}

int graph_validate(const pipeline_def *def, graph_plugin_info_fn info, void *ud, size_t *order,
                   diag_list *diags)
{
    size_t before = diags->count;
    step_info *si = collect_info(def, info, ud);
    if (!si) {
        diag_add(diags, (src_pos){NULL, 0, 0}, "out of memory");
        return -1;
    }
    check_sources(def, si, diags);
    check_inputs(def, si, diags);
    int rc = order_steps(def, order, diags);
    free(si);
    return rc < 0 || diags->count > before ? -1 : 0;
}

/* ------------------------------------------------------------------------ */
/* DOT                                                                       */

static void dot_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

static size_t step_index(const pipeline_def *def, const char *name)
{
    for (size_t i = 0; i < def->nsteps; i++)
        if (strcmp(def->steps[i].name, name) == 0)
            return i;
    return SIZE_MAX;
}

static size_t stage_of(graph_stage_fn stage, void *ud, size_t i, const char **label)
{
    size_t st = 0;
    *label = NULL;
    if (stage && i != SIZE_MAX)
        stage(ud, i, &st, label);
    return st;
}

void graph_print_dot(const pipeline_def *def, graph_plugin_info_fn info, graph_stage_fn stage, void *ud,
                     FILE *out)
{
    step_info *si = collect_info(def, info, ud);
    fprintf(out, "digraph ");
    dot_string(out, def->name ? def->name : "pipeline");
    fprintf(out, " {\n  rankdir=LR;\n  node [fontname=\"Helvetica\"];\n");
    /* Keyed stages: a box around the steps each task runs. */
    for (size_t st = 1; stage && st <= def->nsteps; st++) {
        int opened = 0;
        for (size_t i = 0; i < def->nsteps; i++) {
            const char *label;
            if (stage_of(stage, ud, i, &label) != st)
                continue;
            if (!opened) {
                fprintf(out, "  subgraph cluster_stage%zu {\n    style=rounded;\n    label=", st);
                char *text = NULL;
                if (xasprintf(&text, "stage %zu: %s", st, label ? label : "keyed") < 0)
                    text = NULL;
                dot_string(out, text ? text : "stage");
                free(text);
                fprintf(out, ";\n");
                opened = 1;
            }
            fprintf(out, "    ");
            dot_string(out, def->steps[i].name);
            fprintf(out, ";\n");
        }
        if (!opened)
            break;
        fprintf(out, "  }\n");
    }
    for (size_t i = 0; i < def->nsteps; i++) {
        const step_def *s = &def->steps[i];
        const char *shape = "octagon";
        if (si && si[i].known)
            shape = si[i].kind == SLUICE_KIND_SOURCE ? "invhouse"
                    : si[i].kind == SLUICE_KIND_SINK ? "house"
                                                     : "box";
        fprintf(out, "  ");
        dot_string(out, s->name);
        fprintf(out, " [label=");
        /* A DOT "\n" is a line break inside the label. */
        char *label = NULL;
        if (xasprintf(&label, "%s\n%s", s->name, s->plugin) < 0)
            label = NULL;
        fputc('"', out);
        for (const char *p = label ? label : s->name; *p; p++) {
            if (*p == '\n')
                fputs("\\n", out);
            else {
                if (*p == '"' || *p == '\\')
                    fputc('\\', out);
                fputc(*p, out);
            }
        }
        fputc('"', out);
        free(label);
        fprintf(out, ", shape=%s%s];\n", shape, si && si[i].known ? "" : ", style=dashed");
    }
    for (size_t i = 0; i < def->nsteps; i++) {
        const step_def *s = &def->steps[i];
        const char *to_label;
        size_t to_stage = stage_of(stage, ud, i, &to_label);
        for (size_t k = 0; k < s->ninputs; k++) {
            const char *from_label;
            int exchange =
                to_stage && stage_of(stage, ud, step_index(def, s->inputs[k].step), &from_label) != to_stage;
            fprintf(out, "  ");
            dot_string(out, s->inputs[k].step);
            fprintf(out, " -> ");
            dot_string(out, s->name);
            int main_port = strcmp(s->inputs[k].output, "main") == 0;
            if (!main_port || exchange) {
                char *text = NULL;
                if (xasprintf(&text, "%s%s%s", main_port ? "" : s->inputs[k].output,
                              main_port || !exchange ? "" : " ", exchange ? "exchange" : "") < 0)
                    text = NULL;
                fprintf(out, " [label=");
                dot_string(out, text ? text : "");
                fprintf(out, "%s]", exchange ? ", style=bold" : "");
                free(text);
            }
            fprintf(out, ";\n");
        }
    }
    fprintf(out, "}\n");
    free(si);
}

/* ------------------------------------------------------------------------ */
/* Text                                                                      */

void graph_print_text(const pipeline_def *def, graph_plugin_info_fn info, void *ud, FILE *out)
{
    step_info *si = collect_info(def, info, ud);
    int wname = 4, wplugin = 6;
    for (size_t i = 0; i < def->nsteps; i++) {
        int n = (int)strlen(def->steps[i].name), pl = (int)strlen(def->steps[i].plugin);
        wname = n > wname ? n : wname;
        wplugin = pl > wplugin ? pl : wplugin;
    }
    fprintf(out, "pipeline %s: %zu step%s\n", def->name ? def->name : "(unnamed)", def->nsteps,
            def->nsteps == 1 ? "" : "s");
    for (size_t i = 0; i < def->nsteps; i++) {
        const step_def *s = &def->steps[i];
        const char *kind = si && si[i].known ? kind_name(si[i].kind) : "?";
        /* kind_name() says "a source": drop the article in a table. */
        kind += strncmp(kind, "an ", 3) == 0 ? 3 : strncmp(kind, "a ", 2) == 0 ? 2 : 0;
        fprintf(out, "  %-*s  %-*s  %-*s", wname, s->name, wplugin, s->plugin, s->ninputs ? 8 : 0, kind);
        for (size_t k = 0; k < s->ninputs; k++) {
            fprintf(out, "%s%s", k ? ", " : "  <- ", s->inputs[k].step);
            if (strcmp(s->inputs[k].output, "main") != 0)
                fprintf(out, ".%s", s->inputs[k].output);
        }
        fprintf(out, "\n");
    }
    free(si);
}
