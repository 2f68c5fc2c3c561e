/*
 * Unit tests for basic authentication's pure parts: the htpasswd parser
 * and checker (common/htpasswd.c) and the Basic header decoder
 * (http/basic.c).
 */
#include "autoconf.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/htpasswd.h"
#include "http/basic.h"

/* Made with htpasswd -nbB alice secret, mkpasswd -m sha-512 'pa:ss' and
 * mkpasswd -m yescrypt (UTF-8 "\u00fcn\u00efcode"). */
#define BCRYPT	"$2y$05$xMecQMuaxlRL0nyyLyoJWu6o5kvUuALjXPXpC929Rmp6RTN3mpdVW"
#define SHA512	"$6$nU0P/DCIie4Vs1sy$O1jZ7WBb0W9a1STOEkysptr4e8.Cm/W7aCpEoWQ" \
		"WJ7hx1GscEPGl5N1tVjEQHCHaG3LBKpCmoLJG2FZ4g5jk10"
#define YESCRYPT "$y$j9T$lv4b3JxwRDCk8X6NdZQwc0$UiIgZSAWg.OuBMI39F9zvAgubcd1H" \
		"vpTDLP6EaDOXN9"
#define UTF8PASS "\xc3\xbcn\xc3\xaf" "code"

static char err[512];

/* Parse text as file "pw"; the table, or NULL with err set. */
static struct htpasswd *
parse(const char *text)
{
	struct htpasswd *t = (struct htpasswd *)1;

	err[0] = '\0';
	if (htpasswd_parse("pw", text, strlen(text), &t, err,
	    sizeof(err)) == -1) {
		assert_null(t);
		return NULL;
	}
	return t;
}

/* The parse of text fails with err starting with want. */
static void
refused(const char *text, const char *want)
{
	assert_null(parse(text));
	if (strncmp(err, want, strlen(want)) != 0)
		fail_msg("'%s': got '%s', want '%s...'", text, err, want);
}

static void
test_parse_good(void **state)
{
	struct htpasswd *t;

	(void)state;
	t = parse("# users\n\nalice:" BCRYPT "\r\n  # indented comment\n"
	    "bob:" SHA512 "\n\t\ncarol:" YESCRYPT);
	assert_non_null(t);
	assert_int_equal(t->nusers, 3);
	assert_string_equal(t->users[0].name, "alice");
	assert_int_equal(t->users[0].name_len, 5);
	assert_string_equal(t->users[0].hash, BCRYPT);	/* CR cut */
	assert_int_equal(t->users[0].line, 3);
	assert_string_equal(t->users[1].hash, SHA512);
	assert_int_equal(t->users[1].line, 5);
	assert_string_equal(t->users[2].name, "carol");
	assert_int_equal(t->users[2].line, 7);
	free(t);
}

static void
test_parse_refused(void **state)
{
	(void)state;
	refused("alice:" BCRYPT "\nbob\n", "pw:2: expected 'user:hash'");
	refused("alice:secret\n", "pw:1: plain text or traditional DES");
	refused("alice:ab01234567890\n", "pw:1: plain text or traditional DES");
	refused("#\nbob:{SHA}EfatjsUqKYSrqv18O1FlA3hcIHI=\n", "pw:2: {SHA} "
	    "(htpasswd -s) is unsalted SHA-1");
	refused("bob:$apr1$fUBKXaW2$/1vsB8AANKKem2z61hSrf/\n", "pw:1: $apr1$ "
	    "(htpasswd -m, Apache's own MD5) is not a crypt(3) method");
	refused("bob:$1$/9niu75t$3lZniAZz5iudP5tQNMHfU1\n", "pw:1: a legacy "
	    "crypt(3) method");
	refused("bob:$5$RQBDbF7wCUaP0moV$ovdAIDRwW2pqC9.LLnNN.68x8xrQdu3YE2EU"
	    "sYOj8j0\n", "pw:1: a legacy crypt(3) method");
	refused("bob:$9$abc$def\n", "pw:1: not a crypt(3) hash libxcrypt");
	refused("bob:\n", "pw:1: no hash after ':'");
	refused(":" BCRYPT "\n", "pw:1: empty user name");
	refused("al\x01" "ce:" BCRYPT "\n", "pw:1: user name holds a control");
	refused("alice:" BCRYPT "\nalice:" SHA512 "\n", "pw:2: user given "
	    "twice");
	/* Cut short: crypt_checksalt() alone would take these. */
	refused("alice:$2y$05$xMecQMuaxlRL0nyyLyoJWu\n", "pw:1: the hash is "
	    "cut short");
	refused("alice:$6$nU0P/DCIie4Vs1sy$O1jZ7WBb\n", "pw:1: the hash is "
	    "cut short");
	refused("alice:$6$nU0P/DCIie4Vs1sy\n", "pw:1: the hash is cut short");
	refused("alice:$6$nU0P/DCIie4Vs1sy$O1jZ7WBb0W9a1STOEkysptr4e8.Cm/W7aC"
	    "pEoWQWJ7hx1GscEPGl5N1tVjEQHCHaG3LBKpCmoLJG2FZ4g5jk1*\n", "pw:1: "
	    "not a crypt(3) hash libxcrypt");
	refused("# nobody\n\n", "pw: no 'user:hash' line");
	refused("", "pw: no 'user:hash' line");
}

