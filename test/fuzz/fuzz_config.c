/*
 * libFuzzer harness for the config reader (common/config.c through inih)
 * and the value parsers (common/confval.c): errors name "file:line", and a
 * config that loads, printed back as INI, loads to the same values.
 */
#include "autoconf.h"

#include <inttypes.h>
#include <stdarg.h>

#include "common/config.h"
#include "common/confval.h"
#include "test/fuzz/fuzz.h"

#define FUZZ_NAME	"fuzz.ini"
#define FUZZ_MAX_IN	65536

static char fuzz_text[FUZZ_MAX_IN + 1];
static char fuzz_print[8 * FUZZ_MAX_IN + 4096];
static size_t fuzz_plen;

static const char *const fuzz_levels[] = { "error", "warn", "info", "debug" };
static const char *const fuzz_balances[] = { "roundrobin", "leastconn",
    "random2", "hash" };
static const char *const fuzz_healths[] = { "none", "tcp", "http" };

/* Append to the printed config; the buffer is sized for any input. */
static void __attribute__((format(printf, 1, 2)))
fuzz_out(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(fuzz_print + fuzz_plen, sizeof(fuzz_print) - fuzz_plen,
	    fmt, ap);
	va_end(ap);
	FUZZ_CHECK(n >= 0 && (size_t)n < sizeof(fuzz_print) - fuzz_plen);
	fuzz_plen += (size_t)n;
}

/* An optional string key, printed only when set. */
static void
fuzz_out_str(const char *key, const char *v)
{
	if (v != NULL)
		fuzz_out("%s=%s\n", key, v);
}

static void
fuzz_print_backend(const struct backend_conf *b)
{
	size_t i;

	fuzz_out("[backend %s]\nbalance=%s\n", b->name,
	    fuzz_balances[b->balance]);
	if (b->hash_key == CONFIG_HASH_IP || b->hash_key == CONFIG_HASH_URI)
		fuzz_out("hash_key=%s\n", b->hash_key == CONFIG_HASH_IP ?
		    "ip" : "uri");
	else
		fuzz_out("hash_key=%s:%s\n", b->hash_key == CONFIG_HASH_HEADER ?
		    "header" : "cookie", b->hash_key_name);
	if (b->hash_bounded_pct == 0)
		fuzz_out("hash_bounded=0\n");	/* "0.00" is refused */
	else
		fuzz_out("hash_bounded=%" PRIu32 ".%02" PRIu32 "\n",
		    b->hash_bounded_pct / 100, b->hash_bounded_pct % 100);
	fuzz_out("slow_start=%" PRIu32 "ms\nhealth_check=%s\n",
	    b->slow_start_ms, fuzz_healths[b->health_check]);
	fuzz_out_str("health_path", b->health_path);
	fuzz_out_str("health_host", b->health_host);
	fuzz_out("health_expect=");
	for (i = 0; i < b->nhealth_expect; i++)
		fuzz_out("%s%u-%u", i > 0 ? "," : "",
		    b->health_expect[i].lo, b->health_expect[i].hi);
	fuzz_out("\nhealth_interval=%" PRIu32 "ms\nhealth_timeout=%" PRIu32
	    "ms\nhealth_rise=%" PRIu32 "\nhealth_fall=%" PRIu32 "\n"
	    "health_initial=%s\nmax_fails=%" PRIu32 "\nfail_timeout=%" PRIu32
	    "ms\nfail_on_5xx=%s\nmax_ejected_percent=%" PRIu32 "%%\n"
	    "retries=%" PRIu32 "\nretry_backoff=%" PRIu32 "ms\n"
	    "retry_budget=%" PRIu32 "\nkeepalive=%" PRIu32 "\n"
	    "keepalive_timeout=%" PRIu32 "ms\nconnect_timeout=%" PRIu32
	    "ms\nresponse_timeout=%" PRIu32 "ms\n", b->health_interval_ms,
	    b->health_timeout_ms, b->health_rise, b->health_fall,
	    b->health_initial_down ? "down" : "up", b->max_fails,
	    b->fail_timeout_ms, b->fail_on_5xx ? "yes" : "no",
	    b->max_ejected_percent, b->retries, b->retry_backoff_ms,
	    b->retry_budget_pct, b->keepalive, b->keepalive_timeout_ms,
	    b->connect_timeout_ms, b->response_timeout_ms);
	for (i = 0; i < b->nservers; i++)
		fuzz_out("server=%s weight=%" PRIu32 "%s%s\n",
		    b->servers[i].name, b->servers[i].weight,
		    b->servers[i].backup ? " backup" : "",
		    b->servers[i].disabled ? " disabled" : "");
}

