/* Owns message framing and connection semantics (RFC 9112 6, RFC 9110). */
#include "autoconf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "http/http.h"

/* The result of reading every Transfer-Encoding line together. */
enum framing_te {
	FRAMING_TE_NONE,
	FRAMING_TE_CHUNKED,	/* exactly one coding, chunked */
	FRAMING_TE_BAD,		/* chunked not final, repeated, empty element */
	FRAMING_TE_UNKNOWN,	/* chunked final, but other codings too */
};

/* What framing_cl found: no Content-Length, one value, or a bad one. */
#define FRAMING_CL_NONE		0
#define FRAMING_CL_OK		1
#define FRAMING_CL_BAD		(-1)

/* Used as the path of an absolute-form target with an empty path. */
static const char framing_slash[] = "/";

static char
framing_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* ASCII case-insensitive: field names and tokens are case-insensitive. */
bool
http_span_eq(struct http_span s, const char *lit)
{
	size_t i;

	for (i = 0; i < s.len; i++) {
		if (lit[i] == '\0' || framing_lower(s.p[i]) !=
		    framing_lower(lit[i]))
			return false;
	}
	return lit[i] == '\0';
}

static bool
framing_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool
framing_tchar(char c)
{
	unsigned char u = (unsigned char)c;

	return u > 0x20 && u < 0x7f && strchr("\"(),/:;<=>?@[\\]{}", u) == NULL;
}

/*
 * Take the next comma-separated element of *rest, trimmed of OWS. An empty
 * value yields one empty element, so "a,,b" and "" are visible to callers.
 * Returns false when the list is used up.
 */
bool
framing_elem(struct http_span *rest, struct http_span *elem)
{
	const char *comma;
	size_t n;

	if (rest->p == NULL)
		return false;
	comma = rest->len > 0 ? memchr(rest->p, ',', rest->len) : NULL;
	n = comma != NULL ? (size_t)(comma - rest->p) : rest->len;
	elem->p = rest->p;
	elem->len = n;
	while (elem->len > 0 && (*elem->p == ' ' || *elem->p == '\t')) {
		elem->p++;
		elem->len--;
	}
	while (elem->len > 0 && (elem->p[elem->len - 1] == ' ' ||
	    elem->p[elem->len - 1] == '\t'))
		elem->len--;
	if (comma == NULL)
		rest->p = NULL;
	else {
		rest->len -= n + 1;
		rest->p = comma + 1;
	}
	return true;
}

/* Start a list over a value; a NULL p marks the end (see framing_elem). */
static struct http_span
framing_list(struct http_span v)
{
	static const char empty[] = "";

	if (v.p == NULL)
		v.p = empty;
	return v;
}

/* Count the lines of a field, remembering the last one's value. */
static size_t
framing_count(const struct http_msg *msg, enum http_field id,
    struct http_span *last)
{
	size_t i, n = 0;

	for (i = 0; i < msg->nheaders; i++) {
		if (msg->headers[i].id == id) {
			n++;
			if (last != NULL)
				*last = msg->headers[i].value;
		}
	}
	return n;
}

/* Judge all Transfer-Encoding lines as one list (RFC 9112 6.1, 6.3). */
static enum framing_te
framing_te(const struct http_msg *msg)
{
	struct http_span rest, e;
	size_t i, n = 0, nchunked = 0;
	bool empty = false, last_chunked = false;

	for (i = 0; i < msg->nheaders; i++) {
		if (msg->headers[i].id != HTTP_F_TRANSFER_ENCODING)
			continue;
		rest = framing_list(msg->headers[i].value);
		while (framing_elem(&rest, &e)) {
			n++;
			empty |= e.len == 0;
			last_chunked = http_span_eq(e, "chunked");
			nchunked += last_chunked;
		}
	}
	if (n == 0)
		return FRAMING_TE_NONE;
	if (empty || !last_chunked || nchunked > 1)
		return FRAMING_TE_BAD;
	return n == 1 ? FRAMING_TE_CHUNKED : FRAMING_TE_UNKNOWN;
}

/* Parse 1-19 digits: 19 digits always fit in uint64_t. */
static bool
framing_number(struct http_span s, uint64_t *v)
{
	size_t i;

	if (s.len == 0 || s.len > 19)
		return false;
	*v = 0;
	for (i = 0; i < s.len; i++) {
		if (!framing_digit(s.p[i]))
			return false;
		*v = *v * 10 + (uint64_t)(s.p[i] - '0');
	}
	return true;
}

