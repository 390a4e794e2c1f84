/* test-codec.c - base64, quoted-printable, RFC 2047, charsets, UTF-8 */
#include <stdlib.h>

#include "codec.h"
#include "test.h"

static bool b64s(const char *in, struct buf *out)
{
	buf_reset(out);
	return base64_decode_strict(in, strlen(in), out);
}

static void test_base64_strict(void)
{
	struct buf b;

	buf_init(&b, 0);
	CHECK(b64s("", &b));
	CHECK_INT(b.len, 0);
	CHECK(b64s("AHVzZXIAcGFzcw==", &b));
	CHECK_INT(b.len, 10);
	CHECK(memcmp(b.data, "\0user\0pass", 10) == 0);
	CHECK(b64s("Zm9vYmFy", &b));
	CHECK_STR(b.data, "foobar");
	CHECK(b64s("Zm9vYg==", &b));
	CHECK_STR(b.data, "foob");
	CHECK(b64s("Zm9vYmE=", &b));
	CHECK_STR(b.data, "fooba");
	CHECK(!b64s("Zm9vYmE", &b));		/* length */
	CHECK(!b64s("Zm9v YmE=", &b));		/* blank */
	CHECK(!b64s("Zm9vYmE=\r\n", &b));
	CHECK(!b64s("Zm9=YmE=", &b));		/* padding inside */
	CHECK(!b64s("Zm9vY===", &b));
	CHECK(!b64s("Zm9vYh==", &b));		/* non-zero unused bits */
	CHECK(!b64s("Zm9vYmF=", &b));
	CHECK(!b64s("Zm9v*mE=", &b));
	CHECK(!b64s("====", &b));
	CHECK_INT(b.len, 0);	/* nothing left behind on failure */
	/* appends to what is there */
	buf_reset(&b);
	buf_puts(&b, "x");
	CHECK(base64_decode_strict("eQ==", 4, &b));
	CHECK_STR(b.data, "xy");
	buf_release(&b);
}

static void test_base64_mime_and_encode(void)
{
	struct buf b, e;

	buf_init(&b, 0);
	buf_init(&e, 0);
	base64_decode_mime("Zm9v\r\nYmFy\r\n", 12, &b);
	CHECK_STR(b.data, "foobar");
	buf_reset(&b);
	base64_decode_mime(" Zm 9v*Yg==junk after padding", 29, &b);
	CHECK_STR(b.data, "foob");
	buf_reset(&b);
	base64_decode_mime("Zm9vYmE", 7, &b);	/* missing padding */
	CHECK_STR(b.data, "fooba");
	buf_reset(&b);
	base64_decode_mime("Z", 1, &b);		/* a lone char: nothing */
	CHECK_INT(b.len, 0);

	/* round trip over every length and byte value */
	unsigned char raw[300];
	for (size_t i = 0; i < sizeof raw; i++)
		raw[i] = (unsigned char)(i * 7 + 3);
	for (size_t n = 0; n < sizeof raw; n++) {
		buf_reset(&e);
		buf_reset(&b);
		base64_encode(raw, n, &e);
		CHECK_INT(e.len, (n + 2) / 3 * 4);
		CHECK(base64_decode_strict(e.data, e.len, &b));
		CHECK_INT(b.len, n);
		CHECK(memcmp(b.data, raw, n) == 0);
	}
	buf_reset(&e);
	base64_encode("foobar", 6, &e);
	CHECK_STR(e.data, "Zm9vYmFy");
	buf_release(&b);
	buf_release(&e);
}

static void test_qp(void)
{
	struct buf b;

	buf_init(&b, 0);
	qp_decode("caf=C3=A9 soft=\r\nbreak\r\n", 24, false, &b);
	CHECK_STR(b.data, "caf\xc3\xa9 softbreak\r\n");
	buf_reset(&b);
	qp_decode("a=3d=3Db", 8, false, &b);
	CHECK_STR(b.data, "a==b");
	buf_reset(&b);
	qp_decode("broken =ZZ and =", 16, false, &b);
	CHECK_STR(b.data, "broken =ZZ and ");
	buf_reset(&b);
	qp_decode("trailing  \r\nline \t\nsoft= \t\r\nx", 29, false, &b);
	CHECK_STR(b.data, "trailing\r\nline\nsoftx");
	buf_reset(&b);
	qp_decode("a_b=5Fc", 7, true, &b);
	CHECK_STR(b.data, "a b_c");
	buf_reset(&b);
	qp_decode("a_b", 3, false, &b);
	CHECK_STR(b.data, "a_b");
	buf_reset(&b);
	qp_decode("end=4", 5, false, &b);	/* truncated escape */
	CHECK_STR(b.data, "end=4");
	buf_release(&b);
}

