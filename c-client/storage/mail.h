/*
 * mail.h - the mail model (messages, UIDs, flags, keywords), the driver
 * interface, the driver registry, and the user context that mailbox
 * names are resolved against.
 *
 * Front ends (imapd, ipop3d, tools) never know a format: they resolve a
 * name with mail_resolve(), open it with mail_open(), and call the
 * mail_* functions below, which dispatch to the driver. Drivers never
 * know a protocol. Message text is always served in CRLF form, exactly
 * the bytes a client sees, and every size in the model counts those bytes.
 *
 * A per-mailbox index or cache can be added later behind mail_open()/
 * mail_sync(): front ends only see struct mailbox and struct mail_message.
 */
#ifndef CC_MAIL_H
#define CC_MAIL_H

#include <sys/stat.h>
#include <time.h>

#include "buf.h"
#include "mail-error.h"

/* system flags (struct mail_message.flags) */
#define MAIL_SEEN	0x0001u
#define MAIL_ANSWERED	0x0002u
#define MAIL_FLAGGED	0x0004u
#define MAIL_DELETED	0x0008u
#define MAIL_DRAFT	0x0010u
#define MAIL_RECENT	0x0020u	/* \Recent: this session is the first to see it */
#define MAIL_SYSFLAGS	0x001fu	/* the storable ones */

/* model-internal state bits (struct mail_message.state) */
#define MSTATE_EXPUNGED	0x0001u	/* gone from the file; not yet reported */
#define MSTATE_DIRTY	0x0002u	/* flags changed, not yet written */
#define MSTATE_FLAGS_CHANGED 0x0004u /* changed by someone else: report FETCH */
#define MSTATE_EXPUNGE_ME 0x0008u /* selected for mail_expunge() */

#define MAIL_MAX_KEYWORDS 64
#define MAIL_KEYWORD_MAX_LEN 200

struct mail_message {
	uint32_t uid;
	uint32_t flags;		/* MAIL_* */
	uint64_t keywords;	/* bit i = mailbox->keywords[i] */
	int64_t internaldate;	/* seconds since the epoch, UTC */
	int32_t zone;		/* internal date's zone, minutes east of UTC */
	uint32_t state;		/* MSTATE_* */
	uint64_t size;		/* RFC822.SIZE: octets as served, CRLF */
	uint64_t hdr_size;	/* octets of the header incl. blank line */
	/* driver-private location data */
	uint64_t d_off;		/* e.g. mbox: offset of the "From " line */
	uint64_t d_len;
	uint64_t d_aux;
	uint64_t d_aux2;
	uint32_t d_flags;
	/* with MSTATE_DIRTY: the flags and keywords this session set or
	 * cleared since its last write, applied to the file's current ones
	 * as a delta (mail_merge_file_flags) */
	uint32_t chg_flags;
	uint64_t chg_keywords;
	char *d_name;		/* e.g. maildir file name; freed by the core */
	void *cache;		/* front-end cache; freed by mail_cache_free */
};

struct mailbox;
struct mail_driver;
struct mail_repair;	/* repair.h */

/* callbacks through which a mailbox tells its session about changes */
struct mail_events {
	void *ctx;
	/* message at 1-based sequence number seq was removed */
	void (*expunged)(void *ctx, struct mailbox *mb, uint32_t seq);
	/* flags of message seq were changed by another session */
	void (*flags_changed)(void *ctx, struct mailbox *mb, uint32_t seq);
	/* the mailbox must be closed: kiss of death or vanished file */
	void (*lost)(void *ctx, struct mailbox *mb, const char *why);
	/* a warning for the user (IMAP: "* NO text"), e.g. FAQ 7.10/7.11 */
	void (*notice)(void *ctx, struct mailbox *mb, const char *text);
};

