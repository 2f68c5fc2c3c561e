/* Tests for http/rewrite.c: the heads weir forwards, byte for byte. */
#include "autoconf.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "http/hdrrule.h"
#include "http/http.h"

static struct http_msg msg, rmsg;
static struct http_req_info req;
static struct http_resp_info resp;
static char out[4096];

static void
parse_request(const char *s)
{
	size_t skipped, hl;
	const char *why = NULL;

	assert_int_equal(scan_head(s, strlen(s), 65536, &skipped, &hl, &why),
	    SCAN_OK);
	assert_int_equal(parser_head(s + skipped, hl, PARSER_REQUEST, &msg,
	    &why), 0);
	assert_int_equal(framing_request(&msg, 0, &req, &why), 0);
}

static void
parse_response(const char *s)
{
	size_t skipped, hl;
	const char *why = NULL;

	assert_int_equal(scan_head(s, strlen(s), 65536, &skipped, &hl, &why),
	    SCAN_OK);
	assert_int_equal(parser_head(s + skipped, hl, PARSER_RESPONSE, &rmsg,
	    &why), 0);
	assert_int_equal(framing_response(&rmsg, &req, &resp, &why), 0);
}

/* The request rewritten with rw must be exactly want. */
static void
assert_request(const char *s, const struct rewrite_req *rw, const char *want)
{
	size_t n;

	parse_request(s);
	n = rewrite_request(out, sizeof(out), &msg, &req, rw);
	if (n != strlen(want) || memcmp(out, want, n) != 0)
		fail_msg("got:\n%.*s\nwant:\n%s", (int)n, out, want);
}

static void
assert_response(const char *s, const struct rewrite_resp *rw,
    const char *want)
{
	size_t n;

	parse_response(s);
	n = rewrite_response(out, sizeof(out), &rmsg, &resp, rw);
	if (n != strlen(want) || memcmp(out, want, n) != 0)
		fail_msg("got:\n%.*s\nwant:\n%s", (int)n, out, want);
}

static const struct rewrite_req rw_plain = { .client_ip = "192.0.2.7",
    .proto = "http" };

static void
test_request_basic(void **state)
{
	(void)state;
	assert_request("GET /p?q HTTP/1.1\r\nUser-Agent: t\r\n"
	    "Host:  example.com \r\nAccept:   */*  \r\n\r\n", &rw_plain,
	    "GET /p?q HTTP/1.1\r\n"
	    "Host: example.com\r\n"
	    "User-Agent: t\r\n"
	    "Accept: */*\r\n"
	    "X-Forwarded-For: 192.0.2.7\r\n"
	    "X-Real-IP: 192.0.2.7\r\n"
	    "X-Forwarded-Proto: http\r\n"
	    "X-Forwarded-Host: example.com\r\n"
	    "\r\n");
}

/* Every hop-by-hop field goes, including those Connection names. */
static void
test_request_hop_by_hop(void **state)
{
	(void)state;
	assert_request("GET / HTTP/1.1\r\nHost: a\r\n"
	    "Connection: keep-alive, X-Secret, foo\r\n"
	    "Keep-Alive: timeout=5\r\n"
	    "Proxy-Connection: keep-alive\r\n"
	    "TE: trailers\r\n"
	    "Trailer: X-Sum\r\n"
	    "Upgrade: websocket\r\n"
	    "x-secret: 1\r\n"
	    "FOO: 2\r\n"
	    "X-Kept: 3\r\n"
	    "Expect: 100-continue\r\n"
	    "\r\n", &rw_plain,
	    "GET / HTTP/1.1\r\n"
	    "Host: a\r\n"
	    "X-Kept: 3\r\n"
	    "X-Forwarded-For: 192.0.2.7\r\n"
	    "X-Real-IP: 192.0.2.7\r\n"
	    "X-Forwarded-Proto: http\r\n"
	    "X-Forwarded-Host: a\r\n"
	    "\r\n");
}

