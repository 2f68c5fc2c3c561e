/* Builds a generation's pools and dispatches each pick to its algorithm. */
#include "autoconf.h"

#include <stdlib.h>

#include "balancer/balancer.h"
#include "common/config.h"
#include "shm/shm.h"

typedef int (*bal_pick_fn)(struct shm *, const struct bal_pool *,
    const struct bal_request *, bool);

static const bal_pick_fn bal_algorithms[] = {
	[CONFIG_BALANCE_ROUNDROBIN] = bal_roundrobin_pick,
	[CONFIG_BALANCE_LEASTCONN] = bal_leastconn_pick,
	[CONFIG_BALANCE_RANDOM2] = bal_random2_pick,
	[CONFIG_BALANCE_HASH] = bal_hash_pick,
};

/* Copy the member list, split by class. */
static int
balancer_members(struct bal_pool *pool, const struct shm *shm,
    const struct shm_member *list, uint32_t n)
{
	/* One spare element so an empty backend still gets real arrays. */
	size_t room = (size_t)n + 1;

	pool->slot = calloc(room, sizeof(*pool->slot));
	pool->id = calloc(room, sizeof(*pool->id));
	pool->weight = calloc(room, sizeof(*pool->weight));
	pool->backup = calloc(room, sizeof(*pool->backup));
	pool->max_conns = calloc(room, sizeof(*pool->max_conns));
	pool->members[0] = calloc(room, sizeof(*pool->members[0]));
	pool->members[1] = calloc(room, sizeof(*pool->members[1]));
	if (pool->slot == NULL || pool->id == NULL || pool->weight == NULL ||
	    pool->backup == NULL || pool->max_conns == NULL ||
	    pool->members[0] == NULL || pool->members[1] == NULL)
		return -1;
	pool->n = n;
	for (uint32_t m = 0; m < n; m++) {
		bool backup = list[m].flags & SHM_SERVER_BACKUP;

		pool->slot[m] = list[m].slot;
		pool->id[m] = shm->servers[list[m].slot].addr;
		pool->weight[m] = list[m].weight;
		pool->backup[m] = backup;
		pool->max_conns[m] = list[m].max_conns;
		pool->limited |= list[m].max_conns > 0;
		/*
		 * The file allows 1..256; weight 0 comes only from the admin
		 * API and means no new requests. Such a server is in no class,
		 * so no algorithm (nor the hash ring) ever sees it.
		 */
		if (list[m].weight > 0)
			pool->members[backup][pool->nmembers[backup]++] = m;
	}
	pool->nprimary = pool->nmembers[0];
	return 0;
}

struct bal_pool *
balancer_build_list(struct shm *shm, const struct backend_conf *be,
    const struct shm_member *list, uint32_t n, uint64_t version)
{
	struct bal_pool *pool;

	if ((pool = calloc(1, sizeof(*pool))) == NULL)
		return NULL;
	pool->be = be;
	pool->shared = &shm->pools[be->pool_slot];
	pool->version = version;
	if (balancer_members(pool, shm, list, n) == -1)
		goto fail;
	switch (be->balance) {
	case CONFIG_BALANCE_HASH:
		if (bal_hash_build(pool) == -1)
			goto fail;
		/* Requests without the key fall back to round robin. */
		/* FALLTHROUGH */
	case CONFIG_BALANCE_ROUNDROBIN:
		if (bal_roundrobin_build(pool) == -1)
			goto fail;
		break;
	case CONFIG_BALANCE_RANDOM2:
		if (bal_random2_build(pool) == -1)
			goto fail;
		break;
	case CONFIG_BALANCE_LEASTCONN:
		break;
	}
	return pool;
fail:
	balancer_free(pool);
	return NULL;
}

struct bal_pool *
balancer_build(struct shm *shm, const struct backend_conf *be)
{
	struct shm_member *list;
	struct bal_pool *pool;
	uint64_t version;
	uint32_t n;

	if ((list = calloc(shm->hdr->max_servers, sizeof(*list))) == NULL)
		return NULL;
	version = shm_members_read(shm, be->pool_slot, list, &n);
	pool = balancer_build_list(shm, be, list, n, version);
	free(list);
	return pool;
}

void
balancer_free(struct bal_pool *pool)
{
	if (pool == NULL)
		return;
	for (int c = 0; c < 2; c++) {
		free(pool->swrr[c]);
		free(pool->members[c]);
		free(pool->alias_cut[c]);
		free(pool->alias_alt[c]);
	}
	free(pool->ring);
	free(pool->slot);
	free(pool->id);
	free(pool->weight);
	free(pool->backup);
	free(pool->max_conns);
	free(pool);
}

/* Has the request tried member m's server already? */
static bool
bal_excluded(const struct bal_pool *pool, const struct bal_request *req,
    uint32_t m)
{
	for (uint32_t i = 0; i < req->nexclude; i++)
		if (req->exclude[i] == pool->slot[m])
			return true;
	return false;
}

/*
 * A retry must go to another server than those tried: when the algorithm
 * chose a tried one, take the least loaded usable member not tried yet.
 */
static int
bal_pick_other(struct shm *shm, const struct bal_pool *pool,
    const struct bal_request *req, bool backup)
{
	int c = backup ? 1 : 0, best = -1;
	uint64_t best_load = 0, best_w = 1;

	for (uint32_t i = 0; i < pool->nmembers[c]; i++) {
		uint32_t m = pool->members[c][i];
		uint64_t load, w;

		if (bal_excluded(pool, req, m) || !bal_usable(shm, pool, m))
			continue;
		load = shm_inflight(shm, pool->slot[m]);
		w = bal_effective_weight(shm, pool, m, req->now_ms);
		if (best < 0 || load * best_w < best_load * w) {
			best = (int)m;
			best_load = load;
			best_w = w;
		}
	}
	return best;
}

