/* Tests for http/parser.c: start line and fields, error statuses. */
#include "autoconf.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "http/http.h"

static struct http_msg msg;

/* Scan then tokenize s as the worker does; returns parser_head's status. */
static int
parse(const char *s, enum parser_kind kind)
{
	size_t len = strlen(s), skipped, hl;
	const char *why = NULL;
	int r;

	if (scan_head(s, len, 1 << 20, &skipped, &hl, &why) != SCAN_OK)
		fail_msg("scan_head refused: %s", why);
	memset(&msg, 0xa5, sizeof(msg));
	msg.skipped = skipped;
	r = parser_head(s + skipped, hl, kind, &msg, &why);
	if (r != 0)
		assert_non_null(why);
	return r;
}

static void
assert_span(struct http_span s, const char *want)
{
	if (s.len != strlen(want) || memcmp(s.p, want, s.len) != 0)
		fail_msg("got \"%.*s\", want \"%s\"", (int)s.len, s.p, want);
}

static void
test_request(void **state)
{
	static const char req[] = "GET /index.html?x=1&y HTTP/1.1\r\n"
	    "Host: example.com\r\n"
	    "X-Pad: \t padded  value \t \r\n"
	    "Empty:\r\n"
	    "Blank:   \r\n"
	    "obs: caf\xc3\xa9\r\n"
	    "\r\n";

	(void)state;
	assert_int_equal(parse(req, PARSER_REQUEST), 0);
	assert_int_equal(msg.method, HTTP_M_GET);
	assert_span(msg.method_name, "GET");
	assert_span(msg.target, "/index.html?x=1&y");
	assert_int_equal(msg.version_major, 1);
	assert_int_equal(msg.version_minor, 1);
	assert_int_equal(msg.head_len, sizeof(req) - 1);
	assert_int_equal(msg.skipped, 0);
	assert_int_equal(msg.nheaders, 5);
	assert_span(msg.headers[0].name, "Host");
	assert_span(msg.headers[0].value, "example.com");
	assert_span(msg.headers[1].name, "X-Pad");
	assert_span(msg.headers[1].value, "padded  value");
	assert_span(msg.headers[2].name, "Empty");
	assert_int_equal(msg.headers[2].value.len, 0);
	assert_int_equal(msg.headers[3].value.len, 0);
	assert_span(msg.headers[4].value, "caf\xc3\xa9");
	/* Spans point into the buffer. */
	assert_ptr_equal(msg.method_name.p, req);
}

static void
test_request_skipped(void **state)
{
	static const char req[] = "\r\n\r\nPOST /a HTTP/1.0\r\n\r\n";

	(void)state;
	assert_int_equal(parse(req, PARSER_REQUEST), 0);
	assert_int_equal(msg.skipped, 4);
	assert_int_equal(msg.method, HTTP_M_POST);
	assert_int_equal(msg.version_minor, 0);
	assert_int_equal(msg.nheaders, 0);
	assert_ptr_equal(msg.method_name.p, req + 4);
}

static void
test_methods(void **state)
{
	static const struct {
		const char *name;
		enum http_method m;
	} cases[] = {
		{ "GET", HTTP_M_GET }, { "HEAD", HTTP_M_HEAD },
		{ "POST", HTTP_M_POST }, { "PUT", HTTP_M_PUT },
		{ "DELETE", HTTP_M_DELETE }, { "OPTIONS", HTTP_M_OPTIONS },
		{ "TRACE", HTTP_M_TRACE }, { "PATCH", HTTP_M_PATCH },
		{ "PROPFIND", HTTP_M_OTHER }, { "M-SEARCH", HTTP_M_OTHER },
		{ "PURGE", HTTP_M_OTHER },
	};
	char buf[128];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(buf, sizeof(buf), "%s /x HTTP/1.1\r\nHost: a\r\n\r\n",
		    cases[i].name);
		assert_int_equal(parse(buf, PARSER_REQUEST), 0);
		assert_int_equal(msg.method, cases[i].m);
		assert_span(msg.method_name, cases[i].name);
		assert_span(msg.target, "/x");
	}
	assert_int_equal(parse("CONNECT a.example:443 HTTP/1.1\r\n"
	    "Host: a.example:443\r\n\r\n", PARSER_REQUEST), 0);
	assert_int_equal(msg.method, HTTP_M_CONNECT);
	assert_span(msg.target, "a.example:443");
	assert_int_equal(parse("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
	    PARSER_REQUEST), 0);
	assert_span(msg.target, "*");
}

