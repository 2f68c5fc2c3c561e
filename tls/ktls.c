/*
 * Whether this kernel can take TLS records off OpenSSL's hands (kTLS): a
 * TCP socket accepts the "tls" upper layer protocol only when the kernel
 * has its TLS module. Asked once per process, on a loopback connection.
 */
#include "autoconf.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tls/tls.h"

#ifndef TCP_ULP
#define TCP_ULP		31
#endif

static int ktls_known = -1;		/* -1: not asked yet */
static char ktls_why[128];

/* Connect a to a listener on loopback; 0 or an errno. */
static int
tls_ktls_connect(int a)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
	    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sin);
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), rc = 0;

	if (l == -1 || bind(l, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(l, 1) == -1 ||
	    getsockname(l, (struct sockaddr *)&sin, &len) == -1 ||
	    connect(a, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		rc = errno;
	if (l != -1)
		close(l);
	return rc;
}

bool
tls_ktls_available(const char **why)
{
	int s, rc;

	if (ktls_known == -1) {
		s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		rc = s == -1 ? errno : tls_ktls_connect(s);
		if (rc == 0 && setsockopt(s, IPPROTO_TCP, TCP_ULP, "tls",
		    sizeof("tls")) == -1)
			rc = errno;
		if (s != -1)
			close(s);
		ktls_known = rc == 0;
		snprintf(ktls_why, sizeof(ktls_why), "%s", rc == 0 ?
		    "the kernel takes TLS records (TCP_ULP tls)" : rc == ENOENT ?
		    "the kernel has no TLS module (TCP_ULP tls: ENOENT)" :
		    strerror(rc));
	}
	if (why != NULL)
		*why = ktls_why;
	return ktls_known == 1;
}
