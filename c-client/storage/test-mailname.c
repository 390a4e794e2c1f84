/*
 * test-mailname.c - unit tests for mailbox names (mailname.c): INBOX and
 * its migration, relative names, #driver., namespaces, the restriction
 * levels of FAQ 5.1, hostile names, LIST/LSUB patterns, subscriptions and
 * NAMESPACE. Each test builds a fresh temporary home.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "mail.h"
#include "mailname.h"
#include "test.h"

static char *tmp;	/* the test's directory */
static char *home;	/* tmp/home */
static char *spool;	/* tmp/spool */

static const char mbox_text[] =
	"From alice@example.org Sat Jan  1 00:00:00 2000\n"
	"From: alice@example.org\n"
	"Subject: hi\n"
	"\n"
	"body\n";

static void write_file(const char *dir, const char *name, const char *text)
{
	char *p = xasprintf("%s/%s", dir, name);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd < 0 || write_full(fd, text, strlen(text)) < 0)
		panic("write %s: %s", p, strerror(errno));
	close(fd);
	free(p);
}

static void make_dir(const char *dir, const char *name)
{
	char *p = xasprintf("%s/%s", dir, name);

	if (mkdir(p, 0700) < 0 && errno != EEXIST)
		panic("mkdir %s: %s", p, strerror(errno));
	free(p);
}

static void rm_rf(const char *path)
{
	char *cmd = xasprintf("rm -rf '%s'", path);

	if (system(cmd) != 0)
		fprintf(stderr, "  could not remove %s\n", path);
	free(cmd);
}

static void setup(void)
{
	const char *err;

	config_reset();
	tmp = test_tmpdir();
	home = xasprintf("%s/home", tmp);
	spool = xasprintf("%s/spool", tmp);
	make_dir(tmp, "home");
	make_dir(tmp, "spool");
	CHECK(config_set("spool-directory", spool, &err));
	mail_user_set("alice", getuid(), getgid(), home);
}

static void teardown(void)
{
	mail_user_clear();
	config_reset();
	rm_rf(tmp);
	xfree(&tmp);
	xfree(&home);
	xfree(&spool);
}

/* does the mbox driver recognise a mbox file yet? (drivers are being
 * written in parallel; the migration checks need a working probe) */
static bool mbox_probe_works(void)
{
	char *p = xasprintf("%s/probe-mbox", tmp);
	const struct mail_driver *d;

	write_file(tmp, "probe-mbox", mbox_text);
	d = driver_detect(p);
	unlink(p);
	free(p);
	if (d == NULL || strcmp(d->name, "mbox") != 0) {
		fprintf(stderr, "  (mbox probe not available: migration checks skipped)\n");
		return false;
	}
	return true;
}

/* resolve and return path (caller frees) or NULL with the error */
static char *resolve_path(const char *name, const char **err_r)
{
	struct mail_path mp;
	char *p;

	*err_r = NULL;
	if (mail_resolve(name, &mp, err_r) < 0)
		return NULL;
	p = xstrdup(mp.path);
	mail_path_free(&mp);
	return p;
}

static void check_resolves(const char *name, const char *expect)
{
	const char *err;
	char *p = resolve_path(name, &err);

	if (p == NULL) {
		fprintf(stderr, "  %s: unexpected error %s\n", name, err);
		test_failures++;
		return;
	}
	CHECK_STR(p, expect);
	free(p);
}

static void check_refused(const char *name, const char *errpart)
{
	const char *err;
	char *p = resolve_path(name, &err);

	if (p != NULL) {
		fprintf(stderr, "  %s: resolved to %s, expected refusal\n", name, p);
		test_failures++;
		free(p);
		return;
	}
	if (errpart != NULL && strstr(err, errpart) == NULL) {
		fprintf(stderr, "  %s: error \"%s\" lacks \"%s\"\n", name, err, errpart);
		test_failures++;
	}
}

