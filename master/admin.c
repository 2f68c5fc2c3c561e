/*
 * Owns the admin API's listener: opening it (TCP, or a unix socket of mode
 * 0660), swapping it and the token on reload, and keeping it out of the
 * workers. Requests are served by adminhttp.c.
 */
#include "autoconf.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/http.h>

#include "common/config.h"
#include "common/log.h"
#include "master/admin.h"
#include "master/master.h"

#define ADMIN_BACKLOG	64

static void
admin_sock_init(struct admin_sock *s)
{
	memset(s, 0, sizeof(*s));
	s->fd = -1;
}

/* "FILE:LINE: admin listen ADDR: what: reason" for errno. */
static void
admin_err(const struct config *cfg, const char *what, char *err,
    size_t errlen)
{
	char why[128];

	snprintf(why, sizeof(why), "%s", strerror(errno));
	why[0] = (char)tolower((unsigned char)why[0]);
	snprintf(err, errlen, "%s:%d: admin listen %s: %s: %s%s", cfg->path,
	    cfg->admin->listen_line, cfg->admin->listen, what, why,
	    errno == EACCES && cfg->admin->unix_path == NULL ? " (ports "
	    "below 1024 need root or CAP_NET_BIND_SERVICE)" : "");
}

static int
admin_bind_tcp(const struct config *cfg, struct admin_sock *s, char *err,
    size_t errlen)
{
	const struct admin_conf *ad = cfg->admin;
	int one = 1;

	s->fd = socket(ad->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (s->fd == -1) {
		admin_err(cfg, "socket", err, errlen);
		return -1;
	}
	if (setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one,
	    sizeof(one)) == -1 || (ad->addr.ss_family == AF_INET6 &&
	    setsockopt(s->fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
	    sizeof(one)) == -1)) {
		admin_err(cfg, "setsockopt", err, errlen);
		return -1;
	}
	if (bind(s->fd, (const struct sockaddr *)&ad->addr, ad->addrlen) ==
	    -1) {
		admin_err(cfg, "cannot bind", err, errlen);
		return -1;
	}
	s->conf = ad->addr;
	s->conflen = ad->addrlen;
	return 0;
}

/*
 * A file already at path may go only if it is a socket nobody accepts on
 * (left by a weir that died): anything else is refused, never removed.
 */
static int
admin_unix_stale(const struct config *cfg, const char *path, char *err,
    size_t errlen)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, rc;

	if (lstat(path, &st) == -1) {
		if (errno == ENOENT)
			return 0;
		admin_err(cfg, "stat", err, errlen);
		return -1;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "%s:%d: admin listen %s: the file exists "
		    "and is not a socket; not removing it", cfg->path,
		    cfg->admin->listen_line, cfg->admin->listen);
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1) {
		admin_err(cfg, "socket", err, errlen);
		return -1;
	}
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	rc = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	close(fd);
	if (rc == 0 || errno == EAGAIN) {
		snprintf(err, errlen, "%s:%d: admin listen %s: another process "
		    "listens on it", cfg->path, cfg->admin->listen_line,
		    cfg->admin->listen);
		return -1;
	}
	if (errno != ECONNREFUSED) {
		admin_err(cfg, "connect", err, errlen);
		return -1;
	}
	if (unlink(path) == -1) {
		admin_err(cfg, "cannot remove the stale socket", err, errlen);
		return -1;
	}
	log_info("admin: removed the stale socket %s", path);
	return 0;
}

/*
 * The socket file is made with mode 0660 (umask, so it is never wider for
 * a moment) and, started as root, given to the configured user and group:
 * the group is who may use the API.
 */
