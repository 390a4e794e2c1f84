/*
 * test-search.c - SEARCH: every key, NOT/OR nesting, charsets, MIME
 * decoding, sequence sets, hostile criteria, and a 100,000-message run.
 *
 * Messages live in an in-test driver (fetch serves them from memory), so
 * these tests depend on no mailbox format.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "date.h"
#include "imap-arg.h"
#include "search.h"
#include "memdriver.h"
#include "test.h"

/* ---- an in-memory mailbox (memdriver.c) ---- */

#define fake_new memdriver_new
#define fake_free memdriver_free

/* add a message given with LF line ends; returns its slot */
static struct mail_message *fake_add(struct mailbox *mb, const char *text,
				     uint32_t uid, uint32_t flags,
				     const char *idate)
{
	struct mail_message *m = memdriver_add_lf(mb, text, uid, flags, idate);

	CHECK(m != NULL);
	return m != NULL ? m : &mb->msgs[mb->count - 1];
}

/* ---- the test mailbox ---- */

static const char msg1[] =
	"From: \"Alice Example\" <alice@example.com>\n"
	"To: bob@example.org\n"
	"Cc: carol@example.net\n"
	"Subject: Hello world\n"
	"Date: Mon, 7 Feb 1994 21:52:25 -0800\n"
	"\n"
	"plain body text here\n";

static const char msg2[] =
	"From: =?ISO-8859-1?Q?Andr=E9?= <andre@example.fr>\n"
	"To: bob@example.org\n"
	"Subject: =?UTF-8?B?w4ljb2xl?=\n"
	"Date: Tue, 8 Feb 1994 23:30:00 +0100\n"
	"MIME-Version: 1.0\n"
	"Content-Type: text/plain; charset=ISO-8859-1\n"
	"Content-Transfer-Encoding: quoted-printable\n"
	"\n"
	"caf=E9 cr=E8me br=FBl=\n"
	"=E9e\n";

static const char msg3[] =
	"From: Dave <dave@example.com>\n"
	"Bcc: dave@example.com\n"
	"X-Custom: Foo\n"
	" Bar\n"
	"Subject: Re: Hello world\n"
	"Date: Fri, 10 Mar 2000 23:00:00 -0500\n"
	"MIME-Version: 1.0\n"
	"Content-Type: multipart/mixed; boundary=\"XX\"\n"
	"\n"
	"preamble\n"
	"--XX\n"
	"Content-Type: text/plain\n"
	"Content-Transfer-Encoding: base64\n"
	"\n"
	"c2VjcmV0IGJhc2U2NCB3b3Jkcw0K\n"
	"--XX\n"
	"Content-Type: application/octet-stream\n"
	"Content-Transfer-Encoding: base64\n"
	"\n"
	"bmVlZGxlIGluIGF0dGFjaG1lbnQ=\n"
	"--XX\n"
	"Content-Type: message/rfc822\n"
	"\n"
	"Subject: inner subject\n"
	"\n"
	"inner body words\n"
	"--XX--\n";

static const char msg5[] =
	"From: =?UTF-8?Q?Stra=C3=9Fe?= <s@example.de>\n"
	"Subject: Zebra\n"
	"Content-Type: text/plain; charset=utf-8\n"
	"\n"
	"UTF-8 body: Gr\xc3\xbc\xc3\x9f" "e\n";

static struct mailbox *build(void)
{
	struct mailbox *mb = fake_new();
	struct mail_message *m;
	char now[64];
	struct buf b;

	mb->keywords[0] = xstrdup("$Important");
	mb->keywords[1] = xstrdup("Work");
	mb->nkeywords = 2;

	m = fake_add(mb, msg1, 10, MAIL_SEEN | MAIL_ANSWERED,
		     "07-Feb-1994 21:52:25 -0800");
	m->size = 1000;
	m = fake_add(mb, msg2, 20, MAIL_FLAGGED | MAIL_DELETED | MAIL_RECENT,
		     "08-Feb-1994 10:00:00 +0000");
	m->size = 2000;
	m->keywords = 1;
	m = fake_add(mb, msg3, 30, MAIL_DRAFT | MAIL_SEEN,
		     "10-Mar-2000 12:00:00 +0000");
	m->size = 3000;
	/* expunged: would match nearly everything, must never match */
	m = fake_add(mb, msg1, 40, MAIL_SEEN | MAIL_RECENT,
		     "07-Feb-1994 21:52:25 -0800");
	m->state = MSTATE_EXPUNGED;
	buf_init(&b, 0);
	date_format_imap((int64_t)time(NULL) - 100, 0, &b);
	snprintf(now, sizeof now, "%s", buf_cstr(&b));
	buf_release(&b);
	m = fake_add(mb, msg5, 50, MAIL_RECENT, now);
	m->size = 500;
	m->keywords = 2;
	return mb;
}

