/*
 * test-seqset.c - IMAP sequence sets: parsing, "*" resolution, merging,
 * membership, formatting, and the cost of building huge sets.
 */
#include <stdlib.h>
#include <time.h>

#include "seqset.h"
#include "test.h"

static char *norm(const char *s, uint32_t max)
{
	struct seqset set;
	char *r;

	if (!seqset_parse(s, &set))
		return xstrdup("BAD");
	seqset_resolve(&set, max);
	r = seqset_format(&set);
	seqset_free(&set);
	return r;
}

#define NORM(s, max, want) do { char *r_ = norm(s, max); \
	CHECK_STR(r_, want); free(r_); } while (0)

static void test_seqset_parse(void)
{
	NORM("1", 10, "1");
	NORM("1:4,7,9:*", 20, "1:4,7,9:20");
	NORM("*:3", 10, "3:10");
	NORM("5:2,3,1", 10, "1:5");
	NORM("1,2,3,5", 10, "1:3,5");
	/* 4294967295 is a number, not "*" (RFC 3501 9) */
	NORM("4294967295", 10, "4294967295");
	NORM("7:4294967295", 10, "7:4294967295");
	NORM("4294967295:*", 10, "10:4294967295");
	NORM("*", 0, "0");
	static const char *const bad[] = {
		"", "0", "1:0", ",1", "1,", "1,,2", "1:", ":1", "a", "1 2",
		"4294967296", "01", "1:2:3", "-1", "$",
	};
	for (size_t i = 0; i < N_ELEMENTS(bad); i++) {
		struct seqset set;
		CHECK(!seqset_parse(bad[i], &set));
		CHECK(set.r == NULL && set.n == 0);
	}
}

static void test_seqset_contains(void)
{
	struct seqset set;

	CHECK(seqset_parse("10:12,3,*,20:18", &set));
	seqset_resolve(&set, 100);
	CHECK(!seqset_contains(&set, 1));
	CHECK(seqset_contains(&set, 3));
	CHECK(seqset_contains(&set, 11));
	CHECK(!seqset_contains(&set, 13));
	CHECK(seqset_contains(&set, 19));
	CHECK(seqset_contains(&set, 100));
	CHECK(!seqset_contains(&set, 99));
	/* adding after a resolve that shrank n keeps the block big enough */
	for (uint32_t i = 0; i < 100; i++)
		seqset_add(&set, 1000 + 2 * i, 1000 + 2 * i);
	seqset_resolve(&set, 100);
	CHECK_INT(set.n, 104);
	CHECK(seqset_contains(&set, 1198));
	CHECK(!seqset_contains(&set, 1199));
	seqset_free(&set);
}

/* fuzz finding (tests/fuzz/fuzz-imap-args/regress-seqset-growth): the
 * range array grew by 16 at a time, so n additions copied O(n^2)
 * bytes; under ASan (whose realloc always copies) 300000 additions
 * took tens of seconds. Doubling makes it milliseconds. */
static void test_seqset_growth(void)
{
	struct seqset set = { NULL, 0 };
	clock_t t0 = clock();

	for (uint32_t i = 0; i < 300000; i++)
		seqset_add(&set, 2 * i + 1, 2 * i + 1);
	CHECK_INT(set.n, 300000);
	seqset_resolve(&set, 10);
	CHECK_INT(set.n, 300000);
	CHECK(seqset_contains(&set, 599999));
	CHECK(!seqset_contains(&set, 600000));
	double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
	fprintf(stderr, "  300000 seqset_add: %.2f s\n", secs);
	CHECK(secs < 2);
	seqset_free(&set);
}

int main(int argc, char **argv)
{
	static const struct test tests[] = {
		TEST(test_seqset_parse),
		TEST(test_seqset_contains),
		TEST(test_seqset_growth),
	};
	return test_run(argc, argv, tests, N_ELEMENTS(tests));
}
