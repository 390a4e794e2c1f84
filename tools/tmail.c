/*
 * tmail - deliver a message from an MTA to local users' INBOXes, in
 * whatever format each INBOX is (traditional spool, a migrated ~/mbox,
 * mbx or maildir ~/INBOX: seed FAQ 4.5), with the same locking as imapd
 * and ipop3d, so delivery never races a session.
 *
 *   tmail [-c config] [-f sender] [-I mailbox] user...
 *
 * Exit codes are <sysexits.h>: EX_OK, EX_NOUSER, EX_TEMPFAIL (busy or any
 * temporary trouble: the MTA keeps the message and retries), EX_CANTCREAT,
 * EX_USAGE, EX_DATAERR (message over max-literal-size). With several users
 * a temporary failure for any of them wins, so no one's copy is lost; an
 * MTA should give tmail one recipient per run to avoid duplicates.
 *
 * SECURITY: run by the MTA as root. The message is read once, as root,
 * into memory; then for each recipient a child process drops to that
 * user (setgroups, setgid, setuid, each checked, then verified
 * irrevocable) BEFORE any mailbox name is resolved or any file in the
 * user's home is looked at, so symbolic links and odd files there can
 * reach nothing the user could not reach. The only privilege kept is
 * membership of the spool directory's group when that directory is
 * group-writable and not world-writable (Debian's 2775 root:mail
 * /var/mail), so the child can create the spool file and its .lock as
 * every other delivery agent does. When not run as root, tmail only
 * delivers to the invoking user.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include "config.h"
#include "deliver.h"
#include "log.h"
#include "mail.h"
#include "mailname.h"

static void usage(void)
{
	fprintf(stderr, "usage: tmail [-c config] [-f sender] [-I mailbox] user...\n");
	exit(EX_USAGE);
}

/* group of the spool directory if the child needs it to create files */
static bool spool_group(gid_t *gid_r)
{
	struct stat st;

	if (stat(config_str("spool-directory"), &st) < 0 || !S_ISDIR(st.st_mode))
		return false;
	if ((st.st_mode & S_IWGRP) == 0 || (st.st_mode & S_IWOTH) != 0)
		return false;
	*gid_r = st.st_gid;
	return true;
}

/* become pw irrevocably; exits the child with EX_TEMPFAIL on failure */
static void drop_to(const struct passwd *pw, bool for_inbox)
{
	gid_t groups[2];
	size_t ng = 0;

	if (getuid() != 0 && geteuid() != 0)
		return;		/* delivering to ourselves (checked by caller) */
	groups[ng++] = pw->pw_gid;
	if (for_inbox && spool_group(&groups[ng]) && groups[ng] != pw->pw_gid)
		ng++;
	if (setgroups(ng, groups) < 0 || setgid(pw->pw_gid) < 0 ||
	    setuid(pw->pw_uid) < 0) {
		log_error("cannot become %s: %s", pw->pw_name, strerror(errno));
		_exit(EX_TEMPFAIL);
	}
	if (getuid() != pw->pw_uid || geteuid() != pw->pw_uid ||
	    getgid() != pw->pw_gid || getegid() != pw->pw_gid ||
	    (pw->pw_uid != 0 && setuid(0) == 0)) {
		log_error("privileges of %s not dropped", pw->pw_name);
		_exit(EX_TEMPFAIL);
	}
}

/* deliver to one user in a child; returns an EX_* code */
static int deliver_user(const char *user, const char *mailbox,
			const struct delivery *d)
{
	struct passwd *pw;
	pid_t pid;
	int status, ex;
	const char *error = NULL;

	errno = 0;
	pw = getpwnam(user);
	if (pw == NULL) {
		if (errno != 0 && errno != ENOENT && errno != ESRCH) {
			log_error("deliver to %s: user lookup: %s", user,
				  strerror(errno));
			return EX_TEMPFAIL;
		}
		log_notice("deliver to %s size=%zu: unknown user", user, d->len);
		fprintf(stderr, "tmail: %s: unknown user\n", user);
		return EX_NOUSER;
	}
	if (getuid() != 0 && geteuid() != 0 && pw->pw_uid != getuid()) {
		log_error("deliver to %s: not root, only the invoking user allowed",
			  user);
		fprintf(stderr, "tmail: %s: permission denied (not root)\n", user);
		return EX_NOPERM;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		log_error("fork: %s", strerror(errno));
		return EX_TEMPFAIL;
	}
	if (pid == 0) {
		drop_to(pw, mail_name_is_inbox(mailbox) ||
			ascii_strncasecmp(mailbox, "#driver.", 8) == 0);
		mail_user_set(pw->pw_name, pw->pw_uid, pw->pw_gid, pw->pw_dir);
		log_set_user(pw->pw_name);
		ex = deliver_to(d, mailbox, &error);
		if (ex == EX_OK) {
			log_info("delivered to %s mailbox=%s size=%zu sender=%s",
				 pw->pw_name, mailbox, d->len, d->sender);
		} else {
			log_error("deliver to %s mailbox=%s size=%zu: %s (%s)",
				  pw->pw_name, mailbox, d->len,
				  deliver_result_name(ex), error);
			fprintf(stderr, "tmail: %s: %s\n", pw->pw_name, error);
		}
		fflush(NULL);
		_exit(ex);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return EX_TEMPFAIL;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	log_error("deliver to %s: child died with signal %d", user,
		  WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	return EX_TEMPFAIL;
}

int main(int argc, char **argv)
{
	const char *config_path = NULL, *sender = NULL, *mailbox = "INBOX";
	const char *error;
	struct delivery d;
	int ch, ex, result = EX_OK;

	log_open("tmail");
	while ((ch = getopt(argc, argv, "c:f:r:I:d")) != -1) {
		switch (ch) {
		case 'c':
			config_path = optarg;
			break;
		case 'f':
		case 'r':	/* sendmail's old spelling */
			sender = optarg;
			break;
		case 'I':
			mailbox = optarg;
			break;
		case 'd':	/* "deliver" flag some MTAs pass: no-op */
			break;
		default:
			usage();
		}
	}
	if (optind >= argc)
		usage();
	if (config_load(config_path, &error) < 0) {
		log_error("%s", error);
		fprintf(stderr, "tmail: %s\n", error);
		return EX_TEMPFAIL;
	}
	ex = deliver_read(STDIN_FILENO, sender,
			  (size_t)config_int("max-literal-size"), &d, &error);
	if (ex != EX_OK) {
		log_error("reading message: %s", error);
		fprintf(stderr, "tmail: %s\n", error);
		return ex;
	}
	for (int i = optind; i < argc; i++) {
		ex = deliver_user(argv[i], mailbox, &d);
		if (ex == EX_TEMPFAIL || result == EX_OK)
			result = ex == EX_OK ? result : ex;
	}
	deliver_free(&d);
	return result;
}
