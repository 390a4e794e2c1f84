/*
 * sort.c - IMAP SORT (RFC 5256) with DISPLAYFROM/DISPLAYTO (RFC 5957).
 *
 * Sort keys are extracted once per message into one array (strings go
 * into a single shared pool, so there is no allocation per message for
 * them), then the array is sorted with qsort_r; ties are broken by
 * sequence number, ascending, whatever REVERSE says.
 *
 * Security: criteria come from the network (bounded in number);
 * message headers are hostile and only go through the bounded rfc822
 * and codec parsers.
 */
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "date.h"
#include "rfc822.h"
#include "search.h"

#define SORT_MAX_CRITERIA 32

enum sort_key {
	SORT_ARRIVAL, SORT_CC, SORT_DATE, SORT_FROM, SORT_SIZE, SORT_SUBJECT,
	SORT_TO, SORT_DISPLAYFROM, SORT_DISPLAYTO,
};

static const struct {
	const char *name;
	enum sort_key key;
	bool is_string;
} sort_keys[] = {
	{ "ARRIVAL", SORT_ARRIVAL, false },
	{ "CC", SORT_CC, true },
	{ "DATE", SORT_DATE, false },
	{ "FROM", SORT_FROM, true },
	{ "SIZE", SORT_SIZE, false },
	{ "SUBJECT", SORT_SUBJECT, true },
	{ "TO", SORT_TO, true },
	{ "DISPLAYFROM", SORT_DISPLAYFROM, true },
	{ "DISPLAYTO", SORT_DISPLAYTO, true },
};

struct sort_crit {
	unsigned def;		/* index in sort_keys */
	bool reverse;
};

union sort_val {
	int64_t num;
	size_t off;		/* string: offset in the pool */
	const char *str;	/* after extraction */
};

struct sort_ctx {
	const struct sort_crit *crit;
	unsigned ncrit;
	union sort_val *vals;	/* [i * ncrit + j] */
	const uint32_t *seqs;	/* original order, for the tie break */
};

static const struct imap_arg *criteria_list(const struct imap_arg *args)
{
	return args->type == IMAP_ARG_LIST ? args->list : args;
}

static bool parse_criteria(const struct imap_arg *args, struct sort_crit *c,
			   unsigned *n_r, const char **error_r)
{
	unsigned n = 0;
	bool reverse = false;

	for (args = criteria_list(args); args->type != IMAP_ARG_EOL; args++) {
		size_t i;

		if (args->type != IMAP_ARG_ATOM) {
			*error_r = "Bad sort criterion";
			return false;
		}
		if (ascii_strcasecmp(args->str, "REVERSE") == 0) {
			if (reverse) {
				*error_r = "REVERSE twice";
				return false;
			}
			reverse = true;
			continue;
		}
		for (i = 0; i < N_ELEMENTS(sort_keys); i++)
			if (ascii_strcasecmp(args->str, sort_keys[i].name) == 0)
				break;
		if (i == N_ELEMENTS(sort_keys)) {
			*error_r = "Unknown sort criterion";
			return false;
		}
		if (n == SORT_MAX_CRITERIA) {
			*error_r = "Too many sort criteria";
			return false;
		}
		c[n].def = (unsigned)i;
		c[n].reverse = reverse;
		reverse = false;
		n++;
	}
	if (reverse || n == 0) {
		*error_r = reverse ? "REVERSE without criterion" :
			"Missing sort criteria";
		return false;
	}
	*n_r = n;
	return true;
}

bool sort_parse(const struct imap_arg *args, struct buf *canonical_r,
		const char **error_r)
{
	struct sort_crit c[SORT_MAX_CRITERIA];
	unsigned n;

	if (!parse_criteria(args, c, &n, error_r))
		return false;
	if (canonical_r != NULL) {
		for (unsigned i = 0; i < n; i++) {
			if (i > 0)
				buf_putc(canonical_r, ' ');
			if (c[i].reverse)
				buf_puts(canonical_r, "REVERSE ");
			buf_puts(canonical_r, sort_keys[c[i].def].name);
		}
	}
	return true;
}

