/*
 * A worker's pool of connection buffer blocks: lent to a connection while
 * it moves bytes, taken back when it sits idle, so an idle keep-alive
 * connection holds no buffer memory at all.
 */
#ifndef WEIR_BUFPOOL_H
#define WEIR_BUFPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event;
struct event_base;

struct bufpool {
	void *free;		/* idle blocks, linked through their first word */
	uint32_t nfree;		/* blocks on the free list */
	uint32_t low;		/* fewest on the free list since the last tick */
	uint32_t keep;		/* idle blocks kept however long unused */
	uint32_t max_free;	/* the bound; more is freed at once */
	uint32_t lent;		/* blocks connections hold now */
	size_t block_size;
	struct event *tick_ev;	/* gives back what went unused, once a while */
	bool tick_armed;
};

/*
 * Blocks of block_size bytes. Unused ones are kept up to max_free; those
 * that stay unused for a whole tick go back to the system, but for keep.
 */
int bufpool_init(struct bufpool *bp, struct event_base *base,
    size_t block_size, uint32_t keep, uint32_t max_free);
/*
 * What the timer runs once a tick (public for tests): blocks unused the
 * whole tick go back, but for keep.
 */
void bufpool_tick(struct bufpool *bp);
/* Free every idle block (the lent ones must have come back). */
void bufpool_clear(struct bufpool *bp);
/* A block, from the free list when it has one; NULL if out of memory. */
void *bufpool_get(struct bufpool *bp);
/* Give a block back; past max_free it is freed at once. */
void bufpool_put(struct bufpool *bp, void *block);

#endif