static void test_user_set(void)
{
	const char *err;

	setup();
	CHECK_STR(mail_user->name, "alice");
	CHECK_STR(mail_user->home, home);
	CHECK_STR(mail_user->maildir, home);
	CHECK_STR(mail_user->inbox_path, "");
	CHECK(!mail_user->anonymous);
	/* relative mail-directory is under home, %u expands */
	CHECK(config_set("mail-directory", "Mail/%u/", &err));
	CHECK(config_set("inbox-path", "%h/in-%u", &err));
	mail_user_set(mail_user->name, getuid(), getgid(), mail_user->home);
	char *md = xasprintf("%s/Mail/alice", home);
	char *ib = xasprintf("%s/in-alice", home);
	CHECK_STR(mail_user->maildir, md);
	CHECK_STR(mail_user->inbox_path, ib);
	free(md);
	free(ib);
	CHECK(config_set("mail-directory", "/srv/mail/%u", &err));
	mail_user_set("bob", getuid(), getgid(), "/home/bob/");
	CHECK_STR(mail_user->home, "/home/bob");
	CHECK_STR(mail_user->maildir, "/srv/mail/bob");
	/* no usable home: "/" rather than the working directory */
	mail_user_set("carol", getuid(), getgid(), "");
	CHECK_STR(mail_user->home, "/");
	teardown();
}

static void test_inbox_default(void)
{
	struct mail_path mp;
	const char *err;
	char *exp;

	setup();
	exp = xasprintf("%s/alice", spool);
	for (const char *const *n = (const char *const[]){ "INBOX", "inbox",
		"InBoX", NULL }; *n != NULL; n++) {
		CHECK(mail_resolve(*n, &mp, &err) == 0);
		CHECK(mp.is_inbox);
		CHECK_STR(mp.name, "INBOX");
		CHECK_STR(mp.path, exp);
		CHECK(mp.spool_path == NULL);
		CHECK(mp.create_driver == NULL);
		CHECK(mp.driver == NULL);	/* no spool file yet */
		mail_path_free(&mp);
	}
	free(exp);
	/* inbox-path with %u and %h */
	CHECK(config_set("inbox-path", "%h/mail/%u.inbox", &err));
	mail_user_set("alice", getuid(), getgid(), home);
	exp = xasprintf("%s/mail/alice.inbox", home);
	check_resolves("inbox", exp);
	free(exp);
	/* relative inbox-path: under home */
	CHECK(config_set("inbox-path", "in/%u", &err));
	mail_user_set("alice", getuid(), getgid(), home);
	exp = xasprintf("%s/in/alice", home);
	check_resolves("INBOX", exp);
	free(exp);
	/* a user name that would escape the spool directory */
	CHECK(config_set("inbox-path", "", &err));
	mail_user_set("../etc", getuid(), getgid(), home);
	check_refused("INBOX", "spool");
	mail_user_set("a/b", getuid(), getgid(), home);
	check_refused("INBOX", "spool");
	teardown();
}

static void test_inbox_children_are_plain(void)
{
	struct mail_path mp;
	const char *err;
	char *exp;

	setup();
	exp = xasprintf("%s/INBOX/foo", home);
	CHECK(mail_resolve("INBOX/foo", &mp, &err) == 0);
	CHECK(!mp.is_inbox);
	CHECK_STR(mp.path, exp);
	CHECK_STR(mp.name, "INBOX/foo");
	mail_path_free(&mp);
	free(exp);
	/* INBOXES is not INBOX */
	exp = xasprintf("%s/INBOXES", home);
	check_resolves("INBOXES", exp);
	free(exp);
	teardown();
}

static void test_relative(void)
{
	const char *err;
	char *exp;

	setup();
	exp = xasprintf("%s/foo/bar", home);
	check_resolves("foo/bar", exp);
	free(exp);
	CHECK(config_set("mail-directory", "Mail", &err));
	mail_user_set("alice", getuid(), getgid(), home);
	exp = xasprintf("%s/Mail/foo", home);
	check_resolves("foo", exp);
	free(exp);
	/* ~/ is the home, not the mail directory */
	exp = xasprintf("%s/foo", home);
	check_resolves("~/foo", exp);
	free(exp);
	teardown();
}