static void dec(const char *in, const char *want)
{
	struct buf b;

	buf_init(&b, 0);
	rfc2047_decode(in, strlen(in), &b);
	CHECK_STR(b.data, want);
	buf_release(&b);
}

static void test_rfc2047(void)
{
	dec("plain", "plain");
	dec("", "");
	dec("=?ISO-8859-1?Q?Ethan_M=FCller?=", "Ethan M\xc3\xbcller");
	dec("=?utf-8?B?SsO8cmdlbg==?=", "J\xc3\xbcrgen");
	/* whitespace between adjacent words disappears, elsewhere stays */
	dec("=?utf-8?q?a?= =?utf-8?q?b?=", "ab");
	dec("=?utf-8?q?a?=\r\n\t=?utf-8?q?b?=", "ab");
	dec("=?utf-8?q?a?= x =?utf-8?q?b?=", "a x b");
	dec("x =?utf-8?q?a?=", "x a");
	dec("=?utf-8?q?a?= x", "a x");
	dec("=?utf-8?q?a_?= =?utf-8?q?_b?=", "a  b");
	/* a character split across two words */
	dec("=?utf-8?B?w6k=?=", "\xc3\xa9");
	dec("=?utf-8?q?=C3?= =?utf-8?q?=A9?=", "\xc3\xa9");
	/* different charsets next to each other */
	dec("=?iso-8859-1?q?=E9?= =?utf-8?q?=C3=A9?=", "\xc3\xa9\xc3\xa9");
	/* RFC 2231 language in an encoded word */
	dec("=?utf-8*en?q?hi?=", "hi");
	/* broken words stay as they are */
	dec("=?utf-8?q?no end", "=?utf-8?q?no end");
	dec("=?utf-8?x?bad?=", "=?utf-8?x?bad?=");
	dec("=?" "?q?x?=", "=?" "?q?x?=");
	dec("=?utf-8?q?has space?=", "=?utf-8?q?has space?=");
	dec("==?utf-8?q?a?=", "=a");
	dec("=?", "=?");
	dec("=?utf-8?", "=?utf-8?");
	dec("=?utf-8?q", "=?utf-8?q");
	dec("=?utf-8?q?", "=?utf-8?q?");
	dec("=?utf-8?q?" "?=", "");
	/* unknown charset: the bytes, as UTF-8 or Latin-1 */
	dec("=?x-unknown?q?caf=E9?=", "caf\xc3\xa9");
	/* invalid UTF-8 in a UTF-8 word */
	dec("=?utf-8?q?a=FFb?=", "a\xef\xbf\xbd" "b");
	/* raw 8-bit outside words: UTF-8 kept, else Latin-1 */
	dec("caf\xc3\xa9", "caf\xc3\xa9");
	dec("caf\xe9", "caf\xc3\xa9");
	/* via iconv */
	dec("=?windows-1252?q?=80?=", "\xe2\x82\xac");
	dec("=?koi8-r?b?8NLJ18XU?=", "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82");
	dec("=?iso-2022-jp?b?GyRCJUYlOSVIGyhC?=",
	    "\xe3\x83\x86\xe3\x82\xb9\xe3\x83\x88");
}

static void conv(const char *cs, const char *in, size_t len, const char *want)
{
	struct buf b;

	buf_init(&b, 0);
	CHECK(charset_to_utf8(cs, in, len, &b));
	CHECK_STR(b.data, want);
	buf_release(&b);
}

static void test_charsets(void)
{
	struct buf b;

	conv("us-ascii", "abc", 3, "abc");
	conv("US-ASCII", "caf\xe9", 4, "caf\xc3\xa9");
	conv("utf-8", "caf\xc3\xa9", 5, "caf\xc3\xa9");
	conv("UTF8", "a\xc3", 2, "a\xef\xbf\xbd");
	conv("iso-8859-1", "\xe9\xff", 2, "\xc3\xa9\xc3\xbf");
	conv("latin1", "x", 1, "x");
	conv("iso-8859-15", "\xa4", 1, "\xe2\x82\xac");
	conv("windows-1252", "\x93q\x94", 3, "\xe2\x80\x9cq\xe2\x80\x9d");
	conv("utf-16be", "\0a\0b", 4, "ab");
	/* invalid input for iconv: replacement characters, no failure */
	conv("shift_jis", "a\xff" "b", 3, "a\xef\xbf\xbd" "b");
	/* the cache switches between charsets correctly */
	conv("iso-8859-15", "\xa4", 1, "\xe2\x82\xac");
	conv("koi8-r", "\xf0", 1, "\xd0\x9f");
	conv("iso-8859-15", "\xa4", 1, "\xe2\x82\xac");

	buf_init(&b, 0);
	CHECK(!charset_to_utf8("x-no-such-charset", "a", 1, &b));
	CHECK(!charset_to_utf8("", "a", 1, &b));
	CHECK(!charset_to_utf8("utf-8//IGNORE", "a", 1, &b));
	CHECK(!charset_to_utf8("../../etc/passwd", "a", 1, &b));
	buf_release(&b);
	CHECK(charset_known("UTF-8"));
	CHECK(charset_known("us-ascii"));
	CHECK(charset_known("ISO-8859-2"));
	CHECK(charset_known("GB2312"));
	CHECK(!charset_known("x-bogus"));
}

