/*
 * test-thread.c - THREAD (RFC 5256): ORDEREDSUBJECT and REFERENCES,
 * including the RFC's example tree, dummies, subject merging, and
 * crafted reference loops, duplicates and very deep or wide threads
 * (which must neither hang nor crash).
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
/* one message: id, references, in-reply-to (NULL = no such field) */
static void add(struct mailbox *mb, uint32_t uid, const char *msgid,
		const char *refs, const char *irt, const char *subject,
		int day)
{
	struct buf b;

	buf_init(&b, 0);
	if (msgid != NULL)
		buf_printf(&b, "Message-ID: %s\n", msgid);
	if (refs != NULL)
		buf_printf(&b, "References: %s\n", refs);
	if (irt != NULL)
		buf_printf(&b, "In-Reply-To: %s\n", irt);
	if (subject != NULL)
		buf_printf(&b, "Subject: %s\n", subject);
	if (day > 0)
		buf_printf(&b, "Date: %d Jan 2020 12:00:00 +0000\n", day);
	buf_puts(&b, "\nbody\n");
	fake_add(mb, buf_cstr(&b), uid, 0, "01-Jan-2019 00:00:00 +0000");
	buf_release(&b);
}

static char *thread(struct mailbox *mb, const char *alg, bool use_uid)
{
	uint32_t *seqs = xreallocarray(NULL, mb->count + 1, sizeof *seqs);
	const char *error = NULL;
	struct buf out;

	for (uint32_t i = 0; i < mb->count; i++)
		seqs[i] = i + 1;
	buf_init(&out, 0);
	if (!thread_messages(mb, alg, seqs, mb->count, use_uid, &out, &error)) {
		CHECK(error != NULL);
		buf_reset(&out);
		buf_puts(&out, "BAD");
	}
	free(seqs);
	{ char *s = buf_steal(&out, NULL); buf_release(&out); return s; }
}

#define EXPECT(mb, alg, uid, want) do { \
	char *r_ = thread(mb, alg, uid); \
	if (strcmp(r_, want) != 0) { test_failures++; \
		fprintf(stderr, "  %s:%d: THREAD %s -> \"%s\", expected \"%s\"\n", \
			__FILE__, __LINE__, alg, r_, want); } \
	free(r_); } while (0)

/* the tree of the RFC 5256 example response, with UIDs */
static void test_thread_rfc_example(void)
{
	struct mailbox *mb = fake_new();

	add(mb, 2, "<2@x>", NULL, NULL, "two", 1);
	add(mb, 3, "<3@x>", NULL, NULL, "three", 2);
	add(mb, 4, "<4@x>", "<3@x> <6@x>", NULL, "Re: three", 4);
	add(mb, 6, "<6@x>", "<3@x>", NULL, "Re: three", 3);
	add(mb, 7, "<7@x>", "<6@x>\n <44@x>", NULL, "Re: three", 7);
	add(mb, 23, "<23@x>", "<3@x> <6@x> <4@x>", NULL, "Re: three", 5);
	add(mb, 44, "<44@x>", NULL, "<6@x> (comment)", "Re: three", 6);
	add(mb, 96, "<96@x>", "<44@x> <7@x>", NULL, "Re: three", 8);
	EXPECT(mb, "REFERENCES", true, "(2)(3 6 (4 23)(44 7 96))");
	EXPECT(mb, "references", false, "(1)(2 4 (3 6)(7 5 8))");
	EXPECT(mb, "FOO", false, "BAD");
	fake_free(&mb);
}

/* RFC 5256 3 step 1.B: the current parent link is broken even when the
 * new one (to the last reference) is refused because it would make a
 * loop (imaptest thread: <b> names <a> <c>, then <c> names <b>) */
static void test_thread_relink(void)
{
	struct mailbox *mb = fake_new();

	add(mb, 1, "<a@b>", NULL, NULL, NULL, 0);
	mb->msgs[0].internaldate = 1203700000 + 3 * 3600;
	add(mb, 2, "<b@b>", "<a@b> <c@b>", NULL, NULL, 0);
	mb->msgs[1].internaldate = 1203700000 + 1 * 3600;
	add(mb, 3, "<c@b>", "<b@b>", NULL, NULL, 0);
	mb->msgs[2].internaldate = 1203700000 + 2 * 3600;
	EXPECT(mb, "REFERENCES", false, "(3 2)(1)");
	fake_free(&mb);

	/* the same after the first message is gone: <a> is a dummy with
	 * no children left, and is pruned */
	mb = fake_new();
	add(mb, 1, "<b@b>", "<a@b> <c@b>", NULL, NULL, 0);
	mb->msgs[0].internaldate = 1203700000 + 1 * 3600;
	add(mb, 2, "<c@b>", "<b@b>", NULL, NULL, 0);
	mb->msgs[1].internaldate = 1203700000 + 2 * 3600;
	EXPECT(mb, "REFERENCES", false, "(2 1)");
	fake_free(&mb);

	/* a later message moves an earlier one to a new parent: the
	 * last reference wins over a link made from References (1.B) */
	mb = fake_new();
	add(mb, 1, "<p@x>", NULL, NULL, "p", 1);
	add(mb, 2, "<q@x>", NULL, NULL, "q", 2);
	add(mb, 3, "<r@x>", "<p@x> <s@x>", NULL, "r", 3);
	add(mb, 4, "<s@x>", "<q@x>", NULL, "s", 4);
	EXPECT(mb, "REFERENCES", false, "(1)(2 4 3)");
	fake_free(&mb);
}

