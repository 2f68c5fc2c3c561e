/*
 * Unit tests for balancer/balancer.c and what every algorithm shares: slow
 * start, backups, skipping drained and maintained servers, and a fuzz of
 * random pools that no algorithm may answer out of range.
 */
#include "autoconf.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <arpa/inet.h>
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
	"[backend app]\n"

#define NOW_MS	1000000000ULL	/* any monotonic "now" well above 0 */

static const char *const algorithms[] = {
	"roundrobin", "leastconn", "random2", "hash",
};
#define NALGORITHMS (sizeof(algorithms) / sizeof(algorithms[0]))

static void
fx_open(struct balfix *f, const char *opts, const char *servers)
{
	balfix_open(f, CFG_HEAD, opts, servers, 0x5851f42d4c957f2dULL);
	f->req.now_ms = NOW_MS;
	f->client.sin_family = AF_INET;
	f->client.sin_addr.s_addr = htonl(0xc0000201);
	f->req.client = (struct sockaddr *)&f->client;
	f->req.uri = "/";
	f->req.uri_len = 1;
}

/* Vary the hash key from pick to pick so hash pools spread too. */
static void
fx_next_client(struct balfix *f)
{
	f->client.sin_addr.s_addr = htonl((uint32_t)bal_random(&f->rng));
}

static void
fx_ramp(struct balfix *f, int m, uint64_t elapsed_ms)
{
	atomic_store(&balfix_server(f, m)->up_since_ms, NOW_MS - elapsed_ms);
}

#define S BAL_WEIGHT_SCALE

/* Effective weight: 1/16 at first, linear, full after slow_start. */
static void
test_effective_weight(void **state)
{
	struct balfix f;

	(void)state;
	fx_open(&f, "slow_start = 10s\n", "server = 127.0.0.1:9001 weight=16\n"
	    "server = 127.0.0.1:9002 weight=256\nserver = 127.0.0.1:9003\n");
	/* Not ramping (up_since 0): the configured weight (in 1/S units). */
	assert_int_equal(bal_effective_weight(f.shm, f.pool, 0, NOW_MS), 16 * S);
	fx_ramp(&f, 0, 0);
	assert_int_equal(bal_effective_weight(f.shm, f.pool, 0, NOW_MS), S);
	fx_ramp(&f, 0, 5000);
	assert_int_equal(bal_effective_weight(f.shm, f.pool, 0, NOW_MS), 8 * S);
	fx_ramp(&f, 0, 9999);
	assert_int_equal(bal_effective_weight(f.shm, f.pool, 0, NOW_MS),
	    16 * S * 9999 / 10000);
	fx_ramp(&f, 0, 10000);
	assert_int_equal(bal_effective_weight(f.shm, f.pool, 0, NOW_MS), 16 * S);
	fx_ramp(&f, 0, 3600000);
	assert_int_equal(bal_effective_weight(f.shm, f.pool, 0, NOW_MS), 16 * S);
	/* A clock read just before the master's stamp: the floor. */
	atomic_store(&balfix_server(&f, 0)->up_since_ms, NOW_MS + 5);
	assert_int_equal(bal_effective_weight(f.shm, f.pool, 0, NOW_MS), S);

	/* Linear and never below 1/16 of the full weight. */
	for (uint64_t e = 0, prev = 0; e <= 10000; e += 250) {
		uint32_t w;

		fx_ramp(&f, 1, e);
		w = bal_effective_weight(f.shm, f.pool, 1, NOW_MS);
		assert_true(w >= prev);
		assert_int_equal(w, 256 * S * e / 10000 > 16 * S ?
		    256 * S * e / 10000 : 16 * S);
		prev = w;
	}
	/* Weight 1 ramps too: 1/16 at first, half-way at half the time. */
	fx_ramp(&f, 2, 100);
	assert_int_equal(bal_effective_weight(f.shm, f.pool, 2, NOW_MS), S / 16);
	fx_ramp(&f, 2, 5000);
	assert_int_equal(bal_effective_weight(f.shm, f.pool, 2, NOW_MS), S / 2);
	balfix_close(&f);

	/* slow_start off: up_since does not matter. */
	fx_open(&f, "", "server = 127.0.0.1:9001 weight=16\n");
	fx_ramp(&f, 0, 1);
	assert_int_equal(bal_effective_weight(f.shm, f.pool, 0, NOW_MS), 16 * S);
	balfix_close(&f);
}

