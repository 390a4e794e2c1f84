/* test-date.c - RFC 5322 dates, IMAP dates, mbox "From " lines */
#include <stdlib.h>

#include "buf.h"
#include "date.h"
#include "test.h"

static bool from_ok(const char *line, int64_t *t, int32_t *z, char **sender)
{
	const char *s;
	size_t sl;

	if (!date_parse_from_line(line, strlen(line), t, z, &s, &sl))
		return false;
	*sender = xstrndup(s, sl);
	return true;
}

static void test_from_line_valid(void)
{
	int64_t t;
	int32_t z;
	char *snd = NULL;

	CHECK(from_ok("From noah.davis@univ.example.edu Tue Jan  1 00:27:14 2019",
		      &t, &z, &snd));
	CHECK_INT(t, 1546302434);
	CHECK_INT(z, 0);
	CHECK_STR(snd, "noah.davis@univ.example.edu");
	free(snd);

	CHECK(from_ok("From uwtest@vm Sun Mar 15 12:34:56 2020 +0100", &t, &z, &snd));
	CHECK_INT(t, 1584272096);
	CHECK_INT(z, 60);
	CHECK_STR(snd, "uwtest@vm");
	free(snd);

	/* zone before the year, 3-letter zone, no seconds */
	CHECK(from_ok("From user Wed Dec  2 05:53 PST 1992", &t, &z, &snd));
	CHECK_INT(z, -480);
	CHECK_INT(t, 723275580 + 8 * 3600);
	free(snd);
	CHECK(from_ok("From user Wed Dec  2 05:53:00 -0800 1992", &t, &z, &snd));
	CHECK_INT(t, 723275580 + 8 * 3600);
	free(snd);
	CHECK(from_ok("From user Wed Dec  2 05:53:00 1992 PST", &t, &z, &snd));
	CHECK_INT(t, 723275580 + 8 * 3600);
	free(snd);

	/* remote from, CRLF, 2-digit year, two-digit day */
	CHECK(from_ok("From user Wed Dec 02 05:53:00 1992 remote from uunet\r",
		      &t, &z, &snd));
	CHECK_INT(t, 723275580);
	CHECK_STR(snd, "user");
	free(snd);
	CHECK(from_ok("From user Tue Jan  1 00:27:14 19", &t, &z, &snd));
	CHECK_INT(t, 1546302434);
	free(snd);

	/* sender with blanks, quoted; no sender at all */
	CHECK(from_ok("From \"john doe\"@example.com Tue Jan  1 00:27:14 2019",
		      &t, &z, &snd));
	CHECK_STR(snd, "\"john doe\"@example.com");
	free(snd);
	CHECK(from_ok("From  Tue Jan  1 00:27:14 2019", &t, &z, &snd));
	CHECK_STR(snd, "");
	free(snd);
	CHECK(from_ok("From MAILER-DAEMON Sun Nov 22 02:14:16 2026", &t, &z, &snd));
	CHECK_STR(snd, "MAILER-DAEMON");
	free(snd);
	/* a sender that looks like a weekday */
	CHECK(from_ok("From Mon Tue Jan  1 00:27:14 2019", &t, &z, &snd));
	CHECK_STR(snd, "Mon");
	free(snd);
}

