/*
 * DNS discovery for the master: one c-ares channel driven by the master's
 * libevent loop (an event per c-ares socket, a timer for its retransmits),
 * and watches that re-resolve a name on its TTL and report changes of its
 * address set, keeping the last good set while DNS fails.
 */
#include "autoconf.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include <ares.h>
#include <event2/event.h>

#include "common/log.h"
#include "discovery/dns.h"

#define DNS_MAX_SERVERS	8	/* entries of a resolvers list */
#define DNS_DEFAULT_PORT 53
#define DNS_NODATA	(-1)	/* failure kind: an answer without addresses */
#define DNS_LIST_TEXT	600	/* bytes of addresses in one log line */

/* One socket c-ares opened, and the event that waits on it. */
struct dns_sock {
	struct dns_sock *next;
	ares_socket_t fd;
	short what;			/* EV_READ and/or EV_WRITE */
	struct event *ev;
};

struct dns_resolver {
	struct event_base *base;
	ares_channel channel;
	bool channel_up;		/* channel needs ares_destroy */
	struct event *timer;		/* c-ares's next retransmit */
	struct dns_sock *socks;
	struct dns_watch *watches;	/* all, for dns_resolver_free */
};

/*
 * A resolution in flight. c-ares cannot cancel one query, so a watch freed
 * meanwhile only sets w to NULL; the query's callback, which c-ares always
 * calls (at the latest from ares_destroy), frees the query.
 */
struct dns_query {
	struct dns_watch *w;
};

struct dns_watch {
	struct dns_resolver *r;
	struct dns_watch *prev, *next;	/* on r->watches */
	char *host;
	char *label;
	uint16_t port;
	uint32_t interval_ms;
	dns_watch_cb cb;
	void *arg;
	struct event *timer;		/* the next resolution */
	struct dns_query *q;		/* in flight, or NULL */
	enum dns_state state;
	int fail_kind;			/* c-ares status or DNS_NODATA, when
					 * FAILING: a new kind logs again */
	struct sockaddr_storage *addrs;	/* the last good set, sorted */
	size_t naddrs;
};

static void dns_sock_cb(evutil_socket_t, short, void *);
static void dns_timer_cb(evutil_socket_t, short, void *);
static void dns_watch_timer_cb(evutil_socket_t, short, void *);

/* Parse one resolvers entry: "1.2.3.4", "1.2.3.4:53", "[::1]:53", "::1". */
static int
dns_parse_server(const char *s, size_t len, struct ares_addr_port_node *node)
{
	char buf[64], *host = buf, *port = NULL, *end;
	unsigned long p = DNS_DEFAULT_PORT;
	bool v6;

	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (buf[0] == '[') {
		if ((end = strchr(buf, ']')) == NULL)
			return -1;
		*end++ = '\0';
		host = buf + 1;
		if (*end == ':')
			port = end + 1;
		else if (*end != '\0')
			return -1;
		v6 = true;
	} else if ((end = strchr(buf, ':')) != NULL &&
	    strchr(end + 1, ':') == NULL) {
		*end = '\0';
		port = end + 1;
		v6 = false;
	} else
		v6 = end != NULL;	/* a bare IPv6 address has no port */
	if (port != NULL) {
		if (!isdigit((unsigned char)*port))
			return -1;
		p = strtoul(port, &end, 10);
		if (*end != '\0' || p == 0 || p > 65535)
			return -1;
	}
	memset(node, 0, sizeof(*node));
	node->family = v6 ? AF_INET6 : AF_INET;
	if (inet_pton(node->family, host, &node->addr) != 1)
		return -1;
	node->udp_port = node->tcp_port = (int)p;
	return 0;
}

