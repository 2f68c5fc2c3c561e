/* Unit tests for balancer/hash.c: spread, stability, bounded loads, keys. */
#include "autoconf.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "balancer/balancer.h"
#include "common/config.h"
#include "shm/shm.h"
#include "test/unit/balfix.h"
#include "http/http.h"

#define CFG_HEAD "[frontend web]\nlisten = 127.0.0.1:8080\nbackend = app\n" \
	"[backend app]\nbalance = hash\n"

#define NKEYS	100000

/*
 * The stated spread bound: a member with P ring points carries a share
 * whose standard deviation is about 1/sqrt(P) of its mean; 4 of those is
 * the bound, 25% for the 256 points of an equal-weight member. Key
 * sampling (100k keys, at most 50 servers) adds under 2.3% sd on top.
 */
#define SPREAD_SDS	4.0

static void
fx_open(struct balfix *f, const char *opts, const char *servers)
{
	balfix_open(f, CFG_HEAD, opts, servers, 0xda942042e4dd58b5ULL);
	f->req.msg = &f->msg;
}

/* "server = ..." lines for ports base.. with weights w (NULL: all 1). */
static char *
servers_text(uint32_t n, const uint32_t *w, uint32_t skip)
{
	size_t cap = 64 * (size_t)n + 1, off = 0;
	char *s = malloc(cap);

	if (s == NULL)
		fail_msg("malloc");
	s[0] = '\0';
	for (uint32_t i = 0; i < n; i++)
		if (i != skip)
			off += (size_t)snprintf(s + off, cap - off,
			    "server = 127.0.0.1:%u weight=%u\n", 9001 + i,
			    w != NULL ? w[i] : 1);
	return s;
}

static void
fx_open_n(struct balfix *f, const char *opts, uint32_t n, const uint32_t *w,
    uint32_t skip)
{
	char *text = servers_text(n, w, skip);

	fx_open(f, opts, text);
	free(text);
}

/* Key k of the test's key set: 8 bytes of a fixed pseudo-random stream. */
static void
key_uri(struct balfix *f, uint32_t k, char *buf)
{
	uint64_t s = 0x9e3779b97f4a7c15ULL * (k + 1);

	s = bal_random(&s);
	memcpy(buf, &s, sizeof(s));
	f->req.uri = buf;
	f->req.uri_len = sizeof(s);
}

/* The member key k goes to, as the server's identity (port). */
static int
key_pick(struct balfix *f, uint32_t k)
{
	char buf[24];
	int m;

	key_uri(f, k, buf);
	m = balancer_pick(f->shm, f->pool, &f->req);
	assert_true(m >= -1 && m < (int)f->pool->n);
	return m;
}

static uint32_t
port_of(struct balfix *f, int m)
{
	const struct sockaddr_in *sin =
	    (const void *)&f->cfg->backends[0].servers[m].addr;

	return ntohs(sin->sin_port);
}

static void
check_spread(struct balfix *f, uint32_t n, const uint32_t *w)
{
	int counts[64] = { 0 };
	double wsum = 0;
	uint32_t wmax = 1;

	for (uint32_t k = 0; k < NKEYS; k++)
		counts[key_pick(f, k)]++;
	for (uint32_t i = 0; i < n; i++) {
		wsum += w != NULL ? w[i] : 1;
		if (w != NULL && w[i] > wmax)
			wmax = w[i];
	}
	for (uint32_t i = 0; i < n; i++) {
		double wi = w != NULL ? w[i] : 1;
		double mean = NKEYS * wi / wsum;
		double points = round(256.0 * wi / wmax);
		double bound = SPREAD_SDS / sqrt(points);

		if (fabs(counts[i] - mean) > bound * mean)
			fail_msg("n=%u member %u: %d keys, mean %.0f, bound "
			    "%.0f%%", n, i, counts[i], mean, bound * 100);
	}
}

