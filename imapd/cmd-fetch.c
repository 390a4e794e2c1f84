/*
 * cmd-fetch.c - FETCH and UID FETCH: every RFC 3501 data item, the
 * ALL/FAST/FULL macros, BODY[section]<partial> into nested message/rfc822
 * parts, BODY.PEEK, and BINARY/BINARY.PEEK/BINARY.SIZE (RFC 3516).
 *
 * Each message's response is written as it is produced (ios flushes at
 * its high-water mark), so FETCH 1:* over a large mailbox needs memory
 * for one message, not for the whole answer. Message text is read once
 * per message and only when an item needs it.
 *
 * SECURITY: section specifications are client input: part numbers are
 * bounded in count and value, field lists in count; partial ranges are
 * clamped to the data.
 */
#include <stdlib.h>
#include <string.h>

#include "date.h"
#include "mime.h"
#include "rfc822.h"
#include "imapd.h"

#define MAX_FIELDS 200

enum fetch_type {
	F_FLAGS, F_INTERNALDATE, F_RFC822_SIZE, F_ENVELOPE, F_UID, F_BODY,
	F_BODYSTRUCTURE, F_RFC822, F_RFC822_HEADER, F_RFC822_TEXT,
	F_SECTION, F_BINARY, F_BINARY_SIZE,
};

enum section_what { S_ALL, S_HEADER, S_FIELDS, S_FIELDS_NOT, S_TEXT, S_MIME };

struct fetch_item {
	enum fetch_type type;
	bool peek;
	uint32_t nums[MIME_MAX_DEPTH];
	unsigned nnums;
	enum section_what what;
	char **fields;
	unsigned nfields;
	bool partial;
	uint64_t off, len;
	char *name;		/* response name without <origin> */
};

struct fetch_ctx {
	struct fetch_item *items;
	unsigned n;
	bool want_flags;
	bool set_seen;		/* some item sets \Seen */
	bool need_all;		/* whole message text needed */
	bool need_header;	/* header only */
	bool need_mime;
	bool failed;		/* some message could not be read */
	bool gone;		/* some message's text was expunged by others */
	bool unknown_cte;
};

static void items_free(struct fetch_ctx *f)
{
	unsigned i, j;

	for (i = 0; i < f->n; i++) {
		for (j = 0; j < f->items[i].nfields; j++)
			free(f->items[i].fields[j]);
		free(f->items[i].fields);
		free(f->items[i].name);
	}
	free(f->items);
}

static struct fetch_item *item_add(struct fetch_ctx *f, enum fetch_type t)
{
	struct fetch_item *it;

	f->items = xreallocarray(f->items, f->n + 1, sizeof *f->items);
	it = &f->items[f->n++];
	memset(it, 0, sizeof *it);
	it->type = t;
	return it;
}

/* parse "HEADER.FIELDS (a b "c")": the list starting at *pp */
static bool parse_field_list(struct fetch_item *it, const char **pp)
{
	const char *p = *pp;
	struct buf field;

	while (*p == ' ')
		p++;
	if (*p != '(')
		return false;
	p++;
	buf_init(&field, 0);
	for (;;) {
		while (*p == ' ')
			p++;
		if (*p == ')') {
			p++;
			break;
		}
		if (*p == '\0' || it->nfields >= MAX_FIELDS)
			goto fail;
		buf_reset(&field);
		if (*p == '"') {
			p++;
			while (*p != '"' && *p != '\0') {
				if (*p == '\\' && p[1] != '\0')
					p++;
				buf_putc(&field, *p++);
			}
			if (*p != '"')
				goto fail;
			p++;
		} else {
			while (*p != ' ' && *p != ')' && *p != '\0') {
				unsigned char u = (unsigned char)*p;
				if (u <= 0x20 || u >= 0x7f || *p == '(' ||
				    *p == '{' || *p == '"')
					goto fail;
				buf_putc(&field, *p++);
			}
		}
		if (field.len == 0 || memchr(field.data, ':', field.len) != NULL)
			goto fail;
		it->fields = xreallocarray(it->fields, it->nfields + 1,
					   sizeof *it->fields);
		it->fields[it->nfields++] = buf_steal(&field, NULL);
	}
	if (it->nfields == 0)
		goto fail;
	buf_release(&field);
	*pp = p;
	return true;
fail:
	buf_release(&field);
	return false;
}

