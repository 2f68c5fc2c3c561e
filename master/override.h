/*
 * Changes made to servers through the admin API (admin state, weight),
 * kept by server identity (backend name + canonical address) so that they
 * outlive the generation they were made in. Private to master/.
 */
#ifndef WEIR_OVERRIDE_H
#define WEIR_OVERRIDE_H

#include <stddef.h>

struct config;

/* One server's overrides; -1 where the file's value stands. */
struct override {
	char *backend;
	char *server;			/* server_conf.id */
	int admin;			/* enum shm_admin */
	int weight;			/* 0..256 */
};

struct overrides {
	struct override *v;
	size_t n;
};

/* The override of server (backend, id), or NULL. */
struct override *override_find(const struct overrides *o, const char *backend,
    const char *id);
/* The same, created empty (-1, -1) when missing; NULL when out of memory. */
struct override *override_get(struct overrides *o, const char *backend,
    const char *id);
/*
 * Write every override into cfg's servers before it is published: weight
 * into server_conf.weight, the admin state into disabled (maint) and drain.
 */
void override_apply(const struct overrides *o, struct config *cfg);
/*
 * cfg is now current: forget (and log) the overrides of servers it no
 * longer has, so a server added back later starts from the file.
 */
void override_prune(struct overrides *o, const struct config *cfg);
void override_free(struct overrides *o);

#endif
