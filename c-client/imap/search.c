/*
 * search.c - IMAP SEARCH (RFC 3501 6.4.4, WITHIN RFC 5032): parse the
 * criteria into a small program tree, then match messages against it.
 *
 * Security: every argument comes from the network. Nesting (NOT, OR,
 * parenthesized groups) is bounded by SEARCH_MAX_DEPTH so neither the
 * parser nor the matcher can be driven into deep recursion; sequence sets
 * are kept as ranges so "1:4294967295" costs nothing; message text is
 * hostile and is only handed to the bounded parsers (rfc822, mime, codec).
 *
 * Performance: keys are ordered inside each AND so that keys needing no
 * I/O (flags, size, dates, UIDs) run first, header keys next and body
 * keys last; a message's header and text are fetched at most once per
 * message, lazily, into buffers reused across the whole run.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codec.h"
#include "date.h"
#include "mime.h"
#include "rfc822.h"
#include "search.h"
#include "seqset.h"

#define SEARCH_MAX_DEPTH 64

/* see search.h */
int search_fetch_msg(struct mailbox *mb, uint32_t seq, enum mail_part part,
		     struct buf *out, const char **error_r)
{
	if (mb->driver == NULL || mb->driver->fetch == NULL) {
		*error_r = "no driver";
		return -1;
	}
	return mb->driver->fetch(mb, seq - 1, part, out, error_r);
}

enum skey_type {
	SK_AND,			/* children: all must match */
	SK_OR,			/* children: two */
	SK_NOT,			/* children: one */
	SK_ALL,
	SK_FLAG,		/* all bits in flag set */
	SK_UNFLAG,		/* no bit of flag set */
	SK_NEW,			/* recent and unseen */
	SK_OLD,			/* not recent */
	SK_KEYWORD,
	SK_UNKEYWORD,
	SK_LARGER,
	SK_SMALLER,
	SK_BEFORE,
	SK_ON,
	SK_SINCE,
	SK_SENTBEFORE,
	SK_SENTON,
	SK_SENTSINCE,
	SK_OLDER,
	SK_YOUNGER,
	SK_SEQSET,
	SK_UIDSET,
	SK_HEADER,		/* field + needle (SUBJECT, HEADER) */
	SK_ADDRESS,		/* field + needle (FROM, TO, CC, BCC) */
	SK_BODY,
	SK_TEXT,
};

/* how expensive a key is: decides the order inside an AND */
enum skey_cost { COST_META = 0, COST_HEADER = 1, COST_BODY = 2 };

struct search_key {
	enum skey_type type;
	enum skey_cost cost;
	struct search_key *child;	/* AND, OR, NOT */
	struct search_key *next;	/* sibling */
	uint32_t flag;
	uint64_t num;			/* size or seconds */
	int64_t day;			/* day number for date keys */
	char *field;			/* header field name */
	char *str;			/* case-folded UTF-8 needle, or keyword */
	size_t str_len;
	/* set keys: ranges without "*" resolved; "*" handled at match time */
	struct seqset set;
	bool star_self;			/* "*" or "*:*" */
	bool star_range;		/* some "n:*" */
	uint32_t star_min, star_max;	/* smallest / largest such n */
};

enum arg_kind { ARG_NONE, ARG_STRING, ARG_FIELD, ARG_DATE, ARG_NUMBER,
		ARG_KEYWORD, ARG_SET };

