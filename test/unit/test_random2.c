/* Unit tests for balancer/random2.c: the better of two, drawn by weight. */
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
	"[backend app]\nbalance = random2\n"

/*
 * Chi-square critical values at p = 0.001 for 1..5 degrees of freedom: a
 * correct sampler fails one seed in a thousand, and the seeds are fixed.
 */
static const double chi2_001[] = { 0, 10.83, 13.82, 16.27, 18.47, 20.52 };

static void
fx_open(struct balfix *f, const char *servers)
{
	balfix_open(f, CFG_HEAD, "", servers, 0x853c49e6748fea9bULL);
}

/* "server = ..." lines for n servers with the given weights. */
static char *
servers_text(uint32_t n, const uint32_t *w)
{
	size_t cap = 64 * (size_t)n + 1, off = 0;
	char *s = malloc(cap);

	if (s == NULL)
		fail_msg("malloc");
	s[0] = '\0';
	for (uint32_t i = 0; i < n; i++)
		off += (size_t)snprintf(s + off, cap - off,
		    "server = 127.0.0.1:%u weight=%u\n", 10000 + i, w[i]);
	return s;
}

static double
chi_square(const int *counts, const uint32_t *w, int n, int total)
{
	double wsum = 0, x = 0;

	for (int i = 0; i < n; i++)
		wsum += w[i];
	for (int i = 0; i < n; i++) {
		double e = total * w[i] / wsum;

		x += (counts[i] - e) * (counts[i] - e) / e;
	}
	return x;
}

/* With two usable members, the less loaded per weight always wins. */
static void
test_two_less_loaded(void **state)
{
	struct balfix f;

	(void)state;
	fx_open(&f, "server = 127.0.0.1:9001 weight=3\n"
	    "server = 127.0.0.1:9002\nserver = 127.0.0.1:9003\n");
	atomic_store(&balfix_server(&f, 2)->health, SHM_HEALTH_DOWN);
	/* 5/3 < 2/1 */
	balfix_set_inflight(&f, 0, 5);
	balfix_set_inflight(&f, 1, 2);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(balfix_pick(&f), 0);
	/* 7/3 > 2/1 */
	balfix_set_inflight(&f, 0, 7);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(balfix_pick(&f), 1);
	/* One usable member: that one, loaded or not. */
	atomic_store(&balfix_server(&f, 1)->admin, SHM_ADMIN_MAINT);
	for (int i = 0; i < 100; i++)
		assert_int_equal(balfix_pick(&f), 0);
	balfix_close(&f);
}

/*
 * Random pools and loads: the two choices are different members, so the
 * unique most loaded usable member never wins unless it is alone.
 */
static void
test_never_the_worst(void **state)
{
	uint64_t seed = 4242;

	(void)state;
	for (int round = 0; round < 200; round++) {
		struct balfix f;
		uint32_t n = 2 + bal_random(&seed) % 30, w[32], in[32];
		bool up[32];
		int worst = -1, usable = 0, nworst = 0;
		char *text;

		for (uint32_t i = 0; i < n; i++) {
			w[i] = 1 + bal_random(&seed) % 8;
			in[i] = bal_random(&seed) % 50;
			up[i] = bal_random(&seed) % 3 != 0;
		}
		text = servers_text(n, w);
		fx_open(&f, text);
		free(text);
		for (uint32_t i = 0; i < n; i++) {
			balfix_set_inflight(&f, (int)i, in[i]);
			if (!up[i])
				atomic_store(&balfix_server(&f, (int)i)->health,
				    SHM_HEALTH_DOWN);
		}
		for (uint32_t i = 0; i < n; i++) {
			uint64_t x, y;

			if (!up[i])
				continue;
			usable++;
			if (worst == -1) {
				worst = (int)i;
				nworst = 1;
				continue;
			}
			x = (uint64_t)in[i] * w[worst];
			y = (uint64_t)in[worst] * w[i];
			if (x > y) {
				worst = (int)i;
				nworst = 1;
			} else if (x == y)
				nworst++;
		}
		for (int k = 0; k < 200; k++) {
			int m = balfix_pick(&f);

			if (usable == 0) {
				assert_int_equal(m, -1);
				continue;
			}
			assert_true(m >= 0 && up[m]);
			if (usable > 1 && nworst == 1)
				assert_int_not_equal(m, worst);
		}
		balfix_close(&f);
	}
}

