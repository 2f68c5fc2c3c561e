/* Unit tests for common/config.c: a full file, defaults, every error class. */
#include "autoconf.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/config.h"
#include "common/confval.h"
#include "common/log.h"
#include "http/hdrrule.h"

#define NAME "t.ini"

/* A frontend and backend that satisfy every whole-file rule. */
#define MINIMAL \
	"[frontend web]\n" \
	"listen = 127.0.0.1:8080\n" \
	"backend = app\n" \
	"[backend app]\n" \
	"server = 127.0.0.1:9001\n"

static struct config *
load_ok(const char *text)
{
	struct config *cfg = NULL;
	char err[512] = "";

	if (config_load_string(NAME, text, &cfg, err, sizeof(err)) != 0)
		fail_msg("unexpected error: %s", err);
	assert_non_null(cfg);
	return cfg;
}

/*
 * Loading text must fail with a message that starts with prefix (NAME:LINE:
 * or NAME:) and contains word.
 */
static void
load_err(const char *text, const char *prefix, const char *word)
{
	struct config *cfg = NULL;
	char err[512] = "";

	assert_int_equal(config_load_string(NAME, text, &cfg, err,
	    sizeof(err)), -1);
	assert_null(cfg);
	if (strncmp(err, prefix, strlen(prefix)) != 0 ||
	    strstr(err, word) == NULL)
		fail_msg("error '%s' does not start with '%s' and mention '%s'",
		    err, prefix, word);
}

static const char *
addr_str(const struct sockaddr_storage *ss)
{
	static char buf[128];

	confval_addr_str((const struct sockaddr *)ss, buf, sizeof(buf));
	return buf;
}

static const char full_text[] =
    "; weir test file\n"					/* 1 */
    "# both comment styles\n"					/* 2 */
    "\n"							/* 3 */
    "[global]\n"						/* 4 */
    "workers = 4 ; inline comment\n"				/* 5 */
    "log_level = debug # another\n"				/* 6 */
    "pidfile = /run/we#ir.pid\n"				/* 7 */
    "max_connections = 500\n"					/* 8 */
    "\n"							/* 9 */
    "[frontend web]\n"						/* 10 */
    "\tlisten = 127.0.0.1:8080\n"				/* 11 */
    "    listen = [::1]:8080   ; IPv6\n"			/* 12 */
    "backend = app\n"						/* 13 */
    "client_timeout = 1500ms\n"					/* 14 */
    "max_header_size = 32K\n"					/* 15 */
    "max_body_size = 0\n"					/* 16 */
    "\n"							/* 17 */
    "[frontend admin]\n"					/* 18 */
    "listen = *:9090\n"						/* 19 */
    "backend=static\n"						/* 20 */
    "\n"							/* 21 */
    "[backend app]\n"						/* 22 */
    "balance = roundrobin\n"					/* 23 */
    "server = 127.0.0.1:9001 weight=5\n"			/* 24 */
    "  server = 127.0.0.1:9002   backup   weight=2 # spare\n"	/* 25 */
    "server = [::1]:9003\n"					/* 26 */
    "keepalive = 0\n"						/* 27 */
    "keepalive_timeout = 5m\n"					/* 28 */
    "connect_timeout = 250ms\n"					/* 29 */
    "response_timeout = 1h\n"					/* 30 */
    "\n"							/* 31 */
    "[ backend   static ]\r\n"					/* 32 */
    "server = 10.0.0.1:80\r\n";					/* 33 */

static void
test_full(void **state)
{
	struct config *cfg;
	struct frontend_conf *fe;
	struct backend_conf *be;

	(void)state;
	cfg = load_ok(full_text);
	assert_string_equal(cfg->path, NAME);
	assert_int_equal(cfg->workers, 4);
	assert_int_equal(cfg->log_level, LOG_LEVEL_DEBUG);
	assert_string_equal(cfg->pidfile, "/run/we#ir.pid");
	assert_int_equal(cfg->max_connections, 500);
	assert_int_equal(cfg->nfrontends, 2);
	assert_int_equal(cfg->nbackends, 2);

	fe = &cfg->frontends[0];
	assert_string_equal(fe->name, "web");
	assert_int_equal(fe->line, 10);
	assert_int_equal(fe->nlistens, 2);
	assert_string_equal(fe->listens[0].text, "127.0.0.1:8080");
	assert_int_equal(fe->listens[0].line, 11);
	assert_int_equal(fe->listens[0].addr.ss_family, AF_INET);
	assert_int_equal(fe->listens[0].addrlen, sizeof(struct sockaddr_in));
	assert_string_equal(fe->listens[1].text, "[::1]:8080");
	assert_int_equal(fe->listens[1].addr.ss_family, AF_INET6);
	assert_int_equal(fe->listens[1].addrlen, sizeof(struct sockaddr_in6));
	assert_string_equal(addr_str(&fe->listens[1].addr), "[::1]:8080");
	assert_string_equal(fe->backend_name, "app");
	assert_int_equal(fe->backend_line, 13);
	assert_int_equal(fe->backend, 0);
	assert_int_equal(fe->client_timeout_ms, 1500);
	assert_int_equal(fe->max_header_size, 32768);
	assert_int_equal(fe->max_body_size, 0);

	fe = &cfg->frontends[1];
	assert_string_equal(fe->name, "admin");
	assert_string_equal(addr_str(&fe->listens[0].addr), "0.0.0.0:9090");
	assert_string_equal(fe->backend_name, "static");
	assert_int_equal(fe->backend, 1);
	assert_int_equal(fe->client_timeout_ms, 30000);

	be = &cfg->backends[0];
	assert_string_equal(be->name, "app");
	assert_int_equal(be->line, 22);
	assert_int_equal(be->balance, CONFIG_BALANCE_ROUNDROBIN);
	assert_int_equal(be->nservers, 3);
	assert_string_equal(be->servers[0].name, "127.0.0.1:9001");
	assert_int_equal(be->servers[0].weight, 5);
	assert_false(be->servers[0].backup);
	assert_int_equal(be->servers[0].line, 24);
	assert_string_equal(be->servers[1].name, "127.0.0.1:9002");
	assert_int_equal(be->servers[1].weight, 2);
	assert_true(be->servers[1].backup);
	assert_int_equal(be->servers[1].line, 25);
	assert_string_equal(addr_str(&be->servers[2].addr), "[::1]:9003");
	assert_int_equal(be->servers[2].addrlen, sizeof(struct sockaddr_in6));
	assert_int_equal(be->servers[2].weight, 1);
	assert_int_equal(be->keepalive, 0);
	assert_int_equal(be->keepalive_timeout_ms, 300000);
	assert_int_equal(be->connect_timeout_ms, 250);
	assert_int_equal(be->response_timeout_ms, 3600000);

	be = &cfg->backends[1];
	assert_string_equal(be->name, "static");
	assert_int_equal(be->line, 32);
	assert_int_equal(be->nservers, 1);
	assert_int_equal(be->servers[0].line, 33);
	assert_int_equal(be->keepalive, 32);
	config_free(cfg);
}

static void
test_defaults(void **state)
{
	struct config *cfg;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	(void)state;
	cfg = load_ok(MINIMAL);
	if (ncpu < 1)
		ncpu = 1;
	if (ncpu > 256)
		ncpu = 256;
	assert_int_equal(cfg->workers, ncpu);
	assert_int_equal(cfg->log_level, LOG_LEVEL_INFO);
	assert_null(cfg->pidfile);
	assert_int_equal(cfg->max_connections, 10000);
	assert_int_equal(cfg->frontends[0].client_timeout_ms, 30000);
	assert_int_equal(cfg->frontends[0].max_header_size, 16384);
	assert_int_equal(cfg->frontends[0].max_body_size, 100ULL << 20);
	assert_int_equal(cfg->backends[0].balance, CONFIG_BALANCE_ROUNDROBIN);
	assert_int_equal(cfg->backends[0].keepalive, 32);
	assert_int_equal(cfg->backends[0].keepalive_timeout_ms, 60000);
	assert_int_equal(cfg->backends[0].connect_timeout_ms, 2000);
	assert_int_equal(cfg->backends[0].response_timeout_ms, 30000);
	assert_int_equal(cfg->backends[0].servers[0].weight, 1);
	assert_false(cfg->backends[0].servers[0].backup);
	config_free(cfg);

	cfg = load_ok("[global]\nworkers = auto\n" MINIMAL);
	assert_int_equal(cfg->workers, ncpu);
	config_free(cfg);
	cfg = load_ok("[global]\n" MINIMAL);
	config_free(cfg);
}

/* Section order does not matter: a frontend may name a later backend. */
static void
test_order_and_limits(void **state)
{
	struct config *cfg;

	(void)state;
	cfg = load_ok("[backend app]\nserver = 127.0.0.1:9001 weight=256\n"
	    "[frontend web]\nlisten = 127.0.0.1:8080\nbackend = app\n"
	    "max_header_size = 1k\nmax_body_size = 16g\nclient_timeout = 24h\n"
	    "[global]\nworkers = 256\nmax_connections = 1000000\n"
	    "log_level = error\n");
	assert_int_equal(cfg->workers, 256);
	assert_int_equal(cfg->max_connections, 1000000);
	assert_int_equal(cfg->log_level, LOG_LEVEL_ERROR);
	assert_int_equal(cfg->backends[0].servers[0].weight, 256);
	assert_int_equal(cfg->frontends[0].max_header_size, 1024);
	assert_int_equal(cfg->frontends[0].max_body_size, 16ULL << 30);
	assert_int_equal(cfg->frontends[0].client_timeout_ms, 86400000);
	config_free(cfg);

	/* Same port on different addresses is not a duplicate. */
	cfg = load_ok(MINIMAL "[frontend b]\nlisten = *:8080\n"
	    "listen = [::]:8080\nbackend = app\n");
	assert_int_equal(cfg->nfrontends, 2);
	config_free(cfg);

	/* The same server in two backends is fine. */
	cfg = load_ok(MINIMAL "[backend other]\nserver = 127.0.0.1:9001\n");
	config_free(cfg);

	/* A UTF-8 byte order mark is skipped. */
	cfg = load_ok("\xef\xbb\xbf" MINIMAL);
	config_free(cfg);
}

