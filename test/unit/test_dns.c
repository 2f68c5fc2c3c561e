/*
 * discovery/dns.c against test/integration/dnsserver.py on loopback: the
 * first answer sorted and deduplicated, changes reported once, failures
 * keeping the set with one log line per state change, TTLs shortening the
 * interval, TCP after a truncated answer, and frees with queries in flight.
 * Waits are for events (a callback, a state, a query count, a log line),
 * each with a generous bound so a broken build fails instead of hanging.
 */
#include "autoconf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "discovery/dns.h"

#define BOUND_S		20	/* give up waiting for an event after this */
#define FAST_MS		100	/* interval of watches that re-resolve fast */
#define TIMEOUT_MS	100	/* per-try timeout of the test resolver */
#define PORT		8080
#define MAX_NAMES	16

/* The DNS server child and the files it shares with the tests. */
static struct {
	pid_t pid;
	int in;				/* its stdin: closing it stops it */
	char dir[64];
	char table[96];
	char counts[96];
	char log[96];
	char servers[32];		/* "127.0.0.1:PORT" */
	char *names[MAX_NAMES];		/* the table, as JSON fragments */
	char *entries[MAX_NAMES];
	int saved_stderr;
} srv = { .pid = -1, .in = -1, .saved_stderr = -1 };

/* What a watch's callback saw. */
struct seen {
	int calls;
	struct sockaddr_storage addrs[64];
	size_t n;
	struct dns_watch *free_me;	/* the callback frees this watch */
};

