/* Responses weir writes itself: errors and 100 Continue. */
#ifndef WEIR_ERRPAGE_H
#define WEIR_ERRPAGE_H

#include <stdbool.h>
#include <stddef.h>

struct buf;

/* What a page takes besides its Location: status line, headers, body. */
#define ERRPAGE_ROOM	768

/* Reason phrase for a status weir may send ("Bad Gateway"). */
const char *errpage_reason(int status);
/* What an answer carries besides its status line; all optional. */
struct errpage_extra {
	const char *hdrs;		/* header lines, each ending in CRLF: a
					 * Location, WWW-Authenticate,
					 * Retry-After */
	size_t hlen;
	const char *body;		/* text/plain body; NULL: "STATUS
					 * Reason" */
	size_t blen;
	const char *id_name, *id;	/* the request id header, or NULL */
	bool head;			/* answering HEAD: the body's length,
					 * not its bytes */
	bool keep;			/* the connection stays open */
	bool http10;			/* ... for an HTTP/1.0 client, which
					 * must be told so */
};

/*
 * Append a complete response for status and what ex adds to out, with
 * "Connection: close" unless ex->keep. Returns 0, or -1 if it does not fit (the caller just
 * closes).
 */
int errpage_append(struct buf *out, int status,
    const struct errpage_extra *ex);

#endif
