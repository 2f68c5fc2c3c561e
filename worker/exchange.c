/*
 * Owns one request/response exchange with a backend: forwarding the request
 * (re-serialized head, re-framed body), reading the response, re-framing it
 * for the client, replaying a request that met a stale pooled connection,
 * and the byte tunnel after 101.
 */
#include "autoconf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/event.h>

#include "balancer/balancer.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/log.h"
#include "http/hdrrule.h"
#include "shm/shm.h"
#include "shm/stats.h"
#include "worker/alog.h"
#include "worker/conn.h"
#include "worker/queue.h"
#include "worker/tlsconn.h"
#include "worker/upstream.h"
#include "worker/worker.h"

#define EXCHANGE_MAX_REPLAYS	2
#define EXCHANGE_MAX_TRIES	CONN_MAX_TRIES
#define CHUNK_OVERHEAD		24	/* size line + CRLF around one chunk */
#define LAST_CHUNK		"0\r\n\r\n"

static const char continue_100[] = "HTTP/1.1 100 Continue\r\n\r\n";

/* What exchange_choose() found. */
enum exchange_choice {
	EXCHANGE_CHOSEN,	/* a server, its place claimed */
	EXCHANGE_NONE,		/* no usable server left for this request */
	EXCHANGE_FULL,		/* servers are up, but every one is full */
};

static const char *
exchange_server_name(const struct conn *c)
{
	return c->x->server >= 0 ? c->w->shm->servers[c->x->server].addr : "-";
}

/* Count a failed attempt against its server, by reason. */
static void
exchange_count_failure(struct conn *c, enum shm_fail why)
{
	if (c->x->server >= 0)
		shm_stat_inc(&c->w->st.servers[c->x->server].failures[why]);
}

static void
exchange_reset(struct conn *c)
{
	c->x->req_left = 0;
	chunk_init(&c->x->req_dec);
	chunk_init(&c->x->resp_dec);
	c->x->req_body_total = 0;
	c->x->req_done = false;
	c->x->uout_sent = 0;
	c->x->uout_blocked = false;
	c->x->replayable = true;
	c->x->replays = 0;
	c->x->resp_started = c->x->resp_head_done = c->x->resp_done = false;
	c->x->resp_left = 0;
	c->x->resp_chunked_out = false;
	c->x->up_eof = c->x->up_write_dead = false;
	c->x->up_errno = 0;
	c->x->tunnel_up_shut = c->x->tunnel_client_shut = false;
	c->x->ntried = c->x->attempts = 0;
	c->x->key_saved = false;
	c->x->trial = c->x->verdict_pending = false;
	c->x->body_in = 0;
	buf_reset(&c->x->uin);
	buf_reset(&c->x->uout);
}

/*
 * Give the attempt's place at its server back. It may be what a queued
 * request of this worker waits for: if any waits, serve the queues (one
 * test when none does).
 */
static void
exchange_unclaim(struct conn *c)
{
	shm_inflight_dec(c->w->shm, c->w->wslot, (uint32_t)c->x->server);
	c->x->server = -1;
	if (c->w->nqueued > 0)
		queue_wake(c->w);
}

void
exchange_release(struct conn *c, bool reusable)
{
	if (c->x->queued)
		queue_remove(c);
	/* A trial that ended with no verdict must not hold its server out. */
	if (c->x->trial && c->x->server >= 0)
		outlier_abandon(c->w->shm, (uint32_t)c->x->server);
	c->x->trial = c->x->verdict_pending = false;
	if (c->x->up != NULL) {
		upstream_release(c->x->up, reusable);
		c->x->up = NULL;
	}
	if (c->x->server >= 0)
		exchange_unclaim(c);
	buf_reset(&c->x->uin);
	buf_reset(&c->x->uout);
	c->x->uout_sent = 0;
}

/* Body framing state for the request just parsed; 100 Continue if asked. */
static void
exchange_req_body_init(struct conn *c)
{
	switch (c->x->req.body) {
	case HTTP_BODY_LENGTH:
		c->x->req_left = c->x->req.length;
		c->x->req_done = c->x->req_left == 0;
		break;
	case HTTP_BODY_CHUNKED:
		break;
	default:
		c->x->req_done = true;
		break;
	}
	if (c->x->req.expect_continue && !c->x->req_done &&
	    !c->x->client_http10 &&
	    buf_tail(&c->x->cout, sizeof(continue_100)) >= sizeof(continue_100))
		buf_append(&c->x->cout, continue_100, sizeof(continue_100) - 1);
}

/*
 * Take a place at member m's server: a plain count without a limit (the
 * path of every request of a backend without max_conns), else a CAS
 * under max_conns; false if another worker took the last place first.
 */
static bool
exchange_claim(struct conn *c, const struct bal_pool *pool, uint32_t m)
{
	struct worker *w = c->w;

	if (!pool->limited || pool->max_conns[m] == 0) {
		shm_inflight_inc(w->shm, w->wslot, pool->slot[m]);
		return true;
	}
	return shm_inflight_claim(w->shm, w->wslot, pool->slot[m],
	    pool->max_conns[m]);
}

/*
 * The pick found nothing: is every usable server full (wait for a place)
 * or is nothing up that this request has not tried (give up)?
 */
static enum exchange_choice
exchange_none(struct conn *c, const struct bal_pool *pool,
    const struct bal_request *breq)
{
	if (pool->limited && balancer_has_other(c->w->shm, pool, breq))
		return EXCHANGE_FULL;
	return EXCHANGE_NONE;
}

