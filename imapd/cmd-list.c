/*
 * cmd-list.c - LIST-EXTENDED (RFC 5258) and LIST-STATUS (RFC 5819):
 * LIST (selection options) reference (patterns) RETURN (return options).
 *
 * Selection options SUBSCRIBED, REMOTE (we have no remote mailboxes
 * to add) and RECURSIVEMATCH (with SUBSCRIBED: a matched parent of a
 * subscribed name the patterns miss is returned with CHILDINFO); return
 * options SUBSCRIBED, CHILDREN (always given anyway) and STATUS (items);
 * SPECIAL-USE (RFC 6154) as a selection option (only mailboxes with a
 * use) and a return option (the uses are always shown).
 * Names come from mail_list() once per pattern, merged so each is
 * reported once, and from the subscription list; \NonExistent marks a
 * subscribed name that is not there. Plain LIST stays in cmd-mailbox.c.
 *
 * SECURITY: patterns are user input and walk the file system through
 * mail_list()'s bounded walk; the number of patterns and every name
 * array are bounded.
 */
#include <stdlib.h>
#include <string.h>

#include "mailname.h"
#include "imapd.h"

#define LIST_MAX_PATTERNS	64
#define LIST_MAX_NAMES		(MAIL_LIST_MAX_ENTRIES + MAIL_SUBS_MAX)

#define X_SUBSCRIBED	0x10000u
#define X_NONEXISTENT	0x20000u
#define X_CHILDINFO	0x40000u	/* a subscribed descendant (RFC 5258 3.5) */

struct lentry {
	char *name;
	unsigned attrs;
};

struct lset {
	struct lentry *v;
	size_t n, cap;
	bool anonymous, full;
	struct client *c;	/* for MAILBOX-REFERRALS; NULL: no filter */
};

/* as plain LIST: a name another backend owns (RFC 2193) is left out */
static bool name_remote(struct client *c, const char *name)
{
	return c != NULL && *name != '\0' && imapd_referrals_enabled() &&
		imapd_mailbox_remote(c, name);
}

static void lset_add(struct lset *s, const char *name, unsigned attrs)
{
	if (s->n == s->cap) {
		if (s->cap >= LIST_MAX_NAMES) {
			s->full = true;
			return;
		}
		s->cap = s->cap == 0 ? 64 : s->cap * 2;
		s->v = xrealloc(s->v, s->cap * sizeof *s->v);
	}
	s->v[s->n].name = xstrdup(name);
	s->v[s->n].attrs = attrs;
	s->n++;
}

static int lentry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct lentry *)a)->name,
		      ((const struct lentry *)b)->name);
}

/* sort and merge duplicates (a name matched by two patterns) */
static void lset_sort(struct lset *s)
{
	size_t i, o = 0;

	if (s->n == 0)
		return;
	qsort(s->v, s->n, sizeof *s->v, lentry_cmp);
	for (i = 1; i < s->n; i++) {
		if (strcmp(s->v[o].name, s->v[i].name) == 0) {
			s->v[o].attrs |= s->v[i].attrs;
			free(s->v[i].name);
		} else {
			s->v[++o] = s->v[i];
		}
	}
	s->n = o + 1;
}

static struct lentry *lset_find(struct lset *s, const char *name)
{
	struct lentry key = { .name = (char *)name };

	if (s->n == 0)
		return NULL;
	return bsearch(&key, s->v, s->n, sizeof *s->v, lentry_cmp);
}

static void lset_free(struct lset *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i].name);
	free(s->v);
	memset(s, 0, sizeof *s);
}

static void list_collect_cb(void *ctx, const char *name, unsigned attrs)
{
	struct lset *s = ctx;

	/* as plain LIST: anonymous users see the public namespaces only */
	if (s->anonymous && *name != '\0' &&
	    ascii_strncasecmp(name, "#public/", 8) != 0 &&
	    ascii_strncasecmp(name, "#ftp/", 5) != 0)
		return;
	if (name_remote(s->c, name))
		return;
	lset_add(s, name, attrs);
}

/* ref and pattern combined as mail_list() does */
static char *combine(const char *ref, const char *pattern)
{
	if (pattern[0] == '#' || pattern[0] == '~' || pattern[0] == '/')
		return xstrdup(pattern);
	return xasprintf("%s%s", ref, pattern);
}

static bool any_match(char **pats, unsigned npats, const char *name)
{
	for (unsigned i = 0; i < npats; i++)
		if (mail_list_match(pats[i], name))
			return true;
	return false;
}