static void test_driver_prefix(void)
{
	struct mail_path mp;
	const char *err;
	char *exp;

	setup();
	exp = xasprintf("%s/foo", home);
	CHECK(mail_resolve("#driver.mbx/foo", &mp, &err) == 0);
	CHECK(mp.create_driver == driver_lookup("mbx"));
	CHECK(mp.create_driver != NULL);
	CHECK_STR(mp.name, "foo");
	CHECK_STR(mp.path, exp);
	CHECK(!mp.is_inbox);
	mail_path_free(&mp);
	CHECK(mail_resolve("#DRIVER.MailDir/foo", &mp, &err) == 0);
	CHECK(mp.create_driver == driver_lookup("maildir"));
	mail_path_free(&mp);
	free(exp);

	CHECK(mail_resolve("#driver.nosuch/foo", &mp, &err) < 0);
	CHECK_STR(err, "Unknown mailbox format");
	CHECK(mail_resolve("#driver.mbx", &mp, &err) < 0);
	CHECK(mail_resolve("#driver.mbx/", &mp, &err) < 0);
	CHECK(mail_resolve("#driver.mbx/#driver.mbox/x", &mp, &err) < 0);

	/* #driver.mbx/INBOX is ~/INBOX in mbx; the spool feeds it */
	exp = xasprintf("%s/INBOX", home);
	CHECK(mail_resolve("#driver.mbx/inbox", &mp, &err) == 0);
	CHECK(mp.is_inbox);
	CHECK_STR(mp.name, "INBOX");
	CHECK_STR(mp.path, exp);
	CHECK(mp.create_driver == driver_lookup("mbx"));
	free(exp);
	exp = xasprintf("%s/alice", spool);
	CHECK_STR(mp.spool_path, exp);
	mail_path_free(&mp);
	/* #driver.mbox/INBOX: the traditional spool itself */
	CHECK(mail_resolve("#driver.mbox/INBOX", &mp, &err) == 0);
	CHECK_STR(mp.path, exp);
	CHECK(mp.spool_path == NULL);
	mail_path_free(&mp);
	free(exp);
	teardown();
}

static void test_inbox_migrate(void)
{
	struct mail_path mp;
	const char *err;
	char *exp, *sp;

	setup();
	if (!mbox_probe_works()) {
		teardown();
		return;
	}
	sp = xasprintf("%s/alice", spool);
	/* a non-mail ~/mbox is not taken */
	write_file(home, "mbox", "just some text\n");
	check_resolves("INBOX", sp);
	/* a mbox-format ~/mbox is INBOX and the spool feeds it (FAQ 7.7) */
	write_file(home, "mbox", mbox_text);
	exp = xasprintf("%s/mbox", home);
	CHECK(mail_resolve("INBOX", &mp, &err) == 0);
	CHECK(mp.is_inbox);
	CHECK_STR(mp.path, exp);
	CHECK_STR(mp.spool_path, sp);
	CHECK(mp.driver != NULL && strcmp(mp.driver->name, "mbox") == 0);
	mail_path_free(&mp);
	/* switched off */
	CHECK(config_set("inbox-migrate", "no", &err));
	check_resolves("INBOX", sp);
	CHECK(config_set("inbox-migrate", "yes", &err));
	/* a mbox-format ~/INBOX is not taken (only other formats are) */
	write_file(home, "INBOX", mbox_text);
	check_resolves("INBOX", exp);
	free(exp);
	/* a directory INBOX from inbox-path is the INBOX, nothing migrates */
	CHECK(config_set("inbox-path", "%h/Maildir", &err));
	mail_user_set("alice", getuid(), getgid(), home);
	make_dir(home, "Maildir");
	exp = xasprintf("%s/Maildir", home);
	CHECK(mail_resolve("INBOX", &mp, &err) == 0);
	CHECK_STR(mp.path, exp);
	CHECK(mp.spool_path == NULL);
	mail_path_free(&mp);
	/* with inbox-path set, "#driver.X/INBOX" creates it there */
	CHECK(mail_resolve("#driver.mbx/INBOX", &mp, &err) == 0);
	CHECK(mp.spool_path == NULL);
	CHECK_STR(mp.path, exp);
	CHECK(mp.is_inbox);
	mail_path_free(&mp);
	free(exp);
	free(sp);
	teardown();
}

static void test_restrict_none(void)
{
	const char *err;
	struct passwd *pw = getpwuid(getuid());
	char *exp;

	setup();
	check_resolves("/etc/passwd", "/etc/passwd");
	exp = xasprintf("%s/../x", home);
	check_resolves("../x", exp);
	free(exp);
	if (pw != NULL && pw->pw_dir[0] == '/' && strcmp(pw->pw_dir, "/") != 0) {
		char *name = xasprintf("~%s/x", pw->pw_name);
		exp = xasprintf("%s/x", pw->pw_dir);
		check_resolves(name, exp);
		free(exp);
		free(name);
	}
	check_refused("~no-such-user-xyzzy/x", "No such user");
	CHECK(config_set("restrict-mailbox-access", "none", &err));
	teardown();
}

