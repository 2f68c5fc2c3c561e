/* Unit tests for common/confval.c: each parser, good input and each error. */
#include "autoconf.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/confval.h"

#define SENTINEL32	0xdeadbeefU
#define SENTINEL64	0xdeadbeefcafef00dULL

/* Assert that s is refused, *out untouched, and the reason contains word. */
static void
bad_duration(const char *s, const char *word)
{
	uint32_t v = SENTINEL32;
	const char *why = NULL;

	assert_int_equal(confval_duration(s, &v, &why), -1);
	assert_int_equal(v, SENTINEL32);
	assert_non_null(why);
	assert_non_null(strstr(why, word));
}

static void
good_duration(const char *s, uint32_t want)
{
	uint32_t v = SENTINEL32;
	const char *why = NULL;

	assert_int_equal(confval_duration(s, &v, &why), 0);
	assert_int_equal(v, want);
}

static void
test_duration_good(void **state)
{
	(void)state;
	good_duration("0", 0);
	good_duration("0ms", 0);
	good_duration("1500ms", 1500);
	good_duration("2s", 2000);
	good_duration("30", 30000);
	good_duration("5m", 300000);
	good_duration("1h", 3600000);
	good_duration("007s", 7000);
	good_duration("4294967295ms", UINT32_MAX);
	good_duration("4294967s", 4294967000U);
	good_duration("1193h", 1193U * 3600000U);
}

static void
test_duration_bad(void **state)
{
	(void)state;
	bad_duration("", "empty");
	bad_duration("s", "number");
	bad_duration("ms", "number");
	bad_duration("-1s", "number");
	bad_duration("+1s", "number");
	bad_duration(" 1s", "number");
	bad_duration("1 s", "unit");
	bad_duration("1s ", "unit");
	bad_duration("1x", "unit");
	bad_duration("1S", "unit");
	bad_duration("1sec", "unit");
	bad_duration("1.5s", "unit");
	bad_duration("1m30s", "unit");
	bad_duration("1d", "unit");
	bad_duration("4294967296ms", "large");
	bad_duration("4294968s", "large");
	bad_duration("1194h", "large");
	bad_duration("99999999999999999999999s", "large");
}

static void
bad_size(const char *s, const char *word)
{
	uint64_t v = SENTINEL64;
	const char *why = NULL;

	assert_int_equal(confval_size(s, &v, &why), -1);
	assert_true(v == SENTINEL64);
	assert_non_null(why);
	assert_non_null(strstr(why, word));
}

static void
good_size(const char *s, uint64_t want)
{
	uint64_t v = SENTINEL64;
	const char *why = NULL;

	assert_int_equal(confval_size(s, &v, &why), 0);
	assert_true(v == want);
}

static void
test_size_good(void **state)
{
	(void)state;
	good_size("0", 0);
	good_size("512", 512);
	good_size("16k", 16384);
	good_size("16K", 16384);
	good_size("100m", 100ULL << 20);
	good_size("100M", 100ULL << 20);
	good_size("1g", 1ULL << 30);
	good_size("1G", 1ULL << 30);
	good_size("18446744073709551615", UINT64_MAX);
	good_size("17179869183g", 17179869183ULL << 30);
}

static void
test_size_bad(void **state)
{
	(void)state;
	bad_size("", "empty");
	bad_size("k", "number");
	bad_size("-1", "number");
	bad_size("+1", "number");
	bad_size(" 1k", "number");
	bad_size("1 k", "unit");
	bad_size("1k ", "unit");
	bad_size("1kb", "unit");
	bad_size("1t", "unit");
	bad_size("1.5m", "unit");
	bad_size("18446744073709551616", "large");
	bad_size("17179869184g", "large");
	bad_size("18014398509481984k", "large");
}

static void
bad_int(const char *s, long min, long max, const char *word)
{
	long v = 12345;
	const char *why = NULL;

	assert_int_equal(confval_int(s, min, max, &v, &why), -1);
	assert_int_equal(v, 12345);
	assert_non_null(why);
	assert_non_null(strstr(why, word));
}

