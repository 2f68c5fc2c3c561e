/*
 * Owns a request's rate limits in a worker: the key each limit of the
 * frontend's and then the matched route's policy takes from the request,
 * the decision against the limit's shared table (limit/table.c), and the
 * 429 answer with Retry-After when a limit says no. A refused request
 * costs no limit anything: those that let it through before the one that
 * refused get their place back.
 */
#include "autoconf.h"

#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "common/config.h"
#include "common/log.h"
#include "http/http.h"
#include "limit/gcra.h"
#include "limit/table.h"
#include "route/route.h"
#include "worker/conn.h"
#include "worker/worker.h"

/* CLOCK_MONOTONIC in ns: one clock for every worker (not the coarse one:
 * a 1000/s limit needs better than its 4 ms ticks). */
static uint64_t
limiting_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The value of header name, or an empty span when there is none. */
static struct http_span
limiting_header(const struct http_msg *msg, const char *name)
{
	size_t len = strlen(name);

	for (size_t i = 0; i < msg->nheaders; i++) {
		const struct http_header *h = &msg->headers[i];

		if (h->name.len == len &&
		    strncasecmp(h->name.p, name, len) == 0)
			return h->value;
	}
	return (struct http_span){ NULL, 0 };
}

/*
 * The normal path without its query into *path. A frontend with routes
 * normalised it in place already (routing.c); otherwise it is normalised
 * into the worker's scratch buffer. -1: it cannot be (a dot-segment above
 * the root, a bad escape), and keying on the raw text would let
 * /x/../login escape the key of /login: the request is refused.
 */
static int
limiting_path(struct conn *c, struct http_span *path)
{
	const char *q;
	ssize_t n;

	*path = c->x->req.path;
	if ((q = memchr(path->p, '?', path->len)) != NULL)
		path->len = (size_t)(q - path->p);
	if (c->w->routes[c->fe - c->w->cfg->frontends].n > 0 ||
	    path->len == 0 || path->p[0] != '/')
		return 0;
	if ((n = target_normalize(path->p, path->len, c->w->pathbuf)) < 0)
		return -1;
	*path = (struct http_span){ c->w->pathbuf, (size_t)n };
	return 0;
}

/* The client's address as a key: 4 bytes for IPv4 (also v4-mapped), 16. */
static struct http_span
limiting_ip(const struct sockaddr *sa)
{
	const struct in6_addr *a6;

	if (sa->sa_family != AF_INET6)
		return (struct http_span){ (const char *)
		    &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
		    4 };
	a6 = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
	/* An IPv4 client on an IPv6 socket is the same client. */
	if (IN6_IS_ADDR_V4MAPPED(a6))
		return (struct http_span){ (const char *)a6->s6_addr + 12, 4 };
	return (struct http_span){ (const char *)a6->s6_addr, 16 };
}

/*
 * Limit li's key for this request, hashed for its table into *hash: 1, or
 * 0 when the limit does not apply (no such header), or -1 when the path
 * cannot be keyed (limiting_path()).
 */
static int
limiting_hash(struct conn *c, const struct http_msg *msg, size_t li,
    uint64_t *hash)
{
	const struct limit_conf *lm = &c->w->cfg->limits[li];
	struct http_span key;

	switch (lm->key) {
	case CONFIG_LIMIT_HEADER:
		key = limiting_header(msg, lm->key_header);
		break;
	case CONFIG_LIMIT_PATH:
		if (limiting_path(c, &key) == -1)
			return -1;
		break;
	default:
		key = limiting_ip(c->x->client_sa);
		break;
	}
	if (key.len == 0)
		return 0;
	*hash = limit_table_hash(c->w->limits[li], key.p, key.len);
	return 1;
}

/* How many limits the request meets: its frontend's, then its route's. */
static size_t
limiting_count(const struct conn *c)
{
	return c->fe->policy.nlimits +
	    (c->x->route != NULL ? c->x->route->policy.nlimits : 0);
}

/* The config index of the request's i-th limit, in that order. */
static size_t
limiting_index(const struct conn *c, size_t i)
{
	size_t nfe = c->fe->policy.nlimits;

	return i < nfe ? c->fe->policy.limits[i].index :
	    c->x->route->policy.limits[i - nfe].index;
}

/*
 * Give back what the request's first n limits took: a later one refused
 * it, and a refused request must cost no limit anything (or a client
 * over one limit would drain its others). The keys are taken again, the
 * same as for the take.
 */
static void
limiting_refund(struct conn *c, const struct http_msg *msg, size_t n)
{
	uint64_t hash;

	for (size_t i = 0; i < n; i++) {
		size_t li = limiting_index(c, i);

		if (limiting_hash(c, msg, li, &hash) == 1)
			limit_table_refund(c->w->limits[li], hash,
			    c->w->cfg->limits[li].interval_ns);
	}
}

/* Answer 429: the wait until lm would take a request, in whole seconds. */
static void
limiting_refuse(struct conn *c, const struct limit_conf *lm, uint64_t wait)
{
	char hdr[48];
	int n;

	n = snprintf(hdr, sizeof(hdr), "Retry-After: %llu\r\n",
	    (unsigned long long)gcra_retry_after(wait));
	log_debug("client %s: 429: limit %s", conn_peer(c), lm->name);
	conn_answer_with(c, 429, hdr, (size_t)n, NULL, 0);
}

bool
limiting_request(struct conn *c, const struct http_msg *msg)
{
	const struct config *cfg = c->w->cfg;
	size_t n = limiting_count(c);
	uint64_t now = 0, hash, wait;

	for (size_t i = 0; i < n; i++) {
		size_t li = limiting_index(c, i);
		const struct limit_conf *lm = &cfg->limits[li];
		int r = limiting_hash(c, msg, li, &hash);

		if (r == 0)
			continue;
		if (r == -1) {
			limiting_refund(c, msg, i);
			conn_error(c, 400, "request path refused by limit %s: a "
			    "'.' or '..' segment, an encoded '/', '\\' or "
			    "NUL, or a bad escape", lm->name);
			return true;
		}
		if (now == 0)
			now = limiting_now();
		if (!limit_table_take(c->w->limits[li], hash, now,
		    lm->interval_ns, lm->burst, &wait)) {
			limiting_refund(c, msg, i);
			limiting_refuse(c, lm, wait);
			return true;
		}
	}
	return false;
}
