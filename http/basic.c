/* Owns decoding the credentials of "Authorization: Basic" (RFC 7617). */
#include "autoconf.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "http/basic.h"

/* The value of one base64 character, or -1. */
static int
basic_sextet(unsigned char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	return ch == '+' ? 62 : ch == '/' ? 63 : -1;
}

/*
 * Standard base64 of in[0..len) into out[0..cap): the decoded length, or
 * -1. Padding may be left out, but if present it completes the last
 * quantum; bits a canonical encoder leaves zero must be zero, so each
 * byte string has one accepted spelling.
 */
static long
basic_base64(const char *in, size_t len, char *out, size_t cap)
{
	uint32_t acc = 0;
	size_t n = 0, i, pad = 0, bits = 0;
	int v;

	while (pad < 2 && len > 0 && in[len - 1] == '=') {
		len--;
		pad++;
	}
	if (len % 4 == 1 || (pad > 0 && (len + pad) % 4 != 0))
		return -1;
	for (i = 0; i < len; i++) {
		if ((v = basic_sextet((unsigned char)in[i])) < 0)
			return -1;
		acc = acc << 6 | (uint32_t)v;
		if ((bits += 6) >= 8) {
			bits -= 8;
			if (n == cap)
				return -1;
			out[n++] = (char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	return acc != 0 ? -1 : (long)n;
}

int
basic_decode(const char *v, size_t len, char *out, struct basic_cred *cred)
{
	size_t i;
	long n;
	char *colon;

	if (len < 6 || strncasecmp(v, "basic", 5) != 0 ||
	    (v[5] != ' ' && v[5] != '\t'))
		return -1;
	for (i = 6; i < len && (v[i] == ' ' || v[i] == '\t'); i++)
		;
	if (i == len || (n = basic_base64(v + i, len - i, out,
	    BASIC_MAX_CRED)) < 0)
		return -1;
	for (i = 0; i < (size_t)n; i++)
		if ((unsigned char)out[i] < ' ' || out[i] == 0x7f)
			return -1;
	out[n] = '\0';
	if ((colon = memchr(out, ':', (size_t)n)) == NULL || colon == out)
		return -1;
	*colon = '\0';
	cred->user = out;
	cred->ulen = (size_t)(colon - out);
	cred->pass = colon + 1;
	cred->plen = (size_t)n - cred->ulen - 1;
	return 0;
}
