/*
 * deliver.c - local delivery for tmail and dmail (see deliver.h).
 *
 * SECURITY: the message and its headers are hostile. The read is bounded;
 * the sender that ends up in a "From " line is reduced to printable
 * non-space bytes so it cannot break the mbox separator; mailbox names
 * go through mail_resolve() like any IMAP name. Privileges are the
 * caller's business: tmail drops to the recipient before calling
 * deliver_to(), dmail already runs as the user.
 *
 * SECURITY: an existing mailbox must belong to its recipient before
 * anything is written to it (as Postfix local(8) checks the spool file):
 * owned by the recipient or root, a plain file with one link or a
 * directory, never a symbolic link. A pre-created /var/mail/newuser of
 * another user is refused, so it cannot collect newuser's mail.
 * deliver_open_beneath() resolves user+folder names inside the mail
 * directory without following a link anywhere on the way.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sysexits.h>
#include <linux/openat2.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "deliver.h"
#include "log.h"
#include "mail.h"
#include "mailname.h"

#define SENDER_MAX 256

/* a sender safe for "From SENDER DATE": printable, no spaces */
static char *sender_clean(const char *s, size_t n)
{
	struct buf b;

	while (n > 0 && (*s == ' ' || *s == '\t' || *s == '<')) {
		s++;
		n--;
	}
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' ||
			 s[n - 1] == '>' || s[n - 1] == '\r'))
		n--;
	if (n == 0)
		return xstrdup("MAILER-DAEMON");
	if (n > SENDER_MAX)
		n = SENDER_MAX;
	buf_init(&b, 0);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		buf_putc(&b, c <= 0x20 || c >= 0x7f ? '_' : (char)c);
	}
	char *r = buf_steal(&b, NULL);

	buf_release(&b);	/* buf_steal leaves a fresh empty buffer */
	return r;
}

/* the address of a Return-Path header in the header part, or NULL */
static char *return_path(const char *data, size_t len)
{
	const char *p = data, *end = data + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t ll = nl ? (size_t)(nl - p) : (size_t)(end - p);

		if (ll == 0 || (ll == 1 && p[0] == '\r'))
			break;		/* end of header */
		if (ll > 12 && ascii_strncasecmp(p, "Return-Path:", 12) == 0) {
			const char *v = p + 12, *lt, *gt;
			size_t vl = ll - 12;

			lt = memchr(v, '<', vl);
			if (lt != NULL) {
				gt = memchr(lt, '>', vl - (size_t)(lt - v));
				if (gt != NULL)
					return sender_clean(lt + 1,
							    (size_t)(gt - lt - 1));
			}
			return sender_clean(v, vl);
		}
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	return NULL;
}

int deliver_read(int fd, const char *sender_opt, size_t max,
		 struct delivery *d, const char **error_r)
{
	static char errbuf[128];
	struct buf in, out;
	const char *p, *end;
	char *from_sender = NULL, *rp_header = NULL, *old_rp;

	memset(d, 0, sizeof *d);
	buf_init(&in, 0);
	for (;;) {
		char *w = buf_reserve(&in, 65536);
		ssize_t r = read(fd, w, 65536);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(errbuf, sizeof errbuf, "read error: %s",
				 strerror(errno));
			*error_r = errbuf;
			buf_release(&in);
			return EX_TEMPFAIL;
		}
		if (r == 0)
			break;
		buf_commit(&in, (size_t)r);
		if (in.len > max) {
			*error_r = "message too large";
			buf_release(&in);
			return EX_DATAERR;
		}
	}

	p = in.data;
	end = in.data + in.len;
	if (in.len == 0) {
		*error_r = "empty message";
		buf_release(&in);
		return EX_DATAERR;
	}
	/* the MTA's "From sender date" line: take the sender, drop the line */
	if (in.len >= 5 && memcmp(p, "From ", 5) == 0) {
		const char *nl = memchr(p, '\n', in.len);
		const char *s = p + 5, *e;

		if (nl == NULL)
			nl = end;
		while (s < nl && *s == ' ')
			s++;
		e = s;
		while (e < nl && *e != ' ' && *e != '\t' && *e != '\r')
			e++;
		from_sender = sender_clean(s, (size_t)(e - s));
		p = nl < end ? nl + 1 : end;
	}
	if (sender_opt != NULL) {
		/* "" and "<>" are the null sender of bounces */
		d->sender = sender_clean(sender_opt, strlen(sender_opt));
		free(from_sender);
		/* as UW tmail did: the envelope sender the MTA gave becomes
		 * a Return-Path header unless the message has one */
		old_rp = return_path(p, (size_t)(end - p));
		if (old_rp == NULL)
			rp_header = xasprintf("Return-Path: <%s>\r\n",
				strcmp(d->sender, "MAILER-DAEMON") == 0 &&
				strcmp(sender_opt, "MAILER-DAEMON") != 0 ?
				"" : d->sender);
		free(old_rp);
	} else if (from_sender != NULL) {
		d->sender = from_sender;
	} else {
		d->sender = return_path(p, (size_t)(end - p));
		if (d->sender == NULL)
			d->sender = xstrdup("MAILER-DAEMON");
	}

	/* CRLF, as an IMAP client would APPEND it */
	buf_init(&out, 0);
	buf_reserve(&out, (size_t)(end - p) + (size_t)(end - p) / 16 + 2);
	if (rp_header != NULL) {
		buf_puts(&out, rp_header);
		xfree(&rp_header);
	}
	(void)buf_append_crlf(&out, p, (size_t)(end - p));
	if (out.len > 0 && out.data[out.len - 1] != '\n')
		buf_puts(&out, "\r\n");
	buf_release(&in);
	d->data = buf_steal(&out, &d->len);
	buf_release(&out);
	return EX_OK;
}

