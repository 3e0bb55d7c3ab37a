/* Listening addresses (see listen_addr.h). The socket is bound here rather
 * than by the HTTP library so that a refusal says why (address in use,
 * unknown host) and port 0 can report the port it got. */
#include "listen_addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int listen_addr_split(const char *text, char *host, size_t hostsz, int *port, char *err, size_t errsz)
{
    const char *colon;
    const char *h = text;
    size_t hlen;
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (close == NULL || close[1] != ':') {
            snprintf(err, errsz, "'%s' is not [IPV6]:PORT", text);
            return -1;
        }
        h = text + 1;
        hlen = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(text, ':');
        if (colon == NULL) {
            snprintf(err, errsz, "'%s' is not HOST:PORT (like 127.0.0.1:9464, or :0 for any free port)",
                     text);
            return -1;
        }
        if (memchr(text, ':', (size_t)(colon - text)) != NULL) {
            snprintf(err, errsz, "'%s': write an IPv6 address in brackets, like [::1]:9464", text);
            return -1;
        }
        hlen = (size_t)(colon - text);
    }
    const char *p = colon + 1;
    long v = 0;
    if (*p == '\0') {
        snprintf(err, errsz, "'%s' has no port (like 127.0.0.1:9464, or port 0 for any free port)", text);
        return -1;
    }
    for (; *p; p++) {
        if (*p < '0' || *p > '9' || (v = v * 10 + (*p - '0')) > 65535) {
            snprintf(err, errsz, "'%s': the port must be a number from 0 to 65535", text);
            return -1;
        }
    }
    if (hlen >= hostsz) {
        snprintf(err, errsz, "'%s': the host name is too long", text);
        return -1;
    }
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    *port = (int)v;
    return 0;
}

int listen_addr_open(const char *text, char *url, size_t urlsz, char *err, size_t errsz)
{
    char host[256];
    int port;
    if (listen_addr_split(text, host, sizeof host, &port, err, errsz) != 0)
        return -1;
    char service[8];
    snprintf(service, sizeof service, "%d", port);
    struct addrinfo hints, *res;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int rc = getaddrinfo(host[0] ? host : NULL, service, &hints, &res);
    if (rc != 0) {
        snprintf(err, errsz, "cannot listen on '%s': %s", text, gai_strerror(rc));
        return -1;
    }
    int fd = -1, saved = 0;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            saved = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 64) != 0) {
            saved = errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0) {
        snprintf(err, errsz, "cannot listen on '%s': %s", text, strerror(saved));
        return -1;
    }
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    char name[INET6_ADDRSTRLEN] = "?";
    int bound = port;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET) {
            struct sockaddr_in *in = (struct sockaddr_in *)&ss;
            inet_ntop(AF_INET, &in->sin_addr, name, sizeof name);
            bound = ntohs(in->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
            inet_ntop(AF_INET6, &in6->sin6_addr, name, sizeof name);
            bound = ntohs(in6->sin6_port);
        }
    }
    /* A wildcard address is not somewhere to point a browser: say localhost. */
    if (strcmp(name, "0.0.0.0") == 0 || strcmp(name, "::") == 0)
        snprintf(url, urlsz, "http://localhost:%d", bound);
    else if (strchr(name, ':'))
        snprintf(url, urlsz, "http://[%s]:%d", name, bound);
    else
        snprintf(url, urlsz, "http://%s:%d", name, bound);
    return fd;
}
