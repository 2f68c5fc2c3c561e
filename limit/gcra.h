/*
 * GCRA, the generic cell rate algorithm: whether one more request of a key
 * fits its rate, from the key's one timestamp (its theoretical arrival
 * time, TAT). Pure arithmetic on nanoseconds of CLOCK_MONOTONIC.
 */
#ifndef WEIR_GCRA_H
#define WEIR_GCRA_H

#include <stdbool.h>
#include <stdint.h>

/*
 * A request at now of a key whose TAT is tat (0: never seen), with
 * requests interval ns apart and burst of them allowed at once. Granted:
 * true and *out = the TAT to store. Refused: false and *out = ns until a
 * request would be granted (at least 1); nothing is to be stored.
 */
bool gcra_take(uint64_t tat, uint64_t now, uint64_t interval, uint32_t burst,
    uint64_t *out);

/*
 * The most debt the limit (interval, burst) can leave a key with is a TAT
 * tau + interval ahead of now (tau = (burst - 1) intervals). A TAT beyond
 * it was made under a slower rate (a reload raised it) or an earlier
 * clock: gcra_cap() brings it back to that bound, so a key over the new
 * limit waits at most one new interval, not the old debt. Returns tat when
 * it is within the bound plus one second (the slack a stale clock read
 * needs: see gcra.c).
 */
uint64_t gcra_cap(uint64_t tat, uint64_t now, uint64_t interval,
    uint32_t burst);

/*
 * Undo one granted request: the TAT tat moves back one interval (not
 * below 0). For a request let through by one limit and refused by the
 * next: it must not be charged for the first.
 */
uint64_t gcra_refund(uint64_t tat, uint64_t interval);

/* Retry-After for a wait of wait_ns: whole seconds, rounded up, at least 1. */
uint64_t gcra_retry_after(uint64_t wait_ns);

#endif