/* Share of picks member 0 gets while ramping, elapsed ms into a 10 s ramp. */
static double
ramp_share(const char *algorithm, uint64_t elapsed, bool hold)
{
	struct balfix f;
	char opts[128];
	int counts[2] = { 0 };
	const int picks = 4000;

	snprintf(opts, sizeof(opts), "balance = %s\nslow_start = 10s\n",
	    algorithm);
	fx_open(&f, opts, "server = 127.0.0.1:9001 weight=10\n"
	    "server = 127.0.0.1:9002 weight=10\n");
	fx_ramp(&f, 0, elapsed);
	for (int i = 0; i < picks; i++) {
		int m = balfix_pick(&f);

		assert_true(m >= 0);
		counts[m]++;
		/* leastconn needs load to tell weights apart: hold it. */
		if (hold)
			atomic_fetch_add(&balfix_server(&f, m)->inflight, 1);
	}
	balfix_close(&f);
	return (double)counts[0] / picks;
}

/*
 * A ramping server's share grows with time, near eff/(eff + 10) against a
 * full weight-10 peer, and reaches half when the ramp is over.
 */
static void
test_slow_start_share(void **state)
{
	static const uint64_t steps[] = { 1000, 2500, 5000, 7500, 10000 };
	static const char *const ramped[] = { "roundrobin", "leastconn",
	    "random2" };

	(void)state;
	for (size_t a = 0; a < 3; a++) {
		double prev = 0;

		for (size_t s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
			double eff = 10.0 * steps[s] / 10000, share;

			if (eff < 1)
				eff = 1;
			eff = (double)(uint32_t)eff;
			share = ramp_share(ramped[a], steps[s],
			    strcmp(ramped[a], "leastconn") == 0);
			if (share <= prev || share < eff / (eff + 10) - 0.04 ||
			    share > eff / (eff + 10) + 0.04)
				fail_msg("%s at %llu ms: share %.3f, expected "
				    "%.3f", ramped[a],
				    (unsigned long long)steps[s], share,
				    eff / (eff + 10));
			prev = share;
		}
	}
}

/*
 * Every algorithm: primaries while any is usable, then the backups, then
 * -1; a primary coming back takes over again.
 */
static void
test_backups_every_algorithm(void **state)
{
	(void)state;
	for (size_t a = 0; a < NALGORITHMS; a++) {
		struct balfix f;
		char opts[64];

		snprintf(opts, sizeof(opts), "balance = %s\n", algorithms[a]);
		fx_open(&f, opts, "server = 127.0.0.1:9001 backup\n"
		    "server = 127.0.0.1:9002\nserver = 127.0.0.1:9003 backup\n"
		    "server = 127.0.0.1:9004 weight=3\n");
		for (int i = 0; i < 200; i++, fx_next_client(&f)) {
			int m = balfix_pick(&f);

			assert_true(m == 1 || m == 3);
		}
		atomic_store(&balfix_server(&f, 1)->health, SHM_HEALTH_DOWN);
		for (int i = 0; i < 200; i++, fx_next_client(&f))
			assert_int_equal(balfix_pick(&f), 3);
		atomic_store(&balfix_server(&f, 3)->admin, SHM_ADMIN_DRAIN);
		{
			int counts[4] = { 0 };

			for (int i = 0; i < 400; i++, fx_next_client(&f)) {
				int m = balfix_pick(&f);

				assert_true(m == 0 || m == 2);
				counts[m]++;
			}
			/* Both backups serve (hash: over many clients). */
			assert_true(counts[0] > 100 && counts[2] > 100);
		}
		atomic_store(&balfix_server(&f, 0)->admin, SHM_ADMIN_MAINT);
		for (int i = 0; i < 50; i++, fx_next_client(&f))
			assert_int_equal(balfix_pick(&f), 2);
		atomic_store(&balfix_server(&f, 2)->health, SHM_HEALTH_DOWN);
		assert_int_equal(balfix_pick(&f), -1);
		atomic_store(&balfix_server(&f, 3)->admin, SHM_ADMIN_ACTIVE);
		for (int i = 0; i < 50; i++, fx_next_client(&f))
			assert_int_equal(balfix_pick(&f), 3);
		balfix_close(&f);
	}
}

