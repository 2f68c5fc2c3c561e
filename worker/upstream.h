/* Connections from a worker to backend servers, and the per-server idle pool. */
#ifndef WEIR_UPSTREAM_H
#define WEIR_UPSTREAM_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/time.h>

struct worker;
struct conn;
struct event;

struct upstream {
	struct worker *w;
	int fd;
	uint32_t pool;			/* this worker's idle pool for the server */
	uint32_t backend;		/* index into config.backends */
	uint32_t member;		/* index into that backend's servers */
	struct event *rev;
	struct event *wev;
	bool rev_on, wev_on;
	const struct timeval *rev_tv, *wev_tv;
	struct conn *owner;		/* NULL while idle in the pool */
	bool connecting;		/* non-blocking connect under way */
	bool reused;			/* taken from the pool: may be stale */
};

/* Idle connections to one server, most recently used last (LIFO reuse). */
struct upstream_pool {
	struct upstream **idle;
	uint32_t nidle;
	uint32_t cap;			/* backend keepalive */
};

int upstream_pools_init(struct worker *w);
void upstream_pools_free(struct worker *w);

/*
 * An upstream connection to server member of backend for owner: an idle
 * pooled one (see how), else a new non-blocking connect. NULL with errno
 * set if the connect failed at once.
 */
enum upstream_how {
	UPSTREAM_POOLED,		/* an idle pooled connection if any */
	UPSTREAM_POOLED_CHECKED,	/* the same, checked alive first */
	UPSTREAM_FRESH,			/* always a new connection */
};

struct upstream *upstream_acquire(struct worker *w, uint32_t backend,
    uint32_t member, struct conn *owner, enum upstream_how how);
/* Give up back to the pool if reusable and there is room, else close it. */
void upstream_release(struct upstream *up, bool reusable);
void upstream_close(struct upstream *up);
/* Finish a non-blocking connect: 0, or -1 with errno from SO_ERROR. */
int upstream_connect_result(struct upstream *up);

/* Arm or disarm the read/write events; a no-op when nothing changes. */
void upstream_want_read(struct upstream *up, bool on, const struct timeval *tv);
void upstream_want_write(struct upstream *up, bool on, const struct timeval *tv);

/* Close every idle pooled connection (worker shutting down). */
void upstream_pools_drain(struct worker *w);

#endif
