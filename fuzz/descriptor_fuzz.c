/* libFuzzer target: the loader's vetting of a plugin descriptor
 * (plugin_from_descriptor, the checks a loaded .so's descriptor gets), and
 * what the engine then does with an accepted one: `sluice plugins` help
 * from its option table, the options of a step validated against that
 * table, an instance created, fed and ended through the test driver.
 *
 * The descriptor is built from the input's bytes: its struct_size, ABI
 * versions, name, kind, version, description, declared state and key, which
 * hooks and reserved slots are set, its outputs list and its option table
 * (entry count, stride, each entry's struct_size, name, type, default,
 * range, enum values). Every pointer in it points at memory the target owns:
 * strings made from the input and NUL-terminated, tables terminated as the
 * ABI requires (a plugin breaking those rules cannot be told apart from
 * memory that merely follows the table; it is out of scope here). What the
 * input has left after the descriptor is the step's options, as YAML. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "log.h"
#include "options.h"

typedef struct input {
    const uint8_t *p;
    size_t n;
} input;

static uint8_t u8(input *in)
{
    if (in->n == 0)
        return 0;
    in->n--;
    return *in->p++;
}

static uint32_t u32(input *in)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v = v << 8 | u8(in);
    return v;
}

static double f64(input *in)
{
    static const double picks[] = {0, 1, -1, 10, 1e3, 1e12, 1e17, 1e300, -1e300, 0.5};
    uint8_t b = u8(in);
    if (b < 200)
        return picks[b % (sizeof picks / sizeof picks[0])];
    double d;
    uint64_t bits = (uint64_t)u32(in) << 32 | u32(in);
    memcpy(&d, &bits, sizeof d);
    return d;
}

/* Everything the descriptor points at, freed after the run. */
typedef struct owned {
    void *ptrs[128];
    size_t n;
} owned;

static void *keep(owned *o, void *p)
{
    if (o->n == sizeof o->ptrs / sizeof o->ptrs[0])
        abort();
    o->ptrs[o->n++] = p;
    return p;
}

/* NULL, a word from a list (valid names and edge cases), or up to 31 bytes
 * of the input, NUL-terminated. */
static const char *str(input *in, owned *o)
{
    static const char *const words[] = {"fuzz", "dedup", "main", "rejected", "a_1",   "",       "1h",
                                        "10",   "true",  "off",  "a|b|c",    "|",     "{a: 1}", "[x, y]",
                                        "1.5",  "-1",    "abc",  "Name",     "1e400", "0ms"};
    uint8_t b = u8(in);
    if (b == 0)
        return NULL;
    if (b < 160)
        return words[b % (sizeof words / sizeof words[0])];
    size_t len = u8(in) % 32;
    if (len > in->n)
        len = in->n;
    char *s = keep(o, malloc(len + 1));
    memcpy(s, in->p, len);
    s[len] = '\0';
    in->p += len;
    in->n -= len;
    return s;
}

