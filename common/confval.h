/* Parsers for single configuration values: durations, sizes, counts, addresses. */
#ifndef WEIR_CONFVAL_H
#define WEIR_CONFVAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

/*
 * Every parser takes a NUL-terminated value with no surrounding whitespace
 * (the config reader trims it), returns 0 on success or -1 with a short
 * human reason in *why (a static string), and never writes *out on failure.
 */

/* "1500ms", "2s", "5m", "1h"; a bare number is seconds. Result in milliseconds. */
int confval_duration(const char *s, uint32_t *out_ms, const char **why);
/* "512", "16k", "100m", "1g" (powers of 1024, case-insensitive). */
int confval_size(const char *s, uint64_t *out, const char **why);
/* A decimal integer within [min, max]. */
int confval_int(const char *s, long min, long max, long *out, const char **why);
/* "yes|no|on|off|true|false|1|0". */
int confval_bool(const char *s, bool *out, const char **why);
/*
 * "127.0.0.1:8080", "[::1]:8080", "*:8080" (any IPv4), "[::]:8080".
 * Numeric addresses only: a load balancer must not block on DNS.
 * Unused bytes of *out are zeroed, so equal addresses compare equal with
 * memcmp() over *outlen bytes.
 */
int confval_addr(const char *s, struct sockaddr_storage *out, socklen_t *outlen,
    const char **why);
/* Render an address as "1.2.3.4:80" or "[::1]:80". */
void confval_addr_str(const struct sockaddr *sa, char *buf, size_t len);

#endif
