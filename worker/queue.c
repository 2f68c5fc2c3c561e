/*
 * Owns the queues of requests waiting for a server slot: one FIFO per
 * backend in each worker, its bounds (max_queue, queue_timeout), its
 * gauge in the worker's statistics area, and when a waiting request is
 * offered a slot again.
 *
 * When a slot frees. A slot is a place in a server's shared in-flight
 * count (shm_inflight_claim()), and any worker of any generation may free
 * one. The worker that frees it serves its own queues at once (queue_wake()
 * activates the queue event: it runs after the current callback, so no
 * connection is pumped inside another's pump). Other workers cannot see
 * that free as an event: telling them would take a write to an eventfd of
 * every other worker on every release of a limited server, a syscall on
 * the request path even when nobody waits. Instead a worker whose queues
 * are not empty looks again every QUEUE_RECHECK_MS, and only then: an
 * idle queue costs nothing, a waiting request learns of a slot freed
 * elsewhere within a few milliseconds, and a look is one CAS per waiting
 * backend. Within a worker the order is FIFO per backend: a request that
 * may take any server goes before everyone behind it (when it finds every
 * server full nobody behind it tries), and a new request (a pipelined one
 * read in the callback that freed a place, say) joins the tail while such
 * a request waits. A retry waits only for the servers it has not tried:
 * it is passed over when those are full, and holds up nobody. Across workers there is no order: a slot goes to whichever
 * worker claims it first, and the freeing worker's own queue is first in
 * line.
 *
 * A waiting request holds no server and no msg: its head is already
 * serialized in uout and consumed from cin (exchange_start()), and what a
 * hash pick needs of the head is saved with it (exch.key_*).
 */
#include "autoconf.h"

#include <stdlib.h>

#include <event2/event.h>

#include "balancer/balancer.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/log.h"
#include "shm/stats.h"
#include "worker/conn.h"
#include "worker/queue.h"
#include "worker/worker.h"

#define QUEUE_RECHECK_MS	5

static void queue_cb(evutil_socket_t fd, short what, void *arg);

/* The queues and their event, made the first time a request must wait. */
static int
queue_init(struct worker *w)
{
	if (w->queues != NULL)
		return 0;
	if ((w->queue_ev = evtimer_new(w->base, queue_cb, w)) == NULL)
		return -1;
	if ((w->queues = calloc(w->cfg->nbackends,
	    sizeof(*w->queues))) == NULL) {
		event_free(w->queue_ev);
		w->queue_ev = NULL;
		return -1;
	}
	return 0;
}

/* The worker's own count of the backend's waiting requests (a gauge). */
static _Atomic uint64_t *
queue_gauge(struct conn *c)
{
	uint32_t pool = c->w->cfg->backends[c->backend].pool_slot;

	return &c->w->st.pools[pool].queued;
}

/* Look again in QUEUE_RECHECK_MS, unless a look is due sooner already. */
static void
queue_arm(struct worker *w)
{
	static const struct timeval tv = { 0, QUEUE_RECHECK_MS * 1000 };

	if (!evtimer_pending(w->queue_ev, NULL))
		evtimer_add(w->queue_ev, &tv);
}

int
queue_add(struct conn *c)
{
	struct worker *w = c->w;
	const struct backend_conf *be = &w->cfg->backends[c->backend];
	struct queue *q;

	if (queue_init(w) == -1)
		return -1;
	q = &w->queues[c->backend];
	if (q->len >= be->max_queue)
		return -1;
	c->x->queued = true;
	c->x->queued_fresh = c->x->ntried == 0;
	q->fresh += c->x->queued_fresh;
	c->x->queued_until_ms = clock_ms() + be->queue_timeout_ms;
	c->x->qnext = NULL;
	c->x->qprev = q->tail;
	if (q->tail != NULL)
		q->tail->x->qnext = c;
	else
		q->head = c;
	q->tail = c;
	q->len++;
	w->nqueued++;
	shm_stat_inc(queue_gauge(c));
	queue_arm(w);
	return 0;
}

bool
queue_waiting(const struct worker *w, uint32_t b)
{
	return w->queues != NULL && w->queues[b].fresh > 0;
}

void
queue_remove(struct conn *c)
{
	struct worker *w = c->w;
	struct queue *q = &w->queues[c->backend];
	struct exch *x = c->x;

	if (x->qprev != NULL)
		x->qprev->x->qnext = x->qnext;
	else
		q->head = x->qnext;
	if (x->qnext != NULL)
		x->qnext->x->qprev = x->qprev;
	else
		q->tail = x->qprev;
	x->qprev = x->qnext = NULL;
	x->queued = false;
	q->fresh -= x->queued_fresh;
	q->len--;
	w->nqueued--;
	shm_stat_dec(queue_gauge(c));
}

void
queue_wake(struct worker *w)
{
	event_active(w->queue_ev, EV_TIMEOUT, 0);
}

/*
 * Offer slots in order until a request that may take any server finds
 * every one full (nobody behind it can do better); a retry that finds the
 * servers it has not tried full is passed over, as it cannot use a place
 * elsewhere. Then answer 503 to those at the head whose queue_timeout has
 * run out. At most the requests queued on entry are looked at: one served
 * may come back to the tail (its connect failed and its retry found all
 * full).
 */
static void
queue_serve(struct queue *q, uint64_t now)
{
	uint32_t n = q->len;
	struct conn *c = q->head, *next;

	while (n-- > 0 && c != NULL) {
		next = c->x->qnext;
		if (exchange_dequeue(c))
			conn_pump(c);
		else if (c->x->queued_fresh)
			break;
		c = next;
	}
	while ((c = q->head) != NULL && c->x->queued_until_ms <= now) {
		queue_remove(c);
		conn_error(c, 503, "no server slot within queue_timeout "
		    "(%u ms) in backend %s",
		    c->w->cfg->backends[c->backend].queue_timeout_ms,
		    c->w->cfg->backends[c->backend].name);
		conn_pump(c);
	}
}

/* The re-check timer, or a slot this worker freed. */
static void
queue_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	uint64_t now = clock_ms();

	(void)fd;
	(void)what;
	for (size_t b = 0; b < w->cfg->nbackends && w->nqueued > 0; b++)
		if (w->queues[b].len > 0)
			queue_serve(&w->queues[b], now);
	if (w->nqueued > 0)
		queue_arm(w);
}
