/*
 * test.h - the unit-test harness for test-*.c files.
 *
 *   static void test_buf_grows(void) { CHECK(x == 1); CHECK_STR(a, "b"); }
 *   int main(int argc, char **argv) {
 *       static const struct test tests[] = { TEST(test_buf_grows), ... };
 *       return test_run(argc, argv, tests, N_ELEMENTS(tests));
 *   }
 *
 * Each test prints "PASS name" or "FAIL name" (with the failed checks
 * above it). tests/run-all counts these lines. Arguments select tests by
 * substring.
 */
#ifndef CC_TEST_H
#define CC_TEST_H

#include <stdio.h>
#include <string.h>
#include "util.h"

struct test {
	const char *name;
	void (*fn)(void);
};
#define TEST(fn) { #fn, fn }

extern int test_failures;

#define CHECK(cond) do { if (!(cond)) { test_failures++; \
	fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); } \
	} while (0)
#define CHECK_STR(a, b) do { const char *a_ = (a), *b_ = (b); \
	if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0) { test_failures++; \
	fprintf(stderr, "  %s:%d: \"%s\" != \"%s\"\n", __FILE__, __LINE__, \
		a_ ? a_ : "(null)", b_ ? b_ : "(null)"); } } while (0)
#define CHECK_INT(a, b) do { long long a_ = (long long)(a), b_ = (long long)(b); \
	if (a_ != b_) { test_failures++; \
	fprintf(stderr, "  %s:%d: %s == %lld, expected %lld\n", __FILE__, __LINE__, \
		#a, a_, b_); } } while (0)

int test_run(int argc, char **argv, const struct test *tests, size_t n);
/* a fresh empty directory under $TMPDIR for this test; caller frees */
char *test_tmpdir(void);
/* read a whole file into a malloc'd NUL-terminated buffer */
char *test_read_file(const char *path, size_t *len_r);

#endif
