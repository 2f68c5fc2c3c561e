/* Tests for http/scan.c: head boundaries, limits, every byte rejection. */
#include "autoconf.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "http/http.h"

#define BIG 65536

/* A literal with its length, so embedded NULs count. */
#define LIT(s) s, sizeof(s) - 1

static enum scan_result
scan(const char *s, size_t len, size_t max, size_t *skipped, size_t *head_len)
{
	const char *why = NULL;
	enum scan_result r;

	r = scan_head(s, len, max, skipped, head_len, &why);
	if (r == SCAN_BAD || r == SCAN_TOO_LARGE)
		assert_non_null(why);
	return r;
}

static void
test_complete(void **state)
{
	static const char req[] = "GET / HTTP/1.1\r\nHost: a\r\nX-Y: z\r\n\r\n";
	size_t skipped = 99, hl = 0;

	(void)state;
	assert_int_equal(scan(LIT(req), BIG, &skipped, &hl), SCAN_OK);
	assert_int_equal(skipped, 0);
	assert_int_equal(hl, sizeof(req) - 1);
}

/* The head ends at the blank line; body bytes after it are not part of it. */
static void
test_body_after_head(void **state)
{
	static const char req[] = "POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\n"
	    "\r\n\r\nX";
	size_t skipped, hl;

	(void)state;
	assert_int_equal(scan(LIT(req), BIG, &skipped, &hl), SCAN_OK);
	assert_int_equal(hl, sizeof(req) - 1 - 5);
}

static void
test_no_fields(void **state)
{
	static const char req[] = "GET / HTTP/1.0\r\n\r\n";
	size_t skipped, hl;

	(void)state;
	assert_int_equal(scan(LIT(req), BIG, &skipped, &hl), SCAN_OK);
	assert_int_equal(hl, sizeof(req) - 1);
}

/* Every proper prefix is incomplete, the whole is complete. */
static void
test_byte_by_byte(void **state)
{
	static const char req[] = "\r\nGET /a?b HTTP/1.1\r\nHost: a\r\n"
	    "Empty:\r\nTab:\tv\t\r\n\r\n";
	size_t i, skipped, hl;

	(void)state;
	for (i = 0; i < sizeof(req) - 1; i++)
		assert_int_equal(scan(req, i, BIG, &skipped, &hl),
		    SCAN_INCOMPLETE);
	assert_int_equal(scan(LIT(req), BIG, &skipped, &hl), SCAN_OK);
	assert_int_equal(skipped, 2);
	assert_int_equal(hl, sizeof(req) - 1 - 2);
}

static void
test_skipped(void **state)
{
	static const char req[] = "\r\n\r\n\r\nGET / HTTP/1.1\r\n"
	    "Host: a\r\n\r\n";
	size_t skipped, hl;

	(void)state;
	assert_int_equal(scan(LIT(req), BIG, &skipped, &hl), SCAN_OK);
	assert_int_equal(skipped, 6);
	assert_int_equal(hl, sizeof(req) - 1 - 6);
	assert_memory_equal(req + skipped, "GET ", 4);
	/* Only empty lines so far: keep waiting. */
	assert_int_equal(scan(req, 6, BIG, &skipped, &hl), SCAN_INCOMPLETE);
	assert_int_equal(scan(req, 5, BIG, &skipped, &hl), SCAN_INCOMPLETE);
}

