/* A worker process: accepts on its own sockets and proxies with one event loop. */
#ifndef WEIR_WORKER_H
#define WEIR_WORKER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/time.h>

#include "master/listen.h"

struct config;
struct shm;
struct event_base;
struct upstream_pool;
struct conn;
struct http_msg;
struct event;

struct worker {
	struct event_base *base;
	const struct config *cfg;
	struct shm *shm;
	uint32_t index;
	bool stopping;
	struct listener *listeners;	/* only this worker's sockets */
	struct event **accept_evs;
	size_t nlisteners;
	bool accepting;
	uint32_t nconns;		/* open client connections */
	struct conn *free_conns;	/* freelist, bounded by nfree_max */
	uint32_t nfree, nfree_max;
	struct upstream_pool *pools;	/* one per server (global index) */
	uint32_t npools;
	/* libevent common timeouts, one per configured duration */
	const struct timeval **fe_client_tv;	/* per frontend */
	const struct timeval **be_connect_tv;	/* per backend */
	const struct timeval **be_response_tv;
	const struct timeval **be_idle_tv;
	const struct timeval *linger_tv;
	/* per-connection buffer capacities (the high-water marks) */
	size_t cin_cap, cout_cap, uin_cap, uout_cap;
	struct http_msg *msg;		/* scratch for the head being parsed */
};

/* Run worker index until it is told to stop; never returns. */
void worker_main(const struct config *cfg, struct shm *shm,
    const struct listeners *all, uint32_t index, pid_t master_pid)
    __attribute__((__noreturn__));

/* Add, re-add with a new timeout, or delete ev, only when something changes. */
void worker_ev_want(struct event *ev, bool *on, const struct timeval **cur,
    bool want, const struct timeval *tv);

/* A client connection closed: accept again if max_connections stopped it. */
void worker_conn_closed(struct worker *w);

#endif