static int
admin_bind_unix(const struct config *cfg, struct admin_sock *s, char *err,
    size_t errlen)
{
	const char *path = cfg->admin->unix_path;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct stat st;
	mode_t old;
	int rc;

	if (admin_unix_stale(cfg, path, err, errlen) == -1)
		return -1;
	if ((s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1) {
		admin_err(cfg, "socket", err, errlen);
		return -1;
	}
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	old = umask(0117);
	rc = bind(s->fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (rc == -1) {
		admin_err(cfg, "cannot bind", err, errlen);
		return -1;
	}
	if ((s->unix_path = strdup(path)) == NULL || lstat(path, &st) == -1) {
		admin_err(cfg, "stat", err, errlen);
		return -1;
	}
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	if (geteuid() == 0 && cfg->user != NULL &&
	    chown(path, cfg->uid, cfg->gid) == -1) {
		admin_err(cfg, "chown", err, errlen);
		return -1;
	}
	return 0;
}

/* Remove our socket file, if it is still the one we made. */
static void
admin_unlink(const struct admin_sock *s)
{
	struct stat st;

	if (s->unix_path != NULL && lstat(s->unix_path, &st) == 0 &&
	    st.st_dev == s->dev && st.st_ino == s->ino &&
	    unlink(s->unix_path) == -1)
		log_warn("admin: remove %s", s->unix_path);
}

/* Stop accepting on s and forget it. */
static void
admin_sock_close(struct admin *a, struct admin_sock *s)
{
	if (s->bound != NULL)
		evhttp_del_accept_socket(a->http, s->bound); /* closes fd */
	else if (s->fd != -1)
		close(s->fd);
	admin_unlink(s);
	free(s->unix_path);
	free(s->listen);
	admin_sock_init(s);
}

/* Open cfg's listener into s and have evhttp accept on it. */
static int
admin_sock_open(struct admin *a, const struct config *cfg,
    struct admin_sock *s, char *err, size_t errlen)
{
	if ((cfg->admin->unix_path != NULL ? admin_bind_unix(cfg, s, err,
	    errlen) : admin_bind_tcp(cfg, s, err, errlen)) == -1)
		goto fail;
	s->locallen = sizeof(s->local);
	if (listen(s->fd, ADMIN_BACKLOG) == -1 ||
	    getsockname(s->fd, (struct sockaddr *)&s->local,
	    &s->locallen) == -1) {
		admin_err(cfg, "listen", err, errlen);
		goto fail;
	}
	if ((s->listen = strdup(cfg->admin->listen)) == NULL ||
	    (s->bound = evhttp_accept_socket_with_handle(a->http,
	    s->fd)) == NULL) {
		snprintf(err, errlen, "%s:%d: admin listen %s: out of memory",
		    cfg->path, cfg->admin->listen_line, cfg->admin->listen);
		goto fail;
	}
	return 0;
fail:
	admin_sock_close(a, s);
	return -1;
}

/* Does s already listen where cfg's [admin] asks? */
static bool
admin_same(const struct admin_sock *s, const struct admin_conf *ad)
{
	if (s->fd == -1 || ad == NULL)
		return false;
	if (ad->unix_path != NULL)
		return s->unix_path != NULL &&
		    strcmp(s->unix_path, ad->unix_path) == 0;
	return s->unix_path == NULL && s->conflen == ad->addrlen &&
	    memcmp(&s->conf, &ad->addr, ad->addrlen) == 0;
}

int
admin_prepare(struct admin *a, const struct config *cfg, char *err,
    size_t errlen)
{
	admin_sock_init(&a->next);
	if (token_load(cfg, &a->next_token, err, errlen) == -1)
		return -1;
	a->replace = !admin_same(&a->cur, cfg->admin);
	if (a->replace && cfg->admin != NULL &&
	    admin_sock_open(a, cfg, &a->next, err, errlen) == -1) {
		token_clear(&a->next_token);
		return -1;
	}
	a->pending = true;
	return 0;
}

void
admin_commit(struct admin *a)
{
	if (!a->pending)
		return;
	a->pending = false;
	token_clear(&a->token);
	a->token = a->next_token;
	token_clear(&a->next_token);
	if (!a->replace)
		return;
	if (a->cur.fd != -1 && a->next.fd == -1)
		log_info("admin API on %s closed", a->cur.listen);
	else if (a->cur.fd != -1)
		log_info("admin API moves from %s to %s", a->cur.listen,
		    a->next.listen);
	else if (a->next.fd != -1)
		log_info("admin API listening on %s", a->next.listen);
	admin_sock_close(a, &a->cur);
	a->cur = a->next;
	admin_sock_init(&a->next);
}

void
admin_abort(struct admin *a)
{
	if (!a->pending)
		return;
	a->pending = false;
	token_clear(&a->next_token);
	admin_sock_close(a, &a->next);
}

/* Was fd accepted on s (or is it s): a stream socket with s's local address? */
static bool
admin_sock_owns(const struct admin_sock *s, int fd)
{
	const struct sockaddr_in *a4 = (const struct sockaddr_in *)&s->local;
	const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)&s->local;
	struct sockaddr_storage ss;
	const struct sockaddr_in *b4 = (const struct sockaddr_in *)&ss;
	const struct sockaddr_in6 *b6 = (const struct sockaddr_in6 *)&ss;
	socklen_t len = sizeof(ss), tlen = sizeof(int);
	int type;

	if (s->fd == -1 ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) == -1 ||
	    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) == -1 ||
	    type != SOCK_STREAM || ss.ss_family != s->local.ss_family)
		return false;
	switch (ss.ss_family) {
	case AF_UNIX:
		return len == s->locallen && memcmp(&ss, &s->local, len) == 0;
	case AF_INET:
		return b4->sin_port == a4->sin_port &&
		    (a4->sin_addr.s_addr == htonl(INADDR_ANY) ||
		    a4->sin_addr.s_addr == b4->sin_addr.s_addr);
	case AF_INET6:
		return b6->sin6_port == a6->sin6_port &&
		    (IN6_IS_ADDR_UNSPECIFIED(&a6->sin6_addr) ||
		    IN6_ARE_ADDR_EQUAL(&a6->sin6_addr, &b6->sin6_addr));
	}
	return false;
}

