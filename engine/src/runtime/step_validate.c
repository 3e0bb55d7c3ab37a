/* The plugins' own checks of their options (the validate hook, ABI 1.3), run
 * when a pipeline is opened, for `sluice check` and before every run, and
 * the rule that no state is lost silently: a step whose plugin keeps state
 * must be able to snapshot and restore it when the pipeline has a state
 * folder. Errors go to the pipeline's diagnostics at the position of the
 * option (or step) they are about. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "pipeline.h"
#include "step_validate.h"

/* The position of "option" or "option.key" (an entry of a MAP option) in the
 * step's options, else of the options map, else of the step. */
static src_pos option_pos(const step_def *sd, const char *option)
{
    src_pos where = sd->options ? sd->options->pos : sd->pos;
    if (option == NULL || sd->options == NULL)
        return where;
    const cfg_node *node = cfg_map_get(sd->options, option);
    if (node)
        return node->pos;
    const char *dot = strchr(option, '.');
    if (dot == NULL)
        return where;
    char name[128];
    size_t len = (size_t)(dot - option);
    if (len >= sizeof name)
        return where;
    memcpy(name, option, len);
    name[len] = '\0';
    node = cfg_map_get(sd->options, name);
    if (node == NULL)
        return where;
    const cfg_node *entry = cfg_map_get(node, dot + 1);
    return entry ? entry->pos : node->pos;
}

void step_option_error(sluice_ctx *ctx, const char *option, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    step *s = ctx->s;
    diag_list *diags = ctx->p->validating;
    if (diags == NULL) {
        /* Outside validation (a plugin calling it from create): say it in the log. */
        pipeline_fail(ctx->p, s->scope, "%s%s%s", option ? option : "", option ? ": " : "", msg);
        return;
    }
    diag_add(diags, option_pos(s->def, option), "step '%s': %s%s%s", s->def->name, option ? option : "",
             option ? ": " : "", msg);
}

int step_keeps_state(const loaded_plugin *lp)
{
    if (lp->desc.state == SLUICE_STATE_KEPT)
        return 1;
    if (lp->desc.state == SLUICE_STATE_NONE)
        return 0;
    return lp->desc.snapshot != NULL;
}

int pipeline_validate_steps(pipeline *p, diag_list *diags)
{
    size_t before = diags->count;
    for (size_t i = 0; i < p->nsteps; i++) {
        step *s = &p->steps[i];
        const sluice_plugin *d = &s->plugin->desc;
        if (p->def->state_dir && i != p->source && step_keeps_state(s->plugin) &&
            (d->snapshot == NULL || d->restore == NULL))
            diag_add(diags, s->def->plugin_pos,
                     "step '%s': state_dir is set, but %s plugin '%s' keeps state it cannot %s, so a restart "
                     "would lose it; use a plugin that snapshots its state, or remove state_dir",
                     s->def->name, plugin_kind_name(d->kind), d->name,
                     d->snapshot == NULL ? "snapshot" : "restore");
        if (d->validate == NULL)
            continue;
        size_t had = diags->count;
        p->validating = diags;
        sluice_status st = d->validate(&host_api, &s->ctx, s->opts);
        p->validating = NULL;
        if (st != SLUICE_OK && diags->count == had)
            diag_add(diags, s->def->options ? s->def->options->pos : s->def->pos,
                     "step '%s': plugin '%s' refused its options (status %d, no reason given)", s->def->name,
                     d->name, (int)st);
    }
    return diags->count == before ? 0 : -1;
}
