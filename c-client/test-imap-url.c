/*
 * test-imap-url.c - IMAP URLs for referrals: modified UTF-7 names to
 * %-encoded UTF-8 (RFC 5092's own example), characters that must be
 * encoded, dot-segments, invalid modified UTF-7 kept byte by byte, user
 * names, and whole URLs with IPv6 hosts and ports.
 */
#include <stdlib.h>

#include "imap-url.h"
#include "test.h"

static char *mailbox(const char *name)
{
	struct buf b;
	char *s;

	buf_init(&b, 0);
	imap_url_mailbox(&b, name);
	s = xstrdup(b.data);
	buf_release(&b);
	return s;
}

#define MBOX(name, want) do { char *r_ = mailbox(name); \
	CHECK_STR(r_, want); free(r_); } while (0)

static void test_url_mailbox_utf7(void)
{
	/* RFC 5092 section 9 */
	MBOX("~peter/&ZeVnLIqe-/&U,BTFw-",
	     "~peter/%E6%97%A5%E6%9C%AC%E8%AA%9E/%E5%8F%B0%E5%8C%97");
	MBOX("caf&AOk-", "caf%C3%A9");
	/* a surrogate pair: U+1F600 */
	MBOX("&2D3eAA-", "%F0%9F%98%80");
	/* "&-" is a literal "&", which a URL may carry as itself */
	MBOX("Tom &- Jerry", "Tom%20&%20Jerry");
	MBOX("INBOX", "INBOX");
}

static void test_url_mailbox_invalid_utf7(void)
{
	/* not modified UTF-7: encoded byte by byte as it stands */
	MBOX("a&b", "a&b");				/* shift never ends */
	MBOX("&AGE-", "&AGE-");				/* "a" must be itself */
	MBOX("&2D0-", "&2D0-");				/* lone high surrogate */
	MBOX("&3gA-", "&3gA-");				/* lone low surrogate */
	MBOX("&AOkA-", "&AOkA-");			/* left-over bits */
	MBOX("&-&", "&-&");
	MBOX("&", "&");
	MBOX("caf\xc3\xa9", "caf%C3%A9");		/* 8-bit name on disk */
}

static void test_url_mailbox_unsafe(void)
{
	MBOX("a b;c?d#e%f\"g]h[i", "a%20b%3Bc%3Fd%23e%25f%22g%5Dh%5Bi");
	MBOX("#shared/Team", "%23shared/Team");
	MBOX("~bob/x:y@z=w!$'()*+,", "~bob/x:y@z=w!$'()*+,");
	MBOX("a<b>c\\d^e`f{g|h}", "a%3Cb%3Ec%5Cd%5Ee%60f%7Bg%7Ch%7D");
	MBOX("tab\tnl\n\x7f", "tab%09nl%0A%7F");
	/* dot-segments and a leading "/" (RFC 5092 section 7) */
	MBOX("a/../b", "a/%2E%2E/b");
	MBOX("./x", "%2E/x");
	MBOX("x/.", "x/%2E");
	MBOX("x.y/.z/..a", "x.y/.z/..a");
	MBOX("/abs/path", "%2Fabs/path");
	MBOX("//x", "%2F/x");
	MBOX("", "");
}

static char *url(const char *user, bool auth_any, const char *host,
		 unsigned port, const char *mbox)
{
	struct buf b;
	char *s;

	buf_init(&b, 0);
	imap_url(&b, user, auth_any, host, port, mbox);
	s = xstrdup(b.data);
	buf_release(&b);
	return s;
}

#define URL(u, a, h, p, m, want) do { char *r_ = url(u, a, h, p, m); \
	CHECK_STR(r_, want); free(r_); } while (0)

static void test_url_whole(void)
{
	URL("alice", true, "10.0.0.2", 143, "~bob/x",
	    "imap://alice;AUTH=*@10.0.0.2/~bob/x");
	URL("alice", true, "2001:db8::1", 1143, "INBOX",
	    "imap://alice;AUTH=*@[2001:db8::1]:1143/INBOX");
	URL("bob", false, "mail2.example.org", 143, NULL,
	    "imap://bob@mail2.example.org/");
	URL(NULL, false, "h", 993, NULL, "imap://h:993/");
	/* user names: only achar stays */
	URL("a b@c;d:e/f%g", true, "h", 143, NULL,
	    "imap://a%20b%40c%3Bd%3Ae%2Ff%25g;AUTH=*@h/");
	URL("j.r-o_b~&=+!", false, "h", 143, NULL, "imap://j.r-o_b~&=+!@h/");
	URL("\xc3\xa9l\xc3\xa8ve", false, "h", 143, NULL,
	    "imap://%C3%A9l%C3%A8ve@h/");
}

int main(int argc, char **argv)
{
	static const struct test tests[] = {
		TEST(test_url_mailbox_utf7),
		TEST(test_url_mailbox_invalid_utf7),
		TEST(test_url_mailbox_unsafe),
		TEST(test_url_whole),
	};
	return test_run(argc, argv, tests, N_ELEMENTS(tests));
}