/*
 * evhttp does not say which sockets it accepted, so the child finds them:
 * an accepted socket has its listener's local address (a unix socket its
 * path; a TCP one its port, and its address unless the listener's is a
 * wildcard). Nothing else of the master's shares it: the frontends have
 * addresses of their own (config.c), and the kernel never gives an
 * outgoing connection (a health check) a port that a listener holds.
 */
void
admin_atfork_child(const struct admin *a)
{
	struct dirent *de;
	DIR *d;
	int fd;

	if (a == NULL || (a->cur.fd == -1 && a->next.fd == -1))
		return;
	if ((d = opendir("/proc/self/fd")) == NULL) {
		/* Without /proc, the listeners at least. */
		if (a->cur.fd != -1)
			close(a->cur.fd);
		if (a->next.fd != -1)
			close(a->next.fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		fd = atoi(de->d_name);
		if (fd != dirfd(d) && (admin_sock_owns(&a->cur, fd) ||
		    admin_sock_owns(&a->next, fd)))
			close(fd);
	}
	closedir(d);
}

int
admin_check_drop(const struct config *cfg, char *err, size_t errlen)
{
	const struct admin_conf *ad = cfg->admin;

	if (ad == NULL || ad->token_file == NULL ||
	    access(ad->token_file, R_OK) == 0)
		return 0;
	snprintf(err, errlen, "%s:%d: token_file %s: not readable by user %s "
	    "(%s): reloads would fail", cfg->path, ad->token_line,
	    ad->token_file, cfg->user != NULL ? cfg->user : "weir",
	    strerror(errno));
	return -1;
}

struct admin *
admin_new(struct master *m)
{
	struct admin *a;

	if ((a = calloc(1, sizeof(*a))) == NULL)
		return NULL;
	a->m = m;
	admin_sock_init(&a->cur);
	admin_sock_init(&a->next);
	if ((a->http = evhttp_new(m->base)) == NULL) {
		free(a);
		return NULL;
	}
	/* Bounded in size and time: a slow or huge request costs little. */
	evhttp_set_max_headers_size(a->http, ADMIN_MAX_HEADERS);
	evhttp_set_max_body_size(a->http, ADMIN_MAX_BODY);
	evhttp_set_timeout(a->http, ADMIN_TIMEOUT_S);
	/* Every method reaches adminhttp.c, which answers 405 with Allow. */
	evhttp_set_allowed_methods(a->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
	    EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
	    EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT |
	    EVHTTP_REQ_PATCH);
	evhttp_set_default_content_type(a->http, "application/json");
	evhttp_set_gencb(a->http, adminhttp_request_cb, a);
	return a;
}

void
admin_free(struct admin *a)
{
	if (a == NULL)
		return;
	admin_abort(a);
	admin_sock_close(a, &a->cur);
	token_clear(&a->token);
	evhttp_free(a->http);
	free(a);
}
