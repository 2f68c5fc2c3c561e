/* Tests for http/hdrrule.c: compiling, joining and applying header rules. */
#include "autoconf.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "http/hdrrule.h"

#define MAXR 16

/* Rules as "op Name: value" strings ("del Name"), compiled in order. */
static size_t
compile_all(struct hdrrule *r, const char *const *specs)
{
	char why[160], buf[256], *colon, *value;
	size_t n;
	enum hdrrule_op op;

	for (n = 0; specs[n] != NULL; n++) {
		assert_true(n < MAXR);
		op = strncmp(specs[n], "set ", 4) == 0 ? HDRRULE_SET :
		    strncmp(specs[n], "add ", 4) == 0 ? HDRRULE_ADD :
		    HDRRULE_DEL;
		snprintf(buf, sizeof(buf), "%s", specs[n] + 4);
		value = NULL;
		if ((colon = strchr(buf, ':')) != NULL) {
			*colon = '\0';
			value = colon + 2;
		}
		if (hdrrule_compile(&r[n], op, buf, value, why,
		    sizeof(why)) != 0)
			fail_msg("%s: %s", specs[n], why);
	}
	return n;
}

static void
free_all(struct hdrrule *r, size_t n)
{
	while (n > 0)
		hdrrule_free(&r[--n]);
}

static const struct hdrrule_vars vars = {
	.client_ip = { "203.0.113.9", 11 },
	.request_id = { "id-1", 4 },
	.host = { "example.com:8080", 16 },
};

/* The lines list a-then-b adds must be exactly want. */
static void
assert_lines(const char *const *a, const char *const *b, bool request,
    const char *want)
{
	struct hdrrule ra[MAXR], rb[MAXR];
	struct hdrrule_list *l;
	size_t na = compile_all(ra, a), nb = compile_all(rb, b), n;
	char out[1024];

	assert_int_equal(hdrrule_join(&l, ra, na, rb, nb, request, NULL), 0);
	assert_non_null(l);
	n = hdrrule_lines(out, sizeof(out), l, &vars);
	assert_true(n != SIZE_MAX);
	if (n != strlen(want) || memcmp(out, want, n) != 0)
		fail_msg("got:\n%.*s\nwant:\n%s", (int)n, out, want);
	hdrrule_list_free(l);
	free_all(ra, na);
	free_all(rb, nb);
}

static const char *const none[] = { NULL };

/* set replaces, add appends, del removes; later rules act on earlier. */
static void
test_set_add_del(void **state)
{
	(void)state;
	assert_lines((const char *const[]){ "add X-A: 1", "add X-A: 2",
	    "set X-B: b", NULL }, none, true,
	    "X-A: 1\r\nX-A: 2\r\nX-B: b\r\n");
	/* A set removes what add made before it. */
	assert_lines((const char *const[]){ "add X-A: 1", "set X-A: 2",
	    "add X-A: 3", NULL }, none, true, "X-A: 2\r\nX-A: 3\r\n");
	/* A del removes both earlier lines; the later add stays. */
	assert_lines((const char *const[]){ "add X-A: 1", "set X-B: 1",
	    "del X-A", "del X-B", "add X-A: 4", NULL }, none, true,
	    "X-A: 4\r\n");
}

/* The frontend's rules run first, the route's after them. */
static void
test_order_frontend_then_route(void **state)
{
	(void)state;
	assert_lines((const char *const[]){ "set X-Tier: edge",
	    "add X-Keep: fe", NULL },
	    (const char *const[]){ "set X-Tier: api", NULL }, true,
	    "X-Keep: fe\r\nX-Tier: api\r\n");
	/* A route's del takes away the frontend's line. */
	assert_lines((const char *const[]){ "add X-Debug: 1", NULL },
	    (const char *const[]){ "del x-debug", NULL }, true, "");
}