/* 3..12, 15, 20 .. 50 equal servers: every share within 25% of the mean. */
static void
test_spread_equal(void **state)
{
	(void)state;
	for (uint32_t n = 3; n <= 50; n += n < 12 ? 1 : 5 - n % 5) {
		struct balfix f;

		fx_open_n(&f, "hash_key = uri\n", n, NULL, UINT32_MAX);
		check_spread(&f, n, NULL);
		balfix_close(&f);
	}
}

/* Weights: points by weight, shares by weight, within 4 sd each. */
static void
test_spread_weighted(void **state)
{
	static const uint32_t w[8] = { 1, 2, 4, 4, 3, 4, 2, 4 };
	struct balfix f;

	(void)state;
	fx_open_n(&f, "hash_key = uri\n", 8, w, UINT32_MAX);
	check_spread(&f, 8, w);
	balfix_close(&f);
}

/*
 * Removing one of N servers moves only the keys it had (at most 1/N + 2%
 * of them); every key of the other servers stays where it was.
 */
static void
test_removal_moves_only_its_keys(void **state)
{
	static const uint32_t sizes[] = { 10, 20 };
	static int before[NKEYS];

	(void)state;
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		uint32_t n = sizes[s];
		struct balfix all;

		fx_open_n(&all, "hash_key = uri\n", n, NULL, UINT32_MAX);
		for (uint32_t k = 0; k < NKEYS; k++)
			before[k] = (int)port_of(&all, key_pick(&all, k));
		for (uint32_t gone = 0; gone < n; gone += n / 5) {
			struct balfix less;
			uint32_t moved = 0, port = 9001 + gone;

			fx_open_n(&less, "hash_key = uri\n", n, NULL, gone);
			for (uint32_t k = 0; k < NKEYS; k++) {
				int now = (int)port_of(&less,
				    key_pick(&less, k));

				if (before[k] == (int)port) {
					moved++;
					continue;
				}
				assert_int_equal(now, before[k]);
			}
			assert_true(moved <= NKEYS / n + NKEYS / 50);
			balfix_close(&less);
		}
		balfix_close(&all);
	}
}

/* A server marked down loses its keys, spread over the others; only them. */
static void
test_down_moves_only_its_keys(void **state)
{
	static int before[NKEYS];
	struct balfix f;
	bool took[20] = { false };
	int heirs = 0;

	(void)state;
	fx_open_n(&f, "hash_key = uri\n", 20, NULL, UINT32_MAX);
	for (uint32_t k = 0; k < NKEYS; k++)
		before[k] = key_pick(&f, k);
	atomic_store(&balfix_server(&f, 5)->health, SHM_HEALTH_DOWN);
	for (uint32_t k = 0; k < NKEYS; k++) {
		int now = key_pick(&f, k);

		assert_int_not_equal(now, 5);
		if (before[k] == 5)
			took[now] = true;
		else
			assert_int_equal(now, before[k]);
	}
	for (int i = 0; i < 20; i++)
		heirs += took[i];
	assert_true(heirs >= 10);
	/* Back up: every key returns. */
	atomic_store(&balfix_server(&f, 5)->health, SHM_HEALTH_UP);
	for (uint32_t k = 0; k < NKEYS; k += 7)
		assert_int_equal(key_pick(&f, k), before[k]);
	balfix_close(&f);
}

/* The ring depends on identities only: config order does not matter. */
static void
test_stable_across_builds(void **state)
{
	struct balfix a, b;

	(void)state;
	fx_open(&a, "hash_key = uri\n", "server = 10.0.0.1:80\n"
	    "server = 10.0.0.2:80 weight=3\nserver = 10.0.0.3:80\n"
	    "server = [2001:db8::1]:80\n");
	fx_open(&b, "hash_key = uri\n", "server = [2001:db8::1]:80\n"
	    "server = 10.0.0.3:80\nserver = 10.0.0.2:80 weight=3\n"
	    "server = 10.0.0.1:80\n");
	assert_int_equal(a.pool->nring, b.pool->nring);
	for (uint32_t i = 0; i < a.pool->nring; i++) {
		assert_int_equal(a.pool->ring[i].hash, b.pool->ring[i].hash);
		assert_string_equal(a.cfg->backends[0].servers[
		    a.pool->ring[i].member].id, b.cfg->backends[0].servers[
		    b.pool->ring[i].member].id);
	}
	for (uint32_t k = 0; k < 10000; k++)
		assert_string_equal(a.cfg->backends[0].servers[
		    key_pick(&a, k)].id, b.cfg->backends[0].servers[
		    key_pick(&b, k)].id);
	balfix_close(&a);
	balfix_close(&b);
}

