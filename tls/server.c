/* Server-side TLS for frontends: to be written (issue 11 §1). */
#include "autoconf.h"

#include <stdio.h>

#include "common/config.h"
#include "tls/server.h"

struct tls_server *
tls_server_build(const struct config *cfg, const struct frontend_conf *fe,
    bool warn, char *err, size_t errlen)
{
	(void)warn;
	snprintf(err, errlen, "%s:%d: frontend '%s': TLS is not supported yet",
	    cfg->path, fe->line, fe->name);
	return NULL;
}

void
tls_server_free(struct tls_server *ts)
{
	(void)ts;
}

SSL_CTX *
tls_server_ctx(const struct tls_server *ts)
{
	(void)ts;
	return NULL;
}
