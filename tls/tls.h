/*
 * The TLS contexts of one config generation. The master builds them (reading
 * every certificate and CA file) before it forks the generation's workers,
 * which inherit them; a reload builds a new set beside the old one.
 */
#ifndef WEIR_TLS_H
#define WEIR_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

struct config;
struct tls_server;

struct tls_gen {
	struct tls_server **frontends;	/* per frontend; NULL: no TLS listener */
	SSL_CTX **backends;		/* per backend; NULL: no TLS server */
	size_t nfrontends, nbackends;
};

/*
 * Build every context cfg needs. Returns 0 and *out (NULL when cfg has no
 * TLS at all), or -1 with "FILE:LINE: reason" in err. With warn, problems
 * that do not stop weir (an expired certificate) are logged as warnings.
 */
int tls_gen_build(const struct config *cfg, bool warn, struct tls_gen **out,
    char *err, size_t errlen);
void tls_gen_free(struct tls_gen *g);

/* The context a frontend's TLS connections start with, or NULL. */
SSL_CTX *tls_gen_frontend(const struct tls_gen *g, size_t frontend);
/* The client context for a backend's TLS servers, or NULL. */
SSL_CTX *tls_gen_backend(const struct tls_gen *g, size_t backend);

/*
 * Can this kernel carry TLS records itself (kTLS)? why says what was
 * found. Asked once per process (a loopback connection is opened for it).
 */
bool tls_ktls_available(const char **why);

/* "reason" from OpenSSL's error queue (emptied), or fallback. */
const char *tls_error(const char *fallback);

#endif
