/*
 * cmd-mailbox.c - commands on mailbox names: CREATE, DELETE, RENAME
 * (with RFC 3501's INBOX rule), SUBSCRIBE, UNSUBSCRIBE, LIST, LSUB and
 * STATUS (also on the selected mailbox without complaint, FAQ 7.39).
 *
 * SECURITY: names are user input; mail_resolve() applies the
 * restriction setting (FAQ 5.1) and anonymous users are held to the
 * public namespaces (client_name_allowed).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mailname.h"
#include "imapd.h"

static const char *one_name(struct client *c, struct imap_arg *args)
{
	const char *name = imap_arg_string(&args[0]);

	if (name == NULL || args[1].type != IMAP_ARG_EOL) {
		client_bad(c, "%s mailbox", c->name);
		return NULL;
	}
	if (!client_name_allowed(c, name))
		return NULL;
	return name;
}

/* New names must be 7-bit (RFC 3501 5.1.3: modified UTF-7): an 8-bit
 * name would be stored in some unknown charset */
static bool new_name_valid(struct client *c, const char *name)
{
	const char *p;

	for (p = name; *p != '\0'; p++)
		if ((unsigned char)*p >= 0x80) {
			client_no(c, "[CANNOT] Mailbox names must be 7-bit "
				  "(modified UTF-7)");
			return false;
		}
	return true;
}

bool imapd_is_selected(struct client *c, const char *name)
{
	struct mail_path p;
	const char *error;
	bool same;

	if (c->mb == NULL)
		return false;
	memset(&p, 0, sizeof p);
	if (mail_resolve(name, &p, &error) < 0)
		return false;
	same = (p.is_inbox && c->mb->is_inbox) ||
		(c->mb->path != NULL && strcmp(p.path, c->mb->path) == 0);
	mail_path_free(&p);
	return same;
}

/* "#driver.mbx/INBOX" creates an INBOX of that format in the home
 * directory, which then takes over from the spool (FAQ 4.5): allowed
 * while that file does not exist yet */
static bool creates_driver_inbox(const char *name)
{
	struct mail_path p;
	const char *error;
	struct stat st;
	bool yes = false;

	if (ascii_strncasecmp(name, "#driver.", 8) != 0)
		return false;
	memset(&p, 0, sizeof p);
	if (mail_resolve(name, &p, &error) < 0)
		return false;
	yes = p.is_inbox && p.create_driver != NULL &&
	      lstat(p.path, &st) < 0;
	mail_path_free(&p);
	return yes;
}

/* RFC 6154 CREATE-SPECIAL-USE: "(USE (\\Sent ...))"; false after a
 * tagged answer */
static bool create_params(struct client *c, const struct imap_arg *p,
			  unsigned *uses_r)
{
	const struct imap_arg *f;
	bool known;
	unsigned bit;

	*uses_r = 0;
	for (; p->type != IMAP_ARG_EOL; p++) {
		if (p->type != IMAP_ARG_ATOM ||
		    ascii_strcasecmp(p->str, "USE") != 0 ||
		    p[1].type != IMAP_ARG_LIST) {
			client_bad(c, "CREATE mailbox [(USE (attributes))]");
			return false;
		}
		p++;
		for (f = p->list; f->type != IMAP_ARG_EOL; f++) {
			if (f->type != IMAP_ARG_ATOM) {
				client_bad(c, "Invalid use attribute");
				return false;
			}
			bit = special_use_parse(f->str, &known);
			if (bit == 0) {
				client_no(c, "[USEATTR] %s is not a use this "
					  "server can keep", known ? f->str :
					  "That attribute");
				return false;
			}
			*uses_r |= bit;
		}
	}
	return true;
}

