/*
 * The config keys of [route] and [limit] sections and the request policy
 * keys a [frontend] and a [route] share, and the checks that tie routes
 * and policies to the frontends, backends and limits they name.
 */
#include "autoconf.h"

#include <ctype.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/configint.h"
#include "common/confval.h"

#define ROUTE_MAX_TEXT	1024	/* redirect URL template or return body */

/* RFC 9110 token characters: method and header names. */
static bool
configroute_token(const char *s)
{
	size_t len = strlen(s);

	return len > 0 && strspn(s, "!#$%&'*+-.^_`|~0123456789"
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") == len;
}

static int
configroute_ref(struct config_ctx *ctx, struct config_ref *ref,
    const char *value)
{
	free(ref->name);
	ref->line = ctx->lineno;
	return (ref->name = config_strdup(ctx, value)) == NULL ? -1 : 0;
}

/*
 * Append a section named name to the array *arr of *n structs of size
 * bytes, each starting with its name and holding its line at line_off: a
 * name used twice is an error, not a continuation.
 */
static void *
configroute_add(struct config_ctx *ctx, void **arr, size_t *n, size_t size,
    size_t line_off, const char *kind, const char *name)
{
	char *el;
	size_t i;

	for (i = 0; i < *n; i++) {
		el = (char *)*arr + i * size;
		if (strcmp(*(char **)(void *)el, name) == 0) {
			config_err(ctx, ctx->lineno, "duplicate %s '%s' (first "
			    "at line %d)", kind, name,
			    *(int *)(void *)(el + line_off));
			return NULL;
		}
	}
	if ((el = config_grow(ctx, *arr, *n, size)) == NULL)
		return NULL;
	*arr = el;
	el += (*n)++ * size;
	*(int *)(void *)(el + line_off) = ctx->lineno;
	if ((*(char **)(void *)el = config_strdup(ctx, name)) == NULL)
		return NULL;
	return el;
}

void *
config_route_open(struct config_ctx *ctx, const char *name)
{
	return configroute_add(ctx, (void **)&ctx->cfg->routes,
	    &ctx->cfg->nroutes, sizeof(struct route_conf),
	    offsetof(struct route_conf, line), "route", name);
}

void *
config_limit_open(struct config_ctx *ctx, const char *name)
{
	return configroute_add(ctx, (void **)&ctx->cfg->limits,
	    &ctx->cfg->nlimits, sizeof(struct limit_conf),
	    offsetof(struct limit_conf, line), "limit", name);
}

int
config_route_frontend(struct config_ctx *ctx, void *base, const char *value)
{
	return configroute_ref(ctx, &((struct route_conf *)base)->frontend,
	    value);
}

/*
 * host = NAME or *.NAME: a DNS name (or an IP literal) without a port,
 * kept in lower case since host names compare case-insensitively.
 */
int
config_route_host(struct config_ctx *ctx, void *base, const char *value)
{
	struct route_conf *rt = base;
	const char *name = strncmp(value, "*.", 2) == 0 ? value + 2 : value;
	size_t len = strlen(name), i;

	if (len == 0 || name[0] == '.' || name[len - 1] == '.' ||
	    (strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789-.") != len && (name != value || name[0] != '[' ||
	    name[len - 1] != ']' || strspn(name + 1, "0123456789abcdefABCDEF"
	    ":.") != len - 2))) {
		config_err(ctx, ctx->lineno, "host: invalid name '%s' (expected "
		    "a host name without a port, or *.NAME)", value);
		return -1;
	}
	if ((rt->host = config_strdup(ctx, value)) == NULL)
		return -1;
	for (i = 0; rt->host[i] != '\0'; i++)
		rt->host[i] = (char)tolower((unsigned char)rt->host[i]);
	return 0;
}

/*
 * A configured path must already be in the form requests are normalised
 * to (http/target.c), or it could never match: no '%', no empty, '.' or
 * '..' segments.
 */
