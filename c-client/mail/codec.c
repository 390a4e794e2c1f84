/*
 * codec.c - base64, quoted-printable, RFC 2047 encoded words, charset
 * conversion to UTF-8, UTF-8 validation and case folding.
 *
 * All decoders take explicit lengths and treat their input as hostile:
 * they are single-pass and linear, never read past len, and produce
 * best-effort output for malformed input (except the strict base64 used
 * for SASL, which must refuse anything irregular).
 *
 * Charsets: US-ASCII, UTF-8 and ISO-8859-1 are converted here; every
 * other name goes to glibc iconv(3). One iconv descriptor is cached,
 * since SEARCH converts many parts in the same charset in a row.
 */
#include <errno.h>
#include <iconv.h>
#include <string.h>

#include "codec.h"

/* ---- base64 ---- */

static const char b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* value of a base64 character, 64 for '=', 255 for anything else */
static inline unsigned char b64_val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return (unsigned char)(c - 'A');
	if (c >= 'a' && c <= 'z')
		return (unsigned char)(c - 'a' + 26);
	if (c >= '0' && c <= '9')
		return (unsigned char)(c - '0' + 52);
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	if (c == '=')
		return 64;
	return 255;
}

bool base64_decode_strict(const char *in, size_t len, struct buf *out)
{
	size_t start = out->len;

	if (len % 4 != 0)
		return false;
	for (size_t i = 0; i < len; i += 4) {
		unsigned char v[4];
		for (unsigned k = 0; k < 4; k++)
			v[k] = b64_val((unsigned char)in[i + k]);
		bool last = i + 4 == len;
		if (v[0] >= 64 || v[1] >= 64 || v[2] == 255 || v[3] == 255 ||
		    (v[2] == 64 && v[3] != 64) ||
		    (!last && (v[2] == 64 || v[3] == 64)))
			goto fail;
		unsigned char o[3];
		o[0] = (unsigned char)(v[0] << 2 | v[1] >> 4);
		if (v[2] == 64) {
			/* unused bits must be zero: one encoding per input */
			if (v[1] & 0x0f)
				goto fail;
			buf_append(out, o, 1);
			continue;
		}
		o[1] = (unsigned char)((v[1] & 0x0f) << 4 | v[2] >> 2);
		if (v[3] == 64) {
			if (v[2] & 0x03)
				goto fail;
			buf_append(out, o, 2);
			continue;
		}
		o[2] = (unsigned char)((v[2] & 0x03) << 6 | v[3]);
		buf_append(out, o, 3);
	}
	return true;
fail:
	buf_truncate(out, start);
	return false;
}

void base64_decode_mime(const char *in, size_t len, struct buf *out)
{
	uint32_t acc = 0;
	unsigned n = 0;
	char *w = buf_reserve(out, len / 4 * 3 + 3);
	size_t o = 0;

	if (w == NULL)
		return;
	for (size_t i = 0; i < len; i++) {
		unsigned char v = b64_val((unsigned char)in[i]);
		if (v == 64)
			break;	/* padding: the data ends here */
		if (v == 255)
			continue;	/* line breaks, blanks, junk */
		acc = acc << 6 | v;
		if (++n == 4) {
			w[o++] = (char)(acc >> 16);
			w[o++] = (char)(acc >> 8);
			w[o++] = (char)acc;
			acc = 0;
			n = 0;
		}
	}
	/* a partial quantum: 2 chars give 1 octet, 3 give 2 */
	if (n == 2) {
		w[o++] = (char)(acc >> 4);
	} else if (n == 3) {
		w[o++] = (char)(acc >> 10);
		w[o++] = (char)(acc >> 2);
	}
	buf_commit(out, o);
}

