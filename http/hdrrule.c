/*
 * Owns header rules: compiling one (name checks, value templates),
 * joining a frontend's and a route's into the list a request applies, and
 * answering what serializing a head asks of that list.
 */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/hdrrule.h"

/* Fields weir frames or keeps to one hop: no rule may touch them. */
static const char *const hdrrule_forbidden[] = {
	"content-length", "transfer-encoding", "connection", "keep-alive",
	"proxy-connection", "te", "trailer", "upgrade", NULL,
};

/* The names weir writes itself, and the bit that says a rule took them. */
static const struct {
	const char *name;
	unsigned bit;
} hdrrule_own[] = {
	{ "x-forwarded-for", HDRRULE_OWN_XFF },
	{ "x-real-ip", HDRRULE_OWN_XRI },
	{ "x-forwarded-proto", HDRRULE_OWN_XFP },
	{ "x-forwarded-host", HDRRULE_OWN_XFH },
	{ "x-client-subject", HDRRULE_OWN_XCS },
};

static const struct {
	const char *name;
	enum hdrrule_var var;
} hdrrule_names[] = {
	{ "client_ip", HDRRULE_CLIENT_IP },
	{ "request_id", HDRRULE_REQUEST_ID },
	{ "host", HDRRULE_HOST },
};

static char
hdrrule_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* RFC 9110 token characters. */
static bool
hdrrule_token(const char *s)
{
	size_t len = strlen(s);

	return len > 0 && strspn(s, "!#$%&'*+-.^_`|~0123456789"
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") == len;
}

/* A byte no field value may hold: CTLs but HTAB, and DEL. */
static bool
hdrrule_ctl(unsigned char c)
{
	return (c < 0x20 && c != '\t') || c == 0x7f;
}

static bool
hdrrule_add_part(struct hdrrule *r, enum hdrrule_var var, const char *p,
    size_t len)
{
	struct hdrrule_part *v;

	if (var == HDRRULE_TEXT && len == 0)
		return true;
	/* Text next to text (after an escape) stays one part. */
	if (var == HDRRULE_TEXT && r->nparts > 0 &&
	    r->parts[r->nparts - 1].var == HDRRULE_TEXT) {
		r->parts[r->nparts - 1].len += len;
		return true;
	}
	if ((v = realloc(r->parts, (r->nparts + 1) * sizeof(*v))) == NULL)
		return false;
	r->parts = v;
	r->parts[r->nparts++] = (struct hdrrule_part){ var, p, len };
	r->vars |= var != HDRRULE_TEXT ? HDRRULE_USES(var) : 0;
	return true;
}

/* The variable named s[0..len), or -1. */
static int
hdrrule_var_of(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < sizeof(hdrrule_names) / sizeof(hdrrule_names[0]); i++)
		if (strlen(hdrrule_names[i].name) == len &&
		    memcmp(hdrrule_names[i].name, s, len) == 0)
			return (int)hdrrule_names[i].var;
	return -1;
}

/*
 * Split value into parts: literal runs (copied into r->text with "{{"
 * and "}}" made single) and {variables}.
 */
static int
hdrrule_template(struct hdrrule *r, const char *value, char *why,
    size_t whylen)
{
	const char *s = value, *close;
	char *t;
	int var;

	if ((r->text = t = malloc(strlen(value) + 1)) == NULL)
		goto oom;
	while (*s != '\0') {
		const char *run = t;

		while (*s != '\0' && ((*s != '{' && *s != '}') ||
		    s[1] == *s)) {
			if (hdrrule_ctl((unsigned char)*s)) {
				snprintf(why, whylen, "control character "
				    "0x%02x in the value", (unsigned char)*s);
				return -1;
			}
			s += *s == '{' || *s == '}' ? 2 : 1;
			*t++ = s[-1];
		}
		if (!hdrrule_add_part(r, HDRRULE_TEXT, run, (size_t)(t - run)))
			goto oom;
		if (*s == '\0')
			break;
		if (*s == '}') {
			snprintf(why, whylen, "a '}' in a value is written "
			    "'}}'");
			return -1;
		}
		if ((close = strchr(s, '}')) == NULL) {
			snprintf(why, whylen, "'{' without a closing '}' (a "
			    "'{' in a value is written '{{')");
			return -1;
		}
		if ((var = hdrrule_var_of(s + 1, (size_t)(close - s - 1))) ==
		    -1) {
			snprintf(why, whylen, "unknown variable '%.*s'; "
			    "expected {client_ip}, {request_id} or {host}",
			    (int)(close - s + 1), s);
			return -1;
		}
		if (!hdrrule_add_part(r, (enum hdrrule_var)var, NULL, 0))
			goto oom;
		s = close + 1;
	}
	return 0;
oom:
	snprintf(why, whylen, "out of memory");
	return -1;
}

