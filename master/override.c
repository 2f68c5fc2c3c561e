/*
 * Owns the admin API's overrides: found by server identity, written into
 * each config before it is published, forgotten with their server.
 */
#include "autoconf.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/log.h"
#include "master/override.h"
#include "shm/shm-types.h"

struct override *
override_find(const struct overrides *o, const char *backend, const char *id)
{
	for (size_t i = 0; i < o->n; i++)
		if (strcmp(o->v[i].backend, backend) == 0 &&
		    strcmp(o->v[i].server, id) == 0)
			return &o->v[i];
	return NULL;
}

struct override *
override_get(struct overrides *o, const char *backend, const char *id)
{
	struct override *ov, *v;

	if ((ov = override_find(o, backend, id)) != NULL)
		return ov;
	if ((v = reallocarray(o->v, o->n + 1, sizeof(*v))) == NULL)
		return NULL;
	o->v = v;
	ov = &o->v[o->n];
	ov->backend = strdup(backend);
	ov->server = strdup(id);
	if (ov->backend == NULL || ov->server == NULL) {
		free(ov->backend);
		free(ov->server);
		return NULL;
	}
	ov->admin = -1;
	ov->weight = -1;
	o->n++;
	return ov;
}

void
override_apply(const struct overrides *o, struct config *cfg)
{
	for (size_t b = 0; b < cfg->nbackends && o->n > 0; b++) {
		const struct backend_conf *be = &cfg->backends[b];

		for (size_t s = 0; s < be->nservers; s++) {
			struct server_conf *sc = &be->servers[s];
			const struct override *ov;

			if ((ov = override_find(o, be->name, sc->id)) == NULL)
				continue;
			if (ov->weight >= 0)
				sc->weight = (uint32_t)ov->weight;
			if (ov->admin >= 0) {
				sc->disabled = ov->admin == SHM_ADMIN_MAINT;
				sc->drain = ov->admin == SHM_ADMIN_DRAIN;
			}
		}
	}
}

/* Does cfg have server (backend, id)? */
static bool
override_in(const struct config *cfg, const char *backend, const char *id)
{
	for (size_t b = 0; b < cfg->nbackends; b++) {
		const struct backend_conf *be = &cfg->backends[b];

		if (strcmp(be->name, backend) != 0)
			continue;
		for (size_t s = 0; s < be->nservers; s++)
			if (strcmp(be->servers[s].id, id) == 0)
				return true;
	}
	return false;
}

void
override_prune(struct overrides *o, const struct config *cfg)
{
	size_t i = 0;

	while (i < o->n) {
		struct override *ov = &o->v[i];

		if (override_in(cfg, ov->backend, ov->server)) {
			i++;
			continue;
		}
		log_info("admin: server %s/%s is gone from the configuration; "
		    "its overrides are dropped", ov->backend, ov->server);
		free(ov->backend);
		free(ov->server);
		memmove(ov, ov + 1, (o->n - i - 1) * sizeof(*ov));
		o->n--;
	}
}

void
override_free(struct overrides *o)
{
	for (size_t i = 0; i < o->n; i++) {
		free(o->v[i].backend);
		free(o->v[i].server);
	}
	free(o->v);
	o->v = NULL;
	o->n = 0;
}
