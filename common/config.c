/* Reads weir's INI file into a struct config, driven by one table of keys. */
#include "autoconf.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <netinet/in.h>

#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <ini.h>

#include "common/cidr.h"
#include "common/config.h"
#include "common/configint.h"
#include "common/confval.h"
#include "common/log.h"

#define CONFIG_MAX_HEADER_NAME	64	/* request_id */
#define CONFIG_MAX_WORKERS	256
#define CONFIG_MAX_FILE		(16 << 20)	/* bytes of a config file */


struct config_enum {
	const char *name;
	int value;
};


static int config_workers(struct config_ctx *, void *, const char *);
static int config_listen(struct config_ctx *, void *, const char *);
static int config_backend_ref(struct config_ctx *, void *, const char *);
static int config_server(struct config_ctx *, void *, const char *);
static int config_hash_key(struct config_ctx *, void *, const char *);
static int config_hash_bounded(struct config_ctx *, void *, const char *);
static int config_health_expect(struct config_ctx *, void *, const char *);
static int config_percent(struct config_ctx *, void *, const char *);
static int config_trusted(struct config_ctx *, void *, const char *);
static int config_upgrade_allow(struct config_ctx *, void *, const char *);
static int config_access_log(struct config_ctx *, void *, const char *);
static int config_request_id(struct config_ctx *, void *, const char *);
static int config_user(struct config_ctx *, void *, const char *);
static int config_group(struct config_ctx *, void *, const char *);
static int config_admin_listen(struct config_ctx *, void *, const char *);
static int config_admin_token(struct config_ctx *, void *, const char *);
static int config_text(struct config_ctx *, void *, const char *);
static int config_tls_cert(struct config_ctx *, void *, const char *);
static int config_tls_sni(struct config_ctx *, void *, const char *);

static const struct config_enum config_log_levels[] = {
	{ "error", LOG_LEVEL_ERROR },
	{ "warn", LOG_LEVEL_WARN },
	{ "info", LOG_LEVEL_INFO },
	{ "debug", LOG_LEVEL_DEBUG },
	{ NULL, 0 },
};

static const struct config_enum config_balances[] = {
	{ "roundrobin", CONFIG_BALANCE_ROUNDROBIN },
	{ "leastconn", CONFIG_BALANCE_LEASTCONN },
	{ "random2", CONFIG_BALANCE_RANDOM2 },
	{ "hash", CONFIG_BALANCE_HASH },
	{ NULL, 0 },
};

static const struct config_enum config_bools[] = {
	{ "yes", 1 }, { "no", 0 }, { "on", 1 }, { "off", 0 },
	{ "true", 1 }, { "false", 0 }, { "1", 1 }, { "0", 0 },
	{ NULL, 0 },
};

static const struct config_enum config_underscores[] = {
	{ "drop", CONFIG_UNDERSCORE_DROP },
	{ "pass", CONFIG_UNDERSCORE_PASS },
	{ "reject", CONFIG_UNDERSCORE_REJECT },
	{ NULL, 0 },
};

static const struct config_enum config_log_formats[] = {
	{ "json", CONFIG_LOG_JSON },
	{ "combined", CONFIG_LOG_COMBINED },
	{ NULL, 0 },
};

static const struct config_enum config_tls_versions[] = {
	{ "TLSv1.2", CONFIG_TLS_12 },
	{ "TLSv1.3", CONFIG_TLS_13 },
	{ NULL, 0 },
};

static const struct config_enum config_health_kinds[] = {
	{ "none", CONFIG_HEALTH_NONE },
	{ "tcp", CONFIG_HEALTH_TCP },
	{ "http", CONFIG_HEALTH_HTTP },
	{ NULL, 0 },
};

static const struct config_enum config_health_states[] = {
	{ "up", 0 },
	{ "down", 1 },
	{ NULL, 0 },
};

#define G(key, type, field, def, reload, ...) \
	{ CONFIG_SECT_GLOBAL, key, type, offsetof(struct config, field), \
	    def, reload, __VA_ARGS__ }
#define F(key, type, field, def, reload, ...) \
	{ CONFIG_SECT_FRONTEND, key, type, \
	    offsetof(struct frontend_conf, field), def, reload, __VA_ARGS__ }
#define B(key, type, field, def, reload, ...) \
	{ CONFIG_SECT_BACKEND, key, type, \
	    offsetof(struct backend_conf, field), def, reload, __VA_ARGS__ }
#define A(key, type, field, def, reload, ...) \
	{ CONFIG_SECT_ADMIN, key, type, offsetof(struct admin_conf, field), \
	    def, reload, __VA_ARGS__ }
#define R(key, type, field, def, reload, ...) \
	{ CONFIG_SECT_ROUTE, key, type, offsetof(struct route_conf, field), \
	    def, reload, __VA_ARGS__ }
#define L(key, type, field, def, reload, ...) \
	{ CONFIG_SECT_LIMIT, key, type, offsetof(struct limit_conf, field), \
	    def, reload, __VA_ARGS__ }
#define P(key, type, field, def, reload, ...) \
	{ CONFIG_SECT_POLICY, key, type, offsetof(struct policy_conf, field), \
	    def, reload, __VA_ARGS__ }

