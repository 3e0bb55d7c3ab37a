#include "http_server.h"

#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* A stream's socket buffer: small, so that a page that stops reading shows
 * as a lagging client soon rather than after megabytes sit in the kernel. */
#define STREAM_SNDBUF (64 * 1024)
#define STREAM_BLOCK (16 * 1024)

struct dash_http {
    struct MHD_Daemon *daemon;
    const http_routes *routes;
};

typedef struct stream {
    sse_feed *feed;
    sse_client *client;
} stream;

/* host:port or [v6]:port into host and port (host may be empty: any). */
static int split_listen(const char *address, char *host, size_t host_size, char *port, size_t port_size)
{
    const char *colon;
    const char *h = address;
    size_t hlen;
    if (address[0] == '[') {
        const char *close = strchr(address, ']');
        if (close == NULL || close[1] != ':')
            return -1;
        h = address + 1;
        hlen = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(address, ':');
        if (colon == NULL)
            return -1;
        hlen = (size_t)(colon - address);
    }
    if (hlen >= host_size || strlen(colon + 1) >= port_size || colon[1] == '\0')
        return -1;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    snprintf(port, port_size, "%s", colon + 1);
    for (const char *p = port; *p; p++)
        if (*p < '0' || *p > '9')
            return -1;
    return 0;
}

/* Our own listening socket rather than MHD's, for two reasons: a refused
 * bind is reported with its errno, and with port 0 we learn which port the
 * kernel chose. */
