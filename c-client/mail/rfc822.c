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

#include "codec.h"
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

/* ---- addresses ---- */

enum atok {
	T_END, T_ATOM, T_QSTRING, T_DLITERAL, T_SPECIAL,
};

/* the lexer: comments are consumed as whitespace, but the last one is
 * remembered (a trailing "(Real Name)" is a personal name) */
struct alex {
	const char *s;
	size_t len, pos;
	enum atok type;
	char special;
	size_t tstart, tend;	/* token span (quotes/brackets excluded) */
	bool ws_before;		/* whitespace or comment before the token */
	size_t cstart, cend;	/* last comment's content span */
	bool have_comment;
};

static inline bool is_aspecial(char c)
{
	switch (c) {
	case '(': case ')': case '<': case '>': case '@': case ',':
	case ';': case ':': case '"': case '[': case ']': case '.':
		return true;
	default:
		return false;
	}
}

/* whitespace to the lexer: blanks, line breaks, other controls, NUL */
static inline bool is_aspace(char c)
{
	return (unsigned char)c <= ' ' || c == 127;
}

static void alex_next(struct alex *lx)
{
	const char *s = lx->s;
	size_t len = lx->len, p = lx->pos;

	lx->ws_before = false;
	for (;;) {
		while (p < len && is_aspace(s[p])) {
			p++;
			lx->ws_before = true;
		}
		if (p < len && s[p] == '(') {
			/* nested comment; the depth is a counter, never
			 * recursion, so deep nesting costs nothing */
			size_t depth = 0, st = p + 1;
			for (; p < len; p++) {
				if (s[p] == '\\' && p + 1 < len)
					p++;
				else if (s[p] == '(')
					depth++;
				else if (s[p] == ')' && --depth == 0)
					break;
			}
			lx->cstart = st;
			lx->cend = p < len ? p : len;
			lx->have_comment = true;
			if (p < len)
				p++;
			lx->ws_before = true;
			continue;
		}
		break;
	}
	if (p >= len) {
		lx->type = T_END;
		lx->pos = len;
		return;
	}
	char c = s[p];
	if (c == '"') {
		size_t st = ++p;
		while (p < len && s[p] != '"') {
			if (s[p] == '\\' && p + 1 < len)
				p++;
			p++;
		}
		lx->type = T_QSTRING;
		lx->tstart = st;
		lx->tend = p < len ? p : len;
		lx->pos = p < len ? p + 1 : len;
	} else if (c == '[') {
		size_t st = p;
		while (p < len && s[p] != ']') {
			if (s[p] == '\\' && p + 1 < len)
				p++;
			p++;
		}
		lx->type = T_DLITERAL;
		lx->tstart = st;
		lx->tend = p < len ? p + 1 : len;	/* brackets kept */
		lx->pos = lx->tend;
	} else if (is_aspecial(c)) {
		lx->type = T_SPECIAL;
		lx->special = c;
		lx->tstart = p;
		lx->tend = p + 1;
		lx->pos = p + 1;
	} else {
		size_t st = p;
		while (p < len && !is_aspace(s[p]) && !is_aspecial(s[p]))
			p++;
		lx->type = T_ATOM;
		lx->tstart = st;
		lx->tend = p;
		lx->pos = p;
	}
}

static inline bool alex_is(const struct alex *lx, char c)
{
	return lx->type == T_SPECIAL && lx->special == c;
}

/* append the token's text: quoted strings lose quotes and escapes */
static void alex_append(const struct alex *lx, struct buf *out)
{
	if (lx->type != T_QSTRING) {
		buf_append(out, lx->s + lx->tstart, lx->tend - lx->tstart);
		return;
	}
	size_t p = lx->tstart, e = lx->tend;
	while (p < e) {
		const char *bs = memchr(lx->s + p, '\\', e - p);
		size_t run = bs == NULL ? e - p : (size_t)(bs - lx->s) - p;
		/* folding inside a quoted string is removed */
		for (size_t i = p; i < p + run; i++) {
			char c = lx->s[i];
			if (c != '\r' && c != '\n')
				buf_putc(out, c);
		}
		p += run;
		if (p < e) {		/* quoted pair */
			if (p + 1 < e)
				buf_putc(out, lx->s[p + 1]);
			p += 2;
		}
	}
}

