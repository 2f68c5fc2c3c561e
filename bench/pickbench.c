/*
 * Measures the cost of a pick for every algorithm and pool size, in one
 * process and in as many processes as there are CPUs picking on one shared
 * segment at once, the way weir's workers do: the member list's version
 * check (worker_bal()'s fast path) and balancer_pick(). Then the time from
 * a publication of a member list to the first pick that sees it.
 *
 * Built by "make bench" (bench/pickbench); run as "pickbench [seconds per
 * measurement]" (0.2 s).
 */
#include "autoconf.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "balancer/balancer.h"
#include "common/config.h"
#include "shm/shm.h"

#define PICKBENCH_URIS		1024
#define PICKBENCH_OUTSTANDING	8	/* requests each process keeps open */
#define PICKBENCH_CHECK		256	/* picks between clock reads */

struct pickbench_case {
	const char *name;
	const char *opts;
};

static const struct pickbench_case pickbench_cases[] = {
	{ "roundrobin", "balance = roundrobin\n" },
	{ "leastconn", "balance = leastconn\n" },
	{ "random2", "balance = random2\n" },
	{ "hash uri", "balance = hash\nhash_key = uri\n" },
	{ "hash uri bounded 1.25",
	    "balance = hash\nhash_key = uri\nhash_bounded = 1.25\n" },
};

static const uint32_t pickbench_sizes[] = { 3, 30, 300 };

#define PICKBENCH_PUBLISHES	200	/* member list publications timed */

/* Shared with the children: a start line and what each one did. */
struct pickbench_shared {
	_Atomic uint32_t ready;
	_Atomic uint32_t go;
	_Atomic uint64_t picks;
	_Atomic uint64_t end_ns;	/* the latest finish */
	_Atomic uint64_t published_ns;	/* when the last list went out */
	_Atomic uint64_t seen_ns[PICKBENCH_PUBLISHES];
};

static char pickbench_uri[PICKBENCH_URIS][24];

static uint64_t
pickbench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The config text for one case: n servers, weights 1..4 in turn. */
static char *
pickbench_config(const struct pickbench_case *pc, uint32_t n)
{
	size_t cap = 256 + 48 * (size_t)n, off;
	char *text = malloc(cap);

	if (text == NULL)
		return NULL;
	off = (size_t)snprintf(text, cap, "[frontend web]\nlisten = "
	    "127.0.0.1:8080\nbackend = app\n[backend app]\n%s", pc->opts);
	for (uint32_t i = 0; i < n; i++)
		off += (size_t)snprintf(text + off, cap - off,
		    "server = 127.0.0.1:%u weight=%u\n", 10000 + i, 1 + i % 4);
	return text;
}

/*
 * Pick until deadline_ns like a worker: each pick counts as in flight
 * until PICKBENCH_OUTSTANDING later picks, so leastconn sees real counts
 * moving and the counters' cache lines bounce between processes.
 */
static uint64_t
pickbench_loop(struct shm *shm, const struct bal_pool *pool, uint32_t wslot,
    uint64_t seed, uint64_t deadline_ns)
{
	uint32_t open[PICKBENCH_OUTSTANDING], head = 0, nopen = 0;
	uint64_t rng = seed | 1, picks = 0;
	struct sockaddr_in client = { .sin_family = AF_INET };
	struct bal_request req = { .client = (struct sockaddr *)&client,
	    .now_ms = 1, .rng = &rng };

	for (;;) {
		for (int i = 0; i < PICKBENCH_CHECK; i++) {
			uint32_t u;
			int m;

			/* A new client and URI each time, for the hash keys. */
			u = (uint32_t)(bal_random(&rng) >> 40) % PICKBENCH_URIS;
			client.sin_addr.s_addr = (uint32_t)rng;
			req.uri = pickbench_uri[u];
			req.uri_len = strlen(pickbench_uri[u]);
			/* What worker_bal() costs when the list stands still. */
			if (shm_members_version(shm, pool->be->pool_slot) !=
			    pool->version)
				abort();
			if ((m = balancer_pick(shm, pool, &req)) < 0)
				abort();
			shm_inflight_inc(shm, wslot, pool->slot[m]);
			if (nopen == PICKBENCH_OUTSTANDING) {
				shm_inflight_dec(shm, wslot, open[head]);
				head = (head + 1) % PICKBENCH_OUTSTANDING;
				nopen--;
			}
			open[(head + nopen++) % PICKBENCH_OUTSTANDING] =
			    pool->slot[m];
		}
		picks += PICKBENCH_CHECK;
		if (pickbench_now_ns() >= deadline_ns)
			break;
	}
	while (nopen > 0) {
		shm_inflight_dec(shm, wslot, open[head]);
		head = (head + 1) % PICKBENCH_OUTSTANDING;
		nopen--;
	}
	return picks;
}

