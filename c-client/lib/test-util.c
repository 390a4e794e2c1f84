/* test-util.c - small helpers of util.c */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"
#include "test.h"

static bool is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* the parents are made (mode 0700), the last component is not; existing
 * ones are fine; a file in the way is an error with errno */
static void test_mkdir_parents(void)
{
	char *dir = test_tmpdir();
	char *leaf = xasprintf("%s/a/b/c/leaf", dir);
	char *c = xasprintf("%s/a/b/c", dir);
	char *a = xasprintf("%s/a", dir);
	char *file = xasprintf("%s/f", dir);
	char *under_file = xasprintf("%s/f/x/y", dir);
	struct stat st;

	CHECK_INT(mkdir_parents(leaf, 0700), 0);
	CHECK(is_dir(c));
	CHECK(access(leaf, F_OK) < 0);
	CHECK(stat(a, &st) == 0 && (st.st_mode & 0777) == 0700);
	CHECK_INT(mkdir_parents(leaf, 0700), 0);	/* all there */
	FILE *f = fopen(file, "w");
	CHECK(f != NULL);
	if (f != NULL)
		fclose(f);
	errno = 0;
	CHECK_INT(mkdir_parents(under_file, 0700), -1);
	CHECK_INT(errno, ENOTDIR);
	(void)unlink(file);
	(void)rmdir(c);
	*strrchr(c, '/') = '\0';
	(void)rmdir(c);		/* a/b */
	(void)rmdir(a);
	CHECK(rmdir(dir) == 0);	/* nothing left behind */
	free(leaf);
	free(c);
	free(a);
	free(file);
	free(under_file);
	free(dir);
}

int main(int argc, char **argv)
{
	static const struct test tests[] = {
		TEST(test_mkdir_parents),
	};
	return test_run(argc, argv, tests, N_ELEMENTS(tests));
}
