/*
 * Owns a client connection: reading request heads, writing to the client,
 * its timeouts, errors weir answers itself, and closing (with a linger so
 * the last response is not destroyed by a reset).
 */
#include "autoconf.h"

#include <errno.h>
#include <limits.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <linux/sockios.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/clock.h"
#include "common/config.h"
#include "common/confval.h"
#include "common/log.h"
#include "shm/shm.h"
#include "shm/stats.h"
#include "tls/tls.h"
#include "worker/alog.h"
#include "worker/conn.h"
#include "worker/errpage.h"
#include "worker/slab.h"
#include "worker/tlsconn.h"
#include "worker/upstream.h"
#include "worker/worker.h"

static void conn_release(struct conn *c);
static int conn_bufs_attach(struct conn *c);
static void conn_bufs_detach(struct conn *c);
static bool conn_idle(const struct conn *c);
static void conn_tls_step(struct conn *c);
static void conn_answer(struct conn *c, int status);

/* One read from the client into cin (through TLS when it has it). */
static void
conn_client_read(struct conn *c)
{
	struct buf *cin;
	ssize_t n;

	if (c->x == NULL && conn_bufs_attach(c) == -1) {
		conn_abort(c, "out of memory for buffers");
		return;
	}
	if (c->tls_wants & TLSCONN_WR_WANTS_READ) {
		c->tls_wants &= (uint8_t)~TLSCONN_WR_WANTS_READ;
		c->x->cout_blocked = false;	/* the write may go on now */
	}
	cin = &c->x->cin;
	/* A zero-length recv would read as EOF: only read into real room. */
	if (buf_tail(cin, cin->cap) == 0)
		return;
	/* Lingering discards what comes: no need to decrypt it. */
	if (c->ssl != NULL && c->state != CONN_LINGER)
		n = tlsconn_recv(c, cin->data + cin->end, cin->cap - cin->end);
	else
		n = recv(c->fd, cin->data + cin->end, cin->cap - cin->end, 0);
	if (n > 0)
		cin->end += (size_t)n;
	else if (n == 0)
		c->client_eof = true;
	else if (errno != EAGAIN && errno != EINTR) {
		c->client_eof = true;
		if (c->state != CONN_LINGER)
			conn_abort(c, c->ssl != NULL ? tlsconn_error() :
			    strerror(errno));
	}
}

static void
conn_client_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	(void)fd;
	if (what & EV_TIMEOUT)
		conn_abort(c, "client timed out sending the request body");
	else if (c->state == CONN_HANDSHAKE)
		conn_tls_step(c);
	else
		conn_client_read(c);
	conn_pump(c);
}

/*
 * The socket stayed unwritable for a whole client_timeout. With a large
 * send buffer and a slow but steady reader that can happen while the
 * client is still reading: count that as progress (the unsent bytes
 * queued in the kernel went down) and wait on.
 */
static bool
conn_client_draining(struct conn *c)
{
	int queued;

	if (ioctl(c->fd, SIOCOUTQ, &queued) == -1 || queued >= c->x->outq)
		return false;
	c->x->outq = queued;
	return true;
}

static void
conn_client_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	(void)fd;
	if (what & EV_TIMEOUT) {
		if (!conn_client_draining(c))
			conn_abort(c, "client timed out reading the response");
	} else if (c->state == CONN_HANDSHAKE)
		conn_tls_step(c);
	else {
		c->x->cout_blocked = false;
		if (c->tls_wants & TLSCONN_RD_WANTS_WRITE)
			conn_client_read(c);
	}
	conn_pump(c);
}

/*
 * Drive the TLS handshake. Done: wait for the first request under the
 * head timeout, which starts afresh. A plain HTTP request gets its 400 in
 * clear text; anything else that fails closes.
 */
