/* Address ranges (CIDR blocks) for trusted_proxies: parsing and matching. */
#ifndef WEIR_CIDR_H
#define WEIR_CIDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* One block: family AF_INET or AF_INET6, the first bits of addr significant. */
struct cidr {
	uint8_t family;
	uint8_t bits;			/* 0..32 or 0..128 */
	uint8_t addr[16];		/* network byte order, host bits zero */
};

/*
 * "10.0.0.0/8", "fd00::/8", or a plain address ("192.0.2.1", "::1") for a
 * single host. The address must be the network: "10.0.0.1/8" is refused, it
 * is almost always a typo. Returns 0, or -1 with a static reason in *why.
 */
int cidr_parse(const char *s, struct cidr *out, const char **why);
/*
 * Is the address (family AF_INET with 4 bytes, AF_INET6 with 16) inside one
 * of the n blocks? An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is matched as
 * the IPv4 address it carries.
 */
bool cidr_match_raw(const struct cidr *v, size_t n, int family,
    const uint8_t *addr);
/* The same for a socket address (port ignored). */
bool cidr_match(const struct cidr *v, size_t n, const struct sockaddr *sa);

#endif