static const char *
configroute_path_bad(const char *p)
{
	const char *seg;

	if (p[0] != '/')
		return "must start with '/'";
	if (strpbrk(p, "%?#\\ \t") != NULL)
		return "must not hold '%', '?', '#', '\\' or blanks";
	for (seg = p + 1; seg != NULL; seg = strchr(seg, '/'), seg = seg ?
	    seg + 1 : NULL) {
		if (seg[0] == '/' && seg > p + 1)
			return "has an empty segment ('//')";
		if (seg[0] == '.' && (seg[1] == '/' || seg[1] == '\0' ||
		    (seg[1] == '.' && (seg[2] == '/' || seg[2] == '\0'))))
			return "has a '.' or '..' segment";
	}
	return NULL;
}

/* path_prefix = /p/ or path_exact = /p: one of them per route. */
int
config_route_path(struct config_ctx *ctx, void *base, const char *value)
{
	struct route_conf *rt = base;
	bool exact = strcmp(ctx->key->key, "path_exact") == 0;
	const char *why;

	if (rt->path != NULL) {
		config_err(ctx, ctx->lineno, "%s: route '%s' already has %s "
		    "(line %d); give one of them", ctx->key->key, rt->name,
		    rt->path_exact ? "path_exact" : "path_prefix",
		    rt->path_line);
		return -1;
	}
	if ((why = configroute_path_bad(value)) != NULL) {
		config_err(ctx, ctx->lineno, "%s: '%s' %s", ctx->key->key,
		    value, why);
		return -1;
	}
	rt->path_exact = exact;
	rt->path_line = ctx->lineno;
	return (rt->path = config_strdup(ctx, value)) == NULL ? -1 : 0;
}

/* method = GET, POST: tokens, compared exactly (methods are case-sensitive). */
int
config_route_method(struct config_ctx *ctx, void *base, const char *value)
{
	struct route_conf *rt = base;
	char *copy, *rest, *m, **v;
	int rc = -1;

	if ((copy = config_strdup(ctx, value)) == NULL)
		return -1;
	rest = copy;
	while ((m = config_list_next(&rest)) != NULL) {
		if (!configroute_token(m)) {
			config_err(ctx, ctx->lineno, "method: invalid method "
			    "'%s' in '%s'", m, value);
			goto out;
		}
		if ((v = config_grow(ctx, rt->methods, rt->nmethods,
		    sizeof(*v))) == NULL)
			goto out;
		rt->methods = v;
		if ((v[rt->nmethods] = config_strdup(ctx, m)) == NULL)
			goto out;
		rt->nmethods++;
	}
	rc = 0;
out:
	free(copy);
	return rc;
}

char *
config_header_pair(struct config_ctx *ctx, const char *value,
    bool allow_empty, char **value_out)
{
	char *copy, *colon, *v, *end;

	if ((copy = config_strdup(ctx, value)) == NULL)
		return NULL;
	if ((colon = strchr(copy, ':')) == NULL) {
		config_err(ctx, ctx->lineno, "%s: expected 'NAME: VALUE', got "
		    "'%s'", ctx->key->key, value);
		goto bad;
	}
	*colon = '\0';
	if (!configroute_token(copy)) {
		config_err(ctx, ctx->lineno, "%s: invalid header name '%s'",
		    ctx->key->key, copy);
		goto bad;
	}
	v = colon + 1 + strspn(colon + 1, " \t");
	end = v + strlen(v);
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		*--end = '\0';
	if (*v == '\0' && !allow_empty) {
		config_err(ctx, ctx->lineno, "%s: header '%s' has no value",
		    ctx->key->key, copy);
		goto bad;
	}
	*value_out = v;
	return copy;
bad:
	free(copy);
	return NULL;
}

/* header = NAME: VALUE, repeatable: every one must match. */
int
config_route_header(struct config_ctx *ctx, void *base, const char *value)
{
	struct route_conf *rt = base;
	struct route_header *h;
	char *name, *v;

	if ((name = config_header_pair(ctx, value, false, &v)) == NULL)
		return -1;
	if ((h = config_grow(ctx, rt->headers, rt->nheaders,
	    sizeof(*h))) == NULL) {
		free(name);
		return -1;
	}
	rt->headers = h;
	h = &rt->headers[rt->nheaders++];
	h->name = name;
	if ((h->value = config_strdup(ctx, v)) == NULL)
		return -1;
	return 0;
}

