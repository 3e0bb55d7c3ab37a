/*
 * A test source that lends its messages to the host (ABI 1.1, zero copy)
 * and checks that the host keeps the contract: every message released
 * exactly once, before the next poll() and before destroy(). Each message
 * lives in a slot that is overwritten with 'X' when released and refilled
 * at the next poll, so a host still reading a message after its release
 * would write garbage into the outputs. Every fifth message is broken JSON
 * (a dead letter, whose raw bytes must come out intact).
 *
 * Built a second time with LENDING_AHEAD as "lending_ahead", a source that
 * declares SLUICE_SOURCE_POLL_AHEAD (ABI 1.8): lend_every lends only every
 * n-th poll's messages, so the host may poll ahead after a tick that holds
 * nothing lent (and must copy what is lent then), and end_partition_at
 * calls source_partition_ended from that poll on, which a poll ahead must
 * not do.
 */
#include <sluice/plugin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLOT_BYTES 128

typedef struct slot {
    struct lending *owner;
    int lent;
    char bytes[SLOT_BYTES];
} slot;

typedef struct lending {
    const sluice_host_api *api;
    sluice_ctx *ctx;
    int64_t count, per_poll, made, lend_every, end_partition_at, polls;
    slot *slots;
    int64_t outstanding;
    sluice_counter *released, *twice;
} lending;

static const sluice_option_spec options[] = {
    {sizeof(sluice_option_spec), "count", SLUICE_OPT_INT, "100", 0, "messages in all", 0, 1000000, NULL, 0,
     0},
    {sizeof(sluice_option_spec), "per_poll", SLUICE_OPT_INT, "7", 0, "messages per poll", 1, 10000, NULL, 0,
     0},
    {sizeof(sluice_option_spec), "lend_every", SLUICE_OPT_INT, "1", 0, "lend the messages of every n-th poll",
     1, 1000, NULL, 0, 0},
    {sizeof(sluice_option_spec), "end_partition_at", SLUICE_OPT_INT, "0", 0,
     "from this poll on (1 the first), call source_partition_ended(0) in each; 0 never", 0, 1000000, NULL, 0,
     0},
    SLUICE_OPTION_END,
};

static void release_slot(void *arg)
{
    slot *sl = arg;
    lending *l = sl->owner;
    if (!sl->lent) {
        l->api->counter_add(l->twice, 1);
        return;
    }
    sl->lent = 0;
    memset(sl->bytes, 'X', SLOT_BYTES);
    l->outstanding--;
    l->api->counter_add(l->released, 1);
}

static void *lending_create(const sluice_host_api *api, sluice_ctx *ctx, const sluice_options *opts,
                            char *errbuf, size_t errbuf_size)
{
    lending *l = calloc(1, sizeof *l);
    if (l == NULL) {
        snprintf(errbuf, errbuf_size, "out of memory");
        return NULL;
    }
    l->api = api;
    l->ctx = ctx;
    l->count = api->opt_int(opts, "count");
    l->per_poll = api->opt_int(opts, "per_poll");
    l->lend_every = api->opt_int(opts, "lend_every");
    l->end_partition_at = api->opt_int(opts, "end_partition_at");
    l->slots = calloc((size_t)l->per_poll, sizeof *l->slots);
    l->released = api->counter(ctx, "released");
    l->twice = api->counter(ctx, "released_twice");
    if (l->slots == NULL) {
        free(l);
        snprintf(errbuf, errbuf_size, "out of memory");
        return NULL;
    }
    return l;
}

static void lending_destroy(const sluice_host_api *api, sluice_ctx *ctx, void *self)
{
    (void)api, (void)ctx;
    lending *l = self;
    if (l->outstanding != 0)
        fprintf(stderr, "lending: %lld message(s) never released\n", (long long)l->outstanding);
    free(l->slots);
    free(l);
}

static sluice_status lending_poll(const sluice_host_api *api, sluice_ctx *ctx, void *self, size_t budget,
                                  int timeout_ms)
{
    (void)timeout_ms;
    lending *l = self;
    if (l->outstanding != 0) {
        api->fail(ctx, "%lld message(s) not released before the next poll", (long long)l->outstanding);
        return SLUICE_ERR;
    }
    if (l->made == l->count)
        return SLUICE_END;
    l->polls++;
    if (l->end_partition_at > 0 && l->polls >= l->end_partition_at)
        api->source_partition_ended(ctx, 0);
    int lend = api->abi_version >= SLUICE_ABI_VERSION_OF(1, 1) && l->polls % l->lend_every == 0;
    for (int64_t i = 0; i < l->per_poll && (size_t)i < budget && l->made < l->count; i++, l->made++) {
        slot *sl = &l->slots[i];
        sl->owner = l;
        int64_t n = l->made;
        int len =
            n % 5 == 4
                ? snprintf(sl->bytes, SLOT_BYTES, "{\"user_id\":\"u%lld\",\"url\":", (long long)n)
                : snprintf(sl->bytes, SLOT_BYTES, "{\"user_id\":\"u%lld\",\"url\":\"/p%lld\",\"ts\":%lld}",
                           (long long)n, (long long)(n % 3), (long long)(1795737600000 + n * 1000));
        char origin[32];
        int origin_len = snprintf(origin, sizeof origin, "lent:%lld", (long long)n);
        sluice_message msg = {
            .struct_size = sizeof msg,
            .payload = sl->bytes,
            .payload_len = (size_t)len,
            .origin = origin,
            .origin_len = (size_t)origin_len,
            .partition = 0,
            .timestamp_ms = SLUICE_TIME_MIN,
            .key = sl->bytes + 2, /* "user_id": any bytes of the slot will do */
            .key_len = 7,
            .release = lend ? release_slot : NULL,
            .release_arg = lend ? sl : NULL,
        };
        if (lend) {
            sl->lent = 1;
            l->outstanding++;
        }
        sluice_status st = api->source_push(ctx, &msg);
        if (st != SLUICE_OK)
            return st;
    }
    return SLUICE_OK;
}

static const sluice_plugin descriptor = {
    .struct_size = sizeof(sluice_plugin),
    .abi_version = SLUICE_ABI_VERSION,
#ifdef LENDING_AHEAD
    .name = "lending_ahead",
    .source_flags = SLUICE_SOURCE_POLL_AHEAD,
#else
    .name = "lending",
#endif
    .kind = SLUICE_KIND_SOURCE,
    .version = "0.1.0",
    .description = "test source lending its messages to the host (zero copy)",
    .options = options,
    .create = lending_create,
    .destroy = lending_destroy,
    .poll = lending_poll,
};

SLUICE_PLUGIN_EXPORT const sluice_plugin *sluice_plugin_entry(void) { return &descriptor; }
