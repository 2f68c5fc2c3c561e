/* The shared-memory segment: created by the master, mapped by every worker. */
#ifndef WEIR_SHM_H
#define WEIR_SHM_H

#include <stdbool.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "shm/shm-types.h"

struct config;

/* A private copy of one member of a list. */
struct shm_member {
	uint32_t slot;
	uint32_t weight;
	uint32_t flags;			/* SHM_SERVER_* */
	uint32_t max_conns;
};

/* Per-process handle on the segment (the segment itself is shm_*_sh). */
struct shm {
	void *base;
	size_t size;
	struct shm_header_sh *hdr;
	struct shm_server_sh *servers;	/* hdr->max_servers slots */
	struct shm_pool_sh *pools;	/* hdr->max_pools slots */
	struct shm_frontend_sh *frontends;	/* hdr->max_frontends slots */
	struct shm_worker_sh *workers;	/* hdr->max_workers slots */
	_Atomic uint32_t *ledgers;	/* [worker slot][server slot] */
	char *stats;			/* statistics areas (shm/stats.h) */
	char *members;			/* member lists (shm/members.c) */
	size_t stats_fe_off;		/* frontends within an area */
	size_t stats_pool_off;		/* pools within an area */
	/*
	 * Master: the members of a backend that do not come from the
	 * config file (admin API, discovery), which every publication of
	 * the backend's list adds to its file servers; NULL: none. Returns
	 * how many it wrote to out (room for max_servers).
	 */
	uint32_t (*dynamic)(void *arg, const char *backend,
	    struct shm_member *out, uint32_t room);
	void *dynamic_arg;
};

/* Map a shared anonymous segment with room for cfg and later reloads. */
struct shm *shm_new(const struct config *cfg);
/* The same, with explicit capacities (tests); as many frontends as pools. */
struct shm *shm_new_sized(uint32_t max_servers, uint32_t max_pools,
    uint32_t max_workers);
void shm_free(struct shm *shm);

/*
 * Master: map every server and backend of cfg onto slots by identity (pool
 * name + address), reusing the slot of a server an earlier generation
 * already has, and write weight, flags and admin state; frontends onto
 * statistics slots by name. Sets server_conf.slot, backend_conf.pool_slot
 * and frontend_conf.slot; then publishes each backend's member list: its
 * file servers and what shm->dynamic adds. Returns 0, or -1 with err set
 * when the segment is full (nothing is changed then).
 */
int shm_publish(struct shm *shm, struct config *cfg, char *err, size_t len);
/* Would shm_publish(cfg) fit? The same error, but nothing is written. */
int shm_publish_check(struct shm *shm, const struct config *cfg, char *err,
    size_t len);
/*
 * Master: a slot for server (pool, addr) reached at sa and written as
 * name, outside any config (admin API, discovery): its slot if it has
 * one, else a free one taken; -1 when the segment is full. Health starts
 * up; the caller sets what else it needs before listing it. The slot
 * counts as listed from now on, so that claims made for one publication
 * get distinct slots: the caller must publish a list naming it.
 */
int shm_server_claim(struct shm *shm, const char *pool, const char *addr,
    const char *name, const struct sockaddr *sa, socklen_t salen);
/* The slot server (pool, addr) has now, or -1. */
int shm_server_find(struct shm *shm, const char *pool, const char *addr);
/* Master: publish the member list of cfg's backend b again (as above). */
void shm_publish_list(struct shm *shm, const struct config *cfg, size_t b);
/* Master: a generation is gone; its slots may be reused once idle. */
void shm_unpublish(struct shm *shm, const struct config *cfg);

/* Master: how many worker slots are free. */
uint32_t shm_worker_free_count(const struct shm *shm);
/* Master: a free worker slot for a worker about to be forked, or -1. */
int shm_worker_claim(struct shm *shm, uint32_t generation);
void shm_worker_set_pid(struct shm *shm, uint32_t wslot, pid_t pid);
/*
 * Master, after reaping the worker in wslot: subtract its ledger from the
 * servers' in-flight counts, clear it, fold its statistics into the
 * retired totals and free the slot. Returns how many in-flight requests
 * the dead worker still held.
 */
