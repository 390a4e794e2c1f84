/*
 * maildir.c - the maildir format as qmail, Postfix, Courier and Dovecot
 * write it: one file per message in tmp/ new/ cur/, flags in the name
 * after ":2," (D draft, F flagged, P passed, R answered, S seen,
 * T deleted, then keyword letters a-z), keywords named in the file
 * "dovecot-keywords" ("N name" lines, letter 'a'+N) as Dovecot does.
 *
 * UIDs: "cclient-uidlist" in the maildir (format in docs/formats.md):
 *   "1 V<uidvalidity> N<uidnext> R<recent>\n" then
 *   "<uid> [W<size>] [Z<zone>] :<base>\n"
 * where <base> is the file name up to ":2,". It is only ever replaced
 * whole (temp file + rename), so readers need no lock; writers (UID
 * assignment, new keywords) hold flock() on "cclient-uidlist.lock".
 * Delivery needs no lock at all: an MTA writes tmp/ and renames into
 * new/, and the next sync of any session gives the file the next UID.
 * A file renamed by another reader (flags) keeps its UID because the
 * match is on <base>.
 *
 * Text: appended messages are stored exactly as appended (CRLF; a bare
 * LF becomes CRLF as RFC 3501 wants). Foreign files with LF line ends
 * are served as CRLF; their served size is recorded as W<size> in the
 * uid list and ",W=<size>" in names we create (Dovecot's convention).
 * The internal date is the file's mtime (set with futimens on APPEND);
 * its zone is kept in the uid list. \Recent: the list's R<uid> is the
 * first UID no read-write session has taken yet (claimed under the lock).
 *
 * Every file name in the directory is hostile: names are only used
 * relative to the maildir, never with a '/' in them.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "journal.h"	/* journal_crash_point(): fault injection for tests */
#include "log.h"
#include "mail.h"

extern const struct mail_driver maildir_driver;

#define UIDLIST		"cclient-uidlist"
#define UIDLIST_LOCK	"cclient-uidlist.lock"
#define KEYWORDS_FILE	"dovecot-keywords"
#define MD_NKW		26
#define MD_MAX_FILE	(1024ull * 1024 * 1024)	/* refuse larger messages */
#define MD_FLAG_TRIES	8	/* renames lost to other sessions before giving up */

#define MDF_IN_NEW	0x01u	/* d_flags: the file is still in new/ */

/* one file found in new/ or cur/ */
struct md_entry {
	char *base;		/* name up to ":2," */
	char *rel;		/* "new/NAME" or "cur/NAME" */
	bool in_new;
	uint32_t uid;		/* from the uid list, 0 if none */
	uint64_t vsize;		/* from the uid list, 0 if unknown */
	int32_t zone;		/* internal date's zone from the uid list */
};

/* the uid list in memory */
struct md_uidlist {
	uint32_t uidvalidity, uidnext;
	uint32_t recent;	/* UIDs >= this: no session took them as \Recent */
	unsigned count, alloc;
	struct md_uid {
		uint32_t uid;
		uint64_t vsize;
		int32_t zone;	/* internal date's zone (APPEND), minutes */
		bool has_zone;
		char *base;
	} *e;
	bool exists;
};

struct maildir_mailbox {
	struct mailbox mb;	/* must be first */
	char *kwname[MD_NKW];	/* dovecot-keywords, by letter */
	int kw2idx[MD_NKW];	/* letter -> mb.keywords index, -1 none */
	bool need_rescan;
	/* new/ and cur/ mtimes at the last scan: unchanged directories
	 * need no scan (trusted only once they are in the past) */
	struct timespec new_mtime, cur_mtime;
	bool mtimes_ok;
};

static char *md_path(const char *dir, const char *rel)
{
	return xasprintf("%s/%s", dir, rel);
}

static void md_fsync_dir(const char *dir, const char *sub)
{
	char *p = sub != NULL ? md_path(dir, sub) : xstrdup(dir);
	int fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
	free(p);
}

/* ---- flags in names ---- */

static const struct {
	char c;
	uint32_t flag;
} md_flag_chars[] = {
	{ 'D', MAIL_DRAFT }, { 'F', MAIL_FLAGGED }, { 'R', MAIL_ANSWERED },
	{ 'S', MAIL_SEEN }, { 'T', MAIL_DELETED },
};

/* the info part after ":2,", or NULL */
static const char *md_info(const char *name)
{
	const char *p = strstr(name, ":2,");

	return p != NULL ? p + 3 : NULL;
}

static char *md_base(const char *name)
{
	const char *p = strchr(name, ':');

	return p != NULL ? xstrndup(name, (size_t)(p - name)) : xstrdup(name);
}

static void md_parse_info(const struct maildir_mailbox *mm, const char *info,
			  uint32_t *flags_r, uint64_t *kw_r)
{
	*flags_r = 0;
	*kw_r = 0;
	if (info == NULL)
		return;
	for (const char *p = info; *p != '\0'; p++) {
		for (size_t i = 0; i < N_ELEMENTS(md_flag_chars); i++)
			if (*p == md_flag_chars[i].c)
				*flags_r |= md_flag_chars[i].flag;
		if (*p >= 'a' && *p <= 'z' && mm->kw2idx[*p - 'a'] >= 0)
			*kw_r |= (uint64_t)1 << mm->kw2idx[*p - 'a'];
	}
}

/* new info: our flags and keywords, plus letters we do not manage (P,
 * keyword letters without a name) kept as they were; sorted */
static void md_build_info(const struct maildir_mailbox *mm, const char *old,
			  uint32_t flags, uint64_t kw, char out[64])
{
	bool on[128];
	size_t n = 0;

	memset(on, 0, sizeof(on));
	for (const char *p = old != NULL ? old : ""; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;
		if (c >= 128 || c <= ' ')
			continue;
		bool managed = false;
		for (size_t i = 0; i < N_ELEMENTS(md_flag_chars); i++)
			if (c == (unsigned char)md_flag_chars[i].c)
				managed = true;
		if (c >= 'a' && c <= 'z' && mm->kw2idx[c - 'a'] >= 0)
			managed = true;
		if (!managed)
			on[c] = true;
	}
	for (size_t i = 0; i < N_ELEMENTS(md_flag_chars); i++)
		if ((flags & md_flag_chars[i].flag) != 0)
			on[(unsigned char)md_flag_chars[i].c] = true;
	for (unsigned l = 0; l < MD_NKW; l++)
		if (mm->kw2idx[l] >= 0 &&
		    (kw & ((uint64_t)1 << mm->kw2idx[l])) != 0)
			on['a' + l] = true;
	for (unsigned c = 33; c < 127 && n < 62; c++)
		if (on[c] && c != ',' && c != '/' && c != ':')
			out[n++] = (char)c;
	out[n] = '\0';
}

/* ---- locking and the uid list ---- */

static int md_lock(const char *dir, const char **error_r)
{
	char *p = md_path(dir, UIDLIST_LOCK);
	int fd = open(p, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	long long timeout = config_int("lock-timeout");
	long long waited = 0;

	free(p);
	if (fd < 0) {
		*error_r = "Unable to lock maildir (uid list lock)";
		return -1;
	}
	if (timeout < 1)
		timeout = 1;
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if ((errno != EWOULDBLOCK && errno != EINTR) ||
		    waited >= timeout * 1000) {
			close(fd);
			*error_r = "Unable to lock maildir: timed out";
			return -1;
		}
		struct timespec ts = { 0, 10000000L };
		nanosleep(&ts, NULL);
		waited += 10;
	}
	return fd;
}