/* Every key: section, name, type, field, default, reloadable, limits. */
static const struct config_key config_keys[] = {
	G("workers", CONFIG_SPECIAL, workers, "auto", true, false,
	    NULL, NULL, NULL, config_workers),
	G("log_level", CONFIG_ENUM, log_level, "info", true, false,
	    NULL, NULL, config_log_levels, NULL),
	G("pidfile", CONFIG_STRING, pidfile, NULL, false, false,
	    NULL, NULL, NULL, NULL),
	G("max_connections", CONFIG_INT, max_connections, "10000", true, false,
	    "1", "1000000", NULL, NULL),
	G("max_servers", CONFIG_INT, max_servers, "1024", false, false,
	    "16", "1048576", NULL, NULL),
	G("drain_timeout", CONFIG_DURATION, drain_timeout_ms, "30s", true, false,
	    "1ms", "1h", NULL, NULL),
	G("tls_ticket_rotate", CONFIG_DURATION, tls_ticket_rotate_ms, "12h",
	    true, false, "1m", "7d", NULL, NULL),
	G("log_file", CONFIG_STRING, log_file, NULL, true, false,
	    NULL, NULL, NULL, NULL),
	G("user", CONFIG_SPECIAL, user, NULL, false, false,
	    NULL, NULL, NULL, config_user),
	G("group", CONFIG_SPECIAL, group, NULL, false, false,
	    NULL, NULL, NULL, config_group),
	G("resolvers", CONFIG_SPECIAL, resolvers, NULL, true, false,
	    NULL, NULL, NULL, config_resolvers),

	F("listen", CONFIG_SPECIAL, listens, NULL, true, true,
	    NULL, NULL, NULL, config_listen),
	F("backend", CONFIG_SPECIAL, backend_name, NULL, true, false,
	    NULL, NULL, NULL, config_backend_ref),
	F("client_timeout", CONFIG_DURATION, client_timeout_ms, "30s", true,
	    false, "1ms", "24h", NULL, NULL),
	/* http-parser refuses heads over 80 KiB process-wide: stay below it. */
	F("max_header_size", CONFIG_SIZE, max_header_size, "16k", true, false,
	    "1k", "64k", NULL, NULL),
	F("max_body_size", CONFIG_SIZE, max_body_size, "100m", true, false,
	    NULL, NULL, NULL, NULL),
	F("allow_trace", CONFIG_ENUM, allow_trace, "no", true, false,
	    NULL, NULL, config_bools, NULL),
	F("underscore_headers", CONFIG_ENUM, underscore_headers, "drop", true,
	    false, NULL, NULL, config_underscores, NULL),
	F("trusted_proxies", CONFIG_SPECIAL, trusted, NULL, true, false,
	    NULL, NULL, NULL, config_trusted),
	F("upgrade_allow", CONFIG_SPECIAL, upgrade_allow, "websocket", true,
	    false, NULL, NULL, NULL, config_upgrade_allow),
	F("access_log", CONFIG_SPECIAL, access_log, "off", true, false,
	    NULL, NULL, NULL, config_access_log),
	F("access_log_format", CONFIG_ENUM, access_log_format, "json", true,
	    false, NULL, NULL, config_log_formats, NULL),
	F("request_id", CONFIG_SPECIAL, request_id, "off", true, false,
	    NULL, NULL, NULL, config_request_id),
	F("request_id_trust", CONFIG_ENUM, request_id_trust, "no", true, false,
	    NULL, NULL, config_bools, NULL),
	F("tls_cert", CONFIG_SPECIAL, tls_certs, NULL, true, true,
	    NULL, NULL, NULL, config_tls_cert),
	F("tls_min_version", CONFIG_ENUM, tls_min_version, "TLSv1.2", true,
	    false, NULL, NULL, config_tls_versions, NULL),
	F("tls_ciphers", CONFIG_SPECIAL, tls_ciphers, NULL, true, false,
	    NULL, NULL, NULL, config_text),
	F("tls_ciphersuites", CONFIG_SPECIAL, tls_ciphersuites, NULL, true,
	    false, NULL, NULL, NULL, config_text),
	F("tls_client_ca", CONFIG_SPECIAL, tls_client_ca, NULL, true, false,
	    NULL, NULL, NULL, config_text),
	F("redirect_https", CONFIG_ENUM, redirect_https, "no", true, false,
	    NULL, NULL, config_bools, NULL),

	B("balance", CONFIG_ENUM, balance, "roundrobin", true, false,
	    NULL, NULL, config_balances, NULL),
	B("hash_key", CONFIG_SPECIAL, hash_key, "ip", true, false,
	    NULL, NULL, NULL, config_hash_key),
	B("hash_bounded", CONFIG_SPECIAL, hash_bounded_pct, "0", true, false,
	    NULL, NULL, NULL, config_hash_bounded),
	B("slow_start", CONFIG_DURATION, slow_start_ms, "0", true, false,
	    "0", "1h", NULL, NULL),
	B("health_check", CONFIG_ENUM, health_check, "none", true, false,
	    NULL, NULL, config_health_kinds, NULL),
	B("health_path", CONFIG_STRING, health_path, NULL, true, false,
	    NULL, NULL, NULL, NULL),
	B("health_host", CONFIG_STRING, health_host, NULL, true, false,
	    NULL, NULL, NULL, NULL),
	B("health_expect", CONFIG_SPECIAL, health_expect, "200-399", true,
	    false, NULL, NULL, NULL, config_health_expect),
	B("health_interval", CONFIG_DURATION, health_interval_ms, "2s", true,
	    false, "10ms", "1h", NULL, NULL),
	B("health_timeout", CONFIG_DURATION, health_timeout_ms, "1s", true,
	    false, "1ms", "1h", NULL, NULL),
	B("health_rise", CONFIG_INT, health_rise, "2", true, false,
	    "1", "100", NULL, NULL),
	B("health_fall", CONFIG_INT, health_fall, "3", true, false,
	    "1", "100", NULL, NULL),
	B("health_initial", CONFIG_ENUM, health_initial_down, "up", true, false,
	    NULL, NULL, config_health_states, NULL),
	B("max_fails", CONFIG_INT, max_fails, "5", true, false,
	    "0", "1000", NULL, NULL),
	B("fail_timeout", CONFIG_DURATION, fail_timeout_ms, "10s", true, false,
	    "1ms", "5m", NULL, NULL),
	B("fail_on_5xx", CONFIG_ENUM, fail_on_5xx, "no", true, false,
	    NULL, NULL, config_bools, NULL),
	B("max_ejected_percent", CONFIG_SPECIAL, max_ejected_percent, "50%",
	    true, false, NULL, NULL, NULL, config_percent),
	B("retries", CONFIG_INT, retries, "2", true, false,
	    "0", "10", NULL, NULL),
	B("retry_backoff", CONFIG_DURATION, retry_backoff_ms, "10ms", true,
	    false, "0", "10s", NULL, NULL),
	B("retry_budget", CONFIG_SPECIAL, retry_budget_pct, "20%", true, false,
	    NULL, NULL, NULL, config_percent),
	B("server", CONFIG_SPECIAL, servers, NULL, true, true,
	    NULL, NULL, NULL, config_server),
	B("resolve_interval", CONFIG_DURATION, resolve_interval_ms, "10s",
	    true, false, "1s", "1h", NULL, NULL),
	B("discovery", CONFIG_SPECIAL, discovery, "none", true, false,
	    NULL, NULL, NULL, config_discovery),
	B("zk_hosts", CONFIG_SPECIAL, zk_hosts, NULL, true, false,
	    NULL, NULL, NULL, config_zk_hosts),
	B("zk_path", CONFIG_SPECIAL, zk_path, NULL, true, false,
	    NULL, NULL, NULL, config_zk_path),
	B("keepalive", CONFIG_INT, keepalive, "32", true, false,
	    "0", "10000", NULL, NULL),
	B("keepalive_timeout", CONFIG_DURATION, keepalive_timeout_ms, "60s",
	    true, false, "1ms", "24h", NULL, NULL),
	B("connect_timeout", CONFIG_DURATION, connect_timeout_ms, "2s", true,
	    false, "1ms", "24h", NULL, NULL),
	B("response_timeout", CONFIG_DURATION, response_timeout_ms, "30s",
	    true, false, "1ms", "24h", NULL, NULL),
	B("max_conns", CONFIG_INT, max_conns, "0", true, false,
	    "0", "1000000", NULL, NULL),
	B("queue_timeout", CONFIG_DURATION, queue_timeout_ms, "5s", true,
	    false, "1ms", "1h", NULL, NULL),
	B("max_queue", CONFIG_INT, max_queue, "1000", true, false,
	    "0", "1000000", NULL, NULL),
	B("tls_verify", CONFIG_ENUM, tls_verify, "yes", true, false,
	    NULL, NULL, config_bools, NULL),
	B("tls_ca", CONFIG_SPECIAL, tls_ca, NULL, true, false,
	    NULL, NULL, NULL, config_text),
	B("tls_sni", CONFIG_SPECIAL, tls_sni, NULL, true, false,
	    NULL, NULL, NULL, config_tls_sni),

	A("listen", CONFIG_SPECIAL, listen, NULL, true, false,
	    NULL, NULL, NULL, config_admin_listen),
	A("token_file", CONFIG_SPECIAL, token_file, NULL, true, false,
	    NULL, NULL, NULL, config_admin_token),

	R("frontend", CONFIG_SPECIAL, frontend, NULL, true, false,
	    NULL, NULL, NULL, config_route_frontend),
	R("host", CONFIG_SPECIAL, host, NULL, true, false,
	    NULL, NULL, NULL, config_route_host),
	R("path_prefix", CONFIG_SPECIAL, path, NULL, true, false,
	    NULL, NULL, NULL, config_route_path),
	R("path_exact", CONFIG_SPECIAL, path, NULL, true, false,
	    NULL, NULL, NULL, config_route_path),
	R("method", CONFIG_SPECIAL, methods, NULL, true, false,
	    NULL, NULL, NULL, config_route_method),
	R("header", CONFIG_SPECIAL, headers, NULL, true, true,
	    NULL, NULL, NULL, config_route_header),
	R("backend", CONFIG_SPECIAL, backend, NULL, true, false,
	    NULL, NULL, NULL, config_route_backend),
	R("redirect", CONFIG_SPECIAL, text, NULL, true, false,
	    NULL, NULL, NULL, config_route_redirect),
	R("return", CONFIG_SPECIAL, text, NULL, true, false,
	    NULL, NULL, NULL, config_route_return),
	R("strip_prefix", CONFIG_ENUM, strip_prefix, "no", true, false,
	    NULL, NULL, config_bools, NULL),

	L("rate", CONFIG_SPECIAL, interval_ns, NULL, true, false,
	    NULL, NULL, NULL, config_limit_rate),
	L("burst", CONFIG_INT, burst, "1", true, false,
	    "1", "1000000", NULL, NULL),
	L("key", CONFIG_SPECIAL, key, "ip", true, false,
	    NULL, NULL, NULL, config_limit_key),
	L("table_size", CONFIG_INT, table_size, "65536", true, false,
	    "16", "16777216", NULL, NULL),

	P("limit", CONFIG_SPECIAL, limits, NULL, true, true,
	    NULL, NULL, NULL, config_policy_limit),
	/* header rules (common/confighdr.c), applied in file order */
	P("request_header_set", CONFIG_SPECIAL, req_rules, NULL, true, true,
	    NULL, NULL, NULL, config_policy_header),
	P("request_header_add", CONFIG_SPECIAL, req_rules, NULL, true, true,
	    NULL, NULL, NULL, config_policy_header),
	P("request_header_del", CONFIG_SPECIAL, req_rules, NULL, true, true,
	    NULL, NULL, NULL, config_policy_header),
	P("response_header_set", CONFIG_SPECIAL, resp_rules, NULL, true, true,
	    NULL, NULL, NULL, config_policy_header),
	P("response_header_add", CONFIG_SPECIAL, resp_rules, NULL, true, true,
	    NULL, NULL, NULL, config_policy_header),
	P("response_header_del", CONFIG_SPECIAL, resp_rules, NULL, true, true,
	    NULL, NULL, NULL, config_policy_header),
	/* basic authentication (worker/auth.c) */
	P("auth", CONFIG_SPECIAL, auth, NULL, true, false,
	    NULL, NULL, NULL, config_policy_auth),
	P("auth_file", CONFIG_SPECIAL, auth_file, NULL, true, false,
	    NULL, NULL, NULL, config_policy_auth_file),
	P("auth_realm", CONFIG_SPECIAL, auth_realm, NULL, true, false,
	    NULL, NULL, NULL, config_policy_auth_realm),
	P("auth_forward", CONFIG_SPECIAL, auth_forward, NULL, true, false,
	    NULL, NULL, NULL, config_policy_auth_forward),
};
#define CONFIG_NKEYS (sizeof(config_keys) / sizeof(config_keys[0]))
_Static_assert(CONFIG_NKEYS <= CONFIG_MAX_KEYS, "raise CONFIG_MAX_KEYS");