static void test_from_line_invalid(void)
{
	static const char *const bad[] = {
		"From the desk of Mr. Smith",
		"From here on, things change.",
		"From: someone@example.com",
		"From",
		"From ",
		"from user Tue Jan  1 00:27:14 2019",
		"From user Tue Jan 32 00:27:14 2019",
		"From user Tue Jan  0 00:27:14 2019",
		"From user Tue Feb 30 00:27:14 2019",
		"From user Tue Foo  1 00:27:14 2019",
		"From user Xyz Jan  1 00:27:14 2019",
		"From user Tue Jan  1 24:27:14 2019",
		"From user Tue Jan  1 00:60:14 2019",
		"From user Tue Jan  1 00:27:61 2019",
		"From user Tue Jan  1 00:27:14 201",
		"From user Tue Jan  1 00:27:14",
		"From user Tue Jan  1 2019",
		"From user Tue Jan  1 00:27:14 2019 and more",
		"From user Tue Jan  1 00:27:14 2019 +0100 +0200",
		"From user Tue Jan  1 00:27:14 2019 remote from",
		"From user Tue Jan 1 0:2:14 2019",
		"From user on Tue Jan  1 00:27:14 2019 wrote:",
	};
	int64_t t;
	int32_t z;
	char *snd = NULL;

	for (size_t i = 0; i < N_ELEMENTS(bad); i++) {
		if (from_ok(bad[i], &t, &z, &snd)) {
			fprintf(stderr, "  accepted: %s\n", bad[i]);
			test_failures++;
			free(snd);
		}
	}
}

static void test_from_line_hostile(void)
{
	size_t n = 1024 * 1024;
	char *big = xmalloc(n + 1);
	int64_t t;
	int32_t z;
	const char *s;
	size_t sl;

	memcpy(big, "From ", 5);
	for (size_t i = 5; i < n; i++)
		big[i] = "Mon Jan 1 "[(i - 5) % 10];
	CHECK(!date_parse_from_line(big, n, &t, &z, &s, &sl));
	memset(big + 5, 'x', n - 5);
	CHECK(!date_parse_from_line(big, n, &t, &z, &s, &sl));
	memset(big + 5, ' ', n - 5);
	CHECK(!date_parse_from_line(big, n, &t, &z, &s, &sl));
	/* NULs and 8-bit bytes in the sender */
	static const char nul[] = "From a\0\xff\x80 Tue Jan  1 00:27:14 2019";
	CHECK(date_parse_from_line(nul, sizeof nul - 1, &t, &z, &s, &sl));
	CHECK_INT(sl, 4);
	/* length bound respected: the date is past len */
	static const char cut[] = "From a Tue Jan  1 00:27:14 2019";
	CHECK(!date_parse_from_line(cut, sizeof cut - 6, &t, &z, &s, &sl));
	free(big);
}

static void test_format(void)
{
	struct buf b;

	buf_init(&b, 0);
	date_format_from_line(1584272096, 60, &b);
	CHECK_STR(buf_cstr(&b), "Sun Mar 15 12:34:56 2020 +0100");
	buf_reset(&b);
	date_format_from_line(1546302434, 0, &b);
	CHECK_STR(buf_cstr(&b), "Tue Jan  1 00:27:14 2019 +0000");
	buf_reset(&b);
	date_format_imap(1546302434, 0, &b);
	CHECK_STR(buf_cstr(&b), " 1-Jan-2019 00:27:14 +0000");
	buf_reset(&b);
	date_format_imap(1546302434, -330, &b);
	CHECK_STR(buf_cstr(&b), "31-Dec-2018 18:57:14 -0530");
	buf_reset(&b);
	date_format_rfc5322(1795313656, 0, &b);
	CHECK_STR(buf_cstr(&b), "Sun, 22 Nov 2026 02:14:16 +0000");
	buf_reset(&b);
	date_format_rfc5322(0, 0, &b);
	CHECK_STR(buf_cstr(&b), "Thu, 1 Jan 1970 00:00:00 +0000");
	buf_reset(&b);
	date_format_imap(-1, 0, &b);
	CHECK_STR(buf_cstr(&b), "31-Dec-1969 23:59:59 +0000");
	buf_reset(&b);
	/* absurd values are clamped, never crash */
	date_format_imap(INT64_MAX, INT32_MAX, &b);
	CHECK_STR(buf_cstr(&b), "31-Dec-9999 23:59:59 +0000");
	buf_reset(&b);
	date_format_from_line(INT64_MIN, 0, &b);
	CHECK_STR(buf_cstr(&b), "Mon Jan  1 00:00:00 0001 +0000");
	buf_release(&b);

	CHECK_INT(date_day_number(0, 0), 0);
	CHECK_INT(date_day_number(-1, 0), -1);
	CHECK_INT(date_day_number(86399, 0), 0);
	CHECK_INT(date_day_number(82800, 60), 1);
	CHECK_INT(date_day_number(3000, -60), -1);
}

