/*
 * Active health checks, run in the master's event loop: each checked server
 * gets a non-blocking TCP or HTTP probe (over TLS for servers flagged
 * "tls") on a jittered schedule, and fall or rise consecutive results move
 * its shared health between UP and DOWN.
 */
#include "autoconf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "common/config.h"
#include "common/clock.h"
#include "common/log.h"
#include "master/health.h"
#include "shm/shm.h"
#include "tls/client.h"
#include "tls/tls.h"

#define HEALTH_JITTER_PCT	10	/* each interval varies by this much */
#define HEALTH_COUNT_MAX	1000000	/* counts saturate; only thresholds matter */
#define HEALTH_READ_MAX		512	/* bytes read per recv; the rest is dropped */
#define HEALTH_STATUS_LEN	13	/* "HTTP/1.1 200" and its delimiter */

enum health_phase {
	HEALTH_IDLE,			/* no socket; timer_ev is the next check */
	HEALTH_CONNECTING,		/* timer_ev is the timeout from here on */
	HEALTH_HANDSHAKING,		/* TLS servers only */
	HEALTH_SENDING,
	HEALTH_READING,
};

/* What every check of a backend shares, copied out of its config. */
struct health_params {
	int kind;			/* enum config_health */
	uint32_t interval_ms;
	uint32_t timeout_ms;
	uint32_t rise;
	uint32_t fall;
	struct status_range expect[CONFIG_MAX_EXPECT];
	size_t nexpect;
	char expect_text[CONFIG_MAX_EXPECT * 8 + 1];
};

/* One checked server and its check in flight, if any. */
struct health_server {
	struct health *h;
	const struct health_params *p;
	char *label;			/* "app/127.0.0.1:9001" */
	char *req;			/* the whole HTTP request; NULL for tcp */
	size_t reqlen;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	uint32_t slot;			/* shm server slot */
	uint32_t passes;		/* consecutive results */
	uint32_t fails;
	enum health_phase phase;
	int fd;				/* -1 while idle */
	short watching;			/* what io_ev waits for, 0 when off */
	size_t sent;
	char buf[HEALTH_STATUS_LEN];	/* the start of the response */
	size_t len;
	uint64_t next_ms;		/* when the next check is due */
	char last[80];			/* "passed: ..." / "failed: ...", for
					 * the admin API; "" before the first */
	struct event *io_ev;		/* reassigned for each socket and phase */
	struct event *timer_ev;		/* next check while idle, else timeout */
	/* TLS servers only (ctx NULL otherwise) */
	SSL_CTX *ctx;			/* a reference of our own */
	char *sni;			/* the backend's tls_sni, or NULL */
	char ip[INET6_ADDRSTRLEN];	/* verified when there is no sni */
	SSL *ssl;			/* the check in flight's */
	SSL_SESSION *sess;		/* resumed by the next check */
};

struct health {
	struct event_base *base;
	struct shm *shm;
	struct health_params *params;	/* per backend of the config */
	struct health_server *servers;
	size_t nservers;
	uint64_t rng;			/* xorshift64 state for the jitter */
};

static void health_io_cb(evutil_socket_t, short, void *);
static void health_timer_cb(evutil_socket_t, short, void *);

static char *health_sprintf(const char *, ...)
    __attribute__((format(printf, 1, 2)));

/* A formatted string in a new allocation, or NULL. */
static char *
health_sprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || (s = malloc((size_t)n + 1)) == NULL)
		return NULL;
	va_start(ap, fmt);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return s;
}

/* A seed that differs between runs and between masters (splitmix64). */
static uint64_t
health_seed(void)
{
	struct timespec ts;
	uint64_t z;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	z = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^
	    ((uint64_t)getpid() << 16);
	z += 0x9e3779b97f4a7c15ull;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	z ^= z >> 31;
	return z != 0 ? z : 1;
}

