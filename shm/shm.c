/*
 * Owns the shared-memory segment: layout, slot allocation, worker ledgers
 * (statistics areas: shm/stats.c).
 */
#include "autoconf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "common/config.h"
#include "common/log.h"
#include "shm/shm.h"
#include "shm/stats.h"

_Static_assert(CONFIG_MAX_NAME <= SHM_NAME_MAX,
    "frontend and backend names must fit the slots they key");

#define SHM_ALIGN(n)	(((n) + SHM_CACHELINE - 1) & ~(size_t)(SHM_CACHELINE - 1))

/* Where frontends and pools start in a statistics area, and its size. */
static size_t
shm_stats_layout(const struct shm_header_sh *h, size_t *fe_off,
    size_t *pool_off)
{
	size_t off = SHM_ALIGN((size_t)h->max_servers *
	    sizeof(struct shm_stat_server_sh));

	*fe_off = off;
	off += SHM_ALIGN((size_t)h->max_frontends *
	    sizeof(struct shm_stat_frontend_sh));
	*pool_off = off;
	off += SHM_ALIGN((size_t)h->max_pools * sizeof(struct shm_stat_pool_sh));
	return off;
}

/* Offsets of each region, cache-line aligned, and the total size. */
static void
shm_layout(struct shm_header_sh *h)
{
	size_t off = SHM_ALIGN(sizeof(*h)), fe_off, pool_off;

	h->servers_off = off;
	off += (size_t)h->max_servers * sizeof(struct shm_server_sh);
	h->pools_off = off;
	off += (size_t)h->max_pools * sizeof(struct shm_pool_sh);
	h->frontends_off = off;
	off += SHM_ALIGN((size_t)h->max_frontends *
	    sizeof(struct shm_frontend_sh));
	h->workers_off = off;
	off += (size_t)h->max_workers * sizeof(struct shm_worker_sh);
	h->ledgers_off = off;
	off += SHM_ALIGN((size_t)h->max_workers * h->max_servers *
	    sizeof(uint32_t));
	/* Cache-aligned areas: no line is written by two workers. */
	h->stats_area_size = (uint32_t)shm_stats_layout(h, &fe_off, &pool_off);
	h->stats_off = off;
	off += ((size_t)h->max_workers + 2) * h->stats_area_size;
	h->members_size = SHM_ALIGN(sizeof(struct shm_members_sh) +
	    2 * (size_t)h->max_servers * sizeof(struct shm_member_sh));
	h->members_off = off;
	off += (size_t)h->max_pools * h->members_size;
	h->total_size = off;
}

struct shm *
shm_new_sized(uint32_t max_servers, uint32_t max_pools, uint32_t max_workers)
{
	struct shm_header_sh h = {
		.magic = SHM_MAGIC, .version = SHM_VERSION,
		.header_size = sizeof(struct shm_header_sh),
		.server_size = sizeof(struct shm_server_sh),
		.pool_size = sizeof(struct shm_pool_sh),
		.worker_size = sizeof(struct shm_worker_sh),
		.frontend_size = sizeof(struct shm_frontend_sh),
		.max_servers = max_servers, .max_pools = max_pools,
		.max_workers = max_workers, .max_frontends = max_pools,
	};
	struct shm *shm;
	char *base;

	shm_layout(&h);
	if ((shm = calloc(1, sizeof(*shm))) == NULL)
		return NULL;
	/*
	 * The statistics areas are sized for every slot but mostly never
	 * touched: do not reserve swap for pages that will stay unallocated.
	 */
	base = mmap(NULL, h.total_size, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED) {
		log_warn("shm: mmap %llu bytes", (unsigned long long)h.total_size);
		free(shm);
		return NULL;
	}
	/* A fresh anonymous mapping is zero: every slot starts free and idle. */
	memcpy(base, &h, sizeof(h));
	shm->base = base;
	shm->size = h.total_size;
	shm->hdr = (struct shm_header_sh *)base;
	shm->servers = (struct shm_server_sh *)(base + h.servers_off);
	shm->pools = (struct shm_pool_sh *)(base + h.pools_off);
	shm->frontends = (struct shm_frontend_sh *)(base + h.frontends_off);
	shm->workers = (struct shm_worker_sh *)(base + h.workers_off);
	shm->ledgers = (_Atomic uint32_t *)(base + h.ledgers_off);
	shm->stats = base + h.stats_off;
	shm->members = base + h.members_off;
	shm_stats_layout(&h, &shm->stats_fe_off, &shm->stats_pool_off);
	return shm;
}

