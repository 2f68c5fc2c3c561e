/* Tests for http/chunk.c: the strict chunked decoder and the encoder. */
#include "autoconf.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "http/http.h"

#define LIT(s) s, sizeof(s) - 1

struct decoded {
	char data[65536];
	size_t len;
	size_t consumed;	/* input bytes used when the decoder stopped */
	enum chunk_result r;
};

/*
 * Decode in[0..len) handing the decoder at most step bytes per call, the
 * way a socket might deliver them; collect the data runs.
 */
static void
decode(const char *in, size_t len, size_t step, struct decoded *out)
{
	struct chunk_dec d;
	const char *data;
	size_t off = 0, avail = 0, used, n;

	chunk_init(&d);
	memset(out, 0, sizeof(*out));
	out->r = CHUNK_MORE;
	while (out->r == CHUNK_MORE) {
		if (avail == 0) {
			if (off == len)
				break;
			avail = len - off < step ? len - off : step;
		}
		out->r = chunk_decode(&d, in + off, avail, &used, &data, &n);
		assert_true(used <= avail);
		if (n > 0) {
			/* Data runs point into the input: no copy. */
			assert_true(data >= in + off && data + n <= in + off +
			    avail);
			assert_true(out->len + n <= sizeof(out->data));
			memcpy(out->data + out->len, data, n);
			out->len += n;
		}
		off += used;
		avail -= used;
	}
	out->consumed = off;
}

/* Decode whole, byte by byte and in 3-byte steps: all must agree. */
static void
assert_body(const char *in, size_t len, const char *want, size_t wlen,
    size_t end)
{
	static struct decoded out;
	static const size_t steps[] = { 65536, 1, 3 };
	size_t i;

	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		decode(in, len, steps[i], &out);
		if (out.r != CHUNK_END)
			fail_msg("step %zu: result %d", steps[i], out.r);
		assert_int_equal(out.len, wlen);
		assert_memory_equal(out.data, want, wlen);
		assert_int_equal(out.consumed, end);
	}
}

static void
assert_error(const char *name, const char *in, size_t len)
{
	static struct decoded out;
	static const size_t steps[] = { 65536, 1 };
	size_t i;

	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		decode(in, len, steps[i], &out);
		if (out.r != CHUNK_ERR)
			fail_msg("%s (step %zu): result %d", name, steps[i],
			    out.r);
	}
}

static void
test_simple(void **state)
{
	static const char in[] = "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";

	(void)state;
	assert_body(LIT(in), LIT("hello world"), sizeof(in) - 1);
}

static void
test_empty_body(void **state)
{
	(void)state;
	assert_body(LIT("0\r\n\r\n"), "", 0, 5);
}

/* The decoder stops at the end of the body: the next message is not eaten. */
static void
test_stops_at_end(void **state)
{
	static const char in[] = "3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\n";

	(void)state;
	assert_body(LIT(in), LIT("abc"), sizeof("3\r\nabc\r\n0\r\n\r\n") - 1);
}

static void
test_hex_sizes(void **state)
{
	static char in[0x1Fa + 32], want[0x1Fa];
	size_t n;

	(void)state;
	assert_body(LIT("A\r\n0123456789\r\n0\r\n\r\n"), LIT("0123456789"),
	    sizeof("A\r\n0123456789\r\n0\r\n\r\n") - 1);
	assert_body(LIT("a\r\n0123456789\r\n0\r\n\r\n"), LIT("0123456789"),
	    sizeof("a\r\n0123456789\r\n0\r\n\r\n") - 1);
	assert_body(LIT("00000001\r\nx\r\n000\r\n\r\n"), LIT("x"),
	    sizeof("00000001\r\nx\r\n000\r\n\r\n") - 1);
	/* A larger chunk, data delivered in several runs. */
	memset(want, 'z', 0x1Fa);
	n = (size_t)sprintf(in, "1Fa\r\n");
	memcpy(in + n, want, 0x1Fa);
	n += 0x1Fa;
	memcpy(in + n, "\r\n0\r\n\r\n", 7);
	n += 7;
	assert_body(in, n, want, 0x1Fa, n);
}

static void
test_extensions(void **state)
{
	static const char in[] = "5;name=value;q=\"quoted str\"\r\nhello\r\n"
	    "1 ;\t x\r\n!\r\n0;last\r\n\r\n";

	(void)state;
	/* "1 ;" has a space after the size: refused, see test_size_spaces. */
	assert_error("space before ext", LIT(in));
	assert_body(LIT("5;name=value;q=\"quoted str\"\r\nhello\r\n"
	    "1;\t x\r\n!\r\n0;last\r\n\r\n"), LIT("hello!"),
	    sizeof("5;name=value;q=\"quoted str\"\r\nhello\r\n"
	    "1;\t x\r\n!\r\n0;last\r\n\r\n") - 1);
}

