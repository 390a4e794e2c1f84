/*
 * capability.c - the CAPABILITY list (greeting, CAPABILITY, after login),
 * with STARTTLS, AUTH= and LOGINDISABLED in the not-authenticated state.
 */
#include <string.h>

#include "auth.h"
#include "tls.h"
#include "imapd.h"

/* STARTTLS, AUTH=..., LOGINDISABLED for the not-authenticated state */
static void capability_auth(struct client *c, struct buf *out)
{
	struct buf mechs;
	const char *p, *sp;

	if (!c->tls && tls_available(TLS_SERVICE_IMAP))
		buf_puts(out, " STARTTLS");
	buf_init(&mechs, 0);
	sasl_mechanisms(c->tls, &mechs);
	for (p = mechs.data; *p != '\0'; p = sp) {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		sp = strchr(p, ' ');
		if (sp == NULL)
			sp = p + strlen(p);
		buf_puts(out, " AUTH=");
		buf_append(out, p, (size_t)(sp - p));
	}
	buf_release(&mechs);
	if (!auth_plaintext_allowed(c->tls))
		buf_puts(out, " LOGINDISABLED");
	if (imapd_referrals_enabled())
		buf_puts(out, " LOGIN-REFERRALS");	/* MAILBOX-: client_capability() */
}

void client_capability(struct client *c, struct buf *out)
{
	buf_puts(out, "IMAP4rev1 LITERAL+ SASL-IR IDLE NAMESPACE UIDPLUS "
		 "CHILDREN UNSELECT ID ENABLE MOVE MULTIAPPEND ESEARCH WITHIN "
		 "SORT THREAD=ORDEREDSUBJECT THREAD=REFERENCES BINARY "
		 "I18NLEVEL=1");
	if (imapd_referrals_enabled())
		buf_puts(out, " MAILBOX-REFERRALS");
	if (c->state == STATE_NOTAUTH)
		capability_auth(c, out);
}
