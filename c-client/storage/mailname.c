/*
 * mailname.c - mailbox names: the session user, mapping a user-typed name
 * to a filesystem path (mail_resolve), LIST/LSUB, subscriptions and the
 * NAMESPACE lists.
 *
 * SECURITY: every name comes from the network. mail_resolve() is the one
 * place that decides which files a name may reach: it bounds the length,
 * refuses control characters, and applies "restrict-mailbox-access"
 * (seed FAQ 5.1) to ~user/, /absolute and ".." names. Namespaces
 * (#shared/ #public/ #ftp/) never allow ".." at all, and anonymous users
 * reach nothing else (FAQ 4.1, 4.6). Checks are lexical: symbolic links
 * a user could not create without shell access are trusted as the
 * administrator's doing, as UW's restrictBox did.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "log.h"
#include "mail.h"
#include "mailname.h"

struct mail_user *mail_user;

enum restrict_level { RESTRICT_NONE, RESTRICT_ROOT, RESTRICT_ALL };

static enum restrict_level restrict_level(void)
{
	const char *v = config_str("restrict-mailbox-access");

	if (ascii_strcasecmp(v, "none") == 0 || *v == '\0')
		return RESTRICT_NONE;
	if (ascii_strcasecmp(v, "root") == 0)
		return RESTRICT_ROOT;
	/* "all" and anything unknown: fail safe */
	return RESTRICT_ALL;
}

/* expand %u (user name) and %h (home) in a configured path */
static char *expand_user_path(const char *tmpl, const char *user,
			      const char *home)
{
	struct buf b;

	buf_init(&b, 0);
	for (const char *p = tmpl; *p != '\0'; p++) {
		if (p[0] == '%' && p[1] == 'u') {
			buf_puts(&b, user);
			p++;
		} else if (p[0] == '%' && p[1] == 'h') {
			buf_puts(&b, home);
			p++;
		} else if (p[0] == '%' && p[1] == '%') {
			buf_putc(&b, '%');
			p++;
		} else {
			buf_putc(&b, *p);
		}
	}
	char *r = buf_steal(&b, NULL);

	buf_release(&b);	/* buf_steal leaves a fresh empty buffer */
	return r;
}

/* dir + "/" + rest without doubled slashes; rest may be "" */
static char *path_join(const char *dir, const char *rest)
{
	size_t dl = strlen(dir);

	while (dl > 1 && dir[dl - 1] == '/')
		dl--;
	while (*rest == '/')
		rest++;
	if (*rest == '\0')
		return xstrndup(dir, dl);
	if (dl == 1 && dir[0] == '/')
		return xasprintf("/%s", rest);
	return xasprintf("%.*s/%s", (int)dl, dir, rest);
}

void mail_user_clear(void)
{
	if (mail_user == NULL)
		return;
	xfree(&mail_user->name);
	xfree(&mail_user->home);
	xfree(&mail_user->maildir);
	xfree(&mail_user->inbox_path);
	xfree(&mail_user);
}

void mail_user_set(const char *name, uid_t uid, gid_t gid, const char *home)
{
	struct mail_user *u;
	const char *md = config_str("mail-directory");
	char *expanded;
	size_t hl;

	u = xcalloc(1, sizeof *u);
	u->name = xstrdup(name);
	u->uid = uid;
	u->gid = gid;
	/* a home of "" or a relative one would make every name relative to
	 * the server's working directory: use "/" like login(1) does */
	if (home == NULL || home[0] != '/')
		home = "/";
	hl = strlen(home);
	while (hl > 1 && home[hl - 1] == '/')
		hl--;
	u->home = xstrndup(home, hl);
	/* only now: name and home may point into the old mail_user */
	mail_user_clear();

	expanded = expand_user_path(md, u->name, u->home);
	if (expanded[0] == '\0')
		u->maildir = xstrdup(u->home);
	else if (expanded[0] == '/')
		u->maildir = xstrdup(expanded);
	else
		u->maildir = path_join(u->home, expanded);
	xfree(&expanded);
	/* keep maildir free of a trailing slash so joined names are canonical */
	hl = strlen(u->maildir);
	while (hl > 1 && u->maildir[hl - 1] == '/')
		u->maildir[--hl] = '\0';

	expanded = expand_user_path(config_str("inbox-path"), u->name, u->home);
	if (expanded[0] == '\0' || expanded[0] == '/') {
		u->inbox_path = expanded;
	} else {
		/* a relative inbox-path is relative to home, not to cwd */
		u->inbox_path = path_join(u->home, expanded);
		xfree(&expanded);
	}
	u->anonymous = false;
	mail_user = u;
}

bool mail_name_is_inbox(const char *name)
{
	return ascii_strcasecmp(name, "INBOX") == 0;
}

char *mail_inbox_spool_path(void)
{
	if (mail_user == NULL)
		return NULL;
	if (mail_user->inbox_path != NULL && mail_user->inbox_path[0] != '\0')
		return xstrdup(mail_user->inbox_path);
	/* the user name becomes a file name in a shared directory */
	if (mail_user->name[0] == '\0' || mail_user->name[0] == '.' ||
	    strchr(mail_user->name, '/') != NULL)
		return NULL;
	return path_join(config_str("spool-directory"), mail_user->name);
}

