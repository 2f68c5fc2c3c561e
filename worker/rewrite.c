/* Owns the re-serialization of heads forwarded to backends and to clients. */
#include "autoconf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "worker/http.h"

/*
 * Fields that never cross weir in either direction: hop-by-hop ones (RFC
 * 9110 7.6.1) and the framing fields weir writes itself. Upgrade is written
 * again, last, when upgrading.
 */
static bool
rewrite_drop_both(enum http_field id)
{
	switch (id) {
	case HTTP_F_CONNECTION:
	case HTTP_F_KEEP_ALIVE:
	case HTTP_F_PROXY_CONNECTION:
	case HTTP_F_TE:
	case HTTP_F_TRAILER:
	case HTTP_F_TRANSFER_ENCODING:
	case HTTP_F_CONTENT_LENGTH:
	case HTTP_F_UPGRADE:
		return true;
	default:
		return false;
	}
}

/* Request fields weir replaces with its own (see rewrite_request). */
static bool
rewrite_drop_req(enum http_field id)
{
	switch (id) {
	case HTTP_F_HOST:
	case HTTP_F_EXPECT:
	case HTTP_F_X_FORWARDED_FOR:
	case HTTP_F_X_FORWARDED_PROTO:
	case HTTP_F_X_FORWARDED_HOST:
		return true;
	default:
		return false;
	}
}

/* An output buffer that remembers if anything did not fit. */
struct rewrite_out {
	char *p;
	size_t cap;
	size_t len;
	bool full;
};

