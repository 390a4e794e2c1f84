/*
 * test-mbox.c - the mbox driver: parsing of hostile and odd files, byte
 * exact APPEND/FETCH round trips, flags and UIDs that persist, several
 * handles on one file, INBOX rules, and crashes in the middle of writes.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "journal.h"
#include "mail.h"
#include "repair.h"
#include "test.h"

extern const struct mail_driver mbox_driver;

static char *tmpfile_path(const char *name)
{
	char *dir = test_tmpdir();
	char *p = xasprintf("%s/%s", dir, name);

	free(dir);
	return p;
}

static void write_file(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd < 0 || write_full(fd, data, len) < 0)
		panic("write %s", path);
	close(fd);
}

static struct mailbox *open_mb(const char *path, unsigned mode)
{
	const char *err = NULL;
	struct mailbox *mb = mbox_driver.open(path, mode, &err);

	if (mb == NULL)
		fprintf(stderr, "  open %s: %s\n", path, err);
	return mb;
}

static char *fetch_all(struct mailbox *mb, uint32_t idx, size_t *len_r)
{
	struct buf b;
	const char *err = NULL;
	char *r;

	buf_init(&b, 0);
	if (mbox_driver.fetch(mb, idx, MAIL_PART_ALL, &b, &err) < 0) {
		fprintf(stderr, "  fetch %u: %s\n", idx, err);
		buf_release(&b);
		return NULL;
	}
	r = buf_steal(&b, len_r);
	buf_release(&b);
	return r;
}

static bool fetch_is(struct mailbox *mb, uint32_t idx, const char *want,
		     size_t wlen)
{
	size_t len;
	char *got = fetch_all(mb, idx, &len);
	bool ok = got != NULL && len == wlen && memcmp(got, want, len) == 0 &&
		mb->msgs[idx].size == wlen;

	if (!ok)
		fprintf(stderr, "  message %u: got %zu bytes (size %llu) "
			"\"%.*s\"\n  wanted %zu \"%.*s\"\n", idx + 1,
			got ? len : 0, (unsigned long long)mb->msgs[idx].size,
			got ? (int)(len > 300 ? 300 : len) : 0, got ? got : "",
			wlen, (int)(wlen > 300 ? 300 : wlen), want);
	free(got);
	return ok;
}

static uint32_t append1(const char *path, const char *data, size_t len,
			uint32_t flags, const char *kw)
{
	struct mail_append_msg am;
	const char *kws[1] = { kw };
	uint32_t uv, uid = 0;
	const char *err = NULL;

	memset(&am, 0, sizeof am);
	am.data = data;
	am.len = len;
	am.flags = flags;
	am.keywords = kws;
	am.nkeywords = kw ? 1 : 0;
	am.internaldate = 1577836800;	/* 2020-01-01 */
	am.zone = 60;
	if (mbox_driver.append(path, &am, 1, &uv, &uid, &err) < 0) {
		fprintf(stderr, "  append: %s\n", err);
		return 0;
	}
	return uid;
}

/* ---- parsing ---- */

static void test_from_line_variants(void)
{
	char *path = tmpfile_path("v");
	static const char text[] =
		"From a@b Tue Jan  1 00:27:14 2019\n"
		"Subject: one\n\nbody\nFrom the desk of nobody\n"
		">From quoted\n\n"
		"From b@c Sat Jan 3 01:05 1998\n"	/* no seconds */
		"Subject: two\n\nx\n\n"
		"From c@d Wed Dec 2 05:53:22 PST 1992\n" /* zone before year */
		"Subject: three\n\ny\n\n"
		"From d@e Thu Oct 10 10:10:10 2019 +0200\n"
		"Subject: four\n\nz\n\n"
		"From e@f Mon Feb  5 12:00:00 2001 remote from host\n"
		"Subject: five\n\nlast line without newline";
	struct mailbox *mb;

	write_file(path, text, sizeof text - 1);
	mb = open_mb(path, MAIL_OPEN_READONLY);
	CHECK(mb != NULL);
	if (mb == NULL)
		return;
	CHECK_INT(mb->count, 5);
	static const char m1[] = "Subject: one\r\n\r\nbody\r\n"
		"From the desk of nobody\r\n>From quoted\r\n";
	CHECK(fetch_is(mb, 0, m1, sizeof m1 - 1));
	static const char m5[] = "Subject: five\r\n\r\nlast line without newline";
	if (mb->count == 5)
		CHECK(fetch_is(mb, 4, m5, sizeof m5 - 1));
	/* hdr size and parts */
	size_t l;
	struct buf b;
	const char *err;
	buf_init(&b, 0);
	CHECK(mbox_driver.fetch(mb, 0, MAIL_PART_HEADER, &b, &err) == 0);
	CHECK_STR(b.data, "Subject: one\r\n\r\n");
	buf_reset(&b);
	CHECK(mbox_driver.fetch(mb, 0, MAIL_PART_TEXT, &b, &err) == 0);
	CHECK_STR(b.data, "body\r\nFrom the desk of nobody\r\n>From quoted\r\n");
	buf_release(&b);
	(void)l;
	mbox_driver.close(&mb);
	free(path);
}

static void test_crlf_file_and_odd_bytes(void)
{
	char *path = tmpfile_path("crlf");
	/* CRLF file; NUL bytes; 8-bit header; lone CR inside and at the end
	 * of a header line; a message with no body at all */
	static const char text[] =
		"From a@b Tue Jan  1 00:27:14 2019\r\n"
		"Subject: caf\xc3\xa9\r\nX-Odd: a\rb\r\n\r\nnul\0byte\r\n\r\n"
		"From a@b Tue Jan  1 00:27:15 2019\n"
		"Subject: lone\r\r\nX-Lone: x\r\n\nbody\n\n"
		"From a@b Tue Jan  1 00:27:16 2019\n"
		"Subject: header only\n";
	struct mailbox *mb;

	write_file(path, text, sizeof text - 1);
	mb = open_mb(path, MAIL_OPEN_READONLY);
	CHECK(mb != NULL);
	if (mb == NULL)
		return;
	CHECK_INT(mb->count, 3);
	static const char m1[] = "Subject: caf\xc3\xa9\r\nX-Odd: a\rb\r\n\r\n"
		"nul\0byte\r\n";
	CHECK(fetch_is(mb, 0, m1, sizeof m1 - 1));
	static const char m2[] = "Subject: lone\r\r\nX-Lone: x\r\n\r\nbody\r\n";
	CHECK(fetch_is(mb, 1, m2, sizeof m2 - 1));
	static const char m3[] = "Subject: header only\r\n";
	CHECK(fetch_is(mb, 2, m3, sizeof m3 - 1));
	CHECK_INT(mb->msgs[2].hdr_size, sizeof m3 - 1);
	mbox_driver.close(&mb);
	free(path);
}

static void test_huge_header_line(void)
{
	char *path = tmpfile_path("huge");
	size_t big = 1024 * 1024 + 17;
	struct buf f, want;
	struct mailbox *mb;

	buf_init(&f, 0);
	buf_init(&want, 0);
	buf_puts(&f, "From a@b Tue Jan  1 00:27:14 2019\nX-Big: ");
	buf_puts(&want, "X-Big: ");
	for (size_t i = 0; i < big; i++) {
		buf_putc(&f, (char)('a' + i % 26));
		buf_putc(&want, (char)('a' + i % 26));
	}
	buf_puts(&f, "\nStatus: RO\nX-UID: 1\n\nbody\n\n"
		 "From a@b Tue Jan  1 00:27:15 2019\nSubject: 2\n\nb2\n");
	buf_puts(&want, "\r\n\r\nbody\r\n");
	write_file(path, f.data, f.len);
	mb = open_mb(path, MAIL_OPEN_READONLY);
	CHECK(mb != NULL);
	if (mb != NULL) {
		CHECK_INT(mb->count, 2);
		CHECK(fetch_is(mb, 0, want.data, want.len));
		CHECK((mb->msgs[0].flags & MAIL_SEEN) != 0);
		mbox_driver.close(&mb);
	}
	buf_release(&f);
	buf_release(&want);
	free(path);
}

