/* Unit tests for balancer/leastconn.c: least loaded by weight, ties rotate. */
#include "autoconf.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "balancer/balancer.h"
#include "common/config.h"
#include "shm/shm.h"
#include "test/unit/balfix.h"

#define CFG_HEAD "[frontend web]\nlisten = 127.0.0.1:8080\nbackend = app\n" \
	"[backend app]\nbalance = leastconn\n"

static void
fx_open(struct balfix *f, const char *servers)
{
	balfix_open(f, CFG_HEAD, "", servers, 0x2545f4914f6cdd1dULL);
}

/* The lowest inflight/weight wins, whatever its position. */
static void
test_weighted_minimum(void **state)
{
	struct balfix f;

	(void)state;
	fx_open(&f, "server = 127.0.0.1:9001 weight=5\n"
	    "server = 127.0.0.1:9002\nserver = 127.0.0.1:9003 weight=2\n");
	/* 4/5 < 1/1 = 2/2 */
	balfix_set_inflight(&f, 0, 4);
	balfix_set_inflight(&f, 1, 1);
	balfix_set_inflight(&f, 2, 2);
	for (int i = 0; i < 10; i++)
		assert_int_equal(balfix_pick(&f), 0);
	/* 6/5 > 1/1 > 1/2: the last one, not the first. */
	balfix_set_inflight(&f, 0, 6);
	balfix_set_inflight(&f, 2, 1);
	for (int i = 0; i < 10; i++)
		assert_int_equal(balfix_pick(&f), 2);
	/* 10/5 = 2/1 = 4/2: all three tie and take turns. */
	balfix_set_inflight(&f, 0, 10);
	balfix_set_inflight(&f, 1, 2);
	balfix_set_inflight(&f, 2, 4);
	{
		int counts[3] = { 0 };

		for (int i = 0; i < 30; i++)
			counts[balfix_pick(&f)]++;
		assert_int_equal(counts[0], 10);
		assert_int_equal(counts[1], 10);
		assert_int_equal(counts[2], 10);
	}
	balfix_close(&f);
}

/*
 * Random pools, loads and states against a brute-force oracle: each pick
 * has the least load among usable primaries (backups if none), and as many
 * picks in a row as there are tied members pick each of them once.
 */
static void
test_oracle(void **state)
{
	uint64_t seed = 777;

	(void)state;
	for (int round = 0; round < 300; round++) {
		struct balfix f;
		char servers[2048];
		uint32_t n = 1 + bal_random(&seed) % 12, w[12], in[12];
		bool up[12], backup[12], min_set[12] = { false }, seen[12] = {
		    false };
		int off = 0, cls = -1, ntie = 0;
		uint64_t bn = 0, bd = 1;

		for (uint32_t i = 0; i < n; i++) {
			w[i] = 1 + bal_random(&seed) % 10;
			in[i] = bal_random(&seed) % 20;
			up[i] = bal_random(&seed) % 4 != 0;
			backup[i] = bal_random(&seed) % 4 == 0;
			off += snprintf(servers + off, sizeof(servers) - off,
			    "server = 127.0.0.1:%u weight=%u%s\n", 9001 + i,
			    w[i], backup[i] ? " backup" : "");
		}
		fx_open(&f, servers);
		for (uint32_t i = 0; i < n; i++) {
			balfix_set_inflight(&f, (int)i, in[i]);
			if (!up[i])
				atomic_store(&balfix_server(&f, (int)i)->health,
				    SHM_HEALTH_DOWN);
		}
		/* The oracle: class first, then the least in/w in it. */
		for (int c = 0; c < 2 && cls == -1; c++)
			for (uint32_t i = 0; i < n; i++)
				if (up[i] && backup[i] == (c == 1))
					cls = c;
		for (uint32_t i = 0; cls != -1 && i < n; i++) {
			if (!up[i] || backup[i] != (cls == 1))
				continue;
			if (ntie == 0 || (uint64_t)in[i] * bd < bn * w[i]) {
				memset(min_set, 0, sizeof(min_set));
				ntie = 0;
				bn = in[i];
				bd = w[i];
			}
			if ((uint64_t)in[i] * bd == bn * w[i]) {
				min_set[i] = true;
				ntie++;
			}
		}
		if (cls == -1) {
			assert_int_equal(balfix_pick(&f), -1);
			balfix_close(&f);
			continue;
		}
		for (int k = 0; k < ntie; k++) {
			int m = balfix_pick(&f);

			assert_true(m >= 0 && min_set[m] && !seen[m]);
			seen[m] = true;
		}
		balfix_close(&f);
	}
}

