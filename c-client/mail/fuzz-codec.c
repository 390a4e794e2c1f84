/* fuzz-codec.c - libFuzzer harness: strict (SASL) and MIME base64,
 * quoted-printable, RFC 2047 words, charset conversion (the first byte
 * picks an iconv charset for one of the calls), UTF-8 folding. */
#include "buf.h"
#include "codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* iconv(3) paths too: stateful (ISO-2022-JP, UTF-7), multi-byte
	 * (SHIFT_JIS, GB18030, UTF-16) and a name iconv does not know */
	static const char *const charsets[] = {
		"ISO-2022-JP", "SHIFT_JIS", "GB18030", "UTF-16", "UTF-7",
		"KOI8-R", "windows-1252", "X-UNKNOWN", "US-ASCII",
	};
	const char *in = (const char *)data;
	struct buf out;

	buf_init(&out, 0);
	base64_encode(in, size, &out);
	buf_reset(&out);
	if (size > 0)
		(void)charset_to_utf8(charsets[data[0] % N_ELEMENTS(charsets)],
				      in + 1, size - 1, &out);
	buf_reset(&out);
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
