/*
 * mime.h - RFC 2045-2049 MIME structure of a message.
 *
 * mime_parse() never fails: missing or broken boundaries, bad headers and
 * absurd nesting produce a best-effort structure (nesting is capped at
 * MIME_MAX_DEPTH; deeper parts are treated as opaque). Offsets are into
 * the CRLF message text given to mime_parse().
 */
#ifndef CC_MIME_H
#define CC_MIME_H

#include "rfc822.h"

#define MIME_MAX_DEPTH 50
#define MIME_MAX_PARTS 10000	/* total parts in one message */

struct mime_param {
	char *attr;		/* as in the message */
	char *value;		/* unquoted; RFC 2231 continuations joined */
	struct mime_param *next;
};

struct mime_body {
	char *type;		/* upper-case, e.g. "TEXT"; default "TEXT" */
	char *subtype;		/* upper-case, e.g. "PLAIN" */
	struct mime_param *params;	/* Content-Type parameters */
	char *id;		/* Content-ID or NULL */
	char *description;	/* Content-Description or NULL */
	char *encoding;		/* upper-case; default "7BIT" */
	char *md5;		/* Content-MD5 or NULL */
	char *disposition;	/* Content-Disposition type or NULL */
	struct mime_param *disp_params;
	char *language;		/* Content-Language raw, or NULL */
	char *location;		/* Content-Location or NULL */

	/* where this part is in the message text */
	uint64_t hdr_off;	/* MIME header of this part */
	uint64_t hdr_size;	/* including its blank line */
	uint64_t body_off;	/* body of this part */
	uint64_t body_size;	/* octets */
	uint64_t lines;		/* body lines (TEXT and MESSAGE/RFC822) */

	struct mime_body *parts;	/* multipart: first child */
	struct mime_body *next;		/* next sibling */
	/* message/rfc822 (and message/global): the encapsulated message */
	struct envelope *msg_env;
	struct mime_body *msg_body;
};

/*
 * Guarantees of the tree mime_parse() returns (what the IMAP grammar
 * needs, so front ends need no special cases):
 * - every MULTIPART has at least one part: one without a usable boundary
 *   (none, never found, or nested deeper than MIME_MAX_DEPTH) gets a
 *   single TEXT/PLAIN child with hdr_size 0 covering its whole body;
 * - every MESSAGE/RFC822 (and MESSAGE/GLOBAL) has msg_env and msg_body;
 *   msg_body's header is the encapsulated message's header, so for part
 *   N: N.MIME = hdr_off/hdr_size of N, N.HEADER = msg_body's hdr_*,
 *   N.TEXT = msg_body's body_*;
 * - a part's body excludes the line break before the next delimiter
 *   (RFC 2046), and lines counts its LFs (as UW does);
 * - TEXT parts with no parameters at all get CHARSET=US-ASCII;
 * - a missing subtype gets UW's default (TEXT/PLAIN, MULTIPART/MIXED,
 *   MESSAGE/RFC822, APPLICATION/OCTET-STREAM, AUDIO/BASIC, else UNKNOWN);
 * - parameter attributes are as written (UW upper-cases them on output:
 *   do that when formatting); duplicates: the first wins; disposition is
 *   the type as written (not upper-cased);
 * - strings are NUL-terminated C strings (a NUL in the input ends them).
 */

/* parse the whole message (header + body) */
struct mime_body *mime_parse(const char *msg, size_t len);
void mime_free(struct mime_body **b);
const char *mime_param_get(const struct mime_param *p, const char *attr);

/* find a part by IMAP section number "1.2.3" (numbers only, no
 * HEADER/TEXT/MIME suffix). For a non-multipart message, part 1 is the
 * body itself. Into a message/rfc822 part, numbers continue into the
 * encapsulated message's body. NULL if no such part. */
const struct mime_body *mime_find_part(const struct mime_body *root,
				       const uint32_t *nums, unsigned n);

/* decode a body part's Content-Transfer-Encoding (base64,
 * quoted-printable; others copied). false if the encoding is unknown
 * (BINARY extension: UNKNOWN-CTE) */
bool mime_decode_cte(const char *encoding, const char *in, size_t len,
		     struct buf *out);

#endif