/* open modes */
#define MAIL_OPEN_READONLY 0x01	/* EXAMINE, or the caller wants no writes */
#define MAIL_OPEN_POP3	0x02	/* exclusive POP3 session (RFC 1939) */
#define MAIL_OPEN_NOINBOXMOVE 0x04 /* do not migrate spool mail (tools) */
#define MAIL_OPEN_INBOX	0x08	/* a missing file is an empty mailbox */
#define MAIL_OPEN_LOCKED 0x10	/* caller holds the write lock (migration) */

struct session_lock;

struct mailbox {
	const struct mail_driver *driver;
	char *name;		/* the name as resolved (INBOX for inbox) */
	char *path;		/* filesystem path */
	unsigned open_mode;	/* MAIL_OPEN_* */
	bool readonly;		/* opened or fell back read-only */
	bool keywords_permanent; /* new keywords can be created (\*) */
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint32_t count;		/* messages in msgs[] (includes MSTATE_EXPUNGED) */
	uint32_t alloc;
	/* msgs[seq - 1]. Any mail_* call (mail_fetch too: a driver may
	 * re-sync while fetching) may grow and so move this array: never
	 * keep a pointer into it across such a call. */
	struct mail_message *msgs;
	uint32_t recent;	/* messages with MAIL_RECENT */
	unsigned nkeywords;
	char *keywords[MAIL_MAX_KEYWORDS];
	struct mail_events ev;
	bool is_inbox;
	/* spool file migrated into this INBOX (FAQ 4.5, 7.7), or NULL */
	char *spool_path;
	/* POP3 / mbox-single-writer session lock (lock.h), or NULL */
	struct session_lock *session_lock;
	/* text for the user from the open (FAQ 7.10, 7.11, 7.12), reported
	 * through ev.notice by the first mail_sync(); NULL if none */
	char *notice;
	/* the last error of an operation on this mailbox (mail_set_error(),
	 * mailbox_get_last_error()) */
	char error[512];
	enum mail_error error_code;
};

/* what a driver is asked to fetch */
enum mail_part {
	MAIL_PART_ALL,		/* header + body */
	MAIL_PART_HEADER,	/* header incl. the blank line */
	MAIL_PART_TEXT,		/* body only */
};

/* one message to append */
struct mail_append_msg {
	const char *data;	/* message text as the client sent it */
	size_t len;
	uint32_t flags;		/* MAIL_SYSFLAGS bits */
	const char *const *keywords;
	unsigned nkeywords;
	int64_t internaldate;	/* < 0: now */
	int32_t zone;		/* minutes east of UTC */
	const char *from_sender; /* envelope sender for a "From " line, or NULL */
	/* mailutil transfer: keep the source's numbering. uid > 0: this
	 * message's UID, above every UID the mailbox has had and ascending
	 * within the append (else the append fails, nothing written).
	 * uidvalidity > 0 (read from msgs[0] only): the mailbox's
	 * UIDVALIDITY becomes this, allowed only while it never had a
	 * message (UIDNEXT 1) or already has that UIDVALIDITY. uidnext > 0
	 * (any message): afterwards UIDNEXT is at least this, so the UIDs of
	 * the source's expunged last messages are never handed out again. */
	uint32_t uid;
	uint32_t uidvalidity;
	uint32_t uidnext;
};

/*
 * The driver interface. One const struct per format, filled with
 * designated initializers. Every function that can fail returns 0 on
 * success and -1 on failure with a static or mailbox-lifetime message in
 * *error_r (never NULL on failure). Paths are absolute filesystem paths
 * already resolved by mail_resolve().
 */
