/* Matches a host name against a certificate name (RFC 6125 6.4.3, subset). */
#include "autoconf.h"

#include <string.h>
#include <strings.h>

#include "tls/names.h"

/*
 * A wildcard covers the whole left-most label and nothing else: no partial
 * labels ("w*.example.com"), no match for the bare parent, no empty label.
 */
bool
tls_name_match(const char *pattern, const char *host, size_t hostlen)
{
	size_t plen = strlen(pattern), label;
	const char *dot;

	if (hostlen == 0)
		return false;
	if (pattern[0] != '*')
		return plen == hostlen &&
		    strncasecmp(pattern, host, hostlen) == 0;
	if (pattern[1] != '.' || plen < 4)
		return false;
	if ((dot = memchr(host, '.', hostlen)) == NULL)
		return false;
	label = (size_t)(dot - host);
	return label > 0 && hostlen - label == plen - 1 &&
	    strncasecmp(pattern + 1, dot, plen - 1) == 0;
}