/* Names compare without case; lines keep the name as written. */
static void
test_case_insensitive(void **state)
{
	struct hdrrule r[MAXR];
	struct hdrrule_list *l;
	size_t n = compile_all(r, (const char *const[]){ "del X-Secret",
	    "set cache-control: no-store", NULL });

	(void)state;
	assert_int_equal(hdrrule_join(&l, r, n, NULL, 0, false, NULL), 0);
	assert_true(hdrrule_removes(l, (struct http_span){ "x-SECRET", 8 }));
	assert_true(hdrrule_removes(l,
	    (struct http_span){ "Cache-Control", 13 }));
	assert_false(hdrrule_removes(l, (struct http_span){ "X-Secre", 7 }));
	assert_false(hdrrule_removes(l,
	    (struct http_span){ "X-Secrets", 9 }));
	assert_false(hdrrule_removes(l, (struct http_span){ "X-Other", 7 }));
	hdrrule_list_free(l);
	free_all(r, n);
	/* A different spelling of the same name still replaces it. */
	assert_lines((const char *const[]){ "add x-a: 1", "set X-A: 2",
	    NULL }, none, true, "X-A: 2\r\n");
}

/* Values fill in {client_ip}, {request_id}, {host}; {{ and }} are braces. */
static void
test_templates(void **state)
{
	(void)state;
	assert_lines((const char *const[]){
	    "set X-Who: ip={client_ip} id={request_id} host={host}",
	    "add X-Json: {{\"a\": \"{host}\"}}", "add X-Lit: }}{{x}}",
	    NULL }, none, true,
	    "X-Who: ip=203.0.113.9 id=id-1 host=example.com:8080\r\n"
	    "X-Json: {\"a\": \"example.com:8080\"}\r\n"
	    "X-Lit: }{x}\r\n");
	assert_lines((const char *const[]){ "set X-Empty: ", NULL }, none,
	    true, "X-Empty: \r\n");
}

/* A variable's value can never end the line it is in. */
static void
test_no_injection(void **state)
{
	struct hdrrule r[MAXR];
	struct hdrrule_list *l;
	struct hdrrule_vars v = vars;
	size_t n = compile_all(r, (const char *const[]){ "set X-H: [{host}]",
	    NULL });
	char out[256];
	size_t len;

	(void)state;
	v.host = (struct http_span){ "a\r\nEvil: 1\0\x7f\tb", 14 };
	assert_int_equal(hdrrule_join(&l, r, n, NULL, 0, true, NULL), 0);
	len = hdrrule_lines(out, sizeof(out), l, &v);
	assert_int_equal(len, strlen("X-H: [aEvil: 1\tb]\r\n"));
	assert_memory_equal(out, "X-H: [aEvil: 1\tb]\r\n", len);
	/* Too little room: nothing half-written is claimed. */
	assert_int_equal(hdrrule_lines(out, 10, l, &v), SIZE_MAX);
	hdrrule_list_free(l);
	free_all(r, n);
}

/* Which of weir's own lines set and del take over; set Host. */
static void
test_own_lines_and_host(void **state)
{
	struct hdrrule r[MAXR];
	struct hdrrule_list *l;
	size_t n = compile_all(r, (const char *const[]){
	    "del X-Forwarded-For", "set x-real-ip: {client_ip}",
	    "add X-Forwarded-Proto: extra", "del X-Req", "set Host: a.b",
	    "set Host: internal.{host}", NULL });
	char out[256];

	(void)state;
	assert_int_equal(hdrrule_join(&l, r, n, NULL, 0, true, "x-req"), 0);
	assert_int_equal(l->own, HDRRULE_OWN_XFF | HDRRULE_OWN_XRI |
	    HDRRULE_OWN_REQID);
	/* The last set Host is the Host line, not an added one. */
	assert_ptr_equal(l->host, &r[5]);
	assert_int_equal(hdrrule_value(out, sizeof(out), l->host, &vars),
	    strlen("internal.example.com:8080"));
	assert_int_equal(hdrrule_lines(out, sizeof(out), l, &vars),
	    strlen("x-real-ip: 203.0.113.9\r\nX-Forwarded-Proto: extra\r\n"));
	assert_memory_equal(out, "x-real-ip: 203.0.113.9\r\n"
	    "X-Forwarded-Proto: extra\r\n", 50);
	assert_int_equal(l->vars, HDRRULE_USES(HDRRULE_CLIENT_IP) |
	    HDRRULE_USES(HDRRULE_HOST));
	hdrrule_list_free(l);
	/* In a response list Host is a plain name, X-Real-IP not weir's. */
	assert_int_equal(hdrrule_join(&l, r, n, NULL, 0, false, NULL), 0);
	assert_null(l->host);
	assert_int_equal(l->own, 0);
	hdrrule_list_free(l);
	free_all(r, n);
}

