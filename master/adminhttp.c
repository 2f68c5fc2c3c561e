/*
 * Owns one admin request from evhttp to its answer: the route, the method,
 * the bearer token of a write, and the reply with its headers.
 */
#include "autoconf.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <jansson.h>

#include "common/log.h"
#include "master/admin.h"
#include "master/adminreq.h"
#include "master/master.h"
#include "master/metrics.h"
#include "master/statuspage.h"

static const struct {
	enum evhttp_cmd_type cmd;
	const char *name;
} adminhttp_methods[] = {
	{ EVHTTP_REQ_GET, "GET" }, { EVHTTP_REQ_POST, "POST" },
	{ EVHTTP_REQ_HEAD, "HEAD" }, { EVHTTP_REQ_PUT, "PUT" },
	{ EVHTTP_REQ_DELETE, "DELETE" }, { EVHTTP_REQ_OPTIONS, "OPTIONS" },
	{ EVHTTP_REQ_TRACE, "TRACE" }, { EVHTTP_REQ_CONNECT, "CONNECT" },
	{ EVHTTP_REQ_PATCH, "PATCH" },
};

static const char *
adminhttp_method(enum evhttp_cmd_type cmd)
{
	for (size_t i = 0; i < sizeof(adminhttp_methods) /
	    sizeof(adminhttp_methods[0]); i++)
		if (adminhttp_methods[i].cmd == cmd)
			return adminhttp_methods[i].name;
	return "?";
}

/* Send status with body (taken over; NULL: 500) as application/json. */
static void
adminhttp_json(struct evhttp_request *req, int status, json_t *body)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	struct evbuffer *buf = evbuffer_new();
	char *text = NULL;

	if (body != NULL)
		text = json_dumps(body, JSON_INDENT(2) | JSON_ENSURE_ASCII);
	json_decref(body);
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	if (buf == NULL || text == NULL || evbuffer_add(buf, text,
	    strlen(text)) == -1 || evbuffer_add(buf, "\n", 1) == -1) {
		log_warnx("admin: out of memory answering a request");
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
	} else {
		evhttp_add_header(h, "Content-Type", "application/json");
		evhttp_send_reply(req, status, NULL, buf);
	}
	free(text);
	if (buf != NULL)
		evbuffer_free(buf);
}

/* GET /metrics: the text exposition rendered by metrics.c. */
static void
adminhttp_metrics(struct evhttp_request *req, struct master *m)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	struct evbuffer *buf = evbuffer_new();

	if (buf == NULL) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	metrics_render(m, buf);
	evhttp_add_header(h, "Content-Type",
	    "text/plain; version=0.0.4; charset=utf-8");
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	evhttp_send_reply(req, HTTP_OK, NULL, buf);
	evbuffer_free(buf);
}

/*
 * A write needs "Authorization: Bearer TOKEN" with the token of
 * token_file: 0 when it has it, else the status to answer (403 with no
 * token_file at all, 401 otherwise) with *out set.
 */
static int
adminhttp_authorize(struct admin *a, struct evhttp_request *req,
    json_t **out)
{
	const char *v;
	size_t len;

	if (!a->token.set) {
		*out = adminapi_error("writes are disabled: [admin] has no "
		    "token_file");
		return 403;
	}
	v = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Authorization");
	if (v == NULL) {
		*out = adminapi_error("missing bearer token: send "
		    "Authorization: Bearer TOKEN");
		return 401;
	}
	v += strspn(v, " \t");
	if (strncasecmp(v, "Bearer", 6) != 0 || (v[6] != ' ' && v[6] != '\t')) {
		*out = adminapi_error("expected Authorization: Bearer TOKEN");
		return 401;
	}
	v += 6 + strspn(v + 6, " \t");
	len = strlen(v);
	while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t'))
		len--;
	if (!token_equal(&a->token, v, len)) {
		*out = adminapi_error("invalid bearer token");
		return 401;
	}
	return 0;
}

/* The methods route accepts, for 405's Allow. */
static const char *
adminhttp_allow(enum adminreq_route route)
{
	return route == ROUTE_SERVER ? "GET, HEAD, PATCH, DELETE" :
	    route == ROUTE_SERVERS ? "POST" : "GET, HEAD";
}

