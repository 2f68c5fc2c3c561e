/*
 * Renders the Prometheus text exposition (format 0.0.4) of weir's counters:
 * the current generation's frontends, backends and servers, summed from
 * the statistics areas of shared memory (shm/stats.h), and the master's
 * own counters. Runs in the master, the only process that sums.
 */
#include "autoconf.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "balancer/balancer.h"
#include "common/config.h"
#include "master/master.h"
#include "master/metrics.h"
#include "shm/shm.h"
#include "shm/stats.h"

/* The bucket bounds of shm_hist_bounds_us, in seconds as "le" values. */
static const char *const metrics_le[SHM_HIST_BOUNDS] = {
	"0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25",
	"0.5", "1", "2.5", "5", "10",
};

static const char *const metrics_class[SHM_STAT_CLASSES] = {
	"1xx", "2xx", "3xx", "4xx", "5xx",
};

static const char *const metrics_fail[SHM_FAIL_MAX] = {
	[SHM_FAIL_CONNECT] = "connect",
	[SHM_FAIL_RESET] = "reset",
	[SHM_FAIL_TIMEOUT] = "timeout",
	[SHM_FAIL_INVALID] = "invalid",
};

/* What one scrape read for a server of the current config. */
struct metrics_server {
	const char *backend;
	const char *server;		/* as configured */
	uint32_t inflight;
	bool up;
	struct shm_stat_server_sh sum;
};

/* Everything one scrape shows, read before anything is written. */
struct metrics_snap {
	const struct config *cfg;
	struct metrics_server *servers;	/* every server of every backend */
	size_t nservers;
	struct shm_stat_frontend_sh *frontends;	/* per frontend of cfg */
	struct shm_stat_pool_sh *pools;	/* per backend of cfg */
};

/* Append s as a label value: backslash, double quote and newline escaped. */
static void
metrics_escape(struct evbuffer *out, const char *s)
{
	size_t n;

	while (*s != '\0') {
		n = strcspn(s, "\\\"\n");
		evbuffer_add(out, s, n);
		s += n;
		if (*s == '\0')
			break;
		evbuffer_add(out, *s == '\\' ? "\\\\" : *s == '"' ? "\\\"" :
		    "\\n", 2);
		s++;
	}
}

/* The HELP and TYPE lines that open a family. */
static void
metrics_family(struct evbuffer *out, const char *name, const char *type,
    const char *help)
{
	evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help,
	    name, type);
}

/* Open a series: NAME{label="value" (and a second pair if k2 is set). */
static void
metrics_series(struct evbuffer *out, const char *name, const char *k1,
    const char *v1, const char *k2, const char *v2)
{
	evbuffer_add_printf(out, "%s{%s=\"", name, k1);
	metrics_escape(out, v1);
	if (k2 != NULL) {
		evbuffer_add_printf(out, "\",%s=\"", k2);
		metrics_escape(out, v2);
	}
	evbuffer_add(out, "\"", 1);
}

/* A server series: NAME{backend="..",server=".." and maybe one more pair. */
static void
metrics_server_series(struct evbuffer *out, const char *name,
    const struct metrics_server *s, const char *k, const char *v)
{
	metrics_series(out, name, "backend", s->backend, "server", s->server);
	if (k != NULL) {
		evbuffer_add_printf(out, ",%s=\"", k);
		metrics_escape(out, v);
		evbuffer_add(out, "\"", 1);
	}
}

/* Close a series with its value. */
static void
metrics_value(struct evbuffer *out, uint64_t v)
{
	evbuffer_add_printf(out, "} %" PRIu64 "\n", v);
}

static void
metrics_snap_free(struct metrics_snap *sn)
{
	free(sn->servers);
	free(sn->frontends);
	free(sn->pools);
}

/* The servers of be not from the file (admin API, discovery) into s. */
static size_t
metrics_members(struct master *m, const struct backend_conf *be,
    struct metrics_server *s, size_t room)
{
	size_t k = 0;

	for (const struct member *e = m->members.head; e != NULL && k < room;
	    e = e->next) {
		if (strcmp(e->backend, be->name) != 0)
			continue;
		s[k].backend = be->name;
		s[k].server = e->name;
		s[k].inflight = shm_inflight(m->shm, e->m.slot);
		s[k].up = bal_slot_up(m->shm, e->m.slot);
		shm_stats_server_sum(m->shm, e->m.slot, &s[k].sum);
		k++;
	}
	return k;
}

/*
 * Read every counter of the current generation. Usability is the
 * balancer's own verdict (health, admin state, ejection), so "up" means
 * exactly "a pick may choose it now".
 */