static void md_unlock(int *fd)
{
	if (*fd >= 0) {
		(void)flock(*fd, LOCK_UN);
		close(*fd);
	}
	*fd = -1;
}

static void md_uidlist_free(struct md_uidlist *ul)
{
	for (unsigned i = 0; i < ul->count; i++)
		free(ul->e[i].base);
	free(ul->e);
	memset(ul, 0, sizeof(*ul));
}

static int md_uid_cmp_base(const void *a, const void *b)
{
	return strcmp(((const struct md_uid *)a)->base,
		      ((const struct md_uid *)b)->base);
}

static struct md_uid *md_uidlist_add(struct md_uidlist *ul, uint32_t uid,
				     uint64_t vsize, const char *base)
{
	if (ul->count == ul->alloc) {
		ul->alloc = ul->alloc ? ul->alloc * 2 : 64;
		ul->e = xreallocarray(ul->e, ul->alloc, sizeof(*ul->e));
	}
	struct md_uid *u = &ul->e[ul->count++];
	memset(u, 0, sizeof(*u));
	u->uid = uid;
	u->vsize = vsize;
	u->base = xstrdup(base);
	return u;
}

static struct md_uid *md_uidlist_copy(struct md_uidlist *ul,
				      const struct md_uid *from)
{
	struct md_uid *u = md_uidlist_add(ul, from->uid, from->vsize,
					  from->base);
	u->zone = from->zone;
	u->has_zone = from->has_zone;
	return u;
}

/* after additions: sorted by base for lookups */
static void md_uidlist_sort(struct md_uidlist *ul)
{
	if (ul->count > 1)
		qsort(ul->e, ul->count, sizeof(*ul->e), md_uid_cmp_base);
}

static struct md_uid *md_uidlist_find(struct md_uidlist *ul, const char *base)
{
	struct md_uid key = { .base = (char *)base };

	if (ul->count == 0)
		return NULL;
	return bsearch(&key, ul->e, ul->count, sizeof(*ul->e),
		       md_uid_cmp_base);
}

/* read the uid list; a missing one is an empty list */
static int md_uidlist_read(const char *dir, struct md_uidlist *ul,
			   const char **error_r)
{
	char *p = md_path(dir, UIDLIST);
	size_t len;
	FILE *f = fopen(p, "re");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	bool first = true;

	free(p);
	memset(ul, 0, sizeof(*ul));
	if (f == NULL) {
		if (errno == ENOENT)
			return 0;
		*error_r = "Unable to read maildir uid list";
		return -1;
	}
	ul->exists = true;
	while ((n = getline(&line, &cap, f)) > 0) {
		len = (size_t)n;
		if (line[len - 1] == '\n')
			line[--len] = '\0';
		if (first) {
			unsigned long v, nx;
			first = false;
			if (sscanf(line, "1 V%lu N%lu", &v, &nx) != 2 ||
			    v == 0 || v > UINT32_MAX || nx == 0 ||
			    nx > UINT32_MAX) {
				/* damaged: start a new UID regime */
				log_warning("maildir %s: bad uid list header; "
					    "new UIDVALIDITY", dir);
				break;
			}
			ul->uidvalidity = (uint32_t)v;
			ul->uidnext = (uint32_t)nx;
			const char *r = strstr(line, " R");
			unsigned long rv = r != NULL ? strtoul(r + 2, NULL, 10) : 1;
			ul->recent = rv <= nx ? (uint32_t)rv : (uint32_t)nx;
			continue;
		}
		char *colon = strstr(line, " :");
		char *end;
		unsigned long uid = strtoul(line, &end, 10);
		uint64_t vsize = 0;
		long zone = 0;
		bool has_zone = false;
		if (colon == NULL || uid == 0 || uid >= ul->uidnext ||
		    colon[2] == '\0' || strchr(colon + 2, '/') != NULL)
			continue;	/* ignore a damaged line */
		*colon = '\0';
		for (char *t = strtok(end, " "); t != NULL;
		     t = strtok(NULL, " "))
			if (t[0] == 'W')
				vsize = strtoull(t + 1, NULL, 10);
			else if (t[0] == 'Z') {
				zone = strtol(t + 1, NULL, 10);
				has_zone = zone > -6000 && zone < 6000;
			}
		struct md_uid *u = md_uidlist_add(ul, (uint32_t)uid, vsize,
						  colon + 2);
		u->zone = has_zone ? (int32_t)zone : 0;
		u->has_zone = has_zone;
	}
	free(line);
	fclose(f);
	if (ul->uidvalidity == 0) {
		md_uidlist_free(ul);
		ul->exists = true;
	}
	md_uidlist_sort(ul);
	return 0;
}

static int md_uid_cmp_uid(const void *a, const void *b)
{
	uint32_t x = ((const struct md_uid *)a)->uid;
	uint32_t y = ((const struct md_uid *)b)->uid;

	return x < y ? -1 : x > y;
}

/* replace the uid list: temp file + fsync + rename */
static int md_uidlist_write(const char *dir, struct md_uidlist *ul,
			    const char **error_r)
{
	char *tmp = xasprintf("%s/%s.%ld.tmp", dir, UIDLIST, (long)getpid());
	char *p = md_path(dir, UIDLIST);
	struct buf b;
	int fd, ret = -1;

	if (ul->count > 1)
		qsort(ul->e, ul->count, sizeof(*ul->e), md_uid_cmp_uid);
	buf_init(&b, 0);
	buf_printf(&b, "1 V%" PRIu32 " N%" PRIu32 " R%" PRIu32 "\n",
		   ul->uidvalidity, ul->uidnext,
		   ul->recent != 0 ? ul->recent : 1);
	for (unsigned i = 0; i < ul->count; i++) {
		buf_printf(&b, "%" PRIu32, ul->e[i].uid);
		if (ul->e[i].vsize != 0)
			buf_printf(&b, " W%" PRIu64, ul->e[i].vsize);
		if (ul->e[i].has_zone)
			buf_printf(&b, " Z%" PRId32, ul->e[i].zone);
		buf_printf(&b, " :%s\n", ul->e[i].base);
	}
	md_uidlist_sort(ul);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
		  0600);
	if (fd < 0 || write_full(fd, b.data, b.len) != (ssize_t)b.len ||
	    fsync(fd) < 0) {
		*error_r = "Unable to write maildir uid list";
		if (fd >= 0)
			close(fd);
		(void)unlink(tmp);
		goto out;
	}
	close(fd);
	if (rename(tmp, p) < 0) {
		*error_r = "Unable to replace maildir uid list";
		(void)unlink(tmp);
		goto out;
	}
	md_fsync_dir(dir, NULL);
	ul->exists = true;
	ret = 0;
out:
	buf_release(&b);
	free(tmp);
	free(p);
	return ret;
}

/* ---- keywords ---- */

static void md_keywords_read(const char *dir, char *names[MD_NKW])
{
	char *p = md_path(dir, KEYWORDS_FILE);
	FILE *f = fopen(p, "re");
	char line[MAIL_KEYWORD_MAX_LEN + 16];

	free(p);
	for (unsigned i = 0; i < MD_NKW; i++)
		xfree(&names[i]);
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		char *end;
		unsigned long n = strtoul(line, &end, 10);
		size_t l = strlen(line);
		if (l > 0 && line[l - 1] == '\n')
			line[--l] = '\0';
		if (end == line || *end != ' ' || n >= MD_NKW ||
		    !mail_keyword_valid(end + 1))
			continue;
		free(names[n]);
		names[n] = xstrdup(end + 1);
	}
	fclose(f);
}

