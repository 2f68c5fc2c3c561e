/*
 * Owns the GCRA arithmetic: one request of a key against its theoretical
 * arrival time, with no state of its own (limit/table.c keeps the TATs).
 *
 * A key may take a request at now when its TAT, moved up to now if it
 * lies in the past, is at most (burst - 1) intervals ahead; the request
 * then moves the TAT one interval on. An idle key (TAT <= now) thus has a
 * full burst, and a TAT in the past is worth no more than one at now: a
 * clock that jumped far forward resets every key to a full burst, never
 * to more. A now earlier than the TAT (another worker read the clock a
 * little later and stored first) only makes the key look busier, and by
 * at most what the limit itself allows (gcra_cap()): a TAT further ahead,
 * left by a slower rate before a reload or by a clock stepped back, counts
 * as a key with a full debt under the limit as it is now.
 */
#include "autoconf.h"

#include "limit/gcra.h"

#define GCRA_NS_PER_S	1000000000u
#define GCRA_CAP_SLACK_NS	GCRA_NS_PER_S	/* see gcra_cap() */

bool
gcra_take(uint64_t tat, uint64_t now, uint64_t interval, uint32_t burst,
    uint64_t *out)
{
	uint64_t base = tat > now ? tat : now;
	/* At most 3600 s in ns times 10^6 (the parser's limits): no wrap. */
	uint64_t tau = interval * (uint64_t)(burst > 0 ? burst - 1 : 0);
	uint64_t ahead = base - now;

	if (ahead > tau) {
		*out = ahead - tau;
		return false;
	}
	if (base > UINT64_MAX - interval) {
		/* A TAT no clock reaches: refuse rather than wrap to 0. */
		*out = UINT64_MAX;
		return false;
	}
	*out = base + interval;
	return true;
}

uint64_t
gcra_cap(uint64_t tat, uint64_t now, uint64_t interval, uint32_t burst)
{
	/* tau + interval */
	uint64_t most = interval * (uint64_t)(burst > 0 ? burst : 1);

	/*
	 * Past it only by more than a clock read can lag behind another
	 * worker's store (a worker preempted between reading the clock and
	 * its CAS): that debt the limit itself made, and cutting it would
	 * give the key requests. A reload's old debt is far beyond.
	 */
	if (tat <= now || tat - now <= most + GCRA_CAP_SLACK_NS ||
	    now > UINT64_MAX - most)
		return tat;
	return now + most;
}

uint64_t
gcra_refund(uint64_t tat, uint64_t interval)
{
	return tat > interval ? tat - interval : 0;
}

uint64_t
gcra_retry_after(uint64_t wait_ns)
{
	uint64_t s = wait_ns / GCRA_NS_PER_S + (wait_ns % GCRA_NS_PER_S != 0);

	return s > 0 ? s : 1;
}
