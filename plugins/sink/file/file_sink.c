/*
 * Sink `file`: every record as one JSON line appended to a file.
 *
 * Lines gather in a buffer written out when it is full, on flush() (the
 * engine calls it at checkpoints and before exit) and at least every
 * `flush_interval` so a file being watched keeps up. Only whole lines are
 * ever written, in one write(2) each time, so several writers appending to
 * one file (O_APPEND) do not cut each other's lines. Write errors (a full
 * disk, a file-size limit) fail the pipeline naming the file: line_writer.h.
 */
#include <sluice/plugin.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "line_writer.h"

typedef struct file_sink {
    const char *path;
    char *name; /* 'path', for messages */
    int fd;
    int fsync_on_flush;
    int with_key; /* lines are "key<TAB>json", as kcat -K'\t' writes them */
    line_writer out;
} file_sink;

static const sluice_option_spec file_sink_options[] = {
    {sizeof(sluice_option_spec), "path", SLUICE_OPT_STRING, NULL, 1,
     "file the JSON lines are appended to; missing parent folders are created", 0, 0, NULL, 0, 0},
    {sizeof(sluice_option_spec), "buffer_size", SLUICE_OPT_INT, "1048576", 0, "bytes gathered before a write",
     1, (double)(1LL << 32), NULL, 0, 0},
    {sizeof(sluice_option_spec), "flush_interval", SLUICE_OPT_DURATION, "1s", 0,
     "longest time a line waits in the buffer (wall clock); 0 writes every batch; off: only "
     "when full and at checkpoints",
     0, 0, NULL, 1, 0},
    {sizeof(sluice_option_spec), "fsync", SLUICE_OPT_BOOL, "false", 0,
     "fsync the file on every flush (checkpoints and exit), for durability", 0, 0, NULL, 0, 0},
    {sizeof(sluice_option_spec), "with_key", SLUICE_OPT_BOOL, "false", 0,
     "write each record's key (the Kafka key operators set) and a tab before its JSON", 0, 0, NULL, 0, 0},
    {sizeof(sluice_option_spec), "truncate", SLUICE_OPT_BOOL, "false", 0,
     "start with an empty file instead of appending to it", 0, 0, NULL, 0, 0},
    SLUICE_OPTION_END,
};

/* mkdir -p of the folders above `path`. Returns 0, or -1 with errno set and
 * the failing folder left in `failed`. */
static int make_parents(const char *path, char *failed, size_t failed_size)
{
    size_t n = strlen(path);
    char *dir = malloc(n + 1);
    if (dir == NULL)
        return -1;
    memcpy(dir, path, n + 1);
    char *slash = strrchr(dir, '/');
    int rc = 0;
    if (slash != NULL && slash != dir) {
        *slash = '\0';
        for (char *p = dir + 1; rc == 0; p++) {
            if (*p != '/' && *p != '\0')
                continue;
            char saved = *p;
            *p = '\0';
            if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
                /* Some file systems refuse mkdir of a folder that exists. */
                int mkdir_errno = errno;
                struct stat st;
                if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
                    snprintf(failed, failed_size, "%s", dir);
                    errno = mkdir_errno;
                    rc = -1;
                }
            }
            *p = saved;
            if (saved == '\0')
                break;
        }
    }
    int saved_errno = errno;
    free(dir);
    errno = saved_errno;
    return rc;
}

