/* kind_filter: passes on the records whose string field "kind" is one of the
 * configured kinds, unchanged; drops the others (the host then moves the
 * downstream watermark on past them). Used to split an operator's mixed
 * output, e.g. url_count's url_clicks and window_summary records. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sluice/plugin.h>

typedef struct kind_filter {
    size_t count;
    sluice_str kinds[]; /* borrowed from the options, alive as long as the instance */
} kind_filter;

static const sluice_option_spec kind_filter_options[] = {
    {sizeof(sluice_option_spec), "kinds", SLUICE_OPT_LIST, NULL, 1,
     "the values of the \"kind\" field to pass on", 0, 0, NULL, 0, 0},
    SLUICE_OPTION_END,
};

/* At least one non-empty kind (checked by `sluice check`). */
static sluice_status kind_filter_validate(const sluice_host_api *api, sluice_ctx *ctx,
                                          const sluice_options *opts)
{
    size_t n = api->opt_count(opts, "kinds");
    if (n == 0) {
        api->option_error(ctx, "kinds", "give at least one kind");
        return SLUICE_ERR_CONFIG;
    }
    sluice_status st = SLUICE_OK;
    for (size_t i = 0; i < n; i++) {
        const char *key = NULL, *value = NULL;
        if (!api->opt_entry(opts, "kinds", i, &key, &value) || value == NULL || value[0] == '\0') {
            api->option_error(ctx, "kinds", "kind %zu is empty", i + 1);
            st = SLUICE_ERR_CONFIG;
        }
    }
    return st;
}

static void *kind_filter_create(const sluice_host_api *api, sluice_ctx *ctx, const sluice_options *opts,
                                char *errbuf, size_t errbuf_size)
{
    (void)ctx;
    size_t n = api->opt_count(opts, "kinds");
    if (n == 0) {
        snprintf(errbuf, errbuf_size, "kinds: give at least one kind");
        return NULL;
    }
    kind_filter *f = calloc(1, sizeof *f + n * sizeof f->kinds[0]);
    if (f == NULL) {
        snprintf(errbuf, errbuf_size, "out of memory");
        return NULL;
    }
    f->count = n;
    for (size_t i = 0; i < n; i++) {
        const char *key = NULL, *value = NULL;
        if (!api->opt_entry(opts, "kinds", i, &key, &value) || value == NULL) {
            snprintf(errbuf, errbuf_size, "kinds: cannot read item %zu", i);
            free(f);
            return NULL;
        }
        f->kinds[i] = (sluice_str){value, strlen(value)};
    }
    return f;
}

static void kind_filter_destroy(const sluice_host_api *api, sluice_ctx *ctx, void *self)
{
    (void)api;
    (void)ctx;
    free(self);
}

static int kind_wanted(const kind_filter *f, sluice_str kind)
{
    for (size_t i = 0; i < f->count; i++)
        if (f->kinds[i].len == kind.len && memcmp(f->kinds[i].ptr, kind.ptr, kind.len) == 0)
            return 1;
    return 0;
}

static sluice_status kind_filter_process(const sluice_host_api *api, sluice_ctx *ctx, void *self,
                                         sluice_batch *batch)
{
    const kind_filter *f = self;
    for (const sluice_record *r; (r = api->batch_next(batch)) != NULL;) {
        sluice_str kind;
        if (api->field_string(r, "kind", &kind) && kind_wanted(f, kind)) {
            sluice_status rc = api->emit(ctx, "main", r);
            if (rc != SLUICE_OK)
                return rc;
        }
    }
    return SLUICE_OK;
}

static const sluice_plugin kind_filter_plugin = {
    .struct_size = sizeof(sluice_plugin),
    .abi_version = SLUICE_ABI_VERSION,
    .name = "kind_filter",
    .kind = SLUICE_KIND_OPERATOR,
    .version = "1.0.0",
    .description = "passes records whose \"kind\" field is one of the given kinds",
    .options = kind_filter_options,
    .create = kind_filter_create,
    .validate = kind_filter_validate,
    .state = SLUICE_STATE_NONE,
    .destroy = kind_filter_destroy,
    .process = kind_filter_process,
    .state_key = SLUICE_STATE_KEY_NONE,
};

SLUICE_PLUGIN_EXPORT const sluice_plugin *sluice_plugin_entry(void) { return &kind_filter_plugin; }
