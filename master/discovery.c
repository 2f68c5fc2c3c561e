/*
 * Owns the master's discovery watches (one DNS watch per "resolve" server
 * line, one ZooKeeper watch per backend with discovery = zookeeper), keeps
 * them across reloads while their settings stay, and turns each new set
 * they find into membership changes (members_replace).
 */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/confval.h"
#include "common/log.h"
#include "discovery/dns.h"
#include "discovery/zk.h"
#include "master/master.h"
#include "master/members.h"

#define DISCOVERY_KEY_MAX	1024	/* a watch's settings, as text */

/*
 * One watch and the members it brought. Its members carry the watch's
 * address as their owner, so they leave exactly when it is freed.
 */
struct discovery_watch {
	struct discovery_watch *next;
	struct discovery *d;
	char *backend;
	char *key;			/* settings: an equal key after a
					 * reload keeps the watch (no flap) */
	char label[160];		/* starts its log lines */
	enum member_source source;
	struct member_spec tmpl;	/* DNS: the line's options */
	struct dns_watch *dns;
	struct zk_watch *zk;
	bool keep;			/* wanted by the config being synced */
};

struct discovery {
	struct master *m;
	struct dns_resolver *resolver;	/* made when a line first needs it */
	char *resolvers;		/* its servers; NULL: resolv.conf */
	struct discovery_watch *head;
};

/* A DNS watch's new set: every address becomes a member. */
static void
discovery_dns_cb(void *arg, const struct sockaddr_storage *addrs, size_t n)
{
	struct discovery_watch *w = arg;
	char (*names)[SHM_NAME_MAX];
	struct member_spec *specs;

	names = calloc(n, sizeof(*names));
	specs = calloc(n, sizeof(*specs));
	if (names == NULL || specs == NULL) {
		log_warnx("%s: out of memory; membership unchanged", w->label);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		confval_addr_str((const struct sockaddr *)&addrs[i], names[i],
		    sizeof(names[i]));
		specs[i] = w->tmpl;
		specs[i].address = names[i];
	}
	members_replace(w->d->m, w->backend, MEMBER_DNS, w, specs, n,
	    w->label);
out:
	free(names);
	free(specs);
}

/*
 * A ZooKeeper watch's new list. Only numeric addresses are taken: weir
 * never resolves a server's name on its own (a name goes through a
 * "resolve" line), so a child naming a host is skipped.
 */
static void
discovery_zk_cb(void *arg, const struct zk_member *zm, size_t n)
{
	struct discovery_watch *w = arg;
	struct member_spec *specs;
	struct sockaddr_storage ss;
	const char *why;
	socklen_t len;
	size_t k = 0;

	if (n > 0 && (specs = calloc(n, sizeof(*specs))) == NULL) {
		log_warnx("%s: out of memory; membership unchanged", w->label);
		return;
	}
	if (n == 0)
		specs = NULL;
	for (size_t i = 0; i < n; i++) {
		if (confval_addr(zm[i].address, &ss, &len, &why) == -1) {
			log_warnx("%s: node %s: address '%s' skipped: %s",
			    w->label, zm[i].node, zm[i].address, why);
			continue;
		}
		specs[k] = (struct member_spec){ .address = zm[i].address,
		    .weight = zm[i].weight, .source = MEMBER_ZK, .owner = w };
		k++;
	}
	members_replace(w->d->m, w->backend, MEMBER_ZK, w, specs, k,
	    w->label);
	free(specs);
}

/* Stop w and take its members out (they drain). */
static void
discovery_watch_free(struct discovery_watch *w)
{
	dns_watch_free(w->dns);
	zk_watch_free(w->zk);
	members_replace(w->d->m, w->backend, w->source, w, NULL, 0, w->label);
	free(w->backend);
	free(w->key);
	free(w);
}

/* The watch with settings key, or NULL. */
static struct discovery_watch *
discovery_find(struct discovery *d, const char *key)
{
	for (struct discovery_watch *w = d->head; w != NULL; w = w->next)
		if (strcmp(w->key, key) == 0)
			return w;
	return NULL;
}

/* A resolve line's settings: everything that shapes its members. */
static void
discovery_dns_key(const struct backend_conf *be, const struct resolve_conf *rs,
    char *key, size_t len)
{
	snprintf(key, len, "dns\n%s\n%s\n%u\n%u\n%d\n%d\n%u\n%u", be->name,
	    rs->host, rs->port, rs->weight, rs->backup, rs->tls,
	    rs->max_conns, be->resolve_interval_ms);
}

static void
discovery_zk_key(const struct backend_conf *be, char *key, size_t len)
{
	snprintf(key, len, "zk\n%s\n%s\n%s", be->name, be->zk_hosts,
	    be->zk_path);
}

/* A new watch of backend be (not started yet): NULL when out of memory. */
static struct discovery_watch *
discovery_watch_new(struct discovery *d, const struct backend_conf *be,
    const char *key, enum member_source source)
{
	struct discovery_watch *w;

	if ((w = calloc(1, sizeof(*w))) == NULL ||
	    (w->backend = strdup(be->name)) == NULL ||
	    (w->key = strdup(key)) == NULL) {
		if (w != NULL)
			free(w->backend);
		free(w);
		log_warnx("backend %s: discovery: out of memory", be->name);
		return NULL;
	}
	w->d = d;
	w->source = source;
	w->keep = true;
	return w;
}

