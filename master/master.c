/*
 * The master process: forks the workers, reaps and respawns them, reloads
 * on SIGHUP (reload.c) and stops them on request. It never touches request
 * traffic.
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/config.h"
#include "common/clock.h"
#include "common/log.h"
#include "master/admin.h"
#include "master/health.h"
#include "common/privs.h"
#include "master/master.h"
#include "master/notify.h"
#include "shm/shm.h"
#include "tls/tickets.h"
#include "worker/worker.h"

#define MASTER_STOP_GRACE_MS	10000	/* fast stop: then SIGKILL what is left */
#define MASTER_CRASH_WINDOW_MS	1000	/* dying sooner than this is a crash loop */
#define MASTER_BACKOFF_MAX_MS	5000

static void master_tickets_cb(evutil_socket_t, short, void *);

int
master_spawn(struct master *m, struct wproc *w)
{
	struct generation *g = w->gen;
	struct worker_params wp = {
		.cfg = g->cfg, .shm = m->shm, .bals = g->bals, .tls = g->tls,
		.listeners = &g->ls, .all = &m->lp, .index = w->idx,
		.limits = g->limits,
		.generation = g->id, .master_pid = getpid(),
		.ready_fd = m->ready_pipe[1],
	};
	int wslot = shm_worker_claim(m->shm, g->id);
	pid_t pid;

	if (wslot < 0) {
		log_warnx("no free worker slot in shared memory for worker %u",
		    w->idx);
		return -1;
	}
	wp.wslot = (uint32_t)wslot;
	if ((pid = fork()) == -1) {
		log_warn("fork worker %u", w->idx);
		shm_worker_reclaim(m->shm, (uint32_t)wslot);
		return -1;
	}
	if (pid == 0) {
		close(m->sigfd);
		close(m->ready_pipe[0]);
		notify_close();		/* only the master speaks to systemd */
		if (m->pidfd != -1)
			close(m->pidfd);
		/* Before the drop: /proc/self/fd is read to find them. */
		admin_atfork_child(m->admin);
		if (privs_drop_worker() == -1)
			fatal("worker %u: dropping capabilities", w->idx);
		/* A check's socket kept open by a worker would outlive the check. */
		health_atfork_child(m->health);
		/* Resolver and ZooKeeper sockets: the master's alone. */
		discovery_atfork_child(m->discovery);
		worker_main(&wp);
	}
	shm_worker_set_pid(m->shm, (uint32_t)wslot, pid);
	w->wslot = (uint32_t)wslot;
	w->pid = pid;
	w->started_ms = clock_ms();
	g->nalive++;
	log_debug("worker %u of generation %u started as pid %d", w->idx, g->id,
	    (int)pid);
	return 0;
}

static void master_schedule_respawn(struct wproc *w);

void
master_respawn_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wproc *w = arg;

	(void)fd;
	(void)what;
	if (w->m->stopping || w->gen->retired || w->pid != 0)
		return;
	log_info("respawning worker %u", w->idx);
	if (master_spawn(w->m, w) == -1) {
		/* Counts as dying at once: back off instead of spinning. */
		w->started_ms = clock_ms();
		master_schedule_respawn(w);
	} else
		w->m->worker_restarts++;
}

/*
 * Respawn at once after a worker that ran for a while died; back off
 * exponentially while it keeps dying within the crash window.
 */
static void
master_schedule_respawn(struct wproc *w)
{
	uint64_t delay_ms = 0;
	struct timeval tv;

	if (clock_ms() - w->started_ms < MASTER_CRASH_WINDOW_MS)
		w->quick_deaths++;
	else
		w->quick_deaths = 0;
	if (w->quick_deaths > 0) {
		delay_ms = 100ull << (w->quick_deaths < 7 ? w->quick_deaths : 7);
		if (delay_ms > MASTER_BACKOFF_MAX_MS)
			delay_ms = MASTER_BACKOFF_MAX_MS;
		log_warnx("worker %u is crash-looping; respawn in %llu ms",
		    w->idx, (unsigned long long)delay_ms);
	}
	tv.tv_sec = (time_t)(delay_ms / 1000);
	tv.tv_usec = (suseconds_t)(delay_ms % 1000) * 1000;
	evtimer_add(w->respawn_ev, &tv);
}

struct wproc *
master_find(const struct master *m, pid_t pid)
{
	for (struct generation *g = m->gens; g != NULL; g = g->next)
		for (uint32_t i = 0; i < g->cfg->workers; i++)
			if (g->workers[i].pid == pid)
				return &g->workers[i];
	return NULL;
}

