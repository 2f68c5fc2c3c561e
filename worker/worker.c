/*
 * Owns a worker process: its event loop, its listening sockets and accepting.
 */
#include "autoconf.h"

#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/config.h"
#include "common/clock.h"
#include "common/log.h"
#include "shm/shm.h"
#include "worker/alog.h"
#include "worker/conn.h"
#include "http/http.h"
#include "worker/upstream.h"
#include "route/route.h"
#include "worker/worker.h"

#define WORKER_ACCEPT_BATCH	64
#define WORKER_STEAL_BATCH	8	/* from a sibling's queue at a time */
#define WORKER_ACCEPT_PAUSE_MS	100
#define WORKER_BUFS_KEEP	16	/* idle buffer blocks kept for good */
#define WORKER_BUFS_FREE_MAX	4096	/* idle blocks kept for up to a tick */
#define WORKER_TRIM_MIN_CONNS	256	/* a peak worth trimming the heap after */
#define WORKER_LINGER_MS	2000
#define WORKER_MIN_BUF		(16 * 1024)
#define WORKER_UPSTREAM_BUF	(32 * 1024)
/* XFF and framing added on rewrite */
#define WORKER_HEAD_SLACK	(4 * 1024)

static void worker_drain(struct worker *w);

struct accept_ctx {
	struct worker *w;
	struct listener *l;
	struct event *watch;		/* readable: a connection is queued */
};

/*
 * event_add() with a NULL timeout leaves an earlier timeout armed, so a
 * timeout is dropped with event_remove_timer(); deleting and re-adding
 * instead would cost an epoll_ctl per request.
 */
void
worker_ev_want(struct event *ev, bool *on, const struct timeval **cur,
    bool want, const struct timeval *tv)
{
	if (want && (!*on || *cur != tv)) {
		if (*on && tv == NULL)
			event_remove_timer(ev);
		else
			event_add(ev, tv);
		*on = true;
		*cur = tv;
	} else if (!want && *on) {
		event_del(ev);
		*on = false;
		*cur = NULL;
	}
}

static void
worker_accept_enable(struct worker *w, bool on)
{
	if (w->accepting == on)
		return;
	for (size_t i = 0; i < w->nlisteners; i++) {
		if (on)
			event_add(w->accept_ctxs[i].watch, NULL);
		else
			event_del(w->accept_ctxs[i].watch);
	}
	w->accepting = on;
}

/*
 * A flood of connections is over: give the heap's free pages back. TLS
 * connections live in OpenSSL's malloc'd objects (plain ones in slabs and
 * blocks that go back by themselves), and malloc keeps what it freed, so
 * without this a worker would hold a flood's peak for good.
 */
static void
worker_trim_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;

	(void)fd;
	(void)what;
	malloc_trim(0);
	log_debug("heap trimmed after %u connections, %u open now",
	    w->heap_peak, w->nconns);
	w->heap_peak = w->nconns;
}

/* Trim a second after the open connections fell below half their peak. */
static void
worker_trim_later(struct worker *w)
{
	static const struct timeval later = { 1, 0 };

	if (w->heap_peak >= WORKER_TRIM_MIN_CONNS &&
	    w->nconns < w->heap_peak / 2 && w->trim_ev != NULL &&
	    !evtimer_pending(w->trim_ev, NULL))
		evtimer_add(w->trim_ev, &later);
}

void
worker_conn_closed(struct worker *w)
{
	worker_trim_later(w);
	if (w->stopping) {
		if (w->nconns == 0)
			event_base_loopbreak(w->base);
		return;
	}
	if (!w->accepting && w->nconns < w->cfg->max_connections)
		worker_accept_enable(w, true);
}

static void
worker_accept_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;

	(void)fd;
	(void)what;
	if (!w->stopping && w->nconns < w->cfg->max_connections)
		worker_accept_enable(w, true);
}

/*
 * Out of file descriptors: the listening socket stays readable, so pause
 * accepting for a moment instead of spinning on it. One line when an
 * episode starts and one when it ends, with the count: a line per pause
 * would be ten a second per worker for as long as it lasts.
 */
static void
worker_accept_backoff(struct worker *w, const struct listener *l)
{
	const struct timeval pause = { 0, WORKER_ACCEPT_PAUSE_MS * 1000 };

	if (w->fd_pauses++ == 0) {
		w->fd_since_ms = clock_ms();
		log_warn("accept on %s; out of file descriptors, pausing "
		    "accept %d ms at a time until one is free", l->text,
		    WORKER_ACCEPT_PAUSE_MS);
	}
	worker_accept_enable(w, false);
	evtimer_add(w->accept_retry_ev, &pause);
}