/* Room for max_servers servers, and pools and workers for reloads. */
struct shm *
shm_new(const struct config *cfg)
{
	/*
	 * Servers: max_servers, which the file's fit (config_check()).
	 * Workers: room for many generations draining at once (reloads).
	 */
	return shm_new_sized(cfg->max_servers,
	    cfg->nbackends * 4 > 64 ? (uint32_t)cfg->nbackends * 4 : 64,
	    cfg->workers * 16 > 256 ? cfg->workers * 16 : 256);
}

void
shm_free(struct shm *shm)
{
	if (shm == NULL)
		return;
	munmap(shm->base, shm->size);
	free(shm);
}

/*
 * A slot no generation and no member list names, that nobody counts
 * against and no worker can still pick, may be handed out again.
 */
static bool
shm_server_idle(const struct shm *shm, uint32_t i)
{
	const struct shm_server_sh *sv = &shm->servers[i];

	return !sv->used || (sv->refs == 0 && shm_server_unlisted_idle(shm, i));
}

/* The slot an earlier generation gave server (pool, addr), or -1. */
int
shm_server_find(struct shm *shm, const char *pool, const char *addr)
{
	for (uint32_t i = 0; i < shm->hdr->max_servers; i++) {
		struct shm_server_sh *sv = &shm->servers[i];

		if (sv->used && strcmp(sv->pool, pool) == 0 &&
		    strcmp(sv->addr, addr) == 0)
			return (int)i;
	}
	return -1;
}

/*
 * Claim slot i for server (pool, addr) reached at sa, written as name,
 * resetting what a previous owner left.
 */
static void
shm_server_take(struct shm *shm, uint32_t i, const char *pool,
    const char *addr, const char *name, const struct sockaddr *sa,
    socklen_t salen)
{
	struct shm_server_sh *sv = &shm->servers[i];

	if (sv->used && strcmp(sv->pool, pool) == 0 &&
	    strcmp(sv->addr, addr) == 0)
		return;
	/* Idle and named by nobody: no live worker counts against it. */
	if (sv->used)
		shm_stats_rebase_server(shm, i);
	sv->used = 1;
	sv->refs = 0;
	sv->incarnation++;
	/* Nothing of the previous occupant carries over (it is idle). */
	atomic_store_explicit(&sv->fails, 0, memory_order_relaxed);
	atomic_store_explicit(&sv->ejections, 0, memory_order_relaxed);
	atomic_store_explicit(&sv->eject, SHM_EJECT(SHM_EJECT_NONE, 0),
	    memory_order_release);
	snprintf(sv->pool, sizeof(sv->pool), "%s", pool);
	snprintf(sv->addr, sizeof(sv->addr), "%s", addr);
	snprintf(sv->name, sizeof(sv->name), "%s", name);
	memset(&sv->sa, 0, sizeof(sv->sa));
	memcpy(&sv->sa, sa, salen <= sizeof(sv->sa) ? salen : sizeof(sv->sa));
	sv->salen = salen <= sizeof(sv->sa) ? salen : sizeof(sv->sa);
	atomic_store_explicit(&sv->health, SHM_HEALTH_UP, memory_order_release);
	atomic_store_explicit(&sv->up_since_ms, 0, memory_order_release);
}

int
shm_server_claim(struct shm *shm, const char *pool, const char *addr,
    const char *name, const struct sockaddr *sa, socklen_t salen)
{
	int i = shm_server_find(shm, pool, addr);

	if (i < 0)
		for (uint32_t j = 0; j < shm->hdr->max_servers && i < 0; j++)
			if (shm_server_idle(shm, j))
				i = (int)j;
	if (i < 0)
		return -1;
	shm_server_take(shm, (uint32_t)i, pool, addr, name, sa, salen);
	/*
	 * Not idle until a publication says so (shm_members_mark): several
	 * members added before one publish must not all find this slot free.
	 */
	shm->servers[i].listed = 1;
	return i;
}

/*
 * The plan of a publish, made before anything is written: the slot of every
 * server and pool (matched by identity, else a free one), so a publish that
 * cannot fit changes nothing.
 */
struct shm_plan {
	int *server_slot;		/* per server of cfg, flattened */
	int *pool_slot;			/* per backend of cfg */
	int *fe_slot;			/* per frontend of cfg */
	bool *taken;			/* server slots this plan uses */
	bool *pool_taken;
	bool *fe_taken;
};

static void
shm_plan_free(struct shm_plan *pl)
{
	free(pl->server_slot);
	free(pl->pool_slot);
	free(pl->taken);
	free(pl->pool_taken);
	free(pl->fe_slot);
	free(pl->fe_taken);
}

