/*
 * mail-error.h - why a storage operation failed, as a code the front
 * ends can map to their own response codes (Dovecot's mail-error.h).
 *
 * Every function that fails says why in words through its error_r
 * out-parameter, as before; the storage layer also records a code for
 * the same failure, which the caller reads right after the failed call
 * with mail_get_last_error() (like errno: only meaningful after a
 * failure, and the next storage call may change it). Each generic
 * mail_* operation starts by clearing it, so a failure that knows no
 * code reads MAIL_ERROR_NONE: the front end then answers without a
 * response code (IMAP plain NO, POP3 [SYS/TEMP] as before). Operations
 * on an open mailbox record it in the mailbox too
 * (mailbox_get_last_error()).
 *
 * IMAP codes are RFC 5530's (and RFC 3501's TRYCREATE); POP3 codes are
 * RFC 2449's IN-USE and RFC 3206's SYS/TEMP and SYS/PERM.
 */
#ifndef MAIL_ERROR_H
#define MAIL_ERROR_H

#include "util.h"

enum mail_error {
	/* no error recorded (the last operation succeeded, or set none) */
	MAIL_ERROR_NONE = 0,
	/* a temporary failure: I/O error, lock timeout, out of some
	 * resource; trying again later may work.
	 * IMAP [UNAVAILABLE]; POP3 [SYS/TEMP] */
	MAIL_ERROR_TEMP,
	/* the mailbox (or a message) does not exist.
	 * IMAP [NONEXISTENT], [TRYCREATE] for APPEND/COPY/MOVE targets
	 * (RFC 3501 6.3.11, 6.4.7); POP3 [SYS/PERM] */
	MAIL_ERROR_NOTFOUND,
	/* the mailbox to be created (or a rename target) exists already.
	 * IMAP [ALREADYEXISTS]; POP3 [SYS/PERM] */
	MAIL_ERROR_EXISTS,
	/* another session holds the mailbox (the POP3 session lock).
	 * IMAP [INUSE]; POP3 [IN-USE] (RFC 2449 8.1.3) */
	MAIL_ERROR_INUSE,
	/* the file modes, the restrict-mailbox-access setting or an
	 * anonymous login forbid it.
	 * IMAP [NOPERM]; POP3 [SYS/PERM] */
	MAIL_ERROR_NOPERM,
	/* the disk (or a file system quota) is full. RFC 5530 has no code
	 * for it ([OVERQUOTA] is for the server's own quotas): IMAP plain
	 * NO with the text; POP3 [SYS/TEMP] */
	MAIL_ERROR_NOSPACE,
	/* the mailbox file is damaged and cannot be read as its format.
	 * IMAP [CORRUPTION]; POP3 [SYS/PERM] */
	MAIL_ERROR_CORRUPT,
	/* a limit of the server: name too long, too many keywords, a
	 * message or mailbox too large. IMAP [LIMIT]; POP3 [SYS/PERM] */
	MAIL_ERROR_LIMIT,
	/* the request itself is invalid: a bad name, keyword or sequence
	 * number. IMAP plain NO (BAD is for syntax); POP3 [SYS/PERM] */
	MAIL_ERROR_PARAMS,
	/* valid, but this mailbox cannot do it: delete INBOX, a format
	 * without APPEND, a directory with inferiors.
	 * IMAP [CANNOT]; POP3 [SYS/PERM] */
	MAIL_ERROR_NOTPOSSIBLE,
};

struct mailbox;

/* the enum name without MAIL_ERROR_ ("NOTFOUND"), for logs and tests */
const char *mail_error_name(enum mail_error code);
/* the code for an errno value of a failed file operation */
enum mail_error mail_error_from_errno(int err);

/* Record code as the last error and return text formatted into the
 * process's error buffer (valid until the next mail_error_fmt()), so a
 * failure is `*error_r = mail_error_fmt(MAIL_ERROR_x, "...", ...);`. */
const char *mail_error_fmt(enum mail_error code, const char *fmt, ...)
	ATTR_PRINTF(2, 3);
/* Record code as the last error and return text unchanged (a constant
 * string): `*error_r = mail_error(MAIL_ERROR_x, "...");` */
const char *mail_error(enum mail_error code, const char *text);
/* Forget the last error (each generic mail_* operation starts so). */
void mail_error_clear(void);
/* The last error recorded since mail_error_clear(); MAIL_ERROR_NONE if
 * the failure recorded none. */
enum mail_error mail_get_last_error(void);

/* The one error helper of a mailbox (replaces the drivers' own buffers):
 * format the text into mb's error buffer, record code in mb and as the
 * last error, and return the text (valid until mb's next error). */
const char *mail_set_error(struct mailbox *mb, enum mail_error code,
			   const char *fmt, ...) ATTR_PRINTF(3, 4);
/* mb's last error text and code (Dovecot's mailbox_get_last_error()) */
const char *mailbox_get_last_error(const struct mailbox *mb,
				   enum mail_error *code_r);

#endif
