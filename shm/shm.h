/* The shared-memory segment: created by the master, mapped by every worker. */
#ifndef WEIR_SHM_H
#define WEIR_SHM_H

#include <stddef.h>

#include "shm/shm-types.h"

struct config;

/* Per-process handle on the segment (the segment itself is shm_*_sh). */
struct shm {
	void *base;
	size_t size;
	struct shm_header_sh *hdr;
	struct shm_pool_sh *pools;	/* one per config backend, same index */
	struct shm_server_sh *servers;	/* pools[i].first_server .. + nservers */
};

/* Map a shared anonymous segment sized and filled for cfg; NULL on failure. */
struct shm *shm_new(const struct config *cfg);
void shm_free(struct shm *shm);

static inline void
shm_inflight_inc(struct shm *shm, uint32_t server)
{
	atomic_fetch_add_explicit(&shm->servers[server].inflight, 1,
	    memory_order_relaxed);
}

static inline void
shm_inflight_dec(struct shm *shm, uint32_t server)
{
	atomic_fetch_sub_explicit(&shm->servers[server].inflight, 1,
	    memory_order_relaxed);
}

#endif
