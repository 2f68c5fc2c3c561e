/*
 * Owns the admin API's JSON resources: the master's status, the backends
 * and their servers as the workers see them (shared memory), and the
 * changes an operator makes to a server (admin state, weight).
 */
#include "autoconf.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "common/clock.h"
#include "common/config.h"
#include "common/confval.h"
#include "common/log.h"
#include "master/admin.h"
#include "master/adminreq.h"
#include "master/health.h"
#include "master/master.h"
#include "master/override.h"
#include "shm/shm.h"
#include "shm/stats.h"

/* adminreq_admin_names[] is indexed by these. */
_Static_assert(SHM_ADMIN_ACTIVE == 0 && SHM_ADMIN_DRAIN == 1 &&
    SHM_ADMIN_MAINT == 2, "admin state names follow enum shm_admin");

static const char *const adminapi_balances[] = {
	[CONFIG_BALANCE_ROUNDROBIN] = "roundrobin",
	[CONFIG_BALANCE_LEASTCONN] = "leastconn",
	[CONFIG_BALANCE_RANDOM2] = "random2",
	[CONFIG_BALANCE_HASH] = "hash",
};


json_t *
adminapi_error(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* Names from the URL may be any bytes; JSON strings must be UTF-8. */
	for (char *p = msg; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			*p = '?';
	return json_pack("{s:s}", "error", msg);
}

/* The admin state as the API names it. */
static const char *
adminapi_admin_name(uint32_t admin)
{
	return admin <= SHM_ADMIN_MAINT ? adminreq_admin_names[admin] : "?";
}

/* RFC 3339, UTC: "2026-12-02T10:11:12Z". */
static void
adminapi_time(time_t t, char *buf, size_t len)
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "?");
}

/* The worker pids of the current generation, or of the draining ones. */
static json_t *
adminapi_pids(const struct master *m, bool draining)
{
	json_t *a = json_array();

	for (const struct generation *g = m->gens; g != NULL && a != NULL;
	    g = g->next) {
		if ((g != m->gens) != draining)
			continue;
		for (uint32_t i = 0; i < g->cfg->workers; i++)
			if (g->workers[i].pid > 0)
				json_array_append_new(a,
				    json_integer(g->workers[i].pid));
	}
	return a;
}

/* {time, result, error} of the last SIGHUP reload; null before one. */
static json_t *
adminapi_last_reload(const struct master *m)
{
	const struct reload_stats *r = &m->reloads;
	char when[32];

	if (r->last == 0)
		return json_null();
	adminapi_time(r->last, when, sizeof(when));
	if (r->last_ok)
		return json_pack("{s:s, s:s}", "time", when, "result", "ok");
	return json_pack("{s:s, s:s, s:s}", "time", when, "result", "failed",
	    "error", r->last_error);
}

int
adminapi_status(struct master *m, json_t **out)
{
	*out = json_pack("{s:s, s:i, s:I, s:I, s:o, s:o, s:o, s:{s:I, s:I}}",
	    "version", PACKAGE_VERSION,
	    "pid", (int)getpid(),
	    "uptime_seconds", (json_int_t)((clock_ms() - m->started_ms) / 1000),
	    "generation", (json_int_t)m->gens->id,
	    "workers", adminapi_pids(m, false),
	    "draining_workers", adminapi_pids(m, true),
	    "last_reload", adminapi_last_reload(m),
	    "reloads", "ok", (json_int_t)m->reloads.ok,
	    "failed", (json_int_t)m->reloads.failed);
	return *out != NULL ? 200 : 500;
}

/* A counter as a JSON integer (they are far below 2^63, but say so). */
static json_int_t
adminapi_count(uint64_t n)
{
	return (json_int_t)(n > INT64_MAX ? INT64_MAX : n);
}

/* {"1xx": n, ... "5xx": n} from per-class counters. */
static json_t *
adminapi_classes(const _Atomic uint64_t *c)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:I}", "1xx", adminapi_count(c[0]),
	    "2xx", adminapi_count(c[1]), "3xx", adminapi_count(c[2]),
	    "4xx", adminapi_count(c[3]), "5xx", adminapi_count(c[4]));
}