/* A trusted peer's chain is kept and extended; X-Real-IP is weir's. */
static void
test_request_xff(void **state)
{
	struct rewrite_req rw = rw_plain;

	(void)state;
	rw.trusted = true;
	rw.real_ip = "198.51.100.2";
	assert_request("GET / HTTP/1.1\r\nHost: a\r\n"
	    "X-Forwarded-For: 203.0.113.1, 198.51.100.2\r\n"
	    "X-Other: x\r\n"
	    "X-Real-IP: 203.0.113.99\r\n"
	    "Forwarded: for=203.0.113.1\r\n"
	    "X-Forwarded-For: 10.0.0.1\r\n"
	    "X-Forwarded-Proto: https\r\n"
	    "X-Forwarded-Host: evil\r\n"
	    "\r\n", &rw,
	    "GET / HTTP/1.1\r\n"
	    "Host: a\r\n"
	    "X-Other: x\r\n"
	    "Forwarded: for=203.0.113.1\r\n"
	    "X-Forwarded-For: 203.0.113.1, 198.51.100.2, 10.0.0.1, "
	    "192.0.2.7\r\n"
	    "X-Real-IP: 198.51.100.2\r\n"
	    "X-Forwarded-Proto: http\r\n"
	    "X-Forwarded-Host: a\r\n"
	    "\r\n");
}

/* An untrusted client's X-Forwarded-For, X-Real-IP and Forwarded are gone. */
static void
test_request_xff_untrusted(void **state)
{
	(void)state;
	assert_request("GET / HTTP/1.1\r\nHost: a\r\n"
	    "X-Forwarded-For: 203.0.113.1\r\n"
	    "X-Real-IP: 203.0.113.1\r\n"
	    "Forwarded: for=203.0.113.1\r\n"
	    "\r\n", &rw_plain,
	    "GET / HTTP/1.1\r\n"
	    "Host: a\r\n"
	    "X-Forwarded-For: 192.0.2.7\r\n"
	    "X-Real-IP: 192.0.2.7\r\n"
	    "X-Forwarded-Proto: http\r\n"
	    "X-Forwarded-Host: a\r\n"
	    "\r\n");
}

/* Names with '_' are dropped or passed as the frontend says. */
static void
test_request_underscore(void **state)
{
	static const char s[] = "GET / HTTP/1.1\r\nHost: a\r\n"
	    "X_Forwarded_For: 203.0.113.1\r\nX-Ok: 1\r\n\r\n";
	struct rewrite_req rw = rw_plain;

	(void)state;
	rw.drop_underscore = true;
	assert_request(s, &rw,
	    "GET / HTTP/1.1\r\nHost: a\r\nX-Ok: 1\r\n"
	    "X-Forwarded-For: 192.0.2.7\r\nX-Real-IP: 192.0.2.7\r\n"
	    "X-Forwarded-Proto: http\r\nX-Forwarded-Host: a\r\n\r\n");
	assert_request(s, &rw_plain,
	    "GET / HTTP/1.1\r\nHost: a\r\n"
	    "X_Forwarded_For: 203.0.113.1\r\nX-Ok: 1\r\n"
	    "X-Forwarded-For: 192.0.2.7\r\nX-Real-IP: 192.0.2.7\r\n"
	    "X-Forwarded-Proto: http\r\nX-Forwarded-Host: a\r\n\r\n");
}

/* Only the allowed Upgrade protocols are forwarded. */
static void
test_request_upgrade_allow(void **state)
{
	static const char *const allow[] = { "websocket" };
	static const char s[] = "GET /ws HTTP/1.1\r\nHost: a\r\n"
	    "Connection: Upgrade\r\nUpgrade: h2c, WebSocket/13 , foo\r\n\r\n";
	struct rewrite_req rw = rw_plain;

	(void)state;
	parse_request(s);
	assert_int_equal(rewrite_upgrade_allowed(&msg, allow, 1), 1);
	assert_int_equal(rewrite_upgrade_allowed(&msg, NULL, 0), 0);
	rw.upgrade = true;
	rw.upgrade_allow = allow;
	rw.nupgrade_allow = 1;
	assert_request(s, &rw,
	    "GET /ws HTTP/1.1\r\nHost: a\r\n"
	    "X-Forwarded-For: 192.0.2.7\r\nX-Real-IP: 192.0.2.7\r\n"
	    "X-Forwarded-Proto: http\r\nX-Forwarded-Host: a\r\n"
	    "Connection: upgrade\r\nUpgrade: WebSocket/13\r\n\r\n");
	parse_request("GET /ws HTTP/1.1\r\nHost: a\r\n"
	    "Connection: Upgrade\r\nUpgrade: h2c\r\n\r\n");
	assert_int_equal(rewrite_upgrade_allowed(&msg, allow, 1), 0);
}

