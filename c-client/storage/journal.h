/*
 * journal.h - crash-safe changes to a mailbox file (no data loss, ever).
 *
 * A change is a list of regions (offset, new bytes) plus a new file
 * length. journal_apply() first makes the change undoable by writing a
 * journal (the old bytes it will overwrite or cut off, and a hash of the
 * new bytes), then changes the file. journal_recover(), run under the
 * write lock by every open before parsing, finishes or undoes a change
 * that a crash interrupted, keeping anything an MTA appended after the
 * crash. docs/formats.md describes the file format and the steps.
 *
 * Fault injection for tests: CCLIENT_CRASH_POINT=N makes the process
 * _exit(99) at the Nth step; CCLIENT_CRASH_AFTER_BYTES=N after N bytes of
 * region data have been written to the mailbox. Only test builds
 * (-DCCLIENT_TEST_HOOKS) read them; see docs/ARCHITECTURE.md.
 */
#ifndef CC_JOURNAL_H
#define CC_JOURNAL_H

#include "util.h"

struct journal_region {
	uint64_t offset;
	const void *data;
	size_t len;
};

/* Change the mailbox file path (open read-write as fd, write-locked) of
 * length old_len: write the regions, then make the file new_len long.
 * Regions must not overlap and must lie within [0, new_len). */
int journal_apply(const char *path, int fd, uint64_t old_len,
		  const struct journal_region *regions, unsigned n,
		  uint64_t new_len, const char **error_r);
/* Finish or undo an interrupted change of path (fd read-write, locked).
 * *recovered_r tells whether anything was found. */
int journal_recover(const char *path, int fd, bool *recovered_r,
		    const char **error_r);
/* does a journal exist for this mailbox? (read-only opens refuse to
 * parse a file in the middle of a change they cannot repair) */
bool journal_exists(const char *path, int fd);
/* step counter hook (also used by drivers for their own crash points) */
void journal_crash_point(void);
/* re-read CCLIENT_CRASH_* and reset the counters (tests, after fork) */
void journal_crash_reset(void);

#endif
