/*
 * cmd-search.c - SEARCH (with CHARSET, and ESEARCH RETURN (MIN MAX ALL
 * COUNT) of RFC 4731, SAVE and "$" of SEARCHRES, RFC 5182), SORT (with
 * ESORT's RETURN, RFC 5267) and THREAD (RFC 5256), plain and UID forms.
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
#define RET_SAVE 0x10u

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

/* "RETURN (...)" of ESEARCH (RFC 4731), ESORT (RFC 5267) and SEARCHRES
 * (RFC 5182); advances *args; false when answered */
static bool parse_return(struct client *c, struct imap_arg **args,
			 bool save_ok, unsigned *ret_r, bool *extended_r)
{
	struct imap_arg *r;
	unsigned ret = 0;

	*ret_r = 0;
	*extended_r = false;
	if (!imap_arg_is_atom(*args, "RETURN"))
		return true;
	if ((*args)[1].type != IMAP_ARG_LIST) {
		client_bad(c, "RETURN needs a list");
		return false;
	}
	for (r = (*args)[1].list; r->type != IMAP_ARG_EOL; r++) {
		if (imap_arg_is_atom(r, "MIN"))
			ret |= RET_MIN;
		else if (imap_arg_is_atom(r, "MAX"))
			ret |= RET_MAX;
		else if (imap_arg_is_atom(r, "ALL"))
			ret |= RET_ALL;
		else if (imap_arg_is_atom(r, "COUNT"))
			ret |= RET_COUNT;
		else if (save_ok && imap_arg_is_atom(r, "SAVE"))
			ret |= RET_SAVE;
		else {
			client_bad(c, "Unknown RETURN option");
			return false;
		}
	}
	if (ret == 0)
		ret = RET_ALL;
	*ret_r = ret;
	*extended_r = true;
	*args += 2;
	return true;
}

static void saved_set(struct client *c, const uint32_t *seqs, uint32_t n)
{
	free(c->saved);
	c->saved = NULL;
	c->nsaved = 0;
	if (n == 0)
		return;
	c->saved = xreallocarray(NULL, n, sizeof *c->saved);
	for (uint32_t i = 0; i < n; i++)
		c->saved[i] = c->mb->msgs[seqs[i] - 1].uid;
	c->nsaved = n;
}

/* search keys that take one argument: a "$" after them is that
 * argument, not the saved result */
static bool key_takes_arg(const struct imap_arg *a)
{
	static const char *const keys[] = { "BCC", "BEFORE", "BODY", "CC",
		"FROM", "KEYWORD", "LARGER", "ON", "SENTBEFORE", "SENTON",
		"SENTSINCE", "SINCE", "SMALLER", "SUBJECT", "TEXT", "TO",
		"UNKEYWORD", "OLDER", "YOUNGER", "HEADER" };

	if (a->type != IMAP_ARG_ATOM)
		return false;
	for (size_t i = 0; i < N_ELEMENTS(keys); i++)
		if (ascii_strcasecmp(a->str, keys[i]) == 0)
			return true;
	return false;
}

/* SEARCHRES: "$" as a search key (or "UID $") becomes the saved
 * messages: "(UID set)", or "(NOT ALL)" when nothing is saved. The new
 * strings live in *keep until the search is done. */
static void replace_dollar(struct client *c, struct imap_arg *args,
			   struct buf *keep, unsigned depth)
{
	struct imap_arg *a;

	if (depth > IMAP_ARG_MAX_DEPTH)
		return;
	for (a = args; a->type != IMAP_ARG_EOL; a++) {
		if (a->type == IMAP_ARG_LIST) {
			replace_dollar(c, a->list, keep, depth + 1);
			continue;
		}
		if (a->type != IMAP_ARG_ATOM || strcmp(a->str, "$") != 0)
			continue;
		if (a > args && (key_takes_arg(a - 1) ||
				 (a - 1 > args && imap_arg_is_atom(a - 2, "HEADER"))))
			continue;
		struct imap_arg *l = xcalloc(3, sizeof *l);
		struct buf *set = xcalloc(1, sizeof *set);
		buf_init(set, 0);
		if (c->nsaved > 0) {
			/* the saved UIDs are ascending: a valid set */
			imapd_format_uids(set, c->saved, c->nsaved);
			l[0].type = IMAP_ARG_ATOM;
			l[0].str = "UID";
			l[1].type = IMAP_ARG_ATOM;
			l[1].str = set->data;
			l[1].len = set->len;
		} else {
			l[0].type = IMAP_ARG_ATOM;
			l[0].str = "NOT";
			l[1].type = IMAP_ARG_ATOM;
			l[1].str = "ALL";
		}
		l[0].len = strlen(l[0].str);
		if (l[1].len == 0)
			l[1].len = strlen(l[1].str);
		if (a > args && imap_arg_is_atom(a - 1, "UID")) {
			/* "UID $": the UID key already names the set */
			(a - 1)->type = IMAP_ARG_ATOM;
			(a - 1)->str = "ALL";
			(a - 1)->len = 3;
		}
		a->type = IMAP_ARG_LIST;
		a->list = l;
		buf_append(keep, (const char *)&l, sizeof l);
		buf_append(keep, (const char *)&set, sizeof set);
	}
}

