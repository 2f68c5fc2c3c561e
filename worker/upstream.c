/*
 * Owns backend connections: connecting (with TLS: the handshake, reads and
 * writes, resumed sessions), the per-worker per-server idle pool, and
 * watching idle pooled connections for a close by the backend.
 */
#include "autoconf.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/err.h>

#include "common/clock.h"
#include "common/config.h"
#include "common/log.h"
#include "shm/shm.h"
#include "tls/client.h"
#include "tls/tls.h"
#include "worker/conn.h"
#include "worker/upstream.h"
#include "worker/worker.h"

int
upstream_pools_init(struct worker *w)
{
	w->npools = w->shm->hdr->max_servers;
	if ((w->pools = calloc(w->npools, sizeof(*w->pools))) == NULL)
		return -1;
	return 0;
}

void
upstream_pools_free(struct worker *w)
{
	upstream_pools_drain(w);
	for (uint32_t i = 0; i < w->npools; i++) {
		free(w->pools[i].idle);
		SSL_SESSION_free(w->pools[i].sess);
	}
	free(w->pools);
	w->pools = NULL;
}

void
upstream_pools_drain(struct worker *w)
{
	for (uint32_t i = 0; i < w->npools; i++)
		while (w->pools[i].nidle > 0)
			upstream_close(w->pools[i].idle[--w->pools[i].nidle]);
}

void
upstream_pool_purge(struct worker *w, uint32_t slot)
{
	struct upstream_pool *p = &w->pools[slot];

	while (p->nidle > 0)
		upstream_close(p->idle[--p->nidle]);
	SSL_SESSION_free(p->sess);
	p->sess = NULL;
}

/*
 * Slot's pool, for the server that holds the slot now: a slot given to
 * another server (removed, then reused) keeps nothing of the one before,
 * neither idle connections nor a session. The idle list is made the
 * first time the slot's server is used, with its backend's keepalive.
 */
static struct upstream_pool *
upstream_pool_of(struct worker *w, uint32_t backend, uint32_t slot)
{
	struct upstream_pool *p = &w->pools[slot];
	uint32_t inc = w->shm->servers[slot].incarnation;

	if (p->incarnation != inc) {
		upstream_pool_purge(w, slot);
		p->incarnation = inc;
	}
	if (p->idle == NULL && (p->cap = w->cfg->backends[backend].keepalive) >
	    0 && (p->idle = calloc(p->cap, sizeof(*p->idle))) == NULL)
		p->cap = 0;		/* no pooling rather than no request */
	return p;
}

/* Remove up from its server's idle list (it closed or timed out while idle). */
static void
upstream_pool_remove(struct upstream *up)
{
	struct upstream_pool *p = &up->w->pools[up->pool];

	for (uint32_t i = 0; i < p->nidle; i++) {
		if (p->idle[i] != up)
			continue;
		memmove(&p->idle[i], &p->idle[i + 1],
		    (p->nidle - i - 1) * sizeof(p->idle[0]));
		p->nidle--;
		return;
	}
}

/*
 * Is an idle TLS connection still quiet? Raw bytes may be a record that is
 * not data (a TLS 1.3 session ticket sent late, which the read takes in);
 * data, a close_notify, a FIN or an error mean it is finished. What the
 * read consumes does not matter: a connection that had data is closed.
 */
static bool
upstream_tls_quiet(struct upstream *up)
{
	enum tls_want want = TLS_WANT_NONE;
	char scratch[64];

	if (SSL_pending(up->ssl) > 0)
		return false;
	return tls_client_recv(up->ssl, scratch, sizeof(scratch), &want) ==
	    -1 && errno == EAGAIN && want == TLS_WANT_READ;
}

/*
 * Idle pooled connection became readable or timed out. A backend may only
 * close an idle connection (anything else it sends is a protocol error), so
 * either way the connection is finished.
 */
static void
upstream_idle_event(struct upstream *up, short what)
{
	char scratch[64];

	if (!(what & EV_TIMEOUT)) {
		if (up->ssl != NULL) {
			if (upstream_tls_quiet(up))
				return;
		} else if (recv(up->fd, scratch, sizeof(scratch),
		    MSG_DONTWAIT) == -1 && (errno == EAGAIN || errno == EINTR))
			return;
	}
	upstream_pool_remove(up);
	upstream_close(up);
}

