/* url_count in parts (plugin.h, sluice_plugin.parts): when the engine runs
 * keyed steps in tasks, url_count runs as three steps instead of one
 * instance that sees every click:
 *  - by_url, in tasks keyed by URL: every window's clicks per URL (each URL
 *    is counted by one task), url_clicks records as a whole url_count emits
 *    them, too-late events rejected; per window it sends the summary its
 *    URLs make: clicks, URL count and its top URLs;
 *  - by_user, in tasks keyed by user: every window's distinct users (each
 *    user is counted by one task), judging lateness by the same rule on the
 *    same watermark, so it accepts the same events;
 *  - summary, once: passes url_clicks on and merges the window summaries:
 *    sums, and the top URLs of all tasks' top URLs (exact: the tasks' URLs
 *    are disjoint, and so are their users).
 * A part's task tells the summary how far its watermark went whenever it
 * crosses a window end or a window's end plus allowed_lateness; a window's
 * summary is emitted once every task of both parts has passed its end, as
 * a window fires in every task at the same point of the stream (tasks hear
 * of the watermark at the same points: the engine's markers). An accepted
 * late event makes its by_url task re-send the window's part and its
 * by_user task re-send the window's users, in that order (the parts' order)
 * at the event's position, and the summary re-emits the window's summary
 * once, on the second. What the parts send each other are these records: */
#ifndef URL_COUNT_PARTS_H
#define URL_COUNT_PARTS_H

enum url_count_part { PART_WHOLE = -1, PART_BY_URL = 0, PART_BY_USER = 1, PART_SUMMARY = 2 };

/* {window_start, task, tasks, rank, url, clicks}: one of a by_url task's top
 * URLs of the window, sent before its window record. */
#define PART_KIND_TOP "url_count.top"
/* {window_start, window_end, task, tasks, clicks, urls, ntop}: a by_url
 * task's totals of the window (replacing what it sent before). */
#define PART_KIND_WINDOW "url_count.window"
/* {window_start, window_end, task, tasks, users}: a by_user task's distinct
 * users of the window. */
#define PART_KIND_USERS "url_count.users"
/* {part, task, tasks, watermark}: a task's watermark. */
#define PART_KIND_WM "url_count.wm"

#endif