/* Split a resolvers list into nodes linked in order; -1 with err set. */
static int
dns_parse_servers(const char *list, struct ares_addr_port_node *nodes,
    char *err, size_t errlen)
{
	const char *s = list, *e;
	size_t n = 0, len;

	for (;;) {
		while (*s == ' ' || *s == '\t')
			s++;
		e = s + strcspn(s, ",");
		len = (size_t)(e - s);
		while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
			len--;
		if (n == DNS_MAX_SERVERS) {
			snprintf(err, errlen, "resolvers: more than %d servers",
			    DNS_MAX_SERVERS);
			return -1;
		}
		if (dns_parse_server(s, len, &nodes[n]) == -1) {
			snprintf(err, errlen, "resolvers: bad server \"%.*s\" "
			    "(want IP, IP:PORT or [IPv6]:PORT)", (int)len, s);
			return -1;
		}
		if (n > 0)
			nodes[n - 1].next = &nodes[n];
		n++;
		if (*e == '\0')
			return 0;
		s = e + 1;
	}
}

/* Arm the timer for c-ares's next retransmit or timeout, if it has one. */
static void
dns_resolver_arm(struct dns_resolver *r)
{
	struct timeval tv, *next;

	next = ares_timeout(r->channel, NULL, &tv);
	if (next != NULL)
		evtimer_add(r->timer, next);
	else
		evtimer_del(r->timer);
}

/* Let c-ares read, write or time out, then re-arm its timer. */
static void
dns_resolver_process(struct dns_resolver *r, ares_socket_t rfd,
    ares_socket_t wfd)
{
	ares_process_fd(r->channel, rfd, wfd);
	dns_resolver_arm(r);
}

/* A c-ares socket is ready. */
static void
dns_sock_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dns_resolver *r = arg;

	dns_resolver_process(r, (what & EV_READ) ? fd : ARES_SOCKET_BAD,
	    (what & EV_WRITE) ? fd : ARES_SOCKET_BAD);
}

/* c-ares's timer fired: retransmit or fail what timed out. */
static void
dns_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	dns_resolver_process(arg, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
}

/*
 * c-ares opened, changed or closed a socket: keep exactly one event per
 * socket, waiting for what c-ares wants. It may be called from inside that
 * socket's own event callback; libevent allows freeing an event there.
 */
static void
dns_sock_state_cb(void *data, ares_socket_t fd, int readable, int writable)
{
	struct dns_resolver *r = data;
	struct dns_sock **pp, *s;
	short what = (readable ? EV_READ : 0) | (writable ? EV_WRITE : 0);

	for (pp = &r->socks; (s = *pp) != NULL; pp = &s->next)
		if (s->fd == fd)
			break;
	if (s != NULL && s->what == what)
		return;
	if (s != NULL) {
		event_free(s->ev);
		s->ev = NULL;
	}
	if (what == 0) {
		if (s != NULL) {
			*pp = s->next;
			free(s);
		}
		return;
	}
	if (s == NULL) {
		if ((s = calloc(1, sizeof(*s))) == NULL)
			fatal("dns: socket state");
		s->fd = fd;
		s->next = r->socks;
		r->socks = s;
	}
	s->what = what;
	s->ev = event_new(r->base, fd, what | EV_PERSIST, dns_sock_cb, r);
	if (s->ev == NULL || event_add(s->ev, NULL) == -1)
		fatalx("dns: cannot watch a resolver socket");
}