static int
metrics_snap(struct master *m, struct metrics_snap *sn)
{
	const struct generation *g = m->gens;
	const struct config *cfg = g->cfg;
	size_t n = 0, k = 0;

	for (size_t b = 0; b < cfg->nbackends; b++)
		n += cfg->backends[b].nservers;
	for (const struct member *e = m->members.head; e != NULL; e = e->next)
		n++;
	sn->cfg = cfg;
	sn->servers = calloc(n + 1, sizeof(*sn->servers));
	sn->frontends = calloc(cfg->nfrontends + 1, sizeof(*sn->frontends));
	sn->pools = calloc(cfg->nbackends + 1, sizeof(*sn->pools));
	if (sn->servers == NULL || sn->frontends == NULL || sn->pools == NULL)
		return -1;
	for (size_t b = 0; b < cfg->nbackends; b++) {
		const struct backend_conf *be = &cfg->backends[b];

		shm_stats_pool_sum(m->shm, be->pool_slot, &sn->pools[b]);
		for (size_t i = 0; i < be->nservers; i++, k++) {
			struct metrics_server *s = &sn->servers[k];

			s->backend = be->name;
			s->server = be->servers[i].name;
			s->inflight = shm_inflight(m->shm, be->servers[i].slot);
			s->up = g->bals != NULL && g->bals[b] != NULL &&
			    bal_up(m->shm, g->bals[b], (uint32_t)i);
			shm_stats_server_sum(m->shm, be->servers[i].slot,
			    &s->sum);
		}
		k += metrics_members(m, be, &sn->servers[k], n - k);
	}
	sn->nservers = k;
	for (size_t f = 0; f < cfg->nfrontends; f++)
		shm_stats_frontend_sum(m->shm, cfg->frontends[f].slot,
		    &sn->frontends[f]);
	return 0;
}

/* One family with a series per frontend, its value at word off of the sums. */
static void
metrics_frontend_family(struct evbuffer *out, const struct metrics_snap *sn,
    const char *name, const char *type, const char *help, size_t off)
{
	const struct config *cfg = sn->cfg;

	metrics_family(out, name, type, help);
	for (size_t f = 0; f < cfg->nfrontends; f++) {
		const char *sum = (const char *)&sn->frontends[f];

		metrics_series(out, name, "frontend", cfg->frontends[f].name,
		    NULL, NULL);
		metrics_value(out, *(const _Atomic uint64_t *)(const void *)
		    (sum + off));
	}
}

static void
metrics_frontends(struct evbuffer *out, const struct metrics_snap *sn)
{
	const struct config *cfg = sn->cfg;

	metrics_frontend_family(out, sn, "weir_frontend_connections_active",
	    "gauge", "Client connections open now.",
	    offsetof(struct shm_stat_frontend_sh, conns));
	metrics_frontend_family(out, sn, "weir_frontend_connections_total",
	    "counter", "Client connections accepted.",
	    offsetof(struct shm_stat_frontend_sh, accepted));
	metrics_frontend_family(out, sn, "weir_frontend_requests_total",
	    "counter", "Requests received, forwarded or answered by weir "
	    "itself.", offsetof(struct shm_stat_frontend_sh, requests));
	metrics_family(out, "weir_frontend_responses_total", "counter",
	    "Responses clients got, by status class, including those weir "
	    "made itself.");
	for (size_t f = 0; f < cfg->nfrontends; f++)
		for (int c = 0; c < SHM_STAT_CLASSES; c++) {
			metrics_series(out, "weir_frontend_responses_total",
			    "frontend", cfg->frontends[f].name, "code",
			    metrics_class[c]);
			metrics_value(out, sn->frontends[f].responses[c]);
		}
}

static void
metrics_server_counters(struct evbuffer *out, const struct metrics_snap *sn)
{
	metrics_family(out, "weir_server_requests_total", "counter",
	    "Attempts sent toward the server, retries included.");
	for (size_t i = 0; i < sn->nservers; i++) {
		metrics_server_series(out, "weir_server_requests_total",
		    &sn->servers[i], NULL, NULL);
		metrics_value(out, sn->servers[i].sum.requests);
	}
	metrics_family(out, "weir_server_responses_total", "counter",
	    "Final response heads received from the server, by status "
	    "class.");
	for (size_t i = 0; i < sn->nservers; i++)
		for (int c = 0; c < SHM_STAT_CLASSES; c++) {
			metrics_server_series(out, "weir_server_responses_total",
			    &sn->servers[i], "code", metrics_class[c]);
			metrics_value(out, sn->servers[i].sum.responses[c]);
		}
	metrics_family(out, "weir_server_failures_total", "counter",
	    "Failed attempts, by reason.");
	for (size_t i = 0; i < sn->nservers; i++)
		for (int r = 0; r < SHM_FAIL_MAX; r++) {
			metrics_server_series(out, "weir_server_failures_total",
			    &sn->servers[i], "reason", metrics_fail[r]);
			metrics_value(out, sn->servers[i].sum.failures[r]);
		}
}