static void
test_trailers(void **state)
{
	static const char in[] = "2\r\nok\r\n0\r\nExpires: never\r\n"
	    "Content-Length: 999\r\nX-Tab:\ta\tb\r\nEmpty:\r\n\r\n";

	(void)state;
	/* Trailers are consumed and dropped; a CL among them means nothing. */
	assert_body(LIT(in), LIT("ok"), sizeof(in) - 1);
}

static void
test_size_line_limit(void **state)
{
	static char in[8192];
	size_t n;

	(void)state;
	n = (size_t)sprintf(in, "1;");
	memset(in + n, 'e', 4000);
	n += 4000;
	n += (size_t)sprintf(in + n, "\r\nx\r\n0\r\n\r\n");
	assert_body(in, n, "x", 1, n);
	n = (size_t)sprintf(in, "1;");
	memset(in + n, 'e', 5000);
	n += 5000;
	n += (size_t)sprintf(in + n, "\r\nx\r\n0\r\n\r\n");
	assert_error("long extension", in, n);
}

static void
test_trailer_limit(void **state)
{
	static char in[40000];
	size_t n, i;

	(void)state;
	n = (size_t)sprintf(in, "0\r\n");
	for (i = 0; i < 150; i++)
		n += (size_t)sprintf(in + n, "X-%03zu: %090d\r\n", i, 0);
	n += (size_t)sprintf(in + n, "\r\n");
	assert_body(in, n, "", 0, n);
	n = (size_t)sprintf(in, "0\r\n");
	for (i = 0; i < 300; i++)
		n += (size_t)sprintf(in + n, "X-%03zu: %090d\r\n", i, 0);
	n += (size_t)sprintf(in + n, "\r\n");
	assert_error("trailer section over 16 KiB", in, n);
}

struct bad {
	const char *name;
	const char *s;
	size_t len;
};

#define BAD(n, s) { n, s, sizeof(s) - 1 }

static const struct bad bad_cases[] = {
	BAD("no CRLF after data", "5\r\nhelloX\r\n0\r\n\r\n"),
	BAD("data longer than size", "3\r\nhello\r\n0\r\n\r\n"),
	BAD("LF only after data", "5\r\nhello\n0\r\n\r\n"),
	BAD("CR only after data", "5\r\nhello\r0\r\n\r\n"),
	BAD("LF only after size", "5\nhello\r\n0\r\n\r\n"),
	BAD("bare CR after size", "5\rhello\r\n0\r\n\r\n"),
	BAD("LF-only last chunk", "0\n\n"),
	BAD("LF-only end of trailers", "0\r\n\n"),
	BAD("0x prefix", "0x10\r\n0123456789abcdef\r\n0\r\n\r\n"),
	BAD("leading space", " 5\r\nhello\r\n0\r\n\r\n"),
	BAD("trailing space", "5 \r\nhello\r\n0\r\n\r\n"),
	BAD("leading tab", "\t5\r\nhello\r\n0\r\n\r\n"),
	BAD("sign", "+5\r\nhello\r\n0\r\n\r\n"),
	BAD("negative", "-5\r\nhello\r\n0\r\n\r\n"),
	BAD("empty size", "\r\nhello\r\n0\r\n\r\n"),
	BAD("ext without size", ";a\r\nhello\r\n0\r\n\r\n"),
	BAD("non-hex", "g\r\nhello\r\n0\r\n\r\n"),
	BAD("17 digits", "00000000000000005\r\nhello\r\n0\r\n\r\n"),
	BAD("overflow", "10000000000000000\r\nx\r\n"),
	BAD("CR in extension", "5;a\rb\r\nhello\r\n0\r\n\r\n"),
	BAD("LF in extension", "5;a\nb\r\nhello\r\n0\r\n\r\n"),
	BAD("NUL in extension", "5;a\0b\r\nhello\r\n0\r\n\r\n"),
	BAD("DEL in extension", "5;a\x7f\r\nhello\r\n0\r\n\r\n"),
	BAD("high byte in extension", "5;\xe9\r\nhello\r\n0\r\n\r\n"),
	BAD("bare CR in trailer", "0\r\nX: a\rb: c\r\n\r\n"),
	BAD("bare LF in trailer", "0\r\nX: a\nb: c\r\n\r\n"),
	BAD("NUL in trailer", "0\r\nX: a\0\r\n\r\n"),
	BAD("trailer without colon", "0\r\nX\r\n\r\n"),
	BAD("trailer empty name", "0\r\n: a\r\n\r\n"),
	BAD("trailer space before colon", "0\r\nX : a\r\n\r\n"),
	BAD("trailer obs-fold", "0\r\nX: a\r\n b\r\n\r\n"),
	BAD("trailer non-token name", "0\r\nX(y): a\r\n\r\n"),
	BAD("end CR + byte", "0\r\n\rX"),
	/* One wrong byte where CR or LF belongs, the rest well-formed. */
	BAD("byte for CR after data", "5\r\nhelloX\n0\r\n\r\n"),
	BAD("byte for LF after size", "5\rXhello\r\n0\r\n\r\n"),
	BAD("byte for LF in trailer", "0\r\nX: a\rYY: b\r\n\r\n"),
	BAD("empty size line", "\r\n\r\n"),
	BAD("empty size with ext", ";x\r\n\r\n"),
};

