/* Connections from a worker to backend servers, and the per-server idle pool. */
#ifndef WEIR_UPSTREAM_H
#define WEIR_UPSTREAM_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <openssl/ssl.h>

#include "tls/client.h"

struct worker;
struct conn;
struct event;

struct upstream {
	struct worker *w;
	int fd;
	uint32_t pool;			/* the server's shm slot: its idle pool */
	uint32_t backend;		/* index into config.backends */
	struct event *rev;
	struct event *wev;
	bool rev_on, wev_on;
	const struct timeval *rev_tv, *wev_tv;
	struct conn *owner;		/* NULL while idle in the pool */
	bool connecting;		/* connect (TLS: and handshake) on */
	bool reused;			/* taken from the pool: may be stale */
	/* TLS (server flagged "tls"); all unused when ssl is NULL */
	SSL *ssl;
	bool handshaking;		/* TCP is up, the handshake is not */
	enum tls_want hs_want;		/* what the handshake waits for */
	bool rd_wants_write;		/* SSL_read waits for writability */
	bool wr_wants_read;		/* SSL_write waits for readability */
	uint64_t t0_ms;			/* connect start (handshake deadline) */
	struct timeval hs_tv;		/* what is left of connect_timeout */
};

/* Idle connections to one server, most recently used last (LIFO reuse). */
struct upstream_pool {
	struct upstream **idle;
	uint32_t nidle;
	uint32_t cap;			/* backend keepalive */
	SSL_SESSION *sess;		/* TLS: the last session, to resume */
	uint32_t incarnation;		/* of the slot's server they are for */
};

int upstream_pools_init(struct worker *w);
void upstream_pools_free(struct worker *w);

/*
 * An upstream connection to the server in slot (of backend) for owner: an idle
 * pooled one (see how), else a new non-blocking connect. NULL with errno
 * set if the connect failed at once.
 */
enum upstream_how {
	UPSTREAM_POOLED,		/* an idle pooled connection if any */
	UPSTREAM_POOLED_CHECKED,	/* the same, checked alive first */
	UPSTREAM_FRESH,			/* always a new connection */
};

struct upstream *upstream_acquire(struct worker *w, uint32_t backend,
    uint32_t slot, struct conn *owner, enum upstream_how how);
/* Close the idle connections to slot's server and forget its session. */
void upstream_pool_purge(struct worker *w, uint32_t slot);
/* Give up back to the pool if reusable and there is room, else close it. */
void upstream_release(struct upstream *up, bool reusable);
void upstream_close(struct upstream *up);
/*
 * Finish a non-blocking connect, then (TLS) drive the handshake: 0 when
 * ready, 1 while the handshake waits (arm upstream_connect_events()), -1
 * with *why ("connect: Connection refused", "TLS handshake failed: ...").
 */
int upstream_connect_result(struct upstream *up, const char **why);
/* Arm the events a connect or handshake under way waits for. */
void upstream_connect_events(struct upstream *up,
    const struct timeval *connect_tv, uint32_t connect_ms);

ssize_t upstream_tls_recv(struct upstream *up, void *buf, size_t len);
ssize_t upstream_tls_send(struct upstream *up, const void *buf, size_t len);
void upstream_tls_shutdown(struct upstream *up);

/*
 * recv() and send() on the server connection, through TLS when it has
 * one. With TLS, a read may wait for writability (rd_wants_write) and a
 * write for readability (wr_wants_read): the caller arms those events.
 */
static inline ssize_t
upstream_recv(struct upstream *up, void *buf, size_t len)
{
	if (up->ssl == NULL)
		return recv(up->fd, buf, len, 0);
	return upstream_tls_recv(up, buf, len);
}

static inline ssize_t
upstream_send(struct upstream *up, const void *buf, size_t len)
{
	if (up->ssl == NULL)
		return send(up->fd, buf, len, MSG_NOSIGNAL);
	return upstream_tls_send(up, buf, len);
}

/* No more bytes to the server (tunnel half-close): close_notify, FIN. */
static inline void
upstream_shutdown_write(struct upstream *up)
{
	if (up->ssl != NULL)
		upstream_tls_shutdown(up);
	shutdown(up->fd, SHUT_WR);
}

/*
 * TLS only: decrypted bytes that SSL holds and the socket will not
 * signal again. Reading is due now if there is room for them.
 */
static inline bool
upstream_tls_pending(const struct upstream *up)
{
	return up->ssl != NULL && SSL_pending(up->ssl) > 0;
}

/* Arm or disarm the read/write events; a no-op when nothing changes. */
void upstream_want_read(struct upstream *up, bool on, const struct timeval *tv);
void upstream_want_write(struct upstream *up, bool on, const struct timeval *tv);

/* Close every idle pooled connection (worker shutting down). */
void upstream_pools_drain(struct worker *w);

#endif
