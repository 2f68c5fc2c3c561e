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

#include "balancer/balancer.h"
#include "common/config.h"
#include "shm/shm.h"
#include "test/unit/balfix.h"

void
balfix_build(const char *head, const char *opts, const char *servers,
    struct config **cfg, struct shm **shm, struct bal_pool **pool)
{
	size_t len = strlen(head) + strlen(opts) + strlen(servers) + 1;
	char *text, err[256];

	if ((text = malloc(len)) == NULL)
		fail_msg("malloc");
	snprintf(text, len, "%s%s%s", head, opts, servers);
	if (config_load_string("t.ini", text, cfg, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	free(text);
	if ((*shm = shm_new_sized(1024, 64, 64)) == NULL)
		fail_msg("shm_new_sized");
	if (shm_publish(*shm, *cfg, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	if ((*pool = balancer_build(*shm, &(*cfg)->backends[0])) == NULL)
		fail_msg("balancer_build");
}

void
balfix_teardown(struct config *cfg, struct shm *shm, struct bal_pool *pool)
{
	balancer_free(pool);
	shm_free(shm);
	config_free(cfg);
}