static void send_entry(struct client *c, const struct lentry *e,
		       const struct imap_arg *status_items,
		       const struct special_uses *uses, bool only_special)
{
	unsigned use = (e->attrs & X_NONEXISTENT) ? 0 :
		special_use_of(uses, e->name);
	static const struct { unsigned bit; const char *name; } names[] = {
		{ X_NONEXISTENT, "\\NonExistent" },
		{ MAIL_LIST_NOSELECT, "\\Noselect" },
		{ MAIL_LIST_NOINFERIORS, "\\NoInferiors" },
		{ MAIL_LIST_HASCHILDREN, "\\HasChildren" },
		{ MAIL_LIST_HASNOCHILDREN, "\\HasNoChildren" },
		{ MAIL_LIST_MARKED, "\\Marked" },
		{ MAIL_LIST_UNMARKED, "\\Unmarked" },
		{ X_SUBSCRIBED, "\\Subscribed" },
	};
	unsigned attrs = e->attrs;
	struct buf line;
	bool first = true;
	const char *error;

	/* RFC 6154 selection option SPECIAL-USE */
	if (only_special && use == 0)
		return;

	/* \NonExistent implies \Noselect and says more (RFC 5258 3) */
	if (attrs & X_NONEXISTENT)
		attrs &= ~(unsigned)(MAIL_LIST_NOSELECT | MAIL_LIST_MARKED |
				     MAIL_LIST_UNMARKED);
	buf_init(&line, 0);
	buf_puts(&line, "LIST (");
	for (size_t i = 0; i < N_ELEMENTS(names); i++) {
		if ((attrs & names[i].bit) == 0)
			continue;
		if (!first)
			buf_putc(&line, ' ');
		buf_puts(&line, names[i].name);
		first = false;
	}
	special_use_format(use, &line, &first);
	buf_puts(&line, ") \"/\" ");
	imap_append_astring(&line, e->name);
	if (attrs & X_CHILDINFO)
		buf_puts(&line, " (\"CHILDINFO\" (\"SUBSCRIBED\"))");
	client_untagged(c, "%s", line.data);
	buf_release(&line);
	/* RFC 5819: a STATUS after the LIST of each selectable mailbox; one
	 * that cannot be opened is just left out */
	if (status_items != NULL &&
	    (attrs & (MAIL_LIST_NOSELECT | X_NONEXISTENT)) == 0)
		(void)imapd_status_send(c, e->name, status_items, &error);
}

/* ancestors of name ("a/b/c": "a/b", "a") that match a pattern and are
 * not themselves in the result get added with CHILDINFO; those that are
 * get the flag */
static void add_parents(struct lset *res, struct lset *all, char **pats,
			unsigned npats, struct lset *subs, const char *name)
{
	char *p = xstrdup(name), *slash;
	struct lentry *e;

	while ((slash = strrchr(p, '/')) != NULL) {
		*slash = '\0';
		if (*p == '\0' || !any_match(pats, npats, p))
			continue;
		e = lset_find(all, p);
		lset_add(res, p, X_CHILDINFO |
			 (e != NULL ? e->attrs : X_NONEXISTENT) |
			 (lset_find(subs, p) != NULL ? X_SUBSCRIBED : 0));
	}
	free(p);
}

