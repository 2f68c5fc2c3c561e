/*
 * Layout of the shared-memory segment that the master creates before it
 * forks: a header, one pool per backend, one slot per server.
 *
 * Memory-ordering contract:
 * - The master writes every configuration field (weight, pool bounds,
 *   names) before forking the workers that read it; fork() orders those
 *   writes before any worker read, so they are plain fields.
 * - state is written by the master only (health checks, a later issue) with
 *   memory_order_release and read by workers with memory_order_acquire.
 * - inflight is written by workers only, with relaxed read-modify-writes:
 *   it is a count, not a publication of other data, so no ordering is
 *   needed beyond atomicity. It sits alone on its cache line because every
 *   worker touches it on every request.
 * - rr_next is a ticket counter shared by all workers of a pool (relaxed
 *   fetch_add): each ticket goes to exactly one request.
 */
#ifndef WEIR_SHM_TYPES_H
#define WEIR_SHM_TYPES_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>

#define SHM_MAGIC	0x52494557u	/* "WEIR" little-endian */
#define SHM_VERSION	1
#define SHM_CACHELINE	64
#define SHM_NAME_MAX	48

enum shm_server_state {
	SHM_SERVER_UP,
	SHM_SERVER_DOWN,
};

#define SHM_SERVER_BACKUP	0x01

struct shm_header_sh {
	uint32_t magic;
	uint32_t version;
	uint32_t header_size;
	uint32_t pool_size;
	uint32_t server_size;
	uint32_t npools;
	uint32_t nservers;
	uint32_t pad;
	uint64_t total_size;
};

struct shm_pool_sh {
	alignas(SHM_CACHELINE) _Atomic uint64_t rr_next;	/* workers */
	alignas(SHM_CACHELINE) uint32_t first_server;		/* master */
	uint32_t nservers;
	uint32_t total_weight;		/* of primary (non-backup) servers */
	uint32_t balance;		/* enum config_balance */
	char name[SHM_NAME_MAX];
};

struct shm_server_sh {
	alignas(SHM_CACHELINE) _Atomic uint32_t inflight;	/* workers */
	alignas(SHM_CACHELINE) _Atomic uint32_t state;		/* master */
	uint32_t weight;
	uint32_t pool;
	uint32_t flags;
	char name[SHM_NAME_MAX];
};

_Static_assert(sizeof(struct shm_header_sh) == 40, "shm header layout");
_Static_assert(sizeof(struct shm_pool_sh) == 2 * SHM_CACHELINE, "shm pool layout");
_Static_assert(sizeof(struct shm_server_sh) == 2 * SHM_CACHELINE, "shm server layout");
_Static_assert(offsetof(struct shm_server_sh, state) == SHM_CACHELINE,
    "inflight must own its cache line");

#endif