/* Matched slots first, so a fresh server never takes a re-added one's slot. */
static int
shm_plan_servers(struct shm *shm, const struct config *cfg,
    struct shm_plan *pl, char *err, size_t len)
{
	size_t k = 0, nfresh = 0;
	uint32_t next = 0;

	for (size_t b = 0; b < cfg->nbackends; b++)
		for (size_t s = 0; s < cfg->backends[b].nservers; s++, k++) {
			pl->server_slot[k] = shm_server_find(shm,
			    cfg->backends[b].name, cfg->backends[b].servers[s].id);
			if (pl->server_slot[k] >= 0)
				pl->taken[pl->server_slot[k]] = true;
			else
				nfresh++;
		}
	for (k = 0; nfresh > 0; k++) {
		if (pl->server_slot[k] >= 0)
			continue;
		while (next < shm->hdr->max_servers && (pl->taken[next] ||
		    !shm_server_idle(shm, next)))
			next++;
		if (next == shm->hdr->max_servers) {
			snprintf(err, len, "shared memory full: no slot for %zu "
			    "more servers (restart weir to grow it)", nfresh);
			return -1;
		}
		pl->taken[next] = true;
		pl->server_slot[k] = (int)next;
		nfresh--;
	}
	return 0;
}

static int
shm_plan_pools(struct shm *shm, const struct config *cfg, struct shm_plan *pl,
    char *err, size_t len)
{
	for (size_t b = 0; b < cfg->nbackends; b++) {
		const char *name = cfg->backends[b].name;
		int p = -1;

		for (uint32_t i = 0; i < shm->hdr->max_pools && p < 0; i++)
			if (shm->pools[i].used && strcmp(shm->pools[i].name,
			    name) == 0)
				p = (int)i;
		for (uint32_t i = 0; i < shm->hdr->max_pools && p < 0; i++)
			if (!pl->pool_taken[i] && (!shm->pools[i].used ||
			    shm->pools[i].refs == 0))
				p = (int)i;
		if (p < 0) {
			snprintf(err, len, "shared memory full: no slot for "
			    "backend %s (restart weir to grow it)", name);
			return -1;
		}
		pl->pool_taken[p] = true;
		pl->pool_slot[b] = p;
	}
	return 0;
}

/*
 * Frontend slots by name: the same name keeps its slot (and counts); a new
 * one prefers a never-used slot, so a removed frontend that comes back
 * still finds its own.
 */
static int
shm_plan_frontends(struct shm *shm, const struct config *cfg,
    struct shm_plan *pl, char *err, size_t len)
{
	const struct shm_frontend_sh *f = shm->frontends;
	uint32_t max = shm->hdr->max_frontends;

	for (size_t i = 0; i < cfg->nfrontends; i++) {
		const char *name = cfg->frontends[i].name;
		int p = -1;

		for (uint32_t j = 0; j < max && p < 0; j++)
			if (f[j].used && strcmp(f[j].name, name) == 0)
				p = (int)j;
		for (uint32_t j = 0; j < max && p < 0; j++)
			if (!pl->fe_taken[j] && !f[j].used)
				p = (int)j;
		for (uint32_t j = 0; j < max && p < 0; j++)
			if (!pl->fe_taken[j] && f[j].refs == 0)
				p = (int)j;
		if (p < 0) {
			snprintf(err, len, "shared memory full: no slot for "
			    "frontend %s (restart weir to grow it)", name);
			return -1;
		}
		pl->fe_taken[p] = true;
		pl->fe_slot[i] = p;
	}
	return 0;
}

static int
shm_plan_make(struct shm *shm, const struct config *cfg, struct shm_plan *pl,
    char *err, size_t len)
{
	size_t n = 0;

	for (size_t b = 0; b < cfg->nbackends; b++)
		n += cfg->backends[b].nservers;
	pl->server_slot = calloc(n + 1, sizeof(*pl->server_slot));
	pl->pool_slot = calloc(cfg->nbackends + 1, sizeof(*pl->pool_slot));
	pl->taken = calloc(shm->hdr->max_servers, sizeof(*pl->taken));
	pl->pool_taken = calloc(shm->hdr->max_pools, sizeof(*pl->pool_taken));
	pl->fe_slot = calloc(cfg->nfrontends + 1, sizeof(*pl->fe_slot));
	pl->fe_taken = calloc(shm->hdr->max_frontends, sizeof(*pl->fe_taken));
	if (pl->server_slot == NULL || pl->pool_slot == NULL ||
	    pl->taken == NULL || pl->pool_taken == NULL ||
	    pl->fe_slot == NULL || pl->fe_taken == NULL) {
		snprintf(err, len, "out of memory");
		return -1;
	}
	if (shm_plan_servers(shm, cfg, pl, err, len) == -1 ||
	    shm_plan_pools(shm, cfg, pl, err, len) == -1 ||
	    shm_plan_frontends(shm, cfg, pl, err, len) == -1)
		return -1;
	return 0;
}

