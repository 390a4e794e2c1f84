/*
 * buf.h - the one growable byte string (Postfix VSTRING, Dovecot buffer_t).
 *
 * Every protocol line, literal, header and path that can grow goes through
 * struct buf. Size arithmetic is checked; an optional maximum makes growth
 * beyond it fail (buf_* return false) instead of consuming memory; data is
 * always NUL-terminated (the NUL is not counted in len), so buf_cstr() is
 * safe to pass to C string functions when the content has no NULs.
 */
#ifndef CC_BUF_H
#define CC_BUF_H

#include <stdarg.h>
#include "util.h"

struct buf {
	char *data;	/* always non-NULL after buf_init, NUL-terminated */
	size_t len;	/* bytes used, excluding the terminator */
	size_t cap;	/* bytes allocated, including room for the terminator */
	size_t max;	/* 0 = unlimited; otherwise len may never exceed max */
};

void buf_init(struct buf *b, size_t max);
struct buf *buf_new(size_t max);
void buf_free(struct buf **b);		/* frees and sets *b = NULL */
void buf_release(struct buf *b);	/* frees contents of an embedded buf */

/* all appenders return false (and leave b unchanged) past b->max */
bool buf_append(struct buf *b, const void *p, size_t n);
bool buf_puts(struct buf *b, const char *s);
bool buf_putc(struct buf *b, char c);
bool buf_printf(struct buf *b, const char *fmt, ...) ATTR_PRINTF(2, 3);
bool buf_vprintf(struct buf *b, const char *fmt, va_list ap);
/* ensure room for n more bytes; returns pointer to write position */
char *buf_reserve(struct buf *b, size_t n);
/* after writing n bytes at buf_reserve()'s pointer */
void buf_commit(struct buf *b, size_t n);
/* the number of bare LFs (an LF not preceded by CR) in data */
size_t crlf_bare_lf_count(const char *data, size_t len);
/* append data with each bare LF turned into CRLF (RFC 3501/5322 text) */
bool buf_append_crlf(struct buf *b, const char *data, size_t len);

void buf_reset(struct buf *b);
void buf_truncate(struct buf *b, size_t len);
/* remove the first n bytes */
void buf_consume(struct buf *b, size_t n);
static inline const char *buf_cstr(const struct buf *b) { return b->data; }
/* detach the data (caller frees); b is reset to empty */
char *buf_steal(struct buf *b, size_t *len_r);

#endif
