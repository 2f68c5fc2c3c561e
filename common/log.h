/* Logging for every weir process: one small API, stderr, printf formats. */
#ifndef WEIR_LOG_H
#define WEIR_LOG_H

#include <stdarg.h>
#include <stdnoreturn.h>

enum log_level {
	LOG_LEVEL_ERROR,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
};

/* Name the process in every line ("master", "worker 2"). */
void log_set_proc(const char *name);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Under systemd, is stderr the journal ($JOURNAL_STREAM)? Then "<N>" lines. */
void log_detect_journal(void);
/* Send stderr (and so every log line) to path, appending; 0 or -1 with errno. */
int log_reopen(const char *path);
/* Route libevent's internal messages through this API. */
void log_route_libevent(void);

/*
 * A bare line for the command line's own messages ("FILE:LINE: reason"):
 * no timestamp or process name, but the journal's priority under systemd.
 */
void log_plain(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* log_warn appends strerror(errno); the x variants do not. errno is preserved. */
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
noreturn void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
noreturn void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define log_enabled(level) (log_get_level() >= (level))

#endif
