/*
 * Source `file`: a JSON-lines file (or stdin) read as one message per line.
 *
 * Every line becomes a message, empty ones included, so that each input line
 * is counted as accepted or rejected downstream: nothing is skipped silently.
 * A line ends at "\n"; a "\r" before it is dropped (CRLF files); a last line
 * without "\n" still counts. Lines may be longer than the read buffer, which
 * grows up to `max_line_bytes`; a longer line is pushed cut to that size (the
 * engine then rejects it as too_large) and the rest of it is skipped.
 *
 * Origins are "path:line" (1-based), "stdin:line" for `-`.
 */
#include <sluice/bytes.h>
#include <sluice/plugin.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define READ_CHUNK ((size_t)1 << 20) /* bytes asked of read(2) at a time */
#define FOLLOW_PAUSE_MS 200          /* longest nap at the end of a followed file */
#define SNAPSHOT_VERSION 1u
#define SNAPSHOT_SIZE 17u /* offset u64, line u64, discarding u8, little-endian */

typedef struct file_source {
    int fd;
    int owns_fd;  /* stdin is the host's: never closed */
    int pollable; /* a pipe or terminal: wait for data with poll(2) */
    int seekable;
    int follow;
    int at_end;     /* SLUICE_END returned */
    int discarding; /* skipping the rest of an over-long line */
    size_t max_line;
    /* buf[start, end) is read but not yet pushed; newline search resumes at
     * `scanned` so a long line is scanned once however often it is refilled. */
    char *buf;
    size_t cap, start, end, scanned;
    uint64_t buf_offset; /* file offset of buf[0] */
    uint64_t line;       /* lines pushed so far */
    char *origin;        /* "path:" followed by room for the line number */
    size_t origin_prefix;
    const char *path;
} file_source;

static const sluice_option_spec file_options[] = {
    {sizeof(sluice_option_spec), "path", SLUICE_OPT_STRING, NULL, 1,
     "file to read, one JSON event per line; - reads stdin", 0, 0, NULL, 0, 0},
    {sizeof(sluice_option_spec), "max_line_bytes", SLUICE_OPT_INT, "16777216", 0,
     "longest line kept whole; a longer one is pushed cut to this size (and rejected as "
     "too_large)",
     1, (double)(1LL << 40), NULL, 0, 0},
    {sizeof(sluice_option_spec), "follow", SLUICE_OPT_BOOL, "false", 0,
     "keep reading data appended to a regular file, like tail -f (never ends)", 0, 0, NULL, 0, 0},
    SLUICE_OPTION_END,
};

