/*
 * buf.c - the growable byte string. See buf.h.
 */
#include <stdio.h>
#include <string.h>

#include "buf.h"

void buf_init(struct buf *b, size_t max)
{
	b->cap = 64;
	b->data = xmalloc(b->cap);
	b->data[0] = '\0';
	b->len = 0;
	b->max = max;
}

struct buf *buf_new(size_t max)
{
	struct buf *b = xmalloc(sizeof *b);
	buf_init(b, max);
	return b;
}

void buf_release(struct buf *b)
{
	xfree(&b->data);
	b->len = b->cap = 0;
}

void buf_free(struct buf **b)
{
	if (*b == NULL)
		return;
	buf_release(*b);
	xfree(b);
}

/* make room for n more bytes plus the terminator */
static bool buf_grow(struct buf *b, size_t n)
{
	size_t need, cap;

	if (!size_add(b->len, n, &need))
		return false;
	if (b->max != 0 && need > b->max)
		return false;
	if (!size_add(need, 1, &need))
		return false;
	if (need <= b->cap)
		return true;
	cap = b->cap ? b->cap : 64;
	while (cap < need) {
		if (!size_mul(cap, 2, &cap)) {
			cap = need;
			break;
		}
	}
	b->data = xrealloc(b->data, cap);
	b->cap = cap;
	return true;
}

char *buf_reserve(struct buf *b, size_t n)
{
	if (!buf_grow(b, n))
		return NULL;
	return b->data + b->len;
}

void buf_commit(struct buf *b, size_t n)
{
	if (n > b->cap - b->len - 1)
		panic("buf_commit past reserved space");
	b->len += n;
	b->data[b->len] = '\0';
}

size_t crlf_bare_lf_count(const char *data, size_t len)
{
	size_t bare = 0;

	for (size_t i = 0; i < len; i++)
		if (data[i] == '\n' && (i == 0 || data[i - 1] != '\r'))
			bare++;
	return bare;
}

bool buf_append_crlf(struct buf *b, const char *data, size_t len)
{
	size_t bare = crlf_bare_lf_count(data, len), n;
	char *w;

	if (!size_add(len, bare, &n) || (w = buf_reserve(b, n)) == NULL)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (data[i] == '\n' && (i == 0 || data[i - 1] != '\r'))
			*w++ = '\r';
		*w++ = data[i];
	}
	buf_commit(b, n);
	return true;
}

bool buf_append(struct buf *b, const void *p, size_t n)
{
	if (!buf_grow(b, n))
		return false;
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return true;
}

bool buf_puts(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

bool buf_putc(struct buf *b, char c)
{
	return buf_append(b, &c, 1);
}

bool buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;

	va_copy(ap2, ap);
	n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return false;
	if ((size_t)n < b->cap - b->len) {
		if (b->max != 0 && b->len + (size_t)n > b->max) {
			b->data[b->len] = '\0';
			return false;
		}
		b->len += (size_t)n;
		return true;
	}
	if (!buf_grow(b, (size_t)n)) {
		b->data[b->len] = '\0';
		return false;
	}
	vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
	b->len += (size_t)n;
	return true;
}

bool buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	bool ok;

	va_start(ap, fmt);
	ok = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return ok;
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	b->data[0] = '\0';
}

void buf_truncate(struct buf *b, size_t len)
{
	if (len < b->len) {
		b->len = len;
		b->data[len] = '\0';
	}
}

void buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len) {
		buf_reset(b);
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
	b->data[b->len] = '\0';
}

char *buf_steal(struct buf *b, size_t *len_r)
{
	char *p = b->data;

	if (len_r != NULL)
		*len_r = b->len;
	b->cap = 64;
	b->data = xmalloc(b->cap);
	b->data[0] = '\0';
	b->len = 0;
	return p;
}