static int md_keywords_write(const char *dir, char *names[MD_NKW],
			     const char **error_r)
{
	char *tmp = xasprintf("%s/%s.%ld.tmp", dir, KEYWORDS_FILE,
			      (long)getpid());
	char *p = md_path(dir, KEYWORDS_FILE);
	struct buf b;
	int fd, ret = -1;

	buf_init(&b, 0);
	for (unsigned i = 0; i < MD_NKW; i++)
		if (names[i] != NULL)
			buf_printf(&b, "%u %s\n", i, names[i]);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
		  0600);
	if (fd >= 0 && write_full(fd, b.data, b.len) == (ssize_t)b.len &&
	    fsync(fd) == 0 && close(fd) == 0 && rename(tmp, p) == 0)
		ret = 0;
	else {
		if (fd >= 0)
			close(fd);
		(void)unlink(tmp);
		*error_r = "Unable to write dovecot-keywords";
	}
	buf_release(&b);
	free(tmp);
	free(p);
	return ret;
}

/* letter for keyword name, adding it to names when add; -1 if none */
static int md_keyword_letter(char *names[MD_NKW], const char *kw, bool add,
			     bool *added_r)
{
	for (unsigned i = 0; i < MD_NKW; i++)
		if (names[i] != NULL && strcmp(names[i], kw) == 0)
			return (int)i;
	if (!add || !mail_keyword_valid(kw))
		return -1;
	for (unsigned i = 0; i < MD_NKW; i++)
		if (names[i] == NULL) {
			names[i] = xstrdup(kw);
			*added_r = true;
			return (int)i;
		}
	return -1;
}

static void md_map_keywords(struct maildir_mailbox *mm)
{
	mm->mb.keywords_permanent = true;
	for (unsigned i = 0; i < MD_NKW; i++)
		mm->kw2idx[i] = mm->kwname[i] != NULL ?
			mail_keyword_index(&mm->mb, mm->kwname[i], true) : -1;
	unsigned used = 0;
	for (unsigned i = 0; i < MD_NKW; i++)
		used += mm->kwname[i] != NULL;
	mm->mb.keywords_permanent = !mm->mb.readonly && used < MD_NKW;
}

/* ---- scanning ---- */

struct md_scan {
	struct md_entry *e;
	unsigned count, alloc;
};

static void md_scan_free(struct md_scan *s)
{
	for (unsigned i = 0; i < s->count; i++) {
		free(s->e[i].base);
		free(s->e[i].rel);
	}
	free(s->e);
	memset(s, 0, sizeof(*s));
}

static int md_entry_cmp(const void *a, const void *b)
{
	const struct md_entry *x = a, *y = b;
	int c = strcmp(x->base, y->base);

	/* the same base in new/ and cur/ (moved while we read): cur first */
	return c != 0 ? c : (int)x->in_new - (int)y->in_new;
}

static int md_scan_dir(const char *dir, const char *sub, struct md_scan *s)
{
	char *p = md_path(dir, sub);
	DIR *d = opendir(p);
	struct dirent *de;

	free(p);
	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		/* our uid list is line based: a name with a line end in it
		 * cannot be listed (no MTA makes one) */
		if (de->d_name[0] == '.' || strpbrk(de->d_name, "/\r\n") != NULL)
			continue;
		if (s->count == s->alloc) {
			s->alloc = s->alloc ? s->alloc * 2 : 256;
			s->e = xreallocarray(s->e, s->alloc, sizeof(*s->e));
		}
		struct md_entry *e = &s->e[s->count++];
		memset(e, 0, sizeof(*e));
		e->base = md_base(de->d_name);
		e->rel = xasprintf("%s/%s", sub, de->d_name);
		e->in_new = strcmp(sub, "new") == 0;
	}
	closedir(d);
	return 0;
}

/* new/ first, then cur/: a file moved between the two reads is seen */
static int md_scan(const char *dir, struct md_scan *s, const char **error_r)
{
	memset(s, 0, sizeof(*s));
	if (md_scan_dir(dir, "new", s) < 0 || md_scan_dir(dir, "cur", s) < 0) {
		md_scan_free(s);
		*error_r = "Unable to read maildir (missing new/ or cur/?)";
		return -1;
	}
	if (s->count > 1)
		qsort(s->e, s->count, sizeof(*s->e), md_entry_cmp);
	/* drop duplicates (keep the cur/ one) */
	unsigned w = 0;
	for (unsigned i = 0; i < s->count; i++) {
		if (w > 0 && strcmp(s->e[w - 1].base, s->e[i].base) == 0) {
			free(s->e[i].base);
			free(s->e[i].rel);
			continue;
		}
		s->e[w++] = s->e[i];
	}
	s->count = w;
	return 0;
}

static struct md_entry *md_scan_find(struct md_scan *s, const char *base)
{
	struct md_entry key = { .base = (char *)base };

	if (s->count == 0)
		return NULL;
	/* in_new false in key: matches either after the dedupe */
	unsigned lo = 0, hi = s->count;
	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		int c = strcmp(s->e[mid].base, key.base);
		if (c == 0)
			return &s->e[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* served (CRLF) size of a file: ",W=" in the name, else count */
static int md_vsize(const char *dir, const char *rel, uint64_t *vsize_r)
{
	const char *w = strstr(rel, ",W=");
	char *p;
	int fd;

	if (w != NULL) {
		char *end;
		unsigned long long v = strtoull(w + 3, &end, 10);
		if (end != w + 3 && (*end == '\0' || *end == ',' ||
				     *end == ':')) {
			*vsize_r = v;
			return 0;
		}
	}
	p = md_path(dir, rel);
	fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	free(p);
	if (fd < 0)
		return -1;
	char b[65536];
	uint64_t size = 0;
	char prev = 0;
	ssize_t n;
	while ((n = read(fd, b, sizeof(b))) > 0) {
		for (ssize_t i = 0; i < n; i++) {
			if (b[i] == '\n' && prev != '\r')
				size++;
			prev = b[i];
		}
		size += (uint64_t)n;
	}
	close(fd);
	if (n < 0)
		return -1;
	*vsize_r = size;
	return 0;
}

/* ---- driver functions ---- */

static bool maildir_probe(const char *path, const struct stat *st)
{
	struct stat cst;
	char *cur;
	bool ok;

	if (!S_ISDIR(st->st_mode))
		return false;
	cur = md_path(path, "cur");
	ok = stat(cur, &cst) == 0 && S_ISDIR(cst.st_mode);
	free(cur);
	return ok;
}

static bool md_is_plusplus(const char *path)
{
	const char *slash = strrchr(path, '/');
	const char *name = slash != NULL ? slash + 1 : path;
	char *parent = path_dirname(path);
	struct stat st;
	bool r = false;

	if (name[0] == '.' && name[1] != '\0' && name[1] != '.' &&
	    stat(parent, &st) == 0)
		r = maildir_probe(parent, &st);
	free(parent);
	return r;
}

/* remove what maildir_create() built under its temporary name */
static void md_create_undo(const char *tmp)
{
	static const char *const names[] = { "tmp", "new", "cur" };
	char *p;

	for (size_t i = 0; i < N_ELEMENTS(names); i++) {
		p = md_path(tmp, names[i]);
		(void)rmdir(p);
		free(p);
	}
	p = md_path(tmp, UIDLIST);
	(void)unlink(p);
	free(p);
	p = md_path(tmp, "maildirfolder");
	(void)unlink(p);
	free(p);
	(void)rmdir(tmp);
}

/* The maildir is built under a temporary name and renamed into place, so
 * a process killed half-way never leaves a directory at the mailbox name
 * that is neither a mailbox nor creatable nor deletable (a SIGKILLed
 * "mailutil copy" did, tests/test_crash_more.py). A Maildir++ folder is
 * built inside its root's tmp/, anything else as a hidden sibling. */
static int maildir_create(const char *path, const char **error_r)
{
	static const char *const subs[] = { "tmp", "new", "cur" };
	struct md_uidlist ul;
	bool plusplus = md_is_plusplus(path);
	char *parent = path_dirname(path);
	const char *slash = strrchr(path, '/');
	const char *name = slash != NULL ? slash + 1 : path;
	char *tmp = xasprintf(plusplus ? "%s/tmp/.ccnew%s.%ld" :
			      "%s/.ccnew.%s.%ld", parent, name, (long)getpid());
	int ret = -1;

	free(parent);
	if (mkdir(tmp, 0700) < 0) {
		*error_r = mail_error_fmt(mail_error_from_errno(errno),
				     "Can't create mailbox: %s", strerror(errno));
		free(tmp);
		return -1;
	}
	for (size_t i = 0; i < N_ELEMENTS(subs); i++) {
		char *p = md_path(tmp, subs[i]);
		int r = mkdir(p, 0700);
		free(p);
		if (r < 0) {
			*error_r = mail_error_fmt(mail_error_from_errno(errno),
					     "Can't create mailbox: %s",
					     strerror(errno));
			goto out;
		}
	}
	if (plusplus) {
		/* Courier/Dovecot mark Maildir++ sub-folders this way */
		char *p = md_path(tmp, "maildirfolder");
		int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		if (fd >= 0)
			close(fd);
		free(p);
	}
	memset(&ul, 0, sizeof(ul));
	ul.uidvalidity = mail_new_uidvalidity(0);
	ul.uidnext = 1;
	ul.recent = 1;
	if (md_uidlist_write(tmp, &ul, error_r) < 0)
		goto out;
	md_uidlist_free(&ul);
	journal_crash_point();	/* fault injection: built, not in place */
	/* never replace anything (not even an empty directory) */
	int r = renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE);
	if (r < 0 && (errno == EINVAL || errno == ENOSYS)) {
		/* a file system without RENAME_NOREPLACE */
		if (access(path, F_OK) == 0)
			errno = EEXIST;
		else
			r = rename(tmp, path);
	}
	if (r < 0) {
		*error_r = errno == EEXIST || errno == ENOTEMPTY ?
			mail_error(MAIL_ERROR_EXISTS,
					"Mailbox already exists") :
			mail_error_fmt(mail_error_from_errno(errno),
				  "Can't create mailbox: %s", strerror(errno));
		goto out;
	}
	ret = 0;
out:
	if (ret < 0)
		md_create_undo(tmp);
	free(tmp);
	return ret;
}

static int md_rmdir_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int ret = 0;

