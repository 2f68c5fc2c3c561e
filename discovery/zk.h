/* Backend members from ZooKeeper: a watch on one path's children. */
#ifndef WEIR_ZK_H
#define WEIR_ZK_H

#include <stddef.h>
#include <stdint.h>

struct event_base;

#define ZK_WEIGHT_MAX	256

/* One server, from one child node of the watched path. */
struct zk_member {
	char		address[64];	/* "host:port", "[v6]:port", as given */
	uint32_t	weight;		/* 1..ZK_WEIGHT_MAX; 1 when not given */
	char		node[256];	/* the child's name, for logs */
};

/*
 * Called with the complete member list each time it changes (a child added
 * or removed, or a child's data changed), sorted by address. n is 0 only
 * when the path has no valid children (or does not exist), never because
 * the session was lost: then the last list stands and no call is made.
 * members is valid only during the call. The callback must not free the
 * watch.
 */
typedef void (*zk_watch_cb)(void *arg, const struct zk_member *members,
    size_t n);

enum zk_state {
	ZK_CONNECTING,		/* no session yet, no list delivered */
	ZK_OK,			/* session up, children watched */
	ZK_LOST,		/* session lost or expired; last list kept */
};

struct zk_watch;

/*
 * Watch the children of path on the ensemble hosts ("h1:p1,h2:p2") from
 * base, calling cb(arg, ...) with every new list. label names the watch in
 * log lines ("backend app"). Host names in hosts are resolved here and for
 * each new session, with a blocking getaddrinfo(): give addresses. A
 * process forked later (a worker) inherits the client's socket of the
 * moment: it closes it with zk_watch_atfork_child(). Returns NULL with
 * a reason in err on bad arguments or allocation failure; an unreachable
 * ensemble is not an error (the watch keeps trying).
 */
struct zk_watch	*zk_watch_new(struct event_base *base, const char *hosts,
		    const char *path, const char *label, zk_watch_cb cb,
		    void *arg, char *err, size_t errlen);
/* In a child just forked: close the client's socket (only). */
void		 zk_watch_atfork_child(const struct zk_watch *w);
/* Stop watching; may block up to a few seconds (see zk.c). NULL: no-op. */
void		 zk_watch_free(struct zk_watch *w);
enum zk_state	 zk_watch_state(const struct zk_watch *w);
const char	*zk_watch_state_name(enum zk_state state);

/*
 * Parse one child's data (len bytes, not NUL-terminated) into *m: either
 * "host:port" (IPv4, [IPv6] or a name) or a JSON object with "address"
 * (required) and "weight" (optional, 1..ZK_WEIGHT_MAX). 0, or -1 with a
 * short reason in *why (a static string). Sets m->node from node.
 */
int		 zkmember_parse(const char *node, const char *data, size_t len,
		    struct zk_member *m, const char **why);
/* Order of members in a list: by address, then node. */
int		 zkmember_cmp(const void *a, const void *b);

#endif
