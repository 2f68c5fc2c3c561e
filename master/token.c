/* Owns the admin bearer token: reading token_file and comparing with it. */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/config.h"
#include "master/token.h"

#define TOKEN_READ_MAX	4096	/* bytes read for the first line */

/* The first line of buf (n bytes), blanks trimmed: start and length. */
static const char *
token_first_line(const char *buf, size_t n, size_t *len)
{
	const char *end = memchr(buf, '\n', n);

	if (end == NULL)
		end = buf + n;
	while (buf < end && strchr(" \t\r", *buf) != NULL)
		buf++;
	while (end > buf && strchr(" \t\r", end[-1]) != NULL)
		end--;
	*len = (size_t)(end - buf);
	return buf;
}

/* Check the token's text; NULL when fine, else why not. */
static const char *
token_invalid(const char *s, size_t len)
{
	if (len == 0)
		return "its first line is empty";
	if (len > TOKEN_MAX)
		return "the token is longer than 256 bytes";
	for (size_t i = 0; i < len; i++)
		if (s[i] < 0x21 || s[i] > 0x7e)
			return "the token has a character other than printable "
			    "ASCII (spaces included)";
	return NULL;
}

/* Open, check and read the file; 0 or -1 with why (a short reason). */
static int
token_read(const char *path, char *buf, size_t *n, char *why, size_t whylen)
{
	struct stat st;
	ssize_t got;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1) {
		snprintf(why, whylen, "cannot open: %s", strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		snprintf(why, whylen, "not a regular file");
		goto fail;
	}
	/* Anyone else who can read it can write through the API. */
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		snprintf(why, whylen, "group or others may read or write it "
		    "(mode %04o); chmod 600 it",
		    (unsigned)(st.st_mode & 07777));
		goto fail;
	}
	if ((got = read(fd, buf, TOKEN_READ_MAX)) == -1) {
		snprintf(why, whylen, "read error: %s", strerror(errno));
		goto fail;
	}
	*n = (size_t)got;
	close(fd);
	return 0;
fail:
	close(fd);
	return -1;
}

int
token_load(const struct config *cfg, struct token *tok, char *err,
    size_t errlen)
{
	const struct admin_conf *ad = cfg->admin;
	char buf[TOKEN_READ_MAX], why[256];
	const char *line, *bad;
	size_t n, len;

	memset(tok, 0, sizeof(*tok));
	if (ad == NULL || ad->token_file == NULL)
		return 0;
	if (token_read(ad->token_file, buf, &n, why, sizeof(why)) == -1)
		goto fail;
	line = token_first_line(buf, n, &len);
	if ((bad = token_invalid(line, len)) != NULL) {
		snprintf(why, sizeof(why), "%s", bad);
		goto fail;
	}
	memcpy(tok->v, line, len);
	tok->len = len;
	tok->set = true;
	explicit_bzero(buf, sizeof(buf));
	return 0;
fail:
	explicit_bzero(buf, sizeof(buf));
	snprintf(err, errlen, "%s:%d: token_file %s: %s", cfg->path,
	    ad->token_line, ad->token_file, why);
	return -1;
}

bool
token_equal(const struct token *tok, const char *cand, size_t len)
{
	unsigned char pad[TOKEN_MAX];
	volatile unsigned long diff;
	size_t n = len < TOKEN_MAX ? len : TOKEN_MAX;

	/*
	 * The candidate, zero-padded like the token, is compared over the
	 * whole buffer; a length that differs only sets a bit of diff. Only
	 * the copy depends on a length, and that is the candidate's own.
	 */
	memset(pad, 0, sizeof(pad));
	memcpy(pad, cand, n);
	diff = (unsigned long)(len ^ tok->len);
	for (size_t i = 0; i < TOKEN_MAX; i++)
		diff |= (unsigned long)(pad[i] ^ tok->v[i]);
	explicit_bzero(pad, sizeof(pad));
	return tok->set && diff == 0;
}

void
token_clear(struct token *tok)
{
	explicit_bzero(tok, sizeof(*tok));
}