static void
conn_tls_step(struct conn *c)
{
	char why[300];

	switch (tlsconn_handshake(c)) {
	case TLSCONN_AGAIN:
		break;
	case TLSCONN_DONE:
		conn_enter_head(c);
		break;
	case TLSCONN_PLAIN:
		tlsconn_free(c);
		c->state = CONN_HEAD;
		if (conn_bufs_attach(c) == -1)
			conn_abort(c, "out of memory for buffers");
		else
			conn_error(c, 400, "plain HTTP request on a TLS port");
		break;
	case TLSCONN_FAILED:
		snprintf(why, sizeof(why), "TLS handshake failed: %s",
		    tlsconn_error());
		conn_abort(c, why);
		break;
	}
}

void
conn_shut_write(struct conn *c)
{
	if (c->ssl != NULL)
		tlsconn_close_notify(c);
	shutdown(c->fd, SHUT_WR);
}

/*
 * Has the client sent bytes we have not read yet? A request can arrive
 * just as the idle deadline (or a draining worker's grace) runs out, with
 * the timer's callback run before the read event's in the same loop turn:
 * closing then would drop a request the client already sent. Once read,
 * those bytes put the connection under the head timeout, so this extends
 * an idle connection once, never a slow head.
 */
static bool
conn_client_pending(struct conn *c)
{
	char b;

	return recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) > 0 ||
	    (c->ssl != NULL && tlsconn_pending(c));
}

/* The one-shot deadline: header/idle wait, linger, or tunnel idleness. */
static void
conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	(void)fd;
	(void)what;
	switch (c->state) {
	case CONN_HEAD:
		/*
		 * Still delivering the last response: the write timeout
		 * governs a client that stopped reading; wait on.
		 */
		if (c->x != NULL && buf_len(&c->x->cout) > 0)
			conn_enter_head(c);
		else if (c->x != NULL && buf_len(&c->x->cin) > 0)
			conn_error(c, 408, "client timed out sending the "
			    "request head");
		else if (conn_client_pending(c))
			conn_enter_head(c);	/* the read event serves it */
		else
			conn_abort(c, NULL);
		break;
	case CONN_HANDSHAKE:
		conn_abort(c, "TLS handshake timed out");
		break;
	case CONN_TUNNEL:
		conn_abort(c, "tunnel idle timeout");
		break;
	case CONN_PROXY:
		retry_fire(c);		/* the retry backoff ran out */
		break;
	case CONN_LINGER:
		conn_release(c);
		break;
	default:
		conn_abort(c, NULL);
		break;
	}
	conn_pump(c);
}

/* Send as much of cout as the socket takes; true if anything went out. */
bool
conn_flush_client(struct conn *c)
{
	bool progress = false;
	ssize_t n;

	while (buf_len(&c->x->cout) > 0 && !c->x->cout_blocked &&
	    c->state != CONN_DEAD) {
		n = c->ssl != NULL ? tlsconn_send(c, buf_head(&c->x->cout),
		    buf_len(&c->x->cout)) : send(c->fd, buf_head(&c->x->cout),
		    buf_len(&c->x->cout), MSG_NOSIGNAL);
		if (n > 0) {
			buf_consume(&c->x->cout, (size_t)n);
			c->x->cout_sent += (uint64_t)n;
			c->x->tls_write_pending = false;
			progress = true;
		} else if (n == -1 && errno == EAGAIN) {
			c->x->cout_blocked = true;
			c->x->outq = INT_MAX;
			/* TLS took the bytes into a record already. */
			c->x->tls_write_pending = c->ssl != NULL;
		}
		else if (n == -1 && errno == EINTR)
			continue;
		else {
			conn_abort(c, c->ssl != NULL ? tlsconn_error() :
			    strerror(errno));
			return true;
		}
	}
	return progress;
}

/* Arm the idle/header deadline and wait for the next request head. */
void
conn_enter_head(struct conn *c)
{
	struct worker *w = c->w;

	c->state = CONN_HEAD;
	/* No response of the next exchange has started yet. */
	if (c->x != NULL)
		c->x->resp_head_done = c->x->resp_done = false;
	/*
	 * A draining worker waits only a short grace for the next request on
	 * a kept connection: closing at once would race with a request the
	 * client is already sending.
	 */
	evtimer_add(&c->tev, w->stopping ? w->drain_grace_tv :
	    w->fe_client_tv[c->fe - w->cfg->frontends]);
}