static const struct key_def {
	const char *name;
	enum skey_type type;
	enum arg_kind arg;
	uint32_t flag;
	const char *field;		/* header for address/subject keys */
} key_defs[] = {
	{ "ALL", SK_ALL, ARG_NONE, 0, NULL },
	{ "ANSWERED", SK_FLAG, ARG_NONE, MAIL_ANSWERED, NULL },
	{ "DELETED", SK_FLAG, ARG_NONE, MAIL_DELETED, NULL },
	{ "DRAFT", SK_FLAG, ARG_NONE, MAIL_DRAFT, NULL },
	{ "FLAGGED", SK_FLAG, ARG_NONE, MAIL_FLAGGED, NULL },
	{ "RECENT", SK_FLAG, ARG_NONE, MAIL_RECENT, NULL },
	{ "SEEN", SK_FLAG, ARG_NONE, MAIL_SEEN, NULL },
	{ "UNANSWERED", SK_UNFLAG, ARG_NONE, MAIL_ANSWERED, NULL },
	{ "UNDELETED", SK_UNFLAG, ARG_NONE, MAIL_DELETED, NULL },
	{ "UNDRAFT", SK_UNFLAG, ARG_NONE, MAIL_DRAFT, NULL },
	{ "UNFLAGGED", SK_UNFLAG, ARG_NONE, MAIL_FLAGGED, NULL },
	{ "UNSEEN", SK_UNFLAG, ARG_NONE, MAIL_SEEN, NULL },
	{ "NEW", SK_NEW, ARG_NONE, 0, NULL },
	{ "OLD", SK_OLD, ARG_NONE, 0, NULL },
	{ "BCC", SK_ADDRESS, ARG_STRING, 0, "Bcc" },
	{ "CC", SK_ADDRESS, ARG_STRING, 0, "Cc" },
	{ "FROM", SK_ADDRESS, ARG_STRING, 0, "From" },
	{ "TO", SK_ADDRESS, ARG_STRING, 0, "To" },
	{ "SUBJECT", SK_HEADER, ARG_STRING, 0, "Subject" },
	{ "HEADER", SK_HEADER, ARG_FIELD, 0, NULL },
	{ "BODY", SK_BODY, ARG_STRING, 0, NULL },
	{ "TEXT", SK_TEXT, ARG_STRING, 0, NULL },
	{ "BEFORE", SK_BEFORE, ARG_DATE, 0, NULL },
	{ "ON", SK_ON, ARG_DATE, 0, NULL },
	{ "SINCE", SK_SINCE, ARG_DATE, 0, NULL },
	{ "SENTBEFORE", SK_SENTBEFORE, ARG_DATE, 0, NULL },
	{ "SENTON", SK_SENTON, ARG_DATE, 0, NULL },
	{ "SENTSINCE", SK_SENTSINCE, ARG_DATE, 0, NULL },
	{ "KEYWORD", SK_KEYWORD, ARG_KEYWORD, 0, NULL },
	{ "UNKEYWORD", SK_UNKEYWORD, ARG_KEYWORD, 0, NULL },
	{ "LARGER", SK_LARGER, ARG_NUMBER, 0, NULL },
	{ "SMALLER", SK_SMALLER, ARG_NUMBER, 0, NULL },
	{ "OLDER", SK_OLDER, ARG_NUMBER, 0, NULL },
	{ "YOUNGER", SK_YOUNGER, ARG_NUMBER, 0, NULL },
	{ "UID", SK_UIDSET, ARG_SET, 0, NULL },
};

/* system flags accepted after KEYWORD (lenient, as UW was) */
static const struct { const char *name; uint32_t flag; } sysflags[] = {
	{ "\\Seen", MAIL_SEEN }, { "\\Answered", MAIL_ANSWERED },
	{ "\\Flagged", MAIL_FLAGGED }, { "\\Deleted", MAIL_DELETED },
	{ "\\Draft", MAIL_DRAFT }, { "\\Recent", MAIL_RECENT },
};

struct parser {
	const struct imap_arg *a;	/* next argument */
	const char *charset;		/* NULL: no conversion needed */
	enum search_error err;
	const char *error;
	struct buf tmp, tmp2;
};

static struct search_key *parse_and(struct parser *p, unsigned depth);

static void key_free_tree(struct search_key *k)
{
	while (k != NULL) {
		struct search_key *next = k->next;

		key_free_tree(k->child);	/* depth is bounded at parse */
		free(k->field);
		free(k->str);
		seqset_free(&k->set);
		free(k);
		k = next;
	}
}

void search_free(struct search_key **k)
{
	if (*k == NULL)
		return;
	key_free_tree(*k);
	*k = NULL;
}

static bool parse_fail(struct parser *p, enum search_error err,
		       const char *error)
{
	if (p->err == SEARCH_OK) {
		p->err = err;
		p->error = error;
	}
	return false;
}

