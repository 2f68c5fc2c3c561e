/*
 * A client connection and the exchange it runs with a backend. conn.c owns
 * the client side and the connection's life; exchange.c owns one
 * request/response exchange with a backend (both see struct conn).
 */
#ifndef WEIR_CONN_H
#define WEIR_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <netinet/in.h>

#include <event2/event_struct.h>

#include "http/buf.h"
#include "http/http.h"

struct worker;
struct upstream;
struct frontend_conf;
struct alog_rec;
struct ssl_st;

#define CONN_MAX_TRIES	16	/* servers one request may try */
#define EXCH_HOST_MAX	260	/* a DNS name (253), ':' and a port */
/* "CLIENT via PEER", each an address with its port */
#define CONN_PEER_LABEL	(2 * (INET6_ADDRSTRLEN + 8) + 5)

enum conn_state {
	CONN_HANDSHAKE,		/* TLS handshake under way (tlsconn.c) */
	CONN_HEAD,		/* waiting for (the rest of) a request head */
	CONN_PROXY,		/* an exchange with a backend is under way */
	CONN_TUNNEL,		/* after 101: opaque bytes both ways */
	CONN_CLOSING,		/* flushing the last response, then linger */
	CONN_LINGER,		/* write side shut; discarding input briefly */
	CONN_DEAD,		/* released; freed at the end of the pump */
};

/* The peer's address, as small as the families a listener accepts. */
union conn_addr {
	struct sockaddr sa;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
};

/*
 * What a connection holds only while bytes move: its buffers and the
 * exchange under way. It heads the block that w->bufs lends (conn.c
 * attaches it when the client sends, detaches it once the connection is
 * idle again), so an idle keep-alive connection holds none of it.
 */
struct exch {
	struct buf cin;			/* bytes from the client */
	struct buf cout;		/* bytes to the client */
	struct buf uin;			/* bytes from the backend */
	struct buf uout;		/* bytes to the backend */
	bool cout_blocked;		/* last send to the client hit EAGAIN */
	bool tls_write_pending;		/* a TLS record of cout's head bytes is
					 * built and must go out as it is */
	uint64_t cout_sent;		/* bytes sent to the client since attach */
	int outq;			/* unsent bytes in the kernel at the last
					 * write timeout (progress check) */
	bool client_http10;
	bool keep_alive;		/* keep the client after this exchange */
	bool client_done;		/* the client asked to close and all of
					 * its request was read: no linger */
	bool tunnel_up_shut, tunnel_client_shut;
	int err_status;			/* error response still to queue (CLOSING) */
	uint32_t answer_hlen;		/* that answer's header lines in uout */
	bool answer_body;		/* ... followed by its own body */
	bool answer_head;		/* ... to a HEAD: its length only */
	const struct route_conf *route;	/* the request's route, or NULL (the
					 * frontend's backend); routing.c */
	uint64_t linger_until_ms;	/* cap on the whole linger */
	/* The client of the current request: the peer, or the first
	 * untrusted hop of a trusted peer's X-Forwarded-For (policy.c). */
	const struct sockaddr *client_sa;	/* for balance = hash ip */
	const char *client_ip;		/* for X-Real-IP */

	/* The exchange under way (CONN_PROXY, CONN_TUNNEL). */
	struct upstream *up;
	int server;			/* shm server slot counted, -1 when none */
	uint64_t req_left;		/* Content-Length body bytes still to move */
	uint64_t req_body_total;	/* chunked body bytes so far */
	bool req_done;			/* whole request is in uout */
	size_t uout_sent;		/* bytes of uout already on the wire */
	bool uout_blocked;		/* last send to the backend hit EAGAIN */
	bool replayable;		/* uout still holds the whole request */
	unsigned replays;
	uint32_t ntried;
	bool trial;			/* this attempt is a half-open trial */
	bool verdict_pending;		/* head was fine: success is reported
					 * once the body arrived whole */
	uint32_t attempts;		/* servers this request was sent toward */
	bool resp_started;		/* a response byte has arrived */
	int fe_status;			/* forwarded status the client is
					 * getting, counted when it ends */
	uint64_t sent_us;		/* clock_us() when this attempt's
					 * whole request was sent; 0: not yet */
	bool resp_head_done;		/* final response head sent to cout */
	bool resp_done;			/* whole response body is in cout */
	uint64_t resp_start;		/* cout_sent when the final head's first
					 * byte is sent (bytes queued before it) */
	uint64_t resp_left;
	bool resp_chunked_out;		/* re-chunk the body toward the client */
	bool up_eof;			/* backend sent FIN or reset */
	int up_errno;			/* why, when it was an error */
	bool up_write_dead;		/* backend stopped taking request bytes */
	uint64_t body_in;		/* request body (or tunnel) bytes read
					 * from cin, as received */
	struct alog_rec *rec;		/* access log and request id record,
					 * after uout in the block; NULL when
					 * the frontend has neither (alog.c) */
	/* Waiting for a server slot (worker/queue.c). */
	bool queued;			/* in its backend's queue */
	bool queued_fresh;		/* ... not tried anywhere yet */
	uint64_t queued_until_ms;	/* clock_ms() when queue_timeout ends */
	struct conn *qprev, *qnext;	/* neighbours in the queue */
	/* balance = hash: the key of a request that waited, taken while its
	 * head was still in cin (bal_request.key_*) */
	bool key_saved, key_found;
	uint32_t key_hash;

