/*
 * thread.c - IMAP THREAD (RFC 5256): ORDEREDSUBJECT and REFERENCES.
 *
 * Containers live in one array and point at each other by index, with
 * doubly linked sibling lists so unlinking is O(1). Every traversal is
 * iterative (explicit stacks): a hostile mailbox can build reference
 * chains as deep as the mailbox is large, and loops in References are
 * refused when linking (ancestor walk with a step budget), so nothing
 * here can recurse deeply, loop forever or run quadratic on crafted
 * input beyond that budget.
 */
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "date.h"
#include "rfc822.h"
#include "search.h"

#define NONE (-1)
/* ancestor walk limit for one loop check; beyond it a link is refused */
#define LOOP_CHECK_BUDGET 10000

struct tmsg {
	uint32_t id;		/* printed: sequence number or UID */
	uint32_t seq;		/* tie break */
	int64_t date;		/* sent date, else internal date */
	size_t subj_off;	/* base subject (upper-cased) in the pool */
	size_t subj_len;
	bool reply;
};

struct tnode {
	int32_t parent, first, last, next, prev;
	int32_t msg;		/* index in msgs, NONE for a dummy */
	/* sort key: the message's, or a dummy's first child's */
	int64_t date;
	uint32_t seq;
};

struct hent {
	size_t off, len;
	int32_t val;
	bool used;
};

struct htab {
	struct hent *e;
	size_t cap, n;
};

struct tctx {
	struct tmsg *msgs;
	uint32_t nmsgs;
	struct tnode *nodes;
	int32_t nnodes, anodes;
	struct buf pool;	/* subjects and message-ids */
	int32_t root;		/* the invisible root container */
};

/* ---- string hash table over the pool ---- */

static uint64_t hash_str(const char *s, size_t len)
{
	uint64_t h = 14695981039346656037ULL;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
	return h;
}

static struct hent *htab_find(struct htab *h, const struct buf *pool,
			      const char *key, size_t len)
{
	size_t i;

	if (h->cap == 0)
		return NULL;
	for (i = hash_str(key, len) & (h->cap - 1);; i = (i + 1) & (h->cap - 1)) {
		struct hent *e = &h->e[i];

		if (!e->used)
			return e;
		if (e->len == len && memcmp(pool->data + e->off, key, len) == 0)
			return e;
	}
}

static void htab_grow(struct htab *h, const struct buf *pool)
{
	struct htab nh;

	nh.cap = h->cap == 0 ? 64 : h->cap * 2;
	nh.n = h->n;
	nh.e = xcalloc(nh.cap, sizeof *nh.e);
	for (size_t i = 0; i < h->cap; i++) {
		if (h->e[i].used)
			*htab_find(&nh, pool, pool->data + h->e[i].off,
				   h->e[i].len) = h->e[i];
	}
	free(h->e);
	*h = nh;
}

/* existing entry or a fresh one (used = false) ready to be filled */
static struct hent *htab_get(struct htab *h, const struct buf *pool,
			     const char *key, size_t len)
{
	if ((h->n + 1) * 2 > h->cap)
		htab_grow(h, pool);
	return htab_find(h, pool, key, len);
}

static void htab_put(struct htab *h, struct hent *e, size_t off, size_t len,
		     int32_t val)
{
	e->used = true;
	e->off = off;
	e->len = len;
	e->val = val;
	h->n++;
}

/* ---- containers ---- */

static int32_t node_new(struct tctx *t, int32_t msg)
{
	struct tnode *n;

	if (t->nnodes == INT32_MAX)
		panic("thread: too many containers");
	if (t->nnodes == t->anodes) {
		t->anodes = t->anodes == 0 ? 64 :
			(t->anodes > INT32_MAX / 2 ? INT32_MAX : t->anodes * 2);
		t->nodes = xreallocarray(t->nodes, (size_t)t->anodes,
					 sizeof *t->nodes);
	}
	n = &t->nodes[t->nnodes];
	n->parent = n->first = n->last = n->next = n->prev = NONE;
	n->msg = msg;
	n->date = msg != NONE ? t->msgs[msg].date : 0;
	n->seq = msg != NONE ? t->msgs[msg].seq : 0;
	return t->nnodes++;
}

