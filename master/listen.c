/* Owns the listening sockets: the master opens them and keeps them for its lifetime. */
#include "autoconf.h"

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

/* socket -> options -> bind -> listen; one fail label undoes what was done. */
static int
listen_open_one(const struct listen_conf *lc)
{
	int fd, one = 1;

	fd = socket(lc->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		log_warn("listen %s: socket", lc->text);
		return -1;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) == -1) {
		log_warn("listen %s: setsockopt", lc->text);
		goto fail;
	}
	if (lc->addr.ss_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) == -1) {
		log_warn("listen %s: IPV6_V6ONLY", lc->text);
		goto fail;
	}
	if (bind(fd, (const struct sockaddr *)&lc->addr, lc->addrlen) == -1) {
		log_warn("listen %s: bind", lc->text);
		goto fail;
	}
	if (listen(fd, LISTEN_BACKLOG) == -1) {
		log_warn("listen %s: listen", lc->text);
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return -1;
}

int
listen_open_all(const struct config *cfg, struct listeners *out)
{
	size_t total = 0;

	out->n = 0;
	for (size_t f = 0; f < cfg->nfrontends; f++)
		total += cfg->frontends[f].nlistens * cfg->workers;
	if ((out->v = calloc(total ? total : 1, sizeof(*out->v))) == NULL)
		return -1;
	for (size_t f = 0; f < cfg->nfrontends; f++) {
		const struct frontend_conf *fe = &cfg->frontends[f];

		for (size_t l = 0; l < fe->nlistens; l++) {
			for (uint32_t w = 0; w < cfg->workers; w++) {
				struct listener *li = &out->v[out->n];

				if ((li->fd = listen_open_one(&fe->listens[l])) == -1)
					goto fail;
				li->frontend = (uint32_t)f;
				li->worker = w;
				snprintf(li->text, sizeof(li->text), "%s",
				    fe->listens[l].text);
				out->n++;
			}
		}
	}
	return 0;
fail:
	listen_close_all(out);
	return -1;
}

void
listen_close_all(struct listeners *ls)
{
	for (size_t i = 0; i < ls->n; i++)
		close(ls->v[i].fd);
	free(ls->v);
	ls->v = NULL;
	ls->n = 0;
}