/* How a server came to be in its backend, for the listing. */
struct adminapi_srv {
	uint32_t slot;
	const char *address;		/* as given */
	uint32_t weight;
	bool backup;
	const char *source;		/* "file", "api", "dns", "zookeeper" */
	bool removed;			/* out of the list, still draining */
};

/*
 * One server as the workers see it now. Each shared field is read on its
 * own (acquire, pairing with the master's release stores and the workers'
 * CAS on eject): the answer is a snapshot of each, not of all at once.
 */
static json_t *
adminapi_slot_json(struct master *m, const struct adminapi_srv *s)
{
	struct shm_server_sh *sv = &m->shm->servers[s->slot];
	uint32_t health = atomic_load_explicit(&sv->health,
	    memory_order_acquire);
	uint32_t admin = atomic_load_explicit(&sv->admin, memory_order_acquire);
	uint64_t eject = atomic_load_explicit(&sv->eject, memory_order_acquire);
	const char *last = health_last(m->health, s->slot);
	struct shm_stat_server_sh st;
	uint64_t failures = 0;

	shm_stats_server_sum(m->shm, s->slot, &st);
	for (int i = 0; i < SHM_FAIL_MAX; i++)
		failures += st.failures[i];
	return json_pack("{s:s, s:I, s:b, s:s, s:s, s:b, s:I, s:I, s:o, s:I, "
	    "s:s?, s:s, s:b}",
	    "address", s->address,
	    "weight", (json_int_t)s->weight,
	    "backup", s->backup,
	    "health", health == SHM_HEALTH_UP ? "up" : "down",
	    "admin", adminapi_admin_name(admin),
	    "ejected", SHM_EJECT_STATE(eject) != SHM_EJECT_NONE,
	    "inflight", (json_int_t)shm_inflight(m->shm, s->slot),
	    "requests", adminapi_count(st.requests),
	    "responses", adminapi_classes(st.responses),
	    "failures", adminapi_count(failures),
	    "last_check", last,
	    "source", s->source,
	    "removed", s->removed);
}

static json_t *
adminapi_server_json(struct master *m, const struct server_conf *sc)
{
	struct adminapi_srv s = { .slot = sc->slot, .address = sc->name,
	    .weight = sc->weight, .backup = sc->backup, .source = "file" };

	return adminapi_slot_json(m, &s);
}

static json_t *
adminapi_member_json(struct master *m, const struct member *e)
{
	struct adminapi_srv s = { .slot = e->m.slot, .address = e->name,
	    .weight = e->m.weight, .backup = e->m.flags & SHM_SERVER_BACKUP,
	    .source = members_source_name(e->source) };

	return adminapi_slot_json(m, &s);
}

/* Append j to list; false (list freed) when either is NULL. */
static bool
adminapi_append(json_t **list, json_t *j)
{
	if (*list != NULL && json_array_append_new(*list, j) == 0)
		return true;
	json_decref(*list);
	*list = NULL;
	return false;
}

/*
 * The servers that left be's list and still drain: a slot of be's pool
 * that no list names but a worker may still use (requests in flight, or a
 * worker not past the epoch that removed it).
 */
static void
adminapi_draining(struct master *m, const struct backend_conf *be,
    json_t **servers)
{
	for (uint32_t i = 0; i < m->shm->hdr->max_servers && *servers; i++) {
		const struct shm_server_sh *sv = &m->shm->servers[i];
		struct adminapi_srv s = { .slot = i, .address = sv->name,
		    .weight = sv->weight, .source = "api", .removed = true };

		if (!sv->used || sv->listed || sv->refs > 0 ||
		    strcmp(sv->pool, be->name) != 0 ||
		    shm_server_unlisted_idle(m->shm, i))
			continue;
		s.backup = sv->flags & SHM_SERVER_BACKUP;
		adminapi_append(servers, adminapi_slot_json(m, &s));
	}
}

