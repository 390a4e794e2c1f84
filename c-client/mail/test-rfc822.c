/* test-rfc822.c - header access, addresses, envelopes, base subject */
#include <stdlib.h>
#include <time.h>

#include "rfc822.h"
#include "test.h"

static void test_header_next(void)
{
	static const char hdr[] =
		"From: a@example.com\r\n"
		"Subject: folded\r\n\tsubject\r\n"
		"junk line without colon\r\n"
		" orphan continuation? no: part of junk\r\n"
		"X-Empty:\r\n"
		"X-Spaced  :  value  \r\n"
		"bad name: x\r\n"
		"\r\n"
		"Body: not a header\r\n";
	size_t pos = 0, nl, vl;
	const char *n, *v;

	CHECK(rfc822_header_next(hdr, sizeof hdr - 1, &pos, &n, &nl, &v, &vl));
	CHECK_INT(nl, 4);
	CHECK(memcmp(n, "From", 4) == 0);
	CHECK_INT(vl, 13);
	CHECK(memcmp(v, "a@example.com", 13) == 0);
	CHECK(rfc822_header_next(hdr, sizeof hdr - 1, &pos, &n, &nl, &v, &vl));
	CHECK_INT(vl, 16);
	CHECK(memcmp(v, "folded\r\n\tsubject", 16) == 0);
	CHECK(rfc822_header_next(hdr, sizeof hdr - 1, &pos, &n, &nl, &v, &vl));
	CHECK_INT(nl, 7);
	CHECK(memcmp(n, "X-Empty", 7) == 0);
	CHECK_INT(vl, 0);
	CHECK(rfc822_header_next(hdr, sizeof hdr - 1, &pos, &n, &nl, &v, &vl));
	CHECK_INT(nl, 8);
	CHECK(memcmp(n, "X-Spaced", 8) == 0);
	CHECK_INT(vl, 7);
	CHECK(!rfc822_header_next(hdr, sizeof hdr - 1, &pos, &n, &nl, &v, &vl));
	CHECK(!rfc822_header_next(hdr, sizeof hdr - 1, &pos, &n, &nl, &v, &vl));

	/* LF only, no final newline, NUL in a value */
	static const char lf[] = "A: 1\nB: x\0y\n continued";
	pos = 0;
	CHECK(rfc822_header_next(lf, sizeof lf - 1, &pos, &n, &nl, &v, &vl));
	CHECK(memcmp(v, "1", 1) == 0 && vl == 1);
	CHECK(rfc822_header_next(lf, sizeof lf - 1, &pos, &n, &nl, &v, &vl));
	CHECK_INT(vl, 14);
	CHECK(!rfc822_header_next(lf, sizeof lf - 1, &pos, &n, &nl, &v, &vl));
	/* the length bound: a field cut in the middle */
	pos = 0;
	CHECK(rfc822_header_next(lf, 7, &pos, &n, &nl, &v, &vl));
	CHECK(rfc822_header_next(lf, 7, &pos, &n, &nl, &v, &vl));
	CHECK_INT(vl, 0);
	CHECK_INT(pos, 7);
	pos = 0;
	CHECK(!rfc822_header_next("", 0, &pos, &n, &nl, &v, &vl));
}

static void test_header_size(void)
{
	CHECK_INT(rfc822_header_size("A: b\r\n\r\nbody", 12), 8);
	CHECK_INT(rfc822_header_size("A: b\n\nbody", 10), 6);
	CHECK_INT(rfc822_header_size("A: b\n\r\nbody", 11), 7);
	CHECK_INT(rfc822_header_size("\r\nbody", 6), 2);
	CHECK_INT(rfc822_header_size("A: b\r\n", 6), 6);
	CHECK_INT(rfc822_header_size("A: b", 4), 4);
	CHECK_INT(rfc822_header_size("", 0), 0);
	/* a lone CR line is not a blank line */
	CHECK_INT(rfc822_header_size("A: b\r\r\nC: d\r\n\r\n", 15), 15);
	/* a blank line past len is not seen */
	CHECK_INT(rfc822_header_size("A: b\r\n\r\n", 7), 7);
}