/* "[1.2.HEADER.FIELDS (x)]<0.10>" starting at '[' */
static bool parse_section(struct fetch_item *it, const char *p, bool binary,
			  bool size_only)
{
	struct buf name;
	uint64_t v;
	unsigned i;

	if (*p++ != '[')
		return false;
	while (*p >= '0' && *p <= '9') {
		v = 0;
		while (*p >= '0' && *p <= '9') {
			v = v * 10 + (uint64_t)(*p++ - '0');
			if (v > UINT32_MAX)
				return false;
		}
		if (v == 0 || it->nnums >= MIME_MAX_DEPTH)
			return false;
		it->nums[it->nnums++] = (uint32_t)v;
		if (*p == '.' && p[1] >= '0' && p[1] <= '9')
			p++;
		else
			break;
	}
	if (it->nnums > 0 && *p == '.' && !binary)
		p++;
	else if (it->nnums > 0 && *p != ']')
		return false;
	if (binary) {
		if (*p != ']')
			return false;
	} else if (*p == ']') {
		it->what = S_ALL;
	} else if (ascii_strncasecmp(p, "HEADER.FIELDS.NOT", 17) == 0) {
		it->what = S_FIELDS_NOT;
		p += 17;
		if (!parse_field_list(it, &p))
			return false;
	} else if (ascii_strncasecmp(p, "HEADER.FIELDS", 13) == 0) {
		it->what = S_FIELDS;
		p += 13;
		if (!parse_field_list(it, &p))
			return false;
	} else if (ascii_strncasecmp(p, "HEADER", 6) == 0) {
		it->what = S_HEADER;
		p += 6;
	} else if (ascii_strncasecmp(p, "TEXT", 4) == 0) {
		it->what = S_TEXT;
		p += 4;
	} else if (ascii_strncasecmp(p, "MIME", 4) == 0 && it->nnums > 0) {
		it->what = S_MIME;
		p += 4;
	} else {
		return false;
	}
	if (*p++ != ']')
		return false;
	if (*p == '<' && !size_only) {
		uint64_t off = 0, len = 0;
		p++;
		if (*p < '0' || *p > '9')
			return false;
		while (*p >= '0' && *p <= '9') {
			off = off * 10 + (uint64_t)(*p++ - '0');
			if (off > UINT32_MAX)
				return false;
		}
		if (*p++ != '.' || *p < '0' || *p > '9')
			return false;
		while (*p >= '0' && *p <= '9') {
			len = len * 10 + (uint64_t)(*p++ - '0');
			if (len > UINT32_MAX)
				return false;
		}
		if (*p++ != '>' || len == 0)
			return false;
		it->partial = true;
		it->off = off;
		it->len = len;
	}
	if (*p != '\0')
		return false;

	/* the name the response uses */
	buf_init(&name, 0);
	buf_puts(&name, size_only ? "BINARY.SIZE[" : binary ? "BINARY[" :
		 "BODY[");
	for (i = 0; i < it->nnums; i++)
		buf_printf(&name, "%s%u", i > 0 ? "." : "", it->nums[i]);
	if (it->what != S_ALL && it->nnums > 0)
		buf_putc(&name, '.');
	static const char *const whats[] = {
		[S_ALL] = "", [S_HEADER] = "HEADER",
		[S_FIELDS] = "HEADER.FIELDS", [S_FIELDS_NOT] =
		"HEADER.FIELDS.NOT", [S_TEXT] = "TEXT", [S_MIME] = "MIME" };
	buf_puts(&name, whats[it->what]);
	if (it->nfields > 0) {
		buf_puts(&name, " (");
		for (i = 0; i < it->nfields; i++) {
			if (i > 0)
				buf_putc(&name, ' ');
			imap_append_astring(&name, it->fields[i]);
		}
		buf_putc(&name, ')');
	}
	buf_putc(&name, ']');
	it->name = buf_steal(&name, NULL);
	buf_release(&name);
	return true;
}

