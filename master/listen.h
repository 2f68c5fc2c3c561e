/* Listening sockets: created and owned by the master, one per worker per address. */
#ifndef WEIR_LISTEN_H
#define WEIR_LISTEN_H

#include <stddef.h>
#include <stdint.h>

struct config;

struct listener {
	int fd;
	uint32_t frontend;		/* index into config.frontends */
	uint32_t worker;		/* the only worker that accepts on fd */
	char text[64];			/* address as configured, for logs */
};

struct listeners {
	struct listener *v;
	size_t n;
};

/*
 * Open every listening socket cfg needs: for each frontend, each listen
 * address and each worker, one SO_REUSEPORT socket. Returns 0, or -1 after
 * closing whatever it opened.
 */
int listen_open_all(const struct config *cfg, struct listeners *out);
void listen_close_all(struct listeners *ls);

#endif
