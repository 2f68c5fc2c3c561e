/* Owns a worker's pool of connection buffer blocks (see bufpool.h). */
#include "autoconf.h"

#include <malloc.h>
#include <stdlib.h>

#include <event2/event.h>

#include "worker/bufpool.h"
#include "worker/poison.h"

/* How often idle blocks are looked at. */
static const struct timeval bufpool_tick_tv = { 1, 0 };

static void bufpool_tick_later(struct bufpool *bp);

/* Free the first n blocks of the free list. */
static void
bufpool_release(struct bufpool *bp, uint32_t n)
{
	void *b;

	while (n-- > 0 && (b = bp->free) != NULL) {
		UNPOISON(b, bp->block_size);
		bp->free = *(void **)b;
		bp->nfree--;
		free(b);
	}
}

/*
 * Once a tick: the blocks that stayed on the free list the whole tick
 * (the low-water mark) were not needed, so all but keep of them go back
 * to the system. A steady load keeps what it cycles through and never
 * maps and unmaps per request; a flood's blocks are gone a tick or two
 * after it ends.
 */
void
bufpool_tick(struct bufpool *bp)
{
	if (bp->low > bp->keep)
		bufpool_release(bp, bp->low - bp->keep);
	bp->low = bp->nfree;
	bp->tick_armed = bp->nfree > bp->keep;
	if (bp->tick_armed)
		evtimer_add(bp->tick_ev, &bufpool_tick_tv);
}

static void
bufpool_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	bufpool_tick(arg);
}

int
bufpool_init(struct bufpool *bp, struct event_base *base, size_t block_size,
    uint32_t keep, uint32_t max_free)
{
	/*
	 * Blocks are mapped on their own, not carved from the heap: a flood
	 * lends thousands, and small long-lived allocations made meanwhile
	 * (libevent's per-fd slots) would pin the heap pages between them
	 * long after the blocks were freed. An unmapped block is gone from
	 * RSS at once.
	 */
	mallopt(M_MMAP_THRESHOLD, (int)block_size);
	bp->free = NULL;
	bp->nfree = bp->lent = bp->low = 0;
	bp->keep = keep;
	bp->max_free = max_free;
	bp->block_size = block_size;
	bp->tick_armed = false;
	bp->tick_ev = evtimer_new(base, bufpool_tick_cb, bp);
	return bp->tick_ev == NULL ? -1 : 0;
}

void
bufpool_clear(struct bufpool *bp)
{
	bufpool_release(bp, bp->nfree);
	if (bp->tick_ev != NULL)
		event_free(bp->tick_ev);
	bp->tick_ev = NULL;
}

void *
bufpool_get(struct bufpool *bp)
{
	void *b = bp->free;

	if (b != NULL) {
		UNPOISON(b, bp->block_size);
		bp->free = *(void **)b;
		if (--bp->nfree < bp->low)
			bp->low = bp->nfree;
	} else if ((b = malloc(bp->block_size)) == NULL)
		return NULL;
	bp->lent++;
	return b;
}

void
bufpool_put(struct bufpool *bp, void *block)
{
	bp->lent--;
	if (bp->nfree >= bp->max_free) {
		free(block);
		return;
	}
	*(void **)block = bp->free;
	POISON(block, bp->block_size);
	bp->free = block;
	bp->nfree++;
	if (bp->nfree > bp->keep)
		bufpool_tick_later(bp);
}

/* Make sure a tick comes: there is something to give back. */
static void
bufpool_tick_later(struct bufpool *bp)
{
	if (!bp->tick_armed && bp->tick_ev != NULL) {
		bp->tick_armed = true;
		bp->low = bp->nfree;
		evtimer_add(bp->tick_ev, &bufpool_tick_tv);
	}
}