/* Every algorithm skips drained, maintained and down servers. */
static void
test_skips_unusable_every_algorithm(void **state)
{
	static const uint32_t bad[3][2] = {
		{ SHM_ADMIN_DRAIN, SHM_HEALTH_UP },
		{ SHM_ADMIN_MAINT, SHM_HEALTH_UP },
		{ SHM_ADMIN_ACTIVE, SHM_HEALTH_DOWN },
	};

	(void)state;
	for (size_t a = 0; a < NALGORITHMS; a++) {
		for (int b = 0; b < 3; b++) {
			struct balfix f;
			char opts[64];
			int counts[6] = { 0 };

			snprintf(opts, sizeof(opts), "balance = %s\n",
			    algorithms[a]);
			fx_open(&f, opts, "server = 127.0.0.1:9001 weight=9\n"
			    "server = 127.0.0.1:9002\n"
			    "server = 127.0.0.1:9003 weight=9\n"
			    "server = 127.0.0.1:9004\n"
			    "server = 127.0.0.1:9005 weight=9\n"
			    "server = 127.0.0.1:9006 disabled\n");
			for (int m = 0; m < 6; m += 2) {
				atomic_store(&balfix_server(&f, m)->admin,
				    bad[b][0]);
				atomic_store(&balfix_server(&f, m)->health,
				    bad[b][1]);
			}
			for (int i = 0; i < 600; i++, fx_next_client(&f))
				counts[balfix_pick(&f)]++;
			assert_int_equal(counts[0] + counts[2] + counts[4], 0);
			assert_int_equal(counts[5], 0);
			assert_int_equal(counts[1] + counts[3], 600);
			assert_true(counts[1] > 150 && counts[3] > 150);
			balfix_close(&f);
		}
	}
}

/*
 * Every algorithm (hash with and without bounded loads) skips servers at
 * their max_conns, takes one again once it has a place, answers -1 when
 * all are full, and then balancer_has_other() still sees them up: the
 * request waits for a place rather than failing.
 */
