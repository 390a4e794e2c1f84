/*
 * repair.c - the format-neutral half of mailutil repair: report lines,
 * side files, reading the file and the journaled rewrite (repair.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "journal.h"
#include "repair.h"

static char repair_err[512];

void mail_repair_init(struct mail_repair *r, const char *path, bool fix)
{
	memset(r, 0, sizeof(*r));
	r->path = path;
	r->fix = fix;
	buf_init(&r->out, 0);
	buf_init(&r->report, 0);
}

void mail_repair_free(struct mail_repair *r)
{
	free(r->data);
	r->data = NULL;
	buf_release(&r->out);
	buf_release(&r->report);
}

void mail_repair_problem(struct mail_repair *r, uint64_t off,
			 const char *fmt, ...)
{
	va_list ap;

	r->problems++;
	buf_printf(&r->report, "at %" PRIu64 ": ", off);
	va_start(ap, fmt);
	buf_vprintf(&r->report, fmt, ap);
	va_end(ap);
	buf_putc(&r->report, '\n');
}

int mail_repair_save_bad(struct mail_repair *r, uint64_t off, uint64_t len,
			 const char *why, const char **error_r)
{
	char *name;
	int fd;

	if (len == 0)
		return 0;
	r->nbad++;
	name = xasprintf("%s.badmsg.%u", r->path, r->nbad);
	if (!r->fix) {
		mail_repair_problem(r, off, "%s: %" PRIu64 " bytes would be "
				    "saved to %s", why, len, name);
		free(name);
		return 0;
	}
	/* never overwrite an earlier side file */
	while ((fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
			  O_CLOEXEC, 0600)) < 0 && errno == EEXIST) {
		free(name);
		name = xasprintf("%s.badmsg.%u", r->path, ++r->nbad);
	}
	if (fd < 0 || write_full(fd, r->data + off, (size_t)len) !=
	    (ssize_t)len || fsync(fd) < 0) {
		snprintf(repair_err, sizeof(repair_err), "cannot write %s: %s",
			 name, strerror(errno));
		*error_r = repair_err;
		if (fd >= 0)
			close(fd);
		free(name);
		return -1;
	}
	close(fd);
	mail_repair_problem(r, off, "%s: %" PRIu64 " bytes saved to %s", why,
			    len, name);
	free(name);
	return 0;
}

int mail_repair_read(struct mail_repair *r, int fd, const char **error_r)
{
	struct stat st;

	if (fstat(fd, &st) < 0) {
		*error_r = strerror(errno);
		return -1;
	}
	if ((uint64_t)st.st_size > SIZE_MAX / 2) {
		*error_r = "file too large";
		return -1;
	}
	free(r->data);
	r->len = (size_t)st.st_size;
	r->data = xmalloc(r->len + 1);
	if (pread_full(fd, r->data, r->len, 0) != (ssize_t)r->len) {
		*error_r = strerror(errno);
		return -1;
	}
	return 0;
}

int mail_repair_commit(struct mail_repair *r, int fd, const char **error_r)
{
	struct journal_region rg = { 0, r->out.data, r->out.len };

	if (!r->fix || r->problems == 0)
		return 0;
	return journal_apply(r->path, fd, r->len, &rg, 1, r->out.len, error_r);
}