/* A route has exactly one of backend, redirect and return. */
static int
configroute_action(struct config_ctx *ctx, struct route_conf *rt, int action)
{
	static const char *const names[] = { "backend", "redirect", "return" };

	if (rt->action_line != 0) {
		config_err(ctx, ctx->lineno, "%s: route '%s' already has %s "
		    "(line %d); give one of backend, redirect and return",
		    ctx->key->key, rt->name, names[rt->action],
		    rt->action_line);
		return -1;
	}
	rt->action = action;
	rt->action_line = ctx->lineno;
	return 0;
}

int
config_route_backend(struct config_ctx *ctx, void *base, const char *value)
{
	struct route_conf *rt = base;

	if (configroute_action(ctx, rt, CONFIG_ROUTE_BACKEND) == -1)
		return -1;
	return configroute_ref(ctx, &rt->backend, value);
}

/* Read "STATUS" and the rest of value into *status and *rest. */
static int
configroute_status(struct config_ctx *ctx, const char *value, long lo,
    long hi, uint16_t *status, const char **rest)
{
	char code[4];
	const char *why = "out of range";
	long n;

	*rest = value + strcspn(value, " \t");
	if (*rest - value != 3 || (memcpy(code, value, 3), code[3] = '\0',
	    confval_int(code, lo, hi, &n, &why) == -1)) {
		config_err(ctx, ctx->lineno, "%s: invalid status in '%s': %s",
		    ctx->key->key, value, why);
		return -1;
	}
	*status = (uint16_t)n;
	*rest += strspn(*rest, " \t");
	return 0;
}

/* A redirect template may use {host}, {path} and {target} only. */
static const char *
configroute_template_bad(const char *url)
{
	const char *p;

	for (p = url; *p != '\0'; p++) {
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return "has a blank or a control character";
		if (*p != '{')
			continue;
		if (strncmp(p, "{host}", 6) != 0 &&
		    strncmp(p, "{path}", 6) != 0 &&
		    strncmp(p, "{target}", 8) != 0)
			return "uses a variable other than {host}, {path} "
			    "and {target}";
	}
	return NULL;
}

/* redirect = 301|302|303|307|308 URL */
int
config_route_redirect(struct config_ctx *ctx, void *base, const char *value)
{
	struct route_conf *rt = base;
	const char *url, *why;

	if (configroute_action(ctx, rt, CONFIG_ROUTE_REDIRECT) == -1 ||
	    configroute_status(ctx, value, 301, 308, &rt->status, &url) == -1)
		return -1;
	if (rt->status == 304 || rt->status == 305 || rt->status == 306) {
		config_err(ctx, ctx->lineno, "redirect: %u is not a redirect "
		    "status (use 301, 302, 303, 307 or 308)", rt->status);
		return -1;
	}
	why = *url == '\0' ? "is missing" : strlen(url) > ROUTE_MAX_TEXT ?
	    "is too long" : configroute_template_bad(url);
	if (why != NULL) {
		config_err(ctx, ctx->lineno, "redirect: the URL %s", why);
		return -1;
	}
	return (rt->text = config_strdup(ctx, url)) == NULL ? -1 : 0;
}

/* return = STATUS [TEXT]: weir answers itself, TEXT as a text/plain body. */
int
config_route_return(struct config_ctx *ctx, void *base, const char *value)
{
	struct route_conf *rt = base;
	const char *text;

	if (configroute_action(ctx, rt, CONFIG_ROUTE_RETURN) == -1 ||
	    configroute_status(ctx, value, 200, 599, &rt->status, &text) == -1)
		return -1;
	/*
	 * These need headers weir cannot make up: validators (304), a
	 * challenge (401: use auth; 407).
	 */
	if (rt->status == 304 || rt->status == 401 || rt->status == 407) {
		config_err(ctx, ctx->lineno, "return: weir cannot answer %u "
		    "itself%s", rt->status, rt->status == 401 ?
		    " (use auth = basic)" : "");
		return -1;
	}
	if (*text != '\0' && rt->status == 204) {
		config_err(ctx, ctx->lineno, "return: a 204 answer has no body");
		return -1;
	}
	if (strlen(text) > ROUTE_MAX_TEXT) {
		config_err(ctx, ctx->lineno, "return: the text is over %d bytes",
		    ROUTE_MAX_TEXT);
		return -1;
	}
	return (rt->text = config_strdup(ctx, text)) == NULL ? -1 : 0;
}