void
conn_drain_all(struct worker *w)
{
	for (struct conn *c = w->conns; c != NULL; c = c->next)
		if (c->state == CONN_HEAD &&
		    (c->x == NULL || buf_len(&c->x->cin) == 0))
			conn_enter_head(c);
}

void
conn_enter_closing(struct conn *c)
{
	c->state = CONN_CLOSING;
	c->x->keep_alive = false;
	evtimer_del(&c->tev);
}

/* Count a response this frontend gave a client, by status class. */
static void
conn_count_response(struct conn *c, int status)
{
	shm_stat_inc(&c->w->st.frontends[c->fe->slot].responses[
	    shm_stat_class(status)]);
}

/*
 * A forwarded response is counted once it ends (complete, or cut after its
 * head went out), not when its head is queued: a head taken back before
 * any byte of it left is answered 502 instead (exchange_resp_broken()).
 */
void
conn_settle_response(struct conn *c)
{
	if (c->x != NULL && c->x->fe_status != 0) {
		conn_count_response(c, c->x->fe_status);
		c->x->fe_status = 0;
	}
}

/* Release everything the connection holds and mark it for freeing. */
static void
conn_release(struct conn *c)
{
	if (c->state == CONN_DEAD)
		return;
	conn_settle_response(c);
	if (c->x != NULL && c->x->rec != NULL)
		alog_release(c);
	if (c->x != NULL && (c->x->up != NULL || c->x->server >= 0 ||
	    c->x->queued))
		exchange_release(c, false);
	event_del(&c->rev);
	event_del(&c->wev);
	event_del(&c->tev);
	if (c->ssl != NULL)
		tlsconn_free(c);
	close(c->fd);
	c->fd = -1;
	c->state = CONN_DEAD;
}

void
conn_abort(struct conn *c, const char *why)
{
	if (c->state == CONN_DEAD)
		return;
	if (why != NULL)
		log_info("client %s: closing: %s", conn_peer(c), why);
	conn_release(c);
}

void
conn_error(struct conn *c, int status, const char *fmt, ...)
{
	char cause[256];
	va_list ap;

	if (c->state == CONN_DEAD)
		return;
	va_start(ap, fmt);
	vsnprintf(cause, sizeof(cause), fmt, ap);
	va_end(ap);
	if (c->x->resp_head_done || c->state == CONN_TUNNEL) {
		/*
		 * The client already has a response head: all we can do is
		 * cut it short.
		 */
		log_warnx("client %s: response cut short: %s", conn_peer(c),
		    cause);
		if (c->x->rec != NULL)
			c->x->rec->cut = ALOG_CUT_ERROR;
		conn_release(c);
		return;
	}
	log_warnx("client %s: %d %s: %s", conn_peer(c), status,
	    errpage_reason(status), cause);
	conn_answer(c, status);
}

/*
 * Answer status with header lines hdrs[0..hlen) (each ending in CRLF) and
 * body[0..blen) (NULL: the standard text), then close. The caller checked
 * that they fit the client's buffer (ERRPAGE_ROOM + hlen + blen <=
 * cout_cap). They wait in uout, which no exchange uses now, until
 * conn_errpage() queues the page.
 */
void
conn_answer_with(struct conn *c, int status, const char *hdrs, size_t hlen,
    const char *body, size_t blen)
{
	struct buf *extra = &c->x->uout;

	conn_answer(c, status);
	buf_reset(extra);
	if (hlen > 0)
		buf_append(extra, hdrs, hlen);
	c->x->answer_hlen = (uint32_t)hlen;
	c->x->answer_body = body != NULL;
	/* Only a framed request gets here: req.is_head is set. */
	c->x->answer_head = c->x->req.is_head;
	if (body != NULL && blen > 0)
		buf_append(extra, body, blen);
}

/*
 * Answer a request weir takes itself (a route's redirect or return, no
 * route) and keep the connection, as nginx does, when that is safe: the
 * request has no body to skip, the client keeps connections, the worker
 * is not draining and the answer fits behind what cout holds. Otherwise
 * as conn_answer_with(), which closes.
 */
