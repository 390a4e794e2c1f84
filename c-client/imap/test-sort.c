/*
 * test-sort.c - SORT (RFC 5256, RFC 5957 DISPLAYFROM/DISPLAYTO): every
 * criterion alone and with REVERSE, multi-key sorts, ties broken by
 * sequence number, bad criteria.
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
static struct mailbox *build(void)
{
	struct mailbox *mb = fake_new();
	struct mail_message *m;

	m = fake_add(mb,
		"From: \"Zed\" <zed@a.example>\n"
		"To: \"Amy\" <amy@b.example>\n"
		"Cc: mike@c.example\n"
		"Subject: Re: beta\n"
		"Date: Thu, 2 Jan 2020 10:00:00 +0000\n"
		"\nbody\n", 1, 0, "05-Jan-2020 00:00:00 +0000");
	m->size = 300;
	m = fake_add(mb,
		"From: alice@x.example\n"
		"To: =?UTF-8?Q?=C3=89mile?= <emile@b.example>\n"
		"Subject: alpha\n"
		"Date: Fri, 3 Jan 2020 10:00:00 +0000\n"
		"\nbody\n", 2, 0, "01-Jan-2020 00:00:00 +0000");
	m->size = 100;
	m = fake_add(mb,
		"From: Bob <bob@x.example>\n"
		"To: carl@b.example\n"
		"Subject: [list] Fwd: Beta (fwd)\n"
		"\nbody\n", 3, 0, "04-Jan-2020 00:00:00 +0000");
	m->size = 200;
	m = fake_add(mb,
		"From: bob@x.example\n"
		"Subject: gamma\n"
		"Date: Thu, 2 Jan 2020 11:00:00 +0100\n"
		"\nbody\n", 4, 0, "02-Jan-2020 00:00:00 +0000");
	m->size = 200;
	return mb;
}

static char *sort_run(struct mailbox *mb, const char *criteria,
		      const uint32_t *in, uint32_t n)
{
	struct imap_args *args;
	const char *error = NULL;
	uint32_t *seqs;
	struct buf out;

	args = imap_args_parse(criteria, strlen(criteria), &error);
	if (args == NULL)
		return xstrdup("ARGS");
	seqs = xreallocarray(NULL, n + 1, sizeof *seqs);
	for (uint32_t i = 0; i < n; i++)
		seqs[i] = in != NULL ? in[i] : i + 1;
	buf_init(&out, 0);
	if (!sort_messages(mb, imap_args_get(args), seqs, n, &error)) {
		CHECK(error != NULL);
		buf_puts(&out, "BAD");
	} else {
		for (uint32_t i = 0; i < n; i++)
			buf_printf(&out, "%s%u", i > 0 ? " " : "", seqs[i]);
	}
	free(seqs);
	imap_args_free(&args);
	{ char *s = buf_steal(&out, NULL); buf_release(&out); return s; }
}

#define EXPECT(mb, crit, want) do { \
	char *r_ = sort_run(mb, crit, NULL, (mb)->count); \
	if (strcmp(r_, want) != 0) { test_failures++; \
		fprintf(stderr, "  %s:%d: SORT (%s) -> \"%s\", expected \"%s\"\n", \
			__FILE__, __LINE__, crit, r_, want); } \
	free(r_); } while (0)

static void test_sort_each(void)
{
	struct mailbox *mb = build();

	EXPECT(mb, "ARRIVAL", "2 4 3 1");
	EXPECT(mb, "REVERSE ARRIVAL", "1 3 4 2");
	/* 1 and 4 were sent at the same instant: sequence order */
	EXPECT(mb, "DATE", "1 4 2 3");
	EXPECT(mb, "REVERSE DATE", "3 2 1 4");
	EXPECT(mb, "SIZE", "2 3 4 1");
	EXPECT(mb, "REVERSE SIZE", "1 3 4 2");
	EXPECT(mb, "FROM", "2 3 4 1");
	EXPECT(mb, "REVERSE FROM", "1 3 4 2");
	EXPECT(mb, "TO", "4 1 3 2");
	EXPECT(mb, "REVERSE TO", "2 3 1 4");
	EXPECT(mb, "CC", "2 3 4 1");
	EXPECT(mb, "REVERSE CC", "1 2 3 4");
	EXPECT(mb, "SUBJECT", "2 1 3 4");
	EXPECT(mb, "REVERSE SUBJECT", "4 1 3 2");
	EXPECT(mb, "DISPLAYFROM", "2 3 4 1");
	EXPECT(mb, "REVERSE DISPLAYFROM", "1 4 3 2");
	EXPECT(mb, "DISPLAYTO", "4 1 3 2");
	EXPECT(mb, "REVERSE DISPLAYTO", "2 3 1 4");
	EXPECT(mb, "reverse arrival", "1 3 4 2");
	EXPECT(mb, "(REVERSE ARRIVAL)", "1 3 4 2");
	fake_free(&mb);
}

static void test_sort_multi(void)
{
	struct mailbox *mb = build();

	EXPECT(mb, "SUBJECT REVERSE DATE", "2 3 1 4");
	EXPECT(mb, "SUBJECT DATE", "2 1 3 4");
	EXPECT(mb, "SIZE FROM", "2 3 4 1");
	EXPECT(mb, "SIZE REVERSE ARRIVAL", "2 3 4 1");
	EXPECT(mb, "SIZE ARRIVAL", "2 4 3 1");
	EXPECT(mb, "FROM SUBJECT", "2 3 4 1");
	EXPECT(mb, "REVERSE FROM REVERSE SUBJECT", "1 4 3 2");
	/* a subset, in any order */
	{
		static const uint32_t sub[] = { 3, 1 };
		char *r = sort_run(mb, "SIZE", sub, 2);
		CHECK_STR(r, "3 1");
		free(r);
	}
	fake_free(&mb);
}

