/*
 * libFuzzer harness for the request head a client sends: scan_head(),
 * parser_head(), framing_request(), then rewrite_request() and the whole
 * path again over the head weir would forward to the backend.
 */
#include "autoconf.h"

#include "http/http.h"
#include "test/fuzz/fuzz.h"

#define FUZZ_MAX_HEAD	4096		/* a frontend's max_header_size */
#define FUZZ_MAX_BODY	(100ULL << 20)	/* max_body_size's default */
#define FUZZ_CLIENT_IP	"192.0.2.7"

/* Stands in for the empty Host forwarded for an HTTP/1.0 request. */
static const char fuzz_placeholder[] = "placeholder.invalid";

static struct http_msg fuzz_in, fuzz_out;
static char fuzz_buf[2 * FUZZ_MAX_HEAD + 1024];

/* Fields weir writes itself into a forwarded request. */
static bool
fuzz_req_owned(enum http_field id)
{
	switch (id) {
	case HTTP_F_HOST:
	case HTTP_F_X_FORWARDED_FOR:
	case HTTP_F_X_FORWARDED_PROTO:
	case HTTP_F_X_FORWARDED_HOST:
	case HTTP_F_X_REAL_IP:
	case HTTP_F_FORWARDED:
	case HTTP_F_CONTENT_LENGTH:
	case HTTP_F_TRANSFER_ENCODING:
	case HTTP_F_CONNECTION:
	case HTTP_F_UPGRADE:
		return true;
	default:
		return false;
	}
}

/* Every element of every Content-Length line is plain decimal equal to len. */
static bool
fuzz_cl_all_equal(const struct http_msg *m, uint64_t len)
{
	const struct http_header *h;
	size_t i, k;
	uint64_t v;
	int state;	/* 0 before digits, 1 in digits, 2 after them */

	for (i = 0; i < m->nheaders; i++) {
		h = &m->headers[i];
		if (h->id != HTTP_F_CONTENT_LENGTH)
			continue;
		v = 0;
		state = 0;
		for (k = 0; k <= h->value.len; k++) {
			char c = k < h->value.len ? h->value.p[k] : ',';

			if (c >= '0' && c <= '9' && state < 2) {
				if (v > (UINT64_MAX - 9) / 10)
					return false;
				v = v * 10 + (uint64_t)(c - '0');
				state = 1;
			} else if (c == ' ' || c == '\t')
				state = state == 1 ? 2 : state;
			else if (c == ',' && state > 0 && v == len) {
				v = 0;
				state = 0;
			} else
				return false;
		}
	}
	return true;
}

/* The body framing weir chose agrees with the fields, read independently. */
static void
fuzz_check_framing(const struct http_msg *m, const struct http_req_info *r)
{
	size_t nte = fuzzhead_count(m, HTTP_F_TRANSFER_ENCODING);
	size_t ncl = fuzzhead_count(m, HTTP_F_CONTENT_LENGTH);
	size_t i;

	FUZZ_CHECK(m->method != HTTP_M_CONNECT);
	FUZZ_CHECK(fuzzhead_count(m, HTTP_F_HOST) <= 1);
	if (m->version_minor == 1)
		FUZZ_CHECK(fuzzhead_count(m, HTTP_F_HOST) == 1);
	FUZZ_CHECK(r->path.len > 0 && (r->path.p[0] == '/' ||
	    (r->path.len == 1 && r->path.p[0] == '*')));
	switch (r->body) {
	case HTTP_BODY_CHUNKED:
		FUZZ_CHECK(m->version_minor == 1 && ncl == 0 && nte == 1);
		for (i = 0; i < m->nheaders; i++)
			if (m->headers[i].id == HTTP_F_TRANSFER_ENCODING)
				FUZZ_CHECK(http_span_eq(m->headers[i].value,
				    "chunked"));
		break;
	case HTTP_BODY_LENGTH:
		FUZZ_CHECK(nte == 0 && ncl >= 1);
		FUZZ_CHECK(r->length <= FUZZ_MAX_BODY);
		FUZZ_CHECK(fuzz_cl_all_equal(m, r->length));
		break;
	case HTTP_BODY_NONE:
		FUZZ_CHECK(nte == 0 && ncl == 0);
		break;
	default:
		FUZZ_CHECK(!"requests are never read until EOF");
	}
}