static const struct imap_arg *next_string(struct parser *p)
{
	const struct imap_arg *a = p->a;

	if (!imap_arg_is_string(a))
		return NULL;
	p->a++;
	return a;
}

/* convert a search string to folded UTF-8 for substring matching */
static bool set_needle(struct parser *p, struct search_key *k,
		       const struct imap_arg *a)
{
	const char *s = a->str;
	size_t len = a->len;

	if (p->charset != NULL) {
		buf_reset(&p->tmp);
		if (!charset_to_utf8(p->charset, s, len, &p->tmp))
			return parse_fail(p, SEARCH_BADCHARSET,
					  "Cannot convert search string");
		s = p->tmp.data;
		len = p->tmp.len;
	}
	buf_reset(&p->tmp2);
	utf8_casefold(s, len, &p->tmp2);
	k->str = xstrndup(p->tmp2.data, p->tmp2.len);
	k->str_len = p->tmp2.len;
	return true;
}

static bool set_parse(struct search_key *k, const char *s)
{
	struct seqset raw;

	if (!seqset_parse(s, &raw))
		return false;
	for (unsigned i = 0; i < raw.n; i++) {
		uint32_t lo = raw.r[i].lo, hi = raw.r[i].hi;

		if (lo == SEQ_STAR && hi == SEQ_STAR) {
			k->star_self = true;
		} else if (lo == SEQ_STAR || hi == SEQ_STAR) {
			/* "n:*" is [min(n,max), max(n,max)]; the union of all
			 * such ranges only depends on the smallest and the
			 * largest n (see set_match) */
			uint32_t n = lo == SEQ_STAR ? hi : lo;

			if (!k->star_range || n < k->star_min)
				k->star_min = n;
			if (!k->star_range || n > k->star_max)
				k->star_max = n;
			k->star_range = true;
		} else {
			seqset_add(&k->set, lo, hi);
		}
	}
	seqset_free(&raw);
	seqset_resolve(&k->set, SEQ_STAR);
	return true;
}

static bool parse_date(const struct imap_arg *a, int64_t *day_r)
{
	int64_t t;

	if (!date_parse_imap_date(a->str, &t))
		return false;
	*day_r = date_day_number(t, 0);
	return true;
}

static bool parse_args(struct parser *p, struct search_key *k,
		       const struct key_def *d)
{
	const struct imap_arg *a = NULL, *f;

	if (d->arg != ARG_NONE && d->arg != ARG_FIELD &&
	    (a = next_string(p)) == NULL)
		return parse_fail(p, SEARCH_BAD, "Missing search argument");
	switch (d->arg) {
	case ARG_NONE:
		return true;
	case ARG_STRING:
		if (d->field != NULL)
			k->field = xstrdup(d->field);
		return set_needle(p, k, a);
	case ARG_FIELD:
		if ((f = next_string(p)) == NULL || (a = next_string(p)) == NULL)
			return parse_fail(p, SEARCH_BAD,
					  "HEADER needs a field and a string");
		if (f->len == 0 || strlen(f->str) != f->len)
			return parse_fail(p, SEARCH_BAD, "Bad header field name");
		k->field = xstrdup(f->str);
		return set_needle(p, k, a);
	case ARG_DATE:
		if (!parse_date(a, &k->day))
			return parse_fail(p, SEARCH_BAD, "Bad date");
		return true;
	case ARG_NUMBER:
		if (a->type == IMAP_ARG_LITERAL || !str_to_u64(a->str, &k->num))
			return parse_fail(p, SEARCH_BAD, "Bad number");
		return true;
	case ARG_KEYWORD:
		if (a->type != IMAP_ARG_ATOM || a->len == 0)
			return parse_fail(p, SEARCH_BAD, "Bad keyword");
		for (size_t i = 0; i < N_ELEMENTS(sysflags); i++) {
			if (ascii_strcasecmp(a->str, sysflags[i].name) == 0) {
				k->type = k->type == SK_KEYWORD ?
					SK_FLAG : SK_UNFLAG;
				k->flag = sysflags[i].flag;
				return true;
			}
		}
		k->str = xstrdup(a->str);
		k->str_len = a->len;
		return true;
	case ARG_SET:
		if (a->type != IMAP_ARG_ATOM || !set_parse(k, a->str))
			return parse_fail(p, SEARCH_BAD, "Bad UID set");
		return true;
	}
	return parse_fail(p, SEARCH_BAD, "internal error");
}