/* Take away one request from a random busy member. */
static void
finish_one(struct balfix *f, uint32_t n)
{
	for (uint32_t tries = 0; tries < 4 * n; tries++) {
		int m = (int)(bal_random(&f->rng) % n);

		if (atomic_load(&balfix_server(f, m)->inflight) > 0) {
			atomic_fetch_sub(&balfix_server(f, m)->inflight, 1);
			return;
		}
	}
}

/*
 * Bounded loads at 1.25: with a handful of hot keys, no member ever holds
 * more than ceil(1.25 * (total + 1) / n) once its pick is counted.
 */
static void
test_bounded_loads(void **state)
{
	struct balfix f;
	const uint32_t n = 10;

	(void)state;
	fx_open_n(&f, "hash_key = uri\nhash_bounded = 1.25\n", n, NULL,
	    UINT32_MAX);
	for (uint32_t i = 0; i < 20000; i++) {
		uint64_t total = 0, cap;
		uint32_t load;
		int m;

		for (uint32_t s = 0; s < n; s++)
			total += atomic_load(&balfix_server(&f, (int)s)->inflight);
		cap = ((total + 1) * 125 + 100 * n - 1) / (100 * n);
		/* Four hot keys, a few cold ones. */
		m = key_pick(&f, i % 5 == 0 ? i : i % 4);
		assert_true(m >= 0);
		load = atomic_fetch_add(&balfix_server(&f, m)->inflight, 1) + 1;
		if (load > cap)
			fail_msg("pick %u: member %d at %u > cap %llu", i, m,
			    load, (unsigned long long)cap);
		/* Let the total breathe: mostly grow, sometimes drain. */
		if (bal_random(&f.rng) % 3 == 0)
			finish_one(&f, n);
	}
	balfix_close(&f);
}

/* Unbounded, one hot key sticks to one member whatever its load. */
static void
test_unbounded_sticks(void **state)
{
	struct balfix f;
	int first;

	(void)state;
	fx_open_n(&f, "hash_key = uri\n", 10, NULL, UINT32_MAX);
	first = key_pick(&f, 42);
	for (int i = 0; i < 1000; i++) {
		assert_int_equal(key_pick(&f, 42), first);
		atomic_fetch_add(&balfix_server(&f, first)->inflight, 1);
	}
	balfix_close(&f);
}

/* With weights, each member's cap is its weight's share of the bound. */
static void
test_bounded_weighted(void **state)
{
	static const uint32_t w[4] = { 1, 3, 2, 2 };
	struct balfix f;

	(void)state;
	fx_open_n(&f, "hash_key = uri\nhash_bounded = 1.5\n", 4, w, UINT32_MAX);
	for (uint32_t i = 0; i < 4000; i++) {
		uint64_t total = 0, slots, cap;
		uint32_t load;
		int m;

		for (int s = 0; s < 4; s++)
			total += atomic_load(&balfix_server(&f, s)->inflight);
		slots = ((total + 1) * 150 + 99) / 100;
		m = key_pick(&f, 7);
		cap = (w[m] * slots + 8 - 1) / 8;
		load = atomic_fetch_add(&balfix_server(&f, m)->inflight, 1) + 1;
		assert_true(load <= cap);
	}
	balfix_close(&f);
}

/* ---- keys ---- */

static void
add_header(struct http_msg *msg, const char *name, const char *value)
{
	struct http_header *h = &msg->headers[msg->nheaders++];

	h->name.p = name;
	h->name.len = strlen(name);
	h->value.p = value;
	h->value.len = strlen(value);
}