/* Is this name one no rule may touch with op? */
static const char *
hdrrule_refused(const char *lname, enum hdrrule_op op)
{
	size_t i;

	for (i = 0; hdrrule_forbidden[i] != NULL; i++)
		if (strcmp(lname, hdrrule_forbidden[i]) == 0)
			return "is a framing or hop-by-hop field weir writes "
			    "itself; no rule may touch it";
	if (strcmp(lname, "host") == 0 && op != HDRRULE_SET)
		return "can only be set (every request forwards one Host)";
	return NULL;
}

int
hdrrule_compile(struct hdrrule *r, enum hdrrule_op op, const char *name,
    const char *value, char *why, size_t whylen)
{
	const char *no;
	size_t i;

	memset(r, 0, sizeof(*r));
	r->op = op;
	if (!hdrrule_token(name)) {
		snprintf(why, whylen, "invalid header name '%s'", name);
		return -1;
	}
	r->nlen = strlen(name);
	if ((r->name = strdup(name)) == NULL ||
	    (r->lname = strdup(name)) == NULL) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	for (i = 0; i < r->nlen; i++)
		r->lname[i] = hdrrule_lower(r->lname[i]);
	if ((no = hdrrule_refused(r->lname, op)) != NULL) {
		snprintf(why, whylen, "%s %s", name, no);
		return -1;
	}
	if (op == HDRRULE_DEL)
		return 0;
	return hdrrule_template(r, value != NULL ? value : "", why, whylen);
}

void
hdrrule_free(struct hdrrule *r)
{
	free(r->name);
	free(r->lname);
	free(r->text);
	free(r->parts);
}

static bool
hdrrule_same(const struct hdrrule *a, const struct hdrrule *b)
{
	return a->nlen == b->nlen && memcmp(a->lname, b->lname, a->nlen) == 0;
}

/* Note that set/del rule r removes its name (and which of weir's lines). */
static int
hdrrule_note_gone(struct hdrrule_list *l, const struct hdrrule *r,
    bool request, const char *reqid_name)
{
	struct http_span *g;
	size_t i;

	for (i = 0; i < l->ngone; i++)
		if (l->gone[i].len == r->nlen &&
		    memcmp(l->gone[i].p, r->lname, r->nlen) == 0)
			return 0;
	if ((g = realloc(l->gone, (l->ngone + 1) * sizeof(*g))) == NULL)
		return -1;
	l->gone = g;
	l->gone[l->ngone++] = (struct http_span){ r->lname, r->nlen };
	l->gone_lens |= (uint64_t)1 << (r->nlen & 63);
	if (reqid_name != NULL && strcasecmp(reqid_name, r->lname) == 0)
		l->own |= HDRRULE_OWN_REQID;
	for (i = 0; request && i < sizeof(hdrrule_own) / sizeof(hdrrule_own[0]);
	    i++)
		if (strcmp(hdrrule_own[i].name, r->lname) == 0)
			l->own |= hdrrule_own[i].bit;
	return 0;
}

/*
 * A rule's line survives when no later set or del names it; a request's
 * surviving set Host is the Host line instead of a line of its own.
 */
static int
hdrrule_plan(struct hdrrule_list *l, bool request, const char *reqid_name)
{
	size_t i, j;

	for (i = 0; i < l->n; i++) {
		const struct hdrrule *r = l->v[i].r;

		if (r->op != HDRRULE_ADD &&
		    hdrrule_note_gone(l, r, request, reqid_name) == -1)
			return -1;
		l->v[i].emit = r->op != HDRRULE_DEL;
		for (j = i + 1; j < l->n && l->v[i].emit; j++)
			if (l->v[j].r->op != HDRRULE_ADD &&
			    hdrrule_same(r, l->v[j].r))
				l->v[i].emit = false;
		if (l->v[i].emit && request && strcmp(r->lname, "host") == 0) {
			l->host = r;
			l->v[i].emit = false;
		}
		if (l->v[i].emit)
			l->vars |= r->vars;
	}
	if (l->host != NULL)
		l->vars |= l->host->vars;
	return 0;
}