static void test_roundtrip(void)
{
	struct buf b;
	int64_t t;
	int32_t z;
	const char *s;
	size_t sl;

	buf_init(&b, 0);
	for (int64_t x = -2208988800LL; x < 4102444800LL; x += 7777777) {
		int32_t zone = (int32_t)(x / 7777777 % 1500) - 750;
		buf_reset(&b);
		date_format_imap(x, zone, &b);
		CHECK(date_parse_imap_datetime(buf_cstr(&b), &t, &z));
		CHECK_INT(t, x);
		CHECK_INT(z, zone);
		buf_reset(&b);
		buf_puts(&b, "From x ");
		date_format_from_line(x, zone, &b);
		CHECK(date_parse_from_line(b.data, b.len, &t, &z, &s, &sl));
		CHECK_INT(t, x);
		buf_reset(&b);
		date_format_rfc5322(x, zone, &b);
		CHECK(date_parse_rfc5322(b.data, b.len, &t, &z));
		CHECK_INT(t, x);
		CHECK_INT(z, zone);
	}
	buf_release(&b);
}

static void test_imap(void)
{
	int64_t t;
	int32_t z;

	CHECK(date_parse_imap_datetime("15-Mar-2020 12:34:56 +0100", &t, &z));
	CHECK_INT(t, 1584272096);
	CHECK_INT(z, 60);
	CHECK(date_parse_imap_datetime(" 1-Jan-2019 00:27:14 +0000", &t, &z));
	CHECK_INT(t, 1546302434);
	CHECK(date_parse_imap_datetime("01-jan-2019 00:27:14 -0000", &t, &z));
	CHECK_INT(t, 1546302434);
	CHECK(date_parse_imap_datetime("1-Jan-2019 00:27:14 +0000", &t, &z));
	CHECK(!date_parse_imap_datetime("32-Jan-2019 00:27:14 +0000", &t, &z));
	CHECK(!date_parse_imap_datetime("1-Foo-2019 00:27:14 +0000", &t, &z));
	CHECK(!date_parse_imap_datetime("1-Jan-2019 00:27:14", &t, &z));
	CHECK(!date_parse_imap_datetime("1-Jan-2019 00:27:14 +0000x", &t, &z));
	CHECK(!date_parse_imap_datetime("1-Jan-2019 00:27 +0000", &t, &z));
	CHECK(!date_parse_imap_datetime("1-Jan-2019 00:27:14 +0060", &t, &z));
	CHECK(!date_parse_imap_datetime("  1-Jan-2019 00:27:14 +0000", &t, &z));
	CHECK(!date_parse_imap_datetime("", &t, &z));
	CHECK(!date_parse_imap_datetime("29-Feb-2019 00:00:00 +0000", &t, &z));
	CHECK(date_parse_imap_datetime("29-Feb-2020 00:00:00 +0000", &t, &z));

	CHECK(date_parse_imap_date("1-Jan-2019", &t));
	CHECK_INT(t, 1546300800);
	CHECK(date_parse_imap_date("01-JAN-2019", &t));
	CHECK_INT(t, 1546300800);
	CHECK(!date_parse_imap_date("1-Jan-19", &t));
	CHECK(!date_parse_imap_date("1-Jan-2019 ", &t));
	CHECK(!date_parse_imap_date("123-Jan-2019", &t));
	CHECK(!date_parse_imap_date("", &t));
}

static bool r5322(const char *s, int64_t *t, int32_t *z)
{
	return date_parse_rfc5322(s, strlen(s), t, z);
}

