/*
 * Sink `stdout`: every record as one JSON line on standard output.
 *
 * Lines gather in a large buffer (stdout is often a pipe into jq or a file),
 * written out when it is full, on flush(), and at least every
 * `flush_interval` so a live pipeline's output shows up while it runs.
 * Written with write(2) on fd 1, bypassing stdio, so the host's own stdio
 * buffering is never involved.
 */
#include <sluice/plugin.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#define STDOUT_BUFFER ((size_t)1 << 20)

typedef struct stdout_sink {
    int64_t flush_interval_ms; /* -1: only when full and on flush() */
    int timer_armed;
    int broken; /* a write failed: the pipeline is being stopped */
    char *buf;
    size_t len, cap;
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
    if (s != NULL)
        s->buf = malloc(STDOUT_BUFFER);
    if (s == NULL || s->buf == NULL) {
        free(s);
        snprintf(errbuf, errbuf_size, "out of memory");
        return NULL;
    }
    s->cap = STDOUT_BUFFER;
    s->flush_interval_ms = api->opt_duration_ms(opts, "flush_interval");
    return s;
}

static void stdout_destroy(const sluice_host_api *api, sluice_ctx *ctx, void *self)
{
    (void)api;
    (void)ctx;
    stdout_sink *s = self;
    free(s->buf);
    free(s);
}

/* Write all of iov to fd 1, looping over short writes and EINTR. A failure
 * (most often EPIPE: the reader went away) stops the pipeline. */
static sluice_status write_all(const sluice_host_api *api, sluice_ctx *ctx, stdout_sink *s, struct iovec *iov,
                               int iovcnt)
{
    if (s->broken)
        return SLUICE_ERR_IO;
    while (iovcnt > 0) {
        ssize_t n = writev(STDOUT_FILENO, iov, iovcnt);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            s->broken = 1;
            if (errno == EPIPE)
                api->fail(ctx, "standard output was closed by its reader (broken pipe)");
            else
                api->fail(ctx, "cannot write to standard output: %s", strerror(errno));
            return SLUICE_ERR_IO;
        }
        while (iovcnt > 0 && (size_t)n >= iov->iov_len) {
            n -= (ssize_t)iov->iov_len;
            iov++;
            iovcnt--;
        }
        if (iovcnt > 0) {
            iov->iov_base = (char *)iov->iov_base + n;
            iov->iov_len -= (size_t)n;
        }
    }
    return SLUICE_OK;
}

static sluice_status write_buffer(const sluice_host_api *api, sluice_ctx *ctx, stdout_sink *s)
{
    if (s->len == 0)
        return SLUICE_OK;
    struct iovec iov = {s->buf, s->len};
    s->len = 0;
    return write_all(api, ctx, s, &iov, 1);
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
        if (s->len + js.len + 1 > s->cap) {
            sluice_status st = write_buffer(api, ctx, s);
            if (st != SLUICE_OK)
                return st;
        }
        if (js.len + 1 > s->cap) { /* bigger than the whole buffer: straight out */
            struct iovec iov[2] = {{(void *)js.ptr, js.len}, {"\n", 1}};
            sluice_status st = write_all(api, ctx, s, iov, 2);
            if (st != SLUICE_OK)
                return st;
            continue;
        }
        memcpy(s->buf + s->len, js.ptr, js.len);
        s->buf[s->len + js.len] = '\n';
        s->len += js.len + 1;
    }
    if (s->flush_interval_ms == 0)
        return write_buffer(api, ctx, s);
    if (s->len > 0 && s->flush_interval_ms > 0 && !s->timer_armed) {
        api->timer_set(ctx, api->now_ms(ctx) + s->flush_interval_ms);
        s->timer_armed = 1;
    }
    return SLUICE_OK;
}

static sluice_status stdout_flush(const sluice_host_api *api, sluice_ctx *ctx, void *self)
{
    return write_buffer(api, ctx, self);
}

static sluice_status stdout_timer(const sluice_host_api *api, sluice_ctx *ctx, void *self, int64_t now_ms)
{
    (void)now_ms;
    stdout_sink *s = self;
    s->timer_armed = 0;
    return write_buffer(api, ctx, s);
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
