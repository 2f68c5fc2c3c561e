/* Unit tests for tls/names.c: host names against certificate DNS names. */
#include "autoconf.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "tls/names.h"

/* tls_name_match() on a NUL-terminated host. */
static bool
match(const char *pattern, const char *host)
{
	return tls_name_match(pattern, host, strlen(host));
}

static void
test_exact(void **state)
{
	(void)state;
	assert_true(match("a.test", "a.test"));
	assert_true(match("www.example.com", "www.example.com"));
	assert_true(match("localhost", "localhost"));
	assert_false(match("a.test", "b.test"));
	assert_false(match("a.test", "a.test2"));
	assert_false(match("a.test", "a.tes"));
	assert_false(match("a.test", "xa.test"));
	assert_false(match("a.test", "x.a.test"));
	assert_false(match("www.example.com", "example.com"));
}

/* DNS names are case-insensitive; patterns arrive in lower case. */
static void
test_case(void **state)
{
	(void)state;
	assert_true(match("a.test", "A.TEST"));
	assert_true(match("www.example.com", "WwW.Example.Com"));
	assert_true(match("*.example.com", "API.EXAMPLE.COM"));
	assert_true(match("*.example.com", "api.Example.com"));
	assert_false(match("*.example.com", "API.EXAMPLE.ORG"));
}

/* "*." covers exactly one whole label. */
static void
test_wildcard_one_label(void **state)
{
	(void)state;
	assert_true(match("*.a.test", "x.a.test"));
	assert_true(match("*.a.test", "www-1.a.test"));
	assert_true(match("*.example.com", "a.example.com"));
	/* Two labels, or none. */
	assert_false(match("*.a.test", "x.y.a.test"));
	assert_false(match("*.example.com", "a.b.example.com"));
	assert_false(match("*.a.test", ".a.test"));
	/* The bare parent is not covered. */
	assert_false(match("*.a.test", "a.test"));
	assert_false(match("*.example.com", "example.com"));
	/* A suffix that only looks alike. */
	assert_false(match("*.a.test", "x.ba.test"));
	assert_false(match("*.a.test", "xa.test"));
	assert_false(match("*.a.test", "x.a.test.evil"));
	assert_false(match("*.a.test", "x.a.tes"));
	assert_false(match("*.test", "a.b.test"));
	assert_true(match("*.test", "a.test"));
}

/* Only a whole left-most "*" label is a wildcard. */
static void
test_no_partial_wildcards(void **state)
{
	(void)state;
	assert_false(match("w*.example.com", "www.example.com"));
	assert_false(match("w*.example.com", "w.example.com"));
	assert_false(match("*w.example.com", "www.example.com"));
	assert_false(match("f*o.example.com", "foo.example.com"));
	assert_false(match("a.*.example.com", "a.b.example.com"));
	assert_false(match("www.*.com", "www.example.com"));
	assert_false(match("*example.com", "www.example.com"));
	assert_false(match("*", "localhost"));
	assert_false(match("*.", "a."));
	assert_false(match("**.example.com", "a.example.com"));
}

/* An empty host matches nothing, not even an empty pattern. */
static void
test_empty_host(void **state)
{
	(void)state;
	assert_false(match("a.test", ""));
	assert_false(match("*.a.test", ""));
	assert_false(match("", ""));
	assert_false(tls_name_match("a.test", "a.test", 0));
}

/* hostlen bounds the host: bytes after it are never read as part of it. */
static void
test_host_length(void **state)
{
	static const char buf[] = "a.test.example";

	(void)state;
	assert_true(tls_name_match("a.test", buf, 6));
	assert_false(tls_name_match("a.test", buf, 5));
	assert_false(tls_name_match("a.test", buf, sizeof(buf) - 1));
	assert_true(tls_name_match("*.test", buf, 6));
	assert_false(tls_name_match("*.test.example", buf, 6));
	assert_true(tls_name_match("*.test.example", buf, sizeof(buf) - 1));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exact),
		cmocka_unit_test(test_case),
		cmocka_unit_test(test_wildcard_one_label),
		cmocka_unit_test(test_no_partial_wildcards),
		cmocka_unit_test(test_empty_host),
		cmocka_unit_test(test_host_length),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
