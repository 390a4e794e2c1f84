/*
 * client.c - one IMAP session: reading commands (line plus literals,
 * every read bounded), dispatch (the table is commands.c), the tagged and
 * untagged response helpers, and reporting mailbox changes at the points
 * RFC 3501 allows them.
 *
 * SECURITY: this is the code that runs on unauthenticated network input.
 * A command is at most max-line-length per line and max-literal-size of
 * literals in total; before login at most 64 KB per line, 10,000 bytes
 * of literals and 75,536 bytes in all (AUTHENTICATE's lines too). An
 * over-long line is skipped without being stored and answered BAD with
 * its tag; a synchronizing literal that is too large is refused
 * before the client sends it; a too-large non-synchronizing literal is
 * skipped (bounded by a hard limit, past which the session ends).
 * Commands are answered strictly in the order received, and buffered
 * input is never thrown away (pipelining, seed 004) except by STARTTLS.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "lock.h"
#include "log.h"
#include "imapd.h"

static const char *const state_names[] = {
	[STATE_NOTAUTH] = "not authenticated",
	[STATE_AUTH] = "authenticated",
	[STATE_SELECTED] = "selected",
	[STATE_LOGOUT] = "logout",
};


void client_state_change(struct client *c, enum client_state st)
{
	if (c->state != st)
		log_debug("state %s -> %s", state_names[c->state],
			  state_names[st]);
	/* logged in: the short pre-login idle limit gives way */
	if (c->state == STATE_NOTAUTH && st == STATE_AUTH && c->ios != NULL)
		ios_set_timeout(c->ios, (unsigned)config_int("imap-autologout"));
	c->state = st;
}

/* ---- responses ---- */

static void set_tagged(struct client *c, const char *kind, const char *fmt,
		       va_list ap)
{
	buf_reset(&c->tagged);
	buf_puts(&c->tagged, kind);
	buf_putc(&c->tagged, ' ');
	buf_vprintf(&c->tagged, fmt, ap);
	c->tagged_set = true;
}

void client_ok(struct client *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	set_tagged(c, "OK", fmt, ap);
	va_end(ap);
}

void client_no(struct client *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	set_tagged(c, "NO", fmt, ap);
	va_end(ap);
}

void client_bad(struct client *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	set_tagged(c, "BAD", fmt, ap);
	va_end(ap);
}

void client_untagged(struct client *c, const char *fmt, ...)
{
	struct buf b;
	va_list ap;

	buf_init(&b, 0);
	buf_puts(&b, "* ");
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	buf_puts(&b, "\r\n");
	ios_write(c->ios, b.data, b.len);
	buf_release(&b);
}

void client_disconnect(struct client *c, const char *bye, const char *logmsg)
{
	if (logmsg != NULL)
		log_info("%s", logmsg);
	if (bye != NULL) {
		client_untagged(c, "BYE %s", bye);
		(void)ios_flush(c->ios);
	}
	client_state_change(c, STATE_LOGOUT);
}

/* ---- flags ---- */

void client_format_flags(struct client *c, uint32_t seq, struct buf *out)
{
	const struct mail_message *m = &c->mb->msgs[seq - 1];
	static const uint32_t order[] = { MAIL_SEEN, MAIL_ANSWERED,
		MAIL_FLAGGED, MAIL_DELETED, MAIL_DRAFT, MAIL_RECENT };
	bool first = true;
	unsigned i;

	buf_putc(out, '(');
	for (i = 0; i < N_ELEMENTS(order); i++) {
		if ((m->flags & order[i]) == 0)
			continue;
		if (!first)
			buf_putc(out, ' ');
		buf_puts(out, mail_flag_name(order[i]));
		first = false;
	}
	for (i = 0; i < c->mb->nkeywords && i < 64; i++) {
		if ((m->keywords & ((uint64_t)1 << i)) == 0)
			continue;
		if (!first)
			buf_putc(out, ' ');
		buf_puts(out, c->mb->keywords[i]);
		first = false;
	}
	buf_putc(out, ')');
}