void deliver_free(struct delivery *d)
{
	xfree(&d->data);
	xfree(&d->sender);
	d->len = 0;
}

/* create a missing mailbox; EX_OK or EX_CANTCREAT */
static int deliver_create(const struct mail_path *mp, const char *mailbox,
			  const char **error_r)
{
	static char errbuf[300];
	int fd;

	/* an INBOX at a configured inbox-path is created in the default
	 * format (inbox-path %h/Maildir with default-driver maildir) */
	bool inbox_configured = mail_user->inbox_path != NULL &&
		mail_user->inbox_path[0] != '\0' &&
		!driver_default()->spool_format;

	if (!mp->is_inbox || mp->create_driver != NULL || inbox_configured) {
		const struct mail_driver *d = mp->create_driver != NULL ?
			mp->create_driver : driver_default();
		if (d->create == NULL) {
			*error_r = "Mailbox format cannot create mailboxes";
			return EX_CANTCREAT;
		}
		return mail_create(mailbox, error_r) < 0 ? EX_CANTCREAT : EX_OK;
	}
	/* the INBOX spool is a traditional file MTAs also write: an empty
	 * file is an empty mbox */
	fd = open(mp->path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		  (mode_t)(config_int("new-mailbox-mode") & 0666));
	if (fd < 0 && errno != EEXIST) {
		snprintf(errbuf, sizeof errbuf, "cannot create %s: %s",
			 mp->path, strerror(errno));
		*error_r = errbuf;
		return EX_CANTCREAT;
	}
	if (fd >= 0)
		close(fd);
	return EX_OK;
}

/* Delivery leaves new mail looking new: readers, login shells, biff and
 * IMAP \Marked compare the access time with the modification time, and
 * a driver that reads the file while appending moves the access time. */
static void keep_unread(const char *path, const struct stat *before)
{
	struct stat after;

	if (stat(path, &after) < 0 || !S_ISREG(after.st_mode) ||
	    after.st_ino != before->st_ino || after.st_dev != before->st_dev)
		return;
	if (after.st_atim.tv_sec < after.st_mtim.tv_sec ||
	    (after.st_atim.tv_sec == after.st_mtim.tv_sec &&
	     after.st_atim.tv_nsec < after.st_mtim.tv_nsec))
		return;		/* already looks unread */
	struct timespec ts[2] = {
		before->st_atim, { .tv_sec = 0, .tv_nsec = UTIME_OMIT },
	};
	/* an old atime later than the new mtime cannot say "new mail";
	 * one second before the delivery can */
	if (before->st_atim.tv_sec >= after.st_mtim.tv_sec) {
		ts[0].tv_sec = after.st_mtim.tv_sec - 1;
		ts[0].tv_nsec = after.st_mtim.tv_nsec;
	}
	(void)utimensat(AT_FDCWD, path, ts, 0);
}

/* the walk openat2() does, for kernels without it: one component at a
 * time, each opened with O_NOFOLLOW, "." and ".." refused */