/*
 * Choose a server not tried yet for this request and claim a place there
 * (counting the request against it). msg (the request head, for hash
 * keys) is NULL on retries and for queued requests: the head is no longer
 * in cin then, and a queued request's key was saved before it waited.
 * A place lost to another worker between pick and claim is not a try:
 * pick again, as often as the pool has members, then call it full.
 */
static enum exchange_choice
exchange_choose(struct conn *c, const struct http_msg *msg)
{
	struct worker *w = c->w;
	const struct bal_pool *pool = worker_bal(w, c->backend);
	struct bal_request breq = {
		.client = c->x->client_sa,
		.uri = c->x->req.path.p, .uri_len = c->x->req.path.len,
		.msg = msg, .rng = &w->rng, .now_ms = clock_ms(),
		.exclude = c->x->tried,
		.key_given = c->x->key_saved, .key_found = c->x->key_found,
		.key_hash = c->x->key_hash,
	};
	enum outlier_claim claim;
	uint32_t lost = 0;
	int m;

	while (c->x->ntried < EXCHANGE_MAX_TRIES) {
		breq.nexclude = c->x->ntried;
		if ((m = balancer_pick(w->shm, pool, &breq)) < 0)
			return exchange_none(c, pool, &breq);
		if (!exchange_claim(c, pool, (uint32_t)m)) {
			if (++lost > pool->n)
				return EXCHANGE_FULL;
			continue;
		}
		c->x->tried[c->x->ntried++] = pool->slot[m];
		c->x->server = (int)pool->slot[m];
		/* An ejected server whose time is up gets exactly one trial. */
		if ((claim = outlier_claim(w->shm, pool, pool->slot[m])) ==
		    OUTLIER_BUSY) {
			exchange_unclaim(c);
			continue;
		}
		c->x->trial = claim == OUTLIER_TRIAL;
		if (c->x->rec != NULL)
			alog_server(c, pool->slot[m]);
		c->x->attempts++;
		c->x->sent_us = 0;
		shm_stat_inc(&w->st.servers[c->x->server].requests);
		return EXCHANGE_CHOSEN;
	}
	return EXCHANGE_NONE;
}

/*
 * balance = hash: save the request's key while its head is in cin, so the
 * picks of a queued request hash what its first pick would have.
 */
static void
exchange_save_key(struct conn *c, const struct http_msg *msg)
{
	const struct bal_pool *pool = worker_bal(c->w, c->backend);
	struct bal_request breq = {
		.client = c->x->client_sa,
		.uri = c->x->req.path.p, .uri_len = c->x->req.path.len,
		.msg = msg,
	};

	if (pool->be->balance != CONFIG_BALANCE_HASH)
		return;
	c->x->key_found = bal_hash_key(pool, &breq, &c->x->key_hash);
	c->x->key_saved = true;
}

/* Every usable server is full: wait in the queue, or 503 if it is full too. */
static void
exchange_wait(struct conn *c)
{
	const struct backend_conf *be = &c->w->cfg->backends[c->backend];

	if (queue_add(c) == -1)
		conn_error(c, 503, "every server of backend %s is at max_conns "
		    "and %u requests wait already (max_queue)", be->name,
		    be->max_queue);
}

/* Open (or take from the pool) a connection to the chosen server. */
static void
exchange_connect(struct conn *c)
{
	/*
	 * A request that must not run twice cannot be replayed if a pooled
	 * connection turns out stale, so have the pool check it first.
	 */
	c->x->up = upstream_acquire(c->w, c->backend, (uint32_t)c->x->server,
	    c, c->x->req.idempotent ? UPSTREAM_POOLED :
	    UPSTREAM_POOLED_CHECKED);
	if (c->x->rec != NULL && c->x->up != NULL)
		alog_connecting(c, !c->x->up->connecting);
	if (c->x->up == NULL) {
		exchange_count_failure(c, SHM_FAIL_CONNECT);
		retry_fail(c, 502, "%s: connect: %s", exchange_server_name(c),
		    strerror(errno));
	}
}

bool
exchange_attempt(struct conn *c)
{
	switch (exchange_choose(c, NULL)) {
	case EXCHANGE_CHOSEN:
		exchange_connect(c);
		return true;
	case EXCHANGE_FULL:
		exchange_wait(c);
		return true;
	case EXCHANGE_NONE:
		break;
	}
	return false;
}

bool
exchange_dequeue(struct conn *c)
{
	switch (exchange_choose(c, NULL)) {
	case EXCHANGE_CHOSEN:
		queue_remove(c);
		exchange_connect(c);
		return true;
	case EXCHANGE_NONE:
		queue_remove(c);
		conn_error(c, 503, "no server available in backend %s",
		    c->w->cfg->backends[c->backend].name);
		return true;
	case EXCHANGE_FULL:
		break;
	}
	return false;
}

/* The policy the request applies: its route's, or its frontend's. */
static const struct policy_conf *
exchange_policy(const struct conn *c)
{
	return c->x->route != NULL ? &c->x->route->policy : &c->fe->policy;
}

/* Keep the Host while response rules l will need it for {host}. */
static void
exchange_keep_host(struct conn *c, const struct hdrrule_list *l)
{
	struct http_span host = c->x->req.host;

	if (!(l->vars & HDRRULE_USES(HDRRULE_HOST)))
		return;
	c->x->resp_host_len = host.len <= EXCH_HOST_MAX ?
	    (uint16_t)host.len : 0;
	if (c->x->resp_host_len > 0)
		memcpy(c->x->resp_host, host.p, c->x->resp_host_len);
}

