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
 * are broken as procmail and Postfix break them, by lock.c's
 * dotlock_break_if_stale(), which re-checks the inode before the
 * unlink so a fresh lock is never removed.
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

#include "lock.h"

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
		/* stale (owner dead, too old): removed only if the name
		 * is still the file judged stale, so a fresh MTA lock made
		 * meanwhile stays (logged by lock.c) */
		if (dotlock_break_if_stale(path, MLOCK_STALE))
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