static void test_thread_orderedsubject(void)
{
	struct mailbox *mb = fake_new();

	add(mb, 1, "<1@x>", NULL, NULL, "Hello", 3);
	add(mb, 2, "<2@x>", NULL, NULL, "Re: hello", 1);
	add(mb, 3, "<3@x>", NULL, NULL, "Other", 2);
	add(mb, 4, "<4@x>", "<1@x>", NULL, "[list] Fwd: HELLO", 4);
	add(mb, 5, "<5@x>", NULL, NULL, "other", 5);
	add(mb, 6, "<6@x>", NULL, NULL, "lonely", 6);
	EXPECT(mb, "ORDEREDSUBJECT", false, "(2 (1)(4))(3 5)(6)");
	EXPECT(mb, "orderedsubject", true, "(2 (1)(4))(3 5)(6)");
	fake_free(&mb);

	/* no Date: the internal date, ties by sequence; empty subjects
	 * form one thread */
	mb = fake_new();
	add(mb, 1, NULL, NULL, NULL, NULL, 0);
	add(mb, 2, NULL, NULL, NULL, "", 0);
	add(mb, 3, NULL, NULL, NULL, "x", 0);
	EXPECT(mb, "ORDEREDSUBJECT", false, "(1 2)(3)");
	fake_free(&mb);

	mb = fake_new();
	EXPECT(mb, "ORDEREDSUBJECT", false, "");
	EXPECT(mb, "REFERENCES", false, "");
	fake_free(&mb);
}

static void test_thread_dummies(void)
{
	struct mailbox *mb = fake_new();

	/* two replies to a missing message: a dummy root keeps both */
	add(mb, 1, "<a@x>", "<missing@x>", NULL, "topic", 2);
	add(mb, 2, "<b@x>", "<missing@x>", NULL, "other topic", 1);
	EXPECT(mb, "REFERENCES", false, "((2)(1))");
	fake_free(&mb);

	/* one reply to a missing message: promoted to the root */
	mb = fake_new();
	add(mb, 1, "<a@x>", "<missing@x> <gone@x>", NULL, "topic", 1);
	add(mb, 2, "<b@x>", NULL, NULL, "unrelated", 2);
	EXPECT(mb, "REFERENCES", false, "(1)(2)");
	fake_free(&mb);

	/* a dummy in the middle: its children move up to its parent */
	mb = fake_new();
	add(mb, 1, "<a@x>", NULL, NULL, "t", 1);
	add(mb, 2, "<c@x>", "<a@x> <missing@x>", NULL, "Re: t", 2);
	add(mb, 3, "<d@x>", "<a@x> <missing@x>", NULL, "Re: t", 3);
	EXPECT(mb, "REFERENCES", false, "(1 (2)(3))");
	fake_free(&mb);
}

static void test_thread_subjects(void)
{
	struct mailbox *mb = fake_new();

	/* a reply without references joins the original */
	add(mb, 1, "<a@x>", NULL, NULL, "Hello", 1);
	add(mb, 2, "<b@x>", NULL, NULL, "Re: Hello", 2);
	add(mb, 3, "<c@x>", NULL, NULL, "Fwd: hello", 3);
	add(mb, 4, "<d@x>", NULL, NULL, "Something else", 4);
	EXPECT(mb, "REFERENCES", false, "(1 (2)(3))(4)");
	fake_free(&mb);

	/* two replies (or two originals): a new dummy holds both */
	mb = fake_new();
	add(mb, 1, "<a@x>", NULL, NULL, "Re: Hi", 1);
	add(mb, 2, "<b@x>", NULL, NULL, "Re: hi", 2);
	add(mb, 3, "<c@x>", NULL, NULL, "re: hi", 3);
	EXPECT(mb, "REFERENCES", false, "((1)(2)(3))");
	fake_free(&mb);

	/* an original found after its reply takes the table entry */
	mb = fake_new();
	add(mb, 1, "<a@x>", NULL, NULL, "Re: news", 1);
	add(mb, 2, "<b@x>", NULL, NULL, "news", 2);
	EXPECT(mb, "REFERENCES", false, "(2 1)");
	fake_free(&mb);

	/* a dummy root and a message with the same subject */
	mb = fake_new();
	add(mb, 1, "<a@x>", "<missing@x>", NULL, "Re: plan", 2);
	add(mb, 2, "<b@x>", "<missing@x>", NULL, "Re: plan", 3);
	add(mb, 3, "<c@x>", NULL, NULL, "plan", 1);
	EXPECT(mb, "REFERENCES", false, "((3)(1)(2))");
	fake_free(&mb);

	/* empty subjects are never merged */
	mb = fake_new();
	add(mb, 1, "<a@x>", NULL, NULL, "", 1);
	add(mb, 2, "<b@x>", NULL, NULL, "Re:", 2);
	add(mb, 3, "<c@x>", NULL, NULL, NULL, 3);
	EXPECT(mb, "REFERENCES", false, "(1)(2)(3)");
	fake_free(&mb);
}