static enum skey_cost cost_of(const struct search_key *k)
{
	switch (k->type) {
	case SK_HEADER:
	case SK_ADDRESS:
	case SK_SENTBEFORE:
	case SK_SENTON:
	case SK_SENTSINCE:
		return COST_HEADER;
	case SK_BODY:
	case SK_TEXT:
		return COST_BODY;
	default:
		return COST_META;
	}
}

static struct search_key *parse_key(struct parser *p, unsigned depth)
{
	const struct imap_arg *a = p->a;
	struct search_key *k;

	if (depth >= SEARCH_MAX_DEPTH) {
		parse_fail(p, SEARCH_BAD, "Search criteria nested too deeply");
		return NULL;
	}
	if (a->type == IMAP_ARG_LIST) {
		const struct imap_arg *saved = a + 1;

		p->a = a->list;
		if (p->a->type == IMAP_ARG_EOL) {
			parse_fail(p, SEARCH_BAD, "Empty search group");
			return NULL;
		}
		k = parse_and(p, depth + 1);
		p->a = saved;
		return k;
	}
	if (a->type != IMAP_ARG_ATOM) {
		parse_fail(p, SEARCH_BAD, "Bad search key");
		return NULL;
	}
	p->a++;
	k = xcalloc(1, sizeof *k);
	if (ascii_strcasecmp(a->str, "NOT") == 0 ||
	    ascii_strcasecmp(a->str, "OR") == 0) {
		bool is_or = ascii_toupper(a->str[0]) == 'O';
		struct search_key *c1, *c2 = NULL;

		k->type = is_or ? SK_OR : SK_NOT;
		if (p->a->type == IMAP_ARG_EOL ||
		    (c1 = parse_key(p, depth + 1)) == NULL) {
			parse_fail(p, SEARCH_BAD, "Missing search key");
			free(k);
			return NULL;
		}
		k->child = c1;
		k->cost = c1->cost;
		if (is_or) {
			if (p->a->type == IMAP_ARG_EOL ||
			    (c2 = parse_key(p, depth + 1)) == NULL) {
				parse_fail(p, SEARCH_BAD, "Missing search key");
				key_free_tree(k);
				return NULL;
			}
			/* cheaper alternative first */
			if (c2->cost < c1->cost) {
				k->child = c2;
				c2->next = c1;
			} else {
				c1->next = c2;
			}
			if (c2->cost > k->cost)
				k->cost = c2->cost;
		}
		return k;
	}
	for (size_t i = 0; i < N_ELEMENTS(key_defs); i++) {
		const struct key_def *d = &key_defs[i];

		if (ascii_strcasecmp(a->str, d->name) != 0)
			continue;
		k->type = d->type;
		k->flag = d->flag;
		if (!parse_args(p, k, d)) {
			key_free_tree(k);
			return NULL;
		}
		k->cost = cost_of(k);
		return k;
	}
	/* a bare sequence set */
	k->type = SK_SEQSET;
	if ((a->str[0] == '*' || (a->str[0] >= '1' && a->str[0] <= '9')) &&
	    set_parse(k, a->str))
		return k;
	free(k);
	parse_fail(p, SEARCH_BAD, "Unknown search key");
	return NULL;
}

/* keys until the end of the current list, as one AND, cheapest first */
static struct search_key *parse_and(struct parser *p, unsigned depth)
{
	struct search_key *and, *buckets[3] = { NULL }, **tails[3];
	enum skey_cost max = COST_META;

	for (int i = 0; i < 3; i++)
		tails[i] = &buckets[i];
	while (p->a->type != IMAP_ARG_EOL) {
		struct search_key *k = parse_key(p, depth);

		if (k == NULL) {
			for (int i = 0; i < 3; i++)
				key_free_tree(buckets[i]);
			return NULL;
		}
		/* stable bucket sort by cost */
		*tails[k->cost] = k;
		tails[k->cost] = &k->next;
		if (k->cost > max)
			max = k->cost;
	}
	and = xcalloc(1, sizeof *and);
	and->type = SK_AND;
	and->cost = max;
	{
		struct search_key **tail = &and->child;

		for (int i = 0; i < 3; i++) {
			if (buckets[i] == NULL)
				continue;
			*tail = buckets[i];
			tail = tails[i];
		}
		*tail = NULL;
	}
	return and;
}

