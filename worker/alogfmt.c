/*
 * Owns the text of access log lines: escaping what clients sent so that no
 * request can forge a line, the timestamps, and the JSON and combined
 * layouts. Pure functions over buffers; alog.c does the I/O.
 */
#include "autoconf.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "common/decimal.h"
#include "worker/alog.h"

static const char alogfmt_hex[] = "0123456789ABCDEF";

/* Bytes that never appear raw in a line: controls, DEL, non-ASCII, '"', '\'. */
static inline bool
alogfmt_unsafe(unsigned char b)
{
	return (unsigned)(b - 0x20) >= 0x5f || b == '"' || b == '\\';
}

#define ALOGFMT_ONES	0x0101010101010101ull
#define ALOGFMT_HIGHS	0x8080808080808080ull

/* Is any byte of w zero? (Exact for "any", though not for which.) */
static inline uint64_t
alogfmt_zero_byte(uint64_t w)
{
	return (w - ALOGFMT_ONES) & ~w & ALOGFMT_HIGHS;
}

/*
 * Is any of 8 bytes unsafe? The same test as alogfmt_unsafe(), a word at a
 * time: a byte below 0x20 or with its high bit set, 0x7f, '"' or '\'.
 */
static inline bool
alogfmt_word_unsafe(uint64_t w)
{
	return (((w - ALOGFMT_ONES * 0x20) | w) & ALOGFMT_HIGHS) != 0 ||
	    alogfmt_zero_byte(w ^ (ALOGFMT_ONES * 0x7f)) != 0 ||
	    alogfmt_zero_byte(w ^ (ALOGFMT_ONES * '"')) != 0 ||
	    alogfmt_zero_byte(w ^ (ALOGFMT_ONES * '\\')) != 0;
}

/*
 * The escaper behind both formats: safe runs are copied as they are, and
 * each unsafe byte becomes "\\\"" / "\\\\" (JSON only) or prefix + two hex
 * digits. Stops before an escape or run that would pass cap.
 */
static size_t
alogfmt_esc(char *out, size_t cap, const char *s, size_t len, size_t *used,
    bool json)
{
	size_t o = 0, i = 0, run, need;
	unsigned char b;

	while (i < len) {
		for (run = i; run + 8 <= len; run += 8) {
			uint64_t w;

			memcpy(&w, s + run, 8);
			if (alogfmt_word_unsafe(w))
				break;
		}
		for (; run < len && !alogfmt_unsafe((unsigned char)s[run]);
		    run++)
			;
		if (run > i) {
			if (run - i > cap - o)
				run = i + (cap - o);
			memcpy(out + o, s + i, run - i);
			o += run - i;
			i = run;
			if (i < len && !alogfmt_unsafe((unsigned char)s[i]))
				break;		/* out of room */
			continue;
		}
		b = (unsigned char)s[i];
		need = json ? (b == '"' || b == '\\' ? 2 : 6) : 4;
		if (need > cap - o)
			break;
		out[o++] = '\\';
		if (json && (b == '"' || b == '\\'))
			out[o++] = (char)b;
		else {
			if (json) {
				memcpy(out + o, "u00", 3);
				o += 3;
			} else
				out[o++] = 'x';
			out[o++] = alogfmt_hex[b >> 4];
			out[o++] = alogfmt_hex[b & 15];
		}
		i++;
	}
	if (used != NULL)
		*used = i;
	return o;
}

size_t
alogfmt_json_esc(char *out, size_t cap, const char *s, size_t len,
    size_t *used)
{
	return alogfmt_esc(out, cap, s, len, used, true);
}

size_t
alogfmt_clf_esc(char *out, size_t cap, const char *s, size_t len,
    size_t *used)
{
	return alogfmt_esc(out, cap, s, len, used, false);
}

/* Two digits of v (0..99) at p. */
static void
alogfmt_2d(char *p, int v)
{
	p[0] = (char)('0' + v / 10);
	p[1] = (char)('0' + v % 10);
}

