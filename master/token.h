/*
 * The admin API's bearer token: read from [admin] token_file, checked
 * like a secret should be, compared in constant time. Private to master/.
 */
#ifndef WEIR_TOKEN_H
#define WEIR_TOKEN_H

#include <stdbool.h>
#include <stddef.h>

struct config;

#define TOKEN_MAX	256	/* bytes of a token */

struct token {
	bool set;			/* false: no token_file (no writes) */
	size_t len;
	unsigned char v[TOKEN_MAX];	/* zero past len */
};

/*
 * Read cfg's token_file into tok (tok->set false when cfg has none). The
 * file must be a regular file that neither group nor others may read or
 * write; its first line with blanks trimmed is the token, 1 to TOKEN_MAX
 * bytes of printable ASCII without spaces. 0, or -1 with err set to
 * "FILE:LINE: why" naming the config file and the token_file line.
 */
int token_load(const struct config *cfg, struct token *tok, char *err,
    size_t errlen);
/*
 * Is cand (len bytes) the token? Always TOKEN_MAX steps with no early
 * exit, so the time taken says nothing about the token, not even its
 * length. False when no token is set.
 */
bool token_equal(const struct token *tok, const char *cand, size_t len);
/* Forget the token (its bytes are wiped). */
void token_clear(struct token *tok);

#endif
