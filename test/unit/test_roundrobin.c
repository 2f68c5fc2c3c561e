/* Unit tests for balancer/roundrobin.c: smooth order, exact shares, sharing. */
#include "autoconf.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "balancer/balancer.h"
#include "common/config.h"
#include "shm/shm.h"
#include "test/unit/balfix.h"
#include "test/unit/race.h"

#define CFG_HEAD "[frontend web]\nlisten = 127.0.0.1:8080\nbackend = app\n" \
	"[backend app]\nbalance = roundrobin\n"

static void
fx_open(struct balfix *f, const char *servers)
{
	balfix_open(f, CFG_HEAD, "", servers, 0x9e3779b97f4a7c15ULL);
}

static void
fx_count(struct balfix *f, int picks, int *counts)
{
	for (int i = 0; i < picks; i++) {
		int m = balfix_pick(f);

		assert_true(m >= 0);
		counts[m]++;
	}
}

#define W511 "server = 127.0.0.1:9001 weight=5\n" \
	"server = 127.0.0.1:9002\nserver = 127.0.0.1:9003\n"

/* Weights 5,1,1: one period is nginx's a a b a c a a, period after period. */
static void
test_smooth_sequence(void **state)
{
	static const int expect[7] = { 0, 0, 1, 0, 2, 0, 0 };
	struct balfix f;

	(void)state;
	fx_open(&f, W511);
	for (int i = 0; i < 70; i++)
		assert_int_equal(balfix_pick(&f), expect[i % 7]);
	balfix_close(&f);
}

/* Weights 250,50,50 (any multiple) pick in the very same order as 5,1,1. */
static void
test_scaled_weights(void **state)
{
	static const int expect[7] = { 0, 0, 1, 0, 2, 0, 0 };
	struct balfix f;

	(void)state;
	fx_open(&f, "server = 127.0.0.1:9001 weight=250\n"
	    "server = 127.0.0.1:9002 weight=50\n"
	    "server = 127.0.0.1:9003 weight=50\n");
	for (int i = 0; i < 70; i++)
		assert_int_equal(balfix_pick(&f), expect[i % 7]);
	balfix_close(&f);
}

/* 7,000 picks give exactly 5,000 / 1,000 / 1,000. */
static void
test_weights_exact(void **state)
{
	struct balfix f;
	int counts[3] = { 0 };

	(void)state;
	fx_open(&f, W511);
	fx_count(&f, 7000, counts);
	assert_int_equal(counts[0], 5000);
	assert_int_equal(counts[1], 1000);
	assert_int_equal(counts[2], 1000);
	balfix_close(&f);
}

/*
 * Smoothness: in every window of the pick sequence a member's count stays
 * within 2 of its share of the window (plain WRR, a a a a a b c, strays
 * further as weights grow), the weight-5 member never runs more than 4 in
 * a row (its longest run, across the period boundary), and each weight-1
 * member comes back exactly every 7 picks.
 */
static void
test_no_bursts(void **state)
{
	struct balfix f;
	int seq[700], last[3] = { -1, -1, -1 }, run = 0, longest = 0;

	(void)state;
	fx_open(&f, W511);
	for (int i = 0; i < 700; i++) {
		seq[i] = balfix_pick(&f);
		run = i > 0 && seq[i] == seq[i - 1] ? run + 1 : 1;
		if (seq[i] == 0 && run > longest)
			longest = run;
		if (seq[i] != 0 && last[seq[i]] >= 0)
			assert_int_equal(i - last[seq[i]], 7);
		last[seq[i]] = i;
	}
	assert_true(longest <= 4);
	for (int from = 0; from < 700; from++) {
		int c[3] = { 0 };

		for (int to = from; to < 700 && to < from + 70; to++) {
			double len = to - from + 1;

			c[seq[to]]++;
			assert_true(c[0] - len * 5 / 7 < 2 &&
			    len * 5 / 7 - c[0] < 2);
			assert_true(c[1] - len / 7 < 2 && len / 7 - c[1] < 2);
		}
	}
	balfix_close(&f);
}

/* Larger random weights: the period holds each member exactly weight times. */
static void
test_random_weights_exact(void **state)
{
	uint64_t seed = 12345;

	(void)state;
	for (int round = 0; round < 20; round++) {
		struct balfix f;
		char servers[2048];
		uint32_t w[12], total = 0, n = 2 + bal_random(&seed) % 10;
		int off = 0, counts[12] = { 0 };

		for (uint32_t i = 0; i < n; i++) {
			w[i] = 1 + (uint32_t)(bal_random(&seed) % 40);
			total += w[i];
			off += snprintf(servers + off, sizeof(servers) - off,
			    "server = 127.0.0.1:%u weight=%u\n", 9001 + i,
			    w[i]);
		}
		fx_open(&f, servers);
		fx_count(&f, (int)total * 3, counts);
		for (uint32_t i = 0; i < n; i++)
			assert_int_equal(counts[i], (int)w[i] * 3);
		balfix_close(&f);
	}
}

