/* fuzz-codec.c - libFuzzer harness: strict (SASL) and MIME base64,
 * quoted-printable, RFC 2047 words, charset conversion, UTF-8 folding. */
#include "buf.h"
#include "codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	struct buf out;

	buf_init(&out, 0);
	(void)base64_decode_strict(in, size, &out);
	buf_reset(&out);
	base64_decode_mime(in, size, &out);
	buf_reset(&out);
	qp_decode(in, size, size % 2 == 0, &out);
	buf_reset(&out);
	rfc2047_decode(in, size, &out);
	buf_reset(&out);
	(void)charset_to_utf8("ISO-8859-1", in, size, &out);
	buf_reset(&out);
	(void)charset_to_utf8("UTF-8", in, size, &out);
	(void)utf8_valid(in, size);
	buf_reset(&out);
	utf8_casefold(in, size, &out);
	buf_release(&out);
	return 0;
}
