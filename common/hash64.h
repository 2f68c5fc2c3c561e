/*
 * 64-bit hashing shared by consistent hashing (balancer/hash.c) and the
 * rate-limit tables (limit/table.c): FNV-1a over bytes, then murmur3's
 * fmix64 finaliser, since FNV-1a alone leaves similar inputs ("a-1",
 * "a-2") close together in the high bits.
 */
#ifndef WEIR_HASH64_H
#define WEIR_HASH64_H

#include <stddef.h>
#include <stdint.h>

#define HASH64_FNV_BASIS	0xcbf29ce484222325ULL

/* FNV-1a over p[0..len), continuing from h (start at HASH64_FNV_BASIS). */
static inline uint64_t
hash64_fnv(uint64_t h, const void *p, size_t len)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < len; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* murmur3's fmix64: every input bit moves every output bit. */
static inline uint64_t
hash64_mix(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	k *= 0xc4ceb9fe1a85ec53ULL;
	k ^= k >> 33;
	return k;
}

#endif
