/*
 * test-mail-error.c - the error codes storage operations record beside
 * their text (mail-error.h), for every registered format.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "mail.h"
#include "test.h"

#define CODE_IS(want) CHECK(mail_get_last_error() == (want))

static void rm_rf(const char *dir)
{
	char *cmd = xasprintf("rm -rf '%s'", dir);

	CHECK(system(cmd) == 0);
	free(cmd);
}

static void codes_for(const char *format)
{
	char *dir = test_tmpdir();
	const char *err;
	struct mail_status st;
	struct mail_append_msg m;
	uint32_t uv, uid;
	struct mailbox *mb;

	CHECK(config_set("default-driver", format, &err));
	mail_user_set("tester", getuid(), getgid(), dir);

	/* open, status, delete, rename and append of a missing mailbox */
	CHECK(mail_open("nosuch", 0, &err) == NULL);
	CODE_IS(MAIL_ERROR_NOTFOUND);
	CHECK(mail_status("nosuch", &st, &err) < 0);
	CODE_IS(MAIL_ERROR_NOTFOUND);
	CHECK(mail_delete("nosuch", &err) < 0);
	CODE_IS(MAIL_ERROR_NOTFOUND);
	CHECK(mail_rename("nosuch", "other", &err) < 0);
	CODE_IS(MAIL_ERROR_NOTFOUND);
	memset(&m, 0, sizeof m);
	m.data = "Subject: x\r\n\r\ny\r\n";
	m.len = strlen(m.data);
	CHECK(mail_append("nosuch", &m, 1, &uv, &uid, &err) < 0);
	CODE_IS(MAIL_ERROR_NOTFOUND);
	CHECK(strcmp(err, "Mailbox does not exist") == 0);

	/* create of an existing one; rename onto an existing one */
	CHECK(mail_create("box", &err) == 0);
	CHECK(mail_create("box2", &err) == 0);
	CHECK(mail_create("box", &err) < 0);
	CODE_IS(MAIL_ERROR_EXISTS);
	CHECK(mail_rename("box", "box2", &err) < 0);
	CODE_IS(MAIL_ERROR_EXISTS);
	CHECK(mail_rename("box", "INBOX", &err) < 0);
	CODE_IS(MAIL_ERROR_EXISTS);

	/* a success in between clears the code; the next failure sets it */
	CHECK(mail_append("box", &m, 1, &uv, &uid, &err) == 0);
	CODE_IS(MAIL_ERROR_NONE);
	mb = mail_open("box", 0, &err);
	CHECK(mb != NULL);
	CODE_IS(MAIL_ERROR_NONE);
	if (mb != NULL) {
		CHECK(mb->count == 1);
		mail_close(&mb);
	}

	/* a read-only mailbox refuses changes */
	mb = mail_open("box", MAIL_OPEN_READONLY, &err);
	CHECK(mb != NULL);
	if (mb != NULL) {
		mail_error_clear();
		CHECK(mail_expunge(mb, NULL, NULL, &err) < 0);
		CODE_IS(MAIL_ERROR_NOPERM);
		mail_close(&mb);
	}

	/* what cannot be done, what is not allowed, what is too long */
	CHECK(mail_delete("INBOX", &err) < 0);
	CODE_IS(MAIL_ERROR_NOTPOSSIBLE);
	m.nkeywords = 1;
	m.keywords = (const char *[]){ "bad keyword" };
	CHECK(mail_append("box", &m, 1, &uv, &uid, &err) < 0);
	CODE_IS(MAIL_ERROR_PARAMS);
	char longname[5000];
	memset(longname, 'a', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
	CHECK(mail_open(longname, 0, &err) == NULL);
	CODE_IS(MAIL_ERROR_LIMIT);
	CHECK(mail_create("", &err) < 0);
	CODE_IS(MAIL_ERROR_PARAMS);

	rm_rf(dir);
	free(dir);
}

static void test_codes_mbox(void)
{
	codes_for("mbox");
}

static void test_codes_mbx(void)
{
	codes_for("mbx");
}

static void test_codes_maildir(void)
{
	codes_for("maildir");
}

/* a file the mbx probe claims but whose header is damaged */
static void test_corrupt_mbx(void)
{
	char *dir = test_tmpdir();
	char *path = xasprintf("%s/bad", dir);
	const char *err;
	FILE *f;

	mail_user_set("tester", getuid(), getgid(), dir);
	f = fopen(path, "w");
	CHECK(f != NULL);
	if (f != NULL) {
		/* the magic, then garbage where UIDVALIDITY should be */
		fputs("*mbx*\r\nzzzzzzzzzzzzzzzzzzzz\r\n", f);
		for (int i = 0; i < 2048; i++)
			fputc(' ', f);
		fclose(f);
	}
	CHECK(mail_open("bad", 0, &err) == NULL);
	CODE_IS(MAIL_ERROR_CORRUPT);
	rm_rf(dir);
	free(path);
	free(dir);
}

/* the helpers: names, errno mapping, the per-mailbox error */
static void test_helpers(void)
{
	struct mailbox mb;
	enum mail_error code;
	const char *t;

	CHECK(strcmp(mail_error_name(MAIL_ERROR_NOTFOUND), "NOTFOUND") == 0);
	CHECK(strcmp(mail_error_name(MAIL_ERROR_NOTPOSSIBLE),
		     "NOTPOSSIBLE") == 0);
	CHECK(strcmp(mail_error_name((enum mail_error)99), "UNKNOWN") == 0);
	CHECK(mail_error_from_errno(ENOENT) == MAIL_ERROR_NOTFOUND);
	CHECK(mail_error_from_errno(EEXIST) == MAIL_ERROR_EXISTS);
	CHECK(mail_error_from_errno(EACCES) == MAIL_ERROR_NOPERM);
	CHECK(mail_error_from_errno(ENOSPC) == MAIL_ERROR_NOSPACE);
	CHECK(mail_error_from_errno(EIO) == MAIL_ERROR_TEMP);

	/* an argument may be the text of the previous error */
	t = mail_error_fmt(MAIL_ERROR_TEMP, "first %d", 1);
	t = mail_error_fmt(MAIL_ERROR_CORRUPT, "%s, then %s", t, "second");
	CHECK(strcmp(t, "first 1, then second") == 0);
	CODE_IS(MAIL_ERROR_CORRUPT);
	mail_error_clear();
	CODE_IS(MAIL_ERROR_NONE);

	memset(&mb, 0, sizeof mb);
	t = mail_set_error(&mb, MAIL_ERROR_NOSPACE, "write %s: %s", "x",
			   "No space left on device");
	CHECK(strcmp(t, "write x: No space left on device") == 0);
	CODE_IS(MAIL_ERROR_NOSPACE);
	mail_error_clear();
	CHECK(mailbox_get_last_error(&mb, &code) == mb.error);
	CHECK(code == MAIL_ERROR_NOSPACE);
	CHECK(strcmp(mb.error, t) == 0);
}

int main(int argc, char **argv)
{
	static const struct test tests[] = {
		TEST(test_codes_mbox),
		TEST(test_codes_mbx),
		TEST(test_codes_maildir),
		TEST(test_corrupt_mbx),
		TEST(test_helpers),
	};

	return test_run(argc, argv, tests, N_ELEMENTS(tests));
}