void client_send_flags(struct client *c)
{
	struct buf kw;
	unsigned i;

	buf_init(&kw, 0);
	for (i = 0; i < c->mb->nkeywords; i++) {
		buf_putc(&kw, ' ');
		buf_puts(&kw, c->mb->keywords[i]);
	}
	client_untagged(c, "FLAGS (\\Answered \\Flagged \\Deleted \\Seen "
			"\\Draft%s)", kw.data);
	if (c->mb->readonly)
		client_untagged(c, "OK [PERMANENTFLAGS ()] No permanent flags "
				"permitted");
	else
		client_untagged(c, "OK [PERMANENTFLAGS (\\Answered \\Flagged "
				"\\Deleted \\Seen \\Draft%s%s)] Limited", kw.data,
				c->mb->keywords_permanent ? " \\*" : "");
	c->nkeywords = c->mb->nkeywords;
	buf_release(&kw);
}

/* RFC 3501 7.2.6: a keyword appears in a FETCH only after a FLAGS
 * response named it. Keywords can appear at any re-sync (another
 * session made one), so every FETCH writer calls this first. */
void client_announce_keywords(struct client *c)
{
	if (c->mb != NULL && c->mb->nkeywords != c->nkeywords)
		client_send_flags(c);
}

/* ---- mailbox changes ---- */

void client_report_changes(struct client *c)
{
	struct mailbox *mb = c->mb;

	if (mb == NULL || c->lost)
		return;
	client_announce_keywords(c);
	if (mb->count > c->exists) {
		c->exists = mb->count;
		client_untagged(c, "%u EXISTS", c->exists);
	} else if (mb->count < c->exists) {
		/* cannot happen: every removal goes through ev_expunged;
		 * an EXISTS may never shrink, so just resynchronize */
		log_error("message count %u below reported %u", mb->count,
			  c->exists);
		c->exists = mb->count;
	}
	if (mb->recent != c->recent) {
		c->recent = mb->recent;
		client_untagged(c, "%u RECENT", c->recent);
	}
}

void client_sync(struct client *c, bool allow_expunge)
{
	const char *error;

	if (c->mb == NULL || c->lost)
		return;
	if (mail_sync(c->mb, allow_expunge, &error) < 0 && !c->lost)
		client_untagged(c, "NO Mailbox check failed: %s", error);
	client_report_changes(c);
}

static void ev_expunged(void *ctx, struct mailbox *mb, uint32_t seq)
{
	struct client *c = ctx;

	/* a message the client never heard of needs no EXPUNGE */
	if (seq > c->exists)
		return;
	c->exists--;
	if (!c->quiet_expunge)
		client_untagged(c, "%u EXPUNGE", seq);
}

static void ev_flags_changed(void *ctx, struct mailbox *mb, uint32_t seq)
{
	struct client *c = ctx;
	struct buf b;

	if (seq > c->exists || seq > mb->count)
		return;
	client_announce_keywords(c);
	buf_init(&b, 0);
	client_format_flags(c, seq, &b);
	client_untagged(c, "%u FETCH (UID %u FLAGS %s)", seq,
			mb->msgs[seq - 1].uid, b.data);
	buf_release(&b);
}

static void ev_lost(void *ctx, struct mailbox *mb, const char *why)
{
	struct client *c = ctx;

	if (!c->lost) {
		c->lost = true;
		c->lost_why = xstrdup(why != NULL ? why : "lost mailbox lock");
	}
}

static void ev_notice(void *ctx, struct mailbox *mb, const char *text)
{
	struct client *c = ctx;

	client_untagged(c, "NO %s", text);
}

void client_open_mailbox_events(struct client *c)
{
	c->mb->ev.ctx = c;
	c->mb->ev.expunged = ev_expunged;
	c->mb->ev.flags_changed = ev_flags_changed;
	c->mb->ev.lost = ev_lost;
	c->mb->ev.notice = ev_notice;
}

