/*
 * Tests for worker/alogfmt.c and worker/reqid.c: escaping of every byte in
 * both formats, timestamps, whole lines byte for byte, and request ids.
 */
#include "autoconf.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "worker/alog.h"

static char out[ALOG_LINE_MAX + 64];

/* What one byte must become: the escaping rules, written out again. */
static const char *
want_byte(unsigned char b, bool json)
{
	static char w[8];

	if (json && (b == '"' || b == '\\'))
		snprintf(w, sizeof(w), "\\%c", b);
	else if (b < 0x20 || b >= 0x7f || b == '"' || b == '\\')
		snprintf(w, sizeof(w), json ? "\\u00%02X" : "\\x%02X", b);
	else
		snprintf(w, sizeof(w), "%c", b);
	return w;
}

static size_t
esc(bool json, char *o, size_t cap, const char *s, size_t len, size_t *used)
{
	return json ? alogfmt_json_esc(o, cap, s, len, used) :
	    alogfmt_clf_esc(o, cap, s, len, used);
}

/* Each of the 256 byte values alone, then all of them in one string. */
static void
check_all_bytes(bool json)
{
	char all[256], want[256 * 6 + 1] = "", c;
	size_t n, used, wl = 0;

	for (int b = 0; b < 256; b++) {
		c = (char)b;
		n = esc(json, out, sizeof(out), &c, 1, &used);
		assert_int_equal(used, 1);
		if (n != strlen(want_byte((unsigned char)b, json)) ||
		    memcmp(out, want_byte((unsigned char)b, json), n) != 0)
			fail_msg("byte 0x%02x: got '%.*s', want '%s'", b,
			    (int)n, out, want_byte((unsigned char)b, json));
		all[b] = c;
		wl += (size_t)snprintf(want + wl, sizeof(want) - wl, "%s",
		    want_byte((unsigned char)b, json));
	}
	n = esc(json, out, sizeof(out), all, sizeof(all), &used);
	assert_int_equal(used, sizeof(all));
	assert_int_equal(n, wl);
	assert_memory_equal(out, want, n);
	/* Nothing left that could end a line or a quoted field. */
	for (size_t i = 0; i < n; i++) {
		assert_true(out[i] >= 0x20 && out[i] < 0x7f);
		if (out[i] == '"')
			assert_true(json && i > 0 && out[i - 1] == '\\' &&
			    (i < 2 || out[i - 2] != '\\'));
	}
}

static void
test_json_escape_all_bytes(void **state)
{
	(void)state;
	check_all_bytes(true);
}

static void
test_clf_escape_all_bytes(void **state)
{
	(void)state;
	check_all_bytes(false);
	/* Combined never has a raw quote or backslash at all. */
	assert_int_equal(alogfmt_clf_esc(out, sizeof(out), "a\"b\\", 4, NULL),
	    10);
	assert_memory_equal(out, "a\\x22b\\x5C", 10);
}

/*
 * Every byte value in every lane of the word-at-a-time scan (and in the
 * byte-by-byte tail), among safe bytes: escaped there and only there.
 */
static void
test_escape_lanes(void **state)
{
	char s[19], want[64];
	size_t n, wl;

	(void)state;
	for (int json = 0; json < 2; json++) {
		for (int b = 0; b < 256; b++) {
			for (size_t pos = 0; pos < sizeof(s); pos++) {
				memset(s, 'a', sizeof(s));
				s[pos] = (char)b;
				wl = (size_t)snprintf(want, sizeof(want),
				    "%.*s%s%.*s", (int)pos, s,
				    want_byte((unsigned char)b, json),
				    (int)(sizeof(s) - pos - 1), s + pos + 1);
				n = esc(json, out, sizeof(out), s, sizeof(s),
				    NULL);
				if (n != wl || memcmp(out, want, n) != 0)
					fail_msg("byte 0x%02x at %zu: got "
					    "'%.*s'", b, pos, (int)n, out);
			}
		}
	}
}

/*
 * A short buffer takes a prefix that ends on an escape's edge: what was
 * written is exactly the escaping of the input bytes it says it used.
 */
