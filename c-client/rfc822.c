/*
 * rfc822.c - RFC 5322 header access, address lists, envelopes, and the
 * RFC 5256 base subject.
 *
 * Everything here reads hostile bytes from mailbox files and the network:
 * each function is bounded by the length it is given, never relies on a
 * terminating NUL, and is linear in its input (the header iterator is
 * built on memchr so that scanning 100,000 headers for one FETCH stays
 * cheap).
 */
#include <string.h>

#include "rfc822.h"

/* One header field: [start, end) is the field in its original bytes
 * including the line terminator(s); name and value as in header_next. */
struct hfield {
	size_t start, end;
	size_t name_off, name_len;
	size_t value_off, value_len;
};

static inline bool is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* end of the line starting at p: index just past its LF, or len */
static inline size_t line_end(const char *s, size_t len, size_t p)
{
	const char *lf = memchr(s + p, '\n', len - p);

	return lf == NULL ? len : (size_t)(lf - s) + 1;
}

/* is the line [p, e) a blank line ("\n" or "\r\n")? */
static inline bool line_blank(const char *s, size_t p, size_t e)
{
	return (e - p == 1 && s[p] == '\n') ||
		(e - p == 2 && s[p] == '\r' && s[p + 1] == '\n');
}

/*
 * Next field from *pos. Lines that are not fields (no colon, a space in
 * the name, an orphan continuation) are skipped: they cannot be asked
 * for by name and IMAP has no way to show them.
 */
static bool header_next_field(const char *hdr, size_t len, size_t *pos,
			      struct hfield *f)
{
	size_t p = *pos;

	while (p < len) {
		size_t e = line_end(hdr, len, p);

		if (line_blank(hdr, p, e)) {
			*pos = len;
			return false;
		}
		/* the field continues over lines that start with WSP */
		size_t fe = e;
		while (fe < len && is_wsp(hdr[fe]))
			fe = line_end(hdr, len, fe);

		const char *colon = memchr(hdr + p, ':', e - p);
		size_t nlen = colon == NULL ? 0 : (size_t)(colon - hdr) - p;
		while (nlen > 0 && is_wsp(hdr[p + nlen - 1]))
			nlen--;
		bool ok = nlen > 0;
		for (size_t i = 0; ok && i < nlen; i++) {
			unsigned char c = (unsigned char)hdr[p + i];
			if (c <= ' ' || c == 127)
				ok = false;
		}
		if (!ok) {
			p = fe;
			continue;
		}
		f->start = p;
		f->end = fe;
		f->name_off = p;
		f->name_len = nlen;
		size_t v = (size_t)(colon - hdr) + 1;
		/* value ends before the final line terminator */
		size_t ve = fe;
		if (ve > v && hdr[ve - 1] == '\n') {
			ve--;
			if (ve > v && hdr[ve - 1] == '\r')
				ve--;
		}
		while (v < ve && is_wsp(hdr[v]))
			v++;
		f->value_off = v;
		f->value_len = ve - v;
		*pos = fe;
		return true;
	}
	*pos = len;
	return false;
}

bool rfc822_header_next(const char *hdr, size_t len, size_t *pos,
			const char **name_r, size_t *name_len_r,
			const char **value_r, size_t *value_len_r)
{
	struct hfield f;

	if (*pos >= len || !header_next_field(hdr, len, pos, &f))
		return false;
	*name_r = hdr + f.name_off;
	*name_len_r = f.name_len;
	*value_r = hdr + f.value_off;
	*value_len_r = f.value_len;
	return true;
}

size_t rfc822_header_size(const char *msg, size_t len)
{
	size_t p = 0;

	while (p < len) {
		size_t e = line_end(msg, len, p);
		if (line_blank(msg, p, e))
			return e;
		p = e;
	}
	return len;
}

void rfc822_unfold(const char *s, size_t len, struct buf *out)
{
	size_t p = 0;

	while (p < len) {
		const char *lf = memchr(s + p, '\n', len - p);
		if (lf == NULL) {
			buf_append(out, s + p, len - p);
			return;
		}
		size_t e = (size_t)(lf - s);
		size_t ce = e;
		if (ce > p && s[ce - 1] == '\r')
			ce--;
		buf_append(out, s + p, ce - p);
		if (e + 1 < len && is_wsp(s[e + 1])) {
			/* fold: drop the line break, keep the WSP */
		} else {
			/* a line break not followed by WSP: keep it as is */
			buf_append(out, s + ce, e + 1 - ce);
		}
		p = e + 1;
	}
}

static bool name_eq(const char *name, size_t nlen, const char *want)
{
	size_t wlen = strlen(want);

	return nlen == wlen && ascii_strncasecmp(name, want, wlen) == 0;
}

/* unfold into out, trimming trailing whitespace */
static void unfold_trim(const char *s, size_t len, struct buf *out)
{
	rfc822_unfold(s, len, out);
	while (out->len > 0 && (is_wsp(out->data[out->len - 1]) ||
				out->data[out->len - 1] == '\r' ||
				out->data[out->len - 1] == '\n'))
		out->len--;
	out->data[out->len] = '\0';
}

bool rfc822_header_get(const char *hdr, size_t len, const char *name,
		       struct buf *out)
{
	size_t pos = 0;
	struct hfield f;

	buf_reset(out);
	while (header_next_field(hdr, len, &pos, &f)) {
		if (name_eq(hdr + f.name_off, f.name_len, name)) {
			unfold_trim(hdr + f.value_off, f.value_len, out);
			return true;
		}
	}
	return false;
}

void rfc822_header_fields(const char *hdr, size_t len,
			  const char *const *names, unsigned nnames,
			  bool invert, struct buf *out)
{
	size_t pos = 0;
	struct hfield f;

	while (header_next_field(hdr, len, &pos, &f)) {
		bool match = false;
		for (unsigned i = 0; i < nnames && !match; i++)
			match = name_eq(hdr + f.name_off, f.name_len, names[i]);
		if (match == invert)
			continue;
		buf_append(out, hdr + f.start, f.end - f.start);
		/* a last field without a line end still gets one */
		if (hdr[f.end - 1] != '\n')
			buf_append(out, "\r\n", 2);
	}
	buf_append(out, "\r\n", 2);
}

struct address *rfc822_parse_addresses(const char *s, size_t len)
{
	return NULL;
}

void rfc822_free_addresses(struct address **a)
{
	struct address *p = *a, *next;

	for (; p != NULL; p = next) {
		next = p->next;
		xfree(&p->personal);
		xfree(&p->adl);
		xfree(&p->mailbox);
		xfree(&p->host);
		xfree(&p);
	}
	*a = NULL;
}

struct envelope *rfc822_parse_envelope(const char *hdr, size_t len)
{
	return xcalloc(1, sizeof(struct envelope));
}

void rfc822_free_envelope(struct envelope **env)
{
	struct envelope *e = *env;

	if (e == NULL)
		return;
	xfree(&e->date);
	xfree(&e->subject);
	if (e->sender == e->from)
		e->sender = NULL;
	if (e->reply_to == e->from)
		e->reply_to = NULL;
	rfc822_free_addresses(&e->from);
	rfc822_free_addresses(&e->sender);
	rfc822_free_addresses(&e->reply_to);
	rfc822_free_addresses(&e->to);
	rfc822_free_addresses(&e->cc);
	rfc822_free_addresses(&e->bcc);
	xfree(&e->in_reply_to);
	xfree(&e->message_id);
	xfree(env);
}

void rfc822_base_subject(const char *subject, size_t len, struct buf *out)
{
	buf_append(out, subject, len);
}
