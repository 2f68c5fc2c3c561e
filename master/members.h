/*
 * The servers of a backend that do not come from the config file: added
 * through the admin API or found by DNS or ZooKeeper (master/discovery.c),
 * kept by the master across reloads until removed.
 */
#ifndef WEIR_MEMBERS_H
#define WEIR_MEMBERS_H

#include <stdbool.h>
#include <stdint.h>

#include "shm/shm.h"

struct master;

enum member_source {
	MEMBER_API,			/* POST /api/v1/backends/B/servers */
	MEMBER_DNS,			/* a "resolve" server line's name */
	MEMBER_ZK,			/* a ZooKeeper path's children */
};

struct member {
	struct member *next;
	char *backend;
	char id[SHM_NAME_MAX];		/* canonical address: its identity */
	char name[SHM_NAME_MAX];	/* as given */
	struct shm_member m;		/* slot, weight, flags, max_conns */
	enum member_source source;
	const void *owner;		/* the discovery watch it came from */
};

struct members {
	struct member *head;
	const struct shm *shm;		/* whose slots they hold */
};

/* What a server to add looks like. */
struct member_spec {
	const char *address;		/* "IP:PORT", "[v6]:PORT" */
	uint32_t weight;		/* 1..256 */
	bool backup;
	bool tls;
	uint32_t max_conns;		/* 0: the backend's */
	enum member_source source;
	const void *owner;		/* MEMBER_DNS, MEMBER_ZK: its watch */
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
 * list: 0, or 404 (unknown) or 409 (from the file, DNS or ZooKeeper:
 * its source owns it) with why set. Its slot drains ("Member lists" in
 * shm/shm-types.h).
 */
int members_del(struct master *m, const char *backend, const char *address,
    char *why, size_t whylen);
/*
 * Make specs[0..n) the members of backend that source and owner brought,
 * whatever they were: add those not there, update the weight and flags of
 * those there, remove (drain) the others; publish the list once if
 * anything changed. A spec that cannot be added (the address is taken, no
 * slot left) is skipped with a log line naming label. A backend the
 * current config lacks only loses owner's members.
 */
void members_replace(struct master *m, const char *backend,
    enum member_source source, const void *owner,
    const struct member_spec *specs, size_t n, const char *label);
/* "api", "dns", "zookeeper": for the admin API and logs. */
const char *members_source_name(enum member_source source);
/*
 * After a reload: members of backends the new config lacks leave (their
 * slots may be reused), and those the file now has give way to it.
 */
void members_reconcile(struct master *m);
/* A new weight for e (0..256), published at once. */
void members_set_weight(struct master *m, struct member *e, uint32_t weight);
/* The member of backend at canonical address id, or NULL. */
struct member *members_find(const struct members *ms,
    const char *backend, const char *id);

#endif