/* Point the forwarded empty Host at a placeholder; see the caller. */
static void
fuzz_fill_empty_host(struct http_msg *m)
{
	size_t i;

	FUZZ_CHECK(fuzzhead_count(m, HTTP_F_HOST) == 1);
	for (i = 0; i < m->nheaders; i++) {
		if (m->headers[i].id != HTTP_F_HOST)
			continue;
		FUZZ_CHECK(m->headers[i].value.len == 0);
		m->headers[i].value.p = fuzz_placeholder;
		m->headers[i].value.len = sizeof(fuzz_placeholder) - 1;
	}
}

/*
 * The forwarded head carries exactly the fields weir means to send
 * (upgrade: the request's upgrade once upgrade_allow had its say).
 */
static void
fuzz_check_fields(const struct http_msg *out, const struct http_msg *in,
    const struct http_req_info *r, bool upgrade)
{
	static const char ip[] = FUZZ_CLIENT_IP;
	struct http_span xff = { NULL, 0 };
	size_t i, up = upgrade ? 1 : 0;

	FUZZ_CHECK(fuzzhead_count(out, HTTP_F_HOST) == 1);
	FUZZ_CHECK(fuzzhead_count(out, HTTP_F_X_FORWARDED_FOR) == 1);
	FUZZ_CHECK(fuzzhead_count(out, HTTP_F_X_FORWARDED_PROTO) == 1);
	FUZZ_CHECK(fuzzhead_count(out, HTTP_F_X_FORWARDED_HOST) ==
	    (r->host.len > 0 ? 1 : 0));
	FUZZ_CHECK(fuzzhead_count(out, HTTP_F_CONTENT_LENGTH) ==
	    (r->body == HTTP_BODY_LENGTH ? 1 : 0));
	FUZZ_CHECK(fuzzhead_count(out, HTTP_F_TRANSFER_ENCODING) ==
	    (r->body == HTTP_BODY_CHUNKED ? 1 : 0));
	FUZZ_CHECK(fuzzhead_count(out, HTTP_F_CONNECTION) == up);
	FUZZ_CHECK(fuzzhead_count(out, HTTP_F_UPGRADE) == up);
	FUZZ_CHECK(fuzzhead_count(out, HTTP_F_KEEP_ALIVE) == 0);
	FUZZ_CHECK(fuzzhead_count(out, HTTP_F_PROXY_CONNECTION) == 0);
	FUZZ_CHECK(fuzzhead_count(out, HTTP_F_TE) == 0);
	FUZZ_CHECK(fuzzhead_count(out, HTTP_F_TRAILER) == 0);
	FUZZ_CHECK(fuzzhead_count(out, HTTP_F_EXPECT) == 0);
	for (i = 0; i < out->nheaders; i++)
		if (out->headers[i].id == HTTP_F_X_FORWARDED_FOR)
			xff = out->headers[i].value;
	FUZZ_CHECK(xff.len >= sizeof(ip) - 1 && memcmp(xff.p + xff.len -
	    (sizeof(ip) - 1), ip, sizeof(ip) - 1) == 0);
	FUZZ_CHECK(!fuzzhead_has_named(out, r->conn_names, r->nconn_names,
	    fuzz_req_owned));
	FUZZ_CHECK(fuzzhead_subsequence(out, in, fuzz_req_owned));
}

/*
 * What weir forwards is accepted by weir's own request path with the same
 * decision: method, target, Host, body framing and length, upgrade.
 */