void cmd_create(struct client *c, struct imap_arg *args)
{
	const char *name = imap_arg_string(&args[0]), *error;
	unsigned uses = 0;

	if (name == NULL || (args[1].type != IMAP_ARG_EOL &&
			     (args[1].type != IMAP_ARG_LIST ||
			      args[2].type != IMAP_ARG_EOL))) {
		client_bad(c, "CREATE mailbox [(USE (attributes))]");
		return;
	}
	if (!client_name_allowed(c, name) || !new_name_valid(c, name) ||
	    imapd_mailbox_referral(c, name))
		return;
	if (args[1].type == IMAP_ARG_LIST &&
	    !create_params(c, args[1].list, &uses))
		return;
	if (c->anonymous) {
		client_no(c, "[NOPERM] Anonymous users cannot create mailboxes");
		return;
	}
	if (!creates_driver_inbox(name) && mail_name_is_inbox(name)) {
		client_no(c, "[ALREADYEXISTS] Mailbox already exists");
		return;
	}
	if (mail_create(name, &error) < 0) {
		imapd_no_mail_error(c, false, "", error);
		return;
	}
	/* the use could not be kept: no mailbox either (RFC 6154 3) */
	if (uses != 0 && special_use_set(name, uses, &error) < 0) {
		const char *derr;
		(void)mail_delete(name, &derr);
		client_no(c, "%s", error);
		return;
	}
	client_ok(c, "CREATE completed");
}

void cmd_delete(struct client *c, struct imap_arg *args)
{
	const char *name = one_name(c, args), *error;

	if (name == NULL || imapd_mailbox_referral(c, name))
		return;
	if (c->anonymous) {
		client_no(c, "[NOPERM] Anonymous users cannot delete mailboxes");
		return;
	}
	if (mail_name_is_inbox(name)) {
		client_no(c, "[CANNOT] INBOX cannot be deleted");
		return;
	}
	/* RFC 3501 6.3.4: a \Noselect name (a directory) may be deleted
	 * too; mail_delete() refuses one that still has inferiors */
	if (imapd_is_selected(c, name)) {
		client_no(c, "[INUSE] Mailbox is selected; close it first");
		return;
	}
	if (mail_delete(name, &error) < 0) {
		imapd_no_mail_error(c, false, "", error);
		return;
	}
	special_use_rename(name, NULL);
	client_ok(c, "DELETE completed");
}

/* RFC 3501 6.3.5: renaming INBOX moves its messages to the new name and
 * leaves INBOX empty */
static int rename_inbox(struct client *c, const char *to, const char **error_r)
{
	struct mailbox *mb = c->mb;
	bool own = false;
	uint32_t *seqs, *uids, uidvalidity, i, n;
	int ret = 0;

	if (mb == NULL || !mb->is_inbox) {
		mb = mail_open("INBOX", 0, error_r);
		if (mb == NULL)
			return -1;
		own = true;
	}
	if (mb->readonly) {
		*error_r = "INBOX is read-only";
		ret = -1;
		goto out;
	}
	if (mail_create(to, error_r) < 0) {
		ret = -1;
		goto out;
	}
	n = own ? mb->count : c->exists;
	if (n > 0) {
		seqs = xreallocarray(NULL, n, sizeof *seqs);
		uids = xreallocarray(NULL, n, sizeof *uids);
		for (i = 0; i < n; i++)
			seqs[i] = i + 1;
		ret = imapd_copy_messages(mb, seqs, n, to, &uidvalidity, uids,
					  error_r);
		if (ret == 0) {
			for (i = 0; i < n; i++)
				(void)mail_store(mb, i + 1, MAIL_STORE_ADD,
						 MAIL_DELETED, 0);
			ret = mail_expunge(mb, NULL, NULL, error_r);
		}
		free(seqs);
		free(uids);
	}
out:
	if (own)
		mail_close(&mb);
	return ret;
}