static void
good_int(const char *s, long min, long max, long want)
{
	long v = 12345;
	const char *why = NULL;

	assert_int_equal(confval_int(s, min, max, &v, &why), 0);
	assert_int_equal(v, want);
}

static void
test_int(void **state)
{
	(void)state;
	good_int("0", 0, 10, 0);
	good_int("10", 0, 10, 10);
	good_int("1", 1, 256, 1);
	good_int("256", 1, 256, 256);
	good_int("-5", -10, 10, -5);
	good_int("-0", 0, 10, 0);
	good_int("9223372036854775807", LONG_MIN, LONG_MAX, LONG_MAX);
	good_int("-9223372036854775808", LONG_MIN, LONG_MAX, LONG_MIN);
	bad_int("", 0, 10, "empty");
	bad_int("-", 0, 10, "integer");
	bad_int("+1", 0, 10, "integer");
	bad_int(" 1", 0, 10, "integer");
	bad_int("1 ", 0, 10, "integer");
	bad_int("1x", 0, 10, "integer");
	bad_int("0x10", 0, 100, "integer");
	bad_int("11", 0, 10, "range");
	bad_int("0", 1, 256, "range");
	bad_int("257", 1, 256, "range");
	bad_int("-1", 0, 10, "range");
	bad_int("-11", -10, 10, "range");
	bad_int("9223372036854775808", LONG_MIN, LONG_MAX, "range");
	bad_int("-9223372036854775809", LONG_MIN, LONG_MAX, "range");
	bad_int("99999999999999999999999", 0, 10, "range");
}

static void
test_bool(void **state)
{
	static const char *yes[] = { "yes", "on", "true", "1", "YES", "True" };
	static const char *no[] = { "no", "off", "false", "0", "NO", "Off" };
	const char *why = NULL;
	bool b;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		b = false;
		assert_int_equal(confval_bool(yes[i], &b, &why), 0);
		assert_true(b);
		b = true;
		assert_int_equal(confval_bool(no[i], &b, &why), 0);
		assert_false(b);
	}
	b = true;
	assert_int_equal(confval_bool("", &b, &why), -1);
	assert_non_null(strstr(why, "empty"));
	assert_int_equal(confval_bool("yess", &b, &why), -1);
	assert_int_equal(confval_bool(" yes", &b, &why), -1);
	assert_int_equal(confval_bool("2", &b, &why), -1);
	assert_non_null(strstr(why, "boolean"));
	assert_true(b);
}

/* Parse s, check family and port, and return it rendered back as text. */
static const char *
good_addr(const char *s, int family, uint16_t port)
{
	static char buf[128];
	struct sockaddr_storage ss;
	socklen_t len = 0;
	const char *why = NULL;

	assert_int_equal(confval_addr(s, &ss, &len, &why), 0);
	assert_int_equal(ss.ss_family, family);
	if (family == AF_INET) {
		assert_int_equal(len, sizeof(struct sockaddr_in));
		assert_int_equal(ntohs(((struct sockaddr_in *)&ss)->sin_port),
		    port);
	} else {
		assert_int_equal(len, sizeof(struct sockaddr_in6));
		assert_int_equal(ntohs(((struct sockaddr_in6 *)&ss)->sin6_port),
		    port);
	}
	confval_addr_str((struct sockaddr *)&ss, buf, sizeof(buf));
	return buf;
}

static void
bad_addr(const char *s, const char *word)
{
	struct sockaddr_storage ss;
	socklen_t len = 77;
	const char *why = NULL;

	memset(&ss, 0xa5, sizeof(ss));
	assert_int_equal(confval_addr(s, &ss, &len, &why), -1);
	assert_int_equal(len, 77);
	assert_int_equal(((unsigned char *)&ss)[0], 0xa5);
	assert_non_null(why);
	if (strstr(why, word) == NULL)
		fail_msg("'%s': reason '%s' lacks '%s'", s, why, word);
}