/* The hooks: each does nothing, successfully. */
static int instance;
static void *d_create(const sluice_host_api *api, sluice_ctx *ctx, const sluice_options *opts, char *errbuf,
                      size_t errbuf_size)
{
    (void)api, (void)ctx, (void)opts, (void)errbuf, (void)errbuf_size;
    return &instance;
}
static void d_destroy(const sluice_host_api *api, sluice_ctx *ctx, void *self)
{
    (void)api, (void)ctx, (void)self;
}
static sluice_status d_poll(const sluice_host_api *api, sluice_ctx *ctx, void *self, size_t budget,
                            int timeout)
{
    (void)api, (void)ctx, (void)self, (void)budget, (void)timeout;
    return SLUICE_END;
}
static sluice_status d_process(const sluice_host_api *api, sluice_ctx *ctx, void *self, sluice_batch *batch)
{
    (void)ctx, (void)self;
    while (api->batch_next(batch) != NULL)
        ;
    return SLUICE_OK;
}
static sluice_status d_watermark(const sluice_host_api *api, sluice_ctx *ctx, void *self, int64_t wm)
{
    (void)api, (void)ctx, (void)self, (void)wm;
    return SLUICE_OK;
}
static sluice_status d_flush(const sluice_host_api *api, sluice_ctx *ctx, void *self)
{
    (void)api, (void)ctx, (void)self;
    return SLUICE_OK;
}
static sluice_status d_snapshot(const sluice_host_api *api, sluice_ctx *ctx, void *self, sluice_snapshot *out)
{
    (void)api, (void)ctx, (void)self;
    out->encoding_version = 1;
    out->data = NULL;
    out->size = 0;
    return SLUICE_OK;
}
static sluice_status d_restore(const sluice_host_api *api, sluice_ctx *ctx, void *self,
                               const sluice_snapshot *in)
{
    (void)api, (void)ctx, (void)self, (void)in;
    return SLUICE_OK;
}
static sluice_status d_timer(const sluice_host_api *api, sluice_ctx *ctx, void *self, int64_t now)
{
    (void)api, (void)ctx, (void)self, (void)now;
    return SLUICE_OK;
}
static sluice_status d_checkpoint(const sluice_host_api *api, sluice_ctx *ctx, void *self, uint64_t id)
{
    (void)api, (void)ctx, (void)self, (void)id;
    return SLUICE_OK;
}
static sluice_status d_validate(const sluice_host_api *api, sluice_ctx *ctx, const sluice_options *opts)
{
    (void)api, (void)ctx, (void)opts;
    return SLUICE_OK;
}
static int32_t d_partition_count(const sluice_host_api *api, sluice_ctx *ctx, void *self)
{
    (void)api, (void)ctx, (void)self;
    return 1;
}
static sluice_status d_partition_state_save(const sluice_host_api *api, sluice_ctx *ctx, void *self,
                                            uint64_t id, int32_t partition, const void *data, size_t size)
{
    (void)api, (void)ctx, (void)self, (void)id, (void)partition, (void)data, (void)size;
    return SLUICE_OK;
}

static uint32_t pick_size(input *in, const uint32_t *sizes, size_t n)
{
    uint8_t b = u8(in);
    if (b < 128)
        return sizes[0];
    if (b < 250)
        return sizes[b % n];
    return u32(in);
}

static const sluice_option_spec *option_table(input *in, owned *o)
{
    if (u8(in) < 40)
        return NULL;
    size_t count = u8(in) % 8;
    const uint32_t strides[] = {sizeof(sluice_option_spec),
                                offsetof(sluice_option_spec, doc) + sizeof(char *),
                                offsetof(sluice_option_spec, enum_values),
                                sizeof(sluice_option_spec) + 8,
                                offsetof(sluice_option_spec, secret),
                                4};
    uint32_t stride = pick_size(in, strides, sizeof strides / sizeof strides[0]);
    if (stride > 4096)
        stride = stride % 4096;
    /* Room for count entries and the terminator, each read as a whole
     * sluice_option_spec wherever the stride puts it. */
    size_t bytes = (size_t)count * stride + sizeof(sluice_option_spec) + 16;
    char *table = keep(o, calloc(1, bytes));
    for (size_t i = 0; i < count; i++) {
        sluice_option_spec e = {0};
        /* The first entry's struct_size is the table's stride as the loader
         * reads it: it must be the stride the table was built with (a lie
         * there sends the loader to memory that is not the table). Later
         * entries may differ, which the loader refuses. */
        e.struct_size = i == 0 || u8(in) < 240 ? stride : u32(in);
        e.name = str(in, o);
        if (e.name == NULL)
            e.name = "x"; /* a NULL name would end the table here */
        e.type = (sluice_opt_type)(u8(in) % 10);
        e.default_value = str(in, o);
        e.required = u8(in) & 1;
        e.doc = str(in, o);
        e.min = f64(in);
        e.max = f64(in);
        e.enum_values = str(in, o);
        uint8_t bits = u8(in);
        e.allow_off = bits & 1;
        e.secret = (bits >> 1) & 1;
        memcpy(table + i * stride, &e, stride < sizeof e ? stride : sizeof e);
    }
    /* The terminator: a NULL name (calloc), the table's struct_size. */
    uint32_t ts = stride;
    memcpy(table + count * stride, &ts, sizeof ts);
    return (const sluice_option_spec *)table;
}

static const char *const *outputs_list(input *in, owned *o)
{
    if (u8(in) < 128)
        return NULL;
    size_t count = u8(in) % 5;
    const char **list = keep(o, calloc(count + 1, sizeof *list));
    for (size_t i = 0; i < count; i++) {
        list[i] = str(in, o);
        if (list[i] == NULL)
            list[i] = "out";
    }
    return list;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    log_set_level(SLUICE_LOG_ERROR);
    return 0;
}