/* Down and maintenance members get nothing; the rest keep their ratio. */
static void
test_skips_unusable(void **state)
{
	struct balfix f;
	int counts[3] = { 0 };

	(void)state;
	fx_open(&f, W511);
	atomic_store(&balfix_server(&f, 1)->health, SHM_HEALTH_DOWN);
	fx_count(&f, 6000, counts);
	assert_int_equal(counts[0], 5000);
	assert_int_equal(counts[1], 0);
	assert_int_equal(counts[2], 1000);

	memset(counts, 0, sizeof(counts));
	atomic_store(&balfix_server(&f, 1)->health, SHM_HEALTH_UP);
	atomic_store(&balfix_server(&f, 0)->admin, SHM_ADMIN_MAINT);
	fx_count(&f, 2000, counts);
	assert_int_equal(counts[0], 0);
	assert_int_equal(counts[1], 1000);
	assert_int_equal(counts[2], 1000);

	memset(counts, 0, sizeof(counts));
	atomic_store(&balfix_server(&f, 0)->admin, SHM_ADMIN_ACTIVE);
	atomic_store(&balfix_server(&f, 2)->admin, SHM_ADMIN_DRAIN);
	fx_count(&f, 6000, counts);
	assert_int_equal(counts[0], 5000);
	assert_int_equal(counts[1], 1000);
	assert_int_equal(counts[2], 0);
	balfix_close(&f);
}

/* "disabled" in the config starts a member in maintenance. */
static void
test_disabled(void **state)
{
	struct balfix f;
	int counts[3] = { 0 };

	(void)state;
	fx_open(&f, "server = 127.0.0.1:9001 weight=3 disabled\n"
	    "server = 127.0.0.1:9002 weight=2\nserver = 127.0.0.1:9003\n");
	fx_count(&f, 300, counts);
	assert_int_equal(counts[0], 0);
	assert_int_equal(counts[1], 200);
	assert_int_equal(counts[2], 100);
	balfix_close(&f);
}

/*
 * Backups only when no primary is usable, and then in their own exact
 * ratio (the primaries' failed tries must not eat every other ticket);
 * -1 when nothing is usable.
 */
static void
test_backups(void **state)
{
	struct balfix f;
	int counts[5] = { 0 };

	(void)state;
	fx_open(&f, "server = 127.0.0.1:9001 weight=2\n"
	    "server = 127.0.0.1:9002 backup\n"
	    "server = 127.0.0.1:9003\n"
	    "server = 127.0.0.1:9004 backup\n"
	    "server = 127.0.0.1:9005 backup weight=2\n");
	fx_count(&f, 300, counts);
	assert_int_equal(counts[0], 200);
	assert_int_equal(counts[2], 100);
	assert_int_equal(counts[1] + counts[3] + counts[4], 0);

	memset(counts, 0, sizeof(counts));
	atomic_store(&balfix_server(&f, 0)->health, SHM_HEALTH_DOWN);
	atomic_store(&balfix_server(&f, 2)->admin, SHM_ADMIN_MAINT);
	fx_count(&f, 400, counts);
	assert_int_equal(counts[0] + counts[2], 0);
	assert_int_equal(counts[1], 100);
	assert_int_equal(counts[3], 100);
	assert_int_equal(counts[4], 200);

	/* Two equal backups alternate strictly. */
	atomic_store(&balfix_server(&f, 4)->health, SHM_HEALTH_DOWN);
	for (int i = 0, prev = -1; i < 20; i++) {
		int m = balfix_pick(&f);

		assert_true(m == 1 || m == 3);
		assert_int_not_equal(m, prev);
		prev = m;
	}

	/* A primary coming back takes over at once. */
	atomic_store(&balfix_server(&f, 2)->admin, SHM_ADMIN_ACTIVE);
	for (int i = 0; i < 10; i++)
		assert_int_equal(balfix_pick(&f), 2);

	atomic_store(&balfix_server(&f, 2)->health, SHM_HEALTH_DOWN);
	atomic_store(&balfix_server(&f, 1)->health, SHM_HEALTH_DOWN);
	atomic_store(&balfix_server(&f, 3)->admin, SHM_ADMIN_DRAIN);
	assert_int_equal(balfix_pick(&f), -1);
	balfix_close(&f);
}

