/*
 * Layout of the shared-memory segment. The master creates it before it
 * forks and it outlives every worker; a reload (later) reuses it.
 *
 *   header | server slots | pool slots | frontend slots | worker slots |
 *   ledgers | statistics areas
 *
 * Server slots are keyed by identity (pool name + address), not by position
 * in a config: a config generation maps its servers onto slots, so workers
 * of an old and a new generation count against the same slot for a server
 * present in both, and no in-flight count is lost across a reload. Per-pool
 * shared state (the round-robin ticket) lives in pool slots keyed by name.
 * Membership and weights are pools' member lists (below), shared by every
 * generation; algorithm tables are private to each process, built from
 * the list and its generation's config.
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
 *   publishes nothing else); for a server with max_conns they take a
 *   place only by compare-and-swap from below the limit
 *   (shm_inflight_claim()), so the limit holds over all workers exactly.
 *   The master also subtracts a dead worker's ledger from it. It sits
 *   alone on its cache line.
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
 * - worker slot pid: written by the master (claim, reclaim).
 *
 * Member lists (runtime membership; shm/members.c):
 * - Each pool slot has a member list: which server slots are in the pool,
 *   with weight, flags and max_conns. The master is its only writer. It
 *   writes the buffer the current version does not use, then stores
 *   version + 1 with release, then bumps hdr->epoch with release. A slot's
 *   identity and address (pool, addr, sa, salen, name, incarnation) are
 *   plain fields written before the first list that names the slot is
 *   published, so the release on the version orders them too.
 * - A worker loads the version with acquire once per pick; when it moved,
 *   it copies the buffer (relaxed loads), loads the version again and
 *   retries if it moved meanwhile (the master may have reused the buffer
 *   it was copying), then rebuilds its private tables from the copy. No
 *   lock, and the common case costs one load.
 * - A server leaves by a publication without it at epoch E (removed_epoch
 *   = E). Every worker stores the epoch it has seen into its slot's
 *   seen_epoch with release, between callbacks (never during a pick),
 *   after which every pick it makes checks versions published up to that
 *   epoch. Its slot may get a new identity only when no list names it,
 *   its inflight is 0 and every live worker's seen_epoch >= E: then no
 *   worker can still pick it from an older list, and no request to it is
 *   in flight. A worker that never picks from the pool still moves its
 *   seen_epoch on, so it holds up nothing.
 *
 * Statistics (the counters behind GET /metrics, master/metrics.c) are exact
 * and never go down, across reloads, crashes and SIGKILL:
 * - Each worker slot w owns a statistics area: per server slot, per
 *   frontend slot and per pool slot counters (struct shm_stat_*_sh), laid
 *   out cache-line aligned so no line is shared with another area. Only
 *   the worker in slot w writes its area while it runs, one field at a
 *   time with a relaxed load and a relaxed store of value + 1 (- 1 for a
 *   gauge): no locked read-modify-write, as nobody else writes the field. The master reads it
 *   with relaxed loads; a 64-bit aligned load never tears on the targets
 *   we build for, so a scrape sees each counter's old or new value.
 * - Two more areas belong to the master alone: RETIRED holds the counts of
 *   workers that are gone, BASE what each slot had counted for its
 *   previous identity. A series is RETIRED + (sum over live worker slots)
 *   - BASE, in wrapping 64-bit arithmetic.
 * - Fold on reap (shm_worker_reclaim(), run by the master after waitpid()
 *   returned the worker, so its area has no writer any more): for each
 *   field, RETIRED += area, then area = 0, then the slot's pid = 0. The
 *   master scrapes from the same thread (its event loop), so no scrape
 *   sees a half-folded area, and the sum is the same before and after. Only after
 *   pid = 0 may shm_worker_claim() hand the slot, with its zeroed area, to
 *   a new worker: nothing is lost and nothing counted twice. Gauges
 *   (open connections) are zeroed, not folded: a dead worker holds none.
 * - Slot reuse: a server, pool or frontend slot is given a new identity
 *   only while no generation names it (refs == 0), so no live worker can
 *   write its fields; the master then adds the slot's current sum to BASE
 *   (shm_stats_rebase_*()), and the new identity starts from zero without
 *   the master ever writing into a live worker's area. A never-used slot
 *   needs no baseline: nobody ever counted on it.
 */
#ifndef WEIR_SHM_TYPES_H
#define WEIR_SHM_TYPES_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>

#define SHM_MAGIC	0x52494557u	/* "WEIR" little-endian */
#define SHM_VERSION	4
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
#define SHM_SERVER_TLS		0x02
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
	uint32_t max_frontends;
	uint32_t frontend_size;
	uint32_t stats_area_size;	/* one statistics area, cache-aligned */
	uint64_t servers_off;
	uint64_t pools_off;
	uint64_t frontends_off;
	uint64_t workers_off;
	uint64_t ledgers_off;
	uint64_t stats_off;		/* max_workers + 2 areas (RETIRED, BASE) */
	uint64_t total_size;
	uint64_t members_off;		/* max_pools member lists */
	uint64_t members_size;		/* one pool's, cache-aligned */
	_Atomic uint64_t epoch;		/* master: member list publications */
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
	/* Where to connect (master, see "Member lists" above). */
	union {
		struct sockaddr sa;
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
	} sa;
	uint32_t salen;
	uint32_t incarnation;		/* master: bumped per new identity */
	char name[SHM_NAME_MAX];	/* as written (a host name: TLS SNI) */
	/* master only: no member list names it since this epoch (0: one
	 * does), and whether any list has named it since it was taken */
	uint64_t removed_epoch;
	uint32_t listed;
};

