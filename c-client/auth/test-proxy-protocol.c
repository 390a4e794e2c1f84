/*
 * test-proxy-protocol.c - PROXY protocol v1/v2 headers: golden inputs
 * (accepted with the addresses they name, incomplete, or refused), the
 * socket reader stopping exactly at the header's end, and the
 * trusted-proxies matcher.
 */
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proxy-protocol.h"
#include "test.h"

/* "src:sport dst:dport" or "local", "more", "bad" */
static char *parse_str(const void *data, size_t len)
{
	struct proxy_info pi;
	const char *error = NULL;
	int r = proxy_parse(data, len, &pi, &error);

	if (r < 0)
		return xstrdup(error != NULL ? "bad" : "bad-without-reason");
	if (r == 0)
		return xstrdup("more");
	if (!pi.has_addr)
		return xasprintf("local/%d", r);
	return xasprintf("%s:%u %s:%u/%d", pi.src, (unsigned)pi.src_port,
			 pi.dst, (unsigned)pi.dst_port, r);
}

#define PARSE(s, want) do { char *r_ = parse_str(s, sizeof(s) - 1); \
	CHECK_STR(r_, want); free(r_); } while (0)

static void test_proxy_v1(void)
{
	PARSE("PROXY TCP4 192.0.2.1 198.51.100.2 56324 143\r\n",
	      "192.0.2.1:56324 198.51.100.2:143/45");
	PARSE("PROXY TCP6 2001:db8::1 2001:db8::2 1 65535\r\nA1 LOGIN",
	      "2001:db8::1:1 2001:db8::2:65535/44");
	PARSE("PROXY UNKNOWN\r\n", "local/15");
	PARSE("PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n", "local/35");
	/* prefixes of a valid header ask for more */
	PARSE("P", "more");
	PARSE("PROXY", "more");
	PARSE("PROXY TCP4 192.0.2.1", "more");
	PARSE("PROXY TCP4 192.0.2.1 198.51.100.2 1 2\r", "more");
	static const char *const bad[] = {
		"A1 LOGIN alice secret\r\n",
		"PROXY\r\n",
		"PROXY TCP5 192.0.2.1 198.51.100.2 1 2\r\n",
		"PROXY TCP4 192.0.2.1 198.51.100.2 1\r\n",
		"PROXY TCP4 192.0.2.1 198.51.100.2 1 2 3\r\n",
		"PROXY TCP4 192.0.2.1 198.51.100.2 1 2 \r\n",
		"PROXY TCP4 192.0.2.1  198.51.100.2 1 2\r\n",
		"PROXY TCP4 192.0.2.1 198.51.100.2 1 65536\r\n",
		"PROXY TCP4 192.0.2.1 198.51.100.2 01 2\r\n",
		"PROXY TCP4 192.0.2.1 198.51.100.2 -1 2\r\n",
		"PROXY TCP4 2001:db8::1 198.51.100.2 1 2\r\n",
		"PROXY TCP6 192.0.2.1 2001:db8::2 1 2\r\n",
		"PROXY TCP4 192.0.2.256 198.51.100.2 1 2\r\n",
		"PROXY TCP4 192.0.2.1 198.51.100.2 1 2\n",
		"PROXY TCP4 192.0.2.1 198.51.100.2 1 2\rX",
		"PROXY TCP4 <script> 198.51.100.2 1 2\r\n",
		"proxy TCP4 192.0.2.1 198.51.100.2 1 2\r\n",
	};
	for (size_t i = 0; i < N_ELEMENTS(bad); i++) {
		char *r = parse_str(bad[i], strlen(bad[i]));
		if (strcmp(r, "bad") != 0)
			fprintf(stderr, "  accepted: %s", bad[i]);
		CHECK_STR(r, "bad");
		free(r);
	}
	/* 107 bytes without CRLF: refused, not waited for forever */
	char longline[120];
	memset(longline, 'x', sizeof longline);
	memcpy(longline, "PROXY UNKNOWN ", 14);
	char *r = parse_str(longline, sizeof longline);
	CHECK_STR(r, "bad");
	free(r);
	r = parse_str(longline, 100);
	CHECK_STR(r, "more");
	free(r);
	/* a NUL inside is refused */
	r = parse_str("PROXY TCP4 1.2.3.4\0", 19);
	CHECK_STR(r, "bad");
	free(r);
}

#define SIG "\r\n\r\n\0\r\nQUIT\n"

static void test_proxy_v2(void)
{
	/* PROXY, TCP over IPv4, 12 address bytes */
	PARSE(SIG "\x21\x11\x00\x0c" "\xc0\x00\x02\x01" "\xc6\x33\x64\x02"
	      "\xdc\x04" "\x00\x8f",
	      "192.0.2.1:56324 198.51.100.2:143/28");
	/* with a TLV after the addresses (skipped) */
	PARSE(SIG "\x21\x11\x00\x11" "\x0a\x4d\x00\x05" "\x0a\x4d\x00\x0b"
	      "\x00\x01" "\x00\x6e" "\x01\x00\x02" "h2",
	      "10.77.0.5:1 10.77.0.11:110/33");
	/* IPv6 */
	PARSE(SIG "\x21\x21\x00\x24"
	      "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01"
	      "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x02" "\x00\x07\x00\x08",
	      "2001:db8::1:7 2001:db8::2:8/52");
	/* LOCAL (health checks): no address, addresses ignored */
	PARSE(SIG "\x20\x00\x00\x00", "local/16");
	PARSE(SIG "\x20\x11\x00\x0c" "\1\2\3\4\5\6\7\x08\x09\x0a\x0b\x0c",
	      "local/28");
	/* UNSPEC and UNIX families: no address */
	PARSE(SIG "\x21\x00\x00\x00", "local/16");
	/* incomplete */
	PARSE("\r\n\r\n", "more");
	PARSE(SIG "\x21\x11\x00", "more");
	PARSE(SIG "\x21\x11\x00\x0c" "\xc0\x00\x02", "more");
	/* refused */
	PARSE("\r\n\r\nX", "bad");
	PARSE(SIG "\x11\x11\x00\x0c", "bad");		/* version 1 */
	PARSE(SIG "\x22\x11\x00\x0c", "bad");		/* command 2 */
	PARSE(SIG "\x21\x11\x00\x04" "\1\2\3\4", "bad");	/* short v4 */
	PARSE(SIG "\x21\x21\x00\x0c" "\1\2\3\4\5\6\7\x08\x09\x0a\x0b\x0c",
	      "bad");					/* short v6 */
	PARSE(SIG "\x21\x41\x00\x00", "bad");		/* family 4 */
	PARSE(SIG "\x21\x11\xff\xff", "bad");		/* too long */
}