/* ns per pick, nproc processes picking at once: wall * nproc / picks. */
static double
pickbench_run(struct shm *shm, const struct bal_pool *pool, uint32_t nproc,
    uint64_t dur_ns, struct pickbench_shared *sh)
{
	uint32_t wslot[256];
	uint64_t start;
	int status;

	atomic_store(&sh->ready, 0);
	atomic_store(&sh->go, 0);
	atomic_store(&sh->picks, 0);
	atomic_store(&sh->end_ns, 0);
	for (uint32_t k = 0; k < nproc; k++) {
		int w = shm_worker_claim(shm, 1);
		pid_t pid;

		if (w < 0 || (pid = fork()) < 0) {
			perror("pickbench: worker");
			exit(1);
		}
		wslot[k] = (uint32_t)w;
		if (pid == 0) {
			uint64_t picks, end, prev;

			atomic_fetch_add(&sh->ready, 1);
			while (atomic_load(&sh->go) == 0)
				;
			picks = pickbench_loop(shm, pool, wslot[k],
			    0x9e3779b97f4a7c15ULL * (k + 1),
			    pickbench_now_ns() + dur_ns);
			end = pickbench_now_ns();
			atomic_fetch_add(&sh->picks, picks);
			prev = atomic_load(&sh->end_ns);
			while (prev < end && !atomic_compare_exchange_weak(
			    &sh->end_ns, &prev, end))
				;
			_exit(0);
		}
		shm_worker_set_pid(shm, wslot[k], pid);
	}
	while (atomic_load(&sh->ready) < nproc)
		;
	start = pickbench_now_ns();
	atomic_store(&sh->go, 1);
	for (uint32_t k = 0; k < nproc; k++)
		wait(&status);
	for (uint32_t k = 0; k < nproc; k++)
		shm_worker_reclaim(shm, wslot[k]);
	return (double)(atomic_load(&sh->end_ns) - start) * nproc /
	    (double)atomic_load(&sh->picks);
}

/* Publication i was seen: how long after it went out. */
static void
pickbench_seen(struct pickbench_shared *sh, uint64_t v, uint64_t v0)
{
	uint64_t i = v - v0 - 1;

	if (i < PICKBENCH_PUBLISHES)
		atomic_store(&sh->seen_ns[i], pickbench_now_ns() -
		    atomic_load(&sh->published_ns));
}

/* A picker that checks the version before each pick, as workers do. */
static void
pickbench_watch(struct shm *shm, const struct bal_pool *pool, uint32_t wslot,
    struct pickbench_shared *sh)
{
	uint64_t v0 = pool->version, last = v0, v, rng = 7;
	struct sockaddr_in client = { .sin_family = AF_INET };
	struct bal_request req = { .client = (struct sockaddr *)&client,
	    .now_ms = 1, .rng = &rng, .uri = "/", .uri_len = 1 };
	int m;

	atomic_fetch_add(&sh->ready, 1);
	while (last - v0 < PICKBENCH_PUBLISHES) {
		if ((v = shm_members_version(shm, pool->be->pool_slot)) !=
		    last) {
			pickbench_seen(sh, v, v0);
			last = v;
		}
		if ((m = balancer_pick(shm, pool, &req)) >= 0) {
			shm_inflight_inc(shm, wslot, pool->slot[m]);
			shm_inflight_dec(shm, wslot, pool->slot[m]);
		}
	}
	_exit(0);
}

static int
pickbench_u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Publish pool's list again PICKBENCH_PUBLISHES times, 1 ms apart, while
 * a child picks: how long each took to reach a pick.
 */
static void
pickbench_publish(struct shm *shm, const struct bal_pool *pool,
    struct pickbench_shared *sh, char *out, size_t outlen)
{
	struct shm_member *list = calloc(pool->n, sizeof(*list));
	const struct timespec gap = { 0, 1000000 };
	uint64_t lat[PICKBENCH_PUBLISHES];
	int w = shm_worker_claim(shm, 1), status;
	pid_t pid;

