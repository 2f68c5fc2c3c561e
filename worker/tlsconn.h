/*
 * TLS on client connections: the handshake (with the checks weir makes
 * before and during it), and reads and writes through it with the
 * semantics of recv(2) and send(2), so conn.c moves bytes the same way
 * over TLS and plain TCP.
 */
#ifndef WEIR_TLSCONN_H
#define WEIR_TLSCONN_H

#include <stddef.h>
#include <sys/types.h>

#include <openssl/ssl.h>

struct conn;

/* c->tls_wants: which socket event the last TLS call is waiting for. */
#define TLSCONN_HS_WANTS_WRITE	0x01	/* the handshake, to write */
#define TLSCONN_RD_WANTS_WRITE	0x02	/* a read, to write first */
#define TLSCONN_WR_WANTS_READ	0x04	/* a write, to read first */
#define TLSCONN_RD_DRY		0x08	/* the last read wanted more bytes */

/* ClientHello bytes accepted before it is whole, and the whole handshake. */
#define TLSCONN_HELLO_MAX	(16 * 1024)
#define TLSCONN_HANDSHAKE_MAX	(64 * 1024)

enum tlsconn_step {
	TLSCONN_DONE,		/* handshake complete */
	TLSCONN_AGAIN,		/* wait for the event c->tls_wants says */
	TLSCONN_PLAIN,		/* the client speaks plain HTTP: answer 400 */
	TLSCONN_FAILED,		/* close; tlsconn_error() says why */
};

/* Start TLS on an accepted connection; -1 when out of memory. */
int tlsconn_new(struct conn *c, SSL_CTX *ctx);
/* Move the handshake on as far as the socket allows. */
enum tlsconn_step tlsconn_handshake(struct conn *c);
/*
 * As recv(2) and send(2) on c->fd: bytes moved, 0 at the end of the
 * client's stream (close_notify or FIN), or -1 with errno EAGAIN (the
 * event to wait for is in c->tls_wants) or another errno, when
 * tlsconn_error() says what failed.
 */
ssize_t tlsconn_recv(struct conn *c, void *buf, size_t len);
ssize_t tlsconn_send(struct conn *c, const void *buf, size_t len);
/* Decrypted bytes wait inside the TLS layer (no socket event will come). */
int tlsconn_pending(const struct conn *c);
/* Send close_notify before our side shuts (best effort, never waits). */
void tlsconn_close_notify(struct conn *c);
void tlsconn_free(struct conn *c);
/* Why the last TLS call on this worker failed. */
const char *tlsconn_error(void);
/* The verified client certificate's subject, RFC 2253; 0 when none. */
size_t tlsconn_subject(struct conn *c, char *buf, size_t len);

#endif
