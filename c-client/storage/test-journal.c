/*
 * test-journal.c - crash safety of journal.c: children crash at every
 * step (CCLIENT_CRASH_POINT), in the middle of writes
 * (CCLIENT_CRASH_AFTER_BYTES) and at random times (SIGKILL); afterwards
 * recovery must leave exactly the old or the new content, plus whatever
 * an "MTA" appended after the crash.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "journal.h"
#include "test.h"

static void write_file(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd < 0 || write_full(fd, data, len) < 0)
		panic("write %s", path);
	close(fd);
}

struct scenario {
	const char *name;
	const char *old;
	/* regions */
	unsigned n;
	uint64_t off[3];
	const char *data[3];
	uint64_t new_len;
};

/* the expected new content: old with regions applied, cut/extended */
static char *apply_expected(const struct scenario *sc, size_t *len_r)
{
	size_t ol = strlen(sc->old);
	size_t nl = (size_t)sc->new_len;
	char *r = xcalloc(1, (ol > nl ? ol : nl) + 1);

	memcpy(r, sc->old, ol);
	for (unsigned i = 0; i < sc->n; i++)
		memcpy(r + sc->off[i], sc->data[i], strlen(sc->data[i]));
	*len_r = nl;
	return r;
}

static int child_apply(const char *path, const struct scenario *sc)
{
	struct journal_region regs[3];
	const char *err;
	int fd = open(path, O_RDWR);

	for (unsigned i = 0; i < sc->n; i++) {
		regs[i].offset = sc->off[i];
		regs[i].data = sc->data[i];
		regs[i].len = strlen(sc->data[i]);
	}
	if (fd < 0)
		return 2;
	return journal_apply(path, fd, strlen(sc->old), regs, sc->n,
			     sc->new_len, &err) < 0 ? 1 : 0;
}

