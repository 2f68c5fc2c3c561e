/*
 * Consistent hashing on a ketama ring, with optional bounded loads, and the
 * request keys it hashes (client address, URI, a header or a cookie).
 *
 * A ring rather than Maglev: each server's points are a function of its
 * own identity and weight alone, so removing a server (or losing it to a
 * health check) moves exactly the keys that were on it and no other;
 * Maglev rebuilds its whole lookup table, and some keys of servers that
 * stayed move with it. The price is a binary search per pick and a coarser
 * spread for the same memory: a server with P points carries a share whose
 * standard deviation is about 1/sqrt(P) of the mean.
 *
 * Points: BAL_HASH_POINTS for the heaviest member, proportionally fewer
 * (at least one) for lighter ones. Scaling by the pool's largest weight
 * keeps the ring small whatever scale weights are written in; the one
 * thing it costs is that changing the largest weight (removing the only
 * heaviest server, adding a heavier one) redraws every server's points.
 */
#include "autoconf.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "balancer/balancer.h"
#include "common/config.h"
#include "common/hash64.h"
#include "shm/shm.h"
#include "http/http.h"

/*
 * Points of the heaviest member. 256 (ketama has 160) gives each of equal
 * servers a share with a standard deviation of 1/16 of the mean; the unit
 * test holds every share within 4 of those, +-25% of the mean for equal
 * weights, for 3 to 50 servers and 100k keys. 300 servers make a 600 KiB
 * ring searched in 17 steps.
 */
#define BAL_HASH_POINTS		256

static uint32_t
bal_hash_bytes(const void *p, size_t len)
{
	return (uint32_t)(hash64_mix(hash64_fnv(HASH64_FNV_BASIS, p,
	    len)) >> 32);
}

/* A point before it is cut to 32 bits: the full hash orders equal halves. */
struct bal_hash_point {
	uint64_t hash;
	uint32_t member;
};

static int
bal_hash_point_cmp(const void *a, const void *b)
{
	const struct bal_hash_point *x = a, *y = b;

	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	return x->member < y->member ? -1 : x->member > y->member;
}

/* Points on the ring for weight; none for weight 0 (set by the admin API). */
static uint32_t
bal_hash_points(uint32_t weight, uint32_t wmax)
{
	uint32_t p;

	if (weight == 0)
		return 0;
	p = (BAL_HASH_POINTS * weight + wmax / 2) / wmax;

	return p > 0 ? p : 1;
}

/* Every member's points ("<id>-<i>" hashed), sorted into the ring. */
int
bal_hash_build(struct bal_pool *pool)
{
	struct bal_hash_point *pts;
	uint32_t wmax = 1, total = 0, k = 0;
	char key[96];
	int len;

	for (uint32_t m = 0; m < pool->n; m++)
		if (pool->weight[m] > wmax)
			wmax = pool->weight[m];
	for (uint32_t m = 0; m < pool->n; m++)
		total += bal_hash_points(pool->weight[m], wmax);
	if ((pts = calloc(total + 1, sizeof(*pts))) == NULL)
		return -1;
	if ((pool->ring = calloc(total + 1, sizeof(*pool->ring))) == NULL) {
		free(pts);
		return -1;
	}
	/* Named by identity, not position: config order does not matter. */
	for (uint32_t m = 0; m < pool->n; m++) {
		uint32_t np = bal_hash_points(pool->weight[m], wmax);

		for (uint32_t i = 0; i < np; i++) {
			len = snprintf(key, sizeof(key), "%s-%u",
			    pool->id[m], i);
			pts[k].hash = hash64_mix(hash64_fnv(
			    HASH64_FNV_BASIS, key, (size_t)len));
			pts[k++].member = m;
		}
	}
	qsort(pts, total, sizeof(*pts), bal_hash_point_cmp);
	for (k = 0; k < total; k++) {
		pool->ring[k].hash = (uint32_t)(pts[k].hash >> 32);
		pool->ring[k].member = pts[k].member;
	}
	pool->nring = total;
	free(pts);
	return 0;
}

