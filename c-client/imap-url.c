/*
 * imap-url.c - IMAP URLs for referrals (see imap-url.h).
 *
 * SECURITY: inputs are hostile names; the modified UTF-7 decoder is
 * bounded by the input, rejects what RFC 3501 5.1.3 does not allow
 * (unterminated shifts, bad base64, left-over bits, unpaired surrogates,
 * characters that should have been written as themselves) and then
 * falls back to byte-by-byte encoding, never to guessing.
 */
#include <string.h>

#include "imap-url.h"

static const char hexdigits[] = "0123456789ABCDEF";

static bool unreserved(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		(ch >= '0' && ch <= '9') || ch == '-' || ch == '.' ||
		ch == '_' || ch == '~';
}

/* RFC 5092 achar: unreserved / sub-delims-sh / "&" / "=" */
static bool achar(unsigned char ch)
{
	return unreserved(ch) || (ch != '\0' && strchr("!$'()*+,&=", ch));
}

/* bchar: achar / ":" / "@" / "/" */
static bool bchar(unsigned char ch)
{
	return achar(ch) || ch == ':' || ch == '@' || ch == '/';
}

static void pct(struct buf *out, unsigned char ch)
{
	buf_putc(out, '%');
	buf_putc(out, hexdigits[ch >> 4]);
	buf_putc(out, hexdigits[ch & 15]);
}

void imap_url_user(struct buf *out, const char *user)
{
	for (const unsigned char *p = (const unsigned char *)user; *p; p++) {
		if (achar(*p))
			buf_putc(out, (char)*p);
		else
			pct(out, *p);
	}
}

static int b64val(unsigned char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+')
		return 62;
	if (ch == ',')
		return 63;
	return -1;
}

static void put_utf8(struct buf *out, uint32_t cp)
{
	if (cp < 0x80) {
		buf_putc(out, (char)cp);
	} else if (cp < 0x800) {
		buf_putc(out, (char)(0xc0 | (cp >> 6)));
		buf_putc(out, (char)(0x80 | (cp & 0x3f)));
	} else if (cp < 0x10000) {
		buf_putc(out, (char)(0xe0 | (cp >> 12)));
		buf_putc(out, (char)(0x80 | ((cp >> 6) & 0x3f)));
		buf_putc(out, (char)(0x80 | (cp & 0x3f)));
	} else {
		buf_putc(out, (char)(0xf0 | (cp >> 18)));
		buf_putc(out, (char)(0x80 | ((cp >> 12) & 0x3f)));
		buf_putc(out, (char)(0x80 | ((cp >> 6) & 0x3f)));
		buf_putc(out, (char)(0x80 | (cp & 0x3f)));
	}
}

/* modified UTF-7 to UTF-8; false (out unspecified) if name is not valid */
static bool mutf7_decode(const char *name, struct buf *out)
{
	const unsigned char *p = (const unsigned char *)name;

	while (*p != '\0') {
		uint32_t bits = 0, high = 0;
		unsigned nbits = 0, nchars = 0;

		if (*p >= 0x80 || *p < 0x20 || *p == 0x7f)
			return false;
		if (*p != '&') {
			buf_putc(out, (char)*p++);
			continue;
		}
		p++;
		if (*p == '-') {		/* "&-" is "&" */
			buf_putc(out, '&');
			p++;
			continue;
		}
		for (; *p != '-'; p++) {
			int v = b64val(*p);

			if (v < 0)
				return false;	/* also the end of the name */
			bits = (bits << 6) | (uint32_t)v;
			nbits += 6;
			if (nbits < 16)
				continue;
			nbits -= 16;
			uint32_t u = (bits >> nbits) & 0xffff;
			bits &= (1u << nbits) - 1;
			nchars++;
			if (high != 0) {
				if (u < 0xdc00 || u > 0xdfff)
					return false;
				put_utf8(out, 0x10000 + ((high - 0xd800) << 10) +
					 (u - 0xdc00));
				high = 0;
			} else if (u >= 0xd800 && u <= 0xdbff) {
				high = u;
			} else if ((u >= 0xdc00 && u <= 0xdfff) ||
				   (u >= 0x20 && u <= 0x7e)) {
				/* a lone low surrogate, or printable ASCII
				 * that must be written as itself */
				return false;
			} else {
				put_utf8(out, u);
			}
		}
		/* the shift ends with "-", no half character, zero padding */
		if (nchars == 0 || high != 0 || nbits >= 6 || bits != 0)
			return false;
		p++;
	}
	return true;
}

void imap_url_mailbox(struct buf *out, const char *name)
{
	struct buf utf8;
	const char *s, *seg;

	buf_init(&utf8, 0);
	s = mutf7_decode(name, &utf8) ? utf8.data : name;
	for (seg = s; ; ) {
		const char *end = strchr(seg, '/');
		size_t n = end != NULL ? (size_t)(end - seg) : strlen(seg);
		/* "." and ".." would be dot-segments to a URL resolver */
		bool dots = (n == 1 && seg[0] == '.') ||
			(n == 2 && seg[0] == '.' && seg[1] == '.');

		for (size_t i = 0; i < n; i++) {
			unsigned char ch = (unsigned char)seg[i];
			if (bchar(ch) && !(dots && ch == '.'))
				buf_putc(out, (char)ch);
			else
				pct(out, ch);
		}
		if (end == NULL)
			break;
		/* a leading "/" would make a network-path reference */
		if (end == s)
			pct(out, '/');
		else
			buf_putc(out, '/');
		seg = end + 1;
	}
	buf_release(&utf8);
}

void imap_url(struct buf *out, const char *user, bool auth_any,
	      const char *host, unsigned port, const char *mailbox)
{
	buf_puts(out, "imap://");
	if (user != NULL) {
		imap_url_user(out, user);
		if (auth_any)
			buf_puts(out, ";AUTH=*");
		buf_putc(out, '@');
	}
	buf_printf(out, strchr(host, ':') != NULL ? "[%s]" : "%s", host);
	if (port != 143)
		buf_printf(out, ":%u", port);
	buf_putc(out, '/');
	if (mailbox != NULL)
		imap_url_mailbox(out, mailbox);
}
