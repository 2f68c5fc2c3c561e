/*
 * The config keys of runtime membership: "resolve" server lines, the
 * [global] resolvers, a backend's resolve_interval and its ZooKeeper
 * discovery, and the checks that tie them together.
 */
#include "autoconf.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/configint.h"
#include "common/confval.h"

#define CONFIGDISC_MAX_RESOLVERS	8	/* as discovery/dns.c takes */

/* One resolvers entry: "1.2.3.4", "1.2.3.4:53", "[::1]:53" or "::1". */
static bool
configdisc_resolver_ok(const char *s)
{
	struct sockaddr_storage ss;
	struct in6_addr a6;
	struct in_addr a4;
	const char *why;
	socklen_t len;

	if (inet_pton(AF_INET, s, &a4) == 1 || inet_pton(AF_INET6, s, &a6) == 1)
		return true;
	/* With a port: confval_addr also takes "0", which no server has. */
	return s[0] != '*' && confval_addr(s, &ss, &len, &why) == 0 &&
	    ((struct sockaddr_in *)&ss)->sin_port != 0;
}

/* resolvers = 127.0.0.1:53, [::1]:53: the DNS servers asked, in order. */
int
config_resolvers(struct config_ctx *ctx, void *base, const char *value)
{
	struct config *cfg = base;
	char *copy, *rest, *item;
	int n = 0, rc = -1;

	if ((copy = config_strdup(ctx, value)) == NULL)
		return -1;
	rest = copy;
	while ((item = config_list_next(&rest)) != NULL) {
		if (!configdisc_resolver_ok(item)) {
			config_err(ctx, ctx->lineno, "resolvers: invalid "
			    "server '%s' (expected IP, IP:PORT or "
			    "[IPv6]:PORT)", item);
			goto out;
		}
		if (++n > CONFIGDISC_MAX_RESOLVERS) {
			config_err(ctx, ctx->lineno, "resolvers: more than %d "
			    "servers", CONFIGDISC_MAX_RESOLVERS);
			goto out;
		}
	}
	free(cfg->resolvers);
	if ((cfg->resolvers = config_strdup(ctx, value)) != NULL)
		rc = 0;
out:
	free(copy);
	return rc;
}

/* Split "HOST:PORT" of a resolve line; -1 with the error set. */
static int
configdisc_host_port(struct config_ctx *ctx, const char *addr,
    struct resolve_conf *rs)
{
	const char *colon = strrchr(addr, ':'), *why;
	size_t len;
	long port;

	if (colon == NULL || colon == addr) {
		config_err(ctx, ctx->lineno, "server: invalid address '%s' for "
		    "resolve: expected HOST:PORT", addr);
		return -1;
	}
	if (confval_int(colon + 1, 1, 65535, &port, &why) == -1) {
		config_err(ctx, ctx->lineno, "server: invalid port in '%s': %s",
		    addr, why);
		return -1;
	}
	len = (size_t)(colon - addr);
	/* "[::1]:80": the brackets are not part of the name. */
	if (addr[0] == '[' && addr[len - 1] == ']') {
		addr++;
		len -= 2;
	}
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)addr[i]) &&
		    strchr("-._:", addr[i]) == NULL) {
			config_err(ctx, ctx->lineno, "server: invalid host "
			    "name in '%s'", addr);
			return -1;
		}
	if (len == 0 || (rs->host = strndup(addr, len)) == NULL) {
		config_err(ctx, ctx->lineno, "server: invalid address '%s'",
		    addr);
		return -1;
	}
	rs->port = (uint16_t)port;
	return 0;
}

/*
 * "HOST:PORT resolve [weight=N] [max_conns=N] [backup] [tls]": words
 * holds the line's words after the address, one of them "resolve".
 */
