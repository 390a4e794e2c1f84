/*
 * test-lock.c - dotlock/fcntl/flock mailbox locks and the session lock
 * (POP3 exclusivity, kiss of death), across processes.
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

#include "config.h"
#include "lock.h"
#include "test.h"

static char *make_mailbox(int *fd_r)
{
	char *dir = test_tmpdir();
	char *path = xasprintf("%s/box", dir);

	*fd_r = open(path, O_RDWR | O_CREAT, 0600);
	if (*fd_r < 0)
		panic("create %s", path);
	free(dir);
	return path;
}

static void test_dotlock_created_and_removed(void)
{
	int fd;
	char *path = make_mailbox(&fd);
	char *lockpath = xasprintf("%s.lock", path);
	struct mail_lock *lk = NULL;
	const char *notice, *err;
	size_t len;

	CHECK(lock_mailbox(path, fd, 0, &lk, &notice, &err) == 0);
	CHECK(notice == NULL);
	char *pid = test_read_file(lockpath, &len);
	CHECK(pid != NULL && atol(pid) == (long)getpid());
	free(pid);
	lock_release(&lk);
	CHECK(lk == NULL);
	CHECK(access(lockpath, F_OK) < 0);
	close(fd);
	free(lockpath);
	free(path);
}

static void test_dotlock_stale_broken(void)
{
	int fd;
	char *path = make_mailbox(&fd);
	char *lockpath = xasprintf("%s.lock", path);
	struct mail_lock *lk = NULL;
	const char *notice, *err;
	pid_t dead;
	FILE *f;

	/* a PID that surely is dead: a child that has exited */
	dead = fork();
	if (dead == 0)
		_exit(0);
	waitpid(dead, NULL, 0);
	f = fopen(lockpath, "w");
	fprintf(f, "%ld\n", (long)dead);
	fclose(f);
	CHECK(lock_mailbox(path, fd, 0, &lk, &notice, &err) == 0);
	lock_release(&lk);
	CHECK(access(lockpath, F_OK) < 0);
	close(fd);
	free(lockpath);
	free(path);
}

/* a live holder in another process makes us wait, then time out */
static void test_lock_excludes_other_process(void)
{
	int fd;
	char *path = make_mailbox(&fd);
	int pipefd[2];
	const char *notice, *err = NULL;
	static const char *const methods[] = { "dotlock", "fcntl", "flock" };

	for (size_t m = 0; m < N_ELEMENTS(methods); m++) {
		CHECK(config_set("lock-methods", methods[m], &err));
		CHECK(pipe(pipefd) == 0);
		pid_t pid = fork();
		if (pid == 0) {
			struct mail_lock *lk;
			int cfd = open(path, O_RDWR);
			char c;
			if (lock_mailbox(path, cfd, 0, &lk, &notice, &err) < 0) {
				fprintf(stderr, "  child: %s\n", err);
				_exit(1);
			}
			(void)write(pipefd[1], "x", 1);
			(void)c;
			for (int i = 0; i < 600; i++)
				sleep(1);	/* until killed */
			_exit(0);
		}
		char c;
		close(pipefd[1]);	/* a failed child gives EOF, not a hang */
		pipefd[1] = -1;
		if (read(pipefd[0], &c, 1) != 1) {
			fprintf(stderr, "  child could not lock (%s)\n",
				methods[m]);
			CHECK(false);
			waitpid(pid, NULL, 0);
			close(pipefd[0]);
			continue;
		}
		struct mail_lock *lk = NULL;
		time_t t0 = time(NULL);
		CHECK(lock_mailbox(path, fd, 0, &lk, &notice, &err) < 0);
		CHECK(time(NULL) - t0 >= 1);
		/* readers are kept out of a write too (kernel locks) */
		if (m > 0)
			CHECK(lock_mailbox(path, fd, LOCK_SHARED | LOCK_NOWAIT,
					   &lk, &notice, &err) < 0);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		if (m == 0) {
			/* the holder died: its dotlock is stale now */
			CHECK(lock_mailbox(path, fd, 0, &lk, &notice, &err) == 0);
		} else {
			CHECK(lock_mailbox(path, fd, 0, &lk, &notice, &err) == 0);
		}
		lock_release(&lk);
		close(pipefd[0]);
	}
	config_reset();
	config_set("lock-timeout", "1", &err);
	close(fd);
	free(path);
}

