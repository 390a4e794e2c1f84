/*
 * mime.c - the RFC 2045-2049 structure of a message: what IMAP's
 * BODYSTRUCTURE shows and what BODY[section] fetches.
 *
 * The input is hostile. Parsing never fails: a multipart without a usable
 * boundary, or one nested deeper than MIME_MAX_DEPTH, becomes a single
 * TEXT/PLAIN child over its whole body, so that every MULTIPART has at
 * least one part and every MESSAGE/RFC822 has an envelope and a body, as
 * the IMAP grammar needs. Each nesting level scans only its own range, so
 * the work is at most MIME_MAX_DEPTH passes over the message; the total
 * number of parts is capped at MIME_MAX_PARTS.
 */
#include <string.h>

#include "codec.h"
#include "mime.h"

struct mime_ctx {
	const char *msg;
	size_t len;
	unsigned nparts;
};

static bool is_multipart(const struct mime_body *b)
{
	return strcmp(b->type, "MULTIPART") == 0;
}

static bool is_message(const struct mime_body *b)
{
	return strcmp(b->type, "MESSAGE") == 0 &&
		(strcmp(b->subtype, "RFC822") == 0 ||
		 strcmp(b->subtype, "GLOBAL") == 0);
}

static char *xstrndup_upper(const char *s, size_t n)
{
	char *r = xstrndup(s, n);

	for (char *p = r; *p != '\0'; p++)
		*p = ascii_toupper(*p);
	return r;
}

/* ---- Content-Type style values: token "/" token *(";" param) ---- */

struct ctlex {
	const char *s;
	size_t len, pos;
};

static inline bool is_tspecial(char c)
{
	switch (c) {
	case '(': case ')': case '<': case '>': case '@': case ',':
	case ';': case ':': case '\\': case '"': case '/': case '[':
	case ']': case '?': case '=':
		return true;
	default:
		return false;
	}
}

static void ct_skip_cfws(struct ctlex *lx)
{
	const char *s = lx->s;
	size_t p = lx->pos, len = lx->len;

	for (;;) {
		while (p < len && ((unsigned char)s[p] <= ' ' || s[p] == 127))
			p++;
		if (p < len && s[p] == '(') {
			size_t depth = 0;
			for (; p < len; p++) {
				if (s[p] == '\\' && p + 1 < len)
					p++;
				else if (s[p] == '(')
					depth++;
				else if (s[p] == ')' && --depth == 0)
					break;
			}
			if (p < len)
				p++;
			continue;
		}
		break;
	}
	lx->pos = p;
}

/* a token; false (nothing consumed) if none here */
static bool ct_token(struct ctlex *lx, size_t *st_r, size_t *len_r)
{
	size_t p;

	ct_skip_cfws(lx);
	p = lx->pos;
	while (p < lx->len && (unsigned char)lx->s[p] > ' ' &&
	       lx->s[p] != 127 && !is_tspecial(lx->s[p]))
		p++;
	if (p == lx->pos)
		return false;
	*st_r = lx->pos;
	*len_r = p - lx->pos;
	lx->pos = p;
	return true;
}

static bool ct_special(struct ctlex *lx, char c)
{
	ct_skip_cfws(lx);
	if (lx->pos < lx->len && lx->s[lx->pos] == c) {
		lx->pos++;
		return true;
	}
	return false;
}

/* a parameter value: quoted string (unquoted into out) or token; some
 * mailers write unquoted values with blanks or specials, so anything up
 * to ';' is taken as a last resort */