/*
 * Read every Content-Length line and list element: all must be plain
 * decimal and equal (RFC 9112 6.3 item 5), then they collapse into one.
 */
static int
framing_cl(const struct http_msg *msg, uint64_t *len)
{
	struct http_span rest, e;
	uint64_t v;
	size_t i;
	bool seen = false;

	for (i = 0; i < msg->nheaders; i++) {
		if (msg->headers[i].id != HTTP_F_CONTENT_LENGTH)
			continue;
		rest = framing_list(msg->headers[i].value);
		while (framing_elem(&rest, &e)) {
			if (!framing_number(e, &v) || (seen && v != *len))
				return FRAMING_CL_BAD;
			*len = v;
			seen = true;
		}
	}
	return seen ? FRAMING_CL_OK : FRAMING_CL_NONE;
}

/*
 * Read all Connection lines: close, keep-alive and upgrade become flags,
 * other tokens name hop-by-hop fields. Returns -1 on a non-token element or
 * too many names.
 */
static int
framing_connection(const struct http_msg *msg, unsigned *flags,
    struct http_span *names, size_t *nnames)
{
	struct http_span rest, e;
	size_t i, k;

	*flags = 0;
	*nnames = 0;
	for (i = 0; i < msg->nheaders; i++) {
		if (msg->headers[i].id != HTTP_F_CONNECTION)
			continue;
		rest = framing_list(msg->headers[i].value);
		while (framing_elem(&rest, &e)) {
			for (k = 0; k < e.len; k++)
				if (!framing_tchar(e.p[k]))
					return -1;
			if (e.len == 0)
				continue;
			if (http_span_eq(e, "close"))
				*flags |= HTTP_CONN_CLOSE;
			else if (http_span_eq(e, "keep-alive"))
				*flags |= HTTP_CONN_KEEPALIVE;
			else if (http_span_eq(e, "upgrade"))
				*flags |= HTTP_CONN_UPGRADE;
			else if (*nnames == HTTP_MAX_CONN_NAMES)
				return -1;
			else
				names[(*nnames)++] = e;
		}
	}
	return 0;
}

/* HTTP/1.1 keeps the connection unless told to close; 1.0 only if asked. */
static bool
framing_keep_alive(const struct http_msg *msg, unsigned flags)
{
	if (flags & HTTP_CONN_CLOSE)
		return false;
	if (msg->version_minor == 0)
		return (flags & HTTP_CONN_KEEPALIVE) != 0;
	return true;
}

/* A port: 1-5 digits, at most 65535. */
static bool
framing_port(const char *p, size_t len)
{
	struct http_span s;
	uint64_t v;

	s.p = p;
	s.len = len;
	return len <= 5 && framing_number(s, &v) && v <= 65535;
}

/* reg-name restricted to the characters real host names use. */
static bool
framing_hostchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    framing_digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

static bool
framing_v6char(char c)
{
	return framing_digit(c) || (c >= 'a' && c <= 'f') ||
	    (c >= 'A' && c <= 'F') || c == ':' || c == '.';
}

/*
 * Validate uri-host [":" port] (RFC 9110 7.2): a reg-name or IPv4 address
 * or a bracketed IPv6 address. Userinfo, sub-delims, percent-encoding,
 * spaces, '/', an empty host and an empty port are refused: none occur in
 * real host names, and a ',' or ';' would leak into X-Forwarded-Host.
 */
static bool
framing_authority(struct http_span a)
{
	size_t i = 0;
	bool colon = false;

	if (a.len == 0)
		return false;
	if (a.p[0] == '[') {
		for (i = 1; i < a.len && a.p[i] != ']'; i++) {
			if (!framing_v6char(a.p[i]))
				return false;
			colon |= a.p[i] == ':';
		}
		if (i >= a.len || !colon)
			return false;
		i++;
	} else {
		while (i < a.len && framing_hostchar(a.p[i]))
			i++;
		if (i == 0)
			return false;
	}
	if (i == a.len)
		return true;
	return a.p[i] == ':' && framing_port(a.p + i + 1, a.len - i - 1);
}

/* Does span s start with lit, ignoring case? */
static bool
framing_prefix(struct http_span s, const char *lit)
{
	struct http_span head;
	size_t n = strlen(lit);

	if (s.len < n)
		return false;
	head.p = s.p;
	head.len = n;
	return http_span_eq(head, lit);
}

