/*
 * The master process: forks the workers, reaps and respawns them, and stops
 * them on request. It never touches request traffic.
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "balancer/balancer.h"
#include "common/config.h"
#include "common/log.h"
#include "master/listen.h"
#include "master/master.h"
#include "shm/shm.h"
#include "worker/worker.h"

#define MASTER_STOP_GRACE_SEC	10	/* then SIGKILL what is left */
#define MASTER_CRASH_WINDOW_MS	1000	/* dying sooner than this is a crash loop */
#define MASTER_BACKOFF_MAX_MS	5000

struct master;

struct worker_slot {
	struct master *m;
	uint32_t idx;
	pid_t pid;			/* 0 when not running */
	uint64_t started_ms;
	uint32_t quick_deaths;		/* consecutive deaths within the crash window */
	uint32_t wslot;			/* its shm worker slot while it runs */
	struct event *respawn_ev;
};

struct master {
	struct config *cfg;
	struct shm *shm;
	struct bal_pool **bals;		/* per backend of cfg */
	struct listeners ls;
	struct event_base *base;
	int sigfd;
	int pidfd;			/* locked pidfile, -1 when none */
	struct event *sig_ev;
	struct event *kill_ev;
	struct worker_slot *slots;
	bool stopping;
};

static uint64_t
master_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void master_schedule_respawn(struct worker_slot *slot);

/* Fork worker idx on the master's sockets; the child never returns. */
static int
master_spawn(struct master *m, uint32_t idx)
{
	struct worker_params wp = {
		.cfg = m->cfg, .shm = m->shm, .bals = m->bals,
		.listeners = &m->ls, .index = idx, .master_pid = getpid(),
	};
	int wslot = shm_worker_claim(m->shm, 0);
	pid_t pid;

	if (wslot < 0) {
		log_warnx("no free worker slot in shared memory for worker %u", idx);
		return -1;
	}
	wp.wslot = (uint32_t)wslot;
	if ((pid = fork()) == -1) {
		log_warn("fork worker %u", idx);
		shm_worker_reclaim(m->shm, (uint32_t)wslot);
		return -1;
	}
	if (pid == 0) {
		close(m->sigfd);
		if (m->pidfd != -1)
			close(m->pidfd);
		worker_main(&wp);
	}
	shm_worker_set_pid(m->shm, (uint32_t)wslot, pid);
	m->slots[idx].wslot = (uint32_t)wslot;
	m->slots[idx].pid = pid;
	m->slots[idx].started_ms = master_now_ms();
	log_debug("worker %u started as pid %d", idx, (int)pid);
	return 0;
}

static void
master_respawn_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker_slot *slot = arg;

	(void)fd;
	(void)what;
	if (slot->m->stopping || slot->pid != 0)
		return;
	log_info("respawning worker %u", slot->idx);
	if (master_spawn(slot->m, slot->idx) == -1)
		master_schedule_respawn(slot);
}

/*
 * Respawn at once after a worker that ran for a while died; back off
 * exponentially while it keeps dying within the crash window.
 */
static void
master_schedule_respawn(struct worker_slot *slot)
{
	uint64_t delay_ms = 0;
	struct timeval tv;

	if (master_now_ms() - slot->started_ms < MASTER_CRASH_WINDOW_MS)
		slot->quick_deaths++;
	else
		slot->quick_deaths = 0;
	if (slot->quick_deaths > 0) {
		delay_ms = 100ull << (slot->quick_deaths < 7 ? slot->quick_deaths : 7);
		if (delay_ms > MASTER_BACKOFF_MAX_MS)
			delay_ms = MASTER_BACKOFF_MAX_MS;
		log_warnx("worker %u is crash-looping; respawn in %llu ms",
		    slot->idx, (unsigned long long)delay_ms);
	}
	tv.tv_sec = (time_t)(delay_ms / 1000);
	tv.tv_usec = (suseconds_t)(delay_ms % 1000) * 1000;
	evtimer_add(slot->respawn_ev, &tv);
}

/* Which slot held pid, or -1. */
static int
master_slot_of(const struct master *m, pid_t pid)
{
	for (uint32_t i = 0; i < m->cfg->workers; i++)
		if (m->slots[i].pid == pid)
			return (int)i;
	return -1;
}