static bool parse_item(struct fetch_ctx *f, const char *s)
{
	static const struct { const char *name; enum fetch_type t; } simple[] = {
		{ "FLAGS", F_FLAGS }, { "INTERNALDATE", F_INTERNALDATE },
		{ "RFC822.SIZE", F_RFC822_SIZE }, { "ENVELOPE", F_ENVELOPE },
		{ "UID", F_UID }, { "BODY", F_BODY },
		{ "BODYSTRUCTURE", F_BODYSTRUCTURE }, { "RFC822", F_RFC822 },
		{ "RFC822.HEADER", F_RFC822_HEADER },
		{ "RFC822.TEXT", F_RFC822_TEXT },
	};
	struct fetch_item *it;
	unsigned i;

	for (i = 0; i < N_ELEMENTS(simple); i++)
		if (ascii_strcasecmp(s, simple[i].name) == 0) {
			item_add(f, simple[i].t);
			return true;
		}
	if (ascii_strcasecmp(s, "ALL") == 0 || ascii_strcasecmp(s, "FAST") == 0 ||
	    ascii_strcasecmp(s, "FULL") == 0) {
		item_add(f, F_FLAGS);
		item_add(f, F_INTERNALDATE);
		item_add(f, F_RFC822_SIZE);
		if (ascii_strcasecmp(s, "FAST") != 0)
			item_add(f, F_ENVELOPE);
		if (ascii_strcasecmp(s, "FULL") == 0)
			item_add(f, F_BODY);
		return true;
	}
	if (ascii_strncasecmp(s, "BODY.PEEK[", 10) == 0) {
		it = item_add(f, F_SECTION);
		it->peek = true;
		return parse_section(it, s + 9, false, false);
	}
	if (ascii_strncasecmp(s, "BODY[", 5) == 0) {
		it = item_add(f, F_SECTION);
		return parse_section(it, s + 4, false, false);
	}
	if (ascii_strncasecmp(s, "BINARY.PEEK[", 12) == 0) {
		it = item_add(f, F_BINARY);
		it->peek = true;
		return parse_section(it, s + 11, true, false);
	}
	if (ascii_strncasecmp(s, "BINARY.SIZE[", 12) == 0) {
		it = item_add(f, F_BINARY_SIZE);
		it->peek = true;
		return parse_section(it, s + 11, true, true);
	}
	if (ascii_strncasecmp(s, "BINARY[", 7) == 0) {
		it = item_add(f, F_BINARY);
		return parse_section(it, s + 6, true, false);
	}
	return false;
}

static void plan(struct fetch_ctx *f, bool uid)
{
	bool have_uid = false;
	unsigned i;

	for (i = 0; i < f->n; i++) {
		struct fetch_item *it = &f->items[i];
		switch (it->type) {
		case F_FLAGS:
			f->want_flags = true;
			break;
		case F_UID:
			have_uid = true;
			break;
		case F_RFC822:
		case F_RFC822_TEXT:
			f->set_seen = true;
			f->need_all = true;
			break;
		case F_RFC822_HEADER:
			f->need_header = true;
			break;
		case F_SECTION:
		case F_BINARY:
		case F_BINARY_SIZE:
			if (!it->peek)
				f->set_seen = true;
			if (it->nnums == 0 && (it->what == S_HEADER ||
					       it->what == S_FIELDS ||
					       it->what == S_FIELDS_NOT))
				f->need_header = true;
			else
				f->need_all = true;
			if (it->nnums > 0)
				f->need_mime = true;
			break;
		default:
			break;
		}
	}
	if (uid && !have_uid) {
		/* UID FETCH always answers with the UID, first */
		f->items = xreallocarray(f->items, f->n + 1, sizeof *f->items);
		memmove(&f->items[1], &f->items[0], f->n * sizeof *f->items);
		memset(&f->items[0], 0, sizeof f->items[0]);
		f->items[0].type = F_UID;
		f->n++;
	}
}

/* text of one message, loaded once per message */
struct msgtext {
	struct buf all;
	struct buf hdr;
	bool have_all, have_hdr;
	struct mime_body *mime;
};

static void write_data(struct client *c, const char *name,
		       const struct fetch_item *it, const char *data,
		       size_t len, bool binary)
{
	if (it != NULL && it->partial) {
		if (it->off >= len) {
			data = "";
			len = 0;
		} else {
			data += it->off;
			len -= (size_t)it->off;
			if (len > it->len)
				len = (size_t)it->len;
		}
		ios_printf(c->ios, "%s<%llu> ", name,
			   (unsigned long long)it->off);
	} else {
		ios_printf(c->ios, "%s ", name);
	}
	imap_write_literal(c->ios, data, len,
			   binary && memchr(data, '\0', len) != NULL);
}

