/*
 * Owns a request's rate limits in a worker: the key each limit of the
 * frontend's and then the matched route's policy takes from the request,
 * the decision against the limit's shared table (limit/table.c), and the
 * 429 answer with Retry-After when a limit says no.
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
 * The normal path without its query. A frontend with routes normalised
 * it in place already (routing.c); otherwise it is normalised into the
 * worker's scratch buffer, and a path that cannot be is taken as it came.
 */
static struct http_span
limiting_path(struct conn *c)
{
	struct http_span path = c->x->req.path;
	const char *q = memchr(path.p, '?', path.len);
	ssize_t n;

	if (q != NULL)
		path.len = (size_t)(q - path.p);
	if (c->w->routes[c->fe - c->w->cfg->frontends].n > 0 ||
	    path.len == 0 || path.p[0] != '/')
		return path;
	if ((n = target_normalize(path.p, path.len, c->w->pathbuf)) >= 0)
		path = (struct http_span){ c->w->pathbuf, (size_t)n };
	return path;
}

/* lm's key for this request; an empty span: the limit does not apply. */
static struct http_span
limiting_key(struct conn *c, const struct http_msg *msg,
    const struct limit_conf *lm)
{
	const struct sockaddr *sa = c->x->client_sa;
	const struct in6_addr *a6;

	switch (lm->key) {
	case CONFIG_LIMIT_HEADER:
		return limiting_header(msg, lm->key_header);
	case CONFIG_LIMIT_PATH:
		return limiting_path(c);
	default:
		if (sa->sa_family != AF_INET6)
			return (struct http_span){ (const char *)
			    &((const struct sockaddr_in *)(const void *)sa)->
			    sin_addr, 4 };
		a6 = &((const struct sockaddr_in6 *)(const void *)sa)->
		    sin6_addr;
		/* An IPv4 client on an IPv6 socket is the same client. */
		if (IN6_IS_ADDR_V4MAPPED(a6))
			return (struct http_span){ (const char *)a6->s6_addr +
			    12, 4 };
		return (struct http_span){ (const char *)a6->s6_addr, 16 };
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

/* pol's limits, in order; true when one refused (and was answered). */
static bool
limiting_policy(struct conn *c, const struct http_msg *msg,
    const struct policy_conf *pol, uint64_t *now)
{
	const struct config *cfg = c->w->cfg;

	for (size_t i = 0; i < pol->nlimits; i++) {
		size_t li = pol->limits[i].index;
		const struct limit_conf *lm = &cfg->limits[li];
		struct limit_table_sh *t = c->w->limits[li];
		struct http_span key = limiting_key(c, msg, lm);
		uint64_t wait;

		if (key.len == 0)
			continue;
		if (*now == 0)
			*now = limiting_now();
		if (!limit_table_take(t, limit_table_hash(t, key.p, key.len),
		    *now, lm->interval_ns, lm->burst, &wait)) {
			limiting_refuse(c, lm, wait);
			return true;
		}
	}
	return false;
}

bool
limiting_request(struct conn *c, const struct http_msg *msg)
{
	const struct route_conf *rt = c->x->route;
	uint64_t now = 0;

	if (limiting_policy(c, msg, &c->fe->policy, &now))
		return true;
	return rt != NULL && limiting_policy(c, msg, &rt->policy, &now);
}
