/* Owns parser_head(): the only user of http-parser, it fills http_msg. */
#include "autoconf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

/* http-parser's method enum has the same tag as weir's: rename its tag. */
#define http_method http_parser_method
#include <http_parser.h>
#undef http_method

#include "http/http.h"

/*
 * How the tokenizer is used. http-parser judges header fields itself and
 * gets it wrong both ways (it accepts smuggling vectors, and it rejects
 * repeated identical Content-Length lines, which RFC 9112 6.3 lets weir
 * collapse). So it only sees the start line followed by an empty line: it
 * recognizes the method, the request-target and the version. The field
 * lines, which scan_head() has already validated byte by byte, are split
 * here, and framing.c judges what they mean.
 */

struct parser_ctx {
	struct http_span target;
};

/* Collect the request-target; pieces of one target are adjacent. */
static int
parser_url_cb(http_parser *hp, const char *at, size_t len)
{
	struct parser_ctx *ctx = hp->data;

	if (ctx->target.p == NULL)
		ctx->target.p = at;
	else if (ctx->target.p + ctx->target.len != at)
		return 1;
	ctx->target.len += len;
	return 0;
}

/* Never let the parser read a body: weir frames bodies itself. */
static int
parser_headers_cb(http_parser *hp)
{
	(void)hp;
	return 1;
}

static const http_parser_settings parser_settings = {
	.on_url = parser_url_cb,
	.on_headers_complete = parser_headers_cb,
};

/* Run a fresh http-parser over the start line and an empty line. */
static enum http_errno
parser_tokenize(const char *buf, size_t line_len, enum parser_kind kind,
    struct parser_ctx *ctx, http_parser *hp)
{
	size_t n;

	http_parser_init(hp, kind == PARSER_REQUEST ? HTTP_REQUEST :
	    HTTP_RESPONSE);
	hp->data = ctx;
	n = http_parser_execute(hp, &parser_settings, buf, line_len + 2);
	if (HTTP_PARSER_ERRNO(hp) != HPE_OK)
		return HTTP_PARSER_ERRNO(hp);
	if (n != line_len + 2)
		return HPE_UNKNOWN;
	n = http_parser_execute(hp, &parser_settings, "\r\n", 2);
	if (HTTP_PARSER_ERRNO(hp) != HPE_OK)
		return HTTP_PARSER_ERRNO(hp);
	return n == 2 ? HPE_OK : HPE_UNKNOWN;
}

/* Map http-parser's method to weir's; the rest keep their name only. */
static enum http_method
parser_method(unsigned int m)
{
	switch (m) {
	case HTTP_GET:
		return HTTP_M_GET;
	case HTTP_HEAD:
		return HTTP_M_HEAD;
	case HTTP_POST:
		return HTTP_M_POST;
	case HTTP_PUT:
		return HTTP_M_PUT;
	case HTTP_DELETE:
		return HTTP_M_DELETE;
	case HTTP_OPTIONS:
		return HTTP_M_OPTIONS;
	case HTTP_CONNECT:
		return HTTP_M_CONNECT;
	case HTTP_TRACE:
		return HTTP_M_TRACE;
	case HTTP_PATCH:
		return HTTP_M_PATCH;
	default:
		return HTTP_M_OTHER;
	}
}

static bool
parser_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Read exactly "HTTP/" DIGIT "." DIGIT (8 bytes) at p. */
static bool
parser_http_version(const char *p, struct http_msg *msg)
{
	if (memcmp(p, "HTTP/", 5) != 0 || !parser_digit(p[5]) ||
	    p[6] != '.' || !parser_digit(p[7]))
		return false;
	msg->version_major = p[5] - '0';
	msg->version_minor = p[7] - '0';
	return true;
}

/*
 * Check the request line is exactly method SP target SP version, with the
 * pieces the tokenizer found (it tolerates repeated spaces, weir does not).
 */
