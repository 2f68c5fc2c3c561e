/* Owns a worker's pool of connection buffer blocks (see bufpool.h). */
#include "autoconf.h"

#include <malloc.h>
#include <stdlib.h>

#include <event2/event.h>

#include "worker/bufpool.h"

#define BUFPOOL_TRIM_S	1	/* how long frees gather before one trim */

/*
 * Blocks freed past the bound sit in the heap as free chunks; glibc gives
 * back only the top of the heap by itself. One malloc_trim() a while after
 * a burst of frees (a flood of connections closing) returns every free
 * page, so a worker's RSS falls back to its idle size.
 */
static void
bufpool_trim_cb(evutil_socket_t fd, short what, void *arg)
{
	struct bufpool *bp = arg;

	(void)fd;
	(void)what;
	bp->trim_armed = false;
	malloc_trim(0);
}

int
bufpool_init(struct bufpool *bp, struct event_base *base, size_t block_size,
    uint32_t max_free)
{
	bp->free = NULL;
	bp->nfree = bp->lent = 0;
	bp->max_free = max_free;
	bp->block_size = block_size;
	bp->trim_armed = false;
	bp->trim_ev = evtimer_new(base, bufpool_trim_cb, bp);
	return bp->trim_ev == NULL ? -1 : 0;
}

void
bufpool_clear(struct bufpool *bp)
{
	void *b;

	while ((b = bp->free) != NULL) {
		bp->free = *(void **)b;
		free(b);
	}
	bp->nfree = 0;
	if (bp->trim_ev != NULL)
		event_free(bp->trim_ev);
	bp->trim_ev = NULL;
}

void *
bufpool_get(struct bufpool *bp)
{
	void *b = bp->free;

	if (b != NULL) {
		bp->free = *(void **)b;
		bp->nfree--;
	} else if ((b = malloc(bp->block_size)) == NULL)
		return NULL;
	bp->lent++;
	return b;
}

void
bufpool_put(struct bufpool *bp, void *block)
{
	bp->lent--;
	if (bp->nfree < bp->max_free) {
		*(void **)block = bp->free;
		bp->free = block;
		bp->nfree++;
		return;
	}
	free(block);
	bufpool_trim_later(bp);
}

void
bufpool_trim_later(struct bufpool *bp)
{
	static const struct timeval trim_tv = { BUFPOOL_TRIM_S, 0 };

	if (!bp->trim_armed && bp->trim_ev != NULL) {
		bp->trim_armed = true;
		evtimer_add(bp->trim_ev, &trim_tv);
	}
}