/* Compiling op name value must fail with a reason containing word. */
static void
assert_refused(enum hdrrule_op op, const char *name, const char *value,
    const char *word)
{
	struct hdrrule r;
	char why[160] = "";

	assert_int_equal(hdrrule_compile(&r, op, name, value, why,
	    sizeof(why)), -1);
	hdrrule_free(&r);
	if (strstr(why, word) == NULL)
		fail_msg("%s %s: '%s' lacks '%s'", name, value, why, word);
}

static void
test_refused(void **state)
{
	static const char *const framing[] = { "Content-Length",
	    "transfer-encoding", "Connection", "Keep-Alive",
	    "Proxy-Connection", "TE", "Trailer", "Upgrade" };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(framing) / sizeof(framing[0]); i++) {
		assert_refused(HDRRULE_SET, framing[i], "1", "hop-by-hop");
		assert_refused(HDRRULE_ADD, framing[i], "1", "hop-by-hop");
		assert_refused(HDRRULE_DEL, framing[i], NULL, "hop-by-hop");
	}
	assert_refused(HDRRULE_DEL, "Host", NULL, "only be set");
	assert_refused(HDRRULE_ADD, "HOST", "x", "only be set");
	assert_refused(HDRRULE_DEL, "X-A: 1", NULL, "invalid header name");
	assert_refused(HDRRULE_SET, "X A", "1", "invalid header name");
	assert_refused(HDRRULE_SET, "X-A", "{nope}", "unknown variable "
	    "'{nope}'");
	assert_refused(HDRRULE_SET, "X-A", "{Host}", "unknown variable");
	assert_refused(HDRRULE_SET, "X-A", "a{host", "without a closing");
	assert_refused(HDRRULE_SET, "X-A", "a}b", "'}}'");
	assert_refused(HDRRULE_ADD, "X-A", "a\rb", "control character");
	assert_refused(HDRRULE_ADD, "X-A", "a\x7f", "control character");
}

/* set Host is allowed, and a tab in a value is fine. */
static void
test_allowed(void **state)
{
	struct hdrrule r;
	char why[160];

	(void)state;
	assert_int_equal(hdrrule_compile(&r, HDRRULE_SET, "Host", "a.b", why,
	    sizeof(why)), 0);
	hdrrule_free(&r);
	assert_int_equal(hdrrule_compile(&r, HDRRULE_ADD, "X-T", "a\tb", why,
	    sizeof(why)), 0);
	hdrrule_free(&r);
}

/* No rule at all: no list, so serializing takes its plain path. */
static void
test_no_rules_no_list(void **state)
{
	struct hdrrule_list *l = (struct hdrrule_list *)state;

	assert_int_equal(hdrrule_join(&l, NULL, 0, NULL, 0, true, NULL), 0);
	assert_null(l);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_set_add_del),
		cmocka_unit_test(test_order_frontend_then_route),
		cmocka_unit_test(test_case_insensitive),
		cmocka_unit_test(test_templates),
		cmocka_unit_test(test_no_injection),
		cmocka_unit_test(test_own_lines_and_host),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_allowed),
		cmocka_unit_test(test_no_rules_no_list),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