/*
 * inih r55 would deliver an indented line after a key as one more value of
 * that key. The reader strips indentation, so the line is its own key and
 * its bad value is reported on its own line.
 */
static void
test_indented_line_not_eaten(void **state)
{
	struct config *cfg;

	(void)state;
	load_err("[frontend web]\nlisten = 127.0.0.1:8080\nbackend = app\n"
	    "[backend app]\n"
	    "server = 127.0.0.1:9001\n"
	    "  balance = rr\n", NAME ":6:", "'rr'");
	cfg = load_ok("[frontend web]\nlisten = 127.0.0.1:8080\nbackend = app\n"
	    "[backend app]\nserver = 127.0.0.1:9001\n"
	    "  keepalive = 7\n");
	assert_int_equal(cfg->backends[0].nservers, 1);
	assert_int_equal(cfg->backends[0].keepalive, 7);
	config_free(cfg);
	/* An indented server line after a server line is a second server. */
	cfg = load_ok(MINIMAL "  server = 127.0.0.1:9002\n");
	assert_int_equal(cfg->backends[0].nservers, 2);
	config_free(cfg);
}

static void
test_err_sections(void **state)
{
	(void)state;
	load_err("[foo]\n" MINIMAL, NAME ":1:", "unknown section '[foo]'");
	load_err(MINIMAL "[frontend]\n", NAME ":6:", "needs exactly one name");
	load_err(MINIMAL "[backend]\n", NAME ":6:", "[backend NAME]");
	load_err("[global x]\n" MINIMAL, NAME ":1:", "takes no name");
	load_err(MINIMAL "[frontend a b]\n", NAME ":6:", "exactly one name");
	load_err("[]\n" MINIMAL, NAME ":1:", "unknown section '[]'");
	load_err("[global\n" MINIMAL, NAME ":1:", "']'");
	load_err("[global] x\n" MINIMAL, NAME ":1:", "']'");
	load_err(MINIMAL "[frontend a/b]\n", NAME ":6:",
	    "invalid frontend name");
	/* Names fit the shared-memory slots they key: 47 bytes, not 48. */
	config_free(load_ok("[frontend web]\nlisten = 127.0.0.1:8080\n"
	    "backend = b1234567890123456789012345678901234567890123456\n"
	    "[backend b1234567890123456789012345678901234567890123456]\n"
	    "server = 127.0.0.1:9001\n"));
	load_err(MINIMAL "[backend "
	    "b12345678901234567890123456789012345678901234567]\n", NAME ":6:",
	    "invalid backend name");
	load_err("x = 1\n" MINIMAL, NAME ":1:", "outside of any section");
	load_err("[global]\n[global]\n" MINIMAL, NAME ":2:",
	    "duplicate [global] section (first at line 1)");
}

/* MINIMAL with the frontend last: keys appended land in it, at line 6. */
#define FE_LAST \
	"[backend app]\n" \
	"server = 127.0.0.1:9001\n" \
	"[frontend web]\n" \
	"listen = 127.0.0.1:8080\n" \
	"backend = app\n"

/* Issue 8's trust keys: defaults, values, and file:line errors. */
static void
test_trust_keys(void **state)
{
	const struct frontend_conf *fe;
	struct config *cfg;

	(void)state;
	cfg = load_ok(MINIMAL);
	fe = &cfg->frontends[0];
	assert_int_equal(fe->allow_trace, 0);
	assert_int_equal(fe->underscore_headers, CONFIG_UNDERSCORE_DROP);
	assert_int_equal(fe->ntrusted, 0);
	assert_null(fe->trusted);
	assert_int_equal(fe->nupgrade_allow, 1);
	assert_string_equal(fe->upgrade_allow[0], "websocket");
	config_free(cfg);

	cfg = load_ok(MINIMAL "[frontend b]\nlisten = 127.0.0.1:8081\n"
	    "backend = app\nallow_trace = yes\nunderscore_headers = reject\n"
	    "trusted_proxies = 10.0.0.0/8, 192.0.2.7 ,fd00::/8,::1\n"
	    "upgrade_allow = WebSocket, my-proto\n");
	fe = &cfg->frontends[1];
	assert_int_equal(fe->allow_trace, 1);
	assert_int_equal(fe->underscore_headers, CONFIG_UNDERSCORE_REJECT);
	assert_int_equal(fe->ntrusted, 4);
	assert_int_equal(fe->trusted[0].family, AF_INET);
	assert_int_equal(fe->trusted[0].bits, 8);
	assert_int_equal(fe->trusted[1].bits, 32);
	assert_int_equal(fe->trusted[2].family, AF_INET6);
	assert_int_equal(fe->trusted[2].bits, 8);
	assert_int_equal(fe->trusted[3].bits, 128);
	assert_int_equal(fe->nupgrade_allow, 2);
	assert_string_equal(fe->upgrade_allow[0], "websocket");
	assert_string_equal(fe->upgrade_allow[1], "my-proto");
	config_free(cfg);

	cfg = load_ok(FE_LAST "underscore_headers = pass\n"
	    "upgrade_allow = none\n");
	assert_int_equal(cfg->frontends[0].underscore_headers,
	    CONFIG_UNDERSCORE_PASS);
	assert_int_equal(cfg->frontends[0].nupgrade_allow, 0);
	config_free(cfg);

	load_err(FE_LAST "allow_trace = maybe\n", NAME ":6:", "allow_trace");
	load_err(FE_LAST "underscore_headers = keep\n", NAME ":6:",
	    "drop pass reject");
	load_err(FE_LAST "trusted_proxies = 10.0.0.0/33\n", NAME ":6:",
	    "'10.0.0.0/33'");
	load_err(FE_LAST "trusted_proxies = 10.0.0.1/8\n", NAME ":6:",
	    "beyond the prefix");
	load_err(FE_LAST "trusted_proxies = 10.0.0.0/8,\n", NAME ":6:",
	    "empty entry");
	load_err(FE_LAST "trusted_proxies = example.com\n", NAME ":6:",
	    "'example.com'");
	load_err(FE_LAST "trusted_proxies = 10.0.0.0/\n", NAME ":6:",
	    "prefix length");
	load_err(FE_LAST "trusted_proxies = fd00::/129\n", NAME ":6:",
	    "out of range");
	load_err(FE_LAST "upgrade_allow = web socket\n", NAME ":6:",
	    "upgrade_allow");
	load_err(FE_LAST "upgrade_allow = websocket,,h2\n", NAME ":6:",
	    "invalid protocol");
}

/* Issue 10's access log and request id keys. */
/* auth, auth_file, auth_realm, auth_forward: frontend and route. */
static void
test_auth_keys(void **state)
{
	struct config *cfg;
	const struct policy_conf *fe, *r1, *r2;

	(void)state;
	cfg = load_ok(FE_LAST "auth = basic\nauth_file = /etc/weir/pw\n"
	    "[route a]\nfrontend = web\npath_prefix = /a/\nbackend = app\n"
	    "auth = off\n"
	    "[route b]\nfrontend = web\npath_prefix = /b/\nbackend = app\n");
	fe = &cfg->frontends[0].policy;
	r1 = &cfg->routes[0].policy;
	r2 = &cfg->routes[1].policy;
	assert_int_equal(fe->auth, CONFIG_AUTH_BASIC);
	assert_string_equal(fe->auth_file.s, "/etc/weir/pw");
	assert_int_equal(fe->auth_file.line, 7);
	assert_null(fe->auth_realm.s);		/* "weir" when answering */
	assert_false(fe->auth_forward);
	assert_null(fe->auth_users);		/* the master reads it later */
	assert_int_equal(r1->auth, CONFIG_AUTH_OFF);
	assert_int_equal(r2->auth, CONFIG_AUTH_UNSET);	/* the frontend's */
	config_free(cfg);
	cfg = load_ok(FE_LAST "auth = basic\nauth_file = pw\n"
	    "auth_realm = Staff only (v2)\nauth_forward = yes\n");
	fe = &cfg->frontends[0].policy;
	assert_string_equal(fe->auth_realm.s, "Staff only (v2)");
	assert_true(fe->auth_forward);
	config_free(cfg);
	load_err(FE_LAST "auth = digest\n", NAME ":6:", "expected basic or "
	    "off");
	load_err(FE_LAST "auth = basic\n", NAME ":6:", "needs 'auth_file'");
	load_err(FE_LAST "auth_file = pw\n", NAME ":6:", "without 'auth = "
	    "basic'");
	load_err(FE_LAST "auth_forward = yes\n", NAME ":6:", "without");
	load_err(FE_LAST "auth = basic\nauth_file = pw\nauth_realm = a\"b\n",
	    NAME ":8:", "auth_realm");
	load_err(FE_LAST "auth = basic\nauth_file = pw\nauth_realm = a\\b\n",
	    NAME ":8:", "auth_realm");
	load_err(FE_LAST "auth = basic\nauth_file = pw\nauth_forward = 2\n",
	    NAME ":8:", "auth_forward");
	load_err(FE_LAST "[route a]\nfrontend = web\npath_prefix = /a/\n"
	    "backend = app\nauth_realm = x\n", NAME ":10:", "without");
	load_err(FE_LAST "auth = basic\nauth_file = a\nauth_file = b\n",
	    NAME ":8:", "duplicate key 'auth_file'");
}

