/* The Server-Sent Events feed: what the pipeline publishes, and where each
 * connected page is in it.
 *
 * Published messages sit in one ring bounded in bytes and count; each client
 * is a cursor into it plus its own greeting (the snapshot it was sent on
 * connecting). The part of the ring a client has not been sent yet is its
 * queue: every client has a queue of the same bound without a copy per
 * client, and publishing costs the same with one page open or sixteen.
 *
 * Threads: feed_publish and feed_close run on the pipeline's thread; the
 * other functions on the HTTP server's threads. The pipeline never waits for
 * a client: a client whose unsent messages would be evicted from the ring is
 * dropped there and then (its socket shut down so that the server's thread
 * blocked on it returns), and the feed leaves a note for the pipeline's
 * thread to log (plugins log only from their own hooks).
 */
#ifndef DASH_SSE_FEED_H
#define DASH_SSE_FEED_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct sse_feed sse_feed;
typedef struct sse_client sse_client;

/* max_bytes: the ring's size, i.e. how far a client may fall behind before
 * it is dropped; max_clients: open streams at most; keepalive_ms: how long a
 * stream may stay silent before a comment line is sent (which is also how
 * soon a closed page is noticed). */
sse_feed *feed_new(size_t max_bytes, size_t max_clients, int64_t keepalive_ms);
/* After feed_close and after the HTTP server stopped (no client left). */
void feed_free(sse_feed *f);

/* Publish one event (`data` is one line of JSON). Returns the number of
 * clients dropped for lagging. */
size_t feed_publish(sse_feed *f, const char *event, const char *data, size_t len);

/* The end: no more messages. Clients are sent what they have not been sent
 * yet and their streams then end; waits up to linger_ms for that, then drops
 * whoever is still behind. */
void feed_close(sse_feed *f, int64_t linger_ms);

/* A new stream. `greeting` (malloc'd, taken over) is sent first; the client
 * then gets every message published after this call. `fd` is the
 * connection's socket (shut down if the client is dropped), `peer` its
 * address for log lines. NULL when max_clients streams are open (greeting
 * freed). Call under the same lock that orders greeting against publishing
 * (the dashboard's state lock) so nothing falls between the two. */
sse_client *feed_join(sse_feed *f, char *greeting, size_t greeting_len, int fd, const char *peer);
/* Fill buf with the next bytes of the client's stream, waiting for some.
 * Returns > 0 bytes, 0 at the end of the stream (the feed closed and all was
 * sent), -1 when the client was dropped. */
ssize_t feed_read(sse_feed *f, sse_client *c, char *buf, size_t max);
/* The stream is over (the page went away or the server stopped). */
void feed_leave(sse_feed *f, sse_client *c);

typedef struct feed_stats {
    size_t clients;         /* open streams now              */
    uint64_t joined;        /* streams opened since the start */
    uint64_t dropped;       /* clients dropped for lagging    */
    uint64_t refused;       /* streams refused: too many open */
    size_t bytes, messages; /* in the ring now                */
} feed_stats;
feed_stats feed_get_stats(sse_feed *f);

/* Takes the oldest note left for the log ("dropped the dashboard page at
 * 127.0.0.1:5312: ..."), into buf; *warn says it deserves a warning rather
 * than an info line. Returns 0 when there is none. */
int feed_take_note(sse_feed *f, char *buf, size_t size, int *warn);

#endif