struct search_key *search_parse(const struct imap_arg *args,
				const char *charset, enum search_error *err_r,
				const char **error_r)
{
	struct parser p;
	struct search_key *k;

	memset(&p, 0, sizeof p);
	p.a = args;
	if (charset != NULL && ascii_strcasecmp(charset, "US-ASCII") != 0 &&
	    ascii_strcasecmp(charset, "UTF-8") != 0) {
		if (!charset_known(charset)) {
			*err_r = SEARCH_BADCHARSET;
			*error_r = "Unsupported charset";
			return NULL;
		}
		p.charset = charset;
	}
	if (args->type == IMAP_ARG_EOL) {
		*err_r = SEARCH_BAD;
		*error_r = "Missing search criteria";
		return NULL;
	}
	buf_init(&p.tmp, 0);
	buf_init(&p.tmp2, 0);
	k = parse_and(&p, 0);
	buf_release(&p.tmp);
	buf_release(&p.tmp2);
	if (k == NULL) {
		*err_r = p.err != SEARCH_OK ? p.err : SEARCH_BAD;
		*error_r = p.error != NULL ? p.error : "Bad search criteria";
		return NULL;
	}
	*err_r = SEARCH_OK;
	return k;
}

/* ---- matching ---- */

struct match_ctx {
	struct mailbox *mb;
	uint32_t seq;
	const struct mail_message *m;
	int64_t now;
	int hdr_state;		/* 0: not yet, 1: have it, -1: failed */
	int all_state;
	struct buf hdr, all;
	const char *hdr_p;	/* header text: into hdr or all */
	size_t hdr_len;
	bool body_done, htext_done, sent_done, sent_ok;
	struct buf body;	/* folded decoded body text */
	struct buf htext;	/* folded decoded header fields */
	int64_t sent_day;
	struct buf t1, t2, t3;
};

static void ctx_init(struct match_ctx *c, struct mailbox *mb)
{
	memset(c, 0, sizeof *c);
	c->mb = mb;
	c->now = (int64_t)time(NULL);
	buf_init(&c->hdr, 0);
	buf_init(&c->all, 0);
	buf_init(&c->body, 0);
	buf_init(&c->htext, 0);
	buf_init(&c->t1, 0);
	buf_init(&c->t2, 0);
	buf_init(&c->t3, 0);
}

static void ctx_set(struct match_ctx *c, uint32_t seq)
{
	c->seq = seq;
	c->m = &c->mb->msgs[seq - 1];
	c->hdr_state = c->all_state = 0;
	c->body_done = c->htext_done = c->sent_done = false;
}

static void ctx_free(struct match_ctx *c)
{
	buf_release(&c->hdr);
	buf_release(&c->all);
	buf_release(&c->body);
	buf_release(&c->htext);
	buf_release(&c->t1);
	buf_release(&c->t2);
	buf_release(&c->t3);
}

static bool need_all(struct match_ctx *c)
{
	const char *error;

	if (c->all_state == 0) {
		buf_reset(&c->all);
		c->all_state = search_fetch_msg(c->mb, c->seq, MAIL_PART_ALL,
						&c->all, &error) == 0 ? 1 : -1;
		/* fetching may re-sync and move mb->msgs */
		c->m = &c->mb->msgs[c->seq - 1];
	}
	return c->all_state > 0;
}

