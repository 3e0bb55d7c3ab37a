/*
 * Sink `stdout`: every record as one JSON line on standard output.
 *
 * Lines gather in a large buffer (stdout is often a pipe into jq or a file),
 * written out when it is full, on flush(), and at least every
 * `flush_interval` so a live pipeline's output shows up while it runs.
 * Written with write(2) on fd 1, bypassing stdio, so the host's own stdio
 * buffering is never involved. Write errors (most often EPIPE: the reader
 * went away) fail the pipeline as the file sink's do: line_writer.h.
 */
#include <sluice/plugin.h>

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "line_writer.h"

#define STDOUT_BUFFER ((size_t)1 << 20)

typedef struct stdout_sink {
    line_writer out;
} stdout_sink;

static const sluice_option_spec stdout_options[] = {
    {sizeof(sluice_option_spec), "flush_interval", SLUICE_OPT_DURATION, "1s", 0,
     "longest time a line waits in the buffer (wall clock); 0 writes every batch; off: only "
     "when full and at checkpoints",
     0, 0, NULL, 1, 0},
    SLUICE_OPTION_END,
};

static void *stdout_create(const sluice_host_api *api, sluice_ctx *ctx, const sluice_options *opts,
                           char *errbuf, size_t errbuf_size)
{
    (void)ctx;
    stdout_sink *s = calloc(1, sizeof *s);
    if (s == NULL || line_writer_init(&s->out, STDOUT_FILENO, "standard output", STDOUT_BUFFER,
                                      api->opt_duration_ms(opts, "flush_interval")) != 0) {
        free(s);
        snprintf(errbuf, errbuf_size, "out of memory");
        return NULL;
    }
    return s;
}

static void stdout_destroy(const sluice_host_api *api, sluice_ctx *ctx, void *self)
{
    (void)api;
    (void)ctx;
    stdout_sink *s = self;
    line_writer_free(&s->out);
    free(s);
}

static sluice_status stdout_process(const sluice_host_api *api, sluice_ctx *ctx, void *self,
                                    sluice_batch *batch)
{
    stdout_sink *s = self;
    for (const sluice_record *r; (r = api->batch_next(batch)) != NULL;) {
        sluice_str js = {NULL, 0};
        api->record_json(r, &js);
        if (js.ptr == NULL) {
            api->log(ctx, SLUICE_LOG_ERROR, "a record could not be encoded as JSON");
            return SLUICE_ERR;
        }
        sluice_status st = line_writer_put(api, ctx, &s->out, &js, 1);
        if (st != SLUICE_OK)
            return st;
    }
    return line_writer_batch_done(api, ctx, &s->out);
}

static sluice_status stdout_flush(const sluice_host_api *api, sluice_ctx *ctx, void *self)
{
    stdout_sink *s = self;
    return line_writer_flush(api, ctx, &s->out);
}

static sluice_status stdout_timer(const sluice_host_api *api, sluice_ctx *ctx, void *self, int64_t now_ms)
{
    (void)now_ms;
    stdout_sink *s = self;
    return line_writer_timer(api, ctx, &s->out);
}

static const sluice_plugin stdout_plugin = {
    .struct_size = sizeof(sluice_plugin),
    .abi_version = SLUICE_ABI_VERSION,
    .name = "stdout",
    .kind = SLUICE_KIND_SINK,
    .version = "1.0.0",
    .description = "writes each record as one JSON line to standard output",
    .options = stdout_options,
    .create = stdout_create,
    .state = SLUICE_STATE_NONE,
    .destroy = stdout_destroy,
    .process = stdout_process,
    .flush = stdout_flush,
    .timer = stdout_timer,
};

SLUICE_PLUGIN_EXPORT const sluice_plugin *sluice_plugin_entry(void) { return &stdout_plugin; }