/* Uniform enough in [0, n) for spreading checks; 0 when n is 0. */
static uint64_t
health_random_below(struct health *h, uint64_t n)
{
	uint64_t x = h->rng;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	h->rng = x;
	return n == 0 ? 0 : (x >> 11) % n;
}

/* interval +- HEALTH_JITTER_PCT, so checks started together drift apart. */
static uint64_t
health_jitter(struct health *h, uint32_t interval_ms)
{
	uint64_t span = (uint64_t)interval_ms * HEALTH_JITTER_PCT / 100;

	return interval_ms - span + health_random_below(h, 2 * span + 1);
}

int
health_parse_status(const char *buf, size_t len, int *status)
{
	static const char pat[] = "HTTP/1.# ###";	/* # is a digit */
	size_t i;

	for (i = 0; i < len && i < sizeof(pat) - 1; i++) {
		if (pat[i] == '#' ? buf[i] < '0' || buf[i] > '9' :
		    buf[i] != pat[i])
			return HEALTH_STATUS_INVALID;
	}
	if (len < HEALTH_STATUS_LEN)
		return HEALTH_STATUS_MORE;
	/* The reason phrase may be empty, and some servers drop its SP. */
	if (buf[12] != ' ' && buf[12] != '\r' && buf[12] != '\n')
		return HEALTH_STATUS_INVALID;
	if (buf[9] < '1' || buf[9] > '5')
		return HEALTH_STATUS_INVALID;
	*status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
	return HEALTH_STATUS_DONE;
}

bool
health_expect_match(const struct status_range *r, size_t n, int status)
{
	for (size_t i = 0; i < n; i++)
		if (status >= r[i].lo && status <= r[i].hi)
			return true;
	return false;
}

void
health_expect_text(const struct status_range *r, size_t n, char *buf,
    size_t len)
{
	size_t off = 0;
	int k;

	if (len == 0)
		return;
	buf[0] = '\0';
	for (size_t i = 0; i < n && off < len; i++) {
		if (r[i].lo == r[i].hi)
			k = snprintf(buf + off, len - off, "%s%u", i ? "," : "",
			    r[i].lo);
		else
			k = snprintf(buf + off, len - off, "%s%u-%u",
			    i ? "," : "", r[i].lo, r[i].hi);
		if (k < 0)
			return;
		off += (size_t)k;
	}
}

uint32_t
health_step(uint32_t state, bool pass, uint32_t rise, uint32_t fall,
    uint32_t *passes, uint32_t *fails)
{
	if (pass) {
		*fails = 0;
		if (*passes < HEALTH_COUNT_MAX)
			(*passes)++;
		if (state == SHM_HEALTH_DOWN && *passes >= rise)
			return SHM_HEALTH_UP;
	} else {
		*passes = 0;
		if (*fails < HEALTH_COUNT_MAX)
			(*fails)++;
		if (state == SHM_HEALTH_UP && *fails >= fall)
			return SHM_HEALTH_DOWN;
	}
	return state;
}

static void
health_timer_add(struct health_server *sv, uint64_t delay_ms)
{
	struct timeval tv;

	tv.tv_sec = (time_t)(delay_ms / 1000);
	tv.tv_usec = (suseconds_t)(delay_ms % 1000) * 1000;
	if (evtimer_add(sv->timer_ev, &tv) == -1)
		log_warnx("server %s: cannot schedule its health check",
		    sv->label);
}

/*
 * Count one result and publish a change of state. The master is the only
 * writer of health and up_since_ms (shm_publish runs in this process too),
 * so reading health back needs no ordering. up_since_ms is stored before
 * health, both with release: a worker that acquires UP also sees the new
 * up_since, so slow start never ramps from a stale time.
 */