/* Print cfg back as INI: every value explicit, in the parsers' own units. */
static void
fuzz_print_config(const struct config *c)
{
	const struct frontend_conf *f;
	size_t i, j;

	fuzz_plen = 0;
	fuzz_out("[global]\nworkers=%" PRIu32 "\nlog_level=%s\n"
	    "max_connections=%" PRIu32 "\ndrain_timeout=%" PRIu32 "ms\n",
	    c->workers, fuzz_levels[c->log_level], c->max_connections,
	    c->drain_timeout_ms);
	fuzz_out_str("pidfile", c->pidfile);
	fuzz_out_str("log_file", c->log_file);
	for (i = 0; i < c->nfrontends; i++) {
		f = &c->frontends[i];
		fuzz_out("[frontend %s]\nclient_timeout=%" PRIu32
		    "ms\nmax_header_size=%" PRIu64 "\nmax_body_size=%" PRIu64
		    "\n", f->name, f->client_timeout_ms, f->max_header_size,
		    f->max_body_size);
		fuzz_out_str("backend", f->backend_name);
		for (j = 0; j < f->nlistens; j++)
			fuzz_out("listen=%s\n", f->listens[j].text);
		fuzz_out("access_log=%s\naccess_log_format=%s\n"
		    "request_id=%s\nrequest_id_trust=%s\n",
		    f->access_log == CONFIG_ACCESS_LOG_FILE ?
		    f->access_log_path : f->access_log ==
		    CONFIG_ACCESS_LOG_SYSLOG ? "syslog" : "off",
		    f->access_log_format == CONFIG_LOG_COMBINED ? "combined" :
		    "json", f->request_id != NULL ? f->request_id : "off",
		    f->request_id_trust ? "yes" : "no");
	}
	for (i = 0; i < c->nbackends; i++)
		fuzz_print_backend(&c->backends[i]);
	if (c->admin != NULL) {
		fuzz_out("[admin]\nlisten=%s\n", c->admin->listen);
		fuzz_out_str("token_file", c->admin->token_file);
	}
	fuzz_print[fuzz_plen] = '\0';
}

