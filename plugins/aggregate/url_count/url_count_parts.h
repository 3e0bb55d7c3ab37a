/* url_count in parts (plugin.h, sluice_plugin.parts), with `two_phase:
 * true`. It has two layouts.
 *
 * In partition tasks (`key:` on the source), two steps instead of one
 * instance that sees every click:
 *  - partial, in each input partition's task: counts the partition's clicks
 *    per window and URL and its distinct users per window, exactly as a
 *    whole url_count counts (and rejects too-late events by the same rule);
 *    when its watermark passes a window's end it sends the total part the
 *    window's count of every URL, then the window's users; an accepted late
 *    event re-sends its URL's count and the users, in that order;
 *  - total, once: sums the partitions' counts (url_total.h) and, once every
 *    partial task has passed a window's end, emits what a whole url_count
 *    emits: url_clicks per URL in byte order, then the window_summary
 *    (unique users add up: the input is keyed by user, so a user's clicks
 *    are all in one partition). What is sent is a fraction of the clicks:
 *    one record per window, URL and partition.
 *
 * In in-process tasks keyed by URL and by user, three steps:
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
 * In both layouts a keyed part's task tells the last part how far its
 * watermark went whenever it crosses a window end or a window's end plus
 * allowed_lateness. Here a window's
 * summary is emitted once every task of both parts has passed its end, as
 * a window fires in every task at the same point of the stream (tasks hear
 * of the watermark at the same points: the engine's markers). An accepted
 * late event makes its by_url task re-send the window's part and its
 * by_user task re-send the window's users, in that order (the parts' order)
 * at the event's position, and the summary re-emits the window's summary
 * once, on the second. What the parts send each other are these records: */
#ifndef URL_COUNT_PARTS_H
#define URL_COUNT_PARTS_H

enum url_count_part {
    PART_WHOLE = -1,
    PART_BY_URL = 0,
    PART_BY_USER = 1,
    PART_SUMMARY = 2,
    PART_PARTIAL = 3,
    PART_TOTAL = 4
};

/* {window_start, task, tasks, rank, url, clicks}: one of a by_url task's top
 * URLs of the window, sent before its window record. */
#define PART_KIND_TOP "url_count.top"
/* {window_start, window_end, task, tasks, clicks, urls, ntop}: a by_url
 * task's totals of the window (replacing what it sent before). */
#define PART_KIND_WINDOW "url_count.window"
/* {window_start, window_end, task, tasks, users}: a by_user (or partial)
 * task's distinct users of the window. */
#define PART_KIND_USERS "url_count.users"
/* {window_start, task, tasks, url, clicks}: a partial task's clicks of the
 * URL in the window so far (replacing what it sent before). */
#define PART_KIND_PARTIAL "url_count.partial"
/* {part, task, tasks, watermark}: a task's watermark. */
#define PART_KIND_WM "url_count.wm"

#endif
