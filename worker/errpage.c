/* Owns the small fixed responses weir sends on its own behalf. */
#include "autoconf.h"

#include <stdio.h>
#include <string.h>

#include "http/buf.h"
#include "worker/errpage.h"

struct errpage_status {
	int status;
	const char *reason;
};

static const struct errpage_status errpage_statuses[] = {
	{ 200, "OK" },
	{ 201, "Created" },
	{ 202, "Accepted" },
	{ 204, "No Content" },
	{ 301, "Moved Permanently" },
	{ 302, "Found" },
	{ 303, "See Other" },
	{ 307, "Temporary Redirect" },
	{ 308, "Permanent Redirect" },
	{ 400, "Bad Request" },
	{ 401, "Unauthorized" },
	{ 403, "Forbidden" },
	{ 404, "Not Found" },
	{ 405, "Method Not Allowed" },
	{ 410, "Gone" },
	{ 408, "Request Timeout" },
	{ 413, "Content Too Large" },
	{ 414, "URI Too Long" },
	{ 417, "Expectation Failed" },
	{ 429, "Too Many Requests" },
	{ 431, "Request Header Fields Too Large" },
	{ 500, "Internal Server Error" },
	{ 501, "Not Implemented" },
	{ 502, "Bad Gateway" },
	{ 503, "Service Unavailable" },
	{ 504, "Gateway Timeout" },
	{ 505, "HTTP Version Not Supported" },
};

const char *
errpage_reason(int status)
{
	for (size_t i = 0; i < sizeof(errpage_statuses) /
	    sizeof(errpage_statuses[0]); i++)
		if (errpage_statuses[i].status == status)
			return errpage_statuses[i].reason;
	return "Error";
}

int
errpage_append(struct buf *out, int status, const struct errpage_extra *ex)
{
	const char *reason = errpage_reason(status), *body = ex->body;
	size_t blen = ex->blen, room = buf_tail(out, ERRPAGE_ROOM + ex->hlen +
	    blen);
	bool retry_after = ex->hlen > 0 && memmem(ex->hdrs, ex->hlen,
	    "Retry-After:", 12) != NULL;
	char text[64];
	int n;

	if (body == NULL) {
		blen = (size_t)snprintf(text, sizeof(text), "%d %s\n", status,
		    reason);
		body = text;
	}
	if (status == 204 || status == 304)
		blen = 0;		/* RFC 9110 6.4.1: never a body */
	n = snprintf(out->data + out->end, room,
	    "HTTP/1.1 %d %s\r\n"
	    "Server: weir\r\n"
	    "%s"
	    "Content-Length: %zu\r\n"
	    "%s%s"
	    "%.*s"
	    "%s%s%s%s"
	    "%s"
	    "\r\n"
	    "%.*s",
	    status, reason, blen > 0 ? "Content-Type: text/plain\r\n" : "",
	    blen, status == 503 && !retry_after ? "Retry-After: 1\r\n" : "",
	    /* RFC 9110 15.5.6: a 405 lists the methods that are allowed. */
	    status == 405 ? "Allow: GET, HEAD, POST, PUT, DELETE, OPTIONS, "
	    "PATCH\r\n" : "",
	    (int)ex->hlen, ex->hlen > 0 ? ex->hdrs : "",
	    ex->id_name != NULL ? ex->id_name : "",
	    ex->id_name != NULL ? ": " : "",
	    ex->id_name != NULL ? ex->id : "",
	    ex->id_name != NULL ? "\r\n" : "",
	    !ex->keep ? "Connection: close\r\n" :
	    ex->http10 ? "Connection: keep-alive\r\n" : "",
	    ex->head ? 0 : (int)blen, body);
	if (n < 0 || (size_t)n >= room)
		return -1;
	out->end += (size_t)n;
	return 0;
}