static void
health_result(struct health_server *sv, bool pass, const char *reason)
{
	struct shm_server_sh *ss = &sv->h->shm->servers[sv->slot];
	const struct health_params *p = sv->p;
	uint32_t old, now;
	uint64_t t;

	snprintf(sv->last, sizeof(sv->last), "%s: %s", pass ? "passed" :
	    "failed", reason);
	old = atomic_load_explicit(&ss->health, memory_order_relaxed);
	now = health_step(old, pass, p->rise, p->fall, &sv->passes,
	    &sv->fails);
	if (now == old) {
		if (!pass)
			log_debug("server %s check failed: %s (%u/%u)",
			    sv->label, reason, sv->fails, p->fall);
		else if (old == SHM_HEALTH_DOWN)
			log_debug("server %s check passed: %s (%u/%u)",
			    sv->label, reason, sv->passes, p->rise);
		return;
	}
	if (now == SHM_HEALTH_UP) {
		t = clock_ms();
		atomic_store_explicit(&ss->up_since_ms, t != 0 ? t : 1,
		    memory_order_release);
		atomic_store_explicit(&ss->health, SHM_HEALTH_UP,
		    memory_order_release);
		log_info("server %s UP: %s (%u/%u)", sv->label, reason,
		    sv->passes, p->rise);
	} else {
		atomic_store_explicit(&ss->health, SHM_HEALTH_DOWN,
		    memory_order_release);
		log_warnx("server %s DOWN: %s (%u/%u)", sv->label, reason,
		    sv->fails, p->fall);
	}
}

/* Close the check's socket, if any; the server goes back to idle. */
static void
health_close(struct health_server *sv)
{
	if (sv->watching != 0)
		event_del(sv->io_ev);
	sv->watching = 0;
	SSL_free(sv->ssl);
	sv->ssl = NULL;
	if (sv->fd != -1)
		close(sv->fd);
	sv->fd = -1;
	sv->phase = HEALTH_IDLE;
}

/* The check is over: close, count it, and schedule the next one. */
static void
health_done(struct health_server *sv, bool pass, const char *reason)
{
	uint64_t now;

	health_close(sv);
	health_result(sv, pass, reason);
	now = clock_ms();
	health_timer_add(sv, sv->next_ms > now ? sv->next_ms - now : 0);
}

/* A socket error ended the check; name it the way operators read it. */
static void
health_fail_errno(struct health_server *sv, int err)
{
	char reason[96];

	if (err == ECONNREFUSED)
		snprintf(reason, sizeof(reason), "connect refused");
	else if (err == ETIMEDOUT && sv->phase == HEALTH_CONNECTING)
		snprintf(reason, sizeof(reason), "connect timed out");
	else if (err == ECONNRESET || err == EPIPE)
		snprintf(reason, sizeof(reason), "connection reset");
	else if (sv->phase == HEALTH_CONNECTING)
		snprintf(reason, sizeof(reason), "connect failed: %s",
		    strerror(err));
	else
		snprintf(reason, sizeof(reason), "%s", strerror(err));
	health_done(sv, false, reason);
}

/* Wait for what on the check's socket (persistent until changed). */
static int
health_watch(struct health_server *sv, short what)
{
	if (sv->watching == what)
		return 0;
	if (sv->watching != 0)
		event_del(sv->io_ev);
	sv->watching = 0;
	if (event_assign(sv->io_ev, sv->h->base, sv->fd, what | EV_PERSIST,
	    health_io_cb, sv) == -1 || event_add(sv->io_ev, NULL) == -1) {
		log_warnx("server %s: cannot watch its health check socket",
		    sv->label);
		return -1;
	}
	sv->watching = what;
	return 0;
}

/* Something went wrong on our side: no result, try again next interval. */
static void
health_abort(struct health_server *sv)
{
	uint64_t now = clock_ms();

	health_close(sv);
	health_timer_add(sv, sv->next_ms > now ? sv->next_ms - now : 0);
}

