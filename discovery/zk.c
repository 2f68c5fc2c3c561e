/* A ZooKeeper watch on one path's children, run in the master's loop. */
#include "autoconf.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <zookeeper/zookeeper.h>

#include "common/log.h"
#include "discovery/zk.h"

/*
 * The single-threaded ZooKeeper client does no I/O of its own:
 * zookeeper_interest() says which fd to wait on, for what and until when,
 * and zookeeper_process() does the I/O and runs completions and watchers in
 * the caller's thread. One libevent event (zk_watch.ev) carries that
 * interest and is re-armed after every call, so nothing here blocks the
 * master's loop except zookeeper_init() (getaddrinfo() on host names) and
 * zookeeper_close() on a live session (see zk_watch_close()).
 *
 * A "round" reads the children (setting a child watch) and then each
 * child's data (setting a data watch). Any watch firing asks for a new
 * round; one that fires while a round is out only marks it to run again
 * when the round completes (zk_watch.again). Every request of a round
 * carries a pointer into the round, which is freed only when all of them
 * completed: the client calls every completion exactly once, with an
 * error on connection loss or close.
 */

#define ZK_SESSION_MS	10000	/* asked for; the server bounds it */
#define ZK_BACKOFF_MS	1000	/* first wait before reconnecting */
#define ZK_BACKOFF_MAX	30000

struct zk_slot {
	struct zk_round	*round;
	char		*name;		/* child node name */
	char		*data;		/* its data, NUL-terminated */
	size_t		 len;
	bool		 done;		/* read; false if the node vanished */
};

struct zk_round {
	struct zk_watch	*w;
	struct zk_slot	*slots;
	size_t		 n;
	size_t		 pending;	/* requests not completed yet */
	bool		 failed;	/* some read failed: deliver nothing */
	bool		 nonode;	/* the path itself does not exist */
};

/* A child logged as malformed, so that unchanged data is logged once. */
struct zk_bad {
	char		*name;
	char		*data;
};

struct zk_watch {
	struct event_base *base;
	char		*hosts;
	char		*path;
	char		*label;
	zk_watch_cb	 cb;
	void		*arg;

	zhandle_t	*zh;
	struct event	*ev;		/* the handle's fd, or a timer */
	enum zk_state	 state;
	unsigned	 failures;	/* connection failures since the last
					   session up, for the backoff */
	bool		 expired;	/* set in the watcher, acted on after */
	bool		 closing;

	struct zk_round	*round;		/* the read in progress, or NULL */
	bool		 again;		/* a watch fired during the round */
	bool		 nopath;	/* the path was missing (logged) */

	struct zk_member *members;	/* the last list delivered */
	size_t		 nmembers;
	bool		 delivered;
	struct zk_bad	*bad;
	size_t		 nbad;
};

static void	zk_watch_arm(struct zk_watch *);
static void	zk_watch_round(struct zk_watch *);
static void	zk_watch_event_cb(zhandle_t *, int, int, const char *, void *);
static void	zk_round_exists_cb(int, const struct Stat *, const void *);

/* The ZooKeeper client's own log lines: weir's debug level only. */
static void
zk_watch_zlog_cb(const char *msg)
{
	size_t len = strlen(msg);

	while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == '\r'))
		len--;
	log_debug("zookeeper client: %.*s", (int)len, msg);
}

const char *
zk_watch_state_name(enum zk_state state)
{
	switch (state) {
	case ZK_CONNECTING:
		return "connecting";
	case ZK_OK:
		return "ok";
	case ZK_LOST:
		return "lost";
	}
	return "?";
}

enum zk_state
zk_watch_state(const struct zk_watch *w)
{
	return w->state;
}

/* Milliseconds to wait before the next connection attempt. */
static int
zk_watch_backoff(const struct zk_watch *w)
{
	unsigned shift;

	/* The first failure tries the next server at once. */
	if (w->failures <= 1)
		return 0;
	shift = w->failures - 2;
	if (shift > 5)
		return ZK_BACKOFF_MAX;
	return ZK_BACKOFF_MS << shift > ZK_BACKOFF_MAX ? ZK_BACKOFF_MAX :
	    ZK_BACKOFF_MS << shift;
}

