/*
 * Route tables and matching: conditions are checked cheapest first (path,
 * host, method, headers) so a request passes over a long list of routes
 * with a length test and a short memcmp each.
 */
#include "autoconf.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "route/route.h"

/* The first up to 8 bytes of p[0..len) as a word, and a mask of them. */
static void
route_head(const char *p, size_t len, uint64_t *head, uint64_t *mask)
{
	size_t n = len < 8 ? len : 8;

	*head = 0;
	memcpy(head, p, n);
	*mask = n == 8 ? ~(uint64_t)0 : 0;
	if (n < 8)
		memset(mask, 0xff, n);
}

static void
route_entry_init(struct route_entry *e, const struct route_conf *rt)
{
	e->conf = rt;
	if (rt->host != NULL) {
		e->host_wild = rt->host[0] == '*';
		e->host = rt->host + (e->host_wild ? 1 : 0);
		e->host_len = strlen(e->host);
	}
	if (rt->path != NULL) {
		e->path_len = strlen(rt->path);
		e->path_dir = rt->path[e->path_len - 1] == '/';
		route_head(rt->path, e->path_len, &e->path_head,
		    &e->path_mask);
	}
}

struct route_table *
route_tables_build(const struct config *cfg)
{
	struct route_table *t;
	const struct route_conf *rt;
	size_t i, f;

	if ((t = calloc(cfg->nfrontends > 0 ? cfg->nfrontends : 1,
	    sizeof(*t))) == NULL)
		return NULL;
	for (f = 0; f < cfg->nfrontends; f++) {
		if (cfg->frontends[f].nroutes == 0)
			continue;
		if ((t[f].v = calloc(cfg->frontends[f].nroutes,
		    sizeof(*t[f].v))) == NULL) {
			route_tables_free(t, cfg->nfrontends);
			return NULL;
		}
	}
	for (i = 0; i < cfg->nroutes; i++) {
		rt = &cfg->routes[i];
		f = rt->frontend.index;
		route_entry_init(&t[f].v[t[f].n++], rt);
	}
	return t;
}

void
route_tables_free(struct route_table *t, size_t n)
{
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < n; i++)
		free(t[i].v);
	free(t);
}

static inline bool
route_prefix(const struct route_entry *e, struct http_span path)
{
	if (path.len < e->path_len ||
	    memcmp(path.p, e->conf->path, e->path_len) != 0)
		return false;
	/*
	 * "/api" takes "/api", "/api/x" and "/api;v=1" (parameters, which
	 * servlet containers strip: "/api;x/y" is their "/api/y"), never
	 * "/apix".
	 */
	return e->path_dir || path.len == e->path_len ||
	    path.p[e->path_len] == '/' || path.p[e->path_len] == ';';
}

static inline bool
route_path_match(const struct route_entry *e, struct http_span path)
{
	if (e->conf->path == NULL)
		return true;
	if (e->conf->path_exact)
		return path.len == e->path_len &&
		    memcmp(path.p, e->conf->path, path.len) == 0;
	return route_prefix(e, path);
}

/* The host without a port or a final dot: "a.test.:80" -> "a.test". */
static struct http_span
route_host_name(struct http_span h)
{
	const char *end;

	if (h.len == 0)
		return h;		/* HTTP/1.0 without Host: p may be NULL */
	if (h.p[0] == '[') {
		end = memchr(h.p, ']', h.len);
		h.len = end == NULL ? h.len : (size_t)(end - h.p) + 1;
		return h;
	}
	if ((end = memchr(h.p, ':', h.len)) != NULL)
		h.len = (size_t)(end - h.p);
	if (h.len > 0 && h.p[h.len - 1] == '.')
		h.len--;
	return h;
}

static bool
route_host_match(const struct route_entry *e, struct http_span host)
{
	if (e->host == NULL)
		return true;
	if (e->host_wild)
		/* "*.example.com" wants at least one label before the dot. */
		return host.len > e->host_len &&
		    strncasecmp(host.p + host.len - e->host_len, e->host,
		    e->host_len) == 0;
	return host.len == e->host_len &&
	    strncasecmp(host.p, e->host, host.len) == 0;
}

static bool
route_method_match(const struct route_conf *rt, struct http_span m)
{
	size_t i;

	if (rt->nmethods == 0)
		return true;
	for (i = 0; i < rt->nmethods; i++) {
		if (strlen(rt->methods[i]) == m.len &&
		    memcmp(rt->methods[i], m.p, m.len) == 0)
			return true;
	}
	return false;
}

/* Some line of the header has exactly the value (name: any case). */
static bool
route_header_match(const struct route_header *h, const struct route_req *r)
{
	size_t i, vlen = strlen(h->value);

	for (i = 0; i < r->nheaders; i++) {
		if (http_span_eq(r->headers[i].name, h->name) &&
		    r->headers[i].value.len == vlen &&
		    memcmp(r->headers[i].value.p, h->value, vlen) == 0)
			return true;
	}
	return false;
}

const struct route_entry *
route_match(const struct route_table *t, const struct route_req *r)
{
	struct http_span host = route_host_name(r->host);
	const struct route_entry *e;
	uint64_t head, mask;
	size_t i;

	route_head(r->path.p, r->path.len, &head, &mask);
	for (e = t->v; e < t->v + t->n; e++) {
		if ((head & e->path_mask) != e->path_head ||
		    !route_path_match(e, r->path) ||
		    !route_host_match(e, host) ||
		    !route_method_match(e->conf, r->method))
			continue;
		for (i = 0; i < e->conf->nheaders; i++) {
			if (!route_header_match(&e->conf->headers[i], r))
				break;
		}
		if (i == e->conf->nheaders)
			return e;
	}
	return NULL;
}
