/* Owns the privilege drop of the master and its workers (see privs.h). */
#include "autoconf.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/config.h"
#include "common/privs.h"

/*
 * Keep only the capabilities of mask in the permitted and effective sets
 * and none inheritable, which also empties the ambient set. Raw syscalls:
 * this is all weir needs of libcap.
 */
static int
privs_caps_keep(uint64_t mask)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0
	};
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &hdr, data) == -1)
		return -1;
	for (int i = 0; i < 2; i++) {
		uint32_t keep = (uint32_t)(mask >> (32 * i));

		data[i].permitted &= keep;
		data[i].effective = data[i].permitted;
		data[i].inheritable = 0;
	}
	if (syscall(SYS_capset, &hdr, data) == -1)
		return -1;
	/* Ambient capabilities need inheritable ones; say it anyway. */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) == -1 &&
	    errno != EINVAL)
		return -1;
	return 0;
}

/*
 * No setuid program may raise what weir holds, and no process of the same
 * user may attach to weir or read its memory (it holds a capability, and
 * its clients' data).
 */
static int
privs_lock(void)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1 ||
	    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
		return -1;
	return 0;
}

/* Root: become cfg's user and group, keeping the capability sets. */
static int
privs_switch(const struct config *cfg, char *err, size_t errlen)
{
	if (setgroups(1, &cfg->gid) == -1 ||
	    setresgid(cfg->gid, cfg->gid, cfg->gid) == -1) {
		snprintf(err, errlen, "cannot switch to group %s: %s",
		    cfg->group != NULL ? cfg->group : cfg->user,
		    strerror(errno));
		return -1;
	}
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) == -1 ||
	    setresuid(cfg->uid, cfg->uid, cfg->uid) == -1 ||
	    prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) == -1) {
		snprintf(err, errlen, "cannot switch to user %s: %s",
		    cfg->user, strerror(errno));
		return -1;
	}
	return 0;
}

/* Not root: the configured user and group must be who weir already is. */
static int
privs_check_same(const struct config *cfg, char *err, size_t errlen)
{
	if (cfg->user != NULL && geteuid() != cfg->uid) {
		snprintf(err, errlen, "user = %s: weir runs as uid %u and, "
		    "not started as root, cannot switch users", cfg->user,
		    (unsigned)geteuid());
		return -1;
	}
	if (cfg->group != NULL && getegid() != cfg->gid) {
		snprintf(err, errlen, "group = %s: weir runs as gid %u and, "
		    "not started as root, cannot switch groups",
		    cfg->group, (unsigned)getegid());
		return -1;
	}
	return 0;
}

int
privs_drop_master(const struct config *cfg, char *err, size_t errlen)
{
	bool root = geteuid() == 0;

	if (root && cfg->user != NULL) {
		if (privs_switch(cfg, err, errlen) == -1)
			return -1;
	} else if (!root && privs_check_same(cfg, err, errlen) == -1)
		return -1;
	/* Still root only when no user is configured: then keep root's. */
	if ((!root || cfg->user != NULL) &&
	    privs_caps_keep((uint64_t)1 << CAP_NET_BIND_SERVICE) == -1) {
		snprintf(err, errlen, "cannot drop capabilities: %s",
		    strerror(errno));
		return -1;
	}
	if (privs_lock() == -1) {
		snprintf(err, errlen, "prctl: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int
privs_drop_worker(void)
{
	return privs_caps_keep(0) == -1 || privs_lock() == -1 ? -1 : 0;
}