int
config_server_resolve(struct config_ctx *ctx, struct backend_conf *be,
    const char *addr, char **words, size_t nwords)
{
	struct server_conf opts = { .weight = 1 };
	struct resolve_conf *rs;
	bool weighted = false, seen = false;
	size_t i;

	for (i = 0; i < nwords; i++) {
		if (strcmp(words[i], "resolve") == 0 && !seen) {
			seen = true;
			continue;
		}
		if (strcmp(words[i], "disabled") == 0) {
			config_err(ctx, ctx->lineno, "server: 'disabled' "
			    "cannot be combined with 'resolve'");
			return -1;
		}
		if (config_server_opt(ctx, &opts, words[i], &weighted) == -1)
			return -1;
	}
	for (i = 0; i < be->nresolves; i++)
		if (strcmp(be->resolves[i].name, addr) == 0) {
			config_err(ctx, ctx->lineno, "duplicate server '%s' in "
			    "backend '%s' (first at line %d)", addr, be->name,
			    be->resolves[i].line);
			return -1;
		}
	if ((rs = config_grow(ctx, be->resolves, be->nresolves,
	    sizeof(*rs))) == NULL)
		return -1;
	be->resolves = rs;
	rs = &be->resolves[be->nresolves];
	if ((rs->name = config_strdup(ctx, addr)) == NULL)
		return -1;
	be->nresolves++;
	if (configdisc_host_port(ctx, addr, rs) == -1)
		return -1;
	rs->weight = opts.weight;
	rs->backup = opts.backup;
	rs->tls = opts.tls;
	rs->max_conns = opts.max_conns_set ? opts.max_conns : 0;
	rs->max_conns_set = opts.max_conns_set;
	rs->line = ctx->lineno;
	be->any_tls |= rs->tls;
	return 0;
}

/*
 * A backend's discovery settings are whole, and it has some server: from
 * the file, a resolve line or ZooKeeper. -1 with the error set.
 */
int
config_check_discovery(struct config_ctx *ctx, struct backend_conf *be)
{
	if (be->discovery == CONFIG_DISCOVERY_ZOOKEEPER) {
		if (be->zk_hosts == NULL || be->zk_path == NULL) {
			config_err(ctx, be->discovery_line, "backend '%s': "
			    "discovery = zookeeper needs zk_hosts and zk_path",
			    be->name);
			return -1;
		}
	} else if (be->zk_hosts != NULL || be->zk_path != NULL) {
		config_err(ctx, be->line, "backend '%s': zk_hosts and zk_path "
		    "need discovery = zookeeper", be->name);
		return -1;
	}
	if (be->nservers == 0 && be->nresolves == 0 &&
	    be->discovery == CONFIG_DISCOVERY_NONE) {
		config_err(ctx, be->line, "backend '%s' has no 'server'",
		    be->name);
		return -1;
	}
	for (size_t i = 0; i < be->nresolves; i++)
		if (!be->resolves[i].max_conns_set)
			be->resolves[i].max_conns = be->max_conns;
	return 0;
}

/* discovery = zookeeper: remember the line for the check above. */
int
config_discovery(struct config_ctx *ctx, void *base, const char *value)
{
	struct backend_conf *be = base;

	if (strcmp(value, "zookeeper") == 0)
		be->discovery = CONFIG_DISCOVERY_ZOOKEEPER;
	else if (strcmp(value, "none") == 0)
		be->discovery = CONFIG_DISCOVERY_NONE;
	else {
		config_err(ctx, ctx->lineno, "discovery: invalid value '%s' "
		    "(expected zookeeper or none)", value);
		return -1;
	}
	be->discovery_line = ctx->lineno;
	return 0;
}

/* zk_hosts = 10.0.0.1:2181,10.0.0.2:2181: numeric addresses. */
int
config_zk_hosts(struct config_ctx *ctx, void *base, const char *value)
{
	struct backend_conf *be = base;
	struct sockaddr_storage ss;
	char *copy, *rest, *item;
	const char *why;
	socklen_t len;
	int rc = -1;

	if ((copy = config_strdup(ctx, value)) == NULL)
		return -1;
	rest = copy;
	while ((item = config_list_next(&rest)) != NULL)
		if (confval_addr(item, &ss, &len, &why) == -1) {
			config_err(ctx, ctx->lineno, "zk_hosts: invalid "
			    "address '%s': %s", item, why);
			goto out;
		}
	free(be->zk_hosts);
	if ((be->zk_hosts = config_strdup(ctx, value)) != NULL)
		rc = 0;
out:
	free(copy);
	return rc;
}

/* zk_path = /services/app: absolute, without a trailing '/'. */
int
config_zk_path(struct config_ctx *ctx, void *base, const char *value)
{
	struct backend_conf *be = base;
	size_t len = strlen(value);

	if (value[0] != '/' || (len > 1 && value[len - 1] == '/') ||
	    len > 512 || strstr(value, "//") != NULL) {
		config_err(ctx, ctx->lineno, "zk_path: invalid path '%s' "
		    "(expected /a/b, without a trailing '/')", value);
		return -1;
	}
	free(be->zk_path);
	return (be->zk_path = config_strdup(ctx, value)) != NULL ? 0 : -1;
}

void
config_free_discovery(struct backend_conf *be)
{
	for (size_t i = 0; i < be->nresolves; i++) {
		free(be->resolves[i].name);
		free(be->resolves[i].host);
	}
	free(be->resolves);
	free(be->zk_hosts);
	free(be->zk_path);
}
