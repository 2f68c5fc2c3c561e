/* Unit tests for master/token.c: reading token_file, comparing a token. */
#include "autoconf.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/config.h"
#include "master/token.h"

#define MINIMAL \
	"[frontend web]\n" \
	"listen = 127.0.0.1:8080\n" \
	"backend = app\n" \
	"[backend app]\n" \
	"server = 127.0.0.1:9001\n"

static char dir[] = "/tmp/test_token.XXXXXX";
static char file[256];

/* A config whose [admin] token_file (line 3) is file. */
static struct config *
token_config(void)
{
	struct config *cfg = NULL;
	char text[1024], err[512];

	snprintf(text, sizeof(text), "[admin]\nlisten = 127.0.0.1:9100\n"
	    "token_file = %s\n" MINIMAL, file);
	if (config_load_string("t.ini", text, &cfg, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	return cfg;
}

/* Write content (len bytes) to file with mode. */
static void
token_write(const char *content, size_t len, mode_t mode)
{
	FILE *fp;

	unlink(file);
	assert_non_null(fp = fopen(file, "w"));
	assert_int_equal(fwrite(content, 1, len, fp), len);
	fclose(fp);
	assert_int_equal(chmod(file, mode), 0);
}

/* Loading must fail with "t.ini:3: token_file FILE: " and word. */
static void
token_err(const char *word)
{
	struct config *cfg = token_config();
	struct token tok;
	char err[512], want[512];

	memset(&tok, 0x55, sizeof(tok));
	assert_int_equal(token_load(cfg, &tok, err, sizeof(err)), -1);
	assert_false(tok.set);
	snprintf(want, sizeof(want), "t.ini:3: token_file %s: ", file);
	if (strncmp(err, want, strlen(want)) != 0 || strstr(err, word) == NULL)
		fail_msg("error '%s' does not start with '%s' and mention '%s'",
		    err, want, word);
	config_free(cfg);
}

static int
setup(void **state)
{
	(void)state;
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(file, sizeof(file), "%s/admin.token", dir);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	unlink(file);
	rmdir(dir);
	return 0;
}

/* The first line, blanks trimmed; the rest of the file is ignored. */
static void
test_load(void **state)
{
	struct config *cfg;
	struct token tok;
	char err[512];

	(void)state;
	token_write(" \ts3cr3t-T0ken\t \r\nsecond line\n", 30, 0600);
	cfg = token_config();
	assert_int_equal(token_load(cfg, &tok, err, sizeof(err)), 0);
	assert_true(tok.set);
	assert_int_equal(tok.len, 12);
	assert_memory_equal(tok.v, "s3cr3t-T0ken", 12);
	assert_int_equal(tok.v[12], 0);
	token_clear(&tok);
	assert_false(tok.set);
	/* No newline at all; read-only for the owner. */
	token_write("abc", 3, 0400);
	assert_int_equal(token_load(cfg, &tok, err, sizeof(err)), 0);
	assert_int_equal(tok.len, 3);
	config_free(cfg);

	/* No token_file: no token, and nothing equals it. */
	assert_int_equal(config_load_string("t.ini", "[admin]\nlisten = "
	    "127.0.0.1:9100\n" MINIMAL, &cfg, err, sizeof(err)), 0);
	assert_int_equal(token_load(cfg, &tok, err, sizeof(err)), 0);
	assert_false(tok.set);
	assert_false(token_equal(&tok, "", 0));
	config_free(cfg);
}

static void
test_load_refused(void **state)
{
	char big[300];

	(void)state;
	token_write("tok\n", 4, 0644);
	token_err("group or others may read or write it (mode 0644)");
	token_write("tok\n", 4, 0620);
	token_err("(mode 0620)");
	token_write("tok\n", 4, 0604);
	token_err("(mode 0604)");
	token_write("", 0, 0600);
	token_err("its first line is empty");
	token_write(" \t\r\ntok\n", 8, 0600);
	token_err("its first line is empty");
	token_write("a b\n", 4, 0600);
	token_err("printable ASCII");
	token_write("caf\xc3\xa9\n", 6, 0600);
	token_err("printable ASCII");
	memset(big, 'x', sizeof(big));
	token_write(big, 257, 0600);
	token_err("longer than 256 bytes");
	token_write(big, 256, 0600);
	{
		struct config *cfg = token_config();
		struct token tok;
		char err[512];

		assert_int_equal(token_load(cfg, &tok, err, sizeof(err)), 0);
		assert_int_equal(tok.len, 256);
		config_free(cfg);
	}
	unlink(file);
	token_err("cannot open: No such file or directory");
	assert_int_equal(mkdir(file, 0700), 0);
	token_err("not a regular file");
	rmdir(file);
}

/* Equal only for the same bytes and the same length. */
static void
test_equal(void **state)
{
	struct token tok = { .set = true, .len = 6 };
	char big[TOKEN_MAX + 8];

	(void)state;
	memcpy(tok.v, "secret", 6);
	assert_true(token_equal(&tok, "secret", 6));
	assert_false(token_equal(&tok, "secreT", 6));
	assert_false(token_equal(&tok, "Secret", 6));
	assert_false(token_equal(&tok, "secre", 5));
	assert_false(token_equal(&tok, "secret!", 7));
	assert_false(token_equal(&tok, "secret\0", 7));
	assert_false(token_equal(&tok, "", 0));

	/* A token of the greatest length, and candidates past it. */
	memset(big, 'k', sizeof(big));
	memset(&tok, 0, sizeof(tok));
	tok.set = true;
	tok.len = TOKEN_MAX;
	memset(tok.v, 'k', TOKEN_MAX);
	assert_true(token_equal(&tok, big, TOKEN_MAX));
	assert_false(token_equal(&tok, big, TOKEN_MAX + 1));
	assert_false(token_equal(&tok, big, TOKEN_MAX - 1));
	tok.set = false;
	assert_false(token_equal(&tok, big, TOKEN_MAX));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_load_refused),
		cmocka_unit_test(test_equal),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
