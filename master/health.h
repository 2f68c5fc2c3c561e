/* Active health checks: the master probes servers and publishes UP/DOWN. */
#ifndef WEIR_HEALTH_H
#define WEIR_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct config;
struct event_base;
struct shm;
struct status_range;
struct tls_gen;

struct health;

/*
 * Start checking every server of every backend of cfg whose health_check is
 * not none, from base (the master's loop); servers flagged "tls" with
 * their backend's context from tls (cfg's generation; the checker keeps
 * references of its own). Call after shm_publish(), which
 * sets server_conf.slot and each server's initial health. prev (may be
 * NULL) is the checker of the previous config generation: each server keeps
 * its consecutive pass/fail counts by shm slot; the caller frees prev after.
 * Nothing of cfg is kept: it may be freed before the checker. NULL on
 * allocation failure (logged).
 */
struct health *health_new(struct event_base *base, struct shm *shm,
    const struct config *cfg, const struct tls_gen *tls,
    const struct health *prev);
/* Stop every check and close its socket, even mid-check. NULL is a no-op. */
void health_free(struct health *h);
/*
 * In a child just forked from the master (h may be NULL): close the
 * sockets of the checks in flight, so a worker does not keep a check's
 * connection open once the master is done with it.
 */
void health_atfork_child(const struct health *h);

/* The pure parts, exposed for test/unit/test_health.c. */

#define HEALTH_STATUS_MORE	0	/* valid so far; read more */
#define HEALTH_STATUS_DONE	1	/* *status holds the code */
#define HEALTH_STATUS_INVALID	(-1)

/* Parse the start of a response, "HTTP/1.x NNN" and SP, CR or LF. */
int health_parse_status(const char *buf, size_t len, int *status);
bool health_expect_match(const struct status_range *r, size_t n, int status);
/* "200-399,404": the ranges as health_expect writes them. */
void health_expect_text(const struct status_range *r, size_t n, char *buf,
    size_t len);
/*
 * Count one check result and return the new state (enum shm_health): fall
 * consecutive failures take an UP server DOWN, rise consecutive passes
 * bring a DOWN server UP.
 */
uint32_t health_step(uint32_t state, bool pass, uint32_t rise, uint32_t fall,
    uint32_t *passes, uint32_t *fails);

/* The last check's result of the server in shm slot, or NULL (none yet). */
const char *health_last(const struct health *h, uint32_t slot);

#endif