	if (d == NULL)
		return errno == ENOENT ? 0 : -1;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		char *p = md_path(dir, de->d_name);
		if (unlink(p) < 0 && errno != ENOENT)
			ret = -1;
		free(p);
	}
	closedir(d);
	if (ret == 0 && rmdir(dir) < 0)
		ret = -1;
	return ret;
}

static int maildir_remove(const char *path, const char **error_r)
{
	static const char *const subs[] = { "cur", "new", "tmp" };
	static const char *const files[] = {
		UIDLIST, UIDLIST_LOCK, KEYWORDS_FILE, "maildirfolder",
	};

	for (size_t i = 0; i < N_ELEMENTS(subs); i++) {
		char *p = md_path(path, subs[i]);
		int r = md_rmdir_files(p);
		free(p);
		if (r < 0) {
			*error_r = mail_error_fmt(mail_error_from_errno(errno),
					     "Can't delete mailbox: %s",
					     strerror(errno));
			return -1;
		}
	}
	for (size_t i = 0; i < N_ELEMENTS(files); i++) {
		char *p = md_path(path, files[i]);
		(void)unlink(p);
		free(p);
	}
	/* Maildir++ children (.Sub) or foreign files keep the directory */
	if (rmdir(path) < 0 && errno != ENOTEMPTY && errno != EEXIST) {
		*error_r = mail_error_fmt(mail_error_from_errno(errno),
				     "Can't delete mailbox: %s",
				     strerror(errno));
		return -1;
	}
	return 0;
}

static int maildir_rename(const char *from, const char *to,
			  const char **error_r)
{
	struct stat st;
	const char *fslash = strrchr(from, '/'), *tslash = strrchr(to, '/');
	const char *fname = fslash != NULL ? fslash + 1 : from;
	const char *tname = tslash != NULL ? tslash + 1 : to;

	if (lstat(to, &st) == 0) {
		*error_r = mail_error(MAIL_ERROR_EXISTS,
				"Mailbox already exists");
		return -1;
	}
	if (rename(from, to) < 0) {
		*error_r = mail_error_fmt(mail_error_from_errno(errno),
				     "Can't rename mailbox: %s",
				     strerror(errno));
		return -1;
	}
	/* Maildir++: .A.B is a child of .A and lives beside it */
	if (fname[0] == '.' && tname[0] == '.') {
		char *fdir = path_dirname(from), *tdir = path_dirname(to);
		size_t fl = strlen(fname);
		DIR *d = strcmp(fdir, tdir) == 0 ? opendir(fdir) : NULL;
		struct dirent *de;
		while (d != NULL && (de = readdir(d)) != NULL) {
			if (strncmp(de->d_name, fname, fl) != 0 ||
			    de->d_name[fl] != '.')
				continue;
			char *o = md_path(fdir, de->d_name);
			char *n = xasprintf("%s/%s%s", tdir, tname,
					    de->d_name + fl);
			if (rename(o, n) < 0)
				log_warning("maildir: rename %s to %s: %s", o,
					    n, strerror(errno));
			free(o);
			free(n);
		}
		if (d != NULL)
			closedir(d);
		free(fdir);
		free(tdir);
	}
	if (md_is_plusplus(to)) {
		char *p = md_path(to, "maildirfolder");
		int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		if (fd >= 0)
			close(fd);
		free(p);
	}
	return 0;
}

static void maildir_close(struct mailbox **mbp);
static int maildir_flush(struct mailbox *mb, const char **error_r);
static bool md_dirs_unchanged(struct maildir_mailbox *mm);

/*
 * Bring msgs[] up to date with the directory: renamed files (flags),
 * vanished files (expunged), new files (UIDs assigned under the lock),
 * and new/ files moved to cur/ when read-write.
 */