/* Write what is left of the request; then wait for the status line. */
static void
health_send(struct health_server *sv)
{
	ssize_t n;

	enum tls_want want = TLS_WANT_WRITE;

	sv->phase = HEALTH_SENDING;
	while (sv->sent < sv->reqlen) {
		if (sv->ssl != NULL)
			n = tls_client_send(sv->ssl, sv->req + sv->sent,
			    sv->reqlen - sv->sent, &want);
		else
			n = send(sv->fd, sv->req + sv->sent,
			    sv->reqlen - sv->sent, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (health_watch(sv, want == TLS_WANT_READ ? EV_READ :
			    EV_WRITE) == -1)
				health_abort(sv);
			return;
		}
		if (n == -1) {
			health_fail_errno(sv, errno);
			return;
		}
		sv->sent += (size_t)n;
	}
	sv->phase = HEALTH_READING;
	if (health_watch(sv, EV_READ) == -1)
		health_abort(sv);
}

/* Judge a complete status code against the backend's health_expect. */
static void
health_verdict(struct health_server *sv, int status)
{
	char reason[sizeof(sv->p->expect_text) + 32];

	if (health_expect_match(sv->p->expect, sv->p->nexpect, status)) {
		snprintf(reason, sizeof(reason), "HTTP %d", status);
		health_done(sv, true, reason);
	} else {
		snprintf(reason, sizeof(reason), "HTTP %d not in %s", status,
		    sv->p->expect_text);
		health_done(sv, false, reason);
	}
}

/*
 * Read until the status line says enough. Bytes past it are read and
 * dropped in the same recv, which makes a reset on close less likely.
 */
static void
health_read(struct health_server *sv)
{
	enum tls_want want = TLS_WANT_READ;
	char data[HEALTH_READ_MAX];
	size_t room;
	ssize_t n;
	int status, rc;

	for (;;) {
		if (sv->ssl != NULL)
			n = tls_client_recv(sv->ssl, data, sizeof(data), &want);
		else
			n = recv(sv->fd, data, sizeof(data), 0);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (health_watch(sv, want == TLS_WANT_WRITE ?
			    EV_WRITE : EV_READ) == -1)
				health_abort(sv);
			return;
		}
		if (n == -1) {
			health_fail_errno(sv, errno);
			return;
		}
		if (n == 0) {
			health_done(sv, false, "closed before a status line");
			return;
		}
		room = sizeof(sv->buf) - sv->len;
		if ((size_t)n < room)
			room = (size_t)n;
		memcpy(sv->buf + sv->len, data, room);
		sv->len += room;
		rc = health_parse_status(sv->buf, sv->len, &status);
		if (rc == HEALTH_STATUS_INVALID) {
			health_done(sv, false, "invalid status line");
			return;
		}
		if (rc == HEALTH_STATUS_DONE) {
			health_verdict(sv, status);
			return;
		}
	}
}

/* The connection is ready: tcp passes, http goes on to the request. */
static void
health_ready(struct health_server *sv)
{
	if (sv->p->kind == CONFIG_HEALTH_TCP)
		health_done(sv, true, sv->ssl != NULL ? "TLS handshake done" :
		    "connected");
	else
		health_send(sv);
}

/*
 * Drive the TLS handshake; a certificate that fails verification fails
 * the check, with the reason.
 */
static void
health_handshake(struct health_server *sv)
{
	char why[160], reason[sizeof(why) + 32];
	enum tls_want want;
	int rc;

	sv->phase = HEALTH_HANDSHAKING;
	rc = tls_client_handshake(sv->ssl, &want, why, sizeof(why));
	if (rc == 0)
		health_ready(sv);
	else if (rc == 1) {
		if (health_watch(sv, want == TLS_WANT_READ ? EV_READ :
		    EV_WRITE) == -1)
			health_abort(sv);
	} else {
		snprintf(reason, sizeof(reason), "TLS handshake failed: %s",
		    why);
		health_done(sv, false, reason);
	}
}

/* The TCP handshake is done: TLS comes next, else the connection is ready. */
static void
health_connected(struct health_server *sv)
{
	if (sv->ctx == NULL) {
		health_ready(sv);
		return;
	}
	if ((sv->ssl = tls_client_open(sv->ctx, sv->sni, sv->ip, sv->fd,
	    &sv->sess)) == NULL) {
		log_warnx("server %s: cannot start its TLS health check",
		    sv->label);
		health_abort(sv);
		return;
	}
	health_handshake(sv);
}