static void *file_sink_create(const sluice_host_api *api, sluice_ctx *ctx, const sluice_options *opts,
                              char *errbuf, size_t errbuf_size)
{
    file_sink *s = calloc(1, sizeof *s);
    if (s == NULL) {
        snprintf(errbuf, errbuf_size, "out of memory");
        return NULL;
    }
    s->path = api->opt_string(opts, "path");
    size_t cap = (size_t)api->opt_int(opts, "buffer_size");
    s->fsync_on_flush = api->opt_bool(opts, "fsync");
    s->with_key = api->opt_bool(opts, "with_key");
    s->fd = -1;
    char failed[512];
    if (make_parents(s->path, failed, sizeof failed) != 0) {
        snprintf(errbuf, errbuf_size, "cannot create folder '%s' for '%s': %s", failed, s->path,
                 strerror(errno));
        free(s);
        return NULL;
    }
    int flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC;
    if (api->opt_bool(opts, "truncate"))
        flags |= O_TRUNC;
    s->fd = open(s->path, flags, 0666);
    if (s->fd < 0) {
        snprintf(errbuf, errbuf_size, "cannot open '%s' for writing: %s", s->path, strerror(errno));
        free(s);
        return NULL;
    }
    size_t name_size = strlen(s->path) + 3;
    s->name = malloc(name_size);
    if (s->name == NULL ||
        line_writer_init(&s->out, s->fd, s->name, cap, api->opt_duration_ms(opts, "flush_interval")) != 0) {
        snprintf(errbuf, errbuf_size, "out of memory for a %zu-byte buffer", cap);
        close(s->fd);
        free(s->name);
        free(s);
        return NULL;
    }
    snprintf(s->name, name_size, "'%s'", s->path);
    s->out.written = api->counter(ctx, "bytes_written");
    return s;
}

static void file_sink_destroy(const sluice_host_api *api, sluice_ctx *ctx, void *self)
{
    (void)api;
    (void)ctx;
    file_sink *s = self;
    if (s->fd >= 0)
        close(s->fd);
    line_writer_free(&s->out);
    free(s->name);
    free(s);
}

static sluice_status file_sink_process(const sluice_host_api *api, sluice_ctx *ctx, void *self,
                                       sluice_batch *batch)
{
    file_sink *s = self;
    for (const sluice_record *r; (r = api->batch_next(batch)) != NULL;) {
        sluice_str js = {NULL, 0};
        api->record_json(r, &js);
        if (js.ptr == NULL) {
            api->log(ctx, SLUICE_LOG_ERROR, "'%s': a record could not be encoded as JSON", s->path);
            return SLUICE_ERR;
        }
        sluice_str line[3] = {{NULL, 0}, {"\t", 1}, js};
        if (s->with_key)
            line[0] = api->record_key(r);
        sluice_status st = s->with_key ? line_writer_put(api, ctx, &s->out, line, 3)
                                       : line_writer_put(api, ctx, &s->out, &js, 1);
        if (st != SLUICE_OK)
            return st;
    }
    return line_writer_batch_done(api, ctx, &s->out);
}

static sluice_status file_sink_flush(const sluice_host_api *api, sluice_ctx *ctx, void *self)
{
    file_sink *s = self;
    sluice_status st = line_writer_flush(api, ctx, &s->out);
    if (st != SLUICE_OK)
        return st;
    if (s->fsync_on_flush && fsync(s->fd) != 0) {
        api->fail(ctx, "cannot fsync '%s': %s", s->path, strerror(errno));
        return SLUICE_ERR_IO;
    }
    return SLUICE_OK;
}

static sluice_status file_sink_timer(const sluice_host_api *api, sluice_ctx *ctx, void *self, int64_t now_ms)
{
    (void)now_ms;
    file_sink *s = self;
    return line_writer_timer(api, ctx, &s->out);
}

static const sluice_plugin file_sink_plugin = {
    .struct_size = sizeof(sluice_plugin),
    .abi_version = SLUICE_ABI_VERSION,
    .name = "file",
    .kind = SLUICE_KIND_SINK,
    .version = "1.0.0",
    .description = "appends each record as one JSON line to a file",
    .options = file_sink_options,
    .create = file_sink_create,
    .state = SLUICE_STATE_NONE,
    .destroy = file_sink_destroy,
    .process = file_sink_process,
    .flush = file_sink_flush,
    .timer = file_sink_timer,
};

SLUICE_PLUGIN_EXPORT const sluice_plugin *sluice_plugin_entry(void) { return &file_sink_plugin; }
