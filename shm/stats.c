/*
 * Owns the statistics areas of the shared segment: where each lives, the
 * fold of a dead worker's counts into RETIRED, the baseline of a slot that
 * takes a new identity, and the sums a scrape reads (master only; workers
 * count with the inline functions of shm/stats.h).
 */
#include "autoconf.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "shm/shm.h"
#include "shm/stats.h"

/* The largest record, in words: sums are built in a buffer this big. */
#define STATS_MAX_WORDS	32

_Static_assert(SHM_STAT_WORDS(struct shm_stat_server_sh) <= STATS_MAX_WORDS,
    "stats record too large");
_Static_assert(SHM_STAT_WORDS(struct shm_stat_frontend_sh) <= STATS_MAX_WORDS,
    "stats record too large");

/* Open connections: a gauge, the first word of a frontend record. */
#define STATS_FE_GAUGES	1
/* Queued requests: a gauge, the first word of a pool record. */
#define STATS_POOL_GAUGES	1

void
shm_stats_area(const struct shm *shm, uint32_t area, struct shm_stats *st)
{
	char *a = shm->stats + (size_t)area * shm->hdr->stats_area_size;

	st->servers = (struct shm_stat_server_sh *)(void *)a;
	st->frontends = (struct shm_stat_frontend_sh *)(void *)
	    (a + shm->stats_fe_off);
	st->pools = (struct shm_stat_pool_sh *)(void *)(a + shm->stats_pool_off);
}

/*
 * A record's words in area number area: the record at byte offset off of
 * every area (all areas share one layout). Records are nothing but 64-bit
 * counters (static asserts in shm-types.h), so they are walked as words.
 */
static _Atomic uint64_t *
stats_words(const struct shm *shm, uint32_t area, size_t off)
{
	return (_Atomic uint64_t *)(void *)(shm->stats +
	    (size_t)area * shm->hdr->stats_area_size + off);
}

static uint64_t
stats_load(const _Atomic uint64_t *w)
{
	return atomic_load_explicit(w, memory_order_relaxed);
}

static void
stats_store(_Atomic uint64_t *w, uint64_t v)
{
	atomic_store_explicit(w, v, memory_order_relaxed);
}

/*
 * Move the n words of a dead worker's record at off into RETIRED and zero
 * them; the first ngauges words are gauges, only zeroed. A word that is
 * already zero is not written: most slots were never touched by a worker.
 */
static void
stats_fold_record(struct shm *shm, uint32_t wslot, size_t off, size_t n,
    size_t ngauges)
{
	_Atomic uint64_t *w = stats_words(shm, wslot, off);
	_Atomic uint64_t *r = stats_words(shm, SHM_AREA_RETIRED(shm), off);
	uint64_t v;

	for (size_t i = 0; i < n; i++) {
		if ((v = stats_load(&w[i])) == 0)
			continue;
		if (i >= ngauges)
			stats_store(&r[i], stats_load(&r[i]) + v);
		stats_store(&w[i], 0);
	}
}

void
shm_stats_fold(struct shm *shm, uint32_t wslot)
{
	const struct shm_header_sh *h = shm->hdr;

	/* A worker counts only against slots its generation named: used. */
	for (uint32_t s = 0; s < h->max_servers; s++)
		if (shm->servers[s].used)
			stats_fold_record(shm, wslot,
			    s * sizeof(struct shm_stat_server_sh),
			    SHM_STAT_WORDS(struct shm_stat_server_sh), 0);
	for (uint32_t f = 0; f < h->max_frontends; f++)
		if (shm->frontends[f].used)
			stats_fold_record(shm, wslot, shm->stats_fe_off +
			    f * sizeof(struct shm_stat_frontend_sh),
			    SHM_STAT_WORDS(struct shm_stat_frontend_sh),
			    STATS_FE_GAUGES);
	for (uint32_t p = 0; p < h->max_pools; p++)
		if (shm->pools[p].used)
			stats_fold_record(shm, wslot, shm->stats_pool_off +
			    p * sizeof(struct shm_stat_pool_sh),
			    SHM_STAT_WORDS(struct shm_stat_pool_sh),
			    STATS_POOL_GAUGES);
}