/*
 * Costs a check may not exceed (about 70 ms each here): at the bound a
 * file loads, one step above it is refused with the line, and so are the
 * absurd ones whose one check would hang a worker for minutes.
 */
static void
test_parse_costs(void **state)
{
	static const char *const ok[] = {
		"$2y$10$1iPFdQs0wDYD5miBjZ5UV.modq1PJNsgoUgnBQtdTtgsAJYyEeIYi",
		"$6$rounds=100000$yznM3YMmrg8N4VKd$Dr1lu8RU9tGpy/AVUqizNhVND06Z"
		"mVSegsXOlrsYeqKFh8o.tt72kek.2q8RqJD2krDBqd0AmDpsL3HwrIMEZ1",
		"$y$jBT$mxvZYn7FasDQw3A9xHb06.$1iI4GSz6ax7y1JLXXFBoOmSVg1MkAGcK"
		"E1d7v2JYQM.",
		"$7$CU..../....ZnR4jgN2iFFuT7bBXncHR.$MX3am6lNTZfMXDbTeuU72u2pg"
		"zvKevdZgDPcjhhPUq2",
	};
	char line[256];
	struct htpasswd *t;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		snprintf(line, sizeof(line), "u:%s\n", ok[i]);
		if ((t = parse(line)) == NULL)
			fail_msg("'%s' refused: %s", ok[i], err);
		free(t);
	}
	refused("u:$2y$11$84DNlQoFM73iSr7D9U.RtegGHUM/bJAAqYl0IES4mKaJVANa."
	    "k3ki\n", "pw:1: bcrypt cost above 10");
	refused("u:$2b$31$84DNlQoFM73iSr7D9U.RtegGHUM/bJAAqYl0IES4mKaJVANa."
	    "k3ki\n", "pw:1: bcrypt cost above 10");
	refused("u:$6$rounds=100001$uzi4icI4Zt6j4Cg6$EZfhOJGb9l7YMkZpDDNd6R"
	    "oZqgiSaef6zK8piAIXuDN/oCStjhs6BjO5DOW.feKaPmDiTJMZAT4aeQ8l/lybM/"
	    "\n", "pw:1: sha512-crypt above rounds=100000");
	refused("u:$6$rounds=999999999$uzi4icI4Zt6j4Cg6$EZfhOJGb9l7YMkZpDDN"
	    "d6RoZqgiSaef6zK8piAIXuDN/oCStjhs6BjO5DOW.feKaPmDiTJMZAT4aeQ8l/lyb"
	    "M/\n", "pw:1: sha512-crypt above rounds=100000");
	refused("u:$y$jCT$NfMZ5DsOPIb8.YTTkxPog0$7/JxEQLzTxyJrjj/BZAu/kUaypR"
	    "Fo1mjr6IFtCd3WTC\n", "pw:1: yescrypt cost above");
	refused("u:$y$jBU$NfMZ5DsOPIb8.YTTkxPog0$7/JxEQLzTxyJrjj/BZAu/kUaypR"
	    "Fo1mjr6IFtCd3WTC\n", "pw:1: yescrypt cost above");
	refused("u:$y$jBT..$NfMZ5DsOPIb8.YTTkxPog0$7/JxEQLzTxyJrjj/BZAu/kUay"
	    "pRFo1mjr6IFtCd3WTC\n", "pw:1: yescrypt parameters other than");
	refused("u:$7$DU..../....H41nebthhDpKGMfjP2mFZ/$9fn4rqWKWplnTr77c4Pzj"
	    "TH3Re4uJfMMj/KebrYDFY.\n", "pw:1: scrypt cost above");
	refused("u:$7$CU..../0...H41nebthhDpKGMfjP2mFZ/$9fn4rqWKWplnTr77c4Pzj"
	    "TH3Re4uJfMMj/KebrYDFY.\n", "pw:1: scrypt cost above");
}

