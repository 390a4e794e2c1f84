/*
 * test-uwcompat.c - mailboxes written by UW imapd/ipop3d (tests/data/uw,
 * whose README.md says how they were made) must open here with the messages, flags, keywords, UIDs,
 * UIDVALIDITY, UIDNEXT, sizes and bytes UW itself reported.
 *
 * The fixtures are read-only: each test copies its file to a temporary
 * directory first. Paths are relative to the repository root (the cwd of
 * unit tests).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "config.h"
#include "date.h"
#include "mail.h"
#include "test.h"

extern const struct mail_driver mbox_driver;

/* REL is relative to tests/data/uw */
static char *uw_path(const char *rel)
{
	return xasprintf("tests/data/uw/%s", rel);
}

/* copy a fixture into a fresh temporary directory */
static char *fixture_copy(const char *rel, const char *name)
{
	char *src = uw_path(rel);
	size_t len;
	char *data = test_read_file(src, &len);
	char *dir, *dst;
	FILE *f;

	if (data == NULL) {
		fprintf(stderr, "  cannot read fixture %s\n", src);
		free(src);
		return NULL;
	}
	dir = test_tmpdir();
	dst = xasprintf("%s/%s", dir, name);
	f = fopen(dst, "wb");
	if (f == NULL || fwrite(data, 1, len, f) != len)
		panic("write %s", dst);
	fclose(f);
	free(data);
	free(src);
	free(dir);
	return dst;
}

static void sha256_hex(const void *p, size_t n, char out[65])
{
	unsigned char md[32];
	unsigned int mdlen = 0;

	EVP_Digest(p, n, md, &mdlen, EVP_sha256(), NULL);
	for (unsigned i = 0; i < 32; i++)
		sprintf(out + 2 * i, "%02x", md[i]);
}

struct expect {
	uint32_t uid;
	char flags[256];
	char idate[40];
	uint64_t size;
	char sha[65];
};

/* read expected-fetch.txt: FETCH lines and the "# seq size sha" table */
static unsigned expect_load(const char *rel, struct expect *ex, unsigned max,
			    char *status_line, size_t status_max)
{
	char *path = uw_path(rel);
	FILE *f = fopen(path, "r");
	char line[65536];
	unsigned n = 0;

	free(path);
	if (f == NULL)
		return 0;
	while (fgets(line, sizeof line, f) != NULL) {
		unsigned seq, u;
		char *p;

		if (sscanf(line, "S: * %u FETCH (UID %u FLAGS (", &seq, &u) == 2 &&
		    seq >= 1 && seq <= max) {
			struct expect *e = &ex[seq - 1];
			e->uid = u;
			p = strstr(line, "FLAGS (") + 7;
			size_t fl = strcspn(p, ")");
			if (fl >= sizeof e->flags)
				fl = sizeof e->flags - 1;
			memcpy(e->flags, p, fl);
			e->flags[fl] = '\0';
			p = strstr(line, "INTERNALDATE \"");
			if (p != NULL)
				snprintf(e->idate, sizeof e->idate, "%.26s",
					 p + 14);
			p = strstr(line, "RFC822.SIZE ");
			if (p != NULL)
				e->size = strtoull(p + 12, NULL, 10);
			if (seq > n)
				n = seq;
		} else if (sscanf(line, "# %u %u", &seq, &u) == 2 &&
			   seq >= 1 && seq <= max) {
			p = strrchr(line, ' ');
			snprintf(ex[seq - 1].sha, sizeof ex[seq - 1].sha, "%.64s",
				 p + 1);
		} else if (strncmp(line, "S: * STATUS ", 12) == 0) {
			size_t l = strlen(line);
			if (l >= status_max)
				l = status_max - 1;
			memcpy(status_line, line, l);
			status_line[l] = '\0';
		}
	}
	fclose(f);
	return n;
}

/* "\Seen \Answered $Label1" for a message, in UW's order */
static void flags_string(const struct mailbox *mb,
			 const struct mail_message *m, struct buf *out)
{
	static const uint32_t order[] = { MAIL_RECENT, MAIL_SEEN, MAIL_FLAGGED,
		MAIL_DELETED, MAIL_ANSWERED, MAIL_DRAFT };
	static const char *const kwfirst = "";

	(void)kwfirst;
	buf_reset(out);
	for (size_t i = 0; i < N_ELEMENTS(order); i++) {
		if ((m->flags & order[i]) == 0)
			continue;
		if (out->len > 0)
			buf_putc(out, ' ');
		buf_puts(out, mail_flag_name(order[i]));
	}
	for (unsigned k = 0; k < mb->nkeywords; k++) {
		if ((m->keywords & (1ULL << k)) == 0)
			continue;
		if (out->len > 0)
			buf_putc(out, ' ');
		buf_puts(out, mb->keywords[k]);
	}
}