static int md_sync(struct maildir_mailbox *mm, bool initial,
		   const char **error_r)
{
	struct mailbox *mb = &mm->mb;
	struct md_scan s;
	struct md_uidlist ul;
	bool rescanned = false;
	int ret = -1;

	if (md_scan(mb->path, &s, error_r) < 0)
		return -1;
	md_keywords_read(mb->path, mm->kwname);
	md_map_keywords(mm);
again:
	/* known messages: renamed (flags) or gone */
	for (uint32_t i = 0; i < mb->count; i++) {
		struct mail_message *m = &mb->msgs[i];
		if ((m->state & MSTATE_EXPUNGED) != 0)
			continue;
		char *base = md_base(m->d_name + 4);
		struct md_entry *e = md_scan_find(&s, base);
		free(base);
		if (e == NULL) {
			if (!rescanned) {
				/* a rename may have hidden it from readdir */
				rescanned = true;
				md_scan_free(&s);
				if (md_scan(mb->path, &s, error_r) < 0)
					return -1;
				goto again;
			}
			m->state |= MSTATE_EXPUNGED;
			continue;
		}
		e->uid = m->uid;	/* matched */
		if (strcmp(e->rel, m->d_name) != 0) {
			free(m->d_name);
			m->d_name = xstrdup(e->rel);
			m->d_flags = e->in_new ? MDF_IN_NEW : 0;
		}
		uint32_t fl;
		uint64_t kw;
		md_parse_info(mm, md_info(e->rel), &fl, &kw);
		if (mail_merge_file_flags(m, fl, kw) && !initial)
			m->state |= MSTATE_FLAGS_CHANGED;
	}

	/* unmatched files are new */
	unsigned nnew = 0;
	for (unsigned i = 0; i < s.count; i++)
		if (s.e[i].uid == 0)
			nnew++;
	if (md_uidlist_read(mb->path, &ul, error_r) < 0)
		goto out;
	if (ul.uidvalidity != 0 && mb->uidvalidity != 0 &&
	    ul.uidvalidity != mb->uidvalidity) {
		md_uidlist_free(&ul);
		if (mb->ev.lost != NULL)
			mb->ev.lost(mb->ev.ctx, mb, "UIDVALIDITY changed");
		*error_r = "Maildir UIDVALIDITY changed; reopen it";
		goto out;
	}
	bool missing = ul.uidvalidity == 0, claim = false;
	for (unsigned i = 0; i < s.count; i++) {
		if (s.e[i].uid != 0)
			continue;
		struct md_uid *u = md_uidlist_find(&ul, s.e[i].base);
		if (u == NULL)
			missing = true;
		else if (u->uid >= ul.recent)
			claim = true;
	}
	/* UIDs from here on are \Recent for this session */
	uint32_t recent_from = mb->readonly ?
		(ul.uidvalidity != 0 ? ul.recent : 1) : UINT32_MAX;
	if ((missing || claim) && !mb->readonly) {
		/* assign UIDs under the lock, after re-reading the list */
		int lfd = md_lock(mb->path, error_r);
		if (lfd < 0) {
			md_uidlist_free(&ul);
			goto out;
		}
		md_uidlist_free(&ul);
		if (md_uidlist_read(mb->path, &ul, error_r) < 0) {
			md_unlock(&lfd);
			goto out;
		}
		if (ul.uidvalidity == 0) {
			if (mb->uidvalidity != 0 && ul.exists) {
				md_unlock(&lfd);
				md_uidlist_free(&ul);
				if (mb->ev.lost != NULL)
					mb->ev.lost(mb->ev.ctx, mb,
						    "uid list lost");
				*error_r = "Maildir uid list was damaged";
				goto out;
			}
			ul.uidvalidity = mb->uidvalidity != 0 ?
				mb->uidvalidity : mail_new_uidvalidity(0);
			ul.uidnext = 1;
			ul.recent = 1;
		}
		/* keep entries of files that still exist; add new ones in
		 * name order (names begin with the delivery time) */
		struct md_uidlist nl;
		memset(&nl, 0, sizeof(nl));
		nl.uidvalidity = ul.uidvalidity;
		nl.uidnext = ul.uidnext;
		nl.recent = ul.recent;
		uint32_t maxnew = 0;
		for (unsigned i = 0; i < s.count; i++) {
			struct md_uid *u = md_uidlist_find(&ul, s.e[i].base);
			if (u == NULL)
				continue;
			md_uidlist_copy(&nl, u);
			if (s.e[i].uid == 0 && u->uid > maxnew)
				maxnew = u->uid;
		}
		/* entries assigned by others for files we have not seen */
		for (unsigned i = 0; i < ul.count; i++)
			if (md_scan_find(&s, ul.e[i].base) == NULL &&
			    ul.e[i].uid >= mb->uidnext)
				md_uidlist_copy(&nl, &ul.e[i]);
		for (unsigned i = 0; i < s.count; i++) {
			if (md_uidlist_find(&ul, s.e[i].base) != NULL)
				continue;
			uint64_t vs = 0;
			if (md_vsize(mb->path, s.e[i].rel, &vs) < 0)
				continue;	/* vanished meanwhile */
			if (nl.uidnext == UINT32_MAX)
				break;
			maxnew = nl.uidnext;
			md_uidlist_add(&nl, nl.uidnext++, vs, s.e[i].base);
		}
		md_uidlist_sort(&nl);
		/* claim \Recent: the new messages we report are ours */
		recent_from = ul.recent;
		if (maxnew >= nl.recent)
			nl.recent = maxnew + 1;
		int w = md_uidlist_write(mb->path, &nl, error_r);
		md_unlock(&lfd);
		md_uidlist_free(&ul);
		ul = nl;
		if (w < 0) {
			md_uidlist_free(&ul);
			goto out;
		}
	} else if (ul.uidvalidity == 0) {
		/* read-only and no list: UIDs for this session only */
		ul.uidvalidity = mb->uidvalidity != 0 ? mb->uidvalidity :
			mail_new_uidvalidity(0);
		ul.uidnext = mb->uidnext != 0 ? mb->uidnext : 1;
	}
	if (mb->uidvalidity == 0)
		mb->uidvalidity = ul.uidvalidity;

	/* add the new messages in UID order */
	struct md_entry **add = xcalloc(nnew + 1, sizeof(*add));
	unsigned nadd = 0;
	uint32_t maxuid = mb->uidnext > 0 ? mb->uidnext - 1 : 0;
	for (unsigned i = 0; i < s.count; i++) {
		struct md_entry *e = &s.e[i];
		if (e->uid != 0)
			continue;
		struct md_uid *u = md_uidlist_find(&ul, e->base);
		if (u != NULL) {
			e->uid = u->uid;
			e->vsize = u->vsize;
			e->zone = u->zone;
		} else if (mb->readonly) {
			e->uid = 0;	/* numbered below */
		} else
			continue;
		add[nadd++] = e;
	}
	/* read-only without UIDs in the list: number after the list */
	uint32_t next = ul.uidnext;
	for (unsigned i = 0; i < nadd; i++)
		if (add[i]->uid == 0)
			add[i]->uid = next++;
	for (unsigned i = 1; i < nadd; i++)	/* insertion sort by UID */
		for (unsigned j = i; j > 0 && add[j - 1]->uid > add[j]->uid; j--) {
			struct md_entry *t = add[j];
			add[j] = add[j - 1];
			add[j - 1] = t;
		}
	for (unsigned i = 0; i < nadd; i++) {
		struct md_entry *e = add[i];
		struct stat st;
		if (e->uid <= maxuid) {
			log_warning("maildir %s: %s has UID %" PRIu32 " below "
				    "the last one seen; ignored this session",
				    mb->path, e->rel, e->uid);
			continue;
		}
		char *p = md_path(mb->path, e->rel);
		int r = stat(p, &st);
		free(p);
		if (r < 0 || !S_ISREG(st.st_mode))
			continue;
		if (e->vsize == 0 && md_vsize(mb->path, e->rel, &e->vsize) < 0)
			continue;
		struct mail_message *m = mail_add_message(mb);
		m->uid = e->uid;
		m->size = e->vsize;
		m->internaldate = st.st_mtime;
		m->zone = e->zone;
		md_parse_info(mm, md_info(e->rel), &m->flags, &m->keywords);
		m->d_name = xstrdup(e->rel);
		m->d_flags = e->in_new ? MDF_IN_NEW : 0;
		if (m->uid >= recent_from) {
			/* first session to see it (claimed in the uid list) */
			m->flags |= MAIL_RECENT;
			mb->recent++;
		}
		if (e->in_new) {
			/* a read-write session moves new/ files to cur/ */
			if (!mb->readonly) {
				const char *name = e->rel + 4;
				char *from = md_path(mb->path, e->rel);
				char *rel = xasprintf("cur/%s%s", name,
						      strstr(name, ":2,") ?
						      "" : ":2,");
				char *to = md_path(mb->path, rel);
				if (rename(from, to) == 0) {
					free(m->d_name);
					m->d_name = rel;
					rel = NULL;
					m->d_flags = 0;
				} else if (errno == ENOENT) {
					/* another session moved it first */
					mm->need_rescan = true;
				}
				free(rel);
				free(from);
				free(to);
			}
		}
		maxuid = m->uid;
	}
	free(add);
	mb->uidnext = ul.uidnext > maxuid + 1 ? ul.uidnext : maxuid + 1;
	md_uidlist_free(&ul);
	ret = 0;
out:
	md_scan_free(&s);
	return ret;
}

