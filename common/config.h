/*
 * The parsed configuration: plain data, built from an INI file and freed as
 * one, separate from runtime state so a reload can build a new one beside
 * the old and swap.
 */
#ifndef WEIR_CONFIG_H
#define WEIR_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "common/cidr.h"

struct hdrrule;
struct hdrrule_list;

enum config_balance {
	CONFIG_BALANCE_ROUNDROBIN,
	CONFIG_BALANCE_LEASTCONN,
	CONFIG_BALANCE_RANDOM2,
	CONFIG_BALANCE_HASH,
};

enum config_hash_key {
	CONFIG_HASH_IP,			/* client address */
	CONFIG_HASH_URI,		/* request target (path and query) */
	CONFIG_HASH_HEADER,		/* value of header hash_key_name */
	CONFIG_HASH_COOKIE,		/* value of cookie hash_key_name */
};

enum config_health {
	CONFIG_HEALTH_NONE,
	CONFIG_HEALTH_TCP,		/* connect succeeds */
	CONFIG_HEALTH_HTTP,		/* GET health_path answers health_expect */
};

/* What a frontend does with request header names containing '_'. */
enum config_underscore {
	CONFIG_UNDERSCORE_DROP,		/* remove them (default, as nginx) */
	CONFIG_UNDERSCORE_PASS,		/* forward them */
	CONFIG_UNDERSCORE_REJECT,	/* answer 400 */
};

/* Where a frontend's access log goes. */
enum config_access_log {
	CONFIG_ACCESS_LOG_OFF,
	CONFIG_ACCESS_LOG_FILE,		/* access_log_path, appended */
	CONFIG_ACCESS_LOG_SYSLOG,	/* syslog(3), one message a line */
};

/* One access log line per request as JSON or Apache "combined". */
enum config_log_format {
	CONFIG_LOG_JSON,
	CONFIG_LOG_COMBINED,
};

#define CONFIG_MAX_EXPECT	8	/* status ranges in health_expect */

/* TLS protocol versions a frontend may require at least. */
enum config_tls_version {
	CONFIG_TLS_12,
	CONFIG_TLS_13,
};

/*
 * A value checked only when the master builds TLS contexts (a file to read,
 * a cipher list for OpenSSL), kept with its line so that check can say
 * FILE:LINE. s is NULL when the key was not given.
 */
struct config_text {
	char *s;
	int line;
};

struct status_range {
	uint16_t lo, hi;
};

/* A name that refers to another section, resolved once the file is read. */
struct config_ref {
	char *name;			/* NULL: not given */
	int line;
	size_t index;			/* into the config's array of that kind */
};

#define CONFIG_NO_BACKEND	((size_t)-1)	/* a frontend without one */

/* auth = ... of a frontend or a route. */
enum config_auth {
	CONFIG_AUTH_UNSET,		/* not given: a route keeps the
					 * frontend's, a frontend has none */
	CONFIG_AUTH_OFF,
	CONFIG_AUTH_BASIC,		/* RFC 7617, users from auth_file */
};

struct htpasswd;

/*
 * What a frontend or a route applies to the requests it takes. A
 * frontend's applies to all of its requests; a matched route's applies
 * after it (its limits add to the frontend's, its header rules run after
 * the frontend's).
 */
struct policy_conf {
	struct config_ref *limits;	/* limit = NAME, into config.limits */
	size_t nlimits;
	/* header rules (http/hdrrule.c, common/confighdr.c): this section's
	 * request_header_* and response_header_* in file order, and the
	 * lists its requests apply (a route's: the frontend's rules, then
	 * its own), joined once the file is read; NULL: no rule */
	struct hdrrule *req_rules, *resp_rules;
	size_t nreq_rules, nresp_rules;
	struct hdrrule_list *req_list, *resp_list;
	/* Basic authentication (worker/auth.c): a route that gives auth
	 * replaces the frontend's auth settings as a whole. */
	int auth;			/* enum config_auth */
	int auth_line;
	struct config_text auth_file;	/* htpasswd file */
	struct config_text auth_realm;	/* NULL: "weir" */
	int auth_forward;		/* pass Authorization on upstream */
	int auth_forward_line;
	struct htpasswd *auth_users;	/* auth_file as the master read it
					 * (common/htpasswd.c); NULL before */
	bool auth_users_shared;		/* another policy's: not freed here */
};