static void test_header_get_fields(void)
{
	static const char hdr[] =
		"Received: one\r\n"
		"subject: first\r\n  folded\r\n"
		"Subject: second\r\n"
		"To: x@y\r\n"
		"X-Last: no newline";
	struct buf b;
	size_t len = sizeof hdr - 1;

	buf_init(&b, 0);
	CHECK(rfc822_header_get(hdr, len, "SUBJECT", &b));
	CHECK_STR(b.data, "first  folded");
	CHECK(rfc822_header_get(hdr, len, "x-last", &b));
	CHECK_STR(b.data, "no newline");
	buf_puts(&b, "stale");
	CHECK(!rfc822_header_get(hdr, len, "Cc", &b));
	CHECK_INT(b.len, 0);
	CHECK(!rfc822_header_get(hdr, len, "Subjec", &b));

	const char *names[] = { "subject", "X-LAST" };
	buf_reset(&b);
	rfc822_header_fields(hdr, len, names, 2, false, &b);
	CHECK_STR(b.data, "subject: first\r\n  folded\r\nSubject: second\r\n"
		  "X-Last: no newline\r\n\r\n");
	buf_reset(&b);
	rfc822_header_fields(hdr, len, names, 2, true, &b);
	CHECK_STR(b.data, "Received: one\r\nTo: x@y\r\n\r\n");
	buf_reset(&b);
	rfc822_header_fields(hdr, len, names, 0, false, &b);
	CHECK_STR(b.data, "\r\n");
	/* original bytes kept, LF-only lines too */
	buf_reset(&b);
	rfc822_header_fields("A: 1\nB: 2\n\tx\n\nC: 3\n", 19,
			     (const char *[]){ "b", "c" }, 2, false, &b);
	CHECK_STR(b.data, "B: 2\n\tx\n\r\n");

	buf_reset(&b);
	rfc822_unfold("a\r\n b\n\tc\r\nd", 12, &b);
	CHECK_STR(b.data, "a b\tc\r\nd");
	buf_release(&b);
}

/* render an address list as "personal|adl|mailbox|host;..." */
static char *alist(const char *s)
{
	struct address *a = rfc822_parse_addresses(s, strlen(s)), *p;
	struct buf b;

	buf_init(&b, 0);
	for (p = a; p != NULL; p = p->next)
		buf_printf(&b, "%s|%s|%s|%s;", p->personal ? p->personal : "-",
			   p->adl ? p->adl : "-", p->mailbox ? p->mailbox : "-",
			   p->host ? p->host : "-");
	rfc822_free_addresses(&a);
	CHECK(a == NULL);
	char *r = buf_steal(&b, NULL);

	buf_release(&b);
	return r;
}

#define CHECK_ADDR(in, want) do { char *r_ = alist(in); \
	CHECK_STR(r_, want); free(r_); } while (0)