/* absolute-form: authority becomes Host, the rest the path (RFC 9112 3.2.2). */
static int
framing_absolute(struct http_span t, struct http_req_info *out,
    const char **why)
{
	const char *p, *end = t.p + t.len;
	struct http_span auth;

	*why = "invalid request-target";
	if (framing_prefix(t, "http://"))
		p = t.p + 7;
	else if (framing_prefix(t, "https://"))
		p = t.p + 8;
	else
		return 400;
	auth.p = p;
	while (p < end && *p != '/' && *p != '?')
		p++;
	auth.len = p - auth.p;
	if (!framing_authority(auth))
		return 400;
	if (p == end) {
		out->path.p = framing_slash;
		out->path.len = 1;
	} else if (*p == '/') {
		out->path.p = p;
		out->path.len = end - p;
	} else
		return 400;	/* "http://a?q": no path to forward as-is */
	out->host = auth;
	out->absolute_form = true;
	return 0;
}

/* Sort the request-target into its form (RFC 9112 3.2). */
static int
framing_target(const struct http_msg *msg, struct http_req_info *out,
    const char **why)
{
	struct http_span t = msg->target;

	if (msg->method == HTTP_M_CONNECT) {
		*why = "CONNECT not supported";
		return 501;
	}
	*why = "invalid request-target";
	if (t.len == 0 || memchr(t.p, '#', t.len) != NULL)
		return 400;
	if (t.p[0] == '/') {
		out->path = t;
		return 0;
	}
	if (t.len == 1 && t.p[0] == '*') {
		if (msg->method != HTTP_M_OPTIONS)
			return 400;
		out->path = t;
		return 0;
	}
	return framing_absolute(t, out, why);
}

/* Exactly one valid Host in HTTP/1.1, at most one in 1.0 (RFC 9112 3.2). */
static int
framing_host(const struct http_msg *msg, struct http_req_info *out,
    const char **why)
{
	struct http_span v;
	size_t n;

	n = framing_count(msg, HTTP_F_HOST, &v);
	if (n > 1) {
		*why = "duplicate Host";
		return 400;
	}
	if (n == 0) {
		*why = "missing Host";
		return msg->version_minor == 0 ? 0 : 400;
	}
	if (!framing_authority(v)) {
		*why = "invalid Host";
		return 400;
	}
	if (!out->absolute_form)
		out->host = v;
	return 0;
}

/* Decide how the request body is framed (RFC 9112 6.3). */
static int
framing_req_body(const struct http_msg *msg, uint64_t max_body,
    struct http_req_info *out, const char **why)
{
	enum framing_te te = framing_te(msg);
	uint64_t len = 0;
	int cl = framing_cl(msg, &len);

	*why = "invalid message framing";
	if (te != FRAMING_TE_NONE) {
		if (msg->version_minor == 0) {
			*why = "Transfer-Encoding in HTTP/1.0";
			return 400;
		}
		if (cl != FRAMING_CL_NONE) {
			*why = "Content-Length with Transfer-Encoding";
			return 400;
		}
		if (te == FRAMING_TE_UNKNOWN) {
			*why = "unsupported transfer coding";
			return 501;
		}
		if (te == FRAMING_TE_BAD)
			return 400;
		out->body = HTTP_BODY_CHUNKED;
		return 0;
	}
	if (cl == FRAMING_CL_BAD) {
		*why = "invalid Content-Length";
		return 400;
	}
	if (cl == FRAMING_CL_OK) {
		if (max_body != 0 && len > max_body) {
			*why = "body larger than max_body";
			return 413;
		}
		out->body = HTTP_BODY_LENGTH;
		out->length = len;
	}
	return 0;
}

/* Connection, keep-alive and Upgrade for a request. */
static int
framing_req_conn(const struct http_msg *msg, struct http_req_info *out,
    const char **why)
{
	struct http_span up = { NULL, 0 };
	unsigned flags;
	size_t nup;

	if (framing_connection(msg, &flags, out->conn_names,
	    &out->nconn_names) != 0) {
		*why = "invalid Connection header";
		return 400;
	}
	out->keep_alive = framing_keep_alive(msg, flags);
	nup = framing_count(msg, HTTP_F_UPGRADE, &up);
	if (nup > 1) {
		*why = "duplicate Upgrade";
		return 400;
	}
	out->upgrade = msg->version_minor == 1 &&
	    (flags & HTTP_CONN_UPGRADE) && nup == 1 && up.len > 0;
	return 0;
}