_Static_assert(sizeof(enum config_balance) == sizeof(int),
    "CONFIG_ENUM stores through an int");


static const char *const config_sect_names[] = {
	"", "global", "frontend", "backend", "admin", "route", "limit", ""
};

/* Keep the first error only: "FILE:LINE: reason", or "FILE: reason". */
void
config_err(struct config_ctx *ctx, int line, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (ctx->failed)
		return;
	ctx->failed = true;
	if (ctx->err == NULL || ctx->errlen == 0)
		return;
	if (line > 0)
		n = snprintf(ctx->err, ctx->errlen, "%s:%d: ", ctx->name, line);
	else
		n = snprintf(ctx->err, ctx->errlen, "%s: ", ctx->name);
	if (n < 0 || (size_t)n >= ctx->errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(ctx->err + n, ctx->errlen - n, fmt, ap);
	va_end(ap);
}

/* Return array grown to n + 1 elements, the last zeroed; NULL on error. */
void *
config_grow(struct config_ctx *ctx, void *array, size_t n, size_t size)
{
	char *p;

	if ((p = reallocarray(array, n + 1, size)) == NULL) {
		config_err(ctx, ctx->lineno, "out of memory");
		return NULL;
	}
	memset(p + n * size, 0, size);
	return p;
}

char *
config_strdup(struct config_ctx *ctx, const char *s)
{
	char *p;

	if ((p = strdup(s)) == NULL)
		config_err(ctx, ctx->lineno, "out of memory");
	return p;
}

/* "auto" follows the machine; a number is taken as given. */
static int
config_workers(struct config_ctx *ctx, void *base, const char *value)
{
	struct config *cfg = base;
	const char *why;
	long n;

	if (strcmp(value, "auto") == 0) {
		n = sysconf(_SC_NPROCESSORS_ONLN);
		if (n < 1)
			n = 1;
		if (n > CONFIG_MAX_WORKERS)
			n = CONFIG_MAX_WORKERS;
	} else if (confval_int(value, 1, CONFIG_MAX_WORKERS, &n, &why) == -1) {
		config_err(ctx, ctx->lineno, "workers: invalid value '%s': %s; "
		    "expected auto or a number from 1 to %d", value, why,
		    CONFIG_MAX_WORKERS);
		return -1;
	}
	cfg->workers = (uint32_t)n;
	return 0;
}

/*
 * user = NAME: the account every process runs as once root's work
 * (binding, shared memory) is done. Resolved here so that -t and a reload
 * name the line of an account that does not exist.
 */
static int
config_user(struct config_ctx *ctx, void *base, const char *value)
{
	struct config *cfg = base;
	struct passwd *pw;

	errno = 0;
	if ((pw = getpwnam(value)) == NULL) {
		config_err(ctx, ctx->lineno, "user: no such user '%s'%s%s",
		    value, errno != 0 ? ": " : "",
		    errno != 0 ? strerror(errno) : "");
		return -1;
	}
	free(cfg->user);
	if ((cfg->user = config_strdup(ctx, value)) == NULL)
		return -1;
	cfg->uid = pw->pw_uid;
	cfg->user_gid = pw->pw_gid;
	return 0;
}

/* group = NAME: the group to run as (default: the user's own group). */
static int
config_group(struct config_ctx *ctx, void *base, const char *value)
{
	struct config *cfg = base;
	struct group *gr;

	errno = 0;
	if ((gr = getgrnam(value)) == NULL) {
		config_err(ctx, ctx->lineno, "group: no such group '%s'%s%s",
		    value, errno != 0 ? ": " : "",
		    errno != 0 ? strerror(errno) : "");
		return -1;
	}
	free(cfg->group);
	if ((cfg->group = config_strdup(ctx, value)) == NULL)
		return -1;
	cfg->gid = gr->gr_gid;
	return 0;
}

/*
 * [admin] listen: "unix:/ABSOLUTE/PATH" for a unix socket, else an address
 * as a frontend takes. That no frontend listens there too is checked once
 * every frontend is known (config_check_admin).
 */
static int
config_admin_listen(struct config_ctx *ctx, void *base, const char *value)
{
	struct admin_conf *ad = base;
	struct sockaddr_un sun;
	const char *why, *path = value + 5;

	if (strncmp(value, "unix:", 5) == 0) {
		if (path[0] != '/' || strlen(path) >= sizeof(sun.sun_path)) {
			config_err(ctx, ctx->lineno, "listen: invalid unix "
			    "socket '%s'; expected unix:/ABSOLUTE/PATH of at "
			    "most %zu bytes", value, sizeof(sun.sun_path) - 1);
			return -1;
		}
		if ((ad->unix_path = config_strdup(ctx, path)) == NULL)
			return -1;
	} else if (confval_addr(value, &ad->addr, &ad->addrlen, &why) == -1) {
		config_err(ctx, ctx->lineno, "listen: invalid address '%s': "
		    "%s; expected HOST:PORT or unix:/PATH", value, why);
		return -1;
	}
	ad->listen_line = ctx->lineno;
	return (ad->listen = config_strdup(ctx, value)) == NULL ? -1 : 0;
}

/* [admin] token_file: read and checked by the master (master/token.c). */
static int
config_admin_token(struct config_ctx *ctx, void *base, const char *value)
{
	struct admin_conf *ad = base;

	ad->token_line = ctx->lineno;
	return (ad->token_file = config_strdup(ctx, value)) == NULL ? -1 : 0;
}

/* confval_addr() zero-fills its result, so memcmp() finds equal ones. */
static bool
config_same_addr(const struct sockaddr_storage *a, socklen_t alen,
    const struct sockaddr_storage *b, socklen_t blen)
{
	return alen == blen && memcmp(a, b, alen) == 0;
}

/* The listen entry of any frontend that already has this address. */
static struct listen_conf *
config_listen_find(struct config *cfg, const struct sockaddr_storage *ss,
    socklen_t sslen)
{
	struct listen_conf *l;
	size_t i, j;

	for (i = 0; i < cfg->nfrontends; i++) {
		for (j = 0; j < cfg->frontends[i].nlistens; j++) {
			l = &cfg->frontends[i].listens[j];
			if (config_same_addr(&l->addr, l->addrlen, ss, sslen))
				return l;
		}
	}
	return NULL;
}

/* Listen addresses are unique across all frontends: one socket each. */
static int
config_listen(struct config_ctx *ctx, void *base, const char *value)
{
	struct frontend_conf *fe = base;
	struct listen_conf *l;
	struct sockaddr_storage ss;
	socklen_t sslen;
	const char *why, *flag = NULL;
	char addr[256];
	size_t n = strcspn(value, " \t");

	if (n >= sizeof(addr)) {
		config_err(ctx, ctx->lineno, "listen: address too long");
		return -1;
	}
	if (value[n] != '\0') {
		flag = value + n + strspn(value + n, " \t");
		if (strcmp(flag, "tls") != 0) {
			config_err(ctx, ctx->lineno, "listen: unknown option "
			    "'%s' (expected ADDRESS or ADDRESS tls)", flag);
			return -1;
		}
	}
	snprintf(addr, sizeof(addr), "%.*s", (int)n, value);
	if (confval_addr(addr, &ss, &sslen, &why) == -1) {
		config_err(ctx, ctx->lineno, "listen: invalid address '%s': %s",
		    addr, why);
		return -1;
	}
	if ((l = config_listen_find(ctx->cfg, &ss, sslen)) != NULL) {
		config_err(ctx, ctx->lineno, "duplicate listen address '%s' "
		    "(first at line %d)", value, l->line);
		return -1;
	}
	if ((l = config_grow(ctx, fe->listens, fe->nlistens, sizeof(*l))) ==
	    NULL)
		return -1;
	fe->listens = l;
	l = &fe->listens[fe->nlistens++];
	if ((l->text = config_strdup(ctx, addr)) == NULL)
		return -1;
	l->addr = ss;
	l->addrlen = sslen;
	l->tls = flag != NULL;
	fe->any_tls |= l->tls;
	l->line = ctx->lineno;
	return 0;
}

/*
 * A value the master checks later (a file, a cipher list), with its line:
 * the key's field is a struct config_text.
 */
static int
config_text(struct config_ctx *ctx, void *base, const char *value)
{
	struct config_text *t = (struct config_text *)(void *)
	    ((char *)base + ctx->key->off);

	free(t->s);
	if ((t->s = config_strdup(ctx, value)) == NULL)
		return -1;
	t->line = ctx->lineno;
	return 0;
}

/* tls_cert = PATH, repeatable: read and checked by tls/server.c. */
static int
config_tls_cert(struct config_ctx *ctx, void *base, const char *value)
{
	struct frontend_conf *fe = base;
	struct config_text *t;

	if ((t = config_grow(ctx, fe->tls_certs, fe->ntls_certs,
	    sizeof(*t))) == NULL)
		return -1;
	fe->tls_certs = t;
	t = &fe->tls_certs[fe->ntls_certs++];
	*t = (struct config_text){ config_strdup(ctx, value), ctx->lineno };
	return t->s == NULL ? -1 : 0;
}

/* A DNS name to send as SNI and verify: letters, digits, '-', '.'. */
static int
config_tls_sni(struct config_ctx *ctx, void *base, const char *value)
{
	struct backend_conf *be = base;
	size_t len = strlen(value);

	if (len == 0 || len > 253 || value[0] == '.' || value[0] == '-' ||
	    strspn(value, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.") != len) {
		config_err(ctx, ctx->lineno, "tls_sni: invalid host name '%s'",
		    value);
		return -1;
	}
	free(be->tls_sni);
	return (be->tls_sni = config_strdup(ctx, value)) == NULL ? -1 : 0;
}

/* The name is resolved once every backend is known; keep the line for that. */
static int
config_backend_ref(struct config_ctx *ctx, void *base, const char *value)
{
	struct frontend_conf *fe = base;

	if ((fe->backend_name = config_strdup(ctx, value)) == NULL)
		return -1;
	fe->backend_line = ctx->lineno;
	return 0;
}

/* "max_conns=N": 0 (unlimited) .. 1000000 requests in flight. */
static int
config_server_max_conns(struct config_ctx *ctx, struct server_conf *sv,
    const char *value)
{
	const char *why;
	long n;

	if (confval_int(value, 0, 1000000, &n, &why) == -1) {
		config_err(ctx, ctx->lineno, "server: invalid max_conns '%s': "
		    "%s; expected a number from 0 (unlimited) to 1000000",
		    value, why);
		return -1;
	}
	sv->max_conns = (uint32_t)n;
	sv->max_conns_set = true;
	return 0;
}

/*
 * Apply one server option word: "weight=N", "max_conns=N", "backup",
 * "disabled" or "tls".
 */
int
config_server_opt(struct config_ctx *ctx, struct server_conf *sv,
    const char *opt, bool *weighted)
{
	const char *why;
	long n;

	if (strcmp(opt, "backup") == 0 && !sv->backup) {
		sv->backup = true;
		return 0;
	}
	if (strcmp(opt, "disabled") == 0 && !sv->disabled) {
		sv->disabled = true;
		return 0;
	}
	if (strcmp(opt, "tls") == 0 && !sv->tls) {
		sv->tls = true;
		return 0;
	}
	if (strncmp(opt, "weight=", 7) == 0 && !*weighted) {
		if (confval_int(opt + 7, 1, 256, &n, &why) == -1) {
			config_err(ctx, ctx->lineno, "server: invalid weight "
			    "'%s': %s; expected a number from 1 to 256",
			    opt + 7, why);
			return -1;
		}
		sv->weight = (uint32_t)n;
		*weighted = true;
		return 0;
	}
	if (strncmp(opt, "max_conns=", 10) == 0 && !sv->max_conns_set)
		return config_server_max_conns(ctx, sv, opt + 10);
	if (strcmp(opt, "backup") == 0 || strcmp(opt, "disabled") == 0 ||
	    strcmp(opt, "tls") == 0 || strncmp(opt, "weight=", 7) == 0 ||
	    strncmp(opt, "max_conns=", 10) == 0)
		config_err(ctx, ctx->lineno, "server: option '%s' given twice",
		    opt);
	else
		config_err(ctx, ctx->lineno, "server: unknown option '%s' "
		    "(expected weight=N, max_conns=N, backup, disabled or "
		    "tls)", opt);
	return -1;
}

/* Check a server address against the backend's others and append it. */
static struct server_conf *
config_server_add(struct config_ctx *ctx, struct backend_conf *be,
    const char *addr)
{
	struct server_conf *sv;
	struct sockaddr_storage ss;
	socklen_t sslen;
	const char *why;
	size_t i;

	if (confval_addr(addr, &ss, &sslen, &why) == -1) {
		/* A name: say how to have it resolved. */
		config_err(ctx, ctx->lineno, "server: invalid address "
		    "'%s': %s%s", addr, why, strstr(why, "names") != NULL ?
		    " (add the option 'resolve' to re-resolve a DNS name)" :
		    "");
		return NULL;
	}
	for (i = 0; i < be->nservers; i++) {
		if (config_same_addr(&be->servers[i].addr,
		    be->servers[i].addrlen, &ss, sslen)) {
			config_err(ctx, ctx->lineno, "duplicate server '%s' in "
			    "backend '%s' (first at line %d)", addr, be->name,
			    be->servers[i].line);
			return NULL;
		}
	}
	if ((sv = config_grow(ctx, be->servers, be->nservers, sizeof(*sv))) ==
	    NULL)
		return NULL;
	be->servers = sv;
	sv = &be->servers[be->nservers++];
	if ((sv->name = config_strdup(ctx, addr)) == NULL)
		return NULL;
	sv->addr = ss;
	sv->addrlen = sslen;
	confval_addr_str((struct sockaddr *)&ss, sv->id, sizeof(sv->id));
	sv->weight = 1;
	sv->line = ctx->lineno;
	return sv;
}

/* "ip", "uri", "header:NAME" or "cookie:NAME". */
static int
config_hash_key(struct config_ctx *ctx, void *base, const char *value)
{
	struct backend_conf *be = base;
	const char *name = NULL;

	be->hash_key = CONFIG_HASH_IP;
	if (strcmp(value, "ip") == 0)
		be->hash_key = CONFIG_HASH_IP;
	else if (strcmp(value, "uri") == 0)
		be->hash_key = CONFIG_HASH_URI;
	else if (strncmp(value, "header:", 7) == 0 && value[7] != '\0') {
		be->hash_key = CONFIG_HASH_HEADER;
		name = value + 7;
	} else if (strncmp(value, "cookie:", 7) == 0 && value[7] != '\0') {
		be->hash_key = CONFIG_HASH_COOKIE;
		name = value + 7;
	}
	if (be->hash_key == CONFIG_HASH_IP && strcmp(value, "ip") != 0) {
		config_err(ctx, ctx->lineno, "hash_key: invalid value '%s'; "
		    "expected ip, uri, header:NAME or cookie:NAME", value);
		return -1;
	}
	for (const char *c = name; c != NULL && *c != '\0'; c++) {
		if (!isalnum((unsigned char)*c) && strchr("-_.", *c) == NULL) {
			config_err(ctx, ctx->lineno, "hash_key: invalid name "
			    "'%s' (letters, digits, '-', '_', '.')", name);
			return -1;
		}
	}
	free(be->hash_key_name);
	be->hash_key_name = NULL;
	if (name != NULL && (be->hash_key_name = config_strdup(ctx, name)) == NULL)
		return -1;
	return 0;
}

/* "0" (off) or a load factor from 1.0 to 10.0 with up to two decimals. */
static int
config_hash_bounded(struct config_ctx *ctx, void *base, const char *value)
{
	struct backend_conf *be = base;
	unsigned whole = 0, frac = 0, digits = 0;
	const char *p = value;

	while (*p >= '0' && *p <= '9' && whole < 100)
		whole = whole * 10 + (unsigned)(*p++ - '0');
	if (*p == '.' && p != value)
		for (p++; *p >= '0' && *p <= '9' && digits < 2; digits++)
			frac = frac * 10 + (unsigned)(*p++ - '0');
	if (digits == 1)
		frac *= 10;
	if (p == value || *p != '\0' || (whole == 0 && frac == 0 &&
	    strcmp(value, "0") != 0) || (whole != 0 && (whole < 1 ||
	    whole * 100 + frac > 1000)) || (whole == 0 && frac != 0)) {
		config_err(ctx, ctx->lineno, "hash_bounded: invalid value '%s'; "
		    "expected 0 (off) or a factor from 1.0 to 10.0", value);
		return -1;
	}
	be->hash_bounded_pct = whole * 100 + frac;
	return 0;
}

/* "200-399,404": up to CONFIG_MAX_EXPECT status codes or ranges. */
static int
config_health_expect(struct config_ctx *ctx, void *base, const char *value)
{
	struct backend_conf *be = base;
	const char *p = value;
	char *end;
	unsigned long lo, hi;

	be->nhealth_expect = 0;
	while (*p != '\0') {
		lo = strtoul(p, &end, 10);
		hi = lo;
		if (end != p && *end == '-')
			hi = strtoul(p = end + 1, &end, 10);
		if (end == p || lo < 100 || hi > 599 || lo > hi ||
		    (*end != ',' && *end != '\0') ||
		    (*end == ',' && end[1] == '\0') ||
		    be->nhealth_expect == CONFIG_MAX_EXPECT || !isdigit(
		    (unsigned char)*p)) {
			config_err(ctx, ctx->lineno, "health_expect: invalid "
			    "value '%s'; expected status codes or ranges such "
			    "as 200-399,404 (at most %d)", value,
			    CONFIG_MAX_EXPECT);
			return -1;
		}
		be->health_expect[be->nhealth_expect++] =
		    (struct status_range){ (uint16_t)lo, (uint16_t)hi };
		p = *end == ',' ? end + 1 : end;
	}
	return 0;
}

/* "20%" or "20": a whole percentage from 0 to 100 into a uint32_t field. */
static int
config_percent(struct config_ctx *ctx, void *base, const char *value)
{
	const struct config_key *k = ctx->key;
	char *end;
	unsigned long v = strtoul(value, &end, 10);

	if (end == value || !isdigit((unsigned char)value[0]) || v > 100 ||
	    (*end == '%' ? end[1] != '\0' : *end != '\0')) {
		config_err(ctx, ctx->lineno, "%s: invalid value '%s'; expected "
		    "a percentage from 0%% to 100%%", k->key, value);
		return -1;
	}
	*(uint32_t *)(void *)((char *)base + k->off) = (uint32_t)v;
	return 0;
}

/*
 * Split a comma-separated list in place: the next element, trimmed of
 * blanks, or NULL at the end. An empty element ("a,,b", a trailing comma)
 * comes back as "" so callers can refuse it.
 */
char *
config_list_next(char **rest)
{
	char *s = *rest, *comma, *end;

	if (s == NULL)
		return NULL;
	if ((comma = strchr(s, ',')) != NULL) {
		*comma = '\0';
		*rest = comma + 1;
	} else
		*rest = NULL;
	s += strspn(s, " \t");
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
		*--end = '\0';
	return s;
}

/* "10.0.0.0/8, 192.0.2.7, fd00::/8": CIDR blocks and plain addresses. */
static int
config_trusted(struct config_ctx *ctx, void *base, const char *value)
{
	struct frontend_conf *fe = base;
	struct cidr *v;
	char *copy, *rest, *item;
	const char *why;
	int rc = -1;

	if ((copy = rest = config_strdup(ctx, value)) == NULL)
		return -1;
	while ((item = config_list_next(&rest)) != NULL) {
		if (*item == '\0') {
			config_err(ctx, ctx->lineno, "trusted_proxies: empty "
			    "entry in '%s'", value);
			goto out;
		}
		if ((v = config_grow(ctx, fe->trusted, fe->ntrusted,
		    sizeof(*v))) == NULL)
			goto out;
		fe->trusted = v;
		if (cidr_parse(item, &fe->trusted[fe->ntrusted], &why) == -1) {
			config_err(ctx, ctx->lineno, "trusted_proxies: invalid "
			    "entry '%s': %s; expected an address or a CIDR "
			    "block such as 10.0.0.0/8 or fd00::/8", item, why);
			goto out;
		}
		fe->ntrusted++;
	}
	rc = 0;
out:
	free(copy);
	return rc;
}

/* Forget the upgrade_allow list (the default, before the file's value). */
static void
config_upgrade_clear(struct frontend_conf *fe)
{
	for (size_t i = 0; i < fe->nupgrade_allow; i++)
		free(fe->upgrade_allow[i]);
	free(fe->upgrade_allow);
	fe->upgrade_allow = NULL;
	fe->nupgrade_allow = 0;
}

/* "websocket, foo": protocol names (RFC 9110 tokens), or "none". */
static int
config_upgrade_allow(struct config_ctx *ctx, void *base, const char *value)
{
	static const char tchar[] = "abcdefghijklmnopqrstuvwxyz0123456789"
	    "!#$%&'*+-.^_`|~";
	struct frontend_conf *fe = base;
	char *copy, *rest, *item, **v;
	int rc = -1;

	config_upgrade_clear(fe);
	if (strcmp(value, "none") == 0)
		return 0;
	if ((copy = rest = config_strdup(ctx, value)) == NULL)
		return -1;
	while ((item = config_list_next(&rest)) != NULL) {
		for (char *p = item; *p != '\0'; p++)
			*p = (char)tolower((unsigned char)*p);
		if (*item == '\0' || strspn(item, tchar) != strlen(item)) {
			config_err(ctx, ctx->lineno, "upgrade_allow: invalid "
			    "protocol '%s'; expected names such as websocket, "
			    "separated by commas, or none", item);
			goto out;
		}
		if ((v = config_grow(ctx, fe->upgrade_allow, fe->nupgrade_allow,
		    sizeof(*v))) == NULL)
			goto out;
		fe->upgrade_allow = v;
		if ((v[fe->nupgrade_allow] = config_strdup(ctx, item)) == NULL)
			goto out;
		fe->nupgrade_allow++;
	}
	rc = 0;
out:
	free(copy);
	return rc;
}

/* "off", "syslog", or the path of a file each worker appends to. */
static int
config_access_log(struct config_ctx *ctx, void *base, const char *value)
{
	struct frontend_conf *fe = base;

	free(fe->access_log_path);
	fe->access_log_path = NULL;
	fe->access_log_line = ctx->lineno;
	if (strcmp(value, "off") == 0)
		fe->access_log = CONFIG_ACCESS_LOG_OFF;
	else if (strcmp(value, "syslog") == 0)
		fe->access_log = CONFIG_ACCESS_LOG_SYSLOG;
	else {
		fe->access_log = CONFIG_ACCESS_LOG_FILE;
		if ((fe->access_log_path = config_strdup(ctx, value)) == NULL)
			return -1;
	}
	return 0;
}

/*
 * "off" or a header name: letters, digits and '-', and none of the fields
 * weir itself reads or writes (the id header is dropped and written anew,
 * which would break those).
 */
static int
config_request_id(struct config_ctx *ctx, void *base, const char *value)
{
	static const char *const taken[] = { "host", "content-length",
	    "transfer-encoding", "connection", "keep-alive",
	    "proxy-connection", "te", "trailer", "upgrade", "expect",
	    "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host",
	    "x-real-ip", "forwarded" };
	struct frontend_conf *fe = base;
	size_t len = strlen(value);

	free(fe->request_id);
	fe->request_id = NULL;
	if (strcmp(value, "off") == 0)
		return 0;
	if (len > CONFIG_MAX_HEADER_NAME || strspn(value,
	    "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") != len) {
		config_err(ctx, ctx->lineno, "request_id: invalid header name "
		    "'%s'; expected off or a name such as X-Request-Id (up to "
		    "%d letters, digits or '-')", value, CONFIG_MAX_HEADER_NAME);
		return -1;
	}
	for (size_t i = 0; i < sizeof(taken) / sizeof(taken[0]); i++) {
		if (strcasecmp(value, taken[i]) == 0) {
			config_err(ctx, ctx->lineno, "request_id: '%s' is a "
			    "header weir manages itself; choose another name "
			    "such as X-Request-Id", value);
			return -1;
		}
	}
	return (fe->request_id = config_strdup(ctx, value)) == NULL ? -1 : 0;
}

#define CONFIG_SERVER_WORDS	8	/* an address and at most 7 options */

/*
 * "ADDRESS [weight=N] [max_conns=N] [backup] [disabled] [tls]", words
 * separated by blanks; "HOST:PORT resolve ..." is a name to re-resolve
 * (configdisc.c).
 */
static int
config_server(struct config_ctx *ctx, void *base, const char *value)
{
	struct backend_conf *be = base;
	struct server_conf *sv;
	char *copy, *words[CONFIG_SERVER_WORDS], *save;
	bool weighted = false, resolve = false;
	size_t n = 0, i;
	int rc = -1;

	if ((copy = config_strdup(ctx, value)) == NULL)
		return -1;
	for (char *w = strtok_r(copy, " \t", &save); w != NULL;
	    w = strtok_r(NULL, " \t", &save)) {
		if (n == CONFIG_SERVER_WORDS) {
			config_err(ctx, ctx->lineno, "server: too many "
			    "options");
			goto out;
		}
		resolve |= n > 0 && strcmp(w, "resolve") == 0;
		words[n++] = w;
	}
	if (n == 0) {
		config_err(ctx, ctx->lineno, "server: no address");
		goto out;
	}
	if (resolve) {
		rc = config_server_resolve(ctx, be, words[0], words + 1, n - 1);
		goto out;
	}
	if ((sv = config_server_add(ctx, be, words[0])) == NULL)
		goto out;
	for (i = 1; i < n; i++)
		if (config_server_opt(ctx, sv, words[i], &weighted) == -1)
			goto out;
	be->any_tls |= sv->tls;
	rc = 0;
out:
	free(copy);
	return rc;
}

/* Parse a number of k's type: a value, or a limit from the table. */
static int
config_number(const struct config_key *k, const char *s, uint64_t *v,
    const char **why)
{
	uint32_t ms;
	long l;

	switch (k->type) {
	case CONFIG_DURATION:
		if (confval_duration(s, &ms, why) == -1)
			return -1;
		*v = ms;
		return 0;
	case CONFIG_SIZE:
		return confval_size(s, v, why);
	default:
		if (confval_int(s, 0, LONG_MAX, &l, why) == -1)
			return -1;
		*v = (uint64_t)l;
		return 0;
	}
}

/* Limits are text in the table ("1k", "24h"), read like values. */
static bool
config_in_range(const struct config_key *k, uint64_t v)
{
	const char *why;
	uint64_t lim;

	if (k->min != NULL && config_number(k, k->min, &lim, &why) == 0 &&
	    v < lim)
		return false;
	if (k->max != NULL && config_number(k, k->max, &lim, &why) == 0 &&
	    v > lim)
		return false;
	return true;
}

/* Describe what a key accepts, for error messages. */
static void
config_expect(const struct config_key *k, char *buf, size_t len)
{
	const struct config_enum *e;
	size_t n;

	if (k->type == CONFIG_DURATION)
		snprintf(buf, len, "a duration such as 500ms, 30s, 5m or 1h, "
		    "from %s to %s", k->min, k->max);
	else if (k->type == CONFIG_SIZE && k->max == NULL)
		snprintf(buf, len, "a size such as 512, 16k, 100m or 1g");
	else if (k->type == CONFIG_SIZE)
		snprintf(buf, len, "a size such as 512, 16k or 1m, from %s "
		    "to %s", k->min, k->max);
	else if (k->type == CONFIG_INT)
		snprintf(buf, len, "a number from %s to %s", k->min, k->max);
	else {
		n = (size_t)snprintf(buf, len, "one of:");
		for (e = k->names; e->name != NULL && n < len; e++)
			n += (size_t)snprintf(buf + n, len - n, " %s", e->name);
	}
}

/* Parse value for key k into the struct at base, as the table says. */
static int
config_set(struct config_ctx *ctx, const struct config_key *k, void *base,
    const char *value)
{
	char *p = (char *)base + k->off;
	const struct config_enum *e;
	const char *why = "out of range";
	char expect[128];
	uint64_t v;

	switch (k->type) {
	case CONFIG_DURATION:
	case CONFIG_SIZE:
	case CONFIG_INT:
		if (config_number(k, value, &v, &why) == -1)
			break;
		if (!config_in_range(k, v))
			break;
		if (k->type == CONFIG_SIZE)
			*(uint64_t *)(void *)p = v;
		else
			*(uint32_t *)(void *)p = (uint32_t)v;
		return 0;
	case CONFIG_ENUM:
		for (e = k->names; e->name != NULL; e++) {
			if (strcmp(value, e->name) == 0) {
				*(int *)(void *)p = e->value;
				return 0;
			}
		}
		why = "unknown name";
		break;
	case CONFIG_STRING:
		return (*(char **)(void *)p = config_strdup(ctx, value)) ==
		    NULL ? -1 : 0;
	case CONFIG_SPECIAL:
		ctx->key = k;
		return k->fn(ctx, base, value);
	}
	config_expect(k, expect, sizeof(expect));
	config_err(ctx, ctx->lineno, "%s: invalid value '%s': %s; expected %s",
	    k->key, value, why, expect);
	return -1;
}

/* Fill a new section's struct with the table's defaults. */
static int
config_defaults(struct config_ctx *ctx, enum config_sect sect, void *base)
{
	const struct config_key *k;

	for (k = config_keys; k < config_keys + CONFIG_NKEYS; k++) {
		if (k->sect == sect && k->def != NULL &&
		    config_set(ctx, k, base, k->def) == -1)
			return -1;
	}
	return 0;
}

/* Make sect current: every key seen from here on belongs to base. */
static void
config_enter(struct config_ctx *ctx, enum config_sect sect, void *base,
    const char *name)
{
	ctx->sect = sect;
	ctx->base = base;
	snprintf(ctx->label, sizeof(ctx->label), "%s%s%s",
	    config_sect_names[sect], name != NULL ? " " : "",
	    name != NULL ? name : "");
	memset(ctx->seen, 0, sizeof(ctx->seen));
}

/* [global] takes no name and, like the others, appears at most once. */
static int
config_open_global(struct config_ctx *ctx, const char *hdr, const char *name)
{
	if (name != NULL) {
		config_err(ctx, ctx->lineno, "section '%s' takes no name, "
		    "expected [global]", hdr);
		return -1;
	}
	if (ctx->global_line != 0) {
		config_err(ctx, ctx->lineno, "duplicate [global] section "
		    "(first at line %d)", ctx->global_line);
		return -1;
	}
	ctx->global_line = ctx->lineno;
	config_enter(ctx, CONFIG_SECT_GLOBAL, ctx->cfg, NULL);
	return 0;
}

/* [admin] takes no name and appears at most once. */
static int
config_open_admin(struct config_ctx *ctx, const char *hdr, const char *name)
{
	struct config *cfg = ctx->cfg;

	if (name != NULL) {
		config_err(ctx, ctx->lineno, "section '%s' takes no name, "
		    "expected [admin]", hdr);
		return -1;
	}
	if (cfg->admin != NULL) {
		config_err(ctx, ctx->lineno, "duplicate [admin] section "
		    "(first at line %d)", cfg->admin->line);
		return -1;
	}
	if ((cfg->admin = calloc(1, sizeof(*cfg->admin))) == NULL) {
		config_err(ctx, ctx->lineno, "out of memory");
		return -1;
	}
	cfg->admin->line = ctx->lineno;
	config_enter(ctx, CONFIG_SECT_ADMIN, cfg->admin, NULL);
	return config_defaults(ctx, CONFIG_SECT_ADMIN, cfg->admin);
}

/* Names show up in logs and metric labels: keep them to a safe alphabet. */
static bool
config_valid_name(const char *name)
{
	size_t len = strlen(name);

	return len > 0 && len < CONFIG_MAX_NAME && strspn(name,
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789._-") == len;
}

/*
 * Open a frontend or backend. A second section with the same name is an
 * error rather than a continuation of the first: merging would make the
 * meaning of a key depend on where else in the file it appears.
 */
static int
config_open_named(struct config_ctx *ctx, enum config_sect sect,
    const char *name)
{
	struct config *cfg = ctx->cfg;
	struct frontend_conf *fe;
	struct backend_conf *be;
	void *base;
	size_t i;

	if (sect == CONFIG_SECT_ROUTE || sect == CONFIG_SECT_LIMIT) {
		base = sect == CONFIG_SECT_ROUTE ?
		    config_route_open(ctx, name) : config_limit_open(ctx, name);
		if (base == NULL)
			return -1;
		config_enter(ctx, sect, base, name);
		if (sect == CONFIG_SECT_ROUTE && config_defaults(ctx,
		    CONFIG_SECT_POLICY, &((struct route_conf *)base)->policy)
		    == -1)
			return -1;
		return config_defaults(ctx, sect, base);
	}
	if (sect == CONFIG_SECT_FRONTEND) {
		for (i = 0; i < cfg->nfrontends; i++) {
			if (strcmp(cfg->frontends[i].name, name) == 0)
				goto dup;
		}
		if ((fe = config_grow(ctx, cfg->frontends, cfg->nfrontends,
		    sizeof(*fe))) == NULL)
			return -1;
		cfg->frontends = fe;
		fe = &cfg->frontends[cfg->nfrontends++];
		if ((fe->name = config_strdup(ctx, name)) == NULL)
			return -1;
		fe->line = ctx->lineno;
		fe->backend = CONFIG_NO_BACKEND;
		config_enter(ctx, sect, fe, name);
		if (config_defaults(ctx, CONFIG_SECT_POLICY, &fe->policy) == -1)
			return -1;
		return config_defaults(ctx, sect, fe);
	}
	for (i = 0; i < cfg->nbackends; i++) {
		if (strcmp(cfg->backends[i].name, name) == 0)
			goto dup;
	}
	if ((be = config_grow(ctx, cfg->backends, cfg->nbackends,
	    sizeof(*be))) == NULL)
		return -1;
	cfg->backends = be;
	be = &cfg->backends[cfg->nbackends++];
	if ((be->name = config_strdup(ctx, name)) == NULL)
		return -1;
	be->line = ctx->lineno;
	config_enter(ctx, sect, be, name);
	return config_defaults(ctx, sect, be);
dup:
	config_err(ctx, ctx->lineno, "duplicate %s '%s' (first at line %d)",
	    config_sect_names[sect], name, sect == CONFIG_SECT_FRONTEND ?
	    cfg->frontends[i].line : cfg->backends[i].line);
	return -1;
}

/* The section kind named by the first word of a header, if any. */
static enum config_sect
config_sect_find(const char *kind)
{
	enum config_sect sect;

	for (sect = CONFIG_SECT_GLOBAL; kind != NULL &&
	    sect <= CONFIG_SECT_LIMIT; sect++) {
		if (strcmp(kind, config_sect_names[sect]) == 0)
			return sect;
	}
	return CONFIG_SECT_NONE;
}

/* Handle a section header: "[global]", "[admin]" or "[KIND NAME]". */
static int
config_section(struct config_ctx *ctx, char *s)
{
	char hdr[256], *kind, *name, *save;
	enum config_sect sect;
	size_t len = strlen(s);

	snprintf(hdr, sizeof(hdr), "%s", s);
	if (s[len - 1] != ']') {
		config_err(ctx, ctx->lineno, "section header '%s' does not "
		    "end with ']'", hdr);
		return -1;
	}
	s[len - 1] = '\0';
	kind = strtok_r(s + 1, " \t", &save);
	name = kind != NULL ? strtok_r(NULL, " \t", &save) : NULL;
	if ((sect = config_sect_find(kind)) == CONFIG_SECT_NONE) {
		config_err(ctx, ctx->lineno, "unknown section '%s', expected "
		    "[global], [frontend NAME], [backend NAME], [route NAME], "
		    "[limit NAME] or [admin]", hdr);
		return -1;
	}
	if (sect == CONFIG_SECT_GLOBAL)
		return config_open_global(ctx, hdr, name);
	if (sect == CONFIG_SECT_ADMIN)
		return config_open_admin(ctx, hdr, name);
	if (name == NULL || strtok_r(NULL, " \t", &save) != NULL) {
		config_err(ctx, ctx->lineno, "section '%s' needs exactly one "
		    "name: [%s NAME]", hdr, kind);
		return -1;
	}
	if (!config_valid_name(name)) {
		config_err(ctx, ctx->lineno, "invalid %s name '%s' (use up to "
		    "%d letters, digits, '.', '_' or '-')", kind, name,
		    CONFIG_MAX_NAME - 1);
		return -1;
	}
	return config_open_named(ctx, sect, name);
}

/*
 * Trim a line before inih sees it. Leading blanks go first: inih r55 would
 * deliver an indented line as one more value of the previous key (an
 * indented "balance = rr" after "server = ..." becomes a server). Then an
 * inline comment: inih has none for '#' (and Debian's build only strips
 * ';'), yet operators copy "key = value ; note" from examples, so a ';' or
 * '#' preceded by a blank starts a comment; "a#b" stays as it is. Then
 * trailing blanks.
 */
static char *
config_strip(char *s)
{
	char *p;

	s += strspn(s, " \t");
	for (p = s; *p != '\0'; p++) {
		if ((*p == ';' || *p == '#') &&
		    (p == s || p[-1] == ' ' || p[-1] == '\t')) {
			*p = '\0';
			break;
		}
	}
	while (p > s && strchr(" \t\r", p[-1]) != NULL)
		*--p = '\0';
	return s;
}

/* A key line must read "key = value"; inih would also split at ':'. */
static int
config_check_pair(struct config_ctx *ctx, const char *s)
{
	const char *eq = strpbrk(s, "=:");

	if (eq == NULL || *eq == ':') {
		config_err(ctx, ctx->lineno, "expected 'key = value', got '%s'",
		    s);
		return -1;
	}
	if (eq == s) {
		config_err(ctx, ctx->lineno, "missing key before '=' in '%s'",
		    s);
		return -1;
	}
	return 0;
}

/* Read one line into ctx->line without its line ending; -1 at EOF or error. */
static ssize_t
config_getline(struct config_ctx *ctx)
{
	ssize_t n;

	errno = 0;
	if ((n = getline(&ctx->line, &ctx->linecap, ctx->fp)) == -1) {
		if (ferror(ctx->fp))
			config_err(ctx, 0, "read error: %s",
			    strerror(errno != 0 ? errno : EIO));
		return -1;
	}
	ctx->lineno++;
	if (n > 0 && ctx->line[n - 1] == '\n')
		ctx->line[--n] = '\0';
	if (n > 0 && ctx->line[n - 1] == '\r')
		ctx->line[--n] = '\0';
	if (ctx->lineno == 1 && strncmp(ctx->line, "\xef\xbb\xbf", 3) == 0) {
		memmove(ctx->line, ctx->line + 3, (size_t)n - 2);
		n -= 3;
	}
	return n;
}

/*
 * inih's line reader. It counts lines, since inih r55 gives the handler no
 * line number; refuses lines that inih would cut at its buffer size
 * (num - 1 bytes) and parse the rest of as a new line; and opens sections
 * itself so that empty ones are checked too. inih then sees section lines
 * as blank: the handler takes the section from ctx, never from inih.
 */
static char *
config_read_cb(char *buf, int num, void *arg)
{
	struct config_ctx *ctx = arg;
	ssize_t n;
	char *s;

	if (ctx->failed || (n = config_getline(ctx)) == -1)
		return NULL;
	if (n > num - 1) {
		config_err(ctx, ctx->lineno, "line too long (max %d bytes)",
		    num - 1);
		return NULL;
	}
	if (strlen(ctx->line) != (size_t)n) {
		config_err(ctx, ctx->lineno, "NUL byte in line");
		return NULL;
	}
	s = config_strip(ctx->line);
	if (*s == '[') {
		if (config_section(ctx, s) == -1)
			return NULL;
		*s = '\0';
	} else if (*s != '\0' && config_check_pair(ctx, s) == -1)
		return NULL;
	memcpy(buf, s, strlen(s) + 1);
	return buf;
}

/* Find key in the table rows of the current section; -1 if unknown. */
static int
config_key_find(enum config_sect sect, const char *key)
{
	size_t i;

	for (i = 0; i < CONFIG_NKEYS; i++) {
		if (config_keys[i].sect == sect &&
		    strcmp(config_keys[i].key, key) == 0)
			return (int)i;
	}
	return -1;
}

/* The request policy a [frontend] or [route] section fills; else NULL. */
static struct policy_conf *
config_policy_of(struct config_ctx *ctx)
{
	if (ctx->sect == CONFIG_SECT_FRONTEND)
		return &((struct frontend_conf *)ctx->base)->policy;
	if (ctx->sect == CONFIG_SECT_ROUTE)
		return &((struct route_conf *)ctx->base)->policy;
	return NULL;
}

/* inih's handler: one "key = value" of the current section. */
static int
config_handler_cb(void *arg, const char *section, const char *key,
    const char *value)
{
	struct config_ctx *ctx = arg;
	void *base;
	int i;

	(void)section;			/* see config_read_cb() */
	if (ctx->failed)
		return 0;
	if (ctx->sect == CONFIG_SECT_NONE) {
		config_err(ctx, ctx->lineno, "key '%s' outside of any section",
		    key);
		return 0;
	}
	base = ctx->base;
	if ((i = config_key_find(ctx->sect, key)) == -1 &&
	    (base = config_policy_of(ctx)) != NULL)
		i = config_key_find(CONFIG_SECT_POLICY, key);
	if (i == -1) {
		config_err(ctx, ctx->lineno, "unknown key '%s' in [%s]", key,
		    ctx->label);
		return 0;
	}
	if (*value == '\0') {
		config_err(ctx, ctx->lineno, "%s: missing value", key);
		return 0;
	}
	if (!config_keys[i].repeat && ctx->seen[i] != 0) {
		config_err(ctx, ctx->lineno, "duplicate key '%s' in [%s] "
		    "(first at line %d)", key, ctx->label, ctx->seen[i]);
		return 0;
	}
	ctx->seen[i] = ctx->lineno;
	if (ctx->sect == CONFIG_SECT_GLOBAL && i < CONFIG_MAX_GLOBAL_KEYS)
		ctx->cfg->global_line[i] = ctx->lineno;
	return config_set(ctx, &config_keys[i], base, value) == 0;
}

/* TLS keys of a frontend go with a "listen ... tls" and need a cert. */
static int
config_check_frontend_tls(struct config_ctx *ctx, struct frontend_conf *fe)
{
	const struct config_text *stray = fe->ntls_certs > 0 ?
	    &fe->tls_certs[0] : fe->tls_client_ca.s != NULL ?
	    &fe->tls_client_ca : fe->tls_ciphers.s != NULL ?
	    &fe->tls_ciphers : fe->tls_ciphersuites.s != NULL ?
	    &fe->tls_ciphersuites : NULL;
	size_t i;

	if (!fe->any_tls && stray != NULL) {
		config_err(ctx, stray->line, "frontend '%s' has TLS settings "
		    "but no 'listen = ADDRESS tls'", fe->name);
		return -1;
	}
	for (i = 0; i < fe->nlistens && fe->ntls_certs == 0; i++) {
		if (fe->listens[i].tls) {
			config_err(ctx, fe->listens[i].line, "listen %s tls: "
			    "frontend '%s' has no 'tls_cert'",
			    fe->listens[i].text, fe->name);
			return -1;
		}
	}
	return 0;
}

/* A frontend needs a listen address; a backend, when given, must exist. */
static int
config_check_frontend(struct config_ctx *ctx, struct frontend_conf *fe)
{
	size_t i;

	if (fe->nlistens == 0) {
		config_err(ctx, fe->line, "frontend '%s' has no 'listen' "
		    "address", fe->name);
		return -1;
	}
	if (config_check_frontend_tls(ctx, fe) == -1)
		return -1;
	if (fe->backend_name == NULL)
		return 0;		/* routes only; no match: 404 */
	for (i = 0; i < ctx->cfg->nbackends; i++) {
		if (strcmp(ctx->cfg->backends[i].name, fe->backend_name) == 0) {
			fe->backend = i;
			return 0;
		}
	}
	config_err(ctx, fe->backend_line, "frontend '%s' uses unknown backend "
	    "'%s'", fe->name, fe->backend_name);
	return -1;
}

/* [admin] needs a listen address that no frontend has. */
static int
config_check_admin(struct config_ctx *ctx, struct admin_conf *ad)
{
	struct listen_conf *l;

	if (ad->listen == NULL) {
		config_err(ctx, ad->line, "[admin] has no 'listen' address");
		return -1;
	}
	if (ad->unix_path == NULL && (l = config_listen_find(ctx->cfg,
	    &ad->addr, ad->addrlen)) != NULL) {
		config_err(ctx, ad->listen_line, "admin listen address '%s' is "
		    "also a frontend's listen address (line %d)", ad->listen,
		    l->line);
		return -1;
	}
	return 0;
}

/*
 * A server without its own max_conns takes the backend's, wherever in the
 * section either was written; limited says whether any server has one,
 * so a backend without limits skips the queue machinery (one test).
 */
static void
config_limits(struct backend_conf *be)
{
	for (size_t s = 0; s < be->nservers; s++) {
		struct server_conf *sv = &be->servers[s];

		if (!sv->max_conns_set)
			sv->max_conns = be->max_conns;
		be->limited |= sv->max_conns > 0;
	}
}

/* Rules about the whole file, checked once every line is read. */
static void
config_check(struct config_ctx *ctx)
{
	struct config *cfg = ctx->cfg;
	size_t i, nservers = 0;

	if (cfg->nfrontends == 0) {
		config_err(ctx, 0, "no [frontend NAME] section, nothing to "
		    "serve");
		return;
	}
	if (cfg->group != NULL && cfg->user == NULL) {
		config_err(ctx, config_line(cfg, "group"), "group is set but user is not; "
		    "set both, or user alone (its own group)");
		return;
	}
	if (cfg->user != NULL && cfg->group == NULL)
		cfg->gid = cfg->user_gid;
	for (i = 0; i < cfg->nfrontends; i++) {
		if (config_check_frontend(ctx, &cfg->frontends[i]) == -1)
			return;
	}
	for (i = 0; i < cfg->nbackends; i++) {
		if (config_check_discovery(ctx, &cfg->backends[i]) == -1)
			return;
		config_limits(&cfg->backends[i]);
		nservers += cfg->backends[i].nservers;
	}
	/* The shared segment has room for max_servers, fixed at start. */
	if (nservers > cfg->max_servers) {
		config_err(ctx, config_line(cfg, "max_servers"), "%zu servers in "
		    "the file, more than max_servers (%u)", nservers,
		    cfg->max_servers);
		return;
	}
	if (config_check_routes(ctx) == -1)
		return;
	if (cfg->admin != NULL)
		config_check_admin(ctx, cfg->admin);
}

/* Parse fp, named name in messages, into a new config. */
static int
config_parse(FILE *fp, const char *name, struct config **out, char *err,
    size_t errlen)
{
	struct config_ctx ctx;
	int rc;

	memset(&ctx, 0, sizeof(ctx));
	ctx.name = name;
	ctx.fp = fp;
	ctx.err = err;
	ctx.errlen = errlen;
	if ((ctx.cfg = calloc(1, sizeof(*ctx.cfg))) == NULL)
		config_err(&ctx, 0, "out of memory");
	else if ((ctx.cfg->path = config_strdup(&ctx, name)) != NULL &&
	    config_defaults(&ctx, CONFIG_SECT_GLOBAL, ctx.cfg) == 0) {
		rc = ini_parse_stream(config_read_cb, &ctx, config_handler_cb,
		    &ctx);
		if (rc == -2)
			config_err(&ctx, 0, "out of memory");
		else if (rc != 0)
			config_err(&ctx, rc, "syntax error");
	}
	if (!ctx.failed)
		config_check(&ctx);
	free(ctx.line);
	if (ctx.failed) {
		config_free(ctx.cfg);
		return -1;
	}
	*out = ctx.cfg;
	return 0;
}

/*
 * Parse text (len bytes, owned from here on: the config keeps it for
 * config_reparse, or it is freed), named name in messages.
 */
static int
config_parse_text(const char *name, char *text, size_t len,
    struct config **out, char *err, size_t errlen)
{
	static char blank[] = "\n";
	FILE *fp;
	int rc;

	/* fmemopen(3) refuses an empty buffer; a blank line reads the same. */
	if ((fp = len > 0 ? fmemopen(text, len, "r") :
	    fmemopen(blank, 1, "r")) == NULL) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "%s: out of memory", name);
		free(text);
		return -1;
	}
	rc = config_parse(fp, name, out, err, errlen);
	fclose(fp);
	if (rc == 0) {
		(*out)->text = text;
		(*out)->textlen = len;
	} else
		free(text);
	return rc;
}

/* The whole file at path, NUL-terminated, into *text; 0 or -1 with err. */
static int
config_read_file(const char *path, char **text, size_t *len, char *err,
    size_t errlen)
{
	size_t cap = 0, n = 0, got;
	char *buf = NULL, *p;
	FILE *fp;

	if ((fp = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: cannot open: %s", path,
		    strerror(errno));
		return -1;
	}
	errno = 0;
	do {
		if (n + 1 >= cap) {
			cap = cap == 0 ? 4096 : cap * 2;
			p = cap <= CONFIG_MAX_FILE ? realloc(buf, cap) : NULL;
			if (p == NULL) {
				snprintf(err, errlen, "%s: %s", path,
				    cap > CONFIG_MAX_FILE ? "file too large" :
				    "out of memory");
				goto fail;
			}
			buf = p;
		}
		n += got = fread(buf + n, 1, cap - n - 1, fp);
	} while (got > 0);
	if (ferror(fp)) {
		snprintf(err, errlen, "%s: read error: %s", path,
		    strerror(errno != 0 ? errno : EIO));
		goto fail;
	}
	fclose(fp);
	buf[n] = '\0';
	*text = buf;
	*len = n;
	return 0;
fail:
	fclose(fp);
	free(buf);
	return -1;
}

int
config_line(const struct config *cfg, const char *key)
{
	int i = config_key_find(CONFIG_SECT_GLOBAL, key);

	return i >= 0 && i < CONFIG_MAX_GLOBAL_KEYS ? cfg->global_line[i] : 0;
}

int
config_load(const char *path, struct config **out, char *err, size_t errlen)
{
	char *text, dummy[1];
	size_t len;

	if (err == NULL || errlen == 0) {
		err = dummy;
		errlen = sizeof(dummy);
	}
	if (config_read_file(path, &text, &len, err, errlen) == -1)
		return -1;
	return config_parse_text(path, text, len, out, err, errlen);
}

int
config_load_string(const char *name, const char *text, struct config **out,
    char *err, size_t errlen)
{
	char *copy;

	if ((copy = strdup(text)) == NULL) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "%s: out of memory", name);
		return -1;
	}
	return config_parse_text(name, copy, strlen(copy), out, err, errlen);
}