/* run criteria (as an IMAP command tail) and format the result */
static char *run(struct mailbox *mb, const char *charset, const char *criteria,
		 enum search_error *err_r)
{
	struct imap_args *args;
	struct search_key *k;
	const char *error = NULL;
	enum search_error err = SEARCH_OK;
	uint32_t *seqs, n;
	struct buf out;

	args = imap_args_parse(criteria, strlen(criteria), &error);
	if (args == NULL) {
		if (err_r != NULL)
			*err_r = SEARCH_BAD;
		return xstrdup("ARGS");
	}
	k = search_parse(imap_args_get(args), charset, &err, &error);
	if (err_r != NULL)
		*err_r = err;
	if (k == NULL) {
		imap_args_free(&args);
		return xstrdup(err == SEARCH_BADCHARSET ? "BADCHARSET" : "BAD");
	}
	CHECK(err == SEARCH_OK);
	n = search_run(mb, k, &seqs);
	buf_init(&out, 0);
	for (uint32_t i = 0; i < n; i++) {
		buf_printf(&out, "%s%u", i > 0 ? " " : "", seqs[i]);
		/* search_match must agree with search_run */
		CHECK(search_match(mb, seqs[i], k));
	}
	free(seqs);
	search_free(&k);
	CHECK(k == NULL);
	imap_args_free(&args);
	{ char *s = buf_steal(&out, NULL); buf_release(&out); return s; }
}

#define EXPECT(mb, cs, crit, want) do { \
	char *r_ = run(mb, cs, crit, NULL); \
	if (strcmp(r_, want) != 0) { test_failures++; \
		fprintf(stderr, "  %s:%d: SEARCH %s -> \"%s\", expected \"%s\"\n", \
			__FILE__, __LINE__, crit, r_, want); } \
	free(r_); } while (0)

static void test_search_flags(void)
{
	struct mailbox *mb = build();

	EXPECT(mb, NULL, "ALL", "1 2 3 5");
	EXPECT(mb, NULL, "ANSWERED", "1");
	EXPECT(mb, NULL, "UNANSWERED", "2 3 5");
	EXPECT(mb, NULL, "DELETED", "2");
	EXPECT(mb, NULL, "UNDELETED", "1 3 5");
	EXPECT(mb, NULL, "DRAFT", "3");
	EXPECT(mb, NULL, "UNDRAFT", "1 2 5");
	EXPECT(mb, NULL, "FLAGGED", "2");
	EXPECT(mb, NULL, "UNFLAGGED", "1 3 5");
	EXPECT(mb, NULL, "SEEN", "1 3");
	EXPECT(mb, NULL, "UNSEEN", "2 5");
	EXPECT(mb, NULL, "RECENT", "2 5");
	EXPECT(mb, NULL, "NEW", "2 5");
	EXPECT(mb, NULL, "OLD", "1 3");
	EXPECT(mb, NULL, "seen unanswered", "3");
	EXPECT(mb, NULL, "KEYWORD $Important", "2");
	EXPECT(mb, NULL, "KEYWORD $important", "2");
	EXPECT(mb, NULL, "UNKEYWORD $Important", "1 3 5");
	EXPECT(mb, NULL, "KEYWORD Work", "5");
	EXPECT(mb, NULL, "KEYWORD NoSuchKeyword", "");
	EXPECT(mb, NULL, "UNKEYWORD NoSuchKeyword", "1 2 3 5");
	EXPECT(mb, NULL, "KEYWORD \\Seen", "1 3");
	fake_free(&mb);
}

