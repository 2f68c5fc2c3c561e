/*
 * Server selection: one small interface, one file per algorithm. The proxy
 * engine calls balancer_pick() and nothing else, so an algorithm never
 * touches worker/.
 *
 * A struct bal_pool is private to a process: built from the pool's member
 * list in shm (which servers, their weights and limits) and the backend's
 * config of the process's generation (algorithm, keys), and built again
 * when the list's version moves. Everything the workers of all
 * generations must agree on lives in shm: the member lists, per-server
 * in-flight counts, health and admin state, slow-start times, and the
 * pool's ticket counter.
 */
#ifndef WEIR_BALANCER_H
#define WEIR_BALANCER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct shm;
struct shm_member;
struct shm_pool_sh;
struct backend_conf;
struct http_msg;

/* What a pick may look at. */
struct bal_request {
	const struct sockaddr *client;	/* hash_key = ip */
	const char *uri;		/* hash_key = uri: origin-form target */
	size_t uri_len;
	const struct http_msg *msg;	/* header:/cookie: keys; may be NULL */
	uint64_t now_ms;		/* CLOCK_MONOTONIC, for slow start */
	uint64_t *rng;			/* the caller's xorshift64 state, != 0 */
	const uint32_t *exclude;	/* server slots not to pick (tried) */
	uint32_t nexclude;
	/* balance = hash: the key as bal_hash_key() found it before, for a
	 * request whose head is gone (queued): found, and its hash */
	bool key_given;
	bool key_found;
	uint32_t key_hash;
};

/* A point on the consistent-hash ring. */
struct bal_point {
	uint32_t hash;
	uint32_t member;
};

struct bal_pool {
	const struct backend_conf *be;
	struct shm_pool_sh *shared;	/* shared ticket counter */
	uint64_t version;		/* of the member list it was built from */
	uint32_t n;			/* members, in list order */
	uint32_t *slot;			/* shm server slot of each member */
	const char **id;		/* each member's identity (shm) */
	uint32_t *weight;		/* configured weight of each member;
					 * 0: in no class (admin API) */
	bool *backup;
	uint32_t nprimary;		/* members that are not backups */
	uint32_t *max_conns;		/* requests in flight at most to each
					 * member, all workers; 0: no limit */
	bool limited;			/* some member has a limit */
	/* roundrobin: one period of smooth weighted round robin (member
	 * indices), over primaries and over backups */
	uint32_t *swrr[2];
	uint32_t swrr_len[2];
	/* hash: the ketama ring, sorted by hash */
	struct bal_point *ring;
	uint32_t nring;
	/* the members of each class ([0] primaries, [1] backups), in
	 * config order, so an algorithm never scans the other class */
	uint32_t *members[2];
	uint32_t nmembers[2];
	/* random2: Vose's alias table over members[c] by configured weight:
	 * position i keeps members[c][i] when a draw below wsum[c] falls
	 * under alias_cut[c][i], else yields member alias_alt[c][i] */
	uint32_t *alias_cut[2];
	uint32_t *alias_alt[2];
	uint32_t wsum[2];
};

/*
 * Build the pool for be from its member list in shm as it is now (after
 * shm_publish() set the slots and published the list).
 */
struct bal_pool *balancer_build(struct shm *shm, const struct backend_conf *be);
/* The same from a copy of the list, m[0..n) of the given version. */
struct bal_pool *balancer_build_list(struct shm *shm,
    const struct backend_conf *be, const struct shm_member *m, uint32_t n,
    uint64_t version);
void balancer_free(struct bal_pool *pool);

/*
 * The member (index into be->servers) to send req to, or -1 when no server
 * is usable. Primaries first; backups only when no primary is usable.
 * Servers that are down, draining or disabled are never picked, nor those
 * with max_conns requests in flight (full): the caller then claims its
 * place with shm_inflight_claim(), which may still find it full.
 */
int balancer_pick(struct shm *shm, const struct bal_pool *pool,
    const struct bal_request *req);

/*
 * Is any member up (full or not) that req does not exclude: has a retry
 * somewhere to go, and is a request that found no usable member waiting
 * for a place (all full) rather than for nothing (all down)?
 */
