/*
 * test-keep-uids.c - appends that keep the source's numbering (mail.h:
 * mail_append_msg.uid, .uidvalidity, .uidnext; mailutil transfer -m
 * keep), for every driver: given UIDs, UIDVALIDITY and UIDNEXT survive a
 * reopen; a UID not above the mailbox's, or a UIDVALIDITY change once
 * the mailbox has had messages, is refused with nothing written.
 */
#include <stdlib.h>
#include <string.h>

#include "mail.h"
#include "test.h"

static struct mail_append_msg msg(const char *text, uint32_t uid)
{
	struct mail_append_msg m;

	memset(&m, 0, sizeof m);
	m.data = text;
	m.len = strlen(text);
	m.internaldate = 1600000000;
	m.uid = uid;
	return m;
}

static void keep_one(const char *driver)
{
	const struct mail_driver *d = driver_lookup(driver);
	char *dir = test_tmpdir();
	char *path = xasprintf("%s/box", dir);
	const char *err = NULL;
	struct mail_append_msg m[2];
	uint32_t uv = 0, uids[2] = { 0, 0 };
	struct mailbox *mb;

	CHECK(d != NULL);
	if (d == NULL)
		return;
	CHECK(d->create(path, &err) == 0);
	m[0] = msg("Subject: a\r\n\r\none\r\n", 7);
	m[1] = msg("Subject: b\r\n\r\ntwo\r\n", 12);
	m[0].uidvalidity = 123456;
	m[0].uidnext = m[1].uidnext = 20;
	CHECK(d->append(path, m, 2, &uv, uids, &err) == 0);
	CHECK_INT(uv, 123456);
	CHECK_INT(uids[0], 7);
	CHECK_INT(uids[1], 12);
	mb = d->open(path, MAIL_OPEN_READONLY, &err);
	CHECK(mb != NULL);
	if (mb != NULL) {
		CHECK_INT(mb->count, 2);
		CHECK_INT(mb->uidvalidity, 123456);
		CHECK_INT(mb->uidnext, 20);
		if (mb->count == 2) {
			CHECK_INT(mb->msgs[0].uid, 7);
			CHECK_INT(mb->msgs[1].uid, 12);
		}
		d->close(&mb);
	}
	/* below UIDNEXT: refused, nothing written */
	m[0] = msg("Subject: c\r\n\r\nthree\r\n", 19);
	CHECK(d->append(path, m, 1, &uv, uids, &err) < 0);
	/* not ascending within one append: refused */
	m[0] = msg("Subject: c\r\n\r\nthree\r\n", 30);
	m[1] = msg("Subject: d\r\n\r\nfour\r\n", 25);
	CHECK(d->append(path, m, 2, &uv, uids, &err) < 0);
	/* UIDVALIDITY can no longer change */
	m[0] = msg("Subject: c\r\n\r\nthree\r\n", 0);
	m[0].uidvalidity = 999;
	CHECK(d->append(path, m, 1, &uv, uids, &err) < 0);
	/* the same UIDVALIDITY, and no UID asked for: the next one */
	m[0].uidvalidity = 123456;
	CHECK(d->append(path, m, 1, &uv, uids, &err) == 0);
	CHECK_INT(uids[0], 20);
	mb = d->open(path, MAIL_OPEN_READONLY, &err);
	CHECK(mb != NULL);
	if (mb != NULL) {
		CHECK_INT(mb->count, 3);
		CHECK_INT(mb->uidnext, 21);
		d->close(&mb);
	}
	free(path);
	free(dir);
}

static void test_keep_mbox(void)
{
	keep_one("mbox");
}

static void test_keep_mbx(void)
{
	keep_one("mbx");
}

static void test_keep_maildir(void)
{
	keep_one("maildir");
}

int main(int argc, char **argv)
{
	static const struct test tests[] = {
		TEST(test_keep_mbox),
		TEST(test_keep_mbx),
		TEST(test_keep_maildir),
	};
	return test_run(argc, argv, tests, N_ELEMENTS(tests));
}