/* does any '/'-separated component of s equal ".."? */
static bool has_dotdot(const char *s)
{
	const char *p = s;

	while (*p != '\0') {
		const char *e = strchr(p, '/');
		size_t n = e ? (size_t)(e - p) : strlen(p);

		if (n == 2 && p[0] == '.' && p[1] == '.')
			return true;
		if (e == NULL)
			break;
		p = e + 1;
	}
	return false;
}

/* names may be any UTF-8/modified UTF-7 text but no control characters:
 * they end up in files (subscriptions), logs and protocol lines */
static bool name_chars_ok(const char *name)
{
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return false;
	return true;
}


/*
 * driver_detect() without its side effect. A probe reads the file, and
 * reading moves the access time past the modification time, which is how
 * mail readers, login shells, biff and our own \Marked tell that there is
 * new mail: a LIST or a resolve must not make new mail look read. If the
 * access time moved, put it back (possible for the owner; otherwise the
 * attempt fails harmlessly).
 */
static const struct mail_driver *detect_quietly(const char *path)
{
	struct stat before, after;
	const struct mail_driver *d;

	if (stat(path, &before) < 0)
		return NULL;
	d = driver_detect(path);
	if (S_ISREG(before.st_mode) && stat(path, &after) == 0 &&
	    after.st_dev == before.st_dev && after.st_ino == before.st_ino &&
	    (after.st_atim.tv_sec != before.st_atim.tv_sec ||
	     after.st_atim.tv_nsec != before.st_atim.tv_nsec)) {
		struct timespec ts[2] = {
			before.st_atim, { .tv_sec = 0, .tv_nsec = UTIME_OMIT },
		};
		(void)utimensat(AT_FDCWD, path, ts, 0);
	}
	return d;
}

static const struct namespace_def {
	const char *prefix;	/* with the trailing '/' */
	const char *key;	/* config key naming the owner */
	bool anon_ok;		/* FAQ 4.6: #public and #ftp serve anonymous */
} namespaces[] = {
	{ "#shared/", "shared-namespace-user", false },
	{ "#public/", "public-namespace-user", true },
	{ "#ftp/", "ftp-namespace-user", true },
};

static const struct namespace_def *namespace_find(const char *name)
{
	for (size_t i = 0; i < N_ELEMENTS(namespaces); i++)
		if (ascii_strncasecmp(name, namespaces[i].prefix,
				      strlen(namespaces[i].prefix)) == 0)
			return &namespaces[i];
	return NULL;
}

/* home directory of a user by name (the session user's own from
 * mail_user, so virtual users work); NULL if unknown */
static char *user_home(const char *user)
{
	struct passwd *pw;

	if (mail_user != NULL && strcmp(user, mail_user->name) == 0)
		return xstrdup(mail_user->home);
	pw = getpwnam(user);
	if (pw == NULL || pw->pw_dir == NULL || pw->pw_dir[0] != '/')
		return NULL;
	return xstrdup(pw->pw_dir);
}

/*
 * Map a name that is neither INBOX nor #driver-prefixed to a path.
 * allow_empty: "" means the mail directory itself (LIST's scan root).
 */
static int resolve_plain(const char *name, bool allow_empty, char **path_r,
			 const char **error_r)
{
	enum restrict_level rl = restrict_level();
	const struct namespace_def *ns;

	*path_r = NULL;
	if (mail_user == NULL) {
		*error_r = "No user is logged in";
		return -1;
	}
	if (name[0] == '\0' && !allow_empty) {
		*error_r = mail_error(MAIL_ERROR_PARAMS,
			"Invalid mailbox name: empty");
		return -1;
	}

	if (name[0] == '#') {
		const char *owner;
		char *home;

		ns = namespace_find(name);
		if (ns == NULL) {
			if (ascii_strncasecmp(name, "#news.", 6) == 0)
				*error_r = "News namespace #news. is not served here";
			else
				*error_r = "Unknown namespace";
			return -1;
		}
		if (mail_user->anonymous && !ns->anon_ok) {
			*error_r = mail_error(MAIL_ERROR_NOPERM,
			"Anonymous users may only access #public/ and #ftp/");
			return -1;
		}
		/* a namespace is a jail whatever the restriction says */
		if (has_dotdot(name)) {
			*error_r = mail_error(MAIL_ERROR_NOPERM,
			"Can't access mailbox: restricted name (..)");
			return -1;
		}
		owner = config_str(ns->key);
		if (owner[0] == '\0') {
			*error_r = "That namespace is not enabled";
			return -1;
		}
		home = user_home(owner);
		if (home == NULL) {
			*error_r = "That namespace does not exist";
			return -1;
		}
		*path_r = path_join(home, name + strlen(ns->prefix));
		xfree(&home);
		return 0;
	}

	if (mail_user->anonymous) {
		*error_r = mail_error(MAIL_ERROR_NOPERM,
			"Anonymous users may only access #public/ and #ftp/");
		return -1;
	}
	if (rl != RESTRICT_NONE && has_dotdot(name)) {
		*error_r = mail_error(MAIL_ERROR_NOPERM,
			"Can't access mailbox: restricted name (..)");
		return -1;
	}

	if (name[0] == '~') {
		const char *slash = strchr(name, '/');
		const char *rest = slash ? slash + 1 : "";
		size_t ulen = slash ? (size_t)(slash - name - 1) : strlen(name + 1);
		char *user, *home;

		if (ulen == 0) {
			/* ~/ is the user's own home: always allowed */
			*path_r = path_join(mail_user->home, rest);
			return 0;
		}
		user = xstrndup(name + 1, ulen);
		if (rl == RESTRICT_ALL && strcmp(user, mail_user->name) != 0) {
			xfree(&user);
			*error_r = mail_error(MAIL_ERROR_NOPERM,
			"Can't access mailbox: restricted name (other user)");
			return -1;
		}
		home = user_home(user);
		xfree(&user);
		if (home == NULL) {
			*error_r = "No such user";
			return -1;
		}
		*path_r = path_join(home, rest);
		xfree(&home);
		return 0;
	}

	if (name[0] == '/') {
		if (rl != RESTRICT_NONE) {
			*error_r = mail_error(MAIL_ERROR_NOPERM,
			"Can't access mailbox: restricted name (absolute)");
			return -1;
		}
		*path_r = xstrdup(name);
		return 0;
	}

	*path_r = path_join(mail_user->maildir, name);
	return 0;
}