/* rate = N/s, N/m or N/h: GCRA spaces requests period / N apart. */
int
config_limit_rate(struct config_ctx *ctx, void *base, const char *value)
{
	struct limit_conf *lm = base;
	const char *slash = strchr(value, '/'), *why = "expected N/s, N/m or "
	    "N/h";
	char num[16];
	long n = 0;

	if (slash != NULL && (size_t)(slash - value) < sizeof(num)) {
		memcpy(num, value, (size_t)(slash - value));
		num[slash - value] = '\0';
		if (confval_int(num, 1, 1000000, &n, &why) == 0)
			why = strcmp(slash, "/s") == 0 ? NULL :
			    strcmp(slash, "/m") == 0 ? NULL :
			    strcmp(slash, "/h") == 0 ? NULL :
			    "the period must be s, m or h";
	}
	if (slash == NULL || why != NULL) {
		config_err(ctx, ctx->lineno, "rate: invalid value '%s': %s "
		    "(a count from 1 to 1000000 per s, m or h, e.g. 100/s)",
		    value, why);
		return -1;
	}
	lm->rate = (uint32_t)n;
	lm->period_s = slash[1] == 's' ? 1 : slash[1] == 'm' ? 60 : 3600;
	lm->interval_ns = (uint64_t)lm->period_s * 1000000000u / (uint64_t)n;
	return 0;
}

/* key = ip | path | header:NAME */
int
config_limit_key(struct config_ctx *ctx, void *base, const char *value)
{
	struct limit_conf *lm = base;

	free(lm->key_header);
	lm->key_header = NULL;
	if (strcmp(value, "ip") == 0)
		lm->key = CONFIG_LIMIT_IP;
	else if (strcmp(value, "path") == 0)
		lm->key = CONFIG_LIMIT_PATH;
	else if (strncmp(value, "header:", 7) == 0 &&
	    configroute_token(value + 7)) {
		lm->key = CONFIG_LIMIT_HEADER;
		return (lm->key_header = config_strdup(ctx, value + 7)) ==
		    NULL ? -1 : 0;
	} else {
		config_err(ctx, ctx->lineno, "key: invalid value '%s'; "
		    "expected ip, path or header:NAME", value);
		return -1;
	}
	return 0;
}

/* limit = NAME, repeatable: resolved once every [limit] is read. */
int
config_policy_limit(struct config_ctx *ctx, void *base, const char *value)
{
	struct policy_conf *pol = base;
	struct config_ref *r;

	if ((r = config_grow(ctx, pol->limits, pol->nlimits,
	    sizeof(*r))) == NULL)
		return -1;
	pol->limits = r;
	return configroute_ref(ctx, &pol->limits[pol->nlimits++], value);
}

/* ---- basic authentication: auth, auth_file, auth_realm, auth_forward ---- */

#define ROUTE_MAX_REALM	128

/* auth = basic | off */
int
config_policy_auth(struct config_ctx *ctx, void *base, const char *value)
{
	struct policy_conf *pol = base;

	if (strcmp(value, "basic") == 0)
		pol->auth = CONFIG_AUTH_BASIC;
	else if (strcmp(value, "off") == 0)
		pol->auth = CONFIG_AUTH_OFF;
	else {
		config_err(ctx, ctx->lineno, "auth: invalid value '%s'; "
		    "expected basic or off", value);
		return -1;
	}
	pol->auth_line = ctx->lineno;
	return 0;
}

/* auth_file = PATH: read by the master (common/htpasswd.c), not here. */
int
config_policy_auth_file(struct config_ctx *ctx, void *base, const char *value)
{
	struct policy_conf *pol = base;

	pol->auth_file.line = ctx->lineno;
	return (pol->auth_file.s = config_strdup(ctx, value)) == NULL ? -1 : 0;
}