/*
 * The response header rules l of the request, with their variables in v
 * (after alog_response() has set the request id).
 */
static void
exchange_resp_rules(struct conn *c, const struct hdrrule_list *l,
    struct rewrite_resp *rw, struct hdrrule_vars *v)
{
	*v = (struct hdrrule_vars){
		.client_ip = { c->x->client_ip, strlen(c->x->client_ip) },
		.request_id = rw->reqid,
	};
	/* Kept by exchange_keep_host() exactly when a rule uses it. */
	if (l->vars & HDRRULE_USES(HDRRULE_HOST))
		v->host = (struct http_span){ c->x->resp_host,
		    c->x->resp_host_len };
	rw->rules = l;
	rw->vars = v;
}

void
exchange_start(struct conn *c, const struct http_msg *msg)
{
	struct worker *w = c->w;
	const struct policy_conf *pol = exchange_policy(c);
	struct rewrite_req rw = {
		.client_ip = c->peer_ip, .real_ip = c->x->client_ip,
		.trusted = c->peer_trusted,
		.drop_underscore = c->fe->underscore_headers ==
		    CONFIG_UNDERSCORE_DROP,
		.upgrade_allow = (const char *const *)c->fe->upgrade_allow,
		.nupgrade_allow = c->fe->nupgrade_allow,
		.proto = c->ssl != NULL ? "https" : "http",
		.chunked = c->x->req.body == HTTP_BODY_CHUNKED,
		.has_length = c->x->req.body == HTTP_BODY_LENGTH,
		.length = c->x->req.length, .upgrade = c->x->req.upgrade,
		.rules = pol->req_list,
	};
	enum exchange_choice choice;
	char subject[1024];
	size_t n;

	exchange_reset(c);
	if (pol->resp_list != NULL)
		exchange_keep_host(c, pol->resp_list);
	if (c->ssl != NULL && c->fe->tls_client_ca.s != NULL &&
	    tlsconn_subject(c, subject, sizeof(subject)) > 0)
		rw.client_subject = subject;
	if (c->x->rec != NULL)
		alog_exchange(c, &rw);
	c->x->client_http10 = msg->version_minor == 0;
	c->x->keep_alive = c->x->req.keep_alive && !w->stopping;
	c->state = CONN_PROXY;
	shm_stat_inc(&w->st.frontends[c->fe->slot].requests);
	retry_budget_earn(c);
	/* Behind those already waiting, if any: the queue is FIFO. */
	if (queue_waiting(w, c->backend))
		choice = EXCHANGE_FULL;
	else if ((choice = exchange_choose(c, msg)) == EXCHANGE_NONE) {
		conn_error(c, 503, "no server available in backend %s",
		    w->cfg->backends[c->backend].name);
		return;
	}
	/* Waiting needs no msg: what a pick takes from it is saved now. */
	if (choice == EXCHANGE_FULL)
		exchange_save_key(c, msg);
	n = rewrite_request(c->x->uout.data, c->x->uout.cap, msg, &c->x->req,
	    &rw);
	if (n == 0) {
		conn_error(c, 431, "request head too large to forward");
		return;
	}
	c->x->uout.end = n;
	buf_consume(&c->x->cin, msg->head_len);
	exchange_req_body_init(c);
	if (choice == EXCHANGE_FULL)
		exchange_wait(c);
	else
		exchange_connect(c);
}

/*
 * This attempt failed before any response byte: report it to outlier
 * detection and drop its connection and count, keeping the request (uout)
 * for a retry.
 */
void
exchange_drop_attempt(struct conn *c)
{
	outlier_report(c->w->shm, worker_bal(c->w, c->backend),
	    (uint32_t)c->x->server, false,
	    c->x->trial);
	if (c->x->up != NULL) {
		upstream_close(c->x->up);
		c->x->up = NULL;
	}
	if (c->x->server >= 0)
		exchange_unclaim(c);
	c->x->trial = false;
	c->x->uout_sent = 0;
	c->x->uout_blocked = c->x->up_eof = c->x->up_write_dead = false;
	c->x->up_errno = 0;
	buf_reset(&c->x->uin);
}

/*
 * Room at the tail of uout. While the request may still be replayed, sent
 * bytes are kept; when more room is needed, give the replay up and drop them.
 */
static size_t
exchange_uout_room(struct conn *c, size_t want)
{
	if (c->x->uout.cap - c->x->uout.end >= want)
		return c->x->uout.cap - c->x->uout.end;
	if (c->x->replayable && c->x->uout_sent > 0)
		c->x->replayable = false;
	if (!c->x->replayable) {
		buf_consume(&c->x->uout, c->x->uout_sent);
		c->x->uout_sent = 0;
		buf_compact(&c->x->uout);
	}
	return c->x->uout.cap - c->x->uout.end;
}

/*
 * Decode chunked framing from in and write the data to out, re-chunked when
 * chunk_out (or raw, de-chunked). Returns CHUNK_MORE while it needs input or
 * room, CHUNK_END after the last chunk, CHUNK_ERR on bad framing. total
 * accumulates the data bytes.
 */
