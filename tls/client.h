/*
 * Client-side TLS toward backend servers flagged "tls": the context a
 * backend's connections share (versions, CA, verification), and what each
 * connection sets for its server (SNI, the name or address verified).
 * Used by workers (proxying) and the master (health checks).
 */
#ifndef WEIR_TLS_CLIENT_H
#define WEIR_TLS_CLIENT_H

#include <openssl/ssl.h>

struct config;
struct backend_conf;
struct server_conf;

/* A context for be's TLS servers; NULL with "FILE:LINE: reason" in err. */
SSL_CTX *tls_client_ctx(const struct config *cfg,
    const struct backend_conf *be, char *err, size_t errlen);
/*
 * A new client SSL on fd for server sv of be: SNI and the verified name
 * (be->tls_sni) or address. NULL on failure.
 */
SSL *tls_client_new(SSL_CTX *ctx, const struct backend_conf *be,
    const struct server_conf *sv, int fd);

#endif