/* the INBOX rules: spool file, or a migrated ~/INBOX or ~/mbox that takes
 * over and receives the spool's new mail (FAQ 4.5, 7.7) */
static int resolve_inbox(const struct mail_driver *create_driver,
			 struct mail_path *r, const char **error_r)
{
	char *spool, *cand;
	const struct mail_driver *d;
	struct stat st;
	bool spool_is_dir;

	if (mail_user == NULL) {
		*error_r = "No user is logged in";
		return -1;
	}
	if (mail_user->anonymous) {
		*error_r = mail_error(MAIL_ERROR_NOPERM,
			"Anonymous users have no INBOX");
		return -1;
	}
	spool = mail_inbox_spool_path();
	if (spool == NULL) {
		*error_r = "User name not usable as a spool file name";
		return -1;
	}
	/* a directory INBOX (inbox-path %h/Maildir) has no spool to move
	 * mail from; a stat is enough to tell, no need to probe */
	spool_is_dir = stat(spool, &st) == 0 && S_ISDIR(st.st_mode);

	/* a configured inbox-path is where INBOX is, whatever the format
	 * "#driver.X/INBOX" asks to create it in */
	if (create_driver != NULL && mail_user->inbox_path != NULL &&
	    mail_user->inbox_path[0] != '\0') {
		r->path = spool;
		return 0;
	}
	/* "#driver.mbx/INBOX": create ~/INBOX in that format (FAQ 4.5);
	 * the traditional format is the spool file itself */
	if (create_driver != NULL && !create_driver->spool_format) {
		r->path = path_join(mail_user->home, "INBOX");
		if (strcmp(r->path, spool) != 0 && !spool_is_dir)
			r->spool_path = spool;
		else
			xfree(&spool);
		return 0;
	}
	/* a configured INBOX in a directory format is never migrated: it is
	 * the INBOX */
	if (config_bool("inbox-migrate") && !spool_is_dir) {
		cand = path_join(mail_user->home, "INBOX");
		d = detect_quietly(cand);
		if (d != NULL && !d->spool_format &&
		    strcmp(cand, spool) != 0) {
			r->path = cand;
			r->spool_path = spool;
			return 0;
		}
		xfree(&cand);
		cand = path_join(mail_user->home, "mbox");
		d = detect_quietly(cand);
		if (d != NULL && d->spool_format &&
		    strcmp(cand, spool) != 0) {
			r->path = cand;
			r->spool_path = spool;
			return 0;
		}
		xfree(&cand);
	}
	r->path = spool;
	return 0;
}

int mail_resolve(const char *name, struct mail_path *r, const char **error_r)
{
	const struct mail_driver *create_driver = NULL;
	const char *rest = name;
	int ret;

	memset(r, 0, sizeof *r);
	if (strnlen(name, PATH_MAX) >= PATH_MAX) {
		*error_r = mail_error(MAIL_ERROR_LIMIT,
			"Mailbox name too long");
		return -1;
	}
	if (!name_chars_ok(name)) {
		*error_r = mail_error(MAIL_ERROR_PARAMS,
			"Invalid mailbox name: control characters");
		return -1;
	}
	if (ascii_strncasecmp(name, "#driver.", 8) == 0) {
		const char *slash = strchr(name + 8, '/');
		char *dname;

		if (slash == NULL || slash == name + 8) {
			*error_r = mail_error(MAIL_ERROR_PARAMS,
			"Invalid mailbox name: #driver.FORMAT/NAME expected");
			return -1;
		}
		dname = xstrndup(name + 8, (size_t)(slash - (name + 8)));
		create_driver = driver_lookup(dname);
		xfree(&dname);
		if (create_driver == NULL) {
			*error_r = mail_error(MAIL_ERROR_PARAMS,
			"Unknown mailbox format");
			return -1;
		}
		rest = slash + 1;
		if (ascii_strncasecmp(rest, "#driver.", 8) == 0 ||
		    rest[0] == '\0') {
			*error_r = mail_error(MAIL_ERROR_PARAMS,
			"Invalid mailbox name after #driver.FORMAT/");
			return -1;
		}
	}

	if (mail_name_is_inbox(rest)) {
		ret = resolve_inbox(create_driver, r, error_r);
		r->is_inbox = true;
		r->name = xstrdup("INBOX");
	} else {
		ret = resolve_plain(rest, false, &r->path, error_r);
		r->name = xstrdup(rest);
	}
	if (ret < 0) {
		mail_path_free(r);
		return -1;
	}
	if (strlen(r->path) >= PATH_MAX) {
		mail_path_free(r);
		*error_r = mail_error(MAIL_ERROR_LIMIT,
			"Mailbox name too long");
		return -1;
	}
	r->create_driver = create_driver;
	r->driver = detect_quietly(r->path);
	return 0;
}

