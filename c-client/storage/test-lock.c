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
#include <grp.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "lock.h"
#include "mail.h"
#include "mailname.h"
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

/* the hook runs between "stale" and the unlink: the stale lock's owner
 * (or another breaker) removes it and an MTA makes a fresh one, which
 * on most file systems gets the very inode number just freed */
static void mta_takes_lock(const char *lockpath)
{
	FILE *f;

	(void)unlink(lockpath);
	f = fopen(lockpath, "w");
	if (f == NULL)
		panic("create %s", lockpath);
	fprintf(f, "%ld\n", (long)getpid());
	fclose(f);
}

static void write_pid_file(const char *path, pid_t pid, time_t age)
{
	FILE *f = fopen(path, "w");
	struct timespec ts[2];

	if (f == NULL)
		panic("create %s", path);
	fprintf(f, "%ld\n", (long)pid);
	fclose(f);
	ts[0].tv_sec = ts[1].tv_sec = time(NULL) - age;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	(void)utimensat(AT_FDCWD, path, ts, 0);
}

/* issue 15: breaking a stale lock never removes a fresh one */
static void test_stale_break_keeps_fresh_lock(void)
{
	int fd;
	char *path = make_mailbox(&fd);
	char *lockpath = xasprintf("%s.lock", path);
	pid_t dead = fork();
	size_t len;

	if (dead == 0)
		_exit(0);
	waitpid(dead, NULL, 0);
	write_pid_file(lockpath, dead, 600);
	lock_test_before_break = mta_takes_lock;
	CHECK(dotlock_break_if_stale(lockpath, 300));
	lock_test_before_break = NULL;
	char *got = test_read_file(lockpath, &len);
	CHECK(got != NULL);
	if (got != NULL) {
		char want[32];
		snprintf(want, sizeof want, "%ld\n", (long)getpid());
		CHECK_STR(got, want);
	}
	free(got);
	/* the fresh lock is live: not broken */
	CHECK(!dotlock_break_if_stale(lockpath, 300));
	CHECK(access(lockpath, F_OK) == 0);
	/* stale by age alone (a live PID, 10 minutes old) and by PID */
	write_pid_file(lockpath, getpid(), 600);
	CHECK(dotlock_break_if_stale(lockpath, 300));
	CHECK(access(lockpath, F_OK) < 0);
	write_pid_file(lockpath, dead, 0);
	CHECK(dotlock_break_if_stale(lockpath, 300));
	CHECK(access(lockpath, F_OK) < 0);
	/* a link is never followed nor taken for a lock */
	CHECK(symlink(path, lockpath) == 0);
	CHECK(!dotlock_break_if_stale(lockpath, 300));
	CHECK(access(path, F_OK) == 0);
	unlink(lockpath);
	close(fd);
	unlink(path);
	free(lockpath);
	free(path);
}

