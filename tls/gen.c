/* Builds and frees the TLS contexts of a config generation. */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>

#include <openssl/err.h>

#include "common/config.h"
#include "common/log.h"
#include "tls/client.h"
#include "tls/server.h"
#include "tls/tls.h"

/* Does cfg use TLS anywhere? */
static bool
tls_gen_needed(const struct config *cfg)
{
	for (size_t i = 0; i < cfg->nfrontends; i++)
		if (cfg->frontends[i].any_tls)
			return true;
	for (size_t i = 0; i < cfg->nbackends; i++)
		if (cfg->backends[i].any_tls)
			return true;
	return false;
}

int
tls_gen_build(const struct config *cfg, bool warn, struct tls_gen **out,
    char *err, size_t errlen)
{
	struct tls_gen *g;
	size_t i;

	*out = NULL;
	if (!tls_gen_needed(cfg))
		return 0;
	if ((g = calloc(1, sizeof(*g))) == NULL ||
	    (g->frontends = calloc(cfg->nfrontends + 1,
	    sizeof(*g->frontends))) == NULL ||
	    (g->backends = calloc(cfg->nbackends + 1,
	    sizeof(*g->backends))) == NULL)
		goto oom;
	g->nfrontends = cfg->nfrontends;
	g->nbackends = cfg->nbackends;
	for (i = 0; i < cfg->nfrontends; i++) {
		if (!cfg->frontends[i].any_tls)
			continue;
		if ((g->frontends[i] = tls_server_build(cfg,
		    &cfg->frontends[i], warn, err, errlen)) == NULL)
			goto fail;
	}
	for (i = 0; i < cfg->nbackends; i++) {
		if (!cfg->backends[i].any_tls)
			continue;
		if ((g->backends[i] = tls_client_ctx(cfg, &cfg->backends[i],
		    err, errlen)) == NULL)
			goto fail;
	}
	if (warn) {
		const char *why;
		bool on = tls_ktls_available(&why);

		log_info("kTLS %s: %s", on ? "on" : "off", why);
	}
	*out = g;
	return 0;
oom:
	snprintf(err, errlen, "%s: out of memory for TLS contexts", cfg->path);
fail:
	tls_gen_free(g);
	return -1;
}

void
tls_gen_free(struct tls_gen *g)
{
	size_t i;

	if (g == NULL)
		return;
	for (i = 0; g->frontends != NULL && i < g->nfrontends; i++)
		tls_server_free(g->frontends[i]);
	for (i = 0; g->backends != NULL && i < g->nbackends; i++)
		SSL_CTX_free(g->backends[i]);
	free(g->frontends);
	free(g->backends);
	free(g);
}

SSL_CTX *
tls_gen_frontend(const struct tls_gen *g, size_t frontend)
{
	if (g == NULL || frontend >= g->nfrontends ||
	    g->frontends[frontend] == NULL)
		return NULL;
	return tls_server_ctx(g->frontends[frontend]);
}

SSL_CTX *
tls_gen_backend(const struct tls_gen *g, size_t backend)
{
	return g == NULL || backend >= g->nbackends ? NULL :
	    g->backends[backend];
}

const char *
tls_error(const char *fallback)
{
	static char buf[256];
	unsigned long e = ERR_peek_last_error();

	if (e == 0) {
		ERR_clear_error();
		return fallback;
	}
	ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	/* "error:0A000086:SSL routines::certificate verify failed": the
	 * reason is what an operator reads. */
	const char *r = ERR_reason_error_string(e);
	return r != NULL ? r : buf;
}
