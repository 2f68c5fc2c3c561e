/* Host names against certificate names: exact, or one "*." label. */
#ifndef WEIR_TLS_NAMES_H
#define WEIR_TLS_NAMES_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Does host (hostlen bytes, no trailing dot) match pattern, a certificate
 * DNS name in lower case? "*.example.com" matches exactly one label in
 * front of "example.com", never "example.com" itself. Case-insensitive.
 */
bool tls_name_match(const char *pattern, const char *host, size_t hostlen);

#endif
