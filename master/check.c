/*
 * What -t checks beyond the file's own syntax and rules: everything startup
 * needs that does not take the sockets, so a config that passes -t also
 * starts (short of an address another process holds).
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/config.h"
#include "common/htpasswd.h"
#include "master/master.h"
#include "master/token.h"
#include "tls/tls.h"

/* The file path may be opened for writing, or created in its directory. */
static int
check_writable(const char *what, const char *path, char *err, size_t errlen)
{
	char copy[4096];
	const char *dir;
	struct stat st;

	if (access(path, W_OK) == 0)
		return 0;
	if (errno != ENOENT)
		goto fail;
	snprintf(copy, sizeof(copy), "%s", path);
	dir = dirname(copy);
	if (stat(dir, &st) == -1 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s %s: directory %s %s", what, path,
		    dir, errno == ENOENT ? "does not exist" :
		    "is not a directory");
		return -1;
	}
	if (access(dir, W_OK | X_OK) == 0)
		return 0;
fail:
	snprintf(err, errlen, "%s %s: cannot write: %s", what, path,
	    strerror(errno));
	return -1;
}

int
check_startup(const struct config *cfg, char *err, size_t errlen)
{
	static const char *const keys[] = { "log_file", "pidfile" };
	char why[512];
	struct token tok;
	struct tls_gen *tls;
	const char *paths[] = { cfg->log_file, cfg->pidfile };

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (paths[i] == NULL ||
		    check_writable(keys[i], paths[i], why, sizeof(why)) == 0)
			continue;
		snprintf(err, errlen, "%s:%d: %s", cfg->path,
		    config_line(cfg, keys[i]), why);
		return -1;
	}
	/* The admin token: readable, private to us, not empty. */
	if (token_load(cfg, &tok, err, errlen) == -1)
		return -1;
	token_clear(&tok);
	/* Certificates, keys and CA files: readable and consistent. */
	if (tls_gen_build(cfg, true, &tls, err, errlen) == -1)
		return -1;
	tls_gen_free(tls);
	/* auth_file: every line a user and a hash weir takes. */
	if (htpasswd_config_check(cfg, err, errlen) == -1)
		return -1;
	return check_access_logs(cfg, err, errlen);
}

int
check_access_logs(const struct config *cfg, char *err, size_t errlen)
{
	const struct frontend_conf *fe;
	char why[512];

	for (size_t i = 0; i < cfg->nfrontends; i++) {
		fe = &cfg->frontends[i];
		if (fe->access_log != CONFIG_ACCESS_LOG_FILE ||
		    check_writable("access_log", fe->access_log_path, why,
		    sizeof(why)) == 0)
			continue;
		snprintf(err, errlen, "%s:%d: %s", cfg->path,
		    fe->access_log_line, why);
		return -1;
	}
	return 0;
}