void
conn_answer_keep(struct conn *c, const struct http_msg *msg, int status,
    const char *hdrs, size_t hlen, const char *body, size_t blen)
{
	struct alog_rec *r = c->x->rec;
	struct errpage_extra ex = {
		.hdrs = hdrs, .hlen = hlen, .body = body, .blen = blen,
		.head = c->x->req.is_head, .keep = true,
		.http10 = msg->version_minor == 0,
	};

	if (c->x->req.body != HTTP_BODY_NONE || !c->x->req.keep_alive ||
	    c->x->req.upgrade || c->w->stopping) {
		conn_answer_with(c, status, hdrs, hlen, body, blen);
		return;
	}
	if (r != NULL) {
		alog_error(c, status);
		if (r->id_len > 0 && c->fe->request_id != NULL) {
			ex.id_name = c->fe->request_id;
			ex.id = r->id;
		}
	}
	if (errpage_append(&c->x->cout, status, &ex) == -1) {
		conn_answer_with(c, status, hdrs, hlen, body, blen);
		return;
	}
	if (r != NULL)
		alog_done(c);
	shm_stat_inc(&c->w->st.frontends[c->fe->slot].requests);
	conn_count_response(c, status);
	buf_consume(&c->x->cin, msg->head_len);
	conn_enter_head(c);
}

/* Answer status ourselves (queued as room allows), then close. */
static void
conn_answer(struct conn *c, int status)
{
	if (c->x->rec != NULL)
		alog_error(c, status);
	/* A request that never reached exchange_start() is counted here. */
	if (c->state == CONN_HEAD)
		shm_stat_inc(&c->w->st.frontends[c->fe->slot].requests);
	c->x->fe_status = 0;		/* a forwarded head was taken back */
	conn_count_response(c, status);
	exchange_release(c, false);
	buf_reset(&c->x->cin);
	conn_enter_closing(c);
	/* Queued after earlier pipelined responses, as room allows. */
	c->x->err_status = status;
}

/* Map a scan or parse failure of a request head onto the status to send. */
static void
conn_head_reject(struct conn *c, enum scan_result r, const char *why)
{
	if (r == SCAN_TOO_LARGE)
		conn_error(c, 431, "request head over %llu bytes",
		    (unsigned long long)c->fe->max_header_size);
	else
		conn_error(c, 400, "malformed request head: %s", why);
}

/* The Host without its port: "[::1]:80" -> "[::1]", "a.test:80" -> "a.test". */
static size_t
conn_host_len(struct http_span host)
{
	const char *end;

	if (host.len == 0)
		return 0;		/* HTTP/1.0 without Host: p may be NULL */
	if (host.p[0] == '[') {
		end = memchr(host.p, ']', host.len);
		return end == NULL ? 0 : (size_t)(end - host.p) + 1;
	}
	end = memchr(host.p, ':', host.len);
	return end == NULL ? host.len : (size_t)(end - host.p);
}

/*
 * redirect_https on a plain listener: 308 to the same target over https
 * (the method and body are kept by a 308, RFC 9110 15.4.9), then close.
 */
static void
conn_redirect_https(struct conn *c)
{
	struct http_span host = c->x->req.host, target = c->x->req.path;
	size_t len = conn_host_len(host), cap;
	char *loc;
	int n;

	if (len == 0) {
		conn_error(c, 400, "redirect_https: the request has no Host");
		return;
	}
	if (target.len == 1 && target.p[0] == '*')
		target = (struct http_span){ "/", 1 };	/* OPTIONS * */
	/* "Location: https://" HOST TARGET CRLF NUL */
	cap = 18 + len + target.len + 3;
	/* The answer must fit the client's buffer with its header lines. */
	if (cap + ERRPAGE_ROOM > c->w->cout_cap || (loc = malloc(cap)) == NULL) {
		conn_error(c, 414, "redirect_https: the URL would be %zu "
		    "bytes long", 8 + len + target.len);
		return;
	}
	n = snprintf(loc, cap, "Location: https://%.*s%.*s\r\n", (int)len,
	    host.p, (int)target.len, target.p);
	log_debug("client %s: 308 to https://%.*s%.*s", conn_peer(c),
	    (int)len, host.p, (int)target.len, target.p);
	conn_answer_with(c, 308, loc, (size_t)n, NULL, 0);
	free(loc);
}

