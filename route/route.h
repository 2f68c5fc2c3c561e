/*
 * Route matching: which of a frontend's routes takes a request. The
 * tables are built once per config generation (each worker builds its
 * own at start) and only read on the request path.
 */
#ifndef WEIR_ROUTE_H
#define WEIR_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config.h"
#include "http/http.h"

/* What a route looks at in a request. */
struct route_req {
	struct http_span host;		/* Host (or the absolute-form
					 * authority), as received; may hold a
					 * port, which is ignored */
	struct http_span path;		/* normalised, without the query */
	struct http_span method;
	const struct http_header *headers;
	size_t nheaders;
};

/* A route with the lengths matching needs, measured once. */
struct route_entry {
	/*
	 * The path's first (up to) 8 bytes and the mask that covers them: a
	 * request path whose first 8 bytes, masked, differ is not this
	 * route's, found with one compare. Both 0 without a path condition.
	 */
	uint64_t path_head, path_mask;
	const struct route_conf *conf;
	const char *host;		/* lower case; a wildcard's is the
					 * suffix with its dot: ".example.com" */
	size_t host_len;
	bool host_wild;
	size_t path_len;
	bool path_dir;			/* the prefix ends in '/' */
};

/* One frontend's routes in file order. */
struct route_table {
	struct route_entry *v;
	size_t n;
};

/* Tables for every frontend of cfg, in its order; NULL if out of memory. */
struct route_table *route_tables_build(const struct config *cfg);
void route_tables_free(struct route_table *t, size_t n);
/* The first route of t whose every condition r meets, or NULL. */
const struct route_entry *route_match(const struct route_table *t,
    const struct route_req *r);

#endif
