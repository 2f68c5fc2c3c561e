/*
 * Server-side TLS for a frontend: reads and checks its certificates, groups
 * them by the names they carry (one SSL_CTX per group, RSA and ECDSA side
 * by side in it so OpenSSL hands each client the one it supports), picks a
 * group by SNI, and sets versions, ciphers, ALPN and client certificates.
 */
#include "autoconf.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "common/config.h"
#include "common/log.h"
#include "tls/names.h"
#include "tls/server.h"
#include "tls/tickets.h"
#include "tls/tls.h"

/* TLS 1.2: forward secret AEAD suites only (TLS 1.3's are all AEAD). */
#define TLS_SERVER_CIPHERS \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:" \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:" \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
#define TLS_SERVER_KEYTYPES	4	/* certificates per group, at most */

/* The certificates that carry one set of names, in one context. */
struct tls_group {
	SSL_CTX *ctx;
	char **names;			/* SAN DNS names, lower case */
	size_t nnames;
	int keytypes[TLS_SERVER_KEYTYPES];	/* EVP_PKEY base ids held */
	int lines[TLS_SERVER_KEYTYPES];
	size_t nkeys;
};

struct tls_server {
	struct tls_group *groups;	/* groups[0]: the first tls_cert's */
	size_t ngroups;
};

/* What one tls_cert file holds. */
struct tls_pem {
	X509 *leaf;
	STACK_OF(X509) *chain;
	EVP_PKEY *key;
	char **names;
	size_t nnames;
};

static void __attribute__((format(printf, 5, 6)))
tls_server_err(char *err, size_t errlen, const struct config *cfg, int line,
    const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(err, errlen, "%s:%d: ", cfg->path, line);

	if (n < 0 || (size_t)n >= errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
	va_end(ap);
}

static void
tls_names_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static void
tls_pem_free(struct tls_pem *p)
{
	X509_free(p->leaf);
	sk_X509_pop_free(p->chain, X509_free);
	EVP_PKEY_free(p->key);
	tls_names_free(p->names, p->nnames);
	memset(p, 0, sizeof(*p));
}

/* The leaf's subjectAltName DNS entries, lower case; -1 if out of memory. */
static int
tls_pem_names(struct tls_pem *p)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(p->leaf, NID_subject_alt_name,
	    NULL, NULL);
	int i, n = gens == NULL ? 0 : sk_GENERAL_NAME_num(gens), rc = 0;

	if (n > 0 && (p->names = calloc((size_t)n, sizeof(char *))) == NULL)
		rc = -1;
	for (i = 0; i < n && rc == 0; i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		const unsigned char *s;
		char *name;
		int len;

		if (g->type != GEN_DNS)
			continue;
		s = ASN1_STRING_get0_data(g->d.dNSName);
		len = ASN1_STRING_length(g->d.dNSName);
		if (len <= 0 || memchr(s, '\0', (size_t)len) != NULL)
			continue;
		if ((name = strndup((const char *)s, (size_t)len)) == NULL) {
			rc = -1;
			break;
		}
		for (char *c = name; *c != '\0'; c++)
			*c = (char)tolower((unsigned char)*c);
		p->names[p->nnames++] = name;
	}
	GENERAL_NAMES_free(gens);
	return rc;
}

/* Read leaf, chain and key from one PEM file and check they belong. */
static int
tls_pem_read(const struct config *cfg, const struct config_text *t,
    struct tls_pem *p, char *err, size_t errlen)
{
	BIO *bio;
	X509 *x;

