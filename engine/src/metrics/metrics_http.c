/* The /metrics endpoint (see metrics_http.h). */
#include "metrics_http.h"

#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "listen_addr.h"
#include "log.h"
#include "prom.h"
#include "xalloc.h"

struct metrics_server {
    struct MHD_Daemon *daemon;
    int fd;
    pipeline_stats **stats;
    size_t n;
    char url[300];
};

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *type, char *body,
                             size_t len, enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
    if (r == NULL) {
        if (mode == MHD_RESPMEM_MUST_FREE)
            free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static char *render(metrics_server *m, size_t *len)
{
    stats_snapshot **snaps = xcalloc(m->n ? m->n : 1, sizeof *snaps);
    if (snaps == NULL)
        return NULL;
    for (size_t i = 0; i < m->n; i++)
        snaps[i] = stats_acquire(m->stats[i]);
    char *text = prom_render(snaps, m->n, clock_wall_ms(), len);
    for (size_t i = 0; i < m->n; i++)
        stats_release(m->stats[i], snaps[i]);
    free(snaps);
    return text;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)version;
    (void)upload_data;
    (void)upload_data_size;
    (void)con_cls;
    metrics_server *m = cls;
    static char not_allowed[] = "only GET\n", not_found[] = "not found: try /metrics\n",
                index_page[] = "sluice: metrics at /metrics\n", oom[] = "out of memory\n";
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", not_allowed, strlen(not_allowed),
                     MHD_RESPMEM_PERSISTENT);
    if (strcmp(url, "/") == 0)
        return reply(conn, MHD_HTTP_OK, "text/plain", index_page, strlen(index_page), MHD_RESPMEM_PERSISTENT);
    if (strcmp(url, "/metrics") != 0)
        return reply(conn, MHD_HTTP_NOT_FOUND, "text/plain", not_found, strlen(not_found),
                     MHD_RESPMEM_PERSISTENT);
    size_t len = 0;
    char *text = render(m, &len);
    if (text == NULL)
        return reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain", oom, strlen(oom),
                     MHD_RESPMEM_PERSISTENT);
    return reply(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", text, len,
                 MHD_RESPMEM_MUST_FREE);
}

/* libmicrohttpd's own complaints (a client gone mid-reply...) go to the log
 * at debug level, not raw to stderr. */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    if (!log_enabled(SLUICE_LOG_DEBUG))
        return;
    char text[512];
    vsnprintf(text, sizeof text, fmt, ap);
    text[strcspn(text, "\n")] = '\0';
    log_msg(SLUICE_LOG_DEBUG, "metrics", "%s", text);
}

metrics_server *metrics_server_start(const char *addr, pipeline_stats *const *stats, size_t n, char *err,
                                     size_t errsz)
{
    metrics_server *m = xcalloc(1, sizeof *m);
    if (m == NULL || (m->stats = xcalloc(n ? n : 1, sizeof *m->stats)) == NULL) {
        snprintf(err, errsz, "out of memory");
        free(m);
        return NULL;
    }
    memcpy(m->stats, stats, n * sizeof *stats);
    m->n = n;
    char base[256];
    m->fd = listen_addr_open(addr, base, sizeof base, err, errsz);
    if (m->fd < 0) {
        free(m->stats);
        free(m);
        return NULL;
    }
    snprintf(m->url, sizeof m->url, "%s/metrics", base);
    /* A scrape is small and rare: one polling thread serves them all, and a
     * client that stalls is cut off rather than held on to. */
    m->daemon =
        MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ITC | MHD_USE_ERROR_LOG, 0,
                         NULL, NULL, on_request, m, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
                         MHD_OPTION_LISTEN_SOCKET, m->fd, MHD_OPTION_CONNECTION_LIMIT, (unsigned)64,
                         MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10, MHD_OPTION_END);
    if (m->daemon == NULL) {
        snprintf(err, errsz, "cannot start the HTTP server on '%s'", addr);
        close(m->fd);
        free(m->stats);
        free(m);
        return NULL;
    }
    return m;
}

const char *metrics_server_url(const metrics_server *m) { return m->url; }

void metrics_server_stop(metrics_server *m)
{
    if (m == NULL)
        return;
    /* Quiesced first, libmicrohttpd leaves the socket it was given to us. */
    MHD_quiesce_daemon(m->daemon);
    MHD_stop_daemon(m->daemon);
    close(m->fd);
    free(m->stats);
    free(m);
}