static void test_search_size_date(void)
{
	struct mailbox *mb = build();

	EXPECT(mb, NULL, "LARGER 1000", "2 3");
	EXPECT(mb, NULL, "SMALLER 1000", "5");
	EXPECT(mb, NULL, "LARGER 0", "1 2 3 5");
	EXPECT(mb, NULL, "SMALLER 0", "");
	EXPECT(mb, NULL, "LARGER 18446744073709551615", "");
	/* internal date in its own zone: 7 Feb (UTC: 8 Feb) */
	EXPECT(mb, NULL, "ON 7-Feb-1994", "1");
	EXPECT(mb, NULL, "ON \"8-Feb-1994\"", "2");
	EXPECT(mb, NULL, "BEFORE 8-Feb-1994", "1");
	EXPECT(mb, NULL, "SINCE 8-Feb-1994", "2 3 5");
	EXPECT(mb, NULL, "SINCE 10-Mar-2000 BEFORE 11-Mar-2000", "3");
	/* Date: header's own calendar day; no Date: never matches */
	EXPECT(mb, NULL, "SENTBEFORE 8-Feb-1994", "1");
	EXPECT(mb, NULL, "SENTON 8-Feb-1994", "2");
	EXPECT(mb, NULL, "SENTON 10-Mar-2000", "3");
	EXPECT(mb, NULL, "SENTON 11-Mar-2000", "");
	EXPECT(mb, NULL, "SENTSINCE 1-Jan-2000", "3");
	EXPECT(mb, NULL, "NOT SENTSINCE 1-Jan-2000", "1 2 5");
	/* WITHIN: message 5 arrived 100 seconds ago */
	EXPECT(mb, NULL, "YOUNGER 1000", "5");
	EXPECT(mb, NULL, "OLDER 1000", "1 2 3");
	EXPECT(mb, NULL, "OLDER 10", "1 2 3 5");
	fake_free(&mb);
}

static void test_search_headers(void)
{
	struct mailbox *mb = build();

	EXPECT(mb, NULL, "FROM alice", "1");
	EXPECT(mb, NULL, "from ALICE", "1");
	EXPECT(mb, NULL, "FROM \"Alice Example\"", "1");
	EXPECT(mb, NULL, "FROM \"alice@example.com\"", "1");
	/* RFC 2047 display names, and the raw address beside them */
	EXPECT(mb, "UTF-8", "FROM \"Andr\xc3\xa9\"", "2");
	EXPECT(mb, "UTF-8", "FROM \"ANDR\xc3\x89\"", "2");
	EXPECT(mb, NULL, "FROM andre@example.fr", "2");
	EXPECT(mb, "UTF-8", "FROM \"stra\xc3\x9f" "e\"", "5");
	EXPECT(mb, NULL, "TO bob", "1 2");
	EXPECT(mb, NULL, "CC carol", "1");
	EXPECT(mb, NULL, "BCC dave", "3");
	EXPECT(mb, NULL, "BCC nobody", "");
	EXPECT(mb, NULL, "SUBJECT hello", "1 3");
	EXPECT(mb, NULL, "SUBJECT \"\"", "1 2 3 5");
	EXPECT(mb, "UTF-8", "SUBJECT \"\xc3\xa9" "cole\"", "2");
	EXPECT(mb, "UTF-8", "SUBJECT {6}\r\n\xc3\x89" "cole", "2");
	/* folded header values are unfolded before matching */
	EXPECT(mb, NULL, "HEADER X-Custom \"foo bar\"", "3");
	EXPECT(mb, NULL, "HEADER x-custom \"\"", "3");
	EXPECT(mb, NULL, "HEADER Message-ID \"\"", "");
	EXPECT(mb, NULL, "HEADER Subject zebra", "5");
	fake_free(&mb);
}

static void test_search_body_text(void)
{
	struct mailbox *mb = build();

	EXPECT(mb, NULL, "BODY \"plain body\"", "1");
	EXPECT(mb, NULL, "BODY hello", "");
	EXPECT(mb, NULL, "TEXT hello", "1 3");
	EXPECT(mb, NULL, "TEXT alice", "1");
	/* quoted-printable (soft line break) + ISO-8859-1 */
	EXPECT(mb, "UTF-8", "BODY \"cr\xc3\xa8me br\xc3\xbbl\xc3\xa9" "e\"", "2");
	EXPECT(mb, "UTF-8", "BODY \"CR\xc3\x88ME\"", "2");
	EXPECT(mb, NULL, "BODY \"=E8\"", "");
	/* base64 text part; the octet-stream attachment is not text */
	EXPECT(mb, NULL, "BODY \"secret base64\"", "3");
	EXPECT(mb, NULL, "BODY c2VjcmV0", "");
	EXPECT(mb, NULL, "BODY needle", "");
	EXPECT(mb, NULL, "BODY preamble", "");
	/* an encapsulated message's header and body */
	EXPECT(mb, NULL, "BODY \"inner subject\"", "3");
	EXPECT(mb, NULL, "BODY \"inner body\"", "3");
	EXPECT(mb, "UTF-8", "TEXT \"gr\xc3\xbc\xc3\x9f" "e\"", "5");
	EXPECT(mb, NULL, "TEXT \"x-custom: foo bar\"", "3");
	fake_free(&mb);
}