void mail_path_free(struct mail_path *r)
{
	xfree(&r->path);
	xfree(&r->name);
	xfree(&r->spool_path);
	r->driver = NULL;
	r->create_driver = NULL;
	r->is_inbox = false;
}

/* ---- LIST / LSUB ---- */

/*
 * Pattern matching as a set of pattern positions advanced one name byte at
 * a time (a small NFA): O(pattern * name) whatever the pattern, so a
 * hostile "*a*a*a*a*b" costs no backtracking. '*' loops on any byte, '%'
 * on any byte but '/'. fold: compare letters case-insensitively (INBOX).
 * Returns true for a full match; with prefix, true when some continuation
 * of name could still match (used to decide whether to descend).
 */
static bool nfa_match(const char *p, const char *s, bool fold, bool prefix)
{
	size_t plen = strlen(p);
	bool *mem = xcalloc(2 * (plen + 1), sizeof(bool));
	bool *cur = mem, *nxt = mem + plen + 1, *tmp;
	bool any, ret;

	cur[0] = true;
	for (size_t i = 0; i < plen; i++)
		if (cur[i] && (p[i] == '*' || p[i] == '%'))
			cur[i + 1] = true;
	for (; *s != '\0'; s++) {
		char c = *s;

		memset(nxt, 0, plen + 1);
		any = false;
		for (size_t i = 0; i < plen; i++) {
			if (!cur[i])
				continue;
			if (p[i] == '*' || (p[i] == '%' && c != '/')) {
				nxt[i] = true;
				any = true;
			} else if (p[i] == c || (fold && p[i] != '%' &&
				   ascii_toupper(p[i]) == ascii_toupper(c))) {
				nxt[i + 1] = true;
				any = true;
			}
		}
		if (!any) {
			xfree(&mem);
			return false;
		}
		for (size_t i = 0; i < plen; i++)
			if (nxt[i] && (p[i] == '*' || p[i] == '%'))
				nxt[i + 1] = true;
		tmp = cur;
		cur = nxt;
		nxt = tmp;
	}
	ret = prefix ? true : cur[plen];
	xfree(&mem);
	return ret;
}

bool mail_list_match(const char *pattern, const char *name)
{
	/* RFC 3501: INBOX is case-insensitive, so "inbox" and "In%" find it */
	return nfa_match(pattern, name, strcmp(name, "INBOX") == 0, false);
}

/* could a name below dirname (which ends in '/') match? */
static bool list_may_descend(const char *pattern, const char *dirname)
{
	return nfa_match(pattern, dirname, false, true);
}

/* "**" "*%" "%*" all mean "*", "%%" means "%": collapse them so hostile
 * patterns stay small */
static char *pattern_normalize(const char *pat)
{
	size_t n = strlen(pat), o = 0;
	char *r = xmalloc(n + 1);

	for (size_t i = 0; i < n; i++) {
		char c = pat[i];
		if ((c == '*' || c == '%') && o > 0 &&
		    (r[o - 1] == '*' || r[o - 1] == '%')) {
			if (c == '*')
				r[o - 1] = '*';
			continue;
		}
		r[o++] = c;
	}
	r[o] = '\0';
	return r;
}

struct list_ctx {
	const char *pattern;
	mail_list_callback_t *cb;
	void *cb_ctx;
	unsigned entries;	/* directory entries examined so far */
	bool limit_logged;
	unsigned depth;
	dev_t dev[MAIL_LIST_MAX_DEPTH + 1];	/* directories being walked */
	ino_t ino[MAIL_LIST_MAX_DEPTH + 1];
};

static bool list_budget(struct list_ctx *lc)
{
	if (lc->entries < MAIL_LIST_MAX_ENTRIES) {
		lc->entries++;
		return true;
	}
	if (!lc->limit_logged) {
		log_warning("LIST %s: stopped after %u directory entries",
			    lc->pattern, (unsigned)MAIL_LIST_MAX_ENTRIES);
		lc->limit_logged = true;
	}
	return false;
}

/* Entries never listed: dot files (including maildir++ folders and our
 * own temp files), lock files, and at the top of the personal namespace
 * names that would parse as something else (#namespace, ~user). */
static bool list_hidden(const char *entry, bool top)
{
	size_t n = strlen(entry);

	if (entry[0] == '.' || !name_chars_ok(entry))
		return true;
	if (n >= 5 && strcmp(entry + n - 5, ".lock") == 0)
		return true;
	if (top && (entry[0] == '#' || entry[0] == '~'))
		return true;
	return false;
}

static int strptrcmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ".Sub" (not "." or "..", no control characters): a Maildir++ folder
 * name inside a maildir */
