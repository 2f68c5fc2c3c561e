/* Shared set-up for the balancer unit tests: config -> shm -> pool. */
#ifndef WEIR_BALFIX_H
#define WEIR_BALFIX_H

struct config;
struct shm;
struct bal_pool;

/*
 * Load "head" + "opts" + "servers" as a config, publish it in a fresh
 * segment and build the first backend's pool; fails the test on any error.
 */
void balfix_build(const char *head, const char *opts, const char *servers,
    struct config **cfg, struct shm **shm, struct bal_pool **pool);
void balfix_teardown(struct config *cfg, struct shm *shm, struct bal_pool *pool);

#endif
