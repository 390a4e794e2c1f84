/*
 * mbox-repair.c - the mbox driver's repair hook (mailutil repair, FAQ
 * 7.1, 7.2, 7.14): a file that does not begin with a "From " line gets a
 * separator (when what precedes the first one looks like a header) or
 * that data goes to a side file; X-UID headers that do not increase are
 * removed with X-IMAP and X-IMAPbase, so UIDs are rebuilt. With fix it
 * holds the mailbox lock (with the .lock file: a rewrite without it could
 * lose mail an MTA delivers meanwhile, FAQ 7.10).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "date.h"
#include "journal.h"
#include "lock.h"
#include "mbox-private.h"
#include "repair.h"

/* a separator line at off; *len_r its length with the LF */
static bool mbox_from_at(const struct mail_repair *r, size_t off,
			 size_t *len_r)
{
	const char *p = r->data + off, *nl;
	int64_t t;
	int32_t z;

	if (r->len - off < 5 || memcmp(p, "From ", 5) != 0)
		return false;
	nl = memchr(p, '\n', r->len - off);
	size_t l = nl != NULL ? (size_t)(nl - p) : r->len - off;
	size_t ll = l > 0 && p[l - 1] == '\r' ? l - 1 : l;
	if (!mbox_is_from_line(p, ll, &t, &z))
		return false;
	*len_r = nl != NULL ? l + 1 : l;
	return true;
}

/* FAQ 7.1 / 7.2: the first line must be a "From " line; returns where
 * the messages start (-1 on a side file error) */
static int mbox_repair_start(struct mail_repair *r, size_t *pos_r,
			     const char **error_r)
{
	const char *d = r->data;
	size_t q = 0, fl, i = 0;

	for (size_t p = 0; p < r->len; p++)
		if ((p == 0 || d[p - 1] == '\n') && mbox_from_at(r, p, &fl)) {
			q = p;
			break;
		}
	if (q == 0)
		q = r->len;
	while (i < q && d[i] != ':' && d[i] > ' ' && d[i] < 127)
		i++;
	if (i > 0 && i < q && d[i] == ':') {	/* looks like a header */
		struct buf b;
		mail_repair_problem(r, 0, "file does not begin with a \"From \" "
				    "line (FAQ 7.1, 7.2): a separator line "
				    "was added so the first %zu bytes become "
				    "a message", q);
		buf_init(&b, 0);
		date_format_from_line(time(NULL), 0, &b);
		buf_printf(&r->out, "From MAILER-DAEMON %s\n", b.data);
		buf_release(&b);
		buf_append(&r->out, d, q);
		if (q < r->len && (q == 0 || d[q - 1] != '\n'))
			buf_putc(&r->out, '\n');
	} else {
		mail_repair_problem(r, 0, "file does not begin with a \"From \" "
				    "line (FAQ 7.1, 7.2)");
		if (mail_repair_save_bad(r, 0, q, "data before the first "
					 "message", error_r) < 0)
			return -1;
	}
	*pos_r = q;
	return 0;
}

static bool mbox_uid_header(const char *p, size_t n)
{
	return (n >= 6 && ascii_strncasecmp(p, "X-UID:", 6) == 0) ||
		(n >= 11 && ascii_strncasecmp(p, "X-IMAPbase:", 11) == 0) ||
		(n >= 7 && ascii_strncasecmp(p, "X-IMAP:", 7) == 0);
}

static int mbox_repair_data(struct mail_repair *r, const char **error_r)
{
	size_t pos = 0, fl;
	uint32_t prev_uid = 0;
	bool uid_trouble = false;

	if (r->len == 0)
		return 0;
	if (!mbox_from_at(r, 0, &fl) && mbox_repair_start(r, &pos, error_r) < 0)
		return -1;
	/* 7.14: X-UID headers must increase */
	for (size_t p = pos; p < r->len; ) {
		const char *nl = memchr(r->data + p, '\n', r->len - p);
		size_t e = nl != NULL ? (size_t)(nl - r->data) + 1 : r->len;
		if (e - p > 6 && ascii_strncasecmp(r->data + p, "X-UID:", 6) == 0) {
			uint32_t uid = (uint32_t)strtoul(r->data + p + 6, NULL,
							 10);
			if (uid <= prev_uid && !uid_trouble) {
				uid_trouble = true;
				mail_repair_problem(r, p, "Message UID %u not "
						    "greater than previous %u "
						    "(FAQ 7.14): X-UID, X-IMAP "
						    "and X-IMAPbase removed, "
						    "UIDs will be rebuilt", uid,
						    prev_uid);
			}
			prev_uid = uid;
		}
		p = e;
	}
	if (!uid_trouble) {
		buf_append(&r->out, r->data + pos, r->len - pos);
		return 0;
	}
	/* copy, dropping the UID headers so a new regime starts */
	for (size_t p = pos; p < r->len; ) {
		const char *nl = memchr(r->data + p, '\n', r->len - p);
		size_t e = nl != NULL ? (size_t)(nl - r->data) + 1 : r->len;
		if (!mbox_uid_header(r->data + p, e - p))
			buf_append(&r->out, r->data + p, e - p);
		p = e;
	}
	return 0;
}

/* any plain file may be an mbox whose first separator was lost */
int mbox_repair_claim(const char *path, const struct stat *st)
{
	(void)path;
	return S_ISREG(st->st_mode) ? 1 : 0;
}

int mbox_repair(struct mail_repair *r, const char **error_r)
{
	struct mail_lock *lk = NULL;
	const char *notice = NULL;
	int fd, ret = -1;
	bool recovered;

	fd = open(r->path, (r->fix ? O_RDWR : O_RDONLY) | O_NOFOLLOW |
		  O_CLOEXEC);
	if (fd < 0) {
		*error_r = strerror(errno);
		return -1;
	}
	if (r->fix) {
		if (lock_mailbox(r->path, fd, 0, &lk, &notice, error_r) < 0)
			goto out;
		if (lock_dotlock_missing(lk)) {
			/* a rewrite without the .lock file could lose mail an
			 * MTA delivers meanwhile (FAQ 7.10) */
			*error_r = notice != NULL ? notice :
				"cannot create the .lock file; not rewriting";
			goto out;
		}
		if (journal_recover(r->path, fd, &recovered, error_r) < 0)
			goto out;
	}
	if (mail_repair_read(r, fd, error_r) < 0 ||
	    mbox_repair_data(r, error_r) < 0 ||
	    mail_repair_commit(r, fd, error_r) < 0)
		goto out;
	ret = 0;
out:
	if (lk != NULL)
		lock_release(&lk);
	close(fd);
	return ret;
}