static void test_restrict_root(void)
{
	const char *err;
	struct passwd *pw = getpwuid(getuid());
	char *exp;

	setup();
	CHECK(config_set("restrict-mailbox-access", "root", &err));
	check_refused("/etc/passwd", "restricted");
	check_refused("../x", "restricted");
	check_refused("a/../../x", "restricted");
	check_refused("a/..", "restricted");
	check_refused("~/../x", "restricted");
	check_refused("#driver.mbx/../x", "restricted");
	exp = xasprintf("%s/a..b/..c", home);
	check_resolves("a..b/..c", exp);	/* not a ".." component */
	free(exp);
	exp = xasprintf("%s/x", home);
	check_resolves("~/x", exp);
	check_resolves("~alice/x", exp);
	free(exp);
	if (pw != NULL && pw->pw_dir[0] == '/' && strcmp(pw->pw_dir, "/") != 0) {
		char *name = xasprintf("~%s/x", pw->pw_name);
		exp = xasprintf("%s/x", pw->pw_dir);
		check_resolves(name, exp);	/* other users allowed */
		free(exp);
		free(name);
	}
	teardown();
}

static void test_restrict_all(void)
{
	const char *err;
	struct passwd *pw = getpwuid(getuid());
	char *exp;

	setup();
	CHECK(config_set("restrict-mailbox-access", "all", &err));
	check_refused("/etc/passwd", "restricted");
	check_refused("../x", "restricted");
	if (pw != NULL) {
		char *name = xasprintf("~%s/x", pw->pw_name);
		check_refused(name, "restricted");
		free(name);
	}
	exp = xasprintf("%s/x", home);
	check_resolves("~/x", exp);
	check_resolves("~alice/x", exp);	/* one's own name */
	check_resolves("x", exp);
	free(exp);
	/* unknown values fail safe */
	CHECK(config_set("restrict-mailbox-access", "bogus", &err));
	check_refused("/etc/passwd", "restricted");
	teardown();
}

static void test_namespaces(void)
{
	const char *err;
	struct passwd *pw = getpwuid(getuid());
	char *exp;

	setup();
	CHECK(pw != NULL);
	if (pw == NULL) {
		teardown();
		return;
	}
	CHECK(config_set("public-namespace-user", pw->pw_name, &err));
	CHECK(config_set("shared-namespace-user", "", &err));
	CHECK(config_set("ftp-namespace-user", "no-such-user-xyzzy", &err));
	exp = xasprintf("%s/foo/bar", strcmp(pw->pw_dir, "/") ? pw->pw_dir : "");
	check_resolves("#public/foo/bar", exp);
	check_resolves("#PUBLIC/foo/bar", exp);
	free(exp);
	check_refused("#public/../x", "restricted");
	check_refused("#public/a/../../x", "restricted");
	check_refused("#shared/foo", "not enabled");
	check_refused("#ftp/foo", "does not exist");
	check_refused("#news.comp.mail", "#news");
	check_refused("#bogus/x", "Unknown namespace");
	check_refused("#public", NULL);

	/* anonymous: #public/ and #ftp/ only */
	mail_user->anonymous = true;
	check_refused("INBOX", "Anonymous");
	check_refused("foo", "Anonymous");
	check_refused("~/foo", "Anonymous");
	check_refused("/etc/passwd", "Anonymous");
	CHECK(config_set("shared-namespace-user", pw->pw_name, &err));
	check_refused("#shared/foo", "Anonymous");
	exp = xasprintf("%s/foo", strcmp(pw->pw_dir, "/") ? pw->pw_dir : "");
	check_resolves("#public/foo", exp);
	free(exp);
	teardown();
}

static void test_hostile_names(void)
{
	char *longname = xmalloc(PATH_MAX + 10);

	setup();
	check_refused("", "empty");
	check_refused("foo\nbar", "control");
	check_refused("foo\rbar", "control");
	check_refused("\x7f", "control");
	memset(longname, 'a', PATH_MAX + 9);
	longname[PATH_MAX + 9] = '\0';
	check_refused(longname, "too long");
	/* a name whose path only gets too long after joining */
	longname[PATH_MAX - 3] = '\0';
	check_refused(longname, "too long");
	free(longname);
	teardown();
}

/* ---- LIST ---- */

