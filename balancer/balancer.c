/* Dispatches a pick to the algorithm the pool was configured with. */
#include "autoconf.h"

#include "balancer/balancer.h"
#include "common/config.h"
#include "shm/shm.h"

typedef int (*bal_pick_fn)(struct shm *, uint32_t, const struct bal_request *);

static const bal_pick_fn bal_algorithms[] = {
	[CONFIG_BALANCE_ROUNDROBIN] = bal_roundrobin_pick,
};

int
balancer_pick(struct shm *shm, uint32_t pool, const struct bal_request *req)
{
	uint32_t balance = shm->pools[pool].balance;

	if (balance >= sizeof(bal_algorithms) / sizeof(bal_algorithms[0]) ||
	    bal_algorithms[balance] == NULL)
		return -1;
	return bal_algorithms[balance](shm, pool, req);
}
