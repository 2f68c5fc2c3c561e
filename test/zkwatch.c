/* Test driver: run one zk_watch and print every list and state it reports. */
#include "autoconf.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include <event2/event.h>

#include "common/log.h"
#include "discovery/zk.h"

/*
 * Usage: zkwatch HOSTS PATH. Prints on stdout, one line each:
 *   STATE connecting|ok|lost           when the watch's state changes
 *   LIST [address=weight@node ...]     each list the callback gets
 * and weir's log lines on stderr. SIGTERM or SIGINT frees the watch and
 * exits 0, so a leak checker sees everything released.
 */

struct zkwatch {
	struct zk_watch	*w;
	enum zk_state	 shown;
	struct event_base *base;
};

/* Print one delivered list. */
static void
zkwatch_list_cb(void *arg, const struct zk_member *m, size_t n)
{
	size_t i;

	(void)arg;
	printf("LIST");
	for (i = 0; i < n; i++)
		printf(" %s=%u@%s", m[i].address, m[i].weight, m[i].node);
	printf("\n");
}

/* Print the state when it changed (the API has no state callback). */
static void
zkwatch_poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct zkwatch *z = arg;
	enum zk_state st = zk_watch_state(z->w);

	(void)fd;
	(void)what;
	if (st != z->shown) {
		z->shown = st;
		printf("STATE %s\n", zk_watch_state_name(st));
	}
}

static void
zkwatch_stop_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

int
main(int argc, char **argv)
{
	struct timeval tick = { 0, 20000 };
	struct event *poll, *term, *intr;
	struct zkwatch z;
	char err[256];

	if (argc != 3) {
		fprintf(stderr, "usage: zkwatch HOSTS PATH\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	log_set_proc("zkwatch");
	log_set_level(getenv("ZKWATCH_DEBUG") ? LOG_LEVEL_DEBUG :
	    LOG_LEVEL_INFO);
	if ((z.base = event_base_new()) == NULL)
		fatalx("event_base_new");
	z.w = zk_watch_new(z.base, argv[1], argv[2], "backend test",
	    zkwatch_list_cb, &z, err, sizeof(err));
	if (z.w == NULL)
		fatalx("zk_watch_new: %s", err);
	z.shown = zk_watch_state(z.w);
	printf("STATE %s\n", zk_watch_state_name(z.shown));
	poll = event_new(z.base, -1, EV_PERSIST, zkwatch_poll_cb, &z);
	term = evsignal_new(z.base, SIGTERM, zkwatch_stop_cb, z.base);
	intr = evsignal_new(z.base, SIGINT, zkwatch_stop_cb, z.base);
	if (poll == NULL || term == NULL || intr == NULL ||
	    event_add(poll, &tick) == -1 || event_add(term, NULL) == -1 ||
	    event_add(intr, NULL) == -1)
		fatalx("events");
	event_base_dispatch(z.base);
	zk_watch_free(z.w);
	event_free(poll);
	event_free(term);
	event_free(intr);
	event_base_free(z.base);
	printf("EXIT\n");
	return 0;
}