/* lock-directory %h/...: a private directory made for the user */
static void test_lock_directory_per_user(void)
{
	char *home = test_tmpdir();
	const char *err;
	struct stat st, dst;
	char *p, *want, *dir;

	mail_user_set("tester", getuid(), getgid(), home);
	CHECK(config_set("lock-directory", "%h/.cclient-locks", &err));
	memset(&st, 0, sizeof st);
	st.st_dev = 0x801;
	st.st_ino = 0x1df3;
	p = session_lock_path(&st);
	want = xasprintf("%s/.cclient-locks/.801.1df3", home);
	CHECK_STR(p, want);
	dir = xasprintf("%s/.cclient-locks", home);
	CHECK(stat(dir, &dst) == 0 && S_ISDIR(dst.st_mode) &&
	      (dst.st_mode & 0777) == 0700);
	CHECK(config_set("lock-directory", "/tmp", &err));
	rmdir(dir);
	rmdir(home);
	mail_user_clear();
	free(dir);
	free(want);
	free(p);
	free(home);
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
			(void)!write(pipefd[1], "x", 1);
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
	(void)!write(ready_fd, "x", 1);
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
		mail_error_clear();
		int r = session_lock_take(&st, SESSION_LOCK_POP3 |
					  SESSION_LOCK_KISS, &sl, &err);
		if (give_way) {
			CHECK(r == 0);
		} else {
			CHECK(r < 0);
			CHECK(mail_get_last_error() == MAIL_ERROR_INUSE);
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

/* lock-methods lists methods in any order; they are always taken dotlock,
 * fcntl, flock, and a failure part-way releases what was taken */
static void test_fixed_order_and_partial_release(void)
{
	int fd;
	char *path = make_mailbox(&fd);
	char *lockpath = xasprintf("%s.lock", path);
	struct mail_lock *lk = NULL;
	const char *notice, *err;
	int p[2];
	char c;

	CHECK(config_set("lock-methods", "flock, fcntl dotlock", &err));
	CHECK(lock_mailbox(path, fd, 0, &lk, &notice, &err) == 0);
	CHECK(access(lockpath, F_OK) == 0);
	/* all three are held: another description can take none */
	int fd2 = open(path, O_RDWR);
	CHECK(flock(fd2, LOCK_EX | LOCK_NB) < 0);
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	CHECK(fcntl(fd2, F_OFD_SETLK, &fl) < 0);
	lock_release(&lk);
	CHECK(access(lockpath, F_OK) < 0);
	CHECK(flock(fd2, LOCK_EX | LOCK_NB) == 0);
	(void)flock(fd2, LOCK_UN);

	/* a child holds only the fcntl lock: we fail at fcntl, and neither
	 * the dotlock (taken before) nor flock (after) is left behind */
	CHECK(pipe(p) == 0);
	pid_t pid = fork();
	if (pid == 0) {
		struct flock cl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
		int cfd = open(path, O_RDWR);
		if (fcntl(cfd, F_OFD_SETLK, &cl) < 0)
			_exit(1);
		(void)!write(p[1], "x", 1);
		for (int i = 0; i < 600; i++)
			sleep(1);
		_exit(0);
	}
	close(p[1]);
	CHECK(read(p[0], &c, 1) == 1);
	CHECK(lock_mailbox(path, fd, LOCK_NOWAIT, &lk, &notice, &err) < 0);
	CHECK(lk == NULL);
	CHECK(access(lockpath, F_OK) < 0);
	CHECK(flock(fd2, LOCK_EX | LOCK_NB) == 0);
	(void)flock(fd2, LOCK_UN);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	close(p[0]);
	close(fd2);
	config_reset();
	config_set("lock-timeout", "1", &err);
	close(fd);
	free(lockpath);
	free(path);
}

/* an old lock whose owner is alive (or unknown) is broken by age, as
 * Postfix and procmail do, and that is logged */
static void test_dotlock_stale_by_age(void)
{
	int fd;
	char *path = make_mailbox(&fd);
	char *lockpath = xasprintf("%s.lock", path);
	struct mail_lock *lk = NULL;
	const char *notice, *err;
	struct timespec old[2] = { { time(NULL) - 3600, 0 },
				   { time(NULL) - 3600, 0 } };
	FILE *f;

	/* our parent's PID: alive, so only the age can make it stale */
	f = fopen(lockpath, "w");
	fprintf(f, "%ld\n", (long)getppid());
	fclose(f);
	CHECK(lock_mailbox(path, fd, LOCK_NOWAIT, &lk, &notice, &err) < 0);
	CHECK(access(lockpath, F_OK) == 0);
	CHECK(utimensat(AT_FDCWD, lockpath, old, 0) == 0);
	CHECK(lock_mailbox(path, fd, LOCK_NOWAIT, &lk, &notice, &err) == 0);
	lock_release(&lk);
	CHECK(access(lockpath, F_OK) < 0);
	/* an empty lock file (no PID, e.g. "touch") too, by age only */
	f = fopen(lockpath, "w");
	fclose(f);
	CHECK(utimensat(AT_FDCWD, lockpath, old, 0) == 0);
	CHECK(lock_mailbox(path, fd, LOCK_NOWAIT, &lk, &notice, &err) == 0);
	lock_release(&lk);
	close(fd);
	free(lockpath);
	free(path);
}

/* a spool directory we cannot write (Debian's 2775 root:mail /var/mail),
 * in a child that runs as nobody when we are root */
struct spool {
	char *dir, *path;
	gid_t gid;
};

static void spool_make(struct spool *sp, mode_t mode)
{
	int fd;

	sp->dir = test_tmpdir();
	sp->path = xasprintf("%s/box", sp->dir);
	sp->gid = 8;	/* Debian's mail group; need not exist by name */
	fd = open(sp->path, O_RDWR | O_CREAT, 0666);
	CHECK(fd >= 0);
	(void)fchmod(fd, 0666);
	close(fd);
	if (geteuid() == 0)
		CHECK(chown(sp->dir, 0, sp->gid) == 0);
	CHECK(chmod(sp->dir, mode) == 0);
}

static void become_nobody(void)
{
	if (geteuid() == 0 &&
	    (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0))
		_exit(99);
}

/* neither direct creation nor a helper: kernel locks only, the FAQ 7.10
 * notice, and lock_dotlock_missing() */
static void test_no_dotlock_vulnerable(void)
{
	struct spool sp;
	const char *err;
	int status;

	spool_make(&sp, 02775);
	config_set("mlock-program", "/nonexistent/mlock", &err);
	pid_t pid = fork();
	if (pid == 0) {
		struct mail_lock *lk = NULL;
		const char *notice;
		char *want = xasprintf("Mailbox vulnerable - directory %s "
				       "must have 1777 protection", sp.dir);
		become_nobody();
		int fd = open(sp.path, O_RDWR);
		if (fd < 0)
			_exit(2);
		if (lock_mailbox(sp.path, fd, 0, &lk, &notice, &err) < 0)
			_exit(3);
		if (notice == NULL || strcmp(notice, want) != 0)
			_exit(4);
		if (!lock_dotlock_missing(lk) || lock_dotlock_by_helper(lk))
			_exit(5);
		lock_release(&lk);
		/* readers never need the dotlock */
		if (lock_mailbox(sp.path, fd, LOCK_SHARED, &lk, &notice,
				 &err) < 0 || notice != NULL ||
		    lock_dotlock_missing(lk))
			_exit(6);
		lock_release(&lk);
		_exit(0);
	}
	CHECK(waitpid(pid, &status, 0) == pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fprintf(stderr, "  child status %d\n", status);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	config_reset();
	config_set("lock-timeout", "1", &err);
	free(sp.path);
	free(sp.dir);
}

/* copy a program, setgid sp->gid, into the spool (the tools a fake mlock
 * uses to write into the 2775 directory as the mail group does) */
static bool install_setgid(const struct spool *sp, const char *from,
			   const char *name)
{
	char *to = xasprintf("%s/sg/%s", sp->dir, name);
	char *cmd = xasprintf("mkdir -p %s/sg && chmod 755 %s/sg && cp %s %s "
			      "&& chown 0:%d %s && chmod 2755 %s", sp->dir,
			      sp->dir, from, to, (int)sp->gid, to, to);
	bool ok = system(cmd) == 0;

	free(cmd);
	free(to);
	return ok;
}

/* the helper holds the dotlock for as long as we hold its pipe; one that
 * locks some other file is not believed */
static void test_mlock_helper(void)
{
	struct spool sp;
	const char *err;
	int status;

	if (geteuid() != 0) {
		fprintf(stderr, "  (skipped: needs root for setgid copies)\n");
		return;
	}
	spool_make(&sp, 02775);
	CHECK(install_setgid(&sp, "/usr/bin/tee", "tee"));
	CHECK(install_setgid(&sp, "/bin/rm", "rm"));
	char *helper = xasprintf("%s/sg/mlock", sp.dir);
	char *bad = xasprintf("%s/sg/mlock-bad", sp.dir);
	FILE *f = fopen(helper, "w");
	/* $PPID is the session that ran us, as the real mlock writes */
	fprintf(f, "#!/bin/sh\n"
		"echo $PPID | %s/sg/tee %s.lock >/dev/null || "
		"{ echo -cannot; exit 1; }\n"
		"echo +\nread x\n%s/sg/rm -f %s.lock\n",
		sp.dir, sp.path, sp.dir, sp.path);
	fclose(f);
	f = fopen(bad, "w");
	fprintf(f, "#!/bin/sh\necho +\nread x\n");
	fclose(f);
	char *busy = xasprintf("%s/sg/mlock-busy", sp.dir);
	f = fopen(busy, "w");
	fprintf(f, "#!/bin/sh\necho -mailbox is locked\n");
	fclose(f);
	CHECK(chmod(helper, 0755) == 0 && chmod(bad, 0755) == 0 &&
	      chmod(busy, 0755) == 0);

	for (int round = 0; round < 3; round++) {
		config_set("mlock-program", round == 0 ? helper :
			   round == 1 ? bad : busy, &err);
		pid_t pid = fork();
		if (pid == 0) {
			struct mail_lock *lk = NULL;
			const char *notice;
			char *lockpath = xasprintf("%s.lock", sp.path);
			become_nobody();
			int fd = open(sp.path, O_RDWR);
			if (fd < 0)
				_exit(2);
			int r = lock_mailbox(sp.path, fd, 0, &lk, &notice,
					     &err);
			if (round == 2) {
				/* an MTA holds it: busy, not vulnerable */
				_exit(r < 0 && lk == NULL ? 0 : 8);
			}
			if (r < 0)
				_exit(3);
			if (round == 1) {
				/* "+" but no lock of ours: not believed */
				if (!lock_dotlock_missing(lk) || notice == NULL)
					_exit(4);
				lock_release(&lk);
				_exit(0);
			}
			if (notice != NULL || lock_dotlock_missing(lk) ||
			    !lock_dotlock_by_helper(lk))
				_exit(5);
			if (access(lockpath, F_OK) < 0)
				_exit(6);
			lock_release(&lk);
			/* released: the helper removed it before we return */
			if (access(lockpath, F_OK) == 0)
				_exit(7);
			_exit(0);
		}
		CHECK(waitpid(pid, &status, 0) == pid);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			fprintf(stderr, "  round %d: child status %d\n", round,
				status);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	config_reset();
	config_set("lock-timeout", "1", &err);
	free(helper);
	free(bad);
	free(busy);
	free(sp.path);
	free(sp.dir);
}

/* the mbox driver on such a spool: read-only with the FAQ 7.10 notice,
 * never a rewrite, and appends refused */
static void test_mbox_readonly_without_dotlock(void)
{
	static const char text[] =
		"From a@b Sat Jan  1 00:00:00 2000\nSubject: x\n\nbody\n\n";
	struct spool sp;
	const char *err;
	int status;

	spool_make(&sp, 02775);
	FILE *f = fopen(sp.path, "w");
	fputs(text, f);
	fclose(f);
	config_set("mlock-program", "", &err);
	pid_t pid = fork();
	if (pid == 0) {
		const struct mail_driver *d = driver_lookup("mbox");
		struct mail_append_msg am = { .data = "Subject: y\r\n\r\nz\r\n",
					      .len = 17, .internaldate = -1 };
		uint32_t uv, uid;
		become_nobody();
		struct mailbox *mb = d->open(sp.path, 0, &err);
		if (mb == NULL)
			_exit(2);
		if (!mb->readonly || mb->notice == NULL ||
		    strstr(mb->notice, "Mailbox vulnerable") == NULL)
			_exit(3);
		if (mb->count != 1)
			_exit(4);
		d->close(&mb);
		if (d->append(sp.path, &am, 1, &uv, &uid, &err) == 0)
			_exit(5);
		_exit(0);
	}
	CHECK(waitpid(pid, &status, 0) == pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fprintf(stderr, "  child status %d\n", status);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* nothing was written: no X-UID, no status block, no append */
	size_t len;
	char *now = test_read_file(sp.path, &len);
	CHECK(now != NULL && len == sizeof text - 1 &&
	      memcmp(now, text, len) == 0);
	free(now);
	config_reset();
	config_set("lock-timeout", "1", &err);
	free(sp.path);
	free(sp.dir);
}

int main(int argc, char **argv)
{
	static const struct test tests[] = {
		TEST(test_dotlock_created_and_removed),
		TEST(test_dotlock_stale_broken),
		TEST(test_stale_break_keeps_fresh_lock),
		TEST(test_lock_directory_per_user),
		TEST(test_lock_excludes_other_process),
		TEST(test_shared_readers),
		TEST(test_session_lock_path),
		TEST(test_pop3_exclusive),
		TEST(test_fixed_order_and_partial_release),
		TEST(test_dotlock_stale_by_age),
		TEST(test_no_dotlock_vulnerable),
		TEST(test_mlock_helper),
		TEST(test_mbox_readonly_without_dotlock),
	};
	const char *err;

	config_set("lock-timeout", "1", &err);
	return test_run(argc, argv, tests, N_ELEMENTS(tests));
}
