/*
 * libFuzzer harness for the response head a backend sends: scan_head(),
 * parser_head(), framing_response() under every request context, then
 * rewrite_response() and the same path again over the head the client gets.
 */
#include "autoconf.h"

#include "http/http.h"
#include "test/fuzz/fuzz.h"

#define FUZZ_MAX_HEAD	4096

static struct http_msg fuzz_in, fuzz_out;
static char fuzz_buf[FUZZ_MAX_HEAD + 1024];

/* Request contexts: HEAD, upgrade asked, HTTP/1.0 client, client keep-alive. */
#define FUZZ_CTX_HEAD		0x1
#define FUZZ_CTX_UPGRADE	0x2
#define FUZZ_CTX_HTTP10		0x4
#define FUZZ_CTX_KEEP		0x8
#define FUZZ_NCTX		16

/* Fields weir writes itself into the response head for the client. */
static bool
fuzz_resp_owned(enum http_field id)
{
	return id == HTTP_F_CONTENT_LENGTH || id == HTTP_F_TRANSFER_ENCODING ||
	    id == HTTP_F_CONNECTION || id == HTTP_F_UPGRADE;
}

/* The decision agrees with the status and fields, read independently. */
static void
fuzz_check_decision(const struct http_msg *m, const struct http_req_info *q,
    const struct http_resp_info *r)
{
	size_t nte = fuzzhead_count(m, HTTP_F_TRANSFER_ENCODING);
	size_t ncl = fuzzhead_count(m, HTTP_F_CONTENT_LENGTH);
	bool bodiless = m->status < 200 || m->status == 204 ||
	    m->status == 304 || q->is_head;

	FUZZ_CHECK(!(nte > 0 && ncl > 0));
	FUZZ_CHECK(r->has_length == (ncl > 0));
	FUZZ_CHECK(!r->switching || (m->status == 101 && q->upgrade));
	FUZZ_CHECK(m->status != 101 || q->upgrade);
	FUZZ_CHECK(r->informational == (m->status < 200 && m->status != 101));
	switch (r->body) {
	case HTTP_BODY_NONE:
		FUZZ_CHECK(bodiless);
		break;
	case HTTP_BODY_CHUNKED:
		FUZZ_CHECK(!bodiless && nte == 1 && m->version_minor == 1);
		break;
	case HTTP_BODY_LENGTH:
		FUZZ_CHECK(!bodiless && nte == 0 && ncl > 0);
		break;
	case HTTP_BODY_EOF:
		FUZZ_CHECK(!bodiless && nte == 0 && ncl == 0 && !r->keep_alive);
		break;
	}
}

/* How exchange.c plans the client side of a response (exchange_resp_plan). */
static void
fuzz_plan(const struct http_resp_info *r, unsigned ctx, struct rewrite_resp *rw)
{
	bool keep = (ctx & FUZZ_CTX_KEEP) != 0;

	memset(rw, 0, sizeof(*rw));
	rw->client_http10 = (ctx & FUZZ_CTX_HTTP10) != 0;
	if (r->informational)
		return;
	if (r->switching) {
		rw->upgrade = rw->keep_alive = true;
		return;
	}
	switch (r->body) {
	case HTTP_BODY_NONE:
	case HTTP_BODY_LENGTH:
		rw->has_length = r->has_length;
		rw->length = r->length;
		break;
	case HTTP_BODY_CHUNKED:
	case HTTP_BODY_EOF:
		if (rw->client_http10)
			keep = false;
		else
			rw->chunked = true;
		break;
	}
	rw->keep_alive = keep;
}

/*
 * The head the client gets is accepted by weir's own response path, for
 * the same request, with the framing and connection weir planned.
 */