static void list_cb(void *ctx, const char *name, unsigned attrs)
{
	struct buf *b = ctx;

	if (b->len > 0)
		buf_putc(b, ' ');
	buf_puts(b, name);
	buf_putc(b, '[');
	if (attrs & MAIL_LIST_NOSELECT) buf_putc(b, 'N');
	if (attrs & MAIL_LIST_NOINFERIORS) buf_putc(b, 'I');
	if (attrs & MAIL_LIST_HASCHILDREN) buf_putc(b, 'C');
	if (attrs & MAIL_LIST_HASNOCHILDREN) buf_putc(b, 'c');
	if (attrs & MAIL_LIST_MARKED) buf_putc(b, 'M');
	if (attrs & MAIL_LIST_UNMARKED) buf_putc(b, 'U');
	buf_putc(b, ']');
}

static void check_list(const char *ref, const char *pat, bool lsub,
		       const char *expect)
{
	struct buf b;
	const char *err = NULL;

	buf_init(&b, 0);
	if (mail_list(ref, pat, lsub, list_cb, &b, &err) < 0) {
		fprintf(stderr, "  LIST \"%s\" \"%s\": error %s\n", ref, pat, err);
		test_failures++;
	} else if (strcmp(b.data, expect) != 0) {
		fprintf(stderr, "  %s \"%s\" \"%s\":\n    got:    %s\n    wanted: %s\n",
			lsub ? "LSUB" : "LIST", ref, pat, b.data, expect);
		test_failures++;
	}
	buf_release(&b);
}

static void test_match(void)
{
	CHECK(mail_list_match("*", "a/b/c"));
	CHECK(mail_list_match("%", "abc"));
	CHECK(!mail_list_match("%", "a/b"));
	CHECK(mail_list_match("%/%", "a/b"));
	CHECK(mail_list_match("a%c", "abc"));
	CHECK(mail_list_match("a%c", "ac"));
	CHECK(!mail_list_match("a%c", "a/c"));
	CHECK(mail_list_match("a*c", "a/b/c"));
	CHECK(!mail_list_match("abc", "abcd"));
	CHECK(!mail_list_match("abcd", "abc"));
	CHECK(mail_list_match("", ""));
	CHECK(!mail_list_match("", "a"));
	CHECK(mail_list_match("inbox", "INBOX"));
	CHECK(mail_list_match("In%", "INBOX"));
	CHECK(!mail_list_match("inbox", "Inbox"));	/* only INBOX folds */
	CHECK(!mail_list_match("foo", "FOO"));
	/* no exponential backtracking */
	{
		char name[4001];
		time_t t0 = time(NULL);
		memset(name, 'a', 4000);
		name[4000] = '\0';
		CHECK(!mail_list_match("*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b", name));
		CHECK(time(NULL) - t0 < 3);
	}
}

static void build_tree(void)
{
	write_file(home, "a", "");
	write_file(home, "junk", "not a mailbox\n");
	write_file(home, ".hidden", "");
	write_file(home, "x.lock", "");
	make_dir(home, "dir");
	make_dir(home, "dir/sub");
	make_dir(home, "empty");
	write_file(home, "dir/c", "");
	write_file(home, "dir/sub/d", "");
}

static void test_list_basic(void)
{
	const char *err;

	setup();
	build_tree();
	check_list("", "%", false,
		   "INBOX[cU] a[IU] dir[NC] empty[Nc]");
	check_list("", "*", false,
		   "INBOX[cU] a[IU] dir[NC] dir/c[IU] dir/sub[NC] dir/sub/d[IU] empty[Nc]");
	check_list("dir/", "%", false, "dir/c[IU] dir/sub[NC]");
	check_list("dir/", "*", false, "dir/c[IU] dir/sub[NC] dir/sub/d[IU]");
	check_list("", "dir/%", false, "dir/c[IU] dir/sub[NC]");
	check_list("", "%/%", false, "dir/c[IU] dir/sub[NC]");
	check_list("", "*/d", false, "dir/sub/d[IU]");
	check_list("", "d%", false, "dir[NC]");
	check_list("", "inbox", false, "INBOX[cU]");
	check_list("", "In*", false, "INBOX[cU]");
	check_list("", "dir", false, "dir[NC]");
	check_list("", "dir/", false, "dir/[NC]");
	check_list("", "a", false, "a[IU]");
	check_list("", "junk", false, "");
	check_list("", "nosuch", false, "");
	check_list("", "nosuch/%", false, "");
	/* hidden from wildcards, but an exact name is what was asked for */
	check_list("", ".hidden", false, ".hidden[IU]");
	check_list("~/", "%", false, "~/a[IU] ~/dir[NC] ~/empty[Nc]");
	/* reference ignored for absolute patterns */
	check_list("dir/", "~/d%", false, "~/dir[NC]");
	/* empty pattern: the root of the reference */
	check_list("", "", false, "[N]");
	check_list("~/foo", "", false, "~/[N]");
	check_list("#public/foo", "", false, "#public/[N]");
	check_list("/usr/lib", "", false, "/[N]");

	/* a non-empty spool marks INBOX */
	write_file(spool, "alice", mbox_text);
	{
		char *p = xasprintf("%s/alice", spool);
		struct timespec ts[2] = { { 1000, 0 }, { 2000, 0 } };
		CHECK(utimensat(AT_FDCWD, p, ts, 0) == 0);
		free(p);
	}
	check_list("", "INBOX", false, "INBOX[cM]");
	/* INBOX/ children are ordinary names under maildir/INBOX */
	make_dir(home, "INBOX");
	write_file(home, "INBOX/x", "");
	check_list("", "%", false,
		   "INBOX[CM] a[IU] dir[NC] empty[Nc]");
	check_list("INBOX/", "%", false, "INBOX/x[IU]");

	/* restriction applies to the reference */
	CHECK(config_set("restrict-mailbox-access", "root", &err));
	{
		struct buf b;
		buf_init(&b, 0);
		CHECK(mail_list("/", "%", false, list_cb, &b, &err) < 0);
		CHECK(mail_list("", "../%", false, list_cb, &b, &err) < 0);
		CHECK(b.len == 0);
		buf_release(&b);
	}
	teardown();
}

