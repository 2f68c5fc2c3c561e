/*
 * Owns the process-wide log level and writes log lines to stderr: with a
 * timestamp, or under systemd (stderr is the journal's stream) with a
 * "<N>" syslog priority prefix instead, which journald turns into the
 * entry's priority.
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/log.h"

static enum log_level log_level = LOG_LEVEL_INFO;
static char log_proc[32] = "weir";
static bool log_journal;		/* stderr is $JOURNAL_STREAM */

/* syslog(3) priorities, as journald reads them from "<N>" */
enum {
	LOG_PRIO_CRIT = 2,
	LOG_PRIO_ERR = 3,
	LOG_PRIO_WARNING = 4,
	LOG_PRIO_INFO = 6,
	LOG_PRIO_DEBUG = 7,
};

void
log_detect_journal(void)
{
	const char *stream = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	log_journal = stream != NULL &&
	    sscanf(stream, "%llu:%llu", &dev, &ino) == 2 &&
	    fstat(STDERR_FILENO, &st) == 0 &&
	    (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino;
}

void
log_set_proc(const char *name)
{
	snprintf(log_proc, sizeof(log_proc), "%s", name);
}

void
log_set_level(enum log_level level)
{
	log_level = level;
}

enum log_level
log_get_level(void)
{
	return log_level;
}

/* Format one line and write it with a single write(2) so lines never interleave. */
static void
log_vwrite(int prio, const char *tag, const char *fmt, va_list ap,
    int errnum)
{
	char line[1024];
	struct timespec ts;
	struct tm tm;
	int n, m;

	if (log_journal)
		n = snprintf(line, sizeof(line), "<%d>%s[%d]: ", prio,
		    log_proc, (int)getpid());
	else {
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		n = snprintf(line, sizeof(line),
		    "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ [%s] %s[%d]: ",
		    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		    tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, tag, log_proc,
		    (int)getpid());
	}
	if (n < 0 || (size_t)n >= sizeof(line))
		n = 0;
	m = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	if (m < 0)
		m = 0;
	n += m;
	if ((size_t)n >= sizeof(line) - 2)
		n = sizeof(line) - 2;
	if (errnum != 0)
		n += snprintf(line + n, sizeof(line) - n, ": %s", strerror(errnum));
	if ((size_t)n >= sizeof(line) - 1)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, n) < 0) {
		/* Nowhere left to report a failing stderr. */
	}
}

#define LOG_BODY(lvl, prio, tag, errnum)		\
	do {						\
		va_list ap;				\
		int saved = errno;			\
		if (log_level < (lvl))			\
			return;				\
		va_start(ap, fmt);			\
		log_vwrite(prio, tag, fmt, ap, errnum);	\
		va_end(ap);				\
		errno = saved;				\
	} while (0)

/* syslog priority of a level, for the journal's "<N>" prefix. */
static int
log_prio(enum log_level level)
{
	switch (level) {
	case LOG_LEVEL_ERROR:
		return LOG_PRIO_ERR;
	case LOG_LEVEL_WARN:
		return LOG_PRIO_WARNING;
	case LOG_LEVEL_INFO:
		return LOG_PRIO_INFO;
	default:
		return LOG_PRIO_DEBUG;
	}
}

void
log_plain(enum log_level level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n = 0, m;

	if (log_journal)
		n = snprintf(line, sizeof(line), "<%d>", log_prio(level));
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		m = 0;
	n += m;
	if ((size_t)n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, (size_t)n) < 0) {
		/* Nowhere left to report a failing stderr. */
	}
}

void
log_error(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_ERROR, LOG_PRIO_ERR, "error", 0);
}

void
log_warn(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_WARN, LOG_PRIO_WARNING, "warn", saved);
}

void
log_warnx(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_WARN, LOG_PRIO_WARNING, "warn", 0);
}

void
log_info(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_INFO, LOG_PRIO_INFO, "info", 0);
}

void
log_debug(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_DEBUG, LOG_PRIO_DEBUG, "debug", 0);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	log_vwrite(LOG_PRIO_CRIT, "fatal", fmt, ap, saved);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_PRIO_CRIT, "fatal", fmt, ap, 0);
	va_end(ap);
	exit(1);
}

int
log_reopen(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);

	if (fd == -1)
		return -1;
	if (dup2(fd, STDERR_FILENO) == -1) {
		int saved = errno;

		close(fd);
		errno = saved;
		return -1;
	}
	close(fd);
	log_detect_journal();		/* a file now, not the journal */
	return 0;
}

/* libevent reports its own trouble here; map its severities onto ours. */
static void
log_libevent_cb(int severity, const char *msg)
{
	if (severity >= EVENT_LOG_WARN)
		log_warnx("libevent: %s", msg);
	else
		log_debug("libevent: %s", msg);
}

void
log_route_libevent(void)
{
	event_set_log_callback(log_libevent_cb);
}