struct mail_driver {
	const char *name;	/* "mbox", "mbx", "maildir" */
	bool is_directory;	/* the mailbox is a directory (maildir) */
	/* a directory mailbox's folders are the directories inside it whose
	 * names start with this (Maildir++ "."; listed as NAME/.Sub); NULL:
	 * a mailbox has no folders inside */
	const char *children_prefix;
	/* What the core asks of a format, instead of its name: */
	/* the format of the system spool file (/var/mail/USER, mbox): an
	 * INBOX that does not exist yet is one, an INBOX in another format
	 * lives in the home directory, and new mail in a spool file of this
	 * format moves into it */
	bool spool_format;
	/* the parse lock is the session lock file itself (mbx, UW's
	 * lockfd()): POP3's exclusive session lock uses a file of its own,
	 * and a session never holds it alone */
	bool parse_lock_is_session_lock;
	/* the setting mbox-single-writer applies: a read-write session may
	 * take the session lock alone (mbox) */
	bool single_writer;
	/* does this existing file/directory belong to this format? */
	bool (*probe)(const char *path, const struct stat *st);
	int (*create)(const char *path, const char **error_r);
	int (*remove)(const char *path, const char **error_r);
	int (*rename)(const char *from, const char *to, const char **error_r);

	/* parse the mailbox, fill msgs[], uidvalidity, uidnext, keywords */
	struct mailbox *(*open)(const char *path, unsigned mode,
				const char **error_r);
	/* write pending flag changes, release locks, free; sets *mb = NULL */
	void (*close)(struct mailbox **mb);
	/* Pick up new mail and other sessions' changes. New messages are
	 * added to msgs[]; others' expunges set MSTATE_EXPUNGED (not removed:
	 * the core removes them when the front end may report them); others'
	 * flag changes set MSTATE_FLAGS_CHANGED. */
	int (*sync)(struct mailbox *mb, const char **error_r);
	/* append the CRLF text of message msgs[idx] (0-based) to out */
	int (*fetch)(struct mailbox *mb, uint32_t idx, enum mail_part part,
		     struct buf *out, const char **error_r);
	/* write flags of messages with MSTATE_DIRTY (then clear it) */
	int (*flush)(struct mailbox *mb, const char **error_r);
	/* physically remove messages with MSTATE_EXPUNGE_ME; for each removed
	 * one call mail_remove_message(mb, idx) (highest idx first or
	 * adjusting indexes); pending flag changes are written too */
	int (*expunge)(struct mailbox *mb, const char **error_r);
	/* Append n messages atomically (all or none) to the closed or open
	 * mailbox at path. uids_r[n] receives the new UIDs. */
	int (*append)(const char *path, const struct mail_append_msg *msgs,
		      unsigned n, uint32_t *uidvalidity_r, uint32_t *uids_r,
		      const char **error_r);
	/* fast status without a full open where possible (may be NULL: the
	 * core then opens read-only) */
	int (*status)(const char *path, uint32_t *messages_r,
		      uint32_t *recent_r, uint32_t *unseen_r,
		      uint32_t *uidnext_r, uint32_t *uidvalidity_r,
		      const char **error_r);

	/* mailutil repair (may be NULL: the format has no repair).
	 * repair_claim: for a file no probe claims (a damaged mailbox),
	 * how sure is this format that it is one of its own? 0 not at all,
	 * 1 a plain file it can take as a last resort, 2 its marks are in
	 * the file (driver_detect_damaged() picks the highest).
	 * repair: with r->fix, takes the format's write lock (failing with
	 * "mailbox is in use..." or the lock's text when it cannot have the
	 * file as a writer would), runs journal recovery, then reads the
	 * file (mail_repair_read) and checks everything the format defines
	 * (separators, sizes, headers, UID order). Each problem is one
	 * report line (mail_repair_problem, "at OFFSET: what"), bytes that
	 * cannot stay go to side files (mail_repair_save_bad), and r->out
	 * is the rebuilt file. With r->fix and problems, the file is
	 * replaced through the journal (mail_repair_commit) before the lock
	 * is released. Returns 0 (r->problems says what was found), -1 with
	 * *error_r when it could not check or rewrite the file. */
	int (*repair_claim)(const char *path, const struct stat *st);
	int (*repair)(struct mail_repair *r, const char **error_r);
};