/* the region of the message an item with part numbers refers to */
static void section_region(const struct fetch_item *it, struct msgtext *t,
			   const char **data_r, size_t *len_r,
			   const struct mime_body **part_r)
{
	const struct mime_body *part, *msg;
	const char *base = t->all.data;

	*data_r = "";
	*len_r = 0;
	*part_r = NULL;
	if (t->mime == NULL)
		t->mime = mime_parse(t->all.data, t->all.len);
	part = mime_find_part(t->mime, it->nums, it->nnums);
	if (part == NULL)
		return;
	*part_r = part;
	switch (it->what) {
	case S_ALL:
		*data_r = base + part->body_off;
		*len_r = (size_t)part->body_size;
		return;
	case S_MIME:
		*data_r = base + part->hdr_off;
		*len_r = (size_t)part->hdr_size;
		return;
	default:
		break;
	}
	/* HEADER/TEXT of a part: only a message/rfc822 part has them */
	msg = part->msg_body;
	if (msg == NULL)
		return;
	if (it->what == S_TEXT) {
		*data_r = base + msg->body_off;
		*len_r = (size_t)msg->body_size;
	} else {
		*data_r = base + msg->hdr_off;
		*len_r = (size_t)msg->hdr_size;
	}
}

static void write_section(struct client *c, struct fetch_ctx *f,
			  const struct fetch_item *it, struct msgtext *t)
{
	const char *data = "";
	size_t len = 0, hsize;
	const struct mime_body *part = NULL;
	struct buf tmp;

	buf_init(&tmp, 0);
	if (it->nnums == 0) {
		const struct buf *h = t->have_all ? &t->all : &t->hdr;
		hsize = rfc822_header_size(h->data, h->len);
		switch (it->what) {
		case S_ALL:
			data = t->all.data;
			len = t->all.len;
			break;
		case S_TEXT:
			hsize = rfc822_header_size(t->all.data, t->all.len);
			data = t->all.data + hsize;
			len = t->all.len - hsize;
			break;
		default:
			data = h->data;
			len = hsize;
			break;
		}
	} else {
		section_region(it, t, &data, &len, &part);
	}
	if (it->what == S_FIELDS || it->what == S_FIELDS_NOT) {
		rfc822_header_fields(data, len, (const char *const *)it->fields,
				     it->nfields, it->what == S_FIELDS_NOT,
				     &tmp);
		data = tmp.data;
		len = tmp.len;
	}
	if (it->type == F_BINARY || it->type == F_BINARY_SIZE) {
		if (part != NULL) {
			struct buf dec;
			buf_init(&dec, 0);
			if (!mime_decode_cte(part->encoding, data, len, &dec)) {
				f->unknown_cte = true;
				buf_release(&dec);
			} else {
				buf_release(&tmp);
				tmp = dec;
				data = tmp.data;
				len = tmp.len;
			}
		}
		if (it->type == F_BINARY_SIZE)
			ios_printf(c->ios, "%s %zu", it->name, len);
		else
			write_data(c, it->name, it, data, len, true);
	} else {
		write_data(c, it->name, it, data, len, false);
	}
	buf_release(&tmp);
}

static bool load_text(struct client *c, struct fetch_ctx *f, uint32_t seq,
		      struct msgtext *t)
{
	const char *error;

	if (f->need_all || (f->need_header && imapd_nul_to_0x80)) {
		buf_reset(&t->all);
		if (mail_fetch(c->mb, seq, MAIL_PART_ALL, &t->all, &error) < 0)
			return false;
		t->have_all = true;
	} else if (f->need_header) {
		buf_reset(&t->hdr);
		if (mail_fetch(c->mb, seq, MAIL_PART_HEADER, &t->hdr,
			       &error) < 0)
			return false;
		t->have_hdr = true;
	}
	return true;
}

/* Another session expunged the message and its text is gone from the
 * file. RFC 2180 4.1.1 lets us answer anyway; like Dovecot we give what
 * we still hold (UID, flags, dates, size, a cached envelope or body
 * structure) and NIL for the text, and the command ends OK
 * [EXPUNGEISSUED]; the EXPUNGE follows at the next point RFC 3501 7.4.1
 * allows it. Items whose syntax has no NIL (ENVELOPE, BODY,
 * BODYSTRUCTURE not cached, BINARY.SIZE) are left out; if that leaves
 * nothing, the UID stands in. */
static void fetch_gone(struct client *c, struct fetch_ctx *f, uint32_t seq,
		       struct buf *scratch)
{
	const struct mail_message *m = &c->mb->msgs[seq - 1];
	const char *env, *body, *bs;
	bool first = true;
	unsigned i;