/* ---- round trips ---- */

static const struct {
	const char *data;
	size_t len;
} round_trips[] = {
#define S(x) { x, sizeof x - 1 }
	S("Subject: plain\r\n\r\nHello\r\n"),
	S("Subject: from lines\r\n\r\nFrom me to you\r\n>From quoted\r\n"
	  ">>From twice\r\nFrom Tue Jan  1 00:27:14 2019\r\n\r\nFrom the end\r\n"),
	S("Subject: lone CRs\r\n\r\na\rb\r\nends with CR\r\r\n\r\r\n\rx\r\n"),
	S("Subject: no final newline\r\n\r\nlast"),
	S("Subject: empty body\r\n\r\n"),
	S("Subject: header only\r\n"),
	S("Subject: header only, no newline"),
	S(""),
	S("\r\n"),
	S("\r\nbody without header\r\n"),
	S("Subject: trailing blank lines\r\n\r\nx\r\n\r\n\r\n"),
	S("Subject: nul\r\n\r\na\0b\r\n"),
	S("Subject: 8bit \xff\xfe\r\n\r\n\x80\x81\r\n"),
	S("From: looks like a header\r\nSubject: x\r\n\r\nFrom \r\n"),
#undef S
};

static void test_append_fetch_round_trip(void)
{
	char *path = tmpfile_path("rt");
	const char *err = NULL;
	struct mailbox *mb;

	CHECK(mbox_driver.create(path, &err) == 0);
	for (size_t i = 0; i < N_ELEMENTS(round_trips); i++)
		CHECK_INT(append1(path, round_trips[i].data, round_trips[i].len,
				  0, NULL), i + 1);
	/* bare LFs are made CRLF (RFC 3501) */
	CHECK_INT(append1(path, "Subject: lf\n\nbody\n", 18, 0, NULL),
		  N_ELEMENTS(round_trips) + 1);
	for (int pass = 0; pass < 2; pass++) {
		mb = open_mb(path, pass == 0 ? MAIL_OPEN_READONLY : 0);
		CHECK(mb != NULL);
		if (mb == NULL)
			break;
		CHECK_INT(mb->count, N_ELEMENTS(round_trips) + 1);
		for (size_t i = 0; i < N_ELEMENTS(round_trips) &&
		     i < mb->count; i++)
			CHECK(fetch_is(mb, (uint32_t)i, round_trips[i].data,
				       round_trips[i].len));
		if (mb->count > N_ELEMENTS(round_trips)) {
			static const char lf[] = "Subject: lf\r\n\r\nbody\r\n";
			CHECK(fetch_is(mb, N_ELEMENTS(round_trips), lf,
				       sizeof lf - 1));
		}
		/* pass 1 is read-write: it marks messages seen by a
		 * session (Status: O), a rewrite of every status block;
		 * then change flags so blocks are rewritten again */
		if (pass == 1) {
			for (uint32_t i = 0; i < mb->count; i++) {
				mb->msgs[i].flags |= MAIL_SEEN | MAIL_FLAGGED;
				mb->msgs[i].state |= MSTATE_DIRTY;
			}
			CHECK(mbox_driver.flush(mb, &err) == 0);
		}
		mbox_driver.close(&mb);
	}
	/* and still byte-exact after the rewrites */
	mb = open_mb(path, MAIL_OPEN_READONLY);
	if (mb != NULL) {
		for (size_t i = 0; i < N_ELEMENTS(round_trips) && i < mb->count; i++) {
			CHECK(fetch_is(mb, (uint32_t)i, round_trips[i].data,
				       round_trips[i].len));
			CHECK((mb->msgs[i].flags & MAIL_FLAGGED) != 0);
		}
		mbox_driver.close(&mb);
	}
	free(path);
}

/* a client-sent Status/X-UID header is not taken for ours */
static void test_append_hidden_headers_dropped(void)
{
	char *path = tmpfile_path("hid");
	const char *err = NULL;
	static const char in[] = "Subject: s\r\nStatus: RO\r\nX-UID: 999\r\n"
		"X-Keywords: evil\r\n\r\nbody\r\n";
	static const char out[] = "Subject: s\r\n\r\nbody\r\n";
	struct mailbox *mb;

	CHECK(mbox_driver.create(path, &err) == 0);
	CHECK_INT(append1(path, in, sizeof in - 1, 0, NULL), 1);
	mb = open_mb(path, MAIL_OPEN_READONLY);
	if (mb != NULL) {
		CHECK_INT(mb->count, 1);
		CHECK(fetch_is(mb, 0, out, sizeof out - 1));
		CHECK_INT(mb->msgs[0].uid, 1);
		CHECK_INT(mb->msgs[0].flags & MAIL_SEEN, 0);
		CHECK_INT(mb->nkeywords, 0);
		mbox_driver.close(&mb);
	}
	free(path);
}

/* the file layout: UW's pseudo message, status block, mboxrd quoting */
static void test_file_layout(void)
{
	char *path = tmpfile_path("lay");
	const char *err = NULL;
	static const char in[] = "Subject: s\r\n\r\nFrom x\r\n>From y\r\n";
	size_t len;
	char *data;

	CHECK(mbox_driver.create(path, &err) == 0);
	data = test_read_file(path, &len);
	CHECK(data != NULL && strncmp(data, "From MAILER-DAEMON ", 19) == 0);
	CHECK(data != NULL && strstr(data, "\nX-IMAP: ") != NULL &&
	      strstr(data, " 0000000000\nStatus: RO\n\nThis text is part") != NULL);
	free(data);
	CHECK_INT(append1(path, in, sizeof in - 1, MAIL_SEEN, "$Label1"), 1);
	data = test_read_file(path, &len);
	CHECK(data != NULL && strstr(data, " 0000000001 $Label1 ") != NULL);
	/* the spare room takes the next keyword in place */
	const char *first = data ? strstr(data, "\n\nFrom ") : NULL;
	size_t first_off = first ? (size_t)(first - data) : 0;
	free(data);
	CHECK_INT(append1(path, in, sizeof in - 1, 0, "Junk"), 2);
	data = test_read_file(path, &len);
	CHECK(data != NULL && strstr(data, " 0000000002 $Label1 Junk ") != NULL);
	first = data ? strstr(data, "\n\nFrom ") : NULL;
	CHECK(first != NULL && (size_t)(first - data) == first_off);
	CHECK(data != NULL && strstr(data, "\nFrom ") != NULL);
	CHECK(data != NULL && strstr(data, "\nStatus: R\nX-Status: \n"
				     "X-Keywords: $Label1") != NULL);
	CHECK(data != NULL && strstr(data, "\nX-UID: 1\n\n>From x\n>>From y\n\n")
	      != NULL);
	CHECK(data != NULL && strstr(data, "From MAILER-DAEMON") == data);
	CHECK(data != NULL && strstr(data, "+0100\n") != NULL);
	free(data);
	free(path);
}

/* ---- flags, UIDs ---- */

static void test_flags_persist(void)
{
	char *path = tmpfile_path("fl");
	const char *err = NULL;
	struct mailbox *mb;

	CHECK(mbox_driver.create(path, &err) == 0);
	for (int i = 0; i < 3; i++)
		append1(path, "Subject: x\r\n\r\ny\r\n", 17, 0, NULL);
	mb = open_mb(path, 0);
	if (mb == NULL)
		return;
	CHECK_INT(mb->recent, 3);
	mb->msgs[0].flags |= MAIL_SEEN | MAIL_ANSWERED | MAIL_DRAFT;
	mb->msgs[0].state |= MSTATE_DIRTY;
	int k1 = mail_keyword_index(mb, "Junk", true);
	int k2 = mail_keyword_index(mb, "project-x", true);
	CHECK(k1 == 0 && k2 == 1);
	mb->msgs[1].keywords = (1ULL << k1) | (1ULL << k2);
	mb->msgs[1].flags |= MAIL_DELETED | MAIL_FLAGGED;
	mb->msgs[1].state |= MSTATE_DIRTY;
	mbox_driver.close(&mb);
	mb = open_mb(path, MAIL_OPEN_READONLY);
	if (mb == NULL)
		return;
	CHECK_INT(mb->count, 3);
	CHECK_INT(mb->recent, 0);	/* the first session saw them */
	CHECK_INT(mb->msgs[0].flags, MAIL_SEEN | MAIL_ANSWERED | MAIL_DRAFT);
	CHECK_INT(mb->msgs[1].flags, MAIL_DELETED | MAIL_FLAGGED);
	CHECK_INT(mb->nkeywords, 2);
	CHECK_INT(mb->msgs[1].keywords, 3);
	CHECK_INT(mb->msgs[2].flags, 0);
	mbox_driver.close(&mb);
	free(path);
}