static int open_beneath_walk(int dirfd, const char *rel)
{
	char *copy = xstrdup(rel), *save = NULL, *comp, *next;
	int fd = dup(dirfd);

	if (fd < 0) {
		free(copy);
		return -1;
	}
	for (comp = strtok_r(copy, "/", &save); comp != NULL; comp = next) {
		int nfd;

		next = strtok_r(NULL, "/", &save);
		if (strcmp(comp, "..") == 0 || strcmp(comp, ".") == 0) {
			close(fd);
			free(copy);
			errno = EXDEV;
			return -1;
		}
		nfd = openat(fd, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC |
			     (next != NULL ? O_DIRECTORY : 0));
		if (nfd >= 0 && next == NULL) {
			struct stat st;
			/* O_PATH|O_NOFOLLOW opens the link itself */
			if (fstat(nfd, &st) < 0 || S_ISLNK(st.st_mode)) {
				close(nfd);
				nfd = -1;
				errno = ELOOP;
			}
		} else if (nfd < 0 && errno == ENOTDIR && next != NULL) {
			struct stat st;
			/* a link where a directory should be */
			if (fstatat(fd, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			    S_ISLNK(st.st_mode))
				errno = ELOOP;
		}
		close(fd);
		if (nfd < 0) {
			free(copy);
			return -1;
		}
		fd = nfd;
	}
	free(copy);
	return fd;
}

int deliver_open_beneath(const char *base, const char *rel, bool walk_only)
{
	int dirfd, fd = -1, err;

	if (*rel == '\0' || rel[0] == '/') {
		errno = EXDEV;
		return -1;
	}
	dirfd = open(base, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return -1;
	if (!walk_only) {
		struct open_how how;

		memset(&how, 0, sizeof how);
		how.flags = O_PATH | O_CLOEXEC;
		how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
			RESOLVE_NO_MAGICLINKS;
		fd = (int)syscall(SYS_openat2, dirfd, rel, &how, sizeof how);
	}
	if (walk_only || (fd < 0 && (errno == ENOSYS || errno == EPERM)))
		fd = open_beneath_walk(dirfd, rel);	/* old kernel, seccomp */
	err = errno;
	close(dirfd);
	errno = err;
	return fd;
}

int deliver_check_owner(const struct stat *st, uid_t uid,
			const char **error_r)
{
	if (S_ISLNK(st->st_mode)) {
		*error_r = "Mailbox is a symbolic link";
		return -1;
	}
	if (!S_ISREG(st->st_mode) && !S_ISDIR(st->st_mode)) {
		*error_r = "Mailbox is not a regular file or directory";
		return -1;
	}
	if (st->st_uid != uid && st->st_uid != 0) {
		*error_r = "Mailbox is not owned by its recipient";
		return -1;
	}
	if (S_ISREG(st->st_mode) && st->st_nlink > 1) {
		*error_r = "Mailbox has more than one hard link";
		return -1;
	}
	return 0;
}

int deliver_to(const struct delivery *d, const char *mailbox,
	       const char **error_r)
{
	struct mail_append_msg msg;
	struct mail_path mp;
	struct stat st;
	uint32_t uidvalidity, uid;
	int ex = EX_OK;

	if (mail_resolve(mailbox, &mp, error_r) < 0)
		return EX_NOPERM;
	if (lstat(mp.path, &st) == 0) {
		if (deliver_check_owner(&st, mail_user->uid, error_r) < 0) {
			/* the MTA keeps the message until an admin looks */
			log_error("deliver to %s: %s: %s (owner uid %lu, "
				  "%lu links)", mail_user->name, mp.path,
				  *error_r, (unsigned long)st.st_uid,
				  (unsigned long)st.st_nlink);
			mail_path_free(&mp);
			return EX_TEMPFAIL;
		}
	} else if (errno != ENOENT) {
		*error_r = "cannot stat mailbox";
		ex = EX_TEMPFAIL;
	} else {
		ex = deliver_create(&mp, mailbox, error_r);
		if (ex == EX_OK && stat(mp.path, &st) < 0)
			memset(&st, 0, sizeof st);
	}
	if (ex != EX_OK) {
		mail_path_free(&mp);
		return ex;
	}

	memset(&msg, 0, sizeof msg);
	msg.data = d->data;
	msg.len = d->len;
	msg.internaldate = -1;
	msg.from_sender = d->sender;
	if (mail_append(mailbox, &msg, 1, &uidvalidity, &uid, error_r) < 0)
		ex = EX_TEMPFAIL;
	else if (S_ISREG(st.st_mode))
		keep_unread(mp.path, &st);
	mail_path_free(&mp);
	return ex;
}

const char *deliver_result_name(int ex)
{
	switch (ex) {
	case EX_OK: return "delivered";
	case EX_TEMPFAIL: return "deferred";
	case EX_NOUSER: return "unknown user";
	case EX_CANTCREAT: return "cannot create mailbox";
	case EX_NOPERM: return "refused";
	case EX_DATAERR: return "bad message";
	case EX_USAGE: return "usage error";
	default: return "failed";
	}
}
