/*
 * Weighted round robin over a pool, shared by all workers through one
 * ticket counter in shared memory, so proportions hold globally.
 */
#include "autoconf.h"

#include <stdbool.h>

#include "balancer/balancer.h"
#include "shm/shm.h"

static bool
bal_rr_usable(const struct shm_server_sh *sv, bool backup)
{
	return ((sv->flags & SHM_SERVER_BACKUP) != 0) == backup &&
	    atomic_load_explicit(&sv->state, memory_order_acquire) ==
	    SHM_SERVER_UP;
}

/* Map ticket onto the cumulative weights of the usable servers of one class. */
static int
bal_rr_walk(struct shm *shm, const struct shm_pool_sh *p, uint64_t ticket,
    bool backup)
{
	uint64_t total = 0, slot;

	for (uint32_t i = 0; i < p->nservers; i++) {
		const struct shm_server_sh *sv = &shm->servers[p->first_server + i];

		if (bal_rr_usable(sv, backup))
			total += sv->weight;
	}
	if (total == 0)
		return -1;
	slot = ticket % total;
	for (uint32_t i = 0; i < p->nservers; i++) {
		const struct shm_server_sh *sv = &shm->servers[p->first_server + i];

		if (!bal_rr_usable(sv, backup))
			continue;
		if (slot < sv->weight)
			return (int)(p->first_server + i);
		slot -= sv->weight;
	}
	return -1;
}

int
bal_roundrobin_pick(struct shm *shm, uint32_t pool, const struct bal_request *req)
{
	struct shm_pool_sh *p = &shm->pools[pool];
	uint64_t ticket;
	int server;

	(void)req;
	ticket = atomic_fetch_add_explicit(&p->rr_next, 1, memory_order_relaxed);
	if ((server = bal_rr_walk(shm, p, ticket, false)) >= 0)
		return server;
	return bal_rr_walk(shm, p, ticket, true);
}