	/*
	 * From here on, attaching leaves the bytes as the last user left
	 * them: each field is written before it is read (framing fills req
	 * and resp, exchange_reset() the decoders, ntried bounds tried).
	 */
	struct http_req_info req;
	struct http_resp_info resp;
	struct chunk_dec req_dec;
	struct chunk_dec resp_dec;
	uint32_t tried[CONN_MAX_TRIES];	/* server slots tried (or busy) */
	struct sockaddr_storage client_ss;	/* behind a trusted proxy */
	char client_ip_buf[INET6_ADDRSTRLEN];
	char peer[CONN_PEER_LABEL];	/* for logs (conn_peer()), made when
					 * first needed; peer[0] is reset */
	/* The request's Host for {host} in response header rules (the
	 * head is gone from cin by then), copied when they use it; a Host
	 * over EXCH_HOST_MAX bytes, which no DNS name is, is left empty. */
	uint16_t resp_host_len;
	char resp_host[EXCH_HOST_MAX];
};
/* Attaching zeroes the exchange area up to here. */
#define EXCH_ZEROED	offsetof(struct exch, req)

/* The exchange area heads a block; the buffers follow it, aligned. */
#define CONN_EXCH_SIZE	((sizeof(struct exch) + 63) & ~(size_t)63)

/*
 * A client connection: all an idle keep-alive connection costs (about
 * 560 bytes, from the worker's connection slabs).
 */
struct conn {
	struct worker *w;
	const struct frontend_conf *fe;
	struct exch *x;			/* lent while bytes move; NULL when idle */
	uint32_t backend;		/* the request's backend, or
					 * CONN_NO_BACKEND (routing.c) */
	int fd;
	enum conn_state state;
	bool client_eof;		/* client sent FIN */
	bool rev_on, wev_on;
	bool peer_trusted;		/* peer is in trusted_proxies */
	uint8_t tls_wants;		/* TLSCONN_*: event TLS waits for */
	struct ssl_st *ssl;		/* TLS listener: the session; or NULL */
	const struct timeval *rev_tv, *wev_tv;
	struct event rev, wev, tev;
	union conn_addr peer_sa;
	char peer_ip[INET6_ADDRSTRLEN];	/* for X-Forwarded-For */
	uint64_t auth_tag;		/* keyed hash of the credentials that
					 * last passed basic authentication
					 * here; 0: none (auth.c) */
	struct conn *prev, *next;	/* the worker's list of open conns */
};

/* Take ownership of an accepted client socket fd on frontend. */
void conn_accept(struct worker *w, int fd, uint32_t frontend, bool tls,
    const struct sockaddr *peer, socklen_t peerlen);
/* Shut our sending side (after close_notify on TLS). */
void conn_shut_write(struct conn *c);
/* The upstream connection the conn owns is readable/writable or timed out. */
void conn_upstream_event(struct conn *c, short what, bool write_side);
/* Draining: close idle keep-alive conns after a grace; the rest finish. */
void conn_drain_all(struct worker *w);
/* Who the client is, for logs: "ADDR:PORT" or "CLIENT via ADDR:PORT". */
const char *conn_peer(struct conn *c);
/* The peer's "ADDR:PORT" ("[ADDR]:PORT" for IPv6) into buf. */
void conn_peer_addr(const struct conn *c, char *buf, size_t len);