static void
rewrite_put(struct rewrite_out *o, const char *s, size_t n)
{
	if (n == 0 || o->full)
		return;
	if (n > o->cap - o->len) {
		o->full = true;
		return;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

static void
rewrite_str(struct rewrite_out *o, const char *s)
{
	rewrite_put(o, s, strlen(s));
}

static void
rewrite_span(struct rewrite_out *o, struct http_span s)
{
	rewrite_put(o, s.p, s.len);
}

static void
rewrite_u64(struct rewrite_out *o, uint64_t v)
{
	char tmp[20];
	size_t i = sizeof(tmp);

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	rewrite_put(o, tmp + i, sizeof(tmp) - i);
}

/* Write "Name: value\r\n". */
static void
rewrite_field(struct rewrite_out *o, struct http_span name,
    struct http_span value)
{
	rewrite_span(o, name);
	rewrite_put(o, ": ", 2);
	rewrite_span(o, value);
	rewrite_put(o, "\r\n", 2);
}

static char
rewrite_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* Is name one the Connection header listed as hop-by-hop? */
static bool
rewrite_in_conn(struct http_span name, const struct http_span *names,
    size_t n)
{
	size_t i, k;

	for (i = 0; i < n; i++) {
		if (names[i].len != name.len)
			continue;
		for (k = 0; k < name.len; k++)
			if (rewrite_lower(name.p[k]) !=
			    rewrite_lower(names[i].p[k]))
				break;
		if (k == name.len)
			return true;
	}
	return false;
}

/* Copy the end-to-end fields, in order, minus the dropped ones. */
static void
rewrite_fields(struct rewrite_out *o, const struct http_msg *msg,
    bool request, const struct http_span *conn, size_t nconn)
{
	const struct http_header *h;
	size_t i;

	for (i = 0; i < msg->nheaders; i++) {
		h = &msg->headers[i];
		if (rewrite_drop_both(h->id) ||
		    (request && rewrite_drop_req(h->id)) ||
		    (nconn > 0 && rewrite_in_conn(h->name, conn, nconn)))
			continue;
		rewrite_field(o, h->name, h->value);
	}
}

/* Write every Upgrade line after "Connection: upgrade". */
static void
rewrite_upgrade(struct rewrite_out *o, const struct http_msg *msg)
{
	size_t i;

	rewrite_str(o, "Connection: upgrade\r\n");
	for (i = 0; i < msg->nheaders; i++)
		if (msg->headers[i].id == HTTP_F_UPGRADE)
			rewrite_field(o, msg->headers[i].name,
			    msg->headers[i].value);
}

/*
 * One X-Forwarded-For: the values the client sent (unless it listed the
 * field in Connection), joined with ", ", then the client's address.
 */
static void
rewrite_xff(struct rewrite_out *o, const struct http_msg *msg,
    const struct http_req_info *req, const char *client_ip)
{
	static const struct http_span xff = { "X-Forwarded-For", 15 };
	const struct http_header *h;
	bool first = true;
	size_t i;

	rewrite_str(o, "X-Forwarded-For: ");
	if (!rewrite_in_conn(xff, req->conn_names, req->nconn_names)) {
		for (i = 0; i < msg->nheaders; i++) {
			h = &msg->headers[i];
			if (h->id != HTTP_F_X_FORWARDED_FOR ||
			    h->value.len == 0)
				continue;
			if (!first)
				rewrite_put(o, ", ", 2);
			rewrite_span(o, h->value);
			first = false;
		}
	}
	if (!first)
		rewrite_put(o, ", ", 2);
	rewrite_str(o, client_ip != NULL ? client_ip : "unknown");
	rewrite_put(o, "\r\n", 2);
}

/* Content-Length or Transfer-Encoding, as weir decided. */
static void
rewrite_framing(struct rewrite_out *o, bool chunked, bool has_length,
    uint64_t length)
{
	if (chunked)
		rewrite_str(o, "Transfer-Encoding: chunked\r\n");
	else if (has_length) {
		rewrite_str(o, "Content-Length: ");
		rewrite_u64(o, length);
		rewrite_put(o, "\r\n", 2);
	}
}

/* Field order is kept: some backends care (RFC 9110 5.3 for lists). */
size_t
rewrite_request(char *out, size_t cap, const struct http_msg *msg,
    const struct http_req_info *req, const struct rewrite_req *rw)
{
	struct rewrite_out o = { out, cap, 0, false };

	rewrite_span(&o, msg->method_name);
	rewrite_put(&o, " ", 1);
	rewrite_span(&o, req->path);
	rewrite_str(&o, " HTTP/1.1\r\nHost: ");
	rewrite_span(&o, req->host);
	rewrite_put(&o, "\r\n", 2);
	rewrite_fields(&o, msg, true, req->conn_names,
	    req->nconn_names);
	rewrite_xff(&o, msg, req, rw->client_ip);
	if (rw->proto != NULL) {
		rewrite_str(&o, "X-Forwarded-Proto: ");
		rewrite_str(&o, rw->proto);
		rewrite_put(&o, "\r\n", 2);
	}
	if (req->host.len > 0) {
		rewrite_str(&o, "X-Forwarded-Host: ");
		rewrite_span(&o, req->host);
		rewrite_put(&o, "\r\n", 2);
	}
	rewrite_framing(&o, rw->chunked, rw->has_length, rw->length);
	if (rw->upgrade)
		rewrite_upgrade(&o, msg);
	rewrite_put(&o, "\r\n", 2);
	return o.full ? 0 : o.len;
}

/* 1xx heads carry no framing or Connection: another head follows. */
size_t
rewrite_response(char *out, size_t cap, const struct http_msg *msg,
    const struct http_resp_info *resp, const struct rewrite_resp *rw)
{
	struct rewrite_out o = { out, cap, 0, false };
	int status = msg->status;

	rewrite_str(&o, "HTTP/1.1 ");
	rewrite_u64(&o, status >= 0 ? (uint64_t)status : 0);
	rewrite_put(&o, " ", 1);
	rewrite_span(&o, msg->reason);
	rewrite_put(&o, "\r\n", 2);
	rewrite_fields(&o, msg, false, resp->conn_names, resp->nconn_names);
	if (status == 101 && rw->upgrade)
		rewrite_upgrade(&o, msg);
	else if (status >= 200) {
		/*
		 * RFC 9110 8.6: never a Content-Length in a 204, whatever
		 * the backend sent (a 304 or a HEAD response may keep one).
		 */
		if (status != 204)
			rewrite_framing(&o, rw->chunked, rw->has_length,
			    rw->length);
		if (!rw->keep_alive)
			rewrite_str(&o, "Connection: close\r\n");
		else if (rw->client_http10)
			rewrite_str(&o, "Connection: keep-alive\r\n");
	}
	rewrite_put(&o, "\r\n", 2);
	return o.full ? 0 : o.len;
}
