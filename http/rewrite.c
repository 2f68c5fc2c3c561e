/* Owns the re-serialization of heads forwarded to backends and to clients. */
#include "autoconf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/decimal.h"
#include "http/hdrrule.h"
#include "http/http.h"

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
	case HTTP_F_REQUEST_ID:
		return true;
	default:
		return false;
	}
}

/*
 * Request fields weir replaces with its own (see rewrite_request), and
 * those the frontend's trust rules remove: Forwarded from an untrusted
 * peer (weir writes none), names with '_' unless underscore_headers = pass,
 * credentials basic authentication checked (unless auth_forward = yes).
 */
static bool
rewrite_drop_req(enum http_field id, const struct rewrite_req *rw)
{
	switch (id) {
	case HTTP_F_HOST:
	case HTTP_F_EXPECT:
	case HTTP_F_X_FORWARDED_FOR:
	case HTTP_F_X_FORWARDED_PROTO:
	case HTTP_F_X_FORWARDED_HOST:
	case HTTP_F_X_CLIENT_SUBJECT:
	case HTTP_F_X_REAL_IP:
	case HTTP_F_CREDENTIALS:
		return true;
	case HTTP_F_FORWARDED:
		return !rw->trusted;
	case HTTP_F_UNDERSCORE:
		return rw->drop_underscore;
	default:
		return false;
	}
}

/*
 * The heads are each written by one body, specialised twice: with rules a
 * constant NULL the compiler drops every rule test from the inlined copy,
 * so a frontend without header rules pays one branch for them.
 */
#define REWRITE_SPECIALISED	static inline __attribute__((always_inline))

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
	char tmp[DECIMAL_U64_MAX];
	const char *p = decimal_u64(tmp + sizeof(tmp), v);

	rewrite_put(o, p, (size_t)(tmp + sizeof(tmp) - p));
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

/*
 * Copy the end-to-end fields, in order, minus the dropped ones
 * (rw: requests) and those a header rule removes.
 */
REWRITE_SPECIALISED void
rewrite_fields(struct rewrite_out *o, const struct http_msg *msg,
    const struct rewrite_req *rw, const struct http_span *conn, size_t nconn,
    const struct hdrrule_list *rules)
{
	const struct http_header *h;
	size_t i;

	for (i = 0; i < msg->nheaders; i++) {
		h = &msg->headers[i];
		if (rewrite_drop_both(h->id) ||
		    (rw != NULL && rewrite_drop_req(h->id, rw)) ||
		    (nconn > 0 && rewrite_in_conn(h->name, conn, nconn)) ||
		    (rules != NULL && hdrrule_removes(rules, h->name)))
			continue;
		rewrite_field(o, h->name, h->value);
	}
}

/* A rule's value (the Host a set Host gives), its variables filled in. */
static void
rewrite_rule_value(struct rewrite_out *o, const struct hdrrule *r,
    const struct hdrrule_vars *v)
{
	size_t n;

	if (o->full)
		return;
	if ((n = hdrrule_value(o->p + o->len, o->cap - o->len, r, v)) ==
	    SIZE_MAX)
		o->full = true;
	else
		o->len += n;
}

/* The lines the rules add, in rule order. */
static void
rewrite_rule_lines(struct rewrite_out *o, const struct hdrrule_list *rules,
    const struct hdrrule_vars *v)
{
	size_t n;

	if (o->full)
		return;
	if ((n = hdrrule_lines(o->p + o->len, o->cap - o->len, rules, v)) ==
	    SIZE_MAX)
		o->full = true;
	else
		o->len += n;
}

/* A C string as a span; "" for NULL. */
static struct http_span
rewrite_cspan(const char *s)
{
	return s != NULL ? (struct http_span){ s, strlen(s) } :
	    (struct http_span){ "", 0 };
}

/*
 * The next element of an Upgrade list in *rest, trimmed of OWS; its
 * protocol name (before any '/') in *name. False when the list is used up.
 */
static bool
rewrite_upgrade_elem(struct http_span *rest, struct http_span *elem,
    size_t *name_len)
{
	const char *slash;

	if (!framing_elem(rest, elem))
		return false;
	slash = memchr(elem->p, '/', elem->len);
	*name_len = slash != NULL ? (size_t)(slash - elem->p) : elem->len;
	return true;
}

