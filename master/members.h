/*
 * The servers of a backend that do not come from the config file: added
 * through the admin API (later: found by DNS or ZooKeeper), kept by the
 * master across reloads until removed.
 */
#ifndef WEIR_MEMBERS_H
#define WEIR_MEMBERS_H

#include <stdbool.h>
#include <stdint.h>

#include "shm/shm.h"

struct master;

enum member_source {
	MEMBER_API,			/* POST /api/v1/backends/B/servers */
};

struct member {
	struct member *next;
	char *backend;
	char id[SHM_NAME_MAX];		/* canonical address: its identity */
	char name[SHM_NAME_MAX];	/* as given */
	struct shm_member m;		/* slot, weight, flags, max_conns */
	enum member_source source;
};

struct members {
	struct member *head;
};

/* What a server to add looks like. */
struct member_spec {
	const char *address;		/* "IP:PORT", "[v6]:PORT" */
	uint32_t weight;		/* 1..256 */
	bool backup;
	bool tls;
	uint32_t max_conns;		/* 0: the backend's */
	enum member_source source;
};

/* Make every publication of a backend's list add its members (shm). */
void members_attach(struct master *m);
void members_free(struct members *ms);
/*
 * Add a server to backend and publish the backend's new list: 0, or an
 * HTTP status with why set: 404 no such backend, 400 a bad address, 409
 * the backend has it already, 507 no server slot is left (max_servers).
 */
int members_add(struct master *m, const char *backend,
    const struct member_spec *spec, const struct member **out, char *why,
    size_t whylen);
/*
 * Take the server at address (as given or canonical) out of backend's
 * list: 0, or 404 with why set. Its slot drains ("Member lists" in
 * shm/shm-types.h).
 */
int members_del(struct master *m, const char *backend, const char *address,
    char *why, size_t whylen);
/* The member of backend at canonical address id, or NULL. */
const struct member *members_find(const struct members *ms,
    const char *backend, const char *id);

#endif
