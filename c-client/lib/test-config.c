/* test-config.c - configuration file parsing and its documentation */
#include <stdlib.h>
#include <unistd.h>

#include "config.h"
#include "test.h"

static char *write_tmp(const char *text)
{
	char *dir = test_tmpdir();
	char *path = xasprintf("%s/c.cf", dir);
	FILE *f = fopen(path, "w");

	fputs(text, f);
	fclose(f);
	free(dir);
	return path;
}

static void test_config_defaults(void)
{
	config_reset();
	CHECK_STR(config_str("spool-directory"), "/var/spool/mail");
	CHECK_INT(config_int("imap-autologout"), 1800);
	CHECK(config_bool("inbox-migrate"));
	CHECK_INT(config_int("new-mailbox-mode"), 0600);
}

static void test_config_file(void)
{
	const char *err = NULL;
	char *p = write_tmp("# comment\n\nspool-directory /tmp/spool  \n"
			    "mbox-single-writer yes\nlock-timeout 5\n");

	config_reset();
	CHECK_INT(config_load(p, &err), 0);
	CHECK_STR(config_str("spool-directory"), "/tmp/spool");
	CHECK(config_bool("mbox-single-writer"));
	CHECK_INT(config_int("lock-timeout"), 5);
	config_reset();
	free(p);
}

static void test_config_errors_name_file_and_line(void)
{
	const char *err = NULL;
	char *p = write_tmp("lock-timeout 5\nno-such-key 1\n");

	config_reset();
	CHECK_INT(config_load(p, &err), -1);
	CHECK(err != NULL && strstr(err, p) != NULL && strstr(err, "line 2") != NULL &&
	      strstr(err, "no-such-key") != NULL);
	free(p);
	p = write_tmp("mbox-single-writer maybe\n");
	CHECK_INT(config_load(p, &err), -1);
	CHECK(err != NULL && strstr(err, "line 1") != NULL);
	free(p);
	CHECK_INT(config_load("/nonexistent/c-client.cf", &err), -1);
	config_reset();
}

static void test_config_documented(void)
{
	size_t len;
	char *doc = test_read_file("docs/CONFIG.md", &len);
	const char *key, *def, *help;

	CHECK(doc != NULL);
	if (doc == NULL)
		return;
	for (unsigned i = 0; config_iter(i, &key, &def, &help); i++) {
		char *needle = xasprintf("| `%s` |", key);
		if (strstr(doc, needle) == NULL) {
			fprintf(stderr, "  docs/CONFIG.md lacks %s (run tests/gen-config-doc.py)\n", key);
			test_failures++;
		}
		free(needle);
	}
	free(doc);
}

int main(int argc, char **argv)
{
	static const struct test tests[] = {
		TEST(test_config_defaults),
		TEST(test_config_file),
		TEST(test_config_errors_name_file_and_line),
		TEST(test_config_documented),
	};
	unsetenv("CCLIENT_CONFIG");
	return test_run(argc, argv, tests, N_ELEMENTS(tests));
}
