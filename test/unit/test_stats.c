/*
 * Unit tests for shm/stats.c and master/metrics.c: per-worker areas folded
 * on reap, slots that change identity, histogram buckets, and the text a
 * scrape renders (parsed back).
 */
#include "autoconf.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include <event2/buffer.h>

#include "balancer/balancer.h"
#include "common/config.h"
#include "master/master.h"
#include "master/metrics.h"
#include "shm/shm.h"
#include "shm/stats.h"

#define FRONT(name) "[frontend " name "]\nlisten = 127.0.0.1:8080\n" \
	"backend = app\n"

static struct config *
load_published(struct shm *shm, const char *text)
{
	struct config *cfg = NULL;
	char err[256];

	if (config_load_string("t.ini", text, &cfg, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	if (shm_publish(shm, cfg, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	return cfg;
}

static struct shm_stat_server_sh
server_sum(const struct shm *shm, uint32_t slot)
{
	struct shm_stat_server_sh s;

	shm_stats_server_sum(shm, slot, &s);
	return s;
}

static struct shm_stat_frontend_sh
frontend_sum(const struct shm *shm, uint32_t slot)
{
	struct shm_stat_frontend_sh s;

	shm_stats_frontend_sum(shm, slot, &s);
	return s;
}

static uint64_t
retries_sum(const struct shm *shm, uint32_t slot)
{
	struct shm_stat_pool_sh s;

	shm_stats_pool_sum(shm, slot, &s);
	return s.retries;
}

/* What one worker counts: requests on a server, its frontend and pool. */
struct work {
	uint32_t server, frontend, pool;
	uint64_t requests, ok, conns, retries;
};

/* Count w into the area of worker slot wslot, as a worker does. */
static void
count(struct shm *shm, uint32_t wslot, const struct work *w)
{
	struct shm_stats st;

	shm_stats_area(shm, wslot, &st);
	for (uint64_t i = 0; i < w->requests; i++) {
		shm_stat_inc(&st.servers[w->server].requests);
		shm_stat_inc(&st.frontends[w->frontend].requests);
	}
	for (uint64_t i = 0; i < w->ok; i++) {
		shm_stat_inc(&st.servers[w->server].responses[1]);
		shm_stat_observe(&st.servers[w->server], 700);
	}
	for (uint64_t i = 0; i < w->conns; i++)
		shm_stat_inc(&st.frontends[w->frontend].conns);
	for (uint64_t i = 0; i < w->retries; i++)
		shm_stat_inc(&st.pools[w->pool].retries);
}

/* A forked worker dies with the test, even one a failed assert left. */
static pid_t
worker_fork(void)
{
	pid_t pid = fork();

	if (pid == 0 && prctl(PR_SET_PDEATHSIG, SIGKILL) == -1)
		_exit(1);
	return pid;
}

/*
 * A worker process in slot wslot: counts w, then says so through *done and
 * waits to be killed. Returns its pid once it has counted.
 */
static pid_t
worker_run(struct shm *shm, uint32_t wslot, const struct work *w,
    _Atomic int *done)
{
	pid_t pid;

	atomic_store(done, 0);
	if ((pid = worker_fork()) == 0) {
		count(shm, wslot, w);
		atomic_store(done, 1);
		for (;;)
			pause();
	}
	assert_true(pid > 0);
	shm_worker_set_pid(shm, wslot, pid);
	while (atomic_load(done) == 0)
		usleep(1000);
	return pid;
}

/* SIGKILL the worker and reap it as the master does. */
static void
worker_kill(struct shm *shm, uint32_t wslot, pid_t pid)
{
	int status;

	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	shm_worker_reclaim(shm, wslot);
}

static _Atomic int *
shared_flag(void)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	assert_true(p != MAP_FAILED);
	return p;
}

/*
 * Workers count, one is SIGKILLed and reaped: every total is the same
 * before and after the fold, the dead worker's open connections are gone,
 * and the next worker in its slot starts from a zero area.
 */
static void
test_fold_on_reap_exact(void **state)
{
	struct shm *shm = shm_new_sized(16, 4, 8);
	struct config *cfg = load_published(shm, FRONT("web")
	    "[backend app]\nserver = 127.0.0.1:9001\nserver = 127.0.0.1:9002\n");
	uint32_t s0 = cfg->backends[0].servers[0].slot;
	uint32_t fe = cfg->frontends[0].slot, pool = cfg->backends[0].pool_slot;
	struct work wa = { s0, fe, pool, 100, 30, 5, 7 };
	struct work wb = { s0, fe, pool, 40, 40, 2, 1 };
	struct work wc = { s0, fe, pool, 10, 10, 1, 0 };
	_Atomic int *done = shared_flag();
	int a = shm_worker_claim(shm, 0), b = shm_worker_claim(shm, 0), c;
	pid_t pa, pb, pc;

	(void)state;
	pa = worker_run(shm, (uint32_t)a, &wa, done);
	pb = worker_run(shm, (uint32_t)b, &wb, done);
	assert_int_equal(server_sum(shm, s0).requests, 140);
	assert_int_equal(server_sum(shm, s0).responses[1], 70);
	assert_int_equal(frontend_sum(shm, fe).conns, 7);
	worker_kill(shm, (uint32_t)a, pa);
	assert_int_equal(server_sum(shm, s0).requests, 140);
	assert_int_equal(server_sum(shm, s0).responses[1], 70);
	assert_int_equal(server_sum(shm, s0).hist[0], 70);
	assert_int_equal(server_sum(shm, s0).hist_sum_us, 70 * 700);
	assert_int_equal(frontend_sum(shm, fe).requests, 140);
	assert_int_equal(frontend_sum(shm, fe).conns, 2);	/* b's only */
	assert_int_equal(retries_sum(shm, pool), 8);
	/* a's slot is free again, with a zero area for the next worker. */
	c = shm_worker_claim(shm, 1);
	assert_int_equal(c, a);
	pc = worker_run(shm, (uint32_t)c, &wc, done);
	assert_int_equal(server_sum(shm, s0).requests, 150);
	assert_int_equal(frontend_sum(shm, fe).conns, 3);
	worker_kill(shm, (uint32_t)b, pb);
	worker_kill(shm, (uint32_t)c, pc);
	assert_int_equal(server_sum(shm, s0).requests, 150);
	assert_int_equal(server_sum(shm, s0).responses[1], 80);
	assert_int_equal(frontend_sum(shm, fe).requests, 150);
	assert_int_equal(frontend_sum(shm, fe).conns, 0);
	assert_int_equal(retries_sum(shm, pool), 8);
	/* Reaped twice (a stale SIGCHLD): nothing is folded again. */
	shm_worker_reclaim(shm, (uint32_t)b);
	assert_int_equal(server_sum(shm, s0).requests, 150);
	munmap((void *)done, 4096);
	config_free(cfg);
	shm_free(shm);
}

/*
 * Scrapes while workers count nonstop and are SIGKILLed and replaced:
 * no total ever goes down, and what a frozen worker had counted is exactly
 * what its fold adds to RETIRED.
 */
static void
test_scrape_monotonic_across_deaths(void **state)
{
	struct shm *shm = shm_new_sized(16, 4, 8);
	struct config *cfg = load_published(shm, FRONT("web")
	    "[backend app]\nserver = 127.0.0.1:9001\n");
	uint32_t s0 = cfg->backends[0].servers[0].slot;
	uint64_t last = 0, now, frozen = 0;
	int status;

	(void)state;
	for (int round = 0; round < 6; round++) {
		int ws = shm_worker_claim(shm, (uint32_t)round);
		pid_t pid;

		assert_true(ws >= 0);
		if ((pid = worker_fork()) == 0) {
			struct shm_stats st;

			shm_stats_area(shm, (uint32_t)ws, &st);
			for (;;)
				shm_stat_inc(&st.servers[s0].requests);
		}
		shm_worker_set_pid(shm, (uint32_t)ws, pid);
		/* Scrape until this worker has counted something, at least. */
		for (int i = 0; i < 2000 || last == frozen; i++) {
			now = server_sum(shm, s0).requests;
			assert_true(now >= last);
			last = now;
			if (i >= 2000)
				usleep(1000);
		}
		kill(pid, SIGSTOP);
		assert_int_equal(waitpid(pid, &status, WUNTRACED), pid);
		frozen = server_sum(shm, s0).requests;
		assert_true(frozen >= last);
		kill(pid, SIGKILL);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_int_equal(server_sum(shm, s0).requests, frozen);
		shm_worker_reclaim(shm, (uint32_t)ws);
		assert_int_equal(server_sum(shm, s0).requests, frozen);
		last = frozen;
	}
	assert_true(last > 0);
	config_free(cfg);
	shm_free(shm);
}

/*
 * A server, pool or frontend slot that takes a new identity reads zero
 * for it, without the master writing into a worker's area: a live area
 * keeps what it has. The same identity published again keeps its counts.
 */
static void
test_slot_reuse_starts_at_zero(void **state)
{
	/* One pool and one frontend slot, two server slots. */
	struct shm *shm = shm_new_sized(2, 1, 4);
	struct config *a = load_published(shm, FRONT("web")
	    "[backend app]\nserver = 127.0.0.1:9001\n"), *a2, *b;
	uint32_t s = a->backends[0].servers[0].slot;
	uint32_t fe = a->frontends[0].slot, pool = a->backends[0].pool_slot;
	struct work w = { s, fe, pool, 20, 20, 0, 3 };
	int live = shm_worker_claim(shm, 0), dead = shm_worker_claim(shm, 0);
	struct shm_stats st;

	(void)state;
	count(shm, (uint32_t)live, &w);
	shm_worker_set_pid(shm, (uint32_t)live, 1);	/* never reaped here */
	count(shm, (uint32_t)dead, &w);
	shm_worker_reclaim(shm, (uint32_t)dead);	/* folded into RETIRED */
	assert_int_equal(server_sum(shm, s).requests, 40);
	/* Same identities again: the counts carry over. */
	shm_unpublish(shm, a);
	a2 = load_published(shm, FRONT("web")
	    "[backend app]\nserver = 127.0.0.1:9001\n");
	assert_int_equal(a2->backends[0].servers[0].slot, s);
	assert_int_equal(server_sum(shm, s).requests, 40);
	assert_int_equal(frontend_sum(shm, fe).requests, 40);
	assert_int_equal(retries_sum(shm, pool), 6);
	/* New identities in the same slots: all zero. */
	shm_unpublish(shm, a2);
	/* The live worker has seen the lists without them (membership). */
	shm_worker_seen(shm, (uint32_t)live);
	b = load_published(shm, "[frontend api]\nlisten = 127.0.0.1:8080\n"
	    "backend = other\n[backend other]\nserver = 127.0.0.1:9002\n"
	    "server = 127.0.0.1:9003\n");
	assert_int_equal(b->frontends[0].slot, fe);
	assert_int_equal(b->backends[0].pool_slot, pool);
	assert_true(b->backends[0].servers[0].slot == s ||
	    b->backends[0].servers[1].slot == s);
	assert_int_equal(server_sum(shm, s).requests, 0);
	assert_int_equal(server_sum(shm, s).responses[1], 0);
	assert_int_equal(server_sum(shm, s).hist[0], 0);
	assert_int_equal(server_sum(shm, s).hist_sum_us, 0);
	assert_int_equal(frontend_sum(shm, fe).requests, 0);
	assert_int_equal(retries_sum(shm, pool), 0);
	/* The live area was not touched: the baseline absorbed it. */
	shm_stats_area(shm, (uint32_t)live, &st);
	assert_int_equal(atomic_load(&st.servers[s].requests), 20);
	/* The new identity counts from zero, and so does its fold. */
	w.requests = 4;
	w.ok = 0;
	w.retries = 1;
	dead = shm_worker_claim(shm, 1);
	shm_worker_set_pid(shm, (uint32_t)dead, 2);
	count(shm, (uint32_t)dead, &w);
	assert_int_equal(server_sum(shm, s).requests, 4);
	shm_worker_reclaim(shm, (uint32_t)dead);
	assert_int_equal(server_sum(shm, s).requests, 4);
	assert_int_equal(frontend_sum(shm, fe).requests, 4);
	assert_int_equal(retries_sum(shm, pool), 1);
	config_free(a);
	config_free(a2);
	config_free(b);
	shm_free(shm);
}

/* Bounds are inclusive ("le"); above the last one is +Inf. */
static void
test_histogram_buckets(void **state)
{
	static const struct {
		uint64_t us;
		int bucket;
	} cases[] = {
		{ 0, 0 }, { 1, 0 }, { 1000, 0 }, { 1001, 1 }, { 2500, 1 },
		{ 2501, 2 }, { 99999, 6 }, { 100000, 6 }, { 100001, 7 },
		{ 1000000, 9 }, { 9999999, 12 }, { 10000000, 12 },
		{ 10000001, 13 }, { UINT32_MAX * 10ull, 13 },
	};
	struct shm *shm = shm_new_sized(4, 1, 2);
	struct shm_stats st;
	uint64_t sum = 0;

	(void)state;
	shm_stats_area(shm, 0, &st);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct shm_stat_server_sh *s = &st.servers[i % 4];
		uint64_t before = atomic_load(&s->hist[cases[i].bucket]);

		shm_stat_observe(s, cases[i].us);
		if (atomic_load(&s->hist[cases[i].bucket]) != before + 1)
			fail_msg("%llu us not in bucket %d",
			    (unsigned long long)cases[i].us, cases[i].bucket);
	}
	for (int i = 0; i < 4; i++)
		sum += atomic_load(&st.servers[i].hist_sum_us);
	assert_int_equal(sum, 1 + 1000 + 1001 + 2500 + 2501 + 99999 + 100000 +
	    100001 + 1000000 + 9999999 + 10000000 + 10000001 +
	    UINT32_MAX * 10ull);
	assert_int_equal(shm_stat_class(100), 0);
	assert_int_equal(shm_stat_class(204), 1);
	assert_int_equal(shm_stat_class(399), 2);
	assert_int_equal(shm_stat_class(404), 3);
	assert_int_equal(shm_stat_class(599), 4);
	assert_int_equal(shm_stat_class(99), 4);
	assert_int_equal(shm_stat_class(600), 4);
	shm_free(shm);
}

/* ---- the renderer, parsed back ---- */

#define MAX_SAMPLES	512

/* One sample line: "name{k=v,...}" with values unescaped, and its value. */
struct sample {
	char key[256];
	char value[32];
};

struct parsed {
	struct sample s[MAX_SAMPLES];
	int n;
	char help[32][64];		/* families in order of their HELP */
	char type[32][16];
	int nfam;
};

/* Read a quoted label value at *p (after the quote), unescaping it. */
static void
parse_label_value(const char **p, char *out, size_t len)
{
	size_t o = 0;

	while (**p != '"') {
		char ch = **p;

		assert_true(ch != '\0' && ch != '\n');
		if (ch == '\\') {
			(*p)++;
			ch = **p == 'n' ? '\n' : **p;
			assert_true(**p == 'n' || **p == '\\' || **p == '"');
		}
		assert_true(o + 1 < len);
		out[o++] = ch;
		(*p)++;
	}
	(*p)++;
	out[o] = '\0';
}

/* The family a sample belongs to (a histogram's series share one). */
static void
family_of(const char *name, char *fam, size_t len)
{
	static const char *const sfx[] = { "_bucket", "_sum", "_count" };
	size_t n = strlen(name);

	snprintf(fam, len, "%s", name);
	for (int i = 0; i < 3; i++) {
		size_t k = strlen(sfx[i]);

		if (n > k && strcmp(name + n - k, sfx[i]) == 0 &&
		    strncmp(name, "weir_server_response_seconds", n - k) == 0)
			fam[n - k] = '\0';
	}
}

/* Parse one sample line into p->s[p->n]; its family must be the last one. */
static void
parse_sample(struct parsed *p, const char *line)
{
	struct sample *s = &p->s[p->n++];
	char name[128], k[64], v[128], fam[128];
	const char *q = line;
	size_t n = strcspn(q, "{ ");

	assert_true(p->n <= MAX_SAMPLES && n < sizeof(name));
	memcpy(name, q, n);
	name[n] = '\0';
	q += n;
	family_of(name, fam, sizeof(fam));
	assert_true(p->nfam > 0);
	if (strcmp(fam, p->help[p->nfam - 1]) != 0)
		fail_msg("sample %s outside its family (last: %s)", name,
		    p->help[p->nfam - 1]);
	snprintf(s->key, sizeof(s->key), "%s", name);
	if (*q == '{') {
		q++;
		while (*q != '}') {
			n = strcspn(q, "=");
			assert_true(n < sizeof(k) && q[n] == '=' && q[n + 1] == '"');
			memcpy(k, q, n);
			k[n] = '\0';
			q += n + 2;
			parse_label_value(&q, v, sizeof(v));
			snprintf(s->key + strlen(s->key), sizeof(s->key) -
			    strlen(s->key), "|%s=%s", k, v);
			if (*q == ',')
				q++;
		}
		q++;
	}
	assert_true(*q == ' ');
	snprintf(s->value, sizeof(s->value), "%s", q + 1);
}

/* Parse a whole exposition, checking HELP/TYPE pairs and grouping. */
static void
parse(const char *text, struct parsed *p)
{
	char line[1024];
	const char *q = text;

	memset(p, 0, sizeof(*p));
	while (*q != '\0') {
		size_t n = strcspn(q, "\n");

		assert_true(q[n] == '\n' && n < sizeof(line));
		memcpy(line, q, n);
		line[n] = '\0';
		q += n + 1;
		if (strncmp(line, "# HELP ", 7) == 0) {
			assert_true(p->nfam < 32);
			sscanf(line + 7, "%63s", p->help[p->nfam]);
			for (int i = 0; i < p->nfam; i++)
				if (strcmp(p->help[i], p->help[p->nfam]) == 0)
					fail_msg("family %s twice", p->help[i]);
			p->nfam++;
		} else if (strncmp(line, "# TYPE ", 7) == 0) {
			char name[64];

			assert_int_equal(sscanf(line + 7, "%63s %15s", name,
			    p->type[p->nfam - 1]), 2);
			assert_string_equal(name, p->help[p->nfam - 1]);
		} else
			parse_sample(p, line);
	}
}

/* The value of the sample with this key ("name|k=v|k=v"), or fail. */
static const char *
value(const struct parsed *p, const char *key)
{
	for (int i = 0; i < p->n; i++)
		if (strcmp(p->s[i].key, key) == 0)
			return p->s[i].value;
	fail_msg("no sample %s", key);
	return NULL;
}

static const char *
type_of(const struct parsed *p, const char *fam)
{
	for (int i = 0; i < p->nfam; i++)
		if (strcmp(p->help[i], fam) == 0)
			return p->type[i];
	fail_msg("no family %s", fam);
	return NULL;
}

/* Replace a config string with s (the config frees it). */
static void
rename_to(char **field, const char *s)
{
	free(*field);
	if ((*field = strdup(s)) == NULL)
		fail_msg("strdup");
}

/*
 * A hand-made state rendered and parsed back: label values escaped and
 * read back intact, every family with HELP and TYPE and its samples
 * together, counts summed over live and retired workers, histogram
 * cumulative, and "up" as the balancer sees it.
 */
static void
test_render(void **state)
{
	static const char text[] = FRONT("web")
	    "[backend app]\nserver = 127.0.0.1:9001\nserver = 127.0.0.1:9002\n"
	    "server = 127.0.0.1:9003\nserver = 127.0.0.1:9004\n";
	struct shm *shm = shm_new_sized(16, 4, 8);
	struct config *cfg = load_published(shm, text);
	struct backend_conf *be = &cfg->backends[0];
	struct bal_pool *bals[2] = { balancer_build(shm, be), NULL };
	struct generation g = { .cfg = cfg, .bals = bals };
	struct master m = { .gens = &g, .shm = shm, .reloads = { .ok = 3,
	    .failed = 1 }, .worker_restarts = 2 };
	struct work w = { be->servers[0].slot, cfg->frontends[0].slot,
	    be->pool_slot, 6, 4, 2, 1 };
	struct evbuffer *out = evbuffer_new();
	struct parsed *p = calloc(1, sizeof(*p));
	struct shm_stats st;
	char *txt;
	size_t len;

	(void)state;
	assert_non_null(bals[0]);
	assert_non_null(out);
	assert_non_null(p);
	/* One live worker, one gone (RETIRED). */
	count(shm, 0, &w);
	shm_worker_set_pid(shm, 0, 1);
	count(shm, 1, &w);
	shm_stats_area(shm, 1, &st);
	shm_stat_observe(&st.servers[w.server], 20000000);	/* +Inf */
	shm_stat_inc(&st.servers[w.server].failures[SHM_FAIL_CONNECT]);
	shm_stat_inc(&st.frontends[w.frontend].responses[4]);
	shm_worker_set_pid(shm, 1, 2);
	shm_worker_reclaim(shm, 1);
	/* 9002 down, 9003 draining, 9004 ejected: only 9001 is up. */
	atomic_store(&shm->servers[be->servers[1].slot].health,
	    SHM_HEALTH_DOWN);
	atomic_store(&shm->servers[be->servers[2].slot].admin,
	    SHM_ADMIN_DRAIN);
	atomic_store(&shm->servers[be->servers[3].slot].eject,
	    SHM_EJECT(SHM_EJECT_OUT, UINT32_MAX * 1000ull));
	shm_inflight_inc(shm, 0, be->servers[0].slot);
	/* Names that need escaping (config names cannot, these are forged). */
	rename_to(&cfg->frontends[0].name, "we\"b\\x\ny");
	rename_to(&be->servers[0].name, "a\"b");

	metrics_render(&m, out);
	len = evbuffer_get_length(out);
	txt = calloc(1, len + 1);
	assert_non_null(txt);
	evbuffer_copyout(out, txt, len);
	assert_non_null(strstr(txt, "{frontend=\"we\\\"b\\\\x\\ny\"}"));
	assert_non_null(strstr(txt, "server=\"a\\\"b\""));
	parse(txt, p);

	assert_string_equal(value(p, "weir_build_info|version="
	    PACKAGE_VERSION), "1");
	assert_string_equal(type_of(p, "weir_build_info"), "gauge");
	assert_string_equal(value(p, "weir_frontend_requests_total|"
	    "frontend=we\"b\\x\ny"), "12");
	assert_string_equal(value(p, "weir_frontend_connections_active|"
	    "frontend=we\"b\\x\ny"), "2");	/* the live worker's */
	assert_string_equal(value(p, "weir_frontend_responses_total|"
	    "frontend=we\"b\\x\ny|code=5xx"), "1");
	assert_string_equal(value(p, "weir_frontend_responses_total|"
	    "frontend=we\"b\\x\ny|code=2xx"), "0");
	assert_string_equal(value(p, "weir_server_requests_total|"
	    "backend=app|server=a\"b"), "12");
	assert_string_equal(value(p, "weir_server_requests_total|"
	    "backend=app|server=127.0.0.1:9002"), "0");
	assert_string_equal(value(p, "weir_server_responses_total|"
	    "backend=app|server=a\"b|code=2xx"), "8");
	assert_string_equal(value(p, "weir_server_failures_total|"
	    "backend=app|server=a\"b|reason=connect"), "1");
	assert_string_equal(value(p, "weir_server_failures_total|"
	    "backend=app|server=a\"b|reason=timeout"), "0");
	assert_string_equal(value(p, "weir_server_inflight|"
	    "backend=app|server=a\"b"), "1");
	assert_string_equal(value(p, "weir_server_up|backend=app|server=a\"b"),
	    "1");
	assert_string_equal(value(p, "weir_server_up|backend=app|"
	    "server=127.0.0.1:9002"), "0");
	assert_string_equal(value(p, "weir_server_up|backend=app|"
	    "server=127.0.0.1:9003"), "0");
	assert_string_equal(value(p, "weir_server_up|backend=app|"
	    "server=127.0.0.1:9004"), "0");
	assert_string_equal(type_of(p, "weir_server_response_seconds"),
	    "histogram");
	assert_string_equal(value(p, "weir_server_response_seconds_bucket|"
	    "backend=app|server=a\"b|le=0.001"), "8");
	assert_string_equal(value(p, "weir_server_response_seconds_bucket|"
	    "backend=app|server=a\"b|le=10"), "8");
	assert_string_equal(value(p, "weir_server_response_seconds_bucket|"
	    "backend=app|server=a\"b|le=+Inf"), "9");
	assert_string_equal(value(p, "weir_server_response_seconds_count|"
	    "backend=app|server=a\"b"), "9");
	assert_string_equal(value(p, "weir_server_response_seconds_sum|"
	    "backend=app|server=a\"b"), "20.005600");
	assert_string_equal(value(p, "weir_backend_retries_total|backend=app"),
	    "2");
	assert_string_equal(type_of(p, "weir_backend_retries_total"),
	    "counter");
	assert_string_equal(value(p, "weir_reloads_total|result=ok"), "3");
	assert_string_equal(value(p, "weir_reloads_total|result=failed"), "1");
	assert_string_equal(value(p, "weir_worker_restarts_total"), "2");
	free(txt);
	free(p);
	evbuffer_free(out);
	balancer_free(bals[0]);
	config_free(cfg);
	shm_free(shm);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fold_on_reap_exact),
		cmocka_unit_test(test_scrape_monotonic_across_deaths),
		cmocka_unit_test(test_slot_reuse_starts_at_zero),
		cmocka_unit_test(test_histogram_buckets),
		cmocka_unit_test(test_render),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