static int
parser_request_line(const char *buf, size_t line_len, const http_parser *hp,
    const struct parser_ctx *ctx, struct http_msg *msg, const char **why)
{
	const char *name = http_method_str(hp->method);
	size_t mlen = strlen(name), tend;

	*why = "malformed request line";
	if (line_len <= mlen || memcmp(buf, name, mlen) != 0 ||
	    buf[mlen] != ' ')
		return 400;
	if (ctx->target.p != buf + mlen + 1 || ctx->target.len == 0)
		return 400;
	tend = mlen + 1 + ctx->target.len;
	if (tend + 9 != line_len || buf[tend] != ' ' ||
	    !parser_http_version(buf + tend + 1, msg))
		return 400;
	msg->method = parser_method(hp->method);
	msg->method_name.p = buf;
	msg->method_name.len = mlen;
	msg->target = ctx->target;
	if (msg->version_major != 1 || msg->version_minor > 1) {
		*why = "HTTP version not supported";
		return 505;
	}
	*why = NULL;
	return 0;
}

/* Check version SP 3DIGIT [SP reason]; no reason may also mean no SP. */
static int
parser_status_line(const char *buf, size_t line_len, const http_parser *hp,
    struct http_msg *msg, const char **why)
{
	*why = "malformed status line";
	if (line_len < 12 || !parser_http_version(buf, msg) || buf[8] != ' ' ||
	    !parser_digit(buf[9]) || !parser_digit(buf[10]) ||
	    !parser_digit(buf[11]))
		return 502;
	if (line_len > 12 && buf[12] != ' ')
		return 502;
	msg->status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 +
	    (buf[11] - '0');
	if (msg->status < 100 || msg->status != (int)hp->status_code) {
		*why = "invalid status code";
		return 502;
	}
	msg->reason.p = buf + (line_len > 12 ? 13 : 12);
	msg->reason.len = line_len > 12 ? line_len - 13 : 0;
	if (msg->version_major != 1 || msg->version_minor > 1) {
		*why = "HTTP version not supported";
		return 502;
	}
	*why = NULL;
	return 0;
}

/* Narrow a span to drop leading and trailing SP and HTAB. */
static struct http_span
parser_trim(const char *p, size_t len)
{
	struct http_span s;

	while (len > 0 && (*p == ' ' || *p == '\t')) {
		p++;
		len--;
	}
	while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
		len--;
	s.p = p;
	s.len = len;
	return s;
}

/* Split the field lines in buf[i..len) into name and trimmed value. */
static int
parser_fields(const char *buf, size_t i, size_t len, struct http_msg *msg,
    const char **why)
{
	const char *eol, *colon;
	struct http_header *h;

	for (;;) {
		eol = i < len ? memchr(buf + i, '\r', len - i) : NULL;
		if (eol == NULL || (size_t)(eol - buf) + 2 > len ||
		    eol[1] != '\n')
			break;
		if (eol == buf + i) {
			if ((size_t)(eol - buf) + 2 == len)
				return 0;
			break;
		}
		colon = memchr(buf + i, ':', eol - (buf + i));
		if (colon == NULL || colon == buf + i)
			break;
		if (msg->nheaders == HTTP_MAX_HEADERS) {
			*why = "too many header fields";
			return 431;
		}
		h = &msg->headers[msg->nheaders++];
		h->name.p = buf + i;
		h->name.len = colon - (buf + i);
		h->value = parser_trim(colon + 1, eol - colon - 1);
		h->id = parser_field_id(h->name);
		i = eol - buf + 2;
	}
	*why = "malformed header section";
	return 400;
}

/* The fields weir knows by name; HTTP_F_OTHER for the rest. */
static enum http_field
parser_field_known(struct http_span n)
{
	switch (n.len) {
	case 2:
		return http_span_eq(n, "te") ? HTTP_F_TE : HTTP_F_OTHER;
	case 4:
		return http_span_eq(n, "host") ? HTTP_F_HOST : HTTP_F_OTHER;
	case 6:
		return http_span_eq(n, "expect") ? HTTP_F_EXPECT : HTTP_F_OTHER;
	case 7:
		if (http_span_eq(n, "upgrade"))
			return HTTP_F_UPGRADE;
		return http_span_eq(n, "trailer") ? HTTP_F_TRAILER :
		    HTTP_F_OTHER;
	case 9:
		if (http_span_eq(n, "x-real-ip"))
			return HTTP_F_X_REAL_IP;
		return http_span_eq(n, "forwarded") ? HTTP_F_FORWARDED :
		    HTTP_F_OTHER;
	case 10:
		if (http_span_eq(n, "connection"))
			return HTTP_F_CONNECTION;
		return http_span_eq(n, "keep-alive") ? HTTP_F_KEEP_ALIVE :
		    HTTP_F_OTHER;
	case 14:
		return http_span_eq(n, "content-length") ?
		    HTTP_F_CONTENT_LENGTH : HTTP_F_OTHER;
	case 15:
		return http_span_eq(n, "x-forwarded-for") ?
		    HTTP_F_X_FORWARDED_FOR : HTTP_F_OTHER;
	case 16:
		if (http_span_eq(n, "proxy-connection"))
			return HTTP_F_PROXY_CONNECTION;
		if (http_span_eq(n, "x-client-subject"))
			return HTTP_F_X_CLIENT_SUBJECT;
		return http_span_eq(n, "x-forwarded-host") ?
		    HTTP_F_X_FORWARDED_HOST : HTTP_F_OTHER;
	case 17:
		if (http_span_eq(n, "transfer-encoding"))
			return HTTP_F_TRANSFER_ENCODING;
		return http_span_eq(n, "x-forwarded-proto") ?
		    HTTP_F_X_FORWARDED_PROTO : HTTP_F_OTHER;
	default:
		return HTTP_F_OTHER;
	}
}

