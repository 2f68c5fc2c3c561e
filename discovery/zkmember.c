/* What one ZooKeeper child node says about a server: its address and weight. */
#include "autoconf.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "discovery/zk.h"

/* A port: 1..65535, decimal digits only. */
static bool
zkmember_port_ok(const char *s)
{
	unsigned long v = 0;
	size_t i;

	if (*s == '\0' || strlen(s) > 5)
		return false;
	for (i = 0; s[i] != '\0'; i++) {
		if (!isdigit((unsigned char)s[i]))
			return false;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	return v >= 1 && v <= 65535;
}

/* A DNS name (letters, digits, '-', dots between labels) or dotted IPv4. */
static bool
zkmember_host_ok(const char *s)
{
	struct in_addr a4;
	size_t i, label = 0;
	bool numeric = true;

	if (*s == '\0' || strlen(s) > 253)
		return false;
	for (i = 0; s[i] != '\0'; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '.') {
			if (label == 0)
				return false;
			label = 0;
			continue;
		}
		if (!isalnum(c) && c != '-')
			return false;
		if (!isdigit(c))
			numeric = false;
		if (++label > 63)
			return false;
	}
	if (label == 0)
		return false;
	/* All digits and dots: it must be a real IPv4 address, not a name. */
	return !numeric || inet_pton(AF_INET, s, &a4) == 1;
}

/* Check "host:port" or "[v6]:port" and copy it into m->address. */
static int
zkmember_address(const char *s, struct zk_member *m, const char **why)
{
	char buf[sizeof(m->address)];
	struct in6_addr a6;
	char *colon, *end;

	if (strlen(s) >= sizeof(buf)) {
		*why = "address too long";
		return -1;
	}
	strcpy(buf, s);
	if (buf[0] == '[') {
		if ((end = strchr(buf, ']')) == NULL || end[1] != ':') {
			*why = "expected [IPv6]:port";
			return -1;
		}
		*end = '\0';
		if (inet_pton(AF_INET6, buf + 1, &a6) != 1) {
			*why = "invalid IPv6 address";
			return -1;
		}
		colon = end + 1;
	} else {
		if ((colon = strrchr(buf, ':')) == NULL) {
			*why = "expected host:port";
			return -1;
		}
		*colon = '\0';
		if (!zkmember_host_ok(buf)) {
			*why = "invalid host";
			return -1;
		}
	}
	if (!zkmember_port_ok(colon + 1)) {
		*why = "invalid port";
		return -1;
	}
	strcpy(m->address, s);
	return 0;
}

/* The JSON form: {"address": "host:port", "weight": N}. */
static int
zkmember_json(const char *data, size_t len, struct zk_member *m,
    const char **why)
{
	json_error_t jerr;
	json_t *root, *addr, *weight;
	json_int_t wv;
	int rc = -1;

	if ((root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr)) ==
	    NULL) {
		*why = "invalid JSON";
		return -1;
	}
	if (!json_is_object(root)) {
		*why = "JSON is not an object";
		goto out;
	}
	addr = json_object_get(root, "address");
	if (!json_is_string(addr)) {
		*why = "no \"address\" string";
		goto out;
	}
	if (zkmember_address(json_string_value(addr), m, why) == -1)
		goto out;
	m->weight = 1;
	if ((weight = json_object_get(root, "weight")) != NULL) {
		if (!json_is_integer(weight)) {
			*why = "\"weight\" is not an integer";
			goto out;
		}
		wv = json_integer_value(weight);
		if (wv < 1 || wv > ZK_WEIGHT_MAX) {
			*why = "\"weight\" out of range 1..256";
			goto out;
		}
		m->weight = (uint32_t)wv;
	}
	rc = 0;
out:
	json_decref(root);
	return rc;
}

int
zkmember_parse(const char *node, const char *data, size_t len,
    struct zk_member *m, const char **why)
{
	char buf[sizeof(m->address)];

	memset(m, 0, sizeof(*m));
	snprintf(m->node, sizeof(m->node), "%s", node);
	while (len > 0 && isspace((unsigned char)data[0])) {
		data++;
		len--;
	}
	while (len > 0 && isspace((unsigned char)data[len - 1]))
		len--;
	if (len == 0) {
		*why = "no data";
		return -1;
	}
	if (memchr(data, '\0', len) != NULL) {
		*why = "NUL byte in data";
		return -1;
	}
	if (data[0] == '{')
		return zkmember_json(data, len, m, why);
	if (len >= sizeof(buf)) {
		*why = "address too long";
		return -1;
	}
	memcpy(buf, data, len);
	buf[len] = '\0';
	m->weight = 1;
	return zkmember_address(buf, m, why);
}

int
zkmember_cmp(const void *a, const void *b)
{
	const struct zk_member *x = a, *y = b;
	int c;

	if ((c = strcmp(x->address, y->address)) != 0)
		return c;
	return strcmp(x->node, y->node);
}