static char *comment_text(const struct alex *lx)
{
	size_t st = lx->cstart, e = lx->cend;

	while (st < e && is_aspace(lx->s[st]))
		st++;
	while (e > st && is_aspace(lx->s[e - 1]))
		e--;
	if (st == e)
		return NULL;
	struct buf b;
	buf_init(&b, 0);
	for (size_t i = st; i < e; i++) {
		char c = lx->s[i];
		if (c == '\\' && i + 1 < e)
			c = lx->s[++i];
		else if (c == '\r' || c == '\n')
			continue;
		buf_putc(&b, c);
	}
	char *r = buf_steal(&b, NULL);

	buf_release(&b);
	return r;
}

struct alist {
	struct address *head, **tail;
	unsigned count;
};

static void alist_add(struct alist *l, char *personal, char *adl,
		      char *mailbox, char *host)
{
	struct address *a = xcalloc(1, sizeof *a);

	a->personal = personal;
	a->adl = adl;
	a->mailbox = mailbox;
	a->host = host;
	*l->tail = a;
	l->tail = &a->next;
	l->count++;
}

static char *buf_dup_or_null(const struct buf *b)
{
	return b->len == 0 ? NULL : xstrndup(b->data, b->len);
}

/* domain: atoms and dots, or a literal; stops before anything else */
static void parse_domain(struct alex *lx, struct buf *dom)
{
	while (lx->type == T_ATOM || lx->type == T_DLITERAL ||
	       alex_is(lx, '.')) {
		alex_append(lx, dom);
		alex_next(lx);
	}
}

/* inside <...>, positioned after '<' */
static void parse_route_addr(struct alex *lx, struct alist *l, char *personal,
			     struct buf *local, struct buf *dom)
{
	char *adl = NULL;

	buf_reset(local);
	buf_reset(dom);
	alex_next(lx);
	if (alex_is(lx, '@')) {
		/* obsolete source route "@a,@b:" */
		struct buf route;
		buf_init(&route, 0);
		while (alex_is(lx, '@') || alex_is(lx, ',')) {
			if (alex_is(lx, '@')) {
				if (route.len > 0)
					buf_putc(&route, ',');
				buf_putc(&route, '@');
				alex_next(lx);
				parse_domain(lx, &route);
			} else {
				alex_next(lx);
			}
		}
		if (alex_is(lx, ':'))
			alex_next(lx);
		adl = buf_dup_or_null(&route);
		buf_release(&route);
	}
	while (lx->type == T_ATOM || lx->type == T_QSTRING ||
	       alex_is(lx, '.')) {
		alex_append(lx, local);
		alex_next(lx);
	}
	if (alex_is(lx, '@')) {
		alex_next(lx);
		parse_domain(lx, dom);
	}
	/* skip junk up to '>' (or the end of this address if missing) */
	while (lx->type != T_END && !alex_is(lx, '>') && !alex_is(lx, ',') &&
	       !alex_is(lx, ';'))
		alex_next(lx);
	if (alex_is(lx, '>'))
		alex_next(lx);
	if (local->len == 0 && dom->len == 0 && adl == NULL) {
		/* "<>": the null address */
		alist_add(l, personal, NULL, xstrdup(""), xstrdup(""));
		return;
	}
	alist_add(l, personal, adl, xstrndup(local->data, local->len),
		  dom->len > 0 ? xstrndup(dom->data, dom->len) :
		  xstrdup(RFC822_MISSING_HOST));
}

struct address *rfc822_parse_addresses(const char *s, size_t len)
{
	struct alex lx = { .s = s, .len = len };
	struct alist l = { .head = NULL, .tail = &l.head };
	struct buf phrase, local, dom;
	bool in_group = false;