/* Only 100-continue is understood (RFC 9110 10.1.1); HTTP/1.0 ignores it. */
static int
framing_expect(const struct http_msg *msg, struct http_req_info *out,
    const char **why)
{
	struct http_span rest, e;
	size_t i;
	bool cont = false;

	for (i = 0; i < msg->nheaders; i++) {
		if (msg->headers[i].id != HTTP_F_EXPECT)
			continue;
		rest = framing_list(msg->headers[i].value);
		while (framing_elem(&rest, &e)) {
			if (e.len == 0)
				continue;
			if (!http_span_eq(e, "100-continue")) {
				*why = "unsupported expectation";
				return 417;
			}
			cont = true;
		}
	}
	out->expect_continue = cont && msg->version_minor == 1 &&
	    (out->body == HTTP_BODY_CHUNKED ||
	    (out->body == HTTP_BODY_LENGTH && out->length > 0));
	return 0;
}

/* Safe or idempotent per RFC 9110 9.2.2: may be retried on another backend. */
static bool
framing_idempotent(enum http_method m)
{
	return m == HTTP_M_GET || m == HTTP_M_HEAD || m == HTTP_M_OPTIONS ||
	    m == HTTP_M_PUT || m == HTTP_M_DELETE || m == HTTP_M_TRACE;
}

/* Each step may refuse the request; the first refusal is the answer. */
int
framing_request(const struct http_msg *msg, uint64_t max_body,
    struct http_req_info *out, const char **why)
{
	int r;

	memset(out, 0, sizeof(*out));
	*why = NULL;
	if (msg->version_major != 1 || msg->version_minor > 1) {
		*why = "HTTP version not supported";
		return 505;
	}
	out->is_head = msg->method == HTTP_M_HEAD;
	out->idempotent = framing_idempotent(msg->method);
	if ((r = framing_target(msg, out, why)) != 0 ||
	    (r = framing_host(msg, out, why)) != 0 ||
	    (r = framing_req_body(msg, max_body, out, why)) != 0 ||
	    (r = framing_req_conn(msg, out, why)) != 0 ||
	    (r = framing_expect(msg, out, why)) != 0)
		return r;
	*why = NULL;
	return 0;
}

/* Responses that never carry a body, whatever their fields say. */
static bool
framing_resp_no_body(const struct http_msg *msg,
    const struct http_req_info *req, struct http_resp_info *out,
    const char **why)
{
	if (msg->status == 101) {
		if (!req->upgrade) {
			*why = "101 without an upgrade request";
			return false;
		}
		out->switching = true;
		out->keep_alive = false;
	} else if (msg->status < 200)
		out->informational = true;
	out->body = HTTP_BODY_NONE;
	*why = NULL;
	return true;
}

/* A response with a body: chunked, Content-Length, or until EOF. */
static int
framing_resp_body(const struct http_msg *msg, enum framing_te te,
    struct http_resp_info *out, const char **why)
{
	if (te != FRAMING_TE_NONE) {
		/* RFC 9112 6.1: TE in HTTP/1.0 means faulty framing. */
		if (te != FRAMING_TE_CHUNKED || msg->version_minor == 0)
			return -1;
		out->body = HTTP_BODY_CHUNKED;
	} else if (out->has_length)
		out->body = HTTP_BODY_LENGTH;
	else {
		out->body = HTTP_BODY_EOF;
		out->keep_alive = false;
	}
	*why = NULL;
	return 0;
}

/* Judge a backend head; any doubt closes the backend connection (-1). */
int
framing_response(const struct http_msg *msg, const struct http_req_info *req,
    struct http_resp_info *out, const char **why)
{
	enum framing_te te = framing_te(msg);
	unsigned flags;
	int cl;

	memset(out, 0, sizeof(*out));
	*why = "invalid response framing";
	if (msg->version_major != 1 || msg->version_minor > 1 ||
	    msg->status < 100 || msg->status > 999)
		return -1;
	if (framing_connection(msg, &flags, out->conn_names,
	    &out->nconn_names) != 0) {
		*why = "invalid Connection header";
		return -1;
	}
	if ((cl = framing_cl(msg, &out->length)) == FRAMING_CL_BAD) {
		*why = "invalid Content-Length";
		return -1;
	}
	out->has_length = cl == FRAMING_CL_OK;
	if (te != FRAMING_TE_NONE && out->has_length) {
		*why = "Content-Length with Transfer-Encoding";
		return -1;
	}
	out->keep_alive = framing_keep_alive(msg, flags);
	if (msg->status < 200 || msg->status == 204 || msg->status == 304 ||
	    req->is_head)
		return framing_resp_no_body(msg, req, out, why) ? 0 : -1;
	return framing_resp_body(msg, te, out, why);
}
