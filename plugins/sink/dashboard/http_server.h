/* The dashboard's HTTP server (libmicrohttpd), on threads of its own:
 *
 *   GET /          the page (page_assets)
 *   GET /chart.js  the chart library, when one was found
 *   GET /snapshot  the dashboard's state as JSON
 *   GET /events    Server-Sent Events: a `snapshot` event, then what the
 *                  pipeline publishes (sse_feed)
 *
 * One thread per connection, so a stream's thread may wait for the next
 * message (feed_read) without holding anyone else up; their number is
 * bounded by max_connections.
 */
#ifndef DASH_HTTP_SERVER_H
#define DASH_HTTP_SERVER_H

#include "sse_feed.h"

#include <stddef.h>

typedef struct dash_http dash_http;

typedef struct http_routes {
    void *cls;
    /* The state as JSON, malloc'd; NULL when out of memory. */
    char *(*snapshot)(void *cls, size_t *len);
    /* Opens a stream: the greeting and the feed's cursor, taken together
     * (feed_join). NULL when refused. */
    sse_client *(*join)(void *cls, int fd, const char *peer);
    sse_feed *feed;
    const char *page;
    size_t page_len;
    const char *chart_js; /* may be NULL */
    size_t chart_js_len;
} http_routes;

/* Listens on `listen` ("host:port", "[v6]:port"; port 0 picks a free one)
 * and serves. The routes must outlive the server. On success writes the
 * page's address into url; on failure NULL and a message in err. */
dash_http *http_start(const char *listen, const http_routes *routes, unsigned max_connections, char *url,
                      size_t url_size, char *err, size_t err_size);
/* Stops accepting, ends every connection and joins the server's threads. */
void http_stop(dash_http *h);

#endif
