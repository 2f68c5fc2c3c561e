/* Unit tests for the pure parts of master/health.c: status line, expect, rise/fall. */
#include "autoconf.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/config.h"
#include "master/health.h"
#include "shm/shm-types.h"

static int
parse(const char *s, int *status)
{
	return health_parse_status(s, strlen(s), status);
}

static void
test_status_complete(void **state)
{
	int status = 0;

	(void)state;
	assert_int_equal(parse("HTTP/1.1 200 OK\r\n", &status),
	    HEALTH_STATUS_DONE);
	assert_int_equal(status, 200);
	assert_int_equal(parse("HTTP/1.0 503 Service Unavailable", &status),
	    HEALTH_STATUS_DONE);
	assert_int_equal(status, 503);
	/* No reason phrase, with or without its SP. */
	assert_int_equal(parse("HTTP/1.1 404\r\n", &status), HEALTH_STATUS_DONE);
	assert_int_equal(status, 404);
	assert_int_equal(parse("HTTP/1.1 301 \r\n", &status), HEALTH_STATUS_DONE);
	assert_int_equal(status, 301);
	assert_int_equal(parse("HTTP/1.1 204\n", &status), HEALTH_STATUS_DONE);
	assert_int_equal(status, 204);
}

static void
test_status_partial(void **state)
{
	const char *full = "HTTP/1.1 200 OK\r\n";
	int status = -7;

	(void)state;
	/* Every prefix short of the delimiter asks for more, never guesses. */
	for (size_t n = 0; n < 13; n++)
		assert_int_equal(health_parse_status(full, n, &status),
		    HEALTH_STATUS_MORE);
	assert_int_equal(status, -7);
	assert_int_equal(health_parse_status(full, 13, &status),
	    HEALTH_STATUS_DONE);
	assert_int_equal(status, 200);
}

static void
test_status_invalid(void **state)
{
	static const char *const bad[] = {
		"NOT HTTP AT ALL\r\n",
		"HTTP/2 200 OK\r\n",
		"HTTP/1.1 20 OK\r\n",
		"HTTP/1.1 2000 OK\r\n",
		"HTTP/1.1 099 Low\r\n",
		"HTTP/1.1 600 High\r\n",
		"HTTP/1.x 200 OK\r\n",
		"http/1.1 200 OK\r\n",
		"HTTP/1.1  200 OK\r\n",
		"HTTP/1.1 2a0 OK\r\n",
		"HTTP/1.1 200\tOK\r\n",
		"\r\nHTTP/1.1 200 OK\r\n",
	};
	int status = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (parse(bad[i], &status) != HEALTH_STATUS_INVALID)
			fail_msg("accepted %s", bad[i]);
	/* Garbage is refused as soon as it shows, before 13 bytes. */
	assert_int_equal(parse("HTTX", &status), HEALTH_STATUS_INVALID);
	assert_int_equal(parse("<", &status), HEALTH_STATUS_INVALID);
}

static void
test_expect(void **state)
{
	const struct status_range r[] = { { 200, 399 }, { 404, 404 } };
	char text[64];

	(void)state;
	assert_true(health_expect_match(r, 2, 200));
	assert_true(health_expect_match(r, 2, 399));
	assert_true(health_expect_match(r, 2, 404));
	assert_false(health_expect_match(r, 2, 199));
	assert_false(health_expect_match(r, 2, 400));
	assert_false(health_expect_match(r, 2, 503));
	assert_false(health_expect_match(r, 0, 200));
	health_expect_text(r, 2, text, sizeof(text));
	assert_string_equal(text, "200-399,404");
	health_expect_text(r, 1, text, sizeof(text));
	assert_string_equal(text, "200-399");
	health_expect_text(r, 0, text, sizeof(text));
	assert_string_equal(text, "");
	/* Truncated, never overrun. */
	health_expect_text(r, 2, text, 5);
	assert_string_equal(text, "200-");
}