static void
health_io_cb(evutil_socket_t fd, short what, void *arg)
{
	struct health_server *sv = arg;
	socklen_t len = sizeof(int);
	int err = 0;

	(void)what;
	switch (sv->phase) {
	case HEALTH_CONNECTING:
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
			err = errno;
		if (err != 0)
			health_fail_errno(sv, err);
		else
			health_connected(sv);
		break;
	case HEALTH_HANDSHAKING:
		health_handshake(sv);
		break;
	case HEALTH_SENDING:
		health_send(sv);
		break;
	case HEALTH_READING:
		health_read(sv);
		break;
	case HEALTH_IDLE:
		break;
	}
}

/* Open the socket and start connecting; the timer becomes the timeout. */
static void
health_start(struct health_server *sv)
{
	struct health *h = sv->h;
	uint64_t now = clock_ms();

	sv->next_ms = now + health_jitter(h, sv->p->interval_ms);
	/* A server in maintenance is not ours to judge until it is back. */
	if (atomic_load_explicit(&h->shm->servers[sv->slot].admin,
	    memory_order_acquire) == SHM_ADMIN_MAINT) {
		health_timer_add(sv, sv->next_ms - now);
		return;
	}
	sv->fd = socket(sv->addr.ss_family,
	    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (sv->fd == -1) {
		log_warn("server %s: health check socket", sv->label);
		health_timer_add(sv, sv->next_ms - now);
		return;
	}
	sv->sent = 0;
	sv->len = 0;
	sv->phase = HEALTH_CONNECTING;
	health_timer_add(sv, sv->p->timeout_ms);
	if (connect(sv->fd, (struct sockaddr *)&sv->addr, sv->addrlen) == 0)
		health_connected(sv);
	else if (errno != EINPROGRESS)
		health_fail_errno(sv, errno);
	else if (health_watch(sv, EV_WRITE) == -1)
		health_abort(sv);
}

/* Idle: time for the next check. Otherwise the check ran out of time. */
static void
health_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct health_server *sv = arg;

	(void)fd;
	(void)what;
	if (sv->phase == HEALTH_IDLE)
		health_start(sv);
	else if (sv->phase == HEALTH_CONNECTING)
		health_done(sv, false, "connect timed out");
	else if (sv->phase == HEALTH_HANDSHAKING)
		health_done(sv, false, "TLS handshake timed out");
	else
		health_done(sv, false, "timed out");
}

static void
health_params_init(struct health_params *p, const struct backend_conf *be)
{
	p->kind = be->health_check;
	p->interval_ms = be->health_interval_ms > 0 ? be->health_interval_ms : 1;
	p->timeout_ms = be->health_timeout_ms;
	p->rise = be->health_rise > 0 ? be->health_rise : 1;
	p->fall = be->health_fall > 0 ? be->health_fall : 1;
	p->nexpect = be->nhealth_expect;
	memcpy(p->expect, be->health_expect, sizeof(p->expect));
	health_expect_text(p->expect, p->nexpect, p->expect_text,
	    sizeof(p->expect_text));
}

/* A TLS server's context (a reference), SNI and address, copied. */
static int
health_server_tls(struct health_server *sv, SSL_CTX *ctx,
    const struct backend_conf *be)
{
	const struct sockaddr_in6 *a6 = (const void *)&sv->addr;
	const struct sockaddr_in *a4 = (const void *)&sv->addr;
	const void *a = sv->addr.ss_family == AF_INET6 ?
	    (const void *)&a6->sin6_addr : (const void *)&a4->sin_addr;

	if (ctx == NULL || SSL_CTX_up_ref(ctx) != 1)
		return -1;
	sv->ctx = ctx;
	if (inet_ntop(sv->addr.ss_family, a, sv->ip, sizeof(sv->ip)) == NULL)
		return -1;
	if (be->tls_sni != NULL && (sv->sni = strdup(be->tls_sni)) == NULL)
		return -1;
	return 0;
}

