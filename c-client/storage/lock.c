/*
 * lock.c - mailbox locks (dotlock, fcntl, flock) and session lock files.
 * See lock.h for the protocol.
 *
 * SECURITY: lock files live in shared directories (the 1777 spool, /tmp).
 * They are opened with O_NOFOLLOW and O_EXCL so that a planted symlink
 * never makes us write elsewhere, and their contents (a PID) are parsed
 * with a bound. A stale dotlock is broken only when its owner is dead or
 * it is older than "dotlock-stale-seconds".
 *
 * FAQ 7.10 (Debian's /var/mail is 2775 root:mail): when the dotlock
 * cannot be created because the directory is not writable by us, we run
 * the setgid-mail helper "mlock-program" (tools/mlock.c) on two pipes and
 * hold its stdin open for as long as the lock: it answers "+\n" once it
 * holds <spool>/<user>.lock and removes that file when the pipe closes
 * (also when we die). We accept its answer only if <path>.lock then holds
 * our PID, so a helper compiled for another spool never fakes a lock.
 * When neither works we log the UW warning once per directory, hand the
 * text to the caller, and lock_dotlock_missing() tells the caller that
 * only the kernel locks are held: the mbox driver then goes read-only
 * rather than rewrite a file an MTA may be appending to.
 *
 * SECURITY (session lock files, /tmp/.<dev>.<ino>): UW's protocol is
 * kept so UW and we exclude each other, but a lock file is used only if
 * it is a plain file with one link owned by us, root or the mailbox's
 * owner (lock_file_open()): one planted by another user is refused,
 * logged. The PID in such a 0666 file can be written by anyone, so the
 * kiss of death goes only to a process that /proc/locks shows holding
 * the flock on that very file, never to a PID merely read from it. A
 * private "lock-directory" (docs/CONFIG.md) avoids /tmp altogether.
 *
 * SECURITY (mlock): the helper is run with a fixed argv, no shell, our
 * pipes as stdin/stdout and every other descriptor close-on-exec; its
 * answer is read with a bound and a deadline.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "lock.h"
#include "log.h"
#include "mail.h"

#define LOCK_POLL_USEC 50000

volatile sig_atomic_t lock_kiss_received;

enum { M_DOTLOCK = 1, M_FCNTL = 2, M_FLOCK = 4 };

struct mail_lock {
	char *path;
	int fd;
	unsigned taken;		/* M_* */
	bool dotlock_missing;	/* wanted, but neither we nor mlock could */
	bool dotlock_tried;	/* configured, and taken or found impossible */
	pid_t mlock_pid;	/* the helper holding the dotlock, or 0 */
	int mlock_fd;		/* its stdin: closing it releases the lock */
};

struct session_lock {
	char *path;
	int fd;
};

static void sleep_poll(void)
{
	struct timespec ts = { 0, LOCK_POLL_USEC * 1000L };
	nanosleep(&ts, NULL);
}

static time_t lock_deadline(unsigned flags)
{
	long long t = config_int("lock-timeout");

	if ((flags & LOCK_NOWAIT) != 0 || t < 0)
		t = 0;
	return time(NULL) + (time_t)t;
}

/* read a PID from a lock file; 0 if none */
static pid_t read_pid(int fd)
{
	char buf[32];
	ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
	long v;
	char *end;

	if (n <= 0)
		return 0;
	buf[n] = '\0';
	v = strtol(buf, &end, 10);
	if (end == buf || v <= 0 || v > 0x7fffffffL)
		return 0;
	return (pid_t)v;
}

static bool pid_dead(pid_t pid)
{
	return pid > 0 && kill(pid, 0) < 0 && errno == ESRCH;
}

void (*lock_test_before_break)(const char *lockpath);

/* Is the dotlock at lockpath stale? If so remove it and return true.
 * The file judged stale stays open until the name is checked to be that
 * same inode (fstat then vs lstat now): while it is open its inode
 * number cannot be reused, so a fresh lock an MTA made in between, once
 * the stale one was gone, is never removed. */