static bool need_header(struct match_ctx *c)
{
	const char *error;

	if (c->hdr_state != 0)
		return c->hdr_state > 0;
	if (c->all_state > 0) {
		c->hdr_p = c->all.data;
		c->hdr_len = rfc822_header_size(c->all.data, c->all.len);
		c->hdr_state = 1;
		return true;
	}
	buf_reset(&c->hdr);
	int fr = search_fetch_msg(c->mb, c->seq, MAIL_PART_HEADER, &c->hdr,
				  &error);

	/* fetching may re-sync and move mb->msgs */
	c->m = &c->mb->msgs[c->seq - 1];
	if (fr < 0) {
		c->hdr_state = -1;
		return false;
	}
	c->hdr_p = c->hdr.data;
	c->hdr_len = c->hdr.len;
	c->hdr_state = 1;
	return true;
}

static bool contains(const struct buf *hay, const struct search_key *k)
{
	if (k->str_len == 0)
		return true;
	return memmem(hay->data, hay->len, k->str, k->str_len) != NULL;
}

/* fold raw text (unfolded field value) and, decoded by RFC 2047, again:
 * address fields thus match on the display form and the raw address */
static bool value_contains(struct match_ctx *c, const char *v, size_t len,
			   const struct search_key *k)
{
	buf_reset(&c->t1);
	rfc822_unfold(v, len, &c->t1);
	buf_reset(&c->t3);
	utf8_casefold(c->t1.data, c->t1.len, &c->t3);
	if (contains(&c->t3, k))
		return true;
	buf_reset(&c->t2);
	rfc2047_decode(c->t1.data, c->t1.len, &c->t2);
	buf_reset(&c->t3);
	utf8_casefold(c->t2.data, c->t2.len, &c->t3);
	return contains(&c->t3, k);
}

/* The addresses of a field as a reader sees them, one a line:
 * "personal <mailbox@host>" (personal decoded by RFC 2047), a group's
 * name alone. The raw field text misses an address written with
 * comments or folding inside it ("<user (c)@ (c) domain.org>", whose
 * address is user@domain.org) and a name given as a trailing comment;
 * RFC 3501 asks for a match on the field's contents, which the
 * addresses are (Dovecot matches the same parts; imaptest
 * search-addresses). */
static void address_text(const char *v, size_t len, struct buf *out)
{
	struct address *list = rfc822_parse_addresses(v, len), *a;

	for (a = list; a != NULL; a = a->next) {
		if (a->mailbox == NULL)
			continue;		/* end of a group */
		if (a->personal != NULL) {
			rfc2047_decode(a->personal, strlen(a->personal), out);
			buf_putc(out, ' ');
		}
		if (a->host == NULL) {		/* start of a group */
			buf_puts(out, a->mailbox);
			buf_putc(out, '\n');
			continue;
		}
		buf_putc(out, '<');
		if (a->adl != NULL) {
			buf_puts(out, a->adl);
			buf_putc(out, ':');
		}
		buf_puts(out, a->mailbox);
		if (strcmp(a->host, RFC822_MISSING_HOST) != 0) {
			buf_putc(out, '@');
			buf_puts(out, a->host);
		}
		buf_puts(out, ">\n");
	}
	rfc822_free_addresses(&list);
}

static bool match_header(struct match_ctx *c, const struct search_key *k,
			 bool address)
{
	size_t pos = 0, name_len, value_len;
	size_t flen = strlen(k->field);
	const char *name, *value;

	if (!need_header(c))
		return false;
	while (rfc822_header_next(c->hdr_p, c->hdr_len, &pos, &name, &name_len,
				  &value, &value_len)) {
		if (name_len != flen ||
		    ascii_strncasecmp(name, k->field, flen) != 0)
			continue;
		if (value_contains(c, value, value_len, k))
			return true;
		if (address) {
			buf_reset(&c->t2);
			address_text(value, value_len, &c->t2);
			buf_reset(&c->t3);
			utf8_casefold(c->t2.data, c->t2.len, &c->t3);
			if (contains(&c->t3, k))
				return true;
		}
	}
	return false;
}

/* "name: decoded value\n" for every field, folded, for TEXT */
static void build_htext(struct match_ctx *c, const char *hdr, size_t len,
			struct buf *out)
{
	size_t pos = 0, name_len, value_len;
	const char *name, *value;