static void ascii_upper(char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		s[i] = ascii_toupper(s[i]);
}

/* RFC 5256: addr-mailbox of the first address, i;ascii-casemap. In
 * IMAP's address model a group's first entry is an address whose
 * addr-mailbox is the group's name ("Cc: team: a@b;" sorts as "team",
 * as Dovecot sorts it; imaptest sort-addresses), so only a group's end
 * marker (mailbox NULL) is skipped. */
static void addr_key(const struct address *a, struct buf *pool)
{
	size_t start = pool->len;

	while (a != NULL && a->mailbox == NULL)
		a = a->next;
	if (a != NULL) {
		buf_puts(pool, a->mailbox);
		ascii_upper(pool->data + start, pool->len - start);
	}
}

/* RFC 5957: the decoded display name, else the addr-spec; folded. A
 * group sorts by its name (its first entry, host NULL, as addr_key()
 * takes it; what Dovecot does, imaptest sort-display-to), also an
 * empty one ("To: empty:;") */
static void display_key(const struct address *a, struct buf *pool,
			struct buf *tmp)
{
	while (a != NULL && a->mailbox == NULL)
		a = a->next;
	if (a == NULL)
		return;
	buf_reset(tmp);
	if (a->host == NULL)
		buf_puts(tmp, a->mailbox);
	else if (a->personal != NULL)
		rfc2047_decode(a->personal, strlen(a->personal), tmp);
	if (tmp->len == 0)
		buf_printf(tmp, "%s@%s", a->mailbox, a->host);
	utf8_casefold(tmp->data, tmp->len, pool);
}

static int64_t sent_date(const char *hdr, size_t len,
			 const struct mail_message *m, struct buf *tmp)
{
	int64_t t;
	int32_t zone;

	if (hdr != NULL && rfc822_header_get(hdr, len, "Date", tmp) &&
	    date_parse_rfc5322(tmp->data, tmp->len, &t, &zone))
		return t;
	return m->internaldate;
}

static int sort_cmp(const void *a, const void *b, void *ctxp)
{
	const struct sort_ctx *ctx = ctxp;
	uint32_t i = *(const uint32_t *)a, j = *(const uint32_t *)b;
	const union sort_val *va = &ctx->vals[(size_t)i * ctx->ncrit];
	const union sort_val *vb = &ctx->vals[(size_t)j * ctx->ncrit];

	for (unsigned k = 0; k < ctx->ncrit; k++) {
		int r;

		if (sort_keys[ctx->crit[k].def].is_string) {
			r = strcmp(va[k].str, vb[k].str);
			r = r < 0 ? -1 : r > 0;
		} else
			r = va[k].num < vb[k].num ? -1 : va[k].num > vb[k].num;
		if (r != 0)
			return ctx->crit[k].reverse ? -r : r;
	}
	return ctx->seqs[i] < ctx->seqs[j] ? -1 : ctx->seqs[i] > ctx->seqs[j];
}