/* A client that lists X-Forwarded-For as hop-by-hop drops its own chain. */
static void
test_request_xff_hop(void **state)
{
	(void)state;
	assert_request("GET / HTTP/1.1\r\nHost: a\r\n"
	    "Connection: x-forwarded-for\r\n"
	    "X-Forwarded-For: 203.0.113.1\r\n\r\n", &rw_plain,
	    "GET / HTTP/1.1\r\n"
	    "Host: a\r\n"
	    "X-Forwarded-For: 192.0.2.7\r\n"
	    "X-Real-IP: 192.0.2.7\r\n"
	    "X-Forwarded-Proto: http\r\n"
	    "X-Forwarded-Host: a\r\n"
	    "\r\n");
}

/* weir's own framing replaces the client's. */
static void
test_request_framing(void **state)
{
	struct rewrite_req rw = rw_plain;

	(void)state;
	rw.has_length = true;
	rw.length = 12345;
	assert_request("POST /u HTTP/1.1\r\nHost: a\r\n"
	    "Content-Length: 12345\r\nContent-Length: 12345\r\n\r\n", &rw,
	    "POST /u HTTP/1.1\r\n"
	    "Host: a\r\n"
	    "X-Forwarded-For: 192.0.2.7\r\n"
	    "X-Real-IP: 192.0.2.7\r\n"
	    "X-Forwarded-Proto: http\r\n"
	    "X-Forwarded-Host: a\r\n"
	    "Content-Length: 12345\r\n"
	    "\r\n");
	rw.has_length = false;
	rw.chunked = true;
	assert_request("POST /u HTTP/1.1\r\nHost: a\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n", &rw,
	    "POST /u HTTP/1.1\r\n"
	    "Host: a\r\n"
	    "X-Forwarded-For: 192.0.2.7\r\n"
	    "X-Real-IP: 192.0.2.7\r\n"
	    "X-Forwarded-Proto: http\r\n"
	    "X-Forwarded-Host: a\r\n"
	    "Transfer-Encoding: chunked\r\n"
	    "\r\n");
	/* A chunked request may be forwarded with a length once buffered. */
	rw.chunked = false;
	rw.has_length = true;
	rw.length = 0;
	assert_request("POST /u HTTP/1.1\r\nHost: a\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n", &rw,
	    "POST /u HTTP/1.1\r\n"
	    "Host: a\r\n"
	    "X-Forwarded-For: 192.0.2.7\r\n"
	    "X-Real-IP: 192.0.2.7\r\n"
	    "X-Forwarded-Proto: http\r\n"
	    "X-Forwarded-Host: a\r\n"
	    "Content-Length: 0\r\n"
	    "\r\n");
}

/* HTTP/1.0 in, HTTP/1.1 out; absolute-form becomes origin-form. */
static void
test_request_forms(void **state)
{
	(void)state;
	assert_request("GET http://b.example:81/x?y HTTP/1.0\r\n"
	    "Host: ignored\r\n\r\n", &rw_plain,
	    "GET /x?y HTTP/1.1\r\n"
	    "Host: b.example:81\r\n"
	    "X-Forwarded-For: 192.0.2.7\r\n"
	    "X-Real-IP: 192.0.2.7\r\n"
	    "X-Forwarded-Proto: http\r\n"
	    "X-Forwarded-Host: b.example:81\r\n"
	    "\r\n");
	assert_request("DELETE http://b HTTP/1.1\r\nHost: a\r\n\r\n", &rw_plain,
	    "DELETE / HTTP/1.1\r\n"
	    "Host: b\r\n"
	    "X-Forwarded-For: 192.0.2.7\r\n"
	    "X-Real-IP: 192.0.2.7\r\n"
	    "X-Forwarded-Proto: http\r\n"
	    "X-Forwarded-Host: b\r\n"
	    "\r\n");
	assert_request("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", &rw_plain,
	    "OPTIONS * HTTP/1.1\r\n"
	    "Host: a\r\n"
	    "X-Forwarded-For: 192.0.2.7\r\n"
	    "X-Real-IP: 192.0.2.7\r\n"
	    "X-Forwarded-Proto: http\r\n"
	    "X-Forwarded-Host: a\r\n"
	    "\r\n");
}