int
config_reparse(const struct config *cfg, struct config **out, char *err,
    size_t errlen)
{
	char *copy;

	if ((copy = malloc(cfg->textlen + 1)) == NULL) {
		snprintf(err, errlen, "%s: out of memory", cfg->path);
		return -1;
	}
	memcpy(copy, cfg->text, cfg->textlen);
	copy[cfg->textlen] = '\0';
	return config_parse_text(cfg->path, copy, cfg->textlen, out, err,
	    errlen);
}

static void
config_free_frontend(struct frontend_conf *fe)
{
	size_t i;

	for (i = 0; i < fe->nlistens; i++)
		free(fe->listens[i].text);
	free(fe->listens);
	free(fe->name);
	free(fe->backend_name);
	free(fe->trusted);
	free(fe->access_log_path);
	free(fe->request_id);
	for (i = 0; i < fe->ntls_certs; i++)
		free(fe->tls_certs[i].s);
	free(fe->tls_certs);
	free(fe->tls_ciphers.s);
	free(fe->tls_ciphersuites.s);
	free(fe->tls_client_ca.s);
	config_upgrade_clear(fe);
	config_free_policy(&fe->policy);
}

static void
config_free_backend(struct backend_conf *be)
{
	size_t i;

	for (i = 0; i < be->nservers; i++)
		free(be->servers[i].name);
	free(be->servers);
	free(be->hash_key_name);
	free(be->health_path);
	free(be->health_host);
	free(be->tls_ca.s);
	free(be->tls_sni);
	free(be->name);
	config_free_discovery(be);
}

static void
config_free_admin(struct admin_conf *ad)
{
	if (ad == NULL)
		return;
	free(ad->listen);
	free(ad->unix_path);
	free(ad->token_file);
	free(ad);
}

void
config_free(struct config *cfg)
{
	size_t i;

	if (cfg == NULL)
		return;
	config_free_admin(cfg->admin);
	free(cfg->text);
	for (i = 0; i < cfg->nfrontends; i++)
		config_free_frontend(&cfg->frontends[i]);
	free(cfg->frontends);
	for (i = 0; i < cfg->nbackends; i++)
		config_free_backend(&cfg->backends[i]);
	free(cfg->backends);
	for (i = 0; i < cfg->nroutes; i++)
		config_free_route(&cfg->routes[i]);
	free(cfg->routes);
	for (i = 0; i < cfg->nlimits; i++)
		config_free_limit(&cfg->limits[i]);
	free(cfg->limits);
	free(cfg->pidfile);
	free(cfg->log_file);
	free(cfg->user);
	free(cfg->group);
	free(cfg->resolvers);
	free(cfg->path);
	free(cfg);
}
