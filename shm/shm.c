/* Owns creation and layout of the shared-memory segment. */
#include "autoconf.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "common/config.h"
#include "common/log.h"
#include "shm/shm.h"

/* Byte offsets of the three regions, each cache-line aligned. */
static size_t
shm_layout(const struct config *cfg, size_t *pools_off, size_t *servers_off)
{
	size_t nservers = 0;

	for (size_t i = 0; i < cfg->nbackends; i++)
		nservers += cfg->backends[i].nservers;
	*pools_off = SHM_CACHELINE;
	*servers_off = *pools_off + cfg->nbackends * sizeof(struct shm_pool_sh);
	return *servers_off + nservers * sizeof(struct shm_server_sh);
}

/* Fill pool i and its servers from the backend configuration. */
static void
shm_fill_pool(struct shm *shm, const struct backend_conf *be, uint32_t i,
    uint32_t first)
{
	struct shm_pool_sh *pool = &shm->pools[i];

	atomic_init(&pool->rr_next, 0);
	pool->first_server = first;
	pool->nservers = (uint32_t)be->nservers;
	pool->balance = be->balance;
	pool->total_weight = 0;
	snprintf(pool->name, sizeof(pool->name), "%s", be->name);
	for (size_t j = 0; j < be->nservers; j++) {
		struct shm_server_sh *sv = &shm->servers[first + j];
		const struct server_conf *sc = &be->servers[j];

		atomic_init(&sv->inflight, 0);
		atomic_init(&sv->state, SHM_SERVER_UP);
		sv->weight = sc->weight;
		sv->pool = i;
		sv->flags = sc->backup ? SHM_SERVER_BACKUP : 0;
		snprintf(sv->name, sizeof(sv->name), "%s", sc->name);
		if (!sc->backup)
			pool->total_weight += sc->weight;
	}
}

struct shm *
shm_new(const struct config *cfg)
{
	struct shm *shm;
	size_t pools_off, servers_off, size;
	uint32_t first = 0;

	if ((shm = calloc(1, sizeof(*shm))) == NULL)
		return NULL;
	size = shm_layout(cfg, &pools_off, &servers_off);
	shm->base = mmap(NULL, size, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shm->base == MAP_FAILED) {
		log_warn("shm: mmap %zu bytes", size);
		free(shm);
		return NULL;
	}
	shm->size = size;
	shm->hdr = shm->base;
	shm->pools = (struct shm_pool_sh *)((char *)shm->base + pools_off);
	shm->servers = (struct shm_server_sh *)((char *)shm->base + servers_off);
	for (size_t i = 0; i < cfg->nbackends; i++) {
		shm_fill_pool(shm, &cfg->backends[i], (uint32_t)i, first);
		first += (uint32_t)cfg->backends[i].nservers;
	}
	*shm->hdr = (struct shm_header_sh){
		.magic = SHM_MAGIC, .version = SHM_VERSION,
		.header_size = sizeof(struct shm_header_sh),
		.pool_size = sizeof(struct shm_pool_sh),
		.server_size = sizeof(struct shm_server_sh),
		.npools = (uint32_t)cfg->nbackends, .nservers = first,
		.total_size = size,
	};
	return shm;
}

void
shm_free(struct shm *shm)
{
	if (shm == NULL)
		return;
	munmap(shm->base, shm->size);
	free(shm);
}