	buf_init(&phrase, 0);
	buf_init(&local, 0);
	buf_init(&dom, 0);
	alex_next(&lx);
	while (lx.type != T_END) {
		if (alex_is(&lx, ',') || alex_is(&lx, '>') ||
		    (alex_is(&lx, ':') && in_group)) {
			alex_next(&lx);
			continue;
		}
		if (alex_is(&lx, ';')) {
			if (in_group) {
				alist_add(&l, NULL, NULL, NULL, NULL);
				in_group = false;
			}
			alex_next(&lx);
			continue;
		}
		/* a phrase (display name or group name) or a local part */
		buf_reset(&phrase);
		buf_reset(&local);
		lx.have_comment = false;
		bool have_word = false;
		while (lx.type == T_ATOM || lx.type == T_QSTRING ||
		       lx.type == T_DLITERAL || alex_is(&lx, '.')) {
			have_word |= !alex_is(&lx, '.');
			if (lx.ws_before && phrase.len > 0)
				buf_putc(&phrase, ' ');
			alex_append(&lx, &phrase);
			alex_append(&lx, &local);
			alex_next(&lx);
		}
		if (alex_is(&lx, ':') && !in_group) {
			alist_add(&l, NULL, NULL, xstrndup(phrase.data,
				  phrase.len), NULL);
			in_group = true;
			alex_next(&lx);
		} else if (alex_is(&lx, '<')) {
			char *personal = buf_dup_or_null(&phrase);
			parse_route_addr(&lx, &l, personal, &local, &dom);
		} else if (alex_is(&lx, '@')) {
			buf_reset(&dom);
			alex_next(&lx);
			parse_domain(&lx, &dom);
			/* "addr (Real Name)": the comment names the person;
			 * anything else up to the next address is junk */
			while (lx.type != T_END && !alex_is(&lx, ',') &&
			       !alex_is(&lx, ';'))
				alex_next(&lx);
			if (!have_word && dom.len == 0)
				continue;	/* a stray "@" */
			alist_add(&l, lx.have_comment ? comment_text(&lx) : NULL,
				  NULL, xstrndup(local.data, local.len),
				  dom.len > 0 ? xstrndup(dom.data, dom.len) :
				  xstrdup(RFC822_MISSING_HOST));
		} else if (have_word) {
			/* a bare name: "To: postmaster" */
			alist_add(&l, lx.have_comment ? comment_text(&lx) : NULL,
				  NULL, xstrndup(local.data, local.len),
				  xstrdup(RFC822_MISSING_HOST));
		} else if (lx.type != T_END && !alex_is(&lx, ',') &&
			   !alex_is(&lx, ';')) {
			alex_next(&lx);	/* a stray special */
		}
	}
	if (in_group)
		alist_add(&l, NULL, NULL, NULL, NULL);
	buf_release(&phrase);
	buf_release(&local);
	buf_release(&dom);
	return l.head;
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

static struct address *addresses_copy(const struct address *a)
{
	struct address *head = NULL, **tail = &head;

	for (; a != NULL; a = a->next) {
		struct address *c = xcalloc(1, sizeof *c);
		c->personal = a->personal ? xstrdup(a->personal) : NULL;
		c->adl = a->adl ? xstrdup(a->adl) : NULL;
		c->mailbox = a->mailbox ? xstrdup(a->mailbox) : NULL;
		c->host = a->host ? xstrdup(a->host) : NULL;
		*tail = c;
		tail = &c->next;
	}
	return head;
}

enum env_field {
	EF_DATE, EF_SUBJECT, EF_FROM, EF_SENDER, EF_REPLY_TO, EF_TO, EF_CC,
	EF_BCC, EF_IN_REPLY_TO, EF_MESSAGE_ID, EF_COUNT
};

static const char *const env_names[EF_COUNT] = {
	"Date", "Subject", "From", "Sender", "Reply-To", "To", "Cc", "Bcc",
	"In-Reply-To", "Message-ID",
};

/* which envelope field, or -1; cheap rejects first (length, letter) */
static int env_field_of(const char *name, size_t len)
{
	if (len < 2 || len > 11)
		return -1;
	for (int i = 0; i < EF_COUNT; i++)
		if (ascii_tolower(env_names[i][0]) == ascii_tolower(name[0]) &&
		    name_eq(name, len, env_names[i]))
			return i;
	return -1;
}

struct envelope *rfc822_parse_envelope(const char *hdr, size_t len)
{
	struct envelope *env = xcalloc(1, sizeof *env);
	bool seen[EF_COUNT] = { false };
	struct buf v;
	size_t pos = 0;
	struct hfield f;

