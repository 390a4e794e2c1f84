/*
 * memdriver.c - an in-memory mail driver for tests and fuzzers. See
 * memdriver.h. The private state embeds the public mailbox first.
 */
#include <stdlib.h>
#include <string.h>

#include "date.h"
#include "memdriver.h"

struct memmb {
	struct mailbox mb;	/* must be first */
	char **text;
	size_t *len;
};

static int mem_fetch(struct mailbox *mb, uint32_t idx, enum mail_part part,
		     struct buf *out, const char **error_r)
{
	struct memmb *m = (struct memmb *)mb;
	const char *t, *e;
	size_t len, h;

	if (idx >= mb->count) {
		*error_r = "no such message";
		return -1;
	}
	t = m->text[idx];
	len = m->len[idx];
	e = memmem(t, len, "\r\n\r\n", 4);
	h = e != NULL ? (size_t)(e - t) + 4 : len;
	if (part == MAIL_PART_HEADER)
		buf_append(out, t, h);
	else if (part == MAIL_PART_TEXT)
		buf_append(out, t + h, len - h);
	else
		buf_append(out, t, len);
	return 0;
}

static const struct mail_driver mem_driver = {
	.name = "memory",
	.fetch = mem_fetch,
};

struct mailbox *memdriver_new(void)
{
	struct memmb *m = xcalloc(1, sizeof *m);

	m->mb.driver = &mem_driver;
	return &m->mb;
}

struct mail_message *memdriver_add(struct mailbox *mb, const char *text,
				   size_t len, bool lf_to_crlf, uint32_t uid,
				   uint32_t flags)
{
	struct memmb *m = (struct memmb *)mb;
	struct mail_message *msg;
	struct buf b;

	if (mb->count == mb->alloc) {
		mb->alloc = mb->alloc ? mb->alloc * 2 : 16;
		mb->msgs = xreallocarray(mb->msgs, mb->alloc, sizeof *mb->msgs);
		m->text = xreallocarray(m->text, mb->alloc, sizeof *m->text);
		m->len = xreallocarray(m->len, mb->alloc, sizeof *m->len);
	}
	buf_init(&b, 0);
	for (size_t i = 0; i < len; i++) {
		if (lf_to_crlf && text[i] == '\n')
			buf_putc(&b, '\r');
		buf_putc(&b, text[i]);
	}
	msg = &mb->msgs[mb->count];
	memset(msg, 0, sizeof *msg);
	msg->uid = uid;
	msg->flags = flags;
	msg->size = b.len;
	m->text[mb->count] = buf_steal(&b, &m->len[mb->count]);
	buf_release(&b);
	mb->uidnext = uid + 1;
	mb->count++;
	return msg;
}

struct mail_message *memdriver_add_lf(struct mailbox *mb, const char *text,
				      uint32_t uid, uint32_t flags,
				      const char *idate)
{
	struct mail_message *m = memdriver_add(mb, text, strlen(text), true,
					       uid, flags);

	if (idate != NULL &&
	    !date_parse_imap_datetime(idate, &m->internaldate, &m->zone))
		return NULL;
	return m;
}

void memdriver_free(struct mailbox **mbp)
{
	struct memmb *m = (struct memmb *)*mbp;

	if (m == NULL)
		return;
	for (uint32_t i = 0; i < m->mb.count; i++)
		free(m->text[i]);
	for (unsigned i = 0; i < m->mb.nkeywords; i++)
		free(m->mb.keywords[i]);
	free(m->text);
	free(m->len);
	free(m->mb.msgs);
	free(m);
	*mbp = NULL;
}
