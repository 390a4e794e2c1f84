/*
 * copy.c - copying messages between mailboxes: fetch each message with
 * its flags, keywords and internal date into one append batch, then one
 * mail_append() of the whole batch (all or nothing). Used by COPY/MOVE,
 * RENAME INBOX, the INBOX migration and mailutil's copy/transfer.
 */
#include <stdlib.h>
#include <string.h>

#include "mail.h"

int mail_copy_fetch(struct mailbox *src, const uint32_t *seqs, uint32_t first,
		    uint32_t n, unsigned flags, struct mail_copy_batch *b,
		    const char **error_r)
{
	memset(b, 0, sizeof *b);
	b->msgs = xcalloc(n + 1, sizeof *b->msgs);
	b->texts = xcalloc(n + 1, sizeof *b->texts);
	b->kws = xcalloc((size_t)n * MAIL_MAX_KEYWORDS + 1, sizeof *b->kws);
	for (uint32_t i = 0; i < n; i++) {
		uint32_t seq = seqs != NULL ? seqs[i] : first + i + 1;
		struct mail_append_msg *am = &b->msgs[i];
		const struct mail_message *m;
		unsigned k = 0;

		buf_init(&b->texts[i], 0);
		b->n = i + 1;
		if (mail_fetch(src, seq, MAIL_PART_ALL, &b->texts[i],
			       error_r) < 0)
			return -1;
		/* taken after the fetch: it may re-sync and move src->msgs */
		if (seq > src->count) {
			*error_r = "Message is gone";
			return -1;
		}
		m = &src->msgs[seq - 1];
		am->data = b->texts[i].data;
		am->len = b->texts[i].len;
		am->flags = m->flags & MAIL_SYSFLAGS;
		am->internaldate = m->internaldate;
		am->zone = m->zone;
		am->keywords = b->kws + (size_t)i * MAIL_MAX_KEYWORDS;
		for (unsigned kb = 0; kb < src->nkeywords &&
		     kb < MAIL_MAX_KEYWORDS; kb++)
			if ((m->keywords & (1ULL << kb)) != 0)
				b->kws[(size_t)i * MAIL_MAX_KEYWORDS + k++] =
					src->keywords[kb];
		am->nkeywords = k;
		if ((flags & MAIL_COPY_KEEP_UIDS) != 0) {
			am->uid = m->uid;
			am->uidvalidity = src->uidvalidity;
			am->uidnext = src->uidnext;
		}
	}
	return 0;
}

void mail_copy_batch_free(struct mail_copy_batch *b)
{
	if (b->texts != NULL)
		for (uint32_t i = 0; i < b->n; i++)
			buf_release(&b->texts[i]);
	free(b->texts);
	free(b->msgs);
	free(b->kws);
	memset(b, 0, sizeof *b);
}

int mail_copy(struct mailbox *src, const uint32_t *seqs, uint32_t first,
	      uint32_t n, const char *dest, unsigned flags,
	      uint32_t *uidvalidity_r, uint32_t *uids_r, const char **error_r)
{
	struct mail_copy_batch b;
	int ret;

	ret = mail_copy_fetch(src, seqs, first, n, flags, &b, error_r);
	if (ret == 0 && n > 0)
		ret = mail_append(dest, b.msgs, n, uidvalidity_r, uids_r,
				  error_r);
	mail_copy_batch_free(&b);
	return ret;
}