struct dns_resolver *
dns_resolver_new(struct event_base *base, const char *servers,
    uint32_t timeout_ms, char *err, size_t errlen)
{
	static char lookups_dns[] = "b";
	struct ares_addr_port_node nodes[DNS_MAX_SERVERS];
	struct ares_options o;
	struct dns_resolver *r;
	int mask, rc;

	if (servers != NULL && dns_parse_servers(servers, nodes, err,
	    errlen) == -1)
		return NULL;
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		snprintf(err, errlen, "dns: out of memory");
		return NULL;
	}
	r->base = base;
	if ((r->timer = evtimer_new(base, dns_timer_cb, r)) == NULL) {
		snprintf(err, errlen, "dns: cannot create a timer");
		goto fail;
	}
	if ((rc = ares_library_init(ARES_LIB_INIT_ALL)) != ARES_SUCCESS) {
		snprintf(err, errlen, "dns: %s", ares_strerror(rc));
		goto fail;
	}
	memset(&o, 0, sizeof(o));
	o.sock_state_cb = dns_sock_state_cb;
	o.sock_state_cb_data = r;
	o.timeout = (int)(timeout_ms != 0 ? timeout_ms : DNS_TIMEOUT_MS);
	o.tries = DNS_TRIES;
	/*
	 * Without NOCHECKRESP, c-ares 1.18 takes a SERVFAIL or REFUSED as
	 * the server failing and, once every server did, reports "connection
	 * refused": the log could not say what DNS answered. A server's
	 * SERVFAIL is its answer; the next resolution asks again.
	 */
	o.flags = ARES_FLAG_NOCHECKRESP;
	mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES |
	    ARES_OPT_FLAGS;
	if (servers != NULL) {
		o.lookups = lookups_dns;
		mask |= ARES_OPT_LOOKUPS;
	}
	if ((rc = ares_init_options(&r->channel, &o, mask)) != ARES_SUCCESS) {
		snprintf(err, errlen, "dns: %s", ares_strerror(rc));
		ares_library_cleanup();
		goto fail;
	}
	r->channel_up = true;
	if (servers != NULL &&
	    (rc = ares_set_servers_ports(r->channel, nodes)) != ARES_SUCCESS) {
		snprintf(err, errlen, "resolvers: %s", ares_strerror(rc));
		goto fail;
	}
	return r;
fail:
	dns_resolver_free(r);
	return NULL;
}

void
dns_resolver_atfork_child(const struct dns_resolver *r)
{
	for (const struct dns_sock *s = r != NULL ? r->socks : NULL;
	    s != NULL; s = s->next)
		close(s->fd);
}

void
dns_resolver_free(struct dns_resolver *r)
{
	struct dns_sock *s;

	if (r == NULL)
		return;
	while (r->watches != NULL)
		dns_watch_free(r->watches);
	if (r->channel_up) {
		/* Calls every query's callback; the queries are detached. */
		ares_destroy(r->channel);
		ares_library_cleanup();
	}
	while ((s = r->socks) != NULL) {
		r->socks = s->next;
		if (s->ev != NULL)
			event_free(s->ev);
		free(s);
	}
	if (r->timer != NULL)
		event_free(r->timer);
	free(r);
}

/* Order addresses: IPv4 before IPv6, then by address bytes. */
static int
dns_addr_cmp(const void *a, const void *b)
{
	const struct sockaddr_storage *x = a, *y = b;
	const struct sockaddr_in *x4 = a, *y4 = b;
	const struct sockaddr_in6 *x6 = a, *y6 = b;

	if (x->ss_family != y->ss_family)
		return x->ss_family == AF_INET ? -1 : 1;
	if (x->ss_family == AF_INET)
		return memcmp(&x4->sin_addr, &y4->sin_addr,
		    sizeof(x4->sin_addr));
	return memcmp(&x6->sin6_addr, &y6->sin6_addr, sizeof(x6->sin6_addr));
}

/*
 * Copy an answer's addresses into a new sorted array without duplicates,
 * each with port; at most DNS_MAX_ADDRS of them. *ttl_ms is the smallest
 * TTL. NULL with *n 0 when there are none; fatal on allocation failure.
 */
