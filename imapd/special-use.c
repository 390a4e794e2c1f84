/*
 * special-use.c - SPECIAL-USE and CREATE-SPECIAL-USE (RFC 6154): which
 * of the user's mailboxes is for sent mail, drafts, trash, junk or the
 * archive. Kept per user in ~/.mailboxuse, one "NAME<TAB>\Use" a line,
 * set by CREATE name (USE (...)), moved by RENAME, dropped by DELETE,
 * shown in LIST. \All and \Flagged are refused: they name virtual
 * mailboxes, which we do not have.
 *
 * SECURITY: the file lives in a directory the user controls: it is
 * opened with O_NOFOLLOW, must be a plain file of this user (one link),
 * is read bounded (size, lines), and rewritten atomically (temp file
 * with O_EXCL | O_NOFOLLOW, fsync, rename). Names with a tab or a line
 * end are never written. Two sessions changing it at the same moment:
 * the last rewrite wins (each rewrite is whole, never torn).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "mailname.h"
#include "imapd.h"

#define USE_FILE	".mailboxuse"
#define USE_MAX_SIZE	(64 * 1024)
#define USE_MAX_ENTRIES	1000

static const struct { unsigned bit; const char *name; } uses[] = {
	{ USE_ARCHIVE, "\\Archive" },
	{ USE_DRAFTS, "\\Drafts" },
	{ USE_JUNK, "\\Junk" },
	{ USE_SENT, "\\Sent" },
	{ USE_TRASH, "\\Trash" },
};

unsigned special_use_parse(const char *flag, bool *known_r)
{
	*known_r = ascii_strcasecmp(flag, "\\All") == 0 ||
		ascii_strcasecmp(flag, "\\Flagged") == 0;
	for (size_t i = 0; i < N_ELEMENTS(uses); i++)
		if (ascii_strcasecmp(flag, uses[i].name) == 0) {
			*known_r = true;
			return uses[i].bit;
		}
	return 0;
}

void special_use_format(unsigned bits, struct buf *out, bool *first)
{
	for (size_t i = 0; i < N_ELEMENTS(uses); i++) {
		if ((bits & uses[i].bit) == 0)
			continue;
		if (!*first)
			buf_putc(out, ' ');
		buf_puts(out, uses[i].name);
		*first = false;
	}
}

static char *use_path(void)
{
	if (mail_user == NULL || mail_user->home == NULL ||
	    mail_user->home[0] != '/')
		return NULL;
	return xasprintf("%s/%s", mail_user->home, USE_FILE);
}

static const char *canon(const char *name)
{
	return mail_name_is_inbox(name) ? "INBOX" : name;
}

void special_use_free(struct special_uses *u)
{
	for (size_t i = 0; i < u->n; i++)
		free(u->names[i]);
	free(u->names);
	free(u->bits);
	memset(u, 0, sizeof *u);
}

static void add(struct special_uses *u, const char *name, unsigned bits)
{
	for (size_t i = 0; i < u->n; i++)
		if (strcmp(u->names[i], name) == 0) {
			u->bits[i] |= bits;
			return;
		}
	if (u->n == USE_MAX_ENTRIES)
		return;
	u->names = xreallocarray(u->names, u->n + 1, sizeof *u->names);
	u->bits = xreallocarray(u->bits, u->n + 1, sizeof *u->bits);
	u->names[u->n] = xstrdup(name);
	u->bits[u->n] = bits;
	u->n++;
}

void special_use_load(struct special_uses *u)
{
	char *path = use_path(), *data, *line, *save, *tab;
	struct stat st;
	ssize_t r;
	int fd;
	bool known;

	memset(u, 0, sizeof *u);
	if (path == NULL || mail_user->anonymous)
		goto out;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		if (errno != ENOENT)
			log_warning("%s: %s; no special-use mailboxes", path,
				    strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1 ||
	    (st.st_uid != geteuid() && st.st_uid != 0 &&
	     st.st_uid != mail_user->uid) || st.st_size > USE_MAX_SIZE) {
		log_warning("%s: not a plain file of this user or too large; "
			    "ignored", path);
		close(fd);
		goto out;
	}
	data = xmalloc((size_t)st.st_size + 1);
	r = pread_full(fd, data, (size_t)st.st_size, 0);
	close(fd);
	if (r < 0) {
		free(data);
		goto out;
	}
	data[r] = '\0';
	for (line = strtok_r(data, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		unsigned bit;
		tab = strchr(line, '\t');
		if (tab == NULL || tab == line)
			continue;
		*tab++ = '\0';
		tab[strcspn(tab, "\r")] = '\0';
		bit = special_use_parse(tab, &known);
		if (bit != 0)
			add(u, canon(line), bit);
	}
	free(data);
out:
	free(path);
}

unsigned special_use_of(const struct special_uses *u, const char *name)
{
	name = canon(name);
	for (size_t i = 0; i < u->n; i++)
		if (strcmp(u->names[i], name) == 0)
			return u->bits[i];
	return 0;
}

static int save(const struct special_uses *u, const char **error_r)
{
	static char errbuf[256];
	char *path = use_path(), *tmp;
	struct buf b;
	int fd, ret = -1;

	if (path == NULL) {
		*error_r = "No home directory for special-use mailboxes";
		return -1;
	}
	tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
	buf_init(&b, 0);
	for (size_t i = 0; i < u->n; i++)
		for (size_t j = 0; j < N_ELEMENTS(uses); j++)
			if (u->bits[i] & uses[j].bit)
				buf_printf(&b, "%s\t%s\n", u->names[i],
					   uses[j].name);
	(void)unlink(tmp);	/* a leftover of a crashed process of ours */
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		  0600);
	if (fd < 0)
		goto fail;
	if (write_full(fd, b.data, b.len) < 0 || fsync(fd) < 0) {
		close(fd);
		(void)unlink(tmp);
		goto fail;
	}
	if (close(fd) < 0 || rename(tmp, path) < 0) {
		(void)unlink(tmp);
		goto fail;
	}
	ret = 0;
	goto out;
