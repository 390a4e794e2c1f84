/*
 * cmd-append.c - APPEND with flags, keywords and date-time, MULTIAPPEND
 * (RFC 3502: several messages, all or none), answering [APPENDUID]
 * (RFC 4315) and [TRYCREATE] when the mailbox is missing. The message
 * literals have already been read (bounded by max-literal-size) into the
 * command buffer by client.c.
 */
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "date.h"
#include "imapd.h"

#define APPEND_MAX_MESSAGES 1000

uint64_t imapd_append_limit(void)
{
	long long v = config_int("max-literal-size");

	return v > 0 ? (uint64_t)v : 0;
}

void cmd_append(struct client *c, struct imap_arg *args)
{
	const char *name = imap_arg_string(&args[0]), *error;
	struct mail_append_msg *msgs = NULL;
	const char **kws = NULL;
	uint32_t *uids = NULL, uidvalidity = 0;
	unsigned n = 0, i;
	struct imap_arg *a;
	struct buf code;
	bool is_kw;

	if (name == NULL || args[1].type == IMAP_ARG_EOL) {
		client_bad(c, "APPEND mailbox [(flags)] [date-time] message");
		return;
	}
	if (!client_name_allowed(c, name) || imapd_mailbox_referral(c, name))
		return;
	if (c->anonymous) {
		client_no(c, "[NOPERM] Anonymous users cannot append");
		return;
	}
	msgs = xcalloc(APPEND_MAX_MESSAGES, sizeof *msgs);
	kws = xcalloc((size_t)APPEND_MAX_MESSAGES * MAIL_MAX_KEYWORDS,
		      sizeof *kws);
	for (a = &args[1]; a->type != IMAP_ARG_EOL; a++) {
		struct mail_append_msg *m;
		if (n == APPEND_MAX_MESSAGES) {
			client_no(c, "[LIMIT] Too many messages in one APPEND");
			goto out;
		}
		m = &msgs[n];
		m->internaldate = -1;
		m->keywords = &kws[(size_t)n * MAIL_MAX_KEYWORDS];
		if (a->type == IMAP_ARG_LIST) {
			struct imap_arg *f;
			for (f = a->list; f->type != IMAP_ARG_EOL; f++) {
				uint32_t bit;
				if (f->type != IMAP_ARG_ATOM) {
					client_bad(c, "Invalid flag");
					goto out;
				}
				bit = mail_flag_parse(f->str, &is_kw);
				if (bit != 0 && bit != MAIL_RECENT) {
					m->flags |= bit;
				} else if (is_kw && mail_keyword_valid(f->str)) {
					if (m->nkeywords == MAIL_MAX_KEYWORDS) {
						client_no(c, "[LIMIT] Too many keywords");
						goto out;
					}
					kws[(size_t)n * MAIL_MAX_KEYWORDS +
					    m->nkeywords++] = f->str;
				} else {
					client_bad(c, "Invalid flag %s", f->str);
					goto out;
				}
			}
			a++;
		}
		if (a->type == IMAP_ARG_QUOTED) {
			if (!date_parse_imap_datetime(a->str, &m->internaldate,
						      &m->zone)) {
				client_bad(c, "Invalid date-time");
				goto out;
			}
			a++;
		}
		if (a->type != IMAP_ARG_LITERAL) {
			client_bad(c, "APPEND needs a message literal");
			goto out;
		}
		m->data = a->str;
		m->len = a->len;
		n++;
	}
	uids = xcalloc(n, sizeof *uids);
	if (mail_append(name, msgs, n, &uidvalidity, uids, &error) < 0) {
		imapd_no_mail_error(c, true, "APPEND failed: ", error);
		goto out;
	}
	buf_init(&code, 0);
	buf_printf(&code, "APPENDUID %u ", uidvalidity);
	for (i = 0; i < n; i++)
		if (uids[i] == 0)
			break;
	if (i == n) {
		imapd_format_uids(&code, uids, n);
		client_ok(c, "[%s] APPEND completed", code.data);
	} else {
		client_ok(c, "APPEND completed");
	}
	buf_release(&code);
out:
	free(msgs);
	free(kws);
	free(uids);
}