static void test_sort_bad(void)
{
	struct mailbox *mb = build();
	struct buf canon;
	struct imap_args *args;
	const char *error;

	EXPECT(mb, "FOO", "BAD");
	EXPECT(mb, "REVERSE", "BAD");
	EXPECT(mb, "DATE REVERSE", "BAD");
	EXPECT(mb, "REVERSE REVERSE DATE", "BAD");
	EXPECT(mb, "\"DATE\"", "BAD");
	EXPECT(mb, "(DATE (SIZE))", "BAD");
	EXPECT(mb, "()", "BAD");

	buf_init(&canon, 0);
	args = imap_args_parse("reverse date Subject", 20, &error);
	CHECK(sort_parse(imap_args_get(args), &canon, &error));
	CHECK_STR(buf_cstr(&canon), "REVERSE DATE SUBJECT");
	imap_args_free(&args);
	args = imap_args_parse("DATE FOO", 8, &error);
	CHECK(!sort_parse(imap_args_get(args), NULL, &error));
	imap_args_free(&args);
	buf_release(&canon);
	fake_free(&mb);
}

static void test_sort_empty_and_hostile(void)
{
	struct mailbox *mb = fake_new();
	struct buf b;
	char *r;

	EXPECT(mb, "DATE", "");
	/* headers a parser may choke on still sort, by sequence */
	fake_add(mb, "From: <<<@@@>>>\nTo: ,,,\nCc: :;\nDate: garbage\n"
		 "Subject: =?x?q?broken\n\nb\n", 1, 0, NULL);
	fake_add(mb, "No header at all", 2, 0, NULL);
	fake_add(mb, "From: \"unterminated\nSubject: Re: Re: RE: [x] re:\n\n", 3,
		 0, NULL);
	EXPECT(mb, "FROM TO CC DATE SUBJECT DISPLAYFROM DISPLAYTO", "2 1 3");
	EXPECT(mb, "REVERSE SIZE", "1 3 2");
	/* criteria count is bounded */
	buf_init(&b, 0);
	for (int i = 0; i < 100; i++)
		buf_puts(&b, i > 0 ? " DATE" : "DATE");
	r = sort_run(mb, buf_cstr(&b), NULL, mb->count);
	CHECK_STR(r, "BAD");
	free(r);
	buf_release(&b);
	fake_free(&mb);
}

static void test_sort_100k(void)
{
	struct mailbox *mb = fake_new();
	struct timespec t0, t1;
	char *r;
	double secs;

	for (uint32_t i = 1; i <= 100000; i++) {
		char text[128];
		struct mail_message *m;

		snprintf(text, sizeof text, "Subject: s%u\nFrom: u%u@x\n\nb\n",
			 (i * 7919) % 1000, i % 100);
		m = fake_add(mb, text, i, 0, NULL);
		m->internaldate = 700000000 - (int64_t)i;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = sort_run(mb, "SUBJECT FROM", NULL, mb->count);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	free(r);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	fprintf(stderr, "  100k SUBJECT FROM sort: %.3f s\n", secs);
	CHECK(secs < 30.0);
	r = sort_run(mb, "ARRIVAL", NULL, 3);
	CHECK_STR(r, "3 2 1");
	free(r);
	fake_free(&mb);
}

/* FROM/TO/CC sort by the addr-mailbox of the first address only (the
 * host does not count), i;ascii-casemap; a group's first address is
 * the group's name; REVERSE leaves the sequence tie break ascending
 * (the inputs of imaptest's sort-addresses, plus case) */
static void test_sort_addresses(void)
{
	struct mailbox *mb = fake_new();

	fake_add(mb, "From: user2@domain2.org\nTo: foo bar <user2@domain2.org>\n"
		 "Cc: user2@domain2.org (foo bar)\n\n1\n", 1, 0,
		 "22-Feb-2008 00:06:23 +0000");
	fake_add(mb, "From: user2@domain1.org\nTo: user2@domain1.org\n"
		 "Cc: user2: blah@domain1.org;\n\n2\n", 2, 0,
		 "22-Feb-2008 01:06:23 +0000");
	fake_add(mb, "From: user1@domain1.org\nTo: user1@domain1.org\n"
		 "Cc: user1@domain1.org\n\n3\n", 3, 0,
		 "22-Feb-2008 02:06:23 +0000");
	fake_add(mb, "From: USER15@a\nTo: zz-undisclosed:;\n"
		 "Cc: user0@z, user9@a\n\n4\n", 4, 0,
		 "22-Feb-2008 03:06:23 +0000");
	EXPECT(mb, "FROM", "3 4 1 2");
	EXPECT(mb, "TO", "3 1 2 4");
	EXPECT(mb, "CC", "4 3 1 2");
	EXPECT(mb, "REVERSE FROM", "1 2 4 3");
	EXPECT(mb, "REVERSE TO", "4 1 2 3");
	EXPECT(mb, "REVERSE CC", "1 2 3 4");
	EXPECT(mb, "CC REVERSE ARRIVAL", "4 3 2 1");
	EXPECT(mb, "TO REVERSE ARRIVAL", "3 2 1 4");
	fake_free(&mb);
}

int main(int argc, char **argv)
{
	static const struct test tests[] = {
		TEST(test_sort_each),
		TEST(test_sort_multi),
		TEST(test_sort_addresses),
		TEST(test_sort_bad),
		TEST(test_sort_empty_and_hostile),
		TEST(test_sort_100k),
	};
	return test_run(argc, argv, tests, N_ELEMENTS(tests));
}