static void ct_value(struct ctlex *lx, struct buf *out)
{
	const char *s = lx->s;
	size_t st, n;

	ct_skip_cfws(lx);
	if (lx->pos < lx->len && s[lx->pos] == '"') {
		size_t p = lx->pos + 1;
		while (p < lx->len && s[p] != '"') {
			if (s[p] == '\\' && p + 1 < lx->len)
				p++;
			if (s[p] != '\r' && s[p] != '\n')
				buf_putc(out, s[p]);
			p++;
		}
		lx->pos = p < lx->len ? p + 1 : lx->len;
		return;
	}
	if (ct_token(lx, &st, &n)) {
		/* "name=my file.txt": words up to ';' belong to the value,
		 * unless they look like a comment or another parameter */
		size_t p = lx->pos;
		while (p < lx->len && (s[p] == ' ' || s[p] == '\t'))
			p++;
		if (p < lx->len && s[p] != ';' && s[p] != '(' && s[p] != '\r' &&
		    s[p] != '\n') {
			const char *semi = memchr(s + p, ';', lx->len - p);
			size_t e = semi == NULL ? lx->len : (size_t)(semi - s);
			if (memchr(s + p, '=', e - p) == NULL &&
			    memchr(s + p, '"', e - p) == NULL) {
				while (e > p && (unsigned char)s[e - 1] <= ' ')
					e--;
				n = e - st;
				lx->pos = e;
			}
		}
		buf_append(out, s + st, n);
		return;
	}
	st = lx->pos;
	while (lx->pos < lx->len && s[lx->pos] != ';')
		lx->pos++;
	n = lx->pos - st;
	while (n > 0 && (unsigned char)s[st + n - 1] <= ' ')
		n--;
	buf_append(out, s + st, n);
}

#define MIME_MAX_PARAMS 256

struct rawparam {
	char *name;		/* base name (before any '*') */
	char *value;
	long section;		/* RFC 2231 section, -1 if none */
	bool extended;		/* "*" at the end: charset'lang'%XX */
	bool used;
};