/* Index of the first point at or after hash, wrapping past the last. */
static uint32_t
bal_hash_search(const struct bal_pool *pool, uint32_t hash)
{
	uint32_t lo = 0, hi = pool->nring;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (pool->ring[mid].hash < hash)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo == pool->nring ? 0 : lo;
}

/*
 * Bounded loads (Mirrokni, Thorup, Zadimoghaddam): no member may take a
 * request that lifts it above pct% of its fair share of everything in
 * flight to the usable members of the class, this request included. With
 * weights the fair share is by effective weight (HAProxy does the same);
 * with equal weights the cap is ceil(pct/100 * (total + 1) / n). The caps
 * add up to at least total + 1, so some member is always under its own.
 */
struct bal_hash_bound {
	uint64_t slots;		/* ceil(pct/100 * (total + 1)) */
	uint64_t wsum;		/* effective weight of the usable members */
};

static bool
bal_hash_bound_init(struct shm *shm, const struct bal_pool *pool,
    const struct bal_request *req, int c, struct bal_hash_bound *b)
{
	uint64_t total = 0;

	b->wsum = 0;
	for (uint32_t i = 0; i < pool->nmembers[c]; i++) {
		uint32_t m = pool->members[c][i];

		/* Full members count: their load is part of the mean. */
		if (!bal_up(shm, pool, m))
			continue;
		total += shm_inflight(shm, pool->slot[m]);
		b->wsum += bal_effective_weight(shm, pool, m, req->now_ms);
	}
	b->slots = ((total + 1) * pool->be->hash_bounded_pct + 99) / 100;
	return b->wsum > 0;
}

static bool
bal_hash_bound_ok(struct shm *shm, const struct bal_pool *pool,
    const struct bal_request *req, const struct bal_hash_bound *b, uint32_t m)
{
	uint64_t w = bal_effective_weight(shm, pool, m, req->now_ms);
	uint64_t cap = (w * b->slots + b->wsum - 1) / b->wsum;

	return (uint64_t)shm_inflight(shm, pool->slot[m]) + 1 <= cap;
}

/* Clockwise from hash to the first usable member of the class under its cap. */
int
bal_hash_lookup(struct shm *shm, const struct bal_pool *pool,
    const struct bal_request *req, uint32_t hash, bool backup)
{
	int c = backup ? 1 : 0, fallback = -1;
	bool bounded = pool->be->hash_bounded_pct != 0;
	struct bal_hash_bound b = { 0, 0 };
	uint32_t i, skipped = 0;

	if (pool->nring == 0 || pool->nmembers[c] == 0)
		return -1;
	if (bounded && !bal_hash_bound_init(shm, pool, req, c, &b))
		return -1;
	i = bal_hash_search(pool, hash);
	/* Clockwise from the key's point, past the other class and the down. */
	for (uint32_t k = 0; k < pool->nring; k++, i = i + 1 == pool->nring ?
	    0 : i + 1) {
		uint32_t m = pool->ring[i].member;

		if (pool->backup[m] != backup)
			continue;
		if (!bal_usable(shm, pool, m)) {
			/* Saves walking the ring when the class is out. */
			if (++skipped == pool->nmembers[c] &&
			    !bal_any_usable(shm, pool, backup))
				return -1;
			continue;
		}
		if (!bounded || bal_hash_bound_ok(shm, pool, req, &b, m))
			return (int)m;
		if (fallback == -1)
			fallback = (int)m;
	}
	/* Only when loads moved under us: everyone is over the bound. */
	return fallback;
}

int
bal_hash_pick(struct shm *shm, const struct bal_pool *pool,
    const struct bal_request *req, bool backup)
{
	uint32_t hash;

	if (!bal_hash_key(pool, req, &hash))
		return bal_roundrobin_pick(shm, pool, req, backup);
	return bal_hash_lookup(shm, pool, req, hash, backup);
}