/*
 * out = RETIRED + (every live worker's record) - BASE, word by word, in
 * wrapping arithmetic. A slot with pid -1 (claimed, fork under way) has a
 * zero area, so counting it changes nothing.
 */
static void
stats_sum(const struct shm *shm, size_t off, size_t n, uint64_t *out)
{
	const _Atomic uint64_t *r = stats_words(shm, SHM_AREA_RETIRED(shm), off);
	const _Atomic uint64_t *b = stats_words(shm, SHM_AREA_BASE(shm), off);
	const _Atomic uint64_t *w;

	for (size_t i = 0; i < n; i++)
		out[i] = stats_load(&r[i]) - stats_load(&b[i]);
	for (uint32_t ws = 0; ws < shm->hdr->max_workers; ws++) {
		if (atomic_load_explicit(&shm->workers[ws].pid,
		    memory_order_relaxed) == 0)
			continue;
		w = stats_words(shm, ws, off);
		for (size_t i = 0; i < n; i++)
			out[i] += stats_load(&w[i]);
	}
}

/* Copy n summed words into a caller's record. */
static void
stats_sum_into(const struct shm *shm, size_t off, size_t n, void *rec)
{
	_Atomic uint64_t *out = rec;
	uint64_t sum[STATS_MAX_WORDS];

	stats_sum(shm, off, n, sum);
	for (size_t i = 0; i < n; i++)
		stats_store(&out[i], sum[i]);
}

/*
 * BASE += the record's current total, so the total reads zero from now on:
 * BASE ends up as RETIRED + live, what the old identity counted. Gauges
 * are not rebased (no live worker holds anything on an unnamed slot).
 */
static void
stats_rebase(struct shm *shm, size_t off, size_t n, size_t ngauges)
{
	_Atomic uint64_t *b = stats_words(shm, SHM_AREA_BASE(shm), off);
	uint64_t sum[STATS_MAX_WORDS];

	stats_sum(shm, off, n, sum);
	for (size_t i = ngauges; i < n; i++)
		stats_store(&b[i], stats_load(&b[i]) + sum[i]);
}

void
shm_stats_rebase_server(struct shm *shm, uint32_t slot)
{
	stats_rebase(shm, slot * sizeof(struct shm_stat_server_sh),
	    SHM_STAT_WORDS(struct shm_stat_server_sh), 0);
}

void
shm_stats_rebase_pool(struct shm *shm, uint32_t slot)
{
	stats_rebase(shm, shm->stats_pool_off +
	    slot * sizeof(struct shm_stat_pool_sh),
	    SHM_STAT_WORDS(struct shm_stat_pool_sh), STATS_POOL_GAUGES);
}

void
shm_stats_rebase_frontend(struct shm *shm, uint32_t slot)
{
	stats_rebase(shm, shm->stats_fe_off +
	    slot * sizeof(struct shm_stat_frontend_sh),
	    SHM_STAT_WORDS(struct shm_stat_frontend_sh), STATS_FE_GAUGES);
}

void
shm_stats_server_sum(const struct shm *shm, uint32_t slot,
    struct shm_stat_server_sh *out)
{
	stats_sum_into(shm, slot * sizeof(struct shm_stat_server_sh),
	    SHM_STAT_WORDS(struct shm_stat_server_sh), out);
}

void
shm_stats_frontend_sum(const struct shm *shm, uint32_t slot,
    struct shm_stat_frontend_sh *out)
{
	stats_sum_into(shm, shm->stats_fe_off +
	    slot * sizeof(struct shm_stat_frontend_sh),
	    SHM_STAT_WORDS(struct shm_stat_frontend_sh), out);
}

void
shm_stats_pool_sum(const struct shm *shm, uint32_t slot,
    struct shm_stat_pool_sh *out)
{
	stats_sum_into(shm, shm->stats_pool_off +
	    slot * sizeof(struct shm_stat_pool_sh),
	    SHM_STAT_WORDS(struct shm_stat_pool_sh), out);
}