void cmd_rename(struct client *c, struct imap_arg *args)
{
	const char *from = imap_arg_string(&args[0]);
	const char *to = imap_arg_string(&args[1]);
	const char *error;

	if (from == NULL || to == NULL || args[2].type != IMAP_ARG_EOL) {
		client_bad(c, "RENAME from to");
		return;
	}
	if (!client_name_allowed(c, from) || !client_name_allowed(c, to) ||
	    !new_name_valid(c, to) || imapd_rename_referral(c, from, to))
		return;
	if (c->anonymous) {
		client_no(c, "[NOPERM] Anonymous users cannot rename mailboxes");
		return;
	}
	if (mail_name_is_inbox(to)) {
		client_no(c, "[ALREADYEXISTS] Target mailbox already exists");
		return;
	}
	if (mail_name_is_inbox(from)) {
		if (rename_inbox(c, to, &error) < 0)
			imapd_no_mail_error(c, false, "", error);
		else
			client_ok(c, "RENAME completed");
		return;
	}
	if (imapd_is_selected(c, from)) {
		client_no(c, "[INUSE] Mailbox is selected; close it first");
		return;
	}
	if (mail_rename(from, to, &error) < 0) {
		imapd_no_mail_error(c, false, "", error);
		return;
	}
	special_use_rename(from, to);
	client_ok(c, "RENAME completed");
}

static void do_subscribe(struct client *c, struct imap_arg *args, bool on)
{
	const char *name = one_name(c, args), *error;

	if (name == NULL || imapd_subscribe_referral(c, name))
		return;
	if (mail_subscribe(name, on, &error) < 0) {
		client_no(c, "%s", error);
		return;
	}
	client_ok(c, "%s completed", c->name);
}

void cmd_subscribe(struct client *c, struct imap_arg *args)
{
	do_subscribe(c, args, true);
}

void cmd_unsubscribe(struct client *c, struct imap_arg *args)
{
	do_subscribe(c, args, false);
}

struct list_ctx {
	struct client *c;
	bool lsub;
	bool rlist;		/* RLIST/RLSUB: remote names too (RFC 2193) */
	bool remote_pass;	/* RLIST's pass over the subscriptions */
	char **subs;		/* those, when rlist (remote names' \Noselect) */
	struct buf line;
	struct special_uses uses;
};

/* MAILBOX-REFERRALS: false for a name to leave out. Remote names never
 * come from the local walk (what is here under ~owner/ for a remote
 * owner is not theirs); RLIST and RLSUB take them from the
 * subscriptions, selectable unless only a parent of one */
static bool list_referral_filter(struct list_ctx *l, const char *name,
				 unsigned *attrs)
{
	bool from_subs = l->lsub || l->remote_pass;

	if (*name == '\0' || !imapd_referrals_enabled())
		return true;
	if (!imapd_mailbox_remote(l->c, name))
		return !l->remote_pass;
	if (!l->rlist || !from_subs)
		return false;
	for (char **s = l->subs; s != NULL && *s != NULL; s++)
		if (strcmp(*s, name) == 0) {
			*attrs = 0;
			break;
		}
	return true;
}

static void list_cb(void *ctx, const char *name, unsigned attrs)
{
	static const struct { unsigned bit; const char *name; } names[] = {
		{ MAIL_LIST_NOSELECT, "\\Noselect" },
		{ MAIL_LIST_NOINFERIORS, "\\NoInferiors" },
		{ MAIL_LIST_HASCHILDREN, "\\HasChildren" },
		{ MAIL_LIST_HASNOCHILDREN, "\\HasNoChildren" },
		{ MAIL_LIST_MARKED, "\\Marked" },
		{ MAIL_LIST_UNMARKED, "\\Unmarked" },
	};
	struct list_ctx *l = ctx;
	bool first = true;
	unsigned i;

	if (l->c->anonymous && *name != '\0' &&
	    ascii_strncasecmp(name, "#public/", 8) != 0 &&
	    ascii_strncasecmp(name, "#ftp/", 5) != 0)
		return;
	if (!list_referral_filter(l, name, &attrs))
		return;
	buf_reset(&l->line);
	buf_puts(&l->line, l->lsub && !l->remote_pass ? "LSUB (" : "LIST (");
	for (i = 0; i < N_ELEMENTS(names); i++) {
		if ((attrs & names[i].bit) == 0)
			continue;
		if (!first)
			buf_putc(&l->line, ' ');
		buf_puts(&l->line, names[i].name);
		first = false;
	}
	/* RFC 6154: LIST may always show the uses */
	if (!l->lsub)
		special_use_format(special_use_of(&l->uses, name), &l->line,
				   &first);
	buf_puts(&l->line, ") \"/\" ");
	imap_append_astring(&l->line, name);
	client_untagged(l->c, "%s", l->line.data);
}

