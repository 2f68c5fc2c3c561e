/* Owns the set-up the balancer unit tests share (see balfix.h). */
#include "autoconf.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/config.h"
#include "shm/shm.h"
#include "test/unit/balfix.h"

void
balfix_open(struct balfix *f, const char *head, const char *opts,
    const char *servers, uint64_t seed)
{
	size_t len = strlen(head) + strlen(opts) + strlen(servers) + 1;
	char *text, err[256];

	memset(f, 0, sizeof(*f));
	if ((text = malloc(len)) == NULL)
		fail_msg("malloc");
	snprintf(text, len, "%s%s%s", head, opts, servers);
	if (config_load_string("t.ini", text, &f->cfg, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	free(text);
	if ((f->shm = shm_new_sized(1024, 64, 64)) == NULL)
		fail_msg("shm_new_sized");
	if (shm_publish(f->shm, f->cfg, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	if ((f->pool = balancer_build(f->shm, &f->cfg->backends[0])) == NULL)
		fail_msg("balancer_build");
	f->rng = seed;
	f->req.rng = &f->rng;
}

void
balfix_close(struct balfix *f)
{
	balancer_free(f->pool);
	shm_free(f->shm);
	config_free(f->cfg);
}

struct shm_server_sh *
balfix_server(struct balfix *f, int m)
{
	return &f->shm->servers[f->pool->slot[m]];
}

int
balfix_pick(struct balfix *f)
{
	int m = balancer_pick(f->shm, f->pool, &f->req);

	assert_true(m >= -1 && m < (int)f->pool->n);
	return m;
}

void
balfix_set_inflight(struct balfix *f, int m, uint32_t n)
{
	atomic_store(&balfix_server(f, m)->inflight, n);
}

uint32_t
balfix_inflight(struct balfix *f, int m)
{
	return atomic_load(&balfix_server(f, m)->inflight);
}