static void test_addresses(void)
{
	CHECK_ADDR("", "");
	CHECK_ADDR("   ", "");
	CHECK_ADDR("a@b", "-|-|a|b;");
	CHECK_ADDR("Joe <joe@example.com>", "Joe|-|joe|example.com;");
	CHECK_ADDR("\"Doe, John\" <john@example.com>, x@y",
		   "Doe, John|-|john|example.com;-|-|x|y;");
	CHECK_ADDR("\"a \\\"q\\\" b\" <a@b>", "a \"q\" b|-|a|b;");
	CHECK_ADDR("John Q. Public <jqp@example.com>",
		   "John Q. Public|-|jqp|example.com;");
	CHECK_ADDR("=?utf-8?q?J=C3=BC?= <j@x>", "=?utf-8?q?J=C3=BC?=|-|j|x;");
	CHECK_ADDR("joe@example.com (Joe Bloggs)",
		   "Joe Bloggs|-|joe|example.com;");
	CHECK_ADDR("joe@example.com (Joe (the) \\) Bloggs)",
		   "Joe (the) ) Bloggs|-|joe|example.com;");
	CHECK_ADDR("(comment) Mary <mary@[192.0.2.1]>",
		   "Mary|-|mary|[192.0.2.1];");
	CHECK_ADDR("<@r1.example,@r2.example:joe@example.com>",
		   "-|@r1.example,@r2.example|joe|example.com;");
	CHECK_ADDR("Joe <@r1,,@r2 : joe@x>", "Joe|@r1,@r2|joe|x;");
	CHECK_ADDR("joe . doe @ example . com", "-|-|joe.doe|example.com;");
	CHECK_ADDR("\"odd local\"@example.com", "-|-|odd local|example.com;");
	CHECK_ADDR("postmaster", "-|-|postmaster|.MISSING-HOST-NAME.;");
	CHECK_ADDR("joe@", "-|-|joe|.MISSING-HOST-NAME.;");
	CHECK_ADDR("<>", "-|-||;");
	CHECK_ADDR("Joe <joe@x", "Joe|-|joe|x;");
	CHECK_ADDR("Joe <joe@x, b@c", "Joe|-|joe|x;-|-|b|c;");
	CHECK_ADDR(",,a@b,,,c@d,", "-|-|a|b;-|-|c|d;");
	/* groups */
	CHECK_ADDR("undisclosed-recipients:;", "-|-|undisclosed-recipients|-;-|-|-|-;");
	CHECK_ADDR("Friends: a@b, Bob <c@d>;, e@f",
		   "-|-|Friends|-;-|-|a|b;Bob|-|c|d;-|-|-|-;-|-|e|f;");
	CHECK_ADDR("G: a@b", "-|-|G|-;-|-|a|b;-|-|-|-;");
	CHECK_ADDR("G: a@b; H: ;", "-|-|G|-;-|-|a|b;-|-|-|-;-|-|H|-;-|-|-|-;");
	CHECK_ADDR("G: H: a@b;", "-|-|G|-;-|-|H|.MISSING-HOST-NAME.;-|-|a|b;-|-|-|-;");
	CHECK_ADDR("a@b;", "-|-|a|b;");
	/* hostile bits */
	CHECK_ADDR("\"unterminated <a@b>", "-|-|unterminated <a@b>|.MISSING-HOST-NAME.;");
	CHECK_ADDR("(unterminated <a@b>", "");
	CHECK_ADDR("a@b (unterminated", "unterminated|-|a|b;");
	CHECK_ADDR(")]>@:;.", "");
	CHECK_ADDR("a\r\n b@c", "-|-|ab|c;");
	CHECK_ADDR("J\xc3\xb6rg <j@x>", "J\xc3\xb6rg|-|j|x;");
	/* NUL within the length is whitespace to us */
	struct address *a = rfc822_parse_addresses("a\0@b", 4);
	CHECK(a != NULL && strcmp(a->mailbox, "a") == 0 &&
	      strcmp(a->host, "b") == 0);
	rfc822_free_addresses(&a);
	/* the length bound */
	a = rfc822_parse_addresses("a@bcd", 3);
	CHECK(a != NULL && strcmp(a->host, "b") == 0);
	rfc822_free_addresses(&a);
}

