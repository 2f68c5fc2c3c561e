/* Client-side TLS toward backend servers: to be written (issue 11 §2). */
#include "autoconf.h"

#include <stdio.h>

#include "common/config.h"
#include "tls/client.h"

SSL_CTX *
tls_client_ctx(const struct config *cfg, const struct backend_conf *be,
    char *err, size_t errlen)
{
	snprintf(err, errlen, "%s:%d: backend '%s': TLS to servers is not "
	    "supported yet", cfg->path, be->line, be->name);
	return NULL;
}

SSL *
tls_client_new(SSL_CTX *ctx, const struct backend_conf *be,
    const struct server_conf *sv, int fd)
{
	(void)ctx;
	(void)be;
	(void)sv;
	(void)fd;
	return NULL;
}
