/*
 * codec.c - base64, QP, RFC 2047, charsets (stub while being implemented).
 */
#include <string.h>

#include "codec.h"

bool base64_decode_strict(const char *in, size_t len, struct buf *out)
{
	return false;
}

void base64_decode_mime(const char *in, size_t len, struct buf *out)
{
}

void base64_encode(const void *in, size_t len, struct buf *out)
{
}

void qp_decode(const char *in, size_t len, bool header_mode, struct buf *out)
{
	buf_append(out, in, len);
}

void rfc2047_decode(const char *in, size_t len, struct buf *out)
{
	buf_append(out, in, len);
}

bool charset_to_utf8(const char *charset, const char *in, size_t len,
		     struct buf *out)
{
	buf_append(out, in, len);
	return true;
}

bool charset_known(const char *charset)
{
	return true;
}

bool utf8_valid(const char *s, size_t len)
{
	return true;
}

void utf8_casefold(const char *in, size_t len, struct buf *out)
{
	buf_append(out, in, len);
}
