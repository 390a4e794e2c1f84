/*
 * test-mbx.c - the mbx driver: UW fixture compatibility (flags, keywords,
 * UIDs, bytes), byte compatibility of what we write, two read-write
 * sessions seeing each other's changes, crash recovery of appends and
 * FAQ 7.15 corruption reports. UW's files: tests/data/uw (its README.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "buf.h"
#include "config.h"
#include "date.h"
#include "journal.h"
#include "mail.h"
#include "repair.h"
#include "test.h"

extern const struct mail_driver mbx_driver;

/* REL is relative to tests/data/uw; unit tests run from the repository root */
static char *fixture(const char *rel)
{
	return xasprintf("tests/data/uw/%s", rel);
}

static void write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd < 0 || write_full(fd, data, len) != (ssize_t)len)
		panic("write %s", path);
	close(fd);
}

static void copy_file(const char *from, const char *to)
{
	size_t len;
	char *d = test_read_file(from, &len);

	if (d == NULL)
		panic("read %s", from);
	write_file(to, d, len);
	free(d);
}

static void sha256_hex(const void *p, size_t n, char out[65])
{
	unsigned char md[32];
	unsigned int mdlen = 0;

	EVP_Digest(p, n, md, &mdlen, EVP_sha256(), NULL);
	for (unsigned i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static bool has_flag(const char *flags, const char *f)
{
	size_t n = strlen(f);

	for (const char *p = flags; (p = strstr(p, f)) != NULL; p += n)
		if ((p == flags || p[-1] == ' ' || p[-1] == '(') &&
		    (p[n] == ' ' || p[n] == ')' || p[n] == '\0'))
			return true;
	return false;
}

/* UW's view (expected-fetch.txt) == ours */
static void test_uw_fixture(void)
{
	char *dir = test_tmpdir();
	char *path = xasprintf("%s/fx", dir);
	char *src = fixture("mbx/after-uw.mbx");
	char *exp = fixture("mbx/expected-fetch.txt");
	const char *err = NULL;
	size_t elen;
	char *e = test_read_file(exp, &elen);

	CHECK(e != NULL);
	if (e == NULL)
		return;
	copy_file(src, path);
	struct stat st0;
	stat(path, &st0);
	struct mailbox *mb = mbx_driver.open(path, MAIL_OPEN_READONLY, &err);
	CHECK(mb != NULL);
	if (mb == NULL) {
		fprintf(stderr, "  open: %s\n", err);
		return;
	}
	CHECK_INT(mb->count, 31);
	CHECK_INT(mb->uidvalidity, 1795313744u);
	CHECK_INT(mb->uidnext, 34);
	CHECK_INT(mb->recent, 0);
	CHECK_INT(mb->nkeywords, 4);
	if (mb->nkeywords == 4) {
		CHECK_STR(mb->keywords[0], "$Label1");
		CHECK_STR(mb->keywords[3], "project-x");
	}
	unsigned checked = 0, hashed = 0;
	for (char *line = e; line != NULL && *line; ) {
		char *nl = strchr(line, '\n');
		if (nl != NULL)
			*nl = '\0';
		unsigned seq, uid;
		unsigned long size;
		char flags[256], date[64];
		if (sscanf(line, "S: * %u FETCH (UID %u FLAGS (%255[^)]) "
			   "INTERNALDATE \"%63[^\"]\" RFC822.SIZE %lu", &seq,
			   &uid, flags, date, &size) == 5 ||
		    (flags[0] = '\0', sscanf(line, "S: * %u FETCH (UID %u "
			   "FLAGS () INTERNALDATE \"%63[^\"]\" RFC822.SIZE "
			   "%lu", &seq, &uid, date, &size) == 4)) {
			CHECK(seq >= 1 && seq <= mb->count);
			if (seq >= 1 && seq <= mb->count) {
				struct mail_message *m = &mb->msgs[seq - 1];
				int64_t t;
				int32_t z;
				CHECK_INT(m->uid, uid);
				CHECK_INT(m->size, size);
				CHECK(date_parse_imap_datetime(date, &t, &z));
				CHECK_INT(m->internaldate, t);
				CHECK_INT(m->zone, z);
				CHECK_INT((m->flags & MAIL_SEEN) != 0,
					  has_flag(flags, "\\Seen"));
				CHECK_INT((m->flags & MAIL_ANSWERED) != 0,
					  has_flag(flags, "\\Answered"));
				CHECK_INT((m->flags & MAIL_FLAGGED) != 0,
					  has_flag(flags, "\\Flagged"));
				CHECK_INT((m->flags & MAIL_DELETED) != 0,
					  has_flag(flags, "\\Deleted"));
				CHECK_INT((m->flags & MAIL_DRAFT) != 0,
					  has_flag(flags, "\\Draft"));
				for (unsigned k = 0; k < mb->nkeywords; k++)
					CHECK_INT((m->keywords >> k) & 1,
						  has_flag(flags,
							   mb->keywords[k]));
				checked++;
			}
		}
		char hex[65];
		if (sscanf(line, "# %u %lu %64s", &seq, &size, hex) == 3 &&
		    seq >= 1 && seq <= mb->count) {
			struct buf b;
			char got[65];
			buf_init(&b, 0);
			CHECK(mail_fetch(mb, seq, MAIL_PART_ALL, &b, &err) == 0);
			CHECK_INT(b.len, size);
			sha256_hex(b.data, b.len, got);
			CHECK_STR(got, hex);
			/* header + text == all */
			struct buf h, t;
			buf_init(&h, 0);
			buf_init(&t, 0);
			CHECK(mail_fetch(mb, seq, MAIL_PART_HEADER, &h, &err) == 0);
			CHECK(mail_fetch(mb, seq, MAIL_PART_TEXT, &t, &err) == 0);
			CHECK_INT(h.len + t.len, b.len);
			CHECK(memcmp(b.data, h.data, h.len) == 0);
			buf_release(&h);
			buf_release(&t);
			buf_release(&b);
			hashed++;
		}
		line = nl != NULL ? nl + 1 : NULL;
	}
	CHECK_INT(checked, 31);
	CHECK_INT(hashed, 31);
	mbx_driver.close(&mb);

	/* a read-write open of a file UW left does not change a byte */
	mb = mbx_driver.open(path, 0, &err);
	CHECK(mb != NULL);
	if (mb != NULL)
		mbx_driver.close(&mb);
	size_t a, b2;
	char *x = test_read_file(src, &a), *y = test_read_file(path, &b2);
	CHECK(a == b2 && memcmp(x, y, a) == 0);
	free(x);
	free(y);
	free(e);
	free(exp);
	free(src);
	free(path);
	free(dir);
}

/* CREATE writes what UW writes, apart from UIDVALIDITY */
static void test_create_matches_uw(void)
{
	char *dir = test_tmpdir();
	char *path = xasprintf("%s/sub/new", dir);
	char *uw = fixture("mbx/empty-created.mbx");
	const char *err = NULL;
	size_t a, b;

	CHECK(mbx_driver.create(path, &err) == 0);
	CHECK(mbx_driver.create(path, &err) < 0);
	char *x = test_read_file(uw, &a), *y = test_read_file(path, &b);
	CHECK(x != NULL && y != NULL);
	if (x != NULL && y != NULL) {
		CHECK_INT(a, 2048);
		CHECK_INT(b, 2048);
		CHECK(memcmp(x, y, 7) == 0);
		CHECK(memcmp(x + 15, y + 15, 2048 - 15) == 0);
	}
	struct stat st;
	CHECK(stat(path, &st) == 0);
	CHECK(mbx_driver.probe(path, &st));
	struct mailbox *mb = mbx_driver.open(path, 0, &err);
	CHECK(mb != NULL);
	if (mb != NULL) {
		CHECK_INT(mb->count, 0);
		CHECK_INT(mb->uidnext, 1);
		mbx_driver.close(&mb);
	}
	free(x);
	free(y);
	free(uw);
	free(path);
	free(dir);
}

static struct mail_append_msg amsg(const char *text, uint32_t flags,
				   const char *const *kw, unsigned nkw,
				   int64_t t)
{
	struct mail_append_msg m;

	memset(&m, 0, sizeof(m));
	m.data = text;
	m.len = strlen(text);
	m.flags = flags;
	m.keywords = kw;
	m.nkeywords = nkw;
	m.internaldate = t;
	m.zone = 60;
	return m;
}

static void test_append_roundtrip(void)
{
	char *dir = test_tmpdir();
	char *path = xasprintf("%s/box", dir);
	const char *err = NULL;
	static const char *const kw1[] = { "Junk", "$Label1" };
	struct mail_append_msg m[3] = {
		amsg("Subject: one\r\n\r\nbody\r\nFrom me\r\n", MAIL_SEEN,
		     kw1, 2, 1584272096),
		amsg("Subject: two\n\nlf only\n", MAIL_FLAGGED | MAIL_DRAFT,
		     NULL, 0, 1612195200),
		amsg("Subject: three\r\n\r\nno newline at end", 0, kw1 + 1, 1,
		     -1),
	};
	uint32_t uv = 0, uids[3];

	CHECK(mbx_driver.create(path, &err) == 0);
	CHECK(mbx_driver.append(path, m, 3, &uv, uids, &err) == 0);
	CHECK_INT(uids[0], 1);
	CHECK_INT(uids[2], 3);
	struct mailbox *mb = mbx_driver.open(path, 0, &err);
	CHECK(mb != NULL);
	if (mb == NULL)
		return;
	CHECK_INT(mb->uidvalidity, uv);
	CHECK_INT(mb->count, 3);
	CHECK_INT(mb->recent, 3);
	CHECK_INT(mb->msgs[0].flags & MAIL_SYSFLAGS, MAIL_SEEN);
	CHECK_INT(mb->msgs[1].flags & MAIL_SYSFLAGS, MAIL_FLAGGED | MAIL_DRAFT);
	CHECK_INT(mb->msgs[0].internaldate, 1584272096);
	CHECK_INT(mb->msgs[0].zone, 60);
	CHECK_INT(mb->nkeywords, 2);
	int j = mail_keyword_index(mb, "Junk", false);
	int l = mail_keyword_index(mb, "$Label1", false);
	CHECK(j >= 0 && l >= 0);
	CHECK_INT(mb->msgs[0].keywords, (1ull << j) | (1ull << l));
	CHECK_INT(mb->msgs[2].keywords, 1ull << l);
	struct buf b;
	buf_init(&b, 0);
	CHECK(mail_fetch(mb, 1, MAIL_PART_ALL, &b, &err) == 0);
	CHECK_STR(b.data, "Subject: one\r\n\r\nbody\r\nFrom me\r\n");
	buf_reset(&b);
	CHECK(mail_fetch(mb, 2, MAIL_PART_ALL, &b, &err) == 0);
	CHECK_STR(b.data, "Subject: two\r\n\r\nlf only\r\n");
	CHECK_INT(mb->msgs[1].size, 25);
	buf_reset(&b);
	CHECK(mail_fetch(mb, 3, MAIL_PART_TEXT, &b, &err) == 0);
	CHECK_STR(b.data, "no newline at end");
	buf_release(&b);
	/* a second session: not recent any more */
	struct mailbox *mb2 = mbx_driver.open(path, 0, &err);
	CHECK(mb2 != NULL && mb2->recent == 0);
	if (mb2 != NULL)
		mbx_driver.close(&mb2);
	mbx_driver.close(&mb);

	/* zero-length and all-or-nothing */
	struct stat st1, st2;
	stat(path, &st1);
	struct mail_append_msg bad[2] = {
		amsg("Subject: ok\r\n\r\nx\r\n", 0, NULL, 0, -1),
		amsg("", 0, NULL, 0, -1),
	};
	CHECK(mbx_driver.append(path, bad, 2, &uv, uids, &err) < 0);
	stat(path, &st2);
	CHECK_INT(st1.st_size, st2.st_size);
	free(path);
	free(dir);
}

/* two read-write sessions see each other's flags, new mail, expunges */
static void test_two_sessions(void)
{
	char *dir = test_tmpdir();
	char *path = xasprintf("%s/shared", dir);
	const char *err = NULL;
	struct mail_append_msg m[3] = {
		amsg("Subject: a\r\n\r\na\r\n", 0, NULL, 0, -1),
		amsg("Subject: b\r\n\r\nb\r\n", 0, NULL, 0, -1),
		amsg("Subject: c\r\n\r\nc\r\n", 0, NULL, 0, -1),
	};
	uint32_t uv, uids[3];

	CHECK(mbx_driver.create(path, &err) == 0);
	CHECK(mbx_driver.append(path, m, 2, &uv, uids, &err) == 0);
	struct mailbox *a = mbx_driver.open(path, 0, &err);
	struct mailbox *b = mbx_driver.open(path, 0, &err);
	CHECK(a != NULL && b != NULL);
	if (a == NULL || b == NULL)
		return;
	CHECK_INT(a->recent, 2);
	CHECK_INT(b->recent, 0);

	/* flags and a new keyword from a, seen by b */
	int k = mail_keyword_index(a, "project-x", true);
	CHECK(k >= 0);
	CHECK(mail_store(a, 1, MAIL_STORE_ADD, MAIL_SEEN | MAIL_FLAGGED,
			 1ull << k) == 0);
	CHECK(mail_flush(a, &err) == 0);
	CHECK(mail_sync(b, true, &err) == 0);
	CHECK_INT(b->msgs[0].flags & MAIL_SYSFLAGS, MAIL_SEEN | MAIL_FLAGGED);
	int kb = mail_keyword_index(b, "project-x", false);
	CHECK(kb >= 0);
	if (kb >= 0)
		CHECK_INT(b->msgs[0].keywords, 1ull << kb);

	/* new mail appended while both are open */
	CHECK(mbx_driver.append(path, m + 2, 1, &uv, uids, &err) == 0);
	CHECK(mail_sync(b, true, &err) == 0);
	CHECK(mail_sync(a, true, &err) == 0);
	CHECK_INT(a->count, 3);
	CHECK_INT(b->count, 3);
	CHECK_INT(b->msgs[2].uid, uids[0]);
	CHECK_INT(a->recent + b->recent, 3);	/* exactly one claimed it */

	/* expunge in b while a is open: hidden, not compacted */
	struct stat st1, st2;
	stat(path, &st1);
	CHECK(mail_store(b, 2, MAIL_STORE_ADD, MAIL_DELETED, 0) == 0);
	CHECK(mail_expunge(b, NULL, NULL, &err) == 0);
	CHECK_INT(b->count, 2);
	stat(path, &st2);
	CHECK_INT(st1.st_size, st2.st_size);
	CHECK(mail_sync(a, true, &err) == 0);
	CHECK_INT(a->count, 2);
	CHECK_INT(a->msgs[1].uid, 3);

	/* alone now: the next expunge reclaims the space */
	mbx_driver.close(&b);
	CHECK(mail_store(a, 1, MAIL_STORE_ADD, MAIL_DELETED, 0) == 0);
	CHECK(mail_expunge(a, NULL, NULL, &err) == 0);
	stat(path, &st2);
	CHECK(st2.st_size < st1.st_size);
	CHECK_INT(a->count, 1);
	struct buf buf;
	buf_init(&buf, 0);
	CHECK(mail_fetch(a, 1, MAIL_PART_ALL, &buf, &err) == 0);
	CHECK_STR(buf.data, "Subject: c\r\n\r\nc\r\n");
	buf_release(&buf);
	mbx_driver.close(&a);
	a = mbx_driver.open(path, 0, &err);
	CHECK(a != NULL && a->count == 1 && a->uidnext == 4);
	if (a != NULL)
		mbx_driver.close(&a);
	free(path);
	free(dir);
}

/* Two sessions change one message's flags without syncing in between:
 * a adds \\Answered, b removes \\Seen. b's write applies its change to
 * what a wrote (a delta), so both changes survive and b learns the
 * merged result (imaptest store). */
static void test_store_merge(void)
{
	char *dir = test_tmpdir();
	char *path = xasprintf("%s/merge", dir);
	const char *cerr = NULL;
	struct mail_append_msg m = amsg("Subject: a\r\n\r\na\r\n", MAIL_SEEN,
					NULL, 0, -1);
	uint32_t uv, uid;

	CHECK(mbx_driver.create(path, &cerr) == 0);
	CHECK(mbx_driver.append(path, &m, 1, &uv, &uid, &cerr) == 0);
	struct mailbox *a = mbx_driver.open(path, 0, &cerr);
	struct mailbox *b = mbx_driver.open(path, 0, &cerr);
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
	mbx_driver.close(&a);
	mbx_driver.close(&b);
	free(path);
	free(dir);
}

/* compaction over several journaled steps keeps every byte */
static void test_compact_many(void)
{
	char *dir = test_tmpdir();
	char *path = xasprintf("%s/many", dir);
	const char *err = NULL;
	enum { N = 60 };
	char *texts[N];
	struct mail_append_msg m[N];
	uint32_t uv, uids[N];

	CHECK(mbx_driver.create(path, &err) == 0);
	for (int i = 0; i < N; i++) {
		size_t body = (size_t)(i % 7 == 0 ? 400000 : 100 + i * 37);
		char *t = xmalloc(body + 64);
		int n = snprintf(t, 64, "Subject: msg %d\r\n\r\n", i);
		for (size_t j = 0; j < body; j++)
			t[n + j] = (j % 80 == 79) ? '\n' : (char)('a' + (i + j) % 26);
		t[n + body] = '\0';
		texts[i] = t;
		m[i] = amsg(t, 0, NULL, 0, 1000000 + i);
	}
	CHECK(mbx_driver.append(path, m, N, &uv, uids, &err) == 0);
	struct mailbox *mb = mbx_driver.open(path, 0, &err);
	CHECK(mb != NULL && mb->count == N);
	if (mb == NULL)
		return;
	for (int i = 0; i < N; i += 3)
		CHECK(mail_store(mb, (uint32_t)i + 1, MAIL_STORE_ADD,
				 MAIL_DELETED, 0) == 0);
	CHECK(mail_expunge(mb, NULL, NULL, &err) == 0);
	CHECK_INT(mb->count, N - 20);
	mbx_driver.close(&mb);
	mb = mbx_driver.open(path, MAIL_OPEN_READONLY, &err);
	CHECK(mb != NULL && mb->count == N - 20);
	for (uint32_t s = 1; mb != NULL && s <= mb->count; s++) {
		struct buf b;
		int i = (int)mb->msgs[s - 1].uid - 1;
		size_t len;
		buf_init(&b, 0);
		CHECK(i % 3 != 0);
		CHECK(mail_fetch(mb, s, MAIL_PART_ALL, &b, &err) == 0);
		char *want = NULL;
		/* the stored text is the CRLF form */
		for (len = 0; texts[i][len]; len++)
			;
		want = xmalloc(len * 2 + 1);
		size_t w = 0;
		for (size_t j = 0; j < len; j++) {
			if (texts[i][j] == '\n' && (j == 0 || texts[i][j - 1] != '\r'))
				want[w++] = '\r';
			want[w++] = texts[i][j];
		}
		CHECK(b.len == w && memcmp(b.data, want, w) == 0);
		free(want);
		buf_release(&b);
	}
	if (mb != NULL)
		mbx_driver.close(&mb);
	for (int i = 0; i < N; i++)
		free(texts[i]);
	free(path);
	free(dir);
}

static void test_corruption_reports(void)
{
	char *dir = test_tmpdir();
	char *path = xasprintf("%s/bad", dir);
	const char *err = NULL;
	struct mail_append_msg m[2] = {
		amsg("Subject: a\r\n\r\na\r\n", 0, NULL, 0, 0),
		amsg("Subject: b\r\n\r\nb\r\n", 0, NULL, 0, 0),
	};
	uint32_t uv, uids[2];
	size_t len;

	CHECK(mbx_driver.create(path, &err) == 0);
	CHECK(mbx_driver.append(path, m, 2, &uv, uids, &err) == 0);
	char *good = test_read_file(path, &len);
	char *msg2 = strstr(good + 2048 + 10, " 1-Jan-1970");
	CHECK(msg2 != NULL);
	size_t off2 = (size_t)(msg2 - good);

	/* size field too big: runs past end of file */
	char *t = xmalloc(len + 1);
	memcpy(t, good, len);
	char *comma = strchr(t + off2, ',');
	comma[1] = '9';
	write_file(path, t, len);
	struct mailbox *mb = mbx_driver.open(path, 0, &err);
	CHECK(mb == NULL);
	CHECK(err != NULL && strstr(err, "runs past end of file") != NULL);

	/* garbage instead of the second internal header */
	memcpy(t, good, len);
	memcpy(t + off2, "ne bombastic blurdybloop\r\n", 26);
	write_file(path, t, len);
	mb = mbx_driver.open(path, 0, &err);
	CHECK(mb == NULL);
	char want[64];
	snprintf(want, sizeof(want), "Unable to parse internal header at %zu",
		 off2);
	CHECK(err != NULL && strstr(err, want) != NULL);

	/* truncated in the middle of the second message */
	write_file(path, good, len - 3);
	mb = mbx_driver.open(path, 0, &err);
	CHECK(mb == NULL);
	snprintf(want, sizeof(want), "Last message (at %zu) runs past", off2);
	CHECK(err != NULL && strstr(err, want) != NULL);

	/* no CRLF */
	memcpy(t, good, len);
	memset(t + off2, 'x', len - off2);
	write_file(path, t, len);
	mb = mbx_driver.open(path, 0, &err);
	CHECK(mb == NULL);
	snprintf(want, sizeof(want), "Unable to find CRLF at %zu", off2);
	CHECK(err != NULL && strstr(err, want) != NULL);

	/* a crash in the middle of an append is undone at the next open */
	write_file(path, good, len);
	struct mail_append_msg m3 = amsg("Subject: c\r\n\r\nccc\r\n", 0, NULL,
					 0, 0);
	CHECK(mbx_driver.append(path, &m3, 1, &uv, uids, &err) == 0);
	size_t len3;
	char *three = test_read_file(path, &len3);
	/* simulate: marker set, record half written */
	char mark[28];
	snprintf(mark, sizeof(mark), "CCAPPEND %016zx\r\n", len);
	memcpy(three + 2008, mark, 27);
	write_file(path, three, len3 - 5);
	mb = mbx_driver.open(path, 0, &err);
	CHECK(mb != NULL);
	if (mb != NULL) {
		CHECK_INT(mb->count, 2);
		mbx_driver.close(&mb);
	}
	struct stat st;
	stat(path, &st);
	CHECK_INT(st.st_size, len);
	free(three);
	free(t);
	free(good);
	free(path);
	free(dir);
}

static const char *data_dir(void)
{
	if (access("tests/data/mbx", F_OK) == 0)
		return "tests/data/mbx";
	return "mbx";	/* make check runs in tests/data */
}

/* what we write is frozen in tests/data/mbx/golden.mbx (UW's rules:
 * no fOLD on APPEND, keywords in slot order, CRLF text); only the
 * UIDVALIDITY and the PID may differ */
static void test_golden_append(void)
{
	char *dir = test_tmpdir();
	char *path = xasprintf("%s/g", dir);
	char *golden = xasprintf("%s/golden.mbx", data_dir());
	const char *err = NULL;
	static const char *const kw[] = { "$Label1", "Junk", "project-x" };
	struct mail_append_msg m[3] = {
		amsg("From: a@example.com\r\nSubject: one\r\n\r\nbody\r\n",
		     MAIL_SEEN | MAIL_ANSWERED, kw, 2, 1546300800),
		amsg("Subject: two\n\nLF text\nFrom line\n",
		     MAIL_FLAGGED | MAIL_DELETED | MAIL_DRAFT, kw + 2, 1,
		     1584272096),
		amsg("Subject: three\r\n\r\nno newline", 0, NULL, 0,
		     1612195200),
	};
	uint32_t uv, uids[3];
	size_t a, b;

	m[1].zone = -480;
	CHECK(mbx_driver.create(path, &err) == 0);
	CHECK(mbx_driver.append(path, m, 3, &uv, uids, &err) == 0);
	char *got = test_read_file(path, &a);
	if (getenv("CC_WRITE_GOLDEN") != NULL) {
		FILE *f = fopen(golden, "wb");
		fwrite(got, 1, a, f);
		fclose(f);
	}
	char *want = test_read_file(golden, &b);
	CHECK(want != NULL && a == b);
	if (want != NULL && a == b) {
		CHECK(memcmp(got, want, 7) == 0);
		CHECK(memcmp(got + 15, want + 15, 2038 - 15) == 0);
		CHECK(memcmp(got + 2048, want + 2048, a - 2048) == 0);
	}
	free(got);
	free(want);
	free(golden);
	free(path);
	free(dir);
}

/* what old UW leaves: a record appended without a UID (00000000) and a
 * hidden expunged one (fEXPUNGED, space not reclaimed) */
static void test_uw_uid0_and_hidden(void)
{
	char *dir = test_tmpdir();
	char *path = xasprintf("%s/old", dir);
	const char *err = NULL;
	struct buf f;
	char h[2048];

	memset(h, 0, sizeof(h));
	snprintf(h, sizeof(h), "*mbx*\r\n6b02505000000002\r\n");
	for (int i = 0; i < 30; i++)
		strcat(h, "\r\n");
	buf_init(&f, 0);
	buf_append(&f, h, sizeof(h));
	buf_puts(&f, " 1-Jan-2019 00:00:00 +0000,9;000000000011-00000001\r\n"
		 "A: 1\r\n\r\nx");
	buf_puts(&f, " 1-Jan-2019 00:00:00 +0000,9;000000008011-00000002\r\n"
		 "B: 2\r\n\r\ny");
	buf_puts(&f, " 1-Jan-2019 00:00:00 +0000,9;000000000001-00000000\r\n"
		 "C: 3\r\n\r\nz");
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0 && write_full(fd, f.data, f.len) == (ssize_t)f.len);
	close(fd);
	struct mailbox *mb = mbx_driver.open(path, 0, &err);
	CHECK(mb != NULL);
	if (mb != NULL) {
		CHECK_INT(mb->count, 2);
		CHECK_INT(mb->msgs[0].uid, 1);
		CHECK_INT(mb->msgs[1].uid, 3);	/* after the hidden UID 2 */
		CHECK_INT(mb->recent, 1);
		CHECK_INT(mb->uidnext, 4);
		CHECK_INT(mb->uidvalidity, 0x6b025050);
		mbx_driver.close(&mb);
	}
	size_t len;
	char *d = test_read_file(path, &len);
	CHECK(d != NULL && memcmp(d + 15, "00000003", 8) == 0);
	CHECK(d != NULL && strstr(d + 2048, "000000000011-00000003") != NULL);
	free(d);
	/* the first close, alone with the file, reclaimed the hidden
	 * record (as UW's close does) */
	mb = mbx_driver.open(path, 0, &err);
	CHECK(mb != NULL && mb->recent == 0);
	if (mb != NULL) {
		CHECK_INT(mb->count, 2);
		mbx_driver.close(&mb);
	}
	struct stat st;
	stat(path, &st);
	CHECK_INT(st.st_size, f.len - 61);
	buf_release(&f);
	free(path);
	free(dir);
}

/* the repair hook (mailutil repair) on a damaged file: a dry run reports
 * and changes nothing; with fix the junk goes to a side file and the
 * rebuilt file is the undamaged one byte for byte; UIDs that do not
 * increase are renumbered; a second run finds nothing */
static void test_repair_hook(void)
{
	char *dir = test_tmpdir();
	char *path = xasprintf("%s/r", dir);
	char *side = xasprintf("%s.badmsg.1", path);
	const char *err = NULL;
	struct mail_append_msg m[2] = {
		amsg("Subject: a\r\n\r\na\r\n", 0, NULL, 0, 0),
		amsg("Subject: b\r\n\r\nb\r\n", 0, NULL, 0, 0),
	};
	static const char junk[] = "JUNK between\r\n";
	struct mail_repair r;
	uint32_t uv, uids[2];
	size_t len, n;

	CHECK(mbx_driver.create(path, &err) == 0);
	CHECK(mbx_driver.append(path, m, 2, &uv, uids, &err) == 0);
	char *good = test_read_file(path, &len);
	char *msg2 = strstr(good + 2048 + 10, " 1-Jan-1970");
	CHECK(msg2 != NULL);
	size_t off2 = (size_t)(msg2 - good);

	/* junk spliced in before the second message */
	char *bad = xmalloc(len + sizeof(junk));
	memcpy(bad, good, off2);
	memcpy(bad + off2, junk, sizeof(junk) - 1);
	memcpy(bad + off2 + sizeof(junk) - 1, good + off2, len - off2);
	size_t badlen = len + sizeof(junk) - 1;
	write_file(path, bad, badlen);

	mail_repair_init(&r, path, false);
	CHECK(mbx_driver.repair(&r, &err) == 0);
	CHECK_INT(r.problems, 2);
	CHECK(r.report.data != NULL &&
	      strstr(r.report.data, "data between messages") != NULL &&
	      strstr(r.report.data, "would be saved to") != NULL);
	mail_repair_free(&r);
	char *now = test_read_file(path, &n);
	CHECK(n == badlen && memcmp(now, bad, n) == 0);
	free(now);
	CHECK(access(side, F_OK) < 0);

	mail_repair_init(&r, path, true);
	CHECK(mbx_driver.repair(&r, &err) == 0);
	CHECK_INT(r.problems, 2);
	CHECK_INT(r.nbad, 1);
	mail_repair_free(&r);
	now = test_read_file(path, &n);
	CHECK(n == len && memcmp(now, good, n) == 0);
	free(now);
	now = test_read_file(side, &n);
	CHECK(now != NULL && n == sizeof(junk) - 1 &&
	      memcmp(now, junk, n) == 0);
	free(now);

	mail_repair_init(&r, path, false);
	CHECK(mbx_driver.repair(&r, &err) == 0);
	CHECK_INT(r.problems, 0);
	mail_repair_free(&r);

	/* the second message has the first one's UID */
	memcpy(bad, good, len);
	char *crlf = strstr(bad + off2, "\r\n");
	char *crlf1 = strstr(bad + 2048, "\r\n");
	CHECK(crlf != NULL && crlf1 != NULL);
	memcpy(crlf - 8, crlf1 - 8, 8);
	write_file(path, bad, len);
	mail_repair_init(&r, path, true);
	CHECK(mbx_driver.repair(&r, &err) == 0);
	CHECK_INT(r.problems, 1);
	CHECK(r.report.data != NULL &&
	      strstr(r.report.data, "UIDs out of order") != NULL);
	mail_repair_free(&r);
	struct mailbox *mb = mbx_driver.open(path, 0, &err);
	CHECK(mb != NULL);
	if (mb != NULL) {
		CHECK_INT(mb->count, 2);
		CHECK_INT(mb->msgs[0].uid, 1);
		CHECK_INT(mb->msgs[1].uid, 2);
		mbx_driver.close(&mb);
	}

	/* a destroyed mailbox header: no probe takes it, mbx's claim does */
	memcpy(bad, good, len);
	memset(bad, 'x', 2048);
	write_file(path, bad, len);
	CHECK(driver_detect(path) == NULL);
	CHECK(driver_detect_damaged(path) == &mbx_driver);
	unlink(side);
	mail_repair_init(&r, path, true);
	CHECK(mbx_driver.repair(&r, &err) == 0);
	CHECK(r.problems >= 1 && r.nbad == 1);
	mail_repair_free(&r);
	CHECK(driver_detect(path) == &mbx_driver);
	mb = mbx_driver.open(path, 0, &err);
	CHECK(mb != NULL);
	if (mb != NULL) {
		CHECK_INT(mb->count, 2);
		mbx_driver.close(&mb);
	}
	free(bad);
	free(good);
	free(side);
	free(path);
	free(dir);
}

/* a crash at every step of a repair's rewrite: the next repair (which
 * finishes or undoes the interrupted change first) leaves the rebuilt
 * file, and the junk is in a side file; nothing is lost */
static void test_repair_crash(void)
{
	char *dir = test_tmpdir();
	char *path = xasprintf("%s/rc", dir);
	char *side = xasprintf("%s.badmsg.1", path);
	const char *err = NULL;
	struct mail_append_msg m[2] = {
		amsg("Subject: a\r\n\r\na\r\n", 0, NULL, 0, 0),
		amsg("Subject: b\r\n\r\nb\r\n", 0, NULL, 0, 0),
	};
	static const char junk[] = "JUNK between\r\n";
	struct mail_repair r;
	uint32_t uv, uids[2];
	size_t len, n;
	int crashes = 0;

	CHECK(mbx_driver.create(path, &err) == 0);
	CHECK(mbx_driver.append(path, m, 2, &uv, uids, &err) == 0);
	char *good = test_read_file(path, &len);
	char *msg2 = strstr(good + 2048 + 10, " 1-Jan-1970");
	CHECK(msg2 != NULL);
	size_t off2 = (size_t)(msg2 - good);
	char *bad = xmalloc(len + sizeof(junk));
	memcpy(bad, good, off2);
	memcpy(bad + off2, junk, sizeof(junk) - 1);
	memcpy(bad + off2 + sizeof(junk) - 1, good + off2, len - off2);
	size_t badlen = len + sizeof(junk) - 1;

	for (long point = 1; point < 40; point++) {
		char *cmd = xasprintf("rm -f '%s'.badmsg.*", path);
		CHECK(system(cmd) == 0);
		free(cmd);
		write_file(path, bad, badlen);
		pid_t pid = fork();
		if (pid == 0) {
			char v[32];
			snprintf(v, sizeof v, "%ld", point);
			setenv("CCLIENT_CRASH_POINT", v, 1);
			journal_crash_reset();
			mail_repair_init(&r, path, true);
			int rc = mbx_driver.repair(&r, &err);
			_exit(rc == 0 && r.problems == 2 ? 0 : 3);
		}
		int st;
		waitpid(pid, &st, 0);
		CHECK(WIFEXITED(st) && (WEXITSTATUS(st) == 0 ||
					WEXITSTATUS(st) == 99));
		if (WIFEXITED(st) && WEXITSTATUS(st) == 99)
			crashes++;
		mail_repair_init(&r, path, true);
		CHECK(mbx_driver.repair(&r, &err) == 0);
		mail_repair_free(&r);
		char *now = test_read_file(path, &n);
		if (n != len || memcmp(now, good, n) != 0)
			fprintf(stderr, "  crash point %ld: %zu bytes\n", point,
				n);
		CHECK(n == len && memcmp(now, good, n) == 0);
		free(now);
		now = test_read_file(side, &n);
		CHECK(now != NULL && n == sizeof(junk) - 1 &&
		      memcmp(now, junk, n) == 0);
		free(now);
		if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
			break;
	}
	CHECK(crashes >= 3);
	free(bad);
	free(good);
	free(side);
	free(path);
	free(dir);
}

int main(int argc, char **argv)
{
	static const struct test tests[] = {
		TEST(test_uw_fixture),
		TEST(test_create_matches_uw),
		TEST(test_append_roundtrip),
		TEST(test_two_sessions),
		TEST(test_store_merge),
		TEST(test_compact_many),
		TEST(test_corruption_reports),
		TEST(test_golden_append),
		TEST(test_uw_uid0_and_hidden),
		TEST(test_repair_hook),
		TEST(test_repair_crash),
	};
	return test_run(argc, argv, tests, N_ELEMENTS(tests));
}
