/*
 * Listening sockets: created and owned by the master for its lifetime, one
 * SO_REUSEPORT socket per address per worker slot, shared across reloads.
 */
#ifndef WEIR_LISTEN_H
#define WEIR_LISTEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct config;

/* One listening socket in the master's pool. */
struct lsock {
	int fd;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	uint32_t idx;			/* j-th socket of this address */
	char text[64];			/* address as configured, for logs */
};

/* Every listening socket the master holds. */
struct lpool {
	struct lsock *v;
	size_t n, cap;
};

/* A socket assigned to a worker of one config generation. */
struct listener {
	int fd;
	uint32_t frontend;		/* index into that config's frontends */
	bool tls;			/* that config listens with TLS here */
	uint32_t worker;		/* the worker of the generation whose
					 * SO_REUSEPORT share fd is (its
					 * siblings accept on it too) */
	char text[64];
};

struct listeners {
	struct listener *v;
	size_t n;
};

/*
 * Make sure every listen address of cfg has at least cfg->workers sockets
 * in pool (opening what is missing; existing ones are reused, so nothing
 * queued on them is lost), and assign them to cfg's workers: socket j of an
 * address goes to worker j % workers, so when the worker count shrinks no
 * socket has to close. Returns 0, or -1 with err set if a socket could
 * not be opened; sockets opened by a failed call stay in the pool and are
 * pruned later.
 */
int listen_prepare(struct lpool *pool, const struct config *cfg,
    struct listeners *out, char *err, size_t errlen);
/* Close the sockets of addresses none of the live configs listens on. */
void listen_prune(struct lpool *pool, const struct config *const *live,
    size_t nlive);
void listen_free(struct lpool *pool);
/*
 * At startup only (a reloading master holds its own sockets): is any listen
 * address of cfg already listened on by another process? Returns 0, or -1
 * with "FILE:LINE: address A is already in use by another process" in err.
 */
int listen_probe(const struct config *cfg, char *err, size_t errlen);
void listeners_free(struct listeners *ls);

#endif
