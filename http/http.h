/*
 * The HTTP/1.1 message layer: pure functions over byte buffers, no I/O,
 * used by the workers, the master's admin listener and the balancer.
 *
 *   scan.c     finds the end of a header section and rejects bad bytes
 *              (bare CR, obs-fold, CTLs, non-token names, space before ':').
 *   parser.c   the only file that knows http-parser: tokenizes a scanned
 *              head into struct http_msg.
 *   framing.c  decides message framing and connection semantics (RFC 9112
 *              section 6), in weir's own code: the parser is not the judge.
 *   chunk.c    a strict chunked-body decoder and the chunk encoder.
 *   rewrite.c  re-serializes heads for forwarding (hop-by-hop removal,
 *              X-Forwarded-*, weir's own framing headers).
 *   target.c   normalises request paths for routing and forwarding.
 *   hdrrule.c  header rules that rewrite adds, replaces and removes lines
 *              with (declared in hdrrule.h).
 */
#ifndef WEIR_HTTP_H
#define WEIR_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define HTTP_MAX_HEADERS 128

/* A run of bytes inside the buffer that holds the head being processed. */
struct http_span {
	const char *p;
	size_t len;
};

/* Fields weir itself acts on, recognized once per header by the parser. */
enum http_field {
	HTTP_F_OTHER,
	HTTP_F_HOST,
	HTTP_F_CONTENT_LENGTH,
	HTTP_F_TRANSFER_ENCODING,
	HTTP_F_CONNECTION,
	HTTP_F_KEEP_ALIVE,
	HTTP_F_PROXY_CONNECTION,
	HTTP_F_TE,
	HTTP_F_TRAILER,
	HTTP_F_UPGRADE,
	HTTP_F_EXPECT,
	HTTP_F_X_FORWARDED_FOR,
	HTTP_F_X_FORWARDED_PROTO,
	HTTP_F_X_FORWARDED_HOST,
	HTTP_F_X_CLIENT_SUBJECT,	/* only weir sets it (mTLS) */
	HTTP_F_X_REAL_IP,
	HTTP_F_FORWARDED,
	HTTP_F_UNDERSCORE,		/* any other name containing '_' */
	HTTP_F_REQUEST_ID,		/* the frontend's request_id header:
					 * never set by the parser, only by
					 * alog.c when weir writes its own */
	HTTP_F_CREDENTIALS,		/* Authorization weir checked and keeps
					 * from the backend: never set by the
					 * parser, only by worker/auth.c */
};

struct http_header {
	struct http_span name;
	struct http_span value;		/* leading and trailing OWS removed */
	enum http_field id;
};

enum http_method {
	HTTP_M_OTHER,
	HTTP_M_GET,
	HTTP_M_HEAD,
	HTTP_M_POST,
	HTTP_M_PUT,
	HTTP_M_DELETE,
	HTTP_M_OPTIONS,
	HTTP_M_CONNECT,
	HTTP_M_TRACE,
	HTTP_M_PATCH,
};

struct http_msg {
	/* requests */
	enum http_method method;
	struct http_span method_name;
	struct http_span target;	/* request-target as received */
	/* responses */
	int status;
	struct http_span reason;
	/* both */
	int version_major;
	int version_minor;
	struct http_header headers[HTTP_MAX_HEADERS];
	size_t nheaders;
	size_t head_len;		/* bytes of head including the blank line */
	size_t skipped;			/* bytes of leading empty lines ignored
					 * (requests; set by the caller) */
};

/* ---- scan.c ---- */

enum scan_result {
	SCAN_OK,		/* *head_len set: head ends there */
	SCAN_INCOMPLETE,	/* no blank line yet and still under the limit */
	SCAN_TOO_LARGE,		/* limit reached without a complete head: 431 / 502 */
	SCAN_BAD,		/* forbidden bytes or syntax: 400 / 502 */
};

