/* Owns the listening sockets: the master opens them and keeps them across reloads. */
#include "autoconf.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/config.h"
#include "common/log.h"
#include "master/listen.h"

#define LISTEN_BACKLOG 4096

/* "FILE:LINE: cannot bind ADDR: permission denied" for errno. */
static void
listen_bind_err(const struct config *cfg, const struct listen_conf *lc,
    char *err, size_t errlen)
{
	char why[128];

	snprintf(why, sizeof(why), "%s", strerror(errno));
	why[0] = (char)tolower((unsigned char)why[0]);
	snprintf(err, errlen, "%s:%d: cannot bind %s: %s%s", cfg->path,
	    lc->line, lc->text, why, errno == EACCES ? " (ports below 1024 "
	    "need root or CAP_NET_BIND_SERVICE)" : "");
}

/*
 * socket -> options -> bind, without listen(): a bound socket that is not
 * listening takes no connections, so a reload that fails later leaves no
 * socket in the SO_REUSEPORT group that nobody accepts on.
 */
static int
listen_bind_one(const struct config *cfg, const struct listen_conf *lc,
    char *err, size_t errlen)
{
	int fd, one = 1;

	fd = socket(lc->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		snprintf(err, errlen, "listen %s: socket: %s", lc->text,
		    strerror(errno));
		return -1;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) == -1) {
		snprintf(err, errlen, "listen %s: setsockopt: %s", lc->text,
		    strerror(errno));
		goto fail;
	}
	if (lc->addr.ss_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) == -1) {
		snprintf(err, errlen, "listen %s: IPV6_V6ONLY: %s", lc->text,
		    strerror(errno));
		goto fail;
	}
	if (bind(fd, (const struct sockaddr *)&lc->addr, lc->addrlen) == -1) {
		listen_bind_err(cfg, lc, err, errlen);
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return -1;
}

/*
 * A plain bind (SO_REUSEADDR so that TIME_WAIT leftovers do not count, no
 * SO_REUSEPORT) fails with EADDRINUSE exactly when some socket listens on
 * the address: our own SO_REUSEPORT binds would join it and take a share
 * of its traffic without a word.
 */
int
listen_probe(const struct config *cfg, char *err, size_t errlen)
{
	int fd, one = 1, failed, saved;

	for (size_t f = 0; f < cfg->nfrontends; f++) {
		const struct frontend_conf *fe = &cfg->frontends[f];

		for (size_t l = 0; l < fe->nlistens; l++) {
			const struct listen_conf *lc = &fe->listens[l];

			fd = socket(lc->addr.ss_family, SOCK_STREAM |
			    SOCK_CLOEXEC, 0);
			if (fd == -1)
				continue;	/* the real bind will say why */
			setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
			    sizeof(one));
			if (lc->addr.ss_family == AF_INET6)
				setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
				    sizeof(one));
			failed = bind(fd, (const struct sockaddr *)&lc->addr,
			    lc->addrlen);
			saved = errno;
			close(fd);
			if (failed == 0)
				continue;
			errno = saved;
			if (errno == EADDRINUSE)
				snprintf(err, errlen, "%s:%d: address %s is "
				    "already in use by another process",
				    cfg->path, lc->line, lc->text);
			else
				listen_bind_err(cfg, lc, err, errlen);
			return -1;
		}
	}
	return 0;
}

static bool
listen_same(const struct lsock *s, const struct listen_conf *lc)
{
	return s->addrlen == lc->addrlen &&
	    memcmp(&s->addr, &lc->addr, lc->addrlen) == 0;
}

/* How many sockets v[0..n) has for lc's address. */
static uint32_t
listen_count(const struct lsock *v, size_t n, const struct listen_conf *lc)
{
	uint32_t count = 0;

	for (size_t i = 0; i < n; i++)
		if (listen_same(&v[i], lc))
			count++;
	return count;
}

static int
listen_grow(struct lpool *pool, size_t want)
{
	size_t cap = pool->cap ? pool->cap : 16;
	struct lsock *v;

	while (cap < want)
		cap *= 2;
	if (cap == pool->cap)
		return 0;
	if ((v = realloc(pool->v, cap * sizeof(*v))) == NULL)
		return -1;
	pool->v = v;
	pool->cap = cap;
	return 0;
}

/*
 * Bind the sockets cfg needs beyond those in pool into fresh (not listening
 * yet): for every address, enough for cfg's workers.
 */
