/*
 * search.c - IMAP SEARCH program parsing and matching (skeleton).
 */
#include "search.h"

struct search_key *search_parse(const struct imap_arg *args,
				const char *charset, enum search_error *err_r,
				const char **error_r)
{
	*err_r = SEARCH_BAD;
	*error_r = "SEARCH not implemented yet";
	return NULL;
}

void search_free(struct search_key **k)
{
	*k = NULL;
}

bool search_match(struct mailbox *mb, uint32_t seq, const struct search_key *k)
{
	return false;
}

uint32_t search_run(struct mailbox *mb, const struct search_key *k,
		    uint32_t **seqs_r)
{
	*seqs_r = NULL;
	return 0;
}