static void keep_free(struct buf *keep)
{
	void **p = (void **)keep->data;
	size_t n = keep->len / sizeof(void *);

	for (size_t i = 0; i < n; i += 2) {
		struct buf *set = p[i + 1];
		free(p[i]);
		buf_release(set);
		free(set);
	}
	buf_release(keep);
}

static void send_esearch(struct client *c, unsigned ret, const uint32_t *vals,
			 uint32_t n)
{
	struct buf out;

	buf_init(&out, 0);
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
	client_untagged(c, "%s", out.data);
	buf_release(&out);
}

void cmd_search(struct client *c, struct imap_arg *args)
{
	unsigned ret = 0;
	bool esearch = false, ok;
	const char *charset;
	uint32_t *seqs = NULL, n = 0, i, *vals;
	struct buf out, keep;

	if (!parse_return(c, &args, true, &ret, &esearch))
		return;
	if (!parse_charset(c, &args, &charset, false)) {
		if (ret & RET_SAVE)	/* RFC 5182 2.1: a failed SAVE empties */
			saved_set(c, NULL, 0);
		return;
	}
	buf_init(&keep, 0);
	replace_dollar(c, args, &keep, 0);
	ok = run_search(c, args, charset, &seqs, &n);
	keep_free(&keep);
	if (!ok) {
		if (ret & RET_SAVE)
			saved_set(c, NULL, 0);
		return;
	}
	if (ret & RET_SAVE) {
		/* RFC 5182 2.4: with only MIN and/or MAX, just those */
		if ((ret & (RET_ALL | RET_COUNT)) == 0 &&
		    (ret & (RET_MIN | RET_MAX)) != 0 && n > 0) {
			uint32_t mm[2], k = 0;
			if (ret & RET_MIN)
				mm[k++] = seqs[0];
			if ((ret & RET_MAX) && (k == 0 || seqs[n - 1] != mm[0]))
				mm[k++] = seqs[n - 1];
			saved_set(c, mm, k);
		} else {
			saved_set(c, seqs, n);
		}
	}
	vals = xreallocarray(NULL, n ? n : 1, sizeof *vals);
	for (i = 0; i < n; i++)
		vals[i] = result_value(c, seqs[i]);
	if (!esearch) {
		buf_init(&out, 0);
		buf_puts(&out, "SEARCH");
		for (i = 0; i < n; i++)
			buf_printf(&out, " %u", vals[i]);
		client_untagged(c, "%s", out.data);
		buf_release(&out);
	} else if ((ret & ~RET_SAVE) != 0) {
		/* SAVE alone: no ESEARCH response (RFC 5182 2.4) */
		send_esearch(c, ret, vals, n);
	}
	free(vals);
	free(seqs);
	client_ok(c, "%sSEARCH completed", c->uid ? "UID " : "");
}

void cmd_sort(struct client *c, struct imap_arg *args)
{
	struct imap_arg *crit;
	const char *charset, *error = NULL;
	uint32_t *seqs = NULL, n = 0, i, *vals;
	struct buf out, canon, keep;
	unsigned ret = 0;
	bool esort = false, ok;

	/* ESORT (RFC 5267): SORT RETURN (MIN MAX ALL COUNT) ... */
	if (!parse_return(c, &args, false, &ret, &esort))
		return;
	crit = &args[0];
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
	buf_init(&keep, 0);
	replace_dollar(c, args, &keep, 0);
	ok = run_search(c, args, charset, &seqs, &n);
	keep_free(&keep);
	if (!ok)
		return;
	if (!sort_messages(c->mb, crit->list, seqs, n, &error)) {
		free(seqs);
		client_bad(c, "%s", error != NULL ? error : "Bad sort criteria");
		return;
	}
	if (esort) {
		/* MIN and MAX: the first and last in the sort order; ALL in
		 * that order (only ascending runs become ranges) */
		vals = xreallocarray(NULL, n ? n : 1, sizeof *vals);
		for (i = 0; i < n; i++)
			vals[i] = result_value(c, seqs[i]);
		send_esearch(c, ret, vals, n);
		free(vals);
	} else {
		buf_init(&out, 0);
		buf_puts(&out, "SORT");
		for (i = 0; i < n; i++)
			buf_printf(&out, " %u", result_value(c, seqs[i]));
		client_untagged(c, "%s", out.data);
		buf_release(&out);
	}
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
