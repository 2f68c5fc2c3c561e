/* Responses weir writes itself: errors and 100 Continue. */
#ifndef WEIR_ERRPAGE_H
#define WEIR_ERRPAGE_H

#include <stddef.h>

struct buf;

/* What a page takes besides its Location: status line, headers, body. */
#define ERRPAGE_ROOM	768

/* Reason phrase for a status weir may send ("Bad Gateway"). */
const char *errpage_reason(int status);
/*
 * Append a complete "Connection: close" response for status to out, with
 * "Location: location" when loclen > 0 (a redirect), and the header
 * "id_name: id" unless id_name is NULL (the request id). Returns 0, or -1
 * if it does not fit (the caller just closes).
 */
int errpage_append(struct buf *out, int status, const char *location,
    size_t loclen, const char *id_name, const char *id);

#endif
