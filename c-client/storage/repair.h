/*
 * repair.h - what a driver's repair hook (struct mail_driver.repair,
 * mailutil repair) works with: the file as read, the problems found as
 * report lines, the rebuilt file, and side files for bytes the rebuilt
 * file cannot hold. It knows no format: each driver parses its own.
 *
 * A repair never deletes a byte: whatever the rebuilt mailbox cannot
 * hold goes into side files PATH.badmsg.N beside it (never overwriting an
 * earlier one). The rebuilt file replaces the old contents through
 * journal.h (crash-safe, same inode, owner and mode).
 */
#ifndef CC_REPAIR_H
#define CC_REPAIR_H

#include "buf.h"
#include "util.h"

struct mail_repair {
	const char *path;	/* the mailbox file */
	bool fix;		/* rewrite it (else only report) */
	char *data;		/* the file as read (mail_repair_read) */
	size_t len;
	unsigned problems;	/* lines in report */
	unsigned nbad;		/* side files named (written with fix) */
	struct buf out;		/* the rebuilt mailbox */
	struct buf report;	/* "at OFFSET: what\n" per problem */
};

void mail_repair_init(struct mail_repair *r, const char *path, bool fix);
void mail_repair_free(struct mail_repair *r);

/* one problem found at file offset off: a line of the report */
void mail_repair_problem(struct mail_repair *r, uint64_t off,
			 const char *fmt, ...) ATTR_PRINTF(3, 4);

/* bytes [off, off+len) of data that the rebuilt file cannot hold: with
 * fix, written (fsync'd) to the next free PATH.badmsg.N; reported as a
 * problem either way */
int mail_repair_save_bad(struct mail_repair *r, uint64_t off, uint64_t len,
			 const char *why, const char **error_r);

/* read the whole file at fd into data/len (after the driver locked it
 * and ran journal recovery) */
int mail_repair_read(struct mail_repair *r, int fd, const char **error_r);

/* with fix and problems found: replace the file's contents by out
 * through the journal (the caller still holds its write lock) */
int mail_repair_commit(struct mail_repair *r, int fd, const char **error_r);

#endif
