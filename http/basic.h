/* The credentials of an "Authorization: Basic" field (RFC 7617). */
#ifndef WEIR_BASIC_H
#define WEIR_BASIC_H

#include <stddef.h>

#define BASIC_MAX_CRED	1024	/* decoded bytes of "user:password" */

/* Views into the caller's buffer; user and pass are NUL-terminated. */
struct basic_cred {
	const char *user;
	size_t ulen;
	const char *pass;
	size_t plen;
};

/*
 * Decode v[0..len), an Authorization value, into out (at least
 * BASIC_MAX_CRED + 1 bytes): the scheme "Basic" (any case), blanks, then
 * standard base64 (padding optional, no other character, no stray bits)
 * of "user:password", split at the first ':'. 0 and *cred set, or -1:
 * another scheme, bad base64, no ':', an empty user, a control character
 * (a NUL would cut the password crypt(3) sees), or over BASIC_MAX_CRED.
 * Bytes from 0x80 up pass: the realm says charset="UTF-8", and the file's
 * names and passwords are compared byte for byte.
 */
int basic_decode(const char *v, size_t len, char *out, struct basic_cred *cred);

#endif
