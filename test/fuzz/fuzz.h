/*
 * What every libFuzzer harness shares: the entry point's prototype, an
 * invariant check that names what broke, and small helpers over spans.
 */
#ifndef WEIR_FUZZ_H
#define WEIR_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Abort with the broken invariant: libFuzzer saves the input as a crash. */
#define FUZZ_CHECK(cond) do {						\
	if (!(cond))							\
		fuzz_fail(__FILE__, __LINE__, #cond);			\
} while (0)

static inline void __attribute__((noreturn))
fuzz_fail(const char *file, int line, const char *what)
{
	fprintf(stderr, "%s:%d: invariant broken: %s\n", file, line, what);
	abort();
}

/* Byte-exact equality of two runs of bytes (case matters). */
static inline bool
fuzz_same(const char *a, size_t alen, const char *b, size_t blen)
{
	return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

/* Is p[0..len) inside buf[0..buflen)? */
static inline bool
fuzz_inside(const char *p, size_t len, const char *buf, size_t buflen)
{
	return p >= buf && len <= buflen && (size_t)(p - buf) <= buflen - len;
}

/* FNV-1a of the input: a seed for choices that must repeat with it. */
static inline uint64_t
fuzz_hash(const uint8_t *data, size_t size)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i;

	for (i = 0; i < size; i++)
		h = (h ^ data[i]) * 0x100000001b3ULL;
	return h;
}

/* xorshift64: the next pseudo-random number from *s (never 0). */
static inline uint64_t
fuzz_rand(uint64_t *s)
{
	if (*s == 0)
		*s = 0x9e3779b97f4a7c15ULL;
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

#endif

/* ---- fuzzhead.c: checks shared by the request and response harnesses ---- */
#ifdef WEIR_HTTP_H
/*
 * Check, independently of scan.c, what scan_head() promises about an
 * accepted head: CRLF line ends only, no CTL but HTAB in field values, no
 * obs-fold, "token:" field lines, a blank line at the end.
 */
void fuzzhead_check_bytes(const char *h, size_t len);
/* Check what parser_head() promises: spans inside the head, clean fields. */
void fuzzhead_check_msg(const struct http_msg *m, const char *h, size_t len);
/*
 * A head accepted at skipped + head_len is the same verdict however the
 * bytes arrived: scanning exactly those bytes accepts the same head, and
 * any shorter prefix (one byte short, and one chosen by seed) is still
 * incomplete, never rejected.
 */
void fuzzhead_check_prefixes(const char *buf, size_t skipped,
    size_t head_len, size_t max, uint64_t seed);
/* Field lines in a whole head (start line and blank line excluded). */
size_t fuzzhead_field_lines(const char *h, size_t len);
/* How many field lines of m have this id. */
size_t fuzzhead_count(const struct http_msg *m, enum http_field id);
/*
 * Every field of out that owned() says weir did not write itself is a
 * field of in, byte for byte, and they come in in's order.
 */
bool fuzzhead_subsequence(const struct http_msg *out,
    const struct http_msg *in, bool (*owned)(enum http_field));
/*
 * Does m carry a field that owned() says weir did not write and whose name
 * is one of names (case-insensitive)?
 */
bool fuzzhead_has_named(const struct http_msg *m,
    const struct http_span *names, size_t n, bool (*owned)(enum http_field));
#endif
