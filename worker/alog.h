/*
 * The access log and request ids: one line per request, formatted
 * (alogfmt.c), buffered per worker and written whole (alog.c), and the
 * ids weir makes for requests (reqid.c).
 */
#ifndef WEIR_ALOG_H
#define WEIR_ALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/config.h"
#include "shm/shm-types.h"

struct conn;
struct worker;
struct http_msg;
struct rewrite_req;
struct rewrite_resp;

/*
 * What a line keeps of the request's own bytes: longer values are cut and
 * end in "..." in the log (they are forwarded whole). An incoming request
 * id longer than ALOG_ID_MAX is not kept: weir makes a new one.
 */
#define ALOG_METHOD_MAX		32
#define ALOG_TARGET_MAX		4096
#define ALOG_PROTO_MAX		16
#define ALOG_HDR_MAX		1024	/* Referer, User-Agent */
#define ALOG_ID_MAX		128
#define REQID_LEN		36	/* 8-4-4-4-12 hex digits */

/*
 * The longest line alogfmt_line() writes: every client string escaped at
 * six bytes a byte, plus the fixed fields (two addresses, names, numbers)
 * with room to spare.
 */
#define ALOG_LINE_MAX	(6 * (ALOG_METHOD_MAX + ALOG_TARGET_MAX + \
	ALOG_PROTO_MAX + 2 * ALOG_HDR_MAX + ALOG_ID_MAX + 5 * 3) + 1024)

/* Why a response did not reach the client whole (the "cut" field). */
enum alog_cut {
	ALOG_CUT_NONE,
	ALOG_CUT_CLIENT,	/* the client closed, reset, stopped reading */
	ALOG_CUT_ERROR,		/* weir cut it after its head went out */
	ALOG_CUT_STOP,		/* the worker stopped first */
};

/* ---- alogfmt.c: text only, no I/O ---- */

/*
 * A string of the request; p == NULL: absent. cut: it was cut short. raw:
 * weir wrote it (an id it made, the protocol of a parsed request), so it
 * is printed without escaping.
 */
struct alog_str {
	const char *p;
	size_t len;
	bool cut;
	bool raw;
};

/* Everything one line says, ready to print. */
struct alog_line {
	int64_t time_ms;		/* wall clock at the request's first
					 * byte, ms since the epoch */
	/*
	 * Strings weir made (addresses, names from the config, which
	 * allows only letters, digits, '.', '_', '-') are printed as they
	 * are; only the alog_str fields, from the client, are escaped.
	 */
	const char *client;		/* address, as policy.c decided */
	const char *peer;		/* "ADDR:PORT" of the TCP peer */
	struct alog_str method, target, proto, referer, user_agent, id;
	int status;			/* 0: no response head was sent */
	uint64_t bytes_in, bytes_out;
	int64_t duration_us;		/* -1 for each: absent */
	int64_t connect_us;
	int64_t header_us;
	const char *upstream;		/* NULL: none */
	uint32_t retries;
	const char *frontend, *backend;
	enum alog_cut cut;
};

/*
 * Escape s for inside a JSON string: '"' and '\\' with a backslash, and
 * every byte below 0x20 or from 0x7f up as \u00XX (a byte read as
 * Latin-1, so every line is ASCII and valid UTF-8). Writes at most cap
 * bytes, never half an escape; returns the bytes written and sets *used
 * (if not NULL) to the input bytes they stand for.
 */
size_t alogfmt_json_esc(char *out, size_t cap, const char *s, size_t len,
    size_t *used);
/* The same for the combined format: those bytes as \xXX, '"' and '\\' too. */
size_t alogfmt_clf_esc(char *out, size_t cap, const char *s, size_t len,
    size_t *used);
/* "2026-12-02T10:01:02.123Z" (24 bytes, no NUL) for ms since the epoch. */
size_t alogfmt_rfc3339(char *out, int64_t ms);
/* "02/Dec/2026:10:01:02 +0000" (26 bytes, no NUL). */
size_t alogfmt_clf_time(char *out, int64_t ms);
/* One line, '\n' included, as JSON or combined; 0 if cap is too small. */
size_t alogfmt_line(char *out, size_t cap, const struct alog_line *l,
    bool combined);

/* ---- reqid.c ---- */

/* xoshiro256** state: fast, 256 bits, seeded from getrandom(2). */
struct reqid {
	uint64_t s[4];
};

/* Seed from the kernel (once per worker); -1 if getrandom(2) failed. */
int reqid_init(struct reqid *g);
/* Seed from given words (tests). */
void reqid_seed(struct reqid *g, const uint64_t seed[4]);
uint64_t reqid_next64(struct reqid *g);
/* A new id: 128 random bits laid out as a version 4 UUID. */
void reqid_next(struct reqid *g, char *out);
/*
 * The text of a version 4 UUID from 128 bits: lower-case hex, 8-4-4-4-12,
 * with the version nibble set to 4 and the variant bits to 10.
 */