static void
upstream_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct upstream *up = arg;

	(void)fd;
	if (up->owner != NULL)
		conn_upstream_event(up->owner, what, false);
	else
		upstream_idle_event(up, what);
}

static void
upstream_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct upstream *up = arg;

	(void)fd;
	if (up->owner != NULL)
		conn_upstream_event(up->owner, what, true);
}

/*
 * A server flagged "tls": its SSL, resuming the session this worker last
 * had with the server. The connect counts as under way until the
 * handshake is done, within the same connect_timeout.
 */
static int
upstream_tls_start(struct upstream *up, const struct backend_conf *be,
    const struct sockaddr *sa)
{
	SSL_CTX *ctx = tls_gen_backend(up->w->tls, up->backend);

	if (ctx == NULL || (up->ssl = tls_client_new(ctx, be, sa, up->fd,
	    &up->w->pools[up->pool].sess)) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	up->connecting = true;
	up->hs_want = TLS_WANT_WRITE;
	up->t0_ms = clock_ms();
	return 0;
}

/* socket -> options -> connect; the events are created last. */
static struct upstream *
upstream_connect(struct worker *w, uint32_t backend, uint32_t slot)
{
	const struct shm_server_sh *sv = &w->shm->servers[slot];
	struct upstream *up;
	int one = 1, saved;

	if ((up = calloc(1, sizeof(*up))) == NULL)
		return NULL;
	up->w = w;
	up->pool = slot;
	up->backend = backend;
	up->fd = socket(sv->sa.sa.sa_family,
	    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (up->fd == -1)
		goto fail;
	setsockopt(up->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(up->fd, &sv->sa.sa, sv->salen) == -1) {
		if (errno != EINPROGRESS)
			goto fail;
		up->connecting = true;
	}
	if ((sv->flags & SHM_SERVER_TLS) && upstream_tls_start(up,
	    &w->cfg->backends[backend], &sv->sa.sa) == -1)
		goto fail;
	up->rev = event_new(w->base, up->fd, EV_READ | EV_PERSIST,
	    upstream_read_cb, up);
	up->wev = event_new(w->base, up->fd, EV_WRITE | EV_PERSIST,
	    upstream_write_cb, up);
	if (up->rev == NULL || up->wev == NULL)
		goto fail;
	return up;
fail:
	saved = errno;
	upstream_close(up);
	errno = saved;
	return NULL;
}

/* Matches no real timeout: makes the next want re-arm the read event. */
static const struct timeval upstream_unknown_tv;

/*
 * Is an idle pooled connection still open? A backend that closed it sent a
 * FIN we have not read yet; a peek sees it without consuming anything.
 */
static bool
upstream_alive(struct upstream *up)
{
	char byte;
	ssize_t n;

	if (up->ssl != NULL)
		return upstream_tls_quiet(up);
	n = recv(up->fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
	return n == -1 && (errno == EAGAIN || errno == EINTR);
}

/* The most recently pooled connection to this server, checked if asked. */
static struct upstream *
upstream_pool_pop(struct upstream_pool *p, bool check)
{
	struct upstream *up;

	while (p->nidle > 0) {
		up = p->idle[--p->nidle];
		if (!check || upstream_alive(up))
			return up;
		upstream_close(up);
	}
	return NULL;
}

struct upstream *
upstream_acquire(struct worker *w, uint32_t backend, uint32_t slot,
    struct conn *owner, enum upstream_how how)
{
	struct upstream_pool *p = upstream_pool_of(w, backend, slot);
	struct upstream *up = NULL;

	if (how != UPSTREAM_FRESH)
		up = upstream_pool_pop(p, how == UPSTREAM_POOLED_CHECKED);
	if (up != NULL)
		up->reused = true;
	else if ((up = upstream_connect(w, backend, slot)) == NULL)
		return NULL;
	/*
	 * The read event stays armed (no epoll_ctl); forget its timeout so the
	 * owner's first want re-arms it even when the duration is the same
	 * (libevent common timeouts share one pointer per duration).
	 */
	up->owner = owner;
	up->rev_tv = &upstream_unknown_tv;
	return up;
}

void
upstream_release(struct upstream *up, bool reusable)
{
	struct upstream_pool *p = &up->w->pools[up->pool];

	/* Bytes SSL holds would never wake the idle watch: not clean. */
	if (!reusable || up->w->stopping || p->nidle >= p->cap ||
	    upstream_tls_pending(up)) {
		upstream_close(up);
		return;
	}
	up->rd_wants_write = up->wr_wants_read = false;
	up->owner = NULL;
	up->rev_tv = &upstream_unknown_tv;	/* restart the idle clock */
	upstream_want_write(up, false, NULL);
	upstream_want_read(up, true, up->w->be_idle_tv[up->backend]);
	p->idle[p->nidle++] = up;
}

void
upstream_close(struct upstream *up)
{
	if (up == NULL)
		return;
	if (up->rev != NULL)
		event_free(up->rev);
	if (up->wev != NULL)
		event_free(up->wev);
	if (up->ssl != NULL)
		SSL_free(up->ssl);
	if (up->fd != -1)
		close(up->fd);
	free(up);
}

/* Room for a failure's reason; one worker, one thread. */
static char upstream_why[256];

/* Drive the TLS handshake of a connection whose TCP connect is done. */
static int
upstream_tls_handshake(struct upstream *up, const char **why)
{
	char reason[200];
	int rc;

	rc = tls_client_handshake(up->ssl, &up->hs_want, reason,
	    sizeof(reason));
	if (rc == 0)
		up->connecting = up->handshaking = false;
	else if (rc == -1) {
		snprintf(upstream_why, sizeof(upstream_why),
		    "TLS handshake failed: %s", reason);
		*why = upstream_why;
	}
	return rc;
}

int
upstream_connect_result(struct upstream *up, const char **why)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (!up->handshaking) {
		if (getsockopt(up->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
			err = errno;
		if (err != 0) {
			snprintf(upstream_why, sizeof(upstream_why),
			    "connect: %s", strerror(err));
			*why = upstream_why;
			return -1;
		}
		if (up->ssl == NULL) {
			up->connecting = false;
			return 0;
		}
		up->handshaking = true;
	}
	return upstream_tls_handshake(up, why);
}

void
upstream_connect_events(struct upstream *up, const struct timeval *connect_tv,
    uint32_t connect_ms)
{
	const struct timeval *tv = connect_tv;
	uint64_t spent;
	bool rd;

	/*
	 * The handshake gets what the TCP connect left of connect_timeout.
	 * hs_tv is one pointer for the whole handshake: an event already
	 * armed with it keeps its deadline.
	 */
	if (up->handshaking) {
		spent = clock_ms() - up->t0_ms;
		spent = spent < connect_ms ? connect_ms - spent : 1;
		up->hs_tv.tv_sec = (time_t)(spent / 1000);
		up->hs_tv.tv_usec = (suseconds_t)(spent % 1000) * 1000;
		tv = &up->hs_tv;
	}
	rd = up->handshaking && up->hs_want == TLS_WANT_READ;
	upstream_want_read(up, rd, rd ? tv : NULL);
	upstream_want_write(up, !rd, !rd ? tv : NULL);
}

ssize_t
upstream_tls_recv(struct upstream *up, void *buf, size_t len)
{
	enum tls_want want = TLS_WANT_NONE;
	ssize_t n = tls_client_recv(up->ssl, buf, len, &want);

	up->rd_wants_write = n == -1 && want == TLS_WANT_WRITE;
	return n;
}

ssize_t
upstream_tls_send(struct upstream *up, const void *buf, size_t len)
{
	enum tls_want want = TLS_WANT_NONE;
	ssize_t n = tls_client_send(up->ssl, buf, len, &want);

	up->wr_wants_read = n == -1 && want == TLS_WANT_READ;
	return n;
}

/* Best effort: a close_notify that does not fit now is not waited for. */
void
upstream_tls_shutdown(struct upstream *up)
{
	if (SSL_shutdown(up->ssl) < 0)
		ERR_clear_error();
}

void
upstream_want_read(struct upstream *up, bool on, const struct timeval *tv)
{
	worker_ev_want(up->rev, &up->rev_on, &up->rev_tv, on, tv);
}

void
upstream_want_write(struct upstream *up, bool on, const struct timeval *tv)
{
	worker_ev_want(up->wev, &up->wev_on, &up->wev_tv, on, tv);
}