/* Upgrade crosses only when weir decided to upgrade. */
static void
test_request_upgrade(void **state)
{
	static const char s[] = "GET /ws HTTP/1.1\r\nHost: a\r\n"
	    "Connection: Upgrade\r\nUpgrade: websocket\r\n"
	    "Sec-WebSocket-Key: k\r\n\r\n";
	struct rewrite_req rw = rw_plain;

	(void)state;
	rw.upgrade = true;
	assert_request(s, &rw,
	    "GET /ws HTTP/1.1\r\n"
	    "Host: a\r\n"
	    "Sec-WebSocket-Key: k\r\n"
	    "X-Forwarded-For: 192.0.2.7\r\n"
	    "X-Real-IP: 192.0.2.7\r\n"
	    "X-Forwarded-Proto: http\r\n"
	    "X-Forwarded-Host: a\r\n"
	    "Connection: upgrade\r\n"
	    "Upgrade: websocket\r\n"
	    "\r\n");
	assert_request(s, &rw_plain,
	    "GET /ws HTTP/1.1\r\n"
	    "Host: a\r\n"
	    "Sec-WebSocket-Key: k\r\n"
	    "X-Forwarded-For: 192.0.2.7\r\n"
	    "X-Real-IP: 192.0.2.7\r\n"
	    "X-Forwarded-Proto: http\r\n"
	    "X-Forwarded-Host: a\r\n"
	    "\r\n");
}

/* Every size short of the full output fails; the full size fits. */
static void
test_request_fit(void **state)
{
	size_t full, cap;

	(void)state;
	parse_request("GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n\r\n");
	full = rewrite_request(out, sizeof(out), &msg, &req, &rw_plain);
	assert_true(full > 0);
	for (cap = 0; cap < full; cap++)
		assert_int_equal(rewrite_request(out, cap, &msg, &req,
		    &rw_plain), 0);
	assert_int_equal(rewrite_request(out, full, &msg, &req, &rw_plain),
	    full);
}

static const struct rewrite_resp rwr_plain = { .has_length = true,
    .length = 2, .keep_alive = true };

static void
test_response_basic(void **state)
{
	(void)state;
	parse_request("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_response("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
	    "Content-Length:  2 \r\nConnection: keep-alive, X-Hop\r\n"
	    "Keep-Alive: timeout=5\r\nX-Hop: 1\r\nTrailer: X-Sum\r\n"
	    "Set-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n", &rwr_plain,
	    "HTTP/1.1 200 OK\r\n"
	    "Content-Type: text/plain\r\n"
	    "Set-Cookie: a=1\r\n"
	    "Set-Cookie: b=2\r\n"
	    "Content-Length: 2\r\n"
	    "\r\n");
}

/* HTTP/1.0 backend, reason kept as received, or empty. */
static void
test_response_status_line(void **state)
{
	(void)state;
	parse_request("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_response("HTTP/1.0 404 Nicht  Gefunden\r\nContent-Length: 2\r\n"
	    "\r\n", &rwr_plain,
	    "HTTP/1.1 404 Nicht  Gefunden\r\nContent-Length: 2\r\n\r\n");
	assert_response("HTTP/1.1 200\r\nContent-Length: 2\r\n\r\n",
	    &rwr_plain, "HTTP/1.1 200 \r\nContent-Length: 2\r\n\r\n");
}

