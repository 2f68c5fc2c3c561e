/*
 * The admin API: an HTTP listener ([admin] listen) served by the master's
 * own event loop with libevent's evhttp, JSON answers built with Jansson.
 * Reads need nothing; writes need the bearer token of [admin] token_file.
 * Private to master/.
 */
#ifndef WEIR_ADMIN_H
#define WEIR_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "master/token.h"

struct config;
struct evhttp;
struct evhttp_bound_socket;
struct evhttp_request;
struct json_t;
struct master;

#define ADMIN_TIMEOUT_S	5	/* seconds idle before a close */
#define ADMIN_MAX_HEADERS	8192	/* bytes of a request head */
#define ADMIN_MAX_BODY		65536	/* bytes of a request body */

/* One admin listening socket. */
struct admin_sock {
	int fd;				/* -1: none */
	struct evhttp_bound_socket *bound;	/* evhttp accepts on fd */
	char *listen;			/* as configured, for logs */
	struct sockaddr_storage conf;	/* configured TCP address */
	socklen_t conflen;
	char *unix_path;		/* the socket file we made, or NULL */
	dev_t dev;			/* that file's identity, so that */
	ino_t ino;			/* only ours is ever removed */
	/* getsockname(): the address every connection accepted on fd shares */
	struct sockaddr_storage local;
	socklen_t locallen;
};

struct admin {
	struct master *m;
	struct evhttp *http;
	struct admin_sock cur;		/* serving now */
	struct token token;		/* of the current config */
	/* what admin_prepare made, for admin_commit or admin_abort */
	bool pending;
	bool replace;			/* next (or none) replaces cur */
	struct admin_sock next;
	struct token next_token;
};

/* admin.c */
/* The API's state, with no listener yet; NULL when out of memory. */
struct admin *admin_new(struct master *m);
void admin_free(struct admin *a);
/*
 * Everything cfg's [admin] (or its absence) needs that can fail: read the
 * token, open a new listener when the address changed. Nothing the API
 * serves changes before admin_commit(); admin_abort() undoes it. 0, or
 * -1 with err set to "FILE:LINE: why".
 */
int admin_prepare(struct admin *a, const struct config *cfg, char *err,
    size_t errlen);
void admin_commit(struct admin *a);
void admin_abort(struct admin *a);
/*
 * In a child just forked from the master: close the admin listeners and
 * every connection accepted on them, so a worker holds none.
 */
void admin_atfork_child(const struct admin *a);
/*
 * After the master gave up root: may it still read what a reload reads
 * again? 0, or -1 with err set.
 */
int admin_check_drop(const struct config *cfg, char *err, size_t errlen);

/* adminhttp.c */
/* evhttp's callback for every request: route, authorize, answer. */
void adminhttp_request_cb(struct evhttp_request *req, void *arg);

/* adminapi.c: the JSON resources; each returns the HTTP status and *out. */
struct json_t *adminapi_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
int adminapi_status(struct master *m, struct json_t **out);
int adminapi_backends(struct master *m, struct json_t **out);
/* GET /api/v1/frontends: name, backend, listen addresses (and counts). */
int adminapi_frontends(struct master *m, struct json_t **out);
int adminapi_backend(struct master *m, const char *name, struct json_t **out);
int adminapi_server(struct master *m, const char *backend, const char *addr,
    struct json_t **out);
/* POST /api/v1/backends/B/servers: add a server (201). */
int adminapi_servers_post(struct master *m, const char *backend,
    const char *body, size_t len, struct json_t **out);
/* DELETE /api/v1/backends/B/servers/A: take it out; it drains (202). */
int adminapi_server_delete(struct master *m, const char *backend,
    const char *addr, struct json_t **out);
/* PATCH: body (len bytes) is {"admin": ..., "weight": ...}. */
int adminapi_server_patch(struct master *m, const char *backend,
    const char *addr, const char *body, size_t len, struct json_t **out);

#endif