/* What a matched route does with the request. */
enum config_route_action {
	CONFIG_ROUTE_BACKEND,		/* forward to backend */
	CONFIG_ROUTE_REDIRECT,		/* answer status with Location: text */
	CONFIG_ROUTE_RETURN,		/* answer status with body text */
};

/* header = NAME: VALUE, a route condition. */
struct route_header {
	char *name;			/* compared case-insensitively */
	char *value;			/* compared exactly */
};

/* [route NAME]: conditions on a request of one frontend, and an action. */
struct route_conf {
	char *name;
	struct config_ref frontend;	/* required */
	char *host;			/* lower case, no port; "*.a.b" matches
					 * any one-or-more-label name under a.b;
					 * NULL: any host */
	char *path;			/* NULL: any path */
	bool path_exact;		/* path_exact (else path_prefix) */
	int path_line;
	char **methods;			/* exact, case-sensitive tokens */
	size_t nmethods;
	struct route_header *headers;	/* all must match */
	size_t nheaders;
	int action;			/* enum config_route_action */
	int action_line;		/* 0: no action given */
	struct config_ref backend;	/* CONFIG_ROUTE_BACKEND */
	uint16_t status;		/* redirect / return */
	char *text;			/* redirect URL template / return body */
	int strip_prefix;		/* forward the path without path_prefix */
	struct policy_conf policy;
	int line;
};

/* Where a limit's key comes from. */
enum config_limit_key {
	CONFIG_LIMIT_IP,		/* the client address */
	CONFIG_LIMIT_HEADER,		/* a header's value */
	CONFIG_LIMIT_PATH,		/* the (normalised) path */
};

/* [limit NAME]: a rate limit shared by every worker (GCRA). */
struct limit_conf {
	char *name;
	uint64_t interval_ns;		/* one request's share: period / rate */
	uint32_t rate;			/* as written: rate/period */
	uint32_t period_s;		/* 1, 60 or 3600 */
	uint32_t burst;			/* requests allowed at once */
	int key;			/* enum config_limit_key */
	char *key_header;		/* CONFIG_LIMIT_HEADER */
	uint32_t table_size;		/* keys tracked */
	int line;
};

struct server_conf {
	char *name;			/* address as written: "127.0.0.1:9001" */
	struct sockaddr_storage addr;
	socklen_t addrlen;
	char id[48];			/* canonical address: identity in its pool */
	uint32_t weight;		/* 1..256, default 1 */
	bool backup;			/* "backup" option */
	bool disabled;			/* "disabled": in maintenance from the start */
	bool tls;			/* "tls": speak TLS to it */
	uint32_t max_conns;		/* requests in flight at most, over all
					 * workers; 0: unlimited. "max_conns=N",
					 * else the backend's max_conns */
	bool max_conns_set;		/* given as a server option */
	bool drain;			/* never from the file: an admin override
					 * (master/override.c) that publishes the
					 * server draining */
	int line;			/* where it was defined */
	uint32_t slot;			/* shm server slot (set by shm_publish) */
};

/*
 * server = HOST:PORT resolve ...: a name the master re-resolves
 * (master/discovery.c); each address found becomes a server with the
 * line's options. Kept apart from servers: they have no slot of their own.
 */
struct resolve_conf {
	char *name;			/* "HOST:PORT" as written */
	char *host;			/* without the port */
	uint16_t port;
	uint32_t weight;
	bool backup;
	bool tls;
	uint32_t max_conns;		/* "max_conns=N", else the backend's */
	bool max_conns_set;
	int line;
};

/* Where a backend's servers come from besides the file. */
enum config_discovery {
	CONFIG_DISCOVERY_NONE,
	CONFIG_DISCOVERY_ZOOKEEPER,	/* zk_path's children on zk_hosts */
};

