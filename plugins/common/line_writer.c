#include "line_writer.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

int line_writer_init(line_writer *w, int fd, const char *name, size_t cap, int64_t flush_interval_ms)
{
    memset(w, 0, sizeof *w);
    w->fd = fd;
    w->name = name;
    w->cap = cap;
    w->flush_interval_ms = flush_interval_ms;
    w->buf = malloc(cap);
    return w->buf != NULL ? 0 : -1;
}

void line_writer_free(line_writer *w)
{
    free(w->buf);
    w->buf = NULL;
}

static sluice_status broken(const sluice_host_api *api, sluice_ctx *ctx, line_writer *w, int err)
{
    w->broken = 1;
    if (err == EPIPE)
        api->fail(ctx, "cannot write to %s: closed by its reader (broken pipe)", w->name);
    else
        api->fail(ctx, "cannot write to %s: %s", w->name, strerror(err));
    return SLUICE_ERR_IO;
}

/* After a failed write a file may end in part of a line: a full disk took
 * the first bytes of the last write. Cut them off, so that a rerun appending
 * to the file starts on a line of its own. Only for a regular file whose
 * end we wrote (no other writer appended since); a pipe's reader has what it
 * has. Best effort: the pipeline fails either way. Returns the bytes cut. */
static size_t cut_torn_line(line_writer *w, const struct iovec *iov, int iovcnt, size_t written)
{
    size_t torn = 0, seen = 0; /* bytes written after the last '\n' */
    for (int i = 0; i < iovcnt && seen < written; i++) {
        const char *p = iov[i].iov_base;
        size_t n = iov[i].iov_len < written - seen ? iov[i].iov_len : written - seen;
        for (size_t k = 0; k < n; k++)
            torn = p[k] == '\n' ? 0 : torn + 1;
        seen += n;
    }
    struct stat st;
    if (torn == 0 || fstat(w->fd, &st) != 0 || !S_ISREG(st.st_mode))
        return 0;
    off_t end = lseek(w->fd, 0, SEEK_CUR);
    if (end != st.st_size || end < (off_t)torn || ftruncate(w->fd, end - (off_t)torn) != 0)
        return 0;
    return torn;
}

/* All of iov (at most LINE_WRITER_MAX_PARTS + 1 parts), looping over short
 * writes and EINTR. */
static sluice_status write_all(const sluice_host_api *api, sluice_ctx *ctx, line_writer *w, struct iovec *iov,
                               int iovcnt)
{
    if (w->broken)
        return SLUICE_ERR_IO;
    struct iovec whole[LINE_WRITER_MAX_PARTS + 1]; /* iov as given: the loop below moves through it */
    int nwhole = iovcnt;
    memcpy(whole, iov, (size_t)iovcnt * sizeof *iov);
    size_t total = 0;
    int err = 0;
    while (iovcnt > 0 && iov->iov_len == 0) {
        iov++;
        iovcnt--;
    }
    while (iovcnt > 0) {
        ssize_t n = writev(w->fd, iov, iovcnt);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) { /* n == 0: bytes left but none taken, would loop for ever */
            err = n < 0 ? errno : EIO;
            total -= cut_torn_line(w, whole, nwhole, total);
            break;
        }
        total += (size_t)n;
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
    if (w->written != NULL)
        api->counter_add(w->written, (int64_t)total);
    return err != 0 ? broken(api, ctx, w, err) : SLUICE_OK;
}

sluice_status line_writer_flush(const sluice_host_api *api, sluice_ctx *ctx, line_writer *w)
{
    if (w->len == 0)
        return w->broken ? SLUICE_ERR_IO : SLUICE_OK;
    struct iovec iov = {w->buf, w->len};
    w->len = 0; /* on error the lines are lost either way: the pipeline stops */
    return write_all(api, ctx, w, &iov, 1);
}

sluice_status line_writer_put(const sluice_host_api *api, sluice_ctx *ctx, line_writer *w,
                              const sluice_str *parts, int n)
{
    if (w->broken)
        return SLUICE_ERR_IO;
    if (n < 0 || n > LINE_WRITER_MAX_PARTS)
        return SLUICE_ERR;
    size_t size = 1;
    for (int i = 0; i < n; i++)
        size += parts[i].len;
    if (w->len + size > w->cap) {
        sluice_status st = line_writer_flush(api, ctx, w);
        if (st != SLUICE_OK)
            return st;
    }
    if (size > w->cap) { /* bigger than the whole buffer: straight out */
        struct iovec iov[LINE_WRITER_MAX_PARTS + 1];
        int k = 0;
        for (int i = 0; i < n; i++)
            iov[k++] = (struct iovec){(void *)parts[i].ptr, parts[i].len};
        iov[k++] = (struct iovec){"\n", 1};
        return write_all(api, ctx, w, iov, k);
    }
    for (int i = 0; i < n; i++) {
        if (parts[i].len > 0)
            memcpy(w->buf + w->len, parts[i].ptr, parts[i].len);
        w->len += parts[i].len;
    }
    w->buf[w->len++] = '\n';
    return SLUICE_OK;
}

sluice_status line_writer_batch_done(const sluice_host_api *api, sluice_ctx *ctx, line_writer *w)
{
    if (w->flush_interval_ms == 0)
        return line_writer_flush(api, ctx, w);
    if (w->len > 0 && w->flush_interval_ms > 0 && !w->timer_armed) {
        api->timer_set(ctx, api->now_ms(ctx) + w->flush_interval_ms);
        w->timer_armed = 1;
    }
    return SLUICE_OK;
}

sluice_status line_writer_timer(const sluice_host_api *api, sluice_ctx *ctx, line_writer *w)
{
    w->timer_armed = 0;
    return line_writer_flush(api, ctx, w);
}
