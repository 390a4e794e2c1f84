/*
 * update.c - the UPDATE state (RFC 1939): after QUIT, and only then,
 * RETR'd messages become \Seen and DELE'd ones are removed. A dropped
 * connection, an autologout or a kiss of death changes nothing
 * (pop3_abandon), so a client that never says QUIT loses no mail
 * (FAQ 7.13).
 *
 * The expunge is limited to the UIDs this session DELE'd: a message
 * another client (IMAP) marked \Deleted but did not expunge stays.
 */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pop3.h"

/* s->msgs is in mailbox order, so ascending by UID */
static bool pop3_uid_deleted(void *ctx, uint32_t uid)
{
	const struct pop3_session *s = ctx;
	uint32_t lo = 0, hi = s->nmsgs;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (s->msgs[mid].uid == uid)
			return (s->msgs[mid].pflags & POP3_MSG_DELETED) != 0;
		if (s->msgs[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

bool pop3_update(struct pop3_session *s, const char **error_r)
{
	uint32_t ndele = 0, nretr = 0, seq;
	int ret = 0;

	if (s->mb == NULL) {
		*error_r = "no mailbox";
		return false;
	}
	if (!s->mb->readonly) {
		for (uint32_t i = 0; i < s->nmsgs; i++) {
			uint8_t f = s->msgs[i].pflags;

			if ((f & (POP3_MSG_DELETED | POP3_MSG_RETRIEVED)) == 0)
				continue;
			seq = mail_uid_to_seq(s->mb, s->msgs[i].uid);
			if (seq == 0)
				continue;	/* already gone */
			if ((f & POP3_MSG_DELETED) != 0) {
				(void)mail_store(s->mb, seq, MAIL_STORE_ADD,
						 MAIL_DELETED | MAIL_SEEN, 0);
				ndele++;
			} else {
				(void)mail_store(s->mb, seq, MAIL_STORE_ADD,
						 MAIL_SEEN, 0);
				nretr++;
			}
		}
		if (ndele > 0)
			ret = mail_expunge(s->mb, pop3_uid_deleted, s, error_r);
		else if (nretr > 0)
			ret = mail_flush(s->mb, error_r);
	}
	s->ndele = ndele;
	s->nretr = nretr;
	log_info("Logout nmsgs=%u nretr=%u ndele=%u kept=%u", s->nmsgs, nretr,
		 ndele, s->nmsgs - ndele);
	mail_close(&s->mb);
	xfree(&s->msgs);
	return ret == 0;
}

void pop3_abandon(struct pop3_session *s)
{
	if (s->mb != NULL)
		mail_close(&s->mb);
	xfree(&s->msgs);
}