/* Arm ev as a plain timer that calls cb after ms. */
static void
zk_watch_timer(struct zk_watch *w, int ms, event_callback_fn cb)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	event_del(w->ev);
	event_assign(w->ev, w->base, -1, 0, cb, w);
	event_add(w->ev, &tv);
}

/* Leave ZK_OK, once, saying what is kept. */
static void
zk_watch_lost(struct zk_watch *w, const char *why)
{
	if (w->state != ZK_OK)
		return;
	w->state = ZK_LOST;
	log_warnx("%s: zookeeper %s: %s, keeping %zu members", w->label,
	    w->hosts, why, w->nmembers);
}

/*
 * Drop the handle. On a live session zookeeper_close() sends a close
 * request and waits for it to be sent (up to 3 s) and answered (up to
 * 1.5 s): that wait blocks the loop, which is why only zk_watch_free()
 * closes a handle that may be connected. Pending completions run from in
 * here with ZCLOSING and release their rounds.
 */
static void
zk_watch_close(struct zk_watch *w)
{
	zhandle_t *zh = w->zh;

	if (zh == NULL)
		return;
	event_del(w->ev);
	w->zh = NULL;
	zookeeper_close(zh);
}

/* Open a new session (none yet, or the last one expired). */
static void
zk_watch_open_cb(evutil_socket_t fd, short what, void *arg)
{
	struct zk_watch *w = arg;

	(void)fd;
	(void)what;
	w->expired = false;
	w->zh = zookeeper_init2(w->hosts, zk_watch_event_cb, ZK_SESSION_MS,
	    NULL, w, 0, zk_watch_zlog_cb);
	if (w->zh == NULL) {
		w->failures++;
		log_warn("%s: zookeeper %s: cannot start a session", w->label,
		    w->hosts);
		zk_watch_timer(w, zk_watch_backoff(w), zk_watch_open_cb);
		return;
	}
	zk_watch_arm(w);
}

/* The session expired: a new handle, after the backoff. */
static void
zk_watch_expire(struct zk_watch *w)
{
	zk_watch_lost(w, "session expired");
	log_info("%s: zookeeper %s: session expired, starting a new one",
	    w->label, w->hosts);
	/* An expired handle is not connected: closing it does not wait. */
	zk_watch_close(w);
	if (w->failures < 2)
		w->failures = 2;
	else
		w->failures++;
	zk_watch_timer(w, zk_watch_backoff(w), zk_watch_open_cb);
}

/* Backoff over: ask the client what to do next (connect, most likely). */
static void
zk_watch_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	zk_watch_arm(arg);
}

/* A client call failed (rc): a new session, or a retry after the backoff. */
static void
zk_watch_failed(struct zk_watch *w, int rc)
{
	if (w->expired || is_unrecoverable(w->zh)) {
		zk_watch_expire(w);
		return;
	}
	w->failures++;
	zk_watch_lost(w, zerror(rc));
	if (w->failures == 2)
		log_warnx("%s: zookeeper %s: unreachable (%s), retrying",
		    w->label, w->hosts, zerror(rc));
	zk_watch_timer(w, zk_watch_backoff(w), zk_watch_retry_cb);
}

/* The handle's fd is ready, or the client's timeout passed. */
static void
zk_watch_io_cb(evutil_socket_t fd, short what, void *arg)
{
	struct zk_watch *w = arg;
	int events = 0, rc;

	/* No socket: the client asked only for a pause before connecting. */
	if (fd == -1) {
		zk_watch_arm(w);
		return;
	}
	if (what & EV_READ)
		events |= ZOOKEEPER_READ;
	if (what & EV_WRITE)
		events |= ZOOKEEPER_WRITE;
	rc = zookeeper_process(w->zh, events);
	if (w->expired || is_unrecoverable(w->zh))
		zk_watch_expire(w);
	else if (rc != ZOK && rc != ZNOTHING)
		zk_watch_failed(w, rc);
	else
		zk_watch_arm(w);
}