/* Parse a complete request head out of cin and start its exchange. */
static bool
conn_read_head(struct conn *c)
{
	struct http_msg *msg = c->w->msg;
	size_t skipped = 0, head_len = 0;
	const char *why = "";
	enum scan_result r;
	int status;

	if (c->x == NULL)
		return false;		/* idle: nothing read yet */
	/* An answer before framing knows is not to a HEAD (conn_errpage()
	 * reads this; req is not zeroed when the block is lent). */
	c->x->req.is_head = false;
	if (buf_len(&c->x->cin) == 0) {
		if (!c->client_eof)
			return false;
		conn_enter_closing(c);	/* deliver what is queued, then close */
		return true;
	}
	if (c->x->rec != NULL && c->x->rec->state != ALOG_ACTIVE)
		alog_begin(c);
	/* An answer to a head framing never saw is not one to a HEAD. */
	c->x->req.is_head = false;
	r = scan_head(buf_head(&c->x->cin), buf_len(&c->x->cin),
	    c->fe->max_header_size, &skipped, &head_len, &why);
	if (r == SCAN_INCOMPLETE) {
		if (!c->client_eof)
			return false;
		conn_error(c, 400, "client closed inside the request head");
		return true;
	}
	if (r != SCAN_OK) {
		conn_head_reject(c, r, why);
		return true;
	}
	buf_consume(&c->x->cin, skipped);
	/* Framing sets it; an error page for a head that never got there
	 * (conn_errpage()) must not read the last request's, or garbage. */
	c->x->req.is_head = false;
	status = parser_head(buf_head(&c->x->cin), head_len, PARSER_REQUEST,
	    msg, &why);
	if (status == 0 && c->x->rec != NULL)
		alog_head(c, msg, skipped + head_len);
	if (status == 0)
		status = framing_request(msg, c->fe->max_body_size, &c->x->req,
		    &why);
	if (status == 0)
		status = policy_request(c, msg, &why);
	if (status == 0)
		status = routing_request(c, msg, &why);
	if (status != 0) {
		conn_error(c, status, "%s", why);
		return true;
	}
	evtimer_del(&c->tev);
	if (c->fe->redirect_https && c->ssl == NULL)
		conn_redirect_https(c);
	else
		routing_dispatch(c, msg);
	return true;
}

/* Queue the error page (with the request id, if any); 0 or -1 (no room). */
static int
conn_errpage(struct conn *c)
{
	struct alog_rec *r = c->x->rec;
	bool id = r != NULL && r->id_len > 0 && c->fe->request_id != NULL;

	/* What conn_answer_with() added waits in uout. */
	const char *extra = buf_head(&c->x->uout);
	struct errpage_extra ex = {
		.hdrs = extra, .hlen = c->x->answer_hlen,
		.body = c->x->answer_body ? extra + c->x->answer_hlen : NULL,
		.blen = buf_len(&c->x->uout) - c->x->answer_hlen,
		.id_name = id ? c->fe->request_id : NULL,
		.id = id ? r->id : NULL, .head = c->x->answer_head,
	};

	if (errpage_append(&c->x->cout, c->x->err_status, &ex) == -1)
		return -1;
	buf_reset(&c->x->uout);
	c->x->answer_hlen = 0;
	c->x->answer_body = c->x->answer_head = false;
	if (r != NULL)
		alog_done(c);
	return 0;
}

/*
 * Flush the final bytes, shut our side, then read until the client goes;
 * or close at once when the client is done: it asked to close, so it
 * sends nothing more (RFC 9112 9.6), and with nothing unread the close
 * sends a FIN, not a reset. nginx closes the same way; the linger would
 * cost such a client's connection a wakeup more. Anything unread (a
 * client that pipelined past its "close") makes us linger as before.
 */