static void
test_skips_full_every_algorithm(void **state)
{
	static const char *const opts[] = {
		"balance = roundrobin\n", "balance = leastconn\n",
		"balance = random2\n", "balance = hash\n",
		"balance = hash\nhash_bounded = 1.5\n",
		"balance = hash\nhash_key = header:X-User\n",
	};

	(void)state;
	for (size_t a = 0; a < sizeof(opts) / sizeof(opts[0]); a++) {
		struct balfix f;
		char o[128];
		int counts[4] = { 0 };

		/* max_conns from the backend, or the server's own. */
		snprintf(o, sizeof(o), "%smax_conns = 2\n", opts[a]);
		fx_open(&f, o, "server = 127.0.0.1:9001 weight=5\n"
		    "server = 127.0.0.1:9002\n"
		    "server = 127.0.0.1:9003 max_conns=4 weight=5\n"
		    "server = 127.0.0.1:9004 max_conns=0\n");
		assert_true(f.pool->limited);
		assert_int_equal(f.pool->max_conns[0], 2);
		assert_int_equal(f.pool->max_conns[2], 4);
		assert_int_equal(f.pool->max_conns[3], 0);
		balfix_set_inflight(&f, 0, 2);
		balfix_set_inflight(&f, 2, 4);
		for (int i = 0; i < 400; i++, fx_next_client(&f))
			counts[balfix_pick(&f)]++;
		assert_int_equal(counts[0] + counts[2], 0);
		assert_true(counts[1] > 0 && counts[3] > 0);
		/* One place free again: it is taken again (the others
		 * loaded, so leastconn and random2 prefer it too). */
		balfix_set_inflight(&f, 1, 1);
		balfix_set_inflight(&f, 2, 3);
		balfix_set_inflight(&f, 3, 100);
		memset(counts, 0, sizeof(counts));
		for (int i = 0; i < 400; i++, fx_next_client(&f))
			counts[balfix_pick(&f)]++;
		assert_int_equal(counts[0], 0);
		assert_true(counts[2] > 0);
		/* Everyone full (member 3 has no limit: take it out). */
		balfix_set_inflight(&f, 1, 2);
		balfix_set_inflight(&f, 2, 4);
		atomic_store(&balfix_server(&f, 3)->admin, SHM_ADMIN_MAINT);
		for (int i = 0; i < 50; i++, fx_next_client(&f))
			assert_int_equal(balfix_pick(&f), -1);
		assert_true(balancer_has_other(f.shm, f.pool, &f.req));
		assert_true(bal_up(f.shm, f.pool, 0));
		assert_false(bal_usable(f.shm, f.pool, 0));
		/* Full and down: nothing to wait for. */
		for (int m = 0; m < 3; m++)
			atomic_store(&balfix_server(&f, m)->health,
			    SHM_HEALTH_DOWN);
		assert_false(balancer_has_other(f.shm, f.pool, &f.req));
		balfix_close(&f);
	}
}

/* Without any max_conns the pool is not limited: no server is ever full. */
static void
test_unlimited_never_full(void **state)
{
	struct balfix f;

	(void)state;
	fx_open(&f, "balance = leastconn\n", "server = 127.0.0.1:9001\n"
	    "server = 127.0.0.1:9002 max_conns=0\n");
	assert_false(f.pool->limited);
	balfix_set_inflight(&f, 0, 1000000);
	balfix_set_inflight(&f, 1, 1000000);
	assert_true(bal_usable(f.shm, f.pool, 0));
	assert_true(balfix_pick(&f) >= 0);
	balfix_close(&f);
}

/*
 * A queued request's saved key (bal_hash_key() while its head was there)
 * picks what the head itself picks, and a saved "no key" falls back to
 * round robin as a head without the header does.
 */
static void
test_saved_key_picks_the_same(void **state)
{
	struct http_header h = { .name = { "X-User", 6 },
	    .value = { "alice", 5 } };
	struct balfix f;
	uint32_t hash;
	int m;

	(void)state;
	fx_open(&f, "balance = hash\nhash_key = header:X-User\n",
	    "server = 127.0.0.1:9001\nserver = 127.0.0.1:9002\n"
	    "server = 127.0.0.1:9003\nserver = 127.0.0.1:9004\n");
	f.msg.headers[0] = h;
	f.msg.nheaders = 1;
	f.req.msg = &f.msg;
	m = balfix_pick(&f);
	assert_true(bal_hash_key(f.pool, &f.req, &hash));
	f.req.msg = NULL;
	f.req.key_given = f.req.key_found = true;
	f.req.key_hash = hash;
	for (int i = 0; i < 20; i++)
		assert_int_equal(balfix_pick(&f), m);
	/* Without the key given, a head-less pick cannot know it. */
	f.req.key_found = false;
	{
		int counts[4] = { 0 };

		for (int i = 0; i < 40; i++)
			counts[balfix_pick(&f)]++;
		for (int i = 0; i < 4; i++)
			assert_int_equal(counts[i], 10);
	}
	balfix_close(&f);
}

