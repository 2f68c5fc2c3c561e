/*
 * Header rules (request_header_set/add/del, response_header_set/add/del):
 * a rule compiled once from its config text, the list one request applies
 * (a frontend's rules, then its route's) joined once per config
 * generation, and the two things serializing a head asks of that list:
 * does it remove this field, and which lines does it add.
 */
#ifndef WEIR_HDRRULE_H
#define WEIR_HDRRULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/http.h"

enum hdrrule_op {
	HDRRULE_SET,		/* remove every line of the name, add one */
	HDRRULE_ADD,		/* append a line */
	HDRRULE_DEL,		/* remove every line of the name */
};

/* What one piece of a value template is. */
enum hdrrule_var {
	HDRRULE_TEXT,		/* literal bytes */
	HDRRULE_CLIENT_IP,	/* {client_ip}: the client policy.c decided */
	HDRRULE_REQUEST_ID,	/* {request_id}: the frontend's request id */
	HDRRULE_HOST,		/* {host}: the request's Host */
};

/* Bits of hdrrule.vars and hdrrule_list.vars: which variables are used. */
#define HDRRULE_USES(var)	(1u << (var))

struct hdrrule_part {
	enum hdrrule_var var;
	const char *p;		/* HDRRULE_TEXT: into hdrrule.text */
	size_t len;
};

/* One rule as the file gave it, compiled. */
struct hdrrule {
	enum hdrrule_op op;
	char *name;		/* as written: lines are added with it */
	char *lname;		/* lower case, for comparisons */
	size_t nlen;
	char *text;		/* the template's literal bytes, unescaped */
	struct hdrrule_part *parts;
	size_t nparts;
	unsigned vars;		/* HDRRULE_USES() of its variables */
	int line;		/* where the file gave it */
};

/* Lines weir writes itself that set and del rules may replace or remove. */
#define HDRRULE_OWN_XFF		0x01	/* X-Forwarded-For */
#define HDRRULE_OWN_XRI		0x02	/* X-Real-IP */
#define HDRRULE_OWN_XFP		0x04	/* X-Forwarded-Proto */
#define HDRRULE_OWN_XFH		0x08	/* X-Forwarded-Host */
#define HDRRULE_OWN_XCS		0x10	/* X-Client-Subject */
#define HDRRULE_OWN_REQID	0x20	/* the frontend's request_id */

/* A rule of a list, and whether its line survives the rules after it. */
struct hdrrule_use {
	const struct hdrrule *r;
	bool emit;
};

/*
 * The rules one request applies, in order: a frontend's, then its
 * route's. Built once per config generation (hdrrule_join), read only.
 */
struct hdrrule_list {
	struct hdrrule_use *v;
	size_t n;
	struct http_span *gone;	/* names set/del remove (lower case,
				 * each once) */
	size_t ngone;
	uint64_t gone_lens;	/* bit (len & 63) of each gone name: most
				 * fields are passed over on one test */
	unsigned own;		/* HDRRULE_OWN_*: weir's lines removed */
	const struct hdrrule *host;	/* requests: the set Host whose value
					 * replaces the Host line, or NULL */
	unsigned vars;		/* variables the surviving lines use */
};

/* The values a request gives the variables (spans may be empty). */
struct hdrrule_vars {
	struct http_span client_ip;
	struct http_span request_id;
	struct http_span host;
};

/*
 * Compile a rule: op on field name with value template (NULL for del).
 * Returns 0, or -1 with a reason in
 * why: a name that is not a token, a hop-by-hop or framing field (Content-
 * Length, Transfer-Encoding, Connection, Keep-Alive, Proxy-Connection, TE,
 * Trailer, Upgrade), Host with add or del, a control character, an
 * unknown {variable}, a '{' not closed or a '}' not written '}}'. r needs
 * hdrrule_free() either way.
 */
int hdrrule_compile(struct hdrrule *r, enum hdrrule_op op, const char *name,
    const char *value, char *why, size_t whylen);
void hdrrule_free(struct hdrrule *r);

/*
 * The list that applies a[0..na) then b[0..nb): into *out, or NULL when
 * there is no rule. request: Host is special (a set Host replaces the
 * Host line). reqid_name: the frontend's request id header, or NULL.
 * -1 when out of memory.
 */
int hdrrule_join(struct hdrrule_list **out, const struct hdrrule *a,
    size_t na, const struct hdrrule *b, size_t nb, bool request,
    const char *reqid_name);
void hdrrule_list_free(struct hdrrule_list *l);

/* Does l remove every field called name (a set or del rule names it)? */
bool hdrrule_removes(const struct hdrrule_list *l, struct http_span name);

/*
 * Write r's value with v's values in it into out[0..cap): the length, or
 * SIZE_MAX when it does not fit. Control characters other than HTAB in a
 * variable's value are left out: no value can end a line.
 */
size_t hdrrule_value(char *out, size_t cap, const struct hdrrule *r,
    const struct hdrrule_vars *v);
/* Write "Name: value\r\n" for each line l adds (in order); as above. */
size_t hdrrule_lines(char *out, size_t cap, const struct hdrrule_list *l,
    const struct hdrrule_vars *v);

#endif