/*
 * auth_realm = TEXT: goes between the quotes of WWW-Authenticate, so no
 * quote, backslash or control character can end or escape it there.
 */
int
config_policy_auth_realm(struct config_ctx *ctx, void *base, const char *value)
{
	struct policy_conf *pol = base;
	const char *p;

	for (p = value; *p != '\0'; p++) {
		if (*p < ' ' || *p > '~' || *p == '"' || *p == '\\')
			break;
	}
	if (*p != '\0' || p - value > ROUTE_MAX_REALM) {
		config_err(ctx, ctx->lineno, "auth_realm: up to %d printable "
		    "ASCII characters, no '\"' or '\\'", ROUTE_MAX_REALM);
		return -1;
	}
	pol->auth_realm.line = ctx->lineno;
	return (pol->auth_realm.s = config_strdup(ctx, value)) == NULL ?
	    -1 : 0;
}

/* auth_forward = yes | no */
int
config_policy_auth_forward(struct config_ctx *ctx, void *base,
    const char *value)
{
	struct policy_conf *pol = base;
	const char *why;
	bool on;

	if (confval_bool(value, &on, &why) == -1) {
		config_err(ctx, ctx->lineno, "auth_forward: invalid value "
		    "'%s': %s", value, why);
		return -1;
	}
	pol->auth_forward = on;
	pol->auth_forward_line = ctx->lineno;
	return 0;
}

/*
 * The auth keys of a section go together: a route's replace the
 * frontend's as a whole, so one given without auth would silently mean
 * nothing there.
 */
static int
configroute_check_auth(struct config_ctx *ctx, const struct policy_conf *pol)
{
	int stray = pol->auth_file.line != 0 ? pol->auth_file.line :
	    pol->auth_realm.line != 0 ? pol->auth_realm.line :
	    pol->auth_forward_line;

	if (pol->auth == CONFIG_AUTH_UNSET && stray != 0) {
		config_err(ctx, stray, "auth settings without 'auth = basic' "
		    "in the same section (a route's auth settings replace "
		    "the frontend's as a whole)");
		return -1;
	}
	if (pol->auth == CONFIG_AUTH_BASIC && pol->auth_file.s == NULL) {
		config_err(ctx, pol->auth_line, "auth = basic needs "
		    "'auth_file' (an htpasswd file)");
		return -1;
	}
	return 0;
}

/* Find ref's name among n names spaced size bytes apart (name first). */
static int
configroute_resolve(struct config_ctx *ctx, struct config_ref *ref,
    const void *array, size_t n, size_t size, const char *what)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (strcmp(*(char *const *)(const void *)((const char *)array +
		    i * size), ref->name) == 0) {
			ref->index = i;
			return 0;
		}
	}
	config_err(ctx, ref->line, "unknown %s '%s'", what, ref->name);
	return -1;
}

static int
configroute_check_policy(struct config_ctx *ctx, struct policy_conf *pol)
{
	struct config *cfg = ctx->cfg;
	size_t i, j;

	for (i = 0; i < pol->nlimits; i++) {
		if (configroute_resolve(ctx, &pol->limits[i], cfg->limits,
		    cfg->nlimits, sizeof(*cfg->limits), "limit") == -1)
			return -1;
		for (j = 0; j < i; j++) {
			if (pol->limits[j].index == pol->limits[i].index) {
				config_err(ctx, pol->limits[i].line, "limit "
				    "'%s' given twice (first at line %d)",
				    pol->limits[i].name, pol->limits[j].line);
				return -1;
			}
		}
	}
	return configroute_check_auth(ctx, pol);
}

/*
 * A limit the frontend applies already would take two of its places for
 * each request of the route: name it in one of the two.
 */
static int
configroute_check_shared_limits(struct config_ctx *ctx,
    const struct route_conf *rt, const struct frontend_conf *fe)
{
	for (size_t i = 0; i < rt->policy.nlimits; i++) {
		for (size_t j = 0; j < fe->policy.nlimits; j++) {
			if (fe->policy.limits[j].index !=
			    rt->policy.limits[i].index)
				continue;
			config_err(ctx, rt->policy.limits[i].line, "route "
			    "'%s': limit '%s' is applied by frontend '%s' "
			    "already (line %d)", rt->name,
			    rt->policy.limits[i].name, fe->name,
			    fe->policy.limits[j].line);
			return -1;
		}
	}
	return 0;
}