/*
 * Look at buf[0..len) for a complete header section (start line, fields,
 * CRLF CRLF). Leading CRLF pairs before a request line are ignored (RFC
 * 9112 2.2): *skipped is their length in bytes, the head starts at
 * buf + *skipped and *head_len does not include them. Lines must end in
 * CRLF. Rejects: bare CR or LF, NUL and other CTLs except HTAB in values,
 * obs-fold (a field line starting with SP/HTAB), a field name that is not
 * an RFC 9110 token, whitespace between name and ':', a line with no ':'.
 * Start line bytes must be visible ASCII or SP. max is the size limit for
 * the head (skipped lines count toward it). *why gets a static reason on
 * SCAN_BAD / SCAN_TOO_LARGE.
 */
enum scan_result scan_head(const char *buf, size_t len, size_t max,
    size_t *skipped, size_t *head_len, const char **why);

/* ---- parser.c ---- */

enum parser_kind {
	PARSER_REQUEST,
	PARSER_RESPONSE,
};

/*
 * Tokenize a head already accepted by scan_head (buf points at the start
 * line, len == head_len). Fills msg; spans point into buf. Returns 0, or an
 * HTTP status to answer with on failure: 400 malformed, 431 too many
 * fields, 501 method unknown to the tokenizer, 505 version not 1.0/1.1.
 * For responses, any failure returns 502. *why gets a static reason.
 */
int parser_head(const char *buf, size_t len, enum parser_kind kind,
    struct http_msg *msg, const char **why);
/* Which field a header name is (case-insensitive), HTTP_F_OTHER if none weir knows. */
enum http_field parser_field_id(struct http_span name);
/* The tokenizer library and its version, e.g. "http-parser 2.9.4". */
const char *parser_version(void);

/* ---- framing.c ---- */

enum http_body {
	HTTP_BODY_NONE,
	HTTP_BODY_LENGTH,
	HTTP_BODY_CHUNKED,
	HTTP_BODY_EOF,		/* responses only: read until the backend closes */
};

/* Connection-header tokens and headers that framing found worth knowing. */
#define HTTP_CONN_CLOSE		0x01
#define HTTP_CONN_KEEPALIVE	0x02
#define HTTP_CONN_UPGRADE	0x04
#define HTTP_MAX_CONN_NAMES	16

struct http_req_info {
	enum http_body body;
	uint64_t length;		/* HTTP_BODY_LENGTH */
	bool keep_alive;		/* client wants the connection kept */
	bool expect_continue;		/* "Expect: 100-continue" */
	bool upgrade;			/* Upgrade requested (Connection: upgrade + Upgrade) */
	bool is_head;
	bool idempotent;		/* GET HEAD OPTIONS PUT DELETE TRACE */
	bool absolute_form;		/* target was absolute-form */
	struct http_span host;		/* authority to forward as Host */
	struct http_span path;		/* origin-form target to forward */
	/* Extra header names listed in Connection (to drop as hop-by-hop). */
	struct http_span conn_names[HTTP_MAX_CONN_NAMES];
	size_t nconn_names;
};

/*
 * Take the next comma-separated element of *rest (a field value's list),
 * trimmed of OWS; an empty value yields one empty element. False when the
 * list is used up (start with *rest = the whole value).
 */
bool framing_elem(struct http_span *rest, struct http_span *elem);

/*
 * Decide framing and semantics of a request (RFC 9112 6.3, RFC 9110).
 * Returns 0, or the status to answer with: 400 (ambiguous or invalid
 * framing, CL+TE, TE in HTTP/1.0, bad or differing CL, bad/missing/duplicate
 * Host in HTTP/1.1, bad target form, Connection listing too many names),
 * 501 (a transfer coding other than chunked, CONNECT), 417 (Expect other
 * than 100-continue), 413 if Content-Length exceeds max_body
 * (max_body == 0: unlimited). *why gets a static reason.
 */
int framing_request(const struct http_msg *msg, uint64_t max_body,
    struct http_req_info *out, const char **why);

