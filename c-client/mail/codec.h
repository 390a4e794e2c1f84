/*
 * codec.h - base64, quoted-printable, RFC 2047 encoded words, and charset
 * conversion to UTF-8 (US-ASCII, UTF-8, ISO-8859-1 at least; iconv(3)
 * from glibc for the rest). All decoders take explicit lengths and treat
 * input as hostile.
 */
#ifndef CC_CODEC_H
#define CC_CODEC_H

#include "buf.h"

/* strict base64 (SASL): false on any invalid character or bad padding */
bool base64_decode_strict(const char *in, size_t len, struct buf *out);
/* lenient base64 (MIME bodies): skips whitespace and junk */
void base64_decode_mime(const char *in, size_t len, struct buf *out);
void base64_encode(const void *in, size_t len, struct buf *out);
void qp_decode(const char *in, size_t len, bool header_mode, struct buf *out);

/* decode RFC 2047 encoded words in a header value into UTF-8; text
 * outside encoded words is taken as UTF-8/Latin-1 as it comes */
void rfc2047_decode(const char *in, size_t len, struct buf *out);

/* convert text in charset to UTF-8; false for an unknown charset */
bool charset_to_utf8(const char *charset, const char *in, size_t len,
		     struct buf *out);
bool charset_known(const char *charset);
/* valid UTF-8? */
bool utf8_valid(const char *s, size_t len);
/* simple case folding for SEARCH (i;unicode-casemap-ish: ASCII and
 * Latin-1 supplement letters folded; other code points unchanged) */
void utf8_casefold(const char *in, size_t len, struct buf *out);

#endif
