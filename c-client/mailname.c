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
	return buf_steal(&b, NULL);
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

	u->inbox_path = expand_user_path(config_str("inbox-path"), u->name,
					 u->home);
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
		*error_r = "Invalid mailbox name: empty";
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
			*error_r = "Anonymous users may only access #public/ and #ftp/";
			return -1;
		}
		/* a namespace is a jail whatever the restriction says */
		if (has_dotdot(name)) {
			*error_r = "Can't access mailbox: restricted name (..)";
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
		*error_r = "Anonymous users may only access #public/ and #ftp/";
		return -1;
	}
	if (rl != RESTRICT_NONE && has_dotdot(name)) {
		*error_r = "Can't access mailbox: restricted name (..)";
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
			*error_r = "Can't access mailbox: restricted name (other user)";
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
			*error_r = "Can't access mailbox: restricted name (absolute)";
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
	const struct mail_driver *sd, *d;

	if (mail_user == NULL) {
		*error_r = "No user is logged in";
		return -1;
	}
	if (mail_user->anonymous) {
		*error_r = "Anonymous users have no INBOX";
		return -1;
	}
	spool = mail_inbox_spool_path();
	sd = driver_detect(spool);

	/* "#driver.mbx/INBOX": create ~/INBOX in that format (FAQ 4.5);
	 * the traditional format is the spool file itself */
	if (create_driver != NULL && strcmp(create_driver->name, "mbox") != 0) {
		r->path = path_join(mail_user->home, "INBOX");
		if (strcmp(r->path, spool) != 0 &&
		    (sd == NULL || !sd->is_directory))
			r->spool_path = spool;
		else
			xfree(&spool);
		return 0;
	}
	/* a configured INBOX in a directory format (inbox-path %h/Maildir)
	 * is never migrated: it is the INBOX */
	if (config_bool("inbox-migrate") && (sd == NULL || !sd->is_directory)) {
		cand = path_join(mail_user->home, "INBOX");
		d = driver_detect(cand);
		if (d != NULL && strcmp(d->name, "mbox") != 0 &&
		    strcmp(cand, spool) != 0) {
			r->path = cand;
			r->spool_path = spool;
			return 0;
		}
		xfree(&cand);
		cand = path_join(mail_user->home, "mbox");
		d = driver_detect(cand);
		if (d != NULL && strcmp(d->name, "mbox") == 0 &&
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
		*error_r = "Mailbox name too long";
		return -1;
	}
	if (!name_chars_ok(name)) {
		*error_r = "Invalid mailbox name: control characters";
		return -1;
	}
	if (ascii_strncasecmp(name, "#driver.", 8) == 0) {
		const char *slash = strchr(name + 8, '/');
		char *dname;

		if (slash == NULL || slash == name + 8) {
			*error_r = "Invalid mailbox name: #driver.FORMAT/NAME expected";
			return -1;
		}
		dname = xstrndup(name + 8, (size_t)(slash - (name + 8)));
		create_driver = driver_lookup(dname);
		xfree(&dname);
		if (create_driver == NULL) {
			*error_r = "Unknown mailbox format";
			return -1;
		}
		rest = slash + 1;
		if (ascii_strncasecmp(rest, "#driver.", 8) == 0 ||
		    rest[0] == '\0') {
			*error_r = "Invalid mailbox name after #driver.FORMAT/";
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
		*error_r = "Mailbox name too long";
		return -1;
	}
	r->create_driver = create_driver;
	r->driver = driver_detect(r->path);
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

@@LIST@@
unsigned mail_namespaces(enum mail_ns_type type,
			 const char *prefixes_r[MAIL_NS_MAX])
{
	unsigned n = 0;

	switch (type) {
	case MAIL_NS_PERSONAL:
		if (mail_user == NULL || !mail_user->anonymous)
			prefixes_r[n++] = "";
		break;
	case MAIL_NS_OTHER:
		if ((mail_user == NULL || !mail_user->anonymous) &&
		    restrict_level() != RESTRICT_ALL)
			prefixes_r[n++] = "~";
		break;
	case MAIL_NS_SHARED:
		for (size_t i = 0; i < N_ELEMENTS(namespaces); i++) {
			if (config_str(namespaces[i].key)[0] == '\0')
				continue;
			if (mail_user != NULL && mail_user->anonymous &&
			    !namespaces[i].anon_ok)
				continue;
			prefixes_r[n++] = namespaces[i].prefix;
		}
		break;
	}
	return n;
}
