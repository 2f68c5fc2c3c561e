/* Command line entry point: parse options, load the config, run the master. */
#include "autoconf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/config.h"
#include "common/log.h"
#include "master/listen.h"
#include "master/master.h"
#include "worker/http.h"

#define WEIR_DEFAULT_CONFIG SYSCONFDIR "/weir/weir.ini"

static void
main_usage(void)
{
	fprintf(stderr,
	    "usage: weir [-tV] [-c file]\n"
	    "  -c file  configuration file (default %s)\n"
	    "  -t       test the configuration and exit\n"
	    "  -V       print versions and exit\n", WEIR_DEFAULT_CONFIG);
	exit(2);
}

static void
main_versions(void)
{
	printf("weir %s\n", PACKAGE_VERSION);
	printf("libevent %s (built with %s)\n", event_get_version(),
	    LIBEVENT_VERSION);
	printf("%s\n", parser_version());
	printf("inih %s\n", INIH_VERSION);
}

int
main(int argc, char **argv)
{
	const char *path = WEIR_DEFAULT_CONFIG;
	struct config *cfg;
	char err[512];
	int ch, test_only = 0;

	while ((ch = getopt(argc, argv, "c:tVh")) != -1) {
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
		default:
			main_usage();
		}
	}
	if (optind != argc)
		main_usage();
	if (config_load(path, &cfg, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s\n", err);
		return 2;
	}
	/* -t checks the file only: it must pass while weir runs on it. */
	if (test_only) {
		fprintf(stderr, "weir: configuration file %s is valid\n", path);
		config_free(cfg);
		return 0;
	}
	if (listen_probe(cfg, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s\n", err);
		config_free(cfg);
		return 2;
	}
	if (cfg->log_file != NULL && log_reopen(cfg->log_file) == -1) {
		fprintf(stderr, "weir: log_file %s: %s\n", cfg->log_file,
		    strerror(errno));
		config_free(cfg);
		return 1;
	}
	return master_run(path, cfg);
}