bool sort_messages(struct mailbox *mb, const struct imap_arg *criteria,
		   uint32_t *seqs, uint32_t n, const char **error_r)
{
	struct sort_crit c[SORT_MAX_CRITERIA];
	struct sort_ctx ctx;
	struct buf pool, hdr, tmp;
	uint32_t *order, *orig;
	unsigned nc;
	bool need_hdr = false, need_env = false;
	size_t nvals;

	if (!parse_criteria(criteria, c, &nc, error_r))
		return false;
	if (n < 2)
		return true;
	for (unsigned k = 0; k < nc; k++) {
		enum sort_key key = sort_keys[c[k].def].key;

		if (key != SORT_ARRIVAL && key != SORT_SIZE)
			need_hdr = true;
		if (key != SORT_ARRIVAL && key != SORT_SIZE &&
		    key != SORT_DATE && key != SORT_SUBJECT)
			need_env = true;
	}
	if (!size_mul(n, nc, &nvals))
		panic("sort: too many messages");
	ctx.crit = c;
	ctx.ncrit = nc;
	ctx.vals = xreallocarray(NULL, nvals, sizeof *ctx.vals);
	order = xreallocarray(NULL, n, sizeof *order);
	orig = xreallocarray(NULL, n, sizeof *orig);
	memcpy(orig, seqs, (size_t)n * sizeof *orig);
	ctx.seqs = orig;
	buf_init(&pool, 0);
	buf_init(&hdr, 0);
	buf_init(&tmp, 0);

	for (uint32_t i = 0; i < n; i++) {
		const struct mail_message *m;
		struct envelope *env = NULL;
		union sort_val *v = &ctx.vals[(size_t)i * nc];
		const char *hp = NULL, *err;
		size_t hl = 0;

		order[i] = i;
		if (seqs[i] == 0 || seqs[i] > mb->count) {
			/* not a message: sorts as empty, by number */
			for (unsigned k = 0; k < nc; k++) {
				v[k].num = 0;
				if (sort_keys[c[k].def].is_string) {
					v[k].off = pool.len;
					buf_putc(&pool, '\0');
				}
			}
			continue;
		}
		m = &mb->msgs[seqs[i] - 1];
		if (need_hdr) {
			buf_reset(&hdr);
			int fr = search_fetch_msg(mb, seqs[i],
						  MAIL_PART_HEADER, &hdr,
						  &err);

			/* fetching may re-sync and move mb->msgs */
			m = &mb->msgs[seqs[i] - 1];
			if (fr == 0) {
				hp = hdr.data;
				hl = hdr.len;
				if (need_env)
					env = rfc822_parse_envelope(hp, hl);
			}
		}
		for (unsigned k = 0; k < nc; k++) {
			enum sort_key key = sort_keys[c[k].def].key;

			if (sort_keys[c[k].def].is_string)
				v[k].off = pool.len;
			switch (key) {
			case SORT_ARRIVAL:
				v[k].num = m->internaldate;
				break;
			case SORT_SIZE:
				v[k].num = m->size > INT64_MAX ? INT64_MAX :
					(int64_t)m->size;
				break;
			case SORT_DATE:
				v[k].num = sent_date(hp, hl, m, &tmp);
				break;
			case SORT_SUBJECT:
				buf_reset(&tmp);
				if (hp != NULL &&
				    rfc822_header_get(hp, hl, "Subject", &tmp)) {
					size_t start = pool.len;

					rfc822_base_subject(tmp.data, tmp.len,
							    &pool);
					ascii_upper(pool.data + start,
						    pool.len - start);
				}
				break;
			case SORT_FROM:
				addr_key(env ? env->from : NULL, &pool);
				break;
			case SORT_TO:
				addr_key(env ? env->to : NULL, &pool);
				break;
			case SORT_CC:
				addr_key(env ? env->cc : NULL, &pool);
				break;
			case SORT_DISPLAYFROM:
				display_key(env ? env->from : NULL, &pool, &tmp);
				break;
			case SORT_DISPLAYTO:
				display_key(env ? env->to : NULL, &pool, &tmp);
				break;
			}
			if (sort_keys[c[k].def].is_string) {
				/* a NUL inside the key just ends it early */
				buf_putc(&pool, '\0');
			}
		}
		if (env != NULL)
			rfc822_free_envelope(&env);
	}
	/* the pool is final now: turn offsets into pointers */
	for (size_t i = 0; i < nvals; i++)
		if (sort_keys[c[i % nc].def].is_string)
			ctx.vals[i].str = pool.data + ctx.vals[i].off;

	qsort_r(order, n, sizeof *order, sort_cmp, &ctx);
	for (uint32_t i = 0; i < n; i++)
		seqs[i] = orig[order[i]];

	buf_release(&pool);
	buf_release(&hdr);
	buf_release(&tmp);
	free(ctx.vals);
	free(order);
	free(orig);
	return true;
}
