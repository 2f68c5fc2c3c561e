/* Command line entry point: parse options, load the config, run the master. */
#include <openssl/crypto.h>
#include <openssl/opensslv.h>

#include "autoconf.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/config.h"
#include "common/log.h"
#include "common/paths.h"
#include "master/listen.h"
#include "master/master.h"
#include "http/http.h"

#define WEIR_DEFAULT_CONFIG WEIR_SYSCONFDIR "/weir/weir.ini"

/* Usage to stdout and exit 0 when asked for, to stderr and exit 2 on misuse. */
static void
main_usage(int code)
{
	fprintf(code == 0 ? stdout : stderr,
	    "usage: weir [-htV] [-c file]\n"
	    "  -c file      configuration file (default %s)\n"
	    "  -t           test the configuration and what startup needs, "
	    "then exit\n"
	    "  -V, --version  print versions and exit\n"
	    "  -h, --help   print this help and exit\n"
	    "Signals to the master: HUP reload, QUIT graceful stop, TERM/INT "
	    "fast stop, USR1 reopen log_file.\n", WEIR_DEFAULT_CONFIG);
	exit(code);
}

static void
main_versions(void)
{
	printf("weir %s\n", PACKAGE_VERSION);
	printf("libevent %s (built with %s)\n", event_get_version(),
	    LIBEVENT_VERSION);
	printf("%s\n", parser_version());
	printf("inih %s\n", INIH_VERSION);
	printf("%s (built with %s)\n", OpenSSL_version(OPENSSL_VERSION),
	    OPENSSL_VERSION_TEXT);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = WEIR_DEFAULT_CONFIG;
	struct config *cfg;
	char err[512];
	int ch, test_only = 0;

	log_detect_journal();
	while ((ch = getopt_long(argc, argv, "c:tVh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 't':
			test_only = 1;
			break;
		case 'V':
			main_versions();
			return 0;
		case 'h':
			main_usage(0);
			break;
		default:
			main_usage(2);
		}
	}
	if (optind != argc)
		main_usage(2);
	if (config_load(path, &cfg, err, sizeof(err)) == -1) {
		log_plain(LOG_LEVEL_ERROR, "%s", err);
		return 2;
	}
	if (check_startup(cfg, err, sizeof(err)) == -1) {
		log_plain(LOG_LEVEL_ERROR, "%s", err);
		config_free(cfg);
		return 2;
	}
	/* -t leaves out only what takes the sockets. */
	if (test_only) {
		log_plain(LOG_LEVEL_INFO, "weir: configuration file %s is valid",
		    path);
		config_free(cfg);
		return 0;
	}
	if (listen_probe(cfg, err, sizeof(err)) == -1) {
		log_plain(LOG_LEVEL_ERROR, "%s", err);
		config_free(cfg);
		return 2;
	}
	if (cfg->log_file != NULL && log_reopen(cfg->log_file) == -1) {
		log_plain(LOG_LEVEL_ERROR, "weir: log_file %s: %s",
		    cfg->log_file, strerror(errno));
		config_free(cfg);
		return 1;
	}
	return master_run(path, cfg);
}