/* Is the protocol name p[0..len) in allow (lower-case names)? */
static bool
rewrite_proto_allowed(const char *p, size_t len, const char *const *allow,
    size_t nallow)
{
	size_t i, k;

	for (i = 0; i < nallow; i++) {
		for (k = 0; k < len && allow[i][k] != '\0'; k++)
			if (rewrite_lower(p[k]) != allow[i][k])
				break;
		if (k == len && len > 0 && allow[i][k] == '\0')
			return true;
	}
	return false;
}

size_t
rewrite_upgrade_allowed(const struct http_msg *msg, const char *const *allow,
    size_t nallow)
{
	struct http_span rest, elem;
	size_t i, name_len, count = 0;

	for (i = 0; i < msg->nheaders; i++) {
		if (msg->headers[i].id != HTTP_F_UPGRADE)
			continue;
		rest = msg->headers[i].value;
		while (rewrite_upgrade_elem(&rest, &elem, &name_len))
			count += rewrite_proto_allowed(elem.p, name_len, allow,
			    nallow);
	}
	return count;
}

/*
 * "Connection: upgrade", then Upgrade: every line as it came (responses,
 * allow == NULL), or one line with only the allowed protocols (requests).
 */
static void
rewrite_upgrade(struct rewrite_out *o, const struct http_msg *msg,
    const char *const *allow, size_t nallow)
{
	struct http_span rest, elem;
	size_t i, name_len;
	bool first = true;

	rewrite_str(o, "Connection: upgrade\r\n");
	for (i = 0; i < msg->nheaders; i++) {
		if (msg->headers[i].id != HTTP_F_UPGRADE)
			continue;
		if (allow == NULL) {
			rewrite_field(o, msg->headers[i].name,
			    msg->headers[i].value);
			continue;
		}
		rest = msg->headers[i].value;
		while (rewrite_upgrade_elem(&rest, &elem, &name_len)) {
			if (!rewrite_proto_allowed(elem.p, name_len, allow,
			    nallow))
				continue;
			rewrite_str(o, first ? "Upgrade: " : ", ");
			rewrite_span(o, elem);
			first = false;
		}
	}
	if (allow != NULL && !first)
		rewrite_put(o, "\r\n", 2);
}

/*
 * One X-Forwarded-For: from a trusted peer, the values it sent (unless it
 * listed the field in Connection) joined with ", ", then the peer's
 * address; from anyone else, the peer's address alone. Then X-Real-IP: the
 * client as weir judged it. own: the lines header rules took over.
 */