static void test_utf8(void)
{
	CHECK(utf8_valid("", 0));
	CHECK(utf8_valid("abc", 3));
	CHECK(utf8_valid("caf\xc3\xa9", 5));
	CHECK(utf8_valid("\xf0\x9f\x98\x80", 4));
	CHECK(utf8_valid("a\0b", 3));
	CHECK(!utf8_valid("\xc3", 1));
	CHECK(!utf8_valid("\xc0\xaf", 2));		/* overlong */
	CHECK(!utf8_valid("\xe0\x80\xaf", 3));		/* overlong */
	CHECK(!utf8_valid("\xed\xa0\x80", 3));		/* surrogate */
	CHECK(!utf8_valid("\xf4\x90\x80\x80", 4));	/* > U+10FFFF */
	CHECK(!utf8_valid("\xff", 1));
	CHECK(!utf8_valid("\x80", 1));
	CHECK(!utf8_valid("caf\xe9", 4));
	/* the length bound: a valid sequence cut by len */
	CHECK(!utf8_valid("\xc3\xa9", 1));

	struct buf b;
	buf_init(&b, 0);
	utf8_casefold("HeLLo \xc3\x89T\xc3\x89 \xc3\x9f \xc3\x97 \xd0\x9f\xce\xa3 \xc5\xb8", 25, &b);
	CHECK_STR(b.data, "hello \xc3\xa9t\xc3\xa9 \xc3\x9f \xc3\x97 \xd0\xbf\xcf\x83 \xc3\xbf");
	buf_reset(&b);
	utf8_casefold("A\xff" "B\xc3", 4, &b);	/* invalid bytes kept */
	CHECK_INT(b.len, 4);
	CHECK(memcmp(b.data, "a\xff" "b\xc3", 4) == 0);
	buf_reset(&b);
	/* long mixed input exercises the buffer refresh */
	for (int i = 0; i < 2000; i++) {
		struct buf in;
		buf_init(&in, 0);
		for (int k = 0; k < i % 50; k++)
			buf_puts(&in, k % 3 ? "AbC" : "\xc3\x80");
		buf_reset(&b);
		utf8_casefold(in.data, in.len, &b);
		CHECK_INT(b.len, in.len);
		buf_release(&in);
	}
	buf_release(&b);
}

static void test_codec_hostile(void)
{
	size_t n = 1024 * 1024;
	char *big = xmalloc(n);
	struct buf b;

	buf_init(&b, 0);
	memset(big, '=', n);
	qp_decode(big, n, false, &b);
	base64_decode_mime(big, n, &b);
	buf_reset(&b);
	rfc2047_decode(big, n, &b);
	CHECK_INT(b.len, n);
	for (size_t i = 0; i < n; i++)
		big[i] = "=?utf-8?q?"[i % 10];
	buf_reset(&b);
	rfc2047_decode(big, n, &b);
	CHECK_INT(b.len, n);
	for (size_t i = 0; i < n; i++)
		big[i] = "=?a?q?x?= "[i % 10];
	buf_reset(&b);
	rfc2047_decode(big, n, &b);
	CHECK_INT(b.len, n / 10 + 7);
	memset(big, 0xff, n);
	buf_reset(&b);
	CHECK(charset_to_utf8("utf-8", big, n, &b));
	CHECK_INT(b.len, n * 3);
	buf_reset(&b);
	CHECK(charset_to_utf8("euc-jp", big, n, &b));
	buf_reset(&b);
	utf8_casefold(big, n, &b);
	CHECK_INT(b.len, n);
	memset(big, 0, n);
	buf_reset(&b);
	rfc2047_decode(big, n, &b);
	CHECK_INT(b.len, n);
	free(big);
	buf_release(&b);
}

int main(int argc, char **argv)
{
	static const struct test tests[] = {
		TEST(test_base64_strict),
		TEST(test_base64_mime_and_encode),
		TEST(test_qp),
		TEST(test_rfc2047),
		TEST(test_charsets),
		TEST(test_utf8),
		TEST(test_codec_hostile),
	};
	return test_run(argc, argv, tests, N_ELEMENTS(tests));
}
