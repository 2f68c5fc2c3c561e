/*
 * Server-side TLS for a frontend: its certificates (grouped by the names
 * they carry, RSA and ECDSA side by side), SNI choice, ALPN, protocol
 * versions and ciphers, client certificates (mTLS).
 */
#ifndef WEIR_TLS_SERVER_H
#define WEIR_TLS_SERVER_H

#include <stdbool.h>

#include <openssl/ssl.h>

struct config;
struct frontend_conf;
struct tls_server;

/* Read and check fe's certificates; NULL with "FILE:LINE: reason" in err. */
struct tls_server *tls_server_build(const struct config *cfg,
    const struct frontend_conf *fe, bool warn, char *err, size_t errlen);
void tls_server_free(struct tls_server *ts);
/* The context new connections start with (the first tls_cert's). */
SSL_CTX *tls_server_ctx(const struct tls_server *ts);

#endif
