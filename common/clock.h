/* The one clock every process agrees on: CLOCK_MONOTONIC in milliseconds. */
#ifndef WEIR_CLOCK_H
#define WEIR_CLOCK_H

#include <stdint.h>
#include <time.h>

/*
 * Coarse (a few ms of resolution, no syscall): good enough for timeouts,
 * slow start and ejections, and the same clock in master and workers, so
 * times written to shared memory by one are read right by the others.
 */
static inline uint64_t
clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * Fine (CLOCK_MONOTONIC, also through the vDSO, no syscall) in
 * microseconds: for durations the coarse clock's 1-4 ms ticks would blur,
 * such as backend response times (a 1 ms histogram bucket).
 */
static inline uint64_t
clock_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

#endif