static void
test_unknown_method(void **state)
{
	(void)state;
	assert_int_equal(parse("FOO / HTTP/1.1\r\nHost: a\r\n\r\n",
	    PARSER_REQUEST), 501);
	assert_int_equal(parse("get / HTTP/1.1\r\nHost: a\r\n\r\n",
	    PARSER_REQUEST), 501);
	assert_int_equal(parse("GETS / HTTP/1.1\r\nHost: a\r\n\r\n",
	    PARSER_REQUEST), 501);
}

static void
test_versions(void **state)
{
	(void)state;
	assert_int_equal(parse("GET / HTTP/1.0\r\n\r\n", PARSER_REQUEST), 0);
	assert_int_equal(msg.version_minor, 0);
	assert_int_equal(parse("GET / HTTP/2.0\r\n\r\n", PARSER_REQUEST), 505);
	assert_int_equal(parse("GET / HTTP/1.2\r\n\r\n", PARSER_REQUEST), 505);
	assert_int_equal(parse("GET / HTTP/0.9\r\n\r\n", PARSER_REQUEST), 505);
	assert_int_equal(parse("GET / HTTP/3.0\r\n\r\n", PARSER_REQUEST), 505);
}

static void
test_garbage(void **state)
{
	static const char *const cases[] = {
		"GET / HTTP/x.1\r\n\r\n",
		"GET / HTTP/10.0\r\n\r\n",
		"GET / HTTP/1.10\r\n\r\n",
		"GET / HTTP/1\r\n\r\n",
		"GET / http/1.1\r\n\r\n",
		"GET / HTTPS/1.1\r\n\r\n",
		"GET /\r\n\r\n",
		"GET  / HTTP/1.1\r\n\r\n",
		"GET /  HTTP/1.1\r\n\r\n",
		"GET / HTTP/1.1 \r\n\r\n",
		"GET / HTTP/1.1 x\r\n\r\n",
		"GET  HTTP/1.1\r\n\r\n",
		"GET a b HTTP/1.1\r\n\r\n",
	};
	size_t i;
	int r;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		r = parse(cases[i], PARSER_REQUEST);
		if (r != 400)
			fail_msg("%s: got %d, want 400", cases[i], r);
	}
}

/* Build a head with n fields (into a static buffer). */
static const char *
many_fields(const char *start, size_t n)
{
	static char buf[8192];
	size_t i, off;

	off = (size_t)snprintf(buf, sizeof(buf), "%s\r\n", start);
	for (i = 0; i < n && off < sizeof(buf); i++)
		off += (size_t)snprintf(buf + off, sizeof(buf) - off,
		    "X-%zu: v\r\n", i);
	assert_true(off + 3 < sizeof(buf));
	memcpy(buf + off, "\r\n", 3);
	return buf;
}

static void
test_too_many_fields(void **state)
{
	const char *s;

	(void)state;
	s = many_fields("GET / HTTP/1.1", HTTP_MAX_HEADERS);
	assert_int_equal(parse(s, PARSER_REQUEST), 0);
	assert_int_equal(msg.nheaders, HTTP_MAX_HEADERS);
	assert_span(msg.headers[HTTP_MAX_HEADERS - 1].name, "X-127");
	s = many_fields("GET / HTTP/1.1", HTTP_MAX_HEADERS + 1);
	assert_int_equal(parse(s, PARSER_REQUEST), 431);
	s = many_fields("HTTP/1.1 200 OK", HTTP_MAX_HEADERS + 1);
	assert_int_equal(parse(s, PARSER_RESPONSE), 502);
}