static bool
conn_closing_step(struct conn *c)
{
	bool progress = false;

	if (c->x->err_status != 0 && conn_errpage(c) == 0) {
		c->x->err_status = 0;
		progress = true;
	}
	progress |= conn_flush_client(c);
	if (c->state != CONN_CLOSING || buf_len(&c->x->cout) > 0 ||
	    c->x->err_status != 0)
		return progress;
	if (c->client_eof) {
		conn_release(c);
		return true;
	}
	/*
	 * Unread means buffered in cin (pipelined, or read by a TLS write
	 * since) or waiting in the socket. Bytes still in flight can meet
	 * our close with a reset: only a client that broke its own "close"
	 * can lose its response this way.
	 */
	if (c->x->client_done && buf_len(&c->x->cin) == 0 &&
	    !conn_client_pending(c)) {
		if (c->ssl != NULL)
			tlsconn_close_notify(c);
		conn_release(c);
		return true;
	}
	conn_shut_write(c);
	c->state = CONN_LINGER;
	buf_reset(&c->x->cin);
	c->x->linger_until_ms = clock_ms() + WORKER_LINGER_MAX_MS;
	evtimer_add(&c->tev, c->w->linger_tv);
	return true;
}

/*
 * Discard what a client still sends after our last response, so closing
 * does not reset the connection before it has read that response. Each
 * read extends the wait, up to a cap on the whole linger.
 */
static void
conn_linger_step(struct conn *c)
{
	if (c->client_eof || clock_ms() >= c->x->linger_until_ms) {
		conn_release(c);
		return;
	}
	if (buf_len(&c->x->cin) > 0) {
		buf_reset(&c->x->cin);
		evtimer_add(&c->tev, c->w->linger_tv);
	}
}

/*
 * TLS may hold bytes already taken off the socket (a second record read
 * ahead, or the request that came with the handshake's last flight): no
 * socket event will announce them, so run the read callback for them.
 * Not after a read that wanted more bytes: those must come from the
 * socket, and its event will say so.
 */
static void
conn_tls_kick(struct conn *c, bool want_read)
{
	if (c->ssl != NULL && want_read && c->state != CONN_LINGER &&
	    !(c->tls_wants & (TLSCONN_RD_DRY | TLSCONN_RD_WANTS_WRITE)) &&
	    tlsconn_pending(c))
		event_active(&c->rev, EV_READ, 0);
}

/* Arm the client events for the current state. */
static void
conn_update_events(struct conn *c)
{
	const struct timeval *client_tv =
	    c->w->fe_client_tv[c->fe - c->w->cfg->frontends];
	struct exch *x = c->x;
	bool want_read, want_write;
	const struct timeval *read_tv = NULL;

	if (c->state == CONN_HANDSHAKE) {
		/* Bounded as a whole by the timer, not per event. */
		want_write = c->tls_wants & TLSCONN_HS_WANTS_WRITE;
		worker_ev_want(&c->rev, &c->rev_on, &c->rev_tv, !want_write,
		    NULL);
		worker_ev_want(&c->wev, &c->wev_on, &c->wev_tv, want_write,
		    NULL);
		return;
	}
	if (x == NULL) {
		/* Idle: there is room, reading lends a block. */
		worker_ev_want(&c->rev, &c->rev_on, &c->rev_tv,
		    !c->client_eof, NULL);
		worker_ev_want(&c->wev, &c->wev_on, &c->wev_tv, false, NULL);
		conn_tls_kick(c, !c->client_eof);
		return;
	}
	/* A TLS read that must write first waits for writability only. */
	want_read = (!c->client_eof && buf_room(&x->cin) > 0 &&
	    c->state != CONN_CLOSING && !(c->tls_wants &
	    TLSCONN_RD_WANTS_WRITE)) || (c->tls_wants &
	    TLSCONN_WR_WANTS_READ);
	if (c->state == CONN_PROXY && !x->req_done)
		read_tv = client_tv;
	want_write = (x->cout_blocked && buf_len(&x->cout) > 0 &&
	    !(c->tls_wants & TLSCONN_WR_WANTS_READ)) ||
	    (c->tls_wants & TLSCONN_RD_WANTS_WRITE);
	worker_ev_want(&c->rev, &c->rev_on, &c->rev_tv, want_read, read_tv);
	worker_ev_want(&c->wev, &c->wev_on, &c->wev_tv, want_write, client_tv);
	conn_tls_kick(c, want_read);
	if (x->up != NULL)
		exchange_update_events(c);
}

