/* Unit tests for balancer/roundrobin.c: proportions, skipping, sharing. */
#include "autoconf.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "balancer/balancer.h"
#include "common/config.h"
#include "shm/shm.h"

#define CFG_HEAD "[frontend web]\nlisten = 127.0.0.1:8080\nbackend = app\n" \
	"[backend app]\n"

struct fixture {
	struct config *cfg;
	struct shm *shm;
};

static struct fixture
setup_pool(const char *servers)
{
	struct fixture f = { 0 };
	char text[1024], err[256];

	snprintf(text, sizeof(text), "%s%s", CFG_HEAD, servers);
	if (config_load_string("t.ini", text, &f.cfg, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	if ((f.shm = shm_new(f.cfg)) == NULL)
		fail_msg("shm_new");
	return f;
}

static void
teardown_pool(struct fixture *f)
{
	shm_free(f->shm);
	config_free(f->cfg);
}

static void
count_picks(struct fixture *f, int n, int *counts, int nservers)
{
	struct bal_request req = { 0 };

	for (int i = 0; i < n; i++) {
		int s = balancer_pick(f->shm, 0, &req);

		assert_true(s >= 0 && s < nservers);
		counts[s]++;
	}
}

/* Weights 5,1,1 over 7,000 picks give exactly 5,000/1,000/1,000. */
static void
test_weights_exact(void **state)
{
	struct fixture f = setup_pool("server = 127.0.0.1:9001 weight=5\n"
	    "server = 127.0.0.1:9002\nserver = 127.0.0.1:9003\n");
	int counts[3] = { 0 };

	(void)state;
	count_picks(&f, 7000, counts, 3);
	assert_int_equal(counts[0], 5000);
	assert_int_equal(counts[1], 1000);
	assert_int_equal(counts[2], 1000);
	teardown_pool(&f);
}

/* A down server gets nothing; the others share its part by weight. */
static void
test_skips_down(void **state)
{
	struct fixture f = setup_pool("server = 127.0.0.1:9001 weight=2\n"
	    "server = 127.0.0.1:9002\nserver = 127.0.0.1:9003\n");
	int counts[3] = { 0 };

	(void)state;
	atomic_store(&f.shm->servers[0].state, SHM_SERVER_DOWN);
	count_picks(&f, 1000, counts, 3);
	assert_int_equal(counts[0], 0);
	assert_int_equal(counts[1], 500);
	assert_int_equal(counts[2], 500);
	teardown_pool(&f);
}

/* Backups are used only when no primary is up; none up means -1. */
static void
test_backup_and_none(void **state)
{
	struct fixture f = setup_pool("server = 127.0.0.1:9001\n"
	    "server = 127.0.0.1:9002 backup\n");
	struct bal_request req = { 0 };
	int counts[2] = { 0 };

	(void)state;
	count_picks(&f, 100, counts, 2);
	assert_int_equal(counts[0], 100);
	assert_int_equal(counts[1], 0);
	atomic_store(&f.shm->servers[0].state, SHM_SERVER_DOWN);
	assert_int_equal(balancer_pick(f.shm, 0, &req), 1);
	atomic_store(&f.shm->servers[1].state, SHM_SERVER_DOWN);
	assert_int_equal(balancer_pick(f.shm, 0, &req), -1);
	teardown_pool(&f);
}

/* Picks from several processes together keep the exact proportions. */
static void
test_shared_across_processes(void **state)
{
	struct fixture f = setup_pool("server = 127.0.0.1:9001 weight=3\n"
	    "server = 127.0.0.1:9002\n");
	_Atomic int *counts = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct bal_request req = { 0 };
	int status;

	(void)state;
	assert_true(counts != MAP_FAILED);
	for (int k = 0; k < 4; k++) {
		if (fork() == 0) {
			for (int i = 0; i < 10000; i++)
				atomic_fetch_add(&counts[balancer_pick(f.shm, 0,
				    &req)], 1);
			_exit(0);
		}
	}
	for (int k = 0; k < 4; k++)
		wait(&status);
	assert_int_equal(atomic_load(&counts[0]), 30000);
	assert_int_equal(atomic_load(&counts[1]), 10000);
	munmap((void *)counts, 4096);
	teardown_pool(&f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_weights_exact),
		cmocka_unit_test(test_skips_down),
		cmocka_unit_test(test_backup_and_none),
		cmocka_unit_test(test_shared_across_processes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