static int run_child(const char *path, const struct scenario *sc,
		     const char *var, long val)
{
	pid_t pid = fork();
	int status;

	if (pid == 0) {
		char v[32];
		snprintf(v, sizeof v, "%ld", val);
		setenv(var, v, 1);
		journal_crash_reset();
		_exit(child_apply(path, sc));
	}
	if (waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 100;
}

static bool recover_and_check2(const char *path, const struct scenario *sc,
			       const char *mta, const char *suffix);

static bool recover_and_check(const char *path, const struct scenario *sc,
			      const char *mta)
{
	return recover_and_check2(path, sc, mta, mta);
}

/* append mta (if any) now, recover, expect old/new content + suffix */
static bool recover_and_check2(const char *path, const struct scenario *sc,
			       const char *mta, const char *suffix)
{
	size_t new_len, got_len, ol = strlen(sc->old);
	char *newc = apply_expected(sc, &new_len);
	const char *err = NULL;
	bool rec, ok;
	int fd = open(path, O_RDWR);
	char *got;

	if (mta != NULL) {
		/* an MTA delivers after the crash, before recovery */
		struct stat st;
		fstat(fd, &st);
		pwrite_full(fd, mta, strlen(mta), st.st_size);
	}
	ok = journal_recover(path, fd, &rec, &err) == 0;
	close(fd);
	got = test_read_file(path, &got_len);
	size_t ml = suffix ? strlen(suffix) : 0;
	bool is_old = got_len == ol + ml && memcmp(got, sc->old, ol) == 0 &&
		(ml == 0 || memcmp(got + ol, suffix, ml) == 0);
	bool is_new = got_len == new_len + ml &&
		memcmp(got, newc, new_len) == 0 &&
		(ml == 0 || memcmp(got + new_len, suffix, ml) == 0);
	if (!ok || !(is_old || is_new)) {
		fprintf(stderr, "  %s: got %zu bytes \"%.*s\" (err %s)\n",
			sc->name, got_len, (int)(got_len > 200 ? 200 : got_len),
			got, err ? err : "-");
		ok = false;
	}
	/* no journal left behind */
	{
		char *dir = xstrdup(path);
		char *slash = strrchr(dir, '/');
		*slash = '\0';
		char *j = xasprintf("%s/.%s.journal", dir, slash + 1);
		if (access(j, F_OK) == 0) {
			fprintf(stderr, "  %s: journal left\n", sc->name);
			ok = false;
		}
		free(j);
		free(dir);
	}
	free(got);
	free(newc);
	return ok;
}

static const struct scenario scenarios[] = {
	{ "grow", "From a\nhello\n\n", 1, { 14 }, { "From b\nworld\n\n" }, 28 },
	{ "shrink", "From a\nhello\n\nFrom b\nworld\n\nFrom c\nend\n\n", 1,
	  { 7 }, { "HELLO\n\nFrom c\nend\n\n" }, 26 },
	{ "inplace", "From a\nStatus: O\nX: 1\n\nbody\n\n", 2,
	  { 7, 23 }, { "Status: R", "BODY" }, 29 },
	{ "rewrite-grow", "From a\nshort\n\n", 2, { 0, 14 },
	  { "From A\nshort\n\n", "From z\nlonger message text\n\n" }, 42 },
	{ "to-empty", "From a\nhello\n\n", 0, { 0 }, { NULL }, 0 },
};

static void run_scenarios(const char *mta)
{
	char *dir = test_tmpdir();
	char *path = xasprintf("%s/mbox", dir);

	for (size_t s = 0; s < N_ELEMENTS(scenarios); s++) {
		const struct scenario *sc = &scenarios[s];
		/* every crash point until one run completes */
		for (long point = 1; point < 40; point++) {
			write_file(path, sc->old, strlen(sc->old));
			int rc = run_child(path, sc, "CCLIENT_CRASH_POINT", point);
			CHECK(rc == 0 || rc == 99);
			CHECK(recover_and_check(path, sc, mta));
			if (rc == 0)
				break;
		}
		/* torn writes: crash after every byte count */
		size_t total = 0;
		for (unsigned i = 0; i < sc->n; i++)
			total += strlen(sc->data[i]);
		for (long b = 0; b <= (long)total; b++) {
			write_file(path, sc->old, strlen(sc->old));
			int rc = run_child(path, sc, "CCLIENT_CRASH_AFTER_BYTES", b);
			CHECK(rc == 0 || rc == 99);
			CHECK(recover_and_check(path, sc, mta));
		}
	}
	unlink(path);
	rmdir(dir);
	free(path);
	free(dir);
}

static void test_crash_points(void)
{
	run_scenarios(NULL);
}

static void test_crash_points_mta_appends(void)
{
	run_scenarios("From mta Sun Nov 22 02:15:43 2026\nnew mail\n\n");
}

/* a crash during recovery is recovered as well */
static void crash_in_recovery(const struct scenario *sc, const char *mta)
{
	char *dir = test_tmpdir();
	char *path = xasprintf("%s/mbox", dir);

	for (long p1 = 1; p1 < 12; p1++) {
		for (long p2 = 1; p2 < 12; p2++) {
			write_file(path, sc->old, strlen(sc->old));
			if (run_child(path, sc, "CCLIENT_CRASH_POINT", p1) == 0)
				break;
			if (mta != NULL) {
				int mfd = open(path, O_WRONLY | O_APPEND);
				write_full(mfd, mta, strlen(mta));
				close(mfd);
			}
			pid_t pid = fork();
			if (pid == 0) {
				const char *err;
				bool rec;
				char v[32];
				snprintf(v, sizeof v, "%ld", p2);
				setenv("CCLIENT_CRASH_POINT", v, 1);
				journal_crash_reset();
				int fd = open(path, O_RDWR);
				_exit(journal_recover(path, fd, &rec, &err) < 0);
			}
			int st;
			waitpid(pid, &st, 0);
			CHECK(recover_and_check2(path, sc, NULL, mta));
		}
	}
	unlink(path);
	rmdir(dir);
	free(path);
	free(dir);
}

static void test_crash_in_recovery(void)
{
	for (size_t s = 0; s < N_ELEMENTS(scenarios); s++) {
		crash_in_recovery(&scenarios[s], NULL);
		crash_in_recovery(&scenarios[s],
				  "From mta Sun Nov 22 02:15:43 2026\nnew\n\n");
	}
}

/* SIGKILL at random times while a child applies changes in a loop: the
 * file is always old or new */
static void test_sigkill_random(void)
{
	char *dir = test_tmpdir();
	char *path = xasprintf("%s/mbox", dir);
	unsigned seed = (unsigned)time(NULL);

	srand(seed);
	for (int iter = 0; iter < 60; iter++) {
		const struct scenario *sc =
			&scenarios[(size_t)iter % N_ELEMENTS(scenarios)];
		write_file(path, sc->old, strlen(sc->old));
		pid_t pid = fork();
		if (pid == 0) {
			unsetenv("CCLIENT_CRASH_POINT");
			journal_crash_reset();
			_exit(child_apply(path, sc));
		}
		struct timespec ts = { 0, (rand() % 3000) * 1000L };
		nanosleep(&ts, NULL);
		kill(pid, SIGKILL);
		int st;
		waitpid(pid, &st, 0);
		CHECK(recover_and_check(path, sc, NULL));
	}
	unlink(path);
	rmdir(dir);
	free(path);
	free(dir);
}

/* the mailbox directory refuses the journal: it goes to
 * $HOME/.cclient-journal/<dev>-<ino> and recovery finds it there */
static void test_home_journal(void)
{
	char *dir = test_tmpdir();
	char *home = test_tmpdir();
	char *path = xasprintf("%s/mbox", dir);
	char *block = xasprintf("%s/.mbox.journal.tmp", dir);
	const struct scenario *sc = &scenarios[1];
	char *old_home = getenv("HOME") ? xstrdup(getenv("HOME")) : NULL;
	int crashes = 0, in_home = 0;

	setenv("HOME", home, 1);
	CHECK(mkdir(block, 0700) == 0);	/* makes creating it there fail */
	for (long point = 1; point < 40; point++) {
		write_file(path, sc->old, strlen(sc->old));
		int rc = run_child(path, sc, "CCLIENT_CRASH_POINT", point);
		CHECK(rc == 0 || rc == 99);
		if (rc == 99) {
			struct stat st;
			stat(path, &st);
			char *hj = xasprintf("%s/.cclient-journal/%lx-%lx", home,
					     (unsigned long)st.st_dev,
					     (unsigned long)st.st_ino);
			if (access(hj, F_OK) == 0)
				in_home++;
			free(hj);
			crashes++;
		}
		CHECK(recover_and_check(path, sc, NULL));
		if (rc == 0)
			break;
	}
	CHECK(crashes >= 8);
	CHECK(in_home >= 5);
	if (old_home != NULL)
		setenv("HOME", old_home, 1);
	free(old_home);
	rmdir(block);
	free(block);
	free(path);
	free(dir);
	free(home);
}

/* a journal for another file (other inode) or a torn one is ignored */
static void test_foreign_journal_ignored(void)
{
	char *dir = test_tmpdir();
	char *path = xasprintf("%s/mbox", dir);
	char *j = xasprintf("%s/.mbox.journal", dir);
	const char *err;
	bool rec;
	size_t len;

	write_file(path, "From a\nx\n\n", 10);
	write_file(j, "CCJRNL1\0garbage", 15);
	int fd = open(path, O_RDWR);
	CHECK(journal_exists(path, fd));
	CHECK(journal_recover(path, fd, &rec, &err) == 0);
	close(fd);
	char *got = test_read_file(path, &len);
	CHECK(len == 10 && memcmp(got, "From a\nx\n\n", 10) == 0);
	CHECK(access(j, F_OK) < 0);
	free(got);
	unlink(path);
	rmdir(dir);
	free(path);
	free(j);
	free(dir);
}

int main(int argc, char **argv)
{
	static const struct test tests[] = {
		TEST(test_crash_points),
		TEST(test_crash_points_mta_appends),
		TEST(test_crash_in_recovery),
		TEST(test_sigkill_random),
		TEST(test_foreign_journal_ignored),
		TEST(test_home_journal),
	};

	unsetenv("CCLIENT_CRASH_POINT");
	unsetenv("CCLIENT_CRASH_AFTER_BYTES");
	return test_run(argc, argv, tests, N_ELEMENTS(tests));
}