static int
configroute_check_route(struct config_ctx *ctx, struct route_conf *rt)
{
	struct config *cfg = ctx->cfg;

	if (rt->frontend.name == NULL) {
		config_err(ctx, rt->line, "route '%s' has no 'frontend'",
		    rt->name);
		return -1;
	}
	if (rt->action_line == 0) {
		config_err(ctx, rt->line, "route '%s' has none of backend, "
		    "redirect and return", rt->name);
		return -1;
	}
	if (rt->strip_prefix && (rt->path == NULL || rt->path_exact)) {
		config_err(ctx, rt->line, "route '%s': strip_prefix needs "
		    "path_prefix", rt->name);
		return -1;
	}
	if (configroute_resolve(ctx, &rt->frontend, cfg->frontends,
	    cfg->nfrontends, sizeof(*cfg->frontends), "frontend") == -1)
		return -1;
	if (rt->action == CONFIG_ROUTE_BACKEND &&
	    configroute_resolve(ctx, &rt->backend, cfg->backends,
	    cfg->nbackends, sizeof(*cfg->backends), "backend") == -1)
		return -1;
	cfg->frontends[rt->frontend.index].nroutes++;
	if (config_policy_headers(ctx, &rt->policy,
	    &cfg->frontends[rt->frontend.index],
	    &cfg->frontends[rt->frontend.index].policy) == -1)
		return -1;
	if (configroute_check_policy(ctx, &rt->policy) == -1)
		return -1;
	return configroute_check_shared_limits(ctx, rt,
	    &cfg->frontends[rt->frontend.index]);
}

int
config_check_routes(struct config_ctx *ctx)
{
	struct config *cfg = ctx->cfg;
	size_t i;

	for (i = 0; i < cfg->nlimits; i++) {
		if (cfg->limits[i].interval_ns == 0) {
			config_err(ctx, cfg->limits[i].line, "limit '%s' has "
			    "no 'rate'", cfg->limits[i].name);
			return -1;
		}
	}
	for (i = 0; i < cfg->nfrontends; i++) {
		if (configroute_check_policy(ctx, &cfg->frontends[i].policy) ==
		    -1 || config_policy_headers(ctx, &cfg->frontends[i].policy,
		    &cfg->frontends[i], NULL) == -1)
			return -1;
	}
	for (i = 0; i < cfg->nroutes; i++) {
		if (configroute_check_route(ctx, &cfg->routes[i]) == -1)
			return -1;
	}
	for (i = 0; i < cfg->nfrontends; i++) {
		/* Answering 404 to everything is never what was meant. */
		if (cfg->frontends[i].backend_name == NULL &&
		    cfg->frontends[i].nroutes == 0) {
			config_err(ctx, cfg->frontends[i].line, "frontend '%s' "
			    "has no 'backend' and no [route]",
			    cfg->frontends[i].name);
			return -1;
		}
	}
	return 0;
}

void
config_free_policy(struct policy_conf *pol)
{
	size_t i;

	for (i = 0; i < pol->nlimits; i++)
		free(pol->limits[i].name);
	free(pol->limits);
	config_free_policy_headers(pol);
	free(pol->auth_file.s);
	free(pol->auth_realm.s);
	if (!pol->auth_users_shared)
		free(pol->auth_users);	/* one block (common/htpasswd.h) */
}

void
config_free_route(struct route_conf *rt)
{
	size_t i;

	free(rt->name);
	free(rt->frontend.name);
	free(rt->host);
	free(rt->path);
	for (i = 0; i < rt->nmethods; i++)
		free(rt->methods[i]);
	free(rt->methods);
	for (i = 0; i < rt->nheaders; i++) {
		free(rt->headers[i].name);
		free(rt->headers[i].value);
	}
	free(rt->headers);
	free(rt->backend.name);
	free(rt->text);
	config_free_policy(&rt->policy);
}

void
config_free_limit(struct limit_conf *lm)
{
	free(lm->name);
	free(lm->key_header);
}