static void
master_log_exit(uint32_t idx, pid_t pid, int status, bool expected)
{
	if (WIFSIGNALED(status))
		log_warnx("worker %u (pid %d) killed by signal %d", idx,
		    (int)pid, WTERMSIG(status));
	else if (!expected || WEXITSTATUS(status) != 0)
		log_warnx("worker %u (pid %d) exited with status %d", idx,
		    (int)pid, WEXITSTATUS(status));
	else
		log_debug("worker %u (pid %d) exited", idx, (int)pid);
}

static bool
master_all_exited(const struct master *m)
{
	for (uint32_t i = 0; i < m->cfg->workers; i++)
		if (m->slots[i].pid != 0)
			return false;
	return true;
}

/*
 * A worker is gone: give back the in-flight counts it still held, so the
 * shared counters are exact again before the next pick (the master reaps on
 * SIGCHLD, well within a second of the death).
 */
static void
master_reclaim(struct master *m, struct worker_slot *slot)
{
	uint32_t held = shm_worker_reclaim(m->shm, slot->wslot);

	if (held > 0)
		log_warnx("worker %u died with %u requests in flight; shared "
		    "counters corrected", slot->idx, held);
}

/* Collect every dead child; respawn workers unless we are stopping. */
static void
master_reap(struct master *m)
{
	pid_t pid;
	int status, idx;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if ((idx = master_slot_of(m, pid)) == -1)
			continue;
		master_log_exit((uint32_t)idx, pid, status, m->stopping);
		master_reclaim(m, &m->slots[idx]);
		m->slots[idx].pid = 0;
		if (!m->stopping)
			master_schedule_respawn(&m->slots[idx]);
	}
	if (m->stopping && master_all_exited(m))
		event_base_loopbreak(m->base);
}

static void
master_signal_workers(struct master *m, int sig)
{
	for (uint32_t i = 0; i < m->cfg->workers; i++)
		if (m->slots[i].pid != 0)
			kill(m->slots[i].pid, sig);
}

static void
master_kill_cb(evutil_socket_t fd, short what, void *arg)
{
	struct master *m = arg;

	(void)fd;
	(void)what;
	log_warnx("workers did not stop within %d s; killing them",
	    MASTER_STOP_GRACE_SEC);
	master_signal_workers(m, SIGKILL);
}

/* Begin stopping: tell every worker, and kill what outlives the grace period. */
static void
master_stop(struct master *m, int sig)
{
	struct timeval grace = { MASTER_STOP_GRACE_SEC, 0 };

	if (m->stopping)
		return;
	log_info("received %s; stopping", strsignal(sig));
	m->stopping = true;
	master_signal_workers(m, sig == SIGQUIT ? SIGQUIT : SIGTERM);
	evtimer_add(m->kill_ev, &grace);
	if (master_all_exited(m))
		event_base_loopbreak(m->base);
}

static void
master_signal_cb(evutil_socket_t fd, short what, void *arg)
{
	struct master *m = arg;
	struct signalfd_siginfo si;

	(void)what;
	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGCHLD:
			master_reap(m);
			break;
		case SIGTERM:
		case SIGINT:
		case SIGQUIT:
			master_stop(m, (int)si.ssi_signo);
			break;
		case SIGHUP:
			log_warnx("SIGHUP: configuration reload is not "
			    "implemented yet; still serving");
			break;
		default:
			break;
		}
	}
}

/* Block the signals we handle and read them from a signalfd in the loop. */
static int
master_signals_init(struct master *m)
{
	sigset_t set;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGQUIT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	if (sigprocmask(SIG_BLOCK, &set, NULL) == -1)
		return -1;
	m->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (m->sigfd == -1)
		return -1;
	m->sig_ev = event_new(m->base, m->sigfd, EV_READ | EV_PERSIST,
	    master_signal_cb, m);
	m->kill_ev = evtimer_new(m->base, master_kill_cb, m);
	if (m->sig_ev == NULL || m->kill_ev == NULL ||
	    event_add(m->sig_ev, NULL) == -1)
		return -1;
	return 0;
}

/*
 * Create the pidfile and hold an exclusive lock on it for our lifetime: a
 * second weir with the same pidfile refuses to start instead of sharing
 * the listening ports (SO_REUSEPORT would let it) and stealing the file.
 */
static int
master_pidfile_open(struct master *m, const char *path)
{
	char line[32];
	int fd, n;

	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd == -1) {
		log_warn("pidfile %s", path);
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		log_warnx("pidfile %s is locked: another weir is running", path);
		close(fd);
		return -1;
	}
	n = snprintf(line, sizeof(line), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) == -1 || write(fd, line, (size_t)n) != n) {
		log_warn("pidfile %s: write", path);
		close(fd);
		return -1;
	}
	m->pidfd = fd;
	return 0;
}