void client_close_mailbox(struct client *c)
{
	if (c->mb != NULL)
		mail_close(&c->mb);
	c->mb = NULL;
	/* RFC 5182 2.1: no saved result survives the mailbox */
	free(c->saved);
	c->saved = NULL;
	c->nsaved = 0;
	c->exists = c->recent = 0;
	c->nkeywords = 0;
	if (c->state == STATE_SELECTED)
		client_state_change(c, STATE_AUTH);
}

bool client_name_allowed(struct client *c, const char *name)
{
	const char *p;

	for (p = name; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			client_no(c, "[CANNOT] Control characters are not "
				  "allowed in mailbox names");
			return false;
		}
	if (*name == '\0') {
		client_no(c, "[CANNOT] Empty mailbox name");
		return false;
	}
	if (!c->anonymous)
		return true;
	/* FAQ 4.1: anonymous users see the public namespaces only */
	if (ascii_strncasecmp(name, "#public/", 8) == 0 ||
	    ascii_strncasecmp(name, "#ftp/", 5) == 0)
		return strstr(name, "..") == NULL;
	client_no(c, "[NOPERM] Anonymous users may only access #public/ and "
		  "#ftp/");
	return false;
}

/* ---- sequence sets ---- */

static uint32_t first_seq_with_uid(const struct mailbox *mb, uint32_t n,
				   uint32_t uid)
{
	uint32_t lo = 0, hi = n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (mb->msgs[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo + 1;
}

bool client_parse_set(struct client *c, const char *s, bool uid,
		      uint32_t **seqs_r, uint32_t *n_r)
{
	struct seqset set;
	uint32_t *seqs = NULL, n = 0, alloc = 0, max, seq;
	unsigned i;

	*seqs_r = NULL;
	*n_r = 0;
	if (s != NULL && strcmp(s, "$") == 0) {
		/* SEARCHRES: the saved messages still here, empty or not */
		seqs = xreallocarray(NULL, c->nsaved ? c->nsaved : 1,
				     sizeof *seqs);
		for (i = 0; i < c->nsaved; i++) {
			seq = mail_uid_to_seq(c->mb, c->saved[i]);
			if (seq != 0 && seq <= c->exists)
				seqs[n++] = seq;
		}
		*seqs_r = seqs;
		*n_r = n;
		return true;
	}
	if (s == NULL || !seqset_parse(s, &set)) {
		client_bad(c, "Invalid sequence set");
		return false;
	}
	if (!uid) {
		if (c->exists == 0) {
			seqset_free(&set);
			client_bad(c, "No messages in the mailbox");
			return false;
		}
		seqset_resolve(&set, c->exists);
		for (i = 0; i < set.n; i++) {
			if (set.r[i].lo < 1 || set.r[i].hi > c->exists) {
				seqset_free(&set);
				client_bad(c, "Invalid message sequence number");
				return false;
			}
		}
		for (i = 0; i < set.n; i++)
			n += set.r[i].hi - set.r[i].lo + 1;
		seqs = xreallocarray(NULL, n ? n : 1, sizeof *seqs);
		n = 0;
		for (i = 0; i < set.n; i++)
			for (seq = set.r[i].lo;; seq++) {
				seqs[n++] = seq;
				if (seq == set.r[i].hi)
					break;
			}
	} else {
		max = c->exists > 0 ? c->mb->msgs[c->exists - 1].uid : 0;
		seqset_resolve(&set, max);
		for (i = 0; i < set.n; i++) {
			seq = first_seq_with_uid(c->mb, c->exists, set.r[i].lo);
			for (; seq <= c->exists &&
			     c->mb->msgs[seq - 1].uid <= set.r[i].hi; seq++) {
				if (n == alloc) {
					alloc = alloc ? alloc * 2 : 64;
					seqs = xreallocarray(seqs, alloc,
							     sizeof *seqs);
				}
				seqs[n++] = seq;
			}
		}
	}
	seqset_free(&set);
	*seqs_r = seqs;
	*n_r = n;
	return true;
}

/* ---- reading commands ---- */

/* Before login only LOGIN and AUTHENTICATE have arguments worth the
 * name, and they are short: an anonymous peer must not make us hold
 * megabytes (UW: 64 KB line, 10,000-byte literal). The whole command,
 * lines and literals, is held to PREAUTH_MAX_COMMAND, so "{0+}" literals
 * cannot join lines into a long one. */
#define PREAUTH_MAX_LINE	65536
#define PREAUTH_MAX_LITERAL	10000
#define PREAUTH_MAX_COMMAND	(PREAUTH_MAX_LINE + PREAUTH_MAX_LITERAL)
/* RFC 7888 section 4: with LITERAL- (advertised before login) a
 * non-synchronizing literal is at most this; a larger one is BAD */
#define LITERAL_MINUS_MAX	4096
/* enough of an over-long line to find its tag in */
#define TAG_KEEP		128

enum ios_status client_read_line_status(struct client *c, struct buf *line)
{
	size_t max = (size_t)config_int("max-line-length");

	/* AUTHENTICATE's continuation lines come before login */
	if (c->state == STATE_NOTAUTH && max > PREAUTH_MAX_LINE)
		max = PREAUTH_MAX_LINE;
	return ios_getline(c->ios, line, max);
}

static void client_input_end_what(struct client *c, enum ios_status st,
				  const char *what)
{
	char msg[128];

	switch (st) {
	case IOS_TIMEOUT:
		client_disconnect(c, "Autologout; idle for too long",
				  "Autologout");
		break;
	case IOS_EOF:
		/* FAQ 7.18: the client went away without LOGOUT */
		snprintf(msg, sizeof msg, "Command stream end of file, while "
			 "reading %s", what);
		client_disconnect(c, NULL, msg);
		break;
	default:
		snprintf(msg, sizeof msg, "Command stream error while reading "
			 "%s", what);
		client_disconnect(c, NULL, msg);
		break;
	}
}

static void client_input_end(struct client *c, enum ios_status st)
{
	client_input_end_what(c, st, "line");
}

bool client_read_line(struct client *c, struct buf *line)
{
	enum ios_status st = client_read_line_status(c, line);

	if (st == IOS_OK)
		return true;
	if (st == IOS_TOOLONG) {
		buf_reset(line);
		return true;
	}
	client_input_end(c, st);
	return false;
}

/* Does line end in a literal announcement "{N}", "{N+}", "{N-}" or
 * "~{N}"? Sets *start_r to where the announcement begins. */
static bool line_literal(const struct buf *line, uint64_t *n_r, bool *sync_r,
			 bool *binary_r, size_t *start_r)
{
	size_t end = line->len, i;
	uint64_t n = 0;
	const char *d = line->data;

	if (end < 3 || d[end - 1] != '}')
		return false;
	i = end - 1;
	*sync_r = true;
	if (d[i - 1] == '+' || d[i - 1] == '-') {
		*sync_r = false;
		i--;
	}
	end = i;
	while (i > 0 && d[i - 1] >= '0' && d[i - 1] <= '9')
		i--;
	if (i == end || i == 0 || d[i - 1] != '{' || end - i > 19)
		return false;
	for (size_t j = i; j < end; j++)
		n = n * 10 + (uint64_t)(d[j] - '0');
	i--;
	*binary_r = i > 0 && d[i - 1] == '~';
	if (*binary_r)
		i--;
	*n_r = n;
	*start_r = i;
	return true;
}

/* the tag of a (partial) command, for error responses */
static void command_tag(const struct buf *cmd, struct buf *tag)
{
	size_t i;

	buf_reset(tag);
	for (i = 0; i < cmd->len && i < 100; i++) {
		unsigned char u = (unsigned char)cmd->data[i];
		if (u <= 0x20 || u >= 0x7f || strchr("(){%*\"\\+", u) != NULL)
			break;
	}
	if (i == 0 || (i < cmd->len && cmd->data[i] != ' '))
		buf_putc(tag, '*');
	else
		buf_append(tag, cmd->data, i);
}

enum read_result { READ_COMMAND, READ_SKIPPED, READ_END };

/* would have + more bytes exceed max? (have may already be a little
 * past it: the "{N}" of a literal is added after the check) */
static bool cmd_over(size_t have, uint64_t more, size_t max)
{
	return have > max || more > max - have;
}

static enum read_result client_read_command(struct client *c, struct buf *cmd)
{
	size_t max_line = (size_t)config_int("max-line-length");
	uint64_t max_lit = (uint64_t)config_int("max-literal-size");
	size_t max_cmd = SIZE_MAX;
	uint64_t lit_total = 0, n;
	struct buf line, tag;
	enum ios_status st;
	bool sync, binary, toobig = false, minus_bad = false;
	enum read_result ret = READ_COMMAND;
	size_t start;
	unsigned nlines = 0;

	if (c->state == STATE_NOTAUTH) {
		if (max_line > PREAUTH_MAX_LINE)
			max_line = PREAUTH_MAX_LINE;
		if (max_lit > PREAUTH_MAX_LITERAL)
			max_lit = PREAUTH_MAX_LITERAL;
		max_cmd = PREAUTH_MAX_COMMAND;
	}
	buf_reset(cmd);
	buf_init(&line, 0);
	buf_init(&tag, 0);
	for (;;) {
		st = ios_getline_keep(c->ios, &line, max_line, TAG_KEEP);
		if (st == IOS_TOOLONG) {
			/* answered with the command's tag: a client waits for
			 * that, not for an untagged BAD */
			command_tag(cmd->len > 0 ? cmd : &line, &tag);
			ios_printf(c->ios, "%s BAD Line too long\r\n", tag.data);
			(void)ios_flush(c->ios);
			if (++c->toolong >= 3)
				client_disconnect(c, "Too many over-long lines",
						  "Too many over-long lines");
			ret = c->state == STATE_LOGOUT ? READ_END : READ_SKIPPED;
			break;
		}
		if (st != IOS_OK) {
			client_input_end(c, st);
			ret = READ_END;
			break;
		}
		nlines++;
		if (cmd_over(cmd->len, line.len, max_cmd))
			toobig = true;
		if (!line_literal(&line, &n, &sync, &binary, &start)) {
			if (!toobig && !buf_append(cmd, line.data, line.len))
				toobig = true;
			break;
		}
		if (!toobig && !buf_append(cmd, line.data, start))
			toobig = true;
		if (!sync && c->state == STATE_NOTAUTH &&
		    n > LITERAL_MINUS_MAX)
			minus_bad = toobig = true;
		if (toobig || n > max_lit - lit_total || nlines > 10000 ||
		    cmd_over(cmd->len, n, max_cmd)) {
			toobig = true;
			if (sync) {
				/* refused before the client sends it; the
				 * command ends here (RFC 7888 section 4) */
				break;
			}
			/* the client sends it anyway: skip it, bounded */
			if (n > max_lit * 4 + 1048576 ||
			    ios_skip(c->ios, (size_t)n) != IOS_OK) {
				client_disconnect(c, "Literal too large",
						  "Literal too large");
				ret = READ_END;
				break;
			}
			continue;
		}
		lit_total += n;
		buf_printf(cmd, "%s{%llu}\r\n", binary ? "~" : "",
			   (unsigned long long)n);
		if (sync) {
			ios_puts(c->ios, "+ Ready for literal data\r\n");
			(void)ios_flush(c->ios);
		}
		st = ios_read_exact(c->ios, cmd, (size_t)n);
		if (st == IOS_TOOLONG) {
			toobig = true;
			continue;
		}
		if (st != IOS_OK) {
			client_input_end_what(c, st, "char");
			ret = READ_END;
			break;
		}
	}
	if (ret == READ_COMMAND && toobig) {
		command_tag(cmd, &tag);
		if (minus_bad)
			ios_printf(c->ios, "%s BAD [TOOBIG] Non-synchronizing "
				   "literal over %d bytes (LITERAL-)\r\n",
				   tag.data, LITERAL_MINUS_MAX);
		else
			ios_printf(c->ios, "%s NO [TOOBIG] Command or literal "
				   "too large\r\n", tag.data);
		(void)ios_flush(c->ios);
		ret = READ_SKIPPED;
	}
	if (ret == READ_COMMAND)
		c->toolong = 0;
	buf_release(&line);
	buf_release(&tag);
	return ret;
}

static bool valid_tag(const char *s, size_t len)
{
	size_t i;

	if (len == 0)
		return false;
	for (i = 0; i < len; i++) {
		unsigned char u = (unsigned char)s[i];
		if (u <= 0x20 || u >= 0x7f || strchr("(){%*\"\\+", u) != NULL)
			return false;
	}
	return true;
}

static bool valid_atom(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > 64)
		return false;
	for (i = 0; i < len; i++) {
		unsigned char u = (unsigned char)s[i];
		if (u <= 0x20 || u >= 0x7f || strchr("(){%*\"\\]", u) != NULL)
			return false;
	}
	return true;
}

/* the mailbox was taken from us (kiss of death, FAQ 7.19): say why, end */
static void client_lost_end(struct client *c)
{
	/* mail.c has logged the kiss of death itself */
	if (strncmp(c->lost_why, "Killed", 6) != 0)
		log_info("Mailbox lost: %s", c->lost_why);
	client_untagged(c, "BYE %s", c->lost_why);
	(void)ios_flush(c->ios);
	if (c->mb != NULL)
		mail_close(&c->mb);
	client_state_change(c, STATE_LOGOUT);
}

/* With a mailbox open, wait for the next command in short steps so a
 * kiss of death from a newer session is obeyed at once rather than at
 * the client's next command (the newer session is waiting for us).
 * Returns false when the session must end. */
static bool client_wait_command(struct client *c)
{
	long long autologout = config_int("imap-autologout");
	time_t start = time(NULL);
	int r;

	for (;;) {
		r = ios_wait_input(c->ios, 1000);
		if (r != 0)
			return true;	/* input, or an error ios_getline reports */
		if (lock_kiss_received && c->mb != NULL) {
			client_sync(c, false);
			if (c->lost) {
				client_lost_end(c);
				return false;
			}
			(void)ios_flush(c->ios);
		}
		if (autologout > 0 && time(NULL) - start >= autologout) {
			client_input_end(c, IOS_TIMEOUT);
			return false;
		}
	}
}

static void client_dispatch(struct client *c, struct buf *cmdbuf)
{
	const char *p = cmdbuf->data, *end = p + cmdbuf->len, *sp;
	const struct command *cmd;
	struct imap_args *args = NULL;
	const char *error;
	char *tag = NULL, *name = NULL;
	bool allow_expunge;

	sp = memchr(p, ' ', (size_t)(end - p));
	if (sp == NULL || !valid_tag(p, (size_t)(sp - p))) {
		if (cmdbuf->len == 0)
			client_untagged(c, "BAD Null command");
		else
			client_untagged(c, "BAD Missing or invalid tag");
		(void)ios_flush(c->ios);
		return;
	}
	tag = xstrndup(p, (size_t)(sp - p));
	p = sp + 1;
	sp = memchr(p, ' ', (size_t)(end - p));
	if (sp == NULL)
		sp = end;
	c->tag = tag;
	c->tagged_set = false;
	c->tagged_done = false;
	c->uid = false;
	if (!valid_atom(p, (size_t)(sp - p))) {
		client_bad(c, "Missing or invalid command");
		goto out;
	}
	name = xstrndup(p, (size_t)(sp - p));
	if (ascii_strcasecmp(name, "UID") == 0) {
		c->uid = true;
		p = sp < end ? sp + 1 : end;
		sp = memchr(p, ' ', (size_t)(end - p));
		if (sp == NULL)
			sp = end;
		xfree(&name);
		if (!valid_atom(p, (size_t)(sp - p))) {
			client_bad(c, "Missing UID command");
			goto out;
		}
		name = xstrndup(p, (size_t)(sp - p));
	}
	for (char *q = name; *q != '\0'; q++)
		*q = ascii_toupper(*q);
	c->name = name;
	cmd = command_find(name);
	if (cmd == NULL || (c->uid && (cmd->flags & CMD_UID_OK) == 0)) {
		client_bad(c, "Unknown command %s%s", c->uid ? "UID " : "",
			   name);
		goto out;
	}
	if ((c->state == STATE_NOTAUTH && (cmd->flags & CMD_NOTAUTH) == 0) ||
	    (c->state == STATE_AUTH && (cmd->flags & CMD_AUTH) == 0) ||
	    (c->state == STATE_SELECTED && (cmd->flags & CMD_SELECTED) == 0)) {
		if (c->state == STATE_NOTAUTH)
			client_bad(c, "Command %s not permitted: please "
				   "authenticate first", name);
		else if (c->state == STATE_AUTH &&
			 (cmd->flags & CMD_SELECTED) != 0)
			client_bad(c, "Command %s not permitted: no mailbox "
				   "selected", name);
		else
			client_bad(c, "Command %s not permitted in this state",
				   name);
		goto out;
	}
	if (sp < end && sp + 1 == end) {
		client_bad(c, "Trailing space");
		goto out;
	}
	p = sp < end ? sp + 1 : end;
	args = imap_args_parse(p, (size_t)(end - p), &error);
	if (args == NULL) {
		client_bad(c, "%s", error != NULL ? error : "Syntax error");
		goto out;
	}
	c->cmd_flags = cmd->flags;
	cmd->func(c, imap_args_get(args));
	if (!c->tagged_set && !c->tagged_done)
		client_bad(c, "Internal error");
	/* RFC 3501 7.4.1: no EXPUNGE during FETCH, STORE, SEARCH (but the
	 * UID forms may have them) */
	allow_expunge = (cmd->flags & CMD_NO_EXPUNGE) == 0 || c->uid;
	if (c->state == STATE_SELECTED && c->state != STATE_LOGOUT)
		client_sync(c, allow_expunge);
out:
	if (c->tagged_set && !c->tagged_done) {
		ios_write(c->ios, tag, strlen(tag));
		ios_write(c->ios, " ", 1);
		ios_write(c->ios, c->tagged.data, c->tagged.len);
		ios_puts(c->ios, "\r\n");
	}
	(void)ios_flush(c->ios);
	if (c->lost)
		client_lost_end(c);
	imap_args_free(&args);
	c->tag = NULL;
	c->name = NULL;
	xfree(&name);
	xfree(&tag);
}

void client_run(struct client *c)
{
	struct buf cmd;
	size_t max_line = (size_t)config_int("max-line-length");
	uint64_t max_lit = (uint64_t)config_int("max-literal-size");
	size_t max;

	if (!size_add((size_t)max_lit, max_line * 8 + 65536, &max))
		max = SIZE_MAX - 1;
	buf_init(&cmd, max);
	buf_init(&c->tagged, 0);
	while (c->state != STATE_LOGOUT && !ios_failed(c->ios)) {
		if (c->mb != NULL && !client_wait_command(c))
			break;
		switch (client_read_command(c, &cmd)) {
		case READ_END:
			client_state_change(c, STATE_LOGOUT);
			break;
		case READ_SKIPPED:
			break;
		case READ_COMMAND:
			client_dispatch(c, &cmd);
			break;
		}
	}
	(void)ios_flush(c->ios);
	if (c->mb != NULL)
		mail_close(&c->mb);
	buf_release(&cmd);
	buf_release(&c->tagged);
}