static void
test_access_log_keys(void **state)
{
	const struct frontend_conf *fe;
	struct config *cfg;

	(void)state;
	cfg = load_ok(MINIMAL);
	fe = &cfg->frontends[0];
	assert_int_equal(fe->access_log, CONFIG_ACCESS_LOG_OFF);
	assert_null(fe->access_log_path);
	assert_int_equal(fe->access_log_format, CONFIG_LOG_JSON);
	assert_null(fe->request_id);
	assert_int_equal(fe->request_id_trust, 0);
	config_free(cfg);

	cfg = load_ok(FE_LAST "access_log = /var/log/weir/a.log ; note\n"
	    "access_log_format = combined\nrequest_id = X-Trace-9\n"
	    "request_id_trust = yes\n");
	fe = &cfg->frontends[0];
	assert_int_equal(fe->access_log, CONFIG_ACCESS_LOG_FILE);
	assert_string_equal(fe->access_log_path, "/var/log/weir/a.log");
	assert_int_equal(fe->access_log_line, 6);
	assert_int_equal(fe->access_log_format, CONFIG_LOG_COMBINED);
	assert_string_equal(fe->request_id, "X-Trace-9");
	assert_int_equal(fe->request_id_trust, 1);
	config_free(cfg);

	cfg = load_ok(FE_LAST "access_log = syslog\nrequest_id = off\n");
	assert_int_equal(cfg->frontends[0].access_log,
	    CONFIG_ACCESS_LOG_SYSLOG);
	assert_null(cfg->frontends[0].access_log_path);
	assert_null(cfg->frontends[0].request_id);
	config_free(cfg);

	load_err(FE_LAST "access_log_format = xml\n", NAME ":6:",
	    "json combined");
	load_err(FE_LAST "request_id = X_Request_Id\n", NAME ":6:",
	    "invalid header name");
	load_err(FE_LAST "request_id = X-Request-Id:\n", NAME ":6:",
	    "invalid header name");
	load_err(FE_LAST "request_id = x-forwarded-FOR\n", NAME ":6:",
	    "manages itself");
	load_err(FE_LAST "request_id = Host\n", NAME ":6:", "manages itself");
	load_err(FE_LAST "request_id_trust = perhaps\n", NAME ":6:",
	    "request_id_trust");
	load_err(FE_LAST "access_log = /a\naccess_log = /b\n", NAME ":7:",
	    "duplicate key");
}

static void
test_err_keys(void **state)
{
	(void)state;
	load_err("[global]\nbogus = 1\n" MINIMAL, NAME ":2:",
	    "unknown key 'bogus' in [global]");
	load_err(MINIMAL "color = red\n", NAME ":6:",
	    "unknown key 'color' in [backend app]");
	load_err("[frontend web]\nserver = 127.0.0.1:1\n", NAME ":2:",
	    "unknown key 'server' in [frontend web]");
	load_err("[global]\nlisten = *:80\n" MINIMAL, NAME ":2:",
	    "in [global]");
	load_err("[global]\nworkers =\n" MINIMAL, NAME ":2:", "missing value");
	load_err("[global]\nworkers = ; nothing\n" MINIMAL, NAME ":2:",
	    "missing value");
	load_err("[global]\nworkers = 2\nworkers = 3\n" MINIMAL, NAME ":3:",
	    "duplicate key 'workers' in [global] (first at line 2)");
	load_err(MINIMAL "keepalive = 1\n  keepalive = 2\n", NAME ":7:",
	    "duplicate key 'keepalive'");
	load_err("[frontend web]\nlisten = 127.0.0.1:8080\nbackend = app\n"
	    "backend = app\n[backend app]\nserver = 127.0.0.1:9001\n",
	    NAME ":4:", "duplicate key 'backend'");
}