/* Free a released connection: its block and its object go back. */
static void
conn_free(struct conn *c)
{
	struct worker *w = c->w;

	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		w->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	if (c->x != NULL)
		conn_bufs_detach(c);
	shm_stat_dec(&w->st.frontends[c->fe->slot].conns);
	slab_free(&w->conn_slabs, c);
	w->nconns--;
	worker_conn_closed(w);
}

/*
 * Move bytes until nothing moves, then arm exactly the events that the
 * buffers call for. Every event callback ends here, and a connection is
 * freed only here, so no callback ever touches freed memory.
 */
void
conn_pump(struct conn *c)
{
	bool progress;

	do {
		switch (c->state) {
		case CONN_HEAD:
			progress = conn_read_head(c);
			if (c->x != NULL)
				progress |= conn_flush_client(c);
			break;
		case CONN_PROXY:
			progress = exchange_step(c);
			break;
		case CONN_TUNNEL:
			progress = exchange_tunnel_step(c);
			break;
		case CONN_CLOSING:
			progress = conn_closing_step(c);
			break;
		case CONN_LINGER:
			conn_linger_step(c);
			progress = false;
			break;
		default:
			progress = false;
			break;
		}
	} while (progress && c->state != CONN_DEAD);
	if (c->state == CONN_DEAD) {
		conn_free(c);
		return;
	}
	if (c->x != NULL && c->x->rec != NULL)
		alog_pump(c);
	if (c->x != NULL && conn_idle(c))
		conn_bufs_detach(c);
	conn_update_events(c);
}

void
conn_upstream_event(struct conn *c, short what, bool write_side)
{
	exchange_upstream_io(c, what, write_side);
	conn_pump(c);
}

/*
 * Lend the connection a block: the exchange area, then its four buffers.
 * Every path that moves bytes starts with a client read (or an error page
 * to queue), so that is where a connection gets its block; conn_pump()
 * takes it back once idle.
 */
static int
conn_bufs_attach(struct conn *c)
{
	struct worker *w = c->w;
	char *mem = bufpool_get(&w->bufs);
	struct exch *x = (struct exch *)(void *)mem;

	if (mem == NULL)
		return -1;
	memset(x, 0, EXCH_ZEROED);
	x->peer[0] = '\0';
	mem += CONN_EXCH_SIZE;
	x->cin = (struct buf){ .data = mem, .cap = w->cin_cap };
	mem += w->cin_cap;
	x->cout = (struct buf){ .data = mem, .cap = w->cout_cap };
	mem += w->cout_cap;
	x->uin = (struct buf){ .data = mem, .cap = w->uin_cap };
	mem += w->uin_cap;
	x->uout = (struct buf){ .data = mem, .cap = w->uout_cap };
	mem += w->uout_cap;
	x->server = -1;
	x->client_sa = &c->peer_sa.sa;
	x->client_ip = c->peer_ip;
	c->x = x;
	if (w->alog_rec_size > 0 && alog_wanted(c->fe))
		alog_attach(c, mem);
	return 0;
}

/* Give the block back: the connection holds no bytes (or is gone). */
static void
conn_bufs_detach(struct conn *c)
{
	bufpool_put(&c->w->bufs, c->x);
	c->x = NULL;
}

/*
 * Idle between requests: waiting for a head with nothing read, nothing
 * left to send and no exchange. (uin and uout are empty once an exchange
 * is released.) Such a connection needs no block, as in nginx, which
 * frees its header buffer on idle keep-alive connections.
 */
