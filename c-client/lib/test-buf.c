/* test-buf.c - the growable string */
#include "buf.h"
#include "test.h"

static void test_buf_append_and_max(void)
{
	struct buf b;

	buf_init(&b, 10);
	CHECK(buf_puts(&b, "hello"));
	CHECK(buf_printf(&b, "%d", 1234));
	CHECK_STR(buf_cstr(&b), "hello1234");
	CHECK(!buf_puts(&b, "xx"));	/* would exceed max 10 */
	CHECK_INT(b.len, 9);
	CHECK(buf_putc(&b, '!'));
	CHECK(!buf_printf(&b, "%s", "more"));
	CHECK_STR(buf_cstr(&b), "hello1234!");
	buf_consume(&b, 5);
	CHECK_STR(buf_cstr(&b), "1234!");
	buf_release(&b);
}

static void test_buf_large(void)
{
	struct buf b;
	char chunk[1000];

	memset(chunk, 'x', sizeof chunk);
	buf_init(&b, 0);
	for (int i = 0; i < 1000; i++)
		CHECK(buf_append(&b, chunk, sizeof chunk));
	CHECK_INT(b.len, 1000000);
	CHECK(b.data[b.len] == '\0');
	CHECK(buf_printf(&b, "%0500d", 7));
	CHECK_INT(b.len, 1000500);
	buf_release(&b);
}

/* bare LFs become CRLF; CRLF, a lone CR and a leading LF are handled;
 * past max nothing is appended */
static void test_buf_append_crlf(void)
{
	static const char in[] = "\nA\r\nB\nC\rD\n\n";
	struct buf b;

	CHECK_INT(crlf_bare_lf_count(in, sizeof in - 1), 4);
	CHECK_INT(crlf_bare_lf_count("a\r\nb", 4), 0);
	buf_init(&b, 0);
	CHECK(buf_puts(&b, "x"));
	CHECK(buf_append_crlf(&b, in, sizeof in - 1));
	CHECK_STR(buf_cstr(&b), "x\r\nA\r\nB\r\nC\rD\r\n\r\n");
	buf_release(&b);
	buf_init(&b, 4);
	CHECK(buf_append_crlf(&b, "a\nb", 3));	/* 4 bytes: fits */
	CHECK_INT(b.len, 4);
	buf_reset(&b);
	CHECK(!buf_append_crlf(&b, "a\nb\n", 4));	/* 6 bytes: not */
	CHECK_INT(b.len, 0);
	buf_release(&b);
}

int main(int argc, char **argv)
{
	static const struct test tests[] = {
		TEST(test_buf_append_and_max),
		TEST(test_buf_large),
		TEST(test_buf_append_crlf),
	};
	return test_run(argc, argv, tests, N_ELEMENTS(tests));
}