/* a folder inside a directory mailbox: its name starts with the
 * format's children_prefix (Maildir++ ".Sub") */
static bool plusplus_entry(const char *entry, const char *prefix)
{
	size_t n = strlen(prefix);

	return strncmp(entry, prefix, n) == 0 && entry[n] != '\0' &&
		strcmp(entry, ".") != 0 && strcmp(entry, "..") != 0 &&
		name_chars_ok(entry);
}

/* The entries of dirpath that pass keep (visible ones, or with
 * children_prefix the folders of a directory mailbox), sorted; caller
 * frees each and the array. Counts against the walk budget. */
static char **dir_names(struct list_ctx *lc, const char *dirpath, bool top,
			const char *children_prefix, size_t *n_r)
{
	DIR *d = opendir(dirpath);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, alloc = 0;

	*n_r = 0;
	if (d == NULL)
		return NULL;
	while (list_budget(lc) && (de = readdir(d)) != NULL) {
		if (children_prefix != NULL ?
		    !plusplus_entry(de->d_name, children_prefix) :
		    list_hidden(de->d_name, top))
			continue;
		if (n == alloc) {
			alloc = alloc ? alloc * 2 : 32;
			names = xreallocarray(names, alloc, sizeof *names);
		}
		names[n++] = xstrdup(de->d_name);
	}
	closedir(d);
	if (n > 1)
		qsort(names, n, sizeof *names, strptrcmp);
	*n_r = n;
	return names;
}

static void names_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* a directory with at least one visible entry */
static bool dir_has_children(struct list_ctx *lc, const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	bool found = false;

	if (d == NULL)
		return false;
	while (!found && list_budget(lc) && (de = readdir(d)) != NULL)
		if (!list_hidden(de->d_name, false))
			found = true;
	closedir(d);
	return found;
}

/* the format of a mailbox that is a directory, else NULL */
static const struct mail_driver *dir_mailbox(const char *path)
{
	const struct mail_driver *d = detect_quietly(path);

	return d != NULL && d->is_directory ? d : NULL;
}

static bool is_dir_mailbox(const char *path)
{
	return dir_mailbox(path) != NULL;
}

/*
 * The folders inside a directory mailbox whose format has a
 * children_prefix (Maildir++, Courier, Dovecot: the folders of a maildir
 * are maildirs named ".Sub" and ".Sub.Deeper" inside it). They are
 * listed as NAME/.Sub, a name mail_resolve() maps to exactly that
 * directory, which the driver knows to be a sub-folder. A format
 * without children_prefix has none. With emit_prefix NULL only reports
 * whether there is one.
 */
static bool list_plusplus(struct list_ctx *lc, const char *path,
			  const struct mail_driver *d,
			  const char *emit_prefix)
{
	size_t n;
	char **names;
	bool any = false;

	if (d->children_prefix == NULL)
		return false;
	names = dir_names(lc, path, false, d->children_prefix, &n);

	for (size_t i = 0; i < n && (emit_prefix != NULL || !any); i++) {
		char *sub = path_join(path, names[i]);

		if (strlen(sub) < PATH_MAX && is_dir_mailbox(sub)) {
			any = true;
			if (emit_prefix != NULL) {
				char *full = xasprintf("%s%s", emit_prefix,
						       names[i]);
				if (mail_list_match(lc->pattern, full))
					lc->cb(lc->cb_ctx, full,
					       MAIL_LIST_HASNOCHILDREN);
				xfree(&full);
			}
		}
		xfree(&sub);
	}
	names_free(names, n);
	return any;
}

static unsigned file_marks(const struct stat *st)
{
	if (st->st_size > 0 && st->st_mtime > st->st_atime)
		return MAIL_LIST_MARKED;
	return MAIL_LIST_UNMARKED;
}

/* attributes of an existing name, or false if it is not listable */
static bool list_attrs(struct list_ctx *lc, const char *path,
		       const struct stat *st, unsigned *attrs_r)
{
	if (S_ISDIR(st->st_mode)) {
		const struct mail_driver *d = dir_mailbox(path);
		if (d != NULL)
			*attrs_r = list_plusplus(lc, path, d, NULL) ?
				MAIL_LIST_HASCHILDREN : MAIL_LIST_HASNOCHILDREN;
		else
			*attrs_r = MAIL_LIST_NOSELECT |
				(dir_has_children(lc, path) ?
				 MAIL_LIST_HASCHILDREN : MAIL_LIST_HASNOCHILDREN);
		return true;
	}
	if (!S_ISREG(st->st_mode))
		return false;
	/* UW lists every file; we list the ones that are mailboxes, plus
	 * empty files (a just-created empty mailbox) */
	if (st->st_size != 0 && detect_quietly(path) == NULL)
		return false;
	*attrs_r = MAIL_LIST_NOINFERIORS | file_marks(st);
	return true;
}

