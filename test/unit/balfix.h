/* Shared set-up for the balancer unit tests: config -> shm -> pool. */
#ifndef WEIR_BALFIX_H
#define WEIR_BALFIX_H

#include <netinet/in.h>
#include <stdint.h>

#include "balancer/balancer.h"
#include "http/http.h"

struct config;
struct shm;
struct shm_server_sh;

/* One pool under test and the request its picks are made for. */
struct balfix {
	struct config *cfg;
	struct shm *shm;
	struct bal_pool *pool;
	uint64_t rng;
	struct bal_request req;
	struct http_msg msg;		/* hash tests: headers of req */
	struct sockaddr_in client;	/* tests that vary the client */
};

/*
 * Load "head" + "opts" + "servers" as a config, publish it in a fresh
 * segment and build the first backend's pool; fails the test on any error.
 * The request gets rng seeded with seed.
 */
void balfix_open(struct balfix *f, const char *head, const char *opts,
    const char *servers, uint64_t seed);
void balfix_close(struct balfix *f);
/* Member m's slot in shared memory. */
struct shm_server_sh *balfix_server(struct balfix *f, int m);
/* One pick for f->req, checked to be in range (-1: none usable). */
int balfix_pick(struct balfix *f);
void balfix_set_inflight(struct balfix *f, int m, uint32_t n);
uint32_t balfix_inflight(struct balfix *f, int m);

#endif