	while (rfc822_header_next(hdr, len, &pos, &name, &name_len,
				  &value, &value_len)) {
		buf_reset(&c->t1);
		rfc822_unfold(value, value_len, &c->t1);
		buf_reset(&c->t2);
		buf_append(&c->t2, name, name_len);
		buf_puts(&c->t2, ": ");
		rfc2047_decode(c->t1.data, c->t1.len, &c->t2);
		buf_putc(&c->t2, '\n');
		utf8_casefold(c->t2.data, c->t2.len, out);
	}
}

static bool is_plain_charset(const char *cs)
{
	return cs == NULL || ascii_strcasecmp(cs, "US-ASCII") == 0 ||
		ascii_strcasecmp(cs, "UTF-8") == 0;
}

/* append the decoded, folded text of the text parts under b */
static void body_text(struct match_ctx *c, const struct mime_body *b,
		      unsigned depth)
{
	const char *msg = c->all.data;
	size_t len = c->all.len;

	for (; b != NULL; b = b->next) {
		if (depth > MIME_MAX_DEPTH + 2)
			return;
		if (b->parts != NULL) {
			body_text(c, b->parts, depth + 1);
			continue;
		}
		if (b->msg_body != NULL) {
			/* encapsulated message: its header and its text */
			if (b->body_off <= len &&
			    b->body_size <= len - b->body_off) {
				size_t h = rfc822_header_size(msg + b->body_off,
							      b->body_size);
				build_htext(c, msg + b->body_off, h, &c->body);
			}
			body_text(c, b->msg_body, depth + 1);
			continue;
		}
		if (b->type != NULL && ascii_strcasecmp(b->type, "TEXT") != 0)
			continue;
		if (b->body_off > len || b->body_size > len - b->body_off)
			continue;
		buf_reset(&c->t1);
		if (!mime_decode_cte(b->encoding != NULL ? b->encoding : "7BIT",
				     msg + b->body_off, b->body_size, &c->t1)) {
			buf_reset(&c->t1);
			buf_append(&c->t1, msg + b->body_off, b->body_size);
		}
		{
			const char *cs = mime_param_get(b->params, "charset");
			const struct buf *src = &c->t1;

			if (!is_plain_charset(cs)) {
				buf_reset(&c->t2);
				if (charset_to_utf8(cs, c->t1.data, c->t1.len,
						    &c->t2))
					src = &c->t2;
			}
			utf8_casefold(src->data, src->len, &c->body);
		}
		buf_putc(&c->body, '\n');
	}
}

static bool need_body(struct match_ctx *c)
{
	struct mime_body *root;

	if (c->body_done)
		return true;
	if (!need_all(c))
		return false;
	buf_reset(&c->body);
	root = mime_parse(c->all.data, c->all.len);
	if (root != NULL) {
		body_text(c, root, 0);
		mime_free(&root);
	} else {
		size_t h = rfc822_header_size(c->all.data, c->all.len);
		utf8_casefold(c->all.data + h, c->all.len - h, &c->body);
	}
	c->body_done = true;
	return true;
}

static bool need_htext(struct match_ctx *c)
{
	if (c->htext_done)
		return true;
	if (!need_header(c))
		return false;
	buf_reset(&c->htext);
	build_htext(c, c->hdr_p, c->hdr_len, &c->htext);
	c->htext_done = true;
	return true;
}

static bool sent_day(struct match_ctx *c, int64_t *day_r)
{
	if (!c->sent_done) {
		int64_t t;
		int32_t zone;

		c->sent_done = true;
		c->sent_ok = false;
		if (need_header(c) &&
		    rfc822_header_get(c->hdr_p, c->hdr_len, "Date", &c->t1) &&
		    date_parse_rfc5322(c->t1.data, c->t1.len, &t, &zone)) {
			c->sent_day = date_day_number(t, zone);
			c->sent_ok = true;
		}
	}
	*day_r = c->sent_day;
	return c->sent_ok;
}

static bool set_match(const struct search_key *k, uint32_t x, uint32_t max)
{
	if (seqset_contains(&k->set, x))
		return true;
	if (k->star_self && x == max)
		return true;
	/* x is in some [min(n,max), max(n,max)] iff one of these holds */
	if (k->star_range && ((x <= max && x >= k->star_min) ||
			      (x >= max && x <= k->star_max)))
		return true;
	return false;
}

