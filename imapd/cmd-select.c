/*
 * cmd-select.c - SELECT and EXAMINE: open a mailbox and tell the client
 * everything RFC 3501 6.3.1 requires (FLAGS, PERMANENTFLAGS, EXISTS,
 * RECENT, UNSEEN, UIDVALIDITY, UIDNEXT, READ-ONLY/READ-WRITE).
 */
#include <string.h>
#include <sys/stat.h>

#include "log.h"
#include "imapd.h"

static void do_select(struct client *c, struct imap_arg *args, bool readonly)
{
	const char *name = imap_arg_string(&args[0]), *error;
	struct mailbox *mb;
	uint32_t i, unseen = 0;

	if (name == NULL || args[1].type != IMAP_ARG_EOL) {
		client_bad(c, "%s mailbox", c->name);
		return;
	}
	/* RFC 3501: the current mailbox is deselected even if this fails */
	client_close_mailbox(c);
	if (!client_name_allowed(c, name) || imapd_mailbox_referral(c, name))
		return;
	if (c->anonymous)
		readonly = true;
	mb = mail_open(name, readonly ? MAIL_OPEN_READONLY : 0, &error);
	if (mb == NULL) {
		imapd_no_mail_error(c, false, "", error);
		return;
	}
	c->mb = mb;
	client_open_mailbox_events(c);
	c->exists = mb->count;
	c->recent = mb->recent;
	client_send_flags(c);
	client_untagged(c, "%u EXISTS", mb->count);
	client_untagged(c, "%u RECENT", mb->recent);
	for (i = 0; i < mb->count; i++)
		if ((mb->msgs[i].flags & MAIL_SEEN) == 0) {
			unseen = i + 1;
			break;
		}
	if (unseen != 0)
		client_untagged(c, "OK [UNSEEN %u] First unseen message", unseen);
	client_untagged(c, "OK [UIDVALIDITY %u] UID validity", mb->uidvalidity);
	client_untagged(c, "OK [UIDNEXT %u] Predicted next UID", mb->uidnext);
	client_state_change(c, STATE_SELECTED);
	log_debug("%s %s", c->name, mb->name);
	client_ok(c, "[%s] %s completed", mb->readonly ? "READ-ONLY" :
		  "READ-WRITE", c->name);
}

void cmd_select(struct client *c, struct imap_arg *args)
{
	do_select(c, args, false);
}

void cmd_examine(struct client *c, struct imap_arg *args)
{
	do_select(c, args, true);
}