static void test_uids_never_reused(void)
{
	char *path = tmpfile_path("uid");
	const char *err = NULL;
	struct mailbox *mb;
	uint32_t uv;

	CHECK(mbox_driver.create(path, &err) == 0);
	for (int i = 0; i < 3; i++)
		CHECK_INT(append1(path, "Subject: x\r\n\r\ny\r\n", 17, 0, NULL),
			  i + 1);
	mb = open_mb(path, 0);
	if (mb == NULL)
		return;
	uv = mb->uidvalidity;
	mb->msgs[2].state |= MSTATE_EXPUNGE_ME;
	mb->msgs[1].state |= MSTATE_EXPUNGE_ME;
	CHECK(mbox_driver.expunge(mb, &err) == 0);
	CHECK_INT(mb->count, 1);
	mbox_driver.close(&mb);
	CHECK_INT(append1(path, "Subject: x\r\n\r\ny\r\n", 17, 0, NULL), 4);
	mb = open_mb(path, 0);
	if (mb != NULL) {
		CHECK_INT(mb->uidvalidity, uv);
		CHECK_INT(mb->count, 2);
		CHECK_INT(mb->msgs[0].uid, 1);
		CHECK_INT(mb->msgs[1].uid, 4);
		CHECK_INT(mb->uidnext, 5);
		/* expunge everything: the UID data stays */
		mb->msgs[0].state |= MSTATE_EXPUNGE_ME;
		mb->msgs[1].state |= MSTATE_EXPUNGE_ME;
		CHECK(mbox_driver.expunge(mb, &err) == 0);
		CHECK_INT(mb->count, 0);
		mbox_driver.close(&mb);
	}
	CHECK_INT(append1(path, "Subject: x\r\n\r\ny\r\n", 17, 0, NULL), 5);
	mb = open_mb(path, MAIL_OPEN_READONLY);
	if (mb != NULL) {
		CHECK_INT(mb->uidvalidity, uv);
		CHECK_INT(mb->count, 1);
		mbox_driver.close(&mb);
	}
	free(path);
}

/* a file UW-style without a pseudo: X-IMAPbase moves when message 1 goes */
static void test_ximapbase_moves(void)
{
	char *path = tmpfile_path("base");
	static const char text[] =
		"From a@b Tue Jan  1 00:27:14 2019\nSubject: 1\n"
		"X-IMAPbase: 1000 7 kw1\nStatus: RO\nX-Status: \n"
		"X-Keywords: kw1\nX-UID: 5\n\nb1\n\n"
		"From a@b Tue Jan  1 00:27:15 2019\nSubject: 2\n"
		"Status: O\nX-Status: F\nX-Keywords:\nX-UID: 7\n\nb2\n\n";
	const char *err = NULL;
	struct mailbox *mb;

	write_file(path, text, sizeof text - 1);
	mb = open_mb(path, 0);
	if (mb == NULL)
		return;
	CHECK_INT(mb->uidvalidity, 1000);
	CHECK_INT(mb->uidnext, 8);
	CHECK_INT(mb->msgs[0].uid, 5);
	CHECK_INT(mb->msgs[1].uid, 7);
	CHECK_INT(mb->msgs[1].flags, MAIL_FLAGGED);
	mb->msgs[0].state |= MSTATE_EXPUNGE_ME;
	CHECK(mbox_driver.expunge(mb, &err) == 0);
	mbox_driver.close(&mb);
	mb = open_mb(path, MAIL_OPEN_READONLY);
	if (mb != NULL) {
		CHECK_INT(mb->uidvalidity, 1000);
		CHECK_INT(mb->count, 1);
		CHECK_INT(mb->msgs[0].uid, 7);
		CHECK_INT(mb->uidnext, 8);
		CHECK_INT(mb->nkeywords, 1);
		mbox_driver.close(&mb);
	}
	size_t len;
	char *data = test_read_file(path, &len);
	CHECK(data != NULL && strstr(data, "X-IMAPbase: 1000 7 kw1\n") != NULL);
	free(data);
	free(path);
}

/* FAQ 7.14 once made an out-of-order X-UID a new regime; but an MTA
 * appends whatever X-UID a sender wrote, so now the message that breaks
 * the order, and every one after it, is a new delivery: next UID, its
 * hidden headers ignored, UIDVALIDITY kept (issue 15) */
static void test_uid_rebuild(void)
{
	char *path = tmpfile_path("rb");
	static const char text[] =
		"From a@b Tue Jan  1 00:27:14 2019\nX-IMAPbase: 1000 9\n"
		"X-UID: 5\n\nb1\n\n"
		"From a@b Tue Jan  1 00:27:15 2019\nX-UID: 3\nStatus: RO\n"
		"X-Status: DF\nX-Keywords: $Forged\n\nb2\n\n"
		"From a@b Tue Jan  1 00:27:16 2019\nX-UID: 99\n\nb3\n\n";
	struct mailbox *mb;

	write_file(path, text, sizeof text - 1);
	mb = open_mb(path, 0);
	if (mb == NULL)
		return;
	CHECK_INT(mb->uidvalidity, 1000);
	CHECK_INT(mb->count, 3);
	CHECK_INT(mb->msgs[0].uid, 5);
	CHECK_INT(mb->msgs[1].uid, 10);
	CHECK_INT(mb->msgs[2].uid, 11);
	CHECK_INT(mb->msgs[1].flags & MAIL_SYSFLAGS, 0);
	CHECK(mb->msgs[1].keywords == 0);
	CHECK(mail_keyword_index(mb, "$Forged", false) < 0);
	CHECK((mb->msgs[1].flags & MAIL_RECENT) != 0);
	mbox_driver.close(&mb);
	mb = open_mb(path, MAIL_OPEN_READONLY);
	if (mb != NULL) {
		CHECK_INT(mb->uidvalidity, 1000);
		CHECK_INT(mb->msgs[1].uid, 10);
		CHECK_INT(mb->msgs[2].uid, 11);
		CHECK_INT(mb->msgs[1].flags & MAIL_SYSFLAGS, 0);
		mbox_driver.close(&mb);
	}
	free(path);
}

/* ---- two handles on one file ---- */

struct evlog {
	unsigned expunged, changed;
};