static void test_envelope(void)
{
	static const char hdr[] =
		"Date: Sun, 22 Nov 2026 02:14:16 +0000\r\n"
		"From: Noah <noah@example.edu>\r\n"
		"To: a@b,\r\n c@d\r\n"
		"Subject: hello\r\n"
		"\tworld  \r\n"
		"Sender:   \r\n"
		"Cc: \r\n"
		"In-Reply-To: <x@y>\r\n"
		"Message-ID: <m@id>\r\n"
		"Message-ID: <second@id>\r\n"
		"\r\n";
	struct envelope *e = rfc822_parse_envelope(hdr, sizeof hdr - 1);

	CHECK_STR(e->date, "Sun, 22 Nov 2026 02:14:16 +0000");
	CHECK_STR(e->subject, "hello\tworld");
	CHECK(e->from != NULL && strcmp(e->from->mailbox, "noah") == 0);
	/* empty Sender and absent Reply-To are From (copies) */
	CHECK(e->sender != NULL && e->sender != e->from &&
	      strcmp(e->sender->personal, "Noah") == 0);
	CHECK(e->reply_to != NULL && strcmp(e->reply_to->host, "example.edu") == 0);
	CHECK(e->to != NULL && e->to->next != NULL &&
	      strcmp(e->to->next->mailbox, "c") == 0);
	CHECK(e->cc == NULL);
	CHECK(e->bcc == NULL);
	CHECK_STR(e->in_reply_to, "<x@y>");
	CHECK_STR(e->message_id, "<m@id>");
	rfc822_free_envelope(&e);
	CHECK(e == NULL);
	rfc822_free_envelope(&e);

	e = rfc822_parse_envelope("", 0);
	CHECK(e->from == NULL && e->sender == NULL && e->subject == NULL);
	rfc822_free_envelope(&e);

	/* the header ends at the blank line */
	static const char two[] = "Subject: a\r\n\r\nFrom: x@y\r\n";
	e = rfc822_parse_envelope(two, sizeof two - 1);
	CHECK(e->from == NULL);
	rfc822_free_envelope(&e);
}

static void base(const char *in, const char *want)
{
	struct buf b;

	buf_init(&b, 0);
	rfc822_base_subject(in, strlen(in), &b);
	CHECK_STR(b.data, want);
	buf_release(&b);
}

static void test_base_subject(void)
{
	base("", "");
	base("hello", "hello");
	base("Re: hello", "hello");
	base("RE: Re: re:hello", "hello");
	base("Fwd: hello", "hello");
	base("Fw: hello", "hello");
	base("Re[2]: hello", "hello");
	base("Re [2]: hello", "hello");
	base("[list] Re: hello", "hello");
	base("Re: [list] Re: hello", "hello");
	base("[list]", "[list]");
	base("Re: [list]", "[list]");
	base("hello (fwd)", "hello");
	base("hello (FWD) (fwd)  ", "hello");
	base("[Fwd: hello]", "hello");
	base("[fwd: Re: hello (fwd)]", "hello");
	base("  lots   of\t\tspace  ", "lots of space");
	base("Reply: not a leader", "Reply: not a leader");
	base("Re hello", "Re hello");
	base("=?utf-8?q?Re:_caf=C3=A9?=", "caf\xc3\xa9");
	base("re: [unterminated blob", "[unterminated blob");
	base("Re:", "");
	base("[a][b][c] x", "x");
}

