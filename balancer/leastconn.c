/*
 * Least connections: the usable member with the fewest requests in flight
 * per unit of (effective) weight, counted over all workers in shm.
 *
 * Ratios are compared by cross-multiplying in 64 bits, never divided, so
 * 3/2 and 6/4 are equal and nothing rounds. Equal ratios are common (every
 * idle server is 0), and taking the first of them would send every idle
 * moment to the same server: ties go round, the shared ticket choosing
 * which of them, so equal servers take turns across all workers.
 */
#include "autoconf.h"

#include "balancer/balancer.h"
#include "shm/shm.h"

/* One member's load as a fraction: inflight / weight. */
struct bal_leastconn_load {
	uint64_t inflight;
	uint64_t weight;
};

static struct bal_leastconn_load
bal_leastconn_load(struct shm *shm, const struct bal_pool *pool,
    const struct bal_request *req, uint32_t m)
{
	struct bal_leastconn_load l;

	l.inflight = shm_inflight(shm, pool->slot[m]);
	l.weight = bal_effective_weight(shm, pool, m, req->now_ms);
	return l;
}

/* -1, 0 or 1 as a's load is below, equal to or above b's. */
static int
bal_leastconn_cmp(struct bal_leastconn_load a, struct bal_leastconn_load b)
{
	uint64_t x = a.inflight * b.weight, y = b.inflight * a.weight;

	return x < y ? -1 : x > y;
}

/*
 * The k-th member (k > 0) in class order whose load still equals min, or
 * -1 if loads moved since the first pass counted the ties.
 */
static int
bal_leastconn_tie(struct shm *shm, const struct bal_pool *pool,
    const struct bal_request *req, int c, struct bal_leastconn_load min,
    uint32_t k)
{
	for (uint32_t i = 0; i < pool->nmembers[c]; i++) {
		uint32_t m = pool->members[c][i];

		if (!bal_usable(shm, pool, m) ||
		    bal_leastconn_cmp(bal_leastconn_load(shm, pool, req, m),
		    min) != 0)
			continue;
		if (k-- == 0)
			return (int)m;
	}
	return -1;
}

/* One pass for the least load and its ties; a second only to rotate ties. */
int
bal_leastconn_pick(struct shm *shm, const struct bal_pool *pool,
    const struct bal_request *req, bool backup)
{
	int c = backup ? 1 : 0, best = -1, m;
	struct bal_leastconn_load min = { 0, 1 }, l;
	uint32_t ties = 0;
	uint64_t t;

	for (uint32_t i = 0; i < pool->nmembers[c]; i++) {
		uint32_t cand = pool->members[c][i];
		int d = 0;

		if (!bal_usable(shm, pool, cand))
			continue;
		l = bal_leastconn_load(shm, pool, req, cand);
		if (best == -1 || (d = bal_leastconn_cmp(l, min)) < 0) {
			best = (int)cand;
			min = l;
			ties = 1;
		} else if (d == 0)
			ties++;
	}
	if (ties <= 1)
		return best;
	/*
	 * A ticket only when there is a tie to break: the primaries never
	 * spend one the backups would miss, and each value goes to one pick,
	 * so n tied servers get one pick each out of n tickets. Relaxed: the
	 * ticket orders nothing but the turns.
	 */
	t = atomic_fetch_add_explicit(&pool->shared->ticket, 1,
	    memory_order_relaxed);
	if (t % ties == 0 ||
	    (m = bal_leastconn_tie(shm, pool, req, c, min,
	    (uint32_t)(t % ties))) == -1)
		return best;
	return m;
}
