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
#include "shm/shm.h"

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
	uint32_t slot;

	(void)state;
	slot = f.pool->slot[0];
	(void)slot;
	fail_n(&f, 0, 3);
	assert_int_equal(outlier_claim(f.shm, f.pool, 0), OUTLIER_BUSY);
	usleep(130 * 1000);
	assert_true(bal_usable(f.shm, f.pool, 0));
	assert_int_equal(outlier_claim(f.shm, f.pool, 0), OUTLIER_TRIAL);
	assert_int_equal(outlier_claim(f.shm, f.pool, 0), OUTLIER_BUSY);
	assert_false(bal_usable(f.shm, f.pool, 0));
	/* The trial fails: out again, for twice as long. */
	outlier_report(f.shm, f.pool, 0, false, true);
	assert_int_equal(state_of(&f, 0), SHM_EJECT_OUT);
	usleep(130 * 1000);
	assert_false(bal_usable(f.shm, f.pool, 0));
	usleep(120 * 1000);
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
	outlier_abandon(f.shm, f.pool, 0);
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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