/* A head of exactly max bytes fits; one byte more does not. */
static void
test_limit(void **state)
{
	static const char req[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
	size_t n = sizeof(req) - 1, skipped, hl;

	(void)state;
	assert_int_equal(scan(req, n, n, &skipped, &hl), SCAN_OK);
	assert_int_equal(scan(req, n, n - 1, &skipped, &hl), SCAN_TOO_LARGE);
	/* Under the limit and incomplete: wait. At the limit: give up. */
	assert_int_equal(scan(req, n - 2, n - 1, &skipped, &hl),
	    SCAN_INCOMPLETE);
	assert_int_equal(scan(req, n - 1, n - 1, &skipped, &hl),
	    SCAN_TOO_LARGE);
}

/* Leading empty lines count toward the limit. */
static void
test_limit_skipped(void **state)
{
	char buf[256];
	static const char req[] = "GET / HTTP/1.1\r\n\r\n";
	size_t i, skipped, hl;

	(void)state;
	for (i = 0; i < 200; i += 2)
		memcpy(buf + i, "\r\n", 2);
	memcpy(buf + 200, req, sizeof(req) - 1);
	assert_int_equal(scan(buf, 200 + sizeof(req) - 1, 100, &skipped, &hl),
	    SCAN_TOO_LARGE);
	assert_int_equal(scan(buf, 200 + sizeof(req) - 1, 256, &skipped, &hl),
	    SCAN_OK);
	assert_int_equal(skipped, 200);
}

/* A long request line with no end: too large, not waiting forever. */
static void
test_limit_long_line(void **state)
{
	char buf[1000];
	size_t skipped, hl;

	(void)state;
	memset(buf, 'a', sizeof(buf));
	memcpy(buf, "GET /", 5);
	assert_int_equal(scan(buf, sizeof(buf), 512, &skipped, &hl),
	    SCAN_TOO_LARGE);
	assert_int_equal(scan(buf, 511, 512, &skipped, &hl), SCAN_INCOMPLETE);
}

struct bad_case {
	const char *name;
	const char *s;
	size_t len;
};

#define BAD(n, s) { n, s, sizeof(s) - 1 }

static const struct bad_case bad_cases[] = {
	BAD("bare CR in field line", "GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n"),
	BAD("bare CR in name", "GET / HTTP/1.1\r\nHo\rst: a\r\n\r\n"),
	BAD("bare CR in start line", "GET /\r HTTP/1.1\r\nHost: a\r\n\r\n"),
	BAD("CR CR LF", "GET / HTTP/1.1\r\nHost: a\r\r\n\r\n"),
	BAD("bare LF in field line", "GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n"),
	BAD("bare LF ends start line", "GET / HTTP/1.1\nHost: a\r\n\r\n"),
	BAD("bare LF ends head", "GET / HTTP/1.1\r\nHost: a\r\n\n"),
	BAD("LF-only head", "GET / HTTP/1.1\n\n"),
	BAD("CRLF CR + byte", "GET / HTTP/1.1\r\nHost: a\r\n\rX"),
	BAD("CRLF CR + CR", "GET / HTTP/1.1\r\nHost: a\r\n\r\r\n"),
	BAD("leading bare LF", "\nGET / HTTP/1.1\r\n\r\n"),
	BAD("leading bare CR", "\r\r\nGET / HTTP/1.1\r\n\r\n"),
	BAD("NUL in value", "GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n"),
	BAD("NUL in name", "GET / HTTP/1.1\r\nHo\0st: a\r\n\r\n"),
	BAD("NUL in start line", "GET /\0 HTTP/1.1\r\n\r\n"),
	BAD("SOH in value", "GET / HTTP/1.1\r\nX: a\x01\r\n\r\n"),
	BAD("VT in value", "GET / HTTP/1.1\r\nX: a\x0b\r\n\r\n"),
	BAD("FF in value", "GET / HTTP/1.1\r\nX: a\x0c\r\n\r\n"),
	BAD("ESC in value", "GET / HTTP/1.1\r\nX: a\x1b[0m\r\n\r\n"),
	BAD("US in value", "GET / HTTP/1.1\r\nX: \x1f\r\n\r\n"),
	BAD("DEL in value", "GET / HTTP/1.1\r\nX: a\x7f\r\n\r\n"),
	BAD("DEL in name", "GET / HTTP/1.1\r\nX\x7f: a\r\n\r\n"),
	BAD("DEL in start line", "GET /\x7f HTTP/1.1\r\n\r\n"),
	BAD("HTAB in start line", "GET\t/ HTTP/1.1\r\n\r\n"),
	BAD("high byte in start line", "GET /\xc3\xa9 HTTP/1.1\r\n\r\n"),
	BAD("obs-fold SP", "GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n"),
	BAD("obs-fold HTAB", "GET / HTTP/1.1\r\nX: a\r\n\tb\r\n\r\n"),
	BAD("obs-fold of TE", "GET / HTTP/1.1\r\nTransfer-Encoding:\r\n"
	    " chunked\r\n\r\n"),
	BAD("SP before first field", "GET / HTTP/1.1\r\n Host: a\r\n\r\n"),
	BAD("SP before colon", "GET / HTTP/1.1\r\nTransfer-Encoding : "
	    "chunked\r\n\r\n"),
	BAD("HTAB before colon", "GET / HTTP/1.1\r\nContent-Length\t: 5\r\n"
	    "\r\n"),
	BAD("SP in name", "GET / HTTP/1.1\r\nFoo Bar: x\r\n\r\n"),
	BAD("empty name", "GET / HTTP/1.1\r\n: x\r\n\r\n"),
	BAD("line without colon", "GET / HTTP/1.1\r\nHost a\r\n\r\n"),
	BAD("name ( ", "GET / HTTP/1.1\r\nX(a): b\r\n\r\n"),
	BAD("name )", "GET / HTTP/1.1\r\nX)a: b\r\n\r\n"),
	BAD("name ,", "GET / HTTP/1.1\r\nX,a: b\r\n\r\n"),
	BAD("name /", "GET / HTTP/1.1\r\nX/a: b\r\n\r\n"),
	BAD("name ;", "GET / HTTP/1.1\r\nX;a: b\r\n\r\n"),
	BAD("name <", "GET / HTTP/1.1\r\nX<a: b\r\n\r\n"),
	BAD("name =", "GET / HTTP/1.1\r\nX=a: b\r\n\r\n"),
	BAD("name >", "GET / HTTP/1.1\r\nX>a: b\r\n\r\n"),
	BAD("name ?", "GET / HTTP/1.1\r\nX?a: b\r\n\r\n"),
	BAD("name @", "GET / HTTP/1.1\r\nX@a: b\r\n\r\n"),
	BAD("name [", "GET / HTTP/1.1\r\nX[a: b\r\n\r\n"),
	BAD("name backslash", "GET / HTTP/1.1\r\nX\\a: b\r\n\r\n"),
	BAD("name ]", "GET / HTTP/1.1\r\nX]a: b\r\n\r\n"),
	BAD("name {", "GET / HTTP/1.1\r\nX{a: b\r\n\r\n"),
	BAD("name }", "GET / HTTP/1.1\r\nX}a: b\r\n\r\n"),
	BAD("name quote", "GET / HTTP/1.1\r\nX\"a: b\r\n\r\n"),
	BAD("name high byte", "GET / HTTP/1.1\r\nX\xe9: b\r\n\r\n"),
	BAD("name UTF-8", "GET / HTTP/1.1\r\nHo\xc3\xa9st: b\r\n\r\n"),
};

static void
test_bad_cases(void **state)
{
	size_t i, skipped, hl;

	(void)state;
	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		if (scan(bad_cases[i].s, bad_cases[i].len, BIG, &skipped,
		    &hl) != SCAN_BAD)
			fail_msg("not rejected: %s", bad_cases[i].name);
	}
}