static void test_search_charsets(void)
{
	struct mailbox *mb = build();
	enum search_error err;
	char *r;

	EXPECT(mb, "US-ASCII", "BODY plain", "1");
	EXPECT(mb, "us-ascii", "BODY plain", "1");
	EXPECT(mb, "ISO-8859-1", "BODY \"cr\xe8me\"", "2");
	EXPECT(mb, "ISO-8859-1", "FROM \"ANDR\xc9\"", "2");
	EXPECT(mb, "iso-8859-1", "SUBJECT \"\xc9" "cole\"", "2");
	r = run(mb, "X-NO-SUCH-CHARSET", "BODY x", &err);
	CHECK_STR(r, "BADCHARSET");
	CHECK(err == SEARCH_BADCHARSET);
	free(r);
	r = run(mb, "X-NO-SUCH-CHARSET", "ALL", &err);
	CHECK(err == SEARCH_BADCHARSET);
	free(r);
	fake_free(&mb);
}

static void test_search_sets(void)
{
	struct mailbox *mb = build();

	EXPECT(mb, NULL, "1:4294967295", "1 2 3 5");
	EXPECT(mb, NULL, "*", "5");
	EXPECT(mb, NULL, "2:*", "2 3 5");
	EXPECT(mb, NULL, "*:2", "2 3 5");
	EXPECT(mb, NULL, "*:4", "5");
	EXPECT(mb, NULL, "6:*", "5");	/* "*" is 5: the range is 5:6 */
	EXPECT(mb, NULL, "6:7", "");
	EXPECT(mb, NULL, "1,3", "1 3");
	EXPECT(mb, NULL, "3,1,2:2", "1 2 3");
	EXPECT(mb, NULL, "1:2,*", "1 2 5");
	EXPECT(mb, NULL, "UID 20:30", "2 3");
	EXPECT(mb, NULL, "UID *", "5");
	EXPECT(mb, NULL, "UID 45:*", "5");
	EXPECT(mb, NULL, "UID 100:*", "5");
	EXPECT(mb, NULL, "UID 1:4294967295", "1 2 3 5");
	/* 4294967295 is a UID, not "*": past the last UID it matches
	 * nothing (imaptest search-sets) */
	EXPECT(mb, NULL, "UID 4294967295", "");
	EXPECT(mb, NULL, "UID 51:4294967295", "");
	EXPECT(mb, NULL, "UID 51:*", "5");
	EXPECT(mb, NULL, "UID 4294967294", "");
	EXPECT(mb, NULL, "UID 10,50", "1 5");
	EXPECT(mb, NULL, "2:3 UID 30", "3");
	EXPECT(mb, NULL, "0", "BAD");
	EXPECT(mb, NULL, "1:", "BAD");
	EXPECT(mb, NULL, "UID 0:1", "BAD");
	EXPECT(mb, NULL, "UID", "BAD");
	EXPECT(mb, NULL, "UID abc", "BAD");
	EXPECT(mb, NULL, "$", "BAD");	/* SEARCHRES not supported */
	EXPECT(mb, NULL, "4294967296", "BAD");
	fake_free(&mb);
}

static void test_search_not_or(void)
{
	struct mailbox *mb = build();

	EXPECT(mb, NULL, "NOT SEEN", "2 5");
	EXPECT(mb, NULL, "NOT NOT SEEN", "1 3");
	EXPECT(mb, NULL, "OR SEEN FLAGGED", "1 2 3");
	EXPECT(mb, NULL, "OR ANSWERED DRAFT NOT FROM alice", "3");
	EXPECT(mb, NULL, "(OR ANSWERED DRAFT) NOT FROM alice", "3");
	EXPECT(mb, NULL, "OR (SEEN ANSWERED) (NOT NOT DELETED)", "1 2");
	EXPECT(mb, NULL, "NOT OR SEEN RECENT", "");
	EXPECT(mb, NULL, "OR OR ANSWERED DRAFT KEYWORD Work", "1 3 5");
	EXPECT(mb, NULL, "NOT (SEEN DRAFT)", "1 2 5");
	EXPECT(mb, NULL, "((((SEEN))))", "1 3");
	EXPECT(mb, NULL, "OR BODY secret SUBJECT zebra", "3 5");
	EXPECT(mb, NULL, "NOT BODY secret", "1 2 5");
	EXPECT(mb, NULL, "BODY secret SEEN", "3");
	EXPECT(mb, NULL, "OR (UID 10 TEXT hello) (2:3 NOT BODY secret)", "1 2");
	fake_free(&mb);
}

