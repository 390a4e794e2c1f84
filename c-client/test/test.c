/*
 * test.c - runner for unit tests (see test.h). Part of the library so
 * every test-*.c program links it; it is never called by the servers.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"
#include "linkage.h"

int test_failures;

int test_run(int argc, char **argv, const struct test *tests, size_t n)
{
	unsigned failed = 0;

	/* the test programs are programs: they link every format */
	drivers_link();
	for (size_t i = 0; i < n; i++) {
		bool selected = argc < 2;
		for (int a = 1; a < argc; a++)
			if (strstr(tests[i].name, argv[a]) != NULL)
				selected = true;
		if (!selected)
			continue;
		int before = test_failures;
		tests[i].fn();
		if (test_failures != before) {
			printf("FAIL %s\n", tests[i].name);
			failed++;
		} else {
			printf("PASS %s\n", tests[i].name);
		}
		fflush(stdout);
	}
	return failed ? 1 : 0;
}

char *test_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char *tmpl = xasprintf("%s/cctest.XXXXXX", base && *base ? base : "/tmp");

	if (mkdtemp(tmpl) == NULL)
		panic("mkdtemp %s: %s", tmpl, strerror(errno));
	return tmpl;
}

char *test_read_file(const char *path, size_t *len_r)
{
	FILE *f = fopen(path, "rb");
	char *data = NULL;
	size_t len = 0, cap = 0;

	if (f == NULL)
		return NULL;
	for (;;) {
		if (len + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 8192;
			data = xrealloc(data, cap);
		}
		size_t r = fread(data + len, 1, cap - len - 1, f);
		len += r;
		if (r == 0)
			break;
	}
	fclose(f);
	data[len] = '\0';
	if (len_r)
		*len_r = len;
	return data;
}
