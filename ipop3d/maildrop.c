/*
 * maildrop.c - the greeting (with APOP's timestamp) and opening the
 * maildrop after a login or PREAUTH: INBOX for exclusive POP3 access and
 * the message list of the session.
 */
#include <string.h>

#include "log.h"
#include "pop3.h"

void pop3_greeting(struct pop3_session *s)
{
	/* some clients want nothing between "+OK" and "POP3" */
	buf_reset(&s->apop_ts);
	if (auth_cram_available())
		auth_apop_timestamp(&s->apop_ts);
	if (s->apop_ts.len > 0)
		pop3_ok(s, "POP3 %s server ready %s", POP3_IMPLEMENTATION,
			buf_cstr(&s->apop_ts));
	else
		pop3_ok(s, "POP3 %s server ready", POP3_IMPLEMENTATION);
}

static void ev_expunged(void *ctx ATTR_UNUSED, struct mailbox *mb ATTR_UNUSED,
			uint32_t seq ATTR_UNUSED)
{
	/* POP3 numbers stay fixed for the session: nothing to tell */
}

static void ev_flags_changed(void *ctx ATTR_UNUSED,
			     struct mailbox *mb ATTR_UNUSED,
			     uint32_t seq ATTR_UNUSED)
{
}

static void ev_lost(void *ctx, struct mailbox *mb ATTR_UNUSED, const char *why)
{
	struct pop3_session *s = ctx;

	s->lost = why != NULL ? why : "mailbox lost";
}

static void ev_notice(void *ctx ATTR_UNUSED, struct mailbox *mb ATTR_UNUSED,
		      const char *text)
{
	/* POP3 has no way to show warnings: the administrator sees them */
	log_notice("%s", text);
}

void pop3_open_maildrop(struct pop3_session *s, const char *how)
{
	const char *error;
	uint64_t octets = 0;
	uint32_t all;

	s->mb = mail_open("INBOX", MAIL_OPEN_POP3, &error);
	if (s->mb == NULL) {
		/* our privileges are gone: this session cannot go on */
		switch (mail_get_last_error()) {
		case MAIL_ERROR_INUSE:		/* RFC 2449 8.1.3 */
			pop3_err(s, "[IN-USE] %s", error);
			break;
		case MAIL_ERROR_NONE:	/* RFC 3206: unknown, may pass */
		case MAIL_ERROR_TEMP:
		case MAIL_ERROR_NOSPACE:
			pop3_err(s, "[SYS/TEMP] Unable to open mailbox: %s",
				 error);
			break;
		default:			/* needs the administrator */
			pop3_err(s, "[SYS/PERM] Unable to open mailbox: %s",
				 error);
			break;
		}
		log_info("Login %s, mailbox not opened: %s", how, error);
		pop3_set_state(s, POP3_LOGOUT);
		return;
	}
	s->mb->ev.ctx = s;
	s->mb->ev.expunged = ev_expunged;
	s->mb->ev.flags_changed = ev_flags_changed;
	s->mb->ev.lost = ev_lost;
	s->mb->ev.notice = ev_notice;

	/* the maildrop as of now; messages another client marked \Deleted
	 * are as good as gone and are not offered (as UW did) */
	all = s->mb->count;
	s->msgs = xreallocarray(NULL, all > 0 ? all : 1, sizeof *s->msgs);
	s->nmsgs = 0;
	for (uint32_t i = 0; i < all; i++) {
		const struct mail_message *m = &s->mb->msgs[i];

		if ((m->state & MSTATE_EXPUNGED) != 0 ||
		    (m->flags & MAIL_DELETED) != 0)
			continue;
		s->msgs[s->nmsgs].uid = m->uid;
		s->msgs[s->nmsgs].size = m->size;
		s->msgs[s->nmsgs].pflags = 0;
		octets += m->size;
		s->nmsgs++;
	}
	pop3_set_state(s, POP3_TRANSACTION);
	pop3_ok(s, "Mailbox open, %u messages (%llu octets)%s", s->nmsgs,
		(unsigned long long)octets,
		s->mb->readonly ? " [read-only: DELE not possible]" : "");
	log_info("Login %s nmsgs=%u/%u%s", how, s->nmsgs, all,
		 s->mb->readonly ? " readonly" : "");
}
