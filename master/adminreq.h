/*
 * Reading an admin request, apart from answering it: the path into
 * decoded segments, the route they name, a PATCH body into a change.
 * Pure functions (no master state), so the fuzz harness drives them.
 */
#ifndef WEIR_ADMINREQ_H
#define WEIR_ADMINREQ_H

#include <stddef.h>

#define ADMINREQ_MAX_SEGS	8	/* path segments of any route */
#include <stdbool.h>

#define ADMINREQ_MAX_WEIGHT	256

enum adminreq_route {
	ROUTE_NONE,
	ROUTE_METRICS,			/* /metrics */
	ROUTE_STATUSPAGE,		/* /status, /status.js, /status.css */
	ROUTE_FRONTENDS,		/* /api/v1/frontends */
	ROUTE_STATUS,			/* /api/v1/status */
	ROUTE_BACKENDS,			/* /api/v1/backends */
	ROUTE_BACKEND,			/* /api/v1/backends/B */
	ROUTE_SERVERS,			/* /api/v1/backends/B/servers */
	ROUTE_SERVER,			/* /api/v1/backends/B/servers/A */
};

/* A request path split at '/', each segment percent-decoded. */
struct adminreq_path {
	char *seg[ADMINREQ_MAX_SEGS];
	int n;
};

/* The API's names of the shm admin states, indexed by SHM_ADMIN_*. */
extern const char *const adminreq_admin_names[3];

/*
 * Split and decode path: 0, or -1 for a path no route can match (too
 * many segments, a NUL once decoded). Free with adminreq_path_free().
 */
int adminreq_split(const char *path, struct adminreq_path *p);
void adminreq_path_free(struct adminreq_path *p);
/* Which route the segments name. */
enum adminreq_route adminreq_route(const struct adminreq_path *p);
/*
 * Read a PATCH body into *admin (an SHM_ADMIN_* index) and *weight, -1
 * when absent: 0, or 400 with why saying what is wrong.
 */
int adminreq_patch(const char *body, size_t len, int *admin, int *weight,
    char *why, size_t whylen);

/* A server to add: the body of POST /api/v1/backends/B/servers. */
struct adminreq_server {
	char address[64];		/* "127.0.0.1:9004", "[::1]:80" */
	int weight;			/* 1..256 */
	bool backup;
	bool tls;
	int max_conns;			/* 0: the backend's */
};

/*
 * Read a POST body: {"address": "IP:PORT", "weight": N, "backup": B,
 * "tls": B, "max_conns": N}, address required. 0, or 400 with why set.
 */
int adminreq_server(const char *body, size_t len, struct adminreq_server *s,
    char *why, size_t whylen);

#endif