REWRITE_SPECIALISED void
rewrite_xff(struct rewrite_out *o, const struct http_msg *msg,
    const struct http_req_info *req, const struct rewrite_req *rw,
    unsigned own)
{
	static const struct http_span xff = { "X-Forwarded-For", 15 };
	const struct http_header *h;
	bool first = true;
	size_t i;

	if (own & HDRRULE_OWN_XFF)
		goto real_ip;
	rewrite_str(o, "X-Forwarded-For: ");
	if (rw->trusted &&
	    !rewrite_in_conn(xff, req->conn_names, req->nconn_names)) {
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
	rewrite_str(o, rw->client_ip != NULL ? rw->client_ip : "unknown");
	rewrite_put(o, "\r\n", 2);
real_ip:
	if (own & HDRRULE_OWN_XRI)
		return;
	rewrite_str(o, "X-Real-IP: ");
	rewrite_str(o, rw->real_ip != NULL ? rw->real_ip :
	    rw->client_ip != NULL ? rw->client_ip : "unknown");
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

/* "Name: value\r\n" for the request id, when there is one. */
static void
rewrite_reqid(struct rewrite_out *o, struct http_span name,
    struct http_span value)
{
	if (name.len > 0)
		rewrite_field(o, name, value);
}

/* Field order is kept: some backends care (RFC 9110 5.3 for lists). */
REWRITE_SPECIALISED size_t
rewrite_request_head(char *out, size_t cap, const struct http_msg *msg,
    const struct http_req_info *req, const struct rewrite_req *rw,
    const struct hdrrule_list *rules)
{
	struct rewrite_out o = { out, cap, 0, false };
	struct hdrrule_vars v;
	unsigned own = 0;

	if (rules != NULL) {
		own = rules->own;
		v = (struct hdrrule_vars){
			.client_ip = rewrite_cspan(rw->real_ip != NULL ?
			    rw->real_ip : rw->client_ip),
			.request_id = rw->reqid, .host = req->host,
		};
	}
	rewrite_span(&o, msg->method_name);
	rewrite_put(&o, " ", 1);
	rewrite_span(&o, req->path);
	rewrite_str(&o, " HTTP/1.1\r\nHost: ");
	if (rules != NULL && rules->host != NULL)
		rewrite_rule_value(&o, rules->host, &v);
	else
		rewrite_span(&o, req->host);
	rewrite_put(&o, "\r\n", 2);
	rewrite_fields(&o, msg, rw, req->conn_names, req->nconn_names, rules);
	rewrite_xff(&o, msg, req, rw, own);
	if (rw->proto != NULL && !(own & HDRRULE_OWN_XFP)) {
		rewrite_str(&o, "X-Forwarded-Proto: ");
		rewrite_str(&o, rw->proto);
		rewrite_put(&o, "\r\n", 2);
	}
	if (req->host.len > 0 && !(own & HDRRULE_OWN_XFH)) {
		rewrite_str(&o, "X-Forwarded-Host: ");
		rewrite_span(&o, req->host);
		rewrite_put(&o, "\r\n", 2);
	}
	if (rw->client_subject != NULL && !(own & HDRRULE_OWN_XCS)) {
		rewrite_str(&o, "X-Client-Subject: ");
		rewrite_str(&o, rw->client_subject);
		rewrite_put(&o, "\r\n", 2);
	}
	if (!(own & HDRRULE_OWN_REQID))
		rewrite_reqid(&o, rw->reqid_name, rw->reqid);
	if (rules != NULL)
		rewrite_rule_lines(&o, rules, &v);
	rewrite_framing(&o, rw->chunked, rw->has_length, rw->length);
	if (rw->upgrade)
		rewrite_upgrade(&o, msg, rw->upgrade_allow, rw->nupgrade_allow);
	rewrite_put(&o, "\r\n", 2);
	return o.full ? 0 : o.len;
}

size_t
rewrite_request(char *out, size_t cap, const struct http_msg *msg,
    const struct http_req_info *req, const struct rewrite_req *rw)
{
	if (rw->rules == NULL)
		return rewrite_request_head(out, cap, msg, req, rw, NULL);
	return rewrite_request_head(out, cap, msg, req, rw, rw->rules);
}

/* 1xx heads carry no framing or Connection: another head follows. */
REWRITE_SPECIALISED size_t
rewrite_response_head(char *out, size_t cap, const struct http_msg *msg,
    const struct http_resp_info *resp, const struct rewrite_resp *rw,
    const struct hdrrule_list *rules)
{
	struct rewrite_out o = { out, cap, 0, false };
	int status = msg->status;

	rewrite_str(&o, "HTTP/1.1 ");
	rewrite_u64(&o, status >= 0 ? (uint64_t)status : 0);
	rewrite_put(&o, " ", 1);
	rewrite_span(&o, msg->reason);
	rewrite_put(&o, "\r\n", 2);
	rewrite_fields(&o, msg, NULL, resp->conn_names, resp->nconn_names,
	    rules);
	if ((status >= 200 || status == 101) &&
	    (rules == NULL || !(rules->own & HDRRULE_OWN_REQID)))
		rewrite_reqid(&o, rw->reqid_name, rw->reqid);
	if (rules != NULL)
		rewrite_rule_lines(&o, rules, rw->vars);
	if (status == 101 && rw->upgrade)
		rewrite_upgrade(&o, msg, NULL, 0);
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

/* Header rules are for the heads that answer a request: final and 101. */
size_t
rewrite_response(char *out, size_t cap, const struct http_msg *msg,
    const struct http_resp_info *resp, const struct rewrite_resp *rw)
{
	if (rw->rules == NULL || (msg->status < 200 && msg->status != 101))
		return rewrite_response_head(out, cap, msg, resp, rw, NULL);
	return rewrite_response_head(out, cap, msg, resp, rw, rw->rules);
}