static enum chunk_result
exchange_rechunk(struct chunk_dec *d, struct buf *in, struct buf *out,
    size_t room, bool chunk_out, uint64_t *total)
{
	enum chunk_result r = CHUNK_MORE;
	const char *data;
	size_t used, len, in_len;
	char line[24];

	while (room >= 2 * CHUNK_OVERHEAD && buf_len(in) > 0) {
		in_len = buf_len(in) < room - CHUNK_OVERHEAD ? buf_len(in) :
		    room - CHUNK_OVERHEAD;
		r = chunk_decode(d, buf_head(in), in_len, &used, &data, &len);
		if (r == CHUNK_ERR)
			return r;
		if (len > 0 && chunk_out) {
			size_t ll = chunk_size_line(line, len);

			buf_append(out, line, ll);
			buf_append(out, data, len);
			buf_append(out, "\r\n", 2);
			room -= ll + len + 2;
		} else if (len > 0) {
			buf_append(out, data, len);
			room -= len;
		}
		*total += len;
		buf_consume(in, used);
		if (r == CHUNK_END) {
			if (chunk_out)
				buf_append(out, LAST_CHUNK,
				    sizeof(LAST_CHUNK) - 1);
			return r;
		}
		if (used == 0)
			break;
	}
	return CHUNK_MORE;
}

/* Move request body bytes from the client buffer to the backend buffer. */
static bool
exchange_req_body(struct conn *c)
{
	size_t before = buf_len(&c->x->cin), n;
	enum chunk_result r;

	if (c->x->req.body == HTTP_BODY_LENGTH) {
		n = buf_len(&c->x->cin);
		if (n > c->x->req_left)
			n = (size_t)c->x->req_left;
		if (n > exchange_uout_room(c, n))
			n = c->x->uout.cap - c->x->uout.end;
		buf_append(&c->x->uout, buf_head(&c->x->cin), n);
		buf_consume(&c->x->cin, n);
		c->x->req_left -= n;
		c->x->req_done = c->x->req_left == 0;
		c->x->body_in += n;
	} else {
		r = exchange_rechunk(&c->x->req_dec, &c->x->cin, &c->x->uout,
		    exchange_uout_room(c, 4096), true, &c->x->req_body_total);
		if (r == CHUNK_ERR) {
			conn_error(c, 400, "malformed chunked request body");
			return true;
		}
		if (c->fe->max_body_size != 0 &&
		    c->x->req_body_total > c->fe->max_body_size) {
			conn_error(c, 413,
			    "chunked request body over %llu bytes",
			    (unsigned long long)c->fe->max_body_size);
			return true;
		}
		c->x->req_done = r == CHUNK_END;
		c->x->body_in += before - buf_len(&c->x->cin);
	}
	if (!c->x->req_done && c->client_eof && buf_len(&c->x->cin) == 0) {
		conn_abort(c, "client closed during the request body");
		return true;
	}
	return buf_len(&c->x->cin) != before || c->x->req_done;
}

/* Write uout to the backend; keeps sent bytes while a replay is possible. */
static bool
exchange_flush_up(struct conn *c)
{
	bool progress = false;
	ssize_t n;

	if (c->x->up == NULL || c->x->up->connecting || c->x->up_write_dead)
		return false;
	while (c->x->uout_sent < buf_len(&c->x->uout) && !c->x->uout_blocked) {
		n = upstream_send(c->x->up, buf_head(&c->x->uout) +
		    c->x->uout_sent, buf_len(&c->x->uout) - c->x->uout_sent);
		if (n > 0) {
			c->x->uout_sent += (size_t)n;
			progress = true;
		} else if (n == -1 && errno == EAGAIN)
			c->x->uout_blocked = true;
		else if (n == -1 && errno == EINTR)
			continue;
		else {
			/* The response (or the reset) is still to be read. */
			c->x->up_write_dead = true;
			c->x->up_errno = errno;
			break;
		}
	}
	if (!c->x->replayable && c->x->uout_sent > 0) {
		buf_consume(&c->x->uout, c->x->uout_sent);
		c->x->uout_sent = 0;
	}
	/*
	 * The response time runs from the request's last byte on the wire
	 * (where response_timeout starts too), so a slow upload is not the
	 * server's time. CLOCK_MONOTONIC, not the coarse clock (1-4 ms
	 * ticks) nor libevent's cached time (wall clock: it steps).
	 */
	if (c->x->sent_us == 0 && c->x->req_done &&
	    c->x->uout_sent == buf_len(&c->x->uout))
		c->x->sent_us = clock_us();
	return progress;
}

/*
 * The backend closed (or reset) before any response byte. A pooled
 * connection may have been closed by the backend just as we reused it: if
 * uout still holds the whole request and the request is idempotent (RFC
 * 9110 9.2.2: running it twice is harmless), send it again on a fresh
 * connection, and the client never notices. Other requests were sent only
 * on a pooled connection that passed a liveness check just before.
 */
static void
exchange_up_failed(struct conn *c)
{
	struct upstream *up = c->x->up;

	if (up->reused && c->x->replayable && !c->x->resp_started &&
	    c->x->req.idempotent && c->x->replays < EXCHANGE_MAX_REPLAYS) {
		log_debug("client %s: %s: pooled connection closed; replaying "
		    "on a fresh one", conn_peer(c), exchange_server_name(c));
		upstream_close(up);
		c->x->replays++;
		c->x->uout_sent = 0;
		c->x->sent_us = 0;
		c->x->uout_blocked = c->x->up_eof = c->x->up_write_dead = false;
		c->x->up_errno = 0;
		c->x->up = upstream_acquire(c->w, c->backend,
		    (uint32_t)c->x->server, c, UPSTREAM_FRESH);
		if (c->x->rec != NULL && c->x->up != NULL)
			alog_connecting(c, !c->x->up->connecting);
		if (c->x->up == NULL) {
			exchange_count_failure(c, SHM_FAIL_CONNECT);
			retry_fail(c, 502, "%s: connect: %s",
			    exchange_server_name(c), strerror(errno));
		}
		return;
	}
	exchange_count_failure(c, SHM_FAIL_RESET);
	retry_fail(c, 502, "%s: %s before a response", exchange_server_name(c),
	    c->x->up_errno ? strerror(c->x->up_errno) : "connection closed");
}