/* Run picks in nproc forked processes at once; counts land in shared memory. */
static void
fork_picks(struct balfix *f, int nproc, int picks, _Atomic int *counts)
{
	int status;

	for (int k = 0; k < nproc; k++) {
		pid_t pid = fork();

		assert_true(pid >= 0);
		if (pid == 0) {
			for (int i = 0; i < picks; i++) {
				int m = balancer_pick(f->shm, f->pool, &f->req);

				if (m < 0)
					_exit(1);
				atomic_fetch_add(&counts[m], 1);
			}
			_exit(0);
		}
	}
	for (int k = 0; k < nproc; k++) {
		assert_true(wait(&status) > 0);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
}

/* Four processes picking at once: the totals are still exact. */
static void
test_shared_across_processes(void **state)
{
	struct balfix f;
	_Atomic int *counts = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	(void)state;
	assert_true(counts != MAP_FAILED);
	fx_open(&f, W511);
	fork_picks(&f, 4, 7000, counts);
	assert_int_equal(atomic_load(&counts[0]), 20000);
	assert_int_equal(atomic_load(&counts[1]), 4000);
	assert_int_equal(atomic_load(&counts[2]), 4000);

	/* With one member down the others' totals stay exact too. */
	for (int i = 0; i < 3; i++)
		atomic_store(&counts[i], 0);
	atomic_store(&balfix_server(&f, 1)->health, SHM_HEALTH_DOWN);
	fork_picks(&f, 4, 6000, counts);
	assert_int_equal(atomic_load(&counts[0]), 20000);
	assert_int_equal(atomic_load(&counts[1]), 0);
	assert_int_equal(atomic_load(&counts[2]), 4000);
	munmap((void *)counts, 4096);
	balfix_close(&f);
}

#define RACE_MEMBERS	16
#define RACE_PROCS	6	/* more than the cores, so some are preempted */
#define RACE_ROUNDS	5
#define RACE_PICKS	100000	/* per process and round: they overlap for sure */

/* A ticket race: the pool under test; picks per member in rc->scratch. */
struct ticket_race {
	struct balfix f;
	struct race *rc;
};

static int
ticket_race_picks(int k, int r, void *arg)
{
	struct ticket_race *tr = arg;
	long counts[RACE_MEMBERS] = { 0 };

	(void)k;
	(void)r;
	for (int i = 0; i < RACE_PICKS; i++) {
		int m = balancer_pick(tr->f.shm, tr->f.pool, &tr->f.req);

		if (m < 0 || m >= RACE_MEMBERS)
			return -1;
		counts[m]++;
	}
	for (int m = 0; m < RACE_MEMBERS; m++)
		atomic_fetch_add(&tr->rc->scratch[m], counts[m]);
	return 0;
}

/*
 * Equal weights: member m is exactly the tickets t with t % 16 == m. If
 * every ticket went to exactly one pick, every member has the same count
 * and the ticket moved once per pick; a ticket picked twice (and the next
 * skipped) puts one member ahead of another.
 */
static int
ticket_race_check(int r, void *arg)
{
	struct ticket_race *tr = arg;
	long want = (long)RACE_PROCS * RACE_PICKS * (r + 1) / RACE_MEMBERS;
	uint64_t ticket = atomic_load(&tr->f.pool->shared->ticket);
	int bad = 0;

	for (int m = 0; m < RACE_MEMBERS; m++)
		if (atomic_load(&tr->rc->scratch[m]) != want)
			bad++;
	if (bad == 0 && ticket == (uint64_t)want * RACE_MEMBERS)
		return 0;
	print_error("round %d: %d members off %ld picks (member 0: %ld), "
	    "ticket %llu\n", r, bad, want, atomic_load(&tr->rc->scratch[0]),
	    (unsigned long long)ticket);
	return -1;
}

/* Processes racing for tickets: each ticket goes to exactly one pick. */
static void
test_ticket_race(void **state)
{
	struct ticket_race tr = { .rc = race_new() };
	char servers[RACE_MEMBERS * 32];
	size_t off = 0;

	(void)state;
	for (int m = 0; m < RACE_MEMBERS; m++)
		off += (size_t)snprintf(servers + off, sizeof(servers) - off,
		    "server = 127.0.0.1:%d\n", 9001 + m);
	fx_open(&tr.f, servers);
	race_run(tr.rc, RACE_PROCS, RACE_ROUNDS, ticket_race_picks, NULL,
	    ticket_race_check, &tr);
	race_free(tr.rc);
	balfix_close(&tr.f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_smooth_sequence),
		cmocka_unit_test(test_scaled_weights),
		cmocka_unit_test(test_weights_exact),
		cmocka_unit_test(test_no_bursts),
		cmocka_unit_test(test_random_weights_exact),
		cmocka_unit_test(test_skips_unusable),
		cmocka_unit_test(test_disabled),
		cmocka_unit_test(test_backups),
		cmocka_unit_test(test_shared_across_processes),
		cmocka_unit_test(test_ticket_race),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
