/*
 * Owns client-side TLS toward backend servers: each backend's context,
 * each connection's SNI, verified name and resumed session, and the
 * non-blocking handshake, reads and writes with recv()/send() semantics.
 */
#include "autoconf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "common/config.h"
#include "tls/client.h"
#include "tls/tls.h"

/* ALPN: length-prefixed protocol names; only HTTP/1.1 is spoken. */
static const unsigned char tls_client_alpn[] = "\x08http/1.1";

/*
 * A new session from the server (TLS 1.3 tickets arrive after the
 * handshake, often with the first response): keep a copy in the
 * connection's slot, replacing the one before. A copy, because sess stays
 * the connection's own, and SSL_free() of a connection that was not shut
 * down with close_notify (ours never are) marks its session not resumable.
 */
static int
tls_client_new_session_cb(SSL *ssl, SSL_SESSION *sess)
{
	SSL_SESSION **slot = SSL_get_app_data(ssl), *copy;

	if (slot == NULL || (copy = SSL_SESSION_dup(sess)) == NULL)
		return 0;
	SSL_SESSION_free(*slot);
	*slot = copy;
	return 0;
}

/* The CA file of be, or the system's store when tls_ca is not given. */
static int
tls_client_ca(SSL_CTX *ctx, const struct config *cfg,
    const struct backend_conf *be, char *err, size_t errlen)
{
	const char *path = be->tls_ca.s;
	FILE *f;

	if (path == NULL) {
		if (SSL_CTX_set_default_verify_paths(ctx) == 1)
			return 0;
		snprintf(err, errlen, "%s:%d: backend '%s': cannot load the "
		    "system's CA store: %s", cfg->path, be->line, be->name,
		    tls_error("unknown error"));
		return -1;
	}
	/* fopen first: errno says more than OpenSSL's "system lib". */
	if ((f = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s:%d: tls_ca %s: %s", cfg->path,
		    be->tls_ca.line, path, strerror(errno));
		ERR_clear_error();
		return -1;
	}
	fclose(f);
	if (SSL_CTX_load_verify_locations(ctx, path, NULL) != 1) {
		snprintf(err, errlen, "%s:%d: tls_ca %s: %s", cfg->path,
		    be->tls_ca.line, path, tls_error("no CA certificate"));
		return -1;
	}
	return 0;
}

SSL_CTX *
tls_client_ctx(const struct config *cfg, const struct backend_conf *be,
    char *err, size_t errlen)
{
	SSL_CTX *ctx;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		goto ossl;
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_alpn_protos(ctx, tls_client_alpn,
	    sizeof(tls_client_alpn) - 1) != 0)
		goto ossl;
	/*
	 * A FIN without close_notify is the end of the stream (HTTP framing
	 * says whether the response was whole), and a backend never gets to
	 * renegotiate.
	 */
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF |
	    SSL_OP_NO_RENEGOTIATION);
	/* Buffers move (compaction) and writes may be partial, like send(). */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
	/* Sessions live in per-server slots (the callback), not in ctx. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT |
	    SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(ctx, tls_client_new_session_cb);
	if (be->tls_verify) {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
		if (tls_client_ca(ctx, cfg, be, err, errlen) == -1)
			goto fail;
	} else
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	return ctx;
ossl:
	snprintf(err, errlen, "%s:%d: backend '%s': TLS context: %s",
	    cfg->path, be->line, be->name, tls_error("out of memory"));
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

/*
 * Offer sess for resumption. The connection gets a copy: a connection that
 * resumes and is freed without close_notify marks its session not
 * resumable, and TLS 1.2 issues no new session on a resumption to replace
 * the one in the slot. A failure only costs a full handshake.
 */
static void
tls_client_resume(SSL *ssl, SSL_SESSION *sess)
{
	SSL_SESSION *copy;

	if (sess == NULL || (copy = SSL_SESSION_dup(sess)) == NULL) {
		ERR_clear_error();
		return;
	}
	if (SSL_set_session(ssl, copy) != 1)
		ERR_clear_error();
	SSL_SESSION_free(copy);
}