/* An accept worked again: close the out-of-descriptors episode, if any. */
static void
worker_accept_recovered(struct worker *w)
{
	log_warnx("accepting again after %u accept pauses for lack of file "
	    "descriptors over %llu ms", w->fd_pauses,
	    (unsigned long long)(clock_ms() - w->fd_since_ms));
	w->fd_pauses = 0;
}

/* Accept up to max; stop accepting while at max_connections. */
static void
worker_accept_batch(struct accept_ctx *ctx, int fd, int max)
{
	struct worker *w = ctx->w;
	struct sockaddr_storage ss;
	socklen_t len;
	int cfd;

	for (int i = 0; i < max; i++) {
		if (w->nconns >= w->cfg->max_connections) {
			log_warnx("max_connections (%u) reached; "
			    "pausing accept", w->cfg->max_connections);
			worker_accept_enable(w, false);
			return;
		}
		len = sizeof(ss);
		cfd = accept4(fd, (struct sockaddr *)&ss, &len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd == -1) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE)
				worker_accept_backoff(w, ctx->l);
			else if (errno != EAGAIN)
				log_warn("accept on %s", ctx->l->text);
			return;
		}
		if (w->fd_pauses > 0)
			worker_accept_recovered(w);
		conn_accept(w, cfd, ctx->l->frontend, ctx->l->tls,
		    (struct sockaddr *)&ss, len);
		if (w->nconns > w->heap_peak)
			w->heap_peak = w->nconns;
	}
}

/* Our own socket: take what is queued, a batch at a time. */
static void
worker_accept_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	worker_accept_batch(arg, fd, WORKER_ACCEPT_BATCH);
}

/*
 * Our successor's socket has a connection queued: take it now. Its owner
 * was woken too and races us when it is idle, but when it is busy (a
 * handshake) or stopped, the connection does not wait for it.
 */
static void
worker_steal_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	worker_accept_batch(arg, fd, WORKER_STEAL_BATCH);
}

static void
worker_signal_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct signalfd_siginfo si;

	(void)what;
	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			w->stopping = true;
			event_base_loopbreak(w->base);
			break;
		case SIGQUIT:
			worker_drain(w);
			break;
		case SIGUSR1:
			if (w->cfg->log_file != NULL &&
			    log_reopen(w->cfg->log_file) == -1)
				log_warn("reopen log file %s",
				    w->cfg->log_file);
			alog_reopen(w);
			break;
		default:
			break;
		}
	}
}

static const struct timeval *
worker_timeout(struct worker *w, uint32_t ms)
{
	struct timeval tv = { .tv_sec = ms / 1000,
	    .tv_usec = (ms % 1000) * 1000 };
	const struct timeval *common = event_base_init_common_timeout(w->base,
	    &tv);

	if (common == NULL)
		fatalx("cannot create a timeout of %u ms", ms);
	return common;
}

/* One shared libevent timeout queue per configured duration. */
static void
worker_timeouts_init(struct worker *w)
{
	const struct config *cfg = w->cfg;

	w->fe_client_tv = calloc(cfg->nfrontends, sizeof(*w->fe_client_tv));
	w->be_connect_tv = calloc(cfg->nbackends + 1,
	    sizeof(*w->be_connect_tv));
	w->be_response_tv = calloc(cfg->nbackends + 1,
	    sizeof(*w->be_response_tv));
	w->be_idle_tv = calloc(cfg->nbackends + 1, sizeof(*w->be_idle_tv));
	if (w->fe_client_tv == NULL || w->be_connect_tv == NULL ||
	    w->be_response_tv == NULL || w->be_idle_tv == NULL)
		fatalx("out of memory");
	for (size_t i = 0; i < cfg->nfrontends; i++)
		w->fe_client_tv[i] = worker_timeout(w,
		    cfg->frontends[i].client_timeout_ms);
	for (size_t i = 0; i < cfg->nbackends; i++) {
		const struct backend_conf *be = &cfg->backends[i];

		w->be_connect_tv[i] = worker_timeout(w, be->connect_timeout_ms);
		w->be_response_tv[i] = worker_timeout(w,
		    be->response_timeout_ms);
		w->be_idle_tv[i] = worker_timeout(w, be->keepalive_timeout_ms);
	}
	w->linger_tv = worker_timeout(w, WORKER_LINGER_MS);
	w->drain_grace_tv = worker_timeout(w, WORKER_DRAIN_GRACE_MS);
}