static void test_search_bad(void)
{
	struct mailbox *mb = build();
	struct buf b;

	EXPECT(mb, NULL, "FOO", "BAD");
	EXPECT(mb, NULL, "", "BAD");
	EXPECT(mb, NULL, "FROM", "BAD");
	EXPECT(mb, NULL, "OR SEEN", "BAD");
	EXPECT(mb, NULL, "NOT", "BAD");
	EXPECT(mb, NULL, "()", "BAD");
	EXPECT(mb, NULL, "BEFORE 32-Feb-1994", "BAD");
	EXPECT(mb, NULL, "BEFORE 1-Foo-1994", "BAD");
	EXPECT(mb, NULL, "BEFORE", "BAD");
	EXPECT(mb, NULL, "LARGER abc", "BAD");
	EXPECT(mb, NULL, "LARGER -1", "BAD");
	EXPECT(mb, NULL, "LARGER 99999999999999999999", "BAD");
	EXPECT(mb, NULL, "SMALLER", "BAD");
	EXPECT(mb, NULL, "HEADER", "BAD");
	EXPECT(mb, NULL, "HEADER X-Custom", "BAD");
	EXPECT(mb, NULL, "HEADER \"\" foo", "BAD");
	EXPECT(mb, NULL, "KEYWORD", "BAD");
	EXPECT(mb, NULL, "KEYWORD \"two words\"", "BAD");
	EXPECT(mb, NULL, "\"SEEN\"", "BAD");
	EXPECT(mb, NULL, "SEEN FOO", "BAD");
	EXPECT(mb, NULL, "YOUNGER x", "BAD");

	/* bounded nesting: 30 NOTs are fine, 200 are refused */
	buf_init(&b, 0);
	for (int i = 0; i < 30; i++)
		buf_puts(&b, "NOT ");
	buf_puts(&b, "SEEN");
	EXPECT(mb, NULL, buf_cstr(&b), "1 3");
	buf_reset(&b);
	for (int i = 0; i < 200; i++)
		buf_puts(&b, "NOT ");
	buf_puts(&b, "SEEN");
	EXPECT(mb, NULL, buf_cstr(&b), "BAD");
	buf_reset(&b);
	for (int i = 0; i < 5000; i++)
		buf_puts(&b, "OR SEEN ");
	buf_puts(&b, "SEEN");
	EXPECT(mb, NULL, buf_cstr(&b), "BAD");
	/* many keys side by side are fine (not nested) */
	buf_reset(&b);
	for (int i = 0; i < 5000; i++)
		buf_puts(&b, "OR SEEN DRAFT ");
	buf_puts(&b, "ALL");
	EXPECT(mb, NULL, buf_cstr(&b), "1 3");
	/* parenthesized nesting past the tokenizer's limit never gets here;
	 * just below it, the search depth limit still holds */
	buf_reset(&b);
	for (int i = 0; i < 60; i++)
		buf_puts(&b, "(NOT ");
	buf_puts(&b, "SEEN");
	for (int i = 0; i < 60; i++)
		buf_putc(&b, ')');
	{
		char *r = run(mb, NULL, buf_cstr(&b), NULL);
		CHECK(strcmp(r, "BAD") == 0 || strcmp(r, "ARGS") == 0);
		free(r);
	}
	buf_release(&b);
	fake_free(&mb);
}

