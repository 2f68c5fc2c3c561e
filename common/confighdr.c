/*
 * The header rule keys of the request policy (request_header_set, _add,
 * _del and response_header_set, _add, _del): each compiled where the file
 * gives it (http/hdrrule.c), then joined into the lists a frontend's and
 * a route's requests apply once the whole file is read.
 */
#include "autoconf.h"

#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/configint.h"
#include "http/hdrrule.h"

static const char *const confighdr_keys[2][3] = {
	{ "request_header_set", "request_header_add", "request_header_del" },
	{ "response_header_set", "response_header_add",
	    "response_header_del" },
};

/* request_header_* and response_header_*, repeatable, in file order. */
int
config_policy_header(struct config_ctx *ctx, void *base, const char *value)
{
	struct policy_conf *pol = base;
	const char *key = ctx->key->key;
	bool resp = strncmp(key, "response_", 9) == 0;
	struct hdrrule **rules = resp ? &pol->resp_rules : &pol->req_rules;
	size_t *n = resp ? &pol->nresp_rules : &pol->nreq_rules;
	enum hdrrule_op op = HDRRULE_SET;
	struct hdrrule *r;
	char why[160], *name, *v = NULL;
	int rc;

	if (strcmp(key, confighdr_keys[resp][HDRRULE_ADD]) == 0)
		op = HDRRULE_ADD;
	else if (strcmp(key, confighdr_keys[resp][HDRRULE_DEL]) == 0)
		op = HDRRULE_DEL;
	name = op == HDRRULE_DEL ? config_strdup(ctx, value) :
	    config_header_pair(ctx, value, true, &v);
	if (name == NULL)
		return -1;
	if ((r = config_grow(ctx, *rules, *n, sizeof(*r))) == NULL) {
		free(name);
		return -1;
	}
	*rules = r;
	r = &r[(*n)++];
	rc = hdrrule_compile(r, op, name, v, why, sizeof(why));
	r->line = ctx->lineno;
	free(name);
	if (rc == -1)
		config_err(ctx, ctx->lineno, "%s: %s", key, why);
	return rc;
}

/* {request_id} has a value only where the frontend makes request ids. */
static int
confighdr_check_ids(struct config_ctx *ctx, const struct hdrrule *rules,
    size_t n, bool resp, const struct frontend_conf *fe)
{
	size_t i;

	for (i = 0; i < n && fe->request_id == NULL; i++) {
		if (rules[i].vars & HDRRULE_USES(HDRRULE_REQUEST_ID)) {
			config_err(ctx, rules[i].line, "%s: {request_id} needs "
			    "request_id in frontend '%s'",
			    confighdr_keys[resp][rules[i].op], fe->name);
			return -1;
		}
	}
	return 0;
}

int
config_policy_headers(struct config_ctx *ctx, struct policy_conf *pol,
    const struct frontend_conf *fe, const struct policy_conf *fe_pol)
{
	static const struct policy_conf none;

	if (fe_pol == NULL)
		fe_pol = &none;
	if (confighdr_check_ids(ctx, pol->req_rules, pol->nreq_rules, false,
	    fe) == -1 || confighdr_check_ids(ctx, pol->resp_rules,
	    pol->nresp_rules, true, fe) == -1)
		return -1;
	if (hdrrule_join(&pol->req_list, fe_pol->req_rules,
	    fe_pol->nreq_rules, pol->req_rules, pol->nreq_rules, true,
	    fe->request_id) == -1 ||
	    hdrrule_join(&pol->resp_list, fe_pol->resp_rules,
	    fe_pol->nresp_rules, pol->resp_rules, pol->nresp_rules, false,
	    fe->request_id) == -1) {
		config_err(ctx, 0, "out of memory");
		return -1;
	}
	return 0;
}

void
config_free_policy_headers(struct policy_conf *pol)
{
	size_t i;

	for (i = 0; i < pol->nreq_rules; i++)
		hdrrule_free(&pol->req_rules[i]);
	for (i = 0; i < pol->nresp_rules; i++)
		hdrrule_free(&pol->resp_rules[i]);
	free(pol->req_rules);
	free(pol->resp_rules);
	hdrrule_list_free(pol->req_list);
	hdrrule_list_free(pol->resp_list);
}