static void test_rfc5322(void)
{
	int64_t t;
	int32_t z;

	CHECK(r5322("Sun, 22 Nov 2026 02:14:16 +0000", &t, &z));
	CHECK_INT(t, 1795313656);
	CHECK(r5322("22 Nov 2026 02:14:16 +0000", &t, &z));
	CHECK_INT(t, 1795313656);
	CHECK(r5322("Sat, 21 Nov 2026 21:14:16 -0500 (EST)", &t, &z));
	CHECK_INT(t, 1795313656);
	CHECK_INT(z, -300);
	CHECK(r5322("Sat, 21 Nov 26 21:14:16 EST", &t, &z));
	CHECK_INT(t, 1795313656);
	CHECK_INT(z, -300);
	CHECK(r5322("Sat, 21 Nov 126 21:14:16 EST", &t, &z));
	CHECK_INT(t, 1795313656);
	CHECK(r5322("  (comment (nested)) Sun ,22 (x) Nov\r\n 2026 02:14 GMT ", &t, &z));
	CHECK_INT(t, 1795313640);
	CHECK(r5322("Sun, 22 Nov 2026 02:14:16", &t, &z));
	CHECK_INT(t, 1795313656);
	CHECK_INT(z, 0);
	CHECK(r5322("Sun, 22 Nov 2026 02:14:16 A", &t, &z));
	CHECK_INT(z, 0);
	CHECK(r5322("Sun, 22 Nov 99 02:14:16 +0000", &t, &z));
	CHECK_INT(t, 943236856);
	CHECK(r5322("Tue Jan  1 00:27:14 2019", &t, &z));
	CHECK_INT(t, 1546302434);
	CHECK(r5322("Tuesday, January 1, 2019 12:27:14 AM +0000", &t, &z));
	CHECK_INT(t, 1546302434);
	CHECK(r5322("1-Jan-2019 00:27:14 +0000", &t, &z));
	CHECK_INT(t, 1546302434);
	CHECK(r5322("Tue, 1 Jan 2019 00:27:14 +0000 (UTC)", &t, &z));
	CHECK_INT(t, 1546302434);

	CHECK(!r5322("", &t, &z));
	CHECK(!r5322("yesterday", &t, &z));
	CHECK(!r5322("Sun, 31 Feb 2026 02:14:16 +0000", &t, &z));
	CHECK(!r5322("Sun, 22 Nov 2026 25:14:16 +0000", &t, &z));
	CHECK(!r5322("Sun, 22 Nov 2026 02:14:16 +0000 +0100", &t, &z));
	CHECK(!r5322("Sun, 22 2026 02:14:16 +0000", &t, &z));
	CHECK(!r5322("(unterminated comment 22 Nov 2026", &t, &z));
	/* length bound */
	CHECK(!date_parse_rfc5322("22 Nov 2026", 6, &t, &z));
}

static void test_rfc5322_hostile(void)
{
	size_t n = 1024 * 1024;
	char *big = xmalloc(n);
	int64_t t;
	int32_t z;

	memset(big, '(', n);
	CHECK(!date_parse_rfc5322(big, n, &t, &z));
	for (size_t i = 0; i < n; i++)
		big[i] = "1 Jan "[i % 6];
	CHECK(!date_parse_rfc5322(big, n, &t, &z));
	memset(big, '\0', n);
	CHECK(!date_parse_rfc5322(big, n, &t, &z));
	memset(big, '9', n);
	CHECK(!date_parse_rfc5322(big, n, &t, &z));
	free(big);
}

int main(int argc, char **argv)
{
	static const struct test tests[] = {
		TEST(test_from_line_valid),
		TEST(test_from_line_invalid),
		TEST(test_from_line_hostile),
		TEST(test_format),
		TEST(test_roundtrip),
		TEST(test_imap),
		TEST(test_rfc5322),
		TEST(test_rfc5322_hostile),
	};
	return test_run(argc, argv, tests, N_ELEMENTS(tests));
}
