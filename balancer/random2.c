/*
 * Power of two random choices: draw two different usable members, each
 * with probability proportional to its effective weight, and send the
 * request to the less loaded (in flight per unit of weight) of the two.
 *
 * Unlike least connections it needs no scan of the pool and no shared
 * ticket, and many workers acting on the same stale counts do not all
 * pile onto the one server that looked idlest (Mitzenmacher).
 */
#include "autoconf.h"

#include <stdlib.h>

#include "balancer/balancer.h"
#include "shm/shm.h"

/* Alias draws before the exact scan; each fails only on an unusable pick. */
#define BAL_RANDOM2_TRIES	8

/*
 * Vose's alias method in integers, so the draw is exact: scaled to n *
 * weight, every position holds wsum, split between its own member (the
 * first cut) and one alias.
 */
static int
bal_random2_alias(struct bal_pool *pool, int c)
{
	uint32_t n = pool->nmembers[c], *small, *large, ns = 0, nl = 0;
	const uint32_t *members = pool->members[c];
	uint64_t *p, w = 0;

	for (uint32_t i = 0; i < n; i++)
		w += pool->weight[members[i]];
	pool->wsum[c] = (uint32_t)w;
	pool->alias_cut[c] = calloc(n + 1, sizeof(*pool->alias_cut[c]));
	pool->alias_alt[c] = calloc(n + 1, sizeof(*pool->alias_alt[c]));
	p = calloc(n + 1, sizeof(*p));
	small = calloc(n + 1, sizeof(*small));
	large = calloc(n + 1, sizeof(*large));
	if (pool->alias_cut[c] == NULL || pool->alias_alt[c] == NULL ||
	    p == NULL || small == NULL || large == NULL) {
		free(p);
		free(small);
		free(large);
		return -1;
	}
	for (uint32_t i = 0; i < n; i++) {
		p[i] = (uint64_t)pool->weight[members[i]] * n;
		if (p[i] < w)
			small[ns++] = i;
		else
			large[nl++] = i;
	}
	while (ns > 0 && nl > 0) {
		uint32_t s = small[--ns], l = large[--nl];

		pool->alias_cut[c][s] = (uint32_t)p[s];
		pool->alias_alt[c][s] = members[l];
		p[l] -= w - p[s];
		if (p[l] < w)
			small[ns++] = l;
		else
			large[nl++] = l;
	}
	/* What is left is exactly full. */
	while (nl > 0) {
		uint32_t l = large[--nl];

		pool->alias_cut[c][l] = (uint32_t)w;
		pool->alias_alt[c][l] = members[l];
	}
	while (ns > 0) {
		uint32_t s = small[--ns];

		pool->alias_cut[c][s] = (uint32_t)w;
		pool->alias_alt[c][s] = members[s];
	}
	free(p);
	free(small);
	free(large);
	return 0;
}

int
bal_random2_build(struct bal_pool *pool)
{
	for (int c = 0; c < 2; c++)
		if (bal_random2_alias(pool, c) == -1)
			return -1;
	return 0;
}

/* Would a draw of m stand: usable, and kept at eff/weight in slow start? */
static bool
bal_random2_keep(struct shm *shm, const struct bal_pool *pool,
    const struct bal_request *req, uint32_t m, uint32_t *eff)
{
	uint32_t w = pool->weight[m] * BAL_WEIGHT_SCALE;

	if (!bal_usable(shm, pool, m))
		return false;
	if ((*eff = bal_effective_weight(shm, pool, m, req->now_ms)) >= w)
		return true;
	return bal_random_below(req->rng, w) < *eff;
}

/*
 * The exact draw when the alias draws kept failing (most of the class is
 * down): prefix sums of effective weights over the usable members, on the
 * fly, two passes.
 */
static int
bal_random2_scan(struct shm *shm, const struct bal_pool *pool,
    const struct bal_request *req, int c, int other, uint32_t *eff)
{
	uint64_t total = 0, r;
	int last = -1;

	for (uint32_t i = 0; i < pool->nmembers[c]; i++) {
		uint32_t m = pool->members[c][i];

		if ((int)m != other && bal_usable(shm, pool, m))
			total += bal_effective_weight(shm, pool, m,
			    req->now_ms);
	}
	if (total == 0)
		return -1;
	r = bal_random_below(req->rng, (uint32_t)total);
	for (uint32_t i = 0; i < pool->nmembers[c]; i++) {
		uint32_t m = pool->members[c][i];

		if ((int)m == other || !bal_usable(shm, pool, m))
			continue;
		*eff = bal_effective_weight(shm, pool, m, req->now_ms);
		last = (int)m;
		if (r < *eff)
			return last;
		r -= *eff;
	}
	/* The class changed between the passes; any usable one will do. */
	return last;
}

/* One member of class c other than other, by effective weight; -1 if none. */
static int
bal_random2_draw(struct shm *shm, const struct bal_pool *pool,
    const struct bal_request *req, int c, int other, uint32_t *eff)
{
	uint32_t n = pool->nmembers[c], i, m;

	/*
	 * Rejection keeps it exact: the alias draw is by configured weight,
	 * and keeping a draw with probability eff/weight if usable (0 if not,
	 * or if it is other) leaves every member at eff / sum of eff.
	 */
	for (int tries = 0; tries < BAL_RANDOM2_TRIES; tries++) {
		i = bal_random_below(req->rng, n);
		m = bal_random_below(req->rng, pool->wsum[c]) <
		    pool->alias_cut[c][i] ? pool->members[c][i] :
		    pool->alias_alt[c][i];
		if ((int)m != other && bal_random2_keep(shm, pool, req, m, eff))
			return (int)m;
	}
	return bal_random2_scan(shm, pool, req, c, other, eff);
}

/* Two different members by weight; the one with less in flight per weight. */
int
bal_random2_pick(struct shm *shm, const struct bal_pool *pool,
    const struct bal_request *req, bool backup)
{
	int c = backup ? 1 : 0, a, b;
	uint32_t wa, wb;
	uint64_t la, lb;

	if (pool->nmembers[c] == 0 ||
	    (a = bal_random2_draw(shm, pool, req, c, -1, &wa)) == -1)
		return -1;
	if ((b = bal_random2_draw(shm, pool, req, c, a, &wb)) == -1)
		return a;
	/* inflight_a / wa against inflight_b / wb, without dividing. */
	la = (uint64_t)shm_inflight(shm, pool->slot[a]) * wb;
	lb = (uint64_t)shm_inflight(shm, pool->slot[b]) * wa;
	return lb < la ? b : a;
}
