/*
 * dmail - deliver a message from procmail (or any filter run as the
 * user) to one of the invoking user's mailboxes, with the same locking
 * as imapd and ipop3d (seed FAQ 4.5).
 *
 *   dmail [-c config] [-f sender] [+mailbox]
 *
 * The default mailbox is INBOX; "+name" names another (created when
 * missing, in its #driver. format or the default one). Exit codes are
 * <sysexits.h>, as procmail expects: EX_OK, EX_TEMPFAIL (busy or any
 * temporary trouble: the message stays with procmail, which retries or
 * falls back), EX_CANTCREAT, EX_NOPERM (name refused by
 * restrict-mailbox-access), EX_USAGE, EX_DATAERR, EX_NOUSER (the
 * invoking uid has no passwd entry).
 *
 * SECURITY: runs with the invoking user's privileges and never gains
 * any; it must not be installed set-id. The mailbox name is treated like
 * an IMAP name (mail_resolve and its restrictions).
 */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "config.h"
#include "deliver.h"
#include "log.h"
#include "mail.h"
#include "mailname.h"
#include "linkage.h"

static void usage(void)
{
	fprintf(stderr, "usage: dmail [-c config] [-f sender] [+mailbox]\n");
	exit(EX_USAGE);
}

int main(int argc, char **argv)
{
	const char *config_path = NULL, *sender = NULL, *mailbox = "INBOX";
	const char *error = NULL;
	struct passwd *pw;
	struct delivery d;
	int ch, ex;

	log_open("dmail");
	drivers_link();
	if (getuid() != geteuid() || getgid() != getegid()) {
		fprintf(stderr, "dmail: must not run set-id\n");
		return EX_NOPERM;
	}
	while ((ch = getopt(argc, argv, "c:f:r:")) != -1) {
		switch (ch) {
		case 'c':
			config_path = optarg;
			break;
		case 'f':
		case 'r':
			sender = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind < argc) {
		if (argv[optind][0] != '+' || argv[optind][1] == '\0' ||
		    optind + 1 != argc)
			usage();
		mailbox = argv[optind] + 1;
	}
	if (config_load(config_path, &error) < 0) {
		log_error("%s", error);
		fprintf(stderr, "dmail: %s\n", error);
		return EX_TEMPFAIL;
	}
	errno = 0;
	pw = getpwuid(getuid());
	if (pw == NULL) {
		fprintf(stderr, "dmail: uid %ld has no passwd entry\n",
			(long)getuid());
		return errno != 0 && errno != ENOENT ? EX_TEMPFAIL : EX_NOUSER;
	}
	mail_user_set(pw->pw_name, pw->pw_uid, pw->pw_gid, pw->pw_dir);
	log_set_user(pw->pw_name);

	ex = deliver_read(STDIN_FILENO, sender,
			  (size_t)config_int("max-literal-size"), &d, &error);
	if (ex != EX_OK) {
		log_error("reading message: %s", error);
		fprintf(stderr, "dmail: %s\n", error);
		return ex;
	}
	ex = deliver_to(&d, mailbox, &error);
	if (ex == EX_OK) {
		log_info("delivered to %s mailbox=%s size=%zu sender=%s",
			 pw->pw_name, mailbox, d.len, d.sender);
	} else {
		log_error("deliver to %s mailbox=%s size=%zu: %s (%s)",
			  pw->pw_name, mailbox, d.len, deliver_result_name(ex),
			  error);
		fprintf(stderr, "dmail: %s: %s\n", mailbox, error);
	}
	deliver_free(&d);
	return ex;
}