/*
 * Copy what a check of the server in slot needs (its address and flags
 * are in its shm slot, file server or not); nothing of the config is kept.
 */
static int
health_server_init(struct health *h, struct health_server *sv,
    const struct health_params *p, const struct backend_conf *be,
    uint32_t slot, SSL_CTX *ctx)
{
	const struct shm_server_sh *ss;

	sv->h = h;
	sv->p = p;
	sv->fd = -1;
	sv->slot = slot;
	if (slot >= h->shm->hdr->max_servers)
		fatalx("a server of %s has no shm slot", be->name);
	ss = &h->shm->servers[slot];
	memset(&sv->addr, 0, sizeof(sv->addr));
	memcpy(&sv->addr, &ss->sa, ss->salen);
	sv->addrlen = ss->salen;
	if ((sv->label = health_sprintf("%s/%s", be->name, ss->addr)) == NULL)
		return -1;
	if (p->kind == CONFIG_HEALTH_HTTP) {
		sv->req = health_sprintf("GET %s HTTP/1.1\r\nHost: %s\r\n"
		    "Connection: close\r\nUser-Agent: weir-health-check\r\n"
		    "\r\n", be->health_path != NULL ? be->health_path : "/",
		    be->health_host != NULL ? be->health_host : ss->addr);
		if (sv->req == NULL)
			return -1;
		sv->reqlen = strlen(sv->req);
	}
	if ((ss->flags & SHM_SERVER_TLS) &&
	    health_server_tls(sv, ctx, be) == -1)
		return -1;
	sv->io_ev = event_new(h->base, -1, 0, health_io_cb, sv);
	sv->timer_ev = evtimer_new(h->base, health_timer_cb, sv);
	if (sv->io_ev == NULL || sv->timer_ev == NULL)
		return -1;
	return 0;
}

/*
 * Keep the consecutive counts of servers the previous checker knew, by
 * shm slot: a reload in the middle of a run of failures neither forgives
 * nor repeats them. The check in flight there is simply dropped.
 */
static int
health_carry(struct health *h, const struct health *prev)
{
	const struct health_server **by_slot;
	uint32_t max = h->shm->hdr->max_servers;

	if (prev == NULL || prev->nservers == 0)
		return 0;
	if ((by_slot = calloc(max, sizeof(*by_slot))) == NULL)
		return -1;
	for (size_t i = 0; i < prev->nservers; i++)
		by_slot[prev->servers[i].slot] = &prev->servers[i];
	for (size_t i = 0; i < h->nservers; i++) {
		const struct health_server *old = by_slot[h->servers[i].slot];

		if (old != NULL) {
			h->servers[i].passes = old->passes;
			h->servers[i].fails = old->fails;
			memcpy(h->servers[i].last, old->last,
			    sizeof(old->last));
			/*
			 * Keep the schedule too, so reloads in quick
			 * succession do not keep pushing checks back: a check
			 * that was in flight starts again at once.
			 */
			h->servers[i].next_ms = old->phase == HEALTH_IDLE ?
			    old->next_ms : 1;
		}
	}
	free(by_slot);
	return 0;
}

/*
 * The servers of backend be to check, by shm slot, into out (room for
 * max_servers): the file's, then those the list adds (shm->dynamic).
 */
static uint32_t
health_slots(const struct shm *shm, const struct backend_conf *be,
    struct shm_member *dyn, uint32_t *out)
{
	uint32_t n = 0, nd = 0, room = shm->hdr->max_servers;

	for (size_t s = 0; s < be->nservers && n < room; s++)
		out[n++] = be->servers[s].slot;
	if (shm->dynamic != NULL)
		nd = shm->dynamic(shm->dynamic_arg, be->name, dyn, room);
	for (uint32_t i = 0; i < nd && n < room; i++)
		out[n++] = dyn[i].slot;
	return n;
}

