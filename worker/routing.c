/*
 * Routing a request inside a worker: normalise its path, pick the route
 * (route/route.c) and so the backend, then act on it: forward, redirect,
 * answer, or 404 when nothing takes it.
 */
#include "autoconf.h"

#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "http/http.h"
#include "route/route.h"
#include "worker/conn.h"
#include "worker/errpage.h"
#include "worker/worker.h"

/*
 * Rewrite c's path in place into its normal form, the query kept. The
 * path's bytes are in cin (an absolute-form target without a path is a
 * static "/", which is already normal and never written). Returns the
 * normal path's length, or -1 if the path is refused.
 */
static ssize_t
routing_normalize(struct conn *c)
{
	struct http_span *path = &c->x->req.path;
	const char *q = memchr(path->p, '?', path->len);
	size_t plen = q != NULL ? (size_t)(q - path->p) : path->len;
	char *tmp = c->w->pathbuf;
	ssize_t n;

	if ((n = target_normalize(path->p, plen, tmp)) < 0)
		return -1;
	if ((size_t)n == plen && memcmp(tmp, path->p, plen) == 0)
		return n;
	memcpy(tmp + n, path->p + plen, path->len - plen);
	path->len -= plen - (size_t)n;
	memcpy((char *)(uintptr_t)path->p, tmp, path->len);
	return n;
}

/*
 * strip_prefix: forward the path after the route's prefix, always from a
 * '/': "/api/x" under "/api/" or "/api" goes on as "/x", "/api" as "/".
 * Done once the limits saw the whole path.
 */
static void
routing_strip(struct conn *c, const struct route_conf *rt)
{
	struct http_span *path = &c->x->req.path;
	size_t plen = strlen(rt->path);
	size_t cut = rt->path[plen - 1] == '/' ? plen - 1 : plen;

	if (path->len == cut || path->p[cut] == '?' || path->p[cut] == ';') {
		/* Nothing left but a query: the prefix's last byte becomes
		 * the '/' (this path holds the prefix, so it is in cin). */
		cut--;
		((char *)(uintptr_t)path->p)[cut] = '/';
	}
	path->p += cut;
	path->len -= cut;
}

int
routing_request(struct conn *c, struct http_msg *msg, const char **why)
{
	struct worker *w = c->w;
	const struct route_table *t = &w->routes[c->fe - w->cfg->frontends];
	const struct route_entry *e;
	struct route_req r;
	ssize_t plen;

	c->x->route = NULL;
	c->backend = c->fe->backend == CONFIG_NO_BACKEND ? CONN_NO_BACKEND :
	    (uint32_t)c->fe->backend;
	if (t->n == 0)
		return 0;
	if (c->x->req.path.len == 1 && c->x->req.path.p[0] == '*')
		plen = 1;		/* OPTIONS *: only host routes match */
	else if ((plen = routing_normalize(c)) < 0) {
		*why = "request path refused: a '.' or '..' segment, an "
		    "encoded '/', '\\' or NUL, or a bad escape";
		return 400;
	}
	r = (struct route_req){
		.host = c->x->req.host,
		.path = { c->x->req.path.p, (size_t)plen },
		.method = msg->method_name,
		.headers = msg->headers, .nheaders = msg->nheaders,
	};
	if ((e = route_match(t, &r)) == NULL)
		return 0;
	c->x->route = e->conf;
	c->backend = e->conf->action == CONFIG_ROUTE_BACKEND ?
	    (uint32_t)e->conf->backend.index : CONN_NO_BACKEND;
	return 0;
}

/* Append s[0..len) to out[*n..cap); false when it does not fit. */
static bool
routing_put(char *out, size_t cap, size_t *n, const char *s, size_t len)
{
	if (cap - *n < len)
		return false;
	memcpy(out + *n, s, len);
	*n += len;
	return true;
}

/*
 * A redirect route: its URL with {host} (the Host without a port),
 * {path} (the normal path) and {target} (path and query) filled in.
 */
static void
routing_redirect(struct conn *c, const struct http_msg *msg,
    const struct route_conf *rt)
{
	struct http_span path = c->x->req.path, host = c->x->req.host;
	const char *q = memchr(path.p, '?', path.len), *t;
	size_t cap = c->w->cout_cap - ERRPAGE_ROOM, n = 0;
	char *out = c->w->pathbuf;
	bool fits = routing_put(out, cap, &n, "Location: ", 10);

	if (host.len == 0 && strstr(rt->text, "{host}") != NULL) {
		conn_error(c, 400, "route %s: the redirect needs a Host",
		    rt->name);
		return;
	}
	if (host.len > 0 && host.p[0] != '[' &&
	    (t = memchr(host.p, ':', host.len)) != NULL)
		host.len = (size_t)(t - host.p);
	for (t = rt->text; *t != '\0' && fits; t++) {
		if (strncmp(t, "{host}", 6) == 0) {
			fits = routing_put(out, cap, &n, host.p, host.len);
			t += 5;
		} else if (strncmp(t, "{path}", 6) == 0) {
			fits = routing_put(out, cap, &n, path.p, q != NULL ?
			    (size_t)(q - path.p) : path.len);
			t += 5;
		} else if (strncmp(t, "{target}", 8) == 0) {
			fits = routing_put(out, cap, &n, path.p, path.len);
			t += 7;
		} else
			fits = routing_put(out, cap, &n, t, 1);
	}
	if (!fits || !routing_put(out, cap, &n, "\r\n", 2)) {
		conn_error(c, 414, "route %s: the redirect URL does not fit",
		    rt->name);
		return;
	}
	log_debug("client %s: route %s: %u to %.*s", conn_peer(c), rt->name,
	    rt->status, (int)(n - 12), out + 10);
	conn_answer_keep(c, msg, rt->status, out, n, NULL, 0);
}

void
routing_dispatch(struct conn *c, struct http_msg *msg)
{
	const struct route_conf *rt = c->x->route;

	/* Policies before the action: rate limits (429), then auth (401). */
	if (limiting_request(c, msg))
		return;
	if (auth_check(c, msg))
		return;
	if (rt != NULL && rt->action == CONFIG_ROUTE_REDIRECT) {
		routing_redirect(c, msg, rt);
		return;
	}
	if (rt != NULL && rt->action == CONFIG_ROUTE_RETURN) {
		log_debug("client %s: route %s: %u", conn_peer(c), rt->name,
		    rt->status);
		conn_answer_keep(c, msg, rt->status, NULL, 0,
		    rt->text[0] != '\0' ? rt->text : NULL, strlen(rt->text));
		return;
	}
	/* Cut only what goes upstream: redirects see the path whole. */
	if (rt != NULL && rt->strip_prefix)
		routing_strip(c, rt);
	if (c->backend == CONN_NO_BACKEND) {
		log_debug("client %s: 404: no route of frontend %s takes "
		    "%.*s", conn_peer(c), c->fe->name,
		    (int)c->x->req.path.len, c->x->req.path.p);
		conn_answer_keep(c, msg, 404, NULL, 0, NULL, 0);
		return;
	}
	exchange_start(c, msg);
}