static json_t *
adminapi_backend_json(struct master *m, const struct backend_conf *be)
{
	json_t *servers = json_array();
	struct shm_stat_pool_sh st;

	for (size_t s = 0; s < be->nservers && servers != NULL; s++)
		adminapi_append(&servers, adminapi_server_json(m,
		    &be->servers[s]));
	for (const struct member *e = m->members.head; e != NULL &&
	    servers != NULL; e = e->next)
		if (strcmp(e->backend, be->name) == 0)
			adminapi_append(&servers, adminapi_member_json(m, e));
	adminapi_draining(m, be, &servers);
	/* Waiting for a server slot in every worker (a gauge). */
	shm_stats_pool_sum(m->shm, be->pool_slot, &st);
	return json_pack("{s:s, s:s, s:I, s:o}", "name", be->name,
	    "balance", adminapi_balances[be->balance],
	    "queued", adminapi_count(st.queued), "servers", servers);
}

int
adminapi_backends(struct master *m, json_t **out)
{
	const struct config *cfg = m->gens->cfg;
	json_t *list = json_array();

	for (size_t b = 0; b < cfg->nbackends && list != NULL; b++)
		if (json_array_append_new(list, adminapi_backend_json(m,
		    &cfg->backends[b])) == -1) {
			json_decref(list);
			list = NULL;
		}
	*out = json_pack("{s:o}", "backends", list);
	return *out != NULL ? 200 : 500;
}

/* One frontend: its name and the addresses it listens on. */
static json_t *
adminapi_frontend_json(struct master *m, const struct frontend_conf *fe)
{
	json_t *listen = json_array();
	struct shm_stat_frontend_sh st;

	shm_stats_frontend_sum(m->shm, fe->slot, &st);
	for (size_t l = 0; l < fe->nlistens && listen != NULL; l++)
		if (json_array_append_new(listen,
		    json_string(fe->listens[l].text)) == -1) {
			json_decref(listen);
			listen = NULL;
		}
	return json_pack("{s:s, s:s?, s:o, s:I, s:I, s:o}", "name", fe->name,
	    "backend", fe->backend_name, "listen", listen,
	    "connections_active", adminapi_count(st.conns),
	    "requests", adminapi_count(st.requests),
	    "responses", adminapi_classes(st.responses));
}

int
adminapi_frontends(struct master *m, json_t **out)
{
	const struct config *cfg = m->gens->cfg;
	json_t *list = json_array();

	for (size_t f = 0; f < cfg->nfrontends && list != NULL; f++)
		if (json_array_append_new(list, adminapi_frontend_json(m,
		    &cfg->frontends[f])) == -1) {
			json_decref(list);
			list = NULL;
		}
	*out = json_pack("{s:o}", "frontends", list);
	return *out != NULL ? 200 : 500;
}

/* The current generation's backend name, or NULL. */
static const struct backend_conf *
adminapi_find_backend(const struct master *m, const char *name)
{
	const struct config *cfg = m->gens->cfg;

	for (size_t b = 0; b < cfg->nbackends; b++)
		if (strcmp(cfg->backends[b].name, name) == 0)
			return &cfg->backends[b];
	return NULL;
}

/* be's server at addr, written as configured or in any equal form. */
static const struct server_conf *
adminapi_find_server(const struct backend_conf *be, const char *addr)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	const char *why;
	char id[sizeof(be->servers[0].id)] = "";

	if (confval_addr(addr, &ss, &sslen, &why) == 0)
		confval_addr_str((struct sockaddr *)&ss, id, sizeof(id));
	for (size_t s = 0; s < be->nservers; s++)
		if (strcmp(be->servers[s].name, addr) == 0 ||
		    strcmp(be->servers[s].id, id) == 0)
			return &be->servers[s];
	return NULL;
}