/* The hash of bytes as bal_hash_key computes it, through a uri pool. */
static uint32_t
hash_of(const char *bytes)
{
	struct balfix f;
	uint32_t h = 0;

	fx_open(&f, "hash_key = uri\n", "server = 127.0.0.1:9001\n");
	f.req.uri = bytes;
	f.req.uri_len = strlen(bytes);
	assert_true(bal_hash_key(f.pool, &f.req, &h));
	balfix_close(&f);
	return h;
}

static bool
key_of(struct balfix *f, uint32_t *h)
{
	return bal_hash_key(f->pool, &f->req, h);
}

static void
test_key_ip(void **state)
{
	struct balfix f;
	struct sockaddr_in a = { 0 }, b = { 0 };
	struct sockaddr_in6 c = { 0 }, d = { 0 }, mapped = { 0 };
	uint32_t ha, hb, hc, hd, hm;

	(void)state;
	fx_open(&f, "hash_key = ip\n", "server = 127.0.0.1:9001\n");
	a.sin_family = b.sin_family = AF_INET;
	inet_pton(AF_INET, "192.0.2.7", &a.sin_addr);
	b.sin_addr = a.sin_addr;
	a.sin_port = htons(40000);
	b.sin_port = htons(40001);
	f.req.client = (struct sockaddr *)&a;
	assert_true(key_of(&f, &ha));
	f.req.client = (struct sockaddr *)&b;
	assert_true(key_of(&f, &hb));
	assert_int_equal(ha, hb);
	inet_pton(AF_INET, "192.0.2.8", &b.sin_addr);
	assert_true(key_of(&f, &hb));
	assert_int_not_equal(ha, hb);

	c.sin6_family = d.sin6_family = mapped.sin6_family = AF_INET6;
	inet_pton(AF_INET6, "2001:db8::7", &c.sin6_addr);
	d.sin6_addr = c.sin6_addr;
	c.sin6_port = htons(1);
	d.sin6_port = htons(2);
	f.req.client = (struct sockaddr *)&c;
	assert_true(key_of(&f, &hc));
	f.req.client = (struct sockaddr *)&d;
	assert_true(key_of(&f, &hd));
	assert_int_equal(hc, hd);
	assert_int_not_equal(hc, ha);
	inet_pton(AF_INET6, "2001:db8::8", &d.sin6_addr);
	assert_true(key_of(&f, &hd));
	assert_int_not_equal(hc, hd);
	/* A v4 client seen through a dual-stack socket is the same client. */
	inet_pton(AF_INET6, "::ffff:192.0.2.7", &mapped.sin6_addr);
	f.req.client = (struct sockaddr *)&mapped;
	assert_true(key_of(&f, &hm));
	assert_int_equal(hm, ha);
	/* No address: no key (round robin takes over). */
	f.req.client = NULL;
	assert_false(key_of(&f, &hm));
	balfix_close(&f);
}

static void
test_key_uri(void **state)
{
	struct balfix f;
	uint32_t h1, h2;

	(void)state;
	fx_open(&f, "hash_key = uri\n", "server = 127.0.0.1:9001\n");
	f.req.uri = "/a?x=1";
	f.req.uri_len = 6;
	assert_true(key_of(&f, &h1));
	f.req.uri = "/a?x=2";
	assert_true(key_of(&f, &h2));
	assert_int_not_equal(h1, h2);
	/* Only uri_len bytes count. */
	f.req.uri = "/a?x=1 and more";
	assert_true(key_of(&f, &h2));
	assert_int_equal(h1, h2);
	f.req.uri = NULL;
	assert_false(key_of(&f, &h2));
	balfix_close(&f);
}

