/*
 * Unit tests for route matching (route/route.c) and path normalisation
 * (http/target.c): file order, wildcards, prefix boundaries, and the
 * paths an attacker writes to reach a route they should not.
 */
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
#include "route/route.h"

#define HEAD \
	"[frontend web]\nlisten = 127.0.0.1:80\nbackend = app\n" \
	"[frontend other]\nlisten = 127.0.0.1:81\nbackend = app\n" \
	"[backend app]\nserver = 127.0.0.1:1\n" \
	"[backend api]\nserver = 127.0.0.1:2\n"

static struct config *cfg;
static struct route_table *tables;

static void
load(const char *routes)
{
	char text[4096], err[256];

	snprintf(text, sizeof(text), "%s%s", HEAD, routes);
	if (config_load_string("t.ini", text, &cfg, err, sizeof(err)) != 0)
		fail_msg("config: %s", err);
	assert_non_null(tables = route_tables_build(cfg));
}

static void
unload(void)
{
	route_tables_free(tables, cfg->nfrontends);
	config_free(cfg);
}

static struct http_span
span(const char *s)
{
	/* NULL: an absent field, as framing leaves a missing Host. */
	return (struct http_span){ s, s != NULL ? strlen(s) : 0 };
}

/* The name of the route frontend 0 picks, or "-". */
static const char *
pick_h(const char *method, const char *host, const char *path,
    const struct http_header *h, size_t nh)
{
	struct route_req r = {
		.host = span(host), .path = span(path),
		.method = span(method), .headers = h, .nheaders = nh,
	};
	const struct route_entry *e = route_match(&tables[0], &r);

	return e == NULL ? "-" : e->conf->name;
}

static const char *
pick(const char *host, const char *path)
{
	return pick_h("GET", host, path, NULL, 0);
}

static void
test_file_order(void **state)
{
	(void)state;
	load("[route wide]\nfrontend = web\npath_prefix = /\nbackend = api\n"
	    "[route narrow]\nfrontend = web\npath_prefix = /api/\n"
	    "backend = api\n");
	assert_string_equal(pick("a", "/api/x"), "wide");
	unload();
	load("[route narrow]\nfrontend = web\npath_prefix = /api/\n"
	    "backend = api\n"
	    "[route wide]\nfrontend = web\npath_prefix = /\nbackend = api\n");
	assert_string_equal(pick("a", "/api/x"), "narrow");
	assert_string_equal(pick("a", "/x"), "wide");
	unload();
}

static void
test_other_frontend(void **state)
{
	(void)state;
	load("[route r]\nfrontend = other\nbackend = api\n");
	assert_string_equal(pick("a", "/"), "-");
	assert_int_equal(tables[1].n, 1);
	assert_int_equal(cfg->frontends[1].nroutes, 1);
	unload();
}

static void
test_prefix_boundaries(void **state)
{
	(void)state;
	load("[route dir]\nfrontend = web\npath_prefix = /api/\nbackend = api\n"
	    "[route seg]\nfrontend = web\npath_prefix = /img\nbackend = api\n"
	    "[route exact]\nfrontend = web\npath_exact = /healthz\n"
	    "return = 200 ok\n");
	assert_string_equal(pick("a", "/api/"), "dir");
	assert_string_equal(pick("a", "/api/v1/x"), "dir");
	assert_string_equal(pick("a", "/api"), "-");
	assert_string_equal(pick("a", "/apix"), "-");
	assert_string_equal(pick("a", "/img"), "seg");
	assert_string_equal(pick("a", "/img/a.png"), "seg");
	assert_string_equal(pick("a", "/imgs"), "-");
	assert_string_equal(pick("a", "/images/a"), "-");
	assert_string_equal(pick("a", "/healthz"), "exact");
	assert_string_equal(pick("a", "/healthz/"), "-");
	assert_string_equal(pick("a", "/healthzz"), "-");
	assert_string_equal(pick("a", "/API/x"), "-");	/* paths keep case */
	unload();
}

static void
test_hosts(void **state)
{
	(void)state;
	load("[route exact]\nfrontend = web\nhost = API.Example.com\n"
	    "backend = api\n"
	    "[route wild]\nfrontend = web\nhost = *.example.com\n"
	    "backend = api\n"
	    "[route v6]\nfrontend = web\nhost = [::1]\nbackend = api\n");
	assert_string_equal(pick("api.example.com", "/"), "exact");
	assert_string_equal(pick("API.EXAMPLE.COM:8080", "/"), "exact");
	assert_string_equal(pick("api.example.com.", "/"), "exact");
	assert_string_equal(pick("www.example.com", "/"), "wild");
	assert_string_equal(pick("a.b.example.com:80", "/"), "wild");
	assert_string_equal(pick("example.com", "/"), "-");
	assert_string_equal(pick("badexample.com", "/"), "-");
	assert_string_equal(pick("example.com.evil", "/"), "-");
	assert_string_equal(pick("[::1]:8080", "/"), "v6");
	assert_string_equal(pick("", "/"), "-");
	assert_string_equal(pick_h("GET", NULL, "/", NULL, 0), "-");
	unload();
}

static void
test_methods_headers(void **state)
{
	struct http_header h[] = {
		{ span("x-canary"), span("1"), HTTP_F_OTHER },
		{ span("X-Team"), span("blue"), HTTP_F_OTHER },
	};

	(void)state;
	load("[route canary]\nfrontend = web\nheader = X-Canary: 1\n"
	    "header = x-team: blue\nbackend = api\n"
	    "[route writes]\nfrontend = web\nmethod = POST, PUT\n"
	    "backend = api\n");
	assert_string_equal(pick_h("GET", "a", "/", h, 2), "canary");
	assert_string_equal(pick_h("GET", "a", "/", h, 1), "-");
	h[0].value = span("10");
	assert_string_equal(pick_h("GET", "a", "/", h, 2), "-");
	assert_string_equal(pick_h("PUT", "a", "/", NULL, 0), "writes");
	assert_string_equal(pick_h("POST", "a", "/", NULL, 0), "writes");
	assert_string_equal(pick_h("post", "a", "/", NULL, 0), "-");
	assert_string_equal(pick_h("POSTX", "a", "/", NULL, 0), "-");
	unload();
}