static int hexdig(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = ascii_toupper(c);
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void pct_decode(const char *s, struct buf *out)
{
	for (; *s != '\0'; s++) {
		int h, l;
		if (*s == '%' && (h = hexdig(s[1])) >= 0 && (l = hexdig(s[2])) >= 0) {
			buf_putc(out, (char)(h << 4 | l));
			s += 2;
		} else {
			buf_putc(out, *s);
		}
	}
}

/* join RFC 2231 sections of raw[i]'s name into one value */
static char *param_join(struct rawparam *raw, unsigned n, unsigned i)
{
	struct buf val, bytes;
	char charset[64] = "";

	buf_init(&val, 0);
	buf_init(&bytes, 0);
	if (raw[i].section < 0) {
		raw[i].used = true;
		if (raw[i].extended) {
			/* attr*=charset'lang'value */
			const char *v = raw[i].value;
			const char *q1 = strchr(v, '\'');
			const char *q2 = q1 ? strchr(q1 + 1, '\'') : NULL;
			if (q2 != NULL && (size_t)(q1 - v) < sizeof charset) {
				memcpy(charset, v, (size_t)(q1 - v));
				charset[q1 - v] = '\0';
				v = q2 + 1;
			}
			pct_decode(v, &bytes);
		} else {
			buf_puts(&val, raw[i].value);
		}
	} else {
		/* sections 0, 1, 2... in order; stop at the first gap */
		for (long sec = 0;; sec++) {
			unsigned k;
			for (k = 0; k < n; k++)
				if (!raw[k].used && raw[k].section == sec &&
				    ascii_strcasecmp(raw[k].name, raw[i].name) == 0)
					break;
			if (k == n)
				break;
			raw[k].used = true;
			const char *v = raw[k].value;
			if (raw[k].extended) {
				if (sec == 0) {
					const char *q1 = strchr(v, '\'');
					const char *q2 = q1 ? strchr(q1 + 1, '\'') : NULL;
					if (q2 != NULL && (size_t)(q1 - v) < sizeof charset) {
						memcpy(charset, v, (size_t)(q1 - v));
						charset[q1 - v] = '\0';
						v = q2 + 1;
					}
				}
				pct_decode(v, &bytes);
			} else {
				buf_puts(&bytes, v);
			}
		}
		/* sections after a gap are dropped (marked used) */
		for (unsigned k = 0; k < n; k++)
			if (raw[k].section >= 0 &&
			    ascii_strcasecmp(raw[k].name, raw[i].name) == 0)
				raw[k].used = true;
	}
	if (bytes.len > 0) {
		if (charset[0] == '\0' ||
		    !charset_to_utf8(charset, bytes.data, bytes.len, &val))
			buf_append(&val, bytes.data, bytes.len);
	}
	buf_release(&bytes);
	char *r = buf_steal(&val, NULL);

	buf_release(&val);
	return r;
}

/* parse "; attr=value ..." from lx into a parameter list */
static struct mime_param *params_parse(struct ctlex *lx)
{
	struct rawparam raw[MIME_MAX_PARAMS];
	unsigned n = 0;
	struct buf v;

	buf_init(&v, 0);
	while (lx->pos < lx->len) {
		size_t st, nl;
		if (!ct_special(lx, ';')) {
			/* junk: skip to the next ';' */
			while (lx->pos < lx->len && lx->s[lx->pos] != ';')
				lx->pos++;
			continue;
		}
		if (!ct_token(lx, &st, &nl))
			continue;
		/* RFC 2231 allows "*" in the attribute; our token stops at
		 * none of '*', so split it here */
		if (!ct_special(lx, '='))
			continue;
		buf_reset(&v);
		ct_value(lx, &v);
		if (n == MIME_MAX_PARAMS)
			continue;
		const char *name = lx->s + st;
		const char *star = memchr(name, '*', nl);
		struct rawparam *r = &raw[n];
		r->section = -1;
		r->extended = false;
		r->used = false;
		if (star != NULL) {
			size_t base = (size_t)(star - name);
			const char *p = star + 1, *e = name + nl;
			if (p < e && *p >= '0' && *p <= '9') {
				long sec = 0;
				while (p < e && *p >= '0' && *p <= '9' && sec < 100000)
					sec = sec * 10 + (*p++ - '0');
				r->section = sec;
				if (p < e && *p == '*') {
					r->extended = true;
					p++;
				}
			} else if (p < e && *p == '*') {
				p++;
			} else {
				r->extended = true;
			}
			if (p != e || base == 0) {
				/* not RFC 2231 after all: keep it whole */
				r->section = -1;
				r->extended = false;
				base = nl;
			}
			r->name = xstrndup(name, base);
		} else {
			r->name = xstrndup(name, nl);
		}
		r->value = xstrndup(v.data, v.len);
		n++;
	}
	buf_release(&v);

	struct mime_param *head = NULL, **tail = &head;
	for (unsigned i = 0; i < n; i++) {
		if (raw[i].used)
			continue;
		/* the first of duplicate names wins */
		bool dup = false;
		for (struct mime_param *p = head; p != NULL && !dup; p = p->next)
			dup = ascii_strcasecmp(p->attr, raw[i].name) == 0;
		if (dup) {
			raw[i].used = true;
			continue;
		}
		struct mime_param *p = xcalloc(1, sizeof *p);
		p->attr = xstrdup(raw[i].name);
		p->value = param_join(raw, n, i);
		*tail = p;
		tail = &p->next;
	}
	for (unsigned i = 0; i < n; i++) {
		xfree(&raw[i].name);
		xfree(&raw[i].value);
	}
	return head;
}

static void params_free(struct mime_param **pp)
{
	struct mime_param *p = *pp, *next;

	for (; p != NULL; p = next) {
		next = p->next;
		xfree(&p->attr);
		xfree(&p->value);
		xfree(&p);
	}
	*pp = NULL;
}

const char *mime_param_get(const struct mime_param *p, const char *attr)
{
	for (; p != NULL; p = p->next)
		if (ascii_strcasecmp(p->attr, attr) == 0)
			return p->value;
	return NULL;
}

static const char *default_subtype(const char *type)
{
	static const char *const defs[][2] = {
		{ "TEXT", "PLAIN" }, { "MULTIPART", "MIXED" },
		{ "MESSAGE", "RFC822" }, { "APPLICATION", "OCTET-STREAM" },
		{ "AUDIO", "BASIC" },
	};
	for (size_t i = 0; i < N_ELEMENTS(defs); i++)
		if (strcmp(type, defs[i][0]) == 0)
			return defs[i][1];
	return "UNKNOWN";
}

static void content_type_parse(struct mime_body *b, const char *s, size_t len)
{
	struct ctlex lx = { .s = s, .len = len };
	size_t st, n;

	if (!ct_token(&lx, &st, &n))
		return;		/* unusable: keep the defaults */
	char *type = xstrndup_upper(s + st, n);
	char *subtype = NULL;
	if (ct_special(&lx, '/') && ct_token(&lx, &st, &n))
		subtype = xstrndup_upper(s + st, n);
	else
		subtype = xstrdup(default_subtype(type));
	xfree(&b->type);
	xfree(&b->subtype);
	b->type = type;
	b->subtype = subtype;
	params_free(&b->params);
	b->params = params_parse(&lx);
}

static void disposition_parse(struct mime_body *b, const char *s, size_t len)
{
	struct ctlex lx = { .s = s, .len = len };
	size_t st, n;

	if (b->disposition != NULL || !ct_token(&lx, &st, &n))
		return;
	b->disposition = xstrndup(s + st, n);
	b->disp_params = params_parse(&lx);
}

static char *value_dup(const struct buf *v)
{
	return xstrndup(v->data, v->len);
}

/* the first token of a Content-Transfer-Encoding value, upper-cased */
static char *encoding_parse(const char *s, size_t len)
{
	struct ctlex lx = { .s = s, .len = len };
	size_t st, n;

	if (!ct_token(&lx, &st, &n))
		return NULL;
	return xstrndup_upper(s + st, n);
}

static struct mime_body *body_new(struct mime_ctx *ctx, bool digest)
{
	struct mime_body *b = xcalloc(1, sizeof *b);

	ctx->nparts++;
	b->type = xstrdup(digest ? "MESSAGE" : "TEXT");
	b->subtype = xstrdup(digest ? "RFC822" : "PLAIN");
	b->encoding = xstrdup("7BIT");
	return b;
}

static uint64_t count_lines(const char *s, size_t len)
{
	uint64_t n = 0;
	const char *p = s, *e = s + len;

	while (p < e && (p = memchr(p, '\n', (size_t)(e - p))) != NULL) {
		n++;
		p++;
	}
	return n;
}

/* fill b from the MIME header at [off, off+hsize) */
static void header_parse(struct mime_ctx *ctx, struct mime_body *b,
			 size_t off, size_t hsize)
{
	const char *hdr = ctx->msg + off;
	size_t pos = 0;
	const char *name, *value;
	size_t nlen, vlen;
	struct buf v;
	bool have_ct = false, have_cte = false;

	buf_init(&v, 0);
	while (rfc822_header_next(hdr, hsize, &pos, &name, &nlen, &value, &vlen)) {
		if (nlen < 10 || ascii_strncasecmp(name, "Content-", 8) != 0)
			continue;
		const char *sfx = name + 8;
		size_t sl = nlen - 8;
#define IS(word) (sl == sizeof(word) - 1 && ascii_strncasecmp(sfx, word, sl) == 0)
		buf_reset(&v);
		rfc822_unfold(value, vlen, &v);
		while (v.len > 0 && (unsigned char)v.data[v.len - 1] <= ' ')
			v.data[--v.len] = '\0';
		if (IS("Type")) {
			if (!have_ct)
				content_type_parse(b, v.data, v.len);
			have_ct = true;
		} else if (IS("Transfer-Encoding")) {
			char *e = have_cte ? NULL : encoding_parse(v.data, v.len);
			have_cte = true;
			if (e != NULL) {
				xfree(&b->encoding);
				b->encoding = e;
			}
		} else if (IS("ID")) {
			if (b->id == NULL)
				b->id = value_dup(&v);
		} else if (IS("Description")) {
			if (b->description == NULL)
				b->description = value_dup(&v);
		} else if (IS("MD5")) {
			if (b->md5 == NULL)
				b->md5 = value_dup(&v);
		} else if (IS("Disposition")) {
			disposition_parse(b, v.data, v.len);
		} else if (IS("Language")) {
			if (b->language == NULL)
				b->language = value_dup(&v);
		} else if (IS("Location")) {
			if (b->location == NULL)
				b->location = value_dup(&v);
		}
#undef IS
	}
	buf_release(&v);
	/* RFC 2045 5.2: plain text in US-ASCII unless said otherwise */
	if (strcmp(b->type, "TEXT") == 0 && b->params == NULL) {
		b->params = xcalloc(1, sizeof *b->params);
		b->params->attr = xstrdup("CHARSET");
		b->params->value = xstrdup("US-ASCII");
	}
}

static struct mime_body *entity_parse(struct mime_ctx *ctx, size_t off,
				      size_t end, unsigned depth, bool digest);

/* a single TEXT/PLAIN part with no header over [off, end): what an
 * unparseable multipart becomes */
static struct mime_body *opaque_part(struct mime_ctx *ctx, size_t off,
				     size_t end)
{
	struct mime_body *b = body_new(ctx, false);

	b->params = xcalloc(1, sizeof *b->params);
	b->params->attr = xstrdup("CHARSET");
	b->params->value = xstrdup("US-ASCII");
	b->hdr_off = b->body_off = off;
	b->body_size = end - off;
	b->lines = count_lines(ctx->msg + off, end - off);
	return b;
}

/*
 * Is there a delimiter line "--boundary" at p (a line start)? Returns
 * 1 for a delimiter, 2 for the close delimiter, 0 for none; *next_r is
 * the start of the following line. After the boundary only blanks (RFC
 * 2046 transport padding) may follow, so that a boundary that is a prefix
 * of a nested one does not match the nested one's lines.
 */
static int delimiter_at(const char *m, size_t p, size_t end, const char *bnd,
			size_t blen, size_t *next_r)
{
	if (end - p < blen + 2 || m[p] != '-' || m[p + 1] != '-' ||
	    memcmp(m + p + 2, bnd, blen) != 0)
		return 0;
	size_t q = p + 2 + blen;
	int kind = 1;
	if (q + 1 < end && m[q] == '-' && m[q + 1] == '-') {
		kind = 2;
		q += 2;
	}
	while (q < end && (m[q] == ' ' || m[q] == '\t'))
		q++;
	if (q < end && m[q] == '\r' && q + 1 < end && m[q + 1] == '\n')
		q++;
	if (q < end && m[q] != '\n') {
		/* junk after a close delimiter is tolerated (the epilogue
		 * starts there anyway); after an open one it is not */
		if (kind != 2)
			return 0;
		const char *lf = memchr(m + q, '\n', end - q);
		q = lf == NULL ? end : (size_t)(lf - m);
	}
	*next_r = q < end ? q + 1 : end;
	return kind;
}

/* next delimiter line at or after p; returns its start or end */
static size_t delimiter_find(const char *m, size_t p, size_t end,
			     const char *bnd, size_t blen, int *kind_r,
			     size_t *next_r)
{
	while (p < end) {
		if ((*kind_r = delimiter_at(m, p, end, bnd, blen, next_r)) != 0)
			return p;
		const char *lf = memchr(m + p, '\n', end - p);
		if (lf == NULL)
			break;
		p = (size_t)(lf - m) + 1;
	}
	*kind_r = 0;
	return end;
}

/* the line break before a delimiter belongs to the delimiter */
static size_t part_end(const char *m, size_t start, size_t delim)
{
	if (delim > start && m[delim - 1] == '\n') {
		delim--;
		if (delim > start && m[delim - 1] == '\r')
			delim--;
	}
	return delim;
}

static void multipart_parse(struct mime_ctx *ctx, struct mime_body *b,
			    unsigned depth)
{
	const char *m = ctx->msg;
	size_t start = b->body_off, end = b->body_off + b->body_size;
	const char *bnd = mime_param_get(b->params, "BOUNDARY");
	size_t blen = bnd == NULL ? 0 : strlen(bnd);
	struct mime_body **tail = &b->parts;
	bool digest = strcmp(b->subtype, "DIGEST") == 0;

	if (blen > 0 && depth < MIME_MAX_DEPTH) {
		int kind;
		size_t next;

		(void)delimiter_find(m, start, end, bnd, blen, &kind, &next);
		while (kind == 1 && ctx->nparts < MIME_MAX_PARTS) {
			size_t pstart = next;
			size_t nd = delimiter_find(m, pstart, end, bnd, blen,
						   &kind, &next);
			/* no more delimiters: the part runs to the end */
			size_t pend = kind == 0 ? end : part_end(m, pstart, nd);
			*tail = entity_parse(ctx, pstart, pend, depth + 1, digest);
			tail = &(*tail)->next;
		}
	}
	if (b->parts == NULL)
		b->parts = opaque_part(ctx, start, end);
}

/* parse the entity (MIME header + body) at [off, end) */
static struct mime_body *entity_parse(struct mime_ctx *ctx, size_t off,
				      size_t end, unsigned depth, bool digest)
{
	struct mime_body *b = body_new(ctx, digest);
	size_t hsize = rfc822_header_size(ctx->msg + off, end - off);

	b->hdr_off = off;
	b->hdr_size = hsize;
	b->body_off = off + hsize;
	b->body_size = end - off - hsize;
	header_parse(ctx, b, off, hsize);
	b->lines = count_lines(ctx->msg + b->body_off, b->body_size);

	if (is_multipart(b)) {
		multipart_parse(ctx, b, depth);
	} else if (is_message(b)) {
		const char *inner = ctx->msg + b->body_off;
		size_t ihs = rfc822_header_size(inner, b->body_size);
		b->msg_env = rfc822_parse_envelope(inner, ihs);
		if (depth < MIME_MAX_DEPTH && ctx->nparts < MIME_MAX_PARTS)
			b->msg_body = entity_parse(ctx, b->body_off, end,
						   depth + 1, false);
		else {
			/* too deep: the inner header is still its header */
			b->msg_body = opaque_part(ctx, b->body_off + ihs, end);
			b->msg_body->hdr_off = b->body_off;
			b->msg_body->hdr_size = ihs;
		}
	}
	return b;
}

struct mime_body *mime_parse(const char *msg, size_t len)
{
	struct mime_ctx ctx = { .msg = msg, .len = len };

	return entity_parse(&ctx, 0, len, 0, false);
}

void mime_free(struct mime_body **bp)
{
	struct mime_body *b = *bp, *next;

	for (; b != NULL; b = next) {
		next = b->next;
		xfree(&b->type);
		xfree(&b->subtype);
		params_free(&b->params);
		xfree(&b->id);
		xfree(&b->description);
		xfree(&b->encoding);
		xfree(&b->md5);
		xfree(&b->disposition);
		params_free(&b->disp_params);
		xfree(&b->language);
		xfree(&b->location);
		mime_free(&b->parts);
		rfc822_free_envelope(&b->msg_env);
		mime_free(&b->msg_body);
		xfree(&b);
	}
	*bp = NULL;
}

const struct mime_body *mime_find_part(const struct mime_body *root,
				       const uint32_t *nums, unsigned n)
{
	const struct mime_body *cur = root;
	bool top = true;	/* cur is the top entity of a message */

	for (unsigned i = 0; i < n; i++) {
		uint32_t k = nums[i];
		if (k == 0 || cur == NULL)
			return NULL;
		if (!top && cur->msg_body != NULL) {
			cur = cur->msg_body;
			top = true;
		}
		if (is_multipart(cur)) {
			cur = cur->parts;
			while (cur != NULL && --k > 0)
				cur = cur->next;
			top = false;
		} else if (top && k == 1) {
			top = false;
		} else {
			return NULL;
		}
	}
	return cur;
}

bool mime_decode_cte(const char *encoding, const char *in, size_t len,
		     struct buf *out)
{
	if (encoding == NULL || ascii_strcasecmp(encoding, "7BIT") == 0 ||
	    ascii_strcasecmp(encoding, "8BIT") == 0 ||
	    ascii_strcasecmp(encoding, "BINARY") == 0) {
		buf_append(out, in, len);
		return true;
	}
	if (ascii_strcasecmp(encoding, "BASE64") == 0) {
		base64_decode_mime(in, len, out);
		return true;
	}
	if (ascii_strcasecmp(encoding, "QUOTED-PRINTABLE") == 0) {
		qp_decode(in, len, false, out);
		return true;
	}
	return false;
}