static size_t
health_count(const struct shm *shm, const struct config *cfg,
    struct shm_member *dyn, uint32_t *slots)
{
	size_t n = 0;

	for (size_t b = 0; b < cfg->nbackends; b++)
		if (cfg->backends[b].health_check != CONFIG_HEALTH_NONE)
			n += health_slots(shm, &cfg->backends[b], dyn, slots);
	return n;
}

struct health *
health_new(struct event_base *base, struct shm *shm, const struct config *cfg,
    const struct tls_gen *tls, const struct health *prev)
{
	uint32_t max = shm->hdr->max_servers, *slots, k;
	struct shm_member *dyn;
	struct health *h = NULL;
	size_t n;

	slots = calloc(max, sizeof(*slots));
	dyn = calloc(max, sizeof(*dyn));
	if (slots == NULL || dyn == NULL)
		goto fail;
	n = health_count(shm, cfg, dyn, slots);
	if ((h = calloc(1, sizeof(*h))) == NULL)
		goto fail;
	h->base = base;
	h->shm = shm;
	h->rng = health_seed();
	h->params = calloc(cfg->nbackends + 1, sizeof(*h->params));
	h->servers = calloc(n + 1, sizeof(*h->servers));
	if (h->params == NULL || h->servers == NULL)
		goto fail;
	for (size_t b = 0; b < cfg->nbackends; b++) {
		const struct backend_conf *be = &cfg->backends[b];

		if (be->health_check == CONFIG_HEALTH_NONE)
			continue;
		health_params_init(&h->params[b], be);
		k = health_slots(shm, be, dyn, slots);
		for (uint32_t s = 0; s < k && h->nservers < n; s++)
			/* Counted first, so health_free undoes a partial one. */
			if (health_server_init(h, &h->servers[h->nservers++],
			    &h->params[b], be, slots[s],
			    tls_gen_backend(tls, b)) == -1)
				goto fail;
	}
	free(slots);
	free(dyn);
	slots = NULL;
	dyn = NULL;
	if (health_carry(h, prev) == -1)
		goto fail;
	/* Spread the first round over one interval (carried ones keep theirs). */
	for (size_t i = 0; i < h->nservers; i++) {
		struct health_server *sv = &h->servers[i];
		uint64_t now = clock_ms();

		if (sv->next_ms != 0)
			health_timer_add(sv, sv->next_ms > now ?
			    sv->next_ms - now : 0);
		else
			health_timer_add(sv, health_random_below(h,
			    sv->p->interval_ms));
	}
	if (h->nservers > 0)
		log_debug("health checks for %zu servers", h->nservers);
	return h;
fail:
	log_warnx("health checks: out of memory");
	free(slots);
	free(dyn);
	health_free(h);
	return NULL;
}

void
health_free(struct health *h)
{
	if (h == NULL)
		return;
	for (size_t i = 0; i < h->nservers; i++) {
		struct health_server *sv = &h->servers[i];

		if (sv->io_ev != NULL)
			event_free(sv->io_ev);
		if (sv->timer_ev != NULL)
			event_free(sv->timer_ev);
		SSL_free(sv->ssl);
		if (sv->fd != -1)
			close(sv->fd);
		SSL_SESSION_free(sv->sess);
		SSL_CTX_free(sv->ctx);
		free(sv->sni);
		free(sv->label);
		free(sv->req);
	}
	free(h->servers);
	free(h->params);
	free(h);
}

/* The events stay: they belong to the master's loop, which the child drops. */
void
health_atfork_child(const struct health *h)
{
	for (size_t i = 0; h != NULL && i < h->nservers; i++)
		if (h->servers[i].fd != -1)
			close(h->servers[i].fd);
}

const char *
health_last(const struct health *h, uint32_t slot)
{
	if (h == NULL)
		return NULL;
	for (size_t i = 0; i < h->nservers; i++)
		if (h->servers[i].slot == slot)
			return h->servers[i].last[0] != '\0' ?
			    h->servers[i].last : NULL;
	return NULL;
}