	memset(p, 0, sizeof(*p));
	if ((bio = BIO_new_file(t->s, "r")) == NULL) {
		tls_server_err(err, errlen, cfg, t->line, "tls_cert %s: cannot "
		    "read: %s", t->s, strerror(errno != 0 ? errno : EIO));
		ERR_clear_error();
		return -1;
	}
	p->leaf = PEM_read_bio_X509_AUX(bio, NULL, NULL, NULL);
	p->chain = sk_X509_new_null();
	while (p->leaf != NULL && p->chain != NULL &&
	    (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL)
		sk_X509_push(p->chain, x);
	ERR_clear_error();		/* the loop ends on "no start line" */
	BIO_free(bio);
	if (p->leaf == NULL) {
		tls_server_err(err, errlen, cfg, t->line, "tls_cert %s: no "
		    "PEM certificate in the file", t->s);
		goto fail;
	}
	if ((bio = BIO_new_file(t->s, "r")) != NULL)
		p->key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (p->key == NULL) {
		tls_server_err(err, errlen, cfg, t->line, "tls_cert %s: no "
		    "private key in the file (%s)", t->s,
		    tls_error("no PEM key block"));
		goto fail;
	}
	if (X509_check_private_key(p->leaf, p->key) != 1) {
		tls_server_err(err, errlen, cfg, t->line, "tls_cert %s: the "
		    "private key does not match the certificate", t->s);
		goto fail;
	}
	if (tls_pem_names(p) == -1) {
		tls_server_err(err, errlen, cfg, t->line, "out of memory");
		goto fail;
	}
	if (p->nnames == 0) {
		tls_server_err(err, errlen, cfg, t->line, "tls_cert %s: the "
		    "certificate has no DNS name in subjectAltName (SNI "
		    "matches those)", t->s);
		goto fail;
	}
	ERR_clear_error();
	return 0;
fail:
	ERR_clear_error();
	tls_pem_free(p);
	return -1;
}

/* An expired (or not yet valid) certificate still loads: say so. */
static void
tls_pem_warn_dates(const struct config *cfg, const struct config_text *t,
    const struct tls_pem *p)
{
	if (X509_cmp_current_time(X509_get0_notAfter(p->leaf)) < 0)
		log_warnx("%s:%d: tls_cert %s: the certificate for %s has "
		    "expired", cfg->path, t->line, t->s, p->names[0]);
	else if (X509_cmp_current_time(X509_get0_notBefore(p->leaf)) > 0)
		log_warnx("%s:%d: tls_cert %s: the certificate for %s is not "
		    "valid yet", cfg->path, t->line, t->s, p->names[0]);
}

/* Same names in any order (both lists are short). */
static bool
tls_same_names(char **a, size_t na, char **b, size_t nb)
{
	size_t i, j;

	if (na != nb)
		return false;
	for (i = 0; i < na; i++) {
		for (j = 0; j < nb && strcmp(a[i], b[j]) != 0; j++)
			;
		if (j == nb)
			return false;
	}
	return true;
}

/* ALPN: http/1.1 or nothing (RFC 7301 3.2: no overlap is fatal). */
static int
tls_server_alpn_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned int inlen, void *arg)
{
	static const unsigned char ours[] = "\x08http/1.1";
	unsigned char *sel;

	(void)ssl;
	(void)arg;
	if (SSL_select_next_proto(&sel, outlen, ours, sizeof(ours) - 1, in,
	    inlen) != OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

/* The group whose names match host: exact names first, then wildcards. */
static const struct tls_group *
tls_server_lookup(const struct tls_server *ts, const char *host)
{
	size_t len = strlen(host), g, i;
	int pass;

	if (len > 0 && host[len - 1] == '.')
		len--;
	for (pass = 0; pass < 2; pass++)
		for (g = 0; g < ts->ngroups; g++)
			for (i = 0; i < ts->groups[g].nnames; i++) {
				const char *n = ts->groups[g].names[i];

				if ((n[0] == '*') == (pass == 1) &&
				    tls_name_match(n, host, len))
					return &ts->groups[g];
			}
	return NULL;
}

/* SNI: switch to the matching group's context; none keeps the first. */
static int
tls_server_sni_cb(SSL *ssl, int *alert, void *arg)
{
	const struct tls_server *ts = arg;
	const char *host = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	const struct tls_group *grp;

	(void)alert;
	if (host == NULL || ts->ngroups == 1)
		return SSL_TLSEXT_ERR_OK;
	grp = tls_server_lookup(ts, host);
	if (grp != NULL && grp->ctx != ts->groups[0].ctx)
		SSL_set_SSL_CTX(ssl, grp->ctx);
	return SSL_TLSEXT_ERR_OK;
}

/*
 * The session context: which sessions may resume here. Tickets outlive
 * reloads, so it covers what a session's verification depended on (the
 * frontend, whether client certificates are required, the CA file's
 * bytes): a reload that adds or changes tls_client_ca ends resumption of
 * sessions verified under the old rules instead of letting them skip it.
 */
static int
tls_server_sid_ctx(SSL_CTX *ctx, const struct frontend_conf *fe)
{
	unsigned char md[EVP_MAX_MD_SIZE], chunk[4096];
	unsigned int mdlen = 0;
	EVP_MD_CTX *h = EVP_MD_CTX_new();
	FILE *f = NULL;
	size_t n;
	int ok;

	ok = h != NULL && EVP_DigestInit_ex(h, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(h, fe->name, strlen(fe->name) + 1) == 1;
	if (ok && fe->tls_client_ca.s != NULL) {
		ok = (f = fopen(fe->tls_client_ca.s, "r")) != NULL;
		while (ok && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
			ok = EVP_DigestUpdate(h, chunk, n) == 1;
		ok = ok && !ferror(f);
	}
	ok = ok && EVP_DigestFinal_ex(h, md, &mdlen) == 1 &&
	    SSL_CTX_set_session_id_context(ctx, md, mdlen <
	    SSL_MAX_SID_CTX_LENGTH ? mdlen : SSL_MAX_SID_CTX_LENGTH) == 1;
	if (f != NULL)
		fclose(f);
	EVP_MD_CTX_free(h);
	return ok ? 0 : -1;
}

static int
tls_server_sid(SSL_CTX *ctx, const struct config *cfg,
    const struct frontend_conf *fe, char *err, size_t errlen)
{
	if (tls_server_sid_ctx(ctx, fe) == 0)
		return 0;
	tls_server_err(err, errlen, cfg, fe->tls_client_ca.s != NULL ?
	    fe->tls_client_ca.line : fe->line, "cannot derive the session "
	    "context: %s", tls_error("digest failed"));
	return -1;
}

/* Versions, ciphers and options every group of fe shares. */
static int
tls_server_ctx_setup(SSL_CTX *ctx, const struct config *cfg,
    const struct frontend_conf *fe, char *err, size_t errlen)
{
	const struct config_text *ca = &fe->tls_client_ca;
	STACK_OF(X509_NAME) *names;
	FILE *f;

	SSL_CTX_set_min_proto_version(ctx, fe->tls_min_version ==
	    CONFIG_TLS_13 ? TLS1_3_VERSION : TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE |
	    SSL_OP_IGNORE_UNEXPECTED_EOF);
	/*
	 * Only where the kernel has kTLS: elsewhere OpenSSL would try it on
	 * every connection, and each try makes the kernel look for its TLS
	 * module (a modprobe run outside weir's CPU time).
	 */
	if (tls_ktls_available(NULL))
		SSL_CTX_set_options(ctx, SSL_OP_ENABLE_KTLS);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS |
	    SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	/*
	 * Without kTLS, one read takes every record the kernel holds, not 5
	 * bytes then the rest: half the recv calls per request. OpenSSL 3.0
	 * turns kTLS receive off when reading ahead, so not with kTLS.
	 */
	SSL_CTX_set_read_ahead(ctx, !tls_ktls_available(NULL));
	SSL_CTX_set_max_early_data(ctx, 0);
	/* Tickets carry the sessions; no per-process cache to miss in. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_timeout(ctx, (long)(cfg->tls_ticket_rotate_ms / 1000));
	tls_tickets_use(ctx);
	SSL_CTX_set_alpn_select_cb(ctx, tls_server_alpn_cb, NULL);
	if (SSL_CTX_set_cipher_list(ctx, fe->tls_ciphers.s != NULL ?
	    fe->tls_ciphers.s : TLS_SERVER_CIPHERS) != 1) {
		tls_server_err(err, errlen, cfg, fe->tls_ciphers.line,
		    "tls_ciphers: no usable cipher in '%s'",
		    fe->tls_ciphers.s);
		return -1;
	}
	if (fe->tls_ciphersuites.s != NULL &&
	    SSL_CTX_set_ciphersuites(ctx, fe->tls_ciphersuites.s) != 1) {
		tls_server_err(err, errlen, cfg, fe->tls_ciphersuites.line,
		    "tls_ciphersuites: invalid list '%s'",
		    fe->tls_ciphersuites.s);
		return -1;
	}
	if (ca->s == NULL)
		return tls_server_sid(ctx, cfg, fe, err, errlen);
	/* fopen first: errno says more than OpenSSL's "system lib". */
	if ((f = fopen(ca->s, "r")) == NULL) {
		tls_server_err(err, errlen, cfg, ca->line, "tls_client_ca %s: "
		    "%s", ca->s, strerror(errno));
		return -1;
	}
	fclose(f);
	if (SSL_CTX_load_verify_file(ctx, ca->s) != 1 ||
	    (names = SSL_load_client_CA_file(ca->s)) == NULL) {
		tls_server_err(err, errlen, cfg, ca->line, "tls_client_ca %s: "
		    "%s", ca->s, tls_error("no PEM certificate in the file"));
		return -1;
	}
	SSL_CTX_set_client_CA_list(ctx, names);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER |
	    SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	return tls_server_sid(ctx, cfg, fe, err, errlen);
}

/* A new group for p's names, with its own context. */
static struct tls_group *
tls_server_group_new(struct tls_server *ts, const struct config *cfg,
    const struct frontend_conf *fe, struct tls_pem *p, char *err,
    size_t errlen)
{
	struct tls_group *g;

	g = reallocarray(ts->groups, ts->ngroups + 1, sizeof(*g));
	if (g == NULL) {
		snprintf(err, errlen, "%s: out of memory", cfg->path);
		return NULL;
	}
	ts->groups = g;
	g = &ts->groups[ts->ngroups];
	memset(g, 0, sizeof(*g));
	if ((g->ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		snprintf(err, errlen, "%s: SSL_CTX_new: %s", cfg->path,
		    tls_error("failed"));
		return NULL;
	}
	ts->ngroups++;
	if (tls_server_ctx_setup(g->ctx, cfg, fe, err, errlen) == -1)
		return NULL;
	g->names = p->names;		/* the group takes them */
	g->nnames = p->nnames;
	p->names = NULL;
	p->nnames = 0;
	return g;
}

/* Put one tls_cert into the group of its names (new or existing). */
static int
tls_server_add(struct tls_server *ts, const struct config *cfg,
    const struct frontend_conf *fe, const struct config_text *t,
    struct tls_pem *p, char *err, size_t errlen)
{
	struct tls_group *g = NULL;
	int type = EVP_PKEY_get_base_id(p->key);
	size_t i;

	for (i = 0; i < ts->ngroups && g == NULL; i++)
		if (tls_same_names(ts->groups[i].names, ts->groups[i].nnames,
		    p->names, p->nnames))
			g = &ts->groups[i];
	if (g == NULL && (g = tls_server_group_new(ts, cfg, fe, p, err,
	    errlen)) == NULL)
		return -1;
	for (i = 0; i < g->nkeys; i++) {
		if (g->keytypes[i] == type) {
			tls_server_err(err, errlen, cfg, t->line, "tls_cert %s: "
			    "a second %s certificate for the same names "
			    "(first at line %d)", t->s, EVP_PKEY_get0_type_name(
			    p->key), g->lines[i]);
			return -1;
		}
	}
	if (g->nkeys == TLS_SERVER_KEYTYPES || SSL_CTX_use_cert_and_key(g->ctx,
	    p->leaf, p->key, p->chain, 1) != 1) {
		tls_server_err(err, errlen, cfg, t->line, "tls_cert %s: %s",
		    t->s, tls_error("cannot use this certificate and key"));
		return -1;
	}
	g->keytypes[g->nkeys] = type;
	g->lines[g->nkeys++] = t->line;
	return 0;
}

struct tls_server *
tls_server_build(const struct config *cfg, const struct frontend_conf *fe,
    bool warn, char *err, size_t errlen)
{
	struct tls_server *ts = calloc(1, sizeof(*ts));
	struct tls_pem p;
	size_t i;

	if (ts == NULL) {
		snprintf(err, errlen, "%s: out of memory", cfg->path);
		return NULL;
	}
	for (i = 0; i < fe->ntls_certs; i++) {
		if (tls_pem_read(cfg, &fe->tls_certs[i], &p, err, errlen) == -1)
			goto fail;
		if (warn)
			tls_pem_warn_dates(cfg, &fe->tls_certs[i], &p);
		if (tls_server_add(ts, cfg, fe, &fe->tls_certs[i], &p, err,
		    errlen) == -1) {
			tls_pem_free(&p);
			goto fail;
		}
		tls_pem_free(&p);
	}
	SSL_CTX_set_tlsext_servername_callback(ts->groups[0].ctx,
	    tls_server_sni_cb);
	SSL_CTX_set_tlsext_servername_arg(ts->groups[0].ctx, ts);
	return ts;
fail:
	tls_server_free(ts);
	return NULL;
}

void
tls_server_free(struct tls_server *ts)
{
	if (ts == NULL)
		return;
	for (size_t i = 0; i < ts->ngroups; i++) {
		SSL_CTX_free(ts->groups[i].ctx);
		tls_names_free(ts->groups[i].names, ts->groups[i].nnames);
	}
	free(ts->groups);
	free(ts);
}

SSL_CTX *
tls_server_ctx(const struct tls_server *ts)
{
	return ts->groups[0].ctx;
}
