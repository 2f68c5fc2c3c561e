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

#include "worker/alog.h"

static const char alogfmt_hex[] = "0123456789ABCDEF";

/* Bytes that never appear raw in a line: controls, DEL, non-ASCII, '"', '\'. */
static inline bool
alogfmt_unsafe(unsigned char b)
{
	return b < 0x20 || b >= 0x7f || b == '"' || b == '\\';
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
		for (run = i; run < len &&
		    !alogfmt_unsafe((unsigned char)s[run]); run++)
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
 * The broken-down time of sec, from gmtime_r() once per second: a worker
 * logs many lines a second, each with the time of its request.
 */
static const struct tm *
alogfmt_tm(time_t sec)
{
	static time_t cached = (time_t)-1;
	static struct tm tm;

	if (sec != cached) {
		if (gmtime_r(&sec, &tm) == NULL)
			memset(&tm, 0, sizeof(tm));
		cached = sec;
	}
	return &tm;
}

size_t
alogfmt_rfc3339(char *out, int64_t ms)
{
	const struct tm *tm = alogfmt_tm((time_t)(ms / 1000));
	int year = tm->tm_year + 1900, frac = (int)(ms % 1000);

	alogfmt_2d(out, year / 100 % 100);
	alogfmt_2d(out + 2, year % 100);
	out[4] = '-';
	alogfmt_2d(out + 5, tm->tm_mon + 1);
	out[7] = '-';
	alogfmt_2d(out + 8, tm->tm_mday);
	out[10] = 'T';
	alogfmt_2d(out + 11, tm->tm_hour);
	out[13] = ':';
	alogfmt_2d(out + 14, tm->tm_min);
	out[16] = ':';
	alogfmt_2d(out + 17, tm->tm_sec);
	out[19] = '.';
	out[20] = (char)('0' + frac / 100);
	alogfmt_2d(out + 21, frac % 100);
	out[23] = 'Z';
	return 24;
}

size_t
alogfmt_clf_time(char *out, int64_t ms)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	const struct tm *tm = alogfmt_tm((time_t)(ms / 1000));
	int year = tm->tm_year + 1900;

	alogfmt_2d(out, tm->tm_mday);
	out[2] = '/';
	memcpy(out + 3, months + 3 * (tm->tm_mon % 12), 3);
	out[6] = '/';
	alogfmt_2d(out + 7, year / 100 % 100);
	alogfmt_2d(out + 9, year % 100);
	out[11] = ':';
	alogfmt_2d(out + 12, tm->tm_hour);
	out[14] = ':';
	alogfmt_2d(out + 15, tm->tm_min);
	out[17] = ':';
	alogfmt_2d(out + 18, tm->tm_sec);
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

static void
alogfmt_lit(struct alogfmt_out *o, const char *s)
{
	alogfmt_put(o, s, strlen(s));
}

static void
alogfmt_u64(struct alogfmt_out *o, uint64_t v)
{
	char tmp[20];
	size_t i = sizeof(tmp);

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	alogfmt_put(o, tmp + i, sizeof(tmp) - i);
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

/* A JSON string value, or null. */
static void
alogfmt_jstr(struct alogfmt_out *o, const char *key, const char *s,
    size_t len, bool cut)
{
	alogfmt_lit(o, key);
	if (s == NULL) {
		alogfmt_put(o, "null", 4);
		return;
	}
	alogfmt_put(o, "\"", 1);
	alogfmt_esc_str(o, s, len, cut);
	alogfmt_put(o, "\"", 1);
}

static void
alogfmt_jcstr(struct alogfmt_out *o, const char *key, const char *s)
{
	alogfmt_jstr(o, key, s, s != NULL ? strlen(s) : 0, false);
}

static void
alogfmt_jspan(struct alogfmt_out *o, const char *key, struct alog_str s)
{
	alogfmt_jstr(o, key, s.p, s.len, s.cut);
}

/* A JSON number of milliseconds, or null. */
static void
alogfmt_jms(struct alogfmt_out *o, const char *key, int64_t us)
{
	alogfmt_lit(o, key);
	if (us < 0)
		alogfmt_put(o, "null", 4);
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

	alogfmt_put(o, "{\"time\":\"", 9);
	alogfmt_put(o, t, alogfmt_rfc3339(t, l->time_ms));
	alogfmt_put(o, "\"", 1);
	alogfmt_jcstr(o, ",\"client\":", l->client);
	alogfmt_jcstr(o, ",\"peer\":", l->peer);
	alogfmt_jspan(o, ",\"method\":", l->method);
	alogfmt_jspan(o, ",\"target\":", l->target);
	alogfmt_jspan(o, ",\"proto\":", l->proto);
	alogfmt_lit(o, ",\"status\":");
	alogfmt_u64(o, l->status > 0 ? (uint64_t)l->status : 0);
	alogfmt_lit(o, ",\"bytes_in\":");
	alogfmt_u64(o, l->bytes_in);
	alogfmt_lit(o, ",\"bytes_out\":");
	alogfmt_u64(o, l->bytes_out);
	alogfmt_jms(o, ",\"duration_ms\":", l->duration_us);
	alogfmt_jcstr(o, ",\"upstream\":", l->upstream);
	alogfmt_jms(o, ",\"connect_ms\":", l->connect_us);
	alogfmt_jms(o, ",\"header_ms\":", l->header_us);
	alogfmt_lit(o, ",\"retries\":");
	alogfmt_u64(o, l->retries);
	alogfmt_jspan(o, ",\"request_id\":", l->id);
	alogfmt_jcstr(o, ",\"frontend\":", l->frontend);
	alogfmt_jcstr(o, ",\"backend\":", l->backend);
	alogfmt_jcstr(o, ",\"cut\":", alogfmt_cut_name(l->cut));
	alogfmt_jspan(o, ",\"referer\":", l->referer);
	alogfmt_jspan(o, ",\"user_agent\":", l->user_agent);
	alogfmt_put(o, "}\n", 2);
}

/* A quoted combined field: "value", or "-" when absent. */
static void
alogfmt_cquoted(struct alogfmt_out *o, struct alog_str s)
{
	alogfmt_put(o, "\"", 1);
	if (s.p == NULL)
		alogfmt_put(o, "-", 1);
	else
		alogfmt_esc_str(o, s.p, s.len, s.cut);
	alogfmt_put(o, "\"", 1);
}

/* " key=value" with a weir-made value, or " key=-". */
static void
alogfmt_ckv(struct alogfmt_out *o, const char *key, const char *v)
{
	alogfmt_lit(o, key);
	if (v == NULL)
		alogfmt_put(o, "-", 1);
	else
		alogfmt_esc_str(o, v, strlen(v), false);
}

static void
alogfmt_cms(struct alogfmt_out *o, const char *key, int64_t us)
{
	alogfmt_lit(o, key);
	if (us < 0)
		alogfmt_put(o, "-", 1);
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
		alogfmt_esc_str(o, parts[i]->p, parts[i]->len, parts[i]->cut);
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

	alogfmt_ckv(o, "", l->client);
	alogfmt_put(o, " - - [", 6);
	alogfmt_put(o, t, alogfmt_clf_time(t, l->time_ms));
	alogfmt_put(o, "] ", 2);
	alogfmt_creq(o, l);
	alogfmt_put(o, " ", 1);
	alogfmt_u64(o, l->status > 0 ? (uint64_t)l->status : 0);
	alogfmt_put(o, " ", 1);
	alogfmt_u64(o, l->bytes_out);
	alogfmt_put(o, " ", 1);
	alogfmt_cquoted(o, l->referer);
	alogfmt_put(o, " ", 1);
	alogfmt_cquoted(o, l->user_agent);
	alogfmt_lit(o, " rid=");
	if (l->id.p == NULL)
		alogfmt_put(o, "-", 1);
	else
		alogfmt_cquoted(o, l->id);
	alogfmt_lit(o, " in=");
	alogfmt_u64(o, l->bytes_in);
	alogfmt_cms(o, " dur=", l->duration_us);
	alogfmt_ckv(o, " up=", l->upstream);
	alogfmt_cms(o, " connect=", l->connect_us);
	alogfmt_cms(o, " header=", l->header_us);
	alogfmt_lit(o, " retries=");
	alogfmt_u64(o, l->retries);
	alogfmt_ckv(o, " fe=", l->frontend);
	alogfmt_ckv(o, " be=", l->backend);
	alogfmt_ckv(o, " cut=", alogfmt_cut_name(l->cut));
	alogfmt_ckv(o, " peer=", l->peer);
	alogfmt_put(o, "\n", 1);
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