static void
test_response(void **state)
{
	static const char resp[] = "HTTP/1.1 404 Not Found Here\r\n"
	    "Content-Length: 3 \r\n\r\n";

	(void)state;
	assert_int_equal(parse(resp, PARSER_RESPONSE), 0);
	assert_int_equal(msg.status, 404);
	assert_span(msg.reason, "Not Found Here");
	assert_int_equal(msg.version_minor, 1);
	assert_int_equal(msg.nheaders, 1);
	assert_span(msg.headers[0].value, "3");
	assert_int_equal(msg.head_len, sizeof(resp) - 1);

	assert_int_equal(parse("HTTP/1.0 200 OK\r\n\r\n", PARSER_RESPONSE), 0);
	assert_int_equal(msg.version_minor, 0);
	assert_span(msg.reason, "OK");
	assert_int_equal(parse("HTTP/1.1 204\r\n\r\n", PARSER_RESPONSE), 0);
	assert_int_equal(msg.status, 204);
	assert_int_equal(msg.reason.len, 0);
	assert_int_equal(parse("HTTP/1.1 204 \r\n\r\n", PARSER_RESPONSE), 0);
	assert_int_equal(msg.reason.len, 0);
	assert_int_equal(parse("HTTP/1.1 100 Continue\r\n\r\n",
	    PARSER_RESPONSE), 0);
	assert_int_equal(msg.status, 100);
	assert_int_equal(parse("HTTP/1.1 999 Odd\r\n\r\n", PARSER_RESPONSE), 0);
	assert_int_equal(msg.status, 999);
}

/* The tokenizer accepts these status lines; weir does not. */
static void
test_response_bad(void **state)
{
	static const char *const cases[] = {
		"HTTP/1.1 20 OK\r\n\r\n",
		"HTTP/1.1 2000 OK\r\n\r\n",
		"HTTP/1.1 0200 OK\r\n\r\n",
		"HTTP/1.1 099 Low\r\n\r\n",
		"HTTP/1.1 000 Zero\r\n\r\n",
		"HTTP/1.1  200 OK\r\n\r\n",
		"HTTP/1.1 200OK\r\n\r\n",
		"HTTP/1.1 abc OK\r\n\r\n",
		"HTTP/1.1 -20 OK\r\n\r\n",
		"HTTP/1.1 +20 OK\r\n\r\n",
		"HTTP/1.1\r\n\r\n",
		"HTTP/2.0 200 OK\r\n\r\n",
		"HTTP/1.2 200 OK\r\n\r\n",
		"HTTP/0.9 200 OK\r\n\r\n",
		"http/1.1 200 OK\r\n\r\n",
		"ICY 200 OK\r\n\r\n",
		"GET / HTTP/1.1\r\n\r\n",
	};
	size_t i;
	int r;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		r = parse(cases[i], PARSER_RESPONSE);
		if (r != 502)
			fail_msg("%s: got %d, want 502", cases[i], r);
	}
}

/* A request line is not a response and vice versa. */
static void
test_kind_mismatch(void **state)
{
	(void)state;
	assert_int_not_equal(parse("HTTP/1.1 200 OK\r\n\r\n", PARSER_REQUEST),
	    0);
}

/* Successive calls do not leak state from one message to the next. */
static void
test_fresh_state(void **state)
{
	(void)state;
	assert_int_equal(parse("FOO / HTTP/1.1\r\n\r\n", PARSER_REQUEST), 501);
	assert_int_equal(parse("PUT /b HTTP/1.1\r\nA: 1\r\n\r\n",
	    PARSER_REQUEST), 0);
	assert_int_equal(msg.method, HTTP_M_PUT);
	assert_int_equal(msg.nheaders, 1);
	assert_int_equal(parse("GET /c HTTP/1.1\r\n\r\n", PARSER_REQUEST), 0);
	assert_int_equal(msg.nheaders, 0);
	assert_span(msg.target, "/c");
}

static void
test_version_string(void **state)
{
	(void)state;
	assert_int_equal(strncmp(parser_version(), "http-parser 2.", 14), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request),
		cmocka_unit_test(test_request_skipped),
		cmocka_unit_test(test_methods),
		cmocka_unit_test(test_unknown_method),
		cmocka_unit_test(test_versions),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_too_many_fields),
		cmocka_unit_test(test_response),
		cmocka_unit_test(test_response_bad),
		cmocka_unit_test(test_kind_mismatch),
		cmocka_unit_test(test_fresh_state),
		cmocka_unit_test(test_version_string),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