/* compare flag sets ignoring order */
static bool flags_equal(const char *a, const char *b)
{
	char *x = xstrdup(a), *y = xstrdup(b);
	unsigned na = 0, nb = 0;
	bool eq = true;

	for (char *t = strtok(x, " "); t; t = strtok(NULL, " "))
		na++;
	free(x);
	x = xstrdup(a);
	for (char *t = strtok(y, " "); t; t = strtok(NULL, " ")) {
		nb++;
		char pat[300];
		snprintf(pat, sizeof pat, " %s ", t);
		char *spaced = xasprintf(" %s ", a);
		if (strstr(spaced, pat) == NULL)
			eq = false;
		free(spaced);
	}
	free(x);
	free(y);
	return eq && na == nb;
}

static void check_against_expected(struct mailbox *mb, const char *rel)
{
	static struct expect ex[64];
	char status[1024] = "";
	unsigned n;
	struct buf fl, text, d;

	memset(ex, 0, sizeof ex);
	n = expect_load(rel, ex, N_ELEMENTS(ex), status, sizeof status);
	CHECK(n > 0);
	CHECK_INT(mb->count, n);
	buf_init(&fl, 0);
	buf_init(&text, 0);
	buf_init(&d, 0);
	for (unsigned i = 0; i < n && i < mb->count; i++) {
		struct mail_message *m = &mb->msgs[i];
		const char *err = NULL;
		char sha[65];

		CHECK_INT(m->uid, ex[i].uid);
		flags_string(mb, m, &fl);
		if (!flags_equal(fl.data, ex[i].flags)) {
			fprintf(stderr, "  seq %u flags \"%s\" expected \"%s\"\n",
				i + 1, fl.data, ex[i].flags);
			CHECK(false);
		}
		CHECK_INT(m->size, ex[i].size);
		buf_reset(&d);
		date_format_imap(m->internaldate, m->zone, &d);
		CHECK_STR(d.data, ex[i].idate);
		buf_reset(&text);
		if (mbox_driver.fetch(mb, i, MAIL_PART_ALL, &text, &err) < 0) {
			fprintf(stderr, "  fetch %u: %s\n", i + 1, err);
			CHECK(false);
		}
		CHECK_INT(text.len, ex[i].size);
		sha256_hex(text.data, text.len, sha);
		if (strcmp(sha, ex[i].sha) != 0) {
			fprintf(stderr, "  seq %u sha256 differs\n", i + 1);
			CHECK(false);
		}
	}
	/* STATUS (MESSAGES .. RECENT .. UNSEEN .. UIDNEXT .. UIDVALIDITY ..) */
	{
		const char *p;
		uint32_t unseen = 0;
		for (uint32_t i = 0; i < mb->count; i++)
			if ((mb->msgs[i].flags & MAIL_SEEN) == 0)
				unseen++;
		p = strstr(status, "UIDNEXT ");
		CHECK(p != NULL);
		if (p != NULL)
			CHECK_INT(mb->uidnext, strtoul(p + 8, NULL, 10));
		p = strstr(status, "UIDVALIDITY ");
		CHECK(p != NULL);
		if (p != NULL)
			CHECK_INT(mb->uidvalidity, strtoul(p + 12, NULL, 10));
		p = strstr(status, "UNSEEN ");
		if (p != NULL)
			CHECK_INT(unseen, strtoul(p + 7, NULL, 10));
		p = strstr(status, "RECENT ");
		if (p != NULL)
			CHECK_INT(mb->recent, strtoul(p + 7, NULL, 10));
	}
	buf_release(&fl);
	buf_release(&text);
	buf_release(&d);
}

static void test_after_uw_readonly(void)
{
	char *path = fixture_copy("mbox/after-uw.mbox", "fixture");
	const char *err = NULL;
	struct mailbox *mb;

	if (path == NULL) {
		CHECK(path != NULL);
		return;
	}
	mb = mbox_driver.open(path, MAIL_OPEN_READONLY, &err);
	CHECK(mb != NULL);
	if (mb != NULL) {
		CHECK_INT(mb->nkeywords, 4);
		if (mb->nkeywords == 4) {
			CHECK_STR(mb->keywords[0], "$Label1");
			CHECK_STR(mb->keywords[3], "project-x");
		}
		check_against_expected(mb, "mbox/expected-fetch.txt");
		mbox_driver.close(&mb);
	}
	free(path);
}