/* Client-side framing and connection decision for a final response. */
static void
exchange_resp_plan(struct conn *c, struct rewrite_resp *rw)
{
	const struct http_resp_info *resp = &c->x->resp;

	memset(rw, 0, sizeof(*rw));
	rw->client_http10 = c->x->client_http10;
	/* Draining: this response tells the client to go elsewhere next. */
	if (c->w->stopping)
		c->x->keep_alive = false;
	/* A request body we did not finish reading would desync the client. */
	if (!c->x->req_done)
		c->x->keep_alive = false;
	switch (resp->body) {
	case HTTP_BODY_NONE:
		rw->has_length = resp->has_length;
		rw->length = resp->length;
		break;
	case HTTP_BODY_LENGTH:
		rw->has_length = true;
		rw->length = resp->length;
		break;
	case HTTP_BODY_CHUNKED:
	case HTTP_BODY_EOF:
		/* HTTP/1.0 has no chunked: the end of the body is our close. */
		if (c->x->client_http10)
			c->x->keep_alive = false;
		else
			c->x->resp_chunked_out = rw->chunked = true;
		break;
	}
	rw->keep_alive = c->x->keep_alive;
}

/* Write the response head for the client; false if cout has no room yet. */
static bool
exchange_resp_emit_head(struct conn *c, const struct http_msg *msg,
    const struct rewrite_resp *rw)
{
	size_t room = buf_tail(&c->x->cout, msg->head_len + 256);
	size_t n = rewrite_response(c->x->cout.data + c->x->cout.end, room, msg,
	    &c->x->resp, rw);

	if (n == 0)
		return false;
	c->x->cout.end += n;
	return true;
}

/* The final response head is out: set up its body. */
static void
exchange_resp_body_init(struct conn *c)
{
	c->x->resp_head_done = true;
	switch (c->x->resp.body) {
	case HTTP_BODY_LENGTH:
		c->x->resp_left = c->x->resp.length;
		c->x->resp_done = c->x->resp_left == 0;
		break;
	case HTTP_BODY_NONE:
		c->x->resp_done = true;
		break;
	default:
		break;
	}
}

/* Tell outlier detection how this attempt went (once per attempt). */
static void
exchange_report(struct conn *c, bool ok)
{
	if (c->x->server < 0)
		return;
	outlier_report(c->w->shm, worker_bal(c->w, c->backend),
	    (uint32_t)c->x->server, ok, c->x->trial);
	c->x->trial = false;
}

/*
 * Count a final response head (or 101) from the server, by class, and the
 * time since the whole request was sent. A head that came before the
 * request was all sent (an early answer) is timed as 0.
 */
static void
exchange_count_response(struct conn *c, int status)
{
	struct shm_stat_server_sh *st = &c->w->st.servers[c->x->server];
	uint64_t now = clock_us(), sent = c->x->sent_us;

	shm_stat_inc(&st->responses[shm_stat_class(status)]);
	shm_stat_observe(st, sent != 0 && now > sent ? now - sent : 0);
}

/* Act on a parsed response head: 1xx, 101 or the final one. */
static bool
exchange_resp_dispatch(struct conn *c, struct http_msg *msg)
{
	struct rewrite_resp rw = { .client_http10 = c->x->client_http10 };
	const struct hdrrule_list *rules = exchange_policy(c)->resp_list;
	struct hdrrule_vars v;

	if (c->x->resp.informational) {
		if (!c->x->client_http10 &&
		    !exchange_resp_emit_head(c, msg, &rw))
			return false;
		buf_consume(&c->x->uin, msg->head_len);
		return true;
	}
	if (c->x->resp.switching) {
		exchange_report(c, true);
		rw.upgrade = rw.keep_alive = true;
		if (c->x->rec != NULL)
			alog_response(c, msg, &rw);
		if (rules != NULL)
			exchange_resp_rules(c, rules, &rw, &v);
		if (!exchange_resp_emit_head(c, msg, &rw))
			return false;
		buf_consume(&c->x->uin, msg->head_len);
		exchange_count_response(c, msg->status);
		/* A tunnel has no end to wait for: the client got its 101. */
		c->x->fe_status = msg->status;
		conn_settle_response(c);
		c->x->resp_head_done = true;
		c->state = CONN_TUNNEL;
		evtimer_add(&c->tev, c->w->be_response_tv[c->backend]);
		return true;
	}
	exchange_resp_plan(c, &rw);
	if (c->x->rec != NULL)
		alog_response(c, msg, &rw);
	if (rules != NULL)
		exchange_resp_rules(c, rules, &rw, &v);
	c->x->resp_start = c->x->cout_sent + buf_len(&c->x->cout);
	if (!exchange_resp_emit_head(c, msg, &rw)) {
		if (buf_len(&c->x->cout) == 0) {
			/* The server did answer; the client gets a 502. */
			exchange_count_response(c, msg->status);
			conn_error(c, 502, "%s: response head too large",
			    exchange_server_name(c));
		}
		return buf_len(&c->x->cout) == 0;
	}
	buf_consume(&c->x->uin, msg->head_len);
	exchange_resp_body_init(c);
	exchange_count_response(c, msg->status);
	c->x->fe_status = msg->status;
	/* A good head is not yet a good response: a body cut short fails. */
	if (c->w->cfg->backends[c->backend].fail_on_5xx && msg->status >= 500)
		exchange_report(c, false);
	else
		c->x->verdict_pending = true;
	return true;
}

