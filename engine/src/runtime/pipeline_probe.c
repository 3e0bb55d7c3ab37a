/* `sluice check --connect`: create every step once (sinks first, like a
 * run), so that what only create() can find out, a broker or database that
 * cannot be reached, a file that cannot be opened, is reported before a run;
 * then flush and destroy each instance. Nothing is read or written. */
#include <stdio.h>

#include "pipeline_probe.h"

int pipeline_probe(pipeline *p, diag_list *diags)
{
    size_t before = diags->count;
    for (size_t k = p->nsteps; k-- > 0;) {
        step *s = &p->steps[p->order[k]];
        const sluice_plugin *d = &s->plugin->desc;
        char err[1024] = "";
        void *self = d->create(&host_api, &s->ctx, s->opts, err, sizeof err);
        if (self == NULL) {
            err[sizeof err - 1] = '\0';
            diag_add(diags, s->def->plugin_pos, "step '%s': cannot start %s plugin '%s': %s", s->def->name,
                     plugin_kind_name(d->kind), d->name, err[0] ? err : "create failed (no reason given)");
            continue;
        }
        if (d->flush)
            d->flush(&host_api, &s->ctx, self);
        d->destroy(&host_api, &s->ctx, self);
    }
    return diags->count == before ? 0 : -1;
}
