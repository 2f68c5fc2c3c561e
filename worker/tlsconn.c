/*
 * TLS on client connections. A connection of a TLS listener gets an SSL at
 * accept; its first bytes are peeked to tell a TLS ClientHello from plain
 * HTTP (answered 400 in clear text, as nginx does) or garbage (closed). The
 * handshake is bounded in time by conn.c's client_timeout and here in
 * bytes, so a slow or oversized ClientHello cannot hold a worker.
 */
#include "autoconf.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "common/log.h"
#include "tls/tls.h"
#include "worker/conn.h"
#include "worker/tlsconn.h"

#define TLS_RECORD_HANDSHAKE	0x16	/* a TLS record's first byte */

static char tlsconn_why[256];

/* Keep why the call failed, and leave OpenSSL's error queue empty. */
static void
tlsconn_fail(int sslerr)
{
	const char *r;

	if (sslerr == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)
		r = errno != 0 ? strerror(errno) : "connection closed";
	else
		r = tls_error("TLS error");
	snprintf(tlsconn_why, sizeof(tlsconn_why), "%s", r);
	ERR_clear_error();
}

const char *
tlsconn_error(void)
{
	return tlsconn_why;
}

int
tlsconn_new(struct conn *c, SSL_CTX *ctx)
{
	if ((c->ssl = SSL_new(ctx)) == NULL ||
	    SSL_set_fd(c->ssl, c->fd) != 1) {
		ERR_clear_error();
		tlsconn_free(c);
		return -1;
	}
	SSL_set_accept_state(c->ssl);
	return 0;
}

void
tlsconn_free(struct conn *c)
{
	SSL_free(c->ssl);
	c->ssl = NULL;
}

/*
 * Before the first TLS read: is this a TLS record at all? A request line
 * starts with a method's capital letter; a ClientHello with 0x16.
 */
static enum tlsconn_step
tlsconn_sniff(struct conn *c)
{
	unsigned char b;
	ssize_t n = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);

	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return TLSCONN_AGAIN;
	if (n <= 0) {
		snprintf(tlsconn_why, sizeof(tlsconn_why), "%s before the TLS "
		    "handshake", n == 0 ? "closed" : strerror(errno));
		return TLSCONN_FAILED;
	}
	if (b == TLS_RECORD_HANDSHAKE)
		return TLSCONN_DONE;
	if (b >= 'A' && b <= 'Z')
		return TLSCONN_PLAIN;
	snprintf(tlsconn_why, sizeof(tlsconn_why), "not a TLS handshake "
	    "(first byte 0x%02x)", b);
	return TLSCONN_FAILED;
}

/* The handshake may read this much more; false when over its bound. */
static bool
tlsconn_within_bounds(struct conn *c)
{
	uint64_t got = BIO_number_read(SSL_get_rbio(c->ssl));
	OSSL_HANDSHAKE_STATE st = SSL_get_state(c->ssl);

	if ((st == TLS_ST_BEFORE || st == TLS_ST_SR_CLNT_HELLO) &&
	    got > TLSCONN_HELLO_MAX) {
		snprintf(tlsconn_why, sizeof(tlsconn_why), "ClientHello over "
		    "%d bytes", TLSCONN_HELLO_MAX);
		return false;
	}
	if (got > TLSCONN_HANDSHAKE_MAX) {
		snprintf(tlsconn_why, sizeof(tlsconn_why), "TLS handshake over "
		    "%d bytes", TLSCONN_HANDSHAKE_MAX);
		return false;
	}
	return true;
}

enum tlsconn_step
tlsconn_handshake(struct conn *c)
{
	enum tlsconn_step s;
	int rc, e;

	c->tls_wants &= (uint8_t)~TLSCONN_HS_WANTS_WRITE;
	if (BIO_number_read(SSL_get_rbio(c->ssl)) == 0 &&
	    (s = tlsconn_sniff(c)) != TLSCONN_DONE)
		return s;
	if ((rc = SSL_do_handshake(c->ssl)) == 1)
		return TLSCONN_DONE;
	switch ((e = SSL_get_error(c->ssl, rc))) {
	case SSL_ERROR_WANT_READ:
		return tlsconn_within_bounds(c) ? TLSCONN_AGAIN :
		    TLSCONN_FAILED;
	case SSL_ERROR_WANT_WRITE:
		c->tls_wants |= TLSCONN_HS_WANTS_WRITE;
		return TLSCONN_AGAIN;
	default:
		tlsconn_fail(e);
		return TLSCONN_FAILED;
	}
}

ssize_t
tlsconn_recv(struct conn *c, void *buf, size_t len)
{
	int n, e;

	c->tls_wants &= (uint8_t)~(TLSCONN_RD_WANTS_WRITE | TLSCONN_RD_DRY);
	if ((n = SSL_read(c->ssl, buf, len > INT32_MAX ? INT32_MAX :
	    (int)len)) > 0)
		return n;
	switch ((e = SSL_get_error(c->ssl, n))) {
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_WANT_WRITE:
		c->tls_wants |= TLSCONN_RD_WANTS_WRITE;
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_WANT_READ:
		c->tls_wants |= TLSCONN_RD_DRY;
		errno = EAGAIN;
		return -1;
	default:
		tlsconn_fail(e);
		errno = EPROTO;
		return -1;
	}
}

ssize_t
tlsconn_send(struct conn *c, const void *buf, size_t len)
{
	int n, e;

	c->tls_wants &= (uint8_t)~TLSCONN_WR_WANTS_READ;
	if ((n = SSL_write(c->ssl, buf, len > INT32_MAX ? INT32_MAX :
	    (int)len)) > 0)
		return n;
	switch ((e = SSL_get_error(c->ssl, n))) {
	case SSL_ERROR_WANT_READ:
		c->tls_wants |= TLSCONN_WR_WANTS_READ;
		/* FALLTHROUGH */
	case SSL_ERROR_WANT_WRITE:
		errno = EAGAIN;
		return -1;
	default:
		tlsconn_fail(e);
		errno = EPIPE;
		return -1;
	}
}

int
tlsconn_pending(const struct conn *c)
{
	return SSL_has_pending(c->ssl);
}

void
tlsconn_close_notify(struct conn *c)
{
	if (SSL_is_init_finished(c->ssl) && SSL_shutdown(c->ssl) < 0)
		ERR_clear_error();
}

size_t
tlsconn_subject(struct conn *c, char *buf, size_t len)
{
	X509 *peer = SSL_get0_peer_certificate(c->ssl);
	BIO *mem;
	int n = 0;

	if (peer == NULL || SSL_get_verify_result(c->ssl) != X509_V_OK ||
	    len == 0 || (mem = BIO_new(BIO_s_mem())) == NULL)
		return 0;
	if (X509_NAME_print_ex(mem, X509_get_subject_name(peer), 0,
	    XN_FLAG_RFC2253) >= 0)
		n = BIO_read(mem, buf, (int)len - 1);
	BIO_free(mem);
	ERR_clear_error();
	if (n <= 0)
		return 0;
	/* RFC 2253 escapes controls, but a header value takes no CR/LF. */
	for (int i = 0; i < n; i++)
		if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
			buf[i] = '?';
	buf[n] = '\0';
	return (size_t)n;
}
