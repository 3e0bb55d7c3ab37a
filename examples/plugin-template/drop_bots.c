/*
 * operator-drop_bots: a Sluice operator plugin, and a template for yours.
 *
 * It drops clicks whose user-agent field contains one of the `patterns`, or,
 * with `action: reject`, sends them to the dead letters with the reason
 * "bot". Copy this folder, rename the plugin, and keep the shape:
 *
 *   - one exported function, sluice_plugin_entry(), returning a static
 *     descriptor (build with -fvisibility=hidden);
 *   - options declared in a table the engine validates and documents;
 *   - rules the table cannot express checked in validate(), which
 *     `sluice check` runs;
 *   - everything else through the host API table handed to each hook.
 */
#include <sluice/plugin.h>
#include <stdlib.h>
#include <string.h>

typedef struct drop_bots {
    const char *field;
    const char **patterns;
    size_t npatterns;
    int reject;
    sluice_counter *dropped;
} drop_bots;

static const sluice_option_spec options[] = {
    {sizeof(sluice_option_spec), "patterns", SLUICE_OPT_LIST, NULL, 1,
     "substrings of the user agent that mark a bot", 0, -1, NULL, 0, 0},
    {sizeof(sluice_option_spec), "field", SLUICE_OPT_STRING, "user_agent", 0,
     "the field holding the user agent", 0, -1, NULL, 0, 0},
    {sizeof(sluice_option_spec), "action", SLUICE_OPT_ENUM, "drop", 0,
     "drop bots silently, or reject them to the dead letters", 0, -1, "drop|reject", 0, 0},
    SLUICE_OPTION_END,
};

/* Besides "main": where reject() sends dead letters, when the pipeline reads
 * `step.rejected`. */
static const char *const outputs[] = {"rejected", NULL};

/* What the option table cannot say: no empty pattern (it would match every
 * click). Called by `sluice check` and before every run, without an instance. */
static sluice_status drop_bots_validate(const sluice_host_api *api, sluice_ctx *ctx,
                                        const sluice_options *opts)
{
    sluice_status st = SLUICE_OK;
    for (size_t i = 0; i < api->opt_count(opts, "patterns"); i++) {
        const char *key, *pattern;
        if (api->opt_entry(opts, "patterns", i, &key, &pattern) && pattern[0] == '\0') {
            api->option_error(ctx, "patterns", "pattern %zu is empty: it would drop every click", i + 1);
            st = SLUICE_ERR_CONFIG;
        }
    }
    if (api->opt_string(opts, "field")[0] == '\0') {
        api->option_error(ctx, "field", "field must name a field");
        st = SLUICE_ERR_CONFIG;
    }
    return st;
}

static void *drop_bots_create(const sluice_host_api *api, sluice_ctx *ctx, const sluice_options *opts,
                              char *errbuf, size_t errbuf_size)
{
    (void)errbuf, (void)errbuf_size;
    drop_bots *d = calloc(1, sizeof *d);
    if (d == NULL)
        return NULL;
    d->field = api->opt_string(opts, "field");
    d->reject = strcmp(api->opt_string(opts, "action"), "reject") == 0;
    d->npatterns = api->opt_count(opts, "patterns");
    d->patterns = calloc(d->npatterns ? d->npatterns : 1, sizeof *d->patterns);
    if (d->patterns == NULL) {
        free(d);
        return NULL;
    }
    for (size_t i = 0; i < d->npatterns; i++) {
        const char *key;
        api->opt_entry(opts, "patterns", i, &key, &d->patterns[i]); /* strings live as long as opts */
    }
    d->dropped = api->counter(ctx, "bots");
    return d;
}

static void drop_bots_destroy(const sluice_host_api *api, sluice_ctx *ctx, void *self)
{
    (void)api, (void)ctx;
    drop_bots *d = self;
    free(d->patterns);
    free(d);
}

static int is_bot(const drop_bots *d, sluice_str agent)
{
    for (size_t i = 0; i < d->npatterns; i++) {
        size_t n = strlen(d->patterns[i]);
        for (size_t at = 0; n <= agent.len && at <= agent.len - n; at++)
            if (memcmp(agent.ptr + at, d->patterns[i], n) == 0)
                return 1;
    }
    return 0;
}

static sluice_status drop_bots_process(const sluice_host_api *api, sluice_ctx *ctx, void *self,
                                       sluice_batch *batch)
{
    drop_bots *d = self;
    for (const sluice_record *r; (r = api->batch_next(batch)) != NULL;) {
        sluice_str agent;
        if (api->field_string(r, d->field, &agent) && is_bot(d, agent)) {
            api->counter_add(d->dropped, 1);
            if (d->reject)
                api->reject(ctx, r, "bot", d->field);
            continue;
        }
        api->emit(ctx, "main", r); /* passed on unchanged */
    }
    return SLUICE_OK;
}

static const sluice_plugin descriptor = {
    .struct_size = sizeof(sluice_plugin),
    .abi_version = SLUICE_ABI_VERSION,
    .name = "drop_bots",
    .kind = SLUICE_KIND_OPERATOR,
    .version = "0.1.0",
    .description = "drops (or rejects) clicks from bots, by user agent",
    .options = options,
    .outputs = outputs,
    .create = drop_bots_create,
    .destroy = drop_bots_destroy,
    .process = drop_bots_process,
    .state_key = SLUICE_STATE_KEY_NONE, /* stateless: any instance may take any click */
    .state = SLUICE_STATE_NONE,
    .validate = drop_bots_validate,
    /* validate() and option_error arrived in ABI 1.3: refuse older engines. */
    .min_host_abi = SLUICE_ABI_VERSION_OF(1, 3),
};

SLUICE_PLUGIN_EXPORT const sluice_plugin *sluice_plugin_entry(void) { return &descriptor; }
