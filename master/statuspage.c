/*
 * Renders GET /status: for now a placeholder page that points to the JSON
 * API, until the page itself lands.
 */
#include "autoconf.h"

#include <event2/buffer.h>

#include "master/statuspage.h"

static const char statuspage_html[] =
    "<!DOCTYPE html>\n"
    "<html lang=\"en\">\n"
    "<head><meta charset=\"utf-8\"><title>weir status</title></head>\n"
    "<body>\n"
    "<h1>weir</h1>\n"
    "<p>The status page is not written yet. The same information is in\n"
    "<a href=\"/api/v1/status\">/api/v1/status</a> and\n"
    "<a href=\"/api/v1/backends\">/api/v1/backends</a>.</p>\n"
    "</body>\n"
    "</html>\n";

void
statuspage_render(struct master *m, struct evbuffer *out)
{
	(void)m;
	evbuffer_add(out, statuspage_html, sizeof(statuspage_html) - 1);
}
