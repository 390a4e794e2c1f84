/*
 * fetch-body.c - ENVELOPE, BODY and BODYSTRUCTURE in IMAP syntax, and
 * the per-message cache of those strings (mail_message.cache), so that
 * a client fetching them again does not make us re-read and re-parse
 * the message.
 *
 * SECURITY: everything here comes from message text (hostile): the
 * parsers bound nesting and part counts; we only quote what they give.
 */
#include <stdlib.h>
#include <string.h>

#include "mime.h"
#include "rfc822.h"
#include "imapd.h"

struct fetch_cache {
	char *envelope;
	char *body;
	char *bodystructure;
};

static void fetch_cache_free(void *p)
{
	struct fetch_cache *fc = p;

	if (fc == NULL)
		return;
	free(fc->envelope);
	free(fc->body);
	free(fc->bodystructure);
	free(fc);
}

void fetch_cache_init(void)
{
	mail_cache_free = fetch_cache_free;
}

static void write_addresses(struct buf *out, const struct address *a)
{
	if (a == NULL) {
		buf_puts(out, "NIL");
		return;
	}
	buf_putc(out, '(');
	for (; a != NULL; a = a->next) {
		buf_putc(out, '(');
		imap_append_nstring(out, a->personal);
		buf_putc(out, ' ');
		imap_append_nstring(out, a->adl);
		buf_putc(out, ' ');
		imap_append_nstring(out, a->mailbox);
		buf_putc(out, ' ');
		imap_append_nstring(out, a->host);
		buf_putc(out, ')');
	}
	buf_putc(out, ')');
}