/* the reader takes the header and leaves the session's first bytes */
static void test_proxy_read_exact(void)
{
	static const char v1[] = "PROXY TCP4 192.0.2.9 198.51.100.2 4000 143\r\n"
		"A1 CAPABILITY\r\n";
	static const char v2[] = SIG "\x21\x11\x00\x0c" "\xc0\x00\x02\x0a"
		"\xc6\x33\x64\x02" "\x0f\xa0" "\x00\x6e" "USER x\r\n";
	const struct { const char *data; size_t len; const char *src, *rest; }
	cases[] = {
		{ v1, sizeof v1 - 1, "192.0.2.9", "A1 CAPABILITY\r\n" },
		{ v2, sizeof v2 - 1, "192.0.2.10", "USER x\r\n" },
	};
	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		struct proxy_info pi;
		const char *error = NULL;
		char rest[64];
		int sv[2];
		ssize_t n;

		CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
		CHECK(write_full(sv[1], cases[i].data, cases[i].len) ==
		      (ssize_t)cases[i].len);
		CHECK_INT(proxy_read_header(sv[0], 2000, &pi, &error), 0);
		CHECK_STR(pi.src, cases[i].src);
		n = read(sv[0], rest, sizeof rest - 1);
		rest[n > 0 ? n : 0] = '\0';
		CHECK_STR(rest, cases[i].rest);
		close(sv[0]);
		close(sv[1]);
	}
	/* a proxy that sends nothing: a timeout, not a hang */
	{
		struct proxy_info pi;
		const char *error = NULL;
		int sv[2];

		CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
		CHECK(write_full(sv[1], "PROXY TCP4", 10) == 10);
		CHECK_INT(proxy_read_header(sv[0], 200, &pi, &error), -1);
		CHECK(error != NULL && strstr(error, "timeout") != NULL);
		close(sv[1]);
		close(sv[0]);
		/* one that closes half way */
		CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
		CHECK(write_full(sv[1], "PROXY TCP4", 10) == 10);
		close(sv[1]);
		CHECK_INT(proxy_read_header(sv[0], 200, &pi, &error), -1);
		CHECK(error != NULL && strstr(error, "in the PROXY header") != NULL);
		close(sv[0]);
		/* a probe that connects and closes is told apart (logged quietly) */
		CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
		close(sv[1]);
		CHECK_INT(proxy_read_header(sv[0], 200, &pi, &error), -1);
		CHECK(error != NULL && strstr(error, "before sending anything") != NULL);
		close(sv[0]);
	}
}

static void test_proxy_trusted(void)
{
	const char *list = "10.77.0.0/24, 192.0.2.1 2001:db8:1::/48";

	CHECK(proxy_addr_trusted("10.77.0.5", list));
	CHECK(proxy_addr_trusted("10.77.0.255", list));
	CHECK(!proxy_addr_trusted("10.77.1.5", list));
	CHECK(proxy_addr_trusted("192.0.2.1", list));
	CHECK(!proxy_addr_trusted("192.0.2.2", list));
	CHECK(proxy_addr_trusted("::ffff:10.77.0.9", list));
	CHECK(proxy_addr_trusted("2001:db8:1:ffff::1", list));
	CHECK(!proxy_addr_trusted("2001:db8:2::1", list));
	CHECK(!proxy_addr_trusted("10.77.0.5", ""));
	CHECK(!proxy_addr_trusted("garbage", list));
	/* odd prefixes */
	CHECK(proxy_addr_trusted("10.77.0.130", "10.77.0.128/25"));
	CHECK(!proxy_addr_trusted("10.77.0.127", "10.77.0.128/25"));
	CHECK(proxy_addr_trusted("1.2.3.4", "0.0.0.0/0"));
	/* bad entries are ignored, never match everything */
	CHECK(!proxy_addr_trusted("10.77.0.5", "10.77.0.0/33 10.77.0.0/ x/8 /8"));
	/* a socketpair is not an IP peer */
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	CHECK(!proxy_peer_trusted(sv[0], "0.0.0.0/0 ::/0"));
	close(sv[0]);
	close(sv[1]);
}

int main(int argc, char **argv)
{
	static const struct test tests[] = {
		TEST(test_proxy_v1),
		TEST(test_proxy_v2),
		TEST(test_proxy_read_exact),
		TEST(test_proxy_trusted),
	};
	return test_run(argc, argv, tests, N_ELEMENTS(tests));
}