/* shared locks do not exclude each other */
static void test_shared_readers(void)
{
	int fd;
	char *path = make_mailbox(&fd);
	int fd2 = open(path, O_RDWR);
	struct mail_lock *a = NULL, *b = NULL;
	const char *notice, *err;

	CHECK(lock_mailbox(path, fd, LOCK_SHARED, &a, &notice, &err) == 0);
	CHECK(lock_mailbox(path, fd2, LOCK_SHARED | LOCK_NOWAIT, &b, &notice,
			   &err) == 0);
	/* but a writer waits for them (OFD locks: even in one process) */
	struct mail_lock *w = NULL;
	int fd3 = open(path, O_RDWR);
	CHECK(lock_mailbox(path, fd3, LOCK_NOWAIT, &w, &notice, &err) < 0);
	lock_release(&a);
	lock_release(&b);
	CHECK(lock_mailbox(path, fd3, LOCK_NOWAIT, &w, &notice, &err) == 0);
	lock_release(&w);
	close(fd);
	close(fd2);
	close(fd3);
	free(path);
}

static void test_session_lock_path(void)
{
	struct stat st;
	const char *err;

	memset(&st, 0, sizeof st);
	st.st_dev = 0x801;
	st.st_ino = 0x1df3;
	config_set("lock-directory", "/tmp", &err);
	char *p = session_lock_path(&st);
	CHECK_STR(p, "/tmp/.801.1df3");	/* FAQ 7.17's form */
	free(p);
}

/* POP3: a second session gets [IN-USE] unless the first gives way */
static void session_holder(const struct stat *st, int ready_fd,
			   bool give_way)
{
	struct session_lock *sl;
	const char *err;

	if (session_lock_take(st, SESSION_LOCK_POP3, &sl, &err) < 0)
		_exit(1);
	(void)write(ready_fd, "x", 1);
	for (int i = 0; i < 500; i++) {
		if (lock_kiss_received && give_way) {
			session_lock_release(&sl);
			_exit(0);
		}
		struct timespec ts = { 0, 10 * 1000000L };
		nanosleep(&ts, NULL);
	}
	_exit(2);
}

static void test_pop3_exclusive(void)
{
	int fd;
	char *path = make_mailbox(&fd);
	char *dir = test_tmpdir();
	struct stat st;
	const char *err = NULL;

	config_set("lock-directory", dir, &err);
	config_set("lock-timeout", "1", &err);
	fstat(fd, &st);
	for (int give_way = 0; give_way < 2; give_way++) {
		int p[2];
		char c;
		CHECK(pipe(p) == 0);
		pid_t pid = fork();
		if (pid == 0)
			session_holder(&st, p[1], give_way);
		close(p[1]);
		p[1] = -1;
		CHECK(read(p[0], &c, 1) == 1);
		struct session_lock *sl = NULL;
		int r = session_lock_take(&st, SESSION_LOCK_POP3 |
					  SESSION_LOCK_KISS, &sl, &err);
		if (give_way) {
			CHECK(r == 0);
		} else {
			CHECK(r < 0);
			CHECK(r < 0 && strncmp(err, "[IN-USE] ", 9) == 0);
		}
		session_lock_release(&sl);
		kill(pid, SIGKILL);
		int status;
		waitpid(pid, &status, 0);
		close(p[0]);
	}
	/* a dead holder's lock file is simply taken over */
	char *lp = session_lock_path(&st);
	FILE *f = fopen(lp, "w");
	fprintf(f, "999999\n");
	fclose(f);
	struct session_lock *sl = NULL;
	CHECK(session_lock_take(&st, SESSION_LOCK_POP3, &sl, &err) == 0);
	struct stat lst;
	CHECK(stat(lp, &lst) == 0 && (lst.st_mode & 0777) == 0666);
	session_lock_release(&sl);
	free(lp);
	config_reset();
	config_set("lock-timeout", "1", &err);
	close(fd);
	free(path);
	free(dir);
}

int main(int argc, char **argv)
{
	static const struct test tests[] = {
		TEST(test_dotlock_created_and_removed),
		TEST(test_dotlock_stale_broken),
		TEST(test_lock_excludes_other_process),
		TEST(test_shared_readers),
		TEST(test_session_lock_path),
		TEST(test_pop3_exclusive),
	};
	const char *err;

	config_set("lock-timeout", "1", &err);
	return test_run(argc, argv, tests, N_ELEMENTS(tests));
}
