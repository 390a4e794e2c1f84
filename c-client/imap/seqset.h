/*
 * seqset.h - IMAP sequence sets ("1:4,7,9:*", "$" handled by the caller).
 *
 * Parsed into sorted, merged ranges; "*" is kept symbolic and resolved
 * against the current maximum at use time, so "1:4294967295" costs two
 * numbers, never a loop over the range.
 */
#ifndef CC_SEQSET_H
#define CC_SEQSET_H

#include "util.h"

/* "*" is 0, which no sequence number or UID can be: 4294967295 is a
 * number like any other (RFC 3501 9: "*" is the largest one in use, so
 * "UID 7:4294967295" past the last UID matches nothing, "7:*" the last) */
#define SEQ_STAR 0u

struct seq_range {
	uint32_t lo, hi;	/* lo <= hi after resolution */
};

struct seqset {
	struct seq_range *r;
	unsigned n;
};

/* parse; false on syntax error (0 is invalid, as are empty elements) */
bool seqset_parse(const char *s, struct seqset *set);
void seqset_free(struct seqset *set);
/* replace SEQ_STAR by max, order each range, sort and merge */
void seqset_resolve(struct seqset *set, uint32_t max);
bool seqset_contains(const struct seqset *set, uint32_t n);
/* format compactly ("1:3,5") into a malloc'd string */
char *seqset_format(const struct seqset *set);
void seqset_add(struct seqset *set, uint32_t lo, uint32_t hi);

#endif
