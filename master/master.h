/*
 * The master process: owns the config generations, shared memory, the
 * listening sockets and the worker processes. Private to master/.
 */
#ifndef WEIR_MASTER_H
#define WEIR_MASTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "limit/registry.h"
#include "master/listen.h"
#include "master/members.h"
#include "master/override.h"

struct admin;
struct config;
struct event;
struct event_base;
struct bal_pool;
struct discovery;
struct health;
struct limit_table_sh;
struct master;
struct generation;

/* One worker process (slot idx of its generation). */
struct wproc {
	struct master *m;
	struct generation *gen;
	uint32_t idx;
	pid_t pid;			/* 0 when not running */
	uint32_t wslot;			/* its shm worker slot while it runs */
	uint64_t started_ms;
	uint32_t quick_deaths;		/* consecutive deaths in the crash window */
	bool ready;			/* it said it accepts (ready.c) */
	struct event *respawn_ev;
};

/*
 * Everything built from one config file: workers of a generation see only
 * its config, balancer state and socket assignment. A reload makes a new
 * generation current and retires the old one, which is freed once its last
 * worker has drained and exited.
 */
struct generation {
	uint32_t id;
	struct config *cfg;
	struct bal_pool **bals;		/* per backend of cfg */
	struct tls_gen *tls;		/* its TLS contexts; NULL: no TLS */
	struct listeners ls;		/* sockets assigned to its workers */
	struct limit_table_sh **limits;	/* per limit of cfg (limit/registry.c) */
	struct wproc *workers;		/* [cfg->workers] */
	uint32_t nalive;		/* its worker processes still running */
	bool published;			/* its servers hold shm slot references */
	bool serving;			/* every worker accepted once: READY=1 sent */
	bool retired;
	struct generation *next;	/* older */
};

/* What SIGHUP reloads did, for GET /api/v1/status. */
struct reload_stats {
	time_t last;			/* wall clock time; 0: none yet */
	bool last_ok;
	char last_error[512];		/* why the last one failed */
	uint64_t ok, failed;
};

struct master {
	const char *path;		/* config file, re-read on SIGHUP */
	struct generation *gens;	/* newest (current) first */
	uint32_t next_gen;
	struct shm *shm;
	struct lpool lp;
	struct health *health;
	struct event_base *base;
	int sigfd;
	int pidfd;			/* locked pidfile, -1 when none */
	char *pidfile;
	struct event *sig_ev;
	struct event *kill_ev;
	struct event *tickets_ev;	/* rotates the session ticket keys */
	int ready_pipe[2];		/* workers write their pid once they accept */
	struct event *ready_ev;
	bool stopping;
	uint64_t started_ms;		/* clock_ms() at startup */
	struct reload_stats reloads;
	struct admin *admin;		/* the [admin] HTTP API (admin.c) */
	struct overrides overrides;	/* the API's changes (override.c) */
	struct members members;		/* servers not from the file */
	struct discovery *discovery;	/* DNS and ZooKeeper watches */
	struct limit_registry limits;	/* rate limit tables of live generations */
	uint64_t worker_restarts;	/* respawns after a worker died; in
					 * master memory: a restarted master
					 * starts from zero (a counter reset) */
};

/* Run the master on cfg (read from path) until told to stop; returns the exit code. */
int master_run(const char *path, struct config *cfg);
/* Fork the worker w of its generation; 0 or -1. */
int master_spawn(struct master *m, struct wproc *w);
/* Timer: respawn a dead worker of the current generation (arg: wproc). */
void master_respawn_cb(int fd, short what, void *arg);
/* Signal every running worker of every generation. */
void master_signal_workers(struct master *m, int sig);
/* Time the next session ticket key rotation (after start, each reload). */
void master_tickets_arm(struct master *m);
/* The worker process with this pid, in any generation, or NULL. */
struct wproc *master_find(const struct master *m, pid_t pid);

/* check.c */
/* What startup needs besides sockets (files writable); 0, or -1 and err. */
int check_startup(const struct config *cfg, char *err, size_t errlen);
/* Every frontend's access_log file writable by us; 0, or -1 and err. */
int check_access_logs(const struct config *cfg, char *err, size_t errlen);

/* discovery.c */
/*
 * Make the watches match the current generation's config: keep those
 * whose settings are unchanged, start new ones, free (and take out the
 * members of) those it no longer has. At start and after every switch.
 */
void discovery_sync(struct master *m);
/* In a forked worker: close the watches' sockets (they stay the master's). */
void discovery_atfork_child(const struct discovery *d);
/* Free every watch without touching membership (the master is ending). */
void discovery_free(struct discovery *d);

/* ready.c */
/* The pipe workers report on; 0 or -1. */
int ready_init(struct master *m);
void ready_free(struct master *m);
/* The newest generation became current: READY=1 once it all serves. */
void ready_generation(struct master *m);
/* RELOADING=1 with the time, as a reload starts. */
void ready_reloading(struct master *m);
/* The reload failed: READY=1 again (old generation) with why. */
void ready_reload_failed(struct master *m, const char *why);
/* STOPPING=1. */
void ready_stopping(struct master *m);

/* reload.c */
/* Build a generation for cfg (takes ownership); NULL with err set on failure. */
struct generation *reload_gen_new(struct master *m, struct config *cfg,
    char *err, size_t errlen);
/* Free a generation whose workers are all gone, and close unused sockets. */
void reload_gen_free(struct master *m, struct generation *g);
/* SIGHUP: re-read the config; on success start a new generation. */
void reload_run(struct master *m);
/*
 * A new generation from the current one's config text (not the file,
 * which may have changed since) with the overrides applied: how a weight
 * set through the admin API reaches the workers. 0, or -1 with err set
 * (the current generation keeps serving).
 */
int reload_rebuild(struct master *m, char *err, size_t errlen);
/* A worker of g exited: free g if it was retired and this was its last. */
void reload_worker_gone(struct master *m, struct generation *g);

#endif