static bool
master_all_exited(const struct master *m)
{
	for (struct generation *g = m->gens; g != NULL; g = g->next)
		if (g->nalive > 0)
			return false;
	return true;
}

static void
master_log_exit(const struct wproc *w, int status, bool expected)
{
	if (WIFSIGNALED(status))
		log_warnx("worker %u (pid %d) killed by signal %d", w->idx,
		    (int)w->pid, WTERMSIG(status));
	else if (!expected || WEXITSTATUS(status) != 0)
		log_warnx("worker %u (pid %d) exited with status %d", w->idx,
		    (int)w->pid, WEXITSTATUS(status));
	else
		log_debug("worker %u (pid %d) exited", w->idx, (int)w->pid);
}

/*
 * A worker is gone: give back the in-flight counts it still held, so the
 * shared counters are exact again before the next pick (the master reaps on
 * SIGCHLD, well within a second of the death).
 */
static void
master_reclaim(struct master *m, struct wproc *w)
{
	uint32_t held = shm_worker_reclaim(m->shm, w->wslot);

	if (held > 0)
		log_warnx("worker %u died with %u requests in flight; shared "
		    "counters corrected", w->idx, held);
}

/* Collect every dead child; respawn current workers unless stopping. */
static void
master_reap(struct master *m)
{
	struct wproc *w;
	pid_t pid;
	int status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if ((w = master_find(m, pid)) == NULL)
			continue;
		master_log_exit(w, status, m->stopping || w->gen->retired);
		master_reclaim(m, w);
		w->pid = 0;
		w->ready = false;
		w->gen->nalive--;
		if (!m->stopping && !w->gen->retired)
			master_schedule_respawn(w);
		else
			reload_worker_gone(m, w->gen);
	}
	if (m->stopping && master_all_exited(m))
		event_base_loopbreak(m->base);
}

void
master_signal_workers(struct master *m, int sig)
{
	for (struct generation *g = m->gens; g != NULL; g = g->next)
		for (uint32_t i = 0; i < g->cfg->workers; i++)
			if (g->workers[i].pid != 0)
				kill(g->workers[i].pid, sig);
}

static void
master_kill_cb(evutil_socket_t fd, short what, void *arg)
{
	struct master *m = arg;

	(void)fd;
	(void)what;
	log_warnx("workers did not stop in time; killing them");
	master_signal_workers(m, SIGKILL);
}

/*
 * Stop: SIGTERM/SIGINT at once (workers drop what they have), SIGQUIT
 * gracefully (workers finish their requests first). Either way SIGKILL
 * whatever outlives the grace period.
 */
static void
master_stop(struct master *m, int sig)
{
	uint32_t grace_ms = MASTER_STOP_GRACE_MS;
	struct timeval tv;

	if (m->stopping && sig != SIGTERM && sig != SIGINT)
		return;
	log_info("received %s; %s", strsignal(sig), sig == SIGQUIT ?
	    "draining, then stopping" : "stopping");
	if (!m->stopping)
		ready_stopping(m);
	m->stopping = true;
	health_free(m->health);
	m->health = NULL;
	/* The longest drain any generation still running may take. */
	for (struct generation *g = m->gens; sig == SIGQUIT && g != NULL;
	    g = g->next)
		if (grace_ms < MASTER_STOP_GRACE_MS + g->cfg->drain_timeout_ms)
			grace_ms = MASTER_STOP_GRACE_MS + g->cfg->drain_timeout_ms;
	master_signal_workers(m, sig == SIGQUIT ? SIGQUIT : SIGTERM);
	tv.tv_sec = grace_ms / 1000;
	tv.tv_usec = (grace_ms % 1000) * 1000;
	evtimer_add(m->kill_ev, &tv);
	if (master_all_exited(m))
		event_base_loopbreak(m->base);
}

/* SIGUSR1: reopen our log file and have every worker do the same. */
static void
master_reopen_logs(struct master *m)
{
	const char *path = m->gens->cfg->log_file;

	if (path != NULL && log_reopen(path) == -1)
		log_warn("reopen log file %s", path);
	master_signal_workers(m, SIGUSR1);
	log_info("log file reopened");
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
			if (!m->stopping)
				reload_run(m);
			break;
		case SIGUSR1:
			master_reopen_logs(m);
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
 * The pidfile's directory must be one that nobody but us (or root) can
 * write to: in a directory others can write, a file or link put there in
 * advance would make weir write its pid, or truncate, somewhere else.
 * A sticky directory (/tmp) is accepted, as only the owner may replace an
 * entry there.
 */
static int
master_pidfile_dir_ok(const char *path)
{
	char copy[4096];
	struct stat st;
	const char *dir;

	snprintf(copy, sizeof(copy), "%s", path);
	dir = dirname(copy);
	if (stat(dir, &st) == -1) {
		log_warn("pidfile %s: directory %s", path, dir);
		return -1;
	}
	if ((st.st_uid != geteuid() && st.st_uid != 0) ||
	    ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX))) {
		log_warnx("pidfile %s: directory %s is writable by another "
		    "user; put the pidfile in a directory weir owns", path, dir);
		return -1;
	}
	return 0;
}