void imap_write_envelope(struct buf *out, const struct envelope *env)
{
	if (env == NULL) {
		buf_puts(out, "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
		return;
	}
	buf_putc(out, '(');
	imap_append_nstring(out, env->date);
	buf_putc(out, ' ');
	imap_append_nstring(out, env->subject);
	buf_putc(out, ' ');
	write_addresses(out, env->from);
	buf_putc(out, ' ');
	/* RFC 3501: sender and reply-to default to from */
	write_addresses(out, env->sender != NULL ? env->sender : env->from);
	buf_putc(out, ' ');
	write_addresses(out, env->reply_to != NULL ? env->reply_to : env->from);
	buf_putc(out, ' ');
	write_addresses(out, env->to);
	buf_putc(out, ' ');
	write_addresses(out, env->cc);
	buf_putc(out, ' ');
	write_addresses(out, env->bcc);
	buf_putc(out, ' ');
	imap_append_nstring(out, env->in_reply_to);
	buf_putc(out, ' ');
	imap_append_nstring(out, env->message_id);
	buf_putc(out, ')');
}

static void write_params(struct buf *out, const struct mime_param *p)
{
	if (p == NULL) {
		buf_puts(out, "NIL");
		return;
	}
	buf_putc(out, '(');
	for (; p != NULL; p = p->next) {
		imap_append_nstring(out, p->attr != NULL ? p->attr : "");
		buf_putc(out, ' ');
		imap_append_nstring(out, p->value != NULL ? p->value : "");
		if (p->next != NULL)
			buf_putc(out, ' ');
	}
	buf_putc(out, ')');
}

/* Content-Language "en, de-CH" -> ("en" "de-CH") */
static void write_language(struct buf *out, const char *lang)
{
	char *copy, *tok, *save = NULL;
	unsigned n = 0;
	struct buf items;

	if (lang == NULL) {
		buf_puts(out, "NIL");
		return;
	}
	copy = xstrdup(lang);
	buf_init(&items, 0);
	for (tok = strtok_r(copy, ", \t\r\n", &save); tok != NULL;
	     tok = strtok_r(NULL, ", \t\r\n", &save)) {
		if (n++ > 0)
			buf_putc(&items, ' ');
		imap_append_nstring(&items, tok);
	}
	if (n == 0)
		buf_puts(out, "NIL");
	else if (n == 1)
		buf_puts(out, items.data);
	else
		buf_printf(out, "(%s)", items.data);
	buf_release(&items);
	free(copy);
}

static void write_extension(struct buf *out, const struct mime_body *b)
{
	buf_putc(out, ' ');
	if (b->disposition == NULL) {
		buf_puts(out, "NIL");
	} else {
		buf_putc(out, '(');
		imap_append_nstring(out, b->disposition);
		buf_putc(out, ' ');
		write_params(out, b->disp_params);
		buf_putc(out, ')');
	}
	buf_putc(out, ' ');
	write_language(out, b->language);
	buf_putc(out, ' ');
	imap_append_nstring(out, b->location);
}

static const char *or_default(const char *s, const char *def)
{
	return s != NULL && *s != '\0' ? s : def;
}

void imap_write_body(struct buf *out, const struct mime_body *b, bool ext)
{
	const char *type = or_default(b->type, "TEXT");
	const struct mime_body *p;

	buf_putc(out, '(');
	if (ascii_strcasecmp(type, "MULTIPART") == 0) {
		if (b->parts == NULL)
			buf_puts(out, "(\"TEXT\" \"PLAIN\" (\"CHARSET\" "
				 "\"US-ASCII\") NIL NIL \"7BIT\" 0 0)");
		for (p = b->parts; p != NULL; p = p->next)
			imap_write_body(out, p, ext);
		buf_putc(out, ' ');
		imap_append_nstring(out, or_default(b->subtype, "MIXED"));
		if (ext) {
			buf_putc(out, ' ');
			write_params(out, b->params);
			write_extension(out, b);
		}
		buf_putc(out, ')');
		return;
	}
	imap_append_nstring(out, type);
	buf_putc(out, ' ');
	imap_append_nstring(out, or_default(b->subtype, "PLAIN"));
	buf_putc(out, ' ');
	write_params(out, b->params);
	buf_putc(out, ' ');
	imap_append_nstring(out, b->id);
	buf_putc(out, ' ');
	imap_append_nstring(out, b->description);
	buf_putc(out, ' ');
	imap_append_nstring(out, or_default(b->encoding, "7BIT"));
	buf_printf(out, " %llu", (unsigned long long)b->body_size);
	if (b->msg_body != NULL) {
		buf_putc(out, ' ');
		imap_write_envelope(out, b->msg_env);
		buf_putc(out, ' ');
		imap_write_body(out, b->msg_body, ext);
		buf_printf(out, " %llu", (unsigned long long)b->lines);
	} else if (ascii_strcasecmp(type, "TEXT") == 0) {
		buf_printf(out, " %llu", (unsigned long long)b->lines);
	}
	if (ext) {
		buf_putc(out, ' ');
		imap_append_nstring(out, b->md5);
		write_extension(out, b);
	}
	buf_putc(out, ')');
}

static struct fetch_cache *cache_get(struct client *c, uint32_t seq)
{
	struct mail_message *m = &c->mb->msgs[seq - 1];

	if (m->cache == NULL)
		m->cache = xcalloc(1, sizeof(struct fetch_cache));
	return m->cache;
}

void fetch_cache_peek(struct client *c, uint32_t seq, const char **env_r,
		      const char **body_r, const char **bs_r)
{
	const struct fetch_cache *fc = c->mb->msgs[seq - 1].cache;

	*env_r = fc != NULL ? fc->envelope : NULL;
	*body_r = fc != NULL ? fc->body : NULL;
	*bs_r = fc != NULL ? fc->bodystructure : NULL;
}

const char *fetch_envelope(struct client *c, uint32_t seq)
{
	struct fetch_cache *fc = cache_get(c, seq);
	struct envelope *env;
	struct buf hdr, out;
	const char *error;

	if (fc->envelope != NULL)
		return fc->envelope;
	buf_init(&hdr, 0);
	if (mail_fetch(c->mb, seq, MAIL_PART_HEADER, &hdr, &error) < 0) {
		buf_release(&hdr);
		return NULL;
	}
	env = rfc822_parse_envelope(hdr.data, hdr.len);
	buf_init(&out, 0);
	imap_write_envelope(&out, env);
	rfc822_free_envelope(&env);
	buf_release(&hdr);
	fc->envelope = buf_steal(&out, NULL);
	buf_release(&out);
	return fc->envelope;
}

const char *fetch_bodystructure(struct client *c, uint32_t seq, bool ext)
{
	struct fetch_cache *fc = cache_get(c, seq);
	struct mime_body *body;
	struct buf text, out;
	const char *error;

	if (fc->bodystructure == NULL) {
		buf_init(&text, 0);
		if (mail_fetch(c->mb, seq, MAIL_PART_ALL, &text, &error) < 0) {
			buf_release(&text);
			return NULL;
		}
		body = mime_parse(text.data, text.len);
		buf_init(&out, 0);
		imap_write_body(&out, body, true);
		fc->bodystructure = buf_steal(&out, NULL);
		imap_write_body(&out, body, false);
		fc->body = buf_steal(&out, NULL);
		buf_release(&out);
		mime_free(&body);
		buf_release(&text);
	}
	return ext ? fc->bodystructure : fc->body;
}
