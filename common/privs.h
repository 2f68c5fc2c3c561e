/*
 * Who weir runs as once started: the master gives up root for the
 * configured user and keeps at most CAP_NET_BIND_SERVICE (a reload may
 * bind a new port below 1024); workers keep no capability at all.
 */
#ifndef WEIR_PRIVS_H
#define WEIR_PRIVS_H

#include <stddef.h>

struct config;

/*
 * In the master, after every root-only step (sockets, shared memory,
 * pidfile, log file): switch to cfg's user and group when root, refuse
 * another user when not, keep only CAP_NET_BIND_SERVICE, and set
 * no_new_privs and not-dumpable. 0, or -1 with err set.
 */
int privs_drop_master(const struct config *cfg, char *err, size_t errlen);
/* In a new worker: no capabilities in any set, ambient ones included. */
int privs_drop_worker(void);

#endif