/* Start watching a resolve line's name. */
static void
discovery_dns_start(struct discovery *d, const struct backend_conf *be,
    const struct resolve_conf *rs, const char *key)
{
	struct discovery_watch *w;

	if ((w = discovery_watch_new(d, be, key, MEMBER_DNS)) == NULL)
		return;
	snprintf(w->label, sizeof(w->label), "backend %s: server %s",
	    be->name, rs->name);
	w->tmpl = (struct member_spec){ .weight = rs->weight,
	    .backup = rs->backup, .tls = rs->tls, .max_conns = rs->max_conns,
	    .source = MEMBER_DNS, .owner = w };
	if ((w->dns = dns_watch_new(d->resolver, rs->host, rs->port,
	    be->resolve_interval_ms, w->label, discovery_dns_cb, w)) == NULL) {
		discovery_watch_free(w);
		return;
	}
	w->next = d->head;
	d->head = w;
}

/* Start watching a backend's ZooKeeper path. */
static void
discovery_zk_start(struct discovery *d, const struct backend_conf *be,
    const char *key)
{
	struct discovery_watch *w;
	char err[256];

	if ((w = discovery_watch_new(d, be, key, MEMBER_ZK)) == NULL)
		return;
	snprintf(w->label, sizeof(w->label), "backend %s", be->name);
	if ((w->zk = zk_watch_new(d->m->base, be->zk_hosts, be->zk_path,
	    w->label, discovery_zk_cb, w, err, sizeof(err))) == NULL) {
		log_warnx("%s: zookeeper: %s", w->label, err);
		discovery_watch_free(w);
		return;
	}
	w->next = d->head;
	d->head = w;
}

/* Free the watches no longer wanted (or of a source flag, all of those). */
static void
discovery_prune(struct discovery *d, bool all_dns)
{
	struct discovery_watch **pp, *w;

	for (pp = &d->head; (w = *pp) != NULL;) {
		if (w->keep && !(all_dns && w->source == MEMBER_DNS)) {
			pp = &w->next;
			continue;
		}
		*pp = w->next;
		discovery_watch_free(w);
	}
}

/*
 * The resolver for cfg's resolvers: a new setting replaces it, after its
 * watches went (dns_resolver_free would free them under us). false: no
 * resolver (logged).
 */
static bool
discovery_resolver(struct discovery *d, const struct config *cfg)
{
	char err[256];

	if (d->resolver != NULL && ((d->resolvers == NULL) !=
	    (cfg->resolvers == NULL) || (d->resolvers != NULL &&
	    strcmp(d->resolvers, cfg->resolvers) != 0))) {
		discovery_prune(d, true);
		dns_resolver_free(d->resolver);
		d->resolver = NULL;
		free(d->resolvers);
		d->resolvers = NULL;
	}
	if (d->resolver != NULL)
		return true;
	if ((d->resolver = dns_resolver_new(d->m->base, cfg->resolvers, 0,
	    err, sizeof(err))) == NULL) {
		log_warnx("resolve: %s; names are not resolved", err);
		return false;
	}
	if (cfg->resolvers != NULL &&
	    (d->resolvers = strdup(cfg->resolvers)) == NULL) {
		dns_resolver_free(d->resolver);
		d->resolver = NULL;
		return false;
	}
	return true;
}

/* Mark the watches cfg still wants; whether cfg has a resolve line. */
static bool
discovery_mark(struct discovery *d, const struct config *cfg)
{
	struct discovery_watch *w;
	char key[DISCOVERY_KEY_MAX];
	bool names = false;

	for (w = d->head; w != NULL; w = w->next)
		w->keep = false;
	for (size_t b = 0; b < cfg->nbackends; b++) {
		const struct backend_conf *be = &cfg->backends[b];

		for (size_t i = 0; i < be->nresolves; i++) {
			discovery_dns_key(be, &be->resolves[i], key,
			    sizeof(key));
			if ((w = discovery_find(d, key)) != NULL)
				w->keep = true;
			names = true;
		}
		if (be->discovery != CONFIG_DISCOVERY_ZOOKEEPER)
			continue;
		discovery_zk_key(be, key, sizeof(key));
		if ((w = discovery_find(d, key)) != NULL)
			w->keep = true;
	}
	return names;
}

void
discovery_sync(struct master *m)
{
	const struct config *cfg = m->gens->cfg;
	struct discovery *d = m->discovery;
	char key[DISCOVERY_KEY_MAX];
	bool names;

	if (d == NULL) {
		if ((d = calloc(1, sizeof(*d))) == NULL) {
			log_warnx("discovery: out of memory");
			return;
		}
		d->m = m;
		m->discovery = d;
	}
	names = discovery_mark(d, cfg);
	discovery_prune(d, false);
	if (names && !discovery_resolver(d, cfg))
		names = false;
	for (size_t b = 0; b < cfg->nbackends; b++) {
		const struct backend_conf *be = &cfg->backends[b];

		for (size_t i = 0; names && i < be->nresolves; i++) {
			discovery_dns_key(be, &be->resolves[i], key,
			    sizeof(key));
			if (discovery_find(d, key) == NULL)
				discovery_dns_start(d, be, &be->resolves[i],
				    key);
		}
		if (be->discovery != CONFIG_DISCOVERY_ZOOKEEPER)
			continue;
		discovery_zk_key(be, key, sizeof(key));
		if (discovery_find(d, key) == NULL)
			discovery_zk_start(d, be, key);
	}
}

void
discovery_atfork_child(const struct discovery *d)
{
	if (d == NULL)
		return;
	dns_resolver_atfork_child(d->resolver);
	for (const struct discovery_watch *w = d->head; w != NULL;
	    w = w->next)
		zk_watch_atfork_child(w->zk);
}

void
discovery_free(struct discovery *d)
{
	struct discovery_watch *w;

	if (d == NULL)
		return;
	while ((w = d->head) != NULL) {
		d->head = w->next;
		dns_watch_free(w->dns);
		zk_watch_free(w->zk);
		free(w->backend);
		free(w->key);
		free(w);
	}
	dns_resolver_free(d->resolver);
	free(d->resolvers);
	free(d);
}