static void test_two_handles(void)
{
	char *path = tmpfile_path("two");
	const char *err = NULL;
	struct mailbox *a, *b;

	CHECK(mbox_driver.create(path, &err) == 0);
	for (int i = 0; i < 4; i++)
		append1(path, "Subject: x\r\n\r\ny\r\n", 17, 0, NULL);
	a = open_mb(path, 0);
	b = open_mb(path, 0);
	if (a == NULL || b == NULL)
		return;
	CHECK_INT(a->count, 4);
	CHECK_INT(b->count, 4);
	/* appends seen by both */
	CHECK_INT(append1(path, "Subject: new\r\n\r\nz\r\n", 19, 0, NULL), 5);
	CHECK(mbox_driver.sync(a, &err) == 0);
	CHECK(mbox_driver.sync(b, &err) == 0);
	CHECK_INT(a->count, 5);
	CHECK_INT(b->count, 5);
	CHECK_INT(b->msgs[4].uid, 5);
	static const char nm[] = "Subject: new\r\n\r\nz\r\n";
	CHECK(fetch_is(b, 4, nm, sizeof nm - 1));
	/* flag changes: a sets \Seen on 1, b sets \Flagged on 1 and
	 * \Answered on 2; neither clobbers the other */
	a->msgs[0].flags |= MAIL_SEEN;
	a->msgs[0].state |= MSTATE_DIRTY;
	CHECK(mbox_driver.flush(a, &err) == 0);
	b->msgs[1].flags |= MAIL_ANSWERED;
	b->msgs[1].state |= MSTATE_DIRTY;
	CHECK(mbox_driver.flush(b, &err) == 0);
	CHECK((b->msgs[0].flags & MAIL_SEEN) != 0);
	CHECK((b->msgs[0].state & MSTATE_FLAGS_CHANGED) != 0);
	CHECK(mbox_driver.sync(a, &err) == 0);
	CHECK((a->msgs[1].flags & MAIL_ANSWERED) != 0);
	CHECK((a->msgs[1].state & MSTATE_FLAGS_CHANGED) != 0);
	CHECK((a->msgs[0].flags & MAIL_SEEN) != 0);
	/* a keyword created by b (header rewrite) is seen by a */
	int k = mail_keyword_index(b, "Later", true);
	b->msgs[2].keywords |= 1ULL << k;
	b->msgs[2].state |= MSTATE_DIRTY;
	CHECK(mbox_driver.flush(b, &err) == 0);
	CHECK(mbox_driver.sync(a, &err) == 0);
	int ka = mail_keyword_index(a, "Later", false);
	CHECK(ka >= 0);
	if (ka >= 0)
		CHECK((a->msgs[2].keywords & (1ULL << ka)) != 0);
	/* expunge in a is seen by b as MSTATE_EXPUNGED; b keeps working */
	a->msgs[1].state |= MSTATE_EXPUNGE_ME;
	CHECK(mbox_driver.expunge(a, &err) == 0);
	CHECK_INT(a->count, 4);
	CHECK(mbox_driver.sync(b, &err) == 0);
	CHECK_INT(b->count, 5);
	CHECK((b->msgs[1].state & MSTATE_EXPUNGED) != 0);
	CHECK((b->msgs[0].state & MSTATE_EXPUNGED) == 0);
	CHECK((b->msgs[4].state & MSTATE_EXPUNGED) == 0);
	CHECK(fetch_is(b, 4, nm, sizeof nm - 1));
	/* b changes a flag after a's rewrite: written at the new offset */
	b->msgs[4].flags |= MAIL_DELETED;
	b->msgs[4].state |= MSTATE_DIRTY;
	CHECK(mbox_driver.flush(b, &err) == 0);
	CHECK(mbox_driver.sync(a, &err) == 0);
	CHECK((a->msgs[3].flags & MAIL_DELETED) != 0);
	CHECK(fetch_is(a, 3, nm, sizeof nm - 1));
	mbox_driver.close(&a);
	mbox_driver.close(&b);
	free(path);
}

/* Two sessions change one message's flags without syncing in between:
 * a adds \\Answered, b removes \\Seen. b's write applies its change to
 * what a wrote (a delta), so both changes survive and b learns the
 * merged result (imaptest store). */
static void test_store_merge(void)
{
	char *path = tmpfile_path("merge");
	const char *cerr = NULL;

	CHECK(mbox_driver.create(path, &cerr) == 0);
	append1(path, "Subject: x\r\n\r\ny\r\n", 17, MAIL_SEEN, NULL);
	struct mailbox *a = open_mb(path, 0), *b = open_mb(path, 0);
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
	mbox_driver.close(&a);
	mbox_driver.close(&b);
	free(path);
}

/* A writer that honours only the dotlock (mail.local, procmail without
 * fcntl) is half-way through an append when a reader syncs: the reader
 * must wait for the dotlock rather than take the half for a message
 * (tests/test_mta.py found the data loss this used to lead to). */
static void test_reader_waits_for_dotlock_appender(void)
{
	static const char one[] =
		"From a@b Tue Jan  1 00:27:14 2019\nSubject: 1\n\none\n\n";
	static const char half[] =
		"From m@t Tue Jan  1 00:27:15 2019\nSubject: 2\n\nfirst half\n";
	static const char rest[] = "second half\n\n";
	static const char want[] = "Subject: 2\r\n\r\nfirst half\r\n"
		"second half\r\n";
	char *path = tmpfile_path("halfappend");
	char *lockpath = xasprintf("%s.lock", path);
	struct mailbox *r;
	const char *err = NULL;
	int sync_pipe[2];
	char c;

	write_file(path, one, sizeof one - 1);
	r = open_mb(path, MAIL_OPEN_READONLY);
	if (r == NULL || pipe(sync_pipe) < 0)
		return;
	CHECK_INT(r->count, 1);
	pid_t pid = fork();
	if (pid == 0) {
		char pidbuf[32];
		int n = snprintf(pidbuf, sizeof pidbuf, "%ld\n", (long)getpid());
		int lfd = open(lockpath, O_WRONLY | O_CREAT | O_EXCL, 0644);
		int fd = open(path, O_WRONLY | O_APPEND);

		if (lfd < 0 || fd < 0 || write(lfd, pidbuf, (size_t)n) != n)
			_exit(1);
		close(lfd);
		if (write(fd, half, sizeof half - 1) != sizeof half - 1 ||
		    write(sync_pipe[1], "x", 1) != 1)
			_exit(1);
		usleep(300000);
		if (write(fd, rest, sizeof rest - 1) != sizeof rest - 1)
			_exit(1);
		close(fd);
		unlink(lockpath);
		_exit(0);
	}
	close(sync_pipe[1]);
	CHECK(read(sync_pipe[0], &c, 1) == 1);	/* the half is written */
	close(sync_pipe[0]);
	CHECK(mbox_driver.sync(r, &err) == 0);
	CHECK_INT(r->count, 2);
	if (r->count == 2)
		CHECK(fetch_is(r, 1, want, sizeof want - 1));
	int status = -1;
	CHECK(waitpid(pid, &status, 0) == pid && status == 0);
	/* and nothing more to see afterwards */
	CHECK(mbox_driver.sync(r, &err) == 0);
	CHECK_INT(r->count, 2);
	mbox_driver.close(&r);
	free(lockpath);
	free(path);
}

/* APPEND goes through a handle this process has open on the file (the
 * selected mailbox), or the one kept from the last append: no parse of
 * the whole file per APPEND, and the results are the same as before */
static void test_append_reuses_handles(void)
{
	static const char m[] = "Subject: r\r\n\r\nreused\r\n";
	static const char other[] =
		"From a@b Tue Jan  1 00:27:14 2019\nSubject: o\n\nother\n\n";
	static const char o_want[] = "Subject: o\r\n\r\nother\r\n";
	char *path = tmpfile_path("reuse");
	const char *err = NULL;
	struct mailbox *a, *b;

	CHECK(mbox_driver.create(path, &err) == 0);
	for (int i = 0; i < 3; i++)
		CHECK_INT(append1(path, m, sizeof m - 1, 0, NULL), (uint32_t)i + 1);
	a = open_mb(path, 0);
	if (a == NULL)
		return;
	CHECK_INT(a->count, 3);
	/* through a: a's model has it at once */
	CHECK_INT(append1(path, m, sizeof m - 1, MAIL_FLAGGED, "Kw"), 4);
	CHECK_INT(a->count, 4);
	CHECK_INT(a->msgs[3].uid, 4);
	CHECK((a->msgs[3].flags & MAIL_FLAGGED) != 0);
	CHECK(fetch_is(a, 3, m, sizeof m - 1));
	b = open_mb(path, MAIL_OPEN_READONLY);
	if (b == NULL)
		return;
	CHECK_INT(append1(path, m, sizeof m - 1, 0, NULL), 5);
	CHECK(mbox_driver.sync(a, &err) == 0);
	CHECK(mbox_driver.sync(b, &err) == 0);
	CHECK_INT(a->count, 5);
	CHECK_INT(b->count, 5);
	CHECK(fetch_is(b, 4, m, sizeof m - 1));
	mbox_driver.close(&a);
	mbox_driver.close(&b);
	/* no handle open: the kept one, twice */
	CHECK_INT(append1(path, m, sizeof m - 1, 0, NULL), 6);
	CHECK_INT(append1(path, m, sizeof m - 1, 0, NULL), 7);
	/* the file replaced behind the kept handle's back: a new file
	 * (new UIDVALIDITY, UIDs from 1), not the old model */
	char *tmp = xasprintf("%s.new", path);
	write_file(tmp, other, sizeof other - 1);
	CHECK(rename(tmp, path) == 0);
	free(tmp);
	CHECK_INT(append1(path, m, sizeof m - 1, 0, NULL), 2);
	/* and rewritten in place with other content */
	write_file(path, other, sizeof other - 1);
	CHECK_INT(append1(path, m, sizeof m - 1, 0, NULL), 2);
	a = open_mb(path, 0);
	if (a == NULL)
		return;
	CHECK_INT(a->count, 2);
	if (a->count == 2) {
		CHECK(fetch_is(a, 0, o_want, sizeof o_want - 1));
		CHECK(fetch_is(a, 1, m, sizeof m - 1));
	}
	mbox_driver.close(&a);
	free(path);
}