static void
fuzz_check_forwarded(const struct http_req_info *q,
    const struct http_resp_info *r, const struct rewrite_resp *rw)
{
	struct http_resp_info r2;
	size_t n, skipped, head_len;
	const char *why;

	n = rewrite_response(fuzz_buf, sizeof(fuzz_buf), &fuzz_in, r, rw);
	FUZZ_CHECK(n > 0);
	FUZZ_CHECK(scan_head(fuzz_buf, n, sizeof(fuzz_buf), &skipped,
	    &head_len, &why) == SCAN_OK && skipped == 0 && head_len == n);
	fuzzhead_check_bytes(fuzz_buf, n);
	/* Past weir's own field limit after adding its framing: not a
	 * disagreement (the same holds for requests). */
	if (parser_head(fuzz_buf, n, PARSER_RESPONSE, &fuzz_out, &why) != 0 &&
	    fuzzhead_field_lines(fuzz_buf, n) > HTTP_MAX_HEADERS)
		return;
	FUZZ_CHECK(parser_head(fuzz_buf, n, PARSER_RESPONSE, &fuzz_out,
	    &why) == 0);
	fuzzhead_check_msg(&fuzz_out, fuzz_buf, n);
	FUZZ_CHECK(fuzz_out.status == fuzz_in.status &&
	    fuzz_out.version_minor == 1);
	FUZZ_CHECK(fuzz_same(fuzz_out.reason.p, fuzz_out.reason.len,
	    fuzz_in.reason.p, fuzz_in.reason.len));
	FUZZ_CHECK(fuzzhead_subsequence(&fuzz_out, &fuzz_in, fuzz_resp_owned));
	FUZZ_CHECK(!fuzzhead_has_named(&fuzz_out, r->conn_names,
	    r->nconn_names, fuzz_resp_owned));
	FUZZ_CHECK(fuzzhead_count(&fuzz_out, HTTP_F_KEEP_ALIVE) == 0 &&
	    fuzzhead_count(&fuzz_out, HTTP_F_PROXY_CONNECTION) == 0 &&
	    fuzzhead_count(&fuzz_out, HTTP_F_TE) == 0 &&
	    fuzzhead_count(&fuzz_out, HTTP_F_TRAILER) == 0);
	/* RFC 9110 8.6: no Content-Length in a 1xx or 204 response. */
	if (fuzz_in.status < 200 || fuzz_in.status == 204)
		FUZZ_CHECK(fuzzhead_count(&fuzz_out, HTTP_F_CONTENT_LENGTH) ==
		    0 && fuzzhead_count(&fuzz_out,
		    HTTP_F_TRANSFER_ENCODING) == 0);
	FUZZ_CHECK(framing_response(&fuzz_out, q, &r2, &why) == 0);
	FUZZ_CHECK(r2.informational == r->informational &&
	    r2.switching == r->switching);
	if (r->informational || r->switching)
		return;
	FUZZ_CHECK(r2.keep_alive == rw->keep_alive);
	if (rw->chunked)
		FUZZ_CHECK(r2.body == HTTP_BODY_CHUNKED);
	else if (r->body == HTTP_BODY_NONE)
		FUZZ_CHECK(r2.body == HTTP_BODY_NONE);
	else if (rw->has_length)
		FUZZ_CHECK(r2.body == HTTP_BODY_LENGTH);
	else
		FUZZ_CHECK(r2.body == HTTP_BODY_EOF);
	if (fuzz_in.status == 204)
		FUZZ_CHECK(!r2.has_length);
	else
		FUZZ_CHECK(r2.has_length == rw->has_length &&
		    (!rw->has_length || r2.length == rw->length));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data, *why = NULL;
	struct http_req_info q;
	struct http_resp_info r;
	struct rewrite_resp rw;
	size_t skipped, head_len;
	enum scan_result sr;
	unsigned ctx;

	sr = scan_head(buf, size, FUZZ_MAX_HEAD, &skipped, &head_len, &why);
	if (sr != SCAN_OK)
		return 0;
	fuzzhead_check_bytes(buf + skipped, head_len);
	fuzzhead_check_prefixes(buf, skipped, head_len, FUZZ_MAX_HEAD,
	    fuzz_hash(data, size));
	/* exchange.c skips leading CRLFs on responses too. */
	if (parser_head(buf + skipped, head_len, PARSER_RESPONSE, &fuzz_in,
	    &why) != 0) {
		FUZZ_CHECK(why != NULL);
		return 0;
	}
	fuzzhead_check_msg(&fuzz_in, buf + skipped, head_len);
	FUZZ_CHECK(fuzz_in.status >= 100 && fuzz_in.status <= 999);
	for (ctx = 0; ctx < FUZZ_NCTX; ctx++) {
		memset(&q, 0, sizeof(q));
		q.is_head = (ctx & FUZZ_CTX_HEAD) != 0;
		q.upgrade = (ctx & FUZZ_CTX_UPGRADE) != 0 &&
		    !(ctx & FUZZ_CTX_HTTP10);
		q.keep_alive = (ctx & FUZZ_CTX_KEEP) != 0;
		if (framing_response(&fuzz_in, &q, &r, &why) != 0) {
			FUZZ_CHECK(why != NULL);
			continue;
		}
		fuzz_check_decision(&fuzz_in, &q, &r);
		fuzz_plan(&r, ctx, &rw);
		fuzz_check_forwarded(&q, &r, &rw);
	}
	return 0;
}
