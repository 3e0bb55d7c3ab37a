/* The /metrics endpoint: an HTTP server on its own thread (libmicrohttpd)
 * that renders the pipelines' latest published snapshots, never their live
 * counters. */
#ifndef SLUICE_METRICS_HTTP_H
#define SLUICE_METRICS_HTTP_H

#include <stddef.h>

#include "stats.h"

typedef struct metrics_server metrics_server;

/* Listen on addr (see listen_addr.h) and serve GET /metrics for the n
 * pipelines whose stats are given (borrowed: stop the server before freeing
 * them). NULL with the reason in err. */
metrics_server *metrics_server_start(const char *addr, pipeline_stats *const *stats, size_t n, char *err,
                                     size_t errsz);
/* http://HOST:PORT/metrics, with the port actually bound. */
const char *metrics_server_url(const metrics_server *m);
void metrics_server_stop(metrics_server *m);

#endif