/* Wait for what the client wants next: its fd, its timeout, or both. */
static void
zk_watch_arm(struct zk_watch *w)
{
	struct timeval tv;
	short flags = 0;
	int fd = -1, interest = 0, rc;

	if ((rc = zookeeper_interest(w->zh, &fd, &interest, &tv)) != ZOK) {
		zk_watch_failed(w, rc);
		return;
	}
	if (interest & ZOOKEEPER_READ)
		flags |= EV_READ;
	if (interest & ZOOKEEPER_WRITE)
		flags |= EV_WRITE;
	if (fd == -1)
		flags = 0;
	/* The fd may be new (another server), or closed and reused. */
	event_del(w->ev);
	event_assign(w->ev, w->base, fd, flags, zk_watch_io_cb, w);
	event_add(w->ev, &tv);
}

/* Was this child logged as malformed last round, with the same data? */
static bool
zk_watch_bad_known(const struct zk_watch *w, const struct zk_slot *s)
{
	size_t i;

	for (i = 0; i < w->nbad; i++)
		if (strcmp(w->bad[i].name, s->name) == 0 &&
		    strcmp(w->bad[i].data, s->data) == 0)
			return true;
	return false;
}

static void
zk_watch_bad_free(struct zk_bad *bad, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(bad[i].name);
		free(bad[i].data);
	}
	free(bad);
}

/*
 * Keep one member per address (the first node in order): a server that
 * registers again before its old ephemeral node expired is one server.
 */
static size_t
zk_watch_dedup(struct zk_member *m, size_t n)
{
	size_t i, out = 0;

	for (i = 0; i < n; i++) {
		if (out > 0 && strcmp(m[out - 1].address, m[i].address) == 0)
			continue;
		if (out != i)
			m[out] = m[i];
		out++;
	}
	return out;
}

/* A member list as the watch's owner gets it, or NULL on no memory. */
static struct zk_member *
zk_watch_members(struct zk_watch *w, struct zk_round *r, size_t *np,
    struct zk_bad **badp, size_t *nbadp)
{
	struct zk_member *m;
	struct zk_bad *bad;
	const char *why;
	size_t i, n = 0, nbad = 0;

	m = calloc(r->n + 1, sizeof(*m));
	bad = calloc(r->n + 1, sizeof(*bad));
	if (m == NULL || bad == NULL) {
		free(m);
		free(bad);
		return NULL;
	}
	for (i = 0; i < r->n; i++) {
		struct zk_slot *s = &r->slots[i];

		if (!s->done)
			continue;
		if (zkmember_parse(s->name, s->data, s->len, &m[n], &why) ==
		    0) {
			n++;
			continue;
		}
		if (!zk_watch_bad_known(w, s))
			log_warnx("%s: zookeeper node %s/%s skipped: %s",
			    w->label, w->path, s->name, why);
		/* Ownership of name and data moves to the bad list. */
		bad[nbad].name = s->name;
		bad[nbad].data = s->data;
		s->name = s->data = NULL;
		nbad++;
	}
	qsort(m, n, sizeof(*m), zkmember_cmp);
	*np = zk_watch_dedup(m, n);
	*badp = bad;
	*nbadp = nbad;
	return m;
}

/* A round read everything: hand the list over if it changed. */
static void
zk_watch_deliver(struct zk_watch *w, struct zk_round *r)
{
	struct zk_member *m;
	struct zk_bad *bad;
	size_t n, nbad;

	if ((m = zk_watch_members(w, r, &n, &bad, &nbad)) == NULL) {
		log_warnx("%s: zookeeper: out of memory for the member list",
		    w->label);
		return;
	}
	zk_watch_bad_free(w->bad, w->nbad);
	w->bad = bad;
	w->nbad = nbad;
	/* Members are zeroed before parsing: memcmp() compares them. */
	if (w->delivered && n == w->nmembers &&
	    memcmp(m, w->members, n * sizeof(*m)) == 0) {
		free(m);
		return;
	}
	free(w->members);
	w->members = m;
	w->nmembers = n;
	w->delivered = true;
	log_info("%s: zookeeper %s%s: %zu members", w->label, w->hosts,
	    w->path, n);
	w->cb(w->arg, m, n);
}

