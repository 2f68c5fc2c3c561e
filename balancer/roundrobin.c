/*
 * Smooth weighted round robin, shared by every worker of every process
 * through one ticket counter in shared memory.
 *
 * The master precomputes one period of nginx's smooth WRR per class (each
 * step adds every weight to its member's current value, picks the largest
 * and subtracts the total), and ticket t means position t mod period. Every
 * ticket value goes to exactly one pick in exactly one process, so the
 * period's proportions hold over all workers together, exactly, and its
 * smoothness (no server twice in a row more than its share demands) too.
 *
 * A position whose member is down, draining or ramping up (slow start) is
 * discarded, never handed to its neighbour: the pick takes the next
 * position instead, and claims the whole run it skipped in one
 * compare-and-swap so that no other worker gets it either. The picks are
 * then the period with the unusable positions struck out, and the usable
 * members keep their ratios to each other exactly.
 */
#include "autoconf.h"

#include <stdlib.h>

#include "balancer/balancer.h"
#include "shm/shm.h"

static uint32_t
bal_roundrobin_gcd(uint32_t a, uint32_t b)
{
	while (b != 0) {
		uint32_t t = a % b;

		a = b;
		b = t;
	}
	return a;
}

/*
 * Fill swrr[c] with one period of smooth WRR over the members of class c.
 * Weights are divided by their greatest common divisor first: scaling
 * every weight scales every current value alike, so the sequence is the
 * same, and the period (all 256s: one pick each) stays short.
 */
static int
bal_roundrobin_period(struct bal_pool *pool, int c)
{
	uint32_t n = pool->nmembers[c], total = 0, best, g = 0;
	const uint32_t *members = pool->members[c];
	int64_t *cur;

	for (uint32_t i = 0; i < n; i++)
		g = bal_roundrobin_gcd(pool->weight[members[i]], g);
	for (uint32_t i = 0; i < n; i++)
		total += pool->weight[members[i]] / g;
	if (total == 0)
		return 0;
	if ((cur = calloc(n, sizeof(*cur))) == NULL)
		return -1;
	if ((pool->swrr[c] = calloc(total, sizeof(*pool->swrr[c]))) == NULL) {
		free(cur);
		return -1;
	}
	for (uint32_t step = 0; step < total; step++) {
		/* The first of equal maxima wins, as in nginx. */
		best = 0;
		for (uint32_t i = 0; i < n; i++) {
			cur[i] += pool->weight[members[i]] / g;
			if (cur[i] > cur[best])
				best = i;
		}
		cur[best] -= total;
		pool->swrr[c][step] = members[best];
	}
	pool->swrr_len[c] = total;
	free(cur);
	return 0;
}

int
bal_roundrobin_build(struct bal_pool *pool)
{
	for (int c = 0; c < 2; c++)
		if (bal_roundrobin_period(pool, c) == -1)
			return -1;
	return 0;
}

/*
 * Does member m take the position it was given? Slow start thins its
 * positions out to effective/configured weight of them.
 */
static bool
bal_roundrobin_take(struct shm *shm, const struct bal_pool *pool,
    const struct bal_request *req, uint32_t m)
{
	uint32_t w, eff;

	if (!bal_usable(shm, pool, m))
		return false;
	w = pool->weight[m] * BAL_WEIGHT_SCALE;
	if ((eff = bal_effective_weight(shm, pool, m, req->now_ms)) >= w)
		return true;
	return bal_random_below(req->rng, w) < eff;
}

/*
 * Slow path: claim the run of positions from the current ticket up to and
 * including the first one whose member takes it. If slow start turned down
 * a whole period, the first usable position is taken after all.
 */
static int
bal_roundrobin_claim(struct shm *shm, const struct bal_pool *pool,
    const struct bal_request *req, int c)
{
	_Atomic uint64_t *ticket = &pool->shared->ticket;
	const uint32_t *seq = pool->swrr[c];
	uint32_t len = pool->swrr_len[c], pos, k, first;
	uint64_t cur;

	/* Spares walking a whole period when the class is down. */
	if (!bal_any_usable(shm, pool, c == 1))
		return -1;
	cur = atomic_load_explicit(ticket, memory_order_relaxed);
	for (;;) {
		first = len;
		pos = (uint32_t)(cur % len);
		for (k = 0; k < len; k++, pos = pos + 1 == len ? 0 : pos + 1) {
			if (!bal_usable(shm, pool, seq[pos]))
				continue;
			if (first == len)
				first = k;
			if (bal_roundrobin_take(shm, pool, req, seq[pos]))
				break;
		}
		if (k == len) {
			/* Gone down since bal_any_usable() looked. */
			if (first == len)
				return -1;
			k = first;
		}
		/* Relaxed: the ticket orders picks, it publishes nothing. */
		if (atomic_compare_exchange_weak_explicit(ticket, &cur,
		    cur + k + 1, memory_order_relaxed, memory_order_relaxed))
			return (int)seq[(cur + k) % len];
	}
}

/* The member at the next ticket's position, past those that do not take it. */
int
bal_roundrobin_pick(struct shm *shm, const struct bal_pool *pool,
    const struct bal_request *req, bool backup)
{
	_Atomic uint64_t *ticket = &pool->shared->ticket;
	int c = backup ? 1 : 0;
	const uint32_t *seq = pool->swrr[c];
	uint32_t len = pool->swrr_len[c], m;
	uint64_t t;

	if (len == 0)
		return -1;
	/*
	 * Look before taking a ticket: when no primary is usable every pick
	 * tries the primaries first, and a ticket spent there each time would
	 * make the backups see every other position only.
	 */
	t = atomic_load_explicit(ticket, memory_order_relaxed);
	if (bal_usable(shm, pool, seq[t % len])) {
		t = atomic_fetch_add_explicit(ticket, 1, memory_order_relaxed);
		m = seq[t % len];
		if (bal_roundrobin_take(shm, pool, req, m))
			return (int)m;
	}
	return bal_roundrobin_claim(shm, pool, req, c);
}
