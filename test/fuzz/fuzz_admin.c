/*
 * libFuzzer harness for the admin API's input boundary (master/adminreq.c):
 * the first byte picks what the rest is, a request path, a PATCH body or
 * a POST body (a server to add). Paths: a split path re-encodes and
 * splits to the same segments, and its route agrees with its shape.
 * Bodies: an accepted change or server is within its bounds and names
 * something; a refusal says why.
 */
#include "autoconf.h"

#include <event2/http.h>

#include "master/adminreq.h"
#include "test/fuzz/fuzz.h"

#define FUZZ_MAX_PATH	4096

/* Join p's segments, each percent-encoded, into "/a/b"; NULL if no room. */
static char *
fuzz_join(const struct adminreq_path *p, char *buf, size_t cap)
{
	size_t n = 0;

	for (int i = 0; i < p->n; i++) {
		char *enc = evhttp_uriencode(p->seg[i], -1, 0);
		size_t len;

		FUZZ_CHECK(enc != NULL);
		len = strlen(enc);
		if (n + 1 + len + 1 > cap) {
			free(enc);
			return NULL;
		}
		buf[n++] = '/';
		memcpy(buf + n, enc, len);
		n += len;
		free(enc);
	}
	buf[n] = '\0';
	return buf;
}

/* What each route needs of the segments. */
static void
fuzz_route_shape(const struct adminreq_path *p, enum adminreq_route r)
{
	switch (r) {
	case ROUTE_METRICS:
	case ROUTE_STATUSPAGE:
		FUZZ_CHECK(p->n == 1);
		break;
	case ROUTE_STATUS:
	case ROUTE_FRONTENDS:
	case ROUTE_BACKENDS:
		FUZZ_CHECK(p->n == 3 && strcmp(p->seg[0], "api") == 0);
		break;
	case ROUTE_BACKEND:
		FUZZ_CHECK(p->n == 4 && p->seg[3][0] != '\0');
		break;
	case ROUTE_SERVERS:
		FUZZ_CHECK(p->n == 5 && p->seg[3][0] != '\0' &&
		    strcmp(p->seg[4], "servers") == 0);
		break;
	case ROUTE_SERVER:
		FUZZ_CHECK(p->n == 6 && p->seg[3][0] != '\0' &&
		    strcmp(p->seg[4], "servers") == 0 && p->seg[5][0] != '\0');
		break;
	case ROUTE_NONE:
		break;
	}
}

static void
fuzz_path(const char *path)
{
	static char joined[FUZZ_MAX_PATH * 3 + 16];
	struct adminreq_path p, q;
	enum adminreq_route r;

	if (adminreq_split(path, &p) == -1)
		return;
	FUZZ_CHECK(p.n >= 1 && p.n <= ADMINREQ_MAX_SEGS);
	r = adminreq_route(&p);
	fuzz_route_shape(&p, r);
	if (fuzz_join(&p, joined, sizeof(joined)) != NULL) {
		FUZZ_CHECK(adminreq_split(joined, &q) == 0);
		FUZZ_CHECK(q.n == p.n);
		for (int i = 0; i < p.n; i++)
			FUZZ_CHECK(strcmp(p.seg[i], q.seg[i]) == 0);
		FUZZ_CHECK(adminreq_route(&q) == r);
		adminreq_path_free(&q);
	}
	adminreq_path_free(&p);
}

static void
fuzz_body(const char *body, size_t len)
{
	char why[256] = "";
	int admin, weight;
	int status = adminreq_patch(body, len, &admin, &weight, why,
	    sizeof(why));

	if (status != 0) {
		FUZZ_CHECK(status == 400 && why[0] != '\0');
		return;
	}
	FUZZ_CHECK(admin >= -1 && admin <= 2);
	FUZZ_CHECK(weight >= -1 && weight <= ADMINREQ_MAX_WEIGHT);
	FUZZ_CHECK(admin != -1 || weight != -1);
}

/* A POST body: an accepted server has an address and bounded values. */
static void
fuzz_server_body(const char *body, size_t len)
{
	struct adminreq_server srv;
	char why[256] = "";
	int status = adminreq_server(body, len, &srv, why, sizeof(why));

	if (status != 0) {
		FUZZ_CHECK(status == 400 && why[0] != '\0');
		return;
	}
	FUZZ_CHECK(srv.address[0] != '\0' &&
	    memchr(srv.address, '\0', sizeof(srv.address)) != NULL);
	FUZZ_CHECK(srv.weight >= 1 && srv.weight <= ADMINREQ_MAX_WEIGHT);
	FUZZ_CHECK(srv.max_conns >= 0 && srv.max_conns <= 1000000);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char buf[FUZZ_MAX_PATH + 1];

	if (size < 1 || size - 1 > FUZZ_MAX_PATH)
		return 0;
	memcpy(buf, data + 1, size - 1);
	buf[size - 1] = '\0';
	if (data[0] & 1)
		fuzz_body(buf, size - 1);
	else if (data[0] & 2)
		fuzz_server_body(buf, size - 1);
	else
		fuzz_path(buf);
	return 0;
}
