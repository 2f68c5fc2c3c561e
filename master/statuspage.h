/* The status page's files, served by the admin listener. */
#ifndef WEIR_STATUSPAGE_H
#define WEIR_STATUSPAGE_H

#include <stdbool.h>

struct evhttp_request;

/* Answer a GET for /status, /status.js or /status.css; false if path is none. */
bool statuspage_serve(struct evhttp_request *req, const char *path);

#endif