void base64_encode(const void *in, size_t len, struct buf *out)
{
	const unsigned char *p = in;
	size_t need;

	if (!size_add(len, 2, &need))
		return;
	char *w = buf_reserve(out, need / 3 * 4);
	size_t o = 0;
	if (w == NULL)
		return;
	size_t i = 0;
	for (; i + 3 <= len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		w[o++] = b64_alphabet[v >> 18];
		w[o++] = b64_alphabet[v >> 12 & 63];
		w[o++] = b64_alphabet[v >> 6 & 63];
		w[o++] = b64_alphabet[v & 63];
	}
	if (len - i == 1) {
		uint32_t v = (uint32_t)p[i] << 16;
		w[o++] = b64_alphabet[v >> 18];
		w[o++] = b64_alphabet[v >> 12 & 63];
		w[o++] = '=';
		w[o++] = '=';
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		w[o++] = b64_alphabet[v >> 18];
		w[o++] = b64_alphabet[v >> 12 & 63];
		w[o++] = b64_alphabet[v >> 6 & 63];
		w[o++] = '=';
	}
	buf_commit(out, o);
}

/* ---- quoted-printable ---- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

void qp_decode(const char *in, size_t len, bool header_mode, struct buf *out)
{
	char *w = buf_reserve(out, len);
	size_t o = 0;

	if (w == NULL)
		return;
	for (size_t i = 0; i < len; i++) {
		char c = in[i];
		if (c == '_' && header_mode) {
			w[o++] = ' ';
		} else if (c == '=') {
			int hi = i + 1 < len ? hexval(in[i + 1]) : -1;
			int lo = i + 2 < len ? hexval(in[i + 2]) : -1;
			if (hi >= 0 && lo >= 0) {
				w[o++] = (char)(hi << 4 | lo);
				i += 2;
				continue;
			}
			/* soft line break, possibly with blanks a transport
			 * added before it */
			size_t j = i + 1;
			while (j < len && (in[j] == ' ' || in[j] == '\t'))
				j++;
			if (j < len && in[j] == '\r' && j + 1 < len &&
			    in[j + 1] == '\n')
				j++;
			if (j == len || in[j] == '\n') {
				i = j;
				continue;
			}
			w[o++] = '=';	/* broken: keep it as it is */
		} else if ((c == ' ' || c == '\t') && !header_mode) {
			/* trailing blanks before a hard line break were added
			 * in transport (RFC 2045 6.7 rule 3): drop them */
			size_t j = i;
			while (j < len && (in[j] == ' ' || in[j] == '\t'))
				j++;
			if (j < len && (in[j] == '\n' ||
			    (in[j] == '\r' && j + 1 < len && in[j + 1] == '\n'))) {
				i = j - 1;
				continue;
			}
			memcpy(w + o, in + i, j - i);
			o += j - i;
			i = j - 1;
		} else {
			w[o++] = c;
		}
	}
	buf_commit(out, o);
}

/* ---- UTF-8 ---- */

/* length of the valid UTF-8 sequence at s (1..4), 0 if invalid */
static size_t utf8_seq(const unsigned char *s, size_t len, uint32_t *cp_r)
{
	unsigned char c = s[0];
	uint32_t cp;
	size_t n;

	if (c < 0x80) {
		*cp_r = c;
		return 1;
	}
	if (c < 0xc2)
		return 0;
	if (c < 0xe0) {
		n = 2;
		cp = c & 0x1f;
	} else if (c < 0xf0) {
		n = 3;
		cp = c & 0x0f;
	} else if (c < 0xf5) {
		n = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (n > len)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	*cp_r = cp;
	return n;
}

bool utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	uint32_t cp;

	while (i < len) {
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		size_t n = utf8_seq(p + i, len - i, &cp);
		if (n == 0)
			return false;
		i += n;
	}
	return true;
}

