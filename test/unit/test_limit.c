/*
 * limit/: GCRA arithmetic (bursts, clock steps both ways, no overflow,
 * the debt cap, refunds) and the shared table (insert, find, reuse of free
 * then least recently seen slots, a rate raised by a reload, refunds, and
 * an exact count when processes race on one key).
 */
#include "autoconf.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#include <cmocka.h>

#include "limit/gcra.h"
#include "limit/table.h"
#include "test/unit/race.h"

#define S	1000000000ULL		/* one second in ns */
#define T0	(1000 * S)		/* some time after boot */

/* Requests at now until one is refused: how many passed; *tat updated. */
static unsigned
drain(uint64_t *tat, uint64_t now, uint64_t interval, uint32_t burst,
    uint64_t *wait)
{
	uint64_t out;
	unsigned n = 0;

	while (gcra_take(*tat, now, interval, burst, &out)) {
		*tat = out;
		if (++n > burst + 1)
			fail_msg("more than burst passed");
	}
	*wait = out;
	return n;
}

/* An idle key takes burst requests at once, then one per interval. */
static void
test_gcra_burst(void **state)
{
	uint64_t tat = 0, wait;

	(void)state;
	assert_int_equal(drain(&tat, T0, 60 * S, 10, &wait), 10);
	assert_int_equal(wait, 60 * S);
	assert_int_equal(drain(&tat, T0 + 60 * S - 1, 60 * S, 10, &wait), 0);
	assert_int_equal(wait, 1);
	assert_int_equal(drain(&tat, T0 + 60 * S, 60 * S, 10, &wait), 1);
	/* burst = 1: exactly one request per interval. */
	tat = 0;
	assert_int_equal(drain(&tat, T0, S, 1, &wait), 1);
	assert_int_equal(wait, S);
}

/*
 * A now earlier than the stored TAT (a clock read before another
 * worker's store, or a clock stepped back) grants nothing more and never
 * wraps; a TAT no clock reaches is refused, not wrapped to 0.
 */
static void
test_gcra_clock_back(void **state)
{
	uint64_t tat = 0, wait, out;

	(void)state;
	assert_int_equal(drain(&tat, T0, S, 5, &wait), 5);
	assert_int_equal(drain(&tat, T0 - 1, S, 5, &wait), 0);
	assert_int_equal(wait, S + 1);
	assert_int_equal(drain(&tat, 0, S, 5, &wait), 0);
	assert_int_equal(wait, T0 + S);
	assert_int_equal(drain(&tat, T0 - 100 * S, S, 5, &wait), 0);
	assert_false(gcra_take(UINT64_MAX - 10, UINT64_MAX - 10, 3600 * S,
	    1, &out));
	assert_false(gcra_take(UINT64_MAX, 0, S, 1000000, &out));
	assert_true(out > 0);
}

/* A huge jump forward resets to a full burst, not more. */
static void
test_gcra_jump_forward(void **state)
{
	uint64_t tat = 0, wait;

	(void)state;
	assert_int_equal(drain(&tat, T0, 3600 * S, 7, &wait), 7);
	assert_int_equal(drain(&tat, T0 + 1000000000 * S, 3600 * S, 7,
	    &wait), 7);
	assert_int_equal(wait, 3600 * S);
}

/*
 * A TAT further ahead than the limit can leave (tau + interval) is
 * brought back to that bound; one within it is kept as it is.
 */
static void
test_gcra_cap(void **state)
{
	(void)state;
	/*
	 * 100/s, burst 5: the most debt is 5 intervals of 10 ms; a second
	 * more is left alone (a stale clock read explains it).
	 */
	assert_int_equal(gcra_cap(T0 + 50000000, T0, 10000000, 5),
	    T0 + 50000000);
	assert_int_equal(gcra_cap(T0 + 50000000 + S, T0, 10000000, 5),
	    T0 + 50000000 + S);
	assert_int_equal(gcra_cap(T0 + 50000001 + S, T0, 10000000, 5),
	    T0 + 50000000);
	assert_int_equal(gcra_cap(T0 + 600 * S, T0, 10000000, 5),
	    T0 + 50000000);
	assert_int_equal(gcra_cap(T0 - 1, T0, 10000000, 5), T0 - 1);
	assert_int_equal(gcra_cap(0, T0, 10000000, 5), 0);
	/* Never wraps near the end of the clock. */
	assert_int_equal(gcra_cap(UINT64_MAX, UINT64_MAX - 1, 3600 * S, 1),
	    UINT64_MAX);
}

