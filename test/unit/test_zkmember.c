/* Tests for discovery/zkmember.c: what a ZooKeeper child's data may say. */
#include "autoconf.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "discovery/zk.h"

/* Parse s as node n's data; the result, and the member when it is 0. */
static int
parse(const char *s, struct zk_member *m, const char **why)
{
	*why = NULL;
	return zkmember_parse("n1", s, strlen(s), m, why);
}

static void
assert_ok(const char *s, const char *addr, uint32_t weight)
{
	struct zk_member m;
	const char *why;

	if (parse(s, &m, &why) != 0)
		fail_msg("%s: rejected (%s)", s, why);
	assert_string_equal(m.address, addr);
	assert_int_equal(m.weight, weight);
	assert_string_equal(m.node, "n1");
}

static void
assert_bad(const char *s, const char *want_why)
{
	struct zk_member m;
	const char *why;

	if (parse(s, &m, &why) != -1)
		fail_msg("%s: accepted as %s", s, m.address);
	assert_non_null(why);
	if (strstr(why, want_why) == NULL)
		fail_msg("%s: reason '%s', expected '%s'", s, why, want_why);
}

static void
test_plain(void **state)
{
	(void)state;
	assert_ok("127.0.0.1:80", "127.0.0.1:80", 1);
	assert_ok("  10.0.0.2:65535\n", "10.0.0.2:65535", 1);
	assert_ok("[::1]:8080", "[::1]:8080", 1);
	assert_ok("[2001:db8::7]:1", "[2001:db8::7]:1", 1);
	assert_ok("app-1.example.org:443", "app-1.example.org:443", 1);
	assert_ok("localhost:8000", "localhost:8000", 1);
}

static void
test_plain_bad(void **state)
{
	(void)state;
	assert_bad("", "no data");
	assert_bad("   \n", "no data");
	assert_bad("127.0.0.1", "host:port");
	assert_bad("127.0.0.1:0", "port");
	assert_bad("127.0.0.1:65536", "port");
	assert_bad("127.0.0.1:+80", "port");
	assert_bad("127.0.0.1:", "port");
	assert_bad(":80", "host");
	assert_bad("1.2.3:80", "host");
	assert_bad("300.1.1.1:80", "host");
	assert_bad("a..b:80", "host");
	assert_bad("a_b:80", "host");
	assert_bad("::1:80", "host");
	assert_bad("[::1]80", "[IPv6]:port");
	assert_bad("[::g]:80", "IPv6");
	assert_bad("[::1]:", "port");
	assert_bad("a b:80", "host");
	assert_bad("127.0.0.1:80 127.0.0.2:80", "host");
	assert_bad("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaa.example:80", "too long");
}

static void
test_nul(void **state)
{
	struct zk_member m;
	const char *why = NULL;

	(void)state;
	assert_int_equal(zkmember_parse("n", "1.2.3.4:80\0x", 12, &m, &why),
	    -1);
	assert_string_equal(why, "NUL byte in data");
	/* The length is what counts, not a terminator. */
	assert_int_equal(zkmember_parse("n", "1.2.3.4:8099", 10, &m, &why), 0);
	assert_string_equal(m.address, "1.2.3.4:80");
}

static void
test_json(void **state)
{
	(void)state;
	assert_ok("{\"address\": \"127.0.0.1:81\"}", "127.0.0.1:81", 1);
	assert_ok("{\"address\": \"[::1]:81\", \"weight\": 256}", "[::1]:81",
	    256);
	assert_ok(" {\"weight\": 1, \"address\": \"h:2\", \"zone\": \"x\"}\n",
	    "h:2", 1);
}

static void
test_json_bad(void **state)
{
	(void)state;
	assert_bad("{\"address\": \"127.0.0.1:81\"", "invalid JSON");
	assert_bad("{\"weight\": 3}", "address");
	assert_bad("{\"address\": 5}", "address");
	assert_bad("{\"address\": \"127.0.0.1\"}", "host:port");
	assert_bad("{\"address\": \"h:1\", \"weight\": 0}", "weight");
	assert_bad("{\"address\": \"h:1\", \"weight\": 257}", "weight");
	assert_bad("{\"address\": \"h:1\", \"weight\": -1}", "weight");
	assert_bad("{\"address\": \"h:1\", \"weight\": 2.5}", "weight");
	assert_bad("{\"address\": \"h:1\", \"weight\": \"2\"}", "weight");
	assert_bad("{\"address\": \"h:1\", \"address\": \"h:2\"}",
	    "invalid JSON");
	assert_bad("[\"h:1\"]", "IPv6");
}

static void
test_long_node(void **state)
{
	struct zk_member m;
	const char *why;
	char node[400];

	(void)state;
	memset(node, 'n', sizeof(node) - 1);
	node[sizeof(node) - 1] = '\0';
	assert_int_equal(zkmember_parse(node, "h:1", 3, &m, &why), 0);
	assert_int_equal(strlen(m.node), sizeof(m.node) - 1);
}

static void
test_order(void **state)
{
	struct zk_member m[4];
	const char *why;
	const char *in[][2] = { { "z", "[::1]:80" }, { "b", "10.0.0.1:80" },
		{ "a", "10.0.0.1:80" }, { "c", "1.0.0.1:80" } };
	size_t i;

	(void)state;
	for (i = 0; i < 4; i++)
		assert_int_equal(zkmember_parse(in[i][0], in[i][1],
		    strlen(in[i][1]), &m[i], &why), 0);
	qsort(m, 4, sizeof(m[0]), zkmember_cmp);
	assert_string_equal(m[0].address, "1.0.0.1:80");
	assert_string_equal(m[1].node, "a");
	assert_string_equal(m[2].node, "b");
	assert_string_equal(m[3].address, "[::1]:80");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_plain_bad),
		cmocka_unit_test(test_nul),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_json_bad),
		cmocka_unit_test(test_long_node),
		cmocka_unit_test(test_order),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