static void test_list_namespaces(void)
{
	const char *err;

	setup();
	build_tree();
	/* the namespace owner's home is looked up by name; our own name
	 * gives the test home without a passwd entry */
	CHECK(config_set("public-namespace-user", "alice", &err));
	check_list("", "#public/%", false,
		   "#public/a[IU] #public/dir[NC] #public/empty[Nc]");
	check_list("#public/", "d*", false,
		   "#public/dir[NC] #public/dir/c[IU] #public/dir/sub[NC] #public/dir/sub/d[IU]");
	check_list("#public/dir/", "%", false,
		   "#public/dir/c[IU] #public/dir/sub[NC]");
	check_list("", "#public/a", false, "#public/a[IU]");
	/* INBOX is not in other namespaces */
	check_list("#public/", "*", false,
		   "#public/a[IU] #public/dir[NC] #public/dir/c[IU] #public/dir/sub[NC] #public/dir/sub/d[IU] #public/empty[Nc]");
	/* anonymous: namespaces only */
	mail_user->anonymous = true;
	check_list("", "#public/%", false,
		   "#public/a[IU] #public/dir[NC] #public/empty[Nc]");
	check_list("", "*", false, "");
	{
		struct buf b;
		buf_init(&b, 0);
		CHECK(mail_list("", "~/%", false, list_cb, &b, &err) < 0);
		buf_release(&b);
	}
	teardown();
}

static void test_list_mail_directory(void)
{
	const char *err;

	setup();
	CHECK(config_set("mail-directory", "Mail", &err));
	mail_user_set("alice", getuid(), getgid(), home);
	make_dir(home, "Mail");
	write_file(home, "Mail/x", "");
	write_file(home, "y", "");
	check_list("", "*", false, "INBOX[cU] x[IU]");
	check_list("~/", "%", false, "~/Mail[NC] ~/y[IU]");
	teardown();
}

static void test_list_mailbox_formats(void)
{
	setup();
	if (!mbox_probe_works()) {
		teardown();
		return;
	}
	write_file(home, "m", mbox_text);
	write_file(home, "junk", "not a mailbox\n");
	check_list("", "%", false, "INBOX[cU] m[IU]");
	teardown();
}

static void make_maildir(const char *name)
{
	char *p;

	make_dir(home, name);
	for (const char *const *s = (const char *const[]){ "cur", "new", "tmp",
		NULL }; *s != NULL; s++) {
		p = xasprintf("%s/%s", name, *s);
		make_dir(home, p);
		free(p);
	}
}

