/* Unit tests for shm/shm.c: layout, contents, and sharing across fork(). */
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

#include "common/config.h"
#include "shm/shm.h"

static const char two_pools[] =
	"[frontend web]\n"
	"listen = 127.0.0.1:8080\n"
	"backend = app\n"
	"[backend app]\n"
	"server = 127.0.0.1:9001 weight=5\n"
	"server = 127.0.0.1:9002\n"
	"server = 127.0.0.1:9003 backup\n"
	"[backend other]\n"
	"server = 127.0.0.1:9101 weight=3\n";

static struct config *
load(const char *text)
{
	struct config *cfg = NULL;
	char err[256];

	if (config_load_string("t.ini", text, &cfg, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	return cfg;
}

static void
test_header(void **state)
{
	struct config *cfg = load(two_pools);
	struct shm *shm = shm_new(cfg);

	(void)state;
	assert_non_null(shm);
	assert_int_equal(shm->hdr->magic, SHM_MAGIC);
	assert_int_equal(shm->hdr->version, SHM_VERSION);
	assert_int_equal(shm->hdr->npools, 2);
	assert_int_equal(shm->hdr->nservers, 4);
	assert_int_equal(shm->hdr->server_size, sizeof(struct shm_server_sh));
	assert_true(shm->hdr->total_size <= shm->size);
	shm_free(shm);
	config_free(cfg);
}

static void
test_pools_and_servers(void **state)
{
	struct config *cfg = load(two_pools);
	struct shm *shm = shm_new(cfg);

	(void)state;
	assert_int_equal(shm->pools[0].first_server, 0);
	assert_int_equal(shm->pools[0].nservers, 3);
	/* backups do not count toward the primary weight */
	assert_int_equal(shm->pools[0].total_weight, 6);
	assert_int_equal(shm->pools[1].first_server, 3);
	assert_int_equal(shm->pools[1].total_weight, 3);
	assert_string_equal(shm->pools[1].name, "other");
	assert_int_equal(shm->servers[0].weight, 5);
	assert_int_equal(shm->servers[2].flags & SHM_SERVER_BACKUP,
	    SHM_SERVER_BACKUP);
	assert_int_equal(shm->servers[1].flags & SHM_SERVER_BACKUP, 0);
	assert_string_equal(shm->servers[3].name, "127.0.0.1:9101");
	assert_int_equal(shm->servers[3].pool, 1);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(atomic_load(&shm->servers[i].inflight), 0);
		assert_int_equal(atomic_load(&shm->servers[i].state),
		    SHM_SERVER_UP);
	}
	shm_free(shm);
	config_free(cfg);
}

/* Every hot counter starts its own cache line. */
static void
test_counters_cache_aligned(void **state)
{
	struct config *cfg = load(two_pools);
	struct shm *shm = shm_new(cfg);

	(void)state;
	for (int i = 0; i < 4; i++)
		assert_int_equal((uintptr_t)&shm->servers[i].inflight %
		    SHM_CACHELINE, 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal((uintptr_t)&shm->pools[i].rr_next %
		    SHM_CACHELINE, 0);
	shm_free(shm);
	config_free(cfg);
}

/* Counts made by forked children are seen by the parent, none lost. */
static void
test_inflight_shared_across_fork(void **state)
{
	struct config *cfg = load(two_pools);
	struct shm *shm = shm_new(cfg);
	int status;

	(void)state;
	for (int k = 0; k < 4; k++) {
		if (fork() == 0) {
			for (int i = 0; i < 100000; i++)
				shm_inflight_inc(shm, 1);
			for (int i = 0; i < 50000; i++)
				shm_inflight_dec(shm, 1);
			_exit(0);
		}
	}
	for (int k = 0; k < 4; k++) {
		wait(&status);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	assert_int_equal(atomic_load(&shm->servers[1].inflight), 200000);
	assert_int_equal(atomic_load(&shm->servers[0].inflight), 0);
	shm_free(shm);
	config_free(cfg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header),
		cmocka_unit_test(test_pools_and_servers),
		cmocka_unit_test(test_counters_cache_aligned),
		cmocka_unit_test(test_inflight_shared_across_fork),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