static bool keyword_set(const struct mailbox *mb, const struct mail_message *m,
			const char *kw)
{
	for (unsigned i = 0; i < mb->nkeywords && i < MAIL_MAX_KEYWORDS; i++) {
		if (mb->keywords[i] != NULL &&
		    ascii_strcasecmp(mb->keywords[i], kw) == 0)
			return (m->keywords & ((uint64_t)1 << i)) != 0;
	}
	return false;
}

static bool match_key(struct match_ctx *c, const struct search_key *k)
{
	const struct mail_message *m = c->m;
	const struct search_key *ch;
	int64_t day;

	switch (k->type) {
	case SK_AND:
		for (ch = k->child; ch != NULL; ch = ch->next)
			if (!match_key(c, ch))
				return false;
		return true;
	case SK_OR:
		for (ch = k->child; ch != NULL; ch = ch->next)
			if (match_key(c, ch))
				return true;
		return false;
	case SK_NOT:
		return !match_key(c, k->child);
	case SK_ALL:
		return true;
	case SK_FLAG:
		return (m->flags & k->flag) == k->flag;
	case SK_UNFLAG:
		return (m->flags & k->flag) == 0;
	case SK_NEW:
		return (m->flags & (MAIL_RECENT | MAIL_SEEN)) == MAIL_RECENT;
	case SK_OLD:
		return (m->flags & MAIL_RECENT) == 0;
	case SK_KEYWORD:
		return keyword_set(c->mb, m, k->str);
	case SK_UNKEYWORD:
		return !keyword_set(c->mb, m, k->str);
	case SK_LARGER:
		return m->size > k->num;
	case SK_SMALLER:
		return m->size < k->num;
	case SK_BEFORE:
		return date_day_number(m->internaldate, m->zone) < k->day;
	case SK_ON:
		return date_day_number(m->internaldate, m->zone) == k->day;
	case SK_SINCE:
		return date_day_number(m->internaldate, m->zone) >= k->day;
	case SK_SENTBEFORE:
		return sent_day(c, &day) && day < k->day;
	case SK_SENTON:
		return sent_day(c, &day) && day == k->day;
	case SK_SENTSINCE:
		return sent_day(c, &day) && day >= k->day;
	case SK_OLDER:
		return k->num <= INT64_MAX &&
			m->internaldate <= c->now - (int64_t)k->num;
	case SK_YOUNGER:
		return k->num <= INT64_MAX &&
			m->internaldate > c->now - (int64_t)k->num;
	case SK_SEQSET:
		return set_match(k, c->seq, c->mb->count);
	case SK_UIDSET:
		return set_match(k, m->uid, c->mb->msgs[c->mb->count - 1].uid);
	case SK_HEADER:
		return match_header(c, k, false);
	case SK_ADDRESS:
		return match_header(c, k, true);
	case SK_BODY:
		return need_body(c) && contains(&c->body, k);
	case SK_TEXT:
		return (need_htext(c) && contains(&c->htext, k)) ||
			(need_body(c) && contains(&c->body, k));
	}
	return false;
}

bool search_match(struct mailbox *mb, uint32_t seq, const struct search_key *k)
{
	struct match_ctx c;
	bool ret;

	if (seq == 0 || seq > mb->count ||
	    (mb->msgs[seq - 1].state & MSTATE_EXPUNGED) != 0)
		return false;
	ctx_init(&c, mb);
	ctx_set(&c, seq);
	ret = match_key(&c, k);
	ctx_free(&c);
	return ret;
}

uint32_t search_run(struct mailbox *mb, const struct search_key *k,
		    uint32_t **seqs_r)
{
	struct match_ctx c;
	uint32_t *v = NULL, n = 0;

	if (mb->count > 0)
		v = xreallocarray(NULL, mb->count, sizeof *v);
	ctx_init(&c, mb);
	for (uint32_t seq = 1; seq <= mb->count; seq++) {
		if ((mb->msgs[seq - 1].state & MSTATE_EXPUNGED) != 0)
			continue;
		ctx_set(&c, seq);
		if (match_key(&c, k))
			v[n++] = seq;
	}
	ctx_free(&c);
	*seqs_r = v;
	return n;
}