static void list_walk(struct list_ctx *lc, const char *dirpath,
		      const char *prefix)
{
	struct stat st;
	char **names;
	size_t n;
	bool top = prefix[0] == '\0';

	if (stat(dirpath, &st) < 0 || !S_ISDIR(st.st_mode))
		return;
	/* a symlink loop must not walk us in circles (FAQ 7.21) */
	for (unsigned i = 0; i < lc->depth; i++)
		if (lc->dev[i] == st.st_dev && lc->ino[i] == st.st_ino)
			return;
	lc->dev[lc->depth] = st.st_dev;
	lc->ino[lc->depth] = st.st_ino;

	names = dir_names(lc, dirpath, top, false, &n);
	for (size_t i = 0; i < n; i++) {
		char *full = xasprintf("%s%s", prefix, names[i]);
		char *path = path_join(dirpath, names[i]);
		char *sub;
		unsigned attrs;
		bool is_inbox_name = top && mail_name_is_inbox(names[i]);

		if (stat(path, &st) < 0 || strlen(path) >= PATH_MAX)
			goto next;
		/* a top-level INBOX is the INBOX (or shadowed by it): listed
		 * once, as INBOX; a directory of that name still holds the
		 * INBOX/ names */
		if (!is_inbox_name && mail_list_match(lc->pattern, full) &&
		    list_attrs(lc, path, &st, &attrs))
			lc->cb(lc->cb_ctx, full, attrs);
		if (!S_ISDIR(st.st_mode) || lc->depth + 1 >= MAIL_LIST_MAX_DEPTH)
			goto next;
		sub = xasprintf("%s/", full);
		if (list_may_descend(lc->pattern, sub)) {
			const struct mail_driver *d = dir_mailbox(path);
			if (d != NULL) {
				list_plusplus(lc, path, d, sub);
			} else {
				lc->depth++;
				list_walk(lc, path, sub);
				lc->depth--;
			}
		}
		xfree(&sub);
	next:
		xfree(&full);
		xfree(&path);
	}
	names_free(names, n);
}

static void list_inbox(struct list_ctx *lc)
{
	struct mail_path mp;
	struct stat st;
	const char *err;
	unsigned attrs = MAIL_LIST_HASNOCHILDREN;
	char *dir;

	if (mail_user == NULL || mail_user->anonymous)
		return;
	if (mail_resolve("INBOX", &mp, &err) < 0)
		return;
	/* INBOX/foo names live in the directory maildir/INBOX */
	dir = path_join(mail_user->maildir, "INBOX");
	if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode) &&
	    strcmp(dir, mp.path) != 0 && dir_has_children(lc, dir))
		attrs = MAIL_LIST_HASCHILDREN;
	xfree(&dir);
	if (stat(mp.spool_path ? mp.spool_path : mp.path, &st) == 0 &&
	    S_ISREG(st.st_mode))
		attrs |= file_marks(&st);
	else
		attrs |= MAIL_LIST_UNMARKED;
	mail_path_free(&mp);
	lc->cb(lc->cb_ctx, "INBOX", attrs);
}

/* LIST "ref" "": the root of ref's hierarchy, RFC 3501 6.3.8 */
static void list_root(const char *ref, mail_list_callback_t *cb, void *ctx)
{
	const char *slash;
	char *root;

	if (ref[0] == '/') {
		root = xstrdup("/");
	} else if (ref[0] == '#' || ref[0] == '~') {
		slash = strchr(ref, '/');
		root = slash ? xstrndup(ref, (size_t)(slash - ref + 1))
			     : xasprintf("%s/", ref);
	} else {
		root = xstrdup("");
	}
	cb(ctx, root, MAIL_LIST_NOSELECT);
	xfree(&root);
}

/* LIST with no wildcard: look the one name up */
static void list_exact(struct list_ctx *lc, const char *name)
{
	char *path;
	const char *err;
	struct stat st;
	unsigned attrs;
	size_t n = strlen(name);
	char *bare;

	/* "foo/" asks for the folder foo */
	bare = xstrndup(name, n);
	while (n > 1 && bare[n - 1] == '/')
		bare[--n] = '\0';
	if (resolve_plain(bare, false, &path, &err) == 0 &&
	    stat(path, &st) == 0 && list_attrs(lc, path, &st, &attrs))
		lc->cb(lc->cb_ctx, name, attrs);
	xfree(&path);
	xfree(&bare);
}

static int list_check_args(const char *ref, const char *pattern,
			   const char **error_r)
{
	if (strnlen(ref, MAIL_LIST_MAX_PATTERN + 1) +
	    strnlen(pattern, MAIL_LIST_MAX_PATTERN + 1) > MAIL_LIST_MAX_PATTERN) {
		*error_r = "Reference or pattern too long";
		return -1;
	}
	if (!name_chars_ok(ref) || !name_chars_ok(pattern)) {
		*error_r = "Invalid characters in reference or pattern";
		return -1;
	}
	return 0;
}

static void lsub_emit(struct list_ctx *lc, char ***seen, size_t *nseen,
		      const char *name, unsigned attrs)
{
	for (size_t i = 0; i < *nseen; i++)
		if (strcmp((*seen)[i], name) == 0)
			return;
	*seen = xreallocarray(*seen, *nseen + 1, sizeof **seen);
	(*seen)[(*nseen)++] = xstrdup(name);
	lc->cb(lc->cb_ctx, name, attrs);
}

static bool subscribed_name_exists(const char *name)
{
	struct mail_path mp;
	const char *err;
	struct stat st;
	bool ok;

	if (mail_resolve(name, &mp, &err) < 0)
		return false;
	ok = mp.is_inbox || stat(mp.path, &st) == 0;
	mail_path_free(&mp);
	return ok;
}

