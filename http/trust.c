/* Owns the reading of X-Forwarded-For chains sent by trusted proxies. */
#include "autoconf.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <string.h>

#include "http/trust.h"

bool
trust_parse_ip(const char *p, size_t len, struct sockaddr_storage *out)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)(void *)out;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)(void *)out;
	char text[INET6_ADDRSTRLEN];

	if (len == 0 || len >= sizeof(text))
		return false;
	memcpy(text, p, len);
	text[len] = '\0';
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, text, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		return true;
	}
	if (inet_pton(AF_INET6, text, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		return true;
	}
	return false;
}

/*
 * One step of the walk over value[0..*end): the last comma-separated
 * element, trimmed; *end moves before it. False when nothing is left.
 */
static bool
trust_prev_elem(const char *value, size_t *end, const char **p, size_t *len)
{
	size_t e = *end, b;

	if (e == (size_t)-1)
		return false;
	b = e;
	while (b > 0 && value[b - 1] != ',')
		b--;
	*end = b > 0 ? b - 1 : (size_t)-1;
	while (b < e && (value[b] == ' ' || value[b] == '\t'))
		b++;
	while (e > b && (value[e - 1] == ' ' || value[e - 1] == '\t'))
		e--;
	*p = value + b;
	*len = e - b;
	return true;
}

bool
trust_client(const struct http_header *headers, size_t n,
    const struct cidr *trusted, size_t ntrusted,
    struct sockaddr_storage *out)
{
	struct sockaddr_storage ss;
	const struct sockaddr *sa = (const struct sockaddr *)&ss;
	bool any = false;
	const char *p;
	size_t end, len;

	for (size_t i = n; i-- > 0;) {
		if (headers[i].id != HTTP_F_X_FORWARDED_FOR)
			continue;
		end = headers[i].value.len;
		while (trust_prev_elem(headers[i].value.p, &end, &p, &len)) {
			if (!trust_parse_ip(p, len, &ss))
				return false;
			*out = ss;
			any = true;
			if (!cidr_match(trusted, ntrusted, sa))
				return true;
		}
	}
	return any;
}
