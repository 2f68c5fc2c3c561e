/*
 * Owns a worker's access logs and request ids: the record each request
 * keeps on its connection's block, the line written once its response has
 * reached the client (or the connection ended first), and the per-worker
 * buffers those lines wait in until 64 KiB, a second, a reopen or exit.
 */
#include "autoconf.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/clock.h"
#include "common/config.h"
#include "common/decimal.h"
#include "common/log.h"
#include "worker/alog.h"
#include "worker/conn.h"
#include "http/http.h"
#include "worker/worker.h"

#define ALOG_FLUSH_AT	(64 * 1024)	/* write once this much waits */
#define ALOG_BUF_CAP	(ALOG_FLUSH_AT + ALOG_LINE_MAX)
#define ALOG_FLUSH_MS	1000		/* ... or a line waited this long */

/*
 * Where lines go: a file, opened by each worker with O_APPEND so that one
 * write(2) of whole lines never interleaves with another worker's, or
 * syslog. Frontends that name the same file share one.
 */
struct alog_sink {
	char *path;			/* NULL: syslog */
	int fd;				/* -1 while the file cannot be opened */
	char *buf;			/* whole lines only */
	size_t len;
	uint64_t lost;			/* lines dropped since last warned */
	bool failing;			/* a write failed; warned once */
	bool torn;			/* it wrote part of a line: end that
					 * line first, so the next is whole */
};

struct alog {
	struct alog_sink *sinks;
	size_t nsinks;
	int *fe_sink;			/* per frontend: its sink, or -1 */
	struct event *timer;		/* armed only while lines wait */
	bool timer_on;
	struct reqid ids;
};

/* ---------------------------------------------------------------- sinks */

static int
alog_open(const char *path)
{
	return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

/* Count the lines in buf[0..len): what a failed write lost. */
static uint64_t
alog_lines(const char *buf, size_t len)
{
	uint64_t n = 0;
	const char *p = buf, *end = buf + len;

	while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		n++;
		p++;
	}
	return n;
}

/* Each line as one syslog message (without its newline). */
static void
alog_flush_syslog(struct alog_sink *sk)
{
	const char *p = sk->buf, *end = sk->buf + sk->len, *nl;

	while (p < end && (nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		syslog(LOG_INFO, "%.*s", (int)(nl - p), p);
		p = nl + 1;
	}
}

/*
 * Write the buffer in one write(2): whole lines, appended. A failure
 * (disk full, file gone) drops them, warned about once until a write
 * works again, with the count.
 */
static void
alog_flush_sink(struct alog_sink *sk)
{
	size_t off = 0;
	ssize_t n;

	if (sk->len == 0)
		return;
	if (sk->path == NULL) {
		alog_flush_syslog(sk);
		sk->len = 0;
		return;
	}
	if (sk->torn && write(sk->fd, "\n", 1) == 1)
		sk->torn = false;
	while (off < sk->len && !sk->torn) {
		n = write(sk->fd, sk->buf + off, sk->len - off);
		if (n > 0)
			off += (size_t)n;
		else if (n == -1 && errno == EINTR)
			continue;
		else
			break;
	}
	if (off < sk->len) {
		if (!sk->failing)
			log_warn("access_log %s: write; dropping lines until "
			    "it works again", sk->path);
		sk->failing = true;
		sk->torn |= off > 0 && sk->buf[off - 1] != '\n';
		sk->lost += alog_lines(sk->buf + off, sk->len - off);
	} else if (sk->failing) {
		log_warnx("access_log %s: writing again; %llu lines were "
		    "lost", sk->path, (unsigned long long)sk->lost);
		sk->failing = false;
		sk->lost = 0;
	}
	sk->len = 0;
}

static void
alog_flush_all(struct alog *a)
{
	for (size_t i = 0; i < a->nsinks; i++)
		alog_flush_sink(&a->sinks[i]);
}

static void
alog_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct alog *a = arg;

	(void)fd;
	(void)what;
	a->timer_on = false;
	alog_flush_all(a);
}