/* a read-write open and close of a UW file changes nothing, as UW's own
 * re-SELECT did not */
static void test_after_uw_readwrite_untouched(void)
{
	char *path = fixture_copy("mbox/after-uw.mbox", "fixture");
	char *src = uw_path("mbox/after-uw.mbox");
	const char *err = NULL;
	struct mailbox *mb;
	size_t l1, l2;
	char *a, *b;

	if (path == NULL) {
		CHECK(path != NULL);
		free(src);
		return;
	}
	mb = mbox_driver.open(path, 0, &err);
	CHECK(mb != NULL);
	if (mb != NULL) {
		CHECK(!mb->readonly);
		check_against_expected(mb, "mbox/expected-fetch.txt");
		CHECK(mbox_driver.sync(mb, &err) == 0);
		mbox_driver.close(&mb);
	}
	a = test_read_file(path, &l1);
	b = test_read_file(src, &l2);
	CHECK(a != NULL && b != NULL && l1 == l2 && memcmp(a, b, l1) == 0);
	free(a);
	free(b);
	free(src);
	free(path);
}

static void test_spool_after_uw(void)
{
	char *path = fixture_copy("spool/after-uw.spool", "uwtest");
	const char *err = NULL;
	struct mailbox *mb;
	/* LIST sizes of ipop3d are RFC822.SIZE + 12 (its Status line) */
	static const unsigned list[30] = { 3008, 1321, 3503, 2379, 15003, 1057,
		3984, 1513, 1107, 3103, 4136, 1087, 2271, 1203, 1399, 1212,
		2151, 1972, 1270, 1767, 1967, 1220, 1163, 2146, 431, 367, 404,
		851, 282, 249 };

	if (path == NULL) {
		CHECK(path != NULL);
		return;
	}
	mb = mbox_driver.open(path, MAIL_OPEN_READONLY, &err);
	CHECK(mb != NULL);
	if (mb == NULL) {
		free(path);
		return;
	}
	CHECK_INT(mb->count, 30);
	CHECK_INT(mb->uidvalidity, 1795313747u);
	CHECK_INT(mb->uidnext, 32);
	for (uint32_t i = 0; i < mb->count && i < 30; i++) {
		uint32_t want_uid = i < 4 ? i + 1 : i + 2;	/* 5 expunged */
		CHECK_INT(mb->msgs[i].uid, want_uid);
		CHECK_INT(mb->msgs[i].size + 12, list[i]);
	}
	/* the STOREs of spool/transcript.txt */
	CHECK((mb->msgs[0].flags & MAIL_SEEN) != 0);
	CHECK((mb->msgs[2].flags & MAIL_SEEN) != 0);
	CHECK((mb->msgs[3].flags & (MAIL_FLAGGED | MAIL_ANSWERED)) ==
	      (MAIL_FLAGGED | MAIL_ANSWERED));
	CHECK_INT(mb->nkeywords, 3);
	int l1 = mail_keyword_index(mb, "$Label1", false);
	int px = mail_keyword_index(mb, "project-x", false);
	CHECK(l1 >= 0 && px >= 0);
	if (l1 >= 0 && px >= 0) {
		CHECK((mb->msgs[4].keywords & (1ULL << l1)) != 0); /* UID 6 */
		CHECK((mb->msgs[5].keywords & (1ULL << px)) != 0); /* UID 7 */
		CHECK((mb->msgs[5].flags & MAIL_DRAFT) != 0);
	}
	/* message 27 (UID 27, seq 26) had Status: RO / X-Status: AF */
	CHECK((mb->msgs[25].flags & (MAIL_SEEN | MAIL_FLAGGED | MAIL_ANSWERED)) ==
	      (MAIL_SEEN | MAIL_FLAGGED | MAIL_ANSWERED));
	mbox_driver.close(&mb);
	free(path);
}

