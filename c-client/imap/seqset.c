/*
 * seqset.c - IMAP sequence sets. See seqset.h.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "seqset.h"

/* The capacity is implied by n (struct seqset has no field for it): 16
 * up to 16 ranges, then doubling at every power of two, so n additions
 * cost O(n) copying (growing by a constant 16 was quadratic: a 64 KB
 * sequence set of single numbers made 800 reallocations of up to
 * 100 KB, a MOVE of a million messages 62500 of up to 8 MB). After
 * seqset_resolve() shrinks n the block is larger than implied, which
 * is harmless: the next growth point reallocates to 2n >= n + 1. */
void seqset_add(struct seqset *set, uint32_t lo, uint32_t hi)
{
	if (set->n == 0 || (set->n >= 16 && (set->n & (set->n - 1)) == 0)) {
		if (set->n > UINT_MAX / 2)
			panic("seqset_add: too many ranges");
		set->r = xreallocarray(set->r, set->n == 0 ? 16 : (size_t)set->n * 2,
				       sizeof *set->r);
	}
	set->r[set->n].lo = lo;
	set->r[set->n].hi = hi;
	set->n++;
}

static bool parse_num(const char **sp, uint32_t *r)
{
	const char *s = *sp;
	uint64_t v = 0;

	if (*s == '*') {
		*r = SEQ_STAR;
		*sp = s + 1;
		return true;
	}
	if (*s < '1' || *s > '9')
		return false;
	while (*s >= '0' && *s <= '9') {
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > UINT32_MAX)
			return false;
		s++;
	}
	*r = (uint32_t)v;
	*sp = s;
	return true;
}

bool seqset_parse(const char *s, struct seqset *set)
{
	memset(set, 0, sizeof *set);
	for (;;) {
		uint32_t lo, hi;

		if (!parse_num(&s, &lo))
			goto bad;
		hi = lo;
		if (*s == ':') {
			s++;
			if (!parse_num(&s, &hi))
				goto bad;
		}
		seqset_add(set, lo, hi);
		if (*s == '\0')
			return true;
		if (*s != ',')
			goto bad;
		s++;
	}
bad:
	seqset_free(set);
	return false;
}

void seqset_free(struct seqset *set)
{
	free(set->r);
	set->r = NULL;
	set->n = 0;
}

static int range_cmp(const void *a, const void *b)
{
	const struct seq_range *x = a, *y = b;
	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

void seqset_resolve(struct seqset *set, uint32_t max)
{
	unsigned i, j;

	for (i = 0; i < set->n; i++) {
		struct seq_range *r = &set->r[i];
		if (r->lo == SEQ_STAR)
			r->lo = max;
		if (r->hi == SEQ_STAR)
			r->hi = max;
		if (r->lo > r->hi) {
			uint32_t t = r->lo;
			r->lo = r->hi;
			r->hi = t;
		}
	}
	if (set->n < 2)
		return;
	qsort(set->r, set->n, sizeof *set->r, range_cmp);
	for (i = 0, j = 1; j < set->n; j++) {
		if (set->r[j].lo <= set->r[i].hi ||
		    (set->r[i].hi != UINT32_MAX && set->r[j].lo == set->r[i].hi + 1)) {
			if (set->r[j].hi > set->r[i].hi)
				set->r[i].hi = set->r[j].hi;
		} else {
			set->r[++i] = set->r[j];
		}
	}
	set->n = i + 1;
}

bool seqset_contains(const struct seqset *set, uint32_t n)
{
	unsigned lo = 0, hi = set->n;

	/* ranges are sorted after seqset_resolve() */
	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;
		if (n < set->r[mid].lo)
			hi = mid;
		else if (n > set->r[mid].hi)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

char *seqset_format(const struct seqset *set)
{
	struct buf b;

	buf_init(&b, 0);
	for (unsigned i = 0; i < set->n; i++) {
		if (i > 0)
			buf_putc(&b, ',');
		if (set->r[i].lo == set->r[i].hi)
			buf_printf(&b, "%u", set->r[i].lo);
		else
			buf_printf(&b, "%u:%u", set->r[i].lo, set->r[i].hi);
	}
	{ char *s = buf_steal(&b, NULL); buf_release(&b); return s; }
}