static int list_lsub(struct list_ctx *lc, const char **error_r)
{
	char **subs, **seen = NULL;
	size_t nseen = 0;

	if (mail_subscriptions_read(&subs, error_r) < 0)
		return -1;
	for (char **s = subs; *s != NULL; s++)
		if (mail_list_match(lc->pattern, *s))
			lsub_emit(lc, &seen, &nseen, *s,
				  subscribed_name_exists(*s) ? 0 :
				  MAIL_LIST_NOSELECT);
	/* RFC 3501 6.3.9: "foo/bar" subscribed, LSUB "" "%" gives foo as
	 * \Noselect (after the real ones, so a subscribed foo wins) */
	for (char **s = subs; *s != NULL; s++) {
		if (mail_list_match(lc->pattern, *s))
			continue;
		for (char *p = strchr(*s, '/'); p != NULL; p = strchr(p + 1, '/')) {
			char *parent = xstrndup(*s, (size_t)(p - *s));
			if (mail_list_match(lc->pattern, parent))
				lsub_emit(lc, &seen, &nseen, parent,
					  MAIL_LIST_NOSELECT);
			xfree(&parent);
		}
	}
	for (size_t i = 0; i < nseen; i++)
		free(seen[i]);
	free(seen);
	mail_subscriptions_free(&subs);
	return 0;
}

int mail_list(const char *ref, const char *pattern, bool lsub,
	      mail_list_callback_t *cb, void *ctx, const char **error_r)
{
	struct list_ctx lc;
	char *combined, *pat, *dirpart, *dirpath;
	size_t w, cut;
	int ret = 0;

	if (list_check_args(ref, pattern, error_r) < 0)
		return -1;
	if (mail_user == NULL) {
		*error_r = "No user is logged in";
		return -1;
	}
	if (pattern[0] == '\0') {
		if (!lsub)
			list_root(ref, cb, ctx);
		return 0;
	}
	if (pattern[0] == '#' || pattern[0] == '~' || pattern[0] == '/')
		combined = xstrdup(pattern);
	else
		combined = xasprintf("%s%s", ref, pattern);
	pat = pattern_normalize(combined);
	xfree(&combined);

	memset(&lc, 0, sizeof lc);
	lc.pattern = pat;
	lc.cb = cb;
	lc.cb_ctx = ctx;

	if (lsub) {
		ret = list_lsub(&lc, error_r);
		xfree(&pat);
		return ret;
	}

	if (pat[0] != '#' && pat[0] != '~' && pat[0] != '/' &&
	    mail_list_match(pat, "INBOX"))
		list_inbox(&lc);

	/* anonymous users have no personal namespace: nothing to list */
	if (mail_user->anonymous && pat[0] != '#' && pat[0] != '~' &&
	    pat[0] != '/') {
		xfree(&pat);
		return 0;
	}
	w = strcspn(pat, "*%");
	if (pat[w] == '\0') {
		if (!mail_name_is_inbox(pat))
			list_exact(&lc, pat);
		xfree(&pat);
		return 0;
	}
	/* scan from the deepest directory named before the first wildcard */
	cut = w;
	while (cut > 0 && pat[cut - 1] != '/')
		cut--;
	dirpart = xstrndup(pat, cut);
	if ((dirpart[0] == '#' || dirpart[0] == '~') && strchr(dirpart, '/') == NULL) {
		/* "#pub*" or "~*": we do not enumerate namespaces or users */
		xfree(&dirpart);
		xfree(&pat);
		return 0;
	}
	if (resolve_plain(dirpart, true, &dirpath, error_r) < 0) {
		ret = -1;
	} else {
		/* inside a maildir only its Maildir++ folders are names (also
		 * when mail-directory is itself a maildir, Dovecot's layout) */
		const struct mail_driver *d = dir_mailbox(dirpath);
		if (d != NULL)
			list_plusplus(&lc, dirpath, d, dirpart);
		else
			list_walk(&lc, dirpath, dirpart);
		xfree(&dirpath);
	}
	xfree(&dirpart);
	xfree(&pat);
	return ret;
}

/* ---- subscriptions ---- */

#define SUBS_MAX_SIZE (1024 * 1024)

static char *subscriptions_path(void)
{
	char *f = expand_user_path(config_str("subscriptions-file"),
				   mail_user->name, mail_user->home);
	char *p = f[0] == '/' ? xstrdup(f) : path_join(mail_user->home, f);

	xfree(&f);
	return p;
}