/* A refund undoes one take exactly, and never goes below 0. */
static void
test_gcra_refund(void **state)
{
	uint64_t tat = 0, wait, out;

	(void)state;
	assert_int_equal(drain(&tat, T0, S, 3, &wait), 3);
	tat = gcra_refund(tat, S);
	assert_true(gcra_take(tat, T0, S, 3, &out));
	assert_false(gcra_take(out, T0, S, 3, &out));
	assert_int_equal(gcra_refund(5, S), 0);
}

static void
test_gcra_retry_after(void **state)
{
	(void)state;
	assert_int_equal(gcra_retry_after(0), 1);
	assert_int_equal(gcra_retry_after(1), 1);
	assert_int_equal(gcra_retry_after(S), 1);
	assert_int_equal(gcra_retry_after(S + 1), 2);
	assert_int_equal(gcra_retry_after(60 * S), 60);
}

/* Keys are found again, and each has its own state. */
static void
test_table_insert_find(void **state)
{
	struct limit_table_sh *t = limit_table_new(1000);
	uint64_t a, b, wait;

	(void)state;
	assert_non_null(t);
	assert_int_equal(t->size % LIMIT_WAYS, 0);
	assert_true(t->size >= 1000);
	a = limit_table_hash(t, "10.0.0.1", 8);
	b = limit_table_hash(t, "10.0.0.2", 8);
	assert_true(a != b && a != 0 && b != 0);
	assert_int_equal(a, limit_table_hash(t, "10.0.0.1", 8));
	assert_false(limit_table_has(t, a));
	for (int i = 0; i < 3; i++)
		assert_true(limit_table_take(t, a, T0, S, 3, &wait));
	assert_true(limit_table_has(t, a));
	assert_false(limit_table_take(t, a, T0, S, 3, &wait));
	assert_int_equal(wait, S);
	assert_true(limit_table_take(t, b, T0, S, 3, &wait));
	assert_true(limit_table_has(t, b));
	assert_false(limit_table_take(t, a, T0, S, 3, &wait));
	limit_table_free(t);
}

/*
 * One set (size 8): a new key takes an empty slot, then a free one (its
 * key idle again), and only then the least recently seen key's slot;
 * that key forgets its state, and the newcomer starts with a full burst.
 */
static void
test_table_reuse(void **state)
{
	struct limit_table_sh *t = limit_table_new(LIMIT_WAYS);
	uint64_t wait, k;

	(void)state;
	assert_int_equal(t->nsets, 1);
	/* Keys 1..8 each in debt for an hour; key 5 for 50 ns only. */
	for (k = 1; k <= LIMIT_WAYS; k++)
		assert_true(limit_table_take(t, k, T0 + k, k == 5 ? 50 :
		    3600 * S, 1, &wait));
	for (k = 1; k <= LIMIT_WAYS; k++)
		assert_true(limit_table_has(t, k));
	/* Key 1 is seen again (refused): key 2 is now the oldest. */
	assert_false(limit_table_take(t, 1, T0 + 100, 3600 * S, 1, &wait));
	/* Key 5 is idle by now: its slot goes first. */
	assert_true(limit_table_take(t, 100, T0 + 200, 3600 * S, 1, &wait));
	assert_false(limit_table_has(t, 5));
	assert_true(limit_table_has(t, 2));
	/* Full: the least recently seen (key 2) makes room. */
	assert_true(limit_table_take(t, 101, T0 + 300, 3600 * S, 1, &wait));
	assert_false(limit_table_has(t, 2));
	assert_true(limit_table_has(t, 1));
	assert_true(limit_table_has(t, 3));
	assert_true(limit_table_has(t, 100));
	/* Key 2 comes back with a full burst, taking key 3's slot. */
	assert_true(limit_table_take(t, 2, T0 + 400, 3600 * S, 1, &wait));
	assert_false(limit_table_has(t, 3));
	assert_false(limit_table_take(t, 2, T0 + 401, 3600 * S, 1, &wait));
	limit_table_free(t);
}

/*
 * A reload raises the rate from 1/min to 100/s under the same name and
 * table: a key in debt for minutes under the old rate waits at most one
 * new interval (its debt is capped and the cap stored), not the old debt.
 */