static void
metrics_server_gauges(struct evbuffer *out, const struct metrics_snap *sn)
{
	metrics_family(out, "weir_server_inflight", "gauge",
	    "Requests in flight to the server from every worker.");
	for (size_t i = 0; i < sn->nservers; i++) {
		metrics_server_series(out, "weir_server_inflight",
		    &sn->servers[i], NULL, NULL);
		metrics_value(out, sn->servers[i].inflight);
	}
	metrics_family(out, "weir_server_up", "gauge",
	    "1 if a pick may choose the server now (health up, admin "
	    "active, not ejected).");
	for (size_t i = 0; i < sn->nservers; i++) {
		metrics_server_series(out, "weir_server_up", &sn->servers[i],
		    NULL, NULL);
		metrics_value(out, sn->servers[i].up ? 1 : 0);
	}
}

/* The buckets of one server, cumulated as Prometheus wants them. */
static void
metrics_histogram(struct evbuffer *out, const struct metrics_server *s)
{
	const char *name = "weir_server_response_seconds_bucket";
	uint64_t cum = 0, sum_us = s->sum.hist_sum_us;

	for (int i = 0; i < SHM_HIST_BUCKETS; i++) {
		cum += s->sum.hist[i];
		metrics_server_series(out, name, s, "le",
		    i < SHM_HIST_BOUNDS ? metrics_le[i] : "+Inf");
		metrics_value(out, cum);
	}
	metrics_server_series(out, "weir_server_response_seconds_sum", s,
	    NULL, NULL);
	evbuffer_add_printf(out, "} %" PRIu64 ".%06" PRIu64 "\n",
	    sum_us / 1000000, sum_us % 1000000);
	metrics_server_series(out, "weir_server_response_seconds_count", s,
	    NULL, NULL);
	metrics_value(out, cum);
}

static void
metrics_servers(struct evbuffer *out, const struct metrics_snap *sn)
{
	metrics_server_counters(out, sn);
	metrics_server_gauges(out, sn);
	metrics_family(out, "weir_server_response_seconds", "histogram",
	    "From the request's last byte sent to the response head "
	    "received.");
	for (size_t i = 0; i < sn->nservers; i++)
		metrics_histogram(out, &sn->servers[i]);
}

static void
metrics_backends(struct evbuffer *out, const struct metrics_snap *sn)
{
	const struct config *cfg = sn->cfg;

	metrics_family(out, "weir_backend_retries_total", "counter",
	    "Requests sent again to another server after a failed attempt.");
	for (size_t b = 0; b < cfg->nbackends; b++) {
		metrics_series(out, "weir_backend_retries_total", "backend",
		    cfg->backends[b].name, NULL, NULL);
		metrics_value(out, sn->pools[b].retries);
	}
	metrics_family(out, "weir_backend_queued", "gauge",
	    "Requests waiting for a server slot (max_conns), all workers.");
	for (size_t b = 0; b < cfg->nbackends; b++) {
		metrics_series(out, "weir_backend_queued", "backend",
		    cfg->backends[b].name, NULL, NULL);
		metrics_value(out, sn->pools[b].queued);
	}
}

/* Counters the master keeps in its own memory. */
static void
metrics_master(struct evbuffer *out, const struct master *m)
{
	metrics_family(out, "weir_reloads_total", "counter",
	    "Configuration reloads (SIGHUP), by result.");
	metrics_series(out, "weir_reloads_total", "result", "ok", NULL, NULL);
	metrics_value(out, m->reloads.ok);
	metrics_series(out, "weir_reloads_total", "result", "failed", NULL,
	    NULL);
	metrics_value(out, m->reloads.failed);
	metrics_family(out, "weir_worker_restarts_total", "counter",
	    "Workers respawned after they died.");
	evbuffer_add_printf(out, "weir_worker_restarts_total %" PRIu64 "\n",
	    m->worker_restarts);
}

void
metrics_render(struct master *m, struct evbuffer *out)
{
	struct metrics_snap sn = { 0 };

	metrics_family(out, "weir_build_info", "gauge",
	    "Always 1; the version label says which weir runs.");
	metrics_series(out, "weir_build_info", "version", PACKAGE_VERSION,
	    NULL, NULL);
	metrics_value(out, 1);
	if (m->gens != NULL && metrics_snap(m, &sn) == 0) {
		metrics_frontends(out, &sn);
		metrics_servers(out, &sn);
		metrics_backends(out, &sn);
	}
	metrics_snap_free(&sn);
	metrics_master(out, m);
}