/*
 * Create the pidfile and hold an exclusive lock on it for our lifetime: a
 * second weir with the same pidfile refuses to start instead of sharing
 * the listening ports (SO_REUSEPORT would let it) and stealing the file.
 * O_NOFOLLOW: a symbolic link in its place is refused, never followed.
 */
static int
master_pidfile_open(struct master *m, const char *path)
{
	struct stat st;
	char line[32];
	int fd, n;

	if (master_pidfile_dir_ok(path) == -1)
		return -1;
	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd == -1) {
		if (errno == ELOOP)
			log_warnx("pidfile %s is a symbolic link: refusing to "
			    "follow it", path);
		else
			log_warn("pidfile %s", path);
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_uid != geteuid()) {
		log_warnx("pidfile %s is not a regular file of ours: refusing "
		    "it", path);
		close(fd);
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		log_warnx("pidfile %s is locked: another weir is running", path);
		close(fd);
		return -1;
	}
	n = snprintf(line, sizeof(line), "%d\n", (int)getpid());
	/* 0644 whatever the umask: tools read it without privileges. */
	if (fchmod(fd, 0644) == -1 || ftruncate(fd, 0) == -1 ||
	    write(fd, line, (size_t)n) != n) {
		log_warn("pidfile %s: write", path);
		close(fd);
		return -1;
	}
	m->pidfd = fd;
	if ((m->pidfile = strdup(path)) == NULL)
		return -1;
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
	/* Below one descriptor per client it is worth a warning. */
	if (rl.rlim_cur < (rlim_t)cfg->max_connections + 256)
		log_warnx("open file limit %llu is below what max_connections = "
		    "%u needs (%llu): accept will pause when it runs out",
		    (unsigned long long)rl.rlim_cur, cfg->max_connections,
		    (unsigned long long)want);
}

static void
master_free(struct master *m)
{
	struct generation *g;

	discovery_free(m->discovery);
	health_free(m->health);
	admin_free(m->admin);
	override_free(&m->overrides);
	members_free(&m->members);
	while ((g = m->gens) != NULL) {
		m->gens = g->next;
		reload_gen_free(m, g);
	}
	if (m->sig_ev != NULL)
		event_free(m->sig_ev);
	if (m->kill_ev != NULL)
		event_free(m->kill_ev);
	if (m->tickets_ev != NULL)
		event_free(m->tickets_ev);
	if (m->base != NULL)
		event_base_free(m->base);
	if (m->sigfd != -1)
		close(m->sigfd);
	ready_free(m);
	listen_free(&m->lp);
	shm_free(m->shm);
	/* Remove only a pidfile we created and locked. */
	if (m->pidfd != -1) {
		unlink(m->pidfile);
		close(m->pidfd);
	}
	free(m->pidfile);
}

/*
 * Workers open their access logs as cfg's user: as root, create each file
 * and hand it over, as for log_file. A symbolic link is not followed here
 * (the workers, without privileges, may).
 */
static void
master_access_logs_own(const struct config *cfg)
{
	const struct frontend_conf *fe;
	int fd;

	for (size_t i = 0; i < cfg->nfrontends; i++) {
		fe = &cfg->frontends[i];
		if (fe->access_log != CONFIG_ACCESS_LOG_FILE)
			continue;
		fd = open(fe->access_log_path, O_WRONLY | O_APPEND | O_CREAT |
		    O_NOFOLLOW | O_CLOEXEC, 0640);
		if (fd == -1 || fchown(fd, cfg->uid, cfg->gid) == -1)
			log_warn("access_log %s: hand over to %s",
			    fe->access_log_path, cfg->user);
		if (fd != -1)
			close(fd);
	}
}

/*
 * Root's work is done (sockets, shared memory, pidfile, log file): run as
 * the configured user from here on, which must still be able to read the
 * config for reloads. Returns the exit code for a failure, or 0.
 */