static void do_list(struct client *c, struct imap_arg *args, bool lsub,
		    bool rlist)
{
	const char *ref = imap_arg_string(&args[0]);
	const char *pattern = imap_arg_string(&args[1]);
	const char *error;
	struct list_ctx l;

	/* RFC 5258: selection options, several patterns or RETURN */
	if (!lsub && !rlist && (args[0].type == IMAP_ARG_LIST ||
				(args[0].type != IMAP_ARG_EOL &&
				 (args[1].type == IMAP_ARG_LIST ||
				  (args[1].type != IMAP_ARG_EOL &&
				   args[2].type != IMAP_ARG_EOL))))) {
		imapd_list_extended(c, args);
		return;
	}
	if (ref == NULL || pattern == NULL || args[2].type != IMAP_ARG_EOL) {
		client_bad(c, "%s reference pattern", c->name);
		return;
	}
	if (strlen(ref) + strlen(pattern) > MAIL_LIST_MAX_PATTERN) {
		client_bad(c, "Pattern too long");
		return;
	}
	memset(&l, 0, sizeof l);
	l.c = c;
	l.lsub = lsub;
	l.rlist = rlist && imapd_referrals_enabled();
	if (l.rlist && mail_subscriptions_read(&l.subs, &error) < 0)
		l.subs = NULL;	/* mail_list reports it */
	buf_init(&l.line, 0);
	if (!lsub && *pattern == '\0') {
		/* RFC 3501: the delimiter and the root of the reference
		 * ("#public/" for "#public/x", "" for personal names) */
		const char *slash = strchr(ref, '/');
		buf_puts(&l.line, "LIST (\\Noselect) \"/\" ");
		if (*ref == '#' && slash != NULL) {
			char *root = xstrndup(ref, (size_t)(slash - ref + 1));
			imap_append_string(&l.line, root, strlen(root));
			free(root);
		} else {
			buf_puts(&l.line, "\"\"");
		}
		client_untagged(c, "%s", l.line.data);
		client_ok(c, "%s completed", c->name);
		goto out;
	}
	special_use_load(&l.uses);
	if (mail_list(ref, pattern, lsub, list_cb, &l, &error) < 0) {
		client_no(c, "%s", error);
		goto out;
	}
	if (l.rlist && !lsub) {
		/* the remote mailboxes this backend knows of */
		l.lsub = l.remote_pass = true;
		if (mail_list(ref, pattern, true, list_cb, &l, &error) < 0) {
			client_no(c, "%s", error);
			goto out;
		}
	}
	client_ok(c, "%s completed", c->name);
out:
	if (l.subs != NULL)
		mail_subscriptions_free(&l.subs);
	special_use_free(&l.uses);
	buf_release(&l.line);
}

void cmd_list(struct client *c, struct imap_arg *args)
{
	do_list(c, args, false, false);
}

void cmd_lsub(struct client *c, struct imap_arg *args)
{
	do_list(c, args, true, false);
}

/* RFC 2193 section 5: LIST and LSUB with the remote mailboxes too */
void cmd_rlist(struct client *c, struct imap_arg *args)
{
	do_list(c, args, false, true);
}

void cmd_rlsub(struct client *c, struct imap_arg *args)
{
	do_list(c, args, true, true);
}

