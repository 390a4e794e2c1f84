/*
 * cmd-trans.c - the TRANSACTION state (RFC 1939): STAT, LIST, UIDL,
 * RETR, TOP, DELE, NOOP, RSET.
 *
 * Message numbers refer to the maildrop as it was at login (s->msgs);
 * the mailbox is reached through the UID, so mail arriving meanwhile
 * never renumbers anything. DELE and RETR only mark: the mailbox is
 * changed at QUIT (update.c), never when the connection drops (FAQ 7.13).
 * Sizes are RFC822.SIZE; unlike UW no Status header is synthesized.
 * UIDL is UW's "%08x%08x" of UIDVALIDITY and UID, so it is stable across
 * sessions and the same message has the same identity as in IMAP.
 *
 * SECURITY: runs as the user. Message text is hostile only to clients:
 * it is sent with every line ended by CRLF and lines starting with "."
 * stuffed, so no mailbox content can end a response early.
 */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "pop3.h"

/* Send text as POP3 multi-line data: CRLF line ends whatever the input
 * holds (lone CRs inside a line pass through), "." stuffed. At most
 * max_lines lines when max_lines >= 0. Returns the number of lines sent. */
static uint64_t pop3_send_text(struct pop3_session *s, const char *text,
			       size_t len, int64_t max_lines)
{
	const char *p = text, *end = text + len, *nl, *stop;
	bool nul_map = config_bool("nul-to-0x80");
	uint64_t lines = 0;

	while (p < end && (max_lines < 0 || (int64_t)lines < max_lines)) {
		nl = memchr(p, '\n', (size_t)(end - p));
		stop = nl != NULL ? nl : end;
		if (stop > p && stop[-1] == '\r' && nl != NULL)
			stop--;
		if (*p == '.')
			ios_write(s->ios, ".", 1);
		if (nul_map && memchr(p, '\0', (size_t)(stop - p)) != NULL) {
			/* FAQ 7.34: some clients choke on NUL */
			for (const char *q = p; q < stop; q++)
				ios_write(s->ios, *q == '\0' ? "\x80" : q, 1);
		} else {
			ios_write(s->ios, p, (size_t)(stop - p));
		}
		ios_write(s->ios, "\r\n", 2);
		lines++;
		p = nl != NULL ? nl + 1 : end;
	}
	return lines;
}

/* sequence number in the mailbox of POP3 message msgno, or 0 */
static uint32_t pop3_seq(struct pop3_session *s, uint32_t msgno)
{
	uint32_t seq = mail_uid_to_seq(s->mb, s->msgs[msgno - 1].uid);

	if (seq == 0 || (s->mb->msgs[seq - 1].state & MSTATE_EXPUNGED) != 0)
		return 0;
	return seq;
}

/* free a big message's buffer but keep s->out usable: buf_release leaves
 * data NULL, and the next buf_reset would write through it */
static void out_shrink(struct pop3_session *s)
{
	buf_release(&s->out);
	buf_init(&s->out, 0);
}

static bool pop3_fetch(struct pop3_session *s, uint32_t msgno,
		       enum mail_part part)
{
	const char *error;
	uint32_t seq = pop3_seq(s, msgno);

	buf_reset(&s->out);
	if (seq == 0) {
		pop3_err(s, "[SYS/TEMP] Message %u was removed by another client",
			 msgno);
		return false;
	}
	if (mail_fetch(s->mb, seq, part, &s->out, &error) < 0) {
		if (pop3_seq(s, msgno) == 0) {
			/* the fetch's re-sync found it expunged */
			pop3_err(s, "[SYS/TEMP] Message %u was removed by "
				 "another client", msgno);
			return false;
		}
		pop3_err(s, "[SYS/TEMP] Unable to read message %u: %s", msgno,
			 error);
		log_error("fetch of UID %u failed: %s", s->msgs[msgno - 1].uid,
			  error);
		return false;
	}
	return true;
}

static bool no_args(struct pop3_session *s, const char *args)
{
	while (*args == ' ' || *args == '\t')
		args++;
	if (*args == '\0')
		return true;
	pop3_err(s, "Too many arguments");
	return false;
}

void cmd_stat(struct pop3_session *s, char *args)
{
	uint64_t octets = 0;
	uint32_t n = 0;

	if (!no_args(s, args))
		return;
	for (uint32_t i = 0; i < s->nmsgs; i++) {
		if ((s->msgs[i].pflags & POP3_MSG_DELETED) == 0) {
			n++;
			octets += s->msgs[i].size;
		}
	}
	pop3_ok(s, "%u %llu", n, (unsigned long long)octets);
}

static bool has_arg(const char *args)
{
	while (*args == ' ' || *args == '\t')
		args++;
	return *args != '\0';
}

void cmd_list(struct pop3_session *s, char *args)
{
	uint32_t msgno;

	if (has_arg(args)) {
		if ((msgno = pop3_msgno_arg(s, args, NULL)) != 0)
			pop3_ok(s, "%u %llu", msgno,
				(unsigned long long)s->msgs[msgno - 1].size);
		return;
	}
	pop3_ok(s, "Mailbox scan listing follows");
	for (uint32_t i = 0; i < s->nmsgs; i++)
		if ((s->msgs[i].pflags & POP3_MSG_DELETED) == 0)
			ios_printf(s->ios, "%u %llu\r\n", i + 1,
				   (unsigned long long)s->msgs[i].size);
	ios_puts(s->ios, ".\r\n");
}