static void
test_key_header(void **state)
{
	struct balfix f;
	uint32_t h;

	(void)state;
	fx_open(&f, "hash_key = header:X-User\n", "server = 127.0.0.1:9001\n");
	add_header(&f.msg, "Host", "example.com");
	add_header(&f.msg, "x-user-id", "nope");
	assert_false(key_of(&f, &h));
	add_header(&f.msg, "x-USER", "alice");
	add_header(&f.msg, "X-User", "bob");
	assert_true(key_of(&f, &h));
	/* The first one, by its value alone. */
	assert_int_equal(h, hash_of("alice"));
	f.req.msg = NULL;
	assert_false(key_of(&f, &h));
	balfix_close(&f);
}

static void
test_key_cookie(void **state)
{
	struct balfix f;
	uint32_t h, xyz = hash_of("xyz");

	(void)state;
	fx_open(&f, "hash_key = cookie:sid\n", "server = 127.0.0.1:9001\n");
	add_header(&f.msg, "Cookie", "a=1; sid=xyz; b=2");
	assert_true(key_of(&f, &h));
	assert_int_equal(h, xyz);

	/* Other names that merely contain it do not count. */
	memset(&f.msg, 0, sizeof(f.msg));
	add_header(&f.msg, "Cookie", "xsid=1; sidx=2;sid");
	assert_false(key_of(&f, &h));
	/* The second Cookie header has it; extra blanks around pairs. */
	add_header(&f.msg, "Accept", "*/*");
	add_header(&f.msg, "cookie", "  a=1 ;sid=xyz ;b=2");
	assert_true(key_of(&f, &h));
	assert_int_equal(h, xyz);
	/* Last in the list, no trailing separator. */
	memset(&f.msg, 0, sizeof(f.msg));
	add_header(&f.msg, "Cookie", "a=1; sid=xyz");
	assert_true(key_of(&f, &h));
	assert_int_equal(h, xyz);
	/* Cookie names are case-sensitive. */
	memset(&f.msg, 0, sizeof(f.msg));
	add_header(&f.msg, "Cookie", "SID=xyz");
	assert_false(key_of(&f, &h));
	/* Present but empty is still a key. */
	add_header(&f.msg, "Cookie", "sid=");
	assert_true(key_of(&f, &h));
	assert_int_equal(h, hash_of(""));
	/* Not a Cookie header. */
	memset(&f.msg, 0, sizeof(f.msg));
	add_header(&f.msg, "Set-Cookie", "sid=xyz");
	assert_false(key_of(&f, &h));
	balfix_close(&f);
}

/* No key: the request goes round robin instead. */
static void
test_absent_key_round_robin(void **state)
{
	struct balfix f;
	int counts[3] = { 0 };

	(void)state;
	fx_open(&f, "hash_key = header:X-User\n", "server = 127.0.0.1:9001\n"
	    "server = 127.0.0.1:9002 weight=2\nserver = 127.0.0.1:9003\n");
	for (int i = 0; i < 400; i++)
		counts[balancer_pick(f.shm, f.pool, &f.req)]++;
	assert_int_equal(counts[0], 100);
	assert_int_equal(counts[1], 200);
	assert_int_equal(counts[2], 100);
	/* With the key, one member every time. */
	add_header(&f.msg, "X-User", "carol");
	counts[0] = balancer_pick(f.shm, f.pool, &f.req);
	for (int i = 0; i < 100; i++)
		assert_int_equal(balancer_pick(f.shm, f.pool, &f.req),
		    counts[0]);
	balfix_close(&f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spread_equal),
		cmocka_unit_test(test_spread_weighted),
		cmocka_unit_test(test_removal_moves_only_its_keys),
		cmocka_unit_test(test_down_moves_only_its_keys),
		cmocka_unit_test(test_stable_across_builds),
		cmocka_unit_test(test_bounded_loads),
		cmocka_unit_test(test_unbounded_sticks),
		cmocka_unit_test(test_bounded_weighted),
		cmocka_unit_test(test_key_ip),
		cmocka_unit_test(test_key_uri),
		cmocka_unit_test(test_key_header),
		cmocka_unit_test(test_key_cookie),
		cmocka_unit_test(test_absent_key_round_robin),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