static bool status_is(const char *path, uint32_t msgs, uint32_t recent,
		      uint32_t unseen, uint32_t uidnext)
{
	uint32_t m = 0, r = 0, u = 0, n = 0, v = 0;
	const char *err = NULL;
	int ret = mbox_driver.status(path, &m, &r, &u, &n, &v, &err);

	if (ret < 0 || m != msgs || r != recent || u != unseen ||
	    n != uidnext || v == 0) {
		fprintf(stderr, "  status %s: %d %s: %u %u %u %u (wanted %u %u "
			"%u %u)\n", path, ret, ret < 0 ? err : "", m, r, u, n,
			msgs, recent, unseen, uidnext);
		return false;
	}
	return true;
}

/* STATUS through the kept handle: incremental, and right after others'
 * appends, expunges and flag changes */
static void test_status_kept_handle(void)
{
	static const char three[] =
		"From a@b Tue Jan  1 00:27:14 2019\nSubject: 1\nStatus: RO\n\none\n\n"
		"From a@b Tue Jan  1 00:27:15 2019\nSubject: 2\nStatus: O\n\ntwo\n\n"
		"From a@b Tue Jan  1 00:27:16 2019\nSubject: 3\n\nthree\n\n";
	static const char more[] =
		"From m@t Tue Jan  1 00:27:17 2019\nSubject: 4\n\nfour\n\n";
	char *path = tmpfile_path("status");
	const char *err = NULL;
	struct mailbox *a;

	write_file(path, three, sizeof three - 1);
	CHECK(status_is(path, 3, 1, 2, 4));
	CHECK(status_is(path, 3, 1, 2, 4));	/* kept, unchanged */
	/* an MTA appends behind the kept handle */
	int fd = open(path, O_WRONLY | O_APPEND);
	CHECK(fd >= 0 && write(fd, more, sizeof more - 1) ==
	      (ssize_t)(sizeof more - 1));
	close(fd);
	CHECK(status_is(path, 4, 2, 3, 5));
	/* a session marks one seen and expunges another */
	a = open_mb(path, 0);
	if (a == NULL)
		return;
	a->msgs[2].flags |= MAIL_SEEN;
	a->msgs[2].state |= MSTATE_DIRTY;
	a->msgs[0].state |= MSTATE_EXPUNGE_ME;
	CHECK(mbox_driver.expunge(a, &err) == 0);
	/* through a itself (the listed handle): a's own recent */
	CHECK(status_is(path, 3, a->recent, 2, 5));
	mbox_driver.close(&a);
	/* through the kept handle again: the session marked all Old */
	CHECK(status_is(path, 3, 0, 2, 5));
	CHECK(unlink(path) == 0);
	uint32_t m, r, u, n, v;
	CHECK(mbox_driver.status(path, &m, &r, &u, &n, &v, &err) < 0);
	free(path);
}

/* the mail.c layer: mail_sync reports expunges and flag changes */
static void ev_expunged(void *ctx, struct mailbox *mb, uint32_t seq)
{
	(void)mb;
	(void)seq;
	((struct evlog *)ctx)->expunged++;
}

static void ev_changed(void *ctx, struct mailbox *mb, uint32_t seq)
{
	(void)mb;
	(void)seq;
	((struct evlog *)ctx)->changed++;
}

static void test_mail_layer_events(void)
{
	char *dir = test_tmpdir();
	char *path = xasprintf("%s/box", dir);
	const char *err = NULL;
	struct mailbox *a, *b;
	struct evlog ev = { 0, 0 };

	mail_user_set("tester", getuid(), getgid(), dir);
	CHECK(mail_create("box", &err) == 0);
	for (int i = 0; i < 3; i++)
		append1(path, "Subject: x\r\n\r\ny\r\n", 17, 0, NULL);
	a = mail_open("box", 0, &err);
	b = mail_open("box", 0, &err);
	CHECK(a != NULL && b != NULL);
	if (a == NULL || b == NULL)
		return;
	b->ev.ctx = &ev;
	b->ev.expunged = ev_expunged;
	b->ev.flags_changed = ev_changed;
	CHECK(mail_store(a, 1, MAIL_STORE_ADD, MAIL_DELETED, 0) == 0);
	CHECK(mail_store(a, 2, MAIL_STORE_ADD, MAIL_SEEN, 0) == 0);
	CHECK(mail_expunge(a, NULL, NULL, &err) == 0);
	CHECK_INT(a->count, 2);
	CHECK(mail_sync(b, false, &err) == 0);
	CHECK_INT(b->count, 3);
	CHECK_INT(ev.expunged, 0);
	CHECK_INT(ev.changed, 1);
	CHECK(mail_sync(b, true, &err) == 0);
	CHECK_INT(b->count, 2);
	CHECK_INT(ev.expunged, 1);
	CHECK_INT(mail_uid_to_seq(b, 2), 1);
	CHECK_INT(mail_uid_to_seq(b, 1), 0);
	struct mail_status st;
	CHECK(mail_status("box", &st, &err) == 0);
	CHECK_INT(st.messages, 2);
	CHECK_INT(st.unseen, 1);
	CHECK_INT(st.uidnext, 4);
	mail_close(&a);
	mail_close(&b);
	free(path);
	free(dir);
}

/* a missing INBOX is an empty mailbox; spool mail moves into ~/mbox */
static void test_inbox_rules(void)
{
	char *dir = test_tmpdir();
	char *spool = xasprintf("%s/spool", dir);
	char *spoolfile = xasprintf("%s/spool/tester", dir);
	char *home = xasprintf("%s/home", dir);
	char *mbox = xasprintf("%s/home/mbox", dir);
	const char *err = NULL;
	struct mailbox *mb;

	mkdir(spool, 01777);
	mkdir(home, 0700);
	CHECK(config_set("spool-directory", spool, &err));
	mail_user_set("tester", getuid(), getgid(), home);
	mb = mail_open("INBOX", 0, &err);
	CHECK(mb != NULL);
	if (mb != NULL) {
		CHECK_INT(mb->count, 0);
		mail_close(&mb);
	}
	/* delivery to the spool, then open */
	static const char mail[] =
		"From x@y Tue Jan  1 00:27:14 2019\nSubject: 1\n\none\n\n"
		"From x@y Tue Jan  1 00:27:15 2019\nSubject: 2\nStatus: RO\n\ntwo\n\n";
	write_file(spoolfile, mail, sizeof mail - 1);
	mb = mail_open("INBOX", 0, &err);
	CHECK(mb != NULL);
	if (mb != NULL) {
		CHECK_INT(mb->count, 2);
		mail_close(&mb);
	}
	/* ~/mbox exists: INBOX is ~/mbox and the spool's mail moves */
	write_file(mbox, "", 0);
	mb = mail_open("INBOX", 0, &err);
	CHECK(mb != NULL);
	if (mb != NULL) {
		CHECK_STR(mb->path, mbox);
		CHECK_INT(mb->count, 2);
		if (mb->count == 2) {
			/* the "Status: RO" came with the delivery, from
			 * its sender: not a flag (issue 15) */
			CHECK((mb->msgs[1].flags & MAIL_SEEN) == 0);
			static const char two[] = "Subject: 2\r\n\r\ntwo\r\n";
			CHECK(fetch_is(mb, 1, two, sizeof two - 1));
		}
		struct stat st;
		CHECK(stat(spoolfile, &st) == 0 && st.st_size == 0);
		/* new delivery moves on the next sync */
		write_file(spoolfile, mail, 48);
		CHECK(mail_sync(mb, true, &err) == 0);
		CHECK_INT(mb->count, 3);
		mail_close(&mb);
	}
	config_reset();
	config_set("lock-timeout", "2", &err);
	free(spool);
	free(spoolfile);
	free(home);
	free(mbox);
	free(dir);
}

