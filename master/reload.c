/*
 * Owns config generations: building one from a config file, swapping it in
 * on SIGHUP without dropping anything, and freeing a retired one once its
 * last worker has drained.
 */
#include "autoconf.h"

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "balancer/balancer.h"
#include "common/config.h"
#include "common/htpasswd.h"
#include "common/log.h"
#include "limit/registry.h"
#include "master/admin.h"
#include "master/health.h"
#include "master/master.h"
#include "master/override.h"
#include "shm/shm.h"
#include "tls/tls.h"

/* Balancer state for every backend of g's config. */
static int
reload_gen_balancers(struct master *m, struct generation *g)
{
	g->bals = calloc(g->cfg->nbackends + 1, sizeof(*g->bals));
	if (g->bals == NULL)
		return -1;
	for (size_t i = 0; i < g->cfg->nbackends; i++)
		if ((g->bals[i] = balancer_build(m->shm,
		    &g->cfg->backends[i])) == NULL)
			return -1;
	return 0;
}

static int
reload_gen_workers(struct master *m, struct generation *g)
{
	g->workers = calloc(g->cfg->workers, sizeof(*g->workers));
	if (g->workers == NULL)
		return -1;
	for (uint32_t i = 0; i < g->cfg->workers; i++) {
		struct wproc *w = &g->workers[i];

		w->m = m;
		w->gen = g;
		w->idx = i;
		w->respawn_ev = evtimer_new(m->base, master_respawn_cb, w);
		if (w->respawn_ev == NULL)
			return -1;
	}
	return 0;
}

struct generation *
reload_gen_new(struct master *m, struct config *cfg, char *err, size_t errlen)
{
	struct generation *g = calloc(1, sizeof(*g));

	if (g == NULL) {
		config_free(cfg);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	g->id = m->next_gen++;
	g->cfg = cfg;
	/*
	 * Everything that can fail comes before the first change visible to
	 * running workers (shm_publish), so a failed reload changes nothing.
	 */
	/* Workers open access logs as the user weir runs as: check as it. */
	if (check_access_logs(cfg, err, errlen) == -1 ||
	    shm_publish_check(m->shm, cfg, err, errlen) == -1)
		goto fail;
	if (shm_worker_free_count(m->shm) < cfg->workers) {
		snprintf(err, errlen, "too many workers still draining from "
		    "earlier reloads; try again later");
		goto fail;
	}
	if (reload_gen_workers(m, g) == -1) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	/* Certificates are read here, before any fork; warned about at
	 * start by check_startup(), on every reload here. */
	if (tls_gen_build(cfg, m->gens != NULL, &g->tls, err, errlen) == -1)
		goto fail;
	/* So are password files: workers get the tables through fork. */
	if (htpasswd_config_load(cfg, err, errlen) == -1)
		goto fail;
	if (listen_prepare(&m->lp, cfg, &g->ls, err, errlen) == -1)
		goto fail;
	/* Before any fork of g: its workers inherit the mappings. */
	if ((g->limits = limit_registry_acquire(&m->limits, cfg, err,
	    errlen)) == NULL)
		goto fail;
	if (shm_publish(m->shm, cfg, err, errlen) == -1)
		goto fail;
	g->published = true;
	if (reload_gen_balancers(m, g) == -1) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	return g;
fail:
	reload_gen_free(m, g);
	return NULL;
}

/*
 * Close the sockets of addresses the current config does not listen on.
 * Retired workers closed their copies when they started draining, so
 * keeping such a socket would only queue connections nobody accepts.
 */
static void
reload_prune_sockets(struct master *m)
{
	const struct config *cur = m->gens->cfg;

	listen_prune(&m->lp, &cur, 1);
}

void
reload_gen_free(struct master *m, struct generation *g)
{
	if (g == NULL)
		return;
	for (uint32_t i = 0; g->workers != NULL && i < g->cfg->workers; i++)
		if (g->workers[i].respawn_ev != NULL)
			event_free(g->workers[i].respawn_ev);
	free(g->workers);
	for (size_t i = 0; g->bals != NULL && i < g->cfg->nbackends; i++)
		balancer_free(g->bals[i]);
	free(g->bals);
	tls_gen_free(g->tls);
	listeners_free(&g->ls);
	limit_registry_release(&m->limits, g->limits, g->cfg->nlimits);
	if (g->published)
		shm_unpublish(m->shm, g->cfg);
	config_free(g->cfg);
	free(g);
}

void
reload_worker_gone(struct master *m, struct generation *g)
{
	struct generation **pp;

	if (!g->retired || g->nalive > 0)
		return;
	for (pp = &m->gens; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == g) {
			*pp = g->next;
			break;
		}
	}
	log_info("generation %u drained", g->id);
	reload_gen_free(m, g);
}