/* A bad byte is reported without waiting for the end of its line. */
static void
test_bad_early(void **state)
{
	size_t skipped, hl;

	(void)state;
	assert_int_equal(scan(LIT("GET /\0"), BIG, &skipped, &hl), SCAN_BAD);
	assert_int_equal(scan(LIT("GET / HTTP/1.1\n"), BIG, &skipped, &hl),
	    SCAN_BAD);
	assert_int_equal(scan(LIT("GET / HTTP/1.1\r\nHost: a\rb"), BIG,
	    &skipped, &hl), SCAN_BAD);
	assert_int_equal(scan(LIT("GET / HTTP/1.1\r\nTransfer-Encoding "),
	    BIG, &skipped, &hl), SCAN_BAD);
	assert_int_equal(scan(LIT("GET / HTTP/1.1\r\nX: a\r\n "), BIG,
	    &skipped, &hl), SCAN_BAD);
	/* A CR at the very end may still be followed by LF. */
	assert_int_equal(scan(LIT("GET / HTTP/1.1\r\nHost: a\r"), BIG,
	    &skipped, &hl), SCAN_INCOMPLETE);
}

/* obs-text, HTAB and every visible byte are fine inside a value. */
static void
test_value_bytes(void **state)
{
	static const char req[] = "GET / HTTP/1.1\r\nX-Name: caf\xc3\xa9 \xff"
	    "\x80\tq=\"a,b\" (c) <d> {e}:;@[]\\/?=\r\n\r\n";
	size_t skipped, hl;

	(void)state;
	assert_int_equal(scan(LIT(req), BIG, &skipped, &hl), SCAN_OK);
	assert_int_equal(hl, sizeof(req) - 1);
}

