/*
 * Request path normalisation: the one form of a path that routes match
 * and that weir then forwards, so a route and the backend behind it never
 * read the same bytes two ways.
 */
#include "autoconf.h"

#include <stdbool.h>
#include <string.h>

#include "http/http.h"

static int
target_hex(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/*
 * Characters decoded from an escape: those a path segment may hold as
 * they are (RFC 3986 3.3 pchar: unreserved, sub-delims, ':' and '@').
 * Unreserved ones mean the same either way (2.3); backends decode the
 * others too, so a route must see them decoded, or "/admin%3Bx" would
 * slip past a route that "/admin;x" meets.
 */
static bool
target_decodes(int ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9') || (ch != 0 &&
	    strchr("-._~!$&'()*+,;=:@", ch) != NULL);
}

/*
 * Did the segment just written, out[seg..n), read "." or ".." before any
 * ';' parameters? Servlet containers read "..;x" as "..".
 */
static bool
target_dot_segment(const char *out, size_t seg, size_t n)
{
	const char *semi;
	size_t len;

	if (n <= seg)
		return false;	/* empty, or the path's first '/' */
	semi = memchr(out + seg, ';', n - seg);
	len = semi != NULL ? (size_t)(semi - (out + seg)) : n - seg;

	return (len == 1 && out[seg] == '.') ||
	    (len == 2 && out[seg] == '.' && out[seg + 1] == '.');
}

/*
 * One input byte (after decoding) into out at *n. Returns false when the
 * path must be refused: a '.' or '..' segment ends here.
 */
static bool
target_put(char *out, size_t *n, size_t *seg, char ch)
{
	if (ch == '/') {
		if (target_dot_segment(out, *seg, *n))
			return false;
		if (*n > 0 && out[*n - 1] == '/')
			return true;		/* "//" reads as "/" */
		out[(*n)++] = '/';
		*seg = *n;
		return true;
	}
	out[(*n)++] = ch;
	return true;
}

ssize_t
target_normalize(const char *p, size_t len, char *out)
{
	size_t i, n = 0, seg = 1;
	int hi, lo, ch;

	if (len == 0 || p[0] != '/')
		return -1;
	for (i = 0; i < len; i++) {
		ch = (unsigned char)p[i];
		if (ch == '\\' || ch == '#')
			return -1;
		if (ch == '%') {
			if (i + 2 >= len)
				return -1;
			if ((hi = target_hex(p[i + 1])) < 0 ||
			    (lo = target_hex(p[i + 2])) < 0)
				return -1;
			ch = hi << 4 | lo;
			i += 2;
			/*
			 * An encoded '/', '\' or NUL is refused: some
			 * backends decode them, others not, so no route could
			 * know which path the backend will act on.
			 */
			if (ch == '/' || ch == '\\' || ch == 0)
				return -1;
			if (!target_decodes(ch)) {
				out[n++] = '%';
				out[n++] = "0123456789ABCDEF"[hi];
				out[n++] = "0123456789ABCDEF"[lo];
				continue;
			}
		}
		if (!target_put(out, &n, &seg, (char)ch))
			return -1;
	}
	if (target_dot_segment(out, seg, n))
		return -1;
	return (ssize_t)n;
}