/* Equal loads: the first choice stands, so picks follow weight. */
static void
test_frequency_by_weight(void **state)
{
	static const uint32_t w[4] = { 1, 2, 3, 4 };
	struct balfix f;
	int counts[4] = { 0 };
	char *text = servers_text(4, w);

	(void)state;
	fx_open(&f, text);
	free(text);
	for (int i = 0; i < 100000; i++)
		counts[balfix_pick(&f)]++;
	assert_true(chi_square(counts, w, 4, 100000) < chi2_001[3]);
	balfix_close(&f);
}

/*
 * 300 members of which three are usable: the draws that hit down members
 * are redrawn (or the exact scan takes over) and the three still share by
 * weight.
 */
static void
test_frequency_mostly_down(void **state)
{
	uint32_t w[300], wu[3] = { 1, 2, 3 };
	static const int usable[3] = { 17, 150, 299 };
	struct balfix f;
	int counts[300] = { 0 }, cu[3];
	char *text;

	(void)state;
	for (int i = 0; i < 300; i++)
		w[i] = 1 + (uint32_t)i % 7;
	for (int k = 0; k < 3; k++)
		w[usable[k]] = wu[k];
	text = servers_text(300, w);
	fx_open(&f, text);
	free(text);
	for (int i = 0; i < 300; i++)
		if (i != usable[0] && i != usable[1] && i != usable[2])
			atomic_store(&balfix_server(&f, i)->health,
			    SHM_HEALTH_DOWN);
	for (int i = 0; i < 30000; i++)
		counts[balfix_pick(&f)]++;
	for (int k = 0; k < 3; k++)
		cu[k] = counts[usable[k]];
	assert_int_equal(cu[0] + cu[1] + cu[2], 30000);
	assert_true(chi_square(cu, wu, 3, 30000) < chi2_001[2]);
	balfix_close(&f);
}

/* Two members, equal weights, one loaded: the draws are never the same one. */
static void
test_two_distinct_draws(void **state)
{
	uint32_t w[200];
	struct balfix f;
	char *text;

	(void)state;
	for (int i = 0; i < 200; i++)
		w[i] = i == 7 ? 1 : 256;
	text = servers_text(200, w);
	fx_open(&f, text);
	free(text);
	/* Only a heavy and a light member are up; the heavy one is busier. */
	for (int i = 0; i < 200; i++)
		if (i != 7 && i != 8)
			atomic_store(&balfix_server(&f, i)->admin, SHM_ADMIN_DRAIN);
	balfix_set_inflight(&f, 8, 1000);
	for (int i = 0; i < 2000; i++)
		assert_int_equal(balfix_pick(&f), 7);
	balfix_close(&f);
}

/* Backups only when every primary is out; -1 with nothing usable. */
static void
test_backups(void **state)
{
	struct balfix f;

	(void)state;
	fx_open(&f, "server = 127.0.0.1:9001\nserver = 127.0.0.1:9002 backup\n"
	    "server = 127.0.0.1:9003\nserver = 127.0.0.1:9004 backup\n");
	for (int i = 0; i < 200; i++) {
		int m = balfix_pick(&f);

		assert_true(m == 0 || m == 2);
	}
	atomic_store(&balfix_server(&f, 0)->health, SHM_HEALTH_DOWN);
	atomic_store(&balfix_server(&f, 2)->admin, SHM_ADMIN_MAINT);
	for (int i = 0; i < 200; i++) {
		int m = balfix_pick(&f);

		assert_true(m == 1 || m == 3);
	}
	atomic_store(&balfix_server(&f, 1)->health, SHM_HEALTH_DOWN);
	atomic_store(&balfix_server(&f, 3)->health, SHM_HEALTH_DOWN);
	assert_int_equal(balfix_pick(&f), -1);
	balfix_close(&f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_two_less_loaded),
		cmocka_unit_test(test_never_the_worst),
		cmocka_unit_test(test_frequency_by_weight),
		cmocka_unit_test(test_frequency_mostly_down),
		cmocka_unit_test(test_two_distinct_draws),
		cmocka_unit_test(test_backups),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
