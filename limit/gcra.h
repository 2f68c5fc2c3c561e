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

/* Retry-After for a wait of wait_ns: whole seconds, rounded up, at least 1. */
uint64_t gcra_retry_after(uint64_t wait_ns);

#endif