bool dotlock_break_if_stale(const char *lockpath, long long stale_seconds)
{
	struct stat st, st2;
	int fd = open(lockpath, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	pid_t pid;
	bool stale, same;

	if (fd < 0)
		return errno == ENOENT;	/* vanished: try again at once */
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return false;
	}
	pid = read_pid(fd);
	stale = pid_dead(pid) || time(NULL) - st.st_mtime > stale_seconds;
	if (!stale) {
		close(fd);
		return false;
	}
	if (lock_test_before_break != NULL)
		lock_test_before_break(lockpath);
	same = lstat(lockpath, &st2) == 0 && st2.st_ino == st.st_ino &&
		st2.st_dev == st.st_dev;
	if (!same) {
		close(fd);
		return true;	/* replaced meanwhile: look again */
	}
	if (unlink(lockpath) < 0 && errno != ENOENT) {
		close(fd);
		return false;
	}
	close(fd);
	log_warning("broke stale lock %s (pid %ld)", lockpath, (long)pid);
	return true;
}

static const char *vulnerable_notice(const char *path)
{
	static char text[1200];
	static char last_dir[1024];
	char *dir = path_dirname(path);

	snprintf(text, sizeof text,
		 "Mailbox vulnerable - directory %s must have 1777 protection",
		 dir);
	if (strcmp(last_dir, dir) != 0) {
		log_warning("%s", text);
		snprintf(last_dir, sizeof last_dir, "%s", dir);
	}
	free(dir);
	return text;
}

/* 1 taken, 0 cannot be created here (FAQ 7.10: the caller may try the
 * mlock helper, and reports it), -1 timed out/error.
 * The lock is made by link()ing a file that already holds our PID, so a
 * lock file of ours is never seen empty (a process killed between create
 * and write would leave a lock nobody could tell stale). */
static int dotlock_take_until(const char *path, time_t deadline,
			      const char **error_r)
{
	char *lockpath = xasprintf("%s.lock", path);
	char *tmp = xasprintf("%s.lock.%ld", path, (long)getpid());
	char pidbuf[32];
	int fd, ret = -1, n;

	/* a leftover of ours (same pid, earlier crash) or a planted file:
	 * remove it and create a new one, never truncate what is there */
	(void)unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		  0644);
	if (fd < 0) {
		if (errno == EACCES || errno == EROFS || errno == EPERM) {
			ret = 0;
		} else {
			log_error("open %s: %m", tmp);
			*error_r = "Unable to create mailbox lock file";
		}
		goto out;
	}
	n = snprintf(pidbuf, sizeof pidbuf, "%ld\n", (long)getpid());
	if (write_full(fd, pidbuf, (size_t)n) < 0) {
		log_error("write %s: %m", tmp);
		close(fd);
		/* do not leave our temp file behind (a full spool, seen by
		 * tests/test_diskfull.py, left <path>.lock.<pid> files) */
		(void)unlink(tmp);
		*error_r = "Unable to create mailbox lock file";
		goto out;
	}
	close(fd);
	for (;;) {
		if (link(tmp, lockpath) == 0) {
			ret = 1;
			break;
		}
		if (errno == EPERM || errno == EOPNOTSUPP) {
			/* no hard links here: O_EXCL, then the PID */
			fd = open(lockpath, O_WRONLY | O_CREAT | O_EXCL |
				  O_NOFOLLOW | O_CLOEXEC, 0644);
			if (fd >= 0) {
				(void)write_full(fd, pidbuf, (size_t)n);
				close(fd);
				ret = 1;
				break;
			}
		}
		if (errno != EEXIST) {
			log_error("link %s: %m", lockpath);
			*error_r = "Unable to create mailbox lock file";
			break;
		}
		if (dotlock_break_if_stale(lockpath,
					   config_int("dotlock-stale-seconds")))
			continue;
		if (time(NULL) >= deadline) {
			*error_r = "Mailbox is locked by another process "
				   "(timed out waiting for the lock)";
			break;
		}
		sleep_poll();
	}
	(void)unlink(tmp);
