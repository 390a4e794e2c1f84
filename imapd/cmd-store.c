/*
 * cmd-store.c - STORE and UID STORE: FLAGS, +FLAGS, -FLAGS (.SILENT),
 * system flags and keywords. New keywords are created only when the
 * mailbox allows it (PERMANENTFLAGS \*); the changed flags are written
 * at once so other sessions see them.
 */
#include <stdlib.h>
#include <string.h>

#include "imapd.h"

/* Would the new keywords of a flag list fit into the mailbox's table?
 * Checked first, so a STORE that fails does not use up the table with
 * keywords it then never sets. */
static bool keywords_fit(struct mailbox *mb, const struct imap_arg *f)
{
	const char *fresh[MAIL_MAX_KEYWORDS];
	unsigned nfresh = 0, room, i;
	bool is_kw;

	room = mb->nkeywords < MAIL_MAX_KEYWORDS ?
		MAIL_MAX_KEYWORDS - mb->nkeywords : 0;
	for (; f->type != IMAP_ARG_EOL; f++) {
		if (mail_flag_parse(f->str, &is_kw) != 0 ||
		    mail_keyword_index(mb, f->str, false) >= 0)
			continue;
		for (i = 0; i < nfresh; i++)
			if (ascii_strcasecmp(fresh[i], f->str) == 0)
				break;
		if (i < nfresh)
			continue;
		if (nfresh == room)
			return false;
		fresh[nfresh++] = f->str;
	}
	return true;
}

void cmd_store(struct client *c, struct imap_arg *args)
{
	const char *set = args[0].type == IMAP_ARG_ATOM ? args[0].str : NULL;
	const char *item = args[1].type == IMAP_ARG_ATOM ? args[1].str : NULL;
	const char *error;
	enum mail_store_op op = MAIL_STORE_SET;
	uint32_t *seqs, n, i, flags = 0;
	uint64_t keywords = 0;
	struct imap_arg *f;
	bool silent = false, is_kw;
	struct buf out;

	if (set == NULL || item == NULL || args[2].type == IMAP_ARG_EOL) {
		client_bad(c, "STORE sequence-set item flags");
		return;
	}
	if (*item == '+') {
		op = MAIL_STORE_ADD;
		item++;
	} else if (*item == '-') {
		op = MAIL_STORE_REMOVE;
		item++;
	}
	if (ascii_strcasecmp(item, "FLAGS.SILENT") == 0)
		silent = true;
	else if (ascii_strcasecmp(item, "FLAGS") != 0) {
		client_bad(c, "Unknown STORE item");
		return;
	}
	if (args[2].type == IMAP_ARG_LIST) {
		f = args[2].list;
		if (args[3].type != IMAP_ARG_EOL) {
			client_bad(c, "Extra arguments after the flag list");
			return;
		}
	} else {
		f = &args[2];
	}
	/* validate everything before changing anything */
	for (struct imap_arg *g = f; g->type != IMAP_ARG_EOL; g++) {
		uint32_t bit;
		if (g->type != IMAP_ARG_ATOM) {
			client_bad(c, "Invalid flag");
			return;
		}
		bit = mail_flag_parse(g->str, &is_kw);
		if (bit == MAIL_RECENT) {
			client_bad(c, "\\Recent cannot be stored");
			return;
		}
		if (bit == 0 && (!is_kw || !mail_keyword_valid(g->str))) {
			client_bad(c, "Invalid flag %s", g->str);
			return;
		}
	}
	if (op != MAIL_STORE_REMOVE && !keywords_fit(c->mb, f)) {
		client_no(c, "[LIMIT] Too many keywords for this mailbox "
			  "(at most %u)", MAIL_MAX_KEYWORDS);
		return;
	}
	if (!client_parse_set(c, set, c->uid, &seqs, &n))
		return;
	if (c->mb->readonly) {
		free(seqs);
		client_no(c, "[READ-ONLY] Mailbox is read-only");
		return;
	}
	for (; f->type != IMAP_ARG_EOL; f++) {
		uint32_t bit = mail_flag_parse(f->str, &is_kw);
		int idx;
		if (bit != 0) {
			flags |= bit;
			continue;
		}
		idx = mail_keyword_index(c->mb, f->str,
					 op != MAIL_STORE_REMOVE);
		if (idx < 0) {
			if (op == MAIL_STORE_REMOVE)
				continue;
			free(seqs);
			client_no(c, "[LIMIT] Cannot create keyword %s", f->str);
			return;
		}
		if (idx >= 64)
			continue;
		keywords |= (uint64_t)1 << idx;
	}
	/* a new keyword: announce FLAGS before the FETCH responses */
	client_announce_keywords(c);
	buf_init(&out, 0);
	for (i = 0; i < n; i++) {
		if (mail_store(c->mb, seqs[i], op, flags, keywords) < 0) {
			free(seqs);
			buf_release(&out);
			client_no(c, "STORE failed");
			return;
		}
		if (silent)
			continue;
		buf_reset(&out);
		client_format_flags(c, seqs[i], &out);
		if (c->uid)
			client_untagged(c, "%u FETCH (UID %u FLAGS %s)", seqs[i],
					c->mb->msgs[seqs[i] - 1].uid, out.data);
		else
			client_untagged(c, "%u FETCH (FLAGS %s)", seqs[i],
					out.data);
	}
	buf_release(&out);
	free(seqs);
	if (mail_flush(c->mb, &error) < 0) {
		client_no(c, "STORE could not be saved: %s", error);
		return;
	}
	client_ok(c, "STORE completed");
}