static void test_thread_loops(void)
{
	struct mailbox *mb = fake_new();
	char *r;

	/* mutual references */
	add(mb, 1, "<a@x>", "<b@x>", NULL, "loop", 1);
	add(mb, 2, "<b@x>", "<a@x>", NULL, "loop", 2);
	r = thread(mb, "REFERENCES", false);
	CHECK(strcmp(r, "(1 2)") == 0 || strcmp(r, "(2 1)") == 0);
	free(r);
	fake_free(&mb);

	/* self reference, repeated ids, a cycle inside References */
	mb = fake_new();
	add(mb, 1, "<a@x>", "<a@x>", NULL, "self", 1);
	add(mb, 2, "<b@x>", "<c@x> <b@x> <c@x> <b@x>", "<b@x>", "cyc", 2);
	add(mb, 3, "<c@x>", "<b@x> <c@x>", NULL, "cyc", 3);
	add(mb, 4, "<d@x>", "<e@x> <f@x> <e@x> <d@x> <f@x>", NULL, "x", 4);
	add(mb, 5, "<e@x>", "<d@x>", NULL, "x", 5);
	r = thread(mb, "REFERENCES", false);
	CHECK(r[0] == '(');
	for (char c = '1'; c <= '5'; c++)
		CHECK(strchr(r, c) != NULL);
	free(r);
	fake_free(&mb);

	/* duplicate message-ids, garbage ids */
	mb = fake_new();
	add(mb, 1, "<a@x>", NULL, NULL, "dup", 1);
	add(mb, 2, "<a@x>", NULL, NULL, "Re: dup", 2);
	add(mb, 3, "<b@x>", "<a@x>", NULL, "Re: dup", 3);
	add(mb, 4, "<>", "<> < > <<<", "<", "junk", 4);
	add(mb, 5, "no brackets", "also none", "<unterminated", "junk2", 5);
	EXPECT(mb, "REFERENCES", false, "(1 (2)(3))(4)(5)");
	fake_free(&mb);
}