static void
test_bad(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++)
		assert_error(bad_cases[i].name, bad_cases[i].s,
		    bad_cases[i].len);
}

/* The largest size fits 16 digits; it then waits for data, no error. */
static void
test_max_size(void **state)
{
	struct chunk_dec d;
	const char *data;
	size_t used, n;

	(void)state;
	chunk_init(&d);
	assert_int_equal(chunk_decode(&d, LIT("ffffffffffffffff\r\nab"), &used,
	    &data, &n), CHUNK_MORE);
	assert_int_equal(used, 20);
	assert_int_equal(n, 2);
	assert_memory_equal(data, "ab", 2);
	assert_true(d.remaining == UINT64_MAX - 2);
}

/* Incomplete input is not an error, and END is sticky. */
static void
test_partial(void **state)
{
	struct chunk_dec d;
	const char *data;
	size_t used, n;

	(void)state;
	chunk_init(&d);
	assert_int_equal(chunk_decode(&d, LIT("5\r"), &used, &data, &n),
	    CHUNK_MORE);
	assert_int_equal(used, 2);
	assert_int_equal(n, 0);
	assert_int_equal(chunk_decode(&d, LIT("\nhel"), &used, &data, &n),
	    CHUNK_MORE);
	assert_int_equal(n, 3);
	assert_int_equal(chunk_decode(&d, LIT("lo\r\n0\r\n\r\nrest"), &used,
	    &data, &n), CHUNK_MORE);
	assert_int_equal(n, 2);
	assert_int_equal(used, 2);
	assert_int_equal(chunk_decode(&d, LIT("\r\n0\r\n\r\nrest"), &used,
	    &data, &n), CHUNK_END);
	assert_int_equal(used, 7);
	assert_int_equal(chunk_decode(&d, LIT("rest"), &used, &data, &n),
	    CHUNK_END);
	assert_int_equal(used, 0);
}

static void
test_size_line(void **state)
{
	char out[20];
	size_t n;

	(void)state;
	n = chunk_size_line(out, 0);
	assert_int_equal(n, 3);
	assert_memory_equal(out, "0\r\n", 3);
	n = chunk_size_line(out, 255);
	assert_int_equal(n, 4);
	assert_memory_equal(out, "ff\r\n", 4);
	n = chunk_size_line(out, 0x1000);
	assert_memory_equal(out, "1000\r\n", 6);
	n = chunk_size_line(out, 0xABCDEF);
	assert_memory_equal(out, "abcdef\r\n", n);
	n = chunk_size_line(out, UINT64_MAX);
	assert_int_equal(n, 18);
	assert_memory_equal(out, "ffffffffffffffff\r\n", 18);
}

/* What the encoder writes, the decoder reads back. */
static void
test_round_trip(void **state)
{
	static char in[8192];
	static const size_t sizes[] = { 1, 15, 16, 255, 256, 4000 };
	size_t i, n = 0, total = 0;
	static char want[8192];

	(void)state;
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		n += chunk_size_line(in + n, sizes[i]);
		memset(in + n, 'a' + (int)i, sizes[i]);
		memset(want + total, 'a' + (int)i, sizes[i]);
		n += sizes[i];
		total += sizes[i];
		memcpy(in + n, "\r\n", 2);
		n += 2;
	}
	n += chunk_size_line(in + n, 0);
	memcpy(in + n, "\r\n", 2);
	n += 2;
	assert_body(in, n, want, total, n);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simple),
		cmocka_unit_test(test_empty_body),
		cmocka_unit_test(test_stops_at_end),
		cmocka_unit_test(test_hex_sizes),
		cmocka_unit_test(test_extensions),
		cmocka_unit_test(test_trailers),
		cmocka_unit_test(test_size_line_limit),
		cmocka_unit_test(test_trailer_limit),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_max_size),
		cmocka_unit_test(test_partial),
		cmocka_unit_test(test_size_line),
		cmocka_unit_test(test_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