	buf_init(&v, 0);
	while (header_next_field(hdr, len, &pos, &f)) {
		int which = env_field_of(hdr + f.name_off, f.name_len);
		if (which < 0 || seen[which])
			continue;
		seen[which] = true;
		buf_reset(&v);
		unfold_trim(hdr + f.value_off, f.value_len, &v);
		switch ((enum env_field)which) {
		case EF_DATE:
			env->date = xstrndup(v.data, v.len);
			break;
		case EF_SUBJECT:
			env->subject = xstrndup(v.data, v.len);
			break;
		case EF_IN_REPLY_TO:
			env->in_reply_to = xstrndup(v.data, v.len);
			break;
		case EF_MESSAGE_ID:
			env->message_id = xstrndup(v.data, v.len);
			break;
		case EF_FROM:
			env->from = rfc822_parse_addresses(v.data, v.len);
			break;
		case EF_SENDER:
			env->sender = rfc822_parse_addresses(v.data, v.len);
			break;
		case EF_REPLY_TO:
			env->reply_to = rfc822_parse_addresses(v.data, v.len);
			break;
		case EF_TO:
			env->to = rfc822_parse_addresses(v.data, v.len);
			break;
		case EF_CC:
			env->cc = rfc822_parse_addresses(v.data, v.len);
			break;
		case EF_BCC:
			env->bcc = rfc822_parse_addresses(v.data, v.len);
			break;
		case EF_COUNT:
			break;
		}
	}
	buf_release(&v);
	/* RFC 3501 7.4.2: absent or empty Sender and Reply-To are From */
	if (env->sender == NULL)
		env->sender = addresses_copy(env->from);
	if (env->reply_to == NULL)
		env->reply_to = addresses_copy(env->from);
	return env;
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

/* ---- RFC 5256 base subject ---- */

static bool subj_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* length of a subj-blob "[...]" *WSP at s, 0 if none */
static size_t subj_blob(const char *s, size_t len)
{
	if (len == 0 || s[0] != '[')
		return 0;
	for (size_t i = 1; i < len; i++) {
		if (s[i] == '[')
			return 0;
		if (s[i] == ']') {
			i++;
			while (i < len && subj_wsp(s[i]))
				i++;
			return i;
		}
	}
	return 0;
}

/* length of a subj-refwd ("re"/"fw"/"fwd" *WSP [blob] ":"), 0 if none */
static size_t subj_refwd(const char *s, size_t len)
{
	size_t i;

	if (len >= 3 && ascii_strncasecmp(s, "fwd", 3) == 0)
		i = 3;
	else if (len >= 2 && (ascii_strncasecmp(s, "re", 2) == 0 ||
			      ascii_strncasecmp(s, "fw", 2) == 0))
		i = 2;
	else
		return 0;
	while (i < len && subj_wsp(s[i]))
		i++;
	i += subj_blob(s + i, len - i);
	if (i < len && s[i] == ':')
		return i + 1;
	return 0;
}

void rfc822_base_subject(const char *subject, size_t len, struct buf *out)
{
	struct buf dec;
	size_t st, e;

	/* (1) decode, and fold every run of whitespace to one space */
	buf_init(&dec, 0);
	rfc2047_decode(subject, len, &dec);
	size_t o = 0;
	bool sp = false;
	for (size_t i = 0; i < dec.len; i++) {
		char c = dec.data[i];
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			sp = true;
			continue;
		}
		if (sp && o > 0)
			dec.data[o++] = ' ';
		sp = false;
		dec.data[o++] = c;
	}
	dec.len = o;
	const char *s = dec.data;
	st = 0;
	e = o;
	for (;;) {
		/* (2) trailing "(fwd)" and blanks */
		for (;;) {
			while (e > st && subj_wsp(s[e - 1]))
				e--;
			if (e - st >= 5 &&
			    ascii_strncasecmp(s + e - 5, "(fwd)", 5) == 0)
				e -= 5;
			else
				break;
		}
		/* (3) and (4) until nothing changes */
		bool changed = true;
		while (changed) {
			changed = false;
			while (st < e && subj_wsp(s[st])) {
				st++;
				changed = true;
			}
			size_t n = subj_refwd(s + st, e - st);
			if (n > 0) {
				st += n;
				changed = true;
				continue;
			}
			n = subj_blob(s + st, e - st);
			if (n > 0 && n < e - st) {
				st += n;
				changed = true;
			}
		}
		/* (5) "[fwd: ...]" */
		if (e - st >= 6 && ascii_strncasecmp(s + st, "[fwd:", 5) == 0 &&
		    s[e - 1] == ']') {
			st += 5;
			e--;
			continue;
		}
		break;
	}
	buf_append(out, s + st, e - st);
	buf_release(&dec);
}