static struct mailbox *maildir_open(const char *path, unsigned mode,
				    const char **error_r)
{
	struct maildir_mailbox *mm;
	struct stat st;
	char *cur = md_path(path, "cur");
	bool ro = (mode & MAIL_OPEN_READONLY) != 0;

	if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode) ||
	    access(cur, R_OK | X_OK) < 0) {
		free(cur);
		*error_r = errno == ENOENT ? mail_error(MAIL_ERROR_NOTFOUND,
				"Mailbox does not exist") :
			"Not a maildir";
		return NULL;
	}
	if (!ro && access(cur, W_OK) < 0) {
		log_notice("maildir %s: no write access, read-only", path);
		ro = true;
	}
	free(cur);
	mm = xcalloc(1, sizeof(*mm));
	mail_mailbox_init(&mm->mb, &maildir_driver, path, mode);
	mm->mb.readonly = ro;
	for (unsigned i = 0; i < MD_NKW; i++)
		mm->kw2idx[i] = -1;
	(void)md_dirs_unchanged(mm);
	if (md_sync(mm, true, error_r) < 0) {
		*error_r = mail_error_fmt(mail_get_last_error(), "%s",
					  *error_r);
		struct mailbox *mb = &mm->mb;
		maildir_close(&mb);
		return NULL;
	}
	return &mm->mb;
}

static void maildir_close(struct mailbox **mbp)
{
	struct maildir_mailbox *mm = (struct maildir_mailbox *)*mbp;
	const char *error;

	if (mm == NULL)
		return;
	if (!mm->mb.readonly && maildir_flush(&mm->mb, &error) < 0)
		log_error("maildir %s: flags not saved at close: %s",
			  mm->mb.path, error);
	for (unsigned i = 0; i < MD_NKW; i++)
		free(mm->kwname[i]);
	mail_mailbox_free(mbp);
}