/* Rewrite the table with name's entry set to json (NULL: removed). */
static void
table_set(const char *name, const char *json)
{
	char tmp[128];
	FILE *f;
	int i, free_slot = -1, first = 1;

	for (i = 0; i < MAX_NAMES; i++) {
		if (srv.names[i] != NULL && strcmp(srv.names[i], name) == 0)
			break;
		if (srv.names[i] == NULL && free_slot == -1)
			free_slot = i;
	}
	if (i == MAX_NAMES) {
		assert_true(free_slot >= 0);
		i = free_slot;
		srv.names[i] = strdup(name);
	}
	free(srv.entries[i]);
	srv.entries[i] = json != NULL ? strdup(json) : NULL;
	snprintf(tmp, sizeof(tmp), "%s.tmp", srv.table);
	assert_non_null(f = fopen(tmp, "w"));
	fputs("{", f);
	for (i = 0; i < MAX_NAMES; i++)
		if (srv.names[i] != NULL && srv.entries[i] != NULL) {
			fprintf(f, "%s\"%s\": %s", first ? "" : ", ",
			    srv.names[i], srv.entries[i]);
			first = 0;
		}
	fputs("}\n", f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(rename(tmp, srv.table), 0);
}

/* How many queries the server has had for name. */
static int
count_of(const char *name)
{
	char line[256], n[200];
	int c, total = 0;
	FILE *f;

	if ((f = fopen(srv.counts, "r")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "%199s %d", n, &c) == 2 &&
		    strcmp(n, name) == 0)
			total = c;
	fclose(f);
	return total;
}

/* How many captured log lines contain both a and b (b may be NULL). */
static int
log_lines(const char *a, const char *b)
{
	char line[2048];
	int total = 0;
	FILE *f;

	if ((f = fopen(srv.log, "r")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strstr(line, a) != NULL &&
		    (b == NULL || strstr(line, b) != NULL))
			total++;
	fclose(f);
	return total;
}

/* Start the DNS server and read its port. */
static int
group_setup(void **state)
{
	const char *srcdir = getenv("srcdir");
	char script[512], port[16] = "";
	int out[2], in[2];
	struct pollfd pfd;
	ssize_t r;
	size_t len = 0;

	(void)state;
	snprintf(srv.dir, sizeof(srv.dir), "/tmp/weir-test-dns.XXXXXX");
	if (mkdtemp(srv.dir) == NULL)
		return -1;
	snprintf(srv.table, sizeof(srv.table), "%s/table.json", srv.dir);
	snprintf(srv.counts, sizeof(srv.counts), "%s/counts", srv.dir);
	snprintf(script, sizeof(script), "%s/test/integration/dnsserver.py",
	    srcdir != NULL ? srcdir : ".");
	table_set("unused.weir.test", "{}");
	if (pipe(out) == -1 || pipe(in) == -1)
		return -1;
	if ((srv.pid = fork()) == -1)
		return -1;
	if (srv.pid == 0) {
		dup2(in[0], STDIN_FILENO);
		dup2(out[1], STDOUT_FILENO);
		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		execl("/usr/bin/python3", "python3", script, srv.table,
		    srv.counts, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	srv.in = in[1];
	pfd.fd = out[0];
	pfd.events = POLLIN;
	while (strchr(port, '\n') == NULL && len < sizeof(port) - 1) {
		if (poll(&pfd, 1, BOUND_S * 1000) != 1 ||
		    (r = read(out[0], port + len, sizeof(port) - 1 - len)) <= 0)
			break;
		len += (size_t)r;
		port[len] = '\0';
	}
	close(out[0]);
	if (atoi(port) <= 0) {
		fprintf(stderr, "dnsserver.py did not start (%s)\n", script);
		return -1;
	}
	snprintf(srv.servers, sizeof(srv.servers), "127.0.0.1:%d", atoi(port));
	return 0;
}

/* Stop the server and remove its files. */
static int
group_teardown(void **state)
{
	char path[128];
	int i;

	(void)state;
	if (getenv("WEIR_TEST_KEEP") != NULL) {
		fprintf(stderr, "test_dns: kept %s\n", srv.dir);
		return 0;
	}
	if (srv.in != -1)
		close(srv.in);
	if (srv.pid > 0) {
		kill(srv.pid, SIGTERM);
		waitpid(srv.pid, NULL, 0);
	}
	for (i = 0; i < MAX_NAMES; i++) {
		free(srv.names[i]);
		free(srv.entries[i]);
	}
	unlink(srv.table);
	unlink(srv.counts);
	snprintf(path, sizeof(path), "%s.tmp", srv.table);
	unlink(path);
	rmdir(srv.dir);
	return 0;
}

/* Each test's log lines go to a file of their own: log.1, log.2, ... */
static int
setup(void **state)
{
	static int ntest;
	int fd;

	(void)state;
	snprintf(srv.log, sizeof(srv.log), "%s/log.%d", srv.dir, ++ntest);
	fd = open(srv.log, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
	if (fd == -1)
		return -1;
	srv.saved_stderr = dup(STDERR_FILENO);
	dup2(fd, STDERR_FILENO);
	close(fd);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	dup2(srv.saved_stderr, STDERR_FILENO);
	close(srv.saved_stderr);
	if (getenv("WEIR_TEST_KEEP") == NULL)
		unlink(srv.log);
	return 0;
}

static void
watch_cb(void *arg, const struct sockaddr_storage *addrs, size_t n)
{
	struct seen *s = arg;

	s->calls++;
	assert_true(n >= 1 && n <= 64);
	memcpy(s->addrs, addrs, n * sizeof(*addrs));
	s->n = n;
	if (s->free_me != NULL) {
		dns_watch_free(s->free_me);
		s->free_me = NULL;
	}
}

/* What run_until waits for. */
struct wait {
	bool (*done)(const struct wait *);
	struct event_base *base;
	const struct seen *seen;
	int calls;
	const struct dns_watch *w;
	enum dns_state state;
	const char *name;
	int count;
	const char *text;
	bool met;
};

static bool
wait_calls(const struct wait *x)
{
	return x->seen->calls >= x->calls;
}

static bool
wait_state(const struct wait *x)
{
	return dns_watch_state(x->w) == x->state;
}

static bool
wait_count(const struct wait *x)
{
	return count_of(x->name) >= x->count;
}

static bool
wait_log(const struct wait *x)
{
	return log_lines(x->text, NULL) > 0;
}

static void
wait_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wait *x = arg;

	(void)fd;
	(void)what;
	if (x->done(x)) {
		x->met = true;
		event_base_loopbreak(x->base);
	}
}

static void
wait_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

/* Run the loop until x is done (checked every 10 ms) or bound_s passed. */
static bool
run_until_within(struct wait *x, time_t bound_s)
{
	struct timeval tick = { 0, 10000 }, bound = { bound_s, 0 };
	struct event *ev, *deadline;

	x->met = false;
	ev = event_new(x->base, -1, EV_PERSIST, wait_tick_cb, x);
	deadline = evtimer_new(x->base, wait_deadline_cb, x->base);
	assert_non_null(ev);
	assert_non_null(deadline);
	event_add(ev, &tick);
	evtimer_add(deadline, &bound);
	event_base_dispatch(x->base);
	event_free(ev);
	event_free(deadline);
	return x->met;
}

static bool
run_until(struct wait *x)
{
	return run_until_within(x, BOUND_S);
}

static bool
run_until_calls(struct event_base *b, const struct seen *s, int calls)
{
	struct wait x = { .done = wait_calls, .base = b, .seen = s,
	    .calls = calls };

	return run_until(&x);
}

static bool
run_until_state(struct event_base *b, const struct dns_watch *w,
    enum dns_state st)
{
	struct wait x = { .done = wait_state, .base = b, .w = w, .state = st };

	return run_until(&x);
}

/* Run until name had n more queries than now: n / 2 resolutions or so. */
static bool
run_queries(struct event_base *b, const char *name, int n)
{
	struct wait x = { .done = wait_count, .base = b, .name = name,
	    .count = count_of(name) + n };

	return run_until(&x);
}

static bool
run_until_log(struct event_base *b, const char *text)
{
	struct wait x = { .done = wait_log, .base = b, .text = text };

	return run_until(&x);
}

/* The text of addrs[i], with its port checked. */
static const char *
addr_at(const struct sockaddr_storage *addrs, size_t i)
{
	static char buf[INET6_ADDRSTRLEN];
	const struct sockaddr_in *sin = (const void *)&addrs[i];
	const struct sockaddr_in6 *sin6 = (const void *)&addrs[i];

	if (addrs[i].ss_family == AF_INET) {
		assert_int_equal(ntohs(sin->sin_port), PORT);
		inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof(buf));
	} else {
		assert_int_equal(addrs[i].ss_family, AF_INET6);
		assert_int_equal(ntohs(sin6->sin6_port), PORT);
		inet_ntop(AF_INET6, &sin6->sin6_addr, buf, sizeof(buf));
	}
	return buf;
}

static struct dns_resolver *
resolver(struct event_base *b)
{
	struct dns_resolver *r;
	char err[256];

	r = dns_resolver_new(b, srv.servers, TIMEOUT_MS, err, sizeof(err));
	if (r == NULL)
		fail_msg("dns_resolver_new: %s", err);
	return r;
}

static struct dns_watch *
watch(struct dns_resolver *r, const char *host, uint32_t interval_ms,
    struct seen *s)
{
	struct dns_watch *w;

	w = dns_watch_new(r, host, PORT, interval_ms, "backend t: server",
	    watch_cb, s);
	assert_non_null(w);
	return w;
}

/* Two A (one given twice) and one AAAA arrive sorted and deduplicated. */
static void
test_first_answer(void **state)
{
	struct event_base *b = event_base_new();
	struct dns_resolver *r = resolver(b);
	struct seen s = { 0 };
	struct dns_watch *w;
	size_t n;

	(void)state;
	table_set("first.weir.test", "{\"a\": [\"10.0.0.2\", \"10.0.0.1\", "
	    "\"10.0.0.2\"], \"aaaa\": [\"::1\"], \"ttl\": 60}");
	w = watch(r, "first.weir.test", 60000, &s);
	assert_int_equal(dns_watch_state(w), DNS_PENDING);
	assert_true(run_until_calls(b, &s, 1));
	assert_int_equal(s.calls, 1);
	assert_int_equal(s.n, 3);
	assert_string_equal(addr_at(s.addrs, 0), "10.0.0.1");
	assert_string_equal(addr_at(s.addrs, 1), "10.0.0.2");
	assert_string_equal(addr_at(s.addrs, 2), "::1");
	assert_int_equal(dns_watch_state(w), DNS_OK);
	assert_non_null(dns_watch_addrs(w, &n));
	assert_int_equal(n, 3);
	assert_int_equal(log_lines("backend t: server: first.weir.test "
	    "resolves to 10.0.0.1, 10.0.0.2, ::1", NULL), 1);
	dns_watch_free(w);
	dns_resolver_free(r);
	event_base_free(b);
}

/* A changed answer calls back with the new set; the same one does not. */
static void
test_change(void **state)
{
	struct event_base *b = event_base_new();
	struct dns_resolver *r = resolver(b);
	struct seen s = { 0 };
	struct dns_watch *w;

	(void)state;
	table_set("change.weir.test", "{\"a\": [\"10.0.0.1\"]}");
	w = watch(r, "change.weir.test", FAST_MS, &s);
	assert_true(run_until_calls(b, &s, 1));
	/* Three more resolutions of the same answer: nothing to say. */
	assert_true(run_queries(b, "change.weir.test", 6));
	assert_int_equal(s.calls, 1);
	assert_int_equal(log_lines("change.weir.test", NULL), 1);

	table_set("change.weir.test", "{\"a\": [\"10.0.0.3\", \"10.0.0.1\"]}");
	assert_true(run_until_calls(b, &s, 2));
	assert_int_equal(s.n, 2);
	assert_string_equal(addr_at(s.addrs, 0), "10.0.0.1");
	assert_string_equal(addr_at(s.addrs, 1), "10.0.0.3");
	assert_int_equal(log_lines("change.weir.test changed: added 10.0.0.3,"
	    " now 2 addresses", NULL), 1);

	table_set("change.weir.test", "{\"a\": [\"10.0.0.3\"], "
	    "\"aaaa\": [\"fd00::5\"]}");
	assert_true(run_until_calls(b, &s, 3));
	assert_int_equal(s.n, 2);
	assert_string_equal(addr_at(s.addrs, 0), "10.0.0.3");
	assert_string_equal(addr_at(s.addrs, 1), "fd00::5");
	assert_int_equal(log_lines("changed: added fd00::5; removed 10.0.0.1,"
	    " now 2 addresses", NULL), 1);
	assert_true(run_queries(b, "change.weir.test", 6));
	assert_int_equal(s.calls, 3);
	assert_int_equal(log_lines("change.weir.test", NULL), 3);
	assert_int_equal(dns_watch_state(w), DNS_OK);
	dns_watch_free(w);
	dns_resolver_free(r);
	event_base_free(b);
}

/* Run until the failure shows in the log, then a few more times. */
static void
fail_for_a_while(struct event_base *b, const char *name, const char *text)
{
	assert_true(run_until_log(b, text));
	assert_true(run_queries(b, name, 6));
}

/*
 * SERVFAIL, NXDOMAIN and a timeout keep the set, call nothing and log
 * once each; the recovery calls back with the new set and logs once.
 */
static void
test_failures(void **state)
{
	const char *name = "flaky.weir.test";
	struct event_base *b = event_base_new();
	struct dns_resolver *r = resolver(b);
	struct seen s = { 0 };
	struct dns_watch *w;
	const struct sockaddr_storage *kept;
	size_t n;

	(void)state;
	table_set(name, "{\"a\": [\"10.0.0.1\"]}");
	w = watch(r, name, FAST_MS, &s);
	assert_true(run_until_calls(b, &s, 1));

	table_set(name, "{\"rcode\": \"SERVFAIL\"}");
	assert_true(run_until_state(b, w, DNS_FAILING));
	fail_for_a_while(b, name, "SERVFAIL");
	table_set(name, "{\"rcode\": \"NXDOMAIN\"}");
	fail_for_a_while(b, name, "NXDOMAIN");
	table_set(name, "{\"drop\": true}");
	fail_for_a_while(b, name, "timeout");

	assert_int_equal(s.calls, 1);
	assert_int_equal(dns_watch_state(w), DNS_FAILING);
	kept = dns_watch_addrs(w, &n);
	assert_int_equal(n, 1);
	assert_string_equal(addr_at(kept, 0), "10.0.0.1");
	assert_int_equal(log_lines("resolving flaky.weir.test: SERVFAIL, "
	    "keeping the last 1 address", NULL), 1);
	assert_int_equal(log_lines("resolving flaky.weir.test: NXDOMAIN, "
	    "keeping the last 1 address", NULL), 1);
	assert_int_equal(log_lines("resolving flaky.weir.test: timeout, "
	    "keeping the last 1 address", NULL), 1);
	assert_int_equal(log_lines(name, NULL), 4);

	table_set(name, "{\"a\": [\"10.0.0.2\"]}");
	assert_true(run_until_calls(b, &s, 2));
	assert_int_equal(dns_watch_state(w), DNS_OK);
	assert_int_equal(s.n, 1);
	assert_string_equal(addr_at(s.addrs, 0), "10.0.0.2");
	assert_int_equal(log_lines("flaky.weir.test resolves again after "
	    "timeout: added 10.0.0.2; removed 10.0.0.1, now 1 address",
	    NULL), 1);

	/* A failure and a recovery to the same set: logged, not called. */
	table_set(name, "{\"rcode\": \"SERVFAIL\"}");
	assert_true(run_until_state(b, w, DNS_FAILING));
	table_set(name, "{\"a\": [\"10.0.0.2\"]}");
	assert_true(run_until_state(b, w, DNS_OK));
	assert_true(run_queries(b, name, 6));
	assert_int_equal(s.calls, 2);
	assert_int_equal(log_lines("resolves again after SERVFAIL: unchanged,"
	    " now 1 address", NULL), 1);
	assert_int_equal(log_lines(name, NULL), 7);
	dns_watch_free(w);
	dns_resolver_free(r);
	event_base_free(b);
}

/* A name without addresses fails without a set, and logs once. */
static void
test_nodata(void **state)
{
	const char *name = "nodata.weir.test";
	struct event_base *b = event_base_new();
	struct dns_resolver *r = resolver(b);
	struct seen s = { 0 };
	struct dns_watch *w;
	size_t n;

	(void)state;
	table_set(name, "{\"a\": []}");
	w = watch(r, name, FAST_MS, &s);
	assert_true(run_until_state(b, w, DNS_FAILING));
	assert_true(run_queries(b, name, 6));
	assert_int_equal(s.calls, 0);
	assert_null(dns_watch_addrs(w, &n));
	assert_int_equal(n, 0);
	assert_int_equal(log_lines("resolving nodata.weir.test: no A or AAAA "
	    "records, no addresses yet", NULL), 1);
	assert_int_equal(log_lines(name, NULL), 1);

	table_set(name, "{\"aaaa\": [\"fd00::1\"]}");
	assert_true(run_until_calls(b, &s, 1));
	assert_string_equal(addr_at(s.addrs, 0), "fd00::1");
	assert_int_equal(log_lines("nodata.weir.test resolves to fd00::1",
	    NULL), 1);
	dns_watch_free(w);
	dns_resolver_free(r);
	event_base_free(b);
}

/*
 * A TTL of 1 s re-resolves about every second although the interval is
 * 10 s: two more resolutions (four queries) within 8 s, which an ignored
 * TTL could not bring before the interval's 10 s.
 */
static void
test_ttl(void **state)
{
	const char *name = "ttl.weir.test";
	struct event_base *b = event_base_new();
	struct dns_resolver *r = resolver(b);
	struct seen s = { 0 };
	struct dns_watch *w;
	struct wait x = { .done = wait_count, .base = b, .name = name };

	(void)state;
	table_set(name, "{\"a\": [\"10.0.0.1\"], \"ttl\": 1}");
	w = watch(r, name, 10000, &s);
	assert_true(run_until_calls(b, &s, 1));
	x.count = count_of(name) + 4;
	assert_true(run_until_within(&x, 8));
	assert_int_equal(s.calls, 1);
	assert_int_equal(dns_watch_state(w), DNS_OK);
	dns_watch_free(w);
	dns_resolver_free(r);
	event_base_free(b);
}

/* An answer over 512 bytes comes truncated over UDP, then whole by TCP. */
static void
test_tcp(void **state)
{
	struct event_base *b = event_base_new();
	struct dns_resolver *r = resolver(b);
	struct seen s = { 0 };
	struct dns_watch *w;
	char json[2048];
	size_t off;
	int i;

	(void)state;
	off = (size_t)snprintf(json, sizeof(json), "{\"a\": [");
	for (i = 60; i > 0; i--)
		off += (size_t)snprintf(json + off, sizeof(json) - off,
		    "\"10.1.0.%d\"%s", i, i > 1 ? ", " : "");
	snprintf(json + off, sizeof(json) - off, "]}");
	table_set("big.weir.test", json);
	w = watch(r, "big.weir.test", 60000, &s);
	assert_true(run_until_calls(b, &s, 1));
	assert_int_equal(s.n, 60);
	assert_string_equal(addr_at(s.addrs, 0), "10.1.0.1");
	assert_string_equal(addr_at(s.addrs, 59), "10.1.0.60");
	/* The log line is bounded: it ends with how many it left out. */
	assert_int_equal(log_lines("big.weir.test resolves to 10.1.0.1, ",
	    " more"), 1);
	dns_watch_free(w);
	dns_resolver_free(r);
	event_base_free(b);
}

/*
 * Freeing a watch with a query in flight: the query's end (here a
 * timeout) must not touch the watch; then freeing the resolver with
 * queries in flight (they end by the channel's destruction). ASan checks.
 */
static void
test_free_in_flight(void **state)
{
	const char *name = "slow.weir.test";
	struct event_base *b = event_base_new();
	struct dns_resolver *r = resolver(b);
	struct seen s = { 0 };
	struct dns_watch *w, *later;
	char err[64];

	(void)state;
	table_set(name, "{\"drop\": true}");
	table_set("slow2.weir.test", "{\"drop\": true}");
	w = watch(r, name, FAST_MS, &s);
	assert_true(run_queries(b, name, 1));
	dns_watch_free(w);
	/*
	 * A query started after the abandoned one, with the same timeout,
	 * times out after it: once it has, the abandoned one has ended.
	 */
	later = watch(r, "slow2.weir.test", 60000, &s);
	assert_true(run_until_state(b, later, DNS_FAILING));
	dns_watch_free(later);
	dns_resolver_free(r);

	/* A long timeout: the queries are surely still in flight. */
	r = dns_resolver_new(b, srv.servers, 5000, err, sizeof(err));
	assert_non_null(r);
	watch(r, name, FAST_MS, &s);
	watch(r, "slow2.weir.test", FAST_MS, &s);
	assert_true(run_queries(b, name, 1));
	dns_resolver_free(r);	/* frees both watches */
	assert_int_equal(s.calls, 0);
	event_base_free(b);
}

/* A callback may free its own watch. */
static void
test_cb_frees_watch(void **state)
{
	struct event_base *b = event_base_new();
	struct dns_resolver *r = resolver(b);
	struct seen s = { 0 };

	(void)state;
	table_set("once.weir.test", "{\"a\": [\"10.0.0.9\"]}");
	s.free_me = watch(r, "once.weir.test", FAST_MS, &s);
	assert_true(run_until_calls(b, &s, 1));
	assert_null(s.free_me);
	dns_resolver_free(r);
	event_base_free(b);
}

/* Resolvers lists: good forms accepted, a bad entry named in the error. */
static void
test_resolvers(void **state)
{
	static const char *const good[] = {
		"127.0.0.1", "127.0.0.1:53", "127.0.0.1:53, [::1]:5353",
		"::1", "[::1]", " 10.0.0.1 ,10.0.0.2:5353 ",
	};
	static const struct {
		const char *list, *named;
	} bad[] = {
		{ "", "\"\"" },
		{ "127.0.0.1:0", "\"127.0.0.1:0\"" },
		{ "127.0.0.1:65536", "\"127.0.0.1:65536\"" },
		{ "127.0.0.1:53,", "\"\"" },
		{ "dns.example", "\"dns.example\"" },
		{ "127.0.0.1, [::1", "\"[::1\"" },
		{ "[127.0.0.1]:53", "\"[127.0.0.1]:53\"" },
		{ "::1:53x", "\"::1:53x\"" },
		{ "1.2.3.4:+53", "\"1.2.3.4:+53\"" },
		{ "1.0.0.1,1.0.0.2,1.0.0.3,1.0.0.4,1.0.0.5,1.0.0.6,1.0.0.7,"
		    "1.0.0.8,1.0.0.9", "more than" },
	};
	struct event_base *b = event_base_new();
	struct dns_resolver *r;
	char err[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		r = dns_resolver_new(b, good[i], 0, err, sizeof(err));
		if (r == NULL)
			fail_msg("refused %s: %s", good[i], err);
		dns_resolver_free(r);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		r = dns_resolver_new(b, bad[i].list, 0, err, sizeof(err));
		if (r != NULL)
			fail_msg("accepted \"%s\"", bad[i].list);
		if (strstr(err, bad[i].named) == NULL)
			fail_msg("\"%s\": error \"%s\" does not name %s",
			    bad[i].list, err, bad[i].named);
	}
	dns_resolver_free(NULL);
	dns_watch_free(NULL);
	event_base_free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_first_answer, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_change, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failures, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_nodata, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ttl, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tcp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_free_in_flight, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_cb_frees_watch, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_resolvers, setup,
		    teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