/* Parse a response head from uin; true if anything changed. */
static bool
exchange_resp_head(struct conn *c)
{
	struct http_msg *msg = c->w->msg;
	size_t skipped = 0, head_len = 0;
	const char *why = "";
	enum scan_result r;
	const char *name = exchange_server_name(c);

	if (buf_len(&c->x->uin) == 0) {
		if (!c->x->up_eof)
			return false;
		exchange_up_failed(c);
		return true;
	}
	r = scan_head(buf_head(&c->x->uin), buf_len(&c->x->uin), c->x->uin.cap,
	    &skipped, &head_len, &why);
	if (r == SCAN_INCOMPLETE && !c->x->up_eof)
		return false;
	if (r != SCAN_OK) {
		exchange_report(c, false);
		exchange_count_failure(c,
		    r == SCAN_INCOMPLETE ? SHM_FAIL_RESET : SHM_FAIL_INVALID);
		conn_error(c, 502, "%s: %s", name, r == SCAN_INCOMPLETE ?
		    "closed inside the response head" : r == SCAN_TOO_LARGE ?
		    "response head too large" : why);
		return true;
	}
	buf_consume(&c->x->uin, skipped);
	if (parser_head(buf_head(&c->x->uin), head_len, PARSER_RESPONSE, msg,
	    &why) != 0 ||
	    framing_response(msg, &c->x->req, &c->x->resp, &why) != 0) {
		exchange_report(c, false);
		exchange_count_failure(c, SHM_FAIL_INVALID);
		conn_error(c, 502, "%s: invalid response: %s", name, why);
		return true;
	}
	return exchange_resp_dispatch(c, msg);
}

/*
 * The response turned out broken after its head was queued. While no byte
 * of it has reached the client, take it back and answer 502 (as HAProxy
 * does) rather than close on the client with nothing; once bytes left,
 * cutting the connection is all that is left.
 */
static void __attribute__((format(printf, 2, 3)))
exchange_resp_broken(struct conn *c, const char *fmt, ...)
{
	char cause[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cause, sizeof(cause), fmt, ap);
	va_end(ap);
	/*
	 * A head not sent yet is taken back, unless TLS already sealed part
	 * of it in a record that must go out as it is: then cut instead.
	 */
	if (c->x->resp_head_done && c->x->cout_sent <= c->x->resp_start &&
	    !c->x->tls_write_pending) {
		c->x->cout.end -= (size_t)(c->x->cout_sent +
		    buf_len(&c->x->cout) - c->x->resp_start);
		c->x->resp_head_done = false;
	}
	conn_error(c, 502, "%s", cause);
}

/* Move Content-Length body bytes from uin to cout. */
static bool
exchange_resp_length(struct conn *c)
{
	size_t n = buf_len(&c->x->uin);

	if (n > c->x->resp_left)
		n = (size_t)c->x->resp_left;
	if (n == 0)
		return false;
	if (n > buf_tail(&c->x->cout, n))
		n = c->x->cout.cap - c->x->cout.end;
	if (n == 0)
		return false;
	buf_append(&c->x->cout, buf_head(&c->x->uin), n);
	buf_consume(&c->x->uin, n);
	c->x->resp_left -= n;
	c->x->resp_done = c->x->resp_left == 0;
	return true;
}

/* The response went wrong after a good head: that is the server's verdict. */
static void
exchange_resp_failed(struct conn *c)
{
	if (c->x->verdict_pending)
		exchange_report(c, false);
	c->x->verdict_pending = false;
}

/*
 * The backend's connection failed (reset, timed out) inside a response
 * body: the client must be able to tell the body is incomplete, so close
 * at once, with no last chunk (HTTP/1.1) and nothing that looks like an
 * end (a 502 if nothing left yet), and count a failure against the server.
 */
static void
exchange_resp_cut(struct conn *c)
{
	exchange_count_failure(c, SHM_FAIL_RESET);
	exchange_resp_failed(c);
	exchange_resp_broken(c, "%s: %s inside the response body",
	    exchange_server_name(c), c->x->up_errno ?
	    strerror(c->x->up_errno) : "connection closed");
}

/*
 * Move a close-delimited body from uin to cout (chunked for HTTP/1.1).
 * Only a clean close ends it: a receive error is never a clean end.
 */
static bool
exchange_resp_eof(struct conn *c)
{
	size_t room = buf_tail(&c->x->cout, 4096), n = buf_len(&c->x->uin);
	char line[24];

	if (c->x->resp_chunked_out)
		room = room > 2 * CHUNK_OVERHEAD ?
		    room - 2 * CHUNK_OVERHEAD : 0;
	if (n > room)
		n = room;
	if (n > 0) {
		if (c->x->resp_chunked_out)
			buf_append(&c->x->cout, line, chunk_size_line(line, n));
		buf_append(&c->x->cout, buf_head(&c->x->uin), n);
		if (c->x->resp_chunked_out)
			buf_append(&c->x->cout, "\r\n", 2);
		buf_consume(&c->x->uin, n);
	}
	if (c->x->up_eof && buf_len(&c->x->uin) == 0) {
		if (c->x->up_errno != 0) {
			exchange_resp_cut(c);
			return true;
		}
		if (c->x->resp_chunked_out) {
			if (buf_tail(&c->x->cout, sizeof(LAST_CHUNK)) <
			    sizeof(LAST_CHUNK))
				return n > 0; /* wait for the client to drain */
			buf_append(&c->x->cout, LAST_CHUNK,
			    sizeof(LAST_CHUNK) - 1);
		}
		c->x->resp_done = true;
		return true;
	}
	return n > 0;
}