static int
listen_bind_missing(const struct lpool *pool, const struct config *cfg,
    struct lpool *fresh, char *err, size_t errlen)
{
	for (size_t f = 0; f < cfg->nfrontends; f++) {
		const struct frontend_conf *fe = &cfg->frontends[f];

		for (size_t l = 0; l < fe->nlistens; l++) {
			const struct listen_conf *lc = &fe->listens[l];
			uint32_t have = listen_count(pool->v, pool->n, lc) +
			    listen_count(fresh->v, fresh->n, lc);

			for (; have < cfg->workers; have++) {
				struct lsock *s;

				if (listen_grow(fresh, fresh->n + 1) == -1) {
					snprintf(err, errlen, "out of memory");
					return -1;
				}
				s = &fresh->v[fresh->n];
				if ((s->fd = listen_bind_one(cfg, lc, err,
				    errlen)) == -1)
					return -1;
				s->addr = lc->addr;
				s->addrlen = lc->addrlen;
				s->idx = have;
				snprintf(s->text, sizeof(s->text), "%s", lc->text);
				fresh->n++;
			}
		}
	}
	return 0;
}

/* All or nothing: listen on every fresh socket and move them into pool. */
static int
listen_commit(struct lpool *pool, struct lpool *fresh, char *err,
    size_t errlen)
{
	for (size_t i = 0; i < fresh->n; i++) {
		if (listen(fresh->v[i].fd, LISTEN_BACKLOG) == -1) {
			snprintf(err, errlen, "listen %s: listen: %s",
			    fresh->v[i].text, strerror(errno));
			return -1;
		}
	}
	if (fresh->n == 0)
		return 0;
	if (listen_grow(pool, pool->n + fresh->n) == -1) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	memcpy(pool->v + pool->n, fresh->v, fresh->n * sizeof(*fresh->v));
	pool->n += fresh->n;
	free(fresh->v);
	*fresh = (struct lpool){ 0 };
	return 0;
}

/* Append one assignment to out (capacity was reserved by the caller). */
static void
listen_assign(struct listeners *out, const struct lsock *s, uint32_t frontend,
    bool tls, uint32_t workers)
{
	struct listener *l = &out->v[out->n++];

	l->fd = s->fd;
	l->frontend = frontend;
	l->tls = tls;
	l->worker = s->idx % workers;
	snprintf(l->text, sizeof(l->text), "%s", s->text);
}

int
listen_prepare(struct lpool *pool, const struct config *cfg,
    struct listeners *out, char *err, size_t errlen)
{
	struct lpool fresh = { 0 };

	out->n = 0;
	out->v = NULL;
	snprintf(err, errlen, "out of memory");
	if (listen_bind_missing(pool, cfg, &fresh, err, errlen) == -1 ||
	    listen_commit(pool, &fresh, err, errlen) == -1 ||
	    (out->v = calloc(pool->n + 1, sizeof(*out->v))) == NULL) {
		/* Closing sockets that never listened resets nothing. */
		listen_free(&fresh);
		return -1;
	}
	for (size_t f = 0; f < cfg->nfrontends; f++) {
		const struct frontend_conf *fe = &cfg->frontends[f];

		for (size_t l = 0; l < fe->nlistens; l++)
			for (size_t i = 0; i < pool->n; i++)
				if (listen_same(&pool->v[i], &fe->listens[l]))
					listen_assign(out, &pool->v[i],
					    (uint32_t)f, fe->listens[l].tls,
					    cfg->workers);
	}
	return 0;
}

/* Does any live config listen on s's address? */
static bool
listen_in_use(const struct lsock *s, const struct config *const *live,
    size_t nlive)
{
	for (size_t c = 0; c < nlive; c++)
		for (size_t f = 0; f < live[c]->nfrontends; f++)
			for (size_t l = 0; l < live[c]->frontends[f].nlistens; l++)
				if (listen_same(s, &live[c]->frontends[f].listens[l]))
					return true;
	return false;
}

void
listen_prune(struct lpool *pool, const struct config *const *live, size_t nlive)
{
	size_t kept = 0;

	for (size_t i = 0; i < pool->n; i++) {
		if (listen_in_use(&pool->v[i], live, nlive)) {
			pool->v[kept++] = pool->v[i];
			continue;
		}
		log_info("closing listening socket %s (no longer configured)",
		    pool->v[i].text);
		close(pool->v[i].fd);
	}
	pool->n = kept;
}

void
listen_free(struct lpool *pool)
{
	for (size_t i = 0; i < pool->n; i++)
		close(pool->v[i].fd);
	free(pool->v);
	pool->v = NULL;
	pool->n = pool->cap = 0;
}

void
listeners_free(struct listeners *ls)
{
	free(ls->v);
	ls->v = NULL;
	ls->n = 0;
}