/*
 * Buffer capacities: the request head must fit whole in cin, and its
 * rewrite in uout. The rewrite writes the Host twice (Host and
 * X-Forwarded-Host), and the Host can be nearly the whole head, so uout
 * takes twice the head plus what weir adds (X-Forwarded-For, X-Real-IP,
 * framing): bounded by max_header_size, and never a 431 for a head that
 * was within it.
 */
static void
worker_buffers_init(struct worker *w)
{
	size_t head = WORKER_MIN_BUF, host = 0;

	for (size_t i = 0; i < w->cfg->nfrontends; i++) {
		if (w->cfg->frontends[i].max_header_size > head)
			head = w->cfg->frontends[i].max_header_size;
		if (w->cfg->frontends[i].max_header_size > host)
			host = w->cfg->frontends[i].max_header_size;
	}
	w->cin_cap = head;
	w->uout_cap = head + host + WORKER_HEAD_SLACK;
	w->uin_cap = WORKER_UPSTREAM_BUF;
	w->cout_cap = WORKER_UPSTREAM_BUF + WORKER_HEAD_SLACK;
	slab_init(&w->conn_slabs, sizeof(struct conn));
	if (bufpool_init(&w->bufs, w->base, CONN_EXCH_SIZE + w->cin_cap +
	    w->cout_cap + w->uin_cap + w->uout_cap + w->alog_rec_size,
	    WORKER_BUFS_KEEP, WORKER_BUFS_FREE_MAX) == -1 ||
	    (w->msg = calloc(1, sizeof(*w->msg))) == NULL ||
	    (w->routes = route_tables_build(w->cfg)) == NULL ||
	    (w->pathbuf = malloc(w->cout_cap > w->cin_cap ? w->cout_cap :
	    w->cin_cap)) == NULL)
		fatalx("out of memory");
}

/* Is fd one of the listening sockets this worker accepts on? */
static bool
worker_accepts_on(const struct worker *w, int fd)
{
	for (size_t i = 0; i < w->nlisteners; i++)
		if (w->listeners[i].fd == fd)
			return true;
	return false;
}

/*
 * Accept on our own listening sockets (the kernel's SO_REUSEPORT share
 * for this worker) and on our successor's in the ring of this
 * generation's workers (worker i watches worker i + 1's). A connection
 * waits in the queue of the socket the kernel hashed it to; with only its
 * owner accepting there, it would wait while that worker is busy (a run
 * of TLS handshakes), descheduled or stopped, even with a sibling idle.
 * Each queue has two watchers, so a connection wakes at most two workers
 * however many there are, where watching every queue would wake them all.
 * When both are idle they race and each wins about half: the spread stays
 * even. (A 3 ms grace before stealing, tried first, cost every connection
 * a timer wakeup in the sibling and lost 5-10% of full TLS handshakes.)
 * Close our copies of every other socket the master holds: a copy left
 * open would keep a socket alive (queueing connections nobody accepts)
 * after the master closed it.
 */
static void
worker_listeners_init(struct worker *w, const struct listeners *mine,
    const struct lpool *all)
{
	uint32_t next = (w->index + 1) % w->cfg->workers;
	struct accept_ctx *ctxs;
	size_t n = 0;
	bool own;

	w->listeners = calloc(mine->n + 1, sizeof(*w->listeners));
	ctxs = calloc(mine->n + 1, sizeof(*ctxs));
	if (w->listeners == NULL || ctxs == NULL)
		fatalx("out of memory");
	for (size_t i = 0; i < mine->n; i++) {
		own = mine->v[i].worker == w->index;
		if (!own && mine->v[i].worker != next)
			continue;
		w->listeners[n] = mine->v[i];
		ctxs[n] = (struct accept_ctx){ .w = w, .l = &w->listeners[n] };
		ctxs[n].watch = event_new(w->base, mine->v[i].fd,
		    EV_READ | EV_PERSIST, own ? worker_accept_cb :
		    worker_steal_cb, &ctxs[n]);
		if (ctxs[n].watch == NULL)
			fatalx("out of memory");
		n++;
	}
	w->accept_ctxs = ctxs;
	w->nlisteners = n;
	for (size_t i = 0; i < all->n; i++)
		if (!worker_accepts_on(w, all->v[i].fd))
			close(all->v[i].fd);
}

/*
 * Stop accepting for good and close our copies of the listening sockets;
 * the master and the new workers keep them open, so nothing queued on them
 * is lost.
 */