struct shm_pool_sh {
	alignas(SHM_CACHELINE) _Atomic uint64_t ticket;	/* workers */
	_Atomic int64_t retry_tokens;	/* workers: retry budget, 1/1000 retry */
	alignas(SHM_CACHELINE) uint32_t used;		/* master */
	uint32_t refs;					/* master */
	char name[SHM_NAME_MAX];
};

/* Frontends have no shared state but statistics: a slot keyed by name. */
struct shm_frontend_sh {
	uint32_t used;			/* master only */
	uint32_t refs;			/* master only: generations naming it */
	char name[64];			/* config names are shorter */
};

struct shm_worker_sh {
	alignas(SHM_CACHELINE) _Atomic int32_t pid;	/* master; 0 = free */
	uint32_t generation;				/* master */
	_Atomic uint64_t seen_epoch;	/* the worker: see "Member lists" */
};

/* One member of a pool's list (see "Member lists" above). */
struct shm_member_sh {
	_Atomic uint32_t slot;		/* server slot */
	_Atomic uint32_t weight;	/* 0: listed, but no new requests */
	_Atomic uint32_t flags;		/* SHM_SERVER_* */
	_Atomic uint32_t max_conns;	/* 0: no limit */
};

/*
 * A pool's member list: two buffers of hdr->max_servers members follow
 * this header; the list of version v is buffer v & 1.
 */
struct shm_members_sh {
	alignas(SHM_CACHELINE) _Atomic uint64_t version;
	_Atomic uint32_t n[2];
};

/* Status classes 1xx..5xx of responses, index class - 1. */
#define SHM_STAT_CLASSES	5

/* Why an attempt at a server failed (weir_server_failures_total). */
enum shm_fail {
	SHM_FAIL_CONNECT,	/* could not connect */
	SHM_FAIL_RESET,		/* reset or closed before the response ended */
	SHM_FAIL_TIMEOUT,	/* connect, send or response timeout */
	SHM_FAIL_INVALID,	/* response head or framing invalid */
	SHM_FAIL_MAX
};

/*
 * Response time histogram: upper bounds in microseconds (Prometheus "le",
 * inclusive), and one more bucket for everything above the last (+Inf).
 * Buckets are stored per bucket, not cumulated: one store per observation.
 */
#define SHM_HIST_BOUNDS		13
#define SHM_HIST_BUCKETS	(SHM_HIST_BOUNDS + 1)

/* One server slot's counters in one area (all counters: folded). */
struct shm_stat_server_sh {
	_Atomic uint64_t requests;		/* attempts sent toward it */
	_Atomic uint64_t responses[SHM_STAT_CLASSES];	/* final heads, 101 */
	_Atomic uint64_t failures[SHM_FAIL_MAX];
	_Atomic uint64_t hist[SHM_HIST_BUCKETS];	/* per bucket */
	_Atomic uint64_t hist_sum_us;
};

/* One frontend slot's counters in one area. */
struct shm_stat_frontend_sh {
	_Atomic uint64_t conns;			/* gauge: open, not folded */
	_Atomic uint64_t accepted;		/* connections accepted */
	_Atomic uint64_t requests;
	_Atomic uint64_t responses[SHM_STAT_CLASSES];	/* what clients got */
};

/* One pool slot's counters in one area. */
struct shm_stat_pool_sh {
	_Atomic uint64_t queued;		/* gauge: requests waiting for
						 * a server slot (not folded) */
	_Atomic uint64_t retries;
};

/* Every field of these structs is one 64-bit word (fold and sum by word). */
#define SHM_STAT_WORDS(type)	(sizeof(type) / sizeof(_Atomic uint64_t))

_Static_assert(sizeof(struct shm_header_sh) == 128, "shm header layout");
_Static_assert(sizeof(struct shm_server_sh) == 5 * SHM_CACHELINE,
    "shm server layout");
_Static_assert(offsetof(struct shm_server_sh, health) == SHM_CACHELINE,
    "inflight must own its cache line");
_Static_assert(sizeof(struct shm_pool_sh) == 2 * SHM_CACHELINE,
    "shm pool layout");
_Static_assert(sizeof(struct shm_worker_sh) == SHM_CACHELINE,
    "shm worker layout");
_Static_assert(sizeof(struct shm_stat_server_sh) ==
    SHM_STAT_WORDS(struct shm_stat_server_sh) * 8, "stat words");
_Static_assert(sizeof(struct shm_stat_frontend_sh) ==
    SHM_STAT_WORDS(struct shm_stat_frontend_sh) * 8, "stat words");
_Static_assert(offsetof(struct shm_stat_pool_sh, queued) == 0,
    "gauges open a record (STATS_POOL_GAUGES)");

#endif