/* The response is complete: pool the backend connection if it is clean. */
static void
exchange_finish(struct conn *c)
{
	bool reusable = c->x->resp.keep_alive && c->x->req_done &&
	    c->x->uout_sent == buf_len(&c->x->uout) &&
	    buf_len(&c->x->uin) == 0 && !c->x->up_eof && !c->x->up_write_dead;

	if (buf_len(&c->x->uin) > 0)
		log_warnx("client %s: %s sent bytes after the response; "
		    "closing that backend connection", conn_peer(c),
		    exchange_server_name(c));
	if (c->x->verdict_pending)
		exchange_report(c, true);
	c->x->verdict_pending = false;
	conn_settle_response(c);
	exchange_release(c, reusable);
	if (c->x->rec != NULL)
		alog_done(c);
	if (c->x->keep_alive) {
		conn_enter_head(c);
		return;
	}
	conn_enter_closing(c);
	c->x->client_done = !c->x->req.keep_alive && c->x->req_done;
}

static bool
exchange_resp_body(struct conn *c)
{
	bool progress = false;
	size_t before = buf_len(&c->x->uin);
	enum chunk_result r;
	uint64_t total = 0;

	switch (c->x->resp.body) {
	case HTTP_BODY_LENGTH:
		progress = exchange_resp_length(c);
		break;
	case HTTP_BODY_CHUNKED:
		r = exchange_rechunk(&c->x->resp_dec, &c->x->uin, &c->x->cout,
		    buf_tail(&c->x->cout, 4096), c->x->resp_chunked_out,
		    &total);
		if (r == CHUNK_ERR) {
			exchange_count_failure(c, SHM_FAIL_INVALID);
			exchange_resp_failed(c);
			exchange_resp_broken(c,
			    "%s: malformed chunked response",
			    exchange_server_name(c));
			return true;
		}
		c->x->resp_done = r == CHUNK_END;
		progress = before != buf_len(&c->x->uin) || c->x->resp_done;
		break;
	case HTTP_BODY_EOF:
		progress = exchange_resp_eof(c);
		break;
	case HTTP_BODY_NONE:
		break;
	}
	if (c->x->resp_done) {
		exchange_finish(c);
		return true;
	}
	if (c->x->up_eof && buf_len(&c->x->uin) == 0 &&
	    c->x->resp.body != HTTP_BODY_EOF) {
		exchange_resp_cut(c);
		return true;
	}
	return progress;
}

bool
exchange_step(struct conn *c)
{
	bool progress = false;

	/* A client that leaves while its request waits leaves the queue. */
	if (c->x->queued && c->client_eof) {
		conn_abort(c, "client closed while its request was queued");
		return true;
	}
	if (!c->x->req_done)
		progress |= exchange_req_body(c);
	if (c->state != CONN_PROXY)
		return true;
	progress |= exchange_flush_up(c);
	if (!c->x->resp_head_done)
		progress |= exchange_resp_head(c);
	/* Body right after head, so both leave in one send to the client. */
	if (c->state == CONN_PROXY && c->x->resp_head_done)
		progress |= exchange_resp_body(c);
	if (c->state == CONN_DEAD)
		return true;
	progress |= conn_flush_client(c);
	return progress;
}

/* Copy what fits from one buffer to another, opaque bytes. */
static size_t
exchange_copy(struct buf *from, struct buf *to)
{
	size_t n = buf_len(from);

	if (n > buf_tail(to, n))
		n = to->cap - to->end;
	buf_append(to, buf_head(from), n);
	buf_consume(from, n);
	return n;
}

/* Propagate each side's FIN to the other once its bytes are delivered. */
static bool
exchange_tunnel_shutdowns(struct conn *c)
{
	bool progress = false;

	if (c->client_eof && buf_len(&c->x->cin) == 0 &&
	    c->x->uout_sent == buf_len(&c->x->uout) && !c->x->tunnel_up_shut) {
		upstream_shutdown_write(c->x->up);
		c->x->tunnel_up_shut = progress = true;
	}
	if (c->x->up_eof && buf_len(&c->x->uin) == 0 &&
	    buf_len(&c->x->cout) == 0 && !c->x->tunnel_client_shut) {
		conn_shut_write(c);
		c->x->tunnel_client_shut = progress = true;
	}
	return progress;
}

bool
exchange_tunnel_step(struct conn *c)
{
	bool progress = false;
	size_t n;

	c->x->replayable = false;
	/* A failed backend side is not a half-close to pass on: cut both. */
	if (c->x->up_errno != 0 || c->x->up_write_dead) {
		conn_abort(c, c->x->up_errno != 0 ? strerror(c->x->up_errno) :
		    "backend stopped reading the tunnel");
		return true;
	}
	n = exchange_copy(&c->x->cin, &c->x->uout);
	c->x->body_in += n;
	progress |= n > 0;
	progress |= exchange_flush_up(c);
	progress |= exchange_copy(&c->x->uin, &c->x->cout) > 0;
	progress |= conn_flush_client(c);
	if (c->state != CONN_TUNNEL)
		return true;
	progress |= exchange_tunnel_shutdowns(c);
	if (c->x->tunnel_up_shut && c->x->tunnel_client_shut) {
		conn_abort(c, NULL);
		return true;
	}
	if (progress)
		evtimer_add(&c->tev, c->w->be_response_tv[c->backend]);
	return progress;
}