static void utf8_put(struct buf *out, uint32_t cp)
{
	char b[4];
	size_t n;

	if (cp < 0x80) {
		b[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (char)(0xc0 | cp >> 6);
		b[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (char)(0xe0 | cp >> 12);
		b[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		b[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		b[0] = (char)(0xf0 | cp >> 18);
		b[1] = (char)(0x80 | (cp >> 12 & 0x3f));
		b[2] = (char)(0x80 | (cp >> 6 & 0x3f));
		b[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	buf_append(out, b, n);
}

#define REPLACEMENT 0xfffd

static void latin1_to_utf8(const char *in, size_t len, struct buf *out)
{
	size_t i = 0;

	while (i < len) {
		size_t st = i;
		while (i < len && (unsigned char)in[i] < 0x80)
			i++;
		buf_append(out, in + st, i - st);
		if (i < len)
			utf8_put(out, (unsigned char)in[i++]);
	}
}

/* copy UTF-8, replacing invalid sequences with U+FFFD */
static void utf8_sanitize(const char *in, size_t len, struct buf *out)
{
	const unsigned char *p = (const unsigned char *)in;
	size_t i = 0;
	uint32_t cp;

	while (i < len) {
		size_t st = i;
		while (i < len && p[i] < 0x80)
			i++;
		while (i < len) {
			size_t n = utf8_seq(p + i, len - i, &cp);
			if (n == 0)
				break;
			i += n;
		}
		buf_append(out, in + st, i - st);
		if (i < len) {
			utf8_put(out, REPLACEMENT);
			i++;
		}
	}
}

/* raw text of unknown origin: UTF-8 if it is valid, else Latin-1 */
static void raw_to_utf8(const char *in, size_t len, struct buf *out)
{
	if (utf8_valid(in, len))
		buf_append(out, in, len);
	else
		latin1_to_utf8(in, len, out);
}

/* ---- charsets ---- */

enum cs_kind { CS_ASCII, CS_UTF8, CS_LATIN1, CS_ICONV };

static enum cs_kind charset_kind(const char *cs)
{
	static const struct {
		const char *name;
		enum cs_kind kind;
	} names[] = {
		{ "us-ascii", CS_ASCII }, { "ascii", CS_ASCII },
		{ "ansi_x3.4-1968", CS_ASCII }, { "us", CS_ASCII },
		{ "utf-8", CS_UTF8 }, { "utf8", CS_UTF8 },
		{ "iso-8859-1", CS_LATIN1 }, { "iso8859-1", CS_LATIN1 },
		{ "iso_8859-1", CS_LATIN1 }, { "latin1", CS_LATIN1 },
		{ "latin-1", CS_LATIN1 }, { "l1", CS_LATIN1 },
		{ "iso-ir-100", CS_LATIN1 }, { "cp819", CS_LATIN1 },
	};
	for (size_t i = 0; i < N_ELEMENTS(names); i++)
		if (ascii_strcasecmp(cs, names[i].name) == 0)
			return names[i].kind;
	return CS_ICONV;
}

static struct {
	char name[64];
	iconv_t cd;
	bool valid;
} iconv_cache;

static iconv_t iconv_get(const char *charset)
{
	/* names with odd bytes are not charsets; iconv need not see them */
	size_t n = strlen(charset);
	if (n == 0 || n >= sizeof iconv_cache.name)
		return (iconv_t)-1;
	for (size_t i = 0; i < n; i++) {
		char c = charset[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		      c == '.' || c == ':'))
			return (iconv_t)-1;
	}
	if (iconv_cache.valid && ascii_strcasecmp(iconv_cache.name, charset) == 0) {
		iconv(iconv_cache.cd, NULL, NULL, NULL, NULL);	/* reset state */
		return iconv_cache.cd;
	}
	iconv_t cd = iconv_open("UTF-8", charset);
	if (cd == (iconv_t)-1)
		return cd;
	if (iconv_cache.valid)
		iconv_close(iconv_cache.cd);
	memcpy(iconv_cache.name, charset, n + 1);
	iconv_cache.cd = cd;
	iconv_cache.valid = true;
	return cd;
}

bool charset_known(const char *charset)
{
	return charset_kind(charset) != CS_ICONV ||
		iconv_get(charset) != (iconv_t)-1;
}

static bool iconv_convert(const char *charset, const char *in, size_t len,
			  struct buf *out)
{
	iconv_t cd = iconv_get(charset);

	if (cd == (iconv_t)-1)
		return false;
	char *ip = (char *)in;
	size_t il = len;
	while (il > 0) {
		size_t room = il * 4 + 16;
		char *w = buf_reserve(out, room);
		if (w == NULL)
			return true;
		char *op = w;
		size_t ol = room;
		size_t r = iconv(cd, &ip, &il, &op, &ol);
		buf_commit(out, room - ol);
		if (r != (size_t)-1)
			break;
		if (errno == E2BIG)
			continue;
		/* EILSEQ or an incomplete sequence at the end: mark it and
		 * go on with the next byte */
		utf8_put(out, REPLACEMENT);
		ip++;
		il--;
		iconv(cd, NULL, NULL, NULL, NULL);
	}
	/* flush any shift state */
	char tail[16], *op = tail;
	size_t ol = sizeof tail;
	if (iconv(cd, NULL, NULL, &op, &ol) != (size_t)-1)
		buf_append(out, tail, sizeof tail - ol);
	return true;
}

bool charset_to_utf8(const char *charset, const char *in, size_t len,
		     struct buf *out)
{
	switch (charset_kind(charset)) {
	case CS_ASCII:
		/* 8-bit text labelled US-ASCII is common: guess */
		raw_to_utf8(in, len, out);
		return true;
	case CS_UTF8:
		utf8_sanitize(in, len, out);
		return true;
	case CS_LATIN1:
		latin1_to_utf8(in, len, out);
		return true;
	case CS_ICONV:
		break;
	}
	return iconv_convert(charset, in, len, out);
}

/* ---- RFC 2047 ---- */

static inline bool is_lwsp(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

struct eword {
	size_t end;		/* index just past "?=" */
	const char *cs;
	size_t cs_len;		/* without any RFC 2231 "*lang" */
	char enc;		/* 'B' or 'Q' */
	const char *text;
	size_t text_len;
};

/* an encoded word "=?cs?e?text?=" starting at in[i] */
static bool eword_parse(const char *in, size_t len, size_t i, struct eword *w)
{
	size_t p = i + 2, cs = p;

	if (i + 2 > len || in[i] != '=' || in[i + 1] != '?')
		return false;
	while (p < len && in[p] != '?' && !is_lwsp(in[p]) && p - cs < 64)
		p++;
	if (p >= len || in[p] != '?' || p == cs || p - cs >= 63)
		return false;
	const char *star = memchr(in + cs, '*', p - cs);
	w->cs = in + cs;
	w->cs_len = star == NULL ? p - cs : (size_t)(star - (in + cs));
	if (w->cs_len == 0 || p + 3 > len || in[p + 2] != '?')
		return false;
	w->enc = ascii_toupper(in[p + 1]);
	if (w->enc != 'B' && w->enc != 'Q')
		return false;
	/* the text has no '?' and no whitespace; it ends at "?=" */
	size_t t = p + 3, e = t;
	while (e < len && in[e] != '?' && !is_lwsp(in[e]))
		e++;
	if (e + 1 >= len || in[e] != '?' || in[e + 1] != '=')
		return false;
	w->text = in + t;
	w->text_len = e - t;
	w->end = e + 2;
	return true;
}

/* decoded bytes of adjacent words in one charset, converted together so
 * that a character split across words survives */
struct pending {
	struct buf bytes;
	char cs[64];
	bool active;
};

static void pending_flush(struct pending *pd, struct buf *out)
{
	if (!pd->active)
		return;
	if (!charset_to_utf8(pd->cs, pd->bytes.data, pd->bytes.len, out))
		raw_to_utf8(pd->bytes.data, pd->bytes.len, out);
	buf_reset(&pd->bytes);
	pd->active = false;
}

void rfc2047_decode(const char *in, size_t len, struct buf *out)
{
	struct pending pd;
	size_t i = 0, text_start = 0;
	bool after_word = false;	/* only LWSP since the last word */

	pd.active = false;
	buf_init(&pd.bytes, 0);
	while (i < len) {
		const char *q = memchr(in + i, '=', len - i);
		struct eword w;
		if (q == NULL)
			break;
		i = (size_t)(q - in);
		if (!eword_parse(in, len, i, &w)) {
			i++;
			continue;
		}
		/* text between words: dropped if it is only whitespace
		 * between two encoded words (RFC 2047 6.2) */
		bool only_ws = true;
		for (size_t k = text_start; k < i && only_ws; k++)
			only_ws = is_lwsp(in[k]);
		if (!(after_word && only_ws)) {
			pending_flush(&pd, out);
			raw_to_utf8(in + text_start, i - text_start, out);
		}
		char cs[64];
		memcpy(cs, w.cs, w.cs_len);
		cs[w.cs_len] = '\0';
		if (pd.active && ascii_strcasecmp(pd.cs, cs) != 0)
			pending_flush(&pd, out);
		if (!pd.active) {
			memcpy(pd.cs, cs, w.cs_len + 1);
			pd.active = true;
		}
		if (w.enc == 'B')
			base64_decode_mime(w.text, w.text_len, &pd.bytes);
		else
			qp_decode(w.text, w.text_len, true, &pd.bytes);
		i = text_start = w.end;
		after_word = true;
	}
	pending_flush(&pd, out);
	raw_to_utf8(in + text_start, len - text_start, out);
	buf_release(&pd.bytes);
}

/* ---- case folding ---- */

static uint32_t fold_cp(uint32_t cp)
{
	if (cp < 0x80)
		return cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
	if (cp >= 0xc0 && cp <= 0xde && cp != 0xd7)
		return cp + 32;
	/* Latin Extended-A pairs (even upper, odd lower), minus the odd
	 * stretch U+0138..U+0148 and U+0178..U+017E */
	if (cp >= 0x100 && cp <= 0x137 && (cp & 1) == 0)
		return cp + 1;
	if (cp >= 0x139 && cp <= 0x148 && (cp & 1) == 1)
		return cp + 1;
	if (cp >= 0x14a && cp <= 0x177 && (cp & 1) == 0)
		return cp + 1;
	if (cp == 0x178)
		return 0xff;
	if (cp >= 0x179 && cp <= 0x17e && (cp & 1) == 1)
		return cp + 1;
	/* Greek and Cyrillic capitals */
	if (cp >= 0x391 && cp <= 0x3a9 && cp != 0x3a2)
		return cp + 32;
	if (cp >= 0x410 && cp <= 0x42f)
		return cp + 32;
	if (cp >= 0x400 && cp <= 0x40f)
		return cp + 80;
	return cp;
}

void utf8_casefold(const char *in, size_t len, struct buf *out)
{
	const unsigned char *p = (const unsigned char *)in;
	char *w = buf_reserve(out, len);
	size_t i = 0, o = 0;
	uint32_t cp;

	if (w == NULL)
		return;
	/* ASCII fast path writes in place; anything else goes through
	 * utf8_put, which may reallocate, so w is refreshed after it */
	while (i < len) {
		if (p[i] < 0x80) {
			w[o++] = (char)fold_cp(p[i]);
			i++;
			continue;
		}
		size_t n = utf8_seq(p + i, len - i, &cp);
		buf_commit(out, o);
		if (n == 0) {
			buf_append(out, in + i, 1);	/* not UTF-8: as is */
			i++;
		} else {
			utf8_put(out, fold_cp(cp));
			i += n;
		}
		w = buf_reserve(out, len - i);
		o = 0;
		if (w == NULL)
			return;
	}
	buf_commit(out, o);
}
