/* fuzz-message.c - libFuzzer harness: RFC 5322 headers, envelopes,
 * addresses, MIME structure, part lookup and transfer decoding, dates. */
#include <string.h>

#include "buf.h"
#include "codec.h"
#include "date.h"
#include "mime.h"
#include "rfc822.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* every part of the tree: parameters, and the transfer decoding of its
 * body (bounded: at most 200 parts per input) */
static void walk(const struct mime_body *b, const char *msg, size_t size,
		 struct buf *out, unsigned *budget)
{
	for (; b != NULL && *budget > 0; b = b->next) {
		(*budget)--;
		(void)mime_param_get(b->params, "charset");
		(void)mime_param_get(b->disp_params, "filename");
		if (b->body_off <= size && b->body_size <= size - b->body_off) {
			buf_reset(out);
			(void)mime_decode_cte(b->encoding ? b->encoding : "7BIT",
					      msg + b->body_off, b->body_size, out);
		}
		walk(b->parts, msg, size, out, budget);
		walk(b->msg_body, msg, size, out, budget);
	}
}

/* the formatters on whatever a parser returned, however extreme */
static void dates(int64_t t, int32_t zone, struct buf *out)
{
	buf_reset(out);
	date_format_imap(t, zone, out);
	buf_reset(out);
	date_format_rfc5322(t, zone, out);
	buf_reset(out);
	date_format_from_line(t, zone, out);
	(void)date_day_number(t, zone);
}

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
	unsigned budget = 200;
	walk(body, msg, size, &out, &budget);

	size_t pos = 0, nlen, vlen;
	const char *name, *value;
	for (unsigned n = 0; n < 1000 &&
	     rfc822_header_next(msg, hsize, &pos, &name, &nlen, &value, &vlen); n++) {
		buf_reset(&out);
		rfc822_unfold(value, vlen, &out);
	}
	struct address *addrs = rfc822_parse_addresses(msg, size > 4096 ? 4096 : size);
	rfc822_free_addresses(&addrs);

	if (date_parse_rfc5322(msg, size > 200 ? 200 : size, &t, &zone))
		dates(t, zone, &out);
	if (date_parse_from_line(msg, size > 300 ? 300 : size, &t, &zone, &sender, &slen))
		dates(t, zone, &out);
	/* the IMAP forms take C strings */
	char cstr[64];
	size_t clen = size < sizeof cstr - 1 ? size : sizeof cstr - 1;
	memcpy(cstr, msg, clen);
	cstr[clen] = '\0';
	if (date_parse_imap_datetime(cstr, &t, &zone))
		dates(t, zone, &out);
	if (date_parse_imap_date(cstr, &t))
		dates(t, 0, &out);
	/* raw values, as a hostile mbx header could hand them over */
	if (size >= 12) {
		memcpy(&t, msg, 8);
		memcpy(&zone, msg + 8, 4);
		dates(t, zone, &out);
	}
	rfc822_free_envelope(&env);
	mime_free(&body);
	buf_release(&out);
	return 0;
}