void cmd_uidl(struct pop3_session *s, char *args)
{
	uint32_t msgno, uv = s->mb->uidvalidity;

	/* UW's derivation: 16 lowercase hex digits */
	if (has_arg(args)) {
		if ((msgno = pop3_msgno_arg(s, args, NULL)) != 0)
			pop3_ok(s, "%u %08x%08x", msgno, uv,
				s->msgs[msgno - 1].uid);
		return;
	}
	pop3_ok(s, "Unique-ID listing follows");
	for (uint32_t i = 0; i < s->nmsgs; i++)
		if ((s->msgs[i].pflags & POP3_MSG_DELETED) == 0)
			ios_printf(s->ios, "%u %08x%08x\r\n", i + 1, uv,
				   s->msgs[i].uid);
	ios_puts(s->ios, ".\r\n");
}

void cmd_retr(struct pop3_session *s, char *args)
{
	uint32_t msgno = pop3_msgno_arg(s, args, NULL);

	if (msgno == 0 || !pop3_fetch(s, msgno, MAIL_PART_ALL))
		return;
	pop3_ok(s, "%llu octets", (unsigned long long)s->msgs[msgno - 1].size);
	(void)pop3_send_text(s, s->out.data, s->out.len, -1);
	ios_puts(s->ios, ".\r\n");
	s->msgs[msgno - 1].pflags |= POP3_MSG_RETRIEVED;
	/* a big message must not sit in memory until the next one */
	if (s->out.cap > 1024 * 1024)
		out_shrink(s);
}

static bool ends_with_blank_line(const struct buf *b)
{
	return (b->len >= 2 && memcmp(b->data + b->len - 2, "\n\n", 2) == 0) ||
		(b->len >= 4 && memcmp(b->data + b->len - 4, "\r\n\r\n", 4) == 0);
}

void cmd_top(struct pop3_session *s, char *args)
{
	const char *rest;
	uint64_t n;
	uint32_t msgno = pop3_msgno_arg(s, args, &rest);
	char num[24];
	size_t len;

	if (msgno == 0)
		return;
	while (*rest == ' ' || *rest == '\t')
		rest++;
	len = strspn(rest, "0123456789");
	if (len == 0 || rest[len + strspn(rest + len, " \t")] != '\0') {
		pop3_err(s, "Bad line count argument");
		return;
	}
	/* an absurd count just means the whole body */
	if (len >= sizeof num)
		n = INT64_MAX;
	else {
		memcpy(num, rest, len);
		num[len] = '\0';
		if (!str_to_u64(num, &n) || n > INT64_MAX)
			n = INT64_MAX;
	}
	if (!pop3_fetch(s, msgno, MAIL_PART_HEADER))
		return;
	pop3_ok(s, "Top of message follows");
	(void)pop3_send_text(s, s->out.data, s->out.len, -1);
	if (!ends_with_blank_line(&s->out))
		ios_puts(s->ios, "\r\n");
	if (n > 0) {
		const char *error;
		uint32_t seq = pop3_seq(s, msgno);

		buf_reset(&s->out);
		if (seq == 0 ||
		    mail_fetch(s->mb, seq, MAIL_PART_TEXT, &s->out, &error) < 0) {
			/* the +OK is out: end the data, tell the log */
			log_error("TOP: body of UID %u unreadable",
				  s->msgs[msgno - 1].uid);
			buf_reset(&s->out);
		}
		(void)pop3_send_text(s, s->out.data, s->out.len, (int64_t)n);
	}
	ios_puts(s->ios, ".\r\n");
	if (s->out.cap > 1024 * 1024)
		out_shrink(s);
}

void cmd_dele(struct pop3_session *s, char *args)
{
	uint32_t msgno = pop3_msgno_arg(s, args, NULL);

	if (msgno == 0)
		return;
	if (s->mb->readonly) {
		/* say so now rather than lose the DELE at QUIT (FAQ 7.13) */
		pop3_err(s, "[SYS/PERM] Mailbox is read-only, message not deleted");
		return;
	}
	s->msgs[msgno - 1].pflags |= POP3_MSG_DELETED;
	pop3_ok(s, "Message %u deleted", msgno);
}

void cmd_noop(struct pop3_session *s, char *args)
{
	const char *error;

	if (!no_args(s, args))
		return;
	/* lets the mail layer notice a kiss of death (ev.lost); numbering
	 * is unaffected since we keep our own list */
	if (mail_sync(s->mb, false, &error) < 0)
		log_info("NOOP: sync failed: %s", error);
	pop3_ok(s, "No-op to you too!");
}

void cmd_rset(struct pop3_session *s, char *args)
{
	uint64_t octets = 0;

	if (!no_args(s, args))
		return;
	for (uint32_t i = 0; i < s->nmsgs; i++) {
		s->msgs[i].pflags &= (uint8_t)~POP3_MSG_DELETED;
		octets += s->msgs[i].size;
	}
	pop3_ok(s, "Maildrop has %u messages (%llu octets)", s->nmsgs,
		(unsigned long long)octets);
}
