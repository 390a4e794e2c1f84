/* fuzz-message.c - libFuzzer harness: RFC 5322 headers, envelopes,
 * addresses, MIME structure, part lookup and transfer decoding, dates. */
#include "buf.h"
#include "codec.h"
#include "date.h"
#include "mime.h"
#include "rfc822.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *msg = (const char *)data;
	size_t hsize = rfc822_header_size(msg, size);
	struct envelope *env = rfc822_parse_envelope(msg, hsize);
	struct mime_body *body = mime_parse(msg, size);
	static const char *const names[] = { "Subject", "From", "X-Foo" };
	static const uint32_t nums[] = { 1, 2, 1 };
	struct buf out;
	int64_t t;
	int32_t zone;
	const char *sender;
	size_t slen;

	buf_init(&out, 0);
	rfc822_header_fields(msg, hsize, names, 3, false, &out);
	buf_reset(&out);
	rfc822_header_fields(msg, hsize, names, 3, true, &out);
	buf_reset(&out);
	(void)rfc822_header_get(msg, hsize, "Subject", &out);
	buf_reset(&out);
	rfc822_base_subject(msg, size > 300 ? 300 : size, &out);
	for (unsigned n = 1; n <= 3; n++) {
		const struct mime_body *p = mime_find_part(body, nums, n);
		if (p != NULL && p->body_off <= size && p->body_size <= size - p->body_off) {
			buf_reset(&out);
			(void)mime_decode_cte(p->encoding ? p->encoding : "7BIT",
					      msg + p->body_off, p->body_size, &out);
		}
	}
	(void)date_parse_rfc5322(msg, size > 200 ? 200 : size, &t, &zone);
	(void)date_parse_from_line(msg, size > 300 ? 300 : size, &t, &zone, &sender, &slen);
	rfc822_free_envelope(&env);
	mime_free(&body);
	buf_release(&out);
	return 0;
}