bool
balancer_has_other(const struct shm *shm, const struct bal_pool *pool,
    const struct bal_request *req)
{
	for (uint32_t m = 0; m < pool->n; m++)
		if (pool->weight[m] > 0 && !bal_excluded(pool, req, m) &&
		    bal_up(shm, pool, m))
			return true;
	return false;
}

/*
 * Is some primary up and not tried, only full (max_conns)? Then the
 * request waits for it: backups stand in for primaries that are down,
 * not for primaries that are busy (as HAProxy queues at a full server).
 */
static bool
bal_primary_full(const struct shm *shm, const struct bal_pool *pool,
    const struct bal_request *req)
{
	for (uint32_t i = 0; i < pool->nmembers[0]; i++) {
		uint32_t m = pool->members[0][i];

		if (pool->weight[m] > 0 && !bal_excluded(pool, req, m) &&
		    bal_up(shm, pool, m))
			return true;
	}
	return false;
}

int
balancer_pick(struct shm *shm, const struct bal_pool *pool,
    const struct bal_request *req)
{
	bal_pick_fn fn;
	bool hashed = false;
	uint32_t hash = 0;
	int m;

	if (pool == NULL || (unsigned)pool->be->balance >=
	    sizeof(bal_algorithms) / sizeof(bal_algorithms[0]))
		return -1;
	fn = bal_algorithms[pool->be->balance];
	/* Hash the key once for both classes; no key means round robin. */
	if (pool->be->balance == CONFIG_BALANCE_HASH) {
		if (req->key_given) {
			hashed = req->key_found;
			hash = req->key_hash;
		} else
			hashed = bal_hash_key(pool, req, &hash);
		if (!hashed)
			fn = bal_roundrobin_pick;
	}
	for (int c = 0; c < 2; c++) {
		if (pool->nmembers[c] == 0)
			continue;
		if (hashed)
			m = bal_hash_lookup(shm, pool, req, hash, c == 1);
		else
			m = fn(shm, pool, req, c == 1);
		if (m >= 0 && bal_excluded(pool, req, (uint32_t)m))
			m = bal_pick_other(shm, pool, req, c == 1);
		if (m >= 0)
			return m;
		if (c == 0 && pool->limited && bal_primary_full(shm, pool, req))
			return -1;
	}
	return -1;
}

/*
 * The master stores admin and health with release; acquire here pairs with
 * it, although nothing else is published with them: each is a state of its
 * own, and a pick that sees a stale one only sends one request late.
 */
bool
bal_slot_up(const struct shm *shm, uint32_t slot)
{
	const struct shm_server_sh *sv = &shm->servers[slot];

	return atomic_load_explicit(&sv->admin, memory_order_acquire) ==
	    SHM_ADMIN_ACTIVE &&
	    atomic_load_explicit(&sv->health, memory_order_acquire) ==
	    SHM_HEALTH_UP && outlier_admits(sv);
}

bool
bal_up(const struct shm *shm, const struct bal_pool *pool, uint32_t m)
{
	return bal_slot_up(shm, pool->slot[m]);
}

/*
 * Full is a hint read without a claim: a member seen below its limit may
 * be full by the time the caller claims a place (shm_inflight_claim()
 * decides), and one seen full may have a place again at the next pick.
 * Without any limit in the pool this costs one test.
 */
bool
bal_usable(const struct shm *shm, const struct bal_pool *pool, uint32_t m)
{
	if (pool->limited && pool->max_conns[m] != 0 &&
	    shm_inflight(shm, pool->slot[m]) >= pool->max_conns[m])
		return false;
	return bal_up(shm, pool, m);
}

bool
bal_any_usable(const struct shm *shm, const struct bal_pool *pool, bool backup)
{
	int c = backup ? 1 : 0;

	for (uint32_t i = 0; i < pool->nmembers[c]; i++)
		if (bal_usable(shm, pool, pool->members[c][i]))
			return true;
	return false;
}

uint32_t
bal_effective_weight(const struct shm *shm, const struct bal_pool *pool,
    uint32_t m, uint64_t now_ms)
{
	/* In 1/BAL_WEIGHT_SCALE units, so even weight 1 can ramp. */
	uint32_t w = pool->weight[m] * BAL_WEIGHT_SCALE;
	uint32_t ramp = pool->be->slow_start_ms, floor;
	uint64_t up, elapsed, eff;

	if (ramp == 0)
		return w;
	up = atomic_load_explicit(&shm->servers[pool->slot[m]].up_since_ms,
	    memory_order_acquire);
	if (up == 0)
		return w;
	/* A caller's clock read just before the master stamped up_since. */
	elapsed = now_ms > up ? now_ms - up : 0;
	if (elapsed >= ramp)
		return w;
	eff = (uint64_t)w * elapsed / ramp;
	/* Never zero: a server that is up must get some traffic to prove it. */
	floor = w / 16;
	return eff > floor ? (uint32_t)eff : floor;
}

uint64_t
bal_random(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *state = x;
}

/* Multiply-shift on the high half: xorshift's low bits are its weakest. */
uint32_t
bal_random_below(uint64_t *state, uint32_t n)
{
	return (uint32_t)(((bal_random(state) >> 32) * (uint64_t)n) >> 32);
}