/* a crash anywhere in a migration neither loses nor duplicates mail */
static void test_inbox_migration_crash(void)
{
	char *dir = test_tmpdir();
	char *spool = xasprintf("%s/spool", dir);
	char *spoolfile = xasprintf("%s/spool/tester", dir);
	char *home = xasprintf("%s/home", dir);
	char *mbox = xasprintf("%s/home/mbox", dir);
	char *mark = xasprintf("%s/home/.mbox.migrate", dir);
	const char *err = NULL;
	static const char mail[] =
		"From x@y Tue Jan  1 00:27:14 2019\nSubject: 1\n\none\n\n"
		"From x@y Tue Jan  1 00:27:15 2019\nSubject: 2\n\ntwo\n\n";
	int crashes = 0;

	mkdir(spool, 01777);
	mkdir(home, 0700);
	CHECK(config_set("spool-directory", spool, &err));
	mail_user_set("tester", getuid(), getgid(), home);
	for (long point = 1; point < 40; point++) {
		write_file(mbox, "", 0);
		write_file(spoolfile, mail, sizeof mail - 1);
		unlink(mark);
		pid_t pid = fork();
		if (pid == 0) {
			char v[32];
			snprintf(v, sizeof v, "%ld", point);
			setenv("CCLIENT_CRASH_POINT", v, 1);
			journal_crash_reset();
			struct mailbox *mb = mail_open("INBOX", 0, &err);
			if (mb == NULL)
				_exit(3);
			mail_close(&mb);
			_exit(0);
		}
		int st;
		waitpid(pid, &st, 0);
		CHECK(WIFEXITED(st) && (WEXITSTATUS(st) == 0 ||
					WEXITSTATUS(st) == 99));
		if (WIFEXITED(st) && WEXITSTATUS(st) == 99)
			crashes++;
		struct mailbox *mb = mail_open("INBOX", 0, &err);
		CHECK(mb != NULL);
		if (mb == NULL)
			break;
		if (mb->count != 2)
			fprintf(stderr, "  crash point %ld: %u messages\n",
				point, mb->count);
		CHECK_INT(mb->count, 2);
		if (mb->count == 2) {
			static const char one[] = "Subject: 1\r\n\r\none\r\n";
			static const char two[] = "Subject: 2\r\n\r\ntwo\r\n";
			CHECK(fetch_is(mb, 0, one, sizeof one - 1));
			CHECK(fetch_is(mb, 1, two, sizeof two - 1));
		}
		mail_close(&mb);
		struct stat sst;
		if (stat(spoolfile, &sst) != 0 || sst.st_size != 0)
			fprintf(stderr, "  crash point %ld: spool %lld\n", point, (long long)sst.st_size);
		CHECK(stat(spoolfile, &sst) == 0 && sst.st_size == 0);
		if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
			break;
	}
	CHECK(crashes >= 8);
	config_reset();
	config_set("lock-timeout", "2", &err);
	free(spool);
	free(spoolfile);
	free(home);
	free(mbox);
	free(mark);
	free(dir);
}

/* mbox-single-writer: the kiss of death (FAQ 7.19) */
static int lost_called;

static void ev_lost(void *ctx, struct mailbox *mb, const char *why)
{
	(void)ctx;
	(void)mb;
	lost_called = strcmp(why, "Killed (lost mailbox lock)") == 0 ? 1 : 2;
}