static bool md_same_time(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

/* stat new/ and cur/; true if neither changed since the last scan */
static bool md_dirs_unchanged(struct maildir_mailbox *mm)
{
	char *n = md_path(mm->mb.path, "new"), *c = md_path(mm->mb.path, "cur");
	struct stat nst, cst;
	bool same = false;

	if (stat(n, &nst) == 0 && stat(c, &cst) == 0) {
		same = mm->mtimes_ok && md_same_time(&nst.st_mtim, &mm->new_mtime) &&
			md_same_time(&cst.st_mtim, &mm->cur_mtime);
		mm->new_mtime = nst.st_mtim;
		mm->cur_mtime = cst.st_mtim;
		/* a change within the same clock tick would not move the
		 * mtime: trust it only when it is safely in the past */
		time_t now = time(NULL);
		mm->mtimes_ok = now > nst.st_mtim.tv_sec + 1 &&
			now > cst.st_mtim.tv_sec + 1;
	} else
		mm->mtimes_ok = false;
	free(n);
	free(c);
	return same;
}

static int maildir_sync(struct mailbox *mb, const char **error_r)
{
	struct maildir_mailbox *mm = (struct maildir_mailbox *)mb;
	bool dirty = false;

	for (uint32_t i = 0; i < mb->count && !dirty; i++)
		dirty = (mb->msgs[i].state & MSTATE_DIRTY) != 0;
	if (!mb->readonly && dirty && maildir_flush(mb, error_r) < 0)
		return -1;
	if (!dirty && !mm->need_rescan && md_dirs_unchanged(mm))
		return 0;
	mm->need_rescan = false;
	if (dirty)
		(void)md_dirs_unchanged(mm);	/* record the new times */
	return md_sync(mm, false, error_r);
}

/* the message's file, re-found by base name if someone renamed it */
static int md_open_msg(struct maildir_mailbox *mm, struct mail_message *m)
{
	for (int tries = 0; tries < 2; tries++) {
		char *p = md_path(mm->mb.path, m->d_name);
		int fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		free(p);
		if (fd >= 0 || errno != ENOENT || tries > 0)
			return fd;
		struct md_scan s;
		const char *err;
		if (md_scan(mm->mb.path, &s, &err) < 0)
			return -1;
		char *base = md_base(m->d_name + 4);
		struct md_entry *e = md_scan_find(&s, base);
		free(base);
		if (e != NULL) {
			free(m->d_name);
			m->d_name = xstrdup(e->rel);
			m->d_flags = e->in_new ? MDF_IN_NEW : 0;
		}
		md_scan_free(&s);
		if (e == NULL) {
			errno = ENOENT;
			return -1;
		}
	}
	return -1;
}

static int maildir_fetch(struct mailbox *mb, uint32_t idx,
			 enum mail_part part, struct buf *out,
			 const char **error_r)
{
	struct maildir_mailbox *mm = (struct maildir_mailbox *)mb;
	struct mail_message *m;
	struct stat st;
	int fd;

	if (idx >= mb->count) {
		*error_r = "No such message";
		return -1;
	}
	m = &mb->msgs[idx];
	fd = md_open_msg(mm, m);
	if (fd < 0) {
		if (errno == ENOENT) {
			/* expunged by another session: reported at the next
			 * sync that may remove it */
			m->state |= MSTATE_EXPUNGED;
			*error_r = "Message is no longer in the mailbox";
		} else {
			*error_r = "Unable to read message";
		}
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size > MD_MAX_FILE) {
		close(fd);
		*error_r = "Unable to read message";
		return -1;
	}
	size_t flen = (size_t)st.st_size;
	char *raw = xmalloc(flen + 1);
	ssize_t n = pread_full(fd, raw, flen, 0);
	close(fd);
	if (n < 0) {
		free(raw);
		*error_r = "Unable to read message";
		return -1;
	}
	flen = (size_t)n;
	/* serve CRLF */
	struct buf crlf;
	if (crlf_bare_lf_count(raw, flen) == 0) {
		raw[flen] = '\0';
		crlf.data = raw;	/* take it over: same as buf_init'd */
		crlf.len = flen;
		crlf.cap = flen + 1;
		crlf.max = 0;
	} else {
		buf_init(&crlf, 0);
		if (!buf_append_crlf(&crlf, raw, flen))
			panic("maildir: message too large");
		free(raw);
	}
	if (m->hdr_size == 0) {
		const char *e = crlf.len >= 4 ?
			memmem(crlf.data, crlf.len, "\r\n\r\n", 4) : NULL;
		m->hdr_size = e != NULL ? (uint64_t)(e - crlf.data) + 4 :
			crlf.len;
	}
	if (crlf.len != m->size) {
		/* the file changed size (it should never): trust the file */
		m->size = crlf.len;
		if (m->hdr_size > crlf.len)
			m->hdr_size = crlf.len;
	}
	size_t from = 0, len = crlf.len;
	if (part == MAIL_PART_HEADER)
		len = (size_t)m->hdr_size;
	else if (part == MAIL_PART_TEXT) {
		from = (size_t)m->hdr_size;
		len -= from;
	}
	bool ok = buf_append(out, crlf.data + from, len);
	buf_release(&crlf);
	if (!ok) {
		*error_r = mail_error(MAIL_ERROR_LIMIT,
				"Message too large");
		return -1;
	}
	return 0;
}

/* give every keyword used by a dirty message a letter if possible */
static int md_store_new_keywords(struct maildir_mailbox *mm,
				 const char **error_r)
{
	struct mailbox *mb = &mm->mb;
	uint64_t used = 0, mapped = 0;

	for (uint32_t i = 0; i < mb->count; i++)
		if ((mb->msgs[i].state & MSTATE_DIRTY) != 0)
			used |= mb->msgs[i].keywords;
	for (unsigned l = 0; l < MD_NKW; l++)
		if (mm->kw2idx[l] >= 0)
			mapped |= (uint64_t)1 << mm->kw2idx[l];
	if ((used & ~mapped) == 0)
		return 0;
	int lfd = md_lock(mb->path, error_r);
	if (lfd < 0)
		return -1;
	md_keywords_read(mb->path, mm->kwname);
	bool added = false;
	for (unsigned k = 0; k < mb->nkeywords; k++)
		if ((used & ((uint64_t)1 << k)) != 0 &&
		    md_keyword_letter(mm->kwname, mb->keywords[k], true,
				      &added) < 0)
			log_notice("maildir %s: no letter left for keyword "
				   "%s; kept for this session only", mb->path,
				   mb->keywords[k]);
	int ret = added ? md_keywords_write(mb->path, mm->kwname, error_r) : 0;
	md_unlock(&lfd);
	md_map_keywords(mm);
	return ret;
}

static int maildir_flush(struct mailbox *mb, const char **error_r)
{
	struct maildir_mailbox *mm = (struct maildir_mailbox *)mb;
	bool kw_fresh = false;

	if (mb->readonly) {
		for (uint32_t i = 0; i < mb->count; i++)
			mb->msgs[i].state &= ~MSTATE_DIRTY;
		return 0;
	}
	if (md_store_new_keywords(mm, error_r) < 0)
		return -1;
	for (uint32_t i = 0; i < mb->count; i++) {
		struct mail_message *m = &mb->msgs[i];
		if ((m->state & MSTATE_DIRTY) == 0)
			continue;
		/* letters other sessions gave keywords since our last look:
		 * known, they merge like the rest (STORE FLAGS clears them) */
		if (!kw_fresh) {
			md_keywords_read(mb->path, mm->kwname);
			md_map_keywords(mm);
			kw_fresh = true;
		}
		if ((m->state & MSTATE_EXPUNGED) != 0) {
			m->state &= ~MSTATE_DIRTY;
			continue;
		}
		/* The name is the flags, and rename() of the name we know is
		 * a compare-and-swap: our change is applied as a delta to the
		 * flags of the name, and when another session renamed the
		 * file meanwhile the rename fails, the new name is looked up
		 * and the change applied to its flags (imaptest store). */
		for (int tries = 0; tries < MD_FLAG_TRIES; tries++) {
			const char *name = m->d_name + 4;
			char info[64];
			char *base = md_base(name);
			uint32_t fl;
			uint64_t kw;
			md_parse_info(mm, md_info(name), &fl, &kw);
			if (mail_merge_file_flags(m, fl, kw))
				m->state |= MSTATE_FLAGS_CHANGED;
			md_build_info(mm, md_info(name), m->flags & MAIL_SYSFLAGS,
				      m->keywords, info);
			char *rel = xasprintf("cur/%s:2,%s", base, info);
			free(base);
			if (strcmp(rel, m->d_name) == 0) {
				free(rel);
				break;
			}
			char *from = md_path(mb->path, m->d_name);
			char *to = md_path(mb->path, rel);
			int r = rename(from, to);
			free(from);
			free(to);
			if (r == 0) {
				free(m->d_name);
				m->d_name = rel;
				m->d_flags = 0;
				break;
			}
			free(rel);
			if (errno != ENOENT || tries + 1 == MD_FLAG_TRIES) {
				m->state &= ~MSTATE_DIRTY;
				if (errno == ENOENT) {
					m->state |= MSTATE_EXPUNGED;
					break;
				}
				*error_r = mail_set_error(&mm->mb,
						mail_error_from_errno(errno),
						"Unable to store flags: %s",
						strerror(errno));
				return -1;
			}
			/* renamed by someone else: find it and retry */
			int fd = md_open_msg(mm, m);
			if (fd < 0) {
				m->state &= ~MSTATE_DIRTY;
				m->state |= MSTATE_EXPUNGED;
				break;
			}
			close(fd);
		}
		m->state &= ~MSTATE_DIRTY;
	}
	return 0;
}

static int maildir_expunge(struct mailbox *mb, const char **error_r)
{
	struct maildir_mailbox *mm = (struct maildir_mailbox *)mb;
	bool any = false;

	if (mb->readonly) {
		*error_r = "Expunge ignored on readonly mailbox";
		return -1;
	}
	if (maildir_flush(mb, error_r) < 0)
		return -1;
	for (uint32_t i = mb->count; i > 0; i--) {
		struct mail_message *m = &mb->msgs[i - 1];
		if ((m->state & MSTATE_EXPUNGE_ME) == 0 ||
		    (m->state & MSTATE_EXPUNGED) != 0)
			continue;
		char *p = md_path(mb->path, m->d_name);
		int r = unlink(p);
		free(p);
		if (r < 0 && errno == ENOENT) {
			int fd = md_open_msg(mm, m);
			if (fd >= 0) {
				close(fd);
				p = md_path(mb->path, m->d_name);
				r = unlink(p);
				free(p);
			} else
				r = 0;	/* already gone */
		}
		if (r < 0) {
			*error_r = mail_set_error(&mm->mb,
						  mail_error_from_errno(errno),
						  "Unable to expunge: %s",
						  strerror(errno));
			return -1;
		}
		journal_crash_point();	/* fault injection: file unlinked */
		any = true;
		mail_remove_message(mb, i - 1);
	}
	if (any)
		md_fsync_dir(mb->path, "cur");
	return 0;
}

/* ---- append ---- */

static void md_hostname(char *out, size_t size)
{
	char h[256];
	size_t n = 0;

	if (gethostname(h, sizeof(h)) < 0)
		snprintf(h, sizeof(h), "localhost");
	h[sizeof(h) - 1] = '\0';
	/* maildir(5): '/' and ':' are written as \057 and \072 */
	for (const char *p = h; *p != '\0' && n + 5 < size; p++) {
		if (*p == '/' || *p == ':') {
			n += (size_t)snprintf(out + n, size - n, "\\%03o",
					      (unsigned char)*p);
		} else
			out[n++] = *p;
	}
	out[n] = '\0';
}

static int maildir_append(const char *path, const struct mail_append_msg *msgs,
			  unsigned n, uint32_t *uidvalidity_r,
			  uint32_t *uids_r, const char **error_r)
{
	static unsigned counter;
	char host[300];
	char **tmpnames = xcalloc(n, sizeof(char *));
	char **finals = xcalloc(n, sizeof(char *));
	uint64_t *sizes = xcalloc(n, sizeof(uint64_t));
	struct md_uidlist ul;
	char *names[MD_NKW];
	int lfd = -1, ret = -1;
	unsigned placed = 0;
	struct stat st;

	memset(names, 0, sizeof(names));
	memset(&ul, 0, sizeof(ul));
	if (n == 0) {
		*error_r = "Nothing to append";
		goto out;
	}
	char *cur = md_path(path, "cur");
	int r = stat(cur, &st);
	free(cur);
	if (r < 0) {
		*error_r = mail_error(MAIL_ERROR_NOTFOUND,
				"Mailbox does not exist");
		goto out;
	}
	md_hostname(host, sizeof(host));
	/* some tools leave no tmp/ (git, rsync of empty directories) */
	char *tmpdir = md_path(path, "tmp");
	(void)mkdir(tmpdir, 0700);
	free(tmpdir);

	/* 1: every message into tmp/, durable, with its date */
	for (unsigned i = 0; i < n; i++) {
		const struct mail_append_msg *am = &msgs[i];
		struct buf b;
		struct timeval tv;

		if (am->len == 0) {
			*error_r = "Append of zero-length message";
			goto out;
		}
		buf_init(&b, 0);
		(void)buf_append_crlf(&b, am->data, am->len);
		gettimeofday(&tv, NULL);
		sizes[i] = b.len;
		finals[i] = xasprintf("%lld.M%ldP%ldQ%u.%s,S=%zu,W=%zu",
				      (long long)tv.tv_sec, (long)tv.tv_usec,
				      (long)getpid(), ++counter, host, b.len,
				      b.len);
		tmpnames[i] = xasprintf("%s/tmp/%s", path, finals[i]);
		int fd = open(tmpnames[i], O_WRONLY | O_CREAT | O_EXCL |
			      O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0 || write_full(fd, b.data, b.len) != (ssize_t)b.len ||
		    fsync(fd) < 0) {
			*error_r = mail_error_fmt(mail_error_from_errno(errno),
					     "Message append failed: %s",
					     strerror(errno));
			if (fd >= 0)
				close(fd);
			buf_release(&b);
			goto out;
		}
		int64_t t = am->internaldate >= 0 ? am->internaldate :
			(int64_t)tv.tv_sec;
		struct timespec ts[2] = { { (time_t)t, 0 }, { (time_t)t, 0 } };
		(void)futimens(fd, ts);
		close(fd);
		buf_release(&b);
		journal_crash_point();	/* fault injection: file in tmp/ only */
	}

	/* 2: under the lock: keywords, UIDs, then into new/ or cur/ */
	if ((lfd = md_lock(path, error_r)) < 0)
		goto out;
	md_keywords_read(path, names);
	bool kw_added = false;
	if (md_uidlist_read(path, &ul, error_r) < 0)
		goto out;
	if (ul.uidvalidity == 0) {
		/* first use: the list must describe the existing files
		 * too, so let a sync build it */
		md_unlock(&lfd);
		struct mailbox *mb = maildir_open(path, 0, error_r);
		if (mb == NULL)
			goto out;
		maildir_close(&mb);
		if ((lfd = md_lock(path, error_r)) < 0)
			goto out;
		md_uidlist_free(&ul);
		if (md_uidlist_read(path, &ul, error_r) < 0)
			goto out;
		if (ul.uidvalidity == 0) {
			*error_r = "Unable to create maildir uid list";
			goto out;
		}
	}
	if (ul.uidnext > UINT32_MAX - n) {
		*error_r = "Mailbox UIDs exhausted";
		goto out;
	}
	/* kept numbering (mail.h: uid, uidvalidity), checked before any
	 * file is placed */
	uint32_t next = ul.uidnext;
	for (unsigned i = 0; i < n; i++) {
		if (msgs[i].uid != 0 && msgs[i].uid < next) {
			*error_r = "UID to keep is not above the mailbox's UIDs";
			goto out;
		}
		next = msgs[i].uid != 0 ? msgs[i].uid + 1 : next + 1;
		if (next == 0) {
			*error_r = "Mailbox UIDs exhausted";
			goto out;
		}
	}
	if (msgs[0].uidvalidity != 0 && msgs[0].uidvalidity != ul.uidvalidity) {
		if (ul.uidnext != 1 || ul.count != 0) {
			*error_r = "Mailbox has UIDs: UIDVALIDITY cannot change";
			goto out;
		}
		ul.uidvalidity = msgs[0].uidvalidity;
	}
	for (unsigned i = 0; i < n; i++) {
		const struct mail_append_msg *am = &msgs[i];
		char info[64];
		uint32_t fl = am->flags & MAIL_SYSFLAGS;
		bool kwl[MD_NKW];

		memset(kwl, 0, sizeof(kwl));
		for (unsigned k = 0; k < am->nkeywords; k++) {
			int l = md_keyword_letter(names, am->keywords[k], true,
						  &kw_added);
			if (l >= 0)
				kwl[l] = true;
			else
				log_notice("maildir %s: no letter left for "
					   "keyword %s", path, am->keywords[k]);
		}
		size_t p = 0;
		for (size_t f = 0; f < N_ELEMENTS(md_flag_chars); f++)
			if ((fl & md_flag_chars[f].flag) != 0)
				info[p++] = md_flag_chars[f].c;
		for (unsigned l = 0; l < MD_NKW; l++)
			if (kwl[l])
				info[p++] = (char)('a' + l);
		info[p] = '\0';
		/* Dovecot's rule: files in new/ cannot carry flags */
		char *final = p == 0 ? xasprintf("%s/new/%s", path, finals[i]) :
			xasprintf("%s/cur/%s:2,%s", path, finals[i], info);
		if (rename(tmpnames[i], final) < 0) {
			*error_r = mail_error_fmt(mail_error_from_errno(errno),
					     "Message append failed: %s",
					     strerror(errno));
			free(final);
			goto undo;
		}
		free(tmpnames[i]);
		tmpnames[i] = final;	/* now the placed file */
		placed++;
		journal_crash_point();	/* fault injection: placed, no UID yet */
		uint32_t uid = am->uid != 0 ? am->uid : ul.uidnext;
		ul.uidnext = uid + 1;
		struct md_uid *u = md_uidlist_add(&ul, uid, sizes[i], finals[i]);
		u->zone = am->zone;
		u->has_zone = am->zone != 0;
		if (uids_r != NULL)
			uids_r[i] = uid;
	}
	for (unsigned i = 0; i < n; i++)
		if (msgs[i].uidnext > ul.uidnext)
			ul.uidnext = msgs[i].uidnext;
	if (kw_added && md_keywords_write(path, names, error_r) < 0)
		goto undo;
	if (md_uidlist_write(path, &ul, error_r) < 0)
		goto undo;
	md_fsync_dir(path, "new");
	md_fsync_dir(path, "cur");
	if (uidvalidity_r != NULL)
		*uidvalidity_r = ul.uidvalidity;
	placed = 0;
	ret = 0;
	goto out;
undo:
	/* all or nothing: take back the files already placed */
	for (unsigned i = 0; i < placed; i++)
		(void)unlink(tmpnames[i]);
out:
	md_unlock(&lfd);
	for (unsigned i = 0; i < n; i++) {
		if (ret < 0 && tmpnames[i] != NULL && i >= placed)
			(void)unlink(tmpnames[i]);
		free(tmpnames[i]);
		free(finals[i]);
	}
	for (unsigned i = 0; i < MD_NKW; i++)
		free(names[i]);
	md_uidlist_free(&ul);
	free(tmpnames);
	free(finals);
	free(sizes);
	return ret;
}

const struct mail_driver maildir_driver = {
	.name = "maildir",
	.is_directory = true,
	.children_prefix = ".",
	.probe = maildir_probe,
	.create = maildir_create,
	.remove = maildir_remove,
	.rename = maildir_rename,
	.open = maildir_open,
	.close = maildir_close,
	.sync = maildir_sync,
	.fetch = maildir_fetch,
	.flush = maildir_flush,
	.expunge = maildir_expunge,
	.append = maildir_append,
};