static void test_pseudo_files(void)
{
	static const struct {
		const char *rel;
		uint32_t count, uidnext;
	} cases[] = {
		{ "mbox/empty-created.mbox", 0, 1 },
		{ "mbox/pseudo-after-append.mbox", 3, 4 },
		{ "mbox/pseudo-after-uw.mbox", 2, 4 },
	};

	for (size_t c = 0; c < N_ELEMENTS(cases); c++) {
		char *path = fixture_copy(cases[c].rel, "pseudo");
		const char *err = NULL;
		struct mailbox *mb;
		size_t l1, l2;
		char *before, *after;

		if (path == NULL) {
			CHECK(path != NULL);
			continue;
		}
		before = test_read_file(path, &l1);
		mb = mbox_driver.open(path, MAIL_OPEN_READONLY, &err);
		CHECK(mb != NULL);
		if (mb != NULL) {
			if (mb->count != cases[c].count)
				fprintf(stderr, "  %s\n", cases[c].rel);
			CHECK_INT(mb->count, cases[c].count);
			CHECK_INT(mb->uidnext, cases[c].uidnext);
			CHECK(mb->uidvalidity >= 1795313742u &&
			      mb->uidvalidity <= 1795313800u);
			for (uint32_t i = 0; i < mb->count; i++) {
				struct buf t;
				buf_init(&t, 0);
				CHECK(mbox_driver.fetch(mb, i, MAIL_PART_ALL, &t,
							&err) == 0);
				CHECK_INT(t.len, mb->msgs[i].size);
				CHECK(strstr(t.data, "X-UID") == NULL);
				CHECK(strstr(t.data, "FOLDER INTERNAL DATA") == NULL);
				buf_release(&t);
			}
			if (strstr(cases[c].rel, "after-uw") != NULL)
				CHECK_STR(mb->nkeywords > 0 ? mb->keywords[0] : "",
					  "project-x");
			mbox_driver.close(&mb);
		}
		/* read-only: never written */
		after = test_read_file(path, &l2);
		CHECK(before != NULL && after != NULL && l1 == l2 &&
		      memcmp(before, after, l1) == 0);
		free(before);
		free(after);
		free(path);
	}
}

static void test_input_mbox(void)
{
	char *path = fixture_copy("mbox/input.mbox", "input");
	const char *err = NULL;
	struct mailbox *mb;
	uint64_t sizes[31];
	uint32_t uv;

	if (path == NULL) {
		CHECK(path != NULL);
		return;
	}
	mb = mbox_driver.open(path, MAIL_OPEN_READONLY, &err);
	CHECK(mb != NULL);
	if (mb == NULL) {
		free(path);
		return;
	}
	CHECK_INT(mb->count, 31);
	for (uint32_t i = 0; i < 31 && i < mb->count; i++)
		sizes[i] = mb->msgs[i].size;
	/* UW: message 31 is 235 octets before its first rewrite */
	if (mb->count == 31)
		CHECK_INT(sizes[30], 235);
	mbox_driver.close(&mb);

	/* read-write: UIDs are made persistent (X-IMAPbase, X-UID) */
	mb = mbox_driver.open(path, 0, &err);
	CHECK(mb != NULL);
	if (mb == NULL) {
		free(path);
		return;
	}
	CHECK_INT(mb->count, 31);
	CHECK_INT(mb->recent, 30);	/* 27 had Status: RO */
	uv = mb->uidvalidity;
	mbox_driver.close(&mb);
	mb = mbox_driver.open(path, MAIL_OPEN_READONLY, &err);
	CHECK(mb != NULL);
	if (mb != NULL) {
		CHECK_INT(mb->count, 31);
		CHECK_INT(mb->uidvalidity, uv);
		CHECK_INT(mb->uidnext, 32);
		CHECK_INT(mb->recent, 0);
		for (uint32_t i = 0; i < 31 && i < mb->count; i++) {
			CHECK_INT(mb->msgs[i].uid, i + 1);
			/* the last one gained its final newline, as with UW */
			CHECK_INT(mb->msgs[i].size, sizes[i] + (i == 30 ? 2 : 0));
		}
		mbox_driver.close(&mb);
	}
	{
		size_t len;
		char *data = test_read_file(path, &len);
		CHECK(data != NULL && strstr(data, "X-IMAPbase: ") != NULL);
		free(data);
	}
	free(path);
}

int main(int argc, char **argv)
{
	static const struct test tests[] = {
		TEST(test_after_uw_readonly),
		TEST(test_after_uw_readwrite_untouched),
		TEST(test_spool_after_uw),
		TEST(test_pseudo_files),
		TEST(test_input_mbox),
	};

	setenv("TZ", "UTC", 1);
	config_set("lock-timeout", "2", &(const char *){ NULL });
	return test_run(argc, argv, tests, N_ELEMENTS(tests));
}