static void node_unlink(struct tctx *t, int32_t c)
{
	struct tnode *n = &t->nodes[c];

	if (n->parent == NONE)
		return;
	if (n->prev != NONE)
		t->nodes[n->prev].next = n->next;
	else
		t->nodes[n->parent].first = n->next;
	if (n->next != NONE)
		t->nodes[n->next].prev = n->prev;
	else
		t->nodes[n->parent].last = n->prev;
	n->parent = n->next = n->prev = NONE;
}

static void node_append(struct tctx *t, int32_t parent, int32_t c)
{
	struct tnode *p = &t->nodes[parent], *n = &t->nodes[c];

	node_unlink(t, c);
	n->parent = parent;
	n->prev = p->last;
	n->next = NONE;
	if (p->last != NONE)
		t->nodes[p->last].next = c;
	else
		p->first = c;
	p->last = c;
}

/* put c where old is in old's parent's list; old is unlinked */
static void node_replace(struct tctx *t, int32_t old, int32_t c)
{
	struct tnode *o = &t->nodes[old], *n = &t->nodes[c];

	node_unlink(t, c);
	n->parent = o->parent;
	n->prev = o->prev;
	n->next = o->next;
	if (o->prev != NONE)
		t->nodes[o->prev].next = c;
	else
		t->nodes[o->parent].first = c;
	if (o->next != NONE)
		t->nodes[o->next].prev = c;
	else
		t->nodes[o->parent].last = c;
	o->parent = o->next = o->prev = NONE;
}

static unsigned child_count(const struct tctx *t, int32_t c, unsigned max)
{
	unsigned k = 0;

	for (c = t->nodes[c].first; c != NONE && k < max; c = t->nodes[c].next)
		k++;
	return k;
}

/* would making parent the parent of child create a loop? */
static bool would_loop(const struct tctx *t, int32_t parent, int32_t child)
{
	unsigned budget = LOOP_CHECK_BUDGET;

	if (parent == child)
		return true;
	if (t->nodes[child].first == NONE)
		return false;	/* nothing below child: parent can't be */
	for (int32_t a = t->nodes[parent].parent; a != NONE;
	     a = t->nodes[a].parent) {
		if (a == child || --budget == 0)
			return true;
	}
	return false;
}

/* ---- message data ---- */