int
hdrrule_join(struct hdrrule_list **out, const struct hdrrule *a,
    size_t na, const struct hdrrule *b, size_t nb, bool request,
    const char *reqid_name)
{
	struct hdrrule_list *l;
	size_t i;

	*out = NULL;
	if (na + nb == 0)
		return 0;
	if ((l = calloc(1, sizeof(*l))) == NULL ||
	    (l->v = calloc(na + nb, sizeof(*l->v))) == NULL)
		goto fail;
	for (i = 0; i < na; i++)
		l->v[l->n++].r = &a[i];
	for (i = 0; i < nb; i++)
		l->v[l->n++].r = &b[i];
	if (hdrrule_plan(l, request, reqid_name) == -1)
		goto fail;
	*out = l;
	return 0;
fail:
	hdrrule_list_free(l);
	return -1;
}

void
hdrrule_list_free(struct hdrrule_list *l)
{
	if (l == NULL)
		return;
	free(l->v);
	free(l->gone);
	free(l);
}

bool
hdrrule_removes(const struct hdrrule_list *l, struct http_span name)
{
	size_t i, k;

	if ((l->gone_lens & ((uint64_t)1 << (name.len & 63))) == 0)
		return false;
	for (i = 0; i < l->ngone; i++) {
		if (l->gone[i].len != name.len)
			continue;
		for (k = 0; k < name.len; k++)
			if (hdrrule_lower(name.p[k]) != l->gone[i].p[k])
				break;
		if (k == name.len)
			return true;
	}
	return false;
}

/* Append p[0..len) to out at *n; false when it does not fit. */
static bool
hdrrule_put(char *out, size_t cap, size_t *n, const char *p, size_t len)
{
	if (len > cap - *n)
		return false;
	memcpy(out + *n, p, len);
	*n += len;
	return true;
}

/* A variable's value, without the bytes that could end a line. */
static bool
hdrrule_put_var(char *out, size_t cap, size_t *n, struct http_span s)
{
	size_t i;

	for (i = 0; i < s.len; i++) {
		if (hdrrule_ctl((unsigned char)s.p[i]))
			continue;
		if (*n == cap)
			return false;
		out[(*n)++] = s.p[i];
	}
	return true;
}

size_t
hdrrule_value(char *out, size_t cap, const struct hdrrule *r,
    const struct hdrrule_vars *v)
{
	const struct hdrrule_part *p;
	size_t i, n = 0;
	bool fits = true;

	for (i = 0; i < r->nparts && fits; i++) {
		p = &r->parts[i];
		switch (p->var) {
		case HDRRULE_TEXT:
			fits = hdrrule_put(out, cap, &n, p->p, p->len);
			break;
		case HDRRULE_CLIENT_IP:
			fits = hdrrule_put_var(out, cap, &n, v->client_ip);
			break;
		case HDRRULE_REQUEST_ID:
			fits = hdrrule_put_var(out, cap, &n, v->request_id);
			break;
		case HDRRULE_HOST:
			fits = hdrrule_put_var(out, cap, &n, v->host);
			break;
		}
	}
	return fits ? n : SIZE_MAX;
}

size_t
hdrrule_lines(char *out, size_t cap, const struct hdrrule_list *l,
    const struct hdrrule_vars *v)
{
	const struct hdrrule *r;
	size_t i, n = 0, len;

	for (i = 0; i < l->n; i++) {
		if (!l->v[i].emit)
			continue;
		r = l->v[i].r;
		if (!hdrrule_put(out, cap, &n, r->name, r->nlen) ||
		    !hdrrule_put(out, cap, &n, ": ", 2) ||
		    (len = hdrrule_value(out + n, cap - n, r, v)) == SIZE_MAX)
			return SIZE_MAX;
		n += len;
		if (!hdrrule_put(out, cap, &n, "\r\n", 2))
			return SIZE_MAX;
	}
	return n;
}
