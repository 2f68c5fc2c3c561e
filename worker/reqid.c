/*
 * Owns request ids: 128 random bits per request as a version 4 UUID, from
 * a per-worker xoshiro256** generator seeded once from getrandom(2), so a
 * request costs a few multiplications, never a system call.
 */
#include "autoconf.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "worker/alog.h"

static inline uint64_t
reqid_rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/* SplitMix64: spreads a weak seed over the whole state (fallback only). */
static uint64_t
reqid_splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void
reqid_seed(struct reqid *g, const uint64_t seed[4])
{
	memcpy(g->s, seed, sizeof(g->s));
	/* xoshiro must not start from all zeros: it would stay there. */
	if ((g->s[0] | g->s[1] | g->s[2] | g->s[3]) == 0)
		g->s[0] = 1;
}

int
reqid_init(struct reqid *g)
{
	uint64_t seed[4], x;
	size_t got = 0;
	ssize_t n;
	struct timespec ts;

	while (got < sizeof(seed)) {
		n = getrandom((char *)seed + got, sizeof(seed) - got, 0);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	if (got == sizeof(seed)) {
		reqid_seed(g, seed);
		return 0;
	}
	/* Unique per worker still, though guessable: better than nothing. */
	clock_gettime(CLOCK_REALTIME, &ts);
	x = (uint64_t)getpid() << 32 ^ (uint64_t)ts.tv_sec ^
	    (uint64_t)ts.tv_nsec << 20;
	for (int i = 0; i < 4; i++)
		seed[i] = reqid_splitmix(&x);
	reqid_seed(g, seed);
	return -1;
}

/* xoshiro256** (Blackman and Vigna): one 64-bit output. */
uint64_t
reqid_next64(struct reqid *g)
{
	uint64_t *s = g->s;
	uint64_t out = reqid_rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = reqid_rotl(s[3], 45);
	return out;
}

/* n hex digits of v's low 4n bits at out, most significant first. */
static void
reqid_hex(char *out, uint64_t v, int n)
{
	static const char hex[] = "0123456789abcdef";

	while (n-- > 0) {
		out[n] = hex[v & 15];
		v >>= 4;
	}
}

void
reqid_format(char *out, uint64_t hi, uint64_t lo)
{
	/* RFC 9562 4.1, 5.4: version 0100 in bits 48-51, variant 10. */
	hi = (hi & ~0xf000ull) | 0x4000ull;
	lo = (lo & ~(3ull << 62)) | (2ull << 62);
	reqid_hex(out, hi >> 32, 8);
	out[8] = '-';
	reqid_hex(out + 9, hi >> 16, 4);
	out[13] = '-';
	reqid_hex(out + 14, hi, 4);
	out[18] = '-';
	reqid_hex(out + 19, lo >> 48, 4);
	out[23] = '-';
	reqid_hex(out + 24, lo, 12);
}

void
reqid_next(struct reqid *g, char *out)
{
	uint64_t hi = reqid_next64(g);

	reqid_format(out, hi, reqid_next64(g));
}
