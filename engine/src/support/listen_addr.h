/* Listening addresses as a user writes them: HOST:PORT, [IPV6]:PORT or
 * :PORT (every interface); port 0 asks the system for a free port. */
#ifndef SLUICE_LISTEN_ADDR_H
#define SLUICE_LISTEN_ADDR_H

#include <stddef.h>
#include <sys/socket.h>

/* Split text into host ("" for every interface) and port; -1 with the
 * reason in err when it is not an address. Checks the syntax only. */
int listen_addr_split(const char *text, char *host, size_t hostsz, int *port, char *err, size_t errsz);

/* A socket bound to text and listening; -1 with the reason in err. The
 * address actually bound (with the port the system chose) is written to
 * url as http://HOST:PORT. */
int listen_addr_open(const char *text, char *url, size_t urlsz, char *err, size_t errsz);

#endif
