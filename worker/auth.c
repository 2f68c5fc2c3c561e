/*
 * Owns basic authentication in a worker: which auth settings a request
 * meets (its route's, else its frontend's), checking its credentials once
 * per connection, the 401 answer, and keeping Authorization from the
 * backend.
 */
#include "autoconf.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "common/config.h"
#include "common/htpasswd.h"
#include "common/log.h"
#include "http/basic.h"
#include "http/http.h"
#include "worker/conn.h"

/*
 * The per-connection cache: c->auth_tag is SipHash-2-4, under a key of
 * 128 random bits this worker draws once, of the table and the
 * credentials that last passed on the connection. A request whose tag
 * matches skips crypt(3). Forcing a collision means finding other
 * credentials with the same 64-bit tag without knowing the key: the tag
 * never leaves the worker, SipHash is a PRF, and every miss costs a
 * crypt(3) and ends the connection (401 closes it), taking the cached tag
 * with it; so each guess (odds 2^-64) needs a new connection that passes
 * with real credentials first.
 */
static uint64_t auth_key[2];
static int auth_keyed;			/* 0: not yet, 1: keyed, -1: no key */

static inline uint64_t
auth_rotl(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

#define AUTH_SIPROUND(v0, v1, v2, v3) do {				\
	v0 += v1; v1 = auth_rotl(v1, 13); v1 ^= v0;			\
	v0 = auth_rotl(v0, 32);						\
	v2 += v3; v3 = auth_rotl(v3, 16); v3 ^= v2;			\
	v0 += v3; v3 = auth_rotl(v3, 21); v3 ^= v0;			\
	v2 += v1; v1 = auth_rotl(v1, 17); v1 ^= v2;			\
	v2 = auth_rotl(v2, 32);						\
} while (0)

/* SipHash-2-4 (Aumasson and Bernstein) of p[0..len) under auth_key. */
static uint64_t
auth_siphash(const unsigned char *p, size_t len)
{
	uint64_t v0 = auth_key[0] ^ 0x736f6d6570736575ull;
	uint64_t v1 = auth_key[1] ^ 0x646f72616e646f6dull;
	uint64_t v2 = auth_key[0] ^ 0x6c7967656e657261ull;
	uint64_t v3 = auth_key[1] ^ 0x7465646279746573ull;
	uint64_t m, b = (uint64_t)len << 56;
	size_t i, left = len & 7;

	for (i = 0; i + 8 <= len; i += 8) {
		m = 0;
		for (int k = 7; k >= 0; k--)
			m = m << 8 | p[i + (size_t)k];
		v3 ^= m;
		AUTH_SIPROUND(v0, v1, v2, v3);
		AUTH_SIPROUND(v0, v1, v2, v3);
		v0 ^= m;
	}
	for (size_t k = 0; k < left; k++)
		b |= (uint64_t)p[i + k] << (8 * k);
	v3 ^= b;
	AUTH_SIPROUND(v0, v1, v2, v3);
	AUTH_SIPROUND(v0, v1, v2, v3);
	v0 ^= b;
	v2 ^= 0xff;
	for (int r = 0; r < 4; r++)
		AUTH_SIPROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}

/* Draw the key once per worker (after the fork: each has its own). */
static bool
auth_key_ready(void)
{
	size_t got = 0;
	ssize_t n;

	while (auth_keyed == 0 && got < sizeof(auth_key)) {
		n = getrandom((char *)auth_key + got, sizeof(auth_key) - got,
		    0);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			log_warn("getrandom: basic authentication checks "
			    "every request");
			auth_keyed = -1;
			break;
		}
		got += (size_t)n;
	}
	if (auth_keyed == 0)
		auth_keyed = 1;
	return auth_keyed == 1;
}

