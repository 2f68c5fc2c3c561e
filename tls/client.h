/*
 * Client-side TLS toward backend servers flagged "tls": the context a
 * backend's connections share (versions, CA, verification), and what each
 * connection sets for its server (SNI, the name or address verified).
 * Used by workers (proxying) and the master (health checks).
 */
#ifndef WEIR_TLS_CLIENT_H
#define WEIR_TLS_CLIENT_H

#include <stddef.h>
#include <sys/types.h>

#include <openssl/ssl.h>

struct config;
struct backend_conf;
struct server_conf;

/* A context for be's TLS servers; NULL with "FILE:LINE: reason" in err. */
SSL_CTX *tls_client_ctx(const struct config *cfg,
    const struct backend_conf *be, char *err, size_t errlen);
/*
 * A new client SSL on fd for a server of be at sa: SNI and the verified name
 * (be->tls_sni) or address. With slot, the connection resumes *slot if
 * set, and each new session the server gives replaces *slot (so slot must
 * outlive the SSL). NULL on failure.
 */
SSL *tls_client_new(SSL_CTX *ctx, const struct backend_conf *be,
    const struct sockaddr *sa, int fd, SSL_SESSION **slot);
/* The same from copies: sni (NULL: none, ip is verified), ip as text. */
SSL *tls_client_open(SSL_CTX *ctx, const char *sni, const char *ip, int fd,
    SSL_SESSION **slot);

/* What an SSL call waits for before it can go on. */
enum tls_want {
	TLS_WANT_NONE,
	TLS_WANT_READ,
	TLS_WANT_WRITE,
};

/*
 * Drive the handshake: 0 when done, 1 with *want set while it waits, or
 * -1 with why ("certificate verify failed (unable to get local issuer
 * certificate)") filled. OpenSSL's error queue is left empty.
 */
int tls_client_handshake(SSL *ssl, enum tls_want *want, char *why,
    size_t whylen);
/*
 * recv() and send() through ssl: n > 0, 0 at the end (close_notify or a
 * FIN), or -1 with errno (EAGAIN with *want set: wait for that event).
 */
ssize_t tls_client_recv(SSL *ssl, void *buf, size_t len,
    enum tls_want *want);
ssize_t tls_client_send(SSL *ssl, const void *buf, size_t len,
    enum tls_want *want);

#endif