/* Lines that inih itself would refuse or mangle. */
static void
test_err_lines(void **state)
{
	char text[1024], line[256];
	struct config *cfg;

	(void)state;
	load_err("[global]\nworkers\n" MINIMAL, NAME ":2:",
	    "expected 'key = value', got 'workers'");
	load_err("[global]\nworkers: 4\n" MINIMAL, NAME ":2:",
	    "expected 'key = value'");
	load_err("[global]\n= 4\n" MINIMAL, NAME ":2:", "missing key");

	/* 199 bytes is the most a line may hold; 200 is refused. */
	memset(line, 'x', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\0';
	snprintf(text, sizeof(text), "[global]\npidfile = /%.*s\n" MINIMAL,
	    199 - 11, line);
	cfg = load_ok(text);
	assert_int_equal(strlen(cfg->pidfile), 199 - 10);
	config_free(cfg);
	snprintf(text, sizeof(text), "[global]\npidfile = /%.*s\n" MINIMAL,
	    200 - 11, line);
	load_err(text, NAME ":2:", "line too long (max 199 bytes)");
	snprintf(text, sizeof(text), MINIMAL "#%.*s\n", 199, line);
	load_err(text, NAME ":6:", "line too long (max 199 bytes)");
	/* Indentation counts: inih would have cut the raw line too. */
	snprintf(text, sizeof(text), MINIMAL "    #%.*s\n", 195, line);
	load_err(text, NAME ":6:", "line too long");
}

/* The balancing keys: algorithms, hash keys, bounded loads, slow start. */
static void
test_balancing_keys(void **state)
{
	struct config *cfg;
	const struct backend_conf *be;

	(void)state;
	cfg = load_ok(MINIMAL "balance = hash\nhash_key = cookie:sid\n"
	    "hash_bounded = 1.25\nslow_start = 30s\n"
	    "server = [::1]:9002 weight=3 disabled\n");
	be = &cfg->backends[0];
	assert_int_equal(be->balance, CONFIG_BALANCE_HASH);
	assert_int_equal(be->hash_key, CONFIG_HASH_COOKIE);
	assert_string_equal(be->hash_key_name, "sid");
	assert_int_equal(be->hash_bounded_pct, 125);
	assert_int_equal(be->slow_start_ms, 30000);
	assert_false(be->servers[0].disabled);
	assert_true(be->servers[1].disabled);
	assert_string_equal(be->servers[1].id, "[::1]:9002");
	config_free(cfg);
	cfg = load_ok(MINIMAL "balance = leastconn\nhash_key = header:X-User\n"
	    "hash_bounded = 2\n");
	be = &cfg->backends[0];
	assert_int_equal(be->balance, CONFIG_BALANCE_LEASTCONN);
	assert_int_equal(be->hash_key, CONFIG_HASH_HEADER);
	assert_string_equal(be->hash_key_name, "X-User");
	assert_int_equal(be->hash_bounded_pct, 200);
	assert_int_equal(be->slow_start_ms, 0);
	config_free(cfg);
	cfg = load_ok(MINIMAL "balance = random2\nhash_key = uri\n");
	assert_int_equal(cfg->backends[0].balance, CONFIG_BALANCE_RANDOM2);
	assert_int_equal(cfg->backends[0].hash_key, CONFIG_HASH_URI);
	assert_null(cfg->backends[0].hash_key_name);
	assert_int_equal(cfg->backends[0].hash_bounded_pct, 0);
	config_free(cfg);
}

/* Health checks, passive failure handling, retries, drain and log file. */
static void
test_failure_keys(void **state)
{
	struct config *cfg;
	const struct backend_conf *be;

	(void)state;
	cfg = load_ok("[global]\ndrain_timeout = 5s\nlog_file = /tmp/w.log\n"
	    MINIMAL "health_check = http\nhealth_path = /healthz\n"
	    "health_host = app.internal\nhealth_expect = 200-299,404\n"
	    "health_interval = 500ms\nhealth_timeout = 200ms\n"
	    "health_rise = 4\nhealth_fall = 5\nhealth_initial = down\n"
	    "max_fails = 7\nfail_timeout = 3s\nfail_on_5xx = yes\n"
	    "max_ejected_percent = 30%\nretries = 3\nretry_backoff = 20ms\n"
	    "retry_budget = 15\n");
	be = &cfg->backends[0];
	assert_int_equal(cfg->drain_timeout_ms, 5000);
	assert_string_equal(cfg->log_file, "/tmp/w.log");
	assert_int_equal(be->health_check, CONFIG_HEALTH_HTTP);
	assert_string_equal(be->health_path, "/healthz");
	assert_string_equal(be->health_host, "app.internal");
	assert_int_equal(be->nhealth_expect, 2);
	assert_int_equal(be->health_expect[0].lo, 200);
	assert_int_equal(be->health_expect[0].hi, 299);
	assert_int_equal(be->health_expect[1].lo, 404);
	assert_int_equal(be->health_expect[1].hi, 404);
	assert_int_equal(be->health_interval_ms, 500);
	assert_int_equal(be->health_timeout_ms, 200);
	assert_int_equal(be->health_rise, 4);
	assert_int_equal(be->health_fall, 5);
	assert_true(be->health_initial_down);
	assert_int_equal(be->max_fails, 7);
	assert_int_equal(be->fail_timeout_ms, 3000);
	assert_true(be->fail_on_5xx);
	assert_int_equal(be->max_ejected_percent, 30);
	assert_int_equal(be->retries, 3);
	assert_int_equal(be->retry_backoff_ms, 20);
	assert_int_equal(be->retry_budget_pct, 15);
	config_free(cfg);
	/* Defaults. */
	cfg = load_ok(MINIMAL);
	be = &cfg->backends[0];
	assert_int_equal(cfg->drain_timeout_ms, 30000);
	assert_null(cfg->log_file);
	assert_int_equal(be->health_check, CONFIG_HEALTH_NONE);
	assert_int_equal(be->nhealth_expect, 1);
	assert_int_equal(be->health_expect[0].hi, 399);
	assert_int_equal(be->max_fails, 5);
	assert_int_equal(be->fail_timeout_ms, 10000);
	assert_false(be->fail_on_5xx);
	assert_int_equal(be->max_ejected_percent, 50);
	assert_int_equal(be->retries, 2);
	assert_int_equal(be->retry_backoff_ms, 10);
	assert_int_equal(be->retry_budget_pct, 20);
	config_free(cfg);
	load_err(MINIMAL "health_check = icmp\n", NAME ":6:", "'icmp'");
	load_err(MINIMAL "health_expect = 99\n", NAME ":6:", "200-399,404");
	load_err(MINIMAL "health_expect = 300-200\n", NAME ":6:", "health_expect");
	load_err(MINIMAL "health_expect = 200,\n", NAME ":6:", "health_expect");
	load_err(MINIMAL "health_rise = 0\n", NAME ":6:", "health_rise");
	load_err(MINIMAL "fail_on_5xx = maybe\n", NAME ":6:", "'maybe'");
	load_err(MINIMAL "max_ejected_percent = 101%\n", NAME ":6:",
	    "percentage");
	load_err(MINIMAL "retry_budget = 20%%\n", NAME ":6:", "percentage");
	load_err(MINIMAL "retries = 11\n", NAME ":6:", "retries");
	load_err("[global]\ndrain_timeout = 0\n" MINIMAL, NAME ":2:",
	    "drain_timeout");
}

static void
test_err_values(void **state)
{
	(void)state;
	load_err("[global]\nworkers = 0\n" MINIMAL, NAME ":2:",
	    "expected auto or a number from 1 to 256");
	load_err("[global]\nworkers = 257\n" MINIMAL, NAME ":2:", "'257'");
	load_err("[global]\nworkers = many\n" MINIMAL, NAME ":2:", "'many'");
	load_err("[global]\nlog_level = verbose\n" MINIMAL, NAME ":2:",
	    "expected one of: error warn info debug");
	load_err("[global]\nmax_connections = 0\n" MINIMAL, NAME ":2:",
	    "a number from 1 to 1000000");
	load_err("[global]\nmax_connections = 1000001\n" MINIMAL, NAME ":2:",
	    "out of range");
	load_err("[global]\nmax_connections = 10k\n" MINIMAL, NAME ":2:",
	    "not an integer");
	load_err(MINIMAL "keepalive = 10001\n", NAME ":6:",
	    "from 0 to 10000");
	load_err(MINIMAL "keepalive = -1\n", NAME ":6:", "keepalive");
	load_err(MINIMAL "balance = first\n", NAME ":6:", "'first'");
	load_err(MINIMAL "hash_key = body\n", NAME ":6:", "header:NAME");
	load_err(MINIMAL "hash_key = header:\n", NAME ":6:", "header:NAME");
	load_err(MINIMAL "hash_key = cookie:a;b\n", NAME ":6:", "invalid name");
	load_err(MINIMAL "hash_bounded = 0.5\n", NAME ":6:", "1.0 to 10.0");
	load_err(MINIMAL "hash_bounded = 11\n", NAME ":6:", "1.0 to 10.0");
	load_err(MINIMAL "hash_bounded = 1.2x\n", NAME ":6:", "'1.2x'");
	load_err(MINIMAL "slow_start = 2h\n", NAME ":6:", "1h");
	load_err(MINIMAL "server = 127.0.0.1:9002 disabled disabled\n",
	    NAME ":6:", "given twice");
	load_err(MINIMAL "connect_timeout = 2x\n", NAME ":6:", "unknown unit");
	load_err(MINIMAL "connect_timeout = 0\n", NAME ":6:",
	    "from 1ms to 24h");
	load_err(MINIMAL "response_timeout = 25h\n", NAME ":6:", "24h");
	load_err(MINIMAL "keepalive_timeout = 5000000000ms\n", NAME ":6:",
	    "too large");
	load_err(MINIMAL "keepalive_timeout = s\n", NAME ":6:", "duration");
	load_err("[frontend web]\nlisten = 127.0.0.1:8080\nbackend = app\n"
	    "client_timeout = 30 s\n", NAME ":4:", "'30 s'");
	load_err("[frontend web]\nmax_header_size = 512\n", NAME ":2:",
	    "from 1k to 64k");
	load_err("[frontend web]\nmax_header_size = 2m\n", NAME ":2:",
	    "out of range");
	load_err("[frontend web]\nmax_body_size = 1t\n", NAME ":2:",
	    "a size such as");
	load_err("[frontend web]\nmax_body_size = 99999999999g\n", NAME ":2:",
	    "too large");
}

static void
test_err_addresses(void **state)
{
	(void)state;
	load_err("[frontend web]\nlisten = localhost:80\n", NAME ":2:",
	    "listen: invalid address 'localhost:80'");
	load_err("[frontend web]\nlisten = ::1:80\n", NAME ":2:", "brackets");
	load_err("[frontend web]\nlisten = 127.0.0.1:0\n", NAME ":2:", "port");
	load_err("[frontend web]\nlisten = 127.0.0.1:65536\n", NAME ":2:",
	    "port");
	load_err("[frontend web]\nlisten = 127.0.0.1\n", NAME ":2:",
	    "missing port");
	load_err(MINIMAL "server = 127.0.0.1\n", NAME ":6:",
	    "server: invalid address '127.0.0.1'");
	load_err(MINIMAL "server = 127.0.0.1:1 weight=0\n", NAME ":6:",
	    "invalid weight '0'");
	load_err(MINIMAL "server = 127.0.0.1:1 weight=257\n", NAME ":6:",
	    "from 1 to 256");
	load_err(MINIMAL "server = 127.0.0.1:1 weight=\n", NAME ":6:",
	    "invalid weight ''");
	load_err(MINIMAL "server = 127.0.0.1:1 weight = 2\n", NAME ":6:",
	    "unknown option 'weight'");
	load_err(MINIMAL "server = 127.0.0.1:1 down\n", NAME ":6:",
	    "unknown option 'down'");
	load_err(MINIMAL "server = 127.0.0.1:1 backup backup\n", NAME ":6:",
	    "option 'backup' given twice");
	load_err(MINIMAL "server = 127.0.0.1:1 weight=2 weight=3\n",
	    NAME ":6:", "given twice");
}

static void
test_err_duplicates(void **state)
{
	(void)state;
	load_err(MINIMAL "[frontend web]\n", NAME ":6:",
	    "duplicate frontend 'web' (first at line 1)");
	load_err(MINIMAL "[backend app]\nserver = 127.0.0.1:1\n", NAME ":6:",
	    "duplicate backend 'app' (first at line 4)");
	load_err(MINIMAL "[frontend b]\nlisten = 127.0.0.1:8080\n", NAME ":7:",
	    "duplicate listen address '127.0.0.1:8080' (first at line 2)");
	load_err("[frontend web]\nlisten = [::1]:80\nlisten = [0::1]:80\n",
	    NAME ":3:", "duplicate listen address '[0::1]:80'");
	load_err(MINIMAL "server = 127.0.0.1:9001 backup\n", NAME ":6:",
	    "duplicate server '127.0.0.1:9001' in backend 'app' "
	    "(first at line 5)");
}

/* Rules checked once the whole file has been read. */
static void
test_err_whole_file(void **state)
{
	(void)state;
	load_err("", NAME ":", "no [frontend NAME] section");
	load_err("[global]\nworkers = 2\n", NAME ": ", "no [frontend");
	load_err("[frontend web]\nbackend = app\n"
	    "[backend app]\nserver = 127.0.0.1:1\n", NAME ":1:",
	    "frontend 'web' has no 'listen'");
	load_err("[frontend web]\nlisten = 127.0.0.1:80\n"
	    "[backend app]\nserver = 127.0.0.1:1\n", NAME ":1:",
	    "frontend 'web' has no 'backend' and no [route]");
	load_err("[frontend web]\nlisten = 127.0.0.1:80\n\nbackend = ap\n"
	    "[backend app]\nserver = 127.0.0.1:1\n", NAME ":4:",
	    "unknown backend 'ap'");
	load_err("[frontend web]\nlisten = 127.0.0.1:80\nbackend = app\n"
	    "\n[backend app]\nkeepalive = 1\n", NAME ":5:",
	    "backend 'app' has no 'server'");
	load_err(MINIMAL "[backend spare]\n", NAME ":6:",
	    "backend 'spare' has no 'server'");
}

/* A frontend with a TLS listener: the least the TLS rules accept. */
#define TLS_FE \
	"[frontend secure]\n" \
	"listen = 127.0.0.1:8443 tls\n" \
	"tls_cert = /etc/weir/a.pem\n" \
	"backend = app\n"

/* listen's "tls" flag, the frontend TLS keys and their defaults. */
static void
test_tls_frontend_keys(void **state)
{
	struct config *cfg;
	struct frontend_conf *fe;

	(void)state;
	cfg = load_ok(MINIMAL TLS_FE);
	assert_int_equal(cfg->nfrontends, 2);
	assert_false(cfg->frontends[0].any_tls);
	assert_false(cfg->frontends[0].listens[0].tls);
	fe = &cfg->frontends[1];
	assert_true(fe->any_tls);
	assert_int_equal(fe->nlistens, 1);
	assert_true(fe->listens[0].tls);
	/* The flag is not part of the address. */
	assert_string_equal(fe->listens[0].text, "127.0.0.1:8443");
	assert_string_equal(addr_str(&fe->listens[0].addr), "127.0.0.1:8443");
	assert_int_equal(fe->ntls_certs, 1);
	assert_string_equal(fe->tls_certs[0].s, "/etc/weir/a.pem");
	assert_int_equal(fe->tls_certs[0].line, 8);
	/* Defaults. */
	assert_int_equal(fe->tls_min_version, CONFIG_TLS_12);
	assert_null(fe->tls_ciphers.s);
	assert_null(fe->tls_ciphersuites.s);
	assert_null(fe->tls_client_ca.s);
	assert_int_equal(fe->redirect_https, 0);
	assert_int_equal(cfg->tls_ticket_rotate_ms, 12 * 3600 * 1000);
	config_free(cfg);

	/* Plain and TLS listens mixed; every key set; tls_cert repeated. */
	cfg = load_ok("[global]\ntls_ticket_rotate = 30m\n"
	    "[frontend mixed]\n"				/* 3 */
	    "listen = 127.0.0.1:8080\n"				/* 4 */
	    "listen = [::1]:8443 tls\n"				/* 5 */
	    "listen = 127.0.0.1:8443\ttls\n"			/* 6 */
	    "tls_cert = /c/rsa.pem\n"				/* 7 */
	    "tls_cert = /c/ec.pem\n"				/* 8 */
	    "tls_cert = /c/other.pem\n"				/* 9 */
	    "tls_min_version = TLSv1.3\n"			/* 10 */
	    "tls_ciphers = ECDHE-ECDSA-AES128-GCM-SHA256\n"	/* 11 */
	    "tls_ciphersuites = TLS_AES_128_GCM_SHA256\n"	/* 12 */
	    "tls_client_ca = /c/ca.pem\n"			/* 13 */
	    "redirect_https = yes\n"				/* 14 */
	    "backend = app\n"
	    "[backend app]\nserver = 127.0.0.1:9001\n");
	assert_int_equal(cfg->tls_ticket_rotate_ms, 30 * 60 * 1000);
	assert_int_equal(config_line(cfg, "tls_ticket_rotate"), 2);
	fe = &cfg->frontends[0];
	assert_true(fe->any_tls);
	assert_int_equal(fe->nlistens, 3);
	assert_false(fe->listens[0].tls);
	assert_true(fe->listens[1].tls);
	assert_string_equal(fe->listens[1].text, "[::1]:8443");
	assert_true(fe->listens[2].tls);
	assert_string_equal(fe->listens[2].text, "127.0.0.1:8443");
	assert_int_equal(fe->listens[2].line, 6);
	assert_int_equal(fe->ntls_certs, 3);
	assert_string_equal(fe->tls_certs[0].s, "/c/rsa.pem");
	assert_int_equal(fe->tls_certs[0].line, 7);
	assert_string_equal(fe->tls_certs[1].s, "/c/ec.pem");
	assert_int_equal(fe->tls_certs[1].line, 8);
	assert_string_equal(fe->tls_certs[2].s, "/c/other.pem");
	assert_int_equal(fe->tls_certs[2].line, 9);
	assert_int_equal(fe->tls_min_version, CONFIG_TLS_13);
	assert_string_equal(fe->tls_ciphers.s, "ECDHE-ECDSA-AES128-GCM-SHA256");
	assert_int_equal(fe->tls_ciphers.line, 11);
	assert_string_equal(fe->tls_ciphersuites.s, "TLS_AES_128_GCM_SHA256");
	assert_int_equal(fe->tls_ciphersuites.line, 12);
	assert_string_equal(fe->tls_client_ca.s, "/c/ca.pem");
	assert_int_equal(fe->tls_client_ca.line, 13);
	assert_int_equal(fe->redirect_https, 1);
	config_free(cfg);

	cfg = load_ok(MINIMAL TLS_FE "tls_min_version = TLSv1.2\n");
	assert_int_equal(cfg->frontends[1].tls_min_version, CONFIG_TLS_12);
	config_free(cfg);
	/* redirect_https needs no TLS listener on its own frontend. */
	cfg = load_ok(MINIMAL "[frontend r]\nlisten = 127.0.0.1:80\n"
	    "redirect_https = on\nbackend = app\n");
	assert_int_equal(cfg->frontends[1].redirect_https, 1);
	config_free(cfg);
}

/* Errors of the frontend TLS keys, each with its line. */
static void
test_err_tls_frontend(void **state)
{
	(void)state;
	load_err(MINIMAL "[frontend s]\nlisten = 127.0.0.1:8443 ssl\n",
	    NAME ":7:", "listen: unknown option 'ssl' (expected ADDRESS or "
	    "ADDRESS tls)");
	load_err(MINIMAL "[frontend s]\nlisten = 127.0.0.1:8443 tls tls\n",
	    NAME ":7:", "unknown option 'tls tls'");
	load_err(MINIMAL "[frontend s]\nlisten = 127.0.0.1:8443 TLS\n",
	    NAME ":7:", "unknown option 'TLS'");
	load_err(MINIMAL "[frontend s]\nlisten = 127.0.0.1 tls\n",
	    NAME ":7:", "missing port");
	/* The flag does not make an address different. */
	load_err(MINIMAL "[frontend s]\nlisten = 127.0.0.1:8080 tls\n",
	    NAME ":7:", "duplicate listen address");
	/* TLS keys without a TLS listener: the key's own line. */
	load_err("[frontend web]\nlisten = 127.0.0.1:8080\nbackend = app\n"
	    "tls_cert = /a.pem\n[backend app]\nserver = 127.0.0.1:9001\n",
	    NAME ":4:", "frontend 'web' has TLS settings but no "
	    "'listen = ADDRESS tls'");
	load_err("[frontend web]\nlisten = 127.0.0.1:8080\nbackend = app\n"
	    "\ntls_client_ca = /ca.pem\n"
	    "[backend app]\nserver = 127.0.0.1:9001\n",
	    NAME ":5:", "has TLS settings");
	load_err("[frontend web]\nlisten = 127.0.0.1:8080\n"
	    "tls_ciphers = HIGH\nbackend = app\n"
	    "[backend app]\nserver = 127.0.0.1:9001\n",
	    NAME ":3:", "has TLS settings");
	load_err("[frontend web]\nlisten = 127.0.0.1:8080\n"
	    "tls_ciphersuites = TLS_AES_128_GCM_SHA256\nbackend = app\n"
	    "[backend app]\nserver = 127.0.0.1:9001\n",
	    NAME ":3:", "has TLS settings");
	/* A TLS listener without a certificate: the listen line. */
	load_err("[frontend web]\nlisten = 127.0.0.1:8080\n"
	    "listen = 127.0.0.1:8443 tls\nbackend = app\n"
	    "[backend app]\nserver = 127.0.0.1:9001\n",
	    NAME ":3:", "listen 127.0.0.1:8443 tls: frontend 'web' has no "
	    "'tls_cert'");
	load_err(MINIMAL TLS_FE "tls_min_version = TLSv1.1\n", NAME ":10:",
	    "'TLSv1.1'");
	load_err(MINIMAL TLS_FE "tls_min_version = TLSv1.0\n", NAME ":10:",
	    "tls_min_version");
	load_err(MINIMAL TLS_FE "tls_min_version = tlsv1.3\n", NAME ":10:",
	    "TLSv1.2 TLSv1.3");
	load_err(MINIMAL TLS_FE "tls_min_version = TLSv1.2\n"
	    "tls_min_version = TLSv1.3\n", NAME ":11:", "duplicate key "
	    "'tls_min_version'");
	load_err(MINIMAL TLS_FE "tls_client_ca = /a\ntls_client_ca = /b\n",
	    NAME ":11:", "duplicate key 'tls_client_ca'");
	load_err(MINIMAL TLS_FE "redirect_https = maybe\n", NAME ":10:",
	    "'maybe'");
	load_err("[global]\ntls_ticket_rotate = 30s\n" MINIMAL, NAME ":2:",
	    "tls_ticket_rotate");
	load_err("[global]\ntls_ticket_rotate = 8d\n" MINIMAL, NAME ":2:",
	    "7d");
	load_err(MINIMAL "tls_cert = /a.pem\n", NAME ":6:", "unknown key");
}

/* The server "tls" flag and the backend TLS keys. */
static void
test_tls_backend_keys(void **state)
{
	struct config *cfg;
	struct backend_conf *be;

	(void)state;
	cfg = load_ok(MINIMAL);
	be = &cfg->backends[0];
	assert_false(be->any_tls);
	assert_false(be->servers[0].tls);
	assert_int_equal(be->tls_verify, 1);
	assert_null(be->tls_ca.s);
	assert_null(be->tls_sni);
	config_free(cfg);

	cfg = load_ok(MINIMAL "server = 127.0.0.1:9002 tls weight=3\n"
	    "server = 127.0.0.1:9003 backup tls\n"
	    "tls_verify = no\ntls_ca = /c/ca.pem\n"
	    "tls_sni = Api-1.example.com\n");
	be = &cfg->backends[0];
	assert_true(be->any_tls);
	assert_false(be->servers[0].tls);
	assert_true(be->servers[1].tls);
	assert_int_equal(be->servers[1].weight, 3);
	assert_true(be->servers[2].tls);
	assert_true(be->servers[2].backup);
	assert_int_equal(be->tls_verify, 0);
	assert_string_equal(be->tls_ca.s, "/c/ca.pem");
	assert_int_equal(be->tls_ca.line, 9);
	assert_string_equal(be->tls_sni, "Api-1.example.com");
	config_free(cfg);

	load_err(MINIMAL "server = 127.0.0.1:9002 tls tls\n", NAME ":6:",
	    "option 'tls' given twice");
	load_err(MINIMAL "server = 127.0.0.1:9002 ssl\n", NAME ":6:",
	    "unknown option 'ssl' (expected weight=N, max_conns=N, backup, "
	    "disabled or tls)");
	load_err(MINIMAL "tls_sni = a_b.example\n", NAME ":6:",
	    "tls_sni: invalid host name 'a_b.example'");
	load_err(MINIMAL "tls_sni = .example.com\n", NAME ":6:",
	    "invalid host name");
	load_err(MINIMAL "tls_sni = -a.example.com\n", NAME ":6:",
	    "invalid host name");
	load_err(MINIMAL "tls_sni = 127.0.0.1:443\n", NAME ":6:",
	    "invalid host name");
	load_err(MINIMAL "tls_sni = a b\n", NAME ":6:", "invalid host name");
	load_err(MINIMAL "tls_verify = sometimes\n", NAME ":6:",
	    "'sometimes'");
}

/* Only the first error is kept; a short buffer is truncated, not overrun. */
static void
test_err_buffer(void **state)
{
	struct config *cfg = NULL;
	char err[8];

	(void)state;
	memset(err, 'z', sizeof(err));
	assert_int_equal(config_load_string(NAME, "[foo]\n[bar]\n", &cfg,
	    err, sizeof(err)), -1);
	assert_string_equal(err, "t.ini:1");
	assert_int_equal(config_load_string(NAME, "[foo]\n", &cfg, NULL, 0),
	    -1);
	assert_null(cfg);
	config_free(NULL);
}

static void
test_load_file(void **state)
{
	char path[] = "/tmp/test_config.XXXXXX";
	struct config *cfg = NULL;
	char err[512];
	FILE *fp;
	int fd;

	(void)state;
	assert_true((fd = mkstemp(path)) != -1);
	assert_non_null(fp = fdopen(fd, "w"));
	fputs(MINIMAL "bogus = 1\n", fp);
	fclose(fp);
	assert_int_equal(config_load(path, &cfg, err, sizeof(err)), -1);
	assert_int_equal(strncmp(err, path, strlen(path)), 0);
	assert_string_equal(err + strlen(path),
	    ":6: unknown key 'bogus' in [backend app]");

	assert_non_null(fp = fopen(path, "w"));
	fputs(MINIMAL, fp);
	fclose(fp);
	assert_int_equal(config_load(path, &cfg, err, sizeof(err)), 0);
	assert_string_equal(cfg->path, path);
	assert_int_equal(cfg->nfrontends, 1);
	config_free(cfg);
	unlink(path);

	cfg = NULL;
	assert_int_equal(config_load(path, &cfg, err, sizeof(err)), -1);
	assert_null(cfg);
	assert_int_equal(strncmp(err, path, strlen(path)), 0);
	assert_string_equal(err + strlen(path),
	    ": cannot open: No such file or directory");

	assert_non_null(fp = fopen(path, "w"));
	fwrite("[global]\nwork\0ers = 2\n", 1, 22, fp);
	fclose(fp);
	assert_int_equal(config_load(path, &cfg, err, sizeof(err)), -1);
	assert_string_equal(err + strlen(path), ":2: NUL byte in line");
	unlink(path);

	assert_int_equal(config_load("/", &cfg, err, sizeof(err)), -1);
	assert_string_equal(err, "/: read error: Is a directory");
}

/* [admin]: listen (TCP or unix), token_file, and their lines. */
static void
test_admin_section(void **state)
{
	struct config *cfg;
	const struct sockaddr_in *sin;

	(void)state;
	cfg = load_ok(MINIMAL);
	assert_null(cfg->admin);
	config_free(cfg);

	cfg = load_ok("[admin]\n"					/* 1 */
	    "listen = 127.0.0.1:9100\n"				/* 2 */
	    "token_file = /etc/weir/admin.token ; x\n"		/* 3 */
	    MINIMAL);
	assert_non_null(cfg->admin);
	assert_int_equal(cfg->admin->line, 1);
	assert_string_equal(cfg->admin->listen, "127.0.0.1:9100");
	assert_int_equal(cfg->admin->listen_line, 2);
	assert_null(cfg->admin->unix_path);
	sin = (const struct sockaddr_in *)&cfg->admin->addr;
	assert_int_equal(sin->sin_family, AF_INET);
	assert_int_equal(ntohs(sin->sin_port), 9100);
	assert_string_equal(cfg->admin->token_file, "/etc/weir/admin.token");
	assert_int_equal(cfg->admin->token_line, 3);
	config_free(cfg);

	/* After the frontends too; no token_file: writes are refused. */
	cfg = load_ok(MINIMAL "[admin]\nlisten = unix:/run/weir/admin.sock\n");
	assert_string_equal(cfg->admin->unix_path, "/run/weir/admin.sock");
	assert_string_equal(cfg->admin->listen, "unix:/run/weir/admin.sock");
	assert_null(cfg->admin->token_file);
	config_free(cfg);
}

static void
test_err_admin(void **state)
{
	char text[512], path[200];

	(void)state;
	load_err("[admin]\n" MINIMAL, NAME ":1:", "[admin] has no 'listen'");
	load_err("[admin x]\nlisten = 127.0.0.1:1\n" MINIMAL, NAME ":1:",
	    "takes no name");
	load_err("[admin]\nlisten = 127.0.0.1:1\n[admin]\n" MINIMAL,
	    NAME ":3:", "duplicate [admin] section (first at line 1)");
	load_err("[admin]\nlisten = unix:run/a.sock\n" MINIMAL, NAME ":2:",
	    "invalid unix socket 'unix:run/a.sock'");
	memset(path, 'a', 110);
	path[110] = '\0';
	snprintf(text, sizeof(text), "[admin]\nlisten = unix:/%s\n" MINIMAL,
	    path);
	load_err(text, NAME ":2:", "at most 107 bytes");
	load_err("[admin]\nlisten = localhost:9100\n" MINIMAL, NAME ":2:",
	    "listen: invalid address 'localhost:9100'");
	load_err(MINIMAL "[admin]\nlisten = 127.0.0.1:8080\n", NAME ":7:",
	    "admin listen address '127.0.0.1:8080' is also a frontend's "
	    "listen address (line 2)");
	load_err("[admin]\nlisten = 127.0.0.1:1\nworkers = 2\n" MINIMAL,
	    NAME ":3:", "unknown key 'workers' in [admin]");
	load_err("[admin]\nlisten = 127.0.0.1:1\ntoken_file =\n" MINIMAL,
	    NAME ":3:", "token_file: missing value");
	load_err("[admin]\nlisten = 127.0.0.1:1\nlisten = 127.0.0.1:2\n"
	    MINIMAL, NAME ":3:", "duplicate key 'listen' in [admin]");
}

/*
 * config_reparse reads the text the config came from, not the file: an
 * edit made since does not show, and the copy is a config of its own.
 */
static void
test_reparse(void **state)
{
	char path[] = "/tmp/test_config.XXXXXX", err[512];
	struct config *cfg = NULL, *again = NULL;
	FILE *fp;
	int fd;

	(void)state;
	assert_true((fd = mkstemp(path)) != -1);
	assert_non_null(fp = fdopen(fd, "w"));
	fputs(MINIMAL "server = 127.0.0.1:9002 weight=3\n", fp);
	fclose(fp);
	assert_int_equal(config_load(path, &cfg, err, sizeof(err)), 0);
	assert_non_null(fp = fopen(path, "w"));
	fputs("[global]\nbogus = 1\n", fp);
	fclose(fp);
	assert_int_equal(config_reparse(cfg, &again, err, sizeof(err)), 0);
	unlink(path);
	assert_string_equal(again->path, path);
	assert_int_equal(again->textlen, cfg->textlen);
	assert_memory_equal(again->text, cfg->text, cfg->textlen);
	assert_int_equal(again->backends[0].nservers, 2);
	assert_int_equal(again->backends[0].servers[1].weight, 3);
	assert_ptr_not_equal(again->backends, cfg->backends);
	again->backends[0].servers[1].weight = 7;
	assert_int_equal(cfg->backends[0].servers[1].weight, 3);
	config_free(cfg);
	config_free(again);

	/* From a string as well. */
	cfg = load_ok(MINIMAL);
	assert_int_equal(config_reparse(cfg, &again, err, sizeof(err)), 0);
	assert_string_equal(again->text, MINIMAL);
	config_free(cfg);
	config_free(again);
}

/* The sample config shipped in etc/ must load as it is. */
static void
test_sample_config(void **state)
{
	const char *srcdir = getenv("srcdir");
	struct config *cfg = NULL;
	char path[4096], err[512];

	(void)state;
	snprintf(path, sizeof(path), "%s/etc/weir.ini",
	    srcdir != NULL ? srcdir : ".");
	if (config_load(path, &cfg, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(cfg->nfrontends, 1);
	assert_string_equal(cfg->frontends[0].name, "web");
	assert_string_equal(cfg->frontends[0].listens[0].text,
	    "127.0.0.1:8080");
	assert_string_equal(cfg->frontends[0].backend_name, "app");
	assert_int_equal(cfg->nbackends, 1);
	assert_string_equal(cfg->backends[0].name, "app");
	assert_int_equal(cfg->backends[0].nservers, 2);
	assert_string_equal(cfg->backends[0].servers[0].name, "127.0.0.1:9001");
	assert_string_equal(cfg->backends[0].servers[1].name, "127.0.0.1:9002");
	assert_null(cfg->pidfile);
	config_free(cfg);
}

/* [route] and [limit] sections and the policy keys, as parsed. */
static void
test_route_keys(void **state)
{
	struct config *cfg;
	const struct route_conf *rt;

	(void)state;
	cfg = load_ok(MINIMAL "[limit per_ip]\nrate = 100/m\nburst = 5\n"
	    "[limit by_user]\nrate = 3/h\nkey = header:X-User\n"
	    "table_size = 1024\n"
	    "[route api]\nfrontend = web\nhost = *.Example.COM\n"
	    "path_prefix = /api/\nmethod = GET, POST\n"
	    "header = X-Canary:  1 \nheader = X-Team: blue\n"
	    "backend = app\nstrip_prefix = yes\nlimit = by_user\n"
	    "limit = per_ip\n"
	    "[route moved]\nfrontend = web\npath_exact = /old\n"
	    "redirect = 308 https://{host}/new{target}\n"
	    "[route up]\nfrontend = web\nreturn = 200 all good\n"
	    "[frontend edge]\nlisten = 127.0.0.1:8081\nlimit = per_ip\n"
	    "[route edge_all]\nfrontend = edge\nreturn = 204\n");
	assert_int_equal(cfg->nroutes, 4);
	assert_int_equal(cfg->frontends[0].nroutes, 3);
	assert_int_equal(cfg->frontends[1].nroutes, 1);
	assert_int_equal(cfg->frontends[1].backend, CONFIG_NO_BACKEND);
	assert_int_equal(cfg->frontends[1].policy.nlimits, 1);
	assert_int_equal(cfg->frontends[1].policy.limits[0].index, 0);
	rt = &cfg->routes[0];
	assert_string_equal(rt->host, "*.example.com");
	assert_string_equal(rt->path, "/api/");
	assert_false(rt->path_exact);
	assert_int_equal(rt->nmethods, 2);
	assert_string_equal(rt->methods[1], "POST");
	assert_int_equal(rt->nheaders, 2);
	assert_string_equal(rt->headers[0].name, "X-Canary");
	assert_string_equal(rt->headers[0].value, "1");
	assert_int_equal(rt->action, CONFIG_ROUTE_BACKEND);
	assert_int_equal(rt->backend.index, 0);
	assert_true(rt->strip_prefix);
	assert_int_equal(rt->policy.nlimits, 2);
	assert_int_equal(rt->policy.limits[0].index, 1);
	rt = &cfg->routes[1];
	assert_true(rt->path_exact);
	assert_int_equal(rt->action, CONFIG_ROUTE_REDIRECT);
	assert_int_equal(rt->status, 308);
	assert_string_equal(rt->text, "https://{host}/new{target}");
	assert_int_equal(cfg->routes[2].status, 200);
	assert_string_equal(cfg->routes[2].text, "all good");
	assert_string_equal(cfg->routes[3].text, "");
	assert_int_equal(cfg->limits[0].interval_ns, 600000000ull);
	assert_int_equal(cfg->limits[0].burst, 5);
	assert_int_equal(cfg->limits[0].key, CONFIG_LIMIT_IP);
	assert_int_equal(cfg->limits[0].table_size, 65536);
	assert_int_equal(cfg->limits[1].interval_ns, 1200000000000ull);
	assert_int_equal(cfg->limits[1].key, CONFIG_LIMIT_HEADER);
	assert_string_equal(cfg->limits[1].key_header, "X-User");
	config_free(cfg);
}

/* Every route and limit mistake names its line. */
static void
test_err_routes(void **state)
{
	(void)state;
	load_err(MINIMAL "[route r]\nfrontend = web\nbackend = nope\n",
	    NAME ":8:", "unknown backend 'nope'");
	load_err(MINIMAL "[route r]\nfrontend = webb\nbackend = app\n",
	    NAME ":7:", "unknown frontend 'webb'");
	load_err(MINIMAL "[route r]\nbackend = app\n", NAME ":6:",
	    "route 'r' has no 'frontend'");
	load_err(MINIMAL "[route r]\nfrontend = web\n", NAME ":6:",
	    "none of backend, redirect and return");
	load_err(MINIMAL "[route r]\nfrontend = web\nbackend = app\n"
	    "return = 200\n", NAME ":9:", "already has backend (line 8)");
	load_err(MINIMAL "[route r]\nfrontend = web\npath_prefix = /a/\n"
	    "path_exact = /a\nbackend = app\n", NAME ":9:",
	    "already has path_prefix");
	load_err(MINIMAL "[route r]\nfrontend = web\npath_prefix = api\n",
	    NAME ":8:", "must start with '/'");
	load_err(MINIMAL "[route r]\nfrontend = web\npath_prefix = /a/../b\n",
	    NAME ":8:", "'..' segment");
	load_err(MINIMAL "[route r]\nfrontend = web\npath_exact = /a%20b\n",
	    NAME ":8:", "must not hold '%'");
	load_err(MINIMAL "[route r]\nfrontend = web\npath_prefix = /a//b\n",
	    NAME ":8:", "empty segment");
	load_err(MINIMAL "[route r]\nfrontend = web\nhost = a.test:80\n",
	    NAME ":8:", "host: invalid name");
	load_err(MINIMAL "[route r]\nfrontend = web\nhost = *.\n",
	    NAME ":8:", "host: invalid name");
	load_err(MINIMAL "[route r]\nfrontend = web\nmethod = GET, \n",
	    NAME ":8:", "invalid method ''");
	load_err(MINIMAL "[route r]\nfrontend = web\nheader = X-A\n",
	    NAME ":8:", "expected 'NAME: VALUE'");
	load_err(MINIMAL "[route r]\nfrontend = web\nheader = X A: 1\n",
	    NAME ":8:", "invalid header name");
	load_err(MINIMAL "[route r]\nfrontend = web\nredirect = 200 /x\n",
	    NAME ":8:", "invalid status");
	load_err(MINIMAL "[route r]\nfrontend = web\nredirect = 304 /x\n",
	    NAME ":8:", "not a redirect status");
	load_err(MINIMAL "[route r]\nfrontend = web\nredirect = 301\n",
	    NAME ":8:", "the URL is missing");
	load_err(MINIMAL "[route r]\nfrontend = web\nredirect = 301 /{uri}\n",
	    NAME ":8:", "variable other than");
	load_err(MINIMAL "[route r]\nfrontend = web\nreturn = 700 x\n",
	    NAME ":8:", "invalid status");
	load_err(MINIMAL "[route r]\nfrontend = web\nreturn = 204 x\n",
	    NAME ":8:", "has no body");
	load_err(MINIMAL "[route r]\nfrontend = web\nreturn = 304\n",
	    NAME ":8:", "cannot answer 304 itself");
	load_err(MINIMAL "[route r]\nfrontend = web\nreturn = 401 no\n",
	    NAME ":8:", "use auth = basic");
	load_err(MINIMAL "[route r]\nfrontend = web\nbackend = app\n"
	    "strip_prefix = yes\n", NAME ":6:", "strip_prefix needs "
	    "path_prefix");
	load_err(MINIMAL "[route r]\nfrontend = web\nreturn = 200\n"
	    "[route r]\n", NAME ":9:", "duplicate route 'r' (first at line 6)");
	load_err(MINIMAL "[route r]\nfrontend = web\nreturn = 200\n"
	    "tls_cert = x\n", NAME ":9:", "unknown key 'tls_cert' in [route r]");
	load_err(MINIMAL "[limit l]\nrate = 10/x\n", NAME ":7:",
	    "rate: invalid value '10/x'");
	load_err(MINIMAL "[limit l]\nrate = 0/s\n", NAME ":7:",
	    "rate: invalid value '0/s'");
	load_err(MINIMAL "[limit l]\nrate = 10\n", NAME ":7:",
	    "rate: invalid value '10'");
	load_err(MINIMAL "[limit l]\nburst = 3\n", NAME ":6:",
	    "limit 'l' has no 'rate'");
	load_err(MINIMAL "[limit l]\nrate = 1/s\nkey = cookie:a\n", NAME ":8:",
	    "expected ip, path or header:NAME");
	load_err("[frontend web]\nlimit = l2\nlisten = 127.0.0.1:80\n"
	    "backend = app\n[backend app]\nserver = 127.0.0.1:1\n",
	    NAME ":2:", "unknown limit 'l2'");
	load_err(MINIMAL "[route r]\nfrontend = web\nreturn = 200\n"
	    "limit = l\nlimit = l\n[limit l]\nrate = 1/s\n",
	    NAME ":10:", "limit 'l' given twice (first at line 9)");
	/* In the frontend and again in its route: two places a request. */
	load_err("[frontend web]\nlisten = 127.0.0.1:80\nlimit = l\n"
	    "backend = app\n[backend app]\nserver = 127.0.0.1:1\n"
	    "[route r]\nfrontend = web\nreturn = 200\nlimit = l\n"
	    "[limit l]\nrate = 1/s\n", NAME ":10:", "route 'r': limit 'l' is "
	    "applied by frontend 'web' already (line 3)");
	load_err("[frontend web]\nlisten = 127.0.0.1:80\n"
	    "[backend app]\nserver = 127.0.0.1:1\n", NAME ":1:",
	    "has no 'backend' and no [route]");
}

/*
 * max_conns: a server option, or the backend's default for servers without
 * one wherever either is written; max_conns=0 on a server lifts the
 * backend's; limited says whether any server has one. queue_timeout and
 * max_queue defaults, ranges and errors.
 */
static void
test_max_conns_keys(void **state)
{
	struct config *cfg;
	struct backend_conf *be;

	(void)state;
	cfg = load_ok(MINIMAL);
	be = &cfg->backends[0];
	assert_int_equal(be->max_conns, 0);
	assert_int_equal(be->servers[0].max_conns, 0);
	assert_false(be->limited);
	assert_int_equal(be->queue_timeout_ms, 5000);
	assert_int_equal(be->max_queue, 1000);
	config_free(cfg);

	cfg = load_ok(MINIMAL "server = 127.0.0.1:9002 max_conns=7 weight=2\n"
	    "server = 127.0.0.1:9003 max_conns=0\n"
	    "max_conns = 3\nqueue_timeout = 250ms\nmax_queue = 0\n"
	    "server = 127.0.0.1:9004 backup\n");
	be = &cfg->backends[0];
	assert_true(be->limited);
	assert_int_equal(be->servers[0].max_conns, 3);	/* before the key */
	assert_int_equal(be->servers[1].max_conns, 7);
	assert_int_equal(be->servers[1].weight, 2);
	assert_int_equal(be->servers[2].max_conns, 0);
	assert_int_equal(be->servers[3].max_conns, 3);
	assert_int_equal(be->queue_timeout_ms, 250);
	assert_int_equal(be->max_queue, 0);
	config_free(cfg);

	cfg = load_ok(MINIMAL "server = 127.0.0.1:9002 max_conns=1000000\n");
	assert_true(cfg->backends[0].limited);
	config_free(cfg);

	load_err(MINIMAL "server = 127.0.0.1:9002 max_conns=2 max_conns=3\n",
	    NAME ":6:", "option 'max_conns=3' given twice");
	load_err(MINIMAL "server = 127.0.0.1:9002 max_conns=-1\n", NAME ":6:",
	    "invalid max_conns '-1'");
	load_err(MINIMAL "server = 127.0.0.1:9002 max_conns=1000001\n",
	    NAME ":6:", "invalid max_conns '1000001'");
	load_err(MINIMAL "server = 127.0.0.1:9002 max_conns=\n", NAME ":6:",
	    "invalid max_conns ''");
	load_err(MINIMAL "max_conns = lots\n", NAME ":6:",
	    "max_conns: invalid value 'lots'");
	load_err(MINIMAL "queue_timeout = 0\n", NAME ":6:",
	    "queue_timeout: invalid value '0'");
	load_err(MINIMAL "max_queue = 1000001\n", NAME ":6:",
	    "max_queue: invalid value '1000001'");
}

/*
 * Header rules: kept in file order per section, joined into the lists
 * requests apply (a route's: its frontend's rules, then its own), and
 * every refusal names its line.
 */
#define FE_LAST \
	"[backend app]\n" \
	"server = 127.0.0.1:9001\n" \
	"[frontend web]\n" \
	"listen = 127.0.0.1:8080\n" \
	"backend = app\n"

static void
test_header_rules(void **state)
{
	struct config *cfg;
	const struct hdrrule_list *l;

	(void)state;
	cfg = load_ok(MINIMAL
	    "[frontend web2]\n"
	    "listen = 127.0.0.1:8081\n"
	    "backend = app\n"
	    "request_id = X-Request-Id\n"
	    "request_header_set = X-A: 1\n"
	    "request_header_del = X-B\n"
	    "response_header_add = X-C: {request_id}\n"
	    "request_header_add = X-D: {client_ip} {host}\n"
	    "[route api]\n"
	    "frontend = web2\n"
	    "backend = app\n"
	    "request_header_del = x-a\n"
	    "[route plain]\n"
	    "frontend = web2\n"
	    "backend = app\n");
	assert_null(cfg->frontends[0].policy.req_list);
	assert_null(cfg->frontends[0].policy.resp_list);
	assert_int_equal(cfg->frontends[1].policy.nreq_rules, 3);
	assert_int_equal(cfg->frontends[1].policy.req_rules[2].line, 13);
	assert_string_equal(cfg->frontends[1].policy.req_rules[1].lname, "x-b");
	l = cfg->frontends[1].policy.req_list;
	assert_int_equal(l->n, 3);
	assert_true(l->v[0].emit);
	l = cfg->routes[0].policy.req_list;
	assert_int_equal(l->n, 4);
	assert_false(l->v[0].emit);	/* the route's del x-a undoes it */
	assert_true(l->v[2].emit);
	assert_int_equal(cfg->routes[1].policy.req_list->n, 3);
	assert_int_equal(cfg->routes[1].policy.resp_list->n, 1);
	assert_int_equal(cfg->routes[1].policy.resp_list->vars,
	    HDRRULE_USES(HDRRULE_REQUEST_ID));
	config_free(cfg);

	load_err(FE_LAST "request_header_del = Content-Length\n",
	    NAME ":6:", "request_header_del: Content-Length is a framing");
	load_err(FE_LAST "request_header_del = Host\n", NAME ":6:",
	    "Host can only be set");
	load_err(FE_LAST "request_header_set = Transfer-Encoding: x\n",
	    NAME ":6:", "Transfer-Encoding is a framing");
	load_err(FE_LAST "response_header_add = Connection: close\n",
	    NAME ":6:", "response_header_add: Connection is");
	load_err(FE_LAST "response_header_set = X-A: {nope}\n", NAME ":6:",
	    "unknown variable '{nope}'");
	load_err(FE_LAST "request_header_add = X-A {host}\n", NAME ":6:",
	    "expected 'NAME: VALUE'");
	load_err(FE_LAST "request_header_set = X-A: {request_id}\n",
	    NAME ":6:", "request_header_set: {request_id} needs request_id "
	    "in frontend 'web'");
	load_err(MINIMAL "[route r]\nfrontend = web\nbackend = app\n"
	    "response_header_set = X-A: {request_id}\n", NAME ":9:",
	    "response_header_set: {request_id} needs request_id");
	load_err(MINIMAL "[route r]\nfrontend = web\nbackend = app\n"
	    "request_header_del = Upgrade\n", NAME ":9:", "Upgrade is a");
}

/* Resolve lines, resolvers and ZooKeeper discovery (configdisc.c). */
static void
test_discovery_keys(void **state)
{
	struct config *cfg;
	const struct backend_conf *be;

	(void)state;
	cfg = load_ok("[global]\n"
	    "resolvers = 127.0.0.1:5353, [::1]:53, 10.0.0.1\n"
	    "[frontend web]\n"
	    "listen = 127.0.0.1:8080\n"
	    "backend = app\n"
	    "[backend app]\n"
	    "server = app.test:8080 resolve weight=3 backup\n"
	    "server = 127.0.0.1:9001\n"
	    "max_conns = 7\n"
	    "resolve_interval = 2s\n"
	    "[backend zk]\n"
	    "discovery = zookeeper\n"
	    "zk_hosts = 127.0.0.1:2181, 127.0.0.2:2181\n"
	    "zk_path = /services/zk\n");
	assert_string_equal(cfg->resolvers, "127.0.0.1:5353, [::1]:53, "
	    "10.0.0.1");
	be = &cfg->backends[0];
	assert_int_equal(be->nservers, 1);
	assert_int_equal(be->nresolves, 1);
	assert_string_equal(be->resolves[0].host, "app.test");
	assert_int_equal(be->resolves[0].port, 8080);
	assert_int_equal(be->resolves[0].weight, 3);
	assert_true(be->resolves[0].backup);
	assert_int_equal(be->resolves[0].max_conns, 7);
	assert_int_equal(be->resolves[0].line, 7);
	assert_int_equal(be->resolve_interval_ms, 2000);
	be = &cfg->backends[1];
	assert_int_equal(be->nservers, 0);
	assert_int_equal(be->discovery, CONFIG_DISCOVERY_ZOOKEEPER);
	assert_string_equal(be->zk_path, "/services/zk");
	config_free(cfg);

	load_err("[global]\nresolvers = 127.0.0.1:53, ns.example\n" MINIMAL,
	    NAME ":2:", "resolvers: invalid server 'ns.example'");
	load_err("[global]\nresolvers = 127.0.0.1:0\n" MINIMAL, NAME ":2:",
	    "resolvers: invalid server");
	load_err(MINIMAL "server = app.test:80\n", NAME ":6:",
	    "add the option 'resolve'");
	load_err(MINIMAL "server = app.test:80 resolve disabled\n",
	    NAME ":6:", "'disabled' cannot be combined");
	load_err(MINIMAL "server = app.test resolve\n", NAME ":6:",
	    "expected HOST:PORT");
	load_err(MINIMAL "server = app.test:80 resolve\n"
	    "server = app.test:80 resolve\n", NAME ":7:", "duplicate server");
	load_err(MINIMAL "resolve_interval = 500ms\n", NAME ":6:",
	    "resolve_interval");
	load_err(MINIMAL "[backend b]\ndiscovery = zookeeper\n"
	    "zk_path = /a\n", NAME ":7:", "needs zk_hosts and zk_path");
	load_err(MINIMAL "zk_path = /a\n", NAME ":4:",
	    "need discovery = zookeeper");
	load_err(MINIMAL "[backend b]\ndiscovery = zookeeper\n"
	    "zk_hosts = zk1:2181\n", NAME ":8:", "zk_hosts: invalid address");
	load_err(MINIMAL "[backend b]\ndiscovery = zookeeper\n"
	    "zk_path = /a/\n", NAME ":8:", "zk_path: invalid path");
	load_err(MINIMAL "[backend b]\n", NAME ":6:", "has no 'server'");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_order_and_limits),
		cmocka_unit_test(test_indented_line_not_eaten),
		cmocka_unit_test(test_err_sections),
		cmocka_unit_test(test_auth_keys),
		cmocka_unit_test(test_access_log_keys),
		cmocka_unit_test(test_err_keys),
		cmocka_unit_test(test_err_lines),
		cmocka_unit_test(test_balancing_keys),
		cmocka_unit_test(test_failure_keys),
		cmocka_unit_test(test_err_values),
		cmocka_unit_test(test_err_addresses),
		cmocka_unit_test(test_err_duplicates),
		cmocka_unit_test(test_err_whole_file),
		cmocka_unit_test(test_err_buffer),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_trust_keys),
		cmocka_unit_test(test_sample_config),
		cmocka_unit_test(test_header_rules),
		cmocka_unit_test(test_discovery_keys),
		cmocka_unit_test(test_admin_section),
		cmocka_unit_test(test_err_admin),
		cmocka_unit_test(test_reparse),
		cmocka_unit_test(test_tls_frontend_keys),
		cmocka_unit_test(test_err_tls_frontend),
		cmocka_unit_test(test_tls_backend_keys),
		cmocka_unit_test(test_route_keys),
		cmocka_unit_test(test_err_routes),
		cmocka_unit_test(test_max_conns_keys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
