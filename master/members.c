/*
 * Owns the servers that do not come from the config file (admin API; later
 * DNS and ZooKeeper): their shm slots, adding them to every publication of
 * their backend's member list (shm->dynamic), and taking them out again,
 * after which their slot drains ("Member lists" in shm/shm-types.h). They
 * outlive reloads: a SIGHUP re-applies the file's servers and keeps these.
 */
#include "autoconf.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/config.h"
#include "common/confval.h"
#include "common/log.h"
#include "master/health.h"
#include "master/master.h"
#include "master/members.h"
#include "tls/tls.h"

/* shm->dynamic: backend's members, in the order they were added. */
static uint32_t
members_of(void *arg, const char *backend, struct shm_member *out,
    uint32_t room)
{
	const struct members *ms = arg;
	uint32_t n = 0;

	for (const struct member *e = ms->head; e != NULL && n < room;
	    e = e->next)
		if (strcmp(e->backend, backend) == 0)
			out[n++] = e->m;
	return n;
}

void
members_attach(struct master *m)
{
	m->shm->dynamic = members_of;
	m->shm->dynamic_arg = &m->members;
}

void
members_free(struct members *ms)
{
	struct member *e, *next;

	for (e = ms->head; e != NULL; e = next) {
		next = e->next;
		free(e->backend);
		free(e);
	}
	ms->head = NULL;
}

const struct member *
members_find(const struct members *ms, const char *backend, const char *id)
{
	for (const struct member *e = ms->head; e != NULL; e = e->next)
		if (strcmp(e->backend, backend) == 0 &&
		    (strcmp(e->id, id) == 0 || strcmp(e->name, id) == 0))
			return e;
	return NULL;
}

/* The current generation's backend named name: its index, or -1. */
static int
members_backend(const struct master *m, const char *name)
{
	const struct config *cfg = m->gens->cfg;

	for (size_t b = 0; b < cfg->nbackends; b++)
		if (strcmp(cfg->backends[b].name, name) == 0)
			return (int)b;
	return -1;
}

/* Publish backend b's list again, and check what it holds now. */
static void
members_publish(struct master *m, size_t b)
{
	struct health *h;

	shm_publish_list(m->shm, m->gens->cfg, b);
	/* The checker carries every known server's counts (by slot). */
	if ((h = health_new(m->base, m->shm, m->gens->cfg, m->gens->tls,
	    m->health)) != NULL) {
		health_free(m->health);
		m->health = h;
	}
}

/*
 * A slot that just got this identity starts as a file server would: down
 * until checked when health_initial = down, else up and, with slow_start,
 * ramping from now. One it already had (removed, still draining) keeps
 * its state.
 */
static void
members_slot_init(struct master *m, const struct backend_conf *be,
    uint32_t slot, bool fresh, uint32_t flags, uint32_t weight)
{
	struct shm_server_sh *sv = &m->shm->servers[slot];
	uint64_t now = clock_ms();

	sv->flags = flags;
	sv->weight = weight;
	atomic_store_explicit(&sv->admin, SHM_ADMIN_ACTIVE,
	    memory_order_release);
	if (!fresh)
		return;
	if (be->health_check != CONFIG_HEALTH_NONE && be->health_initial_down)
		atomic_store_explicit(&sv->health, SHM_HEALTH_DOWN,
		    memory_order_release);
	else if (be->slow_start_ms > 0)
		atomic_store_explicit(&sv->up_since_ms, now != 0 ? now : 1,
		    memory_order_release);
}

/* Is id one of the file's servers of be? */
static bool
members_in_file(const struct backend_conf *be, const char *id)
{
	for (size_t s = 0; s < be->nservers; s++)
		if (strcmp(be->servers[s].id, id) == 0)
			return true;
	return false;
}