static void test_list_maildir(void)
{
	const char *err;
	char *p;
	const struct mail_driver *d;

	setup();
	make_maildir("md");
	p = xasprintf("%s/md", home);
	d = driver_detect(p);
	free(p);
	if (d == NULL || !d->is_directory) {
		fprintf(stderr, "  (maildir probe not available: skipped)\n");
		teardown();
		return;
	}
	make_maildir("md/.Sub");
	make_maildir("md/.Sub.Deep");
	make_dir(home, "md/.plain");
	make_maildir("md2");
	/* a maildir is a mailbox, not a folder; Maildir++ folders in it are
	 * NAME/.Sub */
	check_list("", "%", false, "INBOX[cU] md[C] md2[c]");
	check_list("", "*", false,
		   "INBOX[cU] md[C] md/.Sub[c] md/.Sub.Deep[c] md2[c]");
	check_list("md/", "%", false, "md/.Sub[c] md/.Sub.Deep[c]");
	check_list("", "md/.Sub", false, "md/.Sub[c]");
	check_list("", "md2/%", false, "");
	/* mail-directory that is itself a maildir */
	CHECK(config_set("mail-directory", "md", &err));
	mail_user_set("alice", getuid(), getgid(), home);
	check_list("", "*", false, "INBOX[cU] .Sub[c] .Sub.Deep[c]");
	teardown();
}

/* a directory format with no children_prefix: its ".Sub" directories
 * are its own business, not folders (only Maildir++ has folders inside a
 * mailbox, and mailname.c learns it from the field, not the format) */
static bool flatdir_probe(const char *path, const struct stat *st)
{
	char *m = xasprintf("%s/FLATDIR", path);
	bool r = S_ISDIR(st->st_mode) && access(m, F_OK) == 0;

	free(m);
	return r;
}

static const struct mail_driver flatdir_driver = {
	.name = "flatdir",
	.is_directory = true,
	.probe = flatdir_probe,
};

static void test_list_children_prefix(void)
{
	char *p;

	setup();
	mail_driver_register(&flatdir_driver);
	make_dir(home, "fd");
	make_dir(home, "fd/.Sub");
	p = xasprintf("%s/fd", home);
	write_file(p, "FLATDIR", "");
	free(p);
	p = xasprintf("%s/fd/.Sub", home);
	write_file(p, "FLATDIR", "");
	free(p);
	check_list("", "*", false, "INBOX[cU] fd[c]");
	check_list("fd/", "%", false, "");
	teardown();
}

static void test_list_loops(void)
{
	char *p;

	setup();
	make_dir(home, "d");
	p = xasprintf("%s/d/loop", home);
	CHECK(symlink(home, p) == 0);
	free(p);
	p = xasprintf("%s/self", home);
	CHECK(symlink(home, p) == 0);
	free(p);
	/* terminates; does not walk back into the home */
	check_list("", "*", false, "INBOX[cU] d[NC] d/loop[NC] self[NC]");
	teardown();
}

static void test_list_hostile(void)
{
	struct buf b;
	const char *err;
	char *pat = xmalloc(MAIL_LIST_MAX_PATTERN + 10);

	setup();
	buf_init(&b, 0);
	memset(pat, '*', MAIL_LIST_MAX_PATTERN + 9);
	pat[MAIL_LIST_MAX_PATTERN + 9] = '\0';
	CHECK(mail_list("", pat, false, list_cb, &b, &err) < 0);
	CHECK(mail_list("", "a\nb", false, list_cb, &b, &err) < 0);
	CHECK(mail_list("", "#bogus/%", false, list_cb, &b, &err) < 0);
	/* long runs of wildcards collapse */
	memset(pat, '*', 500);
	strcpy(pat + 500, "%%%%x");
	CHECK(mail_list("", pat, false, list_cb, &b, &err) == 0);
	/* "~*" does not enumerate users */
	buf_reset(&b);
	CHECK(mail_list("", "~%", false, list_cb, &b, &err) == 0);
	CHECK_STR(b.data, "");
	buf_release(&b);
	free(pat);
	teardown();
}

/* ---- subscriptions ---- */

