/*
 * tickets.c: sessions resume under the current and the previous key, not
 * after two rotations, and a rotation made in another process (the master)
 * is what this one (a worker) uses. Real TLS 1.3 and 1.2 handshakes between
 * an OpenSSL client and server in memory.
 */
#include "autoconf.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "tls/tickets.h"

static SSL_CTX *server_ctx, *client_ctx;

/* A self-signed P-256 certificate made in memory for the server. */
static void
make_server(void)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();

	assert_non_null(key);
	assert_non_null(x);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, key);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN",
	    MBSTRING_ASC, (const unsigned char *)"t.test", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	server_ctx = SSL_CTX_new(TLS_server_method());
	assert_int_equal(SSL_CTX_use_certificate(server_ctx, x), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey(server_ctx, key), 1);
	SSL_CTX_set_session_cache_mode(server_ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_session_id_context(server_ctx, (const unsigned char *)"t",
	    1);
	tls_tickets_use(server_ctx);
	X509_free(x);
	EVP_PKEY_free(key);
	client_ctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX_set_verify(client_ctx, SSL_VERIFY_NONE, NULL);
	/* A caching client spends a TLS 1.3 session on its first use;
	 * these tests offer one session several times. */
	SSL_CTX_set_session_cache_mode(client_ctx, SSL_SESS_CACHE_OFF);
}

/*
 * Connect a client offering sess (may be NULL) to the server over a BIO
 * pair; returns the client's new session and whether sess was resumed.
 */
static SSL_SESSION *
handshake(SSL_SESSION *sess, int version, int *reused)
{
	SSL *c = SSL_new(client_ctx), *s = SSL_new(server_ctx);
	BIO *cb, *sb;
	SSL_SESSION *out;
	char byte;
	int i, cr = 0, sr = 0;

	assert_int_equal(BIO_new_bio_pair(&cb, 0, &sb, 0), 1);
	SSL_set_bio(c, cb, cb);
	SSL_set_bio(s, sb, sb);
	SSL_set_connect_state(c);
	SSL_set_accept_state(s);
	SSL_set_min_proto_version(c, version);
	SSL_set_max_proto_version(c, version);
	if (sess != NULL)
		SSL_set_session(c, sess);
	for (i = 0; i < 100 && (cr != 1 || sr != 1); i++) {
		if (cr != 1)
			cr = SSL_do_handshake(c);
		if (sr != 1)
			sr = SSL_do_handshake(s);
	}
	assert_int_equal(cr, 1);
	assert_int_equal(sr, 1);
	/* TLS 1.3 tickets come after the handshake: let the client read. */
	assert_true(SSL_read(c, &byte, 1) <= 0);
	*reused = SSL_session_reused(c);
	out = SSL_get1_session(c);
	assert_non_null(out);
	/* Freed without a shutdown, a client marks its session bad. */
	SSL_set_shutdown(c, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
	SSL_free(c);
	SSL_free(s);
	return out;
}

/* Does b carry another ticket than a? */
static bool
new_ticket(const SSL_SESSION *a, const SSL_SESSION *b)
{
	const unsigned char *ta, *tb;
	size_t la, lb;

	SSL_SESSION_get0_ticket(a, &ta, &la);
	SSL_SESSION_get0_ticket(b, &tb, &lb);
	return lb > 0 && (la != lb || memcmp(ta, tb, la) != 0);
}

static void
check_rotations(int version)
{
	SSL_SESSION *first, *next;
	int reused;

	first = handshake(NULL, version, &reused);
	assert_false(reused);
	next = handshake(first, version, &reused);
	assert_true(reused);
	/* TLS 1.3 clients use a ticket once: each resumption gets a new one. */
	if (version == TLS1_3_VERSION)
		assert_true(new_ticket(first, next));
	SSL_SESSION_free(next);
	/* One rotation: the previous key still opens the ticket. */
	assert_int_equal(tls_tickets_rotate(), 0);
	next = handshake(first, version, &reused);
	assert_true(reused);
	SSL_SESSION_free(next);
	/* Two: it is gone, a full handshake follows. */
	assert_int_equal(tls_tickets_rotate(), 0);
	next = handshake(first, version, &reused);
	assert_false(reused);
	SSL_SESSION_free(next);
	SSL_SESSION_free(first);
}

static void
test_rotation_tls13(void **state)
{
	(void)state;
	check_rotations(TLS1_3_VERSION);
}

static void
test_rotation_tls12(void **state)
{
	(void)state;
	check_rotations(TLS1_2_VERSION);
}

/*
 * The master rotates in its own process; workers must see it. A child
 * rotates twice: a session from before no longer resumes here.
 */
static void
test_rotation_seen_across_fork(void **state)
{
	SSL_SESSION *first, *next;
	int reused, status;
	pid_t pid;

	(void)state;
	first = handshake(NULL, TLS1_3_VERSION, &reused);
	if ((pid = fork()) == 0)
		_exit(tls_tickets_rotate() == 0 && tls_tickets_rotate() == 0 ?
		    0 : 1);
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	next = handshake(first, TLS1_3_VERSION, &reused);
	assert_false(reused);
	SSL_SESSION_free(next);
	/* And a ticket made here now opens in a child. */
	next = handshake(NULL, TLS1_3_VERSION, &reused);
	if ((pid = fork()) == 0) {
		SSL_SESSION *again = handshake(next, TLS1_3_VERSION, &reused);

		SSL_SESSION_free(again);
		_exit(reused ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	SSL_SESSION_free(next);
	SSL_SESSION_free(first);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rotation_tls13),
		cmocka_unit_test(test_rotation_tls12),
		cmocka_unit_test(test_rotation_seen_across_fork),
	};

	if (tls_tickets_init() == -1)
		return 1;
	make_server();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
