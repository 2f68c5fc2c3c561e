/*
 * Owns password files for basic authentication: reading and checking an
 * htpasswd file into one table, and checking a password against it with
 * libxcrypt's crypt(3).
 */
#include "autoconf.h"

#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/config.h"
#include "common/htpasswd.h"

/* A hash method's prefix and the length of its last '$' field, or of
 * the whole string for bcrypt (whose salt and hash share a field). */
static const struct {
	const char *prefix;
	size_t last;			/* 0: any non-empty length */
	size_t whole;			/* 0: not checked */
} htpasswd_methods[] = {
	{ "$2a$", 0, 60 }, { "$2b$", 0, 60 }, { "$2y$", 0, 60 },
	{ "$6$", 86, 0 },		/* sha512-crypt */
	{ "$y$", 43, 0 },		/* yescrypt */
	{ "$gy$", 43, 0 },		/* gost-yescrypt */
	{ "$7$", 43, 0 },		/* scrypt */
};

/*
 * Costs above these would hold a worker's event loop too long per check
 * (crypt(3) runs there, as nginx's auth_basic does): each is about 70 ms
 * on a busy 2-core machine, 4 to 30 times the tools' defaults (bcrypt 5,
 * 5000 rounds, yescrypt N = 2^12). A file may not make one wrong guess
 * cost a second, nor the master's `weir -t` hang on rounds=999999999.
 */
#define HTPASSWD_BCRYPT_MAX	10
#define HTPASSWD_ROUNDS_MAX	100000
#define HTPASSWD_NLOG2_MAX	14	/* yescrypt and scrypt: N = 2^14 */
#define HTPASSWD_RP_MAX		32	/* scrypt and yescrypt: r * p */

/* The value of c in crypt(3)'s base-64 alphabet ./0-9A-Za-z, or -1. */
static int
htpasswd_b64(char c)
{
	static const char digits[] = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz";
	const char *at = c != '\0' ? strchr(digits, c) : NULL;

	return at != NULL ? (int)(at - digits) : -1;
}

/* scrypt's 30-bit fields: 5 characters, least significant first. */
static long
htpasswd_b64_30(const char *p)
{
	long v = 0;

	for (int i = 4; i >= 0; i--) {
		int d = htpasswd_b64(p[i]);

		if (d < 0)
			return -1;
		v = v << 6 | d;
	}
	return v;
}

/* yescrypt's parameters ("$y$j9T$...": flavor, log2 N - 1, r - 1). */
static const char *
htpasswd_yescrypt_cost(const char *params)
{
	const char *end = strchr(params, '$');

	if (end == NULL || end - params != 3)
		return "yescrypt parameters other than N and r (p, t, a ROM): "
		    "refused; make the hash with mkpasswd -m yescrypt";
	if (htpasswd_b64(params[1]) + 1 > HTPASSWD_NLOG2_MAX ||
	    htpasswd_b64(params[2]) + 1 > HTPASSWD_RP_MAX)
		return "yescrypt cost above N = 2^14, r = 32 (mkpasswd -R 7): "
		    "each check would hold a worker too long; refused";
	return NULL;
}

/*
 * Why hash costs more than weir lets one check cost, or NULL. Run after
 * crypt_checksalt() accepted the method and its characters.
 */