/* random criteria: never crash; when valid, C and NOT (C) partition */
static void test_search_random(void)
{
	static const char *const words[] = {
		"(", ")", "NOT", "OR", "ALL", "SEEN", "UNSEEN", "RECENT", "NEW",
		"OLD", "DRAFT", "FROM alice", "SUBJECT hello", "BODY secret",
		"TEXT bar", "HEADER X-Custom foo", "LARGER 1500", "SMALLER 2500",
		"1:2", "*", "3:*", "UID 20:*", "KEYWORD Work", "UNKEYWORD Work",
		"ON 7-Feb-1994", "SENTSINCE 1-Jan-2000", "YOUNGER 1000", "FOO",
		"\"x\"", "BEFORE", "0", "OR OR", "NOT NOT NOT",
	};
	struct mailbox *mb = build();
	unsigned seed = 4242;
	struct buf b;
	unsigned valid = 0;

	buf_init(&b, 0);
	for (int round = 0; round < 3000; round++) {
		unsigned n;
		char *r1, *r2;
		enum search_error e1, e2;

		seed = seed * 1103515245 + 12345;
		n = 1 + (seed >> 8) % 12;
		buf_reset(&b);
		for (unsigned i = 0; i < n; i++) {
			seed = seed * 1103515245 + 12345;
			if (i > 0)
				buf_putc(&b, ' ');
			buf_puts(&b, words[(seed >> 8) % N_ELEMENTS(words)]);
		}
		r1 = run(mb, NULL, buf_cstr(&b), &e1);
		if (e1 == SEARCH_OK && strcmp(r1, "ARGS") != 0) {
			char *neg = xasprintf("NOT (%s)", buf_cstr(&b));
			uint32_t hits[8] = { 0 };
			char *tok, *save = NULL;

			valid++;
			r2 = run(mb, NULL, neg, &e2);
			CHECK(e2 == SEARCH_OK);
			for (tok = strtok_r(r1, " ", &save); tok != NULL;
			     tok = strtok_r(NULL, " ", &save))
				hits[atoi(tok) & 7]++;
			save = NULL;
			for (tok = strtok_r(r2, " ", &save); tok != NULL;
			     tok = strtok_r(NULL, " ", &save))
				hits[atoi(tok) & 7]++;
			for (int i = 1; i <= 5; i++)
				CHECK(hits[i] == (i == 4 ? 0 : 1));
			free(neg);
			free(r2);
		}
		free(r1);
	}
	CHECK(valid > 100);
	buf_release(&b);
	fake_free(&mb);
}

static void test_search_match_expunged(void)
{
	struct mailbox *mb = build();
	struct imap_args *args;
	struct search_key *k;
	enum search_error err;
	const char *error;

	args = imap_args_parse("ALL", 3, &error);
	k = search_parse(imap_args_get(args), NULL, &err, &error);
	CHECK(k != NULL);
	CHECK(search_match(mb, 1, k));
	CHECK(!search_match(mb, 4, k));
	CHECK(!search_match(mb, 0, k));
	CHECK(!search_match(mb, 6, k));
	search_free(&k);
	search_free(&k);	/* harmless on NULL */
	imap_args_free(&args);
	fake_free(&mb);
}

static void test_search_empty_mailbox(void)
{
	struct mailbox *mb = fake_new();

	EXPECT(mb, NULL, "ALL", "");
	EXPECT(mb, NULL, "*", "");
	EXPECT(mb, NULL, "UID *", "");
	EXPECT(mb, NULL, "1:4294967295", "");
	fake_free(&mb);
}

