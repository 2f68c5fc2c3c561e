/*
 * libFuzzer harness for the chunked decoder and encoder (http/chunk.c):
 * the same body fed whole, byte by byte and in random pieces, then the
 * payload re-chunked as exchange.c does and decoded again.
 */
#include "autoconf.h"

#include "http/http.h"
#include "test/fuzz/fuzz.h"

#define FUZZ_MAX_IN	65536
#define FUZZ_SIZE_LINE	20	/* chunk_size_line() writes at most 18 */
#define FUZZ_LAST	"0\r\n\r\n"

/* What one decoding pass saw. */
struct fuzz_pass {
	enum chunk_result r;
	size_t consumed;		/* input bytes used, up to END/ERR */
	size_t len;			/* payload bytes handed out */
	size_t nruns;			/* data runs handed out */
	char pay[FUZZ_MAX_IN];
	size_t runs[FUZZ_MAX_IN];
};

static struct fuzz_pass fuzz_whole, fuzz_other;
static char fuzz_enc[FUZZ_MAX_IN * (FUZZ_SIZE_LINE + 3) + 8];

/* How the input is made visible: all, byte by byte, or random pieces. */
enum fuzz_feed {
	FUZZ_FEED_WHOLE,
	FUZZ_FEED_BYTES,
	FUZZ_FEED_RANDOM,
};

/* The end of the visible input after avail, for this feed. */
static size_t
fuzz_grow(enum fuzz_feed feed, size_t avail, size_t size, uint64_t *seed)
{
	size_t step;

	switch (feed) {
	case FUZZ_FEED_WHOLE:
		return size;
	case FUZZ_FEED_BYTES:
		return avail + 1;
	default:
		step = 1 + (size_t)(fuzz_rand(seed) % 64);
		return step > size - avail ? size : avail + step;
	}
}

/* Decode in[0..size) as the bytes become visible; fill *p. */
static void
fuzz_decode(const char *in, size_t size, enum fuzz_feed feed, uint64_t seed,
    struct fuzz_pass *p)
{
	struct chunk_dec d;
	const char *data;
	size_t pos = 0, avail = 0, used, len;

	chunk_init(&d);
	memset(p, 0, offsetof(struct fuzz_pass, pay));
	p->r = CHUNK_MORE;
	for (;;) {
		if (pos == avail) {
			if (avail == size)
				break;
			avail = fuzz_grow(feed, avail, size, &seed);
		}
		p->r = chunk_decode(&d, in + pos, avail - pos, &used, &data,
		    &len);
		FUZZ_CHECK(used <= avail - pos);
		/* Data is handed out in place, from the bytes just used. */
		FUZZ_CHECK(len == 0 || (fuzz_inside(data, len, in + pos, used) &&
		    data + len == in + pos + used));
		FUZZ_CHECK(p->r != CHUNK_ERR || len == 0);
		if (len > 0) {
			memcpy(p->pay + p->len, data, len);
			p->len += len;
			p->runs[p->nruns++] = len;
		}
		pos += used;
		/* Never more payload than input read, framing included. */
		FUZZ_CHECK(p->len <= pos && (p->len < pos || pos == 0));
		if (p->r != CHUNK_MORE)
			break;
		/* MORE means it took all it was given or handed out data. */
		FUZZ_CHECK(pos == avail || len > 0);
	}
	p->consumed = pos;
	if (p->r == CHUNK_MORE)
		FUZZ_CHECK(pos == size);
	if (p->r == CHUNK_END)
		FUZZ_CHECK(pos >= 5 && memcmp(in + pos - 2, "\r\n", 2) == 0);
}

/* Two passes over the same input reached the same verdict and payload. */
static void
fuzz_same_pass(const struct fuzz_pass *a, const struct fuzz_pass *b)
{
	FUZZ_CHECK(a->r == b->r && a->consumed == b->consumed);
	FUZZ_CHECK(fuzz_same(a->pay, a->len, b->pay, b->len));
}

/* Re-chunk the payload run by run, as exchange_rechunk() writes it. */
static size_t
fuzz_encode(const struct fuzz_pass *p, bool one_chunk)
{
	size_t n = 0, off = 0, i, k, nruns = one_chunk ? 1 : p->nruns;

	for (i = 0; i < nruns && p->len > 0; i++) {
		k = one_chunk ? p->len : p->runs[i];
		n += chunk_size_line(fuzz_enc + n, k);
		memcpy(fuzz_enc + n, p->pay + off, k);
		n += k;
		off += k;
		memcpy(fuzz_enc + n, "\r\n", 2);
		n += 2;
	}
	memcpy(fuzz_enc + n, FUZZ_LAST, sizeof(FUZZ_LAST) - 1);
	return n + sizeof(FUZZ_LAST) - 1;
}

/* The re-chunked payload decodes to itself, to its last byte. */
static void
fuzz_check_rechunk(bool one_chunk, uint64_t seed)
{
	size_t n = fuzz_encode(&fuzz_whole, one_chunk);

	fuzz_decode(fuzz_enc, n, FUZZ_FEED_RANDOM, seed, &fuzz_other);
	FUZZ_CHECK(fuzz_other.r == CHUNK_END && fuzz_other.consumed == n);
	FUZZ_CHECK(fuzz_same(fuzz_other.pay, fuzz_other.len, fuzz_whole.pay,
	    fuzz_whole.len));
}

/* chunk_size_line() writes a line the decoder reads back as n. */
static void
fuzz_check_size_line(const uint8_t *data, size_t size)
{
	char line[FUZZ_SIZE_LINE + 4];
	struct chunk_dec d;
	const char *p;
	uint64_t n = 0;
	size_t i, ll, used, len;

	for (i = 0; i < 8 && i < size; i++)
		n = n << 8 | data[i];
	ll = chunk_size_line(line, n);
	FUZZ_CHECK(ll >= 3 && ll <= 18);
	chunk_init(&d);
	FUZZ_CHECK(chunk_decode(&d, line, ll, &used, &p, &len) == CHUNK_MORE);
	FUZZ_CHECK(used == ll && len == 0);
	FUZZ_CHECK(d.state == (n > 0 ? CHUNK_DATA : CHUNK_TRAILER));
	FUZZ_CHECK(n == 0 || d.remaining == n);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	uint64_t seed = fuzz_hash(data, size);

	if (size > FUZZ_MAX_IN)
		return 0;
	fuzz_check_size_line(data, size);
	fuzz_decode(in, size, FUZZ_FEED_WHOLE, 0, &fuzz_whole);
	if (size <= 1024) {
		fuzz_decode(in, size, FUZZ_FEED_BYTES, 0, &fuzz_other);
		fuzz_same_pass(&fuzz_whole, &fuzz_other);
	}
	fuzz_decode(in, size, FUZZ_FEED_RANDOM, seed, &fuzz_other);
	fuzz_same_pass(&fuzz_whole, &fuzz_other);
	if (fuzz_whole.r != CHUNK_END)
		return 0;
	fuzz_check_rechunk(false, seed);
	fuzz_check_rechunk(true, seed);
	return 0;
}