/* A random server line: weight, and sometimes backup or disabled. */
static int
fuzz_server(char *out, size_t len, uint64_t *seed, uint32_t i)
{
	uint32_t w = bal_random(seed) % 4 == 0 ?
	    1 + (uint32_t)(bal_random(seed) % 256) :
	    1 + (uint32_t)(bal_random(seed) % 5);
	uint64_t r = bal_random(seed);

	return snprintf(out, len, "server = %s:%u weight=%u%s%s\n",
	    i % 3 == 2 ? "[::1]" : "127.0.0.1", 9001 + i, w,
	    r % 5 == 0 ? " backup" : "", r % 11 == 0 ? " disabled" : "");
}

/* A random request: client v4/v6/none, a uri, and maybe the key headers. */
static void
fuzz_request(struct balfix *f, uint64_t *seed, struct sockaddr_in6 *six,
    struct http_msg *msg, char *uri)
{
	uint64_t r = bal_random(seed);

	switch (r % 3) {
	case 0:
		fx_next_client(f);
		f->req.client = (struct sockaddr *)&f->client;
		break;
	case 1:
		six->sin6_family = AF_INET6;
		memcpy(&six->sin6_addr, seed, sizeof(*seed));
		f->req.client = (struct sockaddr *)six;
		break;
	default:
		f->req.client = NULL;
	}
	snprintf(uri, 32, "/p/%u", (unsigned)(r >> 40) % 1000);
	f->req.uri = (r >> 8) % 7 == 0 ? NULL : uri;
	f->req.uri_len = strlen(uri);
	memset(msg, 0, sizeof(*msg));
	if ((r >> 16) % 2) {
		msg->headers[0].name.p = "X-Key";
		msg->headers[0].name.len = 5;
		msg->headers[0].value.p = uri;
		msg->headers[0].value.len = strlen(uri);
		msg->headers[1].name.p = "Cookie";
		msg->headers[1].name.len = 6;
		msg->headers[1].value.p = "a=1; k=zz";
		msg->headers[1].value.len = 9;
		msg->nheaders = 2;
	}
	f->req.msg = (r >> 24) % 5 == 0 ? NULL : msg;
}

/* Check one pick against the truth of the moment. */
static void
fuzz_check(struct balfix *f, int m)
{
	bool primary = false, any = false;

	for (uint32_t i = 0; i < f->pool->n; i++) {
		if (!bal_usable(f->shm, f->pool, i))
			continue;
		any = true;
		primary |= !f->pool->backup[i];
	}
	if (!any) {
		assert_int_equal(m, -1);
		return;
	}
	assert_true(m >= 0 && (uint32_t)m < f->pool->n);
	assert_true(bal_usable(f->shm, f->pool, (uint32_t)m));
	assert_true(f->pool->backup[m] == !primary);
}

/* The tables a build made only name real members. */
static void
fuzz_tables(const struct bal_pool *pool)
{
	for (int c = 0; c < 2; c++)
		for (uint32_t i = 0; i < pool->swrr_len[c]; i++)
			assert_true(pool->swrr[c][i] < pool->n);
	for (uint32_t i = 0; i < pool->nring; i++) {
		assert_true(pool->ring[i].member < pool->n);
		assert_true(i == 0 || pool->ring[i - 1].hash <=
		    pool->ring[i].hash);
	}
}

/*
 * Point the parsed backend at another algorithm and key, as if the config
 * had said so, and reset the servers' shared state: one parse and one
 * segment serve all four algorithms of a fuzz round.
 */