/* the STATUS items of list valid? (also LIST-STATUS, RFC 5819) */
bool imapd_status_items_valid(const struct imap_arg *list)
{
	const struct imap_arg *item;

	if (list[0].type == IMAP_ARG_EOL)
		return false;
	for (item = list; item->type != IMAP_ARG_EOL; item++) {
		if (item->type != IMAP_ARG_ATOM ||
		    (ascii_strcasecmp(item->str, "MESSAGES") != 0 &&
		     ascii_strcasecmp(item->str, "RECENT") != 0 &&
		     ascii_strcasecmp(item->str, "UIDNEXT") != 0 &&
		     ascii_strcasecmp(item->str, "UIDVALIDITY") != 0 &&
		     ascii_strcasecmp(item->str, "UNSEEN") != 0 &&
		     ascii_strcasecmp(item->str, "APPENDLIMIT") != 0 &&
		     ascii_strcasecmp(item->str, "SIZE") != 0))
			return false;
	}
	return true;
}

int imapd_status_send(struct client *c, const char *name,
		      const struct imap_arg *items, const char **error_r)
{
	const struct imap_arg *item;
	struct mail_status st;
	struct buf out;
	uint32_t i;
	bool want_size = false;

	for (item = items; item->type != IMAP_ARG_EOL; item++)
		if (ascii_strcasecmp(item->str, "SIZE") == 0)
			want_size = true;
	memset(&st, 0, sizeof st);
	if (imapd_is_selected(c, name)) {
		/* FAQ 7.39: answer from the open mailbox, no diagnostic */
		st.messages = c->exists;
		st.recent = c->mb->recent;
		st.uidnext = c->mb->uidnext;
		st.uidvalidity = c->mb->uidvalidity;
		for (i = 0; i < c->exists; i++)
			if ((c->mb->msgs[i].flags & MAIL_SEEN) == 0)
				st.unseen++;
		for (i = 0; i < c->exists; i++)
			st.size += c->mb->msgs[i].size;
	} else if ((want_size ? mail_status_size(name, &st, error_r) :
		    mail_status(name, &st, error_r)) < 0) {
		return -1;
	}
	buf_init(&out, 0);
	buf_puts(&out, "STATUS ");
	imap_append_astring(&out, name);
	buf_puts(&out, " (");
	for (item = items; item->type != IMAP_ARG_EOL; item++) {
		uint64_t v;
		if (item != items)
			buf_putc(&out, ' ');
		if (ascii_strcasecmp(item->str, "APPENDLIMIT") == 0)
			v = imapd_append_limit();	/* RFC 7889 */
		else if (ascii_strcasecmp(item->str, "SIZE") == 0)
			v = st.size;			/* RFC 8438 */
		else if (ascii_strcasecmp(item->str, "MESSAGES") == 0)
			v = st.messages;
		else if (ascii_strcasecmp(item->str, "RECENT") == 0)
			v = st.recent;
		else if (ascii_strcasecmp(item->str, "UIDNEXT") == 0)
			v = st.uidnext;
		else if (ascii_strcasecmp(item->str, "UIDVALIDITY") == 0)
			v = st.uidvalidity;
		else
			v = st.unseen;
		for (const char *p = item->str; *p != '\0'; p++)
			buf_putc(&out, ascii_toupper(*p));
		buf_printf(&out, " %llu", (unsigned long long)v);
	}
	buf_putc(&out, ')');
	client_untagged(c, "%s", out.data);
	buf_release(&out);
	return 0;
}

void cmd_status(struct client *c, struct imap_arg *args)
{
	const char *name = imap_arg_string(&args[0]), *error;

	if (name == NULL || args[1].type != IMAP_ARG_LIST ||
	    args[2].type != IMAP_ARG_EOL || args[1].list[0].type ==
	    IMAP_ARG_EOL) {
		client_bad(c, "STATUS mailbox (items)");
		return;
	}
	if (!imapd_status_items_valid(args[1].list)) {
		client_bad(c, "Unknown STATUS item");
		return;
	}
	if (!client_name_allowed(c, name) || imapd_mailbox_referral(c, name))
		return;
	if (imapd_status_send(c, name, args[1].list, &error) < 0) {
		imapd_no_mail_error(c, false, "", error);
		return;
	}
	client_ok(c, "STATUS completed");
}