static void test_thread_big(void)
{
	struct mailbox *mb = fake_new();
	struct timespec t0, t1;
	char id[64], ref[64];
	char *r;
	double secs;

	/* a 20,000-deep chain, then the same backwards (each message
	 * names the next one as its parent: parents arrive later) */
	for (uint32_t i = 1; i <= 20000; i++) {
		snprintf(id, sizeof id, "<%u@chain>", i);
		snprintf(ref, sizeof ref, "<%u@chain>", i - 1);
		add(mb, i, id, i > 1 ? ref : NULL, NULL, "chain", 1);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = thread(mb, "REFERENCES", false);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	CHECK(strncmp(r, "(1 2 3 4 ", 9) == 0);
	CHECK(strcmp(r + strlen(r) - 13, " 19999 20000)") == 0);
	free(r);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	fprintf(stderr, "  20k chain: %.3f s\n", secs);
	CHECK(secs < 20.0);
	fake_free(&mb);

	mb = fake_new();
	for (uint32_t i = 1; i <= 20000; i++) {
		snprintf(id, sizeof id, "<%u@rev>", i);
		snprintf(ref, sizeof ref, "<%u@rev>", i + 1);
		add(mb, i, id, i < 20000 ? ref : NULL, NULL, "rev", 1);
	}
	r = thread(mb, "REFERENCES", false);
	CHECK(strncmp(r, "(20000 19999 ", 13) == 0);
	free(r);
	r = thread(mb, "ORDEREDSUBJECT", false);
	CHECK(strncmp(r, "(1 (2)(3)", 9) == 0);
	free(r);
	fake_free(&mb);

	/* a deep chain, then many messages each trying to close a loop
	 * over the whole chain: every attempt is refused, in bounded time */
	mb = fake_new();
	for (uint32_t i = 1; i <= 20000; i++) {
		snprintf(id, sizeof id, "<%u@deep>", i);
		snprintf(ref, sizeof ref, "<%u@deep>", i - 1);
		add(mb, i, id, i > 1 ? ref : NULL, NULL, "deep", 1);
	}
	for (uint32_t i = 20001; i <= 40000; i++) {
		snprintf(id, sizeof id, "<%u@deep>", i);
		add(mb, i, id, "<20000@deep> <1@deep>", NULL, "deep", 2);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = thread(mb, "REFERENCES", false);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	CHECK(strncmp(r, "(1 (2 3 4 ", 10) == 0);
	free(r);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	fprintf(stderr, "  20k loop attempts over a 20k chain: %.3f s\n", secs);
	CHECK(secs < 20.0);
	fake_free(&mb);

	/* 100,000 replies to one message, and a loop-heavy tail */
	mb = fake_new();
	add(mb, 1, "<root@w>", NULL, NULL, "wide", 1);
	for (uint32_t i = 2; i <= 100000; i++) {
		snprintf(id, sizeof id, "<%u@w>", i);
		add(mb, i, id, i % 2 ? "<root@w>" : "<root@w> <x@w> <root@w>",
		    NULL, "Re: wide", 2);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = thread(mb, "REFERENCES", true);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	CHECK(strncmp(r, "(1 (", 4) == 0);
	free(r);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	fprintf(stderr, "  100k wide: %.3f s\n", secs);
	CHECK(secs < 20.0);
	fake_free(&mb);
}

/* every message appears exactly once, parentheses balance, and no
 * "()" or leading/trailing blanks inside a list */
static bool well_formed(const char *r, uint32_t n)
{
	unsigned char *seen = xcalloc(n + 1, 1);
	long depth = 0;
	bool ok = true;

	for (const char *p = r; *p != '\0' && ok; p++) {
		if (*p == '(') {
			depth++;
			ok = p[1] != ')' && p[1] != ' ';
		} else if (*p == ')') {
			ok = --depth >= 0 && p[-1] != ' ';
		} else if (*p >= '1' && *p <= '9') {
			unsigned long v = strtoul(p, NULL, 10);
			ok = depth > 0 && v <= n && !seen[v];
			if (ok)
				seen[v] = 1;
			while (p[1] >= '0' && p[1] <= '9')
				p++;
		} else if (*p != ' ') {
			ok = false;
		}
	}
	for (uint32_t i = 1; i <= n && ok; i++)
		ok = seen[i];
	free(seen);
	return ok && depth == 0;
}

static void test_thread_random(void)
{
	static const char *const subjects[] = {
		"a", "Re: a", "Fwd: a", "b", "re: [x] b", "(fwd) c", "c (fwd)",
		"", "Re:", "[fwd: a]", "d",
	};
	unsigned seed = 12345;

	for (int round = 0; round < 40; round++) {
		struct mailbox *mb = fake_new();
		uint32_t n = 1 + (uint32_t)(round * 37 % 300);
		char *r;

		for (uint32_t i = 1; i <= n; i++) {
			char id[32], refs[256];
			size_t len = 0;
			unsigned k;

			seed = seed * 1103515245 + 12345;
			snprintf(id, sizeof id, "<%u@r>", (seed >> 8) % (n + 5));
			k = (seed >> 4) % 5;
			refs[0] = '\0';
			for (unsigned j = 0; j < k; j++) {
				seed = seed * 1103515245 + 12345;
				len += (size_t)snprintf(refs + len, sizeof refs - len,
					"<%u@r> ", (seed >> 8) % (n + 5));
			}
			seed = seed * 1103515245 + 12345;
			add(mb, i, (seed & 16) ? id : NULL, k > 0 ? refs : NULL,
			    (seed & 32) ? "<1@r>" : NULL,
			    subjects[(seed >> 8) % N_ELEMENTS(subjects)],
			    (int)((seed >> 12) % 28));
		}
		r = thread(mb, "REFERENCES", false);
		if (!well_formed(r, n)) {
			CHECK(!"REFERENCES output malformed");
			fprintf(stderr, "  round %d: %s\n", round, r);
		}
		free(r);
		r = thread(mb, "ORDEREDSUBJECT", true);
		CHECK(well_formed(r, n));
		free(r);
		fake_free(&mb);
	}
}

int main(int argc, char **argv)
{
	static const struct test tests[] = {
		TEST(test_thread_rfc_example),
		TEST(test_thread_relink),
		TEST(test_thread_orderedsubject),
		TEST(test_thread_dummies),
		TEST(test_thread_subjects),
		TEST(test_thread_loops),
		TEST(test_thread_random),
		TEST(test_thread_big),
	};
	return test_run(argc, argv, tests, N_ELEMENTS(tests));
}
