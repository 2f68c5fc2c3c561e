/*
 * The requests of one worker that wait for a server slot (max_conns): one
 * FIFO per backend, served as slots free, each bounded in length
 * (max_queue) and in time (queue_timeout).
 */
#ifndef WEIR_QUEUE_H
#define WEIR_QUEUE_H

#include <stdint.h>

#include <stdbool.h>

struct conn;
struct worker;

/* A backend's queue in one worker. */
struct queue {
	struct conn *head, *tail;	/* oldest first */
	uint32_t len;
	uint32_t fresh;			/* those not tried anywhere yet */
};

/*
 * Put c (CONN_PROXY, its request in uout, no server claimed) at the tail
 * of its backend's queue. -1 if the queue already holds max_queue
 * requests (or out of memory): the caller answers 503.
 */
int queue_add(struct conn *c);
/*
 * Does a request of this worker that may take any server of backend b
 * wait for one? A new request then joins the tail instead of claiming a
 * place, which would jump the queue. Retries waiting for a server they
 * have not tried yet do not count: they cannot use the place a newcomer
 * would take.
 */
bool queue_waiting(const struct worker *w, uint32_t b);
/* Take c out of its queue (served, answered or gone). */
void queue_remove(struct conn *c);
/*
 * This worker freed a slot and some request waits (w->nqueued > 0): serve
 * the queues once the current callback is over.
 */
void queue_wake(struct worker *w);

#endif