static bool
is_tchar(int c)
{
	return c > 0x20 && c < 0x7f && strchr("\"(),/:;<=>?@[\\]{}", c) == NULL;
}

/* Every byte in a name, a value and the start line, against the RFC sets. */
static void
test_all_bytes(void **state)
{
	char buf[64];
	size_t skipped, hl, n;
	enum scan_result r;
	int c;

	(void)state;
	for (c = 0; c < 256; c++) {
		n = (size_t)snprintf(buf, sizeof(buf),
		    "GET / HTTP/1.1\r\nAxB: v\r\n\r\n");
		buf[17] = (char)c;
		r = scan(buf, n, BIG, &skipped, &hl);
		if ((r == SCAN_OK) != (is_tchar(c) || c == ':'))
			fail_msg("name byte 0x%02x: %d", c, r);
		buf[17] = 'x';
		buf[21] = (char)c;
		r = scan(buf, n, BIG, &skipped, &hl);
		if ((r == SCAN_OK) != (c == '\t' || (c >= 0x20 && c != 0x7f)))
			fail_msg("value byte 0x%02x: %d", c, r);
		buf[21] = 'v';
		buf[4] = (char)c;
		r = scan(buf, n, BIG, &skipped, &hl);
		if ((r == SCAN_OK) != (c >= 0x20 && c < 0x7f))
			fail_msg("start line byte 0x%02x: %d", c, r);
	}
}

/* Status lines go through the same rules. */
static void
test_response(void **state)
{
	static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
	size_t skipped, hl;

	(void)state;
	assert_int_equal(scan(LIT(ok), BIG, &skipped, &hl), SCAN_OK);
	assert_int_equal(hl, sizeof(ok) - 1);
	assert_int_equal(scan(LIT("HTTP/1.1 200 OK\r\nContent-Length: 0\n\n"),
	    BIG, &skipped, &hl), SCAN_BAD);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_complete),
		cmocka_unit_test(test_body_after_head),
		cmocka_unit_test(test_no_fields),
		cmocka_unit_test(test_byte_by_byte),
		cmocka_unit_test(test_skipped),
		cmocka_unit_test(test_limit),
		cmocka_unit_test(test_limit_skipped),
		cmocka_unit_test(test_limit_long_line),
		cmocka_unit_test(test_bad_cases),
		cmocka_unit_test(test_bad_early),
		cmocka_unit_test(test_value_bytes),
		cmocka_unit_test(test_all_bytes),
		cmocka_unit_test(test_response),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