/* ---- keys ---- */

static int
bal_hash_lower(int ch)
{
	return ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch;
}

/* Header names compare case-insensitively (RFC 9110 5.1). */
static bool
bal_hash_name_eq(struct http_span s, const char *name)
{
	size_t len = strlen(name);

	if (s.len != len)
		return false;
	for (size_t i = 0; i < len; i++)
		if (bal_hash_lower((unsigned char)s.p[i]) !=
		    bal_hash_lower((unsigned char)name[i]))
			return false;
	return true;
}

static bool
bal_hash_ows(char ch)
{
	return ch == ' ' || ch == '\t';
}

/*
 * The value of cookie name in one Cookie header ("a=1; b=2"). Cookie
 * names are case-sensitive (RFC 6265 5.4); a pair without '=' is skipped.
 */
static bool
bal_hash_cookie(struct http_span v, const char *name, struct http_span *out)
{
	size_t nlen = strlen(name), i = 0;

	while (i < v.len) {
		size_t start, eq = 0, end;

		while (i < v.len && (bal_hash_ows(v.p[i]) || v.p[i] == ';'))
			i++;
		for (start = i; i < v.len && v.p[i] != ';'; i++)
			if (v.p[i] == '=' && eq == 0)
				eq = i;
		if (eq == 0 || eq - start != nlen ||
		    memcmp(v.p + start, name, nlen) != 0)
			continue;
		for (end = i; end > eq + 1 && bal_hash_ows(v.p[end - 1]); end--)
			;
		out->p = v.p + eq + 1;
		out->len = end - (eq + 1);
		return true;
	}
	return false;
}

/* Address bytes only: the port changes with every connection. */
static bool
bal_hash_addr(const struct sockaddr *sa, uint32_t *hash)
{
	const struct sockaddr_in *sin;
	const struct sockaddr_in6 *sin6;

	if (sa == NULL)
		return false;
	switch (sa->sa_family) {
	case AF_INET:
		sin = (const struct sockaddr_in *)(const void *)sa;
		*hash = bal_hash_bytes(&sin->sin_addr, 4);
		return true;
	case AF_INET6:
		sin6 = (const struct sockaddr_in6 *)(const void *)sa;
		/* A v4 client on a dual-stack socket is the same client. */
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
			*hash = bal_hash_bytes(&sin6->sin6_addr.s6_addr[12], 4);
		else
			*hash = bal_hash_bytes(&sin6->sin6_addr, 16);
		return true;
	}
	return false;
}

/* Hash the request's key as the backend's hash_key names it. */
bool
bal_hash_key(const struct bal_pool *pool, const struct bal_request *req,
    uint32_t *hash)
{
	const struct backend_conf *be = pool->be;
	const struct http_msg *msg = req->msg;
	struct http_span v;

	switch (be->hash_key) {
	case CONFIG_HASH_IP:
		return bal_hash_addr(req->client, hash);
	case CONFIG_HASH_URI:
		if (req->uri == NULL)
			return false;
		*hash = bal_hash_bytes(req->uri, req->uri_len);
		return true;
	case CONFIG_HASH_HEADER:
	case CONFIG_HASH_COOKIE:
		break;
	}
	if (msg == NULL || be->hash_key_name == NULL)
		return false;
	for (size_t i = 0; i < msg->nheaders; i++) {
		const struct http_header *h = &msg->headers[i];

		if (be->hash_key == CONFIG_HASH_HEADER) {
			if (!bal_hash_name_eq(h->name, be->hash_key_name))
				continue;
			v = h->value;
		} else if (!bal_hash_name_eq(h->name, "cookie") ||
		    !bal_hash_cookie(h->value, be->hash_key_name, &v))
			continue;
		*hash = bal_hash_bytes(v.p, v.len);
		return true;
	}
	return false;
}
