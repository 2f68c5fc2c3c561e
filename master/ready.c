/*
 * Owns knowing when a generation serves, and telling the service manager.
 * Each worker writes its pid to a pipe the master holds once it accepts on
 * its sockets; when every worker of the newest generation has done so, the
 * master logs it and sends READY=1 (at start, and after each reload).
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/config.h"
#include "common/log.h"
#include "balancer/balancer.h"
#include "common/clock.h"
#include "master/master.h"
#include "master/notify.h"
#include "shm/shm.h"

/*
 * Servers of the current generation a pick may choose now: the balancer's
 * own verdict (health, admin state, ejection), as /metrics reports it.
 */
static void
ready_servers_up(const struct master *m, uint32_t *up, uint32_t *total)
{
	const struct generation *g = m->gens;
	const struct config *cfg = g->cfg;

	*up = *total = 0;
	for (size_t b = 0; b < cfg->nbackends; b++)
		for (size_t s = 0; s < cfg->backends[b].nservers; s++) {
			(*total)++;
			if (g->bals != NULL && g->bals[b] != NULL &&
			    bal_up(m->shm, g->bals[b], (uint32_t)s))
				(*up)++;
		}
}

/* One STATUS= line: what an operator sees in systemctl status. */
static void
ready_status(const struct master *m, char *buf, size_t len)
{
	const struct generation *g = m->gens;
	uint32_t up, total;

	ready_servers_up(m, &up, &total);
	snprintf(buf, len, "generation %u: %u workers, %u of %u servers up",
	    g->id, g->cfg->workers, up, total);
}

/* Every worker of the newest generation accepts: say so once. */
void
ready_generation(struct master *m)
{
	struct generation *g = m->gens;
	char status[160];

	if (g == NULL || g->serving || m->stopping)
		return;
	for (uint32_t i = 0; i < g->cfg->workers; i++)
		if (!g->workers[i].ready)
			return;
	g->serving = true;
	ready_status(m, status, sizeof(status));
	log_info("%s: serving", status);
	notify_send("READY=1\nSTATUS=%s", status);
}

static void
ready_pipe_cb(evutil_socket_t fd, short what, void *arg)
{
	struct master *m = arg;
	pid_t pids[64];
	ssize_t n;

	(void)what;
	while ((n = read(fd, pids, sizeof(pids))) > 0) {
		for (size_t i = 0; i < (size_t)n / sizeof(pids[0]); i++) {
			struct wproc *w = master_find(m, pids[i]);

			if (w != NULL)
				w->ready = true;
		}
	}
	ready_generation(m);
}

int
ready_init(struct master *m)
{
	if (pipe2(m->ready_pipe, O_CLOEXEC | O_NONBLOCK) == -1)
		return -1;
	m->ready_ev = event_new(m->base, m->ready_pipe[0],
	    EV_READ | EV_PERSIST, ready_pipe_cb, m);
	if (m->ready_ev == NULL || event_add(m->ready_ev, NULL) == -1)
		return -1;
	return 0;
}

void
ready_free(struct master *m)
{
	if (m->ready_ev != NULL)
		event_free(m->ready_ev);
	for (int i = 0; i < 2; i++)
		if (m->ready_pipe[i] != -1)
			close(m->ready_pipe[i]);
}

void
ready_reloading(struct master *m)
{
	(void)m;
	notify_send("RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading",
	    (unsigned long long)clock_us());
}

void
ready_reload_failed(struct master *m, const char *why)
{
	char status[160];

	ready_status(m, status, sizeof(status));
	notify_send("READY=1\nSTATUS=reload failed: %s; serving %s", why,
	    status);
}

void
ready_stopping(struct master *m)
{
	(void)m;
	notify_send("STOPPING=1\nSTATUS=stopping");
}