int
shm_publish_check(struct shm *shm, const struct config *cfg, char *err,
    size_t len)
{
	struct shm_plan pl = { 0 };
	int rc = shm_plan_make(shm, cfg, &pl, err, len);

	shm_plan_free(&pl);
	return rc;
}

/* Take pool slot p for backend be. */
static void
shm_pool_take(struct shm *shm, int p, struct backend_conf *be)
{
	struct shm_pool_sh *pool = &shm->pools[p];

	if (!pool->used || strcmp(pool->name, be->name) != 0) {
		if (pool->used)
			shm_stats_rebase_pool(shm, (uint32_t)p);
		memset(pool, 0, sizeof(*pool));
		pool->used = 1;
		/* A new pool may retry a little before it has traffic. */
		atomic_store_explicit(&pool->retry_tokens,
		    SHM_RETRY_TOKENS_START, memory_order_relaxed);
		snprintf(pool->name, sizeof(pool->name), "%s", be->name);
	}
	pool->refs++;
	be->pool_slot = (uint32_t)p;
}

/* Take frontend slot p for fe. */
static void
shm_frontend_take(struct shm *shm, int p, struct frontend_conf *fe)
{
	struct shm_frontend_sh *f = &shm->frontends[p];

	if (!f->used || strcmp(f->name, fe->name) != 0) {
		if (f->used)
			shm_stats_rebase_frontend(shm, (uint32_t)p);
		f->used = 1;
		f->refs = 0;
		snprintf(f->name, sizeof(f->name), "%s", fe->name);
	}
	f->refs++;
	fe->slot = (uint32_t)p;
}

/* Write server sc of be into slot i (fresh: it had another identity). */
static void
shm_server_write(struct shm *shm, const struct backend_conf *be,
    struct server_conf *sc, int i)
{
	struct shm_server_sh *sv = &shm->servers[i];
	bool fresh = !sv->used || strcmp(sv->pool, be->name) != 0 ||
	    strcmp(sv->addr, sc->id) != 0;

	shm_server_take(shm, (uint32_t)i, be->name, sc->id, sc->name,
	    (const struct sockaddr *)&sc->addr, sc->addrlen);
	/* health_initial = down: no traffic before checks pass. */
	if (fresh && be->health_check != CONFIG_HEALTH_NONE &&
	    be->health_initial_down)
		atomic_store_explicit(&sv->health, SHM_HEALTH_DOWN,
		    memory_order_release);
	/* Unchecked now: nothing could ever bring it back up. */
	if (be->health_check == CONFIG_HEALTH_NONE)
		atomic_store_explicit(&sv->health, SHM_HEALTH_UP,
		    memory_order_release);
	sv->refs++;
	sv->weight = sc->weight;
	sv->flags = (sc->backup ? SHM_SERVER_BACKUP : 0) |
	    (sc->tls ? SHM_SERVER_TLS : 0);
	/* drain comes only from an admin override (master/override.c). */
	atomic_store_explicit(&sv->admin, sc->disabled ? SHM_ADMIN_MAINT :
	    sc->drain ? SHM_ADMIN_DRAIN : SHM_ADMIN_ACTIVE,
	    memory_order_release);
	sc->slot = (uint32_t)i;
}

/* Is slot among m[0..n)? */
static bool
shm_list_has(const struct shm_member *m, uint32_t n, uint32_t slot)
{
	for (uint32_t i = 0; i < n; i++)
		if (m[i].slot == slot)
			return true;
	return false;
}

