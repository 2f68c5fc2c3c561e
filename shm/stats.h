/*
 * Statistics in shared memory: workers count in their own area, the master
 * folds a dead worker's area into RETIRED and sums for a scrape (the
 * contract is at the top of shm/shm-types.h).
 */
#ifndef WEIR_SHM_STATS_H
#define WEIR_SHM_STATS_H

#include <stdatomic.h>
#include <stdint.h>

#include "shm/shm.h"

/* One area's arrays, as one process sees them. */
struct shm_stats {
	struct shm_stat_server_sh *servers;	/* [max_servers] */
	struct shm_stat_frontend_sh *frontends;	/* [max_frontends] */
	struct shm_stat_pool_sh *pools;		/* [max_pools] */
};

/* The master's two areas, after the max_workers areas of worker slots. */
#define SHM_AREA_RETIRED(shm)	((shm)->hdr->max_workers)
#define SHM_AREA_BASE(shm)	((shm)->hdr->max_workers + 1)

/* Upper bounds of the histogram buckets, in microseconds (inclusive). */
static const uint32_t shm_hist_bounds_us[SHM_HIST_BOUNDS] = {
	1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
	1000000, 2500000, 5000000, 10000000,
};

/* Area number area (a worker slot, or RETIRED or BASE). */
void shm_stats_area(const struct shm *shm, uint32_t area, struct shm_stats *st);

/*
 * Worker: add n to a counter of its own area. Only the owner writes the
 * field, so a relaxed load and store suffice and no locked instruction is
 * needed; the master may read either value (see shm-types.h).
 */
static inline void
shm_stat_add(_Atomic uint64_t *c, uint64_t n)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) +
	    n, memory_order_relaxed);
}

static inline void
shm_stat_inc(_Atomic uint64_t *c)
{
	shm_stat_add(c, 1);
}

/* Worker: a gauge of its own area goes down by one (wraps back up on inc). */
static inline void
shm_stat_dec(_Atomic uint64_t *c)
{
	shm_stat_add(c, UINT64_MAX);
}

/* The class index (0 for 1xx .. 4 for 5xx) of a status; odd ones are 5xx. */
static inline unsigned
shm_stat_class(int status)
{
	unsigned c = (unsigned)status / 100;

	return c >= 1 && c <= SHM_STAT_CLASSES ? c - 1 : SHM_STAT_CLASSES - 1;
}

/* Worker: one response time of us microseconds. */
static inline void
shm_stat_observe(struct shm_stat_server_sh *st, uint64_t us)
{
	unsigned i = 0;

	/* Most answers fall in the first buckets: a linear scan is cheapest. */
	while (i < SHM_HIST_BOUNDS && us > shm_hist_bounds_us[i])
		i++;
	shm_stat_inc(&st->hist[i]);
	shm_stat_add(&st->hist_sum_us, us);
}

/*
 * Master, after reaping the worker in wslot and before freeing its slot:
 * add its area to RETIRED and zero it (gauges are only zeroed).
 */
void shm_stats_fold(struct shm *shm, uint32_t wslot);

/* Master: slot now names a new server, pool or frontend; count from zero. */
void shm_stats_rebase_server(struct shm *shm, uint32_t slot);
void shm_stats_rebase_pool(struct shm *shm, uint32_t slot);
void shm_stats_rebase_frontend(struct shm *shm, uint32_t slot);

/*
 * Master: the totals of a slot, RETIRED + every live worker's area - BASE
 * (a scrape). out is a private copy (its fields are atomic only by type).
 */
void shm_stats_server_sum(const struct shm *shm, uint32_t slot,
    struct shm_stat_server_sh *out);
void shm_stats_frontend_sum(const struct shm *shm, uint32_t slot,
    struct shm_stat_frontend_sh *out);
void shm_stats_pool_sum(const struct shm *shm, uint32_t slot,
    struct shm_stat_pool_sh *out);

#endif
