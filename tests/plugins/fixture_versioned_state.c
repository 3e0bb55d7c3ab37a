/* A stateful operator whose snapshot encoding is an option: a run with
 * `encoding: 2` cannot read the state a run with `encoding: 1` wrote, and
 * says so with SLUICE_ERR_STATE, as a plugin does after an incompatible
 * upgrade. Passes records on and counts them in its state. */
#include <sluice/plugin.h>
#include <stdlib.h>
#include <string.h>

typedef struct vs {
    uint32_t encoding;
    uint64_t seen;
} vs;

static const sluice_option_spec options[] = {
    {sizeof(sluice_option_spec), "encoding", SLUICE_OPT_INT, "1", 0, "the snapshot encoding written and read",
     1, 100, NULL, 0, 0},
    SLUICE_OPTION_END,
};

static void *create(const sluice_host_api *api, sluice_ctx *ctx, const sluice_options *opts, char *e,
                    size_t n)
{
    (void)ctx, (void)e, (void)n;
    vs *v = calloc(1, sizeof *v);
    if (v)
        v->encoding = (uint32_t)api->opt_int(opts, "encoding");
    return v;
}

static void destroy(const sluice_host_api *api, sluice_ctx *ctx, void *self)
{
    (void)api, (void)ctx;
    free(self);
}

static sluice_status process(const sluice_host_api *api, sluice_ctx *ctx, void *self, sluice_batch *b)
{
    vs *v = self;
    for (const sluice_record *r; (r = api->batch_next(b)) != NULL;) {
        v->seen++;
        api->emit(ctx, NULL, r);
    }
    return SLUICE_OK;
}

static sluice_status snapshot(const sluice_host_api *api, sluice_ctx *ctx, void *self, sluice_snapshot *out)
{
    (void)ctx;
    vs *v = self;
    out->encoding_version = v->encoding;
    out->data = api->alloc(sizeof v->seen);
    memcpy(out->data, &v->seen, sizeof v->seen);
    out->size = sizeof v->seen;
    return SLUICE_OK;
}

static sluice_status restore(const sluice_host_api *api, sluice_ctx *ctx, void *self,
                             const sluice_snapshot *in)
{
    vs *v = self;
    if (in->encoding_version != v->encoding || in->size != sizeof v->seen) {
        api->log(ctx, SLUICE_LOG_ERROR, "cannot read snapshot encoding %u (this build reads %u)",
                 in->encoding_version, v->encoding);
        return SLUICE_ERR_STATE;
    }
    memcpy(&v->seen, in->data, sizeof v->seen);
    return SLUICE_OK;
}

static const sluice_plugin descriptor = {
    .struct_size = sizeof(sluice_plugin),
    .abi_version = SLUICE_ABI_VERSION,
    .name = "versioned_state",
    .kind = SLUICE_KIND_OPERATOR,
    .version = "1.0.0",
    .options = options,
    .create = create,
    .destroy = destroy,
    .process = process,
    .snapshot = snapshot,
    .restore = restore,
    .state = SLUICE_STATE_KEPT,
};

SLUICE_PLUGIN_EXPORT const sluice_plugin *sluice_plugin_entry(void) { return &descriptor; }