/* the registry (registry.c): each program's main calls drivers_link()
 * (drivers/linkage.c), which registers every format here; the order of
 * registration is the probe order. Registering a driver twice is a no-op. */
void mail_driver_register(const struct mail_driver *d);
const struct mail_driver *driver_lookup(const char *name);
/* which driver owns this existing path? NULL if none */
const struct mail_driver *driver_detect(const char *path);
/* driver_detect(), else for a damaged file the format whose repair_claim
 * is highest (mailutil repair); NULL when none claims it */
const struct mail_driver *driver_detect_damaged(const char *path);
const struct mail_driver *driver_default(void);
/* the first registered driver with spool_format (an absent INBOX), or NULL */
const struct mail_driver *driver_spool(void);

/* ---- the user a session runs for ---- */
struct mail_user {
	char *name;
	uid_t uid;
	gid_t gid;
	char *home;		/* home directory */
	char *maildir;		/* base for relative names (default: home) */
	char *inbox_path;	/* spool file, "" to use the default rule */
	bool anonymous;
};
/* the session's user; set once after login (or at start for tools) */
extern struct mail_user *mail_user;
/* set mail_user from name/uid/gid/home; maildir and inbox from config */
void mail_user_set(const char *name, uid_t uid, gid_t gid, const char *home);

/* ---- names ---- */
struct mail_path {
	char *path;		/* absolute filesystem path */
	const struct mail_driver *driver; /* existing: detected; else NULL */
	const struct mail_driver *create_driver; /* from #driver.X/, or NULL */
	bool is_inbox;
	char *name;		/* canonical name (INBOX upper-cased, prefix removed) */
	/* INBOX only: the spool file whose mail moves into path when path is
	 * not the spool itself (~/mbox, mbx ~/INBOX: FAQ 4.5, 7.7), or NULL */
	char *spool_path;
};
/* Map a user-typed mailbox name to a path. Refuses names the restriction
 * setting forbids (FAQ 5.1) with *error_r. */
int mail_resolve(const char *name, struct mail_path *r, const char **error_r);
void mail_path_free(struct mail_path *r);

/* ---- the operations front ends use ---- */
struct mailbox *mail_open(const char *name, unsigned mode, const char **error_r);
void mail_close(struct mailbox **mb);
int mail_create(const char *name, const char **error_r);
int mail_delete(const char *name, const char **error_r);
int mail_rename(const char *from, const char *to, const char **error_r);
/* sync with the file; with allow_expunge, messages others expunged are
 * removed from msgs[] and reported through ev.expunged; flag changes by
 * others reported through ev.flags_changed */
int mail_sync(struct mailbox *mb, bool allow_expunge, const char **error_r);
int mail_fetch(struct mailbox *mb, uint32_t seq, enum mail_part part,
	       struct buf *out, const char **error_r);
/* change flags in memory (marks MSTATE_DIRTY); written by mail_flush or
 * at close/expunge/sync. keywords not yet known are created when
 * possible; returns -1 if a keyword cannot be created */
enum mail_store_op { MAIL_STORE_SET, MAIL_STORE_ADD, MAIL_STORE_REMOVE };
int mail_store(struct mailbox *mb, uint32_t seq, enum mail_store_op op,
	       uint32_t flags, uint64_t keywords);
int mail_flush(struct mailbox *mb, const char **error_r);
/* expunge \Deleted messages; if uidset is non-NULL only those among them
 * (UID EXPUNGE). Removed messages are reported through ev.expunged. */
int mail_expunge(struct mailbox *mb, bool (*filter)(void *ctx, uint32_t uid),
		 void *filter_ctx, const char **error_r);
int mail_append(const char *name, const struct mail_append_msg *msgs,
		unsigned n, uint32_t *uidvalidity_r, uint32_t *uids_r,
		const char **error_r);

