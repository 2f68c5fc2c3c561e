/*
 * Unit tests for shm/shm.c: layout, identity-keyed slots, worker ledgers,
 * and the max_conns claim (shm_inflight_claim()).
 */
#include "autoconf.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/config.h"
#include "shm/shm.h"
#include "test/unit/race.h"

#define FRONT "[frontend web]\nlisten = 127.0.0.1:8080\nbackend = app\n"

static const char two_pools[] = FRONT
	"[backend app]\n"
	"server = 127.0.0.1:9001 weight=5\n"
	"server = 127.0.0.1:9002\n"
	"server = 127.0.0.1:9003 backup\n"
	"[backend other]\n"
	"server = 127.0.0.1:9101 weight=3 disabled\n";

static struct config *
load(const char *text)
{
	struct config *cfg = NULL;
	char err[256];

	if (config_load_string("t.ini", text, &cfg, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	return cfg;
}

static struct config *
load_published(struct shm *shm, const char *text)
{
	struct config *cfg = load(text);
	char err[256];

	if (shm_publish(shm, cfg, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	return cfg;
}

static void
test_header(void **state)
{
	struct shm *shm = shm_new_sized(100, 10, 8);

	(void)state;
	assert_non_null(shm);
	assert_int_equal(shm->hdr->magic, SHM_MAGIC);
	assert_int_equal(shm->hdr->version, SHM_VERSION);
	assert_int_equal(shm->hdr->max_servers, 100);
	assert_int_equal(shm->hdr->server_size, sizeof(struct shm_server_sh));
	assert_true(shm->hdr->total_size <= shm->size);
	assert_true(shm->hdr->ledgers_off + 8 * 100 * 4 <= shm->hdr->total_size);
	shm_free(shm);
}

/* Publishing writes identity, weight, flags and admin state into slots. */
static void
test_publish(void **state)
{
	struct shm *shm = shm_new_sized(100, 10, 8);
	struct config *cfg = load_published(shm, two_pools);
	struct backend_conf *app = &cfg->backends[0], *other = &cfg->backends[1];
	struct shm_server_sh *sv;

	(void)state;
	assert_int_not_equal(app->pool_slot, other->pool_slot);
	assert_string_equal(shm->pools[other->pool_slot].name, "other");
	sv = &shm->servers[app->servers[0].slot];
	assert_string_equal(sv->pool, "app");
	assert_string_equal(sv->addr, "127.0.0.1:9001");
	assert_int_equal(sv->weight, 5);
	assert_int_equal(shm->servers[app->servers[2].slot].flags &
	    SHM_SERVER_BACKUP, SHM_SERVER_BACKUP);
	assert_int_equal(atomic_load(&shm->servers[other->servers[0].slot].admin),
	    SHM_ADMIN_MAINT);
	assert_int_equal(atomic_load(&sv->health), SHM_HEALTH_UP);
	assert_int_not_equal(app->servers[0].slot, app->servers[1].slot);
	config_free(cfg);
	shm_free(shm);
}

/* A second generation keeps the slot (and its count) of a server in both. */
static void
test_identity_survives_generations(void **state)
{
	struct shm *shm = shm_new_sized(100, 10, 8);
	struct config *old = load_published(shm, two_pools);
	uint32_t kept = old->backends[0].servers[1].slot, gone;
	struct config *neu;

	(void)state;
	gone = old->backends[0].servers[0].slot;
	shm_inflight_inc(shm, 0, kept);
	shm_inflight_inc(shm, 0, gone);
	neu = load_published(shm, FRONT "[backend app]\n"
	    "server = 127.0.0.1:9004\nserver = 127.0.0.1:9002 weight=7\n");
	assert_int_equal(neu->backends[0].servers[1].slot, kept);
	assert_int_equal(shm_inflight(shm, kept), 1);
	assert_int_equal(shm->servers[kept].weight, 7);
	/* The new server may not take the slot of one still in use. */
	assert_int_not_equal(neu->backends[0].servers[0].slot, gone);
	shm_unpublish(shm, old);
	/* Still counted: the removed server's slot stays until its count is 0. */
	assert_string_equal(shm->servers[gone].addr, "127.0.0.1:9001");
	assert_int_equal(shm_inflight(shm, gone), 1);
	config_free(old);
	config_free(neu);
	shm_free(shm);
}

/* Every hot counter starts its own cache line. */
static void
test_counters_cache_aligned(void **state)
{
	struct shm *shm = shm_new_sized(16, 4, 4);

	(void)state;
	for (int i = 0; i < 16; i++)
		assert_int_equal((uintptr_t)&shm->servers[i].inflight %
		    SHM_CACHELINE, 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal((uintptr_t)&shm->pools[i].ticket %
		    SHM_CACHELINE, 0);
	shm_free(shm);
}

/* Counts made by forked workers are seen by the parent, none lost. */
static void
test_inflight_shared_across_fork(void **state)
{
	struct shm *shm = shm_new_sized(16, 4, 8);
	int status;

	(void)state;
	for (int k = 0; k < 4; k++) {
		if (fork() == 0) {
			for (int i = 0; i < 100000; i++)
				shm_inflight_inc(shm, (uint32_t)k, 1);
			for (int i = 0; i < 50000; i++)
				shm_inflight_dec(shm, (uint32_t)k, 1);
			_exit(0);
		}
	}
	for (int k = 0; k < 4; k++) {
		wait(&status);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	assert_int_equal(shm_inflight(shm, 1), 200000);
	assert_int_equal(atomic_load(shm_ledger(shm, 2, 1)), 50000);
	shm_free(shm);
}

/* A worker killed mid-flight: reclaiming its slot removes exactly its share. */
static void
test_reclaim_dead_worker(void **state)
{
	struct shm *shm = shm_new_sized(16, 4, 8);
	int a = shm_worker_claim(shm, 0), b = shm_worker_claim(shm, 0);
	pid_t pid;
	int status;

	(void)state;
	assert_true(a >= 0 && b >= 0 && a != b);
	shm_inflight_inc(shm, (uint32_t)a, 3);		/* a live worker's request */
	if ((pid = fork()) == 0) {
		for (int i = 0; i < 5; i++)
			shm_inflight_inc(shm, (uint32_t)b, 3);
		shm_inflight_inc(shm, (uint32_t)b, 7);
		pause();
		_exit(0);
	}
	shm_worker_set_pid(shm, (uint32_t)b, pid);
	while (shm_inflight(shm, 7) == 0)
		usleep(1000);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	assert_int_equal(shm_inflight(shm, 3), 6);
	assert_int_equal(shm_worker_reclaim(shm, (uint32_t)b), 6);
	assert_int_equal(shm_inflight(shm, 3), 1);
	assert_int_equal(shm_inflight(shm, 7), 0);
	assert_int_equal(atomic_load(&shm->workers[b].pid), 0);
	assert_int_equal(shm_worker_claim(shm, 1), b);	/* slot free again */
	shm_free(shm);
}

/* No server's in-flight count has wrapped below zero. */
static void
assert_no_wrap(struct shm *shm, uint32_t nservers)
{
	for (uint32_t s = 0; s < nservers; s++)
		assert_true(shm_inflight(shm, s) < 1000);
}

/* A worker in slot wslot takes what it is told, then is SIGKILLed. */
static void
run_and_kill(struct shm *shm, uint32_t wslot, const uint32_t *incs,
    size_t nincs, uint32_t dec_server, uint32_t marker)
{
	pid_t pid;
	int status;

	if ((pid = fork()) == 0) {
		for (size_t i = 0; i < nincs; i++)
			shm_inflight_inc(shm, wslot, incs[i]);
		if (dec_server != UINT32_MAX)
			shm_inflight_dec(shm, wslot, dec_server);
		shm_inflight_inc(shm, wslot, marker);
		pause();
		_exit(0);
	}
	assert_true(pid > 0);
	shm_worker_set_pid(shm, wslot, pid);
	while (shm_inflight(shm, marker) == 0)
		usleep(1000);
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
}

/*
 * Reclaiming a slot twice subtracts nothing the second time, and the next
 * worker in that slot answers only for its own requests.
 */
static void
test_reclaim_twice_and_reuse(void **state)
{
	struct shm *shm = shm_new_sized(16, 4, 8);
	int live = shm_worker_claim(shm, 0), b = shm_worker_claim(shm, 0);
	const uint32_t first[] = { 3, 3, 3, 5 }, second[] = { 3 };

	(void)state;
	shm_inflight_inc(shm, (uint32_t)live, 3);
	shm_inflight_inc(shm, (uint32_t)live, 3);
	run_and_kill(shm, (uint32_t)b, first, 4, UINT32_MAX, 7);
	assert_int_equal(shm_worker_reclaim(shm, (uint32_t)b), 5);
	assert_int_equal(shm_inflight(shm, 3), 2);
	assert_int_equal(shm_inflight(shm, 5), 0);
	/* Reaped twice (say, a stale SIGCHLD): nothing more to subtract. */
	assert_int_equal(shm_worker_reclaim(shm, (uint32_t)b), 0);
	assert_int_equal(shm_inflight(shm, 3), 2);
	assert_no_wrap(shm, 16);

	/* A new worker in the same slot: one request taken and given back. */
	assert_int_equal(shm_worker_claim(shm, 1), b);
	run_and_kill(shm, (uint32_t)b, second, 1, 3, 7);
	assert_int_equal(shm_inflight(shm, 3), 2);
	assert_int_equal(shm_worker_reclaim(shm, (uint32_t)b), 1);
	assert_int_equal(shm_inflight(shm, 3), 2);	/* the live worker's */
	assert_int_equal(shm_inflight(shm, 5), 0);
	assert_int_equal(shm_inflight(shm, 7), 0);
	assert_no_wrap(shm, 16);
	shm_free(shm);
}

/*
 * A removed server's slot is not free while requests to it are in flight,
 * even once no generation names it: a new server gets another slot and
 * starts at zero, and with no other slot the publish fails.
 */
static void
test_busy_slot_not_reused(void **state)
{
	static const char one_a[] = FRONT "[backend app]\n"
	    "server = 127.0.0.1:9001\n";
	static const char one_b[] = FRONT "[backend app]\n"
	    "server = 127.0.0.1:9002\n";
	struct shm *shm = shm_new_sized(2, 4, 4), *tiny;
	struct config *old = load_published(shm, one_a), *neu;
	uint32_t a = old->backends[0].servers[0].slot, bslot;
	char err[256] = "";

	(void)state;
	shm_inflight_inc(shm, 0, a);
	shm_unpublish(shm, old);
	neu = load_published(shm, one_b);
	bslot = neu->backends[0].servers[0].slot;
	assert_int_not_equal(bslot, a);
	assert_int_equal(shm_inflight(shm, bslot), 0);
	assert_int_equal(shm_inflight(shm, a), 1);
	assert_string_equal(shm->servers[a].addr, "127.0.0.1:9001");
	/* Once the request is over the slot may go to someone else. */
	shm_inflight_dec(shm, 0, a);
	config_free(neu);

	/* Room for one server only: the publish must fail, not share. */
	tiny = shm_new_sized(1, 4, 4);
	config_free(old);
	old = load_published(tiny, one_a);
	shm_inflight_inc(tiny, 0, 0);
	shm_unpublish(tiny, old);
	neu = load(one_b);
	assert_int_equal(shm_publish(tiny, neu, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "shared memory full"));
	assert_string_equal(tiny->servers[0].addr, "127.0.0.1:9001");
	shm_inflight_dec(tiny, 0, 0);
	assert_int_equal(shm_publish(tiny, neu, err, sizeof(err)), 0);
	assert_string_equal(tiny->servers[0].addr, "127.0.0.1:9002");
	config_free(old);
	config_free(neu);
	shm_free(tiny);
	shm_free(shm);
}

/* A slot handed to a new server forgets its previous occupant's ejection. */
static void
test_recycled_slot_is_clean(void **state)
{
	struct shm *shm = shm_new_sized(2, 4, 4);
	struct config *old = load_published(shm, FRONT "[backend app]\n"
	    "server = 127.0.0.1:9001\n");
	uint32_t slot = old->backends[0].servers[0].slot;
	struct config *neu;

	(void)state;
	atomic_store(&shm->servers[slot].eject,
	    SHM_EJECT(SHM_EJECT_OUT, UINT32_MAX));
	atomic_store(&shm->servers[slot].fails, 4);
	shm_unpublish(shm, old);
	neu = load_published(shm, FRONT "[backend app]\n"
	    "server = 127.0.0.1:9005\nserver = 127.0.0.1:9006\n");
	for (int i = 0; i < 2; i++) {
		uint32_t s = neu->backends[0].servers[i].slot;

		assert_int_equal(SHM_EJECT_STATE(atomic_load(
		    &shm->servers[s].eject)), SHM_EJECT_NONE);
		assert_int_equal(atomic_load(&shm->servers[s].fails), 0);
	}
	config_free(old);
	config_free(neu);
	shm_free(shm);
}

/*
 * A server re-added while its old slot is idle keeps that slot, even when
 * fresh servers listed before it need every other free slot.
 */
static void
test_readded_server_keeps_slot(void **state)
{
	struct shm *shm = shm_new_sized(2, 4, 4);
	struct config *old = load_published(shm, FRONT "[backend app]\n"
	    "server = 127.0.0.1:9001\n");
	uint32_t slot = old->backends[0].servers[0].slot;
	struct config *neu;

	(void)state;
	shm_unpublish(shm, old);
	neu = load_published(shm, FRONT "[backend app]\n"
	    "server = 127.0.0.1:9002\nserver = 127.0.0.1:9001\n");
	assert_int_equal(neu->backends[0].servers[1].slot, slot);
	assert_int_not_equal(neu->backends[0].servers[0].slot, slot);
	config_free(old);
	config_free(neu);
	shm_free(shm);
}

/* A publish that does not fit changes nothing and says why. */
static void
test_publish_full(void **state)
{
	struct shm *shm = shm_new_sized(2, 4, 4);
	struct config *cfg = load(two_pools);
	char err[256] = "";

	(void)state;
	assert_int_equal(shm_publish(shm, cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "shared memory full"));
	assert_int_equal(shm->servers[0].used, 0);
	config_free(cfg);
	shm_free(shm);
}

/* Claim up to max, refuse one more, release: the count and ledger agree. */
static void
test_claim_limit(void **state)
{
	struct shm *shm = shm_new_sized(16, 4, 8);

	(void)state;
	for (int i = 0; i < 3; i++)
		assert_true(shm_inflight_claim(shm, 2, 5, 3));
	assert_false(shm_inflight_claim(shm, 2, 5, 3));
	assert_false(shm_inflight_claim(shm, 4, 5, 3));
	assert_int_equal(shm_inflight(shm, 5), 3);
	assert_int_equal(atomic_load(shm_ledger(shm, 2, 5)), 3);
	assert_int_equal(atomic_load(shm_ledger(shm, 4, 5)), 0);
	/* Another server's count is its own. */
	assert_true(shm_inflight_claim(shm, 2, 6, 1));
	assert_false(shm_inflight_claim(shm, 2, 6, 1));
	/* A release frees exactly one place, for any worker. */
	shm_inflight_dec(shm, 2, 5);
	assert_true(shm_inflight_claim(shm, 4, 5, 3));
	assert_false(shm_inflight_claim(shm, 2, 5, 3));
	assert_int_equal(atomic_load(shm_ledger(shm, 4, 5)), 1);
	/*
	 * Plain increments count too (a generation without the limit): over
	 * the limit, no claim until the count is below it again.
	 */
	shm_inflight_inc(shm, 1, 5);
	assert_int_equal(shm_inflight(shm, 5), 4);
	assert_false(shm_inflight_claim(shm, 2, 5, 3));
	shm_inflight_dec(shm, 4, 5);
	assert_false(shm_inflight_claim(shm, 2, 5, 3));
	shm_inflight_dec(shm, 1, 5);
	assert_true(shm_inflight_claim(shm, 2, 5, 3));
	assert_int_equal(shm_inflight(shm, 5), 3);
	/* A dead worker's places come back through its ledger (3 + 1). */
	assert_int_equal(shm_worker_reclaim(shm, 2), 4);
	assert_int_equal(shm_inflight(shm, 5), 0);
	assert_int_equal(shm_inflight(shm, 6), 0);
	for (int i = 0; i < 3; i++)
		assert_true(shm_inflight_claim(shm, 3, 5, 3));
	shm_free(shm);
}

#define CLAIM_MAX	1
#define CLAIM_LOOPS	5000

/* The segment the claim racers share. */
struct claim_race {
	struct shm *shm;
	struct race *rc;
};

/* Before a round: nobody holds a place, nothing was seen. */
static void
claim_race_reset(int r, void *arg)
{
	struct claim_race *cr = arg;

	(void)r;
	atomic_store(&cr->rc->scratch[0], 0);
	atomic_store(&cr->rc->scratch[1], 0);
}

/*
 * Claim and release as fast as possible; after every claim the count must
 * be at most CLAIM_MAX (this racer's place is in it): more means two
 * racers went through one place.
 */
static int
claim_race_churn(int k, int r, void *arg)
{
	struct claim_race *cr = arg;
	long got = 0;

	(void)r;
	for (int i = 0; i < CLAIM_LOOPS; i++) {
		if (!shm_inflight_claim(cr->shm, (uint32_t)k, 1, CLAIM_MAX))
			continue;
		got++;
		if (shm_inflight(cr->shm, 1) > CLAIM_MAX)
			atomic_fetch_add(&cr->rc->scratch[1], 1);
		shm_inflight_dec(cr->shm, (uint32_t)k, 1);
	}
	atomic_fetch_add(&cr->rc->scratch[0], got);
	return 0;
}

static int
claim_race_check(int r, void *arg)
{
	struct claim_race *cr = arg;
	long over = atomic_load(&cr->rc->scratch[1]);
	uint32_t left = shm_inflight(cr->shm, 1);

	if (over == 0 && left == 0 && atomic_load(&cr->rc->scratch[0]) > 0)
		return 0;
	print_error("round %d: %ld claims saw more than %d in flight, %u "
	    "left, %ld claimed\n", r, over, CLAIM_MAX, left,
	    atomic_load(&cr->rc->scratch[0]));
	return -1;
}

/*
 * Six processes (more than the cores) claim and release places of one
 * server limited to CLAIM_MAX, released together, 100 rounds: no claim
 * ever takes the count over the limit, and every place comes back.
 */
static void
test_claim_exact_across_processes(void **state)
{
	struct claim_race cr = { .shm = shm_new_sized(16, 4, 8),
	    .rc = race_new() };

	(void)state;
	race_run(cr.rc, 6, 100, claim_race_churn, claim_race_reset,
	    claim_race_check, &cr);
	for (uint32_t k = 0; k < 6; k++)
		assert_int_equal(atomic_load(shm_ledger(cr.shm, k, 1)), 0);
	race_free(cr.rc);
	shm_free(cr.shm);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header),
		cmocka_unit_test(test_publish),
		cmocka_unit_test(test_identity_survives_generations),
		cmocka_unit_test(test_counters_cache_aligned),
		cmocka_unit_test(test_inflight_shared_across_fork),
		cmocka_unit_test(test_reclaim_dead_worker),
		cmocka_unit_test(test_publish_full),
		cmocka_unit_test(test_recycled_slot_is_clean),
		cmocka_unit_test(test_readded_server_keeps_slot),
		cmocka_unit_test(test_reclaim_twice_and_reuse),
		cmocka_unit_test(test_busy_slot_not_reused),
		cmocka_unit_test(test_claim_limit),
		cmocka_unit_test(test_claim_exact_across_processes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
