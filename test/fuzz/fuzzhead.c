/* Owns the invariant checks shared by the head harnesses (see fuzz.h). */
#include "autoconf.h"

#include "http/http.h"
#include "test/fuzz/fuzz.h"

static bool
fuzzhead_tchar(unsigned char c)
{
	return c > 0x20 && c < 0x7f && strchr("\"(),/:;<=>?@[\\]{}", c) == NULL;
}

/* One field line h[0..n) (no CRLF): token ':' then value bytes. */
static void
fuzzhead_check_field(const char *h, size_t n)
{
	size_t i = 0;

	while (i < n && fuzzhead_tchar((unsigned char)h[i]))
		i++;
	FUZZ_CHECK(i > 0 && i < n && h[i] == ':');
	for (i++; i < n; i++) {
		unsigned char c = (unsigned char)h[i];

		FUZZ_CHECK(c == '\t' || (c >= 0x20 && c != 0x7f));
	}
}

void
fuzzhead_check_bytes(const char *h, size_t len)
{
	const char *eol;
	size_t i = 0, n;
	bool first = true;

	FUZZ_CHECK(len >= 4 && memcmp(h + len - 4, "\r\n\r\n", 4) == 0);
	for (;;) {
		eol = memchr(h + i, '\r', len - i);
		FUZZ_CHECK(eol != NULL && (size_t)(eol - h) + 1 < len &&
		    eol[1] == '\n');
		n = (size_t)(eol - h) - i;
		FUZZ_CHECK(memchr(h + i, '\n', n) == NULL);
		if (n == 0) {
			FUZZ_CHECK(!first && i + 2 == len);
			return;
		}
		if (first) {
			for (size_t k = 0; k < n; k++)
				FUZZ_CHECK(h[i + k] >= 0x20 && h[i + k] < 0x7f);
			first = false;
		} else
			fuzzhead_check_field(h + i, n);
		i += n + 2;
	}
}

void
fuzzhead_check_msg(const struct http_msg *m, const char *h, size_t len)
{
	const struct http_header *f;
	size_t i, k;

	FUZZ_CHECK(m->head_len == len);
	FUZZ_CHECK(m->nheaders <= HTTP_MAX_HEADERS);
	FUZZ_CHECK(m->version_major == 1 && m->version_minor <= 1);
	for (i = 0; i < m->nheaders; i++) {
		f = &m->headers[i];
		FUZZ_CHECK(f->name.len > 0 &&
		    fuzz_inside(f->name.p, f->name.len, h, len));
		FUZZ_CHECK(fuzz_inside(f->value.p, f->value.len, h, len));
		for (k = 0; k < f->name.len; k++)
			FUZZ_CHECK(fuzzhead_tchar((unsigned char)f->name.p[k]));
		FUZZ_CHECK(f->id == parser_field_id(f->name));
		if (f->value.len == 0)
			continue;
		FUZZ_CHECK(memchr(f->value.p, '\r', f->value.len) == NULL);
		FUZZ_CHECK(memchr(f->value.p, '\n', f->value.len) == NULL);
		FUZZ_CHECK(f->value.p[0] != ' ' && f->value.p[0] != '\t');
		FUZZ_CHECK(f->value.p[f->value.len - 1] != ' ' &&
		    f->value.p[f->value.len - 1] != '\t');
	}
}

void
fuzzhead_check_prefixes(const char *buf, size_t skipped, size_t head_len,
    size_t max, uint64_t seed)
{
	size_t total = skipped + head_len, sk, hl, cut;
	const char *why;

	FUZZ_CHECK(scan_head(buf, total, max, &sk, &hl, &why) == SCAN_OK);
	FUZZ_CHECK(sk == skipped && hl == head_len);
	/* A prefix under the limit is incomplete; at the limit, too large. */
	FUZZ_CHECK(scan_head(buf, total - 1, max, &sk, &hl, &why) ==
	    SCAN_INCOMPLETE);
	cut = (size_t)(fuzz_rand(&seed) % total);
	FUZZ_CHECK(scan_head(buf, cut, max, &sk, &hl, &why) ==
	    SCAN_INCOMPLETE);
}

size_t
fuzzhead_field_lines(const char *h, size_t len)
{
	size_t i, n = 0;

	for (i = 0; i + 1 < len; i++)
		n += h[i] == '\r' && h[i + 1] == '\n';
	return n - 2;
}

size_t
fuzzhead_count(const struct http_msg *m, enum http_field id)
{
	size_t i, n = 0;

	for (i = 0; i < m->nheaders; i++)
		n += m->headers[i].id == id;
	return n;
}

bool
fuzzhead_subsequence(const struct http_msg *out, const struct http_msg *in,
    bool (*owned)(enum http_field))
{
	const struct http_header *a, *b;
	size_t i, j = 0;

	for (i = 0; i < out->nheaders; i++) {
		a = &out->headers[i];
		if (owned(a->id))
			continue;
		for (; j < in->nheaders; j++) {
			b = &in->headers[j];
			if (fuzz_same(a->name.p, a->name.len, b->name.p,
			    b->name.len) && fuzz_same(a->value.p, a->value.len,
			    b->value.p, b->value.len))
				break;
		}
		if (j == in->nheaders)
			return false;
		j++;
	}
	return true;
}

/* Case-insensitive equality of two spans (field names). */
static bool
fuzzhead_name_eq(struct http_span a, struct http_span b)
{
	size_t i;

	if (a.len != b.len)
		return false;
	for (i = 0; i < a.len; i++) {
		char x = a.p[i], y = b.p[i];

		if (x >= 'A' && x <= 'Z')
			x = (char)(x - 'A' + 'a');
		if (y >= 'A' && y <= 'Z')
			y = (char)(y - 'A' + 'a');
		if (x != y)
			return false;
	}
	return true;
}

bool
fuzzhead_has_named(const struct http_msg *m, const struct http_span *names,
    size_t n, bool (*owned)(enum http_field))
{
	size_t i, k;

	for (k = 0; k < n; k++)
		for (i = 0; i < m->nheaders; i++)
			if (!owned(m->headers[i].id) &&
			    fuzzhead_name_eq(m->headers[i].name, names[k]))
				return true;
	return false;
}