static void test_subscriptions(void)
{
	const char *err;
	char *file, *text;

	setup();
	file = xasprintf("%s/.mailboxlist", home);
	CHECK(mail_subscribe("foo", true, &err) == 0);
	CHECK(mail_subscribe("bar/baz", true, &err) == 0);
	CHECK(mail_subscribe("inbox", true, &err) == 0);
	CHECK(mail_subscribe("foo", true, &err) == 0);	/* no duplicate */
	text = test_read_file(file, NULL);
	CHECK_STR(text, "foo\nbar/baz\nINBOX\n");
	free(text);

	write_file(home, "foo", "");
	check_list("", "*", true, "foo[] bar/baz[N] INBOX[]");
	check_list("", "%", true, "foo[] INBOX[] bar[N]");
	check_list("bar/", "%", true, "bar/baz[N]");
	check_list("", "inbox", true, "INBOX[]");
	/* a subscribed parent is reported as itself, not as \Noselect */
	CHECK(mail_subscribe("bar", true, &err) == 0);
	check_list("", "%", true, "foo[] INBOX[] bar[N]");
	write_file(home, "bar2", "");
	CHECK(mail_subscribe("bar2", true, &err) == 0);
	CHECK(mail_subscribe("bar2/x", true, &err) == 0);
	check_list("", "bar2", true, "bar2[]");
	CHECK(mail_subscribe("bar", false, &err) == 0);
	CHECK(mail_subscribe("bar2", false, &err) == 0);
	CHECK(mail_subscribe("bar2/x", false, &err) == 0);

	CHECK(mail_subscribe("foo", false, &err) == 0);
	CHECK(mail_subscribe("foo", false, &err) < 0);
	CHECK(mail_subscribe("INBOX", false, &err) == 0);
	text = test_read_file(file, NULL);
	CHECK_STR(text, "bar/baz\n");
	free(text);

	/* restriction is checked when subscribing, not when removing */
	CHECK(mail_subscribe("/etc/passwd", true, &err) == 0);
	CHECK(config_set("restrict-mailbox-access", "root", &err));
	CHECK(mail_subscribe("/etc/shadow", true, &err) < 0);
	CHECK(mail_subscribe("/etc/passwd", false, &err) == 0);
	CHECK(mail_subscribe("a\nb", true, &err) < 0);
	/* no temp file left behind */
	{
		char *t = xasprintf("%s.tmp.%ld", file, (long)getpid());
		CHECK(access(t, F_OK) < 0);
		free(t);
	}
	/* hand-edited file: CRLF, blank lines, junk */
	write_file(home, ".mailboxlist", "one\r\n\n\ntwo\n\x01junk\n");
	check_list("", "*", true, "one[N] two[N]");
	mail_user->anonymous = true;
	CHECK(mail_subscribe("#public/x", true, &err) < 0);
	free(file);
	teardown();
}

static void test_namespace_lists(void)
{
	const char *p[MAIL_NS_MAX];
	const char *err;
	unsigned n;

	setup();
	n = mail_namespaces(MAIL_NS_PERSONAL, p);
	CHECK_INT(n, 1);
	CHECK_STR(p[0], "");
	n = mail_namespaces(MAIL_NS_OTHER, p);
	CHECK_INT(n, 1);
	CHECK_STR(p[0], "~");
	n = mail_namespaces(MAIL_NS_SHARED, p);
	CHECK_INT(n, 3);
	CHECK_STR(p[0], "#shared/");
	CHECK_STR(p[1], "#public/");
	CHECK_STR(p[2], "#ftp/");
	CHECK(config_set("shared-namespace-user", "", &err));
	CHECK(config_set("restrict-mailbox-access", "all", &err));
	CHECK_INT(mail_namespaces(MAIL_NS_OTHER, p), 0);
	CHECK_INT(mail_namespaces(MAIL_NS_SHARED, p), 2);
	mail_user->anonymous = true;
	CHECK_INT(mail_namespaces(MAIL_NS_PERSONAL, p), 0);
	CHECK_INT(mail_namespaces(MAIL_NS_SHARED, p), 2);
	CHECK(config_set("shared-namespace-user", "x", &err));
	CHECK_INT(mail_namespaces(MAIL_NS_SHARED, p), 2);
	teardown();
}

int main(int argc, char **argv)
{
	static const struct test tests[] = {
		TEST(test_user_set),
		TEST(test_inbox_default),
		TEST(test_inbox_children_are_plain),
		TEST(test_relative),
		TEST(test_driver_prefix),
		TEST(test_inbox_migrate),
		TEST(test_restrict_none),
		TEST(test_restrict_root),
		TEST(test_restrict_all),
		TEST(test_namespaces),
		TEST(test_hostile_names),
		TEST(test_match),
		TEST(test_list_basic),
		TEST(test_list_namespaces),
		TEST(test_list_mail_directory),
		TEST(test_list_mailbox_formats),
		TEST(test_list_maildir),
		TEST(test_list_children_prefix),
		TEST(test_list_loops),
		TEST(test_list_hostile),
		TEST(test_subscriptions),
		TEST(test_namespace_lists),
	};

	return test_run(argc, argv, tests, N_ELEMENTS(tests));
}
