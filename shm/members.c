/*
 * Owns the pools' member lists in the segment: the master publishing a
 * new list, any process reading the current one, the epochs workers
 * report seeing, and when a server slot no list names is free again (the
 * protocol is "Member lists" in shm-types.h).
 */
#include "autoconf.h"

#include <stdbool.h>
#include <stdint.h>

#include "shm/shm.h"

/* Member i of buffer b of list l. */
static struct shm_member_sh *
shm_member_at(const struct shm *shm, struct shm_members_sh *l, uint32_t b,
    uint32_t i)
{
	struct shm_member_sh *v = (struct shm_member_sh *)(void *)(l + 1);

	return &v[(size_t)b * shm->hdr->max_servers + i];
}

/* Master: mark the slots of the list now in buffer b as listed or not. */
static void
shm_members_mark(struct shm *shm, struct shm_members_sh *l, uint32_t b,
    bool listed, uint64_t epoch)
{
	uint32_t n = atomic_load_explicit(&l->n[b], memory_order_relaxed);

	for (uint32_t i = 0; i < n; i++) {
		struct shm_server_sh *sv = &shm->servers[atomic_load_explicit(
		    &shm_member_at(shm, l, b, i)->slot, memory_order_relaxed)];

		sv->listed = listed;
		sv->removed_epoch = listed ? 0 : epoch;
	}
}

uint64_t
shm_members_publish(struct shm *shm, uint32_t pool,
    const struct shm_member *m, uint32_t n)
{
	struct shm_members_sh *l = shm_members(shm, pool);
	uint64_t v = atomic_load_explicit(&l->version, memory_order_relaxed);
	uint64_t epoch = atomic_load_explicit(&shm->hdr->epoch,
	    memory_order_relaxed) + 1;
	uint32_t b = (uint32_t)(v + 1) & 1;

	/*
	 * Order the stores below after the last publication's, on every
	 * CPU: a reader still copying buffer b from two versions ago must
	 * not see them before it sees the version move.
	 */
	atomic_thread_fence(memory_order_release);
	/* The old list's slots leave at this epoch unless listed again. */
	shm_members_mark(shm, l, (uint32_t)v & 1, false, epoch);
	for (uint32_t i = 0; i < n; i++) {
		struct shm_member_sh *d = shm_member_at(shm, l, b, i);

		atomic_store_explicit(&d->slot, m[i].slot, memory_order_relaxed);
		atomic_store_explicit(&d->weight, m[i].weight,
		    memory_order_relaxed);
		atomic_store_explicit(&d->flags, m[i].flags,
		    memory_order_relaxed);
		atomic_store_explicit(&d->max_conns, m[i].max_conns,
		    memory_order_relaxed);
	}
	atomic_store_explicit(&l->n[b], n, memory_order_relaxed);
	shm_members_mark(shm, l, b, true, epoch);
	atomic_store_explicit(&l->version, v + 1, memory_order_release);
	atomic_store_explicit(&shm->hdr->epoch, epoch, memory_order_release);
	return epoch;
}

uint64_t
shm_members_read(const struct shm *shm, uint32_t pool, struct shm_member *out,
    uint32_t *n)
{
	struct shm_members_sh *l = shm_members(shm, pool);
	uint64_t v = atomic_load_explicit(&l->version, memory_order_acquire);
	uint64_t again;

	for (;;) {
		uint32_t b = (uint32_t)v & 1;
		uint32_t k = atomic_load_explicit(&l->n[b],
		    memory_order_relaxed);

		if (k > shm->hdr->max_servers)
			k = 0;		/* torn: the check below retries */
		for (uint32_t i = 0; i < k; i++) {
			struct shm_member_sh *s = shm_member_at(shm, l, b, i);

			out[i].slot = atomic_load_explicit(&s->slot,
			    memory_order_relaxed);
			out[i].weight = atomic_load_explicit(&s->weight,
			    memory_order_relaxed);
			out[i].flags = atomic_load_explicit(&s->flags,
			    memory_order_relaxed);
			out[i].max_conns = atomic_load_explicit(&s->max_conns,
			    memory_order_relaxed);
		}
		/* The copy is good if no publish began reusing buffer b. */
		atomic_thread_fence(memory_order_acquire);
		again = atomic_load_explicit(&l->version,
		    memory_order_relaxed);
		if (again == v) {
			*n = k;
			return v;
		}
		v = atomic_load_explicit(&l->version, memory_order_acquire);
	}
}

void
shm_worker_seen(struct shm *shm, uint32_t wslot)
{
	atomic_store_explicit(&shm->workers[wslot].seen_epoch,
	    atomic_load_explicit(&shm->hdr->epoch, memory_order_acquire),
	    memory_order_release);
}

/* The oldest epoch a live worker may still pick from (UINT64_MAX: none). */
static uint64_t
shm_epoch_floor(const struct shm *shm)
{
	uint64_t floor = UINT64_MAX, e;

	for (uint32_t i = 0; i < shm->hdr->max_workers; i++) {
		if (atomic_load_explicit(&shm->workers[i].pid,
		    memory_order_relaxed) == 0)
			continue;
		e = atomic_load_explicit(&shm->workers[i].seen_epoch,
		    memory_order_acquire);
		if (e < floor)
			floor = e;
	}
	return floor;
}

bool
shm_server_unlisted_idle(const struct shm *shm, uint32_t slot)
{
	const struct shm_server_sh *sv = &shm->servers[slot];

	if (sv->listed)
		return false;
	/*
	 * The epochs first: a worker past the removal (acquire) has ended
	 * the callback of any pick of the slot, so its claim is visible to
	 * the load of inflight after it.
	 */
	if (sv->removed_epoch > shm_epoch_floor(shm))
		return false;
	return atomic_load_explicit(&sv->inflight, memory_order_acquire) == 0;
}
