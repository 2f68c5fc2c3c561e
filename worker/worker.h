/*
 * A worker process: accepts on its generation's sockets and proxies with
 * one event loop.
 */
#ifndef WEIR_WORKER_H
#define WEIR_WORKER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/time.h>

#include "balancer/balancer.h"
#include "master/listen.h"
#include "shm/shm.h"
#include "shm/stats.h"
#include "worker/bufpool.h"
#include "worker/slab.h"

struct config;
struct shm;
struct event_base;
struct upstream_pool;
struct conn;
struct http_msg;
struct bal_pool;
struct event;
struct alog;
struct tls_gen;
struct queue;
struct limit_table_sh;
struct shm_member;
struct accept_ctx;

struct worker {
	struct event_base *base;
	const struct config *cfg;
	struct shm *shm;
	uint32_t index;
	bool stopping;
	struct listener *listeners;	/* its generation's sockets */
	struct accept_ctx *accept_ctxs;	/* per listener (worker.c) */
	size_t nlisteners;
	bool accepting;
	struct event *accept_retry_ev;	/* resumes accepting after EMFILE */
	uint32_t fd_pauses;		/* accept pauses in this EMFILE episode */
	uint64_t fd_since_ms;		/* when the episode began */
	uint32_t nconns;		/* open client connections */
	uint32_t heap_peak;		/* most open since the heap was trimmed */
	struct event *trim_ev;		/* gives the heap back after a flood */
	struct conn *conns;		/* every open client connection */
	struct slab_cache conn_slabs;	/* where connection objects live */
	struct upstream_pool *pools;	/* one per shm server slot */
	uint32_t npools;
	struct bal_pool **bals;		/* per backend: worker_bal() */
	struct shm_member *member_buf;	/* scratch: a member list read */
	uint64_t *member_mark;		/* per server slot (membership.c) */
	uint64_t member_stamp;
	struct event *seen_ev;		/* reports the epoch seen */
	const struct tls_gen *tls;	/* TLS contexts; NULL: no TLS */
	uint32_t wslot;			/* this worker's shm slot (ledger, stats) */
	struct shm_stats st;		/* its statistics area (only we write) */
	uint64_t rng;			/* xorshift64 state for random picks */
	/* libevent common timeouts, one per configured duration */
	const struct timeval **fe_client_tv;	/* per frontend */
	const struct timeval **be_connect_tv;	/* per backend */
	const struct timeval **be_response_tv;
	const struct timeval **be_idle_tv;
	const struct timeval *linger_tv;
	const struct timeval *drain_grace_tv;
	/* per-connection buffer capacities (the high-water marks) */
	size_t cin_cap, cout_cap, uin_cap, uout_cap;
	struct bufpool bufs;		/* one block holds a connection's four */
	struct http_msg *msg;		/* scratch for the head being parsed */
	struct route_table *routes;	/* per frontend (route/route.c) */
	char *pathbuf;			/* scratch: a path being normalised */
	struct limit_table_sh *const *limits;	/* per config limit, shared
						 * with every worker (limit/) */
	struct alog *alog;		/* access logs, request ids (alog.c) */
	size_t alog_rec_size;		/* a record's room in each block, or 0 */
	struct queue *queues;		/* per backend, made on first use */
	uint32_t nqueued;		/* requests in every queue */
	struct event *queue_ev;		/* serves the queues (queue.c) */
};

/* What the master hands a worker it forks. */
struct worker_params {
	const struct config *cfg;
	struct shm *shm;
	struct bal_pool **bals;		/* per backend */
	const struct tls_gen *tls;	/* its generation's TLS contexts */
	const struct listeners *listeners;	/* its generation's assignment */
	const struct lpool *all;	/* every socket the master holds */
	struct limit_table_sh *const *limits;	/* per limit of cfg */
	uint32_t index;			/* which listening sockets are ours */
	uint32_t generation;
	uint32_t wslot;			/* shm worker slot */
	pid_t master_pid;
	int ready_fd;			/* write our pid here once accepting */
};

/* membership.c */
/* Build backend b's pool again from its member list as it is now. */
struct bal_pool *worker_bal_rebuild(struct worker *w, uint32_t b);
/* The scratch it needs and the timer that reports the epoch seen. */
int membership_init(struct worker *w);

/*
 * Backend b's pool as its member list is now: one acquire load when the
 * list has not moved since the pool was built (every pick pays this).
 */
static inline struct bal_pool *
worker_bal(struct worker *w, uint32_t b)
{
	struct bal_pool *pool = w->bals[b];

	if (__builtin_expect(shm_members_version(w->shm,
	    pool->be->pool_slot) == pool->version, 1))
		return pool;
	return worker_bal_rebuild(w, b);
}

/* Run a worker until it is told to stop; never returns. */
void worker_main(const struct worker_params *params)
    __attribute__((__noreturn__));

#define WORKER_LINGER_MAX_MS	30000	/* longest we read a closing client */
#define WORKER_DRAIN_GRACE_MS	1000	/* idle keep-alive grace when draining */

/* Add, re-add with a new timeout, or delete ev, only when something changes. */
void worker_ev_want(struct event *ev, bool *on, const struct timeval **cur,
    bool want, const struct timeval *tv);

/* A client connection closed: accept again if max_connections stopped it. */
void worker_conn_closed(struct worker *w);

#endif