static void
test_table_rate_raised(void **state)
{
	struct limit_table_sh *t = limit_table_new(64);
	uint64_t wait, k = 7, iv = 10000000;	/* 10 ms */

	(void)state;
	for (int i = 0; i < 10; i++)
		assert_true(limit_table_take(t, k, T0, 60 * S, 10, &wait));
	assert_false(limit_table_take(t, k, T0, 60 * S, 10, &wait));
	assert_int_equal(wait, 60 * S);
	/* The new limit: 100/s, burst 1. */
	assert_false(limit_table_take(t, k, T0 + 1, iv, 1, &wait));
	assert_int_equal(wait, iv);
	assert_false(limit_table_take(t, k, T0 + iv, iv, 1, &wait));
	assert_int_equal(wait, 1);
	assert_true(limit_table_take(t, k, T0 + 1 + iv, iv, 1, &wait));
	assert_false(limit_table_take(t, k, T0 + 1 + iv, iv, 1, &wait));
	assert_true(limit_table_take(t, k, T0 + 1 + 2 * iv, iv, 1, &wait));
	limit_table_free(t);
}

/*
 * A worker whose clock read is 10 ms older than the store of another
 * (preempted between the two) must not lower the key's debt: at 1000/s,
 * burst 100, a drained key stays drained.
 */
static void
test_table_stale_clock(void **state)
{
	struct limit_table_sh *t = limit_table_new(64);
	uint64_t wait, iv = 1000000;		/* 1 ms */
	int passed = 0;

	(void)state;
	while (limit_table_take(t, 9, T0, iv, 100, &wait))
		passed++;
	assert_int_equal(passed, 100);
	assert_false(limit_table_take(t, 9, T0 - 10 * iv, iv, 100, &wait));
	for (int i = 0; i < 20; i++)
		assert_false(limit_table_take(t, 9, T0, iv, 100, &wait));
	limit_table_free(t);
}

/* A refund gives one place back to the key; a forgotten key is left be. */
static void
test_table_refund(void **state)
{
	struct limit_table_sh *t = limit_table_new(64);
	uint64_t wait;

	(void)state;
	assert_true(limit_table_take(t, 3, T0, 60 * S, 2, &wait));
	assert_true(limit_table_take(t, 3, T0, 60 * S, 2, &wait));
	assert_false(limit_table_take(t, 3, T0, 60 * S, 2, &wait));
	limit_table_refund(t, 3, 60 * S);
	assert_true(limit_table_take(t, 3, T0, 60 * S, 2, &wait));
	assert_false(limit_table_take(t, 3, T0, 60 * S, 2, &wait));
	limit_table_refund(t, 4, 60 * S);
	assert_false(limit_table_has(t, 4));
	limit_table_free(t);
}

#define RACERS		4	/* more than the cores */
#define ATTEMPTS	5000
#define BURST		1000
#define ROUNDS		10

struct race_ctx {
	struct race *rc;
	struct limit_table_sh *t;
};

/* Racer k in round r: hammer the round's key, count what passes. */
static int
hammer(int k, int r, void *arg)
{
	struct race_ctx *ctx = arg;
	uint64_t wait;
	long passed = 0;

	(void)k;
	for (int i = 0; i < ATTEMPTS; i++)
		if (limit_table_take(ctx->t, (uint64_t)r + 1, T0, 3600 * S,
		    BURST, &wait))
			passed++;
	atomic_fetch_add(&ctx->rc->scratch[r], passed);
	return 0;
}

static int
hammer_check(int r, void *arg)
{
	struct race_ctx *ctx = arg;
	long passed = atomic_load(&ctx->rc->scratch[r]);

	if (passed != BURST) {
		print_error("round %d: %ld passed, want %d\n", r, passed,
		    BURST);
		return -1;
	}
	return 0;
}

/*
 * Processes (as workers are) racing on one key: exactly burst requests
 * pass in all, whatever the interleaving; the table the master made
 * before forking is the one every process decides against. Each round's
 * key is new, and the raw keys 1..10 all fall in set 0: the racers insert
 * it together into an empty slot, and in rounds 8 and 9 into the slot of
 * a busy key (the set is full), which must not give away a request.
 */
static void
test_table_race_exact(void **state)
{
	struct race_ctx ctx = { race_new(), limit_table_new(1024) };

	(void)state;
	assert_non_null(ctx.t);
	race_run(ctx.rc, RACERS, ROUNDS, hammer, NULL, hammer_check, &ctx);
	limit_table_free(ctx.t);
	race_free(ctx.rc);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gcra_burst),
		cmocka_unit_test(test_gcra_clock_back),
		cmocka_unit_test(test_gcra_jump_forward),
		cmocka_unit_test(test_gcra_cap),
		cmocka_unit_test(test_gcra_refund),
		cmocka_unit_test(test_gcra_retry_after),
		cmocka_unit_test(test_table_insert_find),
		cmocka_unit_test(test_table_reuse),
		cmocka_unit_test(test_table_rate_raised),
		cmocka_unit_test(test_table_stale_clock),
		cmocka_unit_test(test_table_refund),
		cmocka_unit_test(test_table_race_exact),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