static struct sockaddr_storage *
dns_collect(const struct ares_addrinfo *res, uint16_t port, size_t *n,
    uint64_t *ttl_ms)
{
	const struct ares_addrinfo_node *a;
	struct sockaddr_storage *v;
	struct sockaddr_in *sin;
	struct sockaddr_in6 *sin6;
	size_t count = 0, i, j;
	uint64_t ttl;

	*n = 0;
	*ttl_ms = UINT64_MAX;
	for (a = res != NULL ? res->nodes : NULL; a != NULL; a = a->ai_next)
		count++;
	if (count == 0)
		return NULL;
	if ((v = calloc(count, sizeof(*v))) == NULL)
		fatal("dns: answer");
	for (a = res->nodes, i = 0; a != NULL; a = a->ai_next) {
		if (a->ai_family == AF_INET && a->ai_addrlen >= sizeof(*sin)) {
			sin = (struct sockaddr_in *)&v[i++];
			sin->sin_family = AF_INET;
			sin->sin_port = htons(port);
			sin->sin_addr =
			    ((struct sockaddr_in *)a->ai_addr)->sin_addr;
		} else if (a->ai_family == AF_INET6 &&
		    a->ai_addrlen >= sizeof(*sin6)) {
			sin6 = (struct sockaddr_in6 *)&v[i++];
			sin6->sin6_family = AF_INET6;
			sin6->sin6_port = htons(port);
			sin6->sin6_addr =
			    ((struct sockaddr_in6 *)a->ai_addr)->sin6_addr;
		} else
			continue;
		ttl = (uint64_t)(a->ai_ttl > 0 ? a->ai_ttl : 0) * 1000;
		if (ttl < *ttl_ms)
			*ttl_ms = ttl;
	}
	qsort(v, i, sizeof(*v), dns_addr_cmp);
	for (j = 0, count = 0; j < i && count < DNS_MAX_ADDRS; j++)
		if (count == 0 || dns_addr_cmp(&v[count - 1], &v[j]) != 0)
			v[count++] = v[j];
	if (count == 0) {
		free(v);
		return NULL;
	}
	*n = count;
	return v;
}