/*
 * The text of one second in both layouts, "2026-12-02T10:01:02" and
 * "02/Dec/2026:10:01:02", made with gmtime_r() when the second changes: a
 * worker logs many lines a second, each with the time of its request.
 */
struct alogfmt_sec {
	int64_t sec;
	char rfc[19];
	char clf[20];
};

static const struct alogfmt_sec *
alogfmt_second(int64_t sec)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	static struct alogfmt_sec c = { .sec = INT64_MIN };
	time_t t = (time_t)sec;
	struct tm tm;
	int year;

	if (sec == c.sec)
		return &c;
	if (gmtime_r(&t, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	year = tm.tm_year + 1900;
	alogfmt_2d(c.rfc, year / 100 % 100);
	alogfmt_2d(c.rfc + 2, year % 100);
	c.rfc[4] = '-';
	alogfmt_2d(c.rfc + 5, tm.tm_mon + 1);
	c.rfc[7] = '-';
	alogfmt_2d(c.rfc + 8, tm.tm_mday);
	c.rfc[10] = 'T';
	alogfmt_2d(c.rfc + 11, tm.tm_hour);
	c.rfc[13] = ':';
	alogfmt_2d(c.rfc + 14, tm.tm_min);
	c.rfc[16] = ':';
	alogfmt_2d(c.rfc + 17, tm.tm_sec);
	alogfmt_2d(c.clf, tm.tm_mday);
	c.clf[2] = '/';
	memcpy(c.clf + 3, months + 3 * (tm.tm_mon % 12), 3);
	c.clf[6] = '/';
	memcpy(c.clf + 7, c.rfc, 4);
	memcpy(c.clf + 11, c.rfc + 10, 9);
	c.clf[11] = ':';
	c.sec = sec;
	return &c;
}

size_t
alogfmt_rfc3339(char *out, int64_t ms)
{
	int frac = (int)(ms % 1000);

	memcpy(out, alogfmt_second(ms / 1000)->rfc, 19);
	out[19] = '.';
	out[20] = (char)('0' + frac / 100);
	alogfmt_2d(out + 21, frac % 100);
	out[23] = 'Z';
	return 24;
}

size_t
alogfmt_clf_time(char *out, int64_t ms)
{
	memcpy(out, alogfmt_second(ms / 1000)->clf, 20);
	memcpy(out + 20, " +0000", 6);
	return 26;
}

/* A line being written; full once anything did not fit. */
struct alogfmt_out {
	char *p;
	size_t cap;
	size_t len;
	bool full;
	bool json;
};

static void
alogfmt_put(struct alogfmt_out *o, const char *s, size_t n)
{
	if (o->full || n > o->cap - o->len) {
		o->full = true;
		return;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

/* A string literal, its length known at compile time. */
#define alogfmt_lit(o, s)	alogfmt_put((o), (s), sizeof(s) - 1)

/* A string weir made itself (address, name): nothing in it to escape. */
static void
alogfmt_raw(struct alogfmt_out *o, const char *s)
{
	alogfmt_put(o, s, strlen(s));
}

static void
alogfmt_u64(struct alogfmt_out *o, uint64_t v)
{
	char tmp[DECIMAL_U64_MAX];
	const char *p = decimal_u64(tmp + sizeof(tmp), v);

	alogfmt_put(o, p, (size_t)(tmp + sizeof(tmp) - p));
}

/* Microseconds as milliseconds with three decimals: 1234 -> "1.234". */
static void
alogfmt_ms(struct alogfmt_out *o, int64_t us)
{
	char frac[4];
	int f = (int)(us % 1000);

	alogfmt_u64(o, (uint64_t)(us / 1000));
	frac[0] = '.';
	frac[1] = (char)('0' + f / 100);
	alogfmt_2d(frac + 2, f % 100);
	alogfmt_put(o, frac, 4);
}

/* Escaped bytes, then "..." when the value was cut short. */
static void
alogfmt_esc_str(struct alogfmt_out *o, const char *s, size_t len, bool cut)
{
	size_t used;

	if (o->full)
		return;
	o->len += alogfmt_esc(o->p + o->len, o->cap - o->len, s, len, &used,
	    o->json);
	if (used < len)
		o->full = true;
	if (cut)
		alogfmt_put(o, "...", 3);
}

/* A string of the request: escaped unless weir wrote it. */
static void
alogfmt_str(struct alogfmt_out *o, struct alog_str s)
{
	if (s.raw)
		alogfmt_put(o, s.p, s.len);
	else
		alogfmt_esc_str(o, s.p, s.len, s.cut);
}

/* What the client sent, as a JSON string value, or null. */
static void
alogfmt_jspan(struct alogfmt_out *o, struct alog_str s)
{
	if (s.p == NULL) {
		alogfmt_lit(o, "null");
		return;
	}
	alogfmt_lit(o, "\"");
	alogfmt_str(o, s);
	alogfmt_lit(o, "\"");
}

/* A string weir made, as a JSON string value, or null. */
static void
alogfmt_jraw(struct alogfmt_out *o, const char *s)
{
	if (s == NULL) {
		alogfmt_lit(o, "null");
		return;
	}
	alogfmt_lit(o, "\"");
	alogfmt_raw(o, s);
	alogfmt_lit(o, "\"");
}

/* A JSON number of milliseconds, or null. */
static void
alogfmt_jms(struct alogfmt_out *o, int64_t us)
{
	if (us < 0)
		alogfmt_lit(o, "null");
	else
		alogfmt_ms(o, us);
}

static const char *const alogfmt_cuts[] = { NULL, "client", "error", "stop" };

static const char *
alogfmt_cut_name(enum alog_cut cut)
{
	return (unsigned)cut < sizeof(alogfmt_cuts) / sizeof(alogfmt_cuts[0]) ?
	    alogfmt_cuts[cut] : "error";
}

static void
alogfmt_json(struct alogfmt_out *o, const struct alog_line *l)
{
	char t[24];

	alogfmt_lit(o, "{\"time\":\"");
	alogfmt_put(o, t, alogfmt_rfc3339(t, l->time_ms));
	alogfmt_lit(o, "\",\"client\":");
	alogfmt_jraw(o, l->client);
	alogfmt_lit(o, ",\"peer\":");
	alogfmt_jraw(o, l->peer);
	alogfmt_lit(o, ",\"method\":");
	alogfmt_jspan(o, l->method);
	alogfmt_lit(o, ",\"target\":");
	alogfmt_jspan(o, l->target);
	alogfmt_lit(o, ",\"proto\":");
	alogfmt_jspan(o, l->proto);
	alogfmt_lit(o, ",\"status\":");
	alogfmt_u64(o, l->status > 0 ? (uint64_t)l->status : 0);
	alogfmt_lit(o, ",\"bytes_in\":");
	alogfmt_u64(o, l->bytes_in);
	alogfmt_lit(o, ",\"bytes_out\":");
	alogfmt_u64(o, l->bytes_out);
	alogfmt_lit(o, ",\"duration_ms\":");
	alogfmt_jms(o, l->duration_us);
	alogfmt_lit(o, ",\"upstream\":");
	alogfmt_jraw(o, l->upstream);
	alogfmt_lit(o, ",\"connect_ms\":");
	alogfmt_jms(o, l->connect_us);
	alogfmt_lit(o, ",\"header_ms\":");
	alogfmt_jms(o, l->header_us);
	alogfmt_lit(o, ",\"retries\":");
	alogfmt_u64(o, l->retries);
	alogfmt_lit(o, ",\"request_id\":");
	alogfmt_jspan(o, l->id);
	alogfmt_lit(o, ",\"frontend\":");
	alogfmt_jraw(o, l->frontend);
	alogfmt_lit(o, ",\"backend\":");
	alogfmt_jraw(o, l->backend);
	alogfmt_lit(o, ",\"cut\":");
	alogfmt_jraw(o, alogfmt_cut_name(l->cut));
	alogfmt_lit(o, ",\"referer\":");
	alogfmt_jspan(o, l->referer);
	alogfmt_lit(o, ",\"user_agent\":");
	alogfmt_jspan(o, l->user_agent);
	alogfmt_lit(o, "}\n");
}

/* A quoted combined field: "value", or "-" when absent. */
static void
alogfmt_cquoted(struct alogfmt_out *o, struct alog_str s)
{
	alogfmt_put(o, "\"", 1);
	if (s.p == NULL)
		alogfmt_put(o, "-", 1);
	else
		alogfmt_str(o, s);
	alogfmt_put(o, "\"", 1);
}

/* A weir-made value, or "-". */
static void
alogfmt_craw(struct alogfmt_out *o, const char *v)
{
	if (v == NULL)
		alogfmt_lit(o, "-");
	else
		alogfmt_raw(o, v);
}

static void
alogfmt_cms(struct alogfmt_out *o, int64_t us)
{
	if (us < 0)
		alogfmt_lit(o, "-");
	else
		alogfmt_ms(o, us);
}

/* The request line "METHOD TARGET PROTO" of the parts that are known. */
static void
alogfmt_creq(struct alogfmt_out *o, const struct alog_line *l)
{
	const struct alog_str *parts[] = { &l->method, &l->target, &l->proto };
	bool any = false;

	alogfmt_put(o, "\"", 1);
	for (size_t i = 0; i < 3; i++) {
		if (parts[i]->p == NULL)
			continue;
		if (any)
			alogfmt_put(o, " ", 1);
		alogfmt_str(o, *parts[i]);
		any = true;
	}
	if (!any)
		alogfmt_put(o, "-", 1);
	alogfmt_put(o, "\"", 1);
}

/*
 * Apache's combined layout (so log tools read the first nine fields), then
 * weir's own fields as key=value.
 */
static void
alogfmt_combined(struct alogfmt_out *o, const struct alog_line *l)
{
	char t[26];

	alogfmt_craw(o, l->client);
	alogfmt_lit(o, " - - [");
	alogfmt_put(o, t, alogfmt_clf_time(t, l->time_ms));
	alogfmt_lit(o, "] ");
	alogfmt_creq(o, l);
	alogfmt_lit(o, " ");
	alogfmt_u64(o, l->status > 0 ? (uint64_t)l->status : 0);
	alogfmt_lit(o, " ");
	alogfmt_u64(o, l->bytes_out);
	alogfmt_lit(o, " ");
	alogfmt_cquoted(o, l->referer);
	alogfmt_lit(o, " ");
	alogfmt_cquoted(o, l->user_agent);
	alogfmt_lit(o, " rid=");
	if (l->id.p == NULL)
		alogfmt_lit(o, "-");
	else
		alogfmt_cquoted(o, l->id);
	alogfmt_lit(o, " in=");
	alogfmt_u64(o, l->bytes_in);
	alogfmt_lit(o, " dur=");
	alogfmt_cms(o, l->duration_us);
	alogfmt_lit(o, " up=");
	alogfmt_craw(o, l->upstream);
	alogfmt_lit(o, " connect=");
	alogfmt_cms(o, l->connect_us);
	alogfmt_lit(o, " header=");
	alogfmt_cms(o, l->header_us);
	alogfmt_lit(o, " retries=");
	alogfmt_u64(o, l->retries);
	alogfmt_lit(o, " fe=");
	alogfmt_craw(o, l->frontend);
	alogfmt_lit(o, " be=");
	alogfmt_craw(o, l->backend);
	alogfmt_lit(o, " cut=");
	alogfmt_craw(o, alogfmt_cut_name(l->cut));
	alogfmt_lit(o, " peer=");
	alogfmt_craw(o, l->peer);
	alogfmt_lit(o, "\n");
}

size_t
alogfmt_line(char *out, size_t cap, const struct alog_line *l, bool combined)
{
	struct alogfmt_out o = { out, cap, 0, false, !combined };

	if (combined)
		alogfmt_combined(&o, l);
	else
		alogfmt_json(&o, l);
	return o.full ? 0 : o.len;
}