static bool
conn_idle(const struct conn *c)
{
	const struct exch *x = c->x;

	return c->state == CONN_HEAD && buf_len(&x->cin) == 0 &&
	    buf_len(&x->cout) == 0 && x->up == NULL && x->err_status == 0 &&
	    !(c->tls_wants & TLSCONN_RD_WANTS_WRITE);
}

void
conn_peer_addr(const struct conn *c, char *buf, size_t len)
{
	confval_addr_str(&c->peer_sa.sa, buf, len);
}

const char *
conn_peer(struct conn *c)
{
	static char idle_label[CONN_PEER_LABEL];

	if (c->x == NULL) {
		conn_peer_addr(c, idle_label, sizeof(idle_label));
		return idle_label;
	}
	if (c->x->peer[0] == '\0')
		conn_peer_addr(c, c->x->peer, sizeof(c->x->peer));
	return c->x->peer;
}

/* Set up a new connection object for a client socket. */
static void
conn_init(struct conn *c, struct worker *w, int fd, uint32_t frontend)
{
	memset(c, 0, sizeof(*c));	/* no block until bytes arrive */
	c->w = w;
	c->fd = fd;
	c->fe = &w->cfg->frontends[frontend];
	c->backend = c->fe->backend == CONFIG_NO_BACKEND ? CONN_NO_BACKEND :
	    (uint32_t)c->fe->backend;
	event_assign(&c->rev, w->base, fd, EV_READ | EV_PERSIST,
	    conn_client_read_cb, c);
	event_assign(&c->wev, w->base, fd, EV_WRITE | EV_PERSIST,
	    conn_client_write_cb, c);
	evtimer_assign(&c->tev, w->base, conn_timer_cb, c);
}

/* The peer's address, and as text without the port for X-Forwarded-For. */
static void
conn_set_peer(struct conn *c, const struct sockaddr *peer, socklen_t peerlen)
{
	const void *a;

	if ((size_t)peerlen > sizeof(c->peer_sa))
		peerlen = sizeof(c->peer_sa);
	memcpy(&c->peer_sa, peer, peerlen);
	a = peer->sa_family == AF_INET6 ?
	    (const void *)&c->peer_sa.in6.sin6_addr :
	    (const void *)&c->peer_sa.in.sin_addr;
	if (inet_ntop(peer->sa_family, a, c->peer_ip, sizeof(c->peer_ip)) ==
	    NULL)
		snprintf(c->peer_ip, sizeof(c->peer_ip), "unknown");
}

void
conn_accept(struct worker *w, int fd, uint32_t frontend, bool tls,
    const struct sockaddr *peer, socklen_t peerlen)
{
	struct conn *c;
	int one = 1;

	if ((c = slab_alloc(&w->conn_slabs)) == NULL) {
		log_warn("accept: out of memory for a connection");
		close(fd);
		return;
	}
	w->nconns++;
	conn_init(c, w, fd, frontend);
	shm_stat_inc(&w->st.frontends[c->fe->slot].conns);
	shm_stat_inc(&w->st.frontends[c->fe->slot].accepted);
	c->next = w->conns;
	if (w->conns != NULL)
		w->conns->prev = c;
	w->conns = c;
	conn_set_peer(c, peer, peerlen);
	policy_accept(c);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (!tls)
		conn_enter_head(c);
	else if (tlsconn_new(c, tls_gen_frontend(w->tls, frontend)) == 0) {
		/* The whole handshake gets one client_timeout. */
		c->state = CONN_HANDSHAKE;
		evtimer_add(&c->tev, w->fe_client_tv[frontend]);
		/*
		 * A client sends its ClientHello right after connecting, so
		 * it is usually here by the time the connection is accepted:
		 * answer it now rather than one event loop round later.
		 */
		conn_tls_step(c);
		conn_pump(c);
		return;
	} else {
		log_warnx("accept: out of memory for TLS");
		conn_abort(c, NULL);
		conn_pump(c);
		return;
	}
	conn_update_events(c);
}
