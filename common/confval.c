/* Parsers for single config values: durations, sizes, numbers, addresses. */
#include "autoconf.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/confval.h"

/*
 * Read the leading run of decimal digits of s into *out and return how many
 * there were (0 when s does not start with a digit). *over is set when the
 * number exceeds max; the whole run is still consumed so that callers can
 * report trailing junk before overflow. Signs and whitespace are not digits,
 * so every caller refuses them.
 */
static int
confval_digits(const char *s, uint64_t max, uint64_t *out, bool *over)
{
	uint64_t v = 0, d;
	int n;

	*over = false;
	for (n = 0; s[n] >= '0' && s[n] <= '9'; n++) {
		d = (uint64_t)(s[n] - '0');
		if (*over || v > (max - d) / 10)
			*over = true;
		else
			v = v * 10 + d;
	}
	*out = v;
	return n;
}

/* Durations keep lowercase units, as nginx does: "ms", "s", "m", "h". */
int
confval_duration(const char *s, uint32_t *out_ms, const char **why)
{
	uint64_t v, mult;
	bool over;
	int n;

	if ((n = confval_digits(s, UINT32_MAX, &v, &over)) == 0) {
		*why = *s == '\0' ? "empty value" : "not a number";
		return -1;
	}
	if (strcmp(s + n, "ms") == 0)
		mult = 1;
	else if (s[n] == '\0' || strcmp(s + n, "s") == 0)
		mult = 1000;
	else if (strcmp(s + n, "m") == 0)
		mult = 60 * 1000;
	else if (strcmp(s + n, "h") == 0)
		mult = 60 * 60 * 1000;
	else {
		*why = "unknown unit";
		return -1;
	}
	if (over || v > UINT32_MAX / mult) {
		*why = "too large";
		return -1;
	}
	*out_ms = (uint32_t)(v * mult);
	return 0;
}

/* Map a size suffix to its multiplier, or 0 when it is not one. */
static uint64_t
confval_size_unit(const char *u)
{
	if (*u == '\0')
		return 1;
	if (u[1] != '\0')
		return 0;
	switch (*u) {
	case 'k':
	case 'K':
		return 1024;
	case 'm':
	case 'M':
		return 1024 * 1024;
	case 'g':
	case 'G':
		return 1024 * 1024 * 1024;
	}
	return 0;
}

int
confval_size(const char *s, uint64_t *out, const char **why)
{
	uint64_t v, mult;
	bool over;
	int n;

	if ((n = confval_digits(s, UINT64_MAX, &v, &over)) == 0) {
		*why = *s == '\0' ? "empty value" : "not a number";
		return -1;
	}
	if ((mult = confval_size_unit(s + n)) == 0) {
		*why = "unknown unit";
		return -1;
	}
	if (over || v > UINT64_MAX / mult) {
		*why = "too large";
		return -1;
	}
	*out = v * mult;
	return 0;
}

/* An optional '-' is allowed so that ranges below zero stay expressible. */
int
confval_int(const char *s, long min, long max, long *out, const char **why)
{
	uint64_t v;
	bool neg, over;
	long l;
	int n;

	neg = *s == '-';
	n = confval_digits(s + neg, (uint64_t)LONG_MAX + 1, &v, &over);
	if (n == 0 || s[neg + n] != '\0') {
		*why = *s == '\0' ? "empty value" : "not an integer";
		return -1;
	}
	if (over || (!neg && v > LONG_MAX)) {
		*why = "out of range";
		return -1;
	}
	/* -(LONG_MAX + 1) is representable although LONG_MAX + 1 is not. */
	l = (neg && v > 0) ? -(long)(v - 1) - 1 : (long)v;
	if (l < min || l > max) {
		*why = "out of range";
		return -1;
	}
	*out = l;
	return 0;
}

int
confval_bool(const char *s, bool *out, const char **why)
{
	static const char *const yes[] = { "yes", "on", "true", "1" };
	static const char *const no[] = { "no", "off", "false", "0" };
	size_t i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	*why = *s == '\0' ? "empty value" : "not a boolean";
	return -1;
}

/* A port is 1..65535 in plain decimal: nothing before, nothing after. */
static int
confval_port(const char *s, uint16_t *port, const char **why)
{
	uint64_t v;
	bool over;
	int n;

	n = confval_digits(s, 65535, &v, &over);
	if (n == 0 && *s == '\0') {
		*why = "missing port";
		return -1;
	}
	if (n == 0 || s[n] != '\0' || over || v == 0) {
		*why = "port must be a number from 1 to 65535";
		return -1;
	}
	*port = (uint16_t)v;
	return 0;
}

/* Split "host:port" or "[v6]:port" into a host copy and the port text. */
static int
confval_split(const char *s, char *host, size_t hostlen, const char **port,
    bool *v6, const char **why)
{
	const char *end, *colon;
	size_t len;

	*v6 = *s == '[';
	if (*v6) {
		if ((end = strchr(s, ']')) == NULL) {
			*why = "missing ']' after IPv6 address";
			return -1;
		}
		if (end[1] != ':') {
			*why = end[1] == '\0' ? "missing port" :
			    "expected ':' after ']'";
			return -1;
		}
		s++;
		colon = end + 1;
		len = (size_t)(end - s);
	} else {
		if ((colon = strrchr(s, ':')) == NULL) {
			*why = "missing port";
			return -1;
		}
		len = (size_t)(colon - s);
		if (memchr(s, ':', len) != NULL) {
			*why = "IPv6 addresses must be in brackets: [::1]:80";
			return -1;
		}
	}
	if (len == 0 || len >= hostlen) {
		*why = len == 0 ? "missing address" : "address too long";
		return -1;
	}
	memcpy(host, s, len);
	host[len] = '\0';
	*port = colon + 1;
	return 0;
}

int
confval_addr(const char *s, struct sockaddr_storage *out, socklen_t *outlen,
    const char **why)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	char host[INET6_ADDRSTRLEN];
	const char *port;
	uint16_t p;
	bool v6;

	if (*s == '\0') {
		*why = "empty address";
		return -1;
	}
	if (confval_split(s, host, sizeof(host), &port, &v6, why) == -1 ||
	    confval_port(port, &p, why) == -1)
		return -1;
	memset(&ss, 0, sizeof(ss));
	if (v6) {
		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1) {
			*why = "not a numeric IPv6 address";
			return -1;
		}
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(p);
		*outlen = sizeof(*sin6);
	} else {
		if (strcmp(host, "*") == 0)
			sin->sin_addr.s_addr = htonl(INADDR_ANY);
		else if (inet_pton(AF_INET, host, &sin->sin_addr) != 1) {
			*why = "not a numeric IPv4 address, host names "
			    "are not resolved";
			return -1;
		}
		sin->sin_family = AF_INET;
		sin->sin_port = htons(p);
		*outlen = sizeof(*sin);
	}
	memcpy(out, &ss, sizeof(ss));
	return 0;
}

void
confval_addr_str(const struct sockaddr *sa, char *buf, size_t len)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
	char host[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET &&
	    inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host)) != NULL)
		snprintf(buf, len, "%s:%u", host, ntohs(sin->sin_port));
	else if (sa->sa_family == AF_INET6 &&
	    inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host)) != NULL)
		snprintf(buf, len, "[%s]:%u", host, ntohs(sin6->sin6_port));
	else
		snprintf(buf, len, "?");
}
