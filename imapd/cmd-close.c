/*
 * cmd-close.c - leaving and cleaning the selected mailbox: CHECK, CLOSE
 * (expunge silently unless read-only), UNSELECT (RFC 3691), EXPUNGE and
 * UID EXPUNGE (RFC 4315).
 */
#include <string.h>

#include "imapd.h"

void cmd_check(struct client *c, struct imap_arg *args)
{
	const char *error;

	if (args[0].type != IMAP_ARG_EOL) {
		client_bad(c, "CHECK takes no arguments");
		return;
	}
	if (!c->mb->readonly && mail_flush(c->mb, &error) < 0) {
		client_no(c, "CHECK failed: %s", error);
		return;
	}
	client_ok(c, "CHECK completed");
}

void cmd_close(struct client *c, struct imap_arg *args)
{
	const char *error;

	if (args[0].type != IMAP_ARG_EOL) {
		client_bad(c, "CLOSE takes no arguments");
		return;
	}
	if (!c->mb->readonly) {
		/* RFC 3501 6.4.2: no untagged EXPUNGE responses */
		c->quiet_expunge = true;
		if (mail_expunge(c->mb, NULL, NULL, &error) < 0)
			client_untagged(c, "NO Expunge failed: %s", error);
		c->quiet_expunge = false;
	}
	client_close_mailbox(c);
	client_ok(c, "CLOSE completed");
}

void cmd_unselect(struct client *c, struct imap_arg *args)
{
	if (args[0].type != IMAP_ARG_EOL) {
		client_bad(c, "UNSELECT takes no arguments");
		return;
	}
	client_close_mailbox(c);
	client_ok(c, "UNSELECT completed");
}

static bool uid_filter(void *ctx, uint32_t uid)
{
	return seqset_contains(ctx, uid);
}

void cmd_expunge(struct client *c, struct imap_arg *args)
{
	struct seqset set = { NULL, 0 };
	const char *error;
	int ret;

	if (c->uid) {
		struct buf saved;
		bool parsed = false;
		buf_init(&saved, 0);
		if (args[0].type == IMAP_ARG_ATOM &&
		    strcmp(args[0].str, "$") == 0) {
			/* SEARCHRES (RFC 5182): the saved UIDs */
			if (c->nsaved == 0) {
				buf_release(&saved);
				client_ok(c, "EXPUNGE completed");
				return;
			}
			imapd_format_uids(&saved, c->saved, c->nsaved);
			parsed = args[1].type == IMAP_ARG_EOL &&
				seqset_parse(saved.data, &set);
		} else {
			parsed = args[0].type == IMAP_ARG_ATOM &&
				args[1].type == IMAP_ARG_EOL &&
				seqset_parse(args[0].str, &set);
		}
		buf_release(&saved);
		if (!parsed) {
			client_bad(c, "UID EXPUNGE uid-set");
			return;
		}
		seqset_resolve(&set, c->exists > 0 ?
			       c->mb->msgs[c->exists - 1].uid : 0);
	} else if (args[0].type != IMAP_ARG_EOL) {
		client_bad(c, "EXPUNGE takes no arguments");
		return;
	}
	if (c->mb->readonly) {
		seqset_free(&set);
		client_no(c, "[READ-ONLY] Mailbox is read-only");
		return;
	}
	ret = mail_expunge(c->mb, c->uid ? uid_filter : NULL, &set, &error);
	seqset_free(&set);
	if (ret < 0)
		client_no(c, "EXPUNGE failed: %s", error);
	else
		client_ok(c, "EXPUNGE completed");
}