/* May cmd go to route? */
static bool
adminhttp_allowed(enum adminreq_route route, enum evhttp_cmd_type cmd)
{
	if (route == ROUTE_SERVERS)
		return cmd == EVHTTP_REQ_POST;
	if (cmd == EVHTTP_REQ_GET || cmd == EVHTTP_REQ_HEAD)
		return true;
	return route == ROUTE_SERVER && (cmd == EVHTTP_REQ_PATCH ||
	    cmd == EVHTTP_REQ_DELETE);
}

/* A JSON route: the status answered, *out its body. */
static int
adminhttp_api(struct admin *a, struct evhttp_request *req,
    enum adminreq_route route, const struct adminreq_path *p, json_t **out)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	struct master *m = a->m;
	enum evhttp_cmd_type cmd;
	const char *body;
	size_t len;
	int status;

	switch (route) {
	case ROUTE_STATUS:
		return adminapi_status(m, out);
	case ROUTE_BACKENDS:
		return adminapi_backends(m, out);
	case ROUTE_FRONTENDS:
		return adminapi_frontends(m, out);
	case ROUTE_BACKEND:
		return adminapi_backend(m, p->seg[3], out);
	case ROUTE_SERVER:
	case ROUTE_SERVERS:
		cmd = evhttp_request_get_command(req);
		if (cmd == EVHTTP_REQ_GET || cmd == EVHTTP_REQ_HEAD)
			return adminapi_server(m, p->seg[3], p->seg[5], out);
		if ((status = adminhttp_authorize(a, req, out)) != 0)
			return status;
		if (cmd == EVHTTP_REQ_DELETE)
			return adminapi_server_delete(m, p->seg[3], p->seg[5],
			    out);
		len = evbuffer_get_length(in);
		body = len > 0 ? (const char *)evbuffer_pullup(in, -1) : "";
		if (body == NULL) {
			*out = adminapi_error("out of memory");
			return 500;
		}
		if (cmd == EVHTTP_REQ_POST)
			return adminapi_servers_post(m, p->seg[3], body, len,
			    out);
		return adminapi_server_patch(m, p->seg[3], p->seg[5], body,
		    len, out);
	default:
		*out = adminapi_error("no such resource");
		return 404;
	}
}

/* Log a request: writes and refusals at info, reads at debug. */
static void
adminhttp_log(struct evhttp_request *req, int status)
{
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	const char *uri = evhttp_request_get_uri(req);
	char *peer = NULL;
	ev_uint16_t port = 0;
	char from[80] = "";

	if (evcon != NULL) {
		evhttp_connection_get_peer(evcon, &peer, &port);
		if (peer != NULL && *peer != '\0' && port != 0)
			snprintf(from, sizeof(from), " from %s:%u", peer, port);
	}
	if (cmd == EVHTTP_REQ_GET || cmd == EVHTTP_REQ_HEAD)
		log_debug("admin: %s %s%s: %d", adminhttp_method(cmd), uri,
		    from, status);
	else
		log_info("admin: %s %s%s: %d", adminhttp_method(cmd), uri,
		    from, status);
}

void
adminhttp_request_cb(struct evhttp_request *req, void *arg)
{
	struct admin *a = arg;
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	enum adminreq_route route = ROUTE_NONE;
	struct adminreq_path p = { .n = 0 };
	json_t *out = NULL;
	int status;

	if (uri != NULL && adminreq_split(evhttp_uri_get_path(uri), &p) == 0)
		route = adminreq_route(&p);
	if (route == ROUTE_NONE) {
		status = 404;
		out = adminapi_error("no such resource");
	} else if (!adminhttp_allowed(route, cmd)) {
		status = 405;
		out = adminapi_error("method %s not allowed here (allowed: %s)",
		    adminhttp_method(cmd), adminhttp_allow(route));
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Allow", adminhttp_allow(route));
	} else if (route == ROUTE_METRICS || route == ROUTE_STATUSPAGE) {
		if (route == ROUTE_METRICS)
			adminhttp_metrics(req, a->m);
		else
			statuspage_serve(req, evhttp_uri_get_path(uri));
		adminhttp_log(req, 200);
		adminreq_path_free(&p);
		return;
	} else
		status = adminhttp_api(a, req, route, &p, &out);
	if (status == 401)
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "WWW-Authenticate", "Bearer realm=\"weir\"");
	adminhttp_log(req, status);
	adminhttp_json(req, status, out);
	adminreq_path_free(&p);
}