/*
 * Recognize a field name with one switch on its length and at most two
 * comparisons, so framing and rewriting compare small integers instead of
 * strings for every header of every request. No field weir knows has an
 * '_', so the others are checked for one here, once (underscore_headers).
 */
enum http_field
parser_field_id(struct http_span n)
{
	enum http_field id = parser_field_known(n);

	if (id == HTTP_F_OTHER && memchr(n.p, '_', n.len) != NULL)
		return HTTP_F_UNDERSCORE;
	return id;
}

/* Reset what parser_head fills; msg->skipped belongs to the caller. */
static void
parser_reset(struct http_msg *msg)
{
	static const struct http_span none;

	msg->method = HTTP_M_OTHER;
	msg->method_name = none;
	msg->target = none;
	msg->status = 0;
	msg->reason = none;
	msg->version_major = 0;
	msg->version_minor = 0;
	msg->nheaders = 0;
	msg->head_len = 0;
}

/*
 * A method the tokenizer does not know is 501 only if the line really starts
 * with "token SP": anything else ("GET\r\n", garbage) is a malformed 400.
 */
static bool
parser_method_is_token(const char *line, size_t len)
{
	static const char delims[] = "\"(),/:;<=>?@[\\]{}";
	size_t i;

	for (i = 0; i < len && line[i] != ' '; i++) {
		unsigned char ch = (unsigned char)line[i];

		if (ch <= 0x20 || ch >= 0x7f || strchr(delims, ch) != NULL)
			return false;
	}
	return i > 0 && i < len;
}

/* Tokenize the start line, then split the fields; see http.h. */
int
parser_head(const char *buf, size_t len, enum parser_kind kind,
    struct http_msg *msg, const char **why)
{
	struct parser_ctx ctx;
	http_parser hp;
	const char *eol;
	enum http_errno e;
	size_t line_len;
	int r;

	parser_reset(msg);
	memset(&ctx, 0, sizeof(ctx));
	eol = len > 0 ? memchr(buf, '\r', len) : NULL;
	if (eol == NULL || eol == buf || (size_t)(eol - buf) + 4 > len) {
		*why = "malformed head";
		return kind == PARSER_REQUEST ? 400 : 502;
	}
	line_len = eol - buf;
	e = parser_tokenize(buf, line_len, kind, &ctx, &hp);
	if (e != HPE_OK) {
		*why = http_errno_description(e);
		if (kind == PARSER_RESPONSE)
			return 502;
		return e == HPE_INVALID_METHOD &&
		    parser_method_is_token(buf, line_len) ? 501 : 400;
	}
	if (kind == PARSER_REQUEST)
		r = parser_request_line(buf, line_len, &hp, &ctx, msg, why);
	else
		r = parser_status_line(buf, line_len, &hp, msg, why);
	if (r == 0)
		r = parser_fields(buf, line_len + 2, len, msg, why);
	if (r != 0)
		return kind == PARSER_REQUEST ? r : 502;
	msg->head_len = len;
	return 0;
}

/* Name the tokenizer as linked at run time, for logs and --version. */
const char *
parser_version(void)
{
	static char buf[32];
	unsigned long v;

	if (buf[0] == '\0') {
		v = http_parser_version();
		snprintf(buf, sizeof(buf), "http-parser %lu.%lu.%lu",
		    (v >> 16) & 255, (v >> 8) & 255, v & 255);
	}
	return buf;
}
