/* The live status line: one line per pipeline at the bottom of the
 * terminal stderr is on, refreshed once a second from the pipelines'
 * published snapshots (events/s, total, rejected, watermark, lag).
 *
 * The lines live below a scroll region that holds everything else: log
 * lines, and a sink's output when stdout is the same terminal, scroll above
 * them untouched, whoever writes them. Every redraw is one write(2) under
 * the log's lock. */
#ifndef SLUICE_STATUS_LINE_H
#define SLUICE_STATUS_LINE_H

#include <stddef.h>

#include "stats.h"

/* Whether stderr is a terminal the status line can be drawn on. */
int status_line_possible(void);
/* Start the refreshing thread for n pipelines (stats borrowed until
 * status_line_stop). -1 when it cannot start (nothing is drawn then). */
int status_line_start(pipeline_stats *const *stats, size_t n);
/* Stop it, erase the lines and give the terminal its whole height back. */
void status_line_stop(void);
/* The same, for a process about to die on a signal: async-signal-safe, and
 * it only restores the scroll region. */
void status_line_abandon(void);

#endif