static void test_search_100k(void)
{
	struct mailbox *mb = fake_new();
	struct timespec t0, t1;
	char *r;
	double secs;

	for (uint32_t i = 1; i <= 100000; i++) {
		struct mail_message *m = fake_add(mb,
			i % 1000 == 0 ? "Subject: rare needle\n\nbody\n" :
			"Subject: common\n\nbody\n", i, i % 2 ? MAIL_SEEN : 0,
			NULL);
		m->internaldate = 700000000 + i;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = run(mb, NULL, "UNSEEN SUBJECT needle", NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	CHECK(strncmp(r, "1000 2000 3000 ", 15) == 0);
	CHECK(strlen(r) > 0 && strcmp(r + strlen(r) - 6, "100000") == 0);
	free(r);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	fprintf(stderr, "  100k header search: %.3f s\n", secs);
	CHECK(secs < 20.0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = run(mb, NULL, "TEXT rare BODY body", NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	CHECK(strncmp(r, "1000 2000 ", 10) == 0);
	free(r);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	fprintf(stderr, "  100k TEXT+BODY search: %.3f s\n", secs);
	CHECK(secs < 60.0);
	r = run(mb, NULL, "1:4294967295 UID 99999:* SEEN", NULL);
	CHECK_STR(r, "99999");
	free(r);
	fake_free(&mb);
}

/* FROM/TO/CC/BCC match the addresses, not only the raw text: an address
 * written with comments inside, a name given as a trailing comment, each
 * member and the name of a group, an encoded-word name (the inputs of
 * imaptest's search-addresses, plus a source route and RFC 2047) */
static void test_search_addresses(void)
{
	static const char *const msgs[] = {
		"From: user-from@domain.org\nTo: user-to@domain.org\n"
		"Cc: user-cc@domain.org\nBcc: user-bcc@domain.org\n\nbody\n",
		"From: RealFrom <user-from@domain.org>\n"
		"To: RealTo <user-to@domain.org>\nCc: RealCc <user-cc@domain.org>\n"
		"Bcc: RealBcc <user-bcc@domain.org>\n\nbody2\n",
		"From: <user-from (comment)@ (comment) domain.org>\n"
		"To: <user-to@domain.org>\nCc: <user-cc@domain.org>\n"
		"Bcc: <user-bcc@domain.org>\n\nbody3\n",
		"From: user-from@domain.org (RealFrom)\n"
		"To: user-to@domain.org (RealTo)\nCc: user-cc@domain.org (RealCc)\n"
		"Bcc: user-bcc@domain.org (RealBcc)\n\nbody4\n",
		"From: user-from1@domain.org, user-from2@domain.org\n"
		"Cc: user-cc@domain.org\n\nbody5\n",
		"From: RealFrom <user-from@domain.org>\n"
		"To: groupname: groupuser1@domain.org, groupuser2@domain.org;,\n"
		"  groupname2: groupuser3@domain.org;\n\nbody6\n",
		"From: RealFrom <user-from@domain.org>\nTo: groupname:;\n\nbody7\n",
		"From: =?UTF-8?Q?J=C3=B6rg?= <joerg@example.org>\n"
		"To: <@relay.example:routed (x) @example.net>\n\nbody8\n",
	};
	struct mailbox *mb = fake_new();

	for (size_t i = 0; i < N_ELEMENTS(msgs); i++)
		fake_add(mb, msgs[i], (uint32_t)i + 1, 0, NULL);
	EXPECT(mb, NULL, "FROM user-from@domain.org", "1 2 3 4 6 7");
	EXPECT(mb, NULL, "TO user-to@domain.org", "1 2 3 4");
	EXPECT(mb, NULL, "CC user-cc@domain.org", "1 2 3 4 5");
	EXPECT(mb, NULL, "BCC user-bcc@domain.org", "1 2 3 4");
	EXPECT(mb, NULL, "FROM realfrom", "2 4 6 7");
	EXPECT(mb, NULL, "BCC realbcc", "2 4");
	EXPECT(mb, NULL, "FROM ser-fro", "1 2 3 4 5 6 7");
	EXPECT(mb, NULL, "FROM ealfro", "2 4 6 7");
	EXPECT(mb, NULL, "FROM \"<user-from@domain.org>\"", "1 2 3 4 6 7");
	EXPECT(mb, NULL, "FROM \"realfrom <user-from@\"", "2 4 6 7");
	EXPECT(mb, NULL, "FROM user-from2", "5");
	EXPECT(mb, NULL, "TO groupname", "6 7");
	EXPECT(mb, NULL, "TO groupname2", "6");
	EXPECT(mb, NULL, "TO groupuser3", "6");
	EXPECT(mb, NULL, "TO groupuser4", "");
	EXPECT(mb, NULL, "HEADER TO \"\"", "1 2 3 4 6 7 8");
	EXPECT(mb, "UTF-8", "FROM J\xc3\xb6rg", "8");
	EXPECT(mb, NULL, "TO routed@example.net", "8");
	/* HEADER is the raw field, as RFC 3501 defines it */
	EXPECT(mb, NULL, "HEADER FROM user-from@domain.org", "1 2 4 6 7");
	fake_free(&mb);
}

int main(int argc, char **argv)
{
	static const struct test tests[] = {
		TEST(test_search_flags),
		TEST(test_search_size_date),
		TEST(test_search_headers),
		TEST(test_search_addresses),
		TEST(test_search_body_text),
		TEST(test_search_charsets),
		TEST(test_search_sets),
		TEST(test_search_not_or),
		TEST(test_search_bad),
		TEST(test_search_random),
		TEST(test_search_match_expunged),
		TEST(test_search_empty_mailbox),
		TEST(test_search_100k),
	};
	return test_run(argc, argv, tests, N_ELEMENTS(tests));
}