static bool is_wsp(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* RFC 5256 2.1: was a "Re:", "Fwd:", "[fwd: ...]" or "(fwd)" removed? */
static bool subject_is_reply(const char *s, size_t len)
{
	size_t i = 0;

	while (len > 0 && is_wsp(s[len - 1]))
		len--;
	if (len >= 5 && ascii_strncasecmp(s + len - 5, "(fwd)", 5) == 0)
		return true;
	for (;;) {
		size_t j;

		while (i < len && is_wsp(s[i]))
			i++;
		if (i < len && s[i] == '[') {
			if (len - i >= 5 &&
			    ascii_strncasecmp(s + i, "[fwd:", 5) == 0)
				return true;
			/* skip a leading blob */
			for (j = i + 1; j < len && s[j] != ']' && s[j] != '['; j++)
				;
			if (j >= len || s[j] != ']')
				return false;
			i = j + 1;
			continue;
		}
		break;
	}
	{
		static const char *const pfx[] = { "re", "fwd", "fw" };
		for (size_t p = 0; p < N_ELEMENTS(pfx); p++) {
			size_t pl = strlen(pfx[p]), j;

			if (len - i < pl || ascii_strncasecmp(s + i, pfx[p], pl) != 0)
				continue;
			j = i + pl;
			while (j < len && is_wsp(s[j]))
				j++;
			if (j < len && s[j] == '[') {
				while (j < len && s[j] != ']')
					j++;
				if (j < len)
					j++;
				while (j < len && is_wsp(s[j]))
					j++;
			}
			if (j < len && s[j] == ':')
				return true;
		}
	}
	return false;
}

static void msgs_load(struct tctx *t, struct mailbox *mb, const uint32_t *seqs,
		      uint32_t n, bool use_uid, struct buf *hdr, struct buf *tmp)
{
	t->msgs = xreallocarray(NULL, n > 0 ? n : 1, sizeof *t->msgs);
	t->nmsgs = n;
	for (uint32_t i = 0; i < n; i++) {
		struct tmsg *m = &t->msgs[i];
		const struct mail_message *mm;
		const char *err;
		int64_t date;
		int32_t zone;
		bool have = false;

		memset(m, 0, sizeof *m);
		m->seq = seqs[i];
		m->id = seqs[i];
		m->subj_off = t->pool.len;
		if (seqs[i] == 0 || seqs[i] > mb->count)
			continue;
		mm = &mb->msgs[seqs[i] - 1];
		if (use_uid)
			m->id = mm->uid;
		m->date = mm->internaldate;
		buf_reset(hdr);
		if (search_fetch_msg(mb, seqs[i], MAIL_PART_HEADER, hdr, &err) == 0)
			have = true;
		if (have && rfc822_header_get(hdr->data, hdr->len, "Date", tmp) &&
		    date_parse_rfc5322(tmp->data, tmp->len, &date, &zone))
			m->date = date;
		if (have && rfc822_header_get(hdr->data, hdr->len, "Subject", tmp)) {
			rfc822_base_subject(tmp->data, tmp->len, &t->pool);
			/* the header is no longer needed: decode into it */
			buf_reset(hdr);
			rfc2047_decode(tmp->data, tmp->len, hdr);
			m->reply = subject_is_reply(hdr->data, hdr->len);
		}
		m->subj_len = t->pool.len - m->subj_off;
		for (size_t k = 0; k < m->subj_len; k++)
			t->pool.data[m->subj_off + k] =
				ascii_toupper(t->pool.data[m->subj_off + k]);
	}
}

static const char *msg_subject(const struct tctx *t, int32_t msg, size_t *len_r)
{
	*len_r = t->msgs[msg].subj_len;
	return t->pool.data + t->msgs[msg].subj_off;
}

/* ---- sorting siblings ---- */

static int node_cmp(const void *a, const void *b, void *ctx)
{
	const struct tctx *t = ctx;
	const struct tnode *x = &t->nodes[*(const int32_t *)a];
	const struct tnode *y = &t->nodes[*(const int32_t *)b];

	if (x->date != y->date)
		return x->date < y->date ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* sort the children of p by (date, seq); tmp is scratch space */
static void sort_children(struct tctx *t, int32_t p, int32_t **tmp,
			  size_t *tmp_cap)
{
	size_t k = 0;
	int32_t c;

	for (c = t->nodes[p].first; c != NONE; c = t->nodes[c].next) {
		if (k == *tmp_cap) {
			*tmp_cap = *tmp_cap == 0 ? 64 : *tmp_cap * 2;
			*tmp = xreallocarray(*tmp, *tmp_cap, sizeof **tmp);
		}
		(*tmp)[k++] = c;
	}
	if (k < 2)
		return;
	qsort_r(*tmp, k, sizeof **tmp, node_cmp, t);
	t->nodes[p].first = (*tmp)[0];
	t->nodes[p].last = (*tmp)[k - 1];
	for (size_t i = 0; i < k; i++) {
		t->nodes[(*tmp)[i]].prev = i > 0 ? (*tmp)[i - 1] : NONE;
		t->nodes[(*tmp)[i]].next = i + 1 < k ? (*tmp)[i + 1] : NONE;
	}
}

/* preorder list of the nodes under (not including) the root */
static int32_t *preorder(const struct tctx *t, int32_t *n_r)
{
	int32_t *out = xreallocarray(NULL, (size_t)t->nnodes + 1, sizeof *out);
	int32_t n = 0, c;

	/* walk with parent/next links: no stack needed */
	c = t->nodes[t->root].first;
	while (c != NONE) {
		out[n++] = c;
		if (t->nodes[c].first != NONE) {
			c = t->nodes[c].first;
			continue;
		}
		while (c != NONE && t->nodes[c].next == NONE) {
			c = t->nodes[c].parent;
			if (c == t->root)
				c = NONE;
		}
		if (c != NONE)
			c = t->nodes[c].next;
	}
	*n_r = n;
	return out;
}

/* sort every sibling set; a dummy takes its first child's date */
static void sort_all(struct tctx *t)
{
	int32_t n, *order = preorder(t, &n), *tmp = NULL;
	size_t tmp_cap = 0;

	for (int32_t i = n - 1; i >= 0; i--) {
		struct tnode *x = &t->nodes[order[i]];

		sort_children(t, order[i], &tmp, &tmp_cap);
		if (x->msg == NONE && x->first != NONE) {
			x->date = t->nodes[x->first].date;
			x->seq = t->nodes[x->first].seq;
		}
	}
	sort_children(t, t->root, &tmp, &tmp_cap);
	free(order);
	free(tmp);
}

/* ---- output ---- */

enum emit_op { EMIT_NODE, EMIT_OPEN, EMIT_CLOSE };
struct emit_item {
	enum emit_op op;
	int32_t node;
};

static void emit_push(struct emit_item **st, size_t *n, size_t *cap,
		      enum emit_op op, int32_t node)
{
	if (*n == *cap) {
		*cap = *cap == 0 ? 64 : *cap * 2;
		*st = xreallocarray(*st, *cap, sizeof **st);
	}
	(*st)[*n].op = op;
	(*st)[*n].node = node;
	(*n)++;
}

/* "(" thread ")" for each child of the root, RFC 5256 section 4 */
static void emit_all(const struct tctx *t, struct buf *out)
{
	struct emit_item *st = NULL;
	size_t sn = 0, scap = 0;

	for (int32_t r = t->nodes[t->root].first; r != NONE;
	     r = t->nodes[r].next) {
		emit_push(&st, &sn, &scap, EMIT_CLOSE, NONE);
		emit_push(&st, &sn, &scap, EMIT_NODE, r);
		emit_push(&st, &sn, &scap, EMIT_OPEN, NONE);
		while (sn > 0) {
			struct emit_item it = st[--sn];
			int32_t c;

			if (it.op == EMIT_OPEN) {
				buf_putc(out, '(');
				continue;
			}
			if (it.op == EMIT_CLOSE) {
				buf_putc(out, ')');
				continue;
			}
			/* a chain of single children needs no nesting */
			for (c = it.node;;) {
				const struct tnode *x = &t->nodes[c];
				unsigned kids = child_count(t, c, 2);

				if (x->msg != NONE) {
					buf_printf(out, "%u", t->msgs[x->msg].id);
					if (kids > 0)
						buf_putc(out, ' ');
				}
				if (kids == 1) {
					c = x->first;
					continue;
				}
				for (int32_t k = x->last; k != NONE;
				     k = t->nodes[k].prev) {
					emit_push(&st, &sn, &scap, EMIT_CLOSE, NONE);
					emit_push(&st, &sn, &scap, EMIT_NODE, k);
					emit_push(&st, &sn, &scap, EMIT_OPEN, NONE);
				}
				break;
			}
		}
	}
	free(st);
}

/* ---- ORDEREDSUBJECT ---- */

static int subj_cmp(const void *a, const void *b, void *ctx)
{
	const struct tctx *t = ctx;
	const struct tmsg *x = &t->msgs[*(const int32_t *)a];
	const struct tmsg *y = &t->msgs[*(const int32_t *)b];
	size_t l = x->subj_len < y->subj_len ? x->subj_len : y->subj_len;
	int r = memcmp(t->pool.data + x->subj_off, t->pool.data + y->subj_off, l);

	if (r != 0)
		return r;
	if (x->subj_len != y->subj_len)
		return x->subj_len < y->subj_len ? -1 : 1;
	if (x->date != y->date)
		return x->date < y->date ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void thread_orderedsubject(struct tctx *t)
{
	int32_t *idx = xreallocarray(NULL, t->nmsgs > 0 ? t->nmsgs : 1,
				     sizeof *idx);
	int32_t first = NONE;

	for (uint32_t i = 0; i < t->nmsgs; i++)
		idx[i] = (int32_t)i;
	qsort_r(idx, t->nmsgs, sizeof *idx, subj_cmp, t);
	for (uint32_t i = 0; i < t->nmsgs; i++) {
		int32_t node = node_new(t, idx[i]);
		const struct tmsg *m = &t->msgs[idx[i]];

		if (first != NONE) {
			const struct tmsg *f = &t->msgs[t->nodes[first].msg];

			if (f->subj_len == m->subj_len &&
			    memcmp(t->pool.data + f->subj_off,
				   t->pool.data + m->subj_off, m->subj_len) == 0) {
				node_append(t, first, node);
				continue;
			}
		}
		node_append(t, t->root, node);
		first = node;
	}
	free(idx);
	/* children are already in (date, seq) order; sort the threads */
	{
		int32_t *tmp = NULL;
		size_t cap = 0;

		sort_children(t, t->root, &tmp, &cap);
		free(tmp);
	}
}

/* ---- REFERENCES ---- */

/* next "<id>" in s[*pos..len): returns its inside */
static bool next_msgid(const char *s, size_t len, size_t *pos,
		       const char **id_r, size_t *id_len_r)
{
	size_t i = *pos;

	for (;;) {
		size_t start;

		while (i < len && s[i] != '<')
			i++;
		if (i >= len) {
			*pos = len;
			return false;
		}
		start = ++i;
		while (i < len && s[i] != '>' && s[i] != '<')
			i++;
		if (i >= len) {
			*pos = len;
			return false;
		}
		if (s[i] == '<')
			continue;	/* "<a <b>": restart at the new '<' */
		*pos = i + 1;
		/* ignore whitespace (folding) inside the brackets */
		while (start < i && is_wsp(s[start]))
			start++;
		{
			size_t end = i;
			while (end > start && is_wsp(s[end - 1]))
				end--;
			if (end == start)
				continue;	/* "<>" */
			*id_r = s + start;
			*id_len_r = end - start;
		}
		return true;
	}
}

/* container for message-id, created (as a dummy) when new */
static int32_t id_container(struct tctx *t, struct htab *ids, const char *id,
			    size_t len, bool *existed_r)
{
	struct hent *e = htab_get(ids, &t->pool, id, len);
	size_t off;
	int32_t c;

	if (e->used) {
		*existed_r = true;
		return e->val;
	}
	*existed_r = false;
	/* id may point into a buffer other than the pool: copy first */
	off = t->pool.len;
	buf_append(&t->pool, id, len);
	c = node_new(t, NONE);
	htab_put(ids, e, off, len, c);
	return c;
}

static void link_refs(struct tctx *t, struct htab *ids, int32_t self,
		      const char *refs, size_t rlen)
{
	size_t pos = 0, idlen;
	const char *id;
	int32_t prev = NONE;
	bool existed;

	while (next_msgid(refs, rlen, &pos, &id, &idlen)) {
		int32_t c = id_container(t, ids, id, idlen, &existed);

		/* 1.A: link consecutive references unless already linked */
		if (prev != NONE && prev != c && t->nodes[c].parent == NONE &&
		    !would_loop(t, prev, c))
			node_append(t, prev, c);
		prev = c;
	}
	/* 1.B: the last reference is the parent. The current link (made
	 * from an earlier message's References) is broken first, and stays
	 * broken when the new one would make a loop: <b> referring to
	 * <a> <c> and then <c> referring to <b> leaves (c b) and (a), not
	 * a -> c -> b (RFC 5256 3 step 1.B; imaptest thread) */
	if (prev == NONE || t->nodes[self].parent != prev) {
		node_unlink(t, self);
		if (prev != NONE && !would_loop(t, prev, self))
			node_append(t, prev, self);
	}
}

/* the thread's subject: the message's, or a dummy's first child's */
static int32_t subject_msg(const struct tctx *t, int32_t c)
{
	if (t->nodes[c].msg == NONE)
		c = t->nodes[c].first;
	return c == NONE ? NONE : t->nodes[c].msg;
}

static void thread_references(struct tctx *t, struct mailbox *mb,
			      const uint32_t *seqs, struct buf *hdr,
			      struct buf *tmp)
{
	struct htab ids = { NULL, 0, 0 }, subj = { NULL, 0, 0 };
	const char *err, *id;
	size_t idlen, pos;
	int32_t n, *order, *stmp = NULL;
	size_t stmp_cap = 0;

	/* step 1: containers and links */
	for (uint32_t i = 0; i < t->nmsgs; i++) {
		int32_t self = NONE;
		bool existed = false;

		buf_reset(hdr);
		if (seqs[i] == 0 || seqs[i] > mb->count ||
		    search_fetch_msg(mb, seqs[i], MAIL_PART_HEADER, hdr,
				     &err) < 0) {
			/* unreadable: a lone root */
			self = node_new(t, (int32_t)i);
			node_append(t, t->root, self);
			continue;
		}
		pos = 0;
		if (rfc822_header_get(hdr->data, hdr->len, "Message-ID", tmp) &&
		    next_msgid(tmp->data, tmp->len, &pos, &id, &idlen)) {
			self = id_container(t, &ids, id, idlen, &existed);
			if (t->nodes[self].msg != NONE)
				self = NONE;	/* duplicate id: as if none */
			else
				t->nodes[self].msg = (int32_t)i;
		}
		if (self == NONE)
			self = node_new(t, (int32_t)i);
		t->nodes[self].date = t->msgs[i].date;
		t->nodes[self].seq = t->msgs[i].seq;

		pos = 0;
		if (!rfc822_header_get(hdr->data, hdr->len, "References", tmp) ||
		    !next_msgid(tmp->data, tmp->len, &pos, &id, &idlen)) {
			/* no usable References: the first In-Reply-To id */
			buf_reset(tmp);
			pos = 0;
			if (rfc822_header_get(hdr->data, hdr->len,
					      "In-Reply-To", tmp) &&
			    next_msgid(tmp->data, tmp->len, &pos, &id, &idlen)) {
				/* keep just that one id */
				memmove(tmp->data, id, idlen);
				buf_truncate(tmp, idlen);
				buf_reset(hdr);
				buf_putc(hdr, '<');
				buf_append(hdr, tmp->data, tmp->len);
				buf_putc(hdr, '>');
				link_refs(t, &ids, self, hdr->data, hdr->len);
			} else {
				link_refs(t, &ids, self, "", 0);
			}
			continue;
		}
		link_refs(t, &ids, self, tmp->data, tmp->len);
	}

	/* step 2: the root set: containers without a parent */
	for (int32_t c = 0; c < t->nnodes; c++)
		if (c != t->root && t->nodes[c].parent == NONE)
			node_append(t, t->root, c);
	/* step 3 */
	free(ids.e);

	/* step 4: prune dummies, children before parents */
	order = preorder(t, &n);
	for (int32_t i = n - 1; i >= -1; i--) {
		int32_t p = i >= 0 ? order[i] : t->root, c, next;

		for (c = t->nodes[p].first; c != NONE; c = next) {
			next = t->nodes[c].next;
			if (t->nodes[c].msg != NONE)
				continue;
			if (t->nodes[c].first == NONE) {
				node_unlink(t, c);
				continue;
			}
			if (p == t->root && child_count(t, c, 2) > 1)
				continue;	/* a root keeps its children */
			/* promote: splice the children in place of c */
			while (t->nodes[c].first != NONE) {
				int32_t k = t->nodes[c].last, q = t->nodes[c].next;

				node_unlink(t, k);
				t->nodes[k].parent = p;
				t->nodes[k].prev = c;
				t->nodes[k].next = q;
				t->nodes[c].next = k;
				if (q != NONE)
					t->nodes[q].prev = k;
				else
					t->nodes[p].last = k;
			}
			next = t->nodes[c].next;
			node_unlink(t, c);
		}
	}
	free(order);

	/* step 5: sort the root set (dummies by their first child) */
	for (int32_t c = t->nodes[t->root].first; c != NONE; c = t->nodes[c].next) {
		if (t->nodes[c].msg == NONE) {
			sort_children(t, c, &stmp, &stmp_cap);
			t->nodes[c].date = t->nodes[t->nodes[c].first].date;
			t->nodes[c].seq = t->nodes[t->nodes[c].first].seq;
		}
	}
	sort_children(t, t->root, &stmp, &stmp_cap);
	free(stmp);

	/* step 6: group the root set by base subject */
	for (int32_t c = t->nodes[t->root].first; c != NONE; c = t->nodes[c].next) {
		int32_t m = subject_msg(t, c);
		const char *s;
		size_t sl;
		struct hent *e;

		if (m == NONE || t->msgs[m].subj_len == 0)
			continue;
		s = msg_subject(t, m, &sl);
		e = htab_get(&subj, &t->pool, s, sl);
		if (!e->used) {
			htab_put(&subj, e, t->msgs[m].subj_off, sl, c);
		} else if (t->nodes[e->val].msg != NONE &&
			   (t->nodes[c].msg == NONE ||
			    (t->msgs[t->nodes[e->val].msg].reply &&
			     !t->msgs[m].reply))) {
			e->val = c;
		}
	}
	for (int32_t c = t->nodes[t->root].first, next; c != NONE; c = next) {
		int32_t m = subject_msg(t, c), tc;
		const char *s;
		size_t sl;
		struct hent *e;

		next = t->nodes[c].next;
		if (m == NONE || t->msgs[m].subj_len == 0)
			continue;
		s = msg_subject(t, m, &sl);
		e = htab_find(&subj, &t->pool, s, sl);
		if (e == NULL || !e->used || e->val == c)
			continue;
		tc = e->val;
		if (t->nodes[c].msg == NONE && t->nodes[tc].msg == NONE) {
			while (t->nodes[c].first != NONE)
				node_append(t, tc, t->nodes[c].first);
			node_unlink(t, c);
		} else if (t->nodes[tc].msg == NONE) {
			node_append(t, tc, c);
		} else if (t->nodes[c].msg != NONE && t->msgs[m].reply &&
			   !t->msgs[t->nodes[tc].msg].reply) {
			node_append(t, tc, c);
		} else {
			int32_t d = node_new(t, NONE);

			node_replace(t, tc, d);
			node_append(t, d, tc);
			node_append(t, d, c);
			e->val = d;
			if (next == tc)
				next = d;
		}
	}
	free(subj.e);

	/* step 7: sort every set of siblings */
	sort_all(t);
}

bool thread_messages(struct mailbox *mb, const char *algorithm,
		     const uint32_t *seqs, uint32_t n, bool use_uid,
		     struct buf *out, const char **error_r)
{
	struct tctx t;
	struct buf hdr, tmp;
	bool refs;

	if (ascii_strcasecmp(algorithm, "REFERENCES") == 0)
		refs = true;
	else if (ascii_strcasecmp(algorithm, "ORDEREDSUBJECT") == 0)
		refs = false;
	else {
		*error_r = "Unknown threading algorithm";
		return false;
	}
	if (n > (uint32_t)INT32_MAX / 4) {
		*error_r = "Too many messages to thread";
		return false;
	}
	memset(&t, 0, sizeof t);
	buf_init(&t.pool, 0);
	buf_init(&hdr, 0);
	buf_init(&tmp, 0);
	msgs_load(&t, mb, seqs, n, use_uid, &hdr, &tmp);
	t.root = node_new(&t, NONE);
	if (refs)
		thread_references(&t, mb, seqs, &hdr, &tmp);
	else
		thread_orderedsubject(&t);
	emit_all(&t, out);
	buf_release(&t.pool);
	buf_release(&hdr);
	buf_release(&tmp);
	free(t.nodes);
	free(t.msgs);
	return true;
}
