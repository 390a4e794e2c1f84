/*
 * tmail - deliver a message from an MTA to local users' INBOXes, in
 * whatever format each INBOX is (traditional spool, a migrated ~/mbox,
 * mbx or maildir ~/INBOX: seed FAQ 4.5), with the same locking as imapd
 * and ipop3d, so delivery never races a session.
 *
 *   tmail [-c config] [-f sender] [-I mailbox] user[+folder]...
 *
 * Exit codes are <sysexits.h>: EX_OK, EX_NOUSER, EX_TEMPFAIL (busy or any
 * temporary trouble: the MTA keeps the message and retries), EX_CANTCREAT,
 * EX_USAGE, EX_DATAERR (message over max-literal-size). With several users
 * a temporary failure for any of them wins, so no one's copy is lost; an
 * MTA should give tmail one recipient per run to avoid duplicates.
 *
 * SECURITY: run by the MTA as root, never set-uid (refused: an MTA runs
 * it as root, a user runs dmail). The message is read once, as root,
 * into memory; then for each recipient a child process drops to that
 * user (setgroups to the user's own groups, setgid, setuid, each
 * checked, then verified irrevocable) BEFORE any mailbox name is
 * resolved or any file in the user's home is looked at. A "user+folder"
 * delivery runs with the recipient's ids only: the folder is resolved
 * beneath the mail directory without following any symbolic link
 * (deliver_open_beneath()) and must be the recipient's own file, so
 * `ln -s /var/mail ~/d` and mail to user+d/victim reaches nothing. Only
 * when it falls back to the INBOX does a second child keep membership
 * of the spool directory's group (when that directory is group-writable
 * and not world-writable: Debian's 2775 root:mail /var/mail), so it can
 * create the spool file and its .lock as every other delivery agent
 * does; deliver_to() then checks the spool file belongs to the
 * recipient. When not run as root, tmail only delivers to the invoking
 * user.
 */
#include <errno.h>
#include <fcntl.h>
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
	fprintf(stderr, "usage: tmail [-c config] [-f sender] [-I mailbox] user[+folder]...\n");
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

/* the user's groups (as login would give them), plus extra if not in */
static gid_t *user_groups(const struct passwd *pw, const gid_t *extra,
			  size_t *n_r)
{
	int n = 32, want;
	gid_t *groups = NULL;

	for (;;) {
		groups = xreallocarray(groups, (size_t)n + 1, sizeof *groups);
		want = n;
		if (getgrouplist(pw->pw_name, pw->pw_gid, groups, &want) >= 0) {
			n = want;
			break;
		}
		if (want <= n || want > 65536) {
			/* the group database misbehaves: primary group only */
			groups[0] = pw->pw_gid;
			n = 1;
			break;
		}
		n = want;
	}
	if (extra != NULL) {
		bool have = false;
		for (int i = 0; i < n; i++)
			have = have || groups[i] == *extra;
		if (!have)
			groups[n++] = *extra;
	}
	*n_r = (size_t)n;
	return groups;
}

/* become pw irrevocably; exits the child with EX_TEMPFAIL on failure */
static void drop_to(const struct passwd *pw, bool for_inbox)
{
	gid_t *groups, sg;
	size_t ng;

	if (getuid() != 0 && geteuid() != 0)
		return;		/* delivering to ourselves (checked by caller) */
	groups = user_groups(pw, for_inbox && spool_group(&sg) ? &sg : NULL,
			     &ng);
	if (setgroups(ng, groups) < 0 || setgid(pw->pw_gid) < 0 ||
	    setuid(pw->pw_uid) < 0) {
		log_error("cannot become %s: %s", pw->pw_name, strerror(errno));
		_exit(EX_TEMPFAIL);
	}
	free(groups);
	if (getuid() != pw->pw_uid || geteuid() != pw->pw_uid ||
	    getgid() != pw->pw_gid || getegid() != pw->pw_gid ||
	    (pw->pw_uid != 0 && setuid(0) == 0)) {
		log_error("privileges of %s not dropped", pw->pw_name);
		_exit(EX_TEMPFAIL);
	}
}

/* a ".." path component? */
static bool has_dotdot(const char *s)
{
	for (const char *p = s; (p = strstr(p, "..")) != NULL; p += 2)
		if ((p == s || p[-1] == '/') && (p[2] == '\0' || p[2] == '/'))
			return true;
	return false;
}

/*
 * "user+folder" (UW tmail): deliver to folder if it exists, else to the
 * usual mailbox. Only plain names under the mail directory qualify, no
 * absolute, ~user, #namespace or ".." names: the MTA takes the folder
 * from the address, so it is chosen by the sender. The folder is looked
 * up beneath the mail directory with no symbolic link followed on the
 * way and must belong to the user. Runs as the user, without the spool
 * group. NULL: use the usual mailbox.
 */
