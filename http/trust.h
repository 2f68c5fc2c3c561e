/* Who the client is behind trusted proxies: the X-Forwarded-For chain walk. */
#ifndef WEIR_TRUST_H
#define WEIR_TRUST_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "common/cidr.h"
#include "http/http.h"

/*
 * The client address behind a trusted peer: walk the X-Forwarded-For
 * values of headers[0..n) (every line, joined in order) from right to left,
 * skipping addresses inside trusted[0..ntrusted), and take the first one
 * outside; if every hop is trusted, the left-most. Returns true and sets
 * *out (port 0); false when there is no chain, or any element of it is not
 * a plain IPv4 or IPv6 address (then the peer stays the client: a chain
 * that cannot be read proves nothing).
 */
bool trust_client(const struct http_header *headers, size_t n,
    const struct cidr *trusted, size_t ntrusted,
    struct sockaddr_storage *out);
/* Parse a plain IPv4 or IPv6 address of len bytes into *out (port 0). */
bool trust_parse_ip(const char *p, size_t len, struct sockaddr_storage *out);

#endif