/* The round's last request completed. */
static void
zk_round_finish(struct zk_round *r)
{
	struct zk_watch *w = r->w;
	size_t i;

	if (w->round == r)
		w->round = NULL;
	if (!r->failed && !w->closing)
		zk_watch_deliver(w, r);
	for (i = 0; i < r->n; i++) {
		free(r->slots[i].name);
		free(r->slots[i].data);
	}
	free(r->slots);
	free(r);
	if (w->again && w->round == NULL) {
		w->again = false;
		zk_watch_round(w);
	}
}

/* One child's data arrived (or the child is gone, or the session). */
static void
zk_round_data_cb(int rc, const char *value, int len, const struct Stat *st,
    const void *data)
{
	struct zk_slot *s = (struct zk_slot *)data;
	struct zk_round *r = s->round;

	(void)st;
	if (len < 0)
		len = 0;
	if (rc == ZOK) {
		if ((s->data = malloc((size_t)len + 1)) == NULL)
			r->failed = true;
		else {
			if (len > 0)
				memcpy(s->data, value, (size_t)len);
			s->data[len] = '\0';
			s->len = (size_t)len;
			s->done = true;
		}
	} else if (rc != ZNONODE)
		/* ZNONODE: deleted since the listing; its watch reports it. */
		r->failed = true;
	if (--r->pending == 0)
		zk_round_finish(r);
}

/* Ask for each child's data, with a data watch. */
static void
zk_round_read(struct zk_round *r)
{
	struct zk_watch *w = r->w;
	char path[1024];
	size_t i;
	int rc;

	r->pending = r->n;
	for (i = 0; i < r->n; i++) {
		rc = -1;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", w->path,
		    r->slots[i].name) < sizeof(path))
			rc = zoo_awget(w->zh, path, zk_watch_event_cb, w,
			    zk_round_data_cb, &r->slots[i]);
		if (rc != ZOK) {
			r->failed = true;
			r->pending--;
		}
	}
	if (r->pending == 0)
		zk_round_finish(r);
}

/* The children of the path, or why not. */
static void
zk_round_children_cb(int rc, const struct String_vector *names,
    const struct Stat *st, const void *data)
{
	struct zk_round *r = (struct zk_round *)data;
	struct zk_watch *w = r->w;
	int32_t i;

	(void)st;
	if (rc == ZNONODE && w->zh != NULL) {
		/* No path, no members; a watch on it says when it appears. */
		if (zoo_awexists(w->zh, w->path, zk_watch_event_cb, w,
		    zk_round_exists_cb, NULL) != ZOK)
			r->failed = true;
		else if (!w->nopath)
			log_warnx("%s: zookeeper path %s does not exist",
			    w->label, w->path);
		w->nopath = true;
		zk_round_finish(r);
		return;
	}
	if (rc != ZOK || names == NULL) {
		r->failed = true;
		zk_round_finish(r);
		return;
	}
	w->nopath = false;
	if (names->count > 0 &&
	    (r->slots = calloc((size_t)names->count, sizeof(*r->slots))) ==
	    NULL) {
		r->failed = true;
		zk_round_finish(r);
		return;
	}
	for (i = 0; i < names->count; i++) {
		r->slots[r->n].round = r;
		if ((r->slots[r->n].name = strdup(names->data[i])) == NULL)
			r->failed = true;
		else
			r->n++;
	}
	zk_round_read(r);
}

