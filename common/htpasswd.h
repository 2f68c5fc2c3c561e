/*
 * Password files for basic authentication (auth_file): the master reads
 * them into tables at config load, workers (which get them through fork)
 * check a user and password against them with crypt(3).
 */
#ifndef WEIR_HTPASSWD_H
#define WEIR_HTPASSWD_H

#include <stdbool.h>
#include <stddef.h>

#include "common/config.h"

#define HTPASSWD_MAX_FILE	(16u << 20)	/* bytes of one file */
#define HTPASSWD_MAX_NAME	255		/* bytes of a user name */

/* One "user:hash" line; both point into the table's own copy of the file. */
struct htpasswd_user {
	const char *name;
	size_t name_len;
	const char *hash;
	int line;
};

/*
 * A whole file as one allocation (free() releases it): the users in file
 * order, then the file's text with each ':' and line end made a NUL.
 */
struct htpasswd {
	size_t nusers;
	struct htpasswd_user users[];
};

/*
 * Parse text[0..len) (name is the file, for messages) into a new table.
 * Blank lines and lines whose first non-blank is '#' are skipped; every
 * other line must be "user:hash" with a hash libxcrypt rates good. 0 and
 * *out set, or -1 with err "NAME:LINE: reason".
 */
int htpasswd_parse(const char *name, const char *text, size_t len,
    struct htpasswd **out, char *err, size_t errlen);
/* Read and parse the file at path, as htpasswd_parse(). */
int htpasswd_load(const char *path, struct htpasswd **out, char *err,
    size_t errlen);

/*
 * Is pass the password of user in t? Costs one crypt(3) whether or not
 * the user exists (an unknown user is checked against the first user's
 * hash, then refused), and looks at every user name, so the time taken
 * says nothing about which names exist. *who is the user's entry, or NULL.
 */
bool htpasswd_verify(const struct htpasswd *t, const char *user,
    size_t ulen, const char *pass, size_t plen,
    const struct htpasswd_user **who);

/*
 * Read the auth_file of every policy of cfg with auth = basic into its
 * auth_users (one table per distinct path, shared by the policies that
 * name it). 0, or -1 with err "FILE:LINE: reason" (FILE: the htpasswd
 * file); tables already read stay for config_free().
 */
int htpasswd_config_load(struct config *cfg, char *err, size_t errlen);
/* The same check for weir -t: read every file, keep nothing. */
int htpasswd_config_check(const struct config *cfg, char *err,
    size_t errlen);

#endif