out:
	free(tmp);
	free(lockpath);
	return ret;
}

/* does <path>.lock exist and hold our PID? */
static bool dotlock_is_ours(const char *path)
{
	char *lockpath = xasprintf("%s.lock", path);
	int fd = open(lockpath, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	bool ours = false;

	if (fd >= 0) {
		ours = read_pid(fd) == getpid();
		close(fd);
	}
	free(lockpath);
	return ours;
}

static void mlock_reap(pid_t pid)
{
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

/* Have "mlock-program" create <path>.lock for us (FAQ 7.10). Returns 1
 * with lk->mlock_pid/mlock_fd set; -1 when the lock is busy (the helper
 * says so, or has not answered by the deadline: *error_r set); 0 when the
 * helper is missing or cannot help. We wait for its answer until
 * deadline (at least a few seconds: it must start); on any failure we
 * close its stdin, which makes it remove a lock it may have made, and
 * reap it (it gives up by itself after its own bounded tries). */
static int mlock_take(struct mail_lock *lk, const char *path, time_t deadline,
		      const char **error_r)
{
	const char *prog = config_str("mlock-program");
	int in[2], out[2];
	char ans[128];
	size_t len = 0;
	bool timed_out = false;
	pid_t pid;

	if (*prog == '\0' || access(prog, X_OK) < 0)
		return 0;
	if (pipe2(in, O_CLOEXEC) < 0)
		return 0;
	if (pipe2(out, O_CLOEXEC) < 0) {
		close(in[0]);
		close(in[1]);
		return 0;
	}
	pid = fork();
	if (pid < 0) {
		log_error("fork for %s: %m", prog);
		close(in[0]); close(in[1]); close(out[0]); close(out[1]);
		return 0;
	}
	if (pid == 0) {
		sigset_t none;
		/* move both ends above 2 first: either may be fd 0 or 1 */
		int a = fcntl(in[0], F_DUPFD, 3), b = fcntl(out[1], F_DUPFD, 3);

		if (a < 0 || b < 0 || dup2(a, 0) < 0 || dup2(b, 1) < 0)
			_exit(127);
		close(a);
		close(b);
		sigemptyset(&none);
		(void)sigprocmask(SIG_SETMASK, &none, NULL);
		execl(prog, "mlock", (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	if (deadline < time(NULL) + 5)
		deadline = time(NULL) + 5;
	while (len < sizeof ans - 1 && memchr(ans, '\n', len) == NULL) {
		struct pollfd pfd = { .fd = out[0], .events = POLLIN };
		time_t left = deadline - time(NULL);
		ssize_t n;

		if (left <= 0) {
			timed_out = true;
			break;
		}
		if (poll(&pfd, 1, (int)(left > 60 ? 60000 : left * 1000)) <= 0)
			continue;	/* EINTR or the deadline: re-check */
		n = read(out[0], ans + len, sizeof ans - 1 - len);
		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			break;
		}
		len += (size_t)n;
	}
	close(out[0]);
	ans[len] = '\0';
	if (len >= 2 && ans[0] == '+' && ans[1] == '\n' &&
	    dotlock_is_ours(path)) {
		lk->mlock_pid = pid;
		lk->mlock_fd = in[1];
		return 1;
	}
	ans[strcspn(ans, "\n")] = '\0';
	close(in[1]);
	mlock_reap(pid);
	if ((len == 0 && timed_out) || strcmp(ans, "-mailbox is locked") == 0) {
		/* busy (an MTA holds the lock), not unable */
		*error_r = "Mailbox is locked by another process "
			   "(timed out waiting for the lock)";
		return -1;
	}
	if (ans[0] == '+')
		log_warning("%s locked some other file than %s.lock",
			    prog, path);
	else
		log_warning("%s could not lock %s.lock: %s", prog, path,
			    len > 1 ? ans + 1 : "no answer");
	return 0;
}

static void mlock_release(struct mail_lock *lk)
{
	if (lk->mlock_pid <= 0)
		return;
	close(lk->mlock_fd);		/* EOF: mlock removes the lock */
	mlock_reap(lk->mlock_pid);	/* and only then are we unlocked */
	lk->mlock_pid = 0;
	lk->mlock_fd = -1;
}

int dotlock_take(const char *path, const char **notice_r,
		 const char **error_r)
{
	int r;

	*notice_r = NULL;
	r = dotlock_take_until(path, lock_deadline(0), error_r);
	if (r == 0)
		*notice_r = vulnerable_notice(path);
	return r < 0 ? -1 : 0;
}

void dotlock_release(const char *path)
{
	char *lockpath = xasprintf("%s.lock", path);
	int fd = open(lockpath, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	/* only remove our own lock */
	if (fd >= 0) {
		if (read_pid(fd) == getpid())
			(void)unlink(lockpath);
		close(fd);
	}
	free(lockpath);
}

static int fcntl_lock(int fd, bool shared, time_t deadline,
		      const char **error_r)
{
	struct flock fl;

	for (;;) {
		memset(&fl, 0, sizeof fl);
		fl.l_type = shared ? F_RDLCK : F_WRLCK;
		fl.l_whence = SEEK_SET;
#ifdef F_OFD_SETLK
		/* per open file description: two handles in one process
		 * exclude each other, and closing another fd does not drop
		 * the lock */
		if (fcntl(fd, F_OFD_SETLK, &fl) == 0)
			return 0;
#else
		if (fcntl(fd, F_SETLK, &fl) == 0)
			return 0;
#endif
		if (errno == EINVAL || errno == ENOLCK || errno == EOPNOTSUPP)
			return 0;	/* filesystem without locks */
		if (errno != EAGAIN && errno != EACCES && errno != EINTR) {
			*error_r = "fcntl lock failed";
			return -1;
		}
		if (time(NULL) >= deadline) {
			*error_r = "Mailbox is locked by another process "
				   "(timed out waiting for the lock)";
			return -1;
		}
		sleep_poll();
	}
}

static void fcntl_unlock(int fd)
{
	struct flock fl;

	memset(&fl, 0, sizeof fl);
	fl.l_type = F_UNLCK;
	fl.l_whence = SEEK_SET;
#ifdef F_OFD_SETLK
	(void)fcntl(fd, F_OFD_SETLK, &fl);
#else
	(void)fcntl(fd, F_SETLK, &fl);
#endif
}

static int flock_lock(int fd, bool shared, time_t deadline,
		      const char **error_r)
{
	for (;;) {
		if (flock(fd, (shared ? LOCK_SH : LOCK_EX) | LOCK_NB) == 0)
			return 0;
		if (errno == EINVAL || errno == ENOLCK || errno == EOPNOTSUPP)
			return 0;
		if (errno != EWOULDBLOCK && errno != EINTR) {
			*error_r = "flock failed";
			return -1;
		}
		if (time(NULL) >= deadline) {
			*error_r = "Mailbox is locked by another process "
				   "(timed out waiting for the lock)";
			return -1;
		}
		sleep_poll();
	}
}

/* the methods named in "lock-methods", as M_* bits */
static unsigned lock_methods(void)
{
	const char *p = config_str("lock-methods");
	unsigned m = 0;

	while (*p != '\0') {
		size_t n;

		while (*p == ' ' || *p == ',' || *p == '\t')
			p++;
		n = strcspn(p, " ,\t");
		if (n == 0)
			break;
		if (n == 7 && strncmp(p, "dotlock", 7) == 0)
			m |= M_DOTLOCK;
		else if (n == 5 && strncmp(p, "fcntl", 5) == 0)
			m |= M_FCNTL;
		else if (n == 5 && strncmp(p, "flock", 5) == 0)
			m |= M_FLOCK;
		else
			log_warning("lock-methods: unknown method %.*s",
				    (int)n, p);
		p += n;
	}
	return m;
}

/* The order is fixed, whatever order the setting lists them in: dotlock
 * (what every MTA and MUA serialises on, and cheap to wait for), then
 * fcntl, then flock. Two of our processes configured differently thus
 * never wait for each other in opposite orders. */
int lock_mailbox(const char *path, int fd, unsigned flags,
		 struct mail_lock **lock_r, const char **notice_r,
		 const char **error_r)
{
	unsigned methods = lock_methods();
	bool shared = (flags & LOCK_SHARED) != 0;
	time_t deadline = lock_deadline(flags);
	struct mail_lock *lk = xcalloc(1, sizeof *lk);

	*notice_r = NULL;
	lk->path = xstrdup(path);
	lk->fd = fd;
	lk->mlock_fd = -1;
	if ((methods & M_DOTLOCK) == 0)
		lk->dotlock_tried = true;
	else if (!shared || (flags & LOCK_DOTLOCK) != 0) {
		int r = dotlock_take_until(path, deadline, error_r);

		if (r < 0) {
			lock_release(&lk);
			return -1;
		}
		if (r == 0)
			r = mlock_take(lk, path, deadline, error_r);
		else
			lk->taken |= M_DOTLOCK;
		if (r < 0) {
			lock_release(&lk);
			return -1;
		}
		lk->dotlock_tried = true;
		if (r == 0 && !shared) {
			/* a reader does without it quietly; a writer is
			 * told, and must not rewrite */
			*notice_r = vulnerable_notice(path);
			lk->dotlock_missing = true;
		}
	}
	if ((methods & M_FCNTL) != 0) {
		if (fcntl_lock(fd, shared, deadline, error_r) < 0) {
			lock_release(&lk);
			return -1;
		}
		lk->taken |= M_FCNTL;
	}
	if ((methods & M_FLOCK) != 0) {
		if (flock_lock(fd, shared, deadline, error_r) < 0) {
			lock_release(&lk);
			return -1;
		}
		lk->taken |= M_FLOCK;
	}
	*lock_r = lk;
	return 0;
}

bool lock_dotlock_missing(const struct mail_lock *lk)
{
	return lk != NULL && lk->dotlock_missing;
}

bool lock_excludes_appenders(const struct mail_lock *lk)
{
	return lk != NULL && lk->dotlock_tried;
}

bool lock_dotlock_by_helper(const struct mail_lock *lk)
{
	return lk != NULL && lk->mlock_pid > 0;
}

void lock_release(struct mail_lock **lockp)
{
	struct mail_lock *lk = *lockp;

	if (lk == NULL)
		return;
	if ((lk->taken & M_FLOCK) != 0)
		(void)flock(lk->fd, LOCK_UN);
	if ((lk->taken & M_FCNTL) != 0)
		fcntl_unlock(lk->fd);
	if ((lk->taken & M_DOTLOCK) != 0)
		dotlock_release(lk->path);
	mlock_release(lk);
	free(lk->path);
	xfree(lockp);
}

/* ---- session locks ---- */

static void kiss_handler(int sig)
{
	(void)sig;
	lock_kiss_received = 1;
}

static void kiss_handler_install(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = kiss_handler;
	sigemptyset(&sa.sa_mask);
	/* no SA_RESTART: a blocking read returns EINTR so the session can
	 * reach a safe point */
	(void)sigaction(SIGUSR2, &sa, NULL);
}

/* "lock-directory" with %u (user) and %h (home) expanded; a per-user
 * directory ("%h/.cclient-locks") is made (0700) when missing */
static char *lock_directory(void)
{
	const char *tmpl = config_str("lock-directory");
	struct buf b;
	char *dir;

	if (*tmpl == '\0')
		return xstrdup("/tmp");
	if (strchr(tmpl, '%') == NULL)
		return xstrdup(tmpl);
	buf_init(&b, 0);
	for (const char *p = tmpl; *p != '\0'; p++) {
		if (p[0] == '%' && (p[1] == 'u' || p[1] == 'h')) {
			const char *v = mail_user == NULL ? NULL :
				p[1] == 'u' ? mail_user->name : mail_user->home;
			buf_puts(&b, v != NULL ? v : "");
			p++;
		} else if (p[0] == '%' && p[1] == '%') {
			buf_putc(&b, '%');
			p++;
		} else {
			buf_putc(&b, *p);
		}
	}
	dir = buf_steal(&b, NULL);
	buf_release(&b);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		log_warning("cannot create lock directory %s: %m", dir);
	return dir;
}

char *session_lock_path(const struct stat *st)
{
	char *dir = lock_directory();
	char *path = xasprintf("%s/.%lx.%lx", dir, (unsigned long)st->st_dev,
			       (unsigned long)st->st_ino);

	free(dir);
	return path;
}

int lock_file_open(const char *path, const struct stat *mbox_st,
		   const char **error_r)
{
	struct stat st;
	int fd = -1;

	/* a holder that lets go unlinks the file (UW's protocol): one we
	 * opened just before that has no link left, and is no evidence of
	 * anything; open the name again (bounded: each round needs another
	 * session to create and drop the file in between) */
	for (unsigned tries = 0; tries < 16; tries++) {
		fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK |
			  O_CLOEXEC, 0666);
		if (fd < 0) {
			log_error("Mailbox lock file %s open failure: %m", path);
			*error_r = "Can't open mailbox lock";
			return -1;
		}
		if (fstat(fd, &st) < 0 || st.st_nlink != 0)
			break;
		close(fd);
		fd = -1;
	}
	if (fd < 0) {
		log_error("Mailbox lock file %s keeps being removed", path);
		*error_r = "Can't open mailbox lock";
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1 ||
	    (st.st_uid != geteuid() && st.st_uid != 0 &&
	     st.st_uid != mbox_st->st_uid)) {
		log_error("Mailbox lock file %s refused: not a plain file of "
			  "the mailbox owner (uid %lu, %lu links); a private "
			  "lock-directory avoids this", path,
			  (unsigned long)st.st_uid, (unsigned long)st.st_nlink);
		close(fd);
		*error_r = "Mailbox lock file is not trustworthy "
			   "(owned by another user)";
		return -1;
	}
	/* others must be able to take it too (UW makes it 0666) */
	if (st.st_uid == geteuid())
		(void)fchmod(fd, 0666);
	return fd;
}

/* Does pid hold a flock on the file lst (per /proc/locks), and is it a
 * process of our uid? Only such a process may get the kiss of death:
 * the PID written in a 0666 lock file proves nothing. */
static bool pid_holds_flock(pid_t pid, const struct stat *lst)
{
	FILE *f = fopen("/proc/locks", "re");
	char line[256];
	bool found = false;
	unsigned lines = 0;

	if (f == NULL)
		return false;
	while (!found && lines++ < 100000 && fgets(line, sizeof line, f)) {
		char type[16], rw[16], mode[16];
		long lpid;
		unsigned maj, min;
		unsigned long long ino;

		/* "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF"; a
		 * waiter's line starts "1: -> FLOCK ..." and fails here */
		if (sscanf(line, "%*d: %15s %15s %15s %ld %x:%x:%llu", type,
			   mode, rw, &lpid, &maj, &min, &ino) != 7)
			continue;
		found = strcmp(type, "FLOCK") == 0 && lpid == (long)pid &&
			ino == (unsigned long long)lst->st_ino &&
			makedev(maj, min) == lst->st_dev;
	}
	fclose(f);
	if (found) {
		/* and never a process of another user (root's own count as
		 * ours: only root could have made them hold our file) */
		char proc[32];
		struct stat pst;

		snprintf(proc, sizeof proc, "/proc/%ld", (long)pid);
		found = stat(proc, &pst) == 0 &&
			(pst.st_uid == geteuid() || pst.st_uid == 0);
	}
	return found;
}

/* open the lock file and try to flock it; 1 locked, 0 busy, -1 error */
static int session_try(const char *path, const struct stat *mbox_st,
		       int *fd_r, const char **error_r)
{
	struct stat st1, st2;
	int fd = lock_file_open(path, mbox_st, error_r);

	if (fd < 0)
		return -1;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		*fd_r = fd;
		return 0;
	}
	/* the previous holder may have unlinked it meanwhile */
	if (stat(path, &st2) < 0 || fstat(fd, &st1) < 0 ||
	    st1.st_ino != st2.st_ino || st1.st_dev != st2.st_dev) {
		close(fd);
		*fd_r = -1;
		return 0;
	}
	*fd_r = fd;
	return 1;
}

int session_lock_take(const struct stat *st, unsigned flags,
		      struct session_lock **lock_r, const char **error_r)
{
	char *path = session_lock_path(st);
	time_t deadline = time(NULL) + (time_t)config_int("lock-timeout");
	bool kissed = false;

	if ((flags & SESSION_LOCK_OWN_FILE) != 0) {
		char *own = xasprintf("%s.pop3", path);
		free(path);
		path = own;
	}
	char pidbuf[32];
	int fd = -1, r;

	const char *err = NULL;

	for (;;) {
		r = session_try(path, st, &fd, &err);
		if (r != 0)
			break;
		if (fd >= 0) {
			pid_t pid = read_pid(fd);
			struct stat lst;
			bool holder = fstat(fd, &lst) == 0 && pid > 0 &&
				pid_holds_flock(pid, &lst);

			close(fd);
			fd = -1;
			if (pid == getpid()) {
				r = 0;	/* another handle in this process */
				break;
			}
			if (!kissed && (flags & SESSION_LOCK_KISS) != 0 &&
			    pid > 0 && !holder) {
				log_warning("not sending kiss of death to pid "
					    "%ld for %s: it does not hold the "
					    "lock", (long)pid, path);
				kissed = true;
			} else if (!kissed &&
				   (flags & SESSION_LOCK_KISS) != 0 &&
				   pid > 0) {
				log_info("sending kiss of death to pid %ld "
					 "for %s", (long)pid, path);
				(void)kill(pid, SIGUSR2);
				kissed = true;
			}
		}
		if (time(NULL) >= deadline)
			break;
		sleep_poll();
	}
	if (r <= 0) {
		free(path);
		if (r < 0)
			*error_r = err != NULL ? err : "Can't open mailbox lock";
		else if ((flags & SESSION_LOCK_POP3) != 0)
			*error_r = mail_error(MAIL_ERROR_INUSE, "Mailbox is "
					      "locked by another session");
		else
			*error_r = "Mailbox is open by another process, "
				   "access is readonly";
		return -1;
	}
	int n = snprintf(pidbuf, sizeof pidbuf, "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite_full(fd, pidbuf, (size_t)n, 0) < 0)
		log_warning("write %s: %m", path);
	kiss_handler_install();
	*lock_r = xcalloc(1, sizeof **lock_r);
	(*lock_r)->path = path;
	(*lock_r)->fd = fd;
	return 0;
}

void session_lock_release(struct session_lock **lockp)
{
	struct session_lock *lk = *lockp;

	if (lk == NULL)
		return;
	/* unlink while still holding the flock: a waiter that then gets
	 * the lock on the unlinked inode notices and retries */
	(void)unlink(lk->path);
	close(lk->fd);
	free(lk->path);
	xfree(lockp);
}
