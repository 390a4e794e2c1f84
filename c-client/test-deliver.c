/*
 * test-deliver.c - deliver.c's checks for local delivery (issue 15):
 * folders resolved beneath the mail directory without following links
 * (openat2 and the O_NOFOLLOW walk alike), and the owner/type/link rule
 * for an existing mailbox.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "deliver.h"
#include "test.h"

static void touch(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd < 0)
		panic("create %s", path);
	close(fd);
}

/* one resolution, both ways: the same answer */
static void check_beneath(const char *base, const char *rel, int want_errno)
{
	for (int walk = 0; walk < 2; walk++) {
		errno = 0;
		int fd = deliver_open_beneath(base, rel, walk != 0);
		if (want_errno == 0) {
			if (fd < 0)
				fprintf(stderr, "  %s (walk %d): %s\n", rel, walk,
					strerror(errno));
			CHECK(fd >= 0);
		} else {
			if (fd >= 0 || errno != want_errno)
				fprintf(stderr, "  %s (walk %d): fd %d errno %s, "
					"want %s\n", rel, walk, fd,
					strerror(errno), strerror(want_errno));
			CHECK(fd < 0 && errno == want_errno);
		}
		if (fd >= 0)
			close(fd);
	}
}

static void test_open_beneath(void)
{
	char *home = test_tmpdir(), *outside = test_tmpdir();
	char *p;

	p = xasprintf("%s/lists", home);
	touch(p);
	free(p);
	p = xasprintf("%s/dir", home);
	CHECK(mkdir(p, 0700) == 0);
	free(p);
	p = xasprintf("%s/dir/box", home);
	touch(p);
	free(p);
	p = xasprintf("%s/victim", outside);
	touch(p);
	free(p);
	/* ~/d -> a directory elsewhere (the spool); ~/v -> a file there;
	 * ~/dir/up -> .. (still inside, but a link all the same) */
	p = xasprintf("%s/d", home);
	CHECK(symlink(outside, p) == 0);
	free(p);
	p = xasprintf("%s/v", home);
	{
		char *t = xasprintf("%s/victim", outside);
		CHECK(symlink(t, p) == 0);
		free(t);
	}
	free(p);
	p = xasprintf("%s/dir/up", home);
	CHECK(symlink("..", p) == 0);
	free(p);

	check_beneath(home, "lists", 0);
	check_beneath(home, "dir/box", 0);
	check_beneath(home, "dir", 0);
	check_beneath(home, "d/victim", ELOOP);
	check_beneath(home, "v", ELOOP);
	check_beneath(home, "dir/up/lists", ELOOP);
	check_beneath(home, "nosuch", ENOENT);
	check_beneath(home, "../x", EXDEV);
	check_beneath(home, "/etc/passwd", EXDEV);
	static const char *const made[] = {
		"dir/up", "dir/box", "v", "d", "lists",
	};
	for (size_t i = 0; i < N_ELEMENTS(made); i++) {
		p = xasprintf("%s/%s", home, made[i]);
		CHECK(unlink(p) == 0);
		free(p);
	}
	p = xasprintf("%s/dir", home);
	CHECK(rmdir(p) == 0);
	free(p);
	p = xasprintf("%s/victim", outside);
	CHECK(unlink(p) == 0);
	free(p);
	CHECK(rmdir(home) == 0 && rmdir(outside) == 0);
	free(home);
	free(outside);
}

static void test_check_owner(void)
{
	char *dir = test_tmpdir();
	char *f = xasprintf("%s/box", dir), *l = xasprintf("%s/link", dir);
	char *h = xasprintf("%s/hard", dir), *fifo = xasprintf("%s/fifo", dir);
	const char *err = NULL;
	struct stat st;

	touch(f);
	CHECK(lstat(f, &st) == 0);
	CHECK(deliver_check_owner(&st, st.st_uid, &err) == 0);
	/* someone else's (uid 0 counts as the administrator's) */
	if (st.st_uid != 0) {
		CHECK(deliver_check_owner(&st, st.st_uid + 1, &err) < 0);
	} else {
		st.st_uid = 4321;
		CHECK(deliver_check_owner(&st, 1234, &err) < 0);
		CHECK(strstr(err, "not owned") != NULL);
		st.st_uid = 0;
		CHECK(deliver_check_owner(&st, 1234, &err) == 0);
	}
	CHECK(symlink(f, l) == 0);
	CHECK(lstat(l, &st) == 0);
	CHECK(deliver_check_owner(&st, st.st_uid, &err) < 0);
	CHECK(link(f, h) == 0);
	CHECK(lstat(f, &st) == 0);
	CHECK(deliver_check_owner(&st, st.st_uid, &err) < 0);
	CHECK(strstr(err, "hard link") != NULL);
	CHECK(mkfifo(fifo, 0600) == 0);
	CHECK(lstat(fifo, &st) == 0);
	CHECK(deliver_check_owner(&st, st.st_uid, &err) < 0);
	CHECK(lstat(dir, &st) == 0);
	CHECK(deliver_check_owner(&st, st.st_uid, &err) == 0);
	unlink(f);
	unlink(l);
	unlink(h);
	unlink(fifo);
	rmdir(dir);
	free(f);
	free(l);
	free(h);
	free(fifo);
	free(dir);
}

int main(int argc, char **argv)
{
	static const struct test tests[] = {
		TEST(test_open_beneath),
		TEST(test_check_owner),
	};

	return test_run(argc, argv, tests, N_ELEMENTS(tests));
}