static void
test_addr_good(void **state)
{
	(void)state;
	assert_string_equal(good_addr("127.0.0.1:8080", AF_INET, 8080),
	    "127.0.0.1:8080");
	assert_string_equal(good_addr("*:80", AF_INET, 80), "0.0.0.0:80");
	assert_string_equal(good_addr("0.0.0.0:1", AF_INET, 1), "0.0.0.0:1");
	assert_string_equal(good_addr("10.1.2.3:65535", AF_INET, 65535),
	    "10.1.2.3:65535");
	assert_string_equal(good_addr("[::1]:8080", AF_INET6, 8080),
	    "[::1]:8080");
	assert_string_equal(good_addr("[::]:443", AF_INET6, 443), "[::]:443");
	assert_string_equal(good_addr("[2001:db8:0:0::1]:9001", AF_INET6, 9001),
	    "[2001:db8::1]:9001");
	assert_string_equal(good_addr("[::ffff:1.2.3.4]:80", AF_INET6, 80),
	    "[::ffff:1.2.3.4]:80");
}

static void
test_addr_bad(void **state)
{
	(void)state;
	bad_addr("", "empty");
	bad_addr("127.0.0.1", "port");
	bad_addr("127.0.0.1:", "port");
	bad_addr("127.0.0.1:0", "port");
	bad_addr("127.0.0.1:65536", "port");
	bad_addr("127.0.0.1:99999999999999999999", "port");
	bad_addr("127.0.0.1:-1", "port");
	bad_addr("127.0.0.1:+80", "port");
	bad_addr("127.0.0.1:80x", "port");
	bad_addr("127.0.0.1:80 ", "port");
	bad_addr("127.0.0.1: 80", "port");
	bad_addr(":80", "missing address");
	bad_addr(" 127.0.0.1:80", "IPv4");
	bad_addr("127.0.0.1 :80", "IPv4");
	bad_addr("localhost:80", "host names");
	bad_addr("1.2.3:80", "IPv4");
	bad_addr("1.2.3.256:80", "IPv4");
	bad_addr("01.2.3.4:80", "IPv4");
	bad_addr("::1:80", "brackets");
	bad_addr("fe80::1:443", "brackets");
	bad_addr("[::1]", "missing port");
	bad_addr("[::1]:", "missing port");
	bad_addr("[::1]:0", "port");
	bad_addr("[::1]80", "':'");
	bad_addr("[::1:80", "']'");
	bad_addr("[]:80", "missing address");
	bad_addr("[1.2.3.4]:80", "IPv6");
	bad_addr("[fe80::1%eth0]:80", "IPv6");
	bad_addr("[*]:80", "IPv6");
	bad_addr("[::1]:80]", "port");
	bad_addr("[0000:0000:0000:0000:0000:0000:0000:0000:0000:1]:80",
	    "too long");
	bad_addr("1111111111111111111111111111111111111111111111111:80",
	    "too long");
}

static void
test_addr_str_unknown(void **state)
{
	struct sockaddr_storage ss;
	char buf[8];

	(void)state;
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = AF_UNIX;
	confval_addr_str((struct sockaddr *)&ss, buf, sizeof(buf));
	assert_string_equal(buf, "?");
	/* Truncates instead of overflowing a short buffer. */
	good_addr("255.255.255.255:65535", AF_INET, 65535);
	assert_int_equal(confval_addr("255.255.255.255:65535", &ss,
	    &(socklen_t){ 0 }, &(const char *){ NULL }), 0);
	confval_addr_str((struct sockaddr *)&ss, buf, sizeof(buf));
	assert_string_equal(buf, "255.255");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_duration_good),
		cmocka_unit_test(test_duration_bad),
		cmocka_unit_test(test_size_good),
		cmocka_unit_test(test_size_bad),
		cmocka_unit_test(test_int),
		cmocka_unit_test(test_bool),
		cmocka_unit_test(test_addr_good),
		cmocka_unit_test(test_addr_bad),
		cmocka_unit_test(test_addr_str_unknown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
