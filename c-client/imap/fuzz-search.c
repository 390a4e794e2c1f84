/* fuzz-search.c - libFuzzer harness: SEARCH matching, SORT and THREAD
 * over hostile messages in an in-memory mailbox (no driver, no files).
 *
 * Input: line 1 is the search criteria, line 2 the sort criteria (a
 * parenthesized list), the rest up to 16 messages separated by a line
 * holding only "." ("\n.\n"), served as given (no CRLF fix-up: the
 * matchers must survive bare LFs and lone CRs too). */
#include <stdlib.h>
#include <string.h>

#include "imap-arg.h"
#include "memdriver.h"
#include "search.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_MSGS 16

/* next line of data[*pos..size) (without its LF) */
static const char *next_line(const uint8_t *data, size_t size, size_t *pos,
			     size_t *len_r)
{
	const char *start = (const char *)data + *pos;
	const uint8_t *nl = memchr(data + *pos, '\n', size - *pos);
	size_t end = nl != NULL ? (size_t)(nl - data) : size;

	*len_r = end - *pos;
	*pos = nl != NULL ? end + 1 : size;
	return start;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char kw1[] = "$Junk", kw2[] = "foo";
	struct mailbox *mb;
	struct imap_args *crit, *sortcrit;
	const char *err = NULL, *line;
	enum search_error serr;
	struct search_key *k = NULL;
	uint32_t seqs[MAX_MSGS], *found = NULL;
	size_t pos = 0, len;
	struct buf out;

	line = next_line(data, size, &pos, &len);
	crit = imap_args_parse(line, len, &err);
	line = next_line(data, size, &pos, &len);
	sortcrit = imap_args_parse(line, len, &err);

	mb = memdriver_new();
	mb->keywords[0] = xstrdup(kw1);
	mb->keywords[1] = xstrdup(kw2);
	mb->nkeywords = 2;
	while (pos < size && mb->count < MAX_MSGS) {
		const char *t = (const char *)data + pos;
		const char *sep = memmem(t, size - pos, "\n.\n", 3);
		size_t n = sep != NULL ? (size_t)(sep - t) + 1 : size - pos;
		uint32_t i = mb->count;
		/* served as given: no CRLF fix-up */
		struct mail_message *m = memdriver_add(mb, t, n, false,
						       i * 3 + 1, 0);

		m->flags = (i * 7) & (MAIL_SYSFLAGS | MAIL_RECENT);
		m->keywords = i & 3;
		m->internaldate = (int64_t)i * 86400 * 97 - 86400;
		m->zone = (int32_t)(i % 5) * 60 - 120;
		pos += n + (sep != NULL ? 2 : 0);
		seqs[i] = mb->count - i;	/* descending: sort must order */
	}
	mb->uidnext = mb->count * 3 + 1;

	if (crit != NULL) {
		k = search_parse(imap_args_get(crit), "UTF-8", &serr, &err);
		if (k != NULL) {
			(void)search_run(mb, k, &found);
			free(found);
			for (uint32_t s = 1; s <= mb->count; s++)
				(void)search_match(mb, s, k);
		}
		search_free(&k);
	}
	buf_init(&out, 0);
	if (sortcrit != NULL) {
		const struct imap_arg *a = imap_args_get(sortcrit);
		if (a[0].type == IMAP_ARG_LIST) {
			(void)sort_parse(a[0].list, &out, &err);
			(void)sort_messages(mb, a[0].list, seqs, mb->count, &err);
		}
	}
	for (uint32_t i = 0; i < mb->count; i++)
		seqs[i] = i + 1;
	buf_reset(&out);
	(void)thread_messages(mb, "REFERENCES", seqs, mb->count,
			      size % 2 == 0, &out, &err);
	buf_reset(&out);
	(void)thread_messages(mb, "ORDEREDSUBJECT", seqs, mb->count,
			      size % 2 != 0, &out, &err);
	buf_release(&out);
	for (uint32_t i = 0; i < mb->count; i++)
		if (mb->msgs[i].cache != NULL && mail_cache_free != NULL)
			mail_cache_free(mb->msgs[i].cache);
	memdriver_free(&mb);
	imap_args_free(&crit);
	imap_args_free(&sortcrit);
	return 0;
}
