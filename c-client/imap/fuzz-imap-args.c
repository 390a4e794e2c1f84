/* fuzz-imap-args.c - libFuzzer harness: IMAP argument tokenizer, sequence
 * sets and the SEARCH/SORT criteria parsers on hostile command text. */
#include <stdlib.h>

#include "imap-arg.h"
#include "search.h"
#include "seqset.h"
#include "buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *err = NULL;
	struct imap_args *a = imap_args_parse((const char *)data, size, &err);
	struct imap_arg *arg;
	enum search_error serr;
	struct search_key *k;
	struct buf canon;

	if (a == NULL)
		return 0;
	arg = imap_args_get(a);
	if (arg[0].type == IMAP_ARG_ATOM) {
		struct seqset set;
		if (seqset_parse(arg[0].str, &set)) {
			seqset_resolve(&set, 1000);
			(void)seqset_contains(&set, 7);
			free(seqset_format(&set));
			seqset_free(&set);
		}
	}
	k = search_parse(arg, "UTF-8", &serr, &err);
	search_free(&k);
	buf_init(&canon, 0);
	if (arg[0].type == IMAP_ARG_LIST)
		(void)sort_parse(arg[0].list, &canon, &err);
	buf_release(&canon);
	imap_args_free(&a);
	return 0;
}