struct http_resp_info {
	enum http_body body;
	uint64_t length;		/* the Content-Length value when has_length */
	bool has_length;		/* a valid Content-Length was present (HEAD and
					 * 304 responses keep it although no body follows) */
	bool keep_alive;		/* backend allows reusing the connection */
	bool informational;		/* 1xx other than 101: another head follows */
	bool switching;			/* 101 and the request asked to upgrade */
	struct http_span conn_names[HTTP_MAX_CONN_NAMES];
	size_t nconn_names;
};

/*
 * Decide framing of a backend response to req. HEAD, 1xx, 204, 304: no
 * body. Returns 0, or -1 if the response must be answered with 502 and the
 * backend connection closed (CL+TE, differing or invalid CL, TE other than
 * exactly chunked, 101 without an upgrade request).
 */
int framing_response(const struct http_msg *msg, const struct http_req_info *req,
    struct http_resp_info *out, const char **why);

/* Case-insensitive comparison of a span with a NUL-terminated string. */
bool http_span_eq(struct http_span s, const char *lit);

/* ---- chunk.c ---- */

enum chunk_state {
	CHUNK_SIZE,
	CHUNK_EXT,
	CHUNK_SIZE_LF,
	CHUNK_DATA,
	CHUNK_DATA_CR,
	CHUNK_DATA_LF,
	CHUNK_TRAILER,
	CHUNK_DONE,
};

struct chunk_dec {
	enum chunk_state state;
	uint64_t remaining;		/* data bytes left in the current chunk */
	unsigned digits;
	size_t trailer_bytes;		/* bound on the trailer section */
	size_t line_bytes;		/* bound on one size/trailer line */
	unsigned trailer_line_len;	/* length of the current trailer line */
	unsigned trailer_part;		/* where in that line (chunk.c) */
};

enum chunk_result {
	CHUNK_MORE,	/* need more input */
	CHUNK_END,	/* last chunk and trailers consumed */
	CHUNK_ERR,	/* malformed: 400 (request) / 502 (response) */
};

void chunk_init(struct chunk_dec *d);
/*
 * Consume framing from in[0..len). Stops as soon as it has data to hand out:
 * *consumed is how many input bytes were used, and *data / *data_len point
 * at a run of body data inside in (possibly 0 bytes). Call again with the
 * rest. Chunk extensions are accepted only as ';' followed by visible ASCII,
 * SP or HTAB; sizes are 1-16 hex digits with no overflow; trailers are read
 * and dropped (never forwarded, never consulted for framing), each line
 * checked like a header line and the whole section bounded by 16 KiB.
 */
enum chunk_result chunk_decode(struct chunk_dec *d, const char *in, size_t len,
    size_t *consumed, const char **data, size_t *data_len);
/* Write "<hex>\r\n" for a chunk of n bytes into out (>= 20 bytes); returns length. */
size_t chunk_size_line(char *out, uint64_t n);

/* ---- rewrite.c ---- */

struct hdrrule_list;
struct hdrrule_vars;

struct rewrite_req {
	const char *client_ip;		/* the peer: appended to X-Forwarded-For */
	const char *real_ip;		/* X-Real-IP (NULL: client_ip) */
	bool trusted;			/* peer is a trusted proxy: keep its
					 * X-Forwarded-For chain and Forwarded */
	bool drop_underscore;		/* drop names containing '_' */
	const char *const *upgrade_allow;	/* protocols kept in Upgrade */
	size_t nupgrade_allow;
	const char *proto;		/* "http" or "https" */
	const char *client_subject;	/* verified client certificate's
					 * subject (mTLS), or NULL */
	bool chunked;			/* frame the body as chunked */
	bool has_length;		/* send Content-Length: length */
	uint64_t length;
	bool upgrade;			/* keep Upgrade, send Connection: upgrade */
	struct http_span reqid_name;	/* request id header (len 0: none) */
	struct http_span reqid;		/* ... and its value */
	/* header rules (http/hdrrule.h), NULL: none; {client_ip} is real_ip
	 * (else client_ip), {request_id} reqid, {host} req->host */
	const struct hdrrule_list *rules;
};

