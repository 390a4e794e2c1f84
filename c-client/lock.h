/*
 * lock.h - mailbox file locks and the per-mailbox session lock.
 *
 * Mailbox locks (lock_mailbox): writers take every method listed in the
 * "lock-methods" setting in the fixed order dotlock, fcntl, flock (the
 * dotlock through the setgid helper "mlock-program" when the spool
 * directory is not writable by us, FAQ 7.10), waiting at
 * most "lock-timeout" seconds, and release them in reverse order. Readers
 * take only the kernel locks (fcntl, flock) in shared mode, so they never
 * read a rewrite in progress; a reader that must parse newly appended
 * data adds LOCK_DOTLOCK. Locks are held only while a file is read
 * or written, never for a whole session.
 *
 * Session locks (session_lock_*): the file <lock-directory>/.<dev>.<ino>
 * (hex, UW's name, FAQ 5.5 and 7.17), mode 0666, holding the PID of the
 * session that has the mailbox. It serves POP3 exclusivity (RFC 1939)
 * and, with "mbox-single-writer", UW's one-writer rule. A newer session
 * asks the holder to give way by sending it SIGUSR2 (the "kiss of death",
 * FAQ 7.19); the holder's handler only sets a flag, which mail_sync()
 * looks at.
 */
#ifndef CC_LOCK_H
#define CC_LOCK_H

#include <signal.h>
#include <sys/stat.h>

#include "util.h"

struct mail_lock;

#define LOCK_SHARED	0x01	/* reader: kernel locks only, shared */
#define LOCK_NOWAIT	0x02	/* fail at once instead of waiting */
/* with LOCK_SHARED: also take the dotlock (quietly doing without it when
 * it cannot be made). For a reader about to parse what another process
 * may be appending: an MTA that honours only the dotlock (procmail,
 * mail.local) appends without any kernel lock, and a reader must not
 * take a half-written message for a whole one. */
#define LOCK_DOTLOCK	0x04

/* Lock the mailbox file path (open as fd). A notice for the user (the
 * FAQ 7.10 text when the dotlock cannot be created) may be returned in
 * *notice_r, else it is set to NULL. */
int lock_mailbox(const char *path, int fd, unsigned flags,
		 struct mail_lock **lock_r, const char **notice_r,
		 const char **error_r);
/* release in reverse order; *lock = NULL */
void lock_release(struct mail_lock **lock);
/* An exclusive lock_mailbox() succeeded with the kernel locks only: the
 * dotlock was wanted but neither we nor "mlock-program" could create it
 * (FAQ 7.10; the notice was returned). Writers should not rewrite. */
bool lock_dotlock_missing(const struct mail_lock *lock);
/* Parsing under this lock cannot see a half-written append: the lock
 * holds the dotlock, or the dotlock is not configured, or it was tried
 * and cannot be made. false for a plain LOCK_SHARED lock when the
 * dotlock is configured (take LOCK_SHARED|LOCK_DOTLOCK to parse). */
bool lock_excludes_appenders(const struct mail_lock *lock);
/* the dotlock is held for us by the mlock helper */
bool lock_dotlock_by_helper(const struct mail_lock *lock);

/* Remove the dotlock file lockpath if it is stale (its PID dead, or
 * older than stale_seconds), never a fresh lock made meanwhile: the
 * stale file stays open until lstat() shows the name is still it.
 * true: gone (try to lock again), false: a live lock. tools/mlock.c
 * has its own copy of the rule. lock_test_before_break (tests only, NULL otherwise) is
 * called between the judgment and the check. */
bool dotlock_break_if_stale(const char *lockpath, long long stale_seconds);
extern void (*lock_test_before_break)(const char *lockpath);

/* dotlock alone (also for spool files while migrating them) */
int dotlock_take(const char *path, const char **notice_r,
		 const char **error_r);
void dotlock_release(const char *path);

struct session_lock;
#define SESSION_LOCK_POP3	0x01	/* fail with "[IN-USE] ..." if held */
#define SESSION_LOCK_KISS	0x02	/* ask the holder to give way */
/* use "<session lock path>.pop3": for formats (mbx) whose own parse lock
 * is the session lock file, POP3 exclusivity needs a file of its own */
#define SESSION_LOCK_OWN_FILE	0x04

/* Take the session lock for the file with stat st. Returns 0 and the lock,
 * or -1: *error_r begins with "[IN-USE] " for POP3. */
int session_lock_take(const struct stat *st, unsigned flags,
		      struct session_lock **lock_r, const char **error_r);
void session_lock_release(struct session_lock **lock);
/* path of the session lock file for st (caller frees) */
char *session_lock_path(const struct stat *st);
/* Open (creating, mode 0666 as UW) the lock file at path for the mailbox
 * with stat mbox_st, refusing anything but a plain file with one link
 * owned by us, root or the mailbox's owner (a file another user planted
 * in /tmp). Returns the fd or -1 with *error_r (logged). */
int lock_file_open(const char *path, const struct stat *mbox_st,
		   const char **error_r);

/* set by the SIGUSR2 handler: another session asked us to give way */
extern volatile sig_atomic_t lock_kiss_received;

#endif
