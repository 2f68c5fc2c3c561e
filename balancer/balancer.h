/*
 * Server selection: one small interface, one file per algorithm. The proxy
 * engine calls balancer_pick() and nothing else, so a new algorithm never
 * touches worker/.
 */
#ifndef WEIR_BALANCER_H
#define WEIR_BALANCER_H

#include <stdint.h>
#include <sys/socket.h>

struct shm;

/* What an algorithm may look at to choose (hashing uses these later). */
struct bal_request {
	const struct sockaddr *client;
	const char *uri;
	size_t uri_len;
};

/* Global server index (into shm->servers) chosen for pool, or -1 if none is usable. */
int balancer_pick(struct shm *shm, uint32_t pool, const struct bal_request *req);

/* Algorithms: same signature, registered in balancer.c. */
int bal_roundrobin_pick(struct shm *shm, uint32_t pool, const struct bal_request *req);

#endif
