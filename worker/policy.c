/*
 * Owns the frontend's trust rules for requests: methods, names, upgrades,
 * client address.
 */
#include "autoconf.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdio.h>
#include <string.h>

#include "common/cidr.h"
#include "common/config.h"
#include "worker/conn.h"
#include "http/trust.h"

/* The client is the peer itself: the default, and the fallback. */
static void
policy_client_is_peer(struct conn *c)
{
	c->x->client_sa = &c->peer_sa.sa;
	c->x->client_ip = c->peer_ip;
	c->x->peer[0] = '\0';		/* conn_peer() makes it */
}

void
policy_accept(struct conn *c)
{
	c->peer_trusted = c->fe->ntrusted > 0 && cidr_match(c->fe->trusted,
	    c->fe->ntrusted, &c->peer_sa.sa);
}

/*
 * Behind a trusted proxy, each request names its client anew in its
 * X-Forwarded-For; logs then say "CLIENT via PEER".
 */
static void
policy_client(struct conn *c, const struct http_msg *msg)
{
	struct exch *x = c->x;
	struct sockaddr_storage *ss = &x->client_ss;
	const void *a;

	policy_client_is_peer(c);
	if (!trust_client(msg->headers, msg->nheaders, c->fe->trusted,
	    c->fe->ntrusted, ss))
		return;
	a = ss->ss_family == AF_INET ?
	    (const void *)&((struct sockaddr_in *)(void *)ss)->sin_addr :
	    (const void *)&((struct sockaddr_in6 *)(void *)ss)->sin6_addr;
	if (inet_ntop(ss->ss_family, a, x->client_ip_buf,
	    sizeof(x->client_ip_buf)) == NULL)
		return;
	x->client_sa = (const struct sockaddr *)ss;
	x->client_ip = x->client_ip_buf;
	snprintf(x->peer, sizeof(x->peer), "%s via ", x->client_ip);
	conn_peer_addr(c, x->peer + strlen(x->peer),
	    sizeof(x->peer) - strlen(x->peer));
}

/* Any field name with an '_' (the parser marked them)? */
static bool
policy_has_underscore(const struct http_msg *msg)
{
	for (size_t i = 0; i < msg->nheaders; i++)
		if (msg->headers[i].id == HTTP_F_UNDERSCORE)
			return true;
	return false;
}

int
policy_request(struct conn *c, const struct http_msg *msg, const char **why)
{
	const struct frontend_conf *fe = c->fe;

	/* First, so that even a refusal is logged with the real client. */
	if (c->peer_trusted)
		policy_client(c, msg);
	if (msg->method == HTTP_M_TRACE && !fe->allow_trace) {
		*why = "TRACE is not allowed (allow_trace = no)";
		return 405;
	}
	if (fe->underscore_headers == CONFIG_UNDERSCORE_REJECT &&
	    policy_has_underscore(msg)) {
		*why = "header name with '_' (underscore_headers = reject)";
		return 400;
	}
	/* No allowed protocol left: forward it as a plain request. */
	if (c->x->req.upgrade && rewrite_upgrade_allowed(msg,
	    (const char *const *)fe->upgrade_allow, fe->nupgrade_allow) == 0)
		c->x->req.upgrade = false;
	return 0;
}