int
members_add(struct master *m, const char *backend,
    const struct member_spec *spec, const struct member **out, char *why,
    size_t whylen)
{
	const struct backend_conf *be;
	struct sockaddr_storage ss;
	struct member *e, **tail;
	char id[SHM_NAME_MAX];
	const char *bad;
	socklen_t sslen;
	int b, slot;
	bool fresh;

	if ((b = members_backend(m, backend)) < 0) {
		snprintf(why, whylen, "no backend '%s'", backend);
		return 404;
	}
	be = &m->gens->cfg->backends[b];
	if (confval_addr(spec->address, &ss, &sslen, &bad) == -1) {
		snprintf(why, whylen, "address '%s': %s", spec->address, bad);
		return 400;
	}
	confval_addr_str((struct sockaddr *)&ss, id, sizeof(id));
	if (members_in_file(be, id) || members_find(&m->members, backend,
	    id) != NULL) {
		snprintf(why, whylen, "backend '%s' has server %s already",
		    backend, id);
		return 409;
	}
	if (spec->tls && tls_gen_backend(m->gens->tls, (size_t)b) == NULL) {
		snprintf(why, whylen, "backend '%s' has no TLS client settings: "
		    "give one of its servers 'tls' in the file", backend);
		return 400;
	}
	fresh = shm_server_find(m->shm, backend, id) < 0;
	if ((slot = shm_server_claim(m->shm, backend, id, spec->address,
	    (struct sockaddr *)&ss, sslen)) < 0) {
		snprintf(why, whylen, "no server slot left: max_servers (%u) "
		    "are in use or draining", m->shm->hdr->max_servers);
		return 507;
	}
	if ((e = calloc(1, sizeof(*e))) == NULL ||
	    (e->backend = strdup(backend)) == NULL) {
		free(e);
		snprintf(why, whylen, "out of memory");
		return 500;
	}
	snprintf(e->id, sizeof(e->id), "%s", id);
	snprintf(e->name, sizeof(e->name), "%s", spec->address);
	e->source = spec->source;
	e->m = (struct shm_member){ .slot = (uint32_t)slot,
	    .weight = spec->weight,
	    .max_conns = spec->max_conns != 0 ? spec->max_conns :
	    be->max_conns,
	    .flags = (spec->backup ? SHM_SERVER_BACKUP : 0) |
	    (spec->tls ? SHM_SERVER_TLS : 0) };
	members_slot_init(m, be, (uint32_t)slot, fresh, e->m.flags,
	    spec->weight);
	for (tail = &m->members.head; *tail != NULL; tail = &(*tail)->next)
		;
	*tail = e;
	members_publish(m, (size_t)b);
	log_info("backend %s: server %s added (weight %u%s)", backend, id,
	    spec->weight, spec->backup ? ", backup" : "");
	*out = e;
	return 0;
}

int
members_del(struct master *m, const char *backend, const char *address,
    char *why, size_t whylen)
{
	struct sockaddr_storage ss;
	struct member **pp, *e;
	char id[SHM_NAME_MAX] = "";
	const char *bad;
	socklen_t sslen;
	int b;

	if (confval_addr(address, &ss, &sslen, &bad) == 0)
		confval_addr_str((struct sockaddr *)&ss, id, sizeof(id));
	for (pp = &m->members.head; (e = *pp) != NULL; pp = &e->next)
		if (strcmp(e->backend, backend) == 0 &&
		    (strcmp(e->id, id) == 0 || strcmp(e->name, address) == 0))
			break;
	b = members_backend(m, backend);
	if (e == NULL && b >= 0 && members_in_file(&m->gens->cfg->backends[b],
	    id)) {
		snprintf(why, whylen, "server %s of backend '%s' comes from the "
		    "configuration file: remove it there and reload", id,
		    backend);
		return 409;
	}
	if (e == NULL) {
		snprintf(why, whylen, "no server '%s' added to backend '%s'",
		    address, backend);
		return 404;
	}
	*pp = e->next;
	log_info("backend %s: server %s removed; it drains", backend, e->id);
	free(e->backend);
	free(e);
	if (b >= 0)
		members_publish(m, (size_t)b);
	return 0;
}