struct backend_conf {
	char *name;
	enum config_balance balance;
	enum config_hash_key hash_key;
	char *hash_key_name;		/* header or cookie name; NULL otherwise */
	uint32_t hash_bounded_pct;	/* bounded loads: 125 = 1.25x mean; 0 off */
	uint32_t slow_start_ms;		/* ramp after coming back up; 0 off */
	uint32_t pool_slot;		/* shm pool slot (set by shm_publish) */
	/* active health checks, run by the master */
	int health_check;		/* enum config_health */
	char *health_path;		/* NULL: "/" */
	char *health_host;		/* NULL: the server's address */
	struct status_range health_expect[CONFIG_MAX_EXPECT];
	size_t nhealth_expect;
	uint32_t health_interval_ms;
	uint32_t health_timeout_ms;
	uint32_t health_rise;
	uint32_t health_fall;
	int health_initial_down;	/* servers start down until checks pass */
	/* passive failure handling, in the workers */
	uint32_t max_fails;		/* consecutive failures that eject; 0 off */
	uint32_t fail_timeout_ms;	/* first ejection; doubles, up to 5 min */
	int fail_on_5xx;		/* a 5xx response counts as a failure */
	uint32_t max_ejected_percent;	/* never eject more of the pool */
	uint32_t retries;		/* extra tries on another server */
	uint32_t retry_backoff_ms;	/* base of the exponential backoff */
	uint32_t retry_budget_pct;	/* retries per 100 recent requests */
	struct server_conf *servers;
	size_t nservers;
	struct resolve_conf *resolves;	/* "resolve" server lines */
	size_t nresolves;
	uint32_t resolve_interval_ms;	/* longest time between resolutions */
	int discovery;			/* enum config_discovery */
	int discovery_line;
	char *zk_hosts;			/* "h:p,h:p" */
	char *zk_path;			/* "/services/app" */
	uint32_t keepalive;		/* idle pooled conns per worker per server */
	uint32_t keepalive_timeout_ms;	/* idle pooled conn lifetime */
	uint32_t connect_timeout_ms;
	uint32_t response_timeout_ms;	/* max wait between backend reads */
	/* connection limits (worker/queue.c) */
	uint32_t max_conns;		/* its servers' default; 0: no limit */
	uint32_t queue_timeout_ms;	/* longest a request waits for a slot */
	uint32_t max_queue;		/* waiting requests per worker */
	bool limited;			/* some server has a max_conns */
	/* TLS to servers flagged "tls" (tls/client.c) */
	int tls_verify;			/* verify the server's certificate */
	struct config_text tls_ca;	/* CA file; NULL: the system's store */
	char *tls_sni;			/* server name sent and verified; NULL:
					 * none, the address is verified */
	bool any_tls;			/* some server is flagged "tls" */
	int line;
};

struct listen_conf {
	char *text;			/* as written: "127.0.0.1:8080" */
	struct sockaddr_storage addr;
	socklen_t addrlen;
	bool tls;			/* "ADDR tls": a TLS listener */
	int line;
};

struct frontend_conf {
	char *name;
	struct listen_conf *listens;
	size_t nlistens;
	char *backend_name;		/* NULL: no default backend (404) */
	int backend_line;		/* where "backend =" was given */
	size_t backend;			/* index into config.backends, or
					 * CONFIG_NO_BACKEND */
	struct policy_conf policy;	/* applies to every request */
	size_t nroutes;			/* routes of this frontend */
	uint32_t client_timeout_ms;	/* header read and keep-alive idle */
	uint64_t max_header_size;	/* 1k..1m, default 16k */
	uint64_t max_body_size;		/* 0 = unlimited, default 100m */
	int allow_trace;		/* forward TRACE instead of 405 */
	int underscore_headers;		/* enum config_underscore */
	struct cidr *trusted;		/* trusted_proxies; NULL when none */
	size_t ntrusted;
	char **upgrade_allow;		/* Upgrade protocols kept, lower case */
	size_t nupgrade_allow;		/* 0: no upgrade is forwarded */
	int access_log;			/* enum config_access_log */
	char *access_log_path;		/* CONFIG_ACCESS_LOG_FILE */
	int access_log_line;		/* where access_log was set, or 0 */
	int access_log_format;		/* enum config_log_format */
	char *request_id;		/* header name; NULL: off */
	int request_id_trust;		/* keep an incoming request id */
	/* TLS termination on listeners flagged "tls" (tls/server.c) */
	struct config_text *tls_certs;	/* PEM files: chain and key each */
	size_t ntls_certs;
	int tls_min_version;		/* enum config_tls_version */
	struct config_text tls_ciphers;		/* TLS 1.2 cipher list */
	struct config_text tls_ciphersuites;	/* TLS 1.3 suites */
	struct config_text tls_client_ca;	/* require client certificates
						 * signed by these CAs */
	int redirect_https;		/* plain listeners answer 308 https:// */
	bool any_tls;			/* some listen address is TLS */
	uint32_t slot;			/* shm frontend slot (set by shm_publish) */
	int line;
};

