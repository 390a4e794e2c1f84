/*
 * imap-quote.c - writing IMAP strings: quoted when safe, literal when the
 * text has CR, LF, NUL, 8-bit bytes or is long; NIL for absent values.
 * Message text goes out as literals, with NUL mapped to 0x80 when the
 * nul-to-0x80 option asks for it (FAQ 7.34).
 */
#include <string.h>

#include "imapd.h"

bool imapd_nul_to_0x80;

static bool quotable(const char *s, size_t len)
{
	size_t i;

	if (len > 1024)
		return false;
	for (i = 0; i < len; i++) {
		unsigned char u = (unsigned char)s[i];
		if (u == 0 || u == '\r' || u == '\n' || u >= 0x80)
			return false;
	}
	return true;
}

void imap_append_string(struct buf *out, const char *s, size_t len)
{
	size_t i;

	if (!quotable(s, len)) {
		buf_printf(out, "{%zu}\r\n", len);
		buf_append(out, s, len);
		return;
	}
	buf_putc(out, '"');
	for (i = 0; i < len; i++) {
		if (s[i] == '"' || s[i] == '\\')
			buf_putc(out, '\\');
		buf_putc(out, s[i]);
	}
	buf_putc(out, '"');
}

bool imap_is_atom_safe(const char *s)
{
	const char *p;

	if (*s == '\0')
		return false;
	for (p = s; *p != '\0'; p++) {
		unsigned char u = (unsigned char)*p;
		if (u <= 0x20 || u >= 0x7f || strchr("(){%*\"\\]", *p) != NULL)
			return false;
	}
	return ascii_strcasecmp(s, "NIL") != 0;
}

void imap_append_astring(struct buf *out, const char *s)
{
	if (imap_is_atom_safe(s))
		buf_puts(out, s);
	else
		imap_append_string(out, s, strlen(s));
}

void imap_append_nstring(struct buf *out, const char *s)
{
	if (s == NULL)
		buf_puts(out, "NIL");
	else
		imap_append_string(out, s, strlen(s));
}

void imap_write_literal(struct ios *ios, const char *data, size_t len,
			bool binary)
{
	char tmp[8192];
	size_t i, n;

	ios_printf(ios, "%s{%zu}\r\n", binary ? "~" : "", len);
	if (!imapd_nul_to_0x80 || binary || memchr(data, '\0', len) == NULL) {
		ios_write(ios, data, len);
		return;
	}
	/* FAQ 7.34: some clients hang on NUL; send 0x80 instead */
	while (len > 0) {
		n = len < sizeof tmp ? len : sizeof tmp;
		for (i = 0; i < n; i++)
			tmp[i] = data[i] == '\0' ? (char)0x80 : data[i];
		ios_write(ios, tmp, n);
		data += n;
		len -= n;
	}
}