	atomic_store(&sh->ready, 0);
	if (list == NULL || w < 0 || (pid = fork()) < 0) {
		perror("pickbench: publish");
		exit(1);
	}
	if (pid == 0)
		pickbench_watch(shm, pool, (uint32_t)w, sh);
	shm_worker_set_pid(shm, (uint32_t)w, pid);
	for (uint32_t m = 0; m < pool->n; m++)
		list[m] = (struct shm_member){ .slot = pool->slot[m],
		    .weight = pool->weight[m] };
	while (atomic_load(&sh->ready) == 0)
		;
	for (int i = 0; i < PICKBENCH_PUBLISHES; i++) {
		nanosleep(&gap, NULL);
		atomic_store(&sh->published_ns, pickbench_now_ns());
		shm_members_publish(shm, pool->be->pool_slot, list, pool->n);
	}
	wait(&status);
	shm_worker_reclaim(shm, (uint32_t)w);
	for (int i = 0; i < PICKBENCH_PUBLISHES; i++)
		lat[i] = atomic_load(&sh->seen_ns[i]);
	qsort(lat, PICKBENCH_PUBLISHES, sizeof(lat[0]), pickbench_u64_cmp);
	snprintf(out, outlen, "\nPublication of a member list to the first "
	    "pick that sees it (%d lists, one process picking from %u "
	    "leastconn members): median %llu ns, p99 %llu ns, max %llu ns\n",
	    PICKBENCH_PUBLISHES, pool->n,
	    (unsigned long long)lat[PICKBENCH_PUBLISHES / 2],
	    (unsigned long long)lat[PICKBENCH_PUBLISHES * 99 / 100],
	    (unsigned long long)lat[PICKBENCH_PUBLISHES - 1]);
	free(list);
}

int
main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 0.2;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	uint32_t nproc = ncpu > 0 ? (uint32_t)(ncpu < 256 ? ncpu : 256) : 1;
	uint64_t dur_ns = (uint64_t)(secs * 1e9);
	struct pickbench_shared *sh;
	char latency[256] = "";

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		perror("pickbench: mmap");
		return 1;
	}
	for (int i = 0; i < PICKBENCH_URIS; i++)
		snprintf(pickbench_uri[i], sizeof(pickbench_uri[i]),
		    "/item/%d?v=%d", i * 7919, i % 13);
	printf("| algorithm | servers | ns/pick, 1 process | ns/pick, %u "
	    "processes |\n|---|---:|---:|---:|\n", nproc);
	for (size_t c = 0; c < sizeof(pickbench_cases) /
	    sizeof(pickbench_cases[0]); c++) {
		for (size_t s = 0; s < sizeof(pickbench_sizes) /
		    sizeof(pickbench_sizes[0]); s++) {
			uint32_t n = pickbench_sizes[s];
			char *text = pickbench_config(&pickbench_cases[c], n);
			struct config *cfg;
			struct shm *shm;
			struct bal_pool *pool;
			char err[256];
			double one, all;

			if (text == NULL || config_load_string("bench.ini",
			    text, &cfg, err, sizeof(err)) != 0) {
				fprintf(stderr, "pickbench: %s\n", err);
				return 1;
			}
			free(text);
			if ((shm = shm_new_sized(1024, 4, nproc + 1)) == NULL ||
			    shm_publish(shm, cfg, err, sizeof(err)) != 0 ||
			    (pool = balancer_build(shm, &cfg->backends[0])) ==
			    NULL) {
				fprintf(stderr, "pickbench: setup failed\n");
				return 1;
			}
			one = pickbench_run(shm, pool, 1, dur_ns, sh);
			all = pickbench_run(shm, pool, nproc, dur_ns, sh);
			printf("| %s | %u | %.0f | %.0f |\n",
			    pickbench_cases[c].name, n, one, all);
			fflush(stdout);
			if (c == 1 && n == 30)
				pickbench_publish(shm, pool, sh, latency,
				    sizeof(latency));
			balancer_free(pool);
			shm_free(shm);
			config_free(cfg);
		}
	}
	fputs(latency, stdout);
	munmap(sh, sizeof(*sh));
	return 0;
}
