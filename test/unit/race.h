/*
 * Races between forked processes for the unit tests: every process is
 * running and spinning before any of them starts, so they overlap for sure.
 */
#ifndef WEIR_TEST_RACE_H
#define WEIR_TEST_RACE_H

#include <stdatomic.h>

/* State shared by the racers (in a MAP_SHARED page). */
struct race {
	_Atomic int armed;	/* round the parent has set up */
	_Atomic int ready;	/* racers arrived at the barrier, all rounds */
	_Atomic int go;		/* round the racers may start */
	_Atomic int done;	/* racers finished with the current round */
	_Atomic int failed;	/* a racer found something wrong */
	_Atomic long scratch[64];	/* the test's own shared counters */
};

/* A racer: process k of n, in round r; returns 0, or -1 (counted failed). */
typedef int (*race_fn)(int k, int r, void *arg);

struct race *race_new(void);
void race_free(struct race *rc);
/*
 * Fork n racers that each run fn for rounds 0 .. rounds-1. Before every
 * round the parent runs before(r) (if set); the racers then meet at a
 * barrier and start together; after it, check(r) (if set) runs
 * once all n are done and returns 0, or -1 for a wrong round. Fails the
 * test, after every racer has exited, if a racer failed or died or a
 * round was wrong.
 */
void race_run(struct race *rc, int n, int rounds, race_fn fn,
    void (*before)(int r, void *arg), int (*check)(int r, void *arg),
    void *arg);

#endif
