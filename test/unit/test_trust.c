/* Unit tests for http/trust.c and common/cidr.c: CIDR matching, the XFF walk. */
#include "autoconf.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "common/cidr.h"
#include "http/trust.h"

static struct cidr blocks[8];
static size_t nblocks;

/* Parse a comma-free list of blocks given as separate strings. */
static void
set_trusted(const char *const *v, size_t n)
{
	const char *why;

	nblocks = 0;
	for (size_t i = 0; i < n; i++)
		assert_int_equal(cidr_parse(v[i], &blocks[nblocks++], &why), 0);
}

static bool
match(const char *ip)
{
	struct sockaddr_storage ss;

	assert_true(trust_parse_ip(ip, strlen(ip), &ss));
	return cidr_match(blocks, nblocks, (struct sockaddr *)&ss);
}

static void
test_cidr_parse(void **state)
{
	struct cidr c;
	const char *why;

	(void)state;
	assert_int_equal(cidr_parse("10.0.0.0/8", &c, &why), 0);
	assert_int_equal(c.family, AF_INET);
	assert_int_equal(c.bits, 8);
	assert_int_equal(cidr_parse("0.0.0.0/0", &c, &why), 0);
	assert_int_equal(cidr_parse("192.0.2.7", &c, &why), 0);
	assert_int_equal(c.bits, 32);
	assert_int_equal(cidr_parse("fd00::/8", &c, &why), 0);
	assert_int_equal(c.family, AF_INET6);
	assert_int_equal(cidr_parse("::1", &c, &why), 0);
	assert_int_equal(c.bits, 128);
	assert_int_equal(cidr_parse("10.0.0.1/8", &c, &why), -1);
	assert_int_equal(cidr_parse("10.0.0.0/33", &c, &why), -1);
	assert_int_equal(cidr_parse("10.0.0.0/", &c, &why), -1);
	assert_int_equal(cidr_parse("10.0.0.0/-1", &c, &why), -1);
	assert_int_equal(cidr_parse("10.0.0.0/8x", &c, &why), -1);
	assert_int_equal(cidr_parse("/8", &c, &why), -1);
	assert_int_equal(cidr_parse("10.0.0", &c, &why), -1);
	assert_int_equal(cidr_parse("host.example", &c, &why), -1);
	assert_int_equal(cidr_parse("::/129", &c, &why), -1);
	assert_int_equal(cidr_parse("fd00::1/8", &c, &why), -1);
}

static void
test_cidr_match(void **state)
{
	static const char *const v[] = { "10.0.0.0/8", "192.0.2.128/25",
	    "fd00::/8", "2001:db8::7" };

	(void)state;
	set_trusted(v, 4);
	assert_true(match("10.1.2.3"));
	assert_true(match("10.255.255.255"));
	assert_false(match("11.0.0.0"));
	assert_false(match("9.255.255.255"));
	assert_true(match("192.0.2.128"));
	assert_true(match("192.0.2.255"));
	assert_false(match("192.0.2.127"));
	assert_true(match("fd12::1"));
	assert_false(match("fe00::1"));
	assert_true(match("2001:db8::7"));
	assert_false(match("2001:db8::8"));
	/* An IPv4-mapped address is its IPv4 address. */
	assert_true(match("::ffff:10.9.8.7"));
	assert_false(match("::ffff:11.9.8.7"));
	nblocks = 0;
	assert_false(match("10.1.2.3"));
}

/* Walk headers built from name/value pairs; "" if no client found. */
static const char *
walk(const char *const *hv, size_t n)
{
	static char text[64];
	struct http_header h[8];
	struct sockaddr_storage ss;
	const void *a;

	for (size_t i = 0; i < n; i++) {
		h[i].id = strcmp(hv[2 * i], "xff") == 0 ?
		    HTTP_F_X_FORWARDED_FOR : HTTP_F_OTHER;
		h[i].name = (struct http_span){ hv[2 * i], strlen(hv[2 * i]) };
		h[i].value = (struct http_span){ hv[2 * i + 1],
		    strlen(hv[2 * i + 1]) };
	}
	if (!trust_client(h, n, blocks, nblocks, &ss))
		return "";
	a = ss.ss_family == AF_INET ?
	    (const void *)&((struct sockaddr_in *)(void *)&ss)->sin_addr :
	    (const void *)&((struct sockaddr_in6 *)(void *)&ss)->sin6_addr;
	assert_non_null(inet_ntop(ss.ss_family, a, text, sizeof(text)));
	return text;
}

#define WALK(...) walk((const char *const[]){ __VA_ARGS__ }, \
	sizeof((const char *const[]){ __VA_ARGS__ }) / sizeof(char *) / 2)

static void
test_xff_walk(void **state)
{
	static const char *const v[] = { "10.0.0.0/8", "fd00::/8" };

	(void)state;
	set_trusted(v, 2);
	/* Right to left, trusted hops skipped: the first untrusted wins. */
	assert_string_equal(WALK("xff", "203.0.113.9"), "203.0.113.9");
	assert_string_equal(WALK("xff", "198.51.100.1, 203.0.113.9, 10.0.0.2"),
	    "203.0.113.9");
	assert_string_equal(WALK("xff", "198.51.100.1,203.0.113.9 ,10.0.0.2 "),
	    "203.0.113.9");
	/* Lines are one list, in order. */
	assert_string_equal(WALK("xff", "198.51.100.1", "x", "y",
	    "xff", "10.1.1.1, 10.0.0.2"), "198.51.100.1");
	assert_string_equal(WALK("xff", "198.51.100.1", "xff", "203.0.113.9"),
	    "203.0.113.9");
	/* Every hop trusted: the left-most. */
	assert_string_equal(WALK("xff", "10.0.0.1, 10.0.0.2"), "10.0.0.1");
	/* IPv6. */
	assert_string_equal(WALK("xff", "2001:db8::1, fd00::2"), "2001:db8::1");
	/* No chain, or one that cannot be read: the peer stays the client. */
	assert_string_equal(WALK("x", "203.0.113.9"), "");
	assert_string_equal(WALK("xff", "unknown, 10.0.0.2"), "");
	assert_string_equal(WALK("xff", "203.0.113.9:443"), "");
	assert_string_equal(WALK("xff", "203.0.113.9,,10.0.0.2"), "");
	assert_string_equal(WALK("xff", ""), "");
	/* A forged left part beyond the first untrusted hop is never read. */
	assert_string_equal(WALK("xff", "garbage, 203.0.113.9"), "203.0.113.9");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cidr_parse),
		cmocka_unit_test(test_cidr_match),
		cmocka_unit_test(test_xff_walk),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