static void
fuzz_check_forwarded(const struct http_req_info *r)
{
	/* The default upgrade_allow; policy.c drops an upgrade none matches. */
	static const char *const allow[] = { "websocket" };
	bool upgrade = r->upgrade &&
	    rewrite_upgrade_allowed(&fuzz_in, allow, 1) > 0;
	struct rewrite_req rw = {
		.client_ip = FUZZ_CLIENT_IP, .proto = "http",
		.chunked = r->body == HTTP_BODY_CHUNKED,
		.has_length = r->body == HTTP_BODY_LENGTH,
		.length = r->length, .upgrade = upgrade,
		.upgrade_allow = allow, .nupgrade_allow = 1,
		.drop_underscore = true,
	};
	struct http_req_info r2;
	size_t n, skipped, head_len;
	const char *why;
	int st;

	n = rewrite_request(fuzz_buf, sizeof(fuzz_buf), &fuzz_in, r, &rw);
	FUZZ_CHECK(n > 0);
	FUZZ_CHECK(scan_head(fuzz_buf, n, sizeof(fuzz_buf), &skipped,
	    &head_len, &why) == SCAN_OK && skipped == 0 && head_len == n);
	fuzzhead_check_bytes(fuzz_buf, n);
	st = parser_head(fuzz_buf, n, PARSER_REQUEST, &fuzz_out, &why);
	if (st == 431 && fuzzhead_field_lines(fuzz_buf, n) > HTTP_MAX_HEADERS)
		return;		/* weir's own field limit, not a disagreement */
	FUZZ_CHECK(st == 0);
	fuzzhead_check_msg(&fuzz_out, fuzz_buf, n);
	FUZZ_CHECK(fuzz_out.method == fuzz_in.method);
	FUZZ_CHECK(fuzz_same(fuzz_out.method_name.p, fuzz_out.method_name.len,
	    fuzz_in.method_name.p, fuzz_in.method_name.len));
	FUZZ_CHECK(fuzz_same(fuzz_out.target.p, fuzz_out.target.len,
	    r->path.p, r->path.len));
	FUZZ_CHECK(fuzz_out.version_minor == 1);
	fuzz_check_fields(&fuzz_out, &fuzz_in, r, upgrade);
	/*
	 * An HTTP/1.0 request without Host is forwarded with an empty Host
	 * (RFC 9112 3.2 asks for one); weir itself refuses an empty Host
	 * from a client, so the placeholder lets the rest be compared.
	 */
	if (r->host.len == 0)
		fuzz_fill_empty_host(&fuzz_out);
	FUZZ_CHECK(framing_request(&fuzz_out, FUZZ_MAX_BODY, &r2, &why) == 0);
	FUZZ_CHECK(r2.body == r->body && r2.length == r->length);
	FUZZ_CHECK(r->host.len == 0 || fuzz_same(r2.host.p, r2.host.len,
	    r->host.p, r->host.len));
	FUZZ_CHECK(fuzz_same(r2.path.p, r2.path.len, r->path.p, r->path.len));
	FUZZ_CHECK(r2.upgrade == upgrade && r2.is_head == r->is_head &&
	    r2.idempotent == r->idempotent);
	FUZZ_CHECK(!r2.expect_continue && !r2.absolute_form &&
	    r2.nconn_names == 0 && r2.keep_alive);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data, *why = NULL;
	size_t skipped, head_len;
	struct http_req_info req;
	enum scan_result sr;
	int st;

	sr = scan_head(buf, size, FUZZ_MAX_HEAD, &skipped, &head_len, &why);
	if (sr == SCAN_BAD || sr == SCAN_TOO_LARGE)
		FUZZ_CHECK(why != NULL);
	if (sr != SCAN_OK)
		return 0;
	FUZZ_CHECK(skipped % 2 == 0 && skipped + head_len <= size);
	fuzzhead_check_bytes(buf + skipped, head_len);
	fuzzhead_check_prefixes(buf, skipped, head_len, FUZZ_MAX_HEAD,
	    fuzz_hash(data, size));
	st = parser_head(buf + skipped, head_len, PARSER_REQUEST, &fuzz_in,
	    &why);
	FUZZ_CHECK(st == 0 || st == 400 || st == 431 || st == 501 ||
	    st == 505);
	FUZZ_CHECK(st == 0 || why != NULL);
	if (st != 0)
		return 0;
	fuzzhead_check_msg(&fuzz_in, buf + skipped, head_len);
	st = framing_request(&fuzz_in, FUZZ_MAX_BODY, &req, &why);
	FUZZ_CHECK(st == 0 || st == 400 || st == 413 || st == 417 ||
	    st == 501 || st == 505);
	FUZZ_CHECK(st == 0 || why != NULL);
	if (st != 0)
		return 0;
	fuzz_check_framing(&fuzz_in, &req);
	fuzz_check_forwarded(&req);
	return 0;
}