static void
worker_listeners_close(struct worker *w)
{
	worker_accept_enable(w, false);
	for (size_t i = 0; i < w->nlisteners; i++) {
		event_free(w->accept_ctxs[i].watch);
		close(w->listeners[i].fd);
	}
	w->nlisteners = 0;
}

static void
worker_drain_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;

	(void)fd;
	(void)what;
	log_warnx("drain_timeout reached with %u connections open; exiting",
	    w->nconns);
	event_base_loopbreak(w->base);
}

/*
 * SIGQUIT (reload or graceful stop): accept nothing new, let every
 * connection finish its exchange and leave with "Connection: close", give
 * idle keep-alive connections a short grace to send one last request, and
 * exit when none is left or drain_timeout says so.
 */
static void
worker_drain(struct worker *w)
{
	struct timeval tv = {
		.tv_sec = w->cfg->drain_timeout_ms / 1000,
		.tv_usec = (w->cfg->drain_timeout_ms % 1000) * 1000,
	};
	struct event *ev;

	if (w->stopping)
		return;
	w->stopping = true;
	log_info("draining %u connections", w->nconns);
	worker_listeners_close(w);
	upstream_pools_drain(w);
	if ((ev = evtimer_new(w->base, worker_drain_timeout_cb, w)) != NULL)
		evtimer_add(ev, &tv);
	conn_drain_all(w);
	if (w->nconns == 0)
		event_base_loopbreak(w->base);
}

/* The signals stay blocked (inherited from the master); read them here. */
static void
worker_signals_init(struct worker *w)
{
	sigset_t set;
	struct event *ev;
	int fd;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGQUIT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGCHLD);
	if ((fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) == -1)
		fatal("signalfd");
	ev = event_new(w->base, fd, EV_READ | EV_PERSIST, worker_signal_cb, w);
	if (ev == NULL || event_add(ev, NULL) == -1)
		fatalx("signal event");
}

static struct event_base *
worker_base_new(void)
{
	struct event_config *ec = event_config_new();
	struct event_base *base;

	if (ec == NULL)
		fatalx("out of memory");
	/* One thread per worker, and batch epoll_ctl calls per loop turn. */
	event_config_set_flag(ec, EVENT_BASE_FLAG_NOLOCK |
	    EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	base = event_base_new_with_config(ec);
	event_config_free(ec);
	if (base == NULL)
		fatalx("event_base_new failed");
	return base;
}

/* Tell the master this worker accepts: its pid on the ready pipe. */
static void
worker_report_ready(int fd)
{
	pid_t pid = getpid();

	if (fd == -1)
		return;
	if (write(fd, &pid, sizeof(pid)) != (ssize_t)sizeof(pid))
		log_warn("ready pipe");
	close(fd);
}

void
worker_main(const struct worker_params *wp)
{
	struct worker w = {
		.cfg = wp->cfg, .shm = wp->shm, .bals = wp->bals,
		.tls = wp->tls, .limits = wp->limits,
		.index = wp->index, .wslot = wp->wslot,
		.rng = ((uint64_t)getpid() << 32) ^ (uint64_t)time(NULL) ^
		    0x9e3779b97f4a7c15ull,
	};
	char name[32];

	snprintf(name, sizeof(name), "worker %u", wp->index);
	log_set_proc(name);
	/*
	 * Die with the master, even if it is killed without a chance to tell
	 * us.
	 */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1 ||
	    getppid() != wp->master_pid)
		_exit(0);
	shm_stats_area(w.shm, w.wslot, &w.st);
	w.base = worker_base_new();
	worker_signals_init(&w);
	worker_timeouts_init(&w);
	w.alog_rec_size = alog_init(&w);
	worker_buffers_init(&w);
	worker_listeners_init(&w, wp->listeners, wp->all);
	if (upstream_pools_init(&w) == -1 || membership_init(&w) == -1)
		fatalx("out of memory");
	if ((w.accept_retry_ev = evtimer_new(w.base, worker_accept_retry_cb,
	    &w)) == NULL ||
	    (w.trim_ev = evtimer_new(w.base, worker_trim_cb, &w)) == NULL)
		fatalx("out of memory");
	worker_accept_enable(&w, true);
	log_debug("accepting on %zu sockets", w.nlisteners);
	worker_report_ready(wp->ready_fd);
	event_base_dispatch(w.base);
	/* SIGQUIT drain, SIGTERM, a retired generation: no line is lost. */
	alog_stop(&w);
	upstream_pools_drain(&w);
	log_debug("exiting");
	_exit(0);
}