static const char *
htpasswd_cost_bad(const char *hash)
{
	long r, p;

	if (hash[0] == '$' && hash[1] == '2')
		return atoi(hash + 4) > HTPASSWD_BCRYPT_MAX ? "bcrypt cost "
		    "above 10 (htpasswd -B -C 10): each check would hold a "
		    "worker too long; refused" : NULL;
	if (strncmp(hash, "$6$rounds=", 10) == 0)
		return strtol(hash + 10, NULL, 10) > HTPASSWD_ROUNDS_MAX ?
		    "sha512-crypt above rounds=100000: each check would hold "
		    "a worker too long; refused" : NULL;
	if (strncmp(hash, "$y$", 3) == 0)
		return htpasswd_yescrypt_cost(hash + 3);
	if (strncmp(hash, "$gy$", 4) == 0)
		return htpasswd_yescrypt_cost(hash + 4);
	if (strncmp(hash, "$7$", 3) == 0) {
		r = htpasswd_b64_30(hash + 4);
		p = htpasswd_b64_30(hash + 9);
		if (htpasswd_b64(hash[3]) > HTPASSWD_NLOG2_MAX || r < 1 ||
		    p < 1 || r > HTPASSWD_RP_MAX || p > HTPASSWD_RP_MAX / r)
			return "scrypt cost above N = 2^14, r * p = 32: each "
			    "check would hold a worker too long; refused";
	}
	return NULL;
}

/*
 * Why weir refuses hash, or NULL. crypt_checksalt() judges the method,
 * its parameters and the characters; it takes a bare setting or a hash
 * cut short (which no password could match), so lengths are checked here.
 */
static const char *
htpasswd_hash_bad(const char *hash)
{
	const char *last;
	size_t i, len = strlen(hash);

	if (len == 0)
		return "no hash after ':'";
	if (strncmp(hash, "{SHA}", 5) == 0)
		return "{SHA} (htpasswd -s) is unsalted SHA-1, which crypt(3) "
		    "does not do: refused; make the hash with htpasswd -B";
	if (strncmp(hash, "$apr1$", 6) == 0)
		return "$apr1$ (htpasswd -m, Apache's own MD5) is not a "
		    "crypt(3) method libxcrypt knows: refused; make the hash "
		    "with htpasswd -B";
	switch (crypt_checksalt(hash)) {
	case CRYPT_SALT_OK:
		break;
	case CRYPT_SALT_METHOD_LEGACY:
		return hash[0] == '$' ? "a legacy crypt(3) method (MD5-crypt "
		    "$1$, SHA-256-crypt $5$ ...) libxcrypt rates weak: "
		    "refused; use bcrypt (htpasswd -B), sha512-crypt or "
		    "yescrypt" :
		    "plain text or traditional DES crypt (htpasswd -p or -d; "
		    "DES uses 8 bytes of a password): refused; make the hash "
		    "with htpasswd -B";
	case CRYPT_SALT_INVALID:
		return "not a crypt(3) hash libxcrypt knows (plain text?): "
		    "refused; make the hash with htpasswd -B";
	default:
		return "a crypt(3) method libxcrypt has disabled or rates too "
		    "cheap: refused";
	}
	last = strrchr(hash, '$') + 1;
	for (i = 0; i < sizeof(htpasswd_methods) /
	    sizeof(htpasswd_methods[0]); i++) {
		if (strncmp(hash, htpasswd_methods[i].prefix,
		    strlen(htpasswd_methods[i].prefix)) != 0)
			continue;
		if ((htpasswd_methods[i].whole != 0 &&
		    len != htpasswd_methods[i].whole) ||
		    (htpasswd_methods[i].last != 0 &&
		    strlen(last) != htpasswd_methods[i].last))
			return "the hash is cut short or too long for its "
			    "method (no password could match it)";
		return htpasswd_cost_bad(hash);
	}
	/* A method newer than this table: its cost is unknown, refuse it. */
	return "a crypt(3) method weir does not know the cost of: refused; use "
	    "bcrypt (htpasswd -B), sha512-crypt or yescrypt";
}

/* A user name: 1..255 bytes, no control character. */
static const char *
htpasswd_name_bad(const char *name, size_t len)
{
	size_t i;

	if (len == 0)
		return "empty user name";
	if (len > HTPASSWD_MAX_NAME)
		return "user name over 255 bytes";
	for (i = 0; i < len; i++)
		if ((unsigned char)name[i] < ' ' || name[i] == 0x7f)
			return "user name holds a control character";
	return NULL;
}