SSL *
tls_client_open(SSL_CTX *ctx, const char *sni, const char *ip, int fd,
    SSL_SESSION **slot)
{
	bool verify = SSL_CTX_get_verify_mode(ctx) & SSL_VERIFY_PEER;
	SSL *ssl;

	if ((ssl = SSL_new(ctx)) == NULL)
		goto fail;
	if (SSL_set_fd(ssl, fd) != 1)
		goto fail;
	if (sni != NULL) {
		if (SSL_set_tlsext_host_name(ssl, sni) != 1 ||
		    (verify && SSL_set1_host(ssl, sni) != 1))
			goto fail;
	} else if (verify && X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl),
	    ip) != 1)
		goto fail;
	if (slot != NULL) {
		SSL_set_app_data(ssl, slot);
		tls_client_resume(ssl, *slot);
	}
	SSL_set_connect_state(ssl);
	return ssl;
fail:
	ERR_clear_error();
	SSL_free(ssl);
	return NULL;
}

SSL *
tls_client_new(SSL_CTX *ctx, const struct backend_conf *be,
    const struct sockaddr *sa, int fd, SSL_SESSION **slot)
{
	char ip[INET6_ADDRSTRLEN];
	const void *a;

	if (sa->sa_family == AF_INET6)
		a = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
	else
		a = &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	if (inet_ntop(sa->sa_family, a, ip, sizeof(ip)) == NULL)
		return NULL;
	return tls_client_open(ctx, be->tls_sni, ip, fd, slot);
}

/* Why the handshake failed, as an operator reads it. */
static void
tls_client_why(SSL *ssl, int err, char *why, size_t whylen)
{
	long vr = SSL_get_verify_result(ssl);
	int saved = errno;

	if (err == SSL_ERROR_SSL && vr != X509_V_OK)
		snprintf(why, whylen, "%s (%s)",
		    tls_error("certificate verify failed"),
		    X509_verify_cert_error_string(vr));
	else if (err == SSL_ERROR_SSL)
		snprintf(why, whylen, "%s", tls_error("protocol error"));
	else if (err == SSL_ERROR_SYSCALL && saved != 0)
		snprintf(why, whylen, "%s", strerror(saved));
	else
		snprintf(why, whylen, "connection closed");
	ERR_clear_error();
}

int
tls_client_handshake(SSL *ssl, enum tls_want *want, char *why,
    size_t whylen)
{
	int rc, err;

	errno = 0;
	if ((rc = SSL_connect(ssl)) == 1) {
		*want = TLS_WANT_NONE;
		return 0;
	}
	err = SSL_get_error(ssl, rc);
	if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
		*want = err == SSL_ERROR_WANT_READ ? TLS_WANT_READ :
		    TLS_WANT_WRITE;
		ERR_clear_error();
		return 1;
	}
	tls_client_why(ssl, err, why, whylen);
	return -1;
}

/* errno and *want for a failed SSL_read or SSL_write; -1 or 0. */
static ssize_t
tls_client_io_error(SSL *ssl, int rc, enum tls_want *want)
{
	int err = SSL_get_error(ssl, rc), saved = errno;

	ERR_clear_error();
	switch (err) {
	case SSL_ERROR_WANT_READ:
		*want = TLS_WANT_READ;
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_WANT_WRITE:
		*want = TLS_WANT_WRITE;
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		errno = saved != 0 ? saved : ECONNRESET;
		return -1;
	default:
		errno = EPROTO;
		return -1;
	}
}

ssize_t
tls_client_recv(SSL *ssl, void *buf, size_t len, enum tls_want *want)
{
	size_t n;
	int rc;

	errno = 0;
	if ((rc = SSL_read_ex(ssl, buf, len, &n)) == 1)
		return (ssize_t)n;
	return tls_client_io_error(ssl, rc, want);
}

ssize_t
tls_client_send(SSL *ssl, const void *buf, size_t len, enum tls_want *want)
{
	size_t n;
	int rc;

	errno = 0;
	if ((rc = SSL_write_ex(ssl, buf, len, &n)) == 1)
		return (ssize_t)n;
	return tls_client_io_error(ssl, rc, want);
}