bool balancer_has_other(const struct shm *shm, const struct bal_pool *pool,
    const struct bal_request *req);

/* ---- outlier.c: passive failure handling ---- */

struct shm_server_sh;

enum outlier_claim {
	OUTLIER_NORMAL,		/* not ejected: send as usual */
	OUTLIER_TRIAL,		/* this request is the half-open trial */
	OUTLIER_BUSY,		/* ejected, or another worker has the trial */
};

/* May the server be picked now (not ejected, or its ejection has run out)? */
bool outlier_admits(const struct shm_server_sh *sv);
/* After picking server slot: take the half-open trial if it needs one. */
enum outlier_claim outlier_claim(struct shm *shm, const struct bal_pool *pool,
    uint32_t slot);
/* The trial request ended with no verdict (client left, local error). */
void outlier_abandon(struct shm *shm, uint32_t slot);
/*
 * The request to server slot succeeded (a response head, not a 5xx when
 * fail_on_5xx) or failed (connect error, reset or timeout before a
 * response, invalid response, 5xx when fail_on_5xx). max_fails failures in
 * a row eject the server for fail_timeout, doubling per ejection in a row
 * (5 minutes at most), within max_ejected_percent of the pool.
 */
void outlier_report(struct shm *shm, const struct bal_pool *pool, uint32_t slot,
    bool ok, bool trial);

/* ---- shared by the algorithms (balancer.c) ---- */

/* Is member m up now (admin active, health up, not ejected)? */
bool bal_up(const struct shm *shm, const struct bal_pool *pool, uint32_t m);
/* The same for the server in shm slot slot. */
bool bal_slot_up(const struct shm *shm, uint32_t slot);
/* Is member m usable now: up, and not full (max_conns in flight)? */
bool bal_usable(const struct shm *shm, const struct bal_pool *pool, uint32_t m);
/*
 * Member m's weight now, in 1/BAL_WEIGHT_SCALE units: the configured weight
 * times BAL_WEIGHT_SCALE, ramped linearly from 1/16 of that up to full over
 * slow_start after the server came back up.
 */
#define BAL_WEIGHT_SCALE	256
uint32_t bal_effective_weight(const struct shm *shm, const struct bal_pool *pool,
    uint32_t m, uint64_t now_ms);
/* Next value of a xorshift64 generator. */
uint64_t bal_random(uint64_t *state);
/* A random number in [0, n), n > 0, from the high bits of bal_random(). */
uint32_t bal_random_below(uint64_t *state, uint32_t n);
/* Is any member of the class usable now? */
bool bal_any_usable(const struct shm *shm, const struct bal_pool *pool,
    bool backup);

/*
 * Algorithms: pick among usable members whose backup flag equals backup;
 * -1 if there is none. Same signature, registered in balancer.c.
 */
int bal_roundrobin_pick(struct shm *shm, const struct bal_pool *pool,
    const struct bal_request *req, bool backup);
int bal_leastconn_pick(struct shm *shm, const struct bal_pool *pool,
    const struct bal_request *req, bool backup);
int bal_random2_pick(struct shm *shm, const struct bal_pool *pool,
    const struct bal_request *req, bool backup);
int bal_hash_pick(struct shm *shm, const struct bal_pool *pool,
    const struct bal_request *req, bool backup);

/* roundrobin.c: one period of smooth WRR over the members of one class. */
int bal_roundrobin_build(struct bal_pool *pool);
/* hash.c: the ketama ring over all members. */
int bal_hash_build(struct bal_pool *pool);
/* random2.c: the alias tables of both classes. */
int bal_random2_build(struct bal_pool *pool);
/* hash.c: bal_hash_pick for a key already hashed by bal_hash_key. */
int bal_hash_lookup(struct shm *shm, const struct bal_pool *pool,
    const struct bal_request *req, uint32_t hash, bool backup);
/*
 * hash.c: the request's key hashed per be->hash_key; false when the key is
 * absent (no such header or cookie): the caller falls back to roundrobin.
 */
bool bal_hash_key(const struct bal_pool *pool, const struct bal_request *req,
    uint32_t *hash);

#endif