/* The sink for path (NULL: syslog), added if new; -1 if out of memory. */
static int
alog_sink_find(struct alog *a, const char *path)
{
	struct alog_sink *sk;

	for (size_t i = 0; i < a->nsinks; i++)
		if ((path == NULL) == (a->sinks[i].path == NULL) &&
		    (path == NULL || strcmp(path, a->sinks[i].path) == 0))
			return (int)i;
	if ((sk = reallocarray(a->sinks, a->nsinks + 1, sizeof(*sk))) == NULL)
		return -1;
	a->sinks = sk;
	sk = &a->sinks[a->nsinks];
	memset(sk, 0, sizeof(*sk));
	sk->fd = -1;
	if ((sk->buf = malloc(ALOG_BUF_CAP)) == NULL ||
	    (path != NULL && (sk->path = strdup(path)) == NULL)) {
		free(sk->buf);
		return -1;
	}
	if (path == NULL)
		openlog("weir-access", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	else if ((sk->fd = alog_open(path)) == -1)
		log_warn("access_log %s: open; its lines are dropped until "
		    "it can be opened (SIGUSR1 tries again)", path);
	return (int)a->nsinks++;
}

size_t
alog_init(struct worker *w)
{
	const struct config *cfg = w->cfg;
	const struct frontend_conf *fe;
	struct alog *a;
	bool wanted = false;

	if ((a = calloc(1, sizeof(*a))) == NULL ||
	    (a->fe_sink = calloc(cfg->nfrontends + 1, sizeof(int))) == NULL ||
	    (a->timer = evtimer_new(w->base, alog_timer_cb, a)) == NULL)
		fatalx("out of memory");
	for (size_t i = 0; i < cfg->nfrontends; i++) {
		fe = &cfg->frontends[i];
		wanted |= alog_wanted(fe);
		a->fe_sink[i] = -1;
		if (fe->access_log != CONFIG_ACCESS_LOG_OFF &&
		    (a->fe_sink[i] = alog_sink_find(a, fe->access_log ==
		    CONFIG_ACCESS_LOG_FILE ? fe->access_log_path : NULL)) == -1)
			fatalx("out of memory");
	}
	if (reqid_init(&a->ids) == -1)
		log_warn("getrandom; request ids are seeded from the clock");
	w->alog = a;
	return wanted ? (sizeof(struct alog_rec) + 63) & ~(size_t)63 : 0;
}

void
alog_reopen(struct worker *w)
{
	struct alog *a = w->alog;
	struct alog_sink *sk;
	int fd;

	for (size_t i = 0; i < a->nsinks; i++) {
		sk = &a->sinks[i];
		alog_flush_sink(sk);
		if (sk->path == NULL)
			continue;
		if ((fd = alog_open(sk->path)) == -1) {
			log_warn("access_log %s: reopen", sk->path);
			continue;
		}
		if (sk->fd != -1)
			close(sk->fd);
		sk->fd = fd;
		sk->torn = false;
	}
}

/* ---------------------------------------------------------------- lines */

/* "ADDR:PORT" ("[ADDR]:PORT" for IPv6) of the peer, without printf. */
static void
alog_peer(const struct conn *c, char *buf)
{
	bool v6 = c->peer_sa.sa.sa_family == AF_INET6;
	unsigned port = ntohs(v6 ? c->peer_sa.in6.sin6_port :
	    c->peer_sa.in.sin_port);
	size_t n = strlen(c->peer_ip);
	char digits[DECIMAL_U64_MAX], *p = buf;
	const char *d = decimal_u64(digits + sizeof(digits), port);

	if (v6)
		*p++ = '[';
	memcpy(p, c->peer_ip, n);
	p += n;
	if (v6)
		*p++ = ']';
	*p++ = ':';
	while (d < digits + sizeof(digits))
		*p++ = *d++;
	*p = '\0';
}

/* A string the record kept, for the line; absent when empty. */
static struct alog_str
alog_str(const struct alog_rec *r, const char *p, uint16_t len, uint8_t bit,
    bool raw)
{
	return (struct alog_str){ .p = len > 0 ? p : NULL, .len = len,
	    .cut = (r->strcut & bit) != 0, .raw = raw };
}

/* Build the line of c's record, add it to its buffer, and clear it. */
static void
alog_emit(struct conn *c, uint64_t t_end, uint64_t out_upto)
{
	struct worker *w = c->w;
	struct exch *x = c->x;
	struct alog_rec *r = x->rec;
	struct alog *a = w->alog;
	const struct backend_conf *be = c->backend == CONN_NO_BACKEND ? NULL :
	    &w->cfg->backends[c->backend];
	struct alog_sink *sk;
	struct alog_line l;
	char peer[CONN_PEER_LABEL];
	uint64_t base;
	size_t n;
	int s;

	r->state = ALOG_NONE;
	if ((s = a->fe_sink[c->fe - w->cfg->frontends]) < 0)
		return;
	sk = &a->sinks[s];
	alog_peer(c, peer);
	memset(&l, 0, sizeof(l));
	l.time_ms = r->wall_ms;
	l.client = x->client_ip;
	l.peer = peer;
	if (r->captured) {
		/* Parts a bad request line did not have stay absent. */
		l.method = alog_str(r, r->method, r->method_len, ALOG_S_METHOD,
		    false);
		l.target = alog_str(r, r->target, r->target_len, ALOG_S_TARGET,
		    false);
		l.proto = alog_str(r, r->proto, r->proto_len, ALOG_S_PROTO,
		    r->proto_made);
		l.referer = alog_str(r, r->referer, r->referer_len,
		    ALOG_S_REFERER, false);
		l.user_agent = alog_str(r, r->ua, r->ua_len, ALOG_S_UA, false);
		if (r->method_len == 0 && r->target_len > 0)
			l.method.p = r->method;	/* "" before a target */
	}
	l.id = alog_str(r, r->id, r->id_len, 0, r->id_made);
	l.status = r->status;
	l.bytes_in = r->head_in + (r->exchanged ? x->body_in : 0);
	l.bytes_out = out_upto > r->out_start ? out_upto - r->out_start : 0;
	l.duration_us = (int64_t)(t_end - r->t_begin);
	l.connect_us = l.header_us = -1;
	if (r->t_conn != 0 && r->t_connected != 0)
		l.connect_us = (int64_t)(r->t_connected - r->t_conn);
	if (r->t_head != 0) {
		base = x->sent_us != 0 && x->sent_us <= r->t_head ? x->sent_us :
		    r->t_connected != 0 ? r->t_connected : r->t_head;
		l.header_us = (int64_t)(r->t_head - base);
	}
	if (r->exchanged && x->attempts > 0 && be != NULL) {
		l.upstream = r->upstream;
		l.retries = x->attempts - 1;
	}
	l.frontend = c->fe->name;
	l.backend = be != NULL ? be->name : NULL;	/* none: "-" */
	l.cut = (enum alog_cut)r->cut;
	n = alogfmt_line(sk->buf + sk->len, ALOG_BUF_CAP - sk->len, &l,
	    c->fe->access_log_format == CONFIG_LOG_COMBINED);
	if (n == 0) {
		/* Cannot happen: the buffer keeps room for the longest line. */
		sk->lost++;
		return;
	}
	sk->len += n;
	if (sk->len >= ALOG_FLUSH_AT)
		alog_flush_sink(sk);
	else if (!a->timer_on) {
		static const struct timeval tv = {
			ALOG_FLUSH_MS / 1000, (ALOG_FLUSH_MS % 1000) * 1000
		};

		evtimer_add(a->timer, &tv);
		a->timer_on = true;
	}
}

void
alog_attach(struct conn *c, void *area)
{
	struct alog_rec *r = area;

	r->state = ALOG_NONE;
	r->logging = c->fe->access_log != CONFIG_ACCESS_LOG_OFF;
	c->x->rec = r;
}

void
alog_begin(struct conn *c)
{
	struct exch *x = c->x;
	struct alog_rec *r = x->rec;
	struct timeval tv;
	uint64_t now = r->logging ? clock_us() : 0;

	/*
	 * A pipelined request begins while the last response is still
	 * being delivered: that one is logged now, with its bytes as
	 * queued and this moment as its end, so a connection holds one
	 * record at a time.
	 */
	if (r->state == ALOG_DONE)
		alog_emit(c, now, r->out_end);
	r->state = ALOG_ACTIVE;
	r->cut = ALOG_CUT_NONE;
	r->captured = r->exchanged = false;
	r->status = 0;
	r->t_conn = r->t_connected = r->t_head = 0;
	r->head_in = 0;
	r->id_len = 0;
	r->id[0] = '\0';
	r->out_start = x->cout_sent + buf_len(&x->cout);
	if (r->logging) {
		r->t_begin = now;
		/*
		 * The loop's cached time: a millisecond field, no clock
		 * read.
		 */
		event_base_gettimeofday_cached(c->w->base, &tv);
		r->wall_ms = (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
	}
}

/* Keep up to cap bytes of s in dst, *len long; if cut, bit in strcut. */
static void
alog_keep(struct alog_rec *r, char *dst, uint16_t *len, size_t cap,
    const char *s, size_t n, uint8_t bit)
{
	if (n > cap) {
		n = cap;
		r->strcut |= bit;
	}
	memcpy(dst, s, n);
	*len = (uint16_t)n;
}

/* A new request id, unless one is kept already. */
static void
alog_new_id(struct conn *c)
{
	struct alog_rec *r = c->x->rec;

	if (r->id_len > 0 || c->fe->request_id == NULL)
		return;
	reqid_next(&c->w->alog->ids, r->id);
	r->id_len = REQID_LEN;
	r->id[REQID_LEN] = '\0';
	r->id_made = true;
}

/*
 * Mark the fields named name so that rewrite.c drops them (weir writes its
 * own); the first non-empty value that fits is copied to keep (if not NULL).
 */
static bool
alog_tag_ids(struct http_msg *msg, const char *name, struct alog_rec *keep)
{
	struct http_header *h;
	bool kept = false;

	for (size_t i = 0; i < msg->nheaders; i++) {
		h = &msg->headers[i];
		if (h->id != HTTP_F_OTHER || !http_span_eq(h->name, name))
			continue;
		h->id = HTTP_F_REQUEST_ID;
		if (keep != NULL && !kept && h->value.len > 0 &&
		    h->value.len <= ALOG_ID_MAX) {
			memcpy(keep->id, h->value.p, h->value.len);
			keep->id_len = (uint16_t)h->value.len;
			keep->id[h->value.len] = '\0';
			keep->id_made = false;
			kept = true;
		}
	}
	return kept;
}

/*
 * Is the field name (a token) lit, a lower-case name of letters and '-'?
 * OR-ing 0x20 lower-cases a letter and leaves '-' as it is, and no other
 * token character becomes a letter or '-' by it.
 */
static bool
alog_name_is(struct http_span name, const char *lit, size_t len)
{
	if (name.len != len)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((name.p[i] | 0x20) != lit[i])
			return false;
	return true;
}

/* The Referer and User-Agent the line shows (the first of each). */
static void
alog_head_fields(struct alog_rec *r, const struct http_msg *msg)
{
	const struct http_header *h;

	r->referer_len = r->ua_len = 0;
	for (size_t i = 0; i < msg->nheaders; i++) {
		h = &msg->headers[i];
		if (h->id != HTTP_F_OTHER || h->value.len == 0)
			continue;
		if (r->referer_len == 0 && alog_name_is(h->name, "referer", 7))
			alog_keep(r, r->referer, &r->referer_len, ALOG_HDR_MAX,
			    h->value.p, h->value.len, ALOG_S_REFERER);
		else if (r->ua_len == 0 &&
		    alog_name_is(h->name, "user-agent", 10))
			alog_keep(r, r->ua, &r->ua_len, ALOG_HDR_MAX,
			    h->value.p, h->value.len, ALOG_S_UA);
	}
}

void
alog_head(struct conn *c, struct http_msg *msg, size_t head_bytes)
{
	struct alog_rec *r = c->x->rec;
	const struct frontend_conf *fe = c->fe;

	if (r->state != ALOG_ACTIVE)
		alog_begin(c);
	r->captured = true;
	r->head_in = head_bytes;
	r->strcut = 0;
	if (r->logging) {
		alog_keep(r, r->method, &r->method_len, ALOG_METHOD_MAX,
		    msg->method_name.p, msg->method_name.len, ALOG_S_METHOD);
		alog_keep(r, r->target, &r->target_len, ALOG_TARGET_MAX,
		    msg->target.p, msg->target.len, ALOG_S_TARGET);
		/* The parser let through HTTP/1.0 and HTTP/1.1 only. */
		memcpy(r->proto, "HTTP/1.1", 8);
		r->proto[7] = (char)('0' + (msg->version_minor == 0 ? 0 : 1));
		r->proto_len = 8;
		r->proto_made = true;
		alog_head_fields(r, msg);
	}
	if (fe->request_id != NULL) {
		r->id_len = 0;
		alog_tag_ids(msg, fe->request_id, fe->request_id_trust ? r :
		    NULL);
		alog_new_id(c);
	}
}

void
alog_exchange(struct conn *c, struct rewrite_req *rw)
{
	struct alog_rec *r = c->x->rec;

	r->exchanged = true;
	if (r->id_len > 0) {
		rw->reqid_name = (struct http_span){ c->fe->request_id,
		    strlen(c->fe->request_id) };
		rw->reqid = (struct http_span){ r->id, r->id_len };
	}
}

void
alog_server(struct conn *c, uint32_t slot)
{
	struct alog_rec *r = c->x->rec;

	if (r->logging)
		snprintf(r->upstream, sizeof(r->upstream), "%s",
		    c->w->shm->servers[slot].addr);
}

void
alog_connecting(struct conn *c, bool connected)
{
	struct alog_rec *r = c->x->rec;

	if (!r->logging)
		return;
	r->t_conn = clock_us();
	r->t_connected = connected ? r->t_conn : 0;
	r->t_head = 0;
}

void
alog_connected(struct conn *c)
{
	if (c->x->rec->logging)
		c->x->rec->t_connected = clock_us();
}

void
alog_response(struct conn *c, struct http_msg *msg, struct rewrite_resp *rw)
{
	struct alog_rec *r = c->x->rec;

	if (r->id_len > 0 && c->fe->request_id != NULL) {
		alog_tag_ids(msg, c->fe->request_id, NULL);
		rw->reqid_name = (struct http_span){ c->fe->request_id,
		    strlen(c->fe->request_id) };
		rw->reqid = (struct http_span){ r->id, r->id_len };
	}
	r->status = msg->status;
	if (r->logging && r->t_head == 0)
		r->t_head = clock_us();
}

/*
 * What a request weir refuses before parsing it says of itself: its first
 * line, split at spaces into method, target and protocol, as received.
 */
static void
alog_salvage(struct alog_rec *r, const struct buf *cin)
{
	const char *p = buf_head(cin), *end = p + buf_len(cin), *sp;
	const char *eol;
	char *dst[] = { r->method, r->target, r->proto };
	uint16_t *lens[] = { &r->method_len, &r->target_len, &r->proto_len };
	const size_t caps[] = { ALOG_METHOD_MAX, ALOG_TARGET_MAX,
	    ALOG_PROTO_MAX };
	const uint8_t bits[] = { ALOG_S_METHOD, ALOG_S_TARGET, ALOG_S_PROTO };

	r->head_in = buf_len(cin);
	r->strcut = 0;
	r->proto_made = false;
	r->referer_len = r->ua_len = 0;
	r->method_len = r->target_len = r->proto_len = 0;
	while (p < end && (*p == '\r' || *p == '\n'))
		p++;
	for (eol = p; eol < end && *eol != '\r' && *eol != '\n'; eol++)
		;
	if (p == eol)
		return;
	r->captured = true;
	for (int i = 0; i < 3 && p < eol; i++) {
		sp = i < 2 ? memchr(p, ' ', (size_t)(eol - p)) : NULL;
		if (sp == NULL)
			sp = eol;
		alog_keep(r, dst[i], lens[i], caps[i], p, (size_t)(sp - p),
		    bits[i]);
		p = sp < eol ? sp + 1 : eol;
	}
}

void
alog_error(struct conn *c, int status)
{
	struct alog_rec *r = c->x->rec;

	if (r->state != ALOG_ACTIVE)
		alog_begin(c);
	if (!r->captured && r->logging)
		alog_salvage(r, &c->x->cin);
	r->status = status;
	alog_new_id(c);
}

void
alog_done(struct conn *c)
{
	struct alog_rec *r = c->x->rec;

	if (r->state != ALOG_ACTIVE || !r->logging) {
		r->state = ALOG_NONE;
		return;
	}
	r->state = ALOG_DONE;
	r->out_end = c->x->cout_sent + buf_len(&c->x->cout);
}

void
alog_pump(struct conn *c)
{
	struct alog_rec *r = c->x->rec;

	if (r->state == ALOG_DONE && c->x->cout_sent >= r->out_end)
		alog_emit(c, clock_us(), r->out_end);
}

void
alog_release(struct conn *c)
{
	struct exch *x = c->x;
	struct alog_rec *r = x->rec;

	if (r->state == ALOG_NONE || !r->logging) {
		r->state = ALOG_NONE;
		return;
	}
	if (r->state == ALOG_DONE && x->cout_sent >= r->out_end) {
		alog_emit(c, clock_us(), r->out_end);
		return;
	}
	/* A tunnel ends when either side closes: that is its whole. */
	if (r->cut == ALOG_CUT_NONE && c->state != CONN_TUNNEL)
		r->cut = ALOG_CUT_CLIENT;
	alog_emit(c, clock_us(), x->cout_sent);
}

void
alog_stop(struct worker *w)
{
	struct alog *a = w->alog;
	struct alog_rec *r;

	if (a == NULL)
		return;
	for (struct conn *c = w->conns; c != NULL; c = c->next) {
		if (c->x == NULL || (r = c->x->rec) == NULL ||
		    r->state == ALOG_NONE || !r->logging)
			continue;
		if (r->state != ALOG_DONE || c->x->cout_sent < r->out_end)
			r->cut = ALOG_CUT_STOP;
		alog_release(c);
	}
	if (a->timer_on)
		evtimer_del(a->timer);
	a->timer_on = false;
	alog_flush_all(a);
	for (size_t i = 0; i < a->nsinks; i++)
		if (a->sinks[i].fd != -1)
			close(a->sinks[i].fd);
}
