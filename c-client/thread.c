/*
 * thread.c - IMAP THREAD (RFC 5256) (skeleton).
 */
#include "search.h"

bool thread_messages(struct mailbox *mb, const char *algorithm,
		     const uint32_t *seqs, uint32_t n, bool use_uid,
		     struct buf *out, const char **error_r)
{
	*error_r = "THREAD not implemented yet";
	return false;
}
