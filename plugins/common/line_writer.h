/* Lines out to a file descriptor, for the sinks that write JSON lines (file,
 * stdout): gathered in a buffer, written whole with write(2), and write
 * errors handled one way for every such sink.
 *
 * On a write error:
 *  - EINTR is retried and a short write continues with the rest, so a line
 *    is never cut by a signal or a pipe's capacity;
 *  - anything else (EPIPE: the reader went away; ENOSPC, EFBIG, EDQUOT: the
 *    disk or a limit is full; EIO) fails the pipeline through api->fail with
 *    a message naming the output, so that is the reason the run reports;
 *  - from then on the writer is broken: it writes nothing more, so no line
 *    lands after a gap, and every later call returns SLUICE_ERR_IO. The
 *    sink's flush fails, so the checkpoint that would have acknowledged the
 *    lost lines is never taken. A line the disk took only part of is cut
 *    off the end of a regular file, so a rerun appends whole lines.
 */
#ifndef SLUICE_LINE_WRITER_H
#define SLUICE_LINE_WRITER_H

#include <sluice/plugin.h>

#include <stddef.h>

typedef struct line_writer {
    int fd;
    const char *name; /* for messages: "'out/x.jsonl'", "standard output" (borrowed) */
    char *buf;
    size_t len, cap;
    int64_t flush_interval_ms; /* longest wait in the buffer; 0: none; -1: until full or flushed */
    int timer_armed;
    int broken;              /* a write failed: nothing more is written */
    sluice_counter *written; /* bytes written, or NULL */
} line_writer;

/* A buffer of cap bytes for fd; -1 when out of memory. */
int line_writer_init(line_writer *w, int fd, const char *name, size_t cap, int64_t flush_interval_ms);
/* Frees the buffer; neither writes it out nor closes fd. */
void line_writer_free(line_writer *w);

#define LINE_WRITER_MAX_PARTS 8

/* One line: the n parts (n <= LINE_WRITER_MAX_PARTS), then '\n'. Buffered; a line larger than the whole
 * buffer is written straight out (after what is buffered). */
sluice_status line_writer_put(const sluice_host_api *api, sluice_ctx *ctx, line_writer *w,
                              const sluice_str *parts, int n);

/* Writes out what is buffered (the sink's flush hook). */
sluice_status line_writer_flush(const sluice_host_api *api, sluice_ctx *ctx, line_writer *w);

/* After a batch: with flush_interval 0 the lines go out now; otherwise the
 * sink's timer is set (api->timer_set) so none waits longer than that. */
sluice_status line_writer_batch_done(const sluice_host_api *api, sluice_ctx *ctx, line_writer *w);

/* The sink's timer hook: writes out what waits. */
sluice_status line_writer_timer(const sluice_host_api *api, sluice_ctx *ctx, line_writer *w);

#endif
