/*
 * Layout of the shared-memory segment. The master creates it before it
 * forks and it outlives every worker; a reload (later) reuses it.
 *
 *   header | server slots | pool slots | worker slots | ledgers
 *
 * Server slots are keyed by identity (pool name + address), not by position
 * in a config: a config generation maps its servers onto slots, so workers
 * of an old and a new generation count against the same slot for a server
 * present in both, and no in-flight count is lost across a reload. Per-pool
 * shared state (the round-robin ticket) lives in pool slots keyed by name.
 * Membership, weights and algorithm tables are per generation and private
 * to the processes of that generation (built by the master before forking).
 *
 * Memory-ordering contract (one writer per field):
 * - Identity, weight, flags, used: written by the master while no worker
 *   of a generation naming the slot exists yet; fork() orders these writes
 *   before any read by that generation's workers. Plain fields.
 * - health, admin, up_since_ms: written by the master at any time with
 *   memory_order_release, read by workers with memory_order_acquire. Each
 *   is independent; a worker may see a new health with an old up_since for
 *   one pick, which only shifts one slow-start weight.
 * - inflight: the number of requests in flight to the server from every
 *   worker. Workers change it with relaxed read-modify-writes (a count
 *   publishes nothing else). The master also subtracts a dead worker's
 *   ledger from it. It sits alone on its cache line.
 * - ledger[w][s]: how much of inflight[s] worker slot w is responsible for.
 *   Only worker w changes it while alive (relaxed); the master reads and
 *   clears it only after reaping w. A worker bumps inflight before its
 *   ledger and drops its ledger before inflight, so a worker killed between
 *   the two steps leaves inflight one too high, never too low: that window
 *   is a few instructions wide, errs toward "busier" (harmless for
 *   least-connections), and cannot underflow the counter.
 * - ticket (pool): relaxed fetch_add by workers; each value goes to one pick.
 * - retry_tokens (pool): workers add a fraction per request and take one
 *   per retry (relaxed; a retry or two too many under a race is harmless).
 * - fails, eject, ejections (server): passive failure handling shared by
 *   every worker. fails is a relaxed counter. eject packs the state and its
 *   deadline in one word and moves only by compare-and-swap: NONE->OUT by
 *   the worker that sees the max_fails-th failure, OUT->TRIAL by the one
 *   worker that gets to send the half-open trial, TRIAL->NONE or ->OUT by
 *   that worker. ejections (the doubling exponent) is written only by a CAS
 *   winner; a racing reader at worst doubles one step less. A TRIAL whose
 *   worker died expires at its deadline and another trial may start.
 * - worker slot pid: written by the master (claim, reclaim); stats fields
 *   only by the worker that owns the slot (relaxed).
 */
#ifndef WEIR_SHM_TYPES_H
#define WEIR_SHM_TYPES_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define SHM_MAGIC	0x52494557u	/* "WEIR" little-endian */
#define SHM_VERSION	2
#define SHM_CACHELINE	64
#define SHM_NAME_MAX	48

enum shm_health {
	SHM_HEALTH_UP,
	SHM_HEALTH_DOWN,
};

enum shm_admin {
	SHM_ADMIN_ACTIVE,
	SHM_ADMIN_DRAIN,	/* finishes what it has, gets nothing new */
	SHM_ADMIN_MAINT,	/* configured "disabled", or set by the admin API */
};

#define SHM_SERVER_BACKUP	0x01
#define SHM_RETRY_TOKENS_START	10000	/* ten retries (1000 per retry) */

struct shm_header_sh {
	uint32_t magic;
	uint32_t version;
	uint32_t header_size;
	uint32_t server_size;
	uint32_t pool_size;
	uint32_t worker_size;
	uint32_t max_servers;
	uint32_t max_pools;
	uint32_t max_workers;
	uint32_t pad;
	uint64_t servers_off;
	uint64_t pools_off;
	uint64_t workers_off;
	uint64_t ledgers_off;
	uint64_t total_size;
};

enum shm_eject {
	SHM_EJECT_NONE,		/* taking traffic */
	SHM_EJECT_OUT,		/* ejected until the word's time */
	SHM_EJECT_TRIAL,	/* one trial request in flight (half-open) until
				 * the word's time, when a stale trial expires */
};

/* One word so a single CAS publishes state and time together. */
#define SHM_EJECT(state, until_ms)	(((uint64_t)(until_ms) << 2) | (state))
#define SHM_EJECT_STATE(word)		((uint32_t)((word) & 3))
#define SHM_EJECT_UNTIL(word)		((word) >> 2)

struct shm_server_sh {
	alignas(SHM_CACHELINE) _Atomic uint32_t inflight;	/* workers */
	_Atomic uint32_t fails;		/* workers: consecutive failures */
	alignas(SHM_CACHELINE) _Atomic uint32_t health;	/* master */
	_Atomic uint32_t admin;				/* master */
	_Atomic uint64_t up_since_ms;	/* master: CLOCK_MONOTONIC ms it came
					 * back up (slow start); 0 = no ramp */
	_Atomic uint64_t eject;		/* workers, by CAS: SHM_EJECT() */
	_Atomic uint32_t ejections;	/* workers: ejections in a row */
	uint32_t weight;		/* master */
	uint32_t flags;			/* master: SHM_SERVER_* */
	uint32_t used;			/* master: slot holds a server */
	uint32_t refs;			/* master only: generations naming it */
	char pool[SHM_NAME_MAX];	/* identity: pool name ... */
	char addr[SHM_NAME_MAX];		/* ... and address */
};

struct shm_pool_sh {
	alignas(SHM_CACHELINE) _Atomic uint64_t ticket;	/* workers */
	_Atomic int64_t retry_tokens;	/* workers: retry budget, 1/1000 retry */
	alignas(SHM_CACHELINE) uint32_t used;		/* master */
	uint32_t refs;					/* master */
	char name[SHM_NAME_MAX];
};

struct shm_worker_sh {
	alignas(SHM_CACHELINE) _Atomic int32_t pid;	/* master; 0 = free */
	uint32_t generation;				/* master */
	/* Statistics, written only by the worker that owns the slot. */
	alignas(SHM_CACHELINE) _Atomic uint64_t requests;
	_Atomic uint64_t responses[6];	/* [0] weir-made, [1..5] by class 1xx..5xx */
	_Atomic uint64_t conns_active;
};

_Static_assert(sizeof(struct shm_header_sh) == 80, "shm header layout");
_Static_assert(sizeof(struct shm_server_sh) == 4 * SHM_CACHELINE,
    "shm server layout");
_Static_assert(offsetof(struct shm_server_sh, health) == SHM_CACHELINE,
    "inflight must own its cache line");
_Static_assert(sizeof(struct shm_pool_sh) == 2 * SHM_CACHELINE,
    "shm pool layout");
_Static_assert(sizeof(struct shm_worker_sh) == 2 * SHM_CACHELINE,
    "shm worker layout");

#endif