/* Write one address, without its port, to buf. */
static void
dns_addr_text(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	const void *a = ss->ss_family == AF_INET ?
	    (const void *)&((const struct sockaddr_in *)ss)->sin_addr :
	    (const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr;

	if (inet_ntop(ss->ss_family, a, buf, (socklen_t)len) == NULL)
		snprintf(buf, len, "?");
}

/* Append addresses to buf (at *off) as "a, b"; "... and N more" if full. */
static void
dns_list_text(const struct sockaddr_storage *const *v, size_t n, char *buf,
    size_t len, size_t *off)
{
	char one[INET6_ADDRSTRLEN];
	size_t i;
	int w;

	for (i = 0; i < n; i++) {
		dns_addr_text(v[i], one, sizeof(one));
		/* Keep room for the " and N more" that may follow. */
		if (*off + strlen(one) + 2 + 24 >= len) {
			w = snprintf(buf + *off, len - *off, " and %zu more",
			    n - i);
			*off += w > 0 ? (size_t)w : 0;
			return;
		}
		w = snprintf(buf + *off, len - *off, "%s%s", i > 0 ? ", " : "",
		    one);
		*off += w > 0 ? (size_t)w : 0;
	}
}

/*
 * Describe the difference from old to new ("added a, b; removed c") in buf.
 * Both sorted, so one merge walk finds each side; ptrs has room for
 * nold + nnew pointers.
 */
static void
dns_diff_text(const struct sockaddr_storage *old, size_t nold,
    const struct sockaddr_storage *new, size_t nnew,
    const struct sockaddr_storage **ptrs, char *buf, size_t len)
{
	size_t i = 0, j = 0, nadd = 0, nrem = 0, off = 0;
	const struct sockaddr_storage **add = ptrs, **rem = ptrs + nnew;
	int c;

	while (i < nold || j < nnew) {
		c = i == nold ? 1 : j == nnew ? -1 :
		    dns_addr_cmp(&old[i], &new[j]);
		if (c < 0)
			rem[nrem++] = &old[i++];
		else if (c > 0)
			add[nadd++] = &new[j++];
		else
			i++, j++;
	}
	buf[0] = '\0';
	if (nadd > 0) {
		off = (size_t)snprintf(buf, len, "added ");
		dns_list_text(add, nadd, buf, len, &off);
	}
	if (nrem > 0 && off + 16 < len) {
		off += (size_t)snprintf(buf + off, len - off, "%sremoved ",
		    nadd > 0 ? "; " : "");
		dns_list_text(rem, nrem, buf, len, &off);
	}
}

/* The words a failure's log line uses for a c-ares status. */
static const char *
dns_fail_text(int kind)
{
	switch (kind) {
	case DNS_NODATA:
		return "no A or AAAA records";
	case ARES_ENOTFOUND:
		return "NXDOMAIN";
	case ARES_ESERVFAIL:
		return "SERVFAIL";
	case ARES_EREFUSED:
		return "REFUSED";
	case ARES_ETIMEOUT:
		return "timeout";
	case ARES_ECONNREFUSED:
		return "connection refused";
	default:
		return ares_strerror(kind);
	}
}

/* Schedule the next resolution of w in ms. */
static void
dns_watch_schedule(struct dns_watch *w, uint64_t ms)
{
	struct timeval tv = {
		.tv_sec = (time_t)(ms / 1000),
		.tv_usec = (suseconds_t)(ms % 1000) * 1000,
	};

	evtimer_add(w->timer, &tv);
}

/* A resolution failed (kind): keep the set, log only a new state or kind. */
static void
dns_watch_failed(struct dns_watch *w, int kind)
{
	if (w->state != DNS_FAILING || w->fail_kind != kind) {
		if (w->naddrs > 0)
			log_warnx("%s: resolving %s: %s, keeping the last %zu "
			    "address%s", w->label, w->host,
			    dns_fail_text(kind), w->naddrs,
			    w->naddrs == 1 ? "" : "es");
		else
			log_warnx("%s: resolving %s: %s, no addresses yet",
			    w->label, w->host, dns_fail_text(kind));
	}
	w->state = DNS_FAILING;
	w->fail_kind = kind;
	dns_watch_schedule(w, w->interval_ms);
}

/*
 * A resolution gave v (n >= 1, sorted): log what changed, keep it as the
 * set and tell the callback if it differs. Returns whether it did.
 */
static bool
dns_watch_answered(struct dns_watch *w, struct sockaddr_storage *v, size_t n)
{
	const struct sockaddr_storage **ptrs;
	char text[DNS_LIST_TEXT];
	bool same, first = w->naddrs == 0;
	size_t off = 0;

	same = n == w->naddrs && memcmp(v, w->addrs, n * sizeof(*v)) == 0;
	if (!same || w->state != DNS_OK) {
		if ((ptrs = calloc(n + w->naddrs, sizeof(*ptrs))) == NULL)
			fatal("dns: answer");
		if (first) {
			for (size_t i = 0; i < n; i++)
				ptrs[i] = &v[i];
			dns_list_text(ptrs, n, text, sizeof(text), &off);
		} else if (same)
			snprintf(text, sizeof(text), "unchanged");
		else
			dns_diff_text(w->addrs, w->naddrs, v, n, ptrs, text,
			    sizeof(text));
		free(ptrs);
		if (first)
			log_info("%s: %s resolves to %s", w->label, w->host,
			    text);
		else if (w->state == DNS_FAILING)
			log_info("%s: %s resolves again after %s: %s, now %zu "
			    "address%s", w->label, w->host,
			    dns_fail_text(w->fail_kind), text, n,
			    n == 1 ? "" : "es");
		else
			log_info("%s: %s changed: %s, now %zu address%s",
			    w->label, w->host, text, n, n == 1 ? "" : "es");
	}
	w->state = DNS_OK;
	if (same) {
		free(v);
		return false;
	}
	free(w->addrs);
	w->addrs = v;
	w->naddrs = n;
	return true;
}

/* c-ares finished a resolution (or was destroyed with it in flight). */
static void
dns_query_cb(void *arg, int status, int timeouts, struct ares_addrinfo *res)
{
	struct dns_query *q = arg;
	struct dns_watch *w = q->w;
	struct sockaddr_storage *v = NULL;
	uint64_t ttl_ms, next_ms;
	size_t n = 0;

	(void)timeouts;
	free(q);
	if (w == NULL || status == ARES_EDESTRUCTION ||
	    status == ARES_ECANCELLED) {
		ares_freeaddrinfo(res);
		return;
	}
	w->q = NULL;
	if (status == ARES_SUCCESS)
		v = dns_collect(res, w->port, &n, &ttl_ms);
	ares_freeaddrinfo(res);
	if (status != ARES_SUCCESS || n == 0) {
		/* NODATA is one kind, however c-ares reports it. */
		dns_watch_failed(w, status == ARES_SUCCESS ||
		    status == ARES_ENODATA ? DNS_NODATA : status);
		return;
	}
	next_ms = ttl_ms < DNS_MIN_TTL_MS ? DNS_MIN_TTL_MS : ttl_ms;
	dns_watch_schedule(w, next_ms < w->interval_ms ? next_ms :
	    w->interval_ms);
	/* Last: the callback may free w. */
	if (dns_watch_answered(w, v, n))
		w->cb(w->arg, w->addrs, w->naddrs);
}

/* Time to resolve w again. */
static void
dns_watch_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dns_watch *w = arg;
	struct dns_resolver *r = w->r;
	struct ares_addrinfo_hints hints;
	struct dns_query *q;

	(void)fd;
	(void)what;
	if ((q = calloc(1, sizeof(*q))) == NULL)
		fatal("dns: query");
	q->w = w;
	w->q = q;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	/* We sort ourselves; c-ares's RFC 6724 sort connects sockets. */
	hints.ai_flags = ARES_AI_NOSORT;
	/* The answer may come at once (/etc/hosts) and its callback free w. */
	ares_getaddrinfo(r->channel, w->host, NULL, &hints, dns_query_cb, q);
	dns_resolver_arm(r);
}