/* The normal form of s, or "REFUSED". */
static const char *
norm(const char *s)
{
	static char out[256];
	ssize_t n = target_normalize(s, strlen(s), out);

	if (n < 0)
		return "REFUSED";
	out[n] = '\0';
	return out;
}

static void
test_normalize(void **state)
{
	char inplace[] = "/a%2db//c";
	ssize_t n;

	(void)state;
	assert_string_equal(norm("/"), "/");
	assert_string_equal(norm("/api/x"), "/api/x");
	assert_string_equal(norm("/%61pi/%7Euser"), "/api/~user");
	assert_string_equal(norm("/a%2fb"), "REFUSED");
	assert_string_equal(norm("/a%2Fb"), "REFUSED");
	assert_string_equal(norm("/a%5cb"), "REFUSED");
	assert_string_equal(norm("/a%00b"), "REFUSED");
	assert_string_equal(norm("/a%3fb%3a"), "/a%3Fb:");
	assert_string_equal(norm("/a%3b%3D%40%2c%21%20"), "/a;=@,!%20");
	assert_string_equal(norm("/a%23%25"), "/a%23%25");
	assert_string_equal(norm("//api///x//"), "/api/x/");
	assert_string_equal(norm("/a b"), "/a b");	/* scan.c's job */
	assert_string_equal(norm("/%"), "REFUSED");
	assert_string_equal(norm("/%4"), "REFUSED");
	assert_string_equal(norm("/%zz"), "REFUSED");
	assert_string_equal(norm("x/y"), "REFUSED");
	assert_string_equal(norm("/a\\b"), "REFUSED");
	assert_string_equal(norm("/a#b"), "REFUSED");
	/* Dots: as segments refused, inside names kept. */
	assert_string_equal(norm("/api/../admin"), "REFUSED");
	assert_string_equal(norm("/api/./x"), "REFUSED");
	assert_string_equal(norm("/api/.."), "REFUSED");
	assert_string_equal(norm("/api/."), "REFUSED");
	assert_string_equal(norm("/.."), "REFUSED");
	assert_string_equal(norm("/api/%2e%2e/admin"), "REFUSED");
	assert_string_equal(norm("/api/%2E./admin"), "REFUSED");
	assert_string_equal(norm("/api/.%2e"), "REFUSED");
	assert_string_equal(norm("/api//..//admin"), "REFUSED");
	/* Servlet containers read "..;x" as "..". */
	assert_string_equal(norm("/foo/..;/admin"), "REFUSED");
	assert_string_equal(norm("/foo/.;x/admin"), "REFUSED");
	assert_string_equal(norm("/foo/..%3b/admin"), "REFUSED");
	assert_string_equal(norm("/foo/..;"), "REFUSED");
	assert_string_equal(norm("/foo/;/x"), "/foo/;/x");
	assert_string_equal(norm("/foo/...;/x"), "/foo/...;/x");
	assert_string_equal(norm("/.well-known/x"), "/.well-known/x");
	assert_string_equal(norm("/a..b/...//x."), "/a..b/.../x.");
	/* In place, as the worker does it. */
	n = target_normalize(inplace, strlen(inplace), inplace);
	assert_int_equal(n, 6);
	assert_memory_equal(inplace, "/a-b/c", 6);
}

/* What a route for /api/ sees of paths that try to leave it. */
static void
test_attacks(void **state)
{
	static const char *const sneaky[] = {
		"/api/../admin", "/api/%2e%2e/admin", "/api%2f..%2fadmin",
		"/api/..%2fadmin", "/api/.%2E/admin", "/api/..\\admin",
	};
	const char *p;
	size_t i;

	(void)state;
	load("[route admin]\nfrontend = web\npath_prefix = /admin/\n"
	    "return = 403\n"
	    "[route api]\nfrontend = web\npath_prefix = /api/\n"
	    "backend = api\n");
	for (i = 0; i < sizeof(sneaky) / sizeof(sneaky[0]); i++)
		assert_string_equal(norm(sneaky[i]), "REFUSED");
	/* Encoded and doubled slashes reach the route they name. */
	p = norm("//%61dmin//x");
	assert_string_equal(pick("a", p), "admin");
	p = norm("/%41dmin/x");		/* "/Admin/x": paths keep case */
	assert_string_equal(pick("a", p), "-");
	unload();
	/* A segment prefix takes ';' parameters, encoded or not. */
	load("[route admin]\nfrontend = web\npath_prefix = /admin\n"
	    "return = 403\n");
	assert_string_equal(pick("a", norm("/admin;jsessionid=1")), "admin");
	assert_string_equal(pick("a", norm("/admin;/x")), "admin");
	assert_string_equal(pick("a", norm("/admin%3bx/y")), "admin");
	assert_string_equal(pick("a", norm("/admin/x")), "admin");
	assert_string_equal(pick("a", norm("/adminx")), "-");
	unload();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_file_order),
		cmocka_unit_test(test_other_frontend),
		cmocka_unit_test(test_prefix_boundaries),
		cmocka_unit_test(test_hosts),
		cmocka_unit_test(test_methods_headers),
		cmocka_unit_test(test_normalize),
		cmocka_unit_test(test_attacks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
