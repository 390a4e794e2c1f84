/*
 * test-registry.c - the driver registry (registry.c): formats are what
 * the program registered, in registration order; the core asks drivers'
 * capability fields, never their names.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "mail.h"
#include "test.h"

static bool probe_any(const char *path, const struct stat *st)
{
	return true;
}

/* a format that claims every path and can be a spool file */
static const struct mail_driver greedy_driver = {
	.name = "greedy",
	.probe = probe_any,
	.spool_format = true,
};

/* test_run() linked every format (drivers_link()) */
static void test_linked_formats(void)
{
	const struct mail_driver *mbox = driver_lookup("mbox");

	CHECK(mbox != NULL);
	CHECK(driver_lookup("MBX") != NULL);
	CHECK(driver_lookup("maildir") != NULL);
	CHECK(driver_lookup("greedy") == NULL);
	CHECK(driver_lookup("nosuch") == NULL);
	CHECK(driver_spool() == mbox);
	CHECK(mbox->spool_format && mbox->single_writer &&
	      !mbox->parse_lock_is_session_lock);
	CHECK(driver_lookup("mbx")->parse_lock_is_session_lock);
	CHECK(!driver_lookup("mbx")->spool_format);
	CHECK(!driver_lookup("maildir")->spool_format);
	CHECK(driver_lookup("maildir")->is_directory);
}

/* a later registration probes after the earlier ones; twice is once */
static void test_register_order(void)
{
	char *dir = test_tmpdir();
	char *mbx = xasprintf("%s/box", dir), *other = xasprintf("%s/x", dir);
	const struct mail_driver *spool = driver_spool();
	const char *err;
	int fd;

	config_set("default-driver", "mbx", &err);
	CHECK(driver_lookup("mbx")->create(mbx, &err) == 0);
	fd = open(other, O_WRONLY | O_CREAT | O_EXCL, 0600);
	CHECK(fd >= 0);
	CHECK(write(fd, "not a mailbox\n", 14) == 14);
	close(fd);
	CHECK(driver_detect(other) == NULL);

	mail_driver_register(&greedy_driver);
	mail_driver_register(&greedy_driver);
	CHECK(driver_lookup("greedy") == &greedy_driver);
	CHECK(driver_detect(mbx) == driver_lookup("mbx"));
	CHECK(driver_detect(other) == &greedy_driver);
	CHECK(driver_spool() == spool);
	CHECK(driver_default() == driver_lookup("mbx"));
	config_set("default-driver", "nosuch", &err);
	CHECK(driver_default() == driver_lookup("mbox"));
	unlink(mbx);
	unlink(other);
	rmdir(dir);
	free(mbx);
	free(other);
	free(dir);
}

int main(int argc, char **argv)
{
	static const struct test tests[] = {
		TEST(test_linked_formats),
		TEST(test_register_order),
	};

	return test_run(argc, argv, tests, N_ELEMENTS(tests));
}