/* Start reading the children and their data, or mark a read as needed. */
static void
zk_watch_round(struct zk_watch *w)
{
	struct zk_round *r;
	int rc;

	if (w->closing || w->zh == NULL || w->state != ZK_OK)
		return;
	if (w->round != NULL) {
		w->again = true;
		return;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		log_warnx("%s: zookeeper: out of memory", w->label);
		return;
	}
	r->w = w;
	w->round = r;
	rc = zoo_awget_children2(w->zh, w->path, zk_watch_event_cb, w,
	    zk_round_children_cb, r);
	if (rc != ZOK) {
		/* Not sent: the session's next "connected" reads again. */
		log_warnx("%s: zookeeper: cannot list %s: %s", w->label,
		    w->path, zerror(rc));
		w->round = NULL;
		free(r);
	}
}

/* Session changes and node watches, called from zookeeper_process(). */
static void
zk_watch_event_cb(zhandle_t *zh, int type, int state, const char *path,
    void *ctx)
{
	struct zk_watch *w = ctx;

	(void)path;
	if (w->closing || zh != w->zh)
		return;
	if (type != ZOO_SESSION_EVENT) {
		if (type != ZOO_NOTWATCHING_EVENT)
			zk_watch_round(w);
		return;
	}
	if (state == ZOO_CONNECTED_STATE) {
		w->failures = 0;
		w->state = ZK_OK;
		log_info("%s: zookeeper %s: session up", w->label,
		    zoo_get_current_server(zh));
		/* After a loss, anything may have changed: read it all. */
		zk_watch_round(w);
	} else if (state == ZOO_EXPIRED_SESSION_STATE ||
	    state == ZOO_AUTH_FAILED_STATE)
		/* Acted on once zookeeper_process() returned. */
		w->expired = true;
	else
		zk_watch_lost(w, "connection lost");
}

/* Nothing to do with an exists() answer: its watch does the work. */
static void
zk_round_exists_cb(int rc, const struct Stat *st, const void *data)
{
	(void)rc;
	(void)st;
	(void)data;
}

struct zk_watch *
zk_watch_new(struct event_base *base, const char *hosts, const char *path,
    const char *label, zk_watch_cb cb, void *arg, char *err, size_t errlen)
{
	struct zk_watch *w;

	if (path[0] != '/' || (strlen(path) > 1 &&
	    path[strlen(path) - 1] == '/') || strlen(path) > 512) {
		snprintf(err, errlen, "zk_path must start with '/' and not "
		    "end with one");
		return NULL;
	}
	if (*hosts == '\0') {
		snprintf(err, errlen, "zk_hosts is empty");
		return NULL;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL)
		goto nomem;
	w->base = base;
	w->cb = cb;
	w->arg = arg;
	w->state = ZK_CONNECTING;
	if ((w->hosts = strdup(hosts)) == NULL ||
	    (w->path = strdup(path)) == NULL ||
	    (w->label = strdup(label)) == NULL ||
	    (w->ev = event_new(base, -1, 0, zk_watch_io_cb, w)) == NULL)
		goto nomem;
	/* Process-wide: the client's own lines are noise in weir's log. */
	zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR);
	w->zh = zookeeper_init2(hosts, zk_watch_event_cb, ZK_SESSION_MS, NULL,
	    w, 0, zk_watch_zlog_cb);
	if (w->zh == NULL) {
		snprintf(err, errlen, "zk_hosts '%s': %s", hosts,
		    strerror(errno));
		zk_watch_free(w);
		return NULL;
	}
	zk_watch_arm(w);
	return w;
nomem:
	snprintf(err, errlen, "out of memory");
	zk_watch_free(w);
	return NULL;
}

void
zk_watch_atfork_child(const struct zk_watch *w)
{
	evutil_socket_t fd;

	/* The event carries the client's socket of the moment (arm). */
	if (w != NULL && w->zh != NULL && w->ev != NULL &&
	    (fd = event_get_fd(w->ev)) != -1)
		close(fd);
}

void
zk_watch_free(struct zk_watch *w)
{
	if (w == NULL)
		return;
	w->closing = true;
	zk_watch_close(w);
	if (w->ev != NULL)
		event_free(w->ev);
	zk_watch_bad_free(w->bad, w->nbad);
	free(w->members);
	free(w->hosts);
	free(w->path);
	free(w->label);
	free(w);
}