/* Three idle equal servers: 300 picks, exactly 100 each. */
static void
test_ties_rotate(void **state)
{
	struct balfix f;
	int counts[3] = { 0 };

	(void)state;
	fx_open(&f, "server = 127.0.0.1:9001\nserver = 127.0.0.1:9002\n"
	    "server = 127.0.0.1:9003\n");
	for (int i = 0; i < 300; i++)
		counts[balfix_pick(&f)]++;
	assert_int_equal(counts[0], 100);
	assert_int_equal(counts[1], 100);
	assert_int_equal(counts[2], 100);

	/* A down one does not skew the turns of the others. */
	memset(counts, 0, sizeof(counts));
	atomic_store(&balfix_server(&f, 0)->health, SHM_HEALTH_DOWN);
	for (int i = 0; i < 300; i++)
		counts[balfix_pick(&f)]++;
	assert_int_equal(counts[0], 0);
	assert_int_equal(counts[1], 150);
	assert_int_equal(counts[2], 150);
	balfix_close(&f);
}

/*
 * Requests that never finish fill the servers like water: after each pick
 * the chosen one's count goes up, and 400 picks over weights 3,1 end at
 * exactly 300 and 100.
 */
static void
test_fills_by_weight(void **state)
{
	struct balfix f;

	(void)state;
	fx_open(&f, "server = 127.0.0.1:9001 weight=3\n"
	    "server = 127.0.0.1:9002\n");
	for (int i = 0; i < 400; i++) {
		int m = balfix_pick(&f);

		assert_true(m >= 0);
		atomic_fetch_add(&balfix_server(&f, m)->inflight, 1);
	}
	assert_int_equal(balfix_inflight(&f, 0), 300);
	assert_int_equal(balfix_inflight(&f, 1), 100);
	balfix_close(&f);
}

/* Down, draining and maintenance members never win, however idle. */
static void
test_never_unusable(void **state)
{
	struct balfix f;

	(void)state;
	fx_open(&f, "server = 127.0.0.1:9001\nserver = 127.0.0.1:9002\n"
	    "server = 127.0.0.1:9003\nserver = 127.0.0.1:9004\n"
	    "server = 127.0.0.1:9005 backup\n");
	balfix_set_inflight(&f, 3, 1000);
	atomic_store(&balfix_server(&f, 0)->health, SHM_HEALTH_DOWN);
	atomic_store(&balfix_server(&f, 1)->admin, SHM_ADMIN_DRAIN);
	atomic_store(&balfix_server(&f, 2)->admin, SHM_ADMIN_MAINT);
	for (int i = 0; i < 50; i++)
		assert_int_equal(balfix_pick(&f), 3);
	/* The last primary goes: the idle backup, never a primary. */
	atomic_store(&balfix_server(&f, 3)->health, SHM_HEALTH_DOWN);
	for (int i = 0; i < 50; i++)
		assert_int_equal(balfix_pick(&f), 4);
	atomic_store(&balfix_server(&f, 4)->admin, SHM_ADMIN_MAINT);
	assert_int_equal(balfix_pick(&f), -1);
	balfix_close(&f);
}

/* Large counts do not overflow the cross-multiplication. */
static void
test_large_counts(void **state)
{
	struct balfix f;

	(void)state;
	fx_open(&f, "server = 127.0.0.1:9001 weight=256\n"
	    "server = 127.0.0.1:9002 weight=255\n");
	balfix_set_inflight(&f, 0, 4000000000u);
	balfix_set_inflight(&f, 1, 3990000000u);
	/* 4.0e9/256 = 15.6e6 < 3.99e9/255 = 15.65e6 */
	assert_int_equal(balfix_pick(&f), 0);
	balfix_close(&f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_weighted_minimum),
		cmocka_unit_test(test_oracle),
		cmocka_unit_test(test_ties_rotate),
		cmocka_unit_test(test_fills_by_weight),
		cmocka_unit_test(test_never_unusable),
		cmocka_unit_test(test_large_counts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