static const char *pick_folder(const char *user, const char *folder)
{
	struct mail_path mp;
	struct stat st;
	const char *err, *base = mail_user->maildir, *rel;
	size_t bl = strlen(base);
	int fd;

	if (folder == NULL || *folder == '\0' || mail_name_is_inbox(folder))
		return NULL;
	if (folder[0] == '/' || folder[0] == '~' || folder[0] == '#' ||
	    has_dotdot(folder)) {
		log_notice("deliver to %s: folder name %s not allowed, using "
			   "INBOX", user, folder);
		return NULL;
	}
	if (mail_resolve(folder, &mp, &err) < 0)
		return NULL;
	while (bl > 1 && base[bl - 1] == '/')
		bl--;
	if (strncmp(mp.path, base, bl) != 0 || mp.path[bl] != '/') {
		log_notice("deliver to %s: folder %s not in the mail "
			   "directory, using INBOX", user, folder);
		mail_path_free(&mp);
		return NULL;
	}
	for (rel = mp.path + bl; *rel == '/'; rel++)
		;
	fd = deliver_open_beneath(base, rel, false);
	if (fd < 0) {
		if (errno == ENOENT)
			log_info("deliver to %s: no folder %s, using INBOX",
				 user, folder);
		else
			log_notice("deliver to %s: folder %s refused (%s), "
				   "using INBOX", user, folder,
				   errno == ELOOP ? "symbolic link on the way" :
				   strerror(errno));
		mail_path_free(&mp);
		return NULL;
	}
	mail_path_free(&mp);
	err = "cannot fstat";
	if (fstat(fd, &st) < 0 ||
	    deliver_check_owner(&st, mail_user->uid, &err) < 0) {
		log_notice("deliver to %s: folder %s refused (%s), using INBOX",
			   user, folder, err);
		close(fd);
		return NULL;
	}
	close(fd);
	return folder;
}

/* exit code of a folder child that found no usable folder */
#define EX_USE_INBOX 200

/* the child's work: become pw, deliver to mailbox (or folder) */
static void deliver_child(const struct passwd *pw, const char *folder,
			  const char *mailbox, const struct delivery *d)
{
	const char *error = NULL;
	int ex;

	/* a folder is looked up and written with the user's ids only; the
	 * spool group is for the INBOX (its file and .lock) */
	drop_to(pw, folder == NULL && (mail_name_is_inbox(mailbox) ||
		ascii_strncasecmp(mailbox, "#driver.", 8) == 0));
	mail_user_set(pw->pw_name, pw->pw_uid, pw->pw_gid, pw->pw_dir);
	log_set_user(pw->pw_name);
	if (folder != NULL) {
		mailbox = pick_folder(pw->pw_name, folder);
		if (mailbox == NULL) {
			fflush(NULL);
			_exit(EX_USE_INBOX);
		}
	}
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

/* run deliver_child() in a child process; its EX_* code */
static int deliver_fork(const struct passwd *pw, const char *user,
			const char *folder, const char *mailbox,
			const struct delivery *d)
{
	pid_t pid;
	int status;

	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		log_error("fork: %s", strerror(errno));
		return EX_TEMPFAIL;
	}
	if (pid == 0)
		deliver_child(pw, folder, mailbox, d);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return EX_TEMPFAIL;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	log_error("deliver to %s: child died with signal %d", user,
		  WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	return EX_TEMPFAIL;
}

/* deliver to one user ("user" or "user+folder") in a child; returns an
 * EX_* code */
static int deliver_user(const char *arg, const char *mailbox,
			const struct delivery *d)
{
	struct passwd *pw;
	const char *folder = NULL, *plus;
	char user[256];

	/* a name with '+' in the passwd file wins over the folder syntax */
	if (snprintf(user, sizeof user, "%s", arg) >= (int)sizeof user) {
		fprintf(stderr, "tmail: %.40s...: user name too long\n", arg);
		return EX_NOUSER;
	}
	errno = 0;
	pw = getpwnam(user);
	plus = strchr(arg, '+');
	if (pw == NULL && plus != NULL && plus != arg) {
		user[plus - arg] = '\0';
		folder = plus + 1;
		errno = 0;
		pw = getpwnam(user);
	}
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
	if (folder != NULL) {
		int ex = deliver_fork(pw, user, folder, mailbox, d);
		if (ex != EX_USE_INBOX)
			return ex;
	}
	return deliver_fork(pw, user, NULL, mailbox, d);
}

int main(int argc, char **argv)
{
	const char *config_path = NULL, *sender = NULL, *mailbox = "INBOX";
	const char *error;
	struct delivery d;
	int ch, ex, result = EX_OK;

	log_open("tmail");
	if (getuid() != geteuid() || getgid() != getegid()) {
		/* as dmail: the MTA runs tmail as root; set-id, a user
		 * could point it at any mailbox with -I or a config */
		log_error("tmail must not be set-uid or set-gid");
		fprintf(stderr, "tmail: must not be set-uid or set-gid\n");
		return EX_NOPERM;
	}
	while ((ch = getopt(argc, argv, "c:f:r:I:dD")) != -1) {
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
		case 'D':	/* UW's debug flag: the log says enough */
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
