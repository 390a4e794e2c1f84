/*
 * mlock.c - setgid-mail helper that holds <spool>/<user>.lock for a mail
 * session that is not in group mail (seed FAQ 7.10; UW had one too).
 *
 * Protocol: the session runs mlock with its stdin and stdout on pipes.
 * mlock creates the lock file and writes "+\n" (held) or "-reason\n"
 * (not held) to stdout; then it waits until its stdin reaches EOF or a
 * byte arrives, removes the lock file it created and exits. If the session
 * dies, stdin reaches EOF and the lock is removed: a crash never leaves
 * the spool locked.
 *
 * SECURITY: installed setgid mail. It takes no arguments and reads no
 * configuration or environment: the spool directory is compiled in and
 * the user name comes from the real uid. It only ever creates and removes
 * that one file, with O_EXCL|O_NOFOLLOW, and drops the mail group before
 * exiting. Stale locks (owner dead, or older than the MTAs' 5 minutes)
 * are broken as procmail and Postfix break them, with the inode checked
 * again before the unlink (the same rule as lock.c's
 * dotlock_break_if_stale(); mlock stays one self-contained file), so a
 * fresh lock is never removed.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#ifndef MLOCK_SPOOL
#define MLOCK_SPOOL "/var/mail"
#endif
#define MLOCK_TRIES 20		/* one per second */
#define MLOCK_STALE 300		/* seconds, as Postfix's stale_lock_time */
#define MLOCK_MAX_HOLD 3600	/* never hold the spool longer than this */

static void reply(const char *s)
{
	ssize_t r = write(1, s, strlen(s));
	(void)r;
}

/* Remove the lock file at path if it is stale (its pid dead, or older
 * than MLOCK_STALE); 1 if it is gone. The file judged stale stays open
 * until lstat() shows the name still is that inode: while it is open
 * its inode number cannot be reused by a fresh lock an MTA makes once
 * the stale one is gone, so that fresh lock is never removed. */
static int break_if_stale(const char *path)
{
	char buf[32];
	struct stat st, st2;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
	ssize_t n;
	long pid;
	int stale = 0;

	if (fd < 0)
		return errno == ENOENT;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return 0;
	}
	n = read(fd, buf, sizeof buf - 1);
	if (time(NULL) - st.st_mtime > MLOCK_STALE)
		stale = 1;
	if (n > 0) {
		buf[n] = '\0';
		pid = strtol(buf, NULL, 10);
		if (pid > 0 && kill((pid_t)pid, 0) < 0 && errno == ESRCH)
			stale = 1;
	}
	if (!stale) {
		close(fd);
		return 0;
	}
	if (lstat(path, &st2) < 0 || st2.st_ino != st.st_ino ||
	    st2.st_dev != st.st_dev) {
		close(fd);
		return 1;	/* replaced meanwhile: look again */
	}
	syslog(LOG_NOTICE, "removing stale lock %s", path);
	if (unlink(path) < 0 && errno != ENOENT) {
		close(fd);
		return 0;
	}
	close(fd);
	return 1;
}

int main(int argc, char **argv)
{
	char path[PATH_MAX], pidbuf[32];
	struct passwd *pw;
	struct pollfd pfd;
	int fd = -1, n, i;
	char c;

	(void)argv;
	openlog("mlock", LOG_PID, LOG_MAIL);
	signal(SIGPIPE, SIG_IGN);
	if (argc != 1) {
		reply("-usage: mlock takes no arguments\n");
		return 2;
	}
	pw = getpwuid(getuid());
	if (pw == NULL || strchr(pw->pw_name, '/') != NULL || pw->pw_name[0] == '.') {
		reply("-unknown user\n");
		return 1;
	}
	n = snprintf(path, sizeof path, "%s/%s.lock", MLOCK_SPOOL, pw->pw_name);
	if (n < 0 || (size_t)n >= sizeof path) {
		reply("-path too long\n");
		return 1;
	}
	for (i = 0; i < MLOCK_TRIES; i++) {
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0644);
		if (fd >= 0)
			break;
		if (errno != EEXIST) {
			syslog(LOG_ERR, "cannot create %s: %m", path);
			reply("-cannot create lock file\n");
			return 1;
		}
		if (break_if_stale(path))
			continue;
		sleep(1);
	}
	if (fd < 0) {
		reply("-mailbox is locked\n");
		return 1;
	}
	/* the pid of the session (our parent) owns the lock, as other tools
	 * expect a live pid in it */
	n = snprintf(pidbuf, sizeof pidbuf, "%ld\n", (long)getppid());
	if (write(fd, pidbuf, (size_t)n) != n || close(fd) < 0) {
		(void)unlink(path);
		reply("-cannot write lock file\n");
		return 1;
	}
	reply("+\n");
	pfd.fd = 0;
	pfd.events = POLLIN;
	do {
		n = poll(&pfd, 1, MLOCK_MAX_HOLD * 1000);
	} while (n < 0 && errno == EINTR);
	if (n == 0)
		syslog(LOG_WARNING, "released %s after holding it %d s", path, MLOCK_MAX_HOLD);
	else
		(void)!read(0, &c, 1);	/* EOF or a byte: release either way */
	if (unlink(path) < 0 && errno != ENOENT)
		syslog(LOG_ERR, "cannot remove %s: %m", path);
	if (setgid(getgid()) < 0)
		return 1;
	return 0;
}