static int open_listener(const char *address, char *url, size_t url_size, int *ipv6, char *err,
                         size_t err_size)
{
    char host[256], port[16];
    if (split_listen(address, host, sizeof host, port, sizeof port) != 0) {
        snprintf(err, err_size,
                 "listen '%s': expected host:port (e.g. 127.0.0.1:8080, [::1]:8080, 0.0.0.0:0)", address);
        return -1;
    }
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
    if (rc != 0) {
        snprintf(err, err_size, "listen '%s': %s", address, gai_strerror(rc));
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 64) != 0) {
        snprintf(err, err_size,
                 "cannot listen on %s: %s (choose another address with the listen option; port 0 "
                 "picks a free one)",
                 address, strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(res);
        return -1;
    }
    *ipv6 = res->ai_family == AF_INET6;
    freeaddrinfo(res);
    struct sockaddr_storage addr;
    socklen_t len = sizeof addr;
    char numeric_host[NI_MAXHOST], numeric_port[NI_MAXSERV];
    if (getsockname(fd, (struct sockaddr *)&addr, &len) != 0 ||
        getnameinfo((struct sockaddr *)&addr, len, numeric_host, sizeof numeric_host, numeric_port,
                    sizeof numeric_port, NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
        snprintf(err, err_size, "cannot read the address of %s: %s", address, strerror(errno));
        close(fd);
        return -1;
    }
    /* The address a browser should open: the host as given (a name stays a
     * name), with the port actually bound. */
    const char *shown =
        host[0] && strcmp(host, "0.0.0.0") != 0 && strcmp(host, "::") != 0 ? host : "localhost";
    if (strchr(shown, ':') != NULL)
        snprintf(url, url_size, "http://[%s]:%s/", shown, numeric_port);
    else
        snprintf(url, url_size, "http://%s:%s/", shown, numeric_port);
    return fd;
}

static enum MHD_Result send_buffer(struct MHD_Connection *conn, unsigned status, const char *type, void *data,
                                   size_t len, enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, data, mode);
    if (r == NULL)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result send_text(struct MHD_Connection *conn, unsigned status, const char *text)
{
    return send_buffer(conn, status, "text/plain; charset=utf-8", (void *)text, strlen(text),
                       MHD_RESPMEM_PERSISTENT);
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    stream *s = cls;
    ssize_t n = feed_read(s->feed, s->client, buf, max);
    if (n > 0)
        return n;
    return n == 0 ? MHD_CONTENT_READER_END_OF_STREAM : MHD_CONTENT_READER_END_WITH_ERROR;
}

/* MHD calls it once it is done with the response: the page went away, the
 * stream ended, or the server is stopping. */
static void stream_free(void *cls)
{
    stream *s = cls;
    feed_leave(s->feed, s->client);
    free(s);
}

static void peer_name(struct MHD_Connection *conn, char *buf, size_t size)
{
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    char host[NI_MAXHOST], port[NI_MAXSERV];
    snprintf(buf, size, "?");
    if (info == NULL || info->client_addr == NULL)
        return;
    socklen_t len =
        info->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    if (getnameinfo(info->client_addr, len, host, sizeof host, port, sizeof port,
                    NI_NUMERICHOST | NI_NUMERICSERV) == 0)
        snprintf(buf, size, strchr(host, ':') ? "[%s]:%s" : "%s:%s", host, port);
}

static enum MHD_Result open_stream(const http_routes *routes, struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    int fd = info ? info->connect_fd : -1;
    if (fd >= 0) {
        int size = STREAM_SNDBUF;
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    }
    char peer[64];
    peer_name(conn, peer, sizeof peer);
    stream *s = calloc(1, sizeof *s);
    if (s == NULL)
        return send_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory\n");
    s->feed = routes->feed;
    s->client = routes->join(routes->cls, fd, peer);
    if (s->client == NULL) {
        free(s);
        return send_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "too many dashboard pages are open\n");
    }
    struct MHD_Response *r =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, STREAM_BLOCK, stream_read, s, stream_free);
    if (r == NULL) {
        stream_free(s);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream; charset=utf-8");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(r, "X-Accel-Buffering", "no"); /* a reverse proxy must not hold events back */
    enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)version, (void)upload_data, (void)con_cls;
    const http_routes *routes = cls;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        *upload_data_size = 0;
        return send_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET\n");
    }
    if (strcmp(url, "/") == 0 || strcmp(url, "/index.html") == 0)
        return send_buffer(conn, MHD_HTTP_OK, "text/html; charset=utf-8", (void *)routes->page,
                           routes->page_len, MHD_RESPMEM_PERSISTENT);
    if (strcmp(url, "/chart.js") == 0) {
        if (routes->chart_js == NULL)
            return send_text(conn, MHD_HTTP_NOT_FOUND, "no chart library: install libjs-chart.js\n");
        return send_buffer(conn, MHD_HTTP_OK, "text/javascript; charset=utf-8", (void *)routes->chart_js,
                           routes->chart_js_len, MHD_RESPMEM_PERSISTENT);
    }
    if (strcmp(url, "/snapshot") == 0) {
        size_t len = 0;
        char *json = routes->snapshot(routes->cls, &len);
        if (json == NULL)
            return send_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory\n");
        return send_buffer(conn, MHD_HTTP_OK, "application/json", json, len, MHD_RESPMEM_MUST_FREE);
    }
    if (strcmp(url, "/events") == 0) /* a HEAD would hold a stream that never sends */
        return strcmp(method, "GET") == 0 ? open_stream(routes, conn)
                                          : send_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET\n");
    return send_text(conn, MHD_HTTP_NOT_FOUND, "not found: the dashboard serves /, /events and /snapshot\n");
}

dash_http *http_start(const char *address, const http_routes *routes, unsigned max_connections, char *url,
                      size_t url_size, char *err, size_t err_size)
{
    int ipv6 = 0;
    int fd = open_listener(address, url, url_size, &ipv6, err, err_size);
    if (fd < 0)
        return NULL;
    dash_http *h = calloc(1, sizeof *h);
    if (h == NULL) {
        close(fd);
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    h->routes = routes;
    unsigned flags =
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ITC;
    if (ipv6)
        flags |= MHD_USE_IPv6;
    /* No MHD_USE_ERROR_LOG: a plugin does not write to stderr. The timeout
     * closes connections that make no progress at all (a stream sends at
     * least a keepalive comment far more often). */
    h->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, (void *)routes, MHD_OPTION_LISTEN_SOCKET,
                                 fd, MHD_OPTION_CONNECTION_LIMIT, max_connections,
                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60, MHD_OPTION_END);
    if (h->daemon == NULL) {
        snprintf(err, err_size, "cannot start the HTTP server on %s", address);
        close(fd);
        free(h);
        return NULL;
    }
    return h;
}

void http_stop(dash_http *h)
{
    if (h == NULL)
        return;
    MHD_stop_daemon(h->daemon);
    free(h);
}