/* Copying (copy.c). Messages of src as one append batch: each message's
 * text, system flags, keywords and internal date (and with
 * MAIL_COPY_KEEP_UIDS its UID and src's UIDVALIDITY and UIDNEXT, see
 * struct mail_append_msg). The messages are seqs[0..n) (1-based), or
 * with seqs NULL the n messages after the first `first`. Each message's
 * fields are taken after its fetch, which may move src->msgs. */
#define MAIL_COPY_KEEP_UIDS	0x1
struct mail_copy_batch {
	struct mail_append_msg *msgs;
	uint32_t n;		/* texts initialized (fetched or failed) */
	struct buf *texts;
	const char **kws;
};
/* fill b; on failure b holds what was fetched: free it either way */
int mail_copy_fetch(struct mailbox *src, const uint32_t *seqs, uint32_t first,
		    uint32_t n, unsigned flags, struct mail_copy_batch *b,
		    const char **error_r);
void mail_copy_batch_free(struct mail_copy_batch *b);
/* fetch, then one all-or-nothing mail_append() of all n into dest */
int mail_copy(struct mailbox *src, const uint32_t *seqs, uint32_t first,
	      uint32_t n, const char *dest, unsigned flags,
	      uint32_t *uidvalidity_r, uint32_t *uids_r, const char **error_r);
struct mail_status {
	uint32_t messages, recent, unseen, uidnext, uidvalidity;
	uint64_t size;		/* mail_status_size() only: sum of RFC822.SIZE */
};
int mail_status(const char *name, struct mail_status *st, const char **error_r);
/* the same and st->size (STATUS=SIZE, RFC 8438): opens the mailbox */
int mail_status_size(const char *name, struct mail_status *st,
		     const char **error_r);

/* keyword index in mb->keywords, creating it when create; -1 if none */
int mail_keyword_index(struct mailbox *mb, const char *kw, bool create);
/* sequence number for a UID (binary search), 0 if none */
uint32_t mail_uid_to_seq(const struct mailbox *mb, uint32_t uid);

/* ---- helpers for drivers ---- */
/* append a message slot to mb->msgs (zeroed), returns it */
struct mail_message *mail_add_message(struct mailbox *mb);
/* remove msgs[idx] (0-based), report through ev.expunged */
void mail_remove_message(struct mailbox *mb, uint32_t idx);
/* allocate an empty mailbox for driver d */
struct mailbox *mail_mailbox_new(const struct mail_driver *d, const char *path,
				 unsigned mode);
void mail_mailbox_free(struct mailbox **mb);
/* the same for a driver struct that embeds struct mailbox first */
void mail_mailbox_init(struct mailbox *mb, const struct mail_driver *d,
		       const char *path, unsigned mode);
/* set mb->notice (first one wins) */
void mail_set_notice(struct mailbox *mb, const char *text);
/* A driver read message m's flags from the file (flags: MAIL_SYSFLAGS
 * bits, keywords in this session's numbering). Without a pending change
 * the model takes them; with one (MSTATE_DIRTY) this session's change
 * is applied to them as a delta, so another session's change to other
 * flags, made since, survives the write that follows. Returns true
 * when the model changed: the caller then sets MSTATE_FLAGS_CHANGED so
 * the session reports the result. */
bool mail_merge_file_flags(struct mail_message *m, uint32_t flags,
			   uint64_t keywords);
/* a new UIDVALIDITY: time-based, never equal to previous */
uint32_t mail_new_uidvalidity(uint32_t previous);
/* free hook for mail_message.cache, set by the front end */
extern void (*mail_cache_free)(void *cache);

/* flag names <-> bits */
const char *mail_flag_name(uint32_t flag);	/* "\\Seen" ... */
/* parse one flag/keyword atom: returns system flag bit, 0 for keyword */
uint32_t mail_flag_parse(const char *atom, bool *is_keyword_r);
bool mail_keyword_valid(const char *kw);

#endif