/* The tag of cr under table t; 0: no cache (no key). */
static uint64_t
auth_tag(const struct htpasswd *t, const struct basic_cred *cr)
{
	unsigned char in[sizeof(t) + BASIC_MAX_CRED + 1];
	size_t n = cr->ulen + 1 + cr->plen;
	uint64_t tag;

	if (!auth_key_ready())
		return 0;
	/* Table first: credentials that passed for one file say nothing
	 * about another. "user\0pass": user holds no NUL, so no two
	 * credentials read the same. */
	memcpy(in, &t, sizeof(t));
	memcpy(in + sizeof(t), cr->user, n);
	tag = auth_siphash(in, sizeof(t) + n);
	explicit_bzero(in, sizeof(in));
	return tag != 0 ? tag : 1;
}

/* 401 with the realm; the connection closes after it. */
static void
auth_refuse(struct conn *c, const struct policy_conf *pol, const char *why)
{
	char hdr[64 + 128];
	int n;

	n = snprintf(hdr, sizeof(hdr), "WWW-Authenticate: Basic realm=\"%s\", "
	    "charset=\"UTF-8\"\r\n", pol->auth_realm.s != NULL ?
	    pol->auth_realm.s : "weir");
	log_debug("client %s: 401: %s (frontend %s%s%s)", conn_peer(c), why,
	    c->fe->name, c->x->route != NULL ? ", route " : "",
	    c->x->route != NULL ? c->x->route->name : "");
	conn_answer_with(c, 401, hdr, (size_t)n, NULL, 0);
}

/* One crypt(3): do cr's user and password pass pol's file? */
static bool
auth_verify(struct conn *c, const struct policy_conf *pol,
    const struct basic_cred *cr)
{
	const struct htpasswd_user *who;
	bool ok;

	ok = htpasswd_verify(pol->auth_users, cr->user, cr->ulen, cr->pass,
	    cr->plen, &who);
	/* Tests count these lines: one per crypt(3). The name printed is
	 * the file's, never the client's bytes. */
	log_debug("client %s: auth: crypt(3) for %s%s%s: %s", conn_peer(c),
	    who != NULL ? "user '" : "an unknown user",
	    who != NULL ? who->name : "", who != NULL ? "'" : "",
	    ok ? "passed" : "refused");
	return ok;
}

/* The auth settings the request meets: a route's replace the frontend's. */
static const struct policy_conf *
auth_policy(const struct conn *c)
{
	const struct route_conf *rt = c->x->route;

	return rt != NULL && rt->policy.auth != CONFIG_AUTH_UNSET ?
	    &rt->policy : &c->fe->policy;
}

bool
auth_check(struct conn *c, struct http_msg *msg)
{
	const struct policy_conf *pol = auth_policy(c);
	struct http_header *h = NULL;
	char buf[BASIC_MAX_CRED + 1];
	const char *why = NULL;
	struct basic_cred cr;
	uint64_t tag;

	if (pol->auth != CONFIG_AUTH_BASIC)
		return false;
	for (size_t i = 0; i < msg->nheaders && why == NULL; i++) {
		if (!http_span_eq(msg->headers[i].name, "Authorization"))
			continue;
		if (h != NULL)
			why = "more than one Authorization field";
		h = &msg->headers[i];
	}
	if (why == NULL && h == NULL)
		why = "no credentials";
	if (why == NULL && basic_decode(h->value.p, h->value.len, buf,
	    &cr) == -1)
		why = "credentials that are not Basic, or unreadable";
	if (why == NULL && ((tag = auth_tag(pol->auth_users, &cr)) == 0 ||
	    tag != c->auth_tag)) {
		if (auth_verify(c, pol, &cr))
			c->auth_tag = tag;
		else
			why = "wrong user or password";
	}
	explicit_bzero(buf, sizeof(buf));
	if (why != NULL) {
		auth_refuse(c, pol, why);
		return true;
	}
	if (!pol->auth_forward)
		h->id = HTTP_F_CREDENTIALS;	/* rewrite.c leaves it out */
	return false;
}
