/*
 * sort.c - IMAP SORT (RFC 5256) (skeleton).
 */
#include "search.h"

bool sort_parse(const struct imap_arg *args, struct buf *canonical_r,
		const char **error_r)
{
	*error_r = "SORT not implemented yet";
	return false;
}

bool sort_messages(struct mailbox *mb, const struct imap_arg *criteria,
		   uint32_t *seqs, uint32_t n, const char **error_r)
{
	*error_r = "SORT not implemented yet";
	return false;
}
