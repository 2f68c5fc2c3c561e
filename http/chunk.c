/* Owns the strict chunked transfer-coding decoder and the chunk encoder. */
#include "autoconf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "http/http.h"

#define CHUNK_LINE_MAX		4096	/* a chunk-size line with extensions */
#define CHUNK_TRAILER_MAX	16384	/* the whole trailer section */
#define CHUNK_DIGITS_MAX	16	/* 16 hex digits fill a uint64_t */

/* Where in a trailer line the decoder is (d->trailer_part). */
enum chunk_trailer_part {
	CHUNK_TR_NAME,		/* field name, or the final empty line's CR */
	CHUNK_TR_VALUE,		/* after ':' */
	CHUNK_TR_LF,		/* CR seen at the end of a field line */
	CHUNK_TR_END_LF,	/* CR seen on the empty line ending the body */
};

/* A decoder waiting for the first chunk-size line. */
void
chunk_init(struct chunk_dec *d)
{
	memset(d, 0, sizeof(*d));
	d->state = CHUNK_SIZE;
}

static int
chunk_hex(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool
chunk_tchar(unsigned char c)
{
	return c > 0x20 && c < 0x7f && strchr("\"(),/:;<=>?@[\\]{}", c) == NULL;
}

/* Field value bytes: VCHAR, SP, HTAB, obs-text; never CR, LF, NUL, DEL. */
static bool
chunk_vchar(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* chunk-size: hex digits only, then ';' or CR; no spaces, no "0x". */
static int
chunk_size_byte(struct chunk_dec *d, unsigned char c)
{
	int v = chunk_hex(c);

	if (v >= 0) {
		if (d->digits == CHUNK_DIGITS_MAX)
			return -1;
		d->remaining = d->remaining << 4 | (uint64_t)v;
		d->digits++;
		return 0;
	}
	if (d->digits == 0 || (c != ';' && c != '\r'))
		return -1;
	d->state = c == ';' ? CHUNK_EXT : CHUNK_SIZE_LF;
	return 0;
}

/* End of the size line: data follows, or the last chunk's trailers. */
static int
chunk_size_lf(struct chunk_dec *d, unsigned char c)
{
	if (c != '\n')
		return -1;
	if (d->remaining > 0) {
		d->state = CHUNK_DATA;
		return 0;
	}
	d->state = CHUNK_TRAILER;
	d->trailer_bytes = 0;
	d->trailer_line_len = 0;
	d->trailer_part = CHUNK_TR_NAME;
	return 0;
}

/* The CRLF after chunk data, then back to a fresh size line. */
static int
chunk_data_end(struct chunk_dec *d, unsigned char c)
{
	if (d->state == CHUNK_DATA_CR) {
		if (c != '\r')
			return -1;
		d->state = CHUNK_DATA_LF;
		return 0;
	}
	if (c != '\n')
		return -1;
	d->state = CHUNK_SIZE;
	d->remaining = 0;
	d->digits = 0;
	d->line_bytes = 0;
	return 0;
}

/* Start of a trailer line: a field name, or CR of the empty line. */
static int
chunk_trailer_name(struct chunk_dec *d, unsigned char c)
{
	if (d->trailer_line_len == 1 && c == '\r') {
		d->trailer_part = CHUNK_TR_END_LF;
		return 0;
	}
	if (c == ':' && d->trailer_line_len > 1) {
		d->trailer_part = CHUNK_TR_VALUE;
		return 0;
	}
	return chunk_tchar(c) ? 0 : -1;
}

/* Trailer lines are read like header lines, then dropped. */
static int
chunk_trailer_byte(struct chunk_dec *d, unsigned char c)
{
	if (++d->trailer_bytes > CHUNK_TRAILER_MAX)
		return -1;
	d->trailer_line_len++;
	switch (d->trailer_part) {
	case CHUNK_TR_NAME:
		return chunk_trailer_name(d, c);
	case CHUNK_TR_VALUE:
		if (c == '\r')
			d->trailer_part = CHUNK_TR_LF;
		return c == '\r' || chunk_vchar(c) ? 0 : -1;
	case CHUNK_TR_LF:
		if (c != '\n')
			return -1;
		d->trailer_part = CHUNK_TR_NAME;
		d->trailer_line_len = 0;
		return 0;
	case CHUNK_TR_END_LF:
		if (c != '\n')
			return -1;
		d->state = CHUNK_DONE;
		return 0;
	default:
		return -1;
	}
}

/* Feed one framing byte (anything but chunk data); -1 if malformed. */
static int
chunk_byte(struct chunk_dec *d, unsigned char c)
{
	switch (d->state) {
	case CHUNK_SIZE:
	case CHUNK_EXT:
	case CHUNK_SIZE_LF:
		if (++d->line_bytes > CHUNK_LINE_MAX)
			return -1;
		if (d->state == CHUNK_SIZE)
			return chunk_size_byte(d, c);
		if (d->state == CHUNK_SIZE_LF)
			return chunk_size_lf(d, c);
		/* chunk-ext: dropped, so only its bytes are checked. */
		if (c == '\r')
			d->state = CHUNK_SIZE_LF;
		return c == '\r' || c == '\t' || (c >= 0x20 && c < 0x7f) ?
		    0 : -1;
	case CHUNK_DATA_CR:
	case CHUNK_DATA_LF:
		return chunk_data_end(d, c);
	case CHUNK_TRAILER:
		return chunk_trailer_byte(d, c);
	default:
		return -1;
	}
}

/* Framing bytes one at a time, data runs handed out in place. */
enum chunk_result
chunk_decode(struct chunk_dec *d, const char *in, size_t len,
    size_t *consumed, const char **data, size_t *data_len)
{
	size_t i = 0, n;

	*data_len = 0;
	while (i < len && d->state != CHUNK_DONE) {
		if (d->state == CHUNK_DATA) {
			/* Hand out the run in place: no copy. */
			n = len - i;
			if (n > d->remaining)
				n = (size_t)d->remaining;
			d->remaining -= n;
			if (d->remaining == 0)
				d->state = CHUNK_DATA_CR;
			*data = in + i;
			*data_len = n;
			*consumed = i + n;
			return CHUNK_MORE;
		}
		if (chunk_byte(d, (unsigned char)in[i]) != 0) {
			*data = in + i;
			*consumed = i;
			return CHUNK_ERR;
		}
		i++;
	}
	*data = in + i;
	*consumed = i;
	return d->state == CHUNK_DONE ? CHUNK_END : CHUNK_MORE;
}

/* Lowercase hex without leading zeros, as chunk-size is usually written. */
size_t
chunk_size_line(char *out, uint64_t n)
{
	static const char hex[] = "0123456789abcdef";
	char tmp[CHUNK_DIGITS_MAX];
	size_t k = 0, i;

	do {
		tmp[k++] = hex[n & 0xf];
		n >>= 4;
	} while (n != 0);
	for (i = 0; i < k; i++)
		out[i] = tmp[k - 1 - i];
	out[k++] = '\r';
	out[k++] = '\n';
	return k;
}