static void
fuzz_rebuild(struct balfix *f, size_t algorithm, uint64_t r)
{
	static const struct {
		enum config_hash_key key;
		const char *name;
	} keys[] = {
		{ CONFIG_HASH_IP, NULL },
		{ CONFIG_HASH_URI, NULL },
		{ CONFIG_HASH_HEADER, "x-key" },
		{ CONFIG_HASH_COOKIE, "k" },
	};
	struct backend_conf *be = &f->cfg->backends[0];

	balancer_free(f->pool);
	be->balance = (enum config_balance)algorithm;
	be->hash_key = keys[r % 4].key;
	free(be->hash_key_name);
	be->hash_key_name = keys[r % 4].name != NULL ?
	    strdup(keys[r % 4].name) : NULL;
	be->hash_bounded_pct = (r >> 8) % 2 ? 125 : 0;
	be->slow_start_ms = (r >> 16) % 2 ? 5000 : 0;
	for (uint32_t m = 0; m < be->nservers; m++) {
		struct shm_server_sh *sv =
		    &f->shm->servers[be->servers[m].slot];

		atomic_store(&sv->health, SHM_HEALTH_UP);
		atomic_store(&sv->admin, be->servers[m].disabled ?
		    SHM_ADMIN_MAINT : SHM_ADMIN_ACTIVE);
		atomic_store(&sv->inflight, 0);
		atomic_store(&sv->up_since_ms, 0);
	}
	if ((f->pool = balancer_build(f->shm, be)) == NULL)
		fail_msg("balancer_build");
}

/* 1,000 random pools, every algorithm, random states: picks stay valid. */
static void
test_fuzz(void **state)
{
	uint64_t seed = 20240601;
	struct sockaddr_in6 six;
	struct http_msg *msg = malloc(sizeof(*msg));
	char uri[32];

	(void)state;
	assert_non_null(msg);
	for (int round = 0; round < 1000; round++) {
		char servers[40 * 64];
		uint32_t n = 1 + (uint32_t)(bal_random(&seed) % 30);
		int off = 0;
		struct balfix f;

		for (uint32_t i = 0; i < n; i++)
			off += fuzz_server(servers + off, sizeof(servers) - off,
			    &seed, i);
		fx_open(&f, "balance = leastconn\n", servers);
		for (size_t a = 0; a < NALGORITHMS; a++) {
			fuzz_rebuild(&f, a, bal_random(&seed));
			assert_int_equal(f.pool->be->balance, a);
			fuzz_tables(f.pool);
			for (int k = 0; k < 12; k++) {
				uint32_t m = (uint32_t)(bal_random(&seed) % n);
				uint64_t s = bal_random(&seed);
				int pick;

				/* Stir one member's state and load. */
				atomic_store(&balfix_server(&f, (int)m)->health,
				    s % 3 == 0 ? SHM_HEALTH_DOWN :
				    SHM_HEALTH_UP);
				atomic_store(&balfix_server(&f, (int)m)->admin,
				    (s >> 8) % 4 == 0 ? SHM_ADMIN_DRAIN :
				    SHM_ADMIN_ACTIVE);
				atomic_store(&balfix_server(&f, (int)m)->inflight,
				    (uint32_t)(s >> 16) % 100);
				atomic_store(&balfix_server(&f,
				    (int)m)->up_since_ms, (s >> 32) % 2 ?
				    NOW_MS - (s >> 40) % 8000 : 0);
				fuzz_request(&f, &seed, &six, msg, uri);
				pick = balfix_pick(&f);
				fuzz_check(&f, pick);
			}
		}
		balfix_close(&f);
	}
	free(msg);
}

/* NULL pools are refused and freeing NULL is a no-op. */
static void
test_null(void **state)
{
	struct bal_request req = { 0 };

	(void)state;
	assert_int_equal(balancer_pick(NULL, NULL, &req), -1);
	balancer_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_effective_weight),
		cmocka_unit_test(test_slow_start_share),
		cmocka_unit_test(test_backups_every_algorithm),
		cmocka_unit_test(test_skips_unusable_every_algorithm),
		cmocka_unit_test(test_skips_full_every_algorithm),
		cmocka_unit_test(test_unlimited_never_full),
		cmocka_unit_test(test_saved_key_picks_the_same),
		cmocka_unit_test(test_fuzz),
		cmocka_unit_test(test_null),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
