/*
 * Serves the status page: one HTML file with its script and style sheet,
 * compiled in, so the page needs nothing but this weir. Its script reads
 * the JSON API; a strict Content-Security-Policy allows nothing else.
 */
#include "autoconf.h"

#include <stdbool.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "master/statuspage-assets.h"
#include "master/statuspage.h"

struct statuspage_file {
	const char *path;
	const char *type;
	const char *body;
	size_t len;
};

#define STATUSPAGE_FILE(p, t, b)	{ p, t, b, sizeof(b) - 1 }

static const struct statuspage_file statuspage_files[] = {
	STATUSPAGE_FILE("/status", "text/html; charset=utf-8", statuspage_html),
	STATUSPAGE_FILE("/status.js", "text/javascript; charset=utf-8",
	    statuspage_js),
	STATUSPAGE_FILE("/status.css", "text/css; charset=utf-8",
	    statuspage_css),
};

/* Only this origin's script, style and API: no inline code, no framing. */
#define STATUSPAGE_CSP	"default-src 'none'; script-src 'self'; " \
	"style-src 'self'; connect-src 'self'; img-src 'self'; " \
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

bool
statuspage_serve(struct evhttp_request *req, const char *path)
{
	struct evkeyvalq *hdr = evhttp_request_get_output_headers(req);
	struct evbuffer *out;

	for (size_t i = 0; i < sizeof(statuspage_files) /
	    sizeof(statuspage_files[0]); i++) {
		const struct statuspage_file *f = &statuspage_files[i];

		if (strcmp(path, f->path) != 0)
			continue;
		out = evbuffer_new();
		if (out == NULL) {
			evhttp_send_error(req, HTTP_INTERNAL, NULL);
			return true;
		}
		evbuffer_add_reference(out, f->body, f->len, NULL, NULL);
		evhttp_add_header(hdr, "Content-Type", f->type);
		evhttp_add_header(hdr, "Content-Security-Policy", STATUSPAGE_CSP);
		evhttp_add_header(hdr, "X-Content-Type-Options", "nosniff");
		evhttp_add_header(hdr, "Cache-Control", "no-cache");
		evhttp_send_reply(req, HTTP_OK, "OK", out);
		evbuffer_free(out);
		return true;
	}
	return false;
}
