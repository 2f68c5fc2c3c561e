/*
 * Owns passive failure handling (outlier ejection): consecutive failures
 * seen by any worker eject a server for a while, doubling each time it
 * fails again, and one half-open trial request decides when it comes back.
 * All state is in shared memory, so the workers act as one.
 */
#include "autoconf.h"

#include <time.h>

#include "balancer/balancer.h"
#include "common/config.h"
#include "common/clock.h"
#include "common/log.h"
#include "shm/shm.h"

#define OUTLIER_MAX_EJECT_MS	(5u * 60 * 1000)
#define OUTLIER_TRIAL_SLACK_MS	1000

bool
outlier_admits(const struct shm_server_sh *sv)
{
	uint64_t w = atomic_load_explicit(&sv->eject, memory_order_acquire);

	if (SHM_EJECT_STATE(w) == SHM_EJECT_NONE)
		return true;
	return clock_ms() >= SHM_EJECT_UNTIL(w);
}

enum outlier_claim
outlier_claim(struct shm *shm, const struct bal_pool *pool, uint32_t slot)
{
	struct shm_server_sh *sv = &shm->servers[slot];
	uint64_t w = atomic_load_explicit(&sv->eject, memory_order_acquire);
	uint64_t now, deadline;

	if (SHM_EJECT_STATE(w) == SHM_EJECT_NONE)
		return OUTLIER_NORMAL;
	now = clock_ms();
	if (now < SHM_EJECT_UNTIL(w))
		return OUTLIER_BUSY;
	/*
	 * Exactly one worker wins the trial. If it is never reported (its
	 * worker died), another may start once the trial could not possibly
	 * still be waiting for its response head.
	 */
	deadline = now + pool->be->connect_timeout_ms +
	    pool->be->response_timeout_ms + OUTLIER_TRIAL_SLACK_MS;
	if (atomic_compare_exchange_strong_explicit(&sv->eject, &w,
	    SHM_EJECT(SHM_EJECT_TRIAL, deadline),
	    memory_order_acq_rel, memory_order_acquire))
		return OUTLIER_TRIAL;
	return OUTLIER_BUSY;
}

void
outlier_abandon(struct shm *shm, uint32_t slot)
{
	struct shm_server_sh *sv = &shm->servers[slot];
	uint64_t w = atomic_load_explicit(&sv->eject, memory_order_acquire);

	/* Due for a new trial at once; no verdict on the server either way. */
	if (SHM_EJECT_STATE(w) == SHM_EJECT_TRIAL)
		atomic_compare_exchange_strong_explicit(&sv->eject, &w,
		    SHM_EJECT(SHM_EJECT_OUT, clock_ms()), memory_order_acq_rel,
		    memory_order_relaxed);
}

/* fail_timeout doubled once per ejection in a row, at most 5 minutes. */
static uint64_t
outlier_duration(const struct backend_conf *be, uint32_t ejections)
{
	uint64_t ms = be->fail_timeout_ms;

	for (uint32_t i = 0; i < ejections && ms < OUTLIER_MAX_EJECT_MS; i++)
		ms *= 2;
	return ms < OUTLIER_MAX_EJECT_MS ? ms : OUTLIER_MAX_EJECT_MS;
}

/* Would ejecting one more member exceed max_ejected_percent of the pool? */
static bool
outlier_room(const struct shm *shm, const struct bal_pool *pool)
{
	uint32_t out = 0;

	for (uint32_t i = 0; i < pool->n; i++)
		if (SHM_EJECT_STATE(atomic_load_explicit(
		    &shm->servers[pool->slot[i]].eject,
		    memory_order_relaxed)) != SHM_EJECT_NONE)
			out++;
	return (uint64_t)(out + 1) * 100 <=
	    (uint64_t)pool->be->max_ejected_percent * pool->n;
}

/* Move the server from word w to OUT; true if this worker did it. */
static bool
outlier_eject(struct shm_server_sh *sv, uint64_t w, uint64_t *ms,
    const struct backend_conf *be)
{
	uint32_t e = atomic_load_explicit(&sv->ejections, memory_order_relaxed);

	*ms = outlier_duration(be, e);
	if (!atomic_compare_exchange_strong_explicit(&sv->eject, &w,
	    SHM_EJECT(SHM_EJECT_OUT, clock_ms() + *ms),
	    memory_order_acq_rel, memory_order_relaxed))
		return false;
	atomic_store_explicit(&sv->ejections, e + 1, memory_order_relaxed);
	atomic_store_explicit(&sv->fails, 0, memory_order_relaxed);
	return true;
}

/* The half-open trial answered: back in service, or out again for longer. */
static void
outlier_trial_done(struct shm_server_sh *sv, const struct bal_pool *pool,
    bool ok)
{
	const struct backend_conf *be = pool->be;
	uint64_t w = atomic_load_explicit(&sv->eject, memory_order_acquire);
	uint64_t ms;

	if (SHM_EJECT_STATE(w) != SHM_EJECT_TRIAL)
		return;
	if (!ok) {
		if (outlier_eject(sv, w, &ms, be))
			log_warnx("server %s/%s failed its trial request; "
			    "ejected for %llu ms", be->name, sv->addr,
			    (unsigned long long)ms);
		return;
	}
	if (atomic_compare_exchange_strong_explicit(&sv->eject, &w,
	    SHM_EJECT(SHM_EJECT_NONE, 0), memory_order_acq_rel,
	    memory_order_relaxed)) {
		atomic_store_explicit(&sv->ejections, 0, memory_order_relaxed);
		log_info("server %s/%s back in service after a successful "
		    "trial request", be->name, sv->addr);
	}
}

void
outlier_report(struct shm *shm, const struct bal_pool *pool, uint32_t slot,
    bool ok, bool trial)
{
	struct shm_server_sh *sv = &shm->servers[slot];
	const struct backend_conf *be = pool->be;
	uint32_t fails;
	uint64_t w, ms;

	if (trial) {
		outlier_trial_done(sv, pool, ok);
		if (ok)
			atomic_store_explicit(&sv->fails, 0, memory_order_relaxed);
		return;
	}
	if (ok) {
		/* Read first: the common case writes nothing shared. */
		if (atomic_load_explicit(&sv->fails, memory_order_relaxed) != 0)
			atomic_store_explicit(&sv->fails, 0, memory_order_relaxed);
		return;
	}
	fails = atomic_fetch_add_explicit(&sv->fails, 1, memory_order_relaxed) + 1;
	if (be->max_fails == 0 || fails < be->max_fails)
		return;
	w = atomic_load_explicit(&sv->eject, memory_order_acquire);
	if (SHM_EJECT_STATE(w) != SHM_EJECT_NONE)
		return;
	if (!outlier_room(shm, pool)) {
		log_debug("server %s/%s failing, but max_ejected_percent (%u%%) "
		    "keeps it in", be->name, sv->addr,
		    be->max_ejected_percent);
		return;
	}
	if (outlier_eject(sv, w, &ms, be))
		log_warnx("server %s/%s ejected for %llu ms after %u consecutive "
		    "failures", be->name, sv->addr,
		    (unsigned long long)ms, fails);
}