void imapd_list_extended(struct client *c, struct imap_arg *args)
{
	bool sel_subscribed = false, recursive = false, sel_special = false;
	struct special_uses uses;
	bool ret_subscribed = false, ret_status = false;
	const struct imap_arg *status_items = NULL, *a = args, *pl;
	const char *ref, *pattern_strs[LIST_MAX_PATTERNS], *error = NULL;
	char *pats[LIST_MAX_PATTERNS], **subnames = NULL;
	unsigned npats = 0, i;
	struct lset all, subs, res;
	size_t k, total = 0;
	int failed = 0;

	memset(&all, 0, sizeof all);
	memset(&subs, 0, sizeof subs);
	memset(&res, 0, sizeof res);
	memset(&uses, 0, sizeof uses);
	all.anonymous = c->anonymous;
	all.c = c;
	if (a->type == IMAP_ARG_LIST) {
		for (pl = a->list; pl->type != IMAP_ARG_EOL; pl++) {
			if (pl->type != IMAP_ARG_ATOM)
				goto bad;
			if (ascii_strcasecmp(pl->str, "SUBSCRIBED") == 0)
				sel_subscribed = true;
			else if (ascii_strcasecmp(pl->str, "REMOTE") == 0)
				;	/* no remote mailboxes to add */
			else if (ascii_strcasecmp(pl->str, "RECURSIVEMATCH") == 0)
				recursive = true;
			else if (ascii_strcasecmp(pl->str, "SPECIAL-USE") == 0)
				sel_special = true;
			else
				goto bad;
		}
		/* RFC 5258 3.1: RECURSIVEMATCH needs a base option; REMOTE
		 * is none */
		if (recursive && !sel_subscribed) {
			client_bad(c, "RECURSIVEMATCH needs SUBSCRIBED");
			return;
		}
		a++;
	}
	ref = imap_arg_string(a);
	if (ref == NULL)
		goto bad;
	a++;
	if (a->type == IMAP_ARG_LIST) {
		for (pl = a->list; pl->type != IMAP_ARG_EOL; pl++) {
			if (npats == LIST_MAX_PATTERNS) {
				client_bad(c, "Too many patterns");
				return;
			}
			if ((pattern_strs[npats] = imap_arg_string(pl)) == NULL)
				goto bad;
			npats++;
		}
		if (npats == 0)
			goto bad;
	} else if ((pattern_strs[0] = imap_arg_string(a)) != NULL) {
		npats = 1;
	} else {
		goto bad;
	}
	a++;
	if (a->type == IMAP_ARG_ATOM && ascii_strcasecmp(a->str, "RETURN") == 0) {
		a++;
		if (a->type != IMAP_ARG_LIST)
			goto bad;
		for (pl = a->list; pl->type != IMAP_ARG_EOL; pl++) {
			if (pl->type != IMAP_ARG_ATOM)
				goto bad;
			if (ascii_strcasecmp(pl->str, "SUBSCRIBED") == 0) {
				ret_subscribed = true;
			} else if (ascii_strcasecmp(pl->str, "CHILDREN") == 0 ||
				   ascii_strcasecmp(pl->str, "SPECIAL-USE") == 0) {
				;	/* always reported */
			} else if (ascii_strcasecmp(pl->str, "STATUS") == 0 &&
				   !ret_status && pl[1].type == IMAP_ARG_LIST &&
				   imapd_status_items_valid(pl[1].list)) {
				ret_status = true;
				status_items = pl[1].list;
				pl++;
			} else {
				goto bad;
			}
		}
		a++;
	}
	if (a->type != IMAP_ARG_EOL)
		goto bad;
	for (i = 0; i < npats; i++) {
		total += strlen(pattern_strs[i]);
		if (strlen(ref) + strlen(pattern_strs[i]) > MAIL_LIST_MAX_PATTERN ||
		    total > (size_t)MAIL_LIST_MAX_PATTERN * 4) {
			client_bad(c, "Pattern too long");
			return;
		}
	}
	for (i = 0; i < npats; i++)
		pats[i] = combine(ref, pattern_strs[i]);

	/* what exists, for every pattern (an empty one: nothing here) */
	for (i = 0; i < npats && failed == 0; i++)
		if (pattern_strs[i][0] != '\0')
			failed = mail_list(ref, pattern_strs[i], false,
					   list_collect_cb, &all, &error);
	if (failed == 0 && (sel_subscribed || ret_subscribed) &&
	    mail_subscriptions_read(&subnames, &error) < 0)
		failed = -1;
	if (failed < 0) {
		client_no(c, "%s", error);
		goto out;
	}
	lset_sort(&all);
	special_use_load(&uses);
	for (k = 0; subnames != NULL && subnames[k] != NULL; k++)
		lset_add(&subs, mail_name_is_inbox(subnames[k]) ? "INBOX" :
			 subnames[k], 0);
	lset_sort(&subs);

	if (sel_subscribed) {
		for (k = 0; k < subs.n; k++) {
			const char *name = subs.v[k].name;
			struct lentry *e;
			if (c->anonymous &&
			    ascii_strncasecmp(name, "#public/", 8) != 0 &&
			    ascii_strncasecmp(name, "#ftp/", 5) != 0)
				continue;
			if (name_remote(c, name))
				continue;
			if (recursive)
				add_parents(&res, &all, pats, npats, &subs, name);
			if (!any_match(pats, npats, name))
				continue;
			e = lset_find(&all, name);
			lset_add(&res, name, X_SUBSCRIBED |
				 (e != NULL ? e->attrs : X_NONEXISTENT));
		}
		/* a matched parent of a subscribed name keeps CHILDINFO
		 * only where the patterns do not also return the child */
		lset_sort(&res);
		for (k = 0; k < res.n; k++) {
			if ((res.v[k].attrs & X_CHILDINFO) == 0)
				continue;
			bool hidden = false;
			size_t len = strlen(res.v[k].name);
			for (size_t j = 0; j < subs.n && !hidden; j++)
				if (strncmp(subs.v[j].name, res.v[k].name, len) == 0 &&
				    subs.v[j].name[len] == '/' &&
				    !any_match(pats, npats, subs.v[j].name))
					hidden = true;
			if (!hidden)
				res.v[k].attrs &= ~X_CHILDINFO;
		}
		/* a parent that is neither subscribed nor (any longer) a
		 * CHILDINFO holder was only added for its children */
		for (k = 0; k < res.n; k++)
			if ((res.v[k].attrs & (X_SUBSCRIBED | X_CHILDINFO)) != 0)
				send_entry(c, &res.v[k], status_items, &uses,
					   sel_special);
	} else {
		for (k = 0; k < all.n; k++) {
			if (ret_subscribed && lset_find(&subs, all.v[k].name))
				all.v[k].attrs |= X_SUBSCRIBED;
			send_entry(c, &all.v[k], status_items, &uses,
				   sel_special);
		}
	}
	client_ok(c, "LIST completed");
out:
	for (i = 0; i < npats; i++)
		free(pats[i]);
	if (subnames != NULL)
		mail_subscriptions_free(&subnames);
	lset_free(&all);
	lset_free(&subs);
	lset_free(&res);
	special_use_free(&uses);
	return;
bad:
	client_bad(c, "LIST [(selection options)] reference patterns "
		   "[RETURN (return options)]");
}
