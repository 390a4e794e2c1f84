/* test-imap-arg.c - the IMAP argument tokenizer (from test-buf.c) */
#include "imap-arg.h"
#include "test.h"

static void test_args_basic(void)
{
	const char *err = NULL;
	const char *in = "INBOX (\\Seen foo) \"a \\\"q\\\"\" {3}\r\nabc BODY[HEADER.FIELDS (A B)]<0.10>";
	struct imap_args *a = imap_args_parse(in, strlen(in), &err);
	struct imap_arg *arg;

	CHECK(a != NULL);
	if (a == NULL)
		return;
	arg = imap_args_get(a);
	CHECK_INT(imap_arg_count(arg), 5);
	CHECK(imap_arg_is_atom(&arg[0], "inbox"));
	CHECK(arg[1].type == IMAP_ARG_LIST);
	CHECK_STR(arg[1].list[0].str, "\\Seen");
	CHECK_STR(arg[2].str, "a \"q\"");
	CHECK(arg[3].type == IMAP_ARG_LITERAL);
	CHECK_STR(arg[3].str, "abc");
	CHECK_STR(arg[4].str, "BODY[HEADER.FIELDS (A B)]<0.10>");
	imap_args_free(&a);
	CHECK(a == NULL);
}

/* '[' and ']' are ASTRING-CHARs; only fetch sections group by brackets */
static void test_args_brackets(void)
{
	const char *err = NULL;
	const char *in = "!#$&'+,-.0123456789:;<=>?@^_`|[} a]b x[y "
			 "(binary.peek[1] Body.Peek[HEADER.FIELDS (A)] c[d)";
	struct imap_args *a = imap_args_parse(in, strlen(in), &err);
	struct imap_arg *arg;

	CHECK(a != NULL);
	if (a == NULL)
		return;
	arg = imap_args_get(a);
	CHECK_INT(imap_arg_count(arg), 4);
	CHECK_STR(arg[0].str, "!#$&'+,-.0123456789:;<=>?@^_`|[}");
	CHECK_STR(arg[1].str, "a]b");
	CHECK_STR(arg[2].str, "x[y");
	CHECK(arg[3].type == IMAP_ARG_LIST);
	CHECK_INT(imap_arg_count(arg[3].list), 3);
	CHECK_STR(arg[3].list[0].str, "binary.peek[1]");
	CHECK_STR(arg[3].list[1].str, "Body.Peek[HEADER.FIELDS (A)]");
	CHECK_STR(arg[3].list[2].str, "c[d");
	imap_args_free(&a);
}

static void test_args_hostile(void)
{
	const char *err;
	char deep[300];
	static const char *bad[] = {
		"(a", "a)", "\"unterminated", "{5}\r\nabc", "{x}\r\n", "a  b",
		"BODY[HEADER", "{99999999999999999999999}\r\n", "\"bad\\x\"",
	};

	for (size_t i = 0; i < N_ELEMENTS(bad); i++) {
		err = NULL;
		CHECK(imap_args_parse(bad[i], strlen(bad[i]), &err) == NULL);
		CHECK(err != NULL);
	}
	memset(deep, '(', sizeof deep);
	CHECK(imap_args_parse(deep, sizeof deep, &err) == NULL);
}

int main(int argc, char **argv)
{
	static const struct test tests[] = {
		TEST(test_args_basic),
		TEST(test_args_hostile),
		TEST(test_args_brackets),
	};
	return test_run(argc, argv, tests, N_ELEMENTS(tests));
}
