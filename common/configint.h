/*
 * The config parser's own header, shared by its files (config.c: sections,
 * the key table and the checks; configroute.c: routes, limits and the
 * request policy keys): parse state and the helpers every key parser uses.
 * Nothing outside common/config*.c includes it.
 */
#ifndef WEIR_CONFIGINT_H
#define WEIR_CONFIGINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "common/config.h"

enum config_sect {
	CONFIG_SECT_NONE,		/* before the first section header */
	CONFIG_SECT_GLOBAL,
	CONFIG_SECT_FRONTEND,
	CONFIG_SECT_BACKEND,
	CONFIG_SECT_ADMIN,
	CONFIG_SECT_ROUTE,
	CONFIG_SECT_LIMIT,
	CONFIG_SECT_POLICY,		/* not a section: keys a [frontend] and
					 * a [route] both take (struct
					 * policy_conf) */
};

enum config_type {
	CONFIG_DURATION,		/* uint32_t milliseconds */
	CONFIG_SIZE,			/* uint64_t bytes */
	CONFIG_INT,			/* uint32_t */
	CONFIG_ENUM,			/* int, one of names[] */
	CONFIG_STRING,			/* char *, owned */
	CONFIG_SPECIAL,			/* parsed by fn */
};

struct config_ctx;
struct config_enum;

/*
 * One row per key. Defaults and limits are text read by the same parsers
 * as the file, so the table reads like a config and a default outside its
 * own limits fails every load (the unit tests load a minimal file). reload
 * says whether a hot reload may change the key; false: restart needed.
 */
struct config_key {
	enum config_sect sect;
	const char *key;
	enum config_type type;
	size_t off;
	const char *def;
	bool reload;
	bool repeat;			/* may appear more than once */
	const char *min, *max;		/* limits as text; NULL: none */
	const struct config_enum *names;
	int (*fn)(struct config_ctx *, void *, const char *);
};

#define CONFIG_MAX_KEYS	192		/* rows of the key table */

/* Parse state, shared by the line reader and the inih handler. */
struct config_ctx {
	struct config *cfg;
	const char *name;		/* file name for messages */
	FILE *fp;
	char *line;			/* getline(3) buffer */
	size_t linecap;
	int lineno;
	enum config_sect sect;
	void *base;			/* struct the section fills */
	char label[80];			/* "global", "backend app" */
	int global_line;
	int seen[CONFIG_MAX_KEYS];	/* per key: line set in this section */
	char *err;
	size_t errlen;
	bool failed;
	const struct config_key *key;	/* the key a special parser serves */
};

/* Keep the first error only: "FILE:LINE: reason", or "FILE: reason". */
void config_err(struct config_ctx *ctx, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Return array grown to n + 1 elements, the last zeroed; NULL on error. */
void *config_grow(struct config_ctx *ctx, void *array, size_t n, size_t size);
char *config_strdup(struct config_ctx *ctx, const char *s);
/*
 * Split a comma-separated list in place: the next element, trimmed, or
 * NULL at the end; an empty element comes back as "".
 */
char *config_list_next(char **rest);

/* Apply one server option word (config.c); -1 with the error set. */
int config_server_opt(struct config_ctx *ctx, struct server_conf *sv,
    const char *opt, bool *weighted);

/* ---- configdisc.c: resolve lines, resolvers, ZooKeeper discovery ---- */
int config_resolvers(struct config_ctx *, void *, const char *);
int config_discovery(struct config_ctx *, void *, const char *);
int config_zk_hosts(struct config_ctx *, void *, const char *);
int config_zk_path(struct config_ctx *, void *, const char *);
/* A "resolve" server line: addr, then the line's other words. */
int config_server_resolve(struct config_ctx *ctx, struct backend_conf *be,
    const char *addr, char **words, size_t nwords);
/* A backend's discovery keys agree and it has servers of some kind. */
int config_check_discovery(struct config_ctx *ctx, struct backend_conf *be);
void config_free_discovery(struct backend_conf *be);

/* ---- configroute.c: [route], [limit] and the policy keys ---- */
/*
 * Split "NAME: VALUE" (header conditions and rules) into a token name
 * and its trimmed value, which may be empty only when allow_empty. The
 * name is returned (to free; *value_out points into it), or NULL with
 * the error set.
 */
char *config_header_pair(struct config_ctx *ctx, const char *value,
    bool allow_empty, char **value_out);
int config_route_frontend(struct config_ctx *, void *, const char *);
int config_route_host(struct config_ctx *, void *, const char *);
int config_route_path(struct config_ctx *, void *, const char *);
int config_route_method(struct config_ctx *, void *, const char *);
int config_route_header(struct config_ctx *, void *, const char *);
int config_route_backend(struct config_ctx *, void *, const char *);
int config_route_redirect(struct config_ctx *, void *, const char *);
int config_route_return(struct config_ctx *, void *, const char *);
int config_limit_rate(struct config_ctx *, void *, const char *);
int config_limit_key(struct config_ctx *, void *, const char *);
int config_policy_limit(struct config_ctx *, void *, const char *);
int config_policy_auth(struct config_ctx *, void *, const char *);
int config_policy_auth_file(struct config_ctx *, void *, const char *);
int config_policy_auth_realm(struct config_ctx *, void *, const char *);
int config_policy_auth_forward(struct config_ctx *, void *, const char *);
/* Open [route NAME] / [limit NAME] (a duplicate name is an error). */
void *config_route_open(struct config_ctx *ctx, const char *name);
void *config_limit_open(struct config_ctx *ctx, const char *name);
/* Resolve the names routes and policies refer to; -1 with the error set. */
int config_check_routes(struct config_ctx *ctx);
void config_free_route(struct route_conf *rt);
void config_free_limit(struct limit_conf *lm);
void config_free_policy(struct policy_conf *pol);

/* ---- confighdr.c: the header rule keys of the request policy ---- */
int config_policy_header(struct config_ctx *, void *, const char *);
/*
 * Check pol's header rules against its frontend fe and join the lists
 * its requests apply: fe_pol's rules (a route's frontend's; NULL for the
 * frontend itself), then pol's. -1 with the error set.
 */
int config_policy_headers(struct config_ctx *ctx, struct policy_conf *pol,
    const struct frontend_conf *fe, const struct policy_conf *fe_pol);
void config_free_policy_headers(struct policy_conf *pol);

#endif