static void test_hostile(void)
{
	size_t n = 1024 * 1024;
	char *big = xmalloc(n + 100);
	struct buf b;
	struct address *a;
	struct envelope *e;

	buf_init(&b, 0);
	/* one 1 MB header line */
	memcpy(big, "Subject: ", 9);
	memset(big + 9, 'x', n - 9);
	e = rfc822_parse_envelope(big, n);
	CHECK(e->subject != NULL && strlen(e->subject) == n - 9);
	rfc822_free_envelope(&e);
	CHECK_INT(rfc822_header_size(big, n), n);
	/* 10,000-deep comment nesting and unbalanced parens */
	memcpy(big, "To: ", 4);
	memset(big + 4, '(', 10000);
	memset(big + 10004, ')', 10000);
	memcpy(big + 20004, " a@b", 4);
	a = rfc822_parse_addresses(big + 4, 20004);
	CHECK(a != NULL && strcmp(a->mailbox, "a") == 0);
	rfc822_free_addresses(&a);
	memset(big, '(', n);
	a = rfc822_parse_addresses(big, n);
	CHECK(a == NULL);
	memset(big, '"', n);
	a = rfc822_parse_addresses(big, n);
	rfc822_free_addresses(&a);
	memset(big, '<', n);
	a = rfc822_parse_addresses(big, n);
	rfc822_free_addresses(&a);
	memset(big, ':', n);
	a = rfc822_parse_addresses(big, n);
	rfc822_free_addresses(&a);
	memset(big, '\0', n);
	a = rfc822_parse_addresses(big, n);
	CHECK(a == NULL);
	CHECK_INT(rfc822_header_size(big, n), n);
	/* 100,000 addresses */
	for (size_t i = 0; i + 10 <= n; i += 10)
		memcpy(big + i, "a@b.c, x:;", 10);
	a = rfc822_parse_addresses(big, n);
	unsigned count = 0;
	for (struct address *p = a; p != NULL; p = p->next)
		count++;
	CHECK_INT(count, n / 10 * 3);
	rfc822_free_addresses(&a);
	/* many tiny lines, lone CRs, NULs */
	for (size_t i = 0; i < n; i++)
		big[i] = "A:\r\r\n\0\n \n"[i % 10];
	e = rfc822_parse_envelope(big, n);
	rfc822_free_envelope(&e);
	buf_reset(&b);
	rfc822_header_fields(big, n, (const char *[]){ "a" }, 1, true, &b);
	/* base subject of junk */
	memset(big, '[', n);
	buf_reset(&b);
	rfc822_base_subject(big, n, &b);
	CHECK_INT(b.len, n);
	for (size_t i = 0; i < n; i++)
		big[i] = "Re: "[i % 4];
	buf_reset(&b);
	rfc822_base_subject(big, n, &b);
	CHECK_INT(b.len, 0);
	for (size_t i = 0; i < n; i++)
		big[i] = "[x]"[i % 3];
	buf_reset(&b);
	rfc822_base_subject(big, n - n % 3, &b);
	CHECK_INT(b.len, 3);
	free(big);
	buf_release(&b);
}

/* envelopes of 100,000 messages are parsed for one FETCH */
static void test_envelope_speed(void)
{
	static const char hdr[] =
		"Return-Path: <noah.davis@univ.example.edu>\r\n"
		"Received: from mail.example.com by mx.example.org with ESMTP id 1234\r\n"
		"\tfor <mason.lopez@mail.example.com>; Tue, 1 Jan 2019 00:27:14 +0000\r\n"
		"Date: Tue, 1 Jan 2019 00:27:14 +0000\r\n"
		"From: Noah Davis <noah.davis@univ.example.edu>\r\n"
		"To: Mason Lopez <mason.lopez@mail.example.com>, \"Heidi Green\" <heidi@example.com>\r\n"
		"Cc: erin.thomas@dev.example.io, Olivia Lopez <olivia.lopez@example.net>\r\n"
		"Subject: Proposal for storage expansion\r\n"
		"Message-ID: <1546302434.b7f1cd48.0@univ.example.edu>\r\n"
		"MIME-Version: 1.0\r\n"
		"Content-Type: text/plain; charset=us-ascii; format=flowed\r\n"
		"Status: RO\r\nX-Status: \r\nX-Keywords: \r\nX-UID: 1\r\n\r\n";
	clock_t t0 = clock();

	for (int i = 0; i < 100000; i++) {
		struct envelope *e = rfc822_parse_envelope(hdr, sizeof hdr - 1);
		rfc822_free_envelope(&e);
	}
	double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
	fprintf(stderr, "  100000 envelopes: %.2f s\n", secs);
	CHECK(secs < 20);	/* generous: sanitizer builds are slow */
}

int main(int argc, char **argv)
{
	static const struct test tests[] = {
		TEST(test_header_next),
		TEST(test_header_size),
		TEST(test_header_get_fields),
		TEST(test_addresses),
		TEST(test_envelope),
		TEST(test_base_subject),
		TEST(test_hostile),
		TEST(test_envelope_speed),
	};
	return test_run(argc, argv, tests, N_ELEMENTS(tests));
}