#define CONN_NO_BACKEND	UINT32_MAX

/* conn.c services used by exchange.c and queue.c */
/* Move what can move, then arm the events (every callback ends here). */
void conn_pump(struct conn *c);
/* Answer with status (if no response head went out yet) and close. */
void conn_error(struct conn *c, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Close now, logging why at debug level (normal ends) or warn. */
void conn_abort(struct conn *c, const char *why);
/* A forwarded response has ended, whole or cut: count it for the frontend. */
void conn_settle_response(struct conn *c);
/*
 * Answer a request that framing accepted with status, header lines
 * hdrs[0..hlen) (each ending in CRLF) and body[0..blen) (NULL: the
 * standard text), then close; they must fit ERRPAGE_ROOM + hlen + blen <=
 * the client buffer.
 */
void conn_answer_with(struct conn *c, int status, const char *hdrs,
    size_t hlen, const char *body, size_t blen);
/*
 * The same for a request weir takes itself, keeping the connection when
 * it safely can (no request body, client keeps connections).
 */
void conn_answer_keep(struct conn *c, const struct http_msg *msg,
    int status, const char *hdrs, size_t hlen, const char *body,
    size_t blen);
bool conn_flush_client(struct conn *c);
void conn_enter_head(struct conn *c);
void conn_enter_closing(struct conn *c);

/* policy.c */
/*
 * The frontend's rules for a request head that framing accepted: TRACE,
 * underscore_headers, upgrade_allow (may clear c->req.upgrade), and who the
 * client is behind a trusted proxy. Returns 0 or the status to answer.
 */
int policy_request(struct conn *c, const struct http_msg *msg,
    const char **why);
/* Set the client of a new connection: its peer, trusted or not. */
void policy_accept(struct conn *c);

/* routing.c */
/*
 * Pick the request's route (frontend's routes in file order, first match)
 * and so its backend; normalises the path first when the frontend has
 * routes. Returns 0 or the status to answer (400: a path weir refuses).
 */
int routing_request(struct conn *c, struct http_msg *msg, const char **why);
/*
 * Act on the chosen route: forward, redirect, answer, or 404. The
 * policies may tag msg's fields for rewrite.c (auth.c drops credentials).
 */
void routing_dispatch(struct conn *c, struct http_msg *msg);

/* auth.c */
/*
 * Basic authentication of the request before its route acts: false when
 * it may go on (Authorization then dropped unless auth_forward), true
 * when it was answered 401.
 */
bool auth_check(struct conn *c, struct http_msg *msg);

/* limiting.c */
/*
 * The frontend's rate limits, then the matched route's: true when one
 * refused the request and it was answered 429 (with Retry-After), or 400
 * for a path that a key = path limit cannot key.
 */
bool limiting_request(struct conn *c, const struct http_msg *msg);

/* exchange.c */
/* Start forwarding the request whose head is msg (already in cin). */
void exchange_start(struct conn *c, const struct http_msg *msg);
/* Move whatever can move in CONN_PROXY; true if anything did. */
bool exchange_step(struct conn *c);
/* Move whatever can move in CONN_TUNNEL; true if anything did. */
bool exchange_tunnel_step(struct conn *c);
/* Drop the exchange: upstream closed (or pooled when reusable), counters fixed. */
void exchange_release(struct conn *c, bool reusable);
/* Upstream I/O: read into uin or finish connecting, then the caller pumps. */
void exchange_upstream_io(struct conn *c, short what, bool write_side);
/* Arm the upstream events for the current exchange state. */
void exchange_update_events(struct conn *c);
/*
 * Choose another server and connect to it, or wait in the queue when every
 * usable one is full; false if none is left.
 */
bool exchange_attempt(struct conn *c);
/*
 * A queued request's turn: claim a server and connect (or answer 503 when
 * none is left); false if every one is still full (c stays queued).
 */
bool exchange_dequeue(struct conn *c);
/* Report the current attempt failed and drop its connection and count. */
void exchange_drop_attempt(struct conn *c);

/* retry.c */
/*
 * The attempt failed before any response byte: retry on another server if
 * the request allows it and the budget does, else answer status.
 */
void retry_fail(struct conn *c, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The backoff timer fired: make the next attempt. */
void retry_fire(struct conn *c);
/* A request started: add its share to the pool's retry budget. */
void retry_budget_earn(struct conn *c);

#endif
