/* Owns address ranges: parsing "net/bits" text and testing addresses against them. */
#include "autoconf.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdlib.h>
#include <string.h>

#include "common/cidr.h"

static const uint8_t cidr_v4mapped[12] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
};

/* Do the first bits of a and b agree? */
static bool
cidr_prefix_eq(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned whole = bits / 8, rest = bits % 8;
	uint8_t mask;

	if (memcmp(a, b, whole) != 0)
		return false;
	if (rest == 0)
		return true;
	mask = (uint8_t)(0xff << (8 - rest));
	return (a[whole] & mask) == (b[whole] & mask);
}

int
cidr_parse(const char *s, struct cidr *out, const char **why)
{
	char text[64];
	const char *slash = strchr(s, '/');
	size_t alen = slash != NULL ? (size_t)(slash - s) : strlen(s);
	unsigned long bits;
	unsigned max;
	struct cidr c;
	char *end;

	memset(&c, 0, sizeof(c));
	if (alen == 0 || alen >= sizeof(text)) {
		*why = "not an address";
		return -1;
	}
	memcpy(text, s, alen);
	text[alen] = '\0';
	if (inet_pton(AF_INET, text, c.addr) == 1) {
		c.family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, text, c.addr) == 1) {
		c.family = AF_INET6;
		max = 128;
	} else {
		*why = "not an IPv4 or IPv6 address";
		return -1;
	}
	bits = max;
	if (slash != NULL) {
		if (slash[1] < '0' || slash[1] > '9') {
			*why = "prefix length is not a number";
			return -1;
		}
		bits = strtoul(slash + 1, &end, 10);
		if (*end != '\0' || bits > max) {
			*why = "prefix length out of range";
			return -1;
		}
	}
	c.bits = (uint8_t)bits;
	/* Host bits set: the block as written is not the network. */
	for (unsigned i = bits; i < max; i++) {
		if (c.addr[i / 8] & (0x80 >> (i % 8))) {
			*why = "address has bits set beyond the prefix length";
			return -1;
		}
	}
	*out = c;
	return 0;
}

bool
cidr_match_raw(const struct cidr *v, size_t n, int family, const uint8_t *addr)
{
	if (family == AF_INET6 && memcmp(addr, cidr_v4mapped, 12) == 0) {
		family = AF_INET;
		addr += 12;
	}
	for (size_t i = 0; i < n; i++)
		if (v[i].family == family &&
		    cidr_prefix_eq(v[i].addr, addr, v[i].bits))
			return true;
	return false;
}

bool
cidr_match(const struct cidr *v, size_t n, const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return cidr_match_raw(v, n, AF_INET, (const uint8_t *)
		    &((const struct sockaddr_in *)(const void *)sa)->sin_addr);
	if (sa->sa_family == AF_INET6)
		return cidr_match_raw(v, n, AF_INET6, (const uint8_t *)
		    &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr);
	return false;
}
