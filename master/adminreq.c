/* Owns reading an admin request's path and PATCH body (see adminreq.h). */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>
#include <jansson.h>

#include "master/adminreq.h"

const char *const adminreq_admin_names[3] = { "ready", "drain", "maint" };
#define ADMINREQ_NADMIN \
	(sizeof(adminreq_admin_names) / sizeof(adminreq_admin_names[0]))

void
adminreq_path_free(struct adminreq_path *p)
{
	for (int i = 0; i < p->n; i++)
		free(p->seg[i]);
	p->n = 0;
}

/*
 * Split and decode path ("/api/v1/backends/app/servers/%5B%3A%3A1%5D%3A80"):
 * split first, so an encoded '/' stays inside its segment. -1 for a path
 * no route can match (too many segments, a NUL once decoded).
 */
int
adminreq_split(const char *path, struct adminreq_path *p)
{
	const char *s, *end;
	char *raw;
	size_t len;

	p->n = 0;
	if (path == NULL || *path != '/')
		return -1;
	for (s = path + 1;; s = end + 1) {
		end = strchr(s, '/');
		if (end == NULL)
			end = s + strlen(s);
		if (p->n == ADMINREQ_MAX_SEGS ||
		    (raw = strndup(s, (size_t)(end - s))) == NULL)
			goto fail;
		p->seg[p->n] = evhttp_uridecode(raw, 0, &len);
		free(raw);
		if (p->seg[p->n] == NULL)
			goto fail;
		if (strlen(p->seg[p->n++]) != len)
			goto fail;
		if (*end == '\0')
			return 0;
	}
fail:
	adminreq_path_free(p);
	return -1;
}

/* Which route the segments name. */
enum adminreq_route
adminreq_route(const struct adminreq_path *p)
{
	const char *const *s = (const char *const *)p->seg;

	if (p->n == 1 && strcmp(s[0], "metrics") == 0)
		return ROUTE_METRICS;
	if (p->n == 1 && (strcmp(s[0], "status") == 0 ||
	    strcmp(s[0], "status.js") == 0 || strcmp(s[0], "status.css") == 0))
		return ROUTE_STATUSPAGE;
	if (p->n < 3 || strcmp(s[0], "api") != 0 || strcmp(s[1], "v1") != 0)
		return ROUTE_NONE;
	if (p->n == 3 && strcmp(s[2], "status") == 0)
		return ROUTE_STATUS;
	if (p->n == 3 && strcmp(s[2], "frontends") == 0)
		return ROUTE_FRONTENDS;
	if (strcmp(s[2], "backends") != 0)
		return ROUTE_NONE;
	if (p->n == 3)
		return ROUTE_BACKENDS;
	if (p->n == 4 && *s[3] != '\0')
		return ROUTE_BACKEND;
	if (p->n == 5 && *s[3] != '\0' && strcmp(s[4], "servers") == 0)
		return ROUTE_SERVERS;
	if (p->n == 6 && *s[3] != '\0' && strcmp(s[4], "servers") == 0 &&
	    *s[5] != '\0')
		return ROUTE_SERVER;
	return ROUTE_NONE;
}

/* A request body as JSON (no key twice), or NULL with why set. */
static json_t *
adminreq_json(const char *body, size_t len, char *why, size_t whylen)
{
	json_error_t jerr;
	json_t *in;

	if ((in = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr)) == NULL)
		snprintf(why, whylen, "invalid JSON: %s (line %d, column %d)",
		    jerr.text, jerr.line, jerr.column);
	return in;
}

int
adminreq_patch(const char *body, size_t len, int *admin, int *weight,
    char *why, size_t whylen)
{
	const char *key, *name;
	json_t *in, *v;
	int status = 400;

	*admin = *weight = -1;
	if ((in = adminreq_json(body, len, why, whylen)) == NULL)
		return 400;
	if (!json_is_object(in) || json_object_size(in) == 0) {
		snprintf(why, whylen, "expected a JSON object with \"admin\" "
		    "and/or \"weight\"");
		goto out;
	}
	json_object_foreach(in, key, v) {
		if (strcmp(key, "admin") == 0) {
			name = json_string_value(v);
			for (size_t i = 0; name != NULL && i < ADMINREQ_NADMIN;
			    i++)
				if (strcmp(name, adminreq_admin_names[i]) == 0)
					*admin = (int)i;
			if (*admin == -1) {
				snprintf(why, whylen, "admin: expected "
				    "\"ready\", \"drain\" or \"maint\"");
				goto out;
			}
		} else if (strcmp(key, "weight") == 0) {
			if (!json_is_integer(v) || json_integer_value(v) < 0 ||
			    json_integer_value(v) > ADMINREQ_MAX_WEIGHT) {
				snprintf(why, whylen, "weight: expected a "
				    "whole number from 0 to %d",
				    ADMINREQ_MAX_WEIGHT);
				goto out;
			}
			*weight = (int)json_integer_value(v);
		} else {
			snprintf(why, whylen, "unknown field '%.64s' (expected "
			    "\"admin\" and/or \"weight\")", key);
			goto out;
		}
	}
	status = 0;
out:
	json_decref(in);
	return status;
}

/* One field of a POST body into s; 0, or 400 with why set. */
static int
adminreq_server_field(const char *key, json_t *v, struct adminreq_server *s,
    char *why, size_t whylen)
{
	if (strcmp(key, "address") == 0) {
		if (!json_is_string(v) || json_string_length(v) == 0 ||
		    json_string_length(v) >= sizeof(s->address)) {
			snprintf(why, whylen, "address: expected \"IP:PORT\"");
			return 400;
		}
		snprintf(s->address, sizeof(s->address), "%s",
		    json_string_value(v));
	} else if (strcmp(key, "weight") == 0 || strcmp(key, "max_conns") ==
	    0) {
		int max = key[0] == 'w' ? ADMINREQ_MAX_WEIGHT : 1000000;

		if (!json_is_integer(v) || json_integer_value(v) < (key[0] ==
		    'w') || json_integer_value(v) > max) {
			snprintf(why, whylen, "%s: expected a whole number "
			    "from %d to %d", key, key[0] == 'w', max);
			return 400;
		}
		*(key[0] == 'w' ? &s->weight : &s->max_conns) =
		    (int)json_integer_value(v);
	} else if (strcmp(key, "backup") == 0 || strcmp(key, "tls") == 0) {
		if (!json_is_boolean(v)) {
			snprintf(why, whylen, "%s: expected true or false", key);
			return 400;
		}
		*(key[0] == 'b' ? &s->backup : &s->tls) = json_is_true(v);
	} else {
		snprintf(why, whylen, "unknown field '%.64s' (expected address, "
		    "weight, backup, tls, max_conns)", key);
		return 400;
	}
	return 0;
}

int
adminreq_server(const char *body, size_t len, struct adminreq_server *s,
    char *why, size_t whylen)
{
	const char *key;
	json_t *in, *v;
	int status = 400;

	*s = (struct adminreq_server){ .weight = 1 };
	if ((in = adminreq_json(body, len, why, whylen)) == NULL)
		return 400;
	if (!json_is_object(in)) {
		snprintf(why, whylen, "expected a JSON object with \"address\"");
		goto out;
	}
	json_object_foreach(in, key, v)
		if (adminreq_server_field(key, v, s, why, whylen) != 0)
			goto out;
	if (s->address[0] == '\0') {
		snprintf(why, whylen, "address: required");
		goto out;
	}
	status = 0;
out:
	json_decref(in);
	return status;
}