static void
test_response_connection(void **state)
{
	struct rewrite_resp rw = rwr_plain;

	(void)state;
	parse_request("GET / HTTP/1.0\r\n\r\n");
	rw.keep_alive = false;
	assert_response("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n", &rw,
	    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n"
	    "\r\n");
	rw.keep_alive = true;
	rw.client_http10 = true;
	assert_response("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n", &rw,
	    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
	    "Connection: keep-alive\r\n\r\n");
	/* A chunked backend body, re-framed for the client. */
	rw.has_length = false;
	rw.chunked = true;
	rw.client_http10 = false;
	parse_request("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_response("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
	    "Connection: close\r\n\r\n", &rw,
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
	/* EOF-framed for a 1.0 client: no framing header, then close. */
	rw.chunked = false;
	rw.keep_alive = false;
	assert_response("HTTP/1.1 200 OK\r\nX: y\r\n\r\n", &rw,
	    "HTTP/1.1 200 OK\r\nX: y\r\nConnection: close\r\n\r\n");
}

/* HEAD keeps the Content-Length the backend announced. */
static void
test_response_head(void **state)
{
	struct rewrite_resp rw = rwr_plain;

	(void)state;
	parse_request("HEAD / HTTP/1.1\r\nHost: a\r\n\r\n");
	rw.length = 1000;
	assert_response("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", &rw,
	    "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n");
}

/*
 * RFC 9110 8.6: a backend's Content-Length on a 204 is not forwarded,
 * although exchange.c plans it like a 304's (found by test/fuzz, corpus
 * file test/fuzz/corpus/response/204-content-length).
 */
static void
test_response_204(void **state)
{
	struct rewrite_resp rw = rwr_plain;

	(void)state;
	parse_request("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
	rw.has_length = true;
	rw.length = 2;
	assert_response("HTTP/1.1 204 OK\r\nContent-Length: 2\r\n\r\n", &rw,
	    "HTTP/1.1 204 OK\r\n\r\n");
	rw.keep_alive = false;
	assert_response("HTTP/1.1 204 OK\r\nContent-Length: 0\r\nA: b\r\n"
	    "\r\n", &rw, "HTTP/1.1 204 OK\r\nA: b\r\nConnection: close\r\n"
	    "\r\n");
	/* A 304 keeps it: the length the 200 would have had. */
	rw.keep_alive = true;
	assert_response("HTTP/1.1 304 Not Modified\r\nContent-Length: 2\r\n"
	    "\r\n", &rw, "HTTP/1.1 304 Not Modified\r\nContent-Length: 2\r\n"
	    "\r\n");
}

/* 1xx: status line and end-to-end fields only. */
static void
test_response_1xx(void **state)
{
	(void)state;
	parse_request("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n"
	    "Expect: 100-continue\r\n\r\n");
	assert_response("HTTP/1.1 100 Continue\r\nConnection: close\r\n\r\n",
	    &rwr_plain, "HTTP/1.1 100 Continue\r\n\r\n");
	assert_response("HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n",
	    &rwr_plain, "HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n");
}

static void
test_response_101(void **state)
{
	struct rewrite_resp rw = rwr_plain;

	(void)state;
	parse_request("GET /ws HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\n"
	    "Upgrade: websocket\r\n\r\n");
	rw.upgrade = true;
	rw.has_length = false;
	assert_response("HTTP/1.1 101 Switching Protocols\r\n"
	    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Accept: s\r\n\r\n", &rw,
	    "HTTP/1.1 101 Switching Protocols\r\n"
	    "Sec-WebSocket-Accept: s\r\n"
	    "Connection: upgrade\r\n"
	    "Upgrade: websocket\r\n"
	    "\r\n");
	/* Upgrade in an ordinary response is hop-by-hop: dropped. */
	rw = rwr_plain;
	assert_response("HTTP/1.1 200 OK\r\nUpgrade: h2c\r\n"
	    "Content-Length: 2\r\n\r\n", &rw,
	    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n");
}

static void
test_response_fit(void **state)
{
	size_t full, cap;

	(void)state;
	parse_request("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
	parse_response("HTTP/1.1 200 OK\r\nA: b\r\nContent-Length: 2\r\n\r\n");
	full = rewrite_response(out, sizeof(out), &rmsg, &resp, &rwr_plain);
	assert_true(full > 0);
	for (cap = 0; cap < full; cap++)
		assert_int_equal(rewrite_response(out, cap, &rmsg, &resp,
		    &rwr_plain), 0);
	assert_int_equal(rewrite_response(out, full, &rmsg, &resp,
	    &rwr_plain), full);
}

/* Tag the fields named name as alog.c does for the request id header. */
static void
tag(struct http_msg *m, const char *name)
{
	for (size_t i = 0; i < m->nheaders; i++)
		if (http_span_eq(m->headers[i].name, name))
			m->headers[i].id = HTTP_F_REQUEST_ID;
}

/*
 * Credentials basic authentication checked (worker/auth.c retags them):
 * dropped; an Authorization field left untagged goes on as it came.
 */
static void
test_credentials(void **state)
{
	static const char want_drop[] = "GET / HTTP/1.1\r\nHost: a\r\n"
	    "B: c\r\nX-Forwarded-For: 192.0.2.7\r\nX-Real-IP: 192.0.2.7\r\n"
	    "X-Forwarded-Proto: http\r\nX-Forwarded-Host: a\r\n\r\n";
	static const char want_keep[] = "GET / HTTP/1.1\r\nHost: a\r\n"
	    "Authorization: Basic YTpi\r\nB: c\r\n"
	    "X-Forwarded-For: 192.0.2.7\r\nX-Real-IP: 192.0.2.7\r\n"
	    "X-Forwarded-Proto: http\r\nX-Forwarded-Host: a\r\n\r\n";
	size_t n;

	(void)state;
	parse_request("GET / HTTP/1.1\r\nAuthorization: Basic YTpi\r\n"
	    "Host: a\r\nB: c\r\n\r\n");
	n = rewrite_request(out, sizeof(out), &msg, &req, &rw_plain);
	if (n != strlen(want_keep) || memcmp(out, want_keep, n) != 0)
		fail_msg("got:\n%.*s", (int)n, out);
	msg.headers[0].id = HTTP_F_CREDENTIALS;
	n = rewrite_request(out, sizeof(out), &msg, &req, &rw_plain);
	if (n != strlen(want_drop) || memcmp(out, want_drop, n) != 0)
		fail_msg("got:\n%.*s", (int)n, out);
}

/*
 * The request id: every incoming copy dropped, weir's one written after
 * X-Forwarded-Host, in requests and in final and 101 responses, not 1xx.
 */
static void
test_request_id(void **state)
{
	static const char want_req[] = "GET / HTTP/1.1\r\nHost: a\r\n"
	    "B: c\r\nX-Forwarded-For: 192.0.2.7\r\nX-Real-IP: 192.0.2.7\r\n"
	    "X-Forwarded-Proto: http\r\nX-Forwarded-Host: a\r\n"
	    "X-Request-Id: id-1\r\n\r\n";
	struct rewrite_req rw = rw_plain;
	struct rewrite_resp rr = rwr_plain;
	size_t n;

	(void)state;
	rw.reqid_name = (struct http_span){ "X-Request-Id", 12 };
	rw.reqid = (struct http_span){ "id-1", 4 };
	parse_request("GET / HTTP/1.1\r\nx-request-id: evil\r\nHost: a\r\n"
	    "B: c\r\nX-REQUEST-ID: twice\r\n\r\n");
	tag(&msg, "x-request-id");
	n = rewrite_request(out, sizeof(out), &msg, &req, &rw);
	if (n != strlen(want_req) || memcmp(out, want_req, n) != 0)
		fail_msg("got:\n%.*s", (int)n, out);

	rr.reqid_name = rw.reqid_name;
	rr.reqid = rw.reqid;
	parse_response("HTTP/1.1 200 OK\r\nX-Request-Id: backend\r\n"
	    "Content-Length: 2\r\n\r\n");
	tag(&rmsg, "x-request-id");
	n = rewrite_response(out, sizeof(out), &rmsg, &resp, &rr);
	assert_int_equal(n, strlen("HTTP/1.1 200 OK\r\nX-Request-Id: id-1\r\n"
	    "Content-Length: 2\r\n\r\n"));
	assert_memory_equal(out, "HTTP/1.1 200 OK\r\nX-Request-Id: id-1\r\n"
	    "Content-Length: 2\r\n\r\n", n);
	/* An interim response carries none. */
	parse_request("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n"
	    "Expect: 100-continue\r\n\r\n");
	assert_response("HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n",
	    &rr, "HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n");
}

/*
 * The largest head a frontend accepts still fits the upstream buffer with
 * the request id added (worker.c: twice the head plus 4 KiB): a Host that
 * fills a 64 KiB head, X-Forwarded-* from IPv6 peers, a 128-byte id under
 * a 64-byte name.
 */
static void
test_request_id_fits(void **state)
{
	enum { HEAD = 64 * 1024, CAP = 2 * HEAD + 4 * 1024 };
	static char in[HEAD + 1], big[CAP];
	static const char name[] = "X-0123456789012345678901234567890123456789"
	    "0123456789012345678901";
	char id[129];
	struct rewrite_req rw = rw_plain;
	size_t len;

	(void)state;
	memset(id, 'i', 128);
	id[128] = '\0';
	len = (size_t)snprintf(in, sizeof(in), "GET / HTTP/1.1\r\n"
	    "X-Request-Id: %s\r\nHost: ", id);
	memset(in + len, 'h', HEAD - len - 4);
	memcpy(in + HEAD - 4, "\r\n\r\n", 4);
	in[HEAD] = '\0';
	parse_request(in);
	rw.client_ip = rw.real_ip =
	    "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255";
	rw.reqid_name = (struct http_span){ name, sizeof(name) - 1 };
	rw.reqid = (struct http_span){ id, 128 };
	assert_int_equal(sizeof(name) - 1, 64);
	assert_true(rewrite_request(big, sizeof(big), &msg, &req, &rw) > 0);
}

/* Rules from "op Name: value" / "del Name" strings, joined into *l. */
static size_t
rules_of(struct hdrrule *r, const char *const *specs, bool request,
    const char *reqid_name, struct hdrrule_list **l)
{
	char why[160], buf[256], *colon;
	size_t n;

	for (n = 0; specs[n] != NULL; n++) {
		snprintf(buf, sizeof(buf), "%s", specs[n] + 4);
		colon = strchr(buf, ':');
		if (colon != NULL)
			*colon = '\0';
		if (hdrrule_compile(&r[n], specs[n][0] == 's' ? HDRRULE_SET :
		    specs[n][0] == 'a' ? HDRRULE_ADD : HDRRULE_DEL, buf,
		    colon != NULL ? colon + 2 : NULL, why, sizeof(why)) != 0)
			fail_msg("%s: %s", specs[n], why);
	}
	assert_int_equal(hdrrule_join(l, r, n, NULL, 0, request, reqid_name),
	    0);
	return n;
}

static void
rules_free(struct hdrrule *r, size_t n, struct hdrrule_list *l)
{
	hdrrule_list_free(l);
	while (n > 0)
		hdrrule_free(&r[--n]);
}

/*
 * Request rules on the forwarded head: a client's fields removed by name
 * whatever their case, weir's own lines replaced or removed, set Host in
 * place of the Host line (X-Forwarded-Host keeps the client's), added
 * lines with their variables after weir's and before the framing.
 */
static void
test_request_rules(void **state)
{
	struct hdrrule r[8];
	struct hdrrule_list *l;
	struct rewrite_req rw = rw_plain;
	size_t n = rules_of(r, (const char *const[]){ "del x-drop",
	    "set Host: backend.internal", "set X-Real-IP: <{client_ip}>",
	    "del X-Forwarded-Proto", "add X-Id: {request_id}@{host}",
	    "set X-Keep: new", NULL }, true, "X-Request-Id", &l);

	(void)state;
	rw.rules = l;
	rw.real_ip = "198.51.100.2";
	rw.reqid_name = (struct http_span){ "X-Request-Id", 12 };
	rw.reqid = (struct http_span){ "id-1", 4 };
	rw.has_length = true;
	rw.length = 2;
	assert_request("POST /p HTTP/1.1\r\nHost: a.example\r\n"
	    "X-DROP: 1\r\nX-Keep: old\r\nB: c\r\nx-drop: 2\r\n"
	    "Content-Length: 2\r\n\r\n", &rw,
	    "POST /p HTTP/1.1\r\n"
	    "Host: backend.internal\r\n"
	    "B: c\r\n"
	    "X-Forwarded-For: 192.0.2.7\r\n"
	    "X-Forwarded-Host: a.example\r\n"
	    "X-Request-Id: id-1\r\n"
	    "X-Real-IP: <198.51.100.2>\r\n"
	    "X-Id: id-1@a.example\r\n"
	    "X-Keep: new\r\n"
	    "Content-Length: 2\r\n"
	    "\r\n");
	rules_free(r, n, l);
	/* del of the request id header and of X-Forwarded-For: no line. */
	n = rules_of(r, (const char *const[]){ "del x-request-id",
	    "del X-Forwarded-For", "del X-Forwarded-Host", NULL }, true,
	    "x-request-id", &l);
	rw = rw_plain;
	rw.rules = l;
	rw.reqid_name = (struct http_span){ "X-Request-Id", 12 };
	rw.reqid = (struct http_span){ "id-1", 4 };
	assert_request("GET / HTTP/1.1\r\nHost: a\r\n\r\n", &rw,
	    "GET / HTTP/1.1\r\nHost: a\r\nX-Real-IP: 192.0.2.7\r\n"
	    "X-Forwarded-Proto: http\r\n\r\n");
	rules_free(r, n, l);
}

/* Lines the rules add that do not fit make the head not fit. */
static void
test_request_rules_fit(void **state)
{
	struct hdrrule r[4];
	struct hdrrule_list *l;
	struct rewrite_req rw = rw_plain;
	size_t n = rules_of(r, (const char *const[]){ "add X-H: {host}",
	    NULL }, true, NULL, &l), full;

	(void)state;
	rw.rules = l;
	parse_request("GET / HTTP/1.1\r\nHost: host.example\r\n\r\n");
	full = rewrite_request(out, sizeof(out), &msg, &req, &rw);
	assert_true(full > 0);
	assert_int_equal(rewrite_request(out, full - 1, &msg, &req, &rw), 0);
	assert_int_equal(rewrite_request(out, full - 5, &msg, &req, &rw), 0);
	rules_free(r, n, l);
}

/*
 * Response rules apply to final heads and 101 (weir's request id line
 * included), never to an interim 1xx.
 */
static void
test_response_rules(void **state)
{
	struct hdrrule r[8];
	struct hdrrule_list *l;
	struct rewrite_resp rr = rwr_plain;
	size_t n = rules_of(r, (const char *const[]){ "del server",
	    "set Cache-Control: no-store", "add X-Client: {client_ip}",
	    "del X-Request-Id", "add X-Seen: {request_id} {host}", NULL },
	    false, "X-Request-Id", &l);

	(void)state;
	rr.rules = l;
	rr.vars = &(const struct hdrrule_vars){
		.client_ip = { "203.0.113.5", 11 },
		.request_id = { "id-1", 4 },
		.host = { "h.example", 9 },
	};
	rr.reqid_name = (struct http_span){ "X-Request-Id", 12 };
	rr.reqid = (struct http_span){ "id-1", 4 };
	rr.has_length = true;
	rr.length = 2;
	parse_request("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_response("HTTP/1.1 200 OK\r\nServer: x\r\n"
	    "cache-control: max-age=60\r\nX-App: 1\r\nSERVER: y\r\n"
	    "Content-Length: 2\r\n\r\n", &rr,
	    "HTTP/1.1 200 OK\r\n"
	    "X-App: 1\r\n"
	    "Cache-Control: no-store\r\n"
	    "X-Client: 203.0.113.5\r\n"
	    "X-Seen: id-1 h.example\r\n"
	    "Content-Length: 2\r\n"
	    "\r\n");
	parse_request("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n"
	    "Expect: 100-continue\r\n\r\n");
	assert_response("HTTP/1.1 103 Early Hints\r\nServer: x\r\n\r\n",
	    &rr, "HTTP/1.1 103 Early Hints\r\nServer: x\r\n\r\n");
	rules_free(r, n, l);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_basic),
		cmocka_unit_test(test_request_hop_by_hop),
		cmocka_unit_test(test_request_xff),
		cmocka_unit_test(test_request_xff_hop),
		cmocka_unit_test(test_request_xff_untrusted),
		cmocka_unit_test(test_request_underscore),
		cmocka_unit_test(test_request_upgrade_allow),
		cmocka_unit_test(test_request_framing),
		cmocka_unit_test(test_request_forms),
		cmocka_unit_test(test_request_upgrade),
		cmocka_unit_test(test_request_fit),
		cmocka_unit_test(test_response_basic),
		cmocka_unit_test(test_response_status_line),
		cmocka_unit_test(test_response_connection),
		cmocka_unit_test(test_response_head),
		cmocka_unit_test(test_response_204),
		cmocka_unit_test(test_response_1xx),
		cmocka_unit_test(test_response_101),
		cmocka_unit_test(test_response_fit),
		cmocka_unit_test(test_credentials),
		cmocka_unit_test(test_request_id),
		cmocka_unit_test(test_request_id_fits),
		cmocka_unit_test(test_request_rules),
		cmocka_unit_test(test_request_rules_fit),
		cmocka_unit_test(test_response_rules),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