/* Feed results ("+" pass, "-" fail) and return the state after them. */
static uint32_t
feed(uint32_t st, const char *results, uint32_t rise, uint32_t fall,
    uint32_t *passes, uint32_t *fails)
{
	for (const char *p = results; *p != '\0'; p++)
		st = health_step(st, *p == '+', rise, fall, passes, fails);
	return st;
}

static void
test_fall(void **state)
{
	uint32_t passes = 0, fails = 0, st;

	(void)state;
	/* Failures that are not consecutive never take a server down. */
	st = feed(SHM_HEALTH_UP, "--+--+--+", 2, 3, &passes, &fails);
	assert_int_equal(st, SHM_HEALTH_UP);
	st = feed(st, "--", 2, 3, &passes, &fails);
	assert_int_equal(st, SHM_HEALTH_UP);
	assert_int_equal(fails, 2);
	st = health_step(st, false, 2, 3, &passes, &fails);
	assert_int_equal(st, SHM_HEALTH_DOWN);
	assert_int_equal(fails, 3);
	assert_int_equal(passes, 0);
	/* More failures while down change nothing. */
	st = feed(st, "-----", 2, 3, &passes, &fails);
	assert_int_equal(st, SHM_HEALTH_DOWN);
}

static void
test_rise(void **state)
{
	uint32_t passes = 0, fails = 0, st;

	(void)state;
	st = feed(SHM_HEALTH_DOWN, "+-+-+-", 2, 3, &passes, &fails);
	assert_int_equal(st, SHM_HEALTH_DOWN);
	st = health_step(st, true, 2, 3, &passes, &fails);
	assert_int_equal(st, SHM_HEALTH_DOWN);
	st = health_step(st, true, 2, 3, &passes, &fails);
	assert_int_equal(st, SHM_HEALTH_UP);
	assert_int_equal(passes, 2);
	assert_int_equal(fails, 0);
	/* Passes while up change nothing; one failure starts a new count. */
	st = feed(st, "++++-", 2, 3, &passes, &fails);
	assert_int_equal(st, SHM_HEALTH_UP);
	assert_int_equal(fails, 1);
	assert_int_equal(passes, 0);
}

static void
test_rise_fall_one(void **state)
{
	/* rise = fall = 1 follows every result. */
	const char *seq = "-+-++--+";
	const uint32_t want[] = { SHM_HEALTH_DOWN, SHM_HEALTH_UP,
	    SHM_HEALTH_DOWN, SHM_HEALTH_UP, SHM_HEALTH_UP, SHM_HEALTH_DOWN,
	    SHM_HEALTH_DOWN, SHM_HEALTH_UP };
	uint32_t passes = 0, fails = 0, st = SHM_HEALTH_UP;

	(void)state;
	for (size_t i = 0; seq[i] != '\0'; i++) {
		st = health_step(st, seq[i] == '+', 1, 1, &passes, &fails);
		assert_int_equal(st, want[i]);
	}
}

static void
test_carried_counts(void **state)
{
	uint32_t passes = 0, fails = 2, st;

	(void)state;
	/* Counts carried over a reload: the next failure completes the fall. */
	st = health_step(SHM_HEALTH_UP, false, 2, 3, &passes, &fails);
	assert_int_equal(st, SHM_HEALTH_DOWN);
	/* A lowered threshold acts on the next result, not before. */
	passes = 0;
	fails = 5;
	st = health_step(SHM_HEALTH_UP, false, 2, 3, &passes, &fails);
	assert_int_equal(st, SHM_HEALTH_DOWN);
	assert_int_equal(fails, 6);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status_complete),
		cmocka_unit_test(test_status_partial),
		cmocka_unit_test(test_status_invalid),
		cmocka_unit_test(test_expect),
		cmocka_unit_test(test_fall),
		cmocka_unit_test(test_rise),
		cmocka_unit_test(test_rise_fall_one),
		cmocka_unit_test(test_carried_counts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
