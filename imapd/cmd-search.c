/*
 * cmd-search.c - SEARCH (with CHARSET, and ESEARCH RETURN (MIN MAX ALL
 * COUNT) of RFC 4731), SORT and THREAD (RFC 5256), plain and UID forms.
 * Matching, sorting and threading are search.h's; this file is syntax
 * and responses.
 */
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "search.h"
#include "imapd.h"

#define RET_MIN 0x01u
#define RET_MAX 0x02u
#define RET_ALL 0x04u
#define RET_COUNT 0x08u

/* "CHARSET x": returns the charset (NULL: default) and advances *args;
 * false (answered) for an unknown charset */
static bool parse_charset(struct client *c, struct imap_arg **args,
			  const char **charset_r, bool required)
{
	const char *cs;

	*charset_r = NULL;
	if (required) {
		cs = imap_arg_string(*args);
		if (cs == NULL) {
			client_bad(c, "Missing charset");
			return false;
		}
		(*args)++;
	} else if (imap_arg_is_atom(*args, "CHARSET")) {
		cs = imap_arg_string(*args + 1);
		if (cs == NULL) {
			client_bad(c, "Missing charset");
			return false;
		}
		*args += 2;
	} else {
		return true;
	}
	if (!charset_known(cs)) {
		client_no(c, "[BADCHARSET (US-ASCII UTF-8)] Unknown charset");
		return false;
	}
	*charset_r = cs;
	return true;
}

/* parse keys and run; false when answered */
static bool run_search(struct client *c, struct imap_arg *args,
		       const char *charset, uint32_t **seqs_r, uint32_t *n_r)
{
	struct search_key *k;
	enum search_error err = SEARCH_OK;
	const char *error = NULL;

	if (args[0].type == IMAP_ARG_EOL) {
		client_bad(c, "Missing search criteria");
		return false;
	}
	k = search_parse(args, charset, &err, &error);
	if (k == NULL) {
		if (err == SEARCH_BADCHARSET)
			client_no(c, "[BADCHARSET (US-ASCII UTF-8)] %s",
				  error != NULL ? error : "Unknown charset");
		else
			client_bad(c, "%s", error != NULL ? error :
				   "Invalid search criteria");
		return false;
	}
	*n_r = search_run(c->mb, k, seqs_r);
	search_free(&k);
	/* messages the client has not been told about yet stay invisible */
	while (*n_r > 0 && (*seqs_r)[*n_r - 1] > c->exists)
		(*n_r)--;
	return true;
}

static uint32_t result_value(struct client *c, uint32_t seq)
{
	return c->uid ? c->mb->msgs[seq - 1].uid : seq;
}

void cmd_search(struct client *c, struct imap_arg *args)
{
	unsigned ret = 0;
	bool esearch = false;
	const char *charset;
	uint32_t *seqs = NULL, n = 0, i, *vals;
	struct buf out;

	if (imap_arg_is_atom(&args[0], "RETURN")) {
		struct imap_arg *r;
		if (args[1].type != IMAP_ARG_LIST) {
			client_bad(c, "RETURN needs a list");
			return;
		}
		esearch = true;
		for (r = args[1].list; r->type != IMAP_ARG_EOL; r++) {
			if (imap_arg_is_atom(r, "MIN"))
				ret |= RET_MIN;
			else if (imap_arg_is_atom(r, "MAX"))
				ret |= RET_MAX;
			else if (imap_arg_is_atom(r, "ALL"))
				ret |= RET_ALL;
			else if (imap_arg_is_atom(r, "COUNT"))
				ret |= RET_COUNT;
			else {
				client_bad(c, "Unknown RETURN option");
				return;
			}
		}
		if (ret == 0)
			ret = RET_ALL;
		args += 2;
	}
	if (!parse_charset(c, &args, &charset, false))
		return;
	if (!run_search(c, args, charset, &seqs, &n))
		return;
	vals = xreallocarray(NULL, n ? n : 1, sizeof *vals);
	for (i = 0; i < n; i++)
		vals[i] = result_value(c, seqs[i]);
	buf_init(&out, 0);
	if (!esearch) {
		buf_puts(&out, "SEARCH");
		for (i = 0; i < n; i++)
			buf_printf(&out, " %u", vals[i]);
	} else {
		buf_puts(&out, "ESEARCH (TAG ");
		imap_append_string(&out, c->tag, strlen(c->tag));
		buf_putc(&out, ')');
		if (c->uid)
			buf_puts(&out, " UID");
		if ((ret & RET_MIN) && n > 0)
			buf_printf(&out, " MIN %u", vals[0]);
		if ((ret & RET_MAX) && n > 0)
			buf_printf(&out, " MAX %u", vals[n - 1]);
		if ((ret & RET_ALL) && n > 0) {
			buf_puts(&out, " ALL ");
			imapd_format_uids(&out, vals, n);
		}
		if (ret & RET_COUNT)
			buf_printf(&out, " COUNT %u", n);
	}
	client_untagged(c, "%s", out.data);
	buf_release(&out);
	free(vals);
	free(seqs);
	client_ok(c, "%sSEARCH completed", c->uid ? "UID " : "");
}

