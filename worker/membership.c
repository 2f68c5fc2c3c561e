/*
 * Owns a worker's view of the member lists: its private pool per backend,
 * built again when the backend's list in shm moved, the idle connections
 * to servers that left, and the epoch the worker reports having seen
 * ("Member lists" in shm/shm-types.h).
 */
#include "autoconf.h"

#include <stdlib.h>

#include <event2/event.h>

#include "balancer/balancer.h"
#include "common/config.h"
#include "common/log.h"
#include "shm/shm.h"
#include "worker/upstream.h"
#include "worker/worker.h"

/* How often an idle worker says it has seen the latest lists. */
#define MEMBERSHIP_SEEN_MS	100

/* Close the idle connections to the servers of old that new lacks. */
static void
membership_purge(struct worker *w, const struct bal_pool *old,
    const struct bal_pool *new)
{
	w->member_stamp++;
	for (uint32_t m = 0; m < new->n; m++)
		w->member_mark[new->slot[m]] = w->member_stamp;
	for (uint32_t m = 0; m < old->n; m++)
		if (w->member_mark[old->slot[m]] != w->member_stamp)
			upstream_pool_purge(w, old->slot[m]);
}

struct bal_pool *
worker_bal_rebuild(struct worker *w, uint32_t b)
{
	struct bal_pool *old = w->bals[b], *pool;
	uint64_t version;
	uint32_t n;

	version = shm_members_read(w->shm, old->be->pool_slot, w->member_buf,
	    &n);
	pool = balancer_build_list(w->shm, old->be, w->member_buf, n,
	    version);
	if (pool == NULL) {
		/* The old tables stay right for every server still in. */
		log_warnx("backend %s: out of memory for its new member list",
		    old->be->name);
		return old;
	}
	membership_purge(w, old, pool);
	w->bals[b] = pool;
	balancer_free(old);
	return pool;
}

/*
 * Between callbacks, so no pick is under way: every pick from now on
 * checks the lists published up to the epoch stored.
 */
static void
membership_seen_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;

	(void)fd;
	(void)what;
	shm_worker_seen(w->shm, w->wslot);
}

int
membership_init(struct worker *w)
{
	static const struct timeval every = { 0, MEMBERSHIP_SEEN_MS * 1000 };
	uint32_t max = w->shm->hdr->max_servers;

	if ((w->member_buf = calloc(max, sizeof(*w->member_buf))) == NULL ||
	    (w->member_mark = calloc(max, sizeof(*w->member_mark))) == NULL ||
	    (w->seen_ev = event_new(w->base, -1, EV_PERSIST,
	    membership_seen_cb, w)) == NULL ||
	    event_add(w->seen_ev, &every) == -1)
		return -1;
	return 0;
}
