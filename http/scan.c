/* Owns scan_head(): finds where a header section ends and rejects bad bytes. */
#include "autoconf.h"

#include <stdbool.h>
#include <stddef.h>

#include "http/http.h"

/*
 * Byte classes, one table lookup per byte. A byte with no flag (CTLs, DEL,
 * CR, LF) ends the run that is being scanned and is judged by the caller.
 */
#define SF_TOKEN	0x01	/* RFC 9110 tchar: in field names */
#define SF_START	0x02	/* visible ASCII or SP: in the start line */
#define SF_VALUE	0x04	/* VCHAR, SP, HTAB, obs-text: in values */

#define C 0
#define T (SF_TOKEN | SF_START | SF_VALUE)
#define D (SF_START | SF_VALUE)	/* delimiters and SP */
#define H SF_VALUE			/* HTAB */
#define O SF_VALUE			/* obs-text */

static const unsigned char scan_class[256] = {
	/*0x00*/ C, C, C, C, C, C, C, C, C, H, C, C, C, C, C, C,
	/*0x10*/ C, C, C, C, C, C, C, C, C, C, C, C, C, C, C, C,
	/*       SP !  "  #  $  %  &  '  (  )  *  +  ,  -  .  / */
	/*0x20*/ D, T, D, T, T, T, T, T, D, D, T, T, D, T, T, D,
	/*       0  1  2  3  4  5  6  7  8  9  :  ;  <  =  >  ? */
	/*0x30*/ T, T, T, T, T, T, T, T, T, T, D, D, D, D, D, D,
	/*       @  A  B  C  D  E  F  G  H  I  J  K  L  M  N  O */
	/*0x40*/ D, T, T, T, T, T, T, T, T, T, T, T, T, T, T, T,
	/*       P  Q  R  S  T  U  V  W  X  Y  Z  [  \  ]  ^  _ */
	/*0x50*/ T, T, T, T, T, T, T, T, T, T, T, D, D, D, T, T,
	/*       `  a  b  c  d  e  f  g  h  i  j  k  l  m  n  o */
	/*0x60*/ T, T, T, T, T, T, T, T, T, T, T, T, T, T, T, T,
	/*       p  q  r  s  t  u  v  w  x  y  z  {  |  }  ~  DEL */
	/*0x70*/ T, T, T, T, T, T, T, T, T, T, T, D, T, D, T, C,
	/*0x80*/ O, O, O, O, O, O, O, O, O, O, O, O, O, O, O, O,
	/*0x90*/ O, O, O, O, O, O, O, O, O, O, O, O, O, O, O, O,
	/*0xa0*/ O, O, O, O, O, O, O, O, O, O, O, O, O, O, O, O,
	/*0xb0*/ O, O, O, O, O, O, O, O, O, O, O, O, O, O, O, O,
	/*0xc0*/ O, O, O, O, O, O, O, O, O, O, O, O, O, O, O, O,
	/*0xd0*/ O, O, O, O, O, O, O, O, O, O, O, O, O, O, O, O,
	/*0xe0*/ O, O, O, O, O, O, O, O, O, O, O, O, O, O, O, O,
	/*0xf0*/ O, O, O, O, O, O, O, O, O, O, O, O, O, O, O, O,
};

#undef C
#undef T
#undef D
#undef H
#undef O

/*
 * Judge the CR expected at p[j] ending a line: a CR must be followed by LF
 * (a bare CR is how http-parser gets tricked into seeing a new field). Sets
 * *next past the LF.
 */
static enum scan_result
scan_eol(const unsigned char *p, size_t n, size_t j, size_t *next,
    const char **why)
{
	if (p[j] == '\n') {
		*why = "bare LF";
		return SCAN_BAD;
	}
	if (p[j] != '\r') {
		*why = "control character";
		return SCAN_BAD;
	}
	if (j + 1 >= n)
		return SCAN_INCOMPLETE;
	if (p[j + 1] != '\n') {
		*why = "bare CR";
		return SCAN_BAD;
	}
	*next = j + 2;
	return SCAN_OK;
}

/* Scan the start line at *i: visible ASCII and SP only, ended by CRLF. */
static enum scan_result
scan_start_line(const unsigned char *p, size_t n, size_t *i, const char **why)
{
	size_t j = *i;

	while (j < n && (scan_class[p[j]] & SF_START))
		j++;
	if (j >= n)
		return SCAN_INCOMPLETE;
	if (p[j] >= 0x80 || p[j] == '\t') {
		*why = "invalid byte in start line";
		return SCAN_BAD;
	}
	return scan_eol(p, n, j, i, why);
}

/* Say why a field name stopped at byte c before its ':'. */
static const char *
scan_name_error(unsigned char c)
{
	if (c == ' ' || c == '\t')
		return "whitespace in field name or before colon";
	if (c == '\r')
		return "field line without colon";
	if (c == '\n')
		return "bare LF";
	return "invalid byte in field name";
}

/* Scan one field line at *i: token, ':', value bytes, CRLF. */
static enum scan_result
scan_field_line(const unsigned char *p, size_t n, size_t *i, const char **why)
{
	size_t j = *i;

	while (j < n && (scan_class[p[j]] & SF_TOKEN))
		j++;
	if (j >= n)
		return SCAN_INCOMPLETE;
	if (p[j] != ':') {
		*why = scan_name_error(p[j]);
		return SCAN_BAD;
	}
	if (j == *i) {
		*why = "empty field name";
		return SCAN_BAD;
	}
	j++;
	while (j < n && (scan_class[p[j]] & SF_VALUE))
		j++;
	if (j >= n)
		return SCAN_INCOMPLETE;
	return scan_eol(p, n, j, i, why);
}

/* Out of bytes before the blank line: wait for more, or give up at max. */
static enum scan_result
scan_short(size_t len, size_t max, const char **why)
{
	if (len < max)
		return SCAN_INCOMPLETE;
	*why = "header section too large";
	return SCAN_TOO_LARGE;
}

/*
 * Single pass over at most max bytes. A bad byte is reported as soon as it
 * is seen, even while its line is still incomplete.
 */
enum scan_result
scan_head(const char *buf, size_t len, size_t max, size_t *skipped,
    size_t *head_len, const char **why)
{
	const unsigned char *p = (const unsigned char *)buf;
	size_t n = len < max ? len : max;
	size_t i = 0;
	enum scan_result r;

	*head_len = 0;
	*why = NULL;
	/* RFC 9112 2.2: empty lines before a request-line are ignored. */
	while (i + 1 < n && p[i] == '\r' && p[i + 1] == '\n')
		i += 2;
	*skipped = i;
	if ((r = scan_start_line(p, n, &i, why)) != SCAN_OK)
		goto out;
	for (;;) {
		if (i >= n) {
			r = SCAN_INCOMPLETE;
			break;
		}
		if (p[i] == ' ' || p[i] == '\t') {
			*why = "obs-fold or whitespace before a field line";
			return SCAN_BAD;
		}
		if (p[i] == '\r' || p[i] == '\n') {
			if ((r = scan_eol(p, n, i, &i, why)) == SCAN_OK)
				*head_len = i - *skipped;
			break;
		}
		if ((r = scan_field_line(p, n, &i, why)) != SCAN_OK)
			break;
	}
out:
	if (r == SCAN_INCOMPLETE)
		return scan_short(len, max, why);
	return r;
}
