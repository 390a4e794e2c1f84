/*
 * imap-url.h - IMAP URLs (RFC 5092, which obsoletes RFC 2192) for the
 * referrals imapd sends (LOGIN-REFERRALS RFC 2221, MAILBOX-REFERRALS
 * RFC 2193): imap://user;AUTH=*@host:port/mailbox.
 *
 * SECURITY: user and mailbox names come from the network. Every byte
 * that is not allowed as itself in its URL component is %-encoded, so
 * nothing in a name can end the URL, the response code ("]") or the
 * line early.
 */
#ifndef CC_IMAP_URL_H
#define CC_IMAP_URL_H

#include "buf.h"

/* enc-user (RFC 5092 section 11): achar stays, the rest %XX */
void imap_url_user(struct buf *out, const char *user);

/*
 * enc-mailbox: the modified UTF-7 name (RFC 3501 5.1.3) converted to
 * UTF-8 and %-encoded (RFC 5092 section 8); "/" stays the hierarchy
 * delimiter, "." and ".." segments and a leading "/" are %-encoded
 * (section 7). A name that is not valid modified UTF-7 is encoded byte
 * by byte as it is.
 */
void imap_url_mailbox(struct buf *out, const char *name);

/*
 * "imap://" [enc-user [";AUTH=*"] "@"] host [":" port] "/" [mailbox]:
 * user NULL for none, auth_any adds ";AUTH=*" (RFC 2193's form, so a
 * client never falls back to anonymous), an IPv6 host is bracketed,
 * port 143 is left out, mailbox NULL for a server URL.
 */
void imap_url(struct buf *out, const char *user, bool auth_any,
	      const char *host, unsigned port, const char *mailbox);

#endif