struct dns_watch *
dns_watch_new(struct dns_resolver *r, const char *host, uint16_t port,
    uint32_t interval_ms, const char *label, dns_watch_cb cb, void *arg)
{
	struct dns_watch *w;

	if ((w = calloc(1, sizeof(*w))) == NULL ||
	    (w->host = strdup(host)) == NULL ||
	    (w->label = strdup(label)) == NULL ||
	    (w->timer = evtimer_new(r->base, dns_watch_timer_cb, w)) == NULL) {
		log_warn("%s: cannot watch %s", label, host);
		if (w != NULL) {
			free(w->host);
			free(w->label);
			free(w);
		}
		return NULL;
	}
	w->r = r;
	w->port = port;
	w->interval_ms = interval_ms;
	w->cb = cb;
	w->arg = arg;
	w->state = DNS_PENDING;
	w->next = r->watches;
	if (r->watches != NULL)
		r->watches->prev = w;
	r->watches = w;
	/* From the loop, so no callback runs before the caller has w. */
	dns_watch_schedule(w, 0);
	return w;
}

void
dns_watch_free(struct dns_watch *w)
{
	if (w == NULL)
		return;
	if (w->q != NULL)
		w->q->w = NULL;
	if (w->prev != NULL)
		w->prev->next = w->next;
	else
		w->r->watches = w->next;
	if (w->next != NULL)
		w->next->prev = w->prev;
	event_free(w->timer);
	free(w->addrs);
	free(w->host);
	free(w->label);
	free(w);
}

enum dns_state
dns_watch_state(const struct dns_watch *w)
{
	return w->state;
}

const struct sockaddr_storage *
dns_watch_addrs(const struct dns_watch *w, size_t *n)
{
	*n = w->naddrs;
	return w->addrs;
}