/*
 * Serialize the request to forward: "METHOD path HTTP/1.1", Host (from
 * req->host), every end-to-end field in order except Content-Length,
 * Transfer-Encoding, Host, Expect, X-Forwarded-Proto, X-Forwarded-Host,
 * X-Real-IP, Forwarded (unless rw->trusted), names with '_' (when
 * rw->drop_underscore) and hop-by-hop fields (Connection, Keep-Alive,
 * Proxy-Connection, TE, Trailer, Upgrade, every name in Connection); then
 * X-Forwarded-For (from a trusted peer its previous values joined with ", "
 * plus client_ip; else client_ip alone), X-Real-IP, X-Forwarded-Proto,
 * X-Forwarded-Host (the Host), X-Client-Subject (rw->client_subject, when
 * set; a client's own is always dropped), the request id header
 * (rw->reqid_name, when
 * set; fields tagged HTTP_F_REQUEST_ID are dropped), the framing header,
 * and "Connection: upgrade" + the allowed Upgrade protocols when
 * rw->upgrade. With rw->rules, fields and weir's own lines that a set or
 * del rule names are left out (a set Host gives the Host line its value)
 * and the lines the rules add come before the framing header.
 * Returns bytes written, or 0 if it does not fit in cap.
 */
size_t rewrite_request(char *out, size_t cap, const struct http_msg *msg,
    const struct http_req_info *req, const struct rewrite_req *rw);

/* How many protocols of msg's Upgrade lines are in allow[0..nallow). */
size_t rewrite_upgrade_allowed(const struct http_msg *msg,
    const char *const *allow, size_t nallow);

struct rewrite_resp {
	bool chunked;			/* frame the body as chunked to the client */
	bool has_length;		/* forward Content-Length: length */
	uint64_t length;
	bool keep_alive;		/* the client connection stays open */
	bool client_http10;		/* HTTP/1.0 client: send "Connection: keep-alive" when kept */
	bool upgrade;			/* 101: keep Upgrade, send Connection: upgrade */
	struct http_span reqid_name;	/* request id header (len 0: none) */
	struct http_span reqid;		/* ... and its value */
	const struct hdrrule_list *rules;	/* header rules for final and
					 * 101 heads; NULL: none */
	const struct hdrrule_vars *vars;	/* ... and their variables */
};

/*
 * Serialize the response head to send to the client: status line as
 * "HTTP/1.1 <status> <reason>", end-to-end fields in order without
 * hop-by-hop ones, Content-Length and Transfer-Encoding (weir writes its
 * own) and fields tagged HTTP_F_REQUEST_ID, then the request id header
 * (rw->reqid_name, when set), the framing header (none for 204) and the
 * Connection header weir decided on.
 * For a 1xx other than 101 only the status line and end-to-end fields are
 * written (no framing, no Connection) and rules do not apply. Rules
 * apply as in rewrite_request, their lines before the framing header.
 * Returns bytes written, or 0 if it does not fit.
 */
size_t rewrite_response(char *out, size_t cap, const struct http_msg *msg,
    const struct http_resp_info *resp, const struct rewrite_resp *rw);

/* ---- target.c ---- */
/*
 * Normalise the path p[0..len) (origin form, without its query) into out
 * (room for len bytes; out may be p itself): percent-encoded unreserved
 * characters are decoded, other escapes get upper-case hex digits, and a
 * run of '/' becomes one. Returns the new length, or -1 for a path weir
 * refuses (answered 400): one not starting with '/', a '.' or '..'
 * segment (plain or encoded), an encoded '/', '\' or NUL, a bad escape,
 * a '\' or '#'.
 */
ssize_t target_normalize(const char *p, size_t len, char *out);

#endif
