/*
 * search.h - IMAP SEARCH (RFC 3501 6.4.4, ESEARCH RFC 4731, WITHIN RFC
 * 5032), SORT and THREAD (RFC 5256). Used by imapd and by mailutil prune.
 *
 * Matching decodes MIME (base64, quoted-printable, charsets) and RFC 2047
 * before comparing; comparison is case-insensitive on UTF-8.
 */
#ifndef CC_SEARCH_H
#define CC_SEARCH_H

#include "imap-arg.h"
#include "mail.h"

struct search_key;		/* a parsed program */

enum search_error {
	SEARCH_OK = 0,
	SEARCH_BAD,		/* syntax: tagged BAD */
	SEARCH_BADCHARSET,	/* NO [BADCHARSET (...)] */
};

/* Parse criteria. args points at the first search key (the caller has
 * already consumed "CHARSET x" and any RETURN options and passes the
 * charset, NULL = US-ASCII; an unknown one gives SEARCH_BADCHARSET).
 * Sequence sets are UIDs only after the "UID" key; the plain set form is
 * always message sequence numbers; "*" is resolved at match time. "$"
 * (SEARCHRES) is not supported: SEARCH_BAD. Nesting deeper than 64
 * (NOT/OR/parentheses) is SEARCH_BAD. */
struct search_key *search_parse(const struct imap_arg *args,
				const char *charset, enum search_error *err_r,
				const char **error_r);
void search_free(struct search_key **k);
/* does message seq (1-based) match? may read the message */
bool search_match(struct mailbox *mb, uint32_t seq, const struct search_key *k);
/* run over the whole mailbox: fills seqs_r (malloc'd, ascending, free()
 * it; may be NULL when the mailbox is empty); MSTATE_EXPUNGED messages
 * never match */
uint32_t search_run(struct mailbox *mb, const struct search_key *k,
		    uint32_t **seqs_r);
/* The text of message seq (1-based) for SEARCH, SORT and THREAD. Goes to
 * the driver directly (not mail_fetch) so that they depend only on the
 * driver interface and can be unit-tested with an in-memory driver.
 * As mail_fetch: a driver's fetch may move mb->msgs (see mail.h). */
int search_fetch_msg(struct mailbox *mb, uint32_t seq, enum mail_part part,
		     struct buf *out, const char **error_r);

/* SORT: criteria like "REVERSE ARRIVAL SUBJECT" already tokenized (the
 * children of the parenthesized list, or the list argument itself);
 * also DISPLAYFROM/DISPLAYTO (RFC 5957). Sorts seqs[n] in place; ties
 * by sequence number; false on a bad criterion. */
bool sort_parse(const struct imap_arg *args, struct buf *canonical_r,
		const char **error_r);
bool sort_messages(struct mailbox *mb, const struct imap_arg *criteria,
		   uint32_t *seqs, uint32_t n, const char **error_r);

/* THREAD: algorithm "ORDEREDSUBJECT" or "REFERENCES"; appends the
 * RFC 5256 thread response body (e.g. "(2)(3 6 (4 23)(44 7 96))") using
 * sequence numbers, or UIDs when use_uid. false for unknown algorithm. */
bool thread_messages(struct mailbox *mb, const char *algorithm,
		     const uint32_t *seqs, uint32_t n, bool use_uid,
		     struct buf *out, const char **error_r);

#endif