/* Let each worker hold max_connections clients plus their backend sockets. */
static void
master_raise_nofile(const struct config *cfg)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)cfg->max_connections * 2 + 256;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return;
	if (rl.rlim_cur < want && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur < want)
		log_warnx("open file limit %llu is below what max_connections = "
		    "%u needs (%llu): accept will pause when it runs out",
		    (unsigned long long)rl.rlim_cur, cfg->max_connections,
		    (unsigned long long)want);
}

static int
master_slots_init(struct master *m)
{
	m->slots = calloc(m->cfg->workers, sizeof(*m->slots));
	if (m->slots == NULL)
		return -1;
	for (uint32_t i = 0; i < m->cfg->workers; i++) {
		m->slots[i].m = m;
		m->slots[i].idx = i;
		m->slots[i].respawn_ev = evtimer_new(m->base, master_respawn_cb,
		    &m->slots[i]);
		if (m->slots[i].respawn_ev == NULL)
			return -1;
	}
	return 0;
}

static void
master_free(struct master *m)
{
	if (m->slots != NULL)
		for (uint32_t i = 0; i < m->cfg->workers; i++)
			if (m->slots[i].respawn_ev != NULL)
				event_free(m->slots[i].respawn_ev);
	free(m->slots);
	if (m->sig_ev != NULL)
		event_free(m->sig_ev);
	if (m->kill_ev != NULL)
		event_free(m->kill_ev);
	if (m->base != NULL)
		event_base_free(m->base);
	if (m->sigfd != -1)
		close(m->sigfd);
	listen_close_all(&m->ls);
	for (size_t i = 0; m->bals != NULL && i < m->cfg->nbackends; i++)
		balancer_free(m->bals[i]);
	free(m->bals);
	shm_free(m->shm);
	/* Remove only a pidfile we created and locked. */
	if (m->pidfd != -1) {
		unlink(m->cfg->pidfile);
		close(m->pidfd);
	}
	config_free(m->cfg);
}

/* Map the config onto shm slots and build each backend's balancer state. */
static int
master_balancers_init(struct master *m)
{
	char err[256];

	if (shm_publish(m->shm, m->cfg, err, sizeof(err)) == -1) {
		log_error("%s", err);
		return -1;
	}
	m->bals = calloc(m->cfg->nbackends + 1, sizeof(*m->bals));
	if (m->bals == NULL)
		return -1;
	for (size_t i = 0; i < m->cfg->nbackends; i++)
		if ((m->bals[i] = balancer_build(m->shm,
		    &m->cfg->backends[i])) == NULL)
			return -1;
	return 0;
}

/* Set up everything the workers inherit, in order; 0 or -1 with a log line. */
static int
master_setup(struct master *m)
{
	log_route_libevent();
	if ((m->base = event_base_new()) == NULL)
		return -1;
	if (master_signals_init(m) == -1) {
		log_warn("signals");
		return -1;
	}
	if (m->cfg->pidfile != NULL &&
	    master_pidfile_open(m, m->cfg->pidfile) == -1)
		return -1;
	master_raise_nofile(m->cfg);
	if ((m->shm = shm_new(m->cfg)) == NULL)
		return -1;
	if (master_balancers_init(m) == -1)
		return -1;
	if (listen_open_all(m->cfg, &m->ls) == -1)
		return -1;
	return master_slots_init(m);
}

int
master_run(struct config *cfg)
{
	struct master m = { .cfg = cfg, .sigfd = -1, .pidfd = -1 };
	int rc = 0;

	log_set_proc("master");
	log_set_level(cfg->log_level);
	if (master_setup(&m) == -1) {
		log_error("startup failed");
		master_free(&m);
		return 1;
	}
	for (uint32_t i = 0; i < cfg->workers; i++)
		if (master_spawn(&m, i) == -1) {
			master_stop(&m, SIGTERM);
			rc = 1;
			break;
		}
	if (rc == 0)
		log_info("weir %s ready: %u workers, %zu frontends",
		    PACKAGE_VERSION, cfg->workers, cfg->nfrontends);
	if (!(m.stopping && master_all_exited(&m)))
		event_base_dispatch(m.base);
	log_info("stopped");
	master_free(&m);
	return rc;
}