/* Parse the line at p (NUL-terminated, in the table's text) into u. */
static const char *
htpasswd_line(struct htpasswd *t, char *p, int lineno)
{
	char *colon = strchr(p, ':'), *end = p + strlen(p);
	struct htpasswd_user *u = &t->users[t->nusers];
	const char *why;
	size_t i;

	while (end > p && (end[-1] == '\r' || end[-1] == ' ' ||
	    end[-1] == '\t'))
		*--end = '\0';
	if (colon == NULL)
		return "expected 'user:hash'";
	*colon = '\0';
	if ((why = htpasswd_name_bad(p, (size_t)(colon - p))) != NULL ||
	    (why = htpasswd_hash_bad(colon + 1)) != NULL)
		return why;
	for (i = 0; i < t->nusers; i++) {
		if (t->users[i].name_len == (size_t)(colon - p) &&
		    memcmp(t->users[i].name, p, t->users[i].name_len) == 0)
			return "user given twice";
	}
	u->name = p;
	u->name_len = (size_t)(colon - p);
	u->hash = colon + 1;
	u->line = lineno;
	t->nusers++;
	return NULL;
}

int
htpasswd_parse(const char *name, const char *text, size_t len,
    struct htpasswd **out, char *err, size_t errlen)
{
	struct htpasswd *t;
	size_t lines = 1, i;
	char *copy, *p, *nl;
	const char *why;
	int lineno = 0;

	*out = NULL;
	for (i = 0; i < len; i++)
		lines += text[i] == '\n';
	if ((t = calloc(1, sizeof(*t) + lines * sizeof(t->users[0]) +
	    len + 1)) == NULL) {
		snprintf(err, errlen, "%s: out of memory", name);
		return -1;
	}
	copy = (char *)&t->users[lines];
	memcpy(copy, text, len);
	if (memchr(copy, '\0', len) != NULL) {
		snprintf(err, errlen, "%s: holds a NUL byte (not a text "
		    "file)", name);
		goto fail;
	}
	for (p = copy; p != NULL && *p != '\0'; p = nl) {
		lineno++;
		if ((nl = strchr(p, '\n')) != NULL)
			*nl++ = '\0';
		p += strspn(p, " \t\r");
		if (*p == '\0' || *p == '#')
			continue;
		if ((why = htpasswd_line(t, p, lineno)) != NULL) {
			snprintf(err, errlen, "%s:%d: %s", name, lineno, why);
			goto fail;
		}
	}
	if (t->nusers == 0) {
		snprintf(err, errlen, "%s: no 'user:hash' line (nobody could "
		    "log in)", name);
		goto fail;
	}
	*out = t;
	return 0;
fail:
	free(t);
	return -1;
}

int
htpasswd_load(const char *path, struct htpasswd **out, char *err,
    size_t errlen)
{
	struct stat st;
	char *text = NULL;
	size_t got = 0;
	ssize_t n;
	int fd, rc = -1;

	*out = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &st) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > HTPASSWD_MAX_FILE) {
		snprintf(err, errlen, "%s: not a regular file of at most %u "
		    "bytes", path, HTPASSWD_MAX_FILE);
		goto out;
	}
	if ((text = malloc((size_t)st.st_size + 1)) == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto out;
	}
	while (got < (size_t)st.st_size && ((n = read(fd, text + got,
	    (size_t)st.st_size - got)) > 0 || (n == -1 && errno == EINTR)))
		got += n > 0 ? (size_t)n : 0;
	if (got < (size_t)st.st_size) {
		snprintf(err, errlen, "%s: read: %s", path, n == 0 ?
		    "file shrank" : strerror(errno));
		goto out;
	}
	rc = htpasswd_parse(path, text, got, out, err, errlen);
out:
	free(text);
	if (fd != -1)
		close(fd);
	return rc;
}