/* Tell the old generation's workers to finish their work and exit. */
static void
reload_retire(struct master *m, struct generation *old)
{
	old->retired = true;
	for (uint32_t i = 0; i < old->cfg->workers; i++) {
		evtimer_del(old->workers[i].respawn_ev);
		if (old->workers[i].pid != 0)
			kill(old->workers[i].pid, SIGQUIT);
	}
	reload_worker_gone(m, old);
}

/* Two strings that may be NULL differ? */
static bool
reload_differ(const char *a, const char *b)
{
	return (a == NULL) != (b == NULL) || (a != NULL && strcmp(a, b) != 0);
}

/*
 * What only a restart changes: the pidfile is held (locked) from startup,
 * and the processes gave up the rights to become another user.
 */
static void
reload_warn_fixed(const struct master *m, const struct config *old,
    const struct config *cfg)
{
	if (reload_differ(m->pidfile, cfg->pidfile))
		log_warnx("pidfile cannot change on reload; keeping %s (restart "
		    "weir to change it)", m->pidfile ? m->pidfile : "none");
	if (reload_differ(old->user, cfg->user) ||
	    reload_differ(old->group, cfg->group))
		log_warnx("user and group cannot change on reload; still "
		    "running as %s (restart weir to change them)",
		    old->user ? old->user : "the user weir started as");
	if (cfg->max_servers != m->shm->hdr->max_servers)
		log_warnx("max_servers cannot change on reload; keeping %u "
		    "(restart weir to change it)", m->shm->hdr->max_servers);
}

/* Make g (just built) current: start its workers, retire the old one. */
static void
reload_switch(struct master *m, struct generation *g)
{
	struct generation *old = m->gens;
	const struct config *cfg = g->cfg;
	struct health *h;

	g->next = old;
	m->gens = g;
	for (uint32_t i = 0; i < cfg->workers; i++) {
		static const struct timeval retry = { 0, 100000 };

		if (master_spawn(m, &g->workers[i]) == -1)
			evtimer_add(g->workers[i].respawn_ev, &retry);
	}
	if ((h = health_new(m->base, m->shm, cfg, g->tls, m->health)) != NULL) {
		health_free(m->health);
		m->health = h;
	}
	/* After the switch: members are added to the current config. */
	members_reconcile(m);
	discovery_sync(m);
	reload_retire(m, old);
	reload_prune_sockets(m);
}

/* Count a SIGHUP reload for GET /api/v1/status. */
static void
reload_record(struct master *m, bool ok, const char *err)
{
	m->reloads.last = time(NULL);
	m->reloads.last_ok = ok;
	snprintf(m->reloads.last_error, sizeof(m->reloads.last_error), "%s",
	    ok ? "" : err);
	if (ok)
		m->reloads.ok++;
	else
		m->reloads.failed++;
}

void
reload_run(struct master *m)
{
	struct generation *g = NULL, *old = m->gens;
	struct config *cfg;
	char err[512];

	log_info("reloading configuration from %s", m->path);
	ready_reloading(m);
	if (config_load(m->path, &cfg, err, sizeof(err)) == -1)
		goto fail;
	/* The admin API's token and listener first: they can fail too. */
	if (admin_prepare(m->admin, cfg, err, sizeof(err)) == -1) {
		config_free(cfg);
		goto fail;
	}
	override_apply(&m->overrides, cfg);
	if ((g = reload_gen_new(m, cfg, err, sizeof(err))) == NULL) {
		admin_abort(m->admin);
		goto fail;
	}
	admin_commit(m->admin);
	override_prune(&m->overrides, cfg);
	reload_warn_fixed(m, old->cfg, cfg);
	log_set_level(cfg->log_level);
	/* A new log_file takes effect now, for the master and new workers. */
	if (cfg->log_file != NULL && (old->cfg->log_file == NULL ||
	    strcmp(cfg->log_file, old->cfg->log_file) != 0) &&
	    log_reopen(cfg->log_file) == -1)
		log_warn("log_file %s", cfg->log_file);
	reload_switch(m, g);
	master_tickets_arm(m);
	reload_record(m, true, NULL);
	log_info("reload complete: generation %u, %u workers", g->id,
	    cfg->workers);
	ready_generation(m);
	return;
fail:
	log_error("reload failed: %s; still serving the previous "
	    "configuration", err);
	reload_record(m, false, err);
	ready_reload_failed(m, err);
}

int
reload_rebuild(struct master *m, char *err, size_t errlen)
{
	struct generation *g;
	struct config *cfg;

	if (m->stopping) {
		snprintf(err, errlen, "weir is stopping");
		return -1;
	}
	if (config_reparse(m->gens->cfg, &cfg, err, errlen) == -1)
		return -1;
	override_apply(&m->overrides, cfg);
	if ((g = reload_gen_new(m, cfg, err, errlen)) == NULL)
		return -1;
	reload_switch(m, g);
	log_info("generation %u started: the same configuration with the "
	    "admin API's changes, %u workers", g->id, g->cfg->workers);
	ready_generation(m);
	return 0;
}