static void
test_parse_nul(void **state)
{
	struct htpasswd *t = NULL;
	static const char text[] = "alice:" BCRYPT "\n\0bob:x\n";

	(void)state;
	assert_int_equal(htpasswd_parse("pw", text, sizeof(text) - 1, &t, err,
	    sizeof(err)), -1);
	assert_null(t);
	assert_string_equal(err, "pw: holds a NUL byte (not a text file)");
}

static void
test_verify(void **state)
{
	struct htpasswd *t = parse("alice:" BCRYPT "\nbob:" SHA512 "\n"
	    "carol:" YESCRYPT "\n");
	const struct htpasswd_user *who;

	(void)state;
	assert_non_null(t);
	assert_true(htpasswd_verify(t, "alice", 5, "secret", 6, &who));
	assert_ptr_equal(who, &t->users[0]);
	assert_false(htpasswd_verify(t, "alice", 5, "Secret", 6, &who));
	assert_ptr_equal(who, &t->users[0]);
	assert_true(htpasswd_verify(t, "bob", 3, "pa:ss", 5, &who));
	assert_false(htpasswd_verify(t, "bob", 3, "secret", 6, &who));
	assert_true(htpasswd_verify(t, "carol", 5, UTF8PASS,
	    strlen(UTF8PASS), &who));
	/* Names compare whole: a prefix or a longer name is another user. */
	assert_false(htpasswd_verify(t, "alic", 4, "secret", 6, &who));
	assert_null(who);
	assert_false(htpasswd_verify(t, "alicex", 6, "secret", 6, &who));
	assert_null(who);
	/* An unknown user with the first user's password: still refused. */
	assert_false(htpasswd_verify(t, "mallory", 7, "secret", 6, &who));
	assert_null(who);
	free(t);
}

/* Decode a header value; the result, or -1. */
static int
decode(const char *v, struct basic_cred *cr, char *buf)
{
	return basic_decode(v, strlen(v), buf, cr);
}

static void
test_basic_decode(void **state)
{
	char buf[BASIC_MAX_CRED + 1];
	struct basic_cred cr;

	(void)state;
	/* "alice:secret" */
	assert_int_equal(decode("Basic YWxpY2U6c2VjcmV0", &cr, buf), 0);
	assert_string_equal(cr.user, "alice");
	assert_int_equal(cr.ulen, 5);
	assert_string_equal(cr.pass, "secret");
	assert_int_equal(cr.plen, 6);
	/* The scheme in any case, more than one blank. */
	assert_int_equal(decode("bAsIc  \tYWxpY2U6c2VjcmV0", &cr, buf), 0);
	assert_string_equal(cr.user, "alice");
	/* "bob:pa:ss": the first ':' splits. */
	assert_int_equal(decode("Basic Ym9iOnBhOnNz", &cr, buf), 0);
	assert_string_equal(cr.user, "bob");
	assert_string_equal(cr.pass, "pa:ss");
	/* "a:" (padded and not): an empty password is a password. */
	assert_int_equal(decode("Basic YTo=", &cr, buf), 0);
	assert_string_equal(cr.pass, "");
	assert_int_equal(decode("Basic YTo", &cr, buf), 0);
	assert_int_equal(cr.plen, 0);
	/* "carol:" + UTF-8: bytes from 0x80 up pass. */
	assert_int_equal(decode("Basic Y2Fyb2w6w7xuw69jb2Rl", &cr, buf), 0);
	assert_string_equal(cr.pass, UTF8PASS);
}

