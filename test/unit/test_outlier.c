/* Unit tests for balancer/outlier.c: ejection, doubling, half-open trial. */
#include "autoconf.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "balancer/balancer.h"
#include "common/config.h"
#include "common/clock.h"
#include "shm/shm.h"
#include "test/unit/race.h"

struct fixture {
	struct config *cfg;
	struct shm *shm;
	struct bal_pool *pool;
};

static struct fixture
setup_pool(const char *max_fails, const char *extra)
{
	struct fixture f;
	char text[1024], err[256];

	snprintf(text, sizeof(text), "[frontend web]\nlisten = 127.0.0.1:8080\n"
	    "backend = app\n[backend app]\nmax_fails = %s\n"
	    "fail_timeout = 100ms\n%sserver = 127.0.0.1:9001\n"
	    "server = 127.0.0.1:9002\n", max_fails, extra);
	if (config_load_string("t.ini", text, &f.cfg, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	f.shm = shm_new_sized(64, 8, 8);
	if (shm_publish(f.shm, f.cfg, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	f.pool = balancer_build(f.shm, &f.cfg->backends[0]);
	return f;
}

static void
teardown_pool(struct fixture *f)
{
	balancer_free(f->pool);
	shm_free(f->shm);
	config_free(f->cfg);
}

static uint32_t
state_of(struct fixture *f, uint32_t m)
{
	return SHM_EJECT_STATE(atomic_load(&f->shm->servers[f->pool->slot[m]].eject));
}

/* When member m's ejection (or trial) runs out, CLOCK_MONOTONIC ms. */
static uint64_t
eject_until(struct fixture *f, uint32_t m)
{
	return SHM_EJECT_UNTIL(atomic_load(&f->shm->servers[f->pool->slot[m]].eject));
}

static void
fail_n(struct fixture *f, uint32_t m, int n)
{
	for (int i = 0; i < n; i++)
		outlier_report(f->shm, f->pool, m, false, false);
}

/* max_fails failures in a row eject; a success in between resets the count. */
static void
test_ejects_after_max_fails(void **state)
{
	struct fixture f = setup_pool("3", "");

	(void)state;
	fail_n(&f, 0, 2);
	outlier_report(f.shm, f.pool, 0, true, false);
	fail_n(&f, 0, 2);
	assert_int_equal(state_of(&f, 0), SHM_EJECT_NONE);
	assert_true(bal_usable(f.shm, f.pool, 0));
	fail_n(&f, 0, 1);
	assert_int_equal(state_of(&f, 0), SHM_EJECT_OUT);
	assert_false(bal_usable(f.shm, f.pool, 0));
	assert_true(bal_usable(f.shm, f.pool, 1));
	teardown_pool(&f);
}

/* After fail_timeout exactly one trial is handed out; its result decides. */
static void
test_half_open_trial(void **state)
{
	struct fixture f = setup_pool("3", "");
	uint64_t t0, until;
	uint32_t slot;

	(void)state;
	slot = f.pool->slot[0];
	(void)slot;
	t0 = clock_ms();
	fail_n(&f, 0, 3);
	/*
	 * Deadlines are read from the word, not inferred from sleeps, so a
	 * test paused by a busy machine cannot fail: out for fail_timeout.
	 */
	until = eject_until(&f, 0);
	assert_true(until >= t0 + 100 && until <= clock_ms() + 100);
	if (clock_ms() < until)
		assert_int_equal(outlier_claim(f.shm, f.pool, 0), OUTLIER_BUSY);
	while (clock_ms() < until)
		usleep(10 * 1000);
	assert_true(bal_usable(f.shm, f.pool, 0));
	assert_int_equal(outlier_claim(f.shm, f.pool, 0), OUTLIER_TRIAL);
	assert_int_equal(outlier_claim(f.shm, f.pool, 0), OUTLIER_BUSY);
	assert_false(bal_usable(f.shm, f.pool, 0));
	/* The trial fails: out again, for twice as long. */
	t0 = clock_ms();
	outlier_report(f.shm, f.pool, 0, false, true);
	assert_int_equal(state_of(&f, 0), SHM_EJECT_OUT);
	until = eject_until(&f, 0);
	assert_true(until >= t0 + 200 && until <= clock_ms() + 200);
	if (clock_ms() < until)
		assert_false(bal_usable(f.shm, f.pool, 0));
	while (clock_ms() < until)
		usleep(10 * 1000);
	assert_int_equal(outlier_claim(f.shm, f.pool, 0), OUTLIER_TRIAL);
	outlier_report(f.shm, f.pool, 0, true, true);
	assert_int_equal(state_of(&f, 0), SHM_EJECT_NONE);
	assert_int_equal(outlier_claim(f.shm, f.pool, 0), OUTLIER_NORMAL);
	assert_int_equal(atomic_load(&f.shm->servers[slot].ejections), 0);
	teardown_pool(&f);
}

/* A trial that ends with no verdict frees the way for the next one at once. */
static void
test_abandoned_trial(void **state)
{
	struct fixture f = setup_pool("3", "");

	(void)state;
	fail_n(&f, 0, 3);
	usleep(130 * 1000);
	assert_int_equal(outlier_claim(f.shm, f.pool, 0), OUTLIER_TRIAL);
	assert_int_equal(outlier_claim(f.shm, f.pool, 0), OUTLIER_BUSY);
	outlier_abandon(f.shm, f.pool->slot[0]);
	assert_true(bal_usable(f.shm, f.pool, 0));
	assert_int_equal(outlier_claim(f.shm, f.pool, 0), OUTLIER_TRIAL);
	teardown_pool(&f);
}

/* max_ejected_percent = 50 of two servers: the second stays in. */
static void
test_max_ejected_percent(void **state)
{
	struct fixture f = setup_pool("3", "max_ejected_percent = 50%\n");

	(void)state;
	fail_n(&f, 0, 3);
	fail_n(&f, 1, 10);
	assert_int_equal(state_of(&f, 0), SHM_EJECT_OUT);
	assert_int_equal(state_of(&f, 1), SHM_EJECT_NONE);
	teardown_pool(&f);
}

/* max_fails = 0 turns ejection off. */
static void
test_off(void **state)
{
	struct fixture f = setup_pool("0", "");

	(void)state;
	fail_n(&f, 0, 100);
	assert_int_equal(state_of(&f, 0), SHM_EJECT_NONE);
	teardown_pool(&f);
}

/* Four processes failing at once eject the server once, not four times. */
static void
test_one_ejection_across_processes(void **state)
{
	struct fixture f = setup_pool("3", "");
	int status;

	(void)state;
	for (int k = 0; k < 4; k++)
		if (fork() == 0) {
			fail_n(&f, 0, 50);
			_exit(0);
		}
	for (int k = 0; k < 4; k++)
		wait(&status);
	assert_int_equal(state_of(&f, 0), SHM_EJECT_OUT);
	assert_int_equal(atomic_load(&f.shm->servers[f.pool->slot[0]].ejections), 1);
	teardown_pool(&f);
}

/* A trial race: the pool under test and the trials a round handed out. */
struct trial_race {
	struct fixture f;
	struct race *rc;
};

/* Before a round: the server is out and its time is already up. */
static void
trial_race_expire(int r, void *arg)
{
	struct trial_race *tr = arg;
	struct shm_server_sh *sv = &tr->f.shm->servers[tr->f.pool->slot[0]];

	(void)r;
	atomic_store(&tr->rc->scratch[0], 0);
	atomic_store(&sv->eject, SHM_EJECT(SHM_EJECT_OUT, clock_ms() - 1));
}

static int
trial_race_claim(int k, int r, void *arg)
{
	struct trial_race *tr = arg;

	(void)k;
	(void)r;
	if (outlier_claim(tr->f.shm, tr->f.pool, 0) == OUTLIER_TRIAL)
		atomic_fetch_add(&tr->rc->scratch[0], 1);
	return 0;
}

static int
trial_race_check(int r, void *arg)
{
	struct trial_race *tr = arg;
	long won = atomic_load(&tr->rc->scratch[0]);

	if (won == 1)
		return 0;
	print_error("round %d: %ld processes got the trial\n", r, won);
	return -1;
}

/*
 * Four processes (more than this machine's cores) released together at an
 * expired ejection, 200 times: every time exactly one gets the trial.
 */
static void
test_one_trial_across_processes(void **state)
{
	struct trial_race tr = { .f = setup_pool("3", ""), .rc = race_new() };

	(void)state;
	race_run(tr.rc, 4, 200, trial_race_claim, trial_race_expire,
	    trial_race_check, &tr);
	race_free(tr.rc);
	teardown_pool(&tr.f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ejects_after_max_fails),
		cmocka_unit_test(test_half_open_trial),
		cmocka_unit_test(test_abandoned_trial),
		cmocka_unit_test(test_max_ejected_percent),
		cmocka_unit_test(test_off),
		cmocka_unit_test(test_one_ejection_across_processes),
		cmocka_unit_test(test_one_trial_across_processes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
