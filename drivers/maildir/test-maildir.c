/*
 * test-maildir.c - the maildir driver: a golden tree as foreign software
 * leaves it (tests/data/maildir/golden), APPEND round trips (flags,
 * keywords, dates, bytes), delivery into new/ while a session is open,
 * flag renames by another reader, two sessions, Maildir++ folders.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "buf.h"
#include "mail.h"
#include "test.h"

extern const struct mail_driver maildir_driver;

static const char *data_dir(void)
{
	if (access("tests/data/maildir/golden", F_OK) == 0)
		return "tests/data/maildir";
	return "maildir";	/* make check runs in tests/data */
}

static void copy_tree(const char *from, const char *to)
{
	DIR *d = opendir(from);
	struct dirent *de;

	mkdir(to, 0700);
	if (d == NULL)
		panic("opendir %s", from);
	while ((de = readdir(d)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		char *f = xasprintf("%s/%s", from, de->d_name);
		char *t = xasprintf("%s/%s", to, de->d_name);
		struct stat st;
		stat(f, &st);
		if (S_ISDIR(st.st_mode))
			copy_tree(f, t);
		else {
			size_t len;
			char *data = test_read_file(f, &len);
			int fd = open(t, O_WRONLY | O_CREAT | O_TRUNC, 0600);
			if (fd < 0 || write_full(fd, data, len) != (ssize_t)len)
				panic("write %s", t);
			close(fd);
			free(data);
		}
		free(f);
		free(t);
	}
	closedir(d);
}

static void set_mtime(const char *dir, const char *prefix, time_t t)
{
	static const char *const subs[] = { "new", "cur" };

	for (int i = 0; i < 2; i++) {
		char *p = xasprintf("%s/%s", dir, subs[i]);
		DIR *d = opendir(p);
		struct dirent *de;
		while (d != NULL && (de = readdir(d)) != NULL) {
			if (strncmp(de->d_name, prefix, strlen(prefix)) != 0)
				continue;
			char *f = xasprintf("%s/%s", p, de->d_name);
			struct timeval tv[2] = { { t, 0 }, { t, 0 } };
			utimes(f, tv);
			free(f);
		}
		if (d != NULL)
			closedir(d);
		free(p);
	}
}

static unsigned count_dir(const char *dir, const char *sub)
{
	char *p = xasprintf("%s/%s", dir, sub);
	DIR *d = opendir(p);
	struct dirent *de;
	unsigned n = 0;

	while (d != NULL && (de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	if (d != NULL)
		closedir(d);
	free(p);
	return n;
}

static bool kw(struct mailbox *mb, uint32_t seq, const char *name)
{
	int k = mail_keyword_index(mb, name, false);

	return k >= 0 && (mb->msgs[seq - 1].keywords >> k & 1) != 0;
}

static void test_golden_tree(void)
{
	char *dir = test_tmpdir();
	char *md = xasprintf("%s/Maildir", dir);
	char *src = xasprintf("%s/golden", data_dir());
	const char *err = NULL;
	struct stat st;

	copy_tree(src, md);
	set_mtime(md, "1546300800", 1546300800);
	set_mtime(md, "1546300801", 1546300801);
	set_mtime(md, "1546300802", 1546300802);
	set_mtime(md, "1546300803", 1546300803);
	CHECK(stat(md, &st) == 0 && maildir_driver.probe(md, &st));

	struct mailbox *mb = maildir_driver.open(md, 0, &err);
	CHECK(mb != NULL);
	if (mb == NULL) {
		fprintf(stderr, "  open: %s\n", err);
		return;
	}
	CHECK_INT(mb->count, 4);
	/* no uid list yet: this first session sees all four as new */
	CHECK_INT(mb->recent, 4);
	CHECK_INT(mb->uidnext, 5);
	CHECK(mb->uidvalidity != 0);
	/* name order = delivery order */
	CHECK_INT(mb->msgs[0].internaldate, 1546300800);
	CHECK_INT(mb->msgs[3].internaldate, 1546300803);
	CHECK_INT(mb->msgs[0].flags, MAIL_RECENT);
	CHECK_INT(mb->msgs[1].flags, MAIL_RECENT | MAIL_SEEN | MAIL_FLAGGED);
	CHECK_INT(mb->msgs[2].flags, MAIL_RECENT | MAIL_ANSWERED | MAIL_DELETED);
	CHECK_INT(mb->msgs[3].flags, MAIL_RECENT | MAIL_DRAFT);
	CHECK(kw(mb, 3, "$Label1"));
	CHECK(kw(mb, 4, "project-x"));
	CHECK(!kw(mb, 4, "$Label1"));
	/* LF file served as CRLF, size counts CRLF */
	struct buf b;
	buf_init(&b, 0);
	CHECK(mail_fetch(mb, 1, MAIL_PART_ALL, &b, &err) == 0);
	CHECK_INT(b.len, 166 + 8);
	CHECK_INT(mb->msgs[0].size, b.len);
	CHECK(strstr(b.data, "line one\r\nline two\r\n") != NULL);
	buf_reset(&b);
	CHECK(mail_fetch(mb, 1, MAIL_PART_TEXT, &b, &err) == 0);
	CHECK_STR(b.data, "line one\r\nline two\r\n");
	buf_release(&b);
	/* new/ was moved to cur/ */
	CHECK_INT(count_dir(md, "new"), 0);
	CHECK_INT(count_dir(md, "cur"), 4);

	/* a flag change keeps P, the unnamed z, and adds a keyword letter */
	int k = mail_keyword_index(mb, "Junk", true);
	CHECK(k >= 0);
	CHECK(mail_store(mb, 4, MAIL_STORE_ADD, MAIL_SEEN, 1ull << k) == 0);
	CHECK(mail_store(mb, 3, MAIL_STORE_REMOVE, MAIL_DELETED, 0) == 0);
	CHECK(mail_flush(mb, &err) == 0);
	CHECK(strstr(mb->msgs[3].d_name, ":2,DSbcz") != NULL);
	CHECK(strstr(mb->msgs[2].d_name, ":2,PRa") != NULL);
	uint32_t uv = mb->uidvalidity;
	maildir_driver.close(&mb);

	/* UIDs persist; a fresh session is not \Recent */
	mb = maildir_driver.open(md, 0, &err);
	CHECK(mb != NULL);
	if (mb != NULL) {
		CHECK_INT(mb->uidvalidity, uv);
		CHECK_INT(mb->count, 4);
		CHECK_INT(mb->recent, 0);
		CHECK_INT(mb->msgs[3].uid, 4);
		CHECK(kw(mb, 4, "Junk"));
		CHECK_INT(mb->msgs[3].flags, MAIL_DRAFT | MAIL_SEEN);
		maildir_driver.close(&mb);
	}
	char *kwf = xasprintf("%s/dovecot-keywords", md);
	char *kwt = test_read_file(kwf, NULL);
	CHECK_STR(kwt, "0 $Label1\n1 Junk\n2 project-x\n");
	free(kwt);
	free(kwf);
	free(src);
	free(md);
	free(dir);
}

static void test_append_roundtrip(void)
{
	char *dir = test_tmpdir();
	char *md = xasprintf("%s/box", dir);
	const char *err = NULL;
	static const char *const kws[] = { "Junk", "$Label1" };
	struct mail_append_msg m[2];
	uint32_t uv, uids[2];

	memset(m, 0, sizeof(m));
	m[0].data = "Subject: one\r\n\r\nbody\r\nFrom me\r\n";
	m[0].len = strlen(m[0].data);
	m[0].flags = MAIL_SEEN | MAIL_ANSWERED;
	m[0].keywords = kws;
	m[0].nkeywords = 2;
	m[0].internaldate = 1584272096;
	m[0].zone = 120;
	m[1].data = "Subject: two\n\nlf\n";
	m[1].len = strlen(m[1].data);
	m[1].internaldate = 1612195200;
	CHECK(maildir_driver.create(md, &err) == 0);
	CHECK(maildir_driver.create(md, &err) < 0);
	CHECK(maildir_driver.append(md, m, 2, &uv, uids, &err) == 0);
	CHECK_INT(uids[0], 1);
	CHECK_INT(uids[1], 2);
	CHECK_INT(count_dir(md, "new"), 1);	/* no flags: new/ */
	CHECK_INT(count_dir(md, "cur"), 1);
	CHECK_INT(count_dir(md, "tmp"), 0);

	struct mailbox *mb = maildir_driver.open(md, 0, &err);
	CHECK(mb != NULL);
	if (mb == NULL)
		return;
	CHECK_INT(mb->uidvalidity, uv);
	CHECK_INT(mb->count, 2);
	CHECK_INT(mb->msgs[0].uid, 1);
	/* appended with flags (cur/) yet \Recent for the first session */
	CHECK_INT(mb->msgs[0].flags, MAIL_RECENT | MAIL_SEEN | MAIL_ANSWERED);
	CHECK_INT(mb->msgs[0].zone, 120);
	CHECK_INT(mb->recent, 2);
	CHECK(kw(mb, 1, "Junk") && kw(mb, 1, "$Label1"));
	CHECK_INT(mb->msgs[0].internaldate, 1584272096);
	CHECK_INT(mb->msgs[1].internaldate, 1612195200);
	CHECK_INT(mb->msgs[1].flags, MAIL_RECENT);
	struct buf b;
	buf_init(&b, 0);
	CHECK(mail_fetch(mb, 1, MAIL_PART_ALL, &b, &err) == 0);
	CHECK_STR(b.data, "Subject: one\r\n\r\nbody\r\nFrom me\r\n");
	buf_reset(&b);
	CHECK(mail_fetch(mb, 2, MAIL_PART_ALL, &b, &err) == 0);
	CHECK_STR(b.data, "Subject: two\r\n\r\nlf\r\n");
	CHECK_INT(mb->msgs[1].size, 20);
	buf_release(&b);
	maildir_driver.close(&mb);

	/* all or nothing */
	struct mail_append_msg bad[2];
	memset(bad, 0, sizeof(bad));
	bad[0] = m[0];
	bad[1].data = "";
	CHECK(maildir_driver.append(md, bad, 2, &uv, uids, &err) < 0);
	CHECK_INT(count_dir(md, "new") + count_dir(md, "cur"), 2);
	CHECK_INT(count_dir(md, "tmp"), 0);
	free(md);
	free(dir);
}

static void deliver(const char *md, const char *name, const char *text)
{
	char *t = xasprintf("%s/tmp/%s", md, name);
	char *n = xasprintf("%s/new/%s", md, name);
	int fd = open(t, O_WRONLY | O_CREAT | O_EXCL, 0600);

	if (fd < 0 || write_full(fd, text, strlen(text)) < 0)
		panic("deliver");
	close(fd);
	if (rename(t, n) < 0)
		panic("deliver rename");
	free(t);
	free(n);
}

static int n_flags_changed;
static void on_flags(void *ctx, struct mailbox *mb, uint32_t seq)
{
	n_flags_changed++;
}

static void test_delivery_and_sessions(void)
{
	char *dir = test_tmpdir();
	char *md = xasprintf("%s/box", dir);
	const char *err = NULL;

	CHECK(maildir_driver.create(md, &err) == 0);
	deliver(md, "100.A.host", "Subject: first\n\n1\n");
	struct mailbox *a = maildir_driver.open(md, 0, &err);
	struct mailbox *b = maildir_driver.open(md, 0, &err);
	CHECK(a != NULL && b != NULL);
	if (a == NULL || b == NULL)
		return;
	CHECK_INT(a->count, 1);
	CHECK_INT(a->recent, 1);
	CHECK_INT(b->count, 1);
	CHECK_INT(b->recent, 0);
	b->ev.flags_changed = on_flags;

	/* an MTA delivers while both are open */
	deliver(md, "101.B.host", "Subject: second\n\n2\n");
	deliver(md, "102.C.host", "Subject: third\n\n3\n");
	CHECK(mail_sync(b, true, &err) == 0);
	CHECK(mail_sync(a, true, &err) == 0);
	CHECK_INT(a->count, 3);
	CHECK_INT(b->count, 3);
	CHECK_INT(a->msgs[2].uid, 3);
	CHECK_INT(b->msgs[2].uid, 3);
	CHECK_INT(a->recent + b->recent, 3);

	/* flags set in a are seen by b; UIDs stay */
	CHECK(mail_store(a, 2, MAIL_STORE_ADD, MAIL_FLAGGED, 0) == 0);
	CHECK(mail_flush(a, &err) == 0);
	n_flags_changed = 0;
	CHECK(mail_sync(b, true, &err) == 0);
	CHECK_INT(n_flags_changed, 1);
	CHECK_INT(b->msgs[1].flags & MAIL_SYSFLAGS, MAIL_FLAGGED);
	CHECK_INT(b->msgs[1].uid, 2);

	/* a rename by a foreign reader (mutt): same UID */
	char *old = xasprintf("%s/%s", md, b->msgs[0].d_name);
	char *base = xstrndup(b->msgs[0].d_name + 4,
			      strcspn(b->msgs[0].d_name + 4, ":"));
	char *nw = xasprintf("%s/cur/%s:2,S", md, base);
	CHECK(rename(old, nw) == 0);
	CHECK(mail_sync(a, true, &err) == 0);
	CHECK_INT(a->msgs[0].uid, 1);
	CHECK_INT(a->msgs[0].flags & MAIL_SYSFLAGS, MAIL_SEEN);
	/* b fetches by its old name: found again by base name */
	struct buf buf;
	buf_init(&buf, 0);
	CHECK(mail_fetch(b, 1, MAIL_PART_ALL, &buf, &err) == 0);
	CHECK_STR(buf.data, "Subject: first\r\n\r\n1\r\n");
	buf_release(&buf);

	/* expunge in a, seen by b */
	CHECK(mail_store(a, 3, MAIL_STORE_ADD, MAIL_DELETED, 0) == 0);
	CHECK(mail_expunge(a, NULL, NULL, &err) == 0);
	CHECK_INT(a->count, 2);
	CHECK(mail_sync(b, true, &err) == 0);
	CHECK_INT(b->count, 2);
	CHECK_INT(b->uidnext, 4);
	maildir_driver.close(&a);
	maildir_driver.close(&b);
	free(old);
	free(base);
	free(nw);
	free(md);
	free(dir);
}

/* Two sessions change one message's flags without syncing in between:
 * a adds \\Answered, b removes \\Seen. b's write applies its change to
 * what a wrote (a delta), so both changes survive and b learns the
 * merged result (imaptest store). */
static void test_store_merge(void)
{
	char *dir = test_tmpdir();
	char *md = xasprintf("%s/merge", dir);
	const char *cerr = NULL;

	CHECK(maildir_driver.create(md, &cerr) == 0);
	deliver(md, "100.A.host", "Subject: first\n\n1\n");
	struct mailbox *a = maildir_driver.open(md, 0, &cerr);
	struct mailbox *b = maildir_driver.open(md, 0, &cerr);
	if (a != NULL && b != NULL) {
		CHECK(mail_store(a, 1, MAIL_STORE_ADD, MAIL_SEEN, 0) == 0);
		CHECK(mail_flush(a, &cerr) == 0);
		CHECK(mail_sync(b, true, &cerr) == 0);
	}
	const char *err = NULL;

	CHECK(a != NULL && b != NULL);
	if (a == NULL || b == NULL)
		return;
	CHECK(mail_store(a, 1, MAIL_STORE_ADD, MAIL_ANSWERED, 0) == 0);
	CHECK(mail_flush(a, &err) == 0);
	CHECK(mail_store(b, 1, MAIL_STORE_REMOVE, MAIL_SEEN, 0) == 0);
	CHECK_INT(b->msgs[0].flags & MAIL_SYSFLAGS, 0);
	CHECK(mail_flush(b, &err) == 0);
	CHECK_INT(b->msgs[0].flags & MAIL_SYSFLAGS, MAIL_ANSWERED);
	CHECK((b->msgs[0].state & MSTATE_FLAGS_CHANGED) != 0);
	CHECK(mail_sync(a, true, &err) == 0);
	CHECK(mail_sync(b, true, &err) == 0);
	CHECK_INT(a->msgs[0].flags & MAIL_SYSFLAGS, MAIL_ANSWERED);
	CHECK_INT(b->msgs[0].flags & MAIL_SYSFLAGS, MAIL_ANSWERED);
	/* STORE FLAGS replaces: a's \\Flagged goes */
	CHECK(mail_store(a, 1, MAIL_STORE_ADD, MAIL_FLAGGED, 0) == 0);
	CHECK(mail_flush(a, &err) == 0);
	CHECK(mail_store(b, 1, MAIL_STORE_SET, MAIL_DRAFT, 0) == 0);
	CHECK(mail_flush(b, &err) == 0);
	CHECK(mail_sync(a, true, &err) == 0);
	CHECK_INT(a->msgs[0].flags & MAIL_SYSFLAGS, MAIL_DRAFT);
	CHECK_INT(b->msgs[0].flags & MAIL_SYSFLAGS, MAIL_DRAFT);
	maildir_driver.close(&a);
	maildir_driver.close(&b);
	free(md);
	free(dir);
}

static void test_plusplus_folders(void)
{
	char *dir = test_tmpdir();
	char *root = xasprintf("%s/Maildir", dir);
	char *sub = xasprintf("%s/.Work", root);
	char *subsub = xasprintf("%s/.Work.Old", root);
	char *renamed = xasprintf("%s/.Jobs", root);
	char *renamed2 = xasprintf("%s/.Jobs.Old", root);
	const char *err = NULL;
	struct stat st;

	CHECK(maildir_driver.create(root, &err) == 0);
	CHECK(maildir_driver.create(sub, &err) == 0);
	CHECK(maildir_driver.create(subsub, &err) == 0);
	char *mf = xasprintf("%s/maildirfolder", sub);
	CHECK(stat(mf, &st) == 0);
	CHECK(maildir_driver.rename(sub, renamed, &err) == 0);
	CHECK(stat(renamed, &st) == 0 && maildir_driver.probe(renamed, &st));
	CHECK(stat(renamed2, &st) == 0 && maildir_driver.probe(renamed2, &st));
	CHECK(stat(subsub, &st) < 0);
	CHECK(maildir_driver.remove(renamed, &err) == 0);
	CHECK(stat(renamed, &st) < 0);
	CHECK(stat(renamed2, &st) == 0);
	/* the root keeps its .Sub folders when deleted */
	CHECK(maildir_driver.remove(root, &err) == 0);
	CHECK(stat(renamed2, &st) == 0);
	CHECK(stat(root, &st) == 0 && !maildir_driver.probe(root, &st));
	free(mf);
	free(root);
	free(sub);
	free(subsub);
	free(renamed);
	free(renamed2);
	free(dir);
}

int main(int argc, char **argv)
{
	static const struct test tests[] = {
		TEST(test_golden_tree),
		TEST(test_append_roundtrip),
		TEST(test_delivery_and_sessions),
		TEST(test_store_merge),
		TEST(test_plusplus_folders),
	};
	return test_run(argc, argv, tests, N_ELEMENTS(tests));
}