/* Strings both NULL or equal. */
static bool
fuzz_str_eq(const char *a, const char *b)
{
	return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static void
fuzz_same_backend(const struct backend_conf *a, const struct backend_conf *b)
{
	size_t i;

	FUZZ_CHECK(strcmp(a->name, b->name) == 0 && a->balance == b->balance);
	FUZZ_CHECK(a->hash_key == b->hash_key &&
	    fuzz_str_eq(a->hash_key_name, b->hash_key_name));
	FUZZ_CHECK(a->hash_bounded_pct == b->hash_bounded_pct &&
	    a->slow_start_ms == b->slow_start_ms);
	FUZZ_CHECK(a->health_check == b->health_check &&
	    fuzz_str_eq(a->health_path, b->health_path) &&
	    fuzz_str_eq(a->health_host, b->health_host));
	FUZZ_CHECK(a->nhealth_expect == b->nhealth_expect &&
	    memcmp(a->health_expect, b->health_expect,
	    a->nhealth_expect * sizeof(a->health_expect[0])) == 0);
	FUZZ_CHECK(a->health_interval_ms == b->health_interval_ms &&
	    a->health_timeout_ms == b->health_timeout_ms &&
	    a->health_rise == b->health_rise &&
	    a->health_fall == b->health_fall &&
	    a->health_initial_down == b->health_initial_down);
	FUZZ_CHECK(a->max_fails == b->max_fails &&
	    a->fail_timeout_ms == b->fail_timeout_ms &&
	    a->fail_on_5xx == b->fail_on_5xx &&
	    a->max_ejected_percent == b->max_ejected_percent);
	FUZZ_CHECK(a->retries == b->retries &&
	    a->retry_backoff_ms == b->retry_backoff_ms &&
	    a->retry_budget_pct == b->retry_budget_pct);
	FUZZ_CHECK(a->keepalive == b->keepalive &&
	    a->keepalive_timeout_ms == b->keepalive_timeout_ms &&
	    a->connect_timeout_ms == b->connect_timeout_ms &&
	    a->response_timeout_ms == b->response_timeout_ms);
	FUZZ_CHECK(a->nservers == b->nservers);
	for (i = 0; i < a->nservers; i++) {
		const struct server_conf *s = &a->servers[i], *t = &b->servers[i];

		FUZZ_CHECK(strcmp(s->name, t->name) == 0 &&
		    strcmp(s->id, t->id) == 0 && s->addrlen == t->addrlen &&
		    memcmp(&s->addr, &t->addr, s->addrlen) == 0);
		FUZZ_CHECK(s->weight == t->weight && s->backup == t->backup &&
		    s->disabled == t->disabled);
	}
}

/* Two loads hold the same values (lines may differ). */
static void
fuzz_same_config(const struct config *a, const struct config *b)
{
	const struct frontend_conf *f, *g;
	size_t i, j;

	FUZZ_CHECK(a->workers == b->workers && a->log_level == b->log_level &&
	    a->max_connections == b->max_connections &&
	    a->drain_timeout_ms == b->drain_timeout_ms);
	FUZZ_CHECK(fuzz_str_eq(a->pidfile, b->pidfile) &&
	    fuzz_str_eq(a->log_file, b->log_file));
	FUZZ_CHECK(a->nfrontends == b->nfrontends &&
	    a->nbackends == b->nbackends);
	for (i = 0; i < a->nfrontends; i++) {
		f = &a->frontends[i];
		g = &b->frontends[i];
		FUZZ_CHECK(strcmp(f->name, g->name) == 0 &&
		    fuzz_str_eq(f->backend_name, g->backend_name) &&
		    f->backend == g->backend);
		FUZZ_CHECK(f->client_timeout_ms == g->client_timeout_ms &&
		    f->max_header_size == g->max_header_size &&
		    f->max_body_size == g->max_body_size);
		FUZZ_CHECK(f->access_log == g->access_log &&
		    fuzz_str_eq(f->access_log_path, g->access_log_path) &&
		    f->access_log_format == g->access_log_format &&
		    fuzz_str_eq(f->request_id, g->request_id) &&
		    f->request_id_trust == g->request_id_trust);
		FUZZ_CHECK(f->access_log != CONFIG_ACCESS_LOG_FILE ||
		    (f->access_log_path != NULL && *f->access_log_path != '\0'));
		FUZZ_CHECK(f->nlistens == g->nlistens);
		for (j = 0; j < f->nlistens; j++)
			FUZZ_CHECK(strcmp(f->listens[j].text,
			    g->listens[j].text) == 0 &&
			    f->listens[j].addrlen == g->listens[j].addrlen &&
			    memcmp(&f->listens[j].addr, &g->listens[j].addr,
			    f->listens[j].addrlen) == 0);
	}
	for (i = 0; i < a->nbackends; i++)
		fuzz_same_backend(&a->backends[i], &b->backends[i]);
	FUZZ_CHECK((a->admin == NULL) == (b->admin == NULL));
	if (a->admin != NULL)
		FUZZ_CHECK(strcmp(a->admin->listen, b->admin->listen) == 0 &&
		    fuzz_str_eq(a->admin->unix_path, b->admin->unix_path) &&
		    fuzz_str_eq(a->admin->token_file, b->admin->token_file) &&
		    a->admin->addrlen == b->admin->addrlen &&
		    memcmp(&a->admin->addr, &b->admin->addr,
		    a->admin->addrlen) == 0);
}

/* A failed load says "fuzz.ini:LINE: why" with a real line, or "fuzz.ini: why". */
static void
fuzz_check_error(const char *text, const char *err, size_t errlen)
{
	const char *p = err + sizeof(FUZZ_NAME) - 1;
	size_t lines = 1;
	long line = 0;

	FUZZ_CHECK(memchr(err, '\0', errlen) != NULL);
	FUZZ_CHECK(strncmp(err, FUZZ_NAME ":", sizeof(FUZZ_NAME)) == 0);
	for (; *text != '\0'; text++)
		lines += *text == '\n';
	p++;
	if (*p == ' ') {
		FUZZ_CHECK(p[1] != '\0');
		return;
	}
	while (*p >= '0' && *p <= '9' && line < 1000000)
		line = line * 10 + (*p++ - '0');
	FUZZ_CHECK(line >= 1 && (size_t)line <= lines);
	FUZZ_CHECK(p[0] == ':' && p[1] == ' ' && p[2] != '\0');
}

/*
 * Each value parser over one line of input: a failure leaves the output
 * alone and says why; a success prints back to the same value.
 */
static void
fuzz_check_values(const char *s)
{
	struct sockaddr_storage ss, ss2;
	socklen_t sl = 7, sl2;
	const char *why = NULL;
	char buf[128];
	uint64_t size = 7, size2;
	uint32_t ms = 7, ms2;
	long l = 7, l2;
	bool b;

	if (confval_duration(s, &ms, &why) == 0) {
		snprintf(buf, sizeof(buf), "%" PRIu32 "ms", ms);
		FUZZ_CHECK(confval_duration(buf, &ms2, &why) == 0 && ms2 == ms);
	} else
		FUZZ_CHECK(ms == 7 && why != NULL);
	why = NULL;
	if (confval_size(s, &size, &why) == 0) {
		snprintf(buf, sizeof(buf), "%" PRIu64, size);
		FUZZ_CHECK(confval_size(buf, &size2, &why) == 0 &&
		    size2 == size);
	} else
		FUZZ_CHECK(size == 7 && why != NULL);
	why = NULL;
	if (confval_int(s, -1000, 1000000, &l, &why) == 0) {
		FUZZ_CHECK(l >= -1000 && l <= 1000000);
		snprintf(buf, sizeof(buf), "%ld", l);
		FUZZ_CHECK(confval_int(buf, -1000, 1000000, &l2, &why) == 0 &&
		    l2 == l);
	} else
		FUZZ_CHECK(l == 7 && why != NULL);
	why = NULL;
	if (confval_bool(s, &b, &why) != 0)
		FUZZ_CHECK(why != NULL);
	why = NULL;
	memset(&ss, 0xa5, sizeof(ss));
	if (confval_addr(s, &ss, &sl, &why) == 0) {
		confval_addr_str((struct sockaddr *)&ss, buf, sizeof(buf));
		FUZZ_CHECK(confval_addr(buf, &ss2, &sl2, &why) == 0);
		FUZZ_CHECK(sl2 == sl && memcmp(&ss, &ss2, sizeof(ss)) == 0);
	} else
		FUZZ_CHECK(sl == 7 && why != NULL);
}

/* Has cfg a frontend without a backend of its own (only routes)? */
static bool
fuzz_routes_only(const struct config *cfg)
{
	for (size_t i = 0; i < cfg->nfrontends; i++)
		if (cfg->frontends[i].backend_name == NULL)
			return true;
	return false;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct config sentinel;
	struct config *a = &sentinel, *b = &sentinel, *c = &sentinel;
	char err[512], *line, *save;

	if (size > FUZZ_MAX_IN)
		return 0;
	memcpy(fuzz_text, data, size);
	fuzz_text[size] = '\0';
	memset(err, 0, sizeof(err));
	if (config_load_string(FUZZ_NAME, fuzz_text, &a, err,
	    sizeof(err)) != 0) {
		FUZZ_CHECK(a == &sentinel);
		fuzz_check_error(fuzz_text, err, sizeof(err));
	} else {
		/* The same text twice: the same values (no hidden state). */
		FUZZ_CHECK(config_load_string(FUZZ_NAME, fuzz_text, &b, err,
		    sizeof(err)) == 0);
		fuzz_same_config(a, b);
		fuzz_print_config(a);
		if (config_load_string(FUZZ_NAME, fuzz_print, &c, err,
		    sizeof(err)) != 0) {
			/*
			 * Only a printed line over inih's limit may fail, or a
			 * frontend served by routes alone: routes are not
			 * printed.
			 */
			FUZZ_CHECK(strstr(err, "line too long") != NULL ||
			    (fuzz_routes_only(a) &&
			    strstr(err, "no 'backend' and no [route]") != NULL));
		} else {
			fuzz_same_config(a, c);
			config_free(c);
		}
		config_free(b);
		config_free(a);
	}
	/* The value parsers, one line of the input at a time. */
	for (line = strtok_r(fuzz_text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save))
		fuzz_check_values(line);
	return 0;
}