fail:
	snprintf(errbuf, sizeof errbuf, "Can't write %s: %s", USE_FILE,
		 strerror(errno));
	*error_r = errbuf;
out:
	buf_release(&b);
	free(tmp);
	free(path);
	return ret;
}

static bool name_storable(const char *name)
{
	return strpbrk(name, "\t\r\n") == NULL && strlen(name) < 4096;
}

int special_use_set(const char *name, unsigned bits, const char **error_r)
{
	struct special_uses u;
	int ret;

	if (!name_storable(name)) {
		*error_r = "[USEATTR] This name cannot have a special use";
		return -1;
	}
	special_use_load(&u);
	if (u.n == USE_MAX_ENTRIES) {
		special_use_free(&u);
		*error_r = "[LIMIT] Too many special-use mailboxes";
		return -1;
	}
	add(&u, canon(name), bits);
	ret = save(&u, error_r);
	special_use_free(&u);
	return ret;
}

/* DELETE (to == NULL) drops name's uses; RENAME moves them, and those
 * of the names below it */
void special_use_rename(const char *from, const char *to)
{
	struct special_uses u;
	size_t flen, i, o;
	bool changed = false;
	const char *error;

	special_use_load(&u);
	from = canon(from);
	flen = strlen(from);
	for (i = 0, o = 0; i < u.n; i++) {
		char *n = u.names[i];
		if (strcmp(n, from) == 0) {
			changed = true;
			if (to == NULL || !name_storable(to)) {
				free(n);
				continue;
			}
			u.names[i] = xstrdup(canon(to));
			free(n);
		} else if (to != NULL && strncmp(n, from, flen) == 0 &&
			   n[flen] == '/') {
			u.names[i] = xasprintf("%s%s", to, n + flen);
			free(n);
			changed = true;
		}
		u.names[o] = u.names[i];
		u.bits[o] = u.bits[i];
		o++;
	}
	u.n = o;
	if (changed && save(&u, &error) < 0)
		log_warning("%s", error);
	special_use_free(&u);
}