	fetch_cache_peek(c, seq, &env, &body, &bs);
	client_announce_keywords(c);
	ios_printf(c->ios, "* %u FETCH (", seq);
	for (i = 0; i < f->n; i++) {
		const struct fetch_item *it = &f->items[i];

		buf_reset(scratch);
		switch (it->type) {
		case F_FLAGS:
			buf_puts(scratch, "FLAGS ");
			client_format_flags(c, seq, scratch);
			break;
		case F_UID:
			buf_printf(scratch, "UID %u", m->uid);
			break;
		case F_INTERNALDATE:
			buf_puts(scratch, "INTERNALDATE \"");
			date_format_imap(m->internaldate, m->zone, scratch);
			buf_putc(scratch, '"');
			break;
		case F_RFC822_SIZE:
			buf_printf(scratch, "RFC822.SIZE %llu",
				   (unsigned long long)m->size);
			break;
		case F_ENVELOPE:
			if (env == NULL)
				continue;
			buf_printf(scratch, "ENVELOPE %s", env);
			break;
		case F_BODY:
			if (body == NULL)
				continue;
			buf_printf(scratch, "BODY %s", body);
			break;
		case F_BODYSTRUCTURE:
			if (bs == NULL)
				continue;
			buf_printf(scratch, "BODYSTRUCTURE %s", bs);
			break;
		case F_RFC822:
			buf_puts(scratch, "RFC822 NIL");
			break;
		case F_RFC822_HEADER:
			buf_puts(scratch, "RFC822.HEADER NIL");
			break;
		case F_RFC822_TEXT:
			buf_puts(scratch, "RFC822.TEXT NIL");
			break;
		case F_SECTION:
		case F_BINARY:
			if (it->partial)
				buf_printf(scratch, "%s<%llu> NIL", it->name,
					   (unsigned long long)it->off);
			else
				buf_printf(scratch, "%s NIL", it->name);
			break;
		case F_BINARY_SIZE:
			continue;
		}
		if (!first)
			ios_write(c->ios, " ", 1);
		first = false;
		ios_write(c->ios, scratch->data, scratch->len);
	}
	/* a FETCH response names at least one item: the UID we know */
	if (first)
		ios_printf(c->ios, "UID %u", m->uid);
	ios_puts(c->ios, ")\r\n");
	f->gone = true;
}

static void fetch_one(struct client *c, struct fetch_ctx *f, uint32_t seq,
		      struct msgtext *t, struct buf *scratch)
{
	/* taken only after every mail_fetch(): a driver may re-sync while
	 * fetching and grow (move) mb->msgs */
	struct mail_message *m;
	bool flags_out = f->want_flags, first = true;
	const char *env = NULL, *body = NULL, *bs = NULL;
	unsigned i;

	t->have_all = t->have_hdr = false;
	mime_free(&t->mime);
	/* everything that can fail happens before the first byte goes out */
	for (i = 0; i < f->n; i++) {
		if (f->items[i].type == F_ENVELOPE &&
		    (env = fetch_envelope(c, seq)) == NULL)
			goto fail;
		if (f->items[i].type == F_BODY &&
		    (body = fetch_bodystructure(c, seq, false)) == NULL)
			goto fail;
		if (f->items[i].type == F_BODYSTRUCTURE &&
		    (bs = fetch_bodystructure(c, seq, true)) == NULL)
			goto fail;
	}
	if (!load_text(c, f, seq, t))
		goto fail;
	m = &c->mb->msgs[seq - 1];
	if (f->set_seen && !c->mb->readonly && (m->flags & MAIL_SEEN) == 0) {
		(void)mail_store(c->mb, seq, MAIL_STORE_ADD, MAIL_SEEN, 0);
		flags_out = true;
	}