int
adminapi_backend(struct master *m, const char *name, json_t **out)
{
	const struct backend_conf *be = adminapi_find_backend(m, name);

	if (be == NULL) {
		*out = adminapi_error("no backend '%s'", name);
		return 404;
	}
	*out = adminapi_backend_json(m, be);
	return *out != NULL ? 200 : 500;
}

/* Find backend and server for a server route; 0, or 404 with *out. */
static int
adminapi_lookup(const struct master *m, const char *backend, const char *addr,
    const struct backend_conf **be, const struct server_conf **sc,
    json_t **out)
{
	if ((*be = adminapi_find_backend(m, backend)) == NULL) {
		*out = adminapi_error("no backend '%s'", backend);
		return 404;
	}
	if ((*sc = adminapi_find_server(*be, addr)) == NULL) {
		*out = adminapi_error("no server '%s' in backend '%s'", addr,
		    backend);
		return 404;
	}
	return 0;
}

/* The canonical form of addr, or "" when it is not an address. */
static void
adminapi_canon(const char *addr, char *id, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	const char *why;

	id[0] = '\0';
	if (confval_addr(addr, &ss, &sslen, &why) == 0)
		confval_addr_str((struct sockaddr *)&ss, id, len);
}

int
adminapi_server(struct master *m, const char *backend, const char *addr,
    json_t **out)
{
	const struct backend_conf *be;
	const struct server_conf *sc;
	const struct member *e;
	char id[SHM_NAME_MAX];
	int status;

	adminapi_canon(addr, id, sizeof(id));
	if ((e = members_find(&m->members, backend, id[0] != '\0' ? id :
	    addr)) != NULL)
		*out = adminapi_member_json(m, e);
	else if ((status = adminapi_lookup(m, backend, addr, &be, &sc,
	    out)) != 0)
		return status;
	else
		*out = adminapi_server_json(m, sc);
	return *out != NULL ? 200 : 500;
}

int
adminapi_servers_post(struct master *m, const char *backend,
    const char *body, size_t len, json_t **out)
{
	struct adminreq_server req;
	struct member_spec spec;
	const struct member *e;
	char why[512];
	int status;

	if ((status = adminreq_server(body, len, &req, why,
	    sizeof(why))) == 0) {
		spec = (struct member_spec){ .address = req.address,
		    .weight = (uint32_t)req.weight, .backup = req.backup,
		    .tls = req.tls, .max_conns = (uint32_t)req.max_conns,
		    .source = MEMBER_API };
		status = members_add(m, backend, &spec, &e, why, sizeof(why));
	}
	if (status != 0) {
		*out = adminapi_error("%s", why);
		return status;
	}
	*out = adminapi_member_json(m, e);
	return *out != NULL ? 201 : 500;
}

int
adminapi_server_delete(struct master *m, const char *backend,
    const char *addr, json_t **out)
{
	char why[512];
	int status;

	if ((status = members_del(m, backend, addr, why, sizeof(why))) != 0) {
		*out = adminapi_error("%s", why);
		return status;
	}
	*out = json_pack("{s:s, s:s}", "removed", addr, "state", "draining");
	return *out != NULL ? 202 : 500;
}

/*
 * A file server's weight is part of its generation's config: a new weight
 * starts a new generation from the current config text with the override
 * applied (the zero-drop reload path), so the override also holds for
 * every later generation; the new generation publishes the member list
 * with the new weight. The price is a reload's: new workers, and old
 * keep-alive connections closed as they drain.
 */
static int
adminapi_set_weight(struct master *m, const char *label, uint32_t old,
    int weight, json_t **out)
{
	char err[512];

	if (reload_rebuild(m, err, sizeof(err)) == -1) {
		log_warnx("admin: server %s weight %u -> %d not applied: %s",
		    label, old, weight, err);
		*out = adminapi_error("weight not applied: %s", err);
		return 503;
	}
	log_info("admin: server %s weight %u -> %d", label, old, weight);
	return 0;
}