void cmd_sort(struct client *c, struct imap_arg *args)
{
	struct imap_arg *crit = &args[0];
	const char *charset, *error = NULL;
	uint32_t *seqs = NULL, n = 0, i;
	struct buf out, canon;

	if (crit->type != IMAP_ARG_LIST || crit->list[0].type == IMAP_ARG_EOL) {
		client_bad(c, "SORT (criteria) charset search-keys");
		return;
	}
	buf_init(&canon, 0);
	if (!sort_parse(crit->list, &canon, &error)) {
		buf_release(&canon);
		client_bad(c, "%s", error != NULL ? error : "Bad sort criteria");
		return;
	}
	buf_release(&canon);
	args++;
	if (!parse_charset(c, &args, &charset, true))
		return;
	if (!run_search(c, args, charset, &seqs, &n))
		return;
	if (!sort_messages(c->mb, crit->list, seqs, n, &error)) {
		free(seqs);
		client_bad(c, "%s", error != NULL ? error : "Bad sort criteria");
		return;
	}
	buf_init(&out, 0);
	buf_puts(&out, "SORT");
	for (i = 0; i < n; i++)
		buf_printf(&out, " %u", result_value(c, seqs[i]));
	client_untagged(c, "%s", out.data);
	buf_release(&out);
	free(seqs);
	client_ok(c, "%sSORT completed", c->uid ? "UID " : "");
}

void cmd_thread(struct client *c, struct imap_arg *args)
{
	const char *alg = args[0].type == IMAP_ARG_ATOM ? args[0].str : NULL;
	const char *charset, *error = NULL;
	uint32_t *seqs = NULL, n = 0;
	struct buf out;

	if (alg == NULL) {
		client_bad(c, "THREAD algorithm charset search-keys");
		return;
	}
	if (ascii_strcasecmp(alg, "ORDEREDSUBJECT") != 0 &&
	    ascii_strcasecmp(alg, "REFERENCES") != 0) {
		client_bad(c, "Unknown THREAD algorithm");
		return;
	}
	args++;
	if (!parse_charset(c, &args, &charset, true))
		return;
	if (!run_search(c, args, charset, &seqs, &n))
		return;
	buf_init(&out, 0);
	buf_puts(&out, "THREAD ");
	if (!thread_messages(c->mb, alg, seqs, n, c->uid, &out, &error)) {
		free(seqs);
		buf_release(&out);
		client_bad(c, "%s", error != NULL ? error : "THREAD failed");
		return;
	}
	/* "* THREAD" with no threads has no trailing space */
	if (out.len == 7)
		buf_truncate(&out, 6);
	client_untagged(c, "%s", out.data);
	buf_release(&out);
	free(seqs);
	client_ok(c, "%sTHREAD completed", c->uid ? "UID " : "");
}