static void
test_escape_cap(void **state)
{
	const char s[] = "ab\"\x01\xff\\cd\n";
	char full[128], part[128];
	size_t fn, n, used;

	(void)state;
	for (int json = 0; json < 2; json++) {
		fn = esc(json, full, sizeof(full), s, sizeof(s) - 1, &used);
		for (size_t cap = 0; cap <= fn; cap++) {
			n = esc(json, part, cap, s, sizeof(s) - 1, &used);
			assert_true(n <= cap);
			assert_int_equal(esc(json, out, sizeof(out), s, used,
			    NULL), n);
			assert_memory_equal(out, part, n);
			assert_memory_equal(part, full, n);
			if (cap == fn)
				assert_int_equal(used, sizeof(s) - 1);
			else
				assert_true(used < sizeof(s) - 1);
		}
	}
}

static void
test_times(void **state)
{
	static const struct {
		int64_t ms;
		const char *rfc, *clf;
	} v[] = {
		{ 0, "1970-01-01T00:00:00.000Z", "01/Jan/1970:00:00:00 +0000" },
		{ 951782400000, "2000-02-29T00:00:00.000Z",
		    "29/Feb/2000:00:00:00 +0000" },
		{ 1764669722123, "2025-12-02T10:02:02.123Z",
		    "02/Dec/2025:10:02:02 +0000" },
		{ 1764669722007, "2025-12-02T10:02:02.007Z",
		    "02/Dec/2025:10:02:02 +0000" },
		{ 4102444799999, "2099-12-31T23:59:59.999Z",
		    "31/Dec/2099:23:59:59 +0000" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		assert_int_equal(alogfmt_rfc3339(out, v[i].ms), 24);
		assert_memory_equal(out, v[i].rfc, 24);
		assert_int_equal(alogfmt_clf_time(out, v[i].ms), 26);
		assert_memory_equal(out, v[i].clf, 26);
	}
}

#define STR(s)	((struct alog_str){ (s), sizeof(s) - 1, false, false })

/* A proxied request with every field set. */
static struct alog_line
full_line(void)
{
	return (struct alog_line){
		.time_ms = 1764669722123, .client = "203.0.113.5",
		.peer = "10.0.0.2:41000", .method = STR("GET"),
		.target = STR("/a?b=1"), .proto = STR("HTTP/1.1"),
		.referer = STR("http://r/"), .user_agent = STR("curl/8"),
		.id = STR("5f0c6a4e-1b2d-4c3e-8f40-0123456789ab"),
		.status = 200, .bytes_in = 78, .bytes_out = 312,
		.duration_us = 1234, .connect_us = 101, .header_us = 900,
		.upstream = "127.0.0.1:9001", .retries = 1,
		.frontend = "web", .backend = "app", .cut = ALOG_CUT_NONE,
	};
}

static void
assert_line(const struct alog_line *l, bool combined, const char *want)
{
	size_t n = alogfmt_line(out, sizeof(out), l, combined);

	if (n != strlen(want) || memcmp(out, want, n) != 0)
		fail_msg("got:\n%.*s\nwant:\n%s", (int)n, out, want);
}

static void
test_line_json(void **state)
{
	struct alog_line l = full_line();

	(void)state;
	assert_line(&l, false, "{\"time\":\"2025-12-02T10:02:02.123Z\","
	    "\"client\":\"203.0.113.5\",\"peer\":\"10.0.0.2:41000\","
	    "\"method\":\"GET\",\"target\":\"/a?b=1\",\"proto\":\"HTTP/1.1\","
	    "\"status\":200,\"bytes_in\":78,\"bytes_out\":312,"
	    "\"duration_ms\":1.234,\"upstream\":\"127.0.0.1:9001\","
	    "\"connect_ms\":0.101,\"header_ms\":0.900,\"retries\":1,"
	    "\"request_id\":\"5f0c6a4e-1b2d-4c3e-8f40-0123456789ab\","
	    "\"frontend\":\"web\",\"backend\":\"app\",\"cut\":null,"
	    "\"referer\":\"http://r/\",\"user_agent\":\"curl/8\"}\n");

	/* Only strings the client sent are escaped, not weir's own. */
	l.id = STR("a\"b");
	l.proto = STR("HTTP/1.1");
	l.proto.raw = true;
	assert_true(alogfmt_line(out, sizeof(out), &l, false) > 0);
	assert_non_null(strstr(out, ",\"proto\":\"HTTP/1.1\","));
	assert_non_null(strstr(out, ",\"request_id\":\"a\\\"b\","));

	/* weir's own 400 for a hostile request line, nothing upstream. */
	l = full_line();
	l.target = STR("/a%0a\"\x01\n{\"x\":1}");
	l.proto = (struct alog_str){ NULL, 0, false, false };
	l.referer = l.user_agent = l.id = l.proto;
	l.status = 400;
	l.upstream = NULL;
	l.connect_us = l.header_us = -1;
	l.retries = 0;
	l.duration_us = 12000345;
	l.cut = ALOG_CUT_CLIENT;
	l.method.cut = true;
	assert_line(&l, false, "{\"time\":\"2025-12-02T10:02:02.123Z\","
	    "\"client\":\"203.0.113.5\",\"peer\":\"10.0.0.2:41000\","
	    "\"method\":\"GET...\","
	    "\"target\":\"/a%0a\\\"\\u0001\\u000A{\\\"x\\\":1}\","
	    "\"proto\":null,\"status\":400,\"bytes_in\":78,\"bytes_out\":312,"
	    "\"duration_ms\":12000.345,\"upstream\":null,"
	    "\"connect_ms\":null,\"header_ms\":null,\"retries\":0,"
	    "\"request_id\":null,\"frontend\":\"web\",\"backend\":\"app\","
	    "\"cut\":\"client\",\"referer\":null,\"user_agent\":null}\n");
}

static void
test_line_combined(void **state)
{
	struct alog_line l = full_line();

	(void)state;
	assert_line(&l, true, "203.0.113.5 - - [02/Dec/2025:10:02:02 +0000] "
	    "\"GET /a?b=1 HTTP/1.1\" 200 312 \"http://r/\" \"curl/8\" "
	    "rid=\"5f0c6a4e-1b2d-4c3e-8f40-0123456789ab\" in=78 dur=1.234 "
	    "up=127.0.0.1:9001 connect=0.101 header=0.900 retries=1 fe=web "
	    "be=app cut=- peer=10.0.0.2:41000\n");

	l.method = STR("G\"T");
	l.target = (struct alog_str){ NULL, 0, false, false };
	l.proto = l.referer = l.id = l.target;
	l.user_agent = STR("a\\b\x7f");
	l.user_agent.cut = true;
	l.status = 0;
	l.upstream = NULL;
	l.connect_us = l.header_us = -1;
	l.cut = ALOG_CUT_STOP;
	assert_line(&l, true, "203.0.113.5 - - [02/Dec/2025:10:02:02 +0000] "
	    "\"G\\x22T\" 0 312 \"-\" \"a\\x5Cb\\x7F...\" rid=- in=78 "
	    "dur=1.234 up=- connect=- header=- retries=1 fe=web be=app "
	    "cut=stop peer=10.0.0.2:41000\n");

	/* No request line at all. */
	l.method = l.target;
	assert_line(&l, true, "203.0.113.5 - - [02/Dec/2025:10:02:02 +0000] "
	    "\"-\" 0 312 \"-\" \"a\\x5Cb\\x7F...\" rid=- in=78 "
	    "dur=1.234 up=- connect=- header=- retries=1 fe=web be=app "
	    "cut=stop peer=10.0.0.2:41000\n");
}

/* Every string at its cap, every byte a control: still one line that fits. */
static void
test_line_longest(void **state)
{
	static char junk[ALOG_TARGET_MAX];
	struct alog_line l = full_line();
	size_t n, nl;

	(void)state;
	memset(junk, 0x01, sizeof(junk));
	l.method = (struct alog_str){ junk, ALOG_METHOD_MAX, true, false };
	l.target = (struct alog_str){ junk, ALOG_TARGET_MAX, true, false };
	l.proto = (struct alog_str){ junk, ALOG_PROTO_MAX, true, false };
	l.referer = (struct alog_str){ junk, ALOG_HDR_MAX, true, false };
	l.user_agent = (struct alog_str){ junk, ALOG_HDR_MAX, true, false };
	l.id = (struct alog_str){ junk, ALOG_ID_MAX, true, false };
	l.client = l.peer = "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255";
	l.upstream = "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535";
	l.frontend = l.backend =
	    "a23456789012345678901234567890123456789012345678901234567890123";
	l.bytes_in = l.bytes_out = UINT64_MAX;
	l.duration_us = l.connect_us = l.header_us = INT64_MAX;
	l.retries = UINT32_MAX;
	l.status = 999;
	for (int combined = 0; combined < 2; combined++) {
		n = alogfmt_line(out, ALOG_LINE_MAX, &l, combined);
		assert_true(n > 0 && n <= ALOG_LINE_MAX);
		nl = 0;
		for (size_t i = 0; i < n; i++)
			nl += out[i] == '\n';
		assert_int_equal(nl, 1);
		assert_int_equal(out[n - 1], '\n');
		/* One byte short: nothing, never a partial line. */
		assert_int_equal(alogfmt_line(out, n - 1, &l, combined), 0);
	}
}

static void
test_uuid_format(void **state)
{
	char id[REQID_LEN + 1] = "";

	(void)state;
	reqid_format(id, 0, 0);
	assert_string_equal(id, "00000000-0000-4000-8000-000000000000");
	reqid_format(id, UINT64_MAX, UINT64_MAX);
	assert_string_equal(id, "ffffffff-ffff-4fff-bfff-ffffffffffff");
	reqid_format(id, 0x0123456789abcdefull, 0xfedcba9876543210ull);
	assert_string_equal(id, "01234567-89ab-4def-bedc-ba9876543210");
}

/* xoshiro256** as published: the first outputs for the state {1,2,3,4}. */
static void
test_generator(void **state)
{
	static const uint64_t seed[4] = { 1, 2, 3, 4 }, zero[4] = { 0 };
	static const uint64_t want[] = { 0x2d00, 0, 0x5a007080,
	    0x10e0000000009d80ull, 0x10e0b61ce1009d80ull,
	    0x870021ce143ad00ull };
	struct reqid g;

	(void)state;
	reqid_seed(&g, seed);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_int_equal(reqid_next64(&g), want[i]);
	/* An all-zero seed would give zeros forever. */
	reqid_seed(&g, zero);
	assert_true(reqid_next64(&g) != 0 || reqid_next64(&g) != 0);
}

static int
cmp_id(const void *a, const void *b)
{
	return memcmp(a, b, REQID_LEN);
}

/* Ids from the kernel-seeded generator: well-formed and all different. */
static void
test_ids(void **state)
{
	enum { N = 20000 };
	char (*ids)[REQID_LEN] = calloc(N, REQID_LEN);
	struct reqid g, h;
	const char *p;

	(void)state;
	assert_non_null(ids);
	assert_int_equal(reqid_init(&g), 0);
	assert_int_equal(reqid_init(&h), 0);
	/* Two workers seed apart. */
	assert_true(memcmp(g.s, h.s, sizeof(g.s)) != 0);
	for (int i = 0; i < N; i++) {
		reqid_next(&g, ids[i]);
		p = ids[i];
		for (int k = 0; k < REQID_LEN; k++) {
			if (k == 8 || k == 13 || k == 18 || k == 23)
				assert_int_equal(p[k], '-');
			else
				assert_non_null(strchr("0123456789abcdef",
				    p[k]));
		}
		assert_int_equal(p[14], '4');
		assert_non_null(strchr("89ab", p[19]));
	}
	qsort(ids, N, REQID_LEN, cmp_id);
	for (int i = 1; i < N; i++)
		assert_true(memcmp(ids[i - 1], ids[i], REQID_LEN) != 0);
	free(ids);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_escape_all_bytes),
		cmocka_unit_test(test_clf_escape_all_bytes),
		cmocka_unit_test(test_escape_lanes),
		cmocka_unit_test(test_escape_cap),
		cmocka_unit_test(test_times),
		cmocka_unit_test(test_line_json),
		cmocka_unit_test(test_line_combined),
		cmocka_unit_test(test_line_longest),
		cmocka_unit_test(test_uuid_format),
		cmocka_unit_test(test_generator),
		cmocka_unit_test(test_ids),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
