/*
 * deliver.h - local delivery shared by tmail (run by the MTA as root) and
 * dmail (run by procmail as the user): read one message from a
 * descriptor, then append it to a mailbox of mail_user with the same
 * locking as the servers (mail_append). Results are <sysexits.h> codes,
 * because that is what MTAs understand: EX_TEMPFAIL makes them retry,
 * so a message is never lost to a busy or broken mailbox.
 */
#ifndef CC_DELIVER_H
#define CC_DELIVER_H

#include "util.h"

struct delivery {
	char *data;		/* the message, CRLF line ends */
	size_t len;
	char *sender;		/* envelope sender for the "From " line */
};

/*
 * Read the whole message from fd (at most max bytes, else EX_DATAERR).
 * A leading "From " line (as Postfix and sendmail prepend) is removed;
 * the sender is sender_opt, else that line's address, else Return-Path,
 * else MAILER-DAEMON. With sender_opt ("" or "<>" for the null sender)
 * a "Return-Path: <sender>" header is prepended unless the message has
 * one (as UW tmail did). Bare LF line ends become CRLF. Returns EX_OK
 * or an EX_* code with *error_r.
 */
int deliver_read(int fd, const char *sender_opt, size_t max,
		 struct delivery *d, const char **error_r);
void deliver_free(struct delivery *d);

/*
 * Append d to mailbox (a user-typed name, "INBOX" usually) of mail_user,
 * creating it when missing (INBOX as an empty traditional file, other
 * names in their #driver. or the default format). The caller already
 * runs with the user's privileges. Returns EX_OK, EX_CANTCREAT (cannot
 * create the mailbox), EX_NOPERM (name refused) or EX_TEMPFAIL.
 */
int deliver_to(const struct delivery *d, const char *mailbox,
	       const char **error_r);

/*
 * Open rel (relative, no "." or ".." components) beneath the directory
 * base without following a symbolic link in any component, the last
 * included: openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), or a walk
 * with O_NOFOLLOW per component where the kernel lacks openat2 (or
 * always, with walk_only: tests). Returns an O_PATH descriptor, or -1
 * with errno (ELOOP: a link on the way; EXDEV: outside base).
 */
int deliver_open_beneath(const char *base, const char *rel, bool walk_only);

/* May a mailbox with this lstat() receive mail for uid? Owned by uid or
 * root, a regular file with one link or a directory, not a link.
 * Returns 0, or -1 with *error_r. */
struct stat;
int deliver_check_owner(const struct stat *st, uid_t uid,
			const char **error_r);

/* "success" "temporary failure" ... for logs */
const char *deliver_result_name(int ex);

#endif
