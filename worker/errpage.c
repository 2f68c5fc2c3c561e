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

/* RFC 9110 section 15 and 6585's 429, in order. */
static const struct errpage_status errpage_statuses[] = {
	{ 200, "OK" }, { 201, "Created" }, { 202, "Accepted" },
	{ 203, "Non-Authoritative Information" }, { 204, "No Content" },
	{ 205, "Reset Content" }, { 206, "Partial Content" },
	{ 300, "Multiple Choices" }, { 301, "Moved Permanently" },
	{ 302, "Found" }, { 303, "See Other" }, { 304, "Not Modified" },
	{ 307, "Temporary Redirect" }, { 308, "Permanent Redirect" },
	{ 400, "Bad Request" }, { 401, "Unauthorized" },
	{ 402, "Payment Required" }, { 403, "Forbidden" },
	{ 404, "Not Found" }, { 405, "Method Not Allowed" },
	{ 406, "Not Acceptable" }, { 407, "Proxy Authentication Required" },
	{ 408, "Request Timeout" }, { 409, "Conflict" }, { 410, "Gone" },
	{ 411, "Length Required" }, { 412, "Precondition Failed" },
	{ 413, "Content Too Large" }, { 414, "URI Too Long" },
	{ 415, "Unsupported Media Type" }, { 416, "Range Not Satisfiable" },
	{ 417, "Expectation Failed" }, { 421, "Misdirected Request" },
	{ 422, "Unprocessable Content" }, { 426, "Upgrade Required" },
	{ 428, "Precondition Required" }, { 429, "Too Many Requests" },
	{ 431, "Request Header Fields Too Large" },
	{ 451, "Unavailable For Legal Reasons" },
	{ 500, "Internal Server Error" }, { 501, "Not Implemented" },
	{ 502, "Bad Gateway" }, { 503, "Service Unavailable" },
	{ 504, "Gateway Timeout" }, { 505, "HTTP Version Not Supported" },
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
	char text[64], length[40] = "";
	int n;

	if (body == NULL) {
		blen = (size_t)snprintf(text, sizeof(text), "%d %s\n", status,
		    reason);
		body = text;
	}
	/* RFC 9110 6.4.1 and 8.6: no body, and no Content-Length either. */
	if (status == 204 || status == 304)
		blen = 0;
	else
		snprintf(length, sizeof(length), "Content-Length: %zu\r\n",
		    blen);
	n = snprintf(out->data + out->end, room,
	    "HTTP/1.1 %d %s\r\n"
	    "Server: weir\r\n"
	    "%s"
	    "%s"
	    "%s%s"
	    "%.*s"
	    "%s%s%s%s"
	    "%s"
	    "\r\n"
	    "%.*s",
	    status, reason, blen > 0 ? "Content-Type: text/plain\r\n" : "",
	    length, status == 503 && !retry_after ? "Retry-After: 1\r\n" : "",
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