/* a[0..alen) == b[0..blen), in time that depends on alen only. */
static bool
htpasswd_same(const char *a, size_t alen, const char *b, size_t blen)
{
	unsigned char diff = alen != blen;
	size_t i;

	for (i = 0; i < alen; i++)
		diff |= (unsigned char)(a[i] ^ (i < blen ? b[i] : 0));
	return diff == 0;
}

bool
htpasswd_verify(const struct htpasswd *t, const char *user, size_t ulen,
    const char *pass, size_t plen, const struct htpasswd_user **who)
{
	static void *data;		/* crypt_ra()'s scratch, kept */
	static int size;
	const struct htpasswd_user *u = NULL;
	const char *out;
	size_t i;

	(void)plen;			/* pass is NUL-terminated */
	/* Every name is compared, so the scan's time is the same for
	 * every user, and for none. */
	for (i = 0; i < t->nusers; i++) {
		if (htpasswd_same(t->users[i].name, t->users[i].name_len,
		    user, ulen) && u == NULL)
			u = &t->users[i];
	}
	*who = u;
	/* An unknown user costs the first user's crypt all the same. */
	out = crypt_ra(pass, u != NULL ? u->hash : t->users[0].hash, &data,
	    &size);
	if (out == NULL || u == NULL)
		return false;
	return htpasswd_same(u->hash, strlen(u->hash), out, strlen(out));
}

/* Has an earlier policy of the list read this path? Then share it. */
static struct htpasswd *
htpasswd_seen(struct policy_conf **pols, size_t n, const char *path)
{
	for (size_t i = 0; i < n; i++) {
		if (pols[i]->auth_users != NULL &&
		    strcmp(pols[i]->auth_file.s, path) == 0)
			return pols[i]->auth_users;
	}
	return NULL;
}

/* Every policy of cfg, frontends first; NULL on allocation failure. */
static struct policy_conf **
htpasswd_policies(const struct config *cfg, size_t *n)
{
	struct policy_conf **pols;
	size_t i;

	*n = cfg->nfrontends + cfg->nroutes;
	if ((pols = calloc(*n + 1, sizeof(*pols))) == NULL)
		return NULL;
	for (i = 0; i < cfg->nfrontends; i++)
		pols[i] = &cfg->frontends[i].policy;
	for (i = 0; i < cfg->nroutes; i++)
		pols[cfg->nfrontends + i] = &cfg->routes[i].policy;
	return pols;
}

int
htpasswd_config_load(struct config *cfg, char *err, size_t errlen)
{
	struct policy_conf **pols, *pol;
	size_t n, i;
	int rc = -1;

	if ((pols = htpasswd_policies(cfg, &n)) == NULL) {
		snprintf(err, errlen, "%s: out of memory", cfg->path);
		return -1;
	}
	for (i = 0; i < n; i++) {
		pol = pols[i];
		if (pol->auth != CONFIG_AUTH_BASIC || pol->auth_users != NULL)
			continue;
		if ((pol->auth_users = htpasswd_seen(pols, i,
		    pol->auth_file.s)) != NULL)
			pol->auth_users_shared = true;
		else if (htpasswd_load(pol->auth_file.s, &pol->auth_users, err,
		    errlen) == -1)
			goto out;
	}
	rc = 0;
out:
	free(pols);
	return rc;
}

int
htpasswd_config_check(const struct config *cfg, char *err, size_t errlen)
{
	struct policy_conf **pols;
	struct htpasswd *t;
	size_t n, i;
	int rc = 0;

	if ((pols = htpasswd_policies(cfg, &n)) == NULL) {
		snprintf(err, errlen, "%s: out of memory", cfg->path);
		return -1;
	}
	for (i = 0; i < n && rc == 0; i++) {
		if (pols[i]->auth != CONFIG_AUTH_BASIC)
			continue;
		rc = htpasswd_load(pols[i]->auth_file.s, &t, err, errlen);
		free(t);
	}
	free(pols);
	return rc;
}