/* The [admin] section: the master's HTTP API (master/admin.c). */
struct admin_conf {
	char *listen;			/* as written: "127.0.0.1:9100" or
					 * "unix:/run/weir/admin.sock" */
	struct sockaddr_storage addr;	/* a TCP listen address */
	socklen_t addrlen;
	char *unix_path;		/* a unix socket's path; NULL for TCP */
	char *token_file;		/* NULL: every write is refused (403) */
	int line;			/* the [admin] header */
	int listen_line;
	int token_line;
};

#define CONFIG_MAX_GLOBAL_KEYS	16	/* rows of the [global] section */
/*
 * Frontend and backend names, with their NUL: they key the shared-memory
 * slots that keep counters and balancing state across reloads (shm.c
 * asserts they fit), so a name is never cut and always finds its slot.
 */
#define CONFIG_MAX_NAME		48

struct config {
	char *path;
	uint32_t workers;		/* resolved: "auto" = online CPUs */
	int log_level;			/* enum log_level */
	char *pidfile;			/* NULL when not set */
	uint32_t max_connections;	/* per worker */
	uint32_t max_servers;		/* server slots in shm, fixed at start */
	uint32_t drain_timeout_ms;	/* longest an old worker finishes work */
	uint32_t tls_ticket_rotate_ms;	/* session ticket key lifetime */
	char *log_file;			/* NULL: stderr */
	char *user;			/* run as this account; NULL: as started */
	char *group;			/* NULL: the user's primary group */
	char *resolvers;		/* DNS servers; NULL: resolv.conf */
	uid_t uid;			/* resolved user */
	gid_t gid;			/* resolved group (or the user's) */
	gid_t user_gid;			/* the user's primary group */
	struct frontend_conf *frontends;
	size_t nfrontends;
	struct backend_conf *backends;
	size_t nbackends;
	struct route_conf *routes;	/* in file order */
	size_t nroutes;
	struct limit_conf *limits;
	size_t nlimits;
	struct admin_conf *admin;	/* NULL: no [admin] section */
	char *text;			/* the file as read, for config_reparse */
	size_t textlen;
	int global_line[CONFIG_MAX_GLOBAL_KEYS];	/* where each was set */
};

/* The line that set a [global] key, or 0 (default value). */
int config_line(const struct config *cfg, const char *key);

/*
 * Read and validate the INI file at path. On success returns 0 and *out owns
 * a new config; on failure returns -1 and err holds "FILE:LINE: reason"
 * (or "FILE: reason" when no line applies).
 */
int config_load(const char *path, struct config **out, char *err, size_t errlen);
/* Same, from an in-memory string; name is used in messages. For tests. */
int config_load_string(const char *name, const char *text, struct config **out,
    char *err, size_t errlen);
/*
 * Parse cfg's own text again (cfg->path names it in messages): a config
 * equal to cfg that the caller may change, as the file was when cfg was
 * read, whatever it holds now. 0, or -1 with err set.
 */
int config_reparse(const struct config *cfg, struct config **out, char *err,
    size_t errlen);
void config_free(struct config *cfg);

#endif