int mail_subscriptions_read(char ***names_r, const char **error_r)
{
	static char errbuf[256];
	char *path, *data, *line, *save;
	char **names = NULL;
	size_t n = 0;
	ssize_t r;
	struct stat st;
	int fd;

	*names_r = NULL;
	if (mail_user == NULL) {
		*error_r = "No user is logged in";
		return -1;
	}
	path = subscriptions_path();
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		xfree(&path);
		if (errno == ENOENT) {
			*names_r = xcalloc(1, sizeof(char *));
			return 0;
		}
		snprintf(errbuf, sizeof errbuf,
			 "Can't read subscription list: %s", strerror(errno));
		*error_r = errbuf;
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > SUBS_MAX_SIZE) {
		close(fd);
		xfree(&path);
		*error_r = "Subscription list is not a regular file or too large";
		return -1;
	}
	data = xmalloc((size_t)st.st_size + 1);
	r = pread_full(fd, data, (size_t)st.st_size, 0);
	close(fd);
	if (r < 0) {
		xfree(&data);
		xfree(&path);
		*error_r = "Can't read subscription list";
		return -1;
	}
	data[r] = '\0';
	for (line = strtok_r(data, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		size_t len = strlen(line);
		if (len > 0 && line[len - 1] == '\r')
			line[--len] = '\0';
		if (len == 0 || len >= PATH_MAX || !name_chars_ok(line))
			continue;
		if (n >= MAIL_SUBS_MAX) {
			log_warning("%s: more than %u subscriptions, rest ignored",
				    path, (unsigned)MAIL_SUBS_MAX);
			break;
		}
		names = xreallocarray(names, n + 2, sizeof *names);
		names[n++] = xstrdup(line);
	}
	xfree(&data);
	xfree(&path);
	if (names == NULL)
		names = xcalloc(1, sizeof *names);
	names[n] = NULL;
	*names_r = names;
	return 0;
}

void mail_subscriptions_free(char ***names)
{
	if (*names == NULL)
		return;
	for (char **p = *names; *p != NULL; p++)
		free(*p);
	xfree(names);
}

static int subscriptions_write(char **names, const char **error_r)
{
	static char errbuf[256];
	char *path = subscriptions_path();
	char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
	struct buf b;
	int fd, ret = -1;

	buf_init(&b, 0);
	for (char **p = names; *p != NULL; p++) {
		buf_puts(&b, *p);
		buf_putc(&b, '\n');
	}
	(void)unlink(tmp);	/* a leftover of a crashed process of ours */
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		  0600);
	if (fd < 0) {
		snprintf(errbuf, sizeof errbuf,
			 "Can't write subscription list: %s", strerror(errno));
		goto out;
	}
	if (write_full(fd, b.data, b.len) < 0 || fsync(fd) < 0) {
		snprintf(errbuf, sizeof errbuf,
			 "Can't write subscription list: %s", strerror(errno));
		close(fd);
		(void)unlink(tmp);
		goto out;
	}
	if (close(fd) < 0 || rename(tmp, path) < 0) {
		snprintf(errbuf, sizeof errbuf,
			 "Can't write subscription list: %s", strerror(errno));
		(void)unlink(tmp);
		goto out;
	}
	ret = 0;
out:
	if (ret < 0)
		*error_r = errbuf;
	buf_release(&b);
	xfree(&tmp);
	xfree(&path);
	return ret;
}

int mail_subscribe(const char *name, bool on, const char **error_r)
{
	struct mail_path mp;
	char **names;
	const char *canon;
	size_t n, o;
	bool found = false;
	int ret;

	/* the anonymous home is shared by every anonymous session */
	if (mail_user != NULL && mail_user->anonymous) {
		*error_r = "Anonymous users cannot change subscriptions";
		return -1;
	}
	/* the restriction applies to subscribing as to opening; the name
	 * need not exist (RFC 3501 6.3.6). Unsubscribing is always allowed
	 * so a name refused since can still be removed. */
	if (on) {
		if (mail_resolve(name, &mp, error_r) < 0)
			return -1;
		mail_path_free(&mp);
	} else if (strnlen(name, PATH_MAX) >= PATH_MAX || !name_chars_ok(name)) {
		*error_r = "Invalid mailbox name";
		return -1;
	}
	canon = mail_name_is_inbox(name) ? "INBOX" : name;

	if (mail_subscriptions_read(&names, error_r) < 0)
		return -1;
	/* drop every copy: a hand-edited file may hold duplicates */
	for (n = 0, o = 0; names[n] != NULL; n++) {
		if (strcmp(names[n], canon) == 0) {
			found = true;
			if (!on) {
				free(names[n]);
				continue;
			}
		}
		names[o++] = names[n];
	}
	names[o] = NULL;
	if (on && found) {
		mail_subscriptions_free(&names);
		return 0;
	}
	if (!on && !found) {
		mail_subscriptions_free(&names);
		*error_r = "Not subscribed to that mailbox";
		return -1;
	}
	if (on) {
		names = xreallocarray(names, o + 2, sizeof *names);
		names[o] = xstrdup(canon);
		names[o + 1] = NULL;
	}
	ret = subscriptions_write(names, error_r);
	mail_subscriptions_free(&names);
	return ret;
}

/* ---- NAMESPACE ---- */

unsigned mail_namespaces(enum mail_ns_type type,
			 const char *prefixes_r[MAIL_NS_MAX])
{
	bool anon = mail_user != NULL && mail_user->anonymous;
	unsigned n = 0;

	switch (type) {
	case MAIL_NS_PERSONAL:
		if (!anon)
			prefixes_r[n++] = "";
		break;
	case MAIL_NS_OTHER:
		if (!anon && restrict_level() != RESTRICT_ALL)
			prefixes_r[n++] = "~";
		break;
	case MAIL_NS_SHARED:
		for (size_t i = 0; i < N_ELEMENTS(namespaces); i++) {
			if (config_str(namespaces[i].key)[0] == '\0')
				continue;
			if (anon && !namespaces[i].anon_ok)
				continue;
			prefixes_r[n++] = namespaces[i].prefix;
		}
		break;
	}
	return n;
}
