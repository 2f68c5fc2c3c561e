/* DNS discovery: names the master re-resolves with c-ares in its loop. */
#ifndef WEIR_DNS_H
#define WEIR_DNS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct event_base;

struct dns_resolver;	/* one per master: a c-ares channel on a loop */
struct dns_watch;	/* one host:port being re-resolved */

#define DNS_TIMEOUT_MS	2000	/* default wait for the first try */
#define DNS_TRIES	2	/* c-ares doubles the wait of the second */
#define DNS_MAX_ADDRS	1024	/* addresses kept of one answer */
#define DNS_MIN_TTL_MS	1000	/* a shorter TTL re-resolves this often */

enum dns_state {
	DNS_PENDING,		/* no answer yet */
	DNS_OK,			/* the last answer had addresses */
	DNS_FAILING,		/* the last answer failed: the set is kept */
};

/*
 * A resolver on base. servers is the [global] resolvers value
 * ("127.0.0.1:53, [::1]:5353"; the port defaults to 53), or NULL for
 * /etc/resolv.conf and /etc/hosts; given servers are asked alone, without
 * /etc/hosts. Each query waits timeout_ms (0: DNS_TIMEOUT_MS) for its first
 * try and twice that for its second, so a resolution ends within about
 * 3 * timeout_ms. NULL with err set (naming the bad entry) on failure.
 */
struct dns_resolver *dns_resolver_new(struct event_base *base,
    const char *servers, uint32_t timeout_ms, char *err, size_t errlen);
/*
 * Free r and every watch still on it (their queries are cancelled and
 * their callbacks not called). Not from inside a dns_watch_cb. NULL is a
 * no-op.
 */
void dns_resolver_free(struct dns_resolver *r);

/*
 * In a child just forked (a worker): close the resolver's sockets, so
 * that only the master holds them (a worker's copy would keep a query's
 * socket alive and could read its answers). Nothing else is touched.
 */
void dns_resolver_atfork_child(const struct dns_resolver *r);

/*
 * Called when the resolved set of addresses changes, and for the first
 * good answer: addrs sorted (IPv4 first, then by address) and without
 * duplicates, each with the watch's port; n >= 1. addrs is valid only
 * during the call. Never called because of a failure: NXDOMAIN, SERVFAIL,
 * a timeout or an answer without addresses keep the last good set. The
 * callback may free its own watch.
 */
typedef void (*dns_watch_cb)(void *arg, const struct sockaddr_storage *addrs,
    size_t n);

/*
 * Resolve host (A and AAAA) from the next turn of the loop, then again
 * every min(interval_ms, max(TTL, 1 s)) after an answer, or interval_ms
 * after a failure. label starts its log lines ("backend app: server
 * app.internal:8080"). NULL on allocation failure (logged).
 */
struct dns_watch *dns_watch_new(struct dns_resolver *r, const char *host,
    uint16_t port, uint32_t interval_ms, const char *label, dns_watch_cb cb,
    void *arg);
/* Stop re-resolving; a query in flight is abandoned. NULL is a no-op. */
void dns_watch_free(struct dns_watch *w);

/* For the admin API and tests: the state now and the set kept. */
enum dns_state dns_watch_state(const struct dns_watch *w);
const struct sockaddr_storage *dns_watch_addrs(const struct dns_watch *w,
    size_t *n);

#endif
