/*
 * Owns the servers that do not come from the config file (admin API, DNS,
 * ZooKeeper): their shm slots, adding them to every publication of
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
	    e = e->next) {
		const struct shm_server_sh *sv = &ms->shm->servers[e->m.slot];

		if (strcmp(e->backend, backend) != 0)
			continue;
		/* Never a slot that has become another server's. */
		if (!sv->used || strcmp(sv->pool, backend) != 0 ||
		    strcmp(sv->addr, e->id) != 0) {
			log_warnx("backend %s: server %s lost its slot; left "
			    "out", backend, e->id);
			continue;
		}
		out[n++] = e->m;
	}
	return n;
}

void
members_attach(struct master *m)
{
	m->members.shm = m->shm;
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

struct member *
members_find(const struct members *ms, const char *backend, const char *id)
{
	for (struct member *e = ms->head; e != NULL; e = e->next)
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

void
members_set_weight(struct master *m, struct member *e, uint32_t weight)
{
	int b = members_backend(m, e->backend);

	e->m.weight = weight;
	if (b >= 0)
		shm_publish_list(m->shm, m->gens->cfg, (size_t)b);
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

	atomic_store_explicit(&sv->admin, SHM_ADMIN_ACTIVE,
	    memory_order_release);
	/* Plain fields: only while no worker can read the slot. */
	if (!fresh)
		return;
	sv->flags = flags;
	sv->weight = weight;
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

/* Append a member for spec to backend b's; 0 or an HTTP status and why. */
static int
members_insert(struct master *m, size_t b, const struct member_spec *spec,
    struct member **out, char *why, size_t whylen)
{
	const struct backend_conf *be = &m->gens->cfg->backends[b];
	struct sockaddr_storage ss;
	struct member *e, **tail;
	char id[SHM_NAME_MAX];
	const char *bad;
	socklen_t sslen;
	int slot;
	bool fresh;
	uint32_t flags = (spec->backup ? SHM_SERVER_BACKUP : 0) |
	    (spec->tls ? SHM_SERVER_TLS : 0);

	if (confval_addr(spec->address, &ss, &sslen, &bad) == -1) {
		snprintf(why, whylen, "address '%s': %s", spec->address, bad);
		return 400;
	}
	confval_addr_str((struct sockaddr *)&ss, id, sizeof(id));
	if (members_in_file(be, id) || members_find(&m->members, be->name,
	    id) != NULL) {
		snprintf(why, whylen, "backend '%s' has server %s already",
		    be->name, id);
		return 409;
	}
	if (spec->tls && tls_gen_backend(m->gens->tls, b) == NULL) {
		snprintf(why, whylen, "backend '%s' has no TLS client settings: "
		    "give one of its servers 'tls' in the file", be->name);
		return 400;
	}
	/* Before the claim: a claimed slot must be published (shm.h). */
	if ((e = calloc(1, sizeof(*e))) == NULL ||
	    (e->backend = strdup(be->name)) == NULL) {
		free(e);
		snprintf(why, whylen, "out of memory");
		return 500;
	}
	/*
	 * Still draining with other flags: its slot's plain fields cannot
	 * change while workers may read them, nor its idle connections (of
	 * the other kind) be reused.
	 */
	if ((slot = shm_server_find(m->shm, be->name, id)) >= 0 &&
	    m->shm->servers[slot].flags != flags) {
		free(e->backend);
		free(e);
		snprintf(why, whylen, "server %s is still draining with other "
		    "settings (tls, backup): add it again once it has left",
		    id);
		return 409;
	}
	fresh = slot < 0;
	if ((slot = shm_server_claim(m->shm, be->name, id, spec->address,
	    (struct sockaddr *)&ss, sslen)) < 0) {
		free(e->backend);
		free(e);
		snprintf(why, whylen, "no server slot left: max_servers (%u) "
		    "are in use or draining", m->shm->hdr->max_servers);
		return 507;
	}
	snprintf(e->id, sizeof(e->id), "%s", id);
	snprintf(e->name, sizeof(e->name), "%s", spec->address);
	e->source = spec->source;
	e->owner = spec->owner;
	e->m = (struct shm_member){ .slot = (uint32_t)slot,
	    .weight = spec->weight,
	    .max_conns = spec->max_conns != 0 ? spec->max_conns :
	    be->max_conns, .flags = flags };
	members_slot_init(m, be, (uint32_t)slot, fresh, e->m.flags,
	    spec->weight);
	for (tail = &m->members.head; *tail != NULL; tail = &(*tail)->next)
		;
	*tail = e;
	log_info("backend %s: server %s added (%s, weight %u%s)", be->name,
	    id, members_source_name(spec->source), spec->weight,
	    spec->backup ? ", backup" : "");
	*out = e;
	return 0;
}

int
members_add(struct master *m, const char *backend,
    const struct member_spec *spec, const struct member **out, char *why,
    size_t whylen)
{
	struct member *e;
	int b, status;

	if ((b = members_backend(m, backend)) < 0) {
		snprintf(why, whylen, "no backend '%s'", backend);
		return 404;
	}
	if ((status = members_insert(m, (size_t)b, spec, &e, why,
	    whylen)) != 0)
		return status;
	members_publish(m, (size_t)b);
	*out = e;
	return 0;
}

/* Unlink *pp and free it; its slot drains once the list is published. */
static void
members_unlink(struct member **pp)
{
	struct member *e = *pp;

	*pp = e->next;
	log_info("backend %s: server %s removed (%s); it drains", e->backend,
	    e->id, members_source_name(e->source));
	free(e->backend);
	free(e);
}

void
members_reconcile(struct master *m)
{
	const struct config *cfg = m->gens->cfg;
	struct member **pp = &m->members.head, *e;
	bool *dirty = calloc(cfg->nbackends + 1, sizeof(*dirty));
	int b;

	while ((e = *pp) != NULL) {
		if ((b = members_backend(m, e->backend)) < 0) {
			log_warnx("backend %s is gone from the configuration: "
			    "server %s leaves with it", e->backend, e->id);
			members_unlink(pp);
		} else if (members_in_file(&cfg->backends[b], e->id)) {
			log_info("backend %s: server %s is in the file now; the "
			    "file's settings apply", e->backend, e->id);
			members_unlink(pp);
			if (dirty != NULL)
				dirty[b] = true;
		} else
			pp = &e->next;
	}
	for (size_t i = 0; dirty != NULL && i < cfg->nbackends; i++)
		if (dirty[i])
			shm_publish_list(m->shm, cfg, i);
	free(dirty);
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
	/* Its source owns it: it would come back with the next answer. */
	if (e->source != MEMBER_API) {
		snprintf(why, whylen, "server %s of backend '%s' comes from "
		    "%s; change it there", e->id, backend,
		    members_source_name(e->source));
		return 409;
	}
	members_unlink(pp);
	if (b >= 0)
		members_publish(m, (size_t)b);
	return 0;
}

const char *
members_source_name(enum member_source source)
{
	switch (source) {
	case MEMBER_API:
		return "api";
	case MEMBER_DNS:
		return "dns";
	case MEMBER_ZK:
		return "zookeeper";
	}
	return "?";
}

/* Is canonical id one of specs[0..n)? Its index, or -1. */
static int
members_spec_index(const char ids[][SHM_NAME_MAX], size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(ids[i], id) == 0)
			return (int)i;
	return -1;
}

/* Give e spec's weight and flags; whether anything changed. */
static bool
members_update(struct master *m, struct member *e,
    const struct member_spec *spec)
{
	uint32_t flags = (spec->backup ? SHM_SERVER_BACKUP : 0) |
	    (spec->tls ? SHM_SERVER_TLS : 0);
	struct shm_server_sh *sv = &m->shm->servers[e->m.slot];

	if (e->m.weight == spec->weight && e->m.flags == flags)
		return false;
	e->m.weight = spec->weight;
	e->m.flags = flags;
	sv->weight = spec->weight;
	sv->flags = flags;
	log_info("backend %s: server %s now weight %u%s", e->backend, e->id,
	    spec->weight, spec->backup ? ", backup" : "");
	return true;
}

void
members_replace(struct master *m, const char *backend,
    enum member_source source, const void *owner,
    const struct member_spec *specs, size_t n, const char *label)
{
	char (*ids)[SHM_NAME_MAX] = NULL, why[256];
	struct sockaddr_storage ss;
	struct member **pp, *e;
	const char *bad;
	socklen_t sslen;
	bool changed = false;
	int b = members_backend(m, backend), i;

	if (n > 0 && (ids = calloc(n, sizeof(*ids))) == NULL) {
		log_warnx("%s: out of memory; membership unchanged", label);
		return;
	}
	for (size_t k = 0; k < n; k++)
		if (confval_addr(specs[k].address, &ss, &sslen, &bad) == 0)
			confval_addr_str((struct sockaddr *)&ss, ids[k],
			    sizeof(ids[k]));
		else	/* members_insert says why */
			snprintf(ids[k], sizeof(ids[k]), "%s",
			    specs[k].address);
	/* Those owner brought before: keep (and update) or remove. */
	for (pp = &m->members.head; (e = *pp) != NULL;) {
		if (e->owner != owner || e->source != source ||
		    strcmp(e->backend, backend) != 0) {
			pp = &e->next;
			continue;
		}
		if (b >= 0 && (i = members_spec_index((const void *)ids, n,
		    e->id)) >= 0) {
			changed |= members_update(m, e, &specs[i]);
			ids[i][0] = '\0';	/* handled */
			pp = &e->next;
			continue;
		}
		members_unlink(pp);
		changed = true;
	}
	for (size_t k = 0; b >= 0 && k < n; k++) {
		if (ids[k][0] == '\0')
			continue;
		if (members_insert(m, (size_t)b, &specs[k], &e, why,
		    sizeof(why)) != 0)
			log_warnx("%s: server %s not added: %s", label,
			    specs[k].address, why);
		else
			changed = true;
	}
	free(ids);
	if (changed && b >= 0)
		members_publish(m, (size_t)b);
}
