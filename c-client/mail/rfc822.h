/*
 * rfc822.h - RFC 5322 header access and envelope extraction.
 *
 * Input is hostile: headers may be folded, duplicated, malformed, 8-bit,
 * contain NULs or lone CRs, and be megabytes long. Every function takes an
 * explicit length and never reads past it. Header text is the CRLF form a
 * client sees (LF alone is also accepted as a line end).
 */
#ifndef CC_RFC822_H
#define CC_RFC822_H

#include "buf.h"

/* An address list in IMAP's model. A group is a start entry with
 * mailbox = group name and host = NULL, its members, then an end entry
 * with mailbox = NULL and host = NULL. Strings are raw (undecoded
 * RFC 2047), NULL when absent. adl is a source route "@a,@b" or NULL. */
/* host of an address that has none ("To: postmaster"), as UW does: a
 * NULL host would make it a group marker */
#define RFC822_MISSING_HOST ".MISSING-HOST-NAME."

struct address {
	char *personal;
	char *adl;
	char *mailbox;
	char *host;
	struct address *next;
};

struct envelope {
	char *date;		/* raw field values, unfolded, or NULL */
	char *subject;
	struct address *from;
	struct address *sender;	 /* IMAP: defaults to from when absent */
	struct address *reply_to; /* IMAP: defaults to from when absent */
	struct address *to;
	struct address *cc;
	struct address *bcc;
	char *in_reply_to;
	char *message_id;
};

/* Iterate header fields. *pos starts at 0. Returns false at the end of
 * the header (blank line or len). name/value point into hdr; value is
 * the raw (still folded) field body, without the final CRLF. */
bool rfc822_header_next(const char *hdr, size_t len, size_t *pos,
			const char **name_r, size_t *name_len_r,
			const char **value_r, size_t *value_len_r);
/* first field with that name (case-insensitive), unfolded into out
 * (reset first); false if none */
bool rfc822_header_get(const char *hdr, size_t len, const char *name,
		       struct buf *out);
/* size of the header including the blank line (or len if none) */
size_t rfc822_header_size(const char *msg, size_t len);
/* HEADER.FIELDS / HEADER.FIELDS.NOT: append the matching (not matching
 * when invert) fields, in their original form, plus the final CRLF */
void rfc822_header_fields(const char *hdr, size_t len,
			  const char *const *names, unsigned nnames,
			  bool invert, struct buf *out);
/* unfold: remove CRLF/LF followed by WSP (keep the WSP) */
void rfc822_unfold(const char *s, size_t len, struct buf *out);

/* parse an address list field value (RFC 5322 with obsolete forms);
 * never fails: unparseable text becomes a best-effort address. Quoted
 * local parts and personal names are unquoted; a trailing comment
 * "a@b (Name)" becomes the personal name; "<>" gives mailbox "" and
 * host ""; a bare name gets host RFC822_MISSING_HOST; an unterminated
 * group is closed. Header strings may hold raw 8-bit bytes and lone CRs
 * (kept, unlike UW): format them as literals when not quotable. */
struct address *rfc822_parse_addresses(const char *s, size_t len);
void rfc822_free_addresses(struct address **a);

/* first occurrence of each field; sender/reply_to are COPIES of from
 * when absent or empty (free the envelope only with the function below) */
struct envelope *rfc822_parse_envelope(const char *hdr, size_t len);
void rfc822_free_envelope(struct envelope **env);

/* normalized base subject for SORT/THREAD (RFC 5256 section 2.1):
 * decoded to UTF-8, re:/fwd:/[blob]/(fwd) removed, whitespace folded */
void rfc822_base_subject(const char *subject, size_t len, struct buf *out);

#endif