static void quiet_log(sluice_ctx *ctx, sluice_log_level level, const char *fmt, ...)
{
    (void)ctx, (void)level, (void)fmt;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    input in = {data, size};
    owned o = {.n = 0};
    /* A full-size descriptor whatever struct_size says, so that the loader's
     * copy of struct_size bytes never reads past it (a plugin's descriptor
     * is at least as large as the struct_size it declares). */
    sluice_plugin *d = keep(&o, calloc(1, sizeof *d + 64));
    const uint32_t sizes[] = {sizeof *d,
                              offsetof(sluice_plugin, reserved),
                              offsetof(sluice_plugin, state_key),
                              offsetof(sluice_plugin, min_host_abi),
                              offsetof(sluice_plugin, partition_count),
                              sizeof *d + 64,
                              8};
    d->struct_size = pick_size(&in, sizes, sizeof sizes / sizeof sizes[0]);
    uint8_t b = u8(&in);
    d->abi_version = b < 128 ? SLUICE_ABI_VERSION : b < 250 ? SLUICE_ABI_VERSION_OF(1, b % 8) : u32(&in);
    d->name = str(&in, &o);
    d->kind = (sluice_kind)(u8(&in) % 5);
    d->version = str(&in, &o);
    d->description = str(&in, &o);
    d->options = option_table(&in, &o);
    d->outputs = outputs_list(&in, &o);
    uint32_t hooks = u32(&in);
    /* The common case, every hook there, most often. */
    if (hooks >> 28 == 0)
        hooks = 0xffffff;
    d->create = hooks & 1 ? d_create : NULL;
    d->destroy = hooks & 2 ? d_destroy : NULL;
    d->poll = hooks & 4 ? d_poll : NULL;
    d->process = hooks & 8 ? d_process : NULL;
    d->watermark = hooks & 16 ? d_watermark : NULL;
    d->flush = hooks & 32 ? d_flush : NULL;
    d->snapshot = hooks & 64 ? d_snapshot : NULL;
    d->restore = hooks & 128 ? d_restore : NULL;
    d->timer = hooks & 256 ? d_timer : NULL;
    d->checkpoint_complete = hooks & 512 ? d_checkpoint : NULL;
    d->checkpoint_begin = hooks & 1024 ? d_checkpoint : NULL;
    d->validate = hooks & 2048 ? d_validate : NULL;
    d->partition_count = hooks & 4096 ? d_partition_count : NULL;
    d->partition_state_save = hooks & 8192 ? d_partition_state_save : NULL;
    uint8_t reserved = u8(&in) < 240 ? 0 : u8(&in);
    for (int i = 0; i < 8; i++)
        d->reserved[i] = reserved >> i & 1 ? (void *)d_create : NULL;
    d->state_key = (sluice_state_key)((int)u8(&in) % 7 - 1);
    b = u8(&in);
    d->min_host_abi = b < 128 ? 0 : b < 250 ? SLUICE_ABI_VERSION_OF(1, b % 8) : u32(&in);
    d->state = (sluice_state_decl)((int)u8(&in) % 5 - 1);

    char err[512];
    sluice_harness *h = sluice_harness_new_descriptor(d, err, sizeof err);
    if (h != NULL) {
        FILE *devnull = fopen("/dev/null", "w");
        options_print_help(h->plugin->desc.options, devnull);
        fclose(devnull);
        h->api.log = quiet_log;
        char *yaml = malloc(in.n + 1);
        memcpy(yaml, in.p, in.n);
        yaml[in.n] = '\0';
        if (in.n > 0)
            sluice_harness_options(h, yaml);
        free(yaml);
        if (sluice_harness_start(h) == 0) {
            if (h->plugin->desc.kind == SLUICE_KIND_SOURCE) {
                sluice_harness_poll(h, 4);
            } else {
                sluice_harness_push(h, "{\"user_id\":\"u1\",\"url\":\"/a\",\"ts\":1795737600000}");
                sluice_harness_end(h);
            }
        }
        sluice_harness_free(h);
    }
    for (size_t i = 0; i < o.n; i++)
        free(o.ptrs[i]);
    return 0;
}
