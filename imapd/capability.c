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
	/* RFC 7888: LITERAL- before login, where a literal is at most
	 * PREAUTH_MAX_LITERAL and a non-synchronizing one at most
	 * LITERAL_MINUS_MAX; LITERAL+ after it. Never both: LITERAL- says
	 * larger non-synchronizing literals are refused, LITERAL+ that any
	 * size is sent so (section 4). */
	buf_puts(out, c->state == STATE_NOTAUTH ? "IMAP4rev1 LITERAL-" :
		 "IMAP4rev1 LITERAL+");
	buf_puts(out, " SASL-IR IDLE NAMESPACE UIDPLUS "
		 "CHILDREN UNSELECT ID ENABLE MOVE MULTIAPPEND ESEARCH WITHIN "
		 "SORT THREAD=ORDEREDSUBJECT THREAD=REFERENCES BINARY "
		 "I18NLEVEL=1 LIST-EXTENDED LIST-STATUS SPECIAL-USE "
		 "CREATE-SPECIAL-USE STATUS=SIZE ESORT SEARCHRES SORT=DISPLAY");
	if (imapd_referrals_enabled())
		buf_puts(out, " MAILBOX-REFERRALS");
	if (c->state == STATE_NOTAUTH)
		capability_auth(c, out);
	else	/* RFC 7889: the largest message APPEND takes, any mailbox */
		buf_printf(out, " APPENDLIMIT=%llu",
			   (unsigned long long)imapd_append_limit());
	/* RFC 4978: after login only (no login secret is compressed), and
	 * not once it is on */
	if (c->state != STATE_NOTAUTH && c->ios != NULL &&
	    !imapd_compress_active(c))
		buf_puts(out, " COMPRESS=DEFLATE");
}