static void
test_basic_refused(void **state)
{
	char buf[BASIC_MAX_CRED + 1], big[2 * BASIC_MAX_CRED];
	struct basic_cred cr;
	size_t i;

	(void)state;
	assert_int_equal(decode("Bearer YWxpY2U6c2VjcmV0", &cr, buf), -1);
	assert_int_equal(decode("BasicYWxpY2U6c2VjcmV0", &cr, buf), -1);
	assert_int_equal(decode("Basic", &cr, buf), -1);
	assert_int_equal(decode("Basic ", &cr, buf), -1);
	assert_int_equal(decode("Basic  ", &cr, buf), -1);
	/* Not base64: other characters, '=' inside, bad lengths. */
	assert_int_equal(decode("Basic YWxpY2U6c2VjcmV0!", &cr, buf), -1);
	assert_int_equal(decode("Basic YWxpY2U6c2Vj cmV0", &cr, buf), -1);
	assert_int_equal(decode("Basic YWxp=Y2U6c2VjcmV0", &cr, buf), -1);
	assert_int_equal(decode("Basic YWxpY2U6c2VjcmV0=", &cr, buf), -1);
	assert_int_equal(decode("Basic YWxpY", &cr, buf), -1);
	assert_int_equal(decode("Basic YTo===", &cr, buf), -1);
	assert_int_equal(decode("Basic YWxpY2U6c2VjcmV0\xc3\xa9", &cr, buf),
	    -1);
	/* base64url is not base64. */
	assert_int_equal(decode("Basic YTo-_w==", &cr, buf), -1);
	/* Stray bits: "YTr=" would be "a:" with low bits set. */
	assert_int_equal(decode("Basic YTr=", &cr, buf), -1);
	/* No ':' ("alice"), empty user (":x"). */
	assert_int_equal(decode("Basic YWxpY2U=", &cr, buf), -1);
	assert_int_equal(decode("Basic Ong=", &cr, buf), -1);
	/* Control characters: "a:b\0c", "a:b\nc", "a\x7f:b". */
	assert_int_equal(decode("Basic YTpiAGM=", &cr, buf), -1);
	assert_int_equal(decode("Basic YTpiCmM=", &cr, buf), -1);
	assert_int_equal(decode("Basic YX86Yg==", &cr, buf), -1);
	/* Over BASIC_MAX_CRED decoded bytes ("a:" then 'A's). */
	memcpy(big, "Basic YTpB", 10);
	for (i = 10; i + 4 < sizeof(big); i += 4)
		memcpy(big + i, "QUFB", 4);
	big[i] = '\0';
	assert_int_equal(decode(big, &cr, buf), -1);
}

/* Exactly BASIC_MAX_CRED decoded bytes still fit. */
static void
test_basic_limit(void **state)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned char raw[BASIC_MAX_CRED];
	char enc[6 + BASIC_MAX_CRED * 2], buf[BASIC_MAX_CRED + 1];
	struct basic_cred cr;
	size_t i, n = 6;
	uint32_t v;

	(void)state;
	memset(raw, 'x', sizeof(raw));
	raw[0] = 'a';
	raw[1] = ':';
	memcpy(enc, "Basic ", 6);
	for (i = 0; i + 3 <= sizeof(raw); i += 3) {
		v = (uint32_t)raw[i] << 16 | (uint32_t)raw[i + 1] << 8 |
		    raw[i + 2];
		enc[n++] = b64[v >> 18];
		enc[n++] = b64[v >> 12 & 63];
		enc[n++] = b64[v >> 6 & 63];
		enc[n++] = b64[v & 63];
	}
	/* 1024 = 3 * 341 + 1: one byte left, two characters, padded. */
	v = (uint32_t)raw[i] << 16;
	enc[n++] = b64[v >> 18];
	enc[n++] = b64[v >> 12 & 63];
	enc[n++] = '=';
	enc[n++] = '=';
	enc[n] = '\0';
	assert_int_equal(basic_decode(enc, n, buf, &cr), 0);
	assert_int_equal(cr.ulen + 1 + cr.plen, BASIC_MAX_CRED);
	/* One more byte does not fit. */
	memcpy(enc + n - 4, "eHg=", 4);		/* "xx" */
	assert_int_equal(basic_decode(enc, n, buf, &cr), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_refused),
		cmocka_unit_test(test_parse_costs),
		cmocka_unit_test(test_parse_nul),
		cmocka_unit_test(test_verify),
		cmocka_unit_test(test_basic_decode),
		cmocka_unit_test(test_basic_refused),
		cmocka_unit_test(test_basic_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