/*
 * A connect (and with TLS, its handshake) under way: its deadline passed
 * or the event it waits for came. Failures are the server's, retried
 * elsewhere like any connect failure.
 */
static void
exchange_upstream_connecting(struct conn *c, short what)
{
	const char *name = exchange_server_name(c), *why;
	struct upstream *up = c->x->up;
	int rc;

	if (what & EV_TIMEOUT) {
		exchange_count_failure(c, SHM_FAIL_TIMEOUT);
		retry_fail(c, 504, "%s: %s", name, up->handshaking ?
		    "TLS handshake timed out" : "connect timed out");
		return;
	}
	if ((rc = upstream_connect_result(up, &why)) == -1) {
		exchange_count_failure(c, SHM_FAIL_CONNECT);
		retry_fail(c, 502, "%s: %s", name, why);
	} else if (rc == 0) {
		if (c->x->rec != NULL && c->x->rec->t_connected == 0)
			alog_connected(c);
		c->x->uout_blocked = false;
	}
}

/* Read what the server sent into uin (inline: once per response read). */
static inline void
exchange_upstream_read(struct conn *c)
{
	struct upstream *up = c->x->up;
	ssize_t n;

	if (buf_tail(&c->x->uin, c->x->uin.cap) == 0)
		return;
	n = upstream_recv(up, c->x->uin.data + c->x->uin.end,
	    c->x->uin.cap - c->x->uin.end);
	if (n > 0) {
		c->x->uin.end += (size_t)n;
		/*
		 * A response has begun: the request can no longer be
		 * replayed.
		 */
		c->x->resp_started = true;
		c->x->replayable = false;
	} else if (n == 0)
		c->x->up_eof = true;
	else if (errno != EAGAIN && errno != EINTR) {
		c->x->up_eof = true;
		c->x->up_errno = errno;
	}
}

/* Upstream socket readable or writable, or one of its deadlines passed. */
void
exchange_upstream_io(struct conn *c, short what, bool write_side)
{
	const char *name = exchange_server_name(c);
	struct upstream *up = c->x->up;

	if ((what & EV_TIMEOUT) &&
	    (c->x->resp_started || c->state == CONN_TUNNEL)) {
		/*
		 * The server answered: a slow body or tunnel is not a
		 * failure.
		 */
		if (c->state != CONN_TUNNEL)
			exchange_count_failure(c, SHM_FAIL_TIMEOUT);
		conn_error(c, 504, "%s: %s", name, write_side ?
		    "backend stopped reading" :
		    "no data within response_timeout");
		return;
	}
	if (up->connecting) {
		exchange_upstream_connecting(c, what);
		return;
	}
	if (write_side) {
		if (what & EV_TIMEOUT) {
			exchange_count_failure(c, SHM_FAIL_TIMEOUT);
			retry_fail(c, 504, "%s: backend stopped reading",
			    name);
			return;
		}
		if (c->x->rec != NULL && c->x->rec->t_connected == 0)
			alog_connected(c);
		c->x->uout_blocked = false;
		/* TLS: a read that waited for this. */
		if (up->rd_wants_write)
			exchange_upstream_read(c);
		return;
	}
	if (what & EV_TIMEOUT) {
		exchange_count_failure(c, SHM_FAIL_TIMEOUT);
		retry_fail(c, 504, "%s: no response data within %u ms", name,
		    c->w->cfg->backends[c->backend].response_timeout_ms);
		return;
	}
	/* TLS: a write that waited for this goes again. */
	if (up->wr_wants_read)
		c->x->uout_blocked = false;
	exchange_upstream_read(c);
}

/*
 * The events of a TLS connection: a write waiting for readability waits
 * for the read event, a read waiting for writability for the write event,
 * and decrypted bytes SSL already holds are read now, since the socket
 * will not signal them.
 */
static void
exchange_tls_events(struct conn *c, bool want_write, bool want_read,
    const struct timeval *resp_tv)
{
	struct upstream *up = c->x->up;
	bool all_sent = c->x->uout_sent == buf_len(&c->x->uout);
	const struct timeval *read_tv = c->state == CONN_PROXY &&
	    c->x->req_done && all_sent ? resp_tv : NULL;

	if (want_write && up->wr_wants_read) {
		want_write = false;
		want_read = true;
		read_tv = resp_tv;
	}
	if (want_read && up->rd_wants_write) {
		want_write = true;
		want_read = false;
	}
	upstream_want_write(up, want_write, resp_tv);
	upstream_want_read(up, want_read, read_tv);
	if (want_read && SSL_pending(up->ssl) > 0)
		event_active(up->rev, EV_READ, 0);
}

void
exchange_update_events(struct conn *c)
{
	const struct timeval *resp_tv = c->w->be_response_tv[c->backend];
	struct upstream *up = c->x->up;
	bool all_sent = c->x->uout_sent == buf_len(&c->x->uout);
	bool want_read, want_write;

	if (up->connecting) {
		upstream_connect_events(up, c->w->be_connect_tv[c->backend],
		    c->w->cfg->backends[c->backend].connect_timeout_ms);
		return;
	}
	want_write = c->x->uout_blocked && !all_sent && !c->x->up_write_dead;
	want_read = !c->x->up_eof && buf_room(&c->x->uin) > 0;
	if (up->ssl != NULL) {
		exchange_tls_events(c, want_write, want_read, resp_tv);
		return;
	}
	upstream_want_write(up, want_write, resp_tv);
	upstream_want_read(up, want_read, c->state == CONN_PROXY &&
	    c->x->req_done && all_sent ? resp_tv : NULL);
}
