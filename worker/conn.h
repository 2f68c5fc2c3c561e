/*
 * A client connection and the exchange it runs with a backend. conn.c owns
 * the client side and the connection's life; exchange.c owns one
 * request/response exchange with a backend (both see struct conn).
 */
#ifndef WEIR_CONN_H
#define WEIR_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "worker/buf.h"
#include "worker/http.h"

struct worker;
struct upstream;
struct event;
struct frontend_conf;

#define CONN_MAX_TRIES	16	/* servers one request may try */

enum conn_state {
	CONN_HEAD,		/* waiting for (the rest of) a request head */
	CONN_PROXY,		/* an exchange with a backend is under way */
	CONN_TUNNEL,		/* after 101: opaque bytes both ways */
	CONN_CLOSING,		/* flushing the last response, then linger */
	CONN_LINGER,		/* write side shut; discarding input briefly */
	CONN_DEAD,		/* released; freed at the end of the pump */
};

struct conn {
	struct worker *w;
	const struct frontend_conf *fe;
	uint32_t backend;
	int fd;
	struct event *rev, *wev, *tev;
	bool rev_on, wev_on;
	const struct timeval *rev_tv, *wev_tv;
	char peer[136];			/* for logs: peer_addr, or "CLIENT via
					 * peer_addr" behind a trusted proxy */
	char peer_addr[64];		/* "ip:port" of the socket's peer */
	char peer_ip[64];		/* for X-Forwarded-For */
	struct sockaddr_storage peer_sa;
	char *bufmem;			/* the block under the four buffers, lent
					 * by w->bufs while bytes move; NULL
					 * (and every cap 0) while idle */
	bool peer_trusted;		/* peer is in trusted_proxies */
	/* The client of the current request: the peer, or the first
	 * untrusted hop of a trusted peer's X-Forwarded-For (policy.c). */
	struct sockaddr_storage client_sa;	/* for balance = hash ip */
	char client_ip[64];		/* for X-Real-IP */
	struct buf cin;			/* bytes from the client */
	struct buf cout;		/* bytes to the client */
	struct buf uin;			/* bytes from the backend */
	struct buf uout;		/* bytes to the backend */
	enum conn_state state;
	bool client_eof;		/* client sent FIN */
	bool cout_blocked;		/* last send to the client hit EAGAIN */
	uint64_t cout_sent;		/* bytes ever sent to the client */
	int outq;			/* unsent bytes in the kernel at the last
					 * write timeout (progress check) */
	bool client_http10;
	bool keep_alive;		/* keep the client after this exchange */
	bool tunnel_up_shut, tunnel_client_shut;
	int err_status;			/* error response still to queue (CLOSING) */
	uint64_t linger_until_ms;	/* cap on the whole linger */

	/* The exchange under way (CONN_PROXY, CONN_TUNNEL). */
	struct http_req_info req;
	struct upstream *up;
	int server;			/* shm server slot counted, -1 when none */
	uint32_t member;		/* index into the backend's servers */
	uint64_t req_left;		/* Content-Length body bytes still to move */
	struct chunk_dec req_dec;
	uint64_t req_body_total;	/* chunked body bytes so far */
	bool req_done;			/* whole request is in uout */
	size_t uout_sent;		/* bytes of uout already on the wire */
	bool uout_blocked;		/* last send to the backend hit EAGAIN */
	bool replayable;		/* uout still holds the whole request */
	unsigned replays;
	uint32_t tried[CONN_MAX_TRIES];	/* members tried (or busy) so far */
	uint32_t ntried;
	bool trial;			/* this attempt is a half-open trial */
	bool verdict_pending;		/* head was fine: success is reported
					 * once the body arrived whole */
	uint32_t attempts;		/* servers this request was sent toward */
	bool resp_started;		/* a response byte has arrived */
	bool resp_head_done;		/* final response head sent to cout */
	bool resp_done;			/* whole response body is in cout */
	uint64_t resp_start;		/* cout_sent when the final head's first
					 * byte is sent (bytes queued before it) */
	struct http_resp_info resp;
	uint64_t resp_left;
	struct chunk_dec resp_dec;
	bool resp_chunked_out;		/* re-chunk the body toward the client */
	bool up_eof;			/* backend sent FIN or reset */
	int up_errno;			/* why, when it was an error */
	bool up_write_dead;		/* backend stopped taking request bytes */

	struct conn *next_free;
	struct conn *prev, *next;	/* the worker's list of open conns */
};

/* Take ownership of an accepted client socket fd on frontend. */
void conn_accept(struct worker *w, int fd, uint32_t frontend,
    const struct sockaddr *peer, socklen_t peerlen);
/* The upstream connection the conn owns is readable/writable or timed out. */
void conn_upstream_event(struct conn *c, short what, bool write_side);
/* Draining: close idle keep-alive conns after a grace; the rest finish. */
void conn_drain_all(struct worker *w);
/* Release the freelist (worker exit). */
void conn_freelist_clear(struct worker *w);

/* conn.c services used by exchange.c */
/* Answer with status (if no response head went out yet) and close. */
void conn_error(struct conn *c, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Close now, logging why at debug level (normal ends) or warn. */
void conn_abort(struct conn *c, const char *why);
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
/* Choose another server and connect to it; false if none is left. */
bool exchange_attempt(struct conn *c);
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