static void sleep_ms(int ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static void *file_create(const sluice_host_api *api, sluice_ctx *ctx, const sluice_options *opts,
                         char *errbuf, size_t errbuf_size)
{
    (void)ctx;
    file_source *s = calloc(1, sizeof *s);
    if (s == NULL) {
        snprintf(errbuf, errbuf_size, "out of memory");
        return NULL;
    }
    s->path = api->opt_string(opts, "path");
    s->max_line = (size_t)api->opt_int(opts, "max_line_bytes");
    s->follow = api->opt_bool(opts, "follow");
    int is_stdin = strcmp(s->path, "-") == 0;
    if (is_stdin) {
        s->fd = STDIN_FILENO;
    } else {
        s->fd = open(s->path, O_RDONLY | O_CLOEXEC);
        if (s->fd < 0) {
            snprintf(errbuf, errbuf_size, "cannot open '%s': %s", s->path, strerror(errno));
            free(s);
            return NULL;
        }
        s->owns_fd = 1;
    }
    struct stat st;
    if (fstat(s->fd, &st) != 0) {
        snprintf(errbuf, errbuf_size, "cannot stat '%s': %s", s->path, strerror(errno));
        goto fail;
    }
    if (S_ISDIR(st.st_mode)) {
        snprintf(errbuf, errbuf_size, "'%s' is a folder, not a file", s->path);
        goto fail;
    }
    s->seekable = S_ISREG(st.st_mode);
    s->pollable = !s->seekable;
    if (s->follow && !s->seekable) {
        api->log(ctx, SLUICE_LOG_WARN, "follow applies to regular files only; '%s' is read to its end",
                 s->path);
        s->follow = 0;
    }
    /* One byte more than the longest line, to tell "exactly max" from "longer". */
    s->cap = s->max_line < READ_CHUNK ? s->max_line + 1 : READ_CHUNK;
    s->buf = malloc(s->cap);
    const char *name = is_stdin ? "stdin" : s->path;
    s->origin_prefix = strlen(name) + 1;
    s->origin = malloc(s->origin_prefix + 24);
    if (s->buf == NULL || s->origin == NULL) {
        snprintf(errbuf, errbuf_size, "out of memory");
        goto fail;
    }
    memcpy(s->origin, name, s->origin_prefix - 1);
    s->origin[s->origin_prefix - 1] = ':';
    return s;
fail:
    if (s->owns_fd)
        close(s->fd);
    free(s->buf);
    free(s->origin);
    free(s);
    return NULL;
}

static void file_destroy(const sluice_host_api *api, sluice_ctx *ctx, void *self)
{
    (void)api;
    (void)ctx;
    file_source *s = self;
    if (s->owns_fd)
        close(s->fd);
    free(s->buf);
    free(s->origin);
    free(s);
}

static sluice_status push_line(const sluice_host_api *api, sluice_ctx *ctx, file_source *s, const char *p,
                               size_t n)
{
    s->line++;
    size_t origin_len = s->origin_prefix + sluice_format_u64(s->origin + s->origin_prefix, s->line);
    sluice_message msg = {
        .struct_size = sizeof msg,
        .payload = p,
        .payload_len = n,
        .origin = s->origin,
        .origin_len = origin_len,
        .partition = 0,
        .timestamp_ms = SLUICE_TIME_MIN,
    };
    return api->source_push(ctx, &msg);
}

/* Make room after buf[end]: drop what was pushed, else grow (never past one
 * byte more than the longest line, which is dealt with before reading). */
static int make_room(file_source *s)
{
    if (s->start > 0 && s->cap - s->end < READ_CHUNK / 2) {
        memmove(s->buf, s->buf + s->start, s->end - s->start);
        s->buf_offset += s->start;
        s->end -= s->start;
        s->scanned -= s->start;
        s->start = 0;
    }
    if (s->end < s->cap)
        return 0;
    size_t ncap = s->cap * 2;
    if (ncap > s->max_line + 1)
        ncap = s->max_line + 1;
    char *nbuf = realloc(s->buf, ncap);
    if (nbuf == NULL)
        return -1;
    s->buf = nbuf;
    s->cap = ncap;
    return 0;
}

/* Read more bytes. Returns >0 bytes read, 0 at end of file, -1 when nothing
 * arrived within wait_ms (pipes), -2 on error (logged). */
static ssize_t fill(const sluice_host_api *api, sluice_ctx *ctx, file_source *s, int wait_ms)
{
    if (make_room(s) != 0) {
        api->log(ctx, SLUICE_LOG_ERROR, "'%s': out of memory for a %zu-byte line", s->path,
                 s->end - s->start);
        return -2;
    }
    if (s->pollable) {
        struct pollfd pfd = {.fd = s->fd, .events = POLLIN};
        int r = poll(&pfd, 1, wait_ms);
        if (r == 0 || (r < 0 && errno == EINTR))
            return -1;
        if (r < 0) {
            api->log(ctx, SLUICE_LOG_ERROR, "'%s': poll failed: %s", s->path, strerror(errno));
            return -2;
        }
    }
    for (;;) {
        ssize_t got = read(s->fd, s->buf + s->end, s->cap - s->end);
        if (got >= 0) {
            s->end += (size_t)got;
            return got;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return -1;
        api->log(ctx, SLUICE_LOG_ERROR, "cannot read '%s': %s", s->path, strerror(errno));
        return -2;
    }
}

static sluice_status file_poll(const sluice_host_api *api, sluice_ctx *ctx, void *self, size_t budget,
                               int timeout_ms)
{
    file_source *s = self;
    if (s->at_end)
        return SLUICE_END;
    size_t pushed = 0;
    while (pushed < budget) {
        char *base = s->buf + s->start;
        char *nl = memchr(s->buf + s->scanned, '\n', s->end - s->scanned);
        if (nl != NULL) {
            size_t len = (size_t)(nl - base);
            s->start = s->scanned = (size_t)(nl - s->buf) + 1;
            if (s->discarding) {
                s->discarding = 0; /* the over-long line was pushed already */
                continue;
            }
            if (len > 0 && base[len - 1] == '\r')
                len--;
            sluice_status st = push_line(api, ctx, s, base, len);
            if (st < 0)
                return st;
            pushed++;
            continue;
        }
        s->scanned = s->end;
        if (s->discarding) {
            s->start = s->end;
        } else if (s->end - s->start > s->max_line) {
            sluice_status st = push_line(api, ctx, s, base, s->max_line);
            if (st < 0)
                return st;
            api->log(ctx, SLUICE_LOG_WARN, "%s:%llu: line longer than max_line_bytes (%zu): cut", s->path,
                     (unsigned long long)s->line, s->max_line);
            pushed++;
            s->start += s->max_line;
            s->discarding = 1;
            continue;
        }
        /* Only wait for a pipe when there is nothing to hand over yet. */
        ssize_t got = fill(api, ctx, s, pushed == 0 ? timeout_ms : 0);
        if (got == -2)
            return SLUICE_ERR_IO;
        if (got == -1)
            return SLUICE_OK;
        if (got > 0)
            continue;
        /* End of file. A followed file may still grow: keep its partial line. */
        if (s->follow) {
            if (pushed == 0) /* a negative timeout means no limit */
                sleep_ms(timeout_ms >= 0 && timeout_ms < FOLLOW_PAUSE_MS ? timeout_ms : FOLLOW_PAUSE_MS);
            return SLUICE_OK;
        }
        if (s->end > s->start && !s->discarding) {
            size_t len = s->end - s->start;
            if (s->buf[s->end - 1] == '\r')
                len--;
            sluice_status st = push_line(api, ctx, s, s->buf + s->start, len);
            if (st < 0)
                return st;
        }
        s->start = s->scanned = s->end;
        s->at_end = 1;
        return SLUICE_END;
    }
    return SLUICE_OK;
}

/* The snapshot is the position of the first line not yet pushed, so a restore
 * resumes exactly after the last message the checkpoint covers. */
static sluice_status file_snapshot(const sluice_host_api *api, sluice_ctx *ctx, void *self,
                                   sluice_snapshot *out)
{
    (void)ctx;
    file_source *s = self;
    unsigned char *p = api->alloc(SNAPSHOT_SIZE);
    if (p == NULL)
        return SLUICE_ERR_NOMEM;
    sluice_le64_store(p, s->buf_offset + s->start);
    sluice_le64_store(p + 8, s->line);
    p[16] = (unsigned char)s->discarding;
    out->encoding_version = SNAPSHOT_VERSION;
    out->data = p;
    out->size = SNAPSHOT_SIZE;
    return SLUICE_OK;
}

static sluice_status file_restore(const sluice_host_api *api, sluice_ctx *ctx, void *self,
                                  const sluice_snapshot *in)
{
    file_source *s = self;
    if (in->encoding_version != SNAPSHOT_VERSION || in->size != SNAPSHOT_SIZE) {
        api->log(ctx, SLUICE_LOG_ERROR,
                 "'%s': cannot read a snapshot of encoding %u (%zu bytes); this build writes %u", s->path,
                 in->encoding_version, in->size, SNAPSHOT_VERSION);
        return SLUICE_ERR_STATE;
    }
    const unsigned char *p = in->data;
    uint64_t offset = sluice_le64_load(p);
    if (!s->seekable) {
        api->log(ctx, SLUICE_LOG_ERROR,
                 "'%s' cannot be repositioned (not a regular file): cannot resume at byte %llu", s->path,
                 (unsigned long long)offset);
        return SLUICE_ERR_STATE;
    }
    struct stat st;
    if (fstat(s->fd, &st) == 0 && (uint64_t)st.st_size < offset)
        api->log(ctx, SLUICE_LOG_WARN,
                 "'%s' is shorter (%lld bytes) than the checkpointed position %llu: "
                 "was it replaced?",
                 s->path, (long long)st.st_size, (unsigned long long)offset);
    if (offset > (uint64_t)LLONG_MAX || lseek(s->fd, (off_t)offset, SEEK_SET) < 0) {
        api->log(ctx, SLUICE_LOG_ERROR, "'%s': cannot seek to byte %llu: %s", s->path,
                 (unsigned long long)offset, strerror(errno));
        return SLUICE_ERR_STATE;
    }
    s->buf_offset = offset;
    s->start = s->end = s->scanned = 0;
    s->line = sluice_le64_load(p + 8);
    s->discarding = p[16] != 0;
    s->at_end = 0;
    return SLUICE_OK;
}

static const sluice_plugin file_plugin = {
    .struct_size = sizeof(sluice_plugin),
    .abi_version = SLUICE_ABI_VERSION,
    .name = "file",
    .kind = SLUICE_KIND_SOURCE,
    .version = "1.0.0",
    .description = "JSON lines from a file or stdin, one message per line (origin path:line)",
    .options = file_options,
    .create = file_create,
    .state = SLUICE_STATE_KEPT, /* its position in the file */
    .destroy = file_destroy,
    .poll = file_poll,
    .snapshot = file_snapshot,
    .restore = file_restore,
    .source_flags = SLUICE_SOURCE_POLL_AHEAD, /* poll() never calls back into the run loop */
};

SLUICE_PLUGIN_EXPORT const sluice_plugin *sluice_plugin_entry(void) { return &file_plugin; }
