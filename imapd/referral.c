/*
 * referral.c - LOGIN-REFERRALS (RFC 2221) from the route map: a user
 * whose mail lives on another backend is told where, in a
 * "NO [REFERRAL imap://user@host/]" that clients following referrals
 * reconnect to, instead of being logged in to an empty mailbox here.
 * Only when route-map and server-name are both set (docs/scaling.md).
 *
 * SECURITY: runs after the password was checked, before the privilege
 * drop; it reads only the administrator's map file, and the user name
 * goes into the URL %-encoded (RFC 5092 enc-user), so no byte of it can
 * end the response code early.
 */
#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "buf.h"
#include "config.h"
#include "log.h"
#include "route-map.h"
#include "imapd.h"

bool imapd_referrals_enabled(void)
{
	return config_str("route-map")[0] != '\0' &&
		config_str("server-name")[0] != '\0';
}

static void url_user(struct buf *out, const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || strchr("-._~!$&'()+,=", ch))
			buf_putc(out, (char)ch);
		else
			buf_printf(out, "%%%02X", ch);
	}
}

bool imapd_login_referral(struct client *c, const struct auth_user *u)
{
	const char *error = NULL;
	struct route r;
	struct buf url;

	if (!imapd_referrals_enabled() || u->anonymous)
		return false;
	if (route_lookup(config_str("route-map"), u->name, &r, &error) <= 0) {
		if (error != NULL)
			log_error("%s", error);
		return false;	/* no map or no line: serve the user here */
	}
	if (ascii_strcasecmp(r.host, config_str("server-name")) == 0)
		return false;
	buf_init(&url, 0);
	buf_puts(&url, "imap://");
	url_user(&url, u->name);
	buf_printf(&url, strchr(r.host, ':') != NULL ? "@[%s]" : "@%s", r.host);
	if (r.imap_port != ROUTE_DEFAULT_IMAP)
		buf_printf(&url, ":%u", (unsigned)r.imap_port);
	buf_putc(&url, '/');
	log_info("login referred to %s (route map)", r.host);
	client_no(c, "[REFERRAL %s] Your mail is on %s", url.data, r.host);
	buf_release(&url);
	return true;
}