void reqid_format(char *out, uint64_t hi, uint64_t lo);

/* ---- alog.c: per request, on a connection's block ---- */

/* Bits of alog_rec.strcut. */
#define ALOG_S_METHOD	0x01
#define ALOG_S_TARGET	0x02
#define ALOG_S_PROTO	0x04
#define ALOG_S_REFERER	0x08
#define ALOG_S_UA	0x10

enum alog_state {
	ALOG_NONE,		/* no request under way */
	ALOG_ACTIVE,		/* a request began; its response is not whole */
	ALOG_DONE,		/* the response is whole in cout: log it once
				 * the client has it */
};

/*
 * One request's record. It follows the four buffers in the connection's
 * block when the frontend logs or tags requests (c->x->rec), else the
 * block is that much smaller and c->x->rec is NULL: then nothing here
 * costs more than that one test. Times are CLOCK_MONOTONIC microseconds;
 * 0 means "not reached".
 */
struct alog_rec {
	uint8_t state;			/* enum alog_state */
	uint8_t cut;			/* enum alog_cut */
	bool logging;			/* the frontend writes an access log */
	bool captured;			/* the request line is known */
	bool exchanged;			/* exchange_start() ran for it */
	bool id_made;			/* weir made the id (no escaping) */
	bool proto_made;		/* weir wrote proto (no escaping) */
	int status;
	int64_t wall_ms;		/* realtime at t_begin (loop's, in ms) */
	uint64_t t_begin;		/* first byte of the head seen */
	uint64_t t_conn;		/* connect started (or pooled taken) */
	uint64_t t_connected;
	uint64_t t_head;		/* final response head parsed */
	uint64_t head_in;		/* bytes of the request head */
	uint64_t out_start;		/* cout_sent where its response begins */
	uint64_t out_end;		/* ... and ends (DONE) */
	uint16_t method_len, target_len, proto_len, referer_len, ua_len;
	uint16_t id_len;		/* 0: no id (request_id off) */
	uint8_t strcut;			/* ALOG_S_* bits: strings cut short */
	char id[ALOG_ID_MAX + 1];	/* NUL-terminated */
	char method[ALOG_METHOD_MAX];
	char proto[ALOG_PROTO_MAX];
	char target[ALOG_TARGET_MAX];
	char referer[ALOG_HDR_MAX];
	char ua[ALOG_HDR_MAX];
	/* The server of the last attempt, copied when it was chosen: by the
	 * time the line is written its slot may hold another server. */
	char upstream[SHM_NAME_MAX];
};

/* Does this frontend need a record per request (log, or request ids)? */
static inline bool
alog_wanted(const struct frontend_conf *fe)
{
	return fe->access_log != CONFIG_ACCESS_LOG_OFF ||
	    fe->request_id != NULL;
}

/* Open the worker's access logs; returns the bytes a record takes in each
 * connection block (0 when no frontend logs or tags). */
size_t alog_init(struct worker *w);
/* SIGUSR1: write what is buffered, then reopen every file. */
void alog_reopen(struct worker *w);
/* Exiting: log the requests still under way as cut, write everything. */
void alog_stop(struct worker *w);
/* A block was just lent to c: start its record empty. */
void alog_attach(struct conn *c, void *area);

/*
 * The hooks, each called only when c->x->rec != NULL. Bytes of a new
 * request head are in cin (logs the previous request if still pending).
 */
void alog_begin(struct conn *c);
/* The head parsed: keep what the line needs, settle the request id. */
void alog_head(struct conn *c, struct http_msg *msg, size_t head_bytes);
/* The exchange starts: the request id for the rewritten head. */
void alog_exchange(struct conn *c, struct rewrite_req *rw);
/* The request's attempt goes to the server in slot (for the line). */
void alog_server(struct conn *c, uint32_t slot);
/* An upstream connection was taken or a connect started. */
void alog_connecting(struct conn *c, bool connected);
void alog_connected(struct conn *c);
/* A response head from the backend (not 1xx): id for it, status. */
void alog_response(struct conn *c, struct http_msg *msg,
    struct rewrite_resp *rw);
/* weir answers status itself (an error page follows). */
void alog_error(struct conn *c, int status);
/* The response is whole in cout. */
void alog_done(struct conn *c);
/* After a pump: log a DONE request once the client has all of it. */
void alog_pump(struct conn *c);
/* The connection closes: log whatever is under way. */
void alog_release(struct conn *c);

#endif