/*
 * The admin state is shared: one release store reaches every worker of
 * every generation at its next pick (bal_usable's acquire load). The
 * override makes later generations publish the same state.
 */
static void
adminapi_set_admin(struct master *m, const char *label, uint32_t slot,
    uint32_t old, int admin)
{
	struct shm_server_sh *sv = &m->shm->servers[slot];

	atomic_store_explicit(&sv->admin, (uint32_t)admin,
	    memory_order_release);
	if (old != (uint32_t)admin)
		log_info("admin: server %s admin %s -> %s", label,
		    adminapi_admin_name(old),
		    adminapi_admin_name((uint32_t)admin));
}

/* The PATCH body read by adminreq_patch(); 0, or 400 with *out. */
static int
adminapi_patch(const char *body, size_t len, int *admin, int *weight,
    json_t **out)
{
	char why[256];
	int status = adminreq_patch(body, len, admin, weight, why,
	    sizeof(why));

	if (status != 0)
		*out = adminapi_error("%s", why);
	return status;
}

/*
 * PATCH of a server that is not from the file: its admin state is its
 * slot's, and its weight its member list entry's, published at once (no
 * new generation: the list is what every worker's tables come from).
 */
static int
adminapi_member_patch(struct master *m, const char *backend,
    struct member *e, int admin, int weight, json_t **out)
{
	char label[160], id[SHM_NAME_MAX];
	uint32_t old_admin = atomic_load_explicit(
	    &m->shm->servers[e->m.slot].admin, memory_order_relaxed);

	snprintf(label, sizeof(label), "%s/%s", backend, e->name);
	snprintf(id, sizeof(id), "%s", e->id);
	if (weight >= 0 && (uint32_t)weight != e->m.weight) {
		log_info("admin: server %s weight %u -> %d", label,
		    e->m.weight, weight);
		members_set_weight(m, e, (uint32_t)weight);
	}
	if (admin >= 0)
		adminapi_set_admin(m, label, e->m.slot, old_admin, admin);
	return adminapi_server(m, backend, id, out);
}

int
adminapi_server_patch(struct master *m, const char *backend,
    const char *addr, const char *body, size_t len, json_t **out)
{
	const struct backend_conf *be;
	const struct server_conf *sc;
	struct override *ov, saved;
	char label[160], id[sizeof(sc->id)];
	int admin, weight, status;
	uint32_t slot, old_weight, old_admin;
	struct member *e;

	adminapi_canon(addr, id, sizeof(id));
	e = members_find(&m->members, backend, id[0] != '\0' ? id : addr);
	if (e != NULL) {
		if ((status = adminapi_patch(body, len, &admin, &weight,
		    out)) != 0)
			return status;
		return adminapi_member_patch(m, backend, e, admin, weight,
		    out);
	}
	if ((status = adminapi_lookup(m, backend, addr, &be, &sc, out)) != 0 ||
	    (status = adminapi_patch(body, len, &admin, &weight, out)) != 0)
		return status;
	/* A new generation may free this config: keep what is needed. */
	snprintf(label, sizeof(label), "%s/%s", be->name, sc->name);
	snprintf(id, sizeof(id), "%s", sc->id);
	slot = sc->slot;
	old_weight = sc->weight;
	/* The master is the only writer of admin: this is the state now. */
	old_admin = atomic_load_explicit(&m->shm->servers[slot].admin,
	    memory_order_relaxed);
	if ((ov = override_get(&m->overrides, be->name, sc->id)) == NULL) {
		*out = adminapi_error("out of memory");
		return 500;
	}
	saved = *ov;
	if (admin >= 0)
		ov->admin = admin;
	if (weight >= 0)
		ov->weight = weight;
	if (weight >= 0 && (uint32_t)weight != old_weight &&
	    (status = adminapi_set_weight(m, label, old_weight, weight,
	    out)) != 0) {
		*ov = saved;
		return status;
	}
	if (admin >= 0)
		adminapi_set_admin(m, label, slot, old_admin, admin);
	return adminapi_server(m, backend, id, out);
}