uint32_t shm_worker_reclaim(struct shm *shm, uint32_t wslot);

static inline _Atomic uint32_t *
shm_ledger(struct shm *shm, uint32_t wslot, uint32_t server)
{
	return &shm->ledgers[(size_t)wslot * shm->hdr->max_servers + server];
}

/* Worker: a request to server starts (see the ordering in shm-types.h). */
static inline void
shm_inflight_inc(struct shm *shm, uint32_t wslot, uint32_t server)
{
	atomic_fetch_add_explicit(&shm->servers[server].inflight, 1,
	    memory_order_relaxed);
	atomic_fetch_add_explicit(shm_ledger(shm, wslot, server), 1,
	    memory_order_relaxed);
}

/*
 * Worker: take one of the max (> 0) in-flight places of server, or false
 * if all are taken, by every worker of every generation together. A
 * compare-and-swap from a count below max to one more, retried while
 * other workers move the count: a load, a test and an add would let two
 * workers that both saw max - 1 both go. Relaxed: each CAS acts on the
 * one counter, whose modification order alone makes the limit exact. The
 * ledger follows the count as in shm_inflight_inc(), and
 * shm_inflight_dec() gives the place back.
 */
static inline bool
shm_inflight_claim(struct shm *shm, uint32_t wslot, uint32_t server,
    uint32_t max)
{
	_Atomic uint32_t *n = &shm->servers[server].inflight;
	uint32_t cur = atomic_load_explicit(n, memory_order_relaxed);

	do {
		if (cur >= max)
			return false;
	} while (!atomic_compare_exchange_weak_explicit(n, &cur, cur + 1,
	    memory_order_relaxed, memory_order_relaxed));
	atomic_fetch_add_explicit(shm_ledger(shm, wslot, server), 1,
	    memory_order_relaxed);
	return true;
}

/* Worker: a request to server is over. */
static inline void
shm_inflight_dec(struct shm *shm, uint32_t wslot, uint32_t server)
{
	atomic_fetch_sub_explicit(shm_ledger(shm, wslot, server), 1,
	    memory_order_relaxed);
	atomic_fetch_sub_explicit(&shm->servers[server].inflight, 1,
	    memory_order_relaxed);
}

static inline uint32_t
shm_inflight(const struct shm *shm, uint32_t server)
{
	return atomic_load_explicit(&shm->servers[server].inflight,
	    memory_order_relaxed);
}

/* ---- members.c: member lists ("Member lists" in shm-types.h) ---- */

static inline struct shm_members_sh *
shm_members(const struct shm *shm, uint32_t pool)
{
	return (struct shm_members_sh *)(void *)(shm->members +
	    (size_t)pool * shm->hdr->members_size);
}

/* The version of pool's list now: one acquire load (every pick). */
static inline uint64_t
shm_members_version(const struct shm *shm, uint32_t pool)
{
	return atomic_load_explicit(&shm_members(shm, pool)->version,
	    memory_order_acquire);
}

/*
 * Master: publish m[0..n) (n <= max_servers) as pool's next list. Slots
 * the list before named and this one does not leave at the returned
 * epoch.
 */
uint64_t shm_members_publish(struct shm *shm, uint32_t pool,
    const struct shm_member *m, uint32_t n);
/*
 * Copy pool's list now into out (room for max_servers members) and its
 * length into *n; returns its version.
 */
uint64_t shm_members_read(const struct shm *shm, uint32_t pool,
    struct shm_member *out, uint32_t *n);
/* Worker, between callbacks: every later pick sees lists up to now. */
void shm_worker_seen(struct shm *shm, uint32_t wslot);
/*
 * Master: is slot named by no list, with nothing in flight, and out of
 * every live worker's reach? Then it may take a new identity.
 */
bool shm_server_unlisted_idle(const struct shm *shm, uint32_t slot);

#endif
