/*
 * bufpool.c: blocks are recycled, the free list is bounded, and blocks
 * left unused for a whole tick go back to the system but for keep.
 */
#include "autoconf.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <event2/event.h>

#include "worker/bufpool.h"

#define BLOCK	(128 * 1024)

static struct event_base *base;

static int
setup(void **state)
{
	(void)state;
	base = event_base_new();
	return base == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	(void)state;
	event_base_free(base);
	return 0;
}

static void
test_recycled(void **state)
{
	struct bufpool bp;
	char *a, *b;

	(void)state;
	assert_int_equal(bufpool_init(&bp, base, BLOCK, 2, 8), 0);
	a = bufpool_get(&bp);
	assert_non_null(a);
	memset(a, 'x', BLOCK);
	assert_int_equal(bp.lent, 1);
	bufpool_put(&bp, a);
	assert_int_equal(bp.lent, 0);
	assert_int_equal(bp.nfree, 1);
	b = bufpool_get(&bp);
	assert_ptr_equal(b, a);
	assert_int_equal(bp.nfree, 0);
	bufpool_put(&bp, b);
	bufpool_clear(&bp);
	assert_int_equal(bp.nfree, 0);
}

/* Past max_free a returned block is freed at once. */
static void
test_bounded(void **state)
{
	struct bufpool bp;
	void *blocks[12];

	(void)state;
	assert_int_equal(bufpool_init(&bp, base, BLOCK, 2, 8), 0);
	for (int i = 0; i < 12; i++)
		assert_non_null(blocks[i] = bufpool_get(&bp));
	assert_int_equal(bp.lent, 12);
	for (int i = 0; i < 12; i++)
		bufpool_put(&bp, blocks[i]);
	assert_int_equal(bp.lent, 0);
	assert_int_equal(bp.nfree, 8);
	bufpool_clear(&bp);
}

/*
 * A flood's blocks are gone two ticks after it ends, but for keep; blocks
 * taken again during a tick are not the unused ones and stay.
 */
static void
test_tick_gives_back(void **state)
{
	struct bufpool bp;
	void *blocks[10];

	(void)state;
	assert_int_equal(bufpool_init(&bp, base, BLOCK, 2, 64), 0);
	for (int i = 0; i < 10; i++)
		blocks[i] = bufpool_get(&bp);
	for (int i = 0; i < 10; i++)
		bufpool_put(&bp, blocks[i]);
	assert_true(bp.tick_armed);
	assert_int_equal(bp.nfree, 10);
	/* First tick: only what sat unused since the tick was armed goes. */
	bufpool_tick(&bp);
	assert_true(bp.nfree < 10);
	assert_true(bp.tick_armed);
	/*
	 * Steady use of 3 blocks during the next tick: those 3 stay, with
	 * keep more beside them.
	 */
	for (int i = 0; i < 3; i++)
		blocks[i] = bufpool_get(&bp);
	for (int i = 0; i < 3; i++)
		bufpool_put(&bp, blocks[i]);
	bufpool_tick(&bp);
	assert_int_equal(bp.nfree, 3 + bp.keep);
	/* Nothing used for a whole tick: down to keep, and the timer stops. */
	bufpool_tick(&bp);
	assert_int_equal(bp.nfree, 2);
	bufpool_tick(&bp);
	assert_int_equal(bp.nfree, 2);
	assert_false(bp.tick_armed);
	bufpool_clear(&bp);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_recycled),
		cmocka_unit_test(test_bounded),
		cmocka_unit_test(test_tick_gives_back),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
