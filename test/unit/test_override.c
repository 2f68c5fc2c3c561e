/* Unit tests for master/override.c: kept by identity, applied, pruned. */
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
#include "master/override.h"
#include "shm/shm-types.h"

static struct config *
load(const char *servers)
{
	struct config *cfg = NULL;
	char text[1024], err[512];

	snprintf(text, sizeof(text), "[frontend web]\nlisten = 127.0.0.1:8080\n"
	    "backend = app\n[backend app]\n%s[backend other]\n"
	    "server = 127.0.0.1:9001\n", servers);
	if (config_load_string("t.ini", text, &cfg, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	return cfg;
}

/* One entry per identity: written as configured or not. */
static void
test_get(void **state)
{
	struct overrides o = { NULL, 0 };
	struct override *a, *b;

	(void)state;
	assert_null(override_find(&o, "app", "127.0.0.1:9001"));
	assert_non_null(a = override_get(&o, "app", "127.0.0.1:9001"));
	assert_int_equal(a->admin, -1);
	assert_int_equal(a->weight, -1);
	a->weight = 4;
	assert_non_null(b = override_get(&o, "other", "127.0.0.1:9001"));
	assert_int_equal(o.n, 2);
	assert_ptr_equal(override_find(&o, "app", "127.0.0.1:9001"), &o.v[0]);
	assert_int_equal(override_get(&o, "app", "127.0.0.1:9001")->weight, 4);
	assert_int_equal(o.n, 2);
	override_free(&o);
	assert_int_equal(o.n, 0);
}

/* Weight and admin state land in the servers a publish reads. */
static void
test_apply(void **state)
{
	struct config *cfg = load("server = 127.0.0.1:9001 weight=2\n"
	    "server = [::1]:9002 disabled\nserver = 127.0.0.1:9003\n");
	struct overrides o = { NULL, 0 };
	struct server_conf *sv = cfg->backends[0].servers;

	(void)state;
	override_get(&o, "app", "127.0.0.1:9001")->weight = 0;
	override_get(&o, "app", "[::1]:9002")->admin = SHM_ADMIN_ACTIVE;
	override_get(&o, "app", "127.0.0.1:9003")->admin = SHM_ADMIN_DRAIN;
	override_get(&o, "other", "127.0.0.1:9001")->admin = SHM_ADMIN_MAINT;
	override_apply(&o, cfg);
	assert_int_equal(sv[0].weight, 0);
	assert_false(sv[0].disabled || sv[0].drain);
	assert_int_equal(sv[1].weight, 1);
	assert_false(sv[1].disabled || sv[1].drain);
	assert_true(sv[2].drain && !sv[2].disabled);
	assert_true(cfg->backends[1].servers[0].disabled);
	assert_false(cfg->backends[1].servers[0].drain);
	/* drain then maint: one state at a time. */
	override_get(&o, "app", "127.0.0.1:9003")->admin = SHM_ADMIN_MAINT;
	override_apply(&o, cfg);
	assert_true(sv[2].disabled && !sv[2].drain);
	override_free(&o);
	config_free(cfg);
}

/* A server the config no longer has loses its override, the others keep it. */
static void
test_prune(void **state)
{
	struct config *cfg = load("server = 127.0.0.1:9001\n");
	struct overrides o = { NULL, 0 };

	(void)state;
	override_get(&o, "app", "127.0.0.1:9002")->weight = 3;
	override_get(&o, "app", "127.0.0.1:9001")->weight = 5;
	override_get(&o, "gone", "127.0.0.1:9001")->admin = SHM_ADMIN_DRAIN;
	override_get(&o, "other", "127.0.0.1:9001")->admin = SHM_ADMIN_DRAIN;
	override_prune(&o, cfg);
	assert_int_equal(o.n, 2);
	assert_null(override_find(&o, "app", "127.0.0.1:9002"));
	assert_null(override_find(&o, "gone", "127.0.0.1:9001"));
	assert_int_equal(override_find(&o, "app", "127.0.0.1:9001")->weight, 5);
	assert_non_null(override_find(&o, "other", "127.0.0.1:9001"));
	override_free(&o);
	config_free(cfg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_get),
		cmocka_unit_test(test_apply),
		cmocka_unit_test(test_prune),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
