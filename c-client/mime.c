/*
 * mime.c - MIME structure (stub while being implemented).
 */
#include <string.h>

#include "mime.h"

struct mime_body *mime_parse(const char *msg, size_t len)
{
	struct mime_body *b = xcalloc(1, sizeof *b);

	b->type = xstrdup("TEXT");
	b->subtype = xstrdup("PLAIN");
	b->encoding = xstrdup("7BIT");
	b->body_size = len;
	return b;
}

void mime_free(struct mime_body **b)
{
	if (*b == NULL)
		return;
	xfree(&(*b)->type);
	xfree(&(*b)->subtype);
	xfree(&(*b)->encoding);
	xfree(b);
}

const char *mime_param_get(const struct mime_param *p, const char *attr)
{
	for (; p != NULL; p = p->next)
		if (ascii_strcasecmp(p->attr, attr) == 0)
			return p->value;
	return NULL;
}

const struct mime_body *mime_find_part(const struct mime_body *root,
				       const uint32_t *nums, unsigned n)
{
	return n == 0 ? root : NULL;
}

bool mime_decode_cte(const char *encoding, const char *in, size_t len,
		     struct buf *out)
{
	buf_append(out, in, len);
	return true;
}
