/*
 * cmd-copy.c - COPY, MOVE (RFC 6851) and their UID forms, answering
 * [COPYUID] (RFC 4315) and [TRYCREATE] when the target does not exist.
 * The copy itself is one mail_append() of all messages, so it is all or
 * nothing as RFC 3501 requires.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imapd.h"

void imapd_format_uids(struct buf *out, const uint32_t *uids, uint32_t n)
{
	uint32_t i = 0, j;

	while (i < n) {
		j = i;
		while (j + 1 < n && uids[j + 1] == uids[j] + 1)
			j++;
		if (i > 0)
			buf_putc(out, ',');
		if (j == i)
			buf_printf(out, "%u", uids[i]);
		else
			buf_printf(out, "%u:%u", uids[i], uids[j]);
		i = j + 1;
	}
}

int imapd_copy_messages(struct mailbox *mb, const uint32_t *seqs, uint32_t n,
			const char *dest, uint32_t *uidvalidity_r,
			uint32_t *uids_r, const char **error_r)
{
	/* a stale code must not turn a fetch failure into [TRYCREATE] */
	mail_error_clear();
	return mail_copy(mb, seqs, 0, n, dest, 0, uidvalidity_r, uids_r,
			 error_r);
}

static bool move_filter(void *ctx, uint32_t uid)
{
	return seqset_contains(ctx, uid);
}

static void do_copy(struct client *c, struct imap_arg *args, bool move)
{
	const char *set = args[0].type == IMAP_ARG_ATOM ? args[0].str : NULL;
	const char *dest = imap_arg_string(&args[1]), *error;
	uint32_t *seqs, *uids, *srcuids, n, i, uidvalidity = 0;
	struct seqset moved = { NULL, 0 };
	struct buf code;

	if (set == NULL || dest == NULL || args[2].type != IMAP_ARG_EOL) {
		client_bad(c, "%s%s sequence-set mailbox", c->uid ? "UID " : "",
			   c->name);
		return;
	}
	if (!client_parse_set(c, set, c->uid, &seqs, &n))
		return;
	if (!client_name_allowed(c, dest) || imapd_mailbox_referral(c, dest)) {
		free(seqs);
		return;
	}
	if (c->anonymous) {
		/* as APPEND, CREATE, DELETE and RENAME: #public/ and #ftp/
		 * are read-only to anonymous users, whatever the file modes
		 * give "nobody" */
		free(seqs);
		client_no(c, "[NOPERM] Anonymous users cannot %s messages",
			  move ? "move" : "copy");
		return;
	}
	if (move && c->mb->readonly) {
		free(seqs);
		client_no(c, "[READ-ONLY] Mailbox is read-only");
		return;
	}
	if (n == 0) {
		free(seqs);
		client_ok(c, "%s completed, no messages", c->name);
		return;
	}
	uids = xreallocarray(NULL, n, sizeof *uids);
	srcuids = xreallocarray(NULL, n, sizeof *srcuids);
	for (i = 0; i < n; i++)
		srcuids[i] = c->mb->msgs[seqs[i] - 1].uid;
	if (imapd_copy_messages(c->mb, seqs, n, dest, &uidvalidity, uids,
				&error) < 0) {
		char prefix[64];

		snprintf(prefix, sizeof prefix, "%s failed: ", c->name);
		imapd_no_mail_error(c, true, prefix, error);
		goto out;
	}
	buf_init(&code, 0);
	buf_printf(&code, "COPYUID %u ", uidvalidity);
	imapd_format_uids(&code, srcuids, n);
	buf_putc(&code, ' ');
	imapd_format_uids(&code, uids, n);
	if (!move) {
		client_ok(c, "[%s] COPY completed", code.data);
		buf_release(&code);
		goto out;
	}
	/* RFC 6851: COPYUID goes in an untagged OK before the EXPUNGEs */
	client_untagged(c, "OK [%s] Moved", code.data);
	buf_release(&code);
	for (i = 0; i < n; i++) {
		(void)mail_store(c->mb, seqs[i], MAIL_STORE_ADD, MAIL_DELETED, 0);
		seqset_add(&moved, srcuids[i], srcuids[i]);
	}
	seqset_resolve(&moved, UINT32_MAX - 1);
	if (mail_expunge(c->mb, move_filter, &moved, &error) < 0)
		client_no(c, "MOVE copied but could not expunge: %s", error);
	else
		client_ok(c, "MOVE completed");
	seqset_free(&moved);
out:
	free(seqs);
	free(uids);
	free(srcuids);
}

void cmd_copy(struct client *c, struct imap_arg *args)
{
	do_copy(c, args, false);
}

void cmd_move(struct client *c, struct imap_arg *args)
{
	do_copy(c, args, true);
}
