/*
 * An operator written the way a third party would write one: this file and
 * <sluice/plugin.h>, nothing else. The ABI test compiles it with
 *     cc -shared -fPIC -fvisibility=hidden -I engine/include -o operator-tag.so outoftree_tag.c
 * and runs it in a pipeline.
 *
 * It adds a `label` field to every record, keeping every other field, and
 * sends every `every`-th record unchanged to its side output `sampled`.
 */
#include <sluice/plugin.h>
#include <stdlib.h>
#include <string.h>

typedef struct tag {
    const char *label;
    int64_t every;
    int64_t seen;
    sluice_counter *tagged;
} tag;

static const sluice_option_spec options[] = {
    {sizeof(sluice_option_spec), "label", SLUICE_OPT_STRING, NULL, 1, "the value of the label field", 0, -1,
     NULL, 0, 0},
    {sizeof(sluice_option_spec), "every", SLUICE_OPT_INT, "2", 0, "send every Nth record to `sampled`", 1,
     1000000, NULL, 0, 0},
    SLUICE_OPTION_END,
};

static const char *const outputs[] = {"sampled", NULL};

static void *tag_create(const sluice_host_api *api, sluice_ctx *ctx, const sluice_options *opts, char *errbuf,
                        size_t errbuf_size)
{
    (void)errbuf, (void)errbuf_size;
    tag *t = calloc(1, sizeof *t);
    if (t == NULL)
        return NULL;
    t->label = api->opt_string(opts, "label");
    t->every = api->opt_int(opts, "every");
    t->tagged = api->counter(ctx, "tagged");
    api->log(ctx, SLUICE_LOG_DEBUG, "tagging with '%s'", t->label);
    return t;
}

static void tag_destroy(const sluice_host_api *api, sluice_ctx *ctx, void *self)
{
    (void)api, (void)ctx;
    free(self);
}

static sluice_status tag_process(const sluice_host_api *api, sluice_ctx *ctx, void *self, sluice_batch *batch)
{
    tag *t = self;
    for (const sluice_record *r; (r = api->batch_next(batch)) != NULL;) {
        sluice_record *copy = api->record_copy(ctx, r);
        api->set_string(copy, "label", t->label, strlen(t->label));
        api->emit(ctx, "main", copy);
        api->counter_add(t->tagged, 1);
        if (++t->seen % t->every == 0)
            api->emit(ctx, "sampled", r);
    }
    return SLUICE_OK;
}

static const sluice_plugin descriptor = {
    .struct_size = sizeof(sluice_plugin),
    .abi_version = SLUICE_ABI_VERSION,
    .name = "tag",
    .kind = SLUICE_KIND_OPERATOR,
    .version = "0.1.0",
    .description = "adds a label field; samples every Nth record",
    .options = options,
    .outputs = outputs,
    .create = tag_create,
    .destroy = tag_destroy,
    .process = tag_process,
};

SLUICE_PLUGIN_EXPORT const sluice_plugin *sluice_plugin_entry(void) { return &descriptor; }
