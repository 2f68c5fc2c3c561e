/* The HTML page of GET /status on the admin listener. Private to master/. */
#ifndef WEIR_STATUSPAGE_H
#define WEIR_STATUSPAGE_H

struct evbuffer;
struct master;

/* Append the page (a complete HTML document) to out. */
void statuspage_render(struct master *m, struct evbuffer *out);

#endif