static int
master_drop(struct master *m, const struct config *cfg)
{
	char err[512];

	/* The log file must stay writable for SIGUSR1's reopen. */
	if (geteuid() == 0 && cfg->user != NULL && cfg->log_file != NULL &&
	    chown(cfg->log_file, cfg->uid, cfg->gid) == -1)
		log_warn("log_file %s: chown to %s", cfg->log_file, cfg->user);
	if (geteuid() == 0 && cfg->user != NULL)
		master_access_logs_own(cfg);
	if (privs_drop_master(cfg, err, sizeof(err)) == -1) {
		if (config_line(cfg, "user") > 0)
			log_error("%s:%d: %s", cfg->path,
			    config_line(cfg, "user"), err);
		else
			log_error("%s: %s", cfg->path, err);
		return 2;
	}
	if (access(m->path, R_OK) == -1) {
		log_error("%s: not readable by user %s (%s): reloads would "
		    "fail", m->path, cfg->user != NULL ? cfg->user : "weir",
		    strerror(errno));
		return 2;
	}
	if (admin_check_drop(cfg, err, sizeof(err)) == -1) {
		log_error("%s", err);
		return 2;
	}
	return 0;
}

/*
 * Set up what every generation shares, then the first generation. Returns
 * 0, or the exit code: 2 when the config cannot work, else 1.
 */
static int
master_setup(struct master *m, struct config *cfg)
{
	char err[512];

	log_route_libevent();
	if (notify_open() == -1 || (m->base = event_base_new()) == NULL)
		goto fail;
	if (master_signals_init(m) == -1) {
		log_warn("signals");
		goto fail;
	}
	if (ready_init(m) == -1) {
		log_warn("ready pipe");
		goto fail;
	}
	if (cfg->pidfile != NULL && master_pidfile_open(m, cfg->pidfile) == -1)
		goto fail;
	master_raise_nofile(cfg);
	if ((m->shm = shm_new(cfg)) == NULL ||
	    (m->admin = admin_new(m)) == NULL)
		goto fail;
	members_attach(m);
	/* Ticket keys before the first fork: every worker shares them. */
	if (tls_tickets_init() == -1 || (m->tickets_ev = evtimer_new(m->base,
	    master_tickets_cb, m)) == NULL)
		goto fail;
	/* Root may still be needed here: a port below 1024, /run. */
	if (admin_prepare(m->admin, cfg, err, sizeof(err)) == -1) {
		log_error("%s", err);
		config_free(cfg);
		return 2;
	}
	if ((m->gens = reload_gen_new(m, cfg, err, sizeof(err))) == NULL) {
		log_error("%s", err);
		admin_abort(m->admin);
		return 1;
	}
	admin_commit(m->admin);
	master_tickets_arm(m);
	m->health = health_new(m->base, m->shm, cfg, m->gens->tls, NULL);
	discovery_sync(m);
	return master_drop(m, m->gens->cfg);
fail:
	config_free(cfg);
	return 1;
}

/* The encrypting ticket key has served tls_ticket_rotate: make a new one. */
static void
master_tickets_cb(evutil_socket_t fd, short what, void *arg)
{
	struct master *m = arg;

	(void)fd;
	(void)what;
	if (tls_tickets_rotate() == 0)
		log_info("session ticket keys rotated");
	master_tickets_arm(m);
}

void
master_tickets_arm(struct master *m)
{
	uint64_t due = tls_tickets_rotated_ms() +
	    m->gens->cfg->tls_ticket_rotate_ms, now = clock_ms();
	uint64_t wait = due > now ? due - now : 0;
	struct timeval tv = { (time_t)(wait / 1000),
	    (suseconds_t)(wait % 1000) * 1000 };

	evtimer_add(m->tickets_ev, &tv);
}

int
master_run(const char *path, struct config *cfg)
{
	struct master m = {
		.path = path, .sigfd = -1, .pidfd = -1, .ready_pipe = { -1, -1 },
	};
	int rc;

	log_set_proc("master");
	log_set_level(cfg->log_level);
	m.started_ms = clock_ms();
	if ((rc = master_setup(&m, cfg)) != 0) {
		log_error("startup failed");
		master_free(&m);
		return rc;
	}
	for (uint32_t i = 0; i < m.gens->cfg->workers; i++)
		if (master_spawn(&m, &m.gens->workers[i]) == -1) {
			master_stop(&m, SIGTERM);
			rc = 1;
			break;
		}
	if (rc == 0)
		log_info("weir %s started: %u workers, %zu frontends",
		    PACKAGE_VERSION, m.gens->cfg->workers, m.gens->cfg->nfrontends);
	if (!(m.stopping && master_all_exited(&m)))
		event_base_dispatch(m.base);
	log_info("stopped");
	master_free(&m);
	return rc;
}
