/* Owns the small fixed responses weir sends on its own behalf. */
#include "autoconf.h"

#include <stdio.h>

#include "http/buf.h"
#include "worker/errpage.h"

struct errpage_status {
	int status;
	const char *reason;
};

static const struct errpage_status errpage_statuses[] = {
	{ 308, "Permanent Redirect" },
	{ 400, "Bad Request" },
	{ 405, "Method Not Allowed" },
	{ 408, "Request Timeout" },
	{ 413, "Content Too Large" },
	{ 414, "URI Too Long" },
	{ 417, "Expectation Failed" },
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
errpage_append(struct buf *out, int status, const char *location,
    size_t loclen, const char *id_name, const char *id)
{
	const char *reason = errpage_reason(status);
	size_t room = buf_tail(out, ERRPAGE_ROOM + loclen);
	int body_len, n;

	body_len = snprintf(NULL, 0, "%d %s\n", status, reason);
	n = snprintf(out->data + out->end, room,
	    "HTTP/1.1 %d %s\r\n"
	    "Server: weir\r\n"
	    "Content-Type: text/plain\r\n"
	    "Content-Length: %d\r\n"
	    "%s%s"
	    "%s%.*s%s"
	    "%s%s%s%s"
	    "Connection: close\r\n"
	    "\r\n"
	    "%d %s\n",
	    status, reason, body_len,
	    status == 503 ? "Retry-After: 1\r\n" : "",
	    /* RFC 9110 15.5.6: a 405 lists the methods that are allowed. */
	    status == 405 ? "Allow: GET, HEAD, POST, PUT, DELETE, OPTIONS, "
	    "PATCH\r\n" : "",
	    loclen > 0 ? "Location: " : "", (int)loclen,
	    loclen > 0 ? location : "", loclen > 0 ? "\r\n" : "",
	    id_name != NULL ? id_name : "", id_name != NULL ? ": " : "",
	    id_name != NULL ? id : "", id_name != NULL ? "\r\n" : "",
	    status, reason);
	if (n < 0 || (size_t)n >= room)
		return -1;
	out->end += (size_t)n;
	return 0;
}
