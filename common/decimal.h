/* Unsigned integers as decimal text, without printf, for hot paths. */
#ifndef WEIR_DECIMAL_H
#define WEIR_DECIMAL_H

#include <stdint.h>

#define DECIMAL_U64_MAX	20	/* digits of UINT64_MAX */

/* Write v's digits so that they end just before end; return the first. */
static inline char *
decimal_u64(char *end, uint64_t v)
{
	do {
		*--end = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	return end;
}

#endif