	client_announce_keywords(c);
	ios_printf(c->ios, "* %u FETCH (", seq);
	for (i = 0; i < f->n; i++) {
		const struct fetch_item *it = &f->items[i];
		const struct buf *h;
		size_t hs;
		if (!first)
			ios_write(c->ios, " ", 1);
		first = false;
		switch (it->type) {
		case F_FLAGS:
			buf_reset(scratch);
			client_format_flags(c, seq, scratch);
			ios_printf(c->ios, "FLAGS %s", scratch->data);
			break;
		case F_UID:
			ios_printf(c->ios, "UID %u", m->uid);
			break;
		case F_INTERNALDATE:
			buf_reset(scratch);
			date_format_imap(m->internaldate, m->zone, scratch);
			ios_printf(c->ios, "INTERNALDATE \"%s\"", scratch->data);
			break;
		case F_RFC822_SIZE:
			ios_printf(c->ios, "RFC822.SIZE %llu",
				   (unsigned long long)m->size);
			break;
		case F_ENVELOPE:
			ios_printf(c->ios, "ENVELOPE %s", env);
			break;
		case F_BODY:
			ios_printf(c->ios, "BODY %s", body);
			break;
		case F_BODYSTRUCTURE:
			ios_printf(c->ios, "BODYSTRUCTURE %s", bs);
			break;
		case F_RFC822:
			write_data(c, "RFC822", NULL, t->all.data, t->all.len,
				   false);
			break;
		case F_RFC822_HEADER:
			h = t->have_all ? &t->all : &t->hdr;
			hs = rfc822_header_size(h->data, h->len);
			write_data(c, "RFC822.HEADER", NULL, h->data, hs, false);
			break;
		case F_RFC822_TEXT:
			hs = rfc822_header_size(t->all.data, t->all.len);
			write_data(c, "RFC822.TEXT", NULL, t->all.data + hs,
				   t->all.len - hs, false);
			break;
		case F_SECTION:
		case F_BINARY:
		case F_BINARY_SIZE:
			write_section(c, f, it, t);
			break;
		}
	}
	if (flags_out && !f->want_flags) {
		buf_reset(scratch);
		client_format_flags(c, seq, scratch);
		ios_printf(c->ios, " FLAGS %s", scratch->data);
	}
	ios_puts(c->ios, ")\r\n");
	return;
fail:
	/* the driver marks a message whose text has gone (its re-sync may
	 * have moved mb->msgs: look again) */
	if (seq <= c->mb->count &&
	    (c->mb->msgs[seq - 1].state & MSTATE_EXPUNGED) != 0)
		fetch_gone(c, f, seq, scratch);
	else
		f->failed = true;
}

void cmd_fetch(struct client *c, struct imap_arg *args)
{
	const char *set = args[0].type == IMAP_ARG_ATOM ? args[0].str : NULL;
	struct fetch_ctx f;
	struct msgtext t;
	struct buf scratch;
	uint32_t *seqs, n, i;
	const char *error;

	memset(&f, 0, sizeof f);
	if (set == NULL || args[1].type == IMAP_ARG_EOL ||
	    args[2].type != IMAP_ARG_EOL) {
		client_bad(c, "%sFETCH sequence-set items", c->uid ? "UID " : "");
		return;
	}
	if (args[1].type == IMAP_ARG_LIST) {
		struct imap_arg *a;
		if (args[1].list[0].type == IMAP_ARG_EOL) {
			client_bad(c, "Empty FETCH item list");
			return;
		}
		for (a = args[1].list; a->type != IMAP_ARG_EOL; a++)
			if (a->type != IMAP_ARG_ATOM || !parse_item(&f, a->str) ||
			    ascii_strcasecmp(a->str, "ALL") == 0 ||
			    ascii_strcasecmp(a->str, "FAST") == 0 ||
			    ascii_strcasecmp(a->str, "FULL") == 0) {
				items_free(&f);
				client_bad(c, "Invalid FETCH item");
				return;
			}
	} else if (args[1].type != IMAP_ARG_ATOM ||
		   !parse_item(&f, args[1].str)) {
		items_free(&f);
		client_bad(c, "Invalid FETCH item");
		return;
	}
	if (!client_parse_set(c, set, c->uid, &seqs, &n)) {
		items_free(&f);
		return;
	}
	plan(&f, c->uid);
	memset(&t, 0, sizeof t);
	buf_init(&t.all, 0);
	buf_init(&t.hdr, 0);
	buf_init(&scratch, 0);
	for (i = 0; i < n && !ios_failed(c->ios); i++)
		fetch_one(c, &f, seqs[i], &t, &scratch);
	mime_free(&t.mime);
	buf_release(&t.all);
	buf_release(&t.hdr);
	buf_release(&scratch);
	free(seqs);
	if (f.set_seen && !c->mb->readonly)
		(void)mail_flush(c->mb, &error);
	if (f.unknown_cte)
		client_no(c, "[UNKNOWN-CTE] Unknown Content-Transfer-Encoding");
	else if (f.failed)
		client_no(c, "Some messages could not be read");
	else if (f.gone)
		client_ok(c, "[EXPUNGEISSUED] Some messages were expunged by "
			  "another session");
	else
		client_ok(c, "%sFETCH completed", c->uid ? "UID " : "");
	items_free(&f);
}