static void test_single_writer_kiss(void)
{
	char *dir = test_tmpdir();
	char *path = xasprintf("%s/box", dir);
	const char *err = NULL;

	mail_user_set("tester", getuid(), getgid(), dir);
	CHECK(config_set("mbox-single-writer", "yes", &err));
	CHECK(config_set("lock-directory", dir, &err));
	CHECK(mail_create("box", &err) == 0);
	append1(path, "Subject: x\r\n\r\ny\r\n", 17, 0, NULL);
	for (int cooperative = 1; cooperative >= 0; cooperative--) {
		int p[2];
		char c;
		CHECK(pipe(p) == 0);
		pid_t pid = fork();
		if (pid == 0) {
			struct mailbox *mb = mail_open("box", 0, &err);
			if (mb == NULL || mb->readonly)
				_exit(3);
			mb->ev.lost = ev_lost;
			mail_store(mb, 1, MAIL_STORE_ADD, MAIL_FLAGGED, 0);
			(void)!write(p[1], "x", 1);
			for (int i = 0; i < 500; i++) {
				struct timespec ts = { 0, 10000000L };
				nanosleep(&ts, NULL);
				if (cooperative && mail_sync(mb, true, &err) < 0)
					_exit(lost_called == 1 ? 0 : 4);
			}
			_exit(2);
		}
		close(p[1]);
		CHECK(read(p[0], &c, 1) == 1);
		close(p[0]);
		struct mailbox *mb = mail_open("box", 0, &err);
		CHECK(mb != NULL);
		if (mb != NULL) {
			if (cooperative) {
				CHECK(!mb->readonly);
				/* the victim wrote its change before leaving */
				CHECK((mb->msgs[0].flags & MAIL_FLAGGED) != 0);
			} else {
				CHECK(mb->readonly);
				CHECK(mb->notice != NULL &&
				      strstr(mb->notice, "access is readonly"));
			}
			mail_close(&mb);
		}
		int st;
		if (!cooperative)
			kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		if (cooperative)
			CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	config_reset();
	config_set("lock-timeout", "2", &err);
	free(path);
	free(dir);
}

/* ---- crashes ---- */

static const char *const crash_msgs[] = {
	"Subject: m1\r\n\r\nFrom body one\r\n",
	"Subject: m2\r\n\r\ntwo\r\n",
	"Subject: m3\r\n\r\nthree\r\n",
	"Subject: m4\r\n\r\nfour",
	"Subject: m5\r\n\r\nfive\r\n",
};

/* the messages (UID and text) of a mailbox; -1 on error */
static int snapshot(const char *path, uint32_t *uids, char **texts,
		    unsigned max)
{
	struct mailbox *mb = open_mb(path, 0);
	unsigned n;

	if (mb == NULL)
		return -1;
	n = mb->count < max ? mb->count : max;
	for (unsigned i = 0; i < n; i++) {
		size_t len;
		uids[i] = mb->msgs[i].uid;
		texts[i] = fetch_all(mb, i, &len);
	}
	mbox_driver.close(&mb);
	return (int)n;
}

static bool same_messages(const uint32_t *uid_a, char **txt_a, int na,
			  const uint32_t *uid_b, char **txt_b, int nb)
{
	if (na != nb)
		return false;
	for (int i = 0; i < na; i++)
		if (uid_a[i] != uid_b[i] || txt_a[i] == NULL || txt_b[i] == NULL ||
		    strcmp(txt_a[i], txt_b[i]) != 0)
			return false;
	return true;
}

static void free_texts(char **t, int n)
{
	for (int i = 0; i < n; i++)
		xfree(&t[i]);
}

enum crash_op { OP_APPEND, OP_EXPUNGE, OP_FLAGS };

static int crash_child(const char *path, enum crash_op op)
{
	const char *err;
	struct mailbox *mb;

	if (op == OP_APPEND) {
		struct mail_append_msg am[2];
		uint32_t uv, uids[2];
		memset(am, 0, sizeof am);
		for (int i = 0; i < 2; i++) {
			am[i].data = crash_msgs[3 + i];
			am[i].len = strlen(crash_msgs[3 + i]);
			am[i].internaldate = -1;
		}
		return mbox_driver.append(path, am, 2, &uv, uids, &err) < 0;
	}
	mb = mbox_driver.open(path, 0, &err);
	if (mb == NULL)
		return 3;
	if (op == OP_EXPUNGE) {
		mb->msgs[0].state |= MSTATE_EXPUNGE_ME;
		mb->msgs[2].state |= MSTATE_EXPUNGE_ME;
		if (mbox_driver.expunge(mb, &err) < 0)
			return 1;
	} else {
		int k = mail_keyword_index(mb, "NewKeyword", true);
		for (uint32_t i = 0; i < mb->count; i++) {
			mb->msgs[i].flags |= MAIL_SEEN;
			mb->msgs[i].keywords |= 1ULL << k;
			mb->msgs[i].state |= MSTATE_DIRTY;
		}
		if (mbox_driver.flush(mb, &err) < 0)
			return 1;
	}
	mbox_driver.close(&mb);
	return 0;
}

static void crash_op_test(enum crash_op op)
{
	char *path = tmpfile_path("crash");
	char *orig = NULL, *after = NULL;
	size_t olen, alen;
	uint32_t uo[8], ua[8], ug[8];
	char *to[8], *ta[8], *tg[8];
	int no, na, ng;
	const char *err = NULL;

	/* the starting mailbox */
	CHECK(mbox_driver.create(path, &err) == 0);
	for (int i = 0; i < 3; i++)
		append1(path, crash_msgs[i], strlen(crash_msgs[i]), 0, NULL);
	{
		struct mailbox *mb = open_mb(path, 0);	/* settle Status O */
		if (mb != NULL)
			mbox_driver.close(&mb);
	}
	orig = test_read_file(path, &olen);
	no = snapshot(path, uo, to, 8);
	/* the result without a crash */
	CHECK_INT(crash_child(path, op), 0);
	na = snapshot(path, ua, ta, 8);
	after = test_read_file(path, &alen);
	CHECK(na >= 0 && no >= 0);
	CHECK(!same_messages(uo, to, no, ua, ta, na) || op == OP_FLAGS);

	int crashes = 0;
	for (long point = 1; point < 60; point++) {
		write_file(path, orig, olen);
		pid_t pid = fork();
		if (pid == 0) {
			char v[32];
			snprintf(v, sizeof v, "%ld", point);
			setenv("CCLIENT_CRASH_POINT", v, 1);
			journal_crash_reset();
			_exit(crash_child(path, op));
		}
		int st;
		waitpid(pid, &st, 0);
		CHECK(WIFEXITED(st) && (WEXITSTATUS(st) == 0 ||
					WEXITSTATUS(st) == 99));
		ng = snapshot(path, ug, tg, 8);
		bool ok = same_messages(uo, to, no, ug, tg, ng) ||
			same_messages(ua, ta, na, ug, tg, ng);
		if (!ok)
			fprintf(stderr, "  crash point %ld: %d messages\n",
				point, ng);
		CHECK(ok);
		free_texts(tg, ng);
		if (WIFEXITED(st) && WEXITSTATUS(st) == 99)
			crashes++;
		if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
			break;
	}
	/* the journal has at least 8 steps: they were all tried */
	CHECK(crashes >= 8);
	free_texts(to, no);
	free_texts(ta, na);
	free(orig);
	free(after);
	free(path);
}

static void test_crash_append(void)
{
	crash_op_test(OP_APPEND);
}

static void test_crash_expunge(void)
{
	crash_op_test(OP_EXPUNGE);
}

static void test_crash_flags(void)
{
	crash_op_test(OP_FLAGS);
}

/* SIGKILL at random moments of a writer looping over appends and
 * expunges: the mailbox always opens, every message is intact */
static void test_sigkill_writer(void)
{
	char *path = tmpfile_path("kill");
	const char *err = NULL;
	uint32_t max_uid = 0;

	CHECK(mbox_driver.create(path, &err) == 0);
	srand((unsigned)time(NULL));
	for (int iter = 0; iter < 25; iter++) {
		pid_t pid = fork();
		if (pid == 0) {
			unsetenv("CCLIENT_CRASH_POINT");
			journal_crash_reset();
			for (int k = 0; k < 1000; k++) {
				char msg[128];
				int n = snprintf(msg, sizeof msg,
						 "Subject: k%d\r\n\r\nFrom body %d\r\n",
						 k, k);
				append1(path, msg, (size_t)n, 0, NULL);
				if (k % 3 == 2) {
					struct mailbox *mb = mbox_driver.open(
						path, 0, &err);
					if (mb == NULL)
						_exit(3);
					if (mb->count > 0)
						mb->msgs[0].state |=
							MSTATE_EXPUNGE_ME;
					mbox_driver.expunge(mb, &err);
					mbox_driver.close(&mb);
				}
			}
			_exit(0);
		}
		/* mostly early kills; the last rounds give a slow (sanitizer,
		 * loaded machine) writer time to get real work done */
		struct timespec ts = { 0, (iter < 22 ? rand() % 20000 : 300000) * 1000L };
		nanosleep(&ts, NULL);
		kill(pid, SIGKILL);
		int st;
		waitpid(pid, &st, 0);
		struct mailbox *mb = open_mb(path, 0);
		CHECK(mb != NULL);
		if (mb == NULL)
			break;
		for (uint32_t i = 0; i < mb->count; i++) {
			size_t len;
			char *t = fetch_all(mb, i, &len);
			int k;
			char want[128];
			bool ok = t != NULL &&
				sscanf(t, "Subject: k%d", &k) == 1 &&
				snprintf(want, sizeof want,
					 "Subject: k%d\r\n\r\nFrom body %d\r\n",
					 k, k) > 0 && strcmp(t, want) == 0;
			if (!ok)
				fprintf(stderr, "  iteration %d message %u bad\n",
					iter, i + 1);
			CHECK(ok);
			if (i > 0)
				CHECK(mb->msgs[i].uid > mb->msgs[i - 1].uid);
			free(t);
		}
		if (mb->uidnext > max_uid)
			max_uid = mb->uidnext;
		mbox_driver.close(&mb);
	}
	CHECK(max_uid > 10);	/* the writer did get work done */
	free(path);
}

/* Hostile files: random mutations of a mailbox never crash the parser,
 * and every message is served with exactly the size announced (the scan
 * and the fetch agree for any input). Also after a read-write open. */
static void test_mutations(void)
{
	static const char base[] =
		"From a@b Tue Jan  1 00:27:14 2019\nSubject: 1\nX-UID: 1\n"
		"X-IMAPbase: 5 9 k1 k2\nStatus: RO\nX-Keywords: k1\n\n"
		"body\r\n>From x\n\n"
		"From a@b Tue Jan  1 00:27:15 2019\nX-Mbox-Size: 20\n"
		"Subject: 2\n\nFrom y\n\r\n\n"
		"From a@b Tue Jan  1 00:27:16 2019\r\nSubject: 3\r\n"
		"\r\nthree\r\n";
	static const char *const inserts[] = { "\n", "\r", "\n\n",
		"From ", "From a@b Tue Jan  1 00:27:14 2019\n", ">From ",
		"Status: ", "X-UID: 3\n", "X-Mbox-Size: 7\n", "\0", " ",
		"X-IMAP: 1 2 k\n", "\xff" };
	char *path = tmpfile_path("mut");
	const char *seed_env = getenv("TEST_MBOX_SEED");
	unsigned seed = seed_env != NULL ? (unsigned)strtoul(seed_env, NULL, 10) :
		(unsigned)time(NULL);
	char buf[4096];

	srand(seed);
	for (int iter = 0; iter < 400; iter++) {
		size_t len = sizeof base - 1;
		memcpy(buf, base, len);
		int nmut = 1 + rand() % 6;
		for (int k = 0; k < nmut; k++) {
			size_t pos = len ? (size_t)rand() % len : 0;
			switch (rand() % 3) {
			case 0:	/* flip a byte */
				if (len)
					buf[pos] = (char)(rand() % 256);
				break;
			case 1: {	/* insert */
				const char *ins = inserts[(size_t)rand() %
							  N_ELEMENTS(inserts)];
				size_t il = strlen(ins) ? strlen(ins) : 1;
				if (len + il >= sizeof buf)
					break;
				memmove(buf + pos + il, buf + pos, len - pos);
				memcpy(buf + pos, ins, il);
				len += il;
				break;
			}
			default:	/* cut */
				len = pos + (len - pos) / 2;
				break;
			}
		}
		write_file(path, buf, len);
		if (getenv("TEST_MBOX_DUMP") != NULL) {
			char *dump = xasprintf("%s.%d", getenv("TEST_MBOX_DUMP"), iter);
			write_file(dump, buf, len);
			free(dump);
		}
		for (int rw = 0; rw < 2; rw++) {
			const char *err = NULL;
			struct mailbox *mb = mbox_driver.open(path,
				rw ? 0 : MAIL_OPEN_READONLY, &err);
			if (mb == NULL)
				continue;
			for (uint32_t i = 0; i < mb->count; i++) {
				size_t l;
				char *t = fetch_all(mb, i, &l);
				if (t == NULL || l != mb->msgs[i].size ||
				    mb->msgs[i].hdr_size > l) {
					fprintf(stderr, "  seed %u iter %d rw %d msg %u: "
						"%zu != %llu\n", seed, iter, rw, i + 1,
						t ? l : 0, (unsigned long long)
						mb->msgs[i].size);
					CHECK(false);
				}
				if (i > 0)
					CHECK(mb->msgs[i].uid > mb->msgs[i - 1].uid);
				free(t);
			}
			mbox_driver.close(&mb);
		}
	}
	free(path);
}

/* a file written by the driver for tests/test_mbox_readers.py */
static void test_write_sample(void)
{
	const char *out = getenv("CCLIENT_MBOX_SAMPLE");
	const char *err = NULL;

	if (out == NULL || *out == '\0')
		return;
	unlink(out);
	CHECK(mbox_driver.create(out, &err) == 0);
	for (size_t i = 0; i < N_ELEMENTS(round_trips); i++)
		append1(out, round_trips[i].data, round_trips[i].len, 0, NULL);
	/* then rewrite it as a session would: flags on every message and an
	 * expunge, so the readers see a file we rewrote, not only appended */
	static const char extra[] = "Subject: expunged\r\n\r\nFrom gone\r\n";
	append1(out, extra, sizeof extra - 1, 0, NULL);
	struct mailbox *mb = mbox_driver.open(out, 0, &err);
	CHECK(mb != NULL);
	if (mb == NULL)
		return;
	CHECK_INT(mb->count, N_ELEMENTS(round_trips) + 1);
	for (uint32_t i = 0; i < mb->count; i++) {
		mb->msgs[i].flags |= MAIL_SEEN | MAIL_FLAGGED | MAIL_ANSWERED;
		mb->msgs[i].state |= MSTATE_DIRTY;
	}
	mb->msgs[mb->count - 1].state |= MSTATE_EXPUNGE_ME;
	CHECK(mbox_driver.expunge(mb, &err) == 0);
	CHECK_INT(mb->count, N_ELEMENTS(round_trips));
	mbox_driver.close(&mb);
}

/* the repair hook (mailutil repair) on damaged files, FAQ 7.1, 7.2, 7.14:
 * a dry run reports and changes nothing; with fix a lost first separator
 * is added back, data that is no message goes to a side file, UID
 * headers that do not increase are dropped; a second run finds nothing */
static void test_repair_hook(void)
{
	char *path = tmpfile_path("r");
	char *side = xasprintf("%s.badmsg.1", path);
	const char *err = NULL;
	struct mail_repair r;
	struct mailbox *mb;
	size_t n;
	static const char msgs[] =
		"From a@b Tue Jan  1 00:27:14 2019\n"
		"X-IMAPbase: 1234 10\n"
		"X-UID: 5\n"
		"Subject: one\n\nbody 1\n\n"
		"From a@b Tue Jan  1 00:27:15 2019\n"
		"X-UID: 5\n"
		"Subject: two\n\nbody 2\n";
	static const char header_first[] = "Subject: lost\n\nbody 0\n";
	static const char junk_first[] = "\x01\x02 not a header\n";

	/* the first separator was lost: a header-like start becomes a
	 * message, and the repeated X-UID drops the UID headers */
	char *text = xasprintf("%s%s", header_first, msgs);
	write_file(path, text, strlen(text));
	CHECK(driver_detect(path) == NULL);
	CHECK(driver_detect_damaged(path) == &mbox_driver);
	mail_repair_init(&r, path, false);
	CHECK(mbox_driver.repair(&r, &err) == 0);
	CHECK_INT(r.problems, 2);
	CHECK(r.report.data != NULL &&
	      strstr(r.report.data, "a separator line was added") != NULL &&
	      strstr(r.report.data, "Message UID 5 not greater than "
		     "previous 5") != NULL);
	mail_repair_free(&r);
	char *now = test_read_file(path, &n);
	CHECK(n == strlen(text) && memcmp(now, text, n) == 0);
	free(now);

	mail_repair_init(&r, path, true);
	CHECK(mbox_driver.repair(&r, &err) == 0);
	CHECK_INT(r.problems, 2);
	CHECK_INT(r.nbad, 0);
	mail_repair_free(&r);
	now = test_read_file(path, &n);
	CHECK(n > 5 && memcmp(now, "From MAILER-DAEMON ", 19) == 0);
	CHECK(strstr(now, "X-UID") == NULL && strstr(now, "X-IMAP") == NULL);
	free(now);
	mb = open_mb(path, 0);
	CHECK(mb != NULL);
	if (mb != NULL) {
		CHECK_INT(mb->count, 3);
		CHECK(mb->msgs[0].uid < mb->msgs[1].uid &&
		      mb->msgs[1].uid < mb->msgs[2].uid);
		mbox_driver.close(&mb);
	}
	mail_repair_init(&r, path, false);
	CHECK(mbox_driver.repair(&r, &err) == 0);
	CHECK_INT(r.problems, 0);
	mail_repair_free(&r);
	free(text);

	/* bytes that are no message go to a side file, untouched */
	unlink(path);
	text = xasprintf("%s%s", junk_first, msgs + 0);
	write_file(path, text, strlen(text));
	mail_repair_init(&r, path, true);
	CHECK(mbox_driver.repair(&r, &err) == 0);
	CHECK_INT(r.nbad, 1);
	CHECK(r.report.data != NULL &&
	      strstr(r.report.data, "data before the first message") != NULL);
	mail_repair_free(&r);
	now = test_read_file(side, &n);
	CHECK(now != NULL && n == strlen(junk_first) &&
	      memcmp(now, junk_first, n) == 0);
	free(now);
	mb = open_mb(path, 0);
	CHECK(mb != NULL);
	if (mb != NULL) {
		CHECK_INT(mb->count, 2);
		mbox_driver.close(&mb);
	}
	free(text);
	free(side);
	free(path);
}

int main(int argc, char **argv)
{
	static const struct test tests[] = {
		TEST(test_from_line_variants),
		TEST(test_crlf_file_and_odd_bytes),
		TEST(test_huge_header_line),
		TEST(test_append_fetch_round_trip),
		TEST(test_append_hidden_headers_dropped),
		TEST(test_file_layout),
		TEST(test_flags_persist),
		TEST(test_uids_never_reused),
		TEST(test_ximapbase_moves),
		TEST(test_uid_rebuild),
		TEST(test_two_handles),
		TEST(test_store_merge),
		TEST(test_mail_layer_events),
		TEST(test_inbox_rules),
		TEST(test_single_writer_kiss),
		TEST(test_inbox_migration_crash),
		TEST(test_crash_append),
		TEST(test_crash_expunge),
		TEST(test_crash_flags),
		TEST(test_sigkill_writer),
		TEST(test_mutations),
		TEST(test_reader_waits_for_dotlock_appender),
		TEST(test_append_reuses_handles),
		TEST(test_status_kept_handle),
		TEST(test_write_sample),
		TEST(test_repair_hook),
	};
	const char *err;

	setenv("TZ", "UTC", 1);
	unsetenv("CCLIENT_CRASH_POINT");
	unsetenv("CCLIENT_CRASH_AFTER_BYTES");
	config_set("lock-timeout", "2", &err);
	return test_run(argc, argv, tests, N_ELEMENTS(tests));
}