void
shm_publish_list(struct shm *shm, const struct config *cfg, size_t b)
{
	const struct backend_conf *be = &cfg->backends[b];
	uint32_t room = shm->hdr->max_servers, n = 0, nd = 0;
	struct shm_member *m, *dyn;

	m = calloc((size_t)room * 2, sizeof(*m));
	if (m == NULL)
		fatalx("out of memory");
	dyn = m + room;
	for (size_t s = 0; s < be->nservers && n < room; s++) {
		const struct server_conf *sc = &be->servers[s];

		m[n++] = (struct shm_member){ .slot = sc->slot,
		    .weight = sc->weight, .max_conns = sc->max_conns,
		    .flags = (sc->backup ? SHM_SERVER_BACKUP : 0) |
		    (sc->tls ? SHM_SERVER_TLS : 0) };
	}
	if (shm->dynamic != NULL)
		nd = shm->dynamic(shm->dynamic_arg, be->name, dyn, room);
	/* A file server with the same address is the same slot: once. */
	for (uint32_t i = 0; i < nd && n < room; i++)
		if (!shm_list_has(m, n, dyn[i].slot))
			m[n++] = dyn[i];
	shm_members_publish(shm, be->pool_slot, m, n);
	free(m);
}

int
shm_publish(struct shm *shm, struct config *cfg, char *err, size_t len)
{
	struct shm_plan pl = { 0 };
	size_t k = 0;

	if (shm_plan_make(shm, cfg, &pl, err, len) == -1) {
		shm_plan_free(&pl);
		return -1;
	}
	for (size_t b = 0; b < cfg->nbackends; b++) {
		struct backend_conf *be = &cfg->backends[b];

		shm_pool_take(shm, pl.pool_slot[b], be);
		for (size_t s = 0; s < be->nservers; s++, k++)
			shm_server_write(shm, be, &be->servers[s],
			    pl.server_slot[k]);
	}
	for (size_t f = 0; f < cfg->nfrontends; f++)
		shm_frontend_take(shm, pl.fe_slot[f], &cfg->frontends[f]);
	shm_plan_free(&pl);
	for (size_t b = 0; b < cfg->nbackends; b++)
		shm_publish_list(shm, cfg, b);
	return 0;
}

void
shm_unpublish(struct shm *shm, const struct config *cfg)
{
	for (size_t b = 0; b < cfg->nbackends; b++) {
		const struct backend_conf *be = &cfg->backends[b];

		if (shm->pools[be->pool_slot].refs > 0 &&
		    --shm->pools[be->pool_slot].refs == 0)
			/* No generation has the backend: its servers leave. */
			shm_members_publish(shm, be->pool_slot, NULL, 0);
		for (size_t s = 0; s < be->nservers; s++)
			if (shm->servers[be->servers[s].slot].refs > 0)
				shm->servers[be->servers[s].slot].refs--;
	}
	for (size_t f = 0; f < cfg->nfrontends; f++)
		if (shm->frontends[cfg->frontends[f].slot].refs > 0)
			shm->frontends[cfg->frontends[f].slot].refs--;
}

uint32_t
shm_worker_free_count(const struct shm *shm)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < shm->hdr->max_workers; i++)
		if (atomic_load_explicit(&shm->workers[i].pid,
		    memory_order_relaxed) == 0)
			n++;
	return n;
}

int
shm_worker_claim(struct shm *shm, uint32_t generation)
{
	for (uint32_t i = 0; i < shm->hdr->max_workers; i++) {
		struct shm_worker_sh *w = &shm->workers[i];

		if (atomic_load_explicit(&w->pid, memory_order_relaxed) != 0)
			continue;
		/* -1 marks the slot taken until fork() tells us the pid. */
		atomic_store_explicit(&w->pid, -1, memory_order_relaxed);
		w->generation = generation;
		/* Forked after this: it reads every list as it is now. */
		atomic_store_explicit(&w->seen_epoch, atomic_load_explicit(
		    &shm->hdr->epoch, memory_order_relaxed),
		    memory_order_relaxed);
		return (int)i;
	}
	return -1;
}

void
shm_worker_set_pid(struct shm *shm, uint32_t wslot, pid_t pid)
{
	atomic_store_explicit(&shm->workers[wslot].pid, (int32_t)pid,
	    memory_order_relaxed);
}

uint32_t
shm_worker_reclaim(struct shm *shm, uint32_t wslot)
{
	struct shm_worker_sh *w = &shm->workers[wslot];
	uint32_t held = 0, n;

	for (uint32_t s = 0; s < shm->hdr->max_servers; s++) {
		_Atomic uint32_t *l = shm_ledger(shm, wslot, s);

		if ((n = atomic_load_explicit(l, memory_order_relaxed)) == 0)
			continue;
		atomic_fetch_sub_explicit(&shm->servers[s].inflight, n,
		    memory_order_relaxed);
		atomic_store_explicit(l, 0, memory_order_relaxed);
		held += n;
	}
	/* Before the slot is free: see "Fold on reap" in shm-types.h. */
	shm_stats_fold(shm, wslot);
	atomic_store_explicit(&w->pid, 0, memory_order_relaxed);
	return held;
}
