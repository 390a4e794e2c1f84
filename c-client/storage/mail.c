/*
 * mail.c - the generic mail layer: the mail_* operations front ends call,
 * dispatched to the driver that owns the resolved path, and the model
 * helpers drivers share (message slots, keywords, UIDs, flags).
 *
 * Also here, because it is the same for every format: the session lock
 * (POP3 exclusivity, mbox-single-writer and its kiss of death, FAQ 7.19)
 * and INBOX migration, which moves spool mail into an INBOX that is not
 * the spool file (FAQ 4.5, 7.7).
 *
 * SECURITY: names come from the network; they are resolved (and refused
 * per restrict-mailbox-access) by mail_resolve() before any file is
 * touched. Sequence numbers are checked against the mailbox here so
 * drivers only see valid indexes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "journal.h"
#include "lock.h"
#include "log.h"
#include "mail.h"

void (*mail_cache_free)(void *cache);

/* ---- model helpers ---- */

void mail_mailbox_init(struct mailbox *mb, const struct mail_driver *d,
		       const char *path, unsigned mode)
{
	mb->driver = d;
	mb->path = xstrdup(path);
	mb->name = xstrdup(path);
	mb->open_mode = mode;
	mb->readonly = (mode & MAIL_OPEN_READONLY) != 0;
	mb->keywords_permanent = true;
}

struct mailbox *mail_mailbox_new(const struct mail_driver *d, const char *path,
				 unsigned mode)
{
	struct mailbox *mb = xcalloc(1, sizeof *mb);

	mail_mailbox_init(mb, d, path, mode);
	return mb;
}

static void message_free(struct mail_message *m)
{
	xfree(&m->d_name);
	if (m->cache != NULL && mail_cache_free != NULL)
		mail_cache_free(m->cache);
	m->cache = NULL;
}

void mail_mailbox_free(struct mailbox **mbp)
{
	struct mailbox *mb = *mbp;

	if (mb == NULL)
		return;
	for (uint32_t i = 0; i < mb->count; i++)
		message_free(&mb->msgs[i]);
	free(mb->msgs);
	for (unsigned i = 0; i < mb->nkeywords; i++)
		free(mb->keywords[i]);
	session_lock_release(&mb->session_lock);
	free(mb->notice);
	free(mb->name);
	free(mb->path);
	free(mb->spool_path);
	xfree(mbp);
}

void mail_set_notice(struct mailbox *mb, const char *text)
{
	if (mb->notice == NULL)
		mb->notice = xstrdup(text);
}

struct mail_message *mail_add_message(struct mailbox *mb)
{
	struct mail_message *m;

	if (mb->count == UINT32_MAX)
		panic("too many messages");
	if (mb->count == mb->alloc) {
		uint32_t n = mb->alloc < 64 ? 64 :
			(mb->alloc > UINT32_MAX / 2 ? UINT32_MAX : mb->alloc * 2);
		mb->msgs = xreallocarray(mb->msgs, n, sizeof *mb->msgs);
		mb->alloc = n;
	}
	m = &mb->msgs[mb->count++];
	memset(m, 0, sizeof *m);
	return m;
}

void mail_remove_message(struct mailbox *mb, uint32_t idx)
{
	if (idx >= mb->count)
		panic("mail_remove_message: index %u of %u", idx, mb->count);
	if ((mb->msgs[idx].flags & MAIL_RECENT) != 0 && mb->recent > 0)
		mb->recent--;
	message_free(&mb->msgs[idx]);
	memmove(&mb->msgs[idx], &mb->msgs[idx + 1],
		(size_t)(mb->count - idx - 1) * sizeof *mb->msgs);
	mb->count--;
	if (mb->ev.expunged != NULL)
		mb->ev.expunged(mb->ev.ctx, mb, idx + 1);
}

uint32_t mail_uid_to_seq(const struct mailbox *mb, uint32_t uid)
{
	uint32_t lo = 0, hi = mb->count;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (mb->msgs[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < mb->count && mb->msgs[lo].uid == uid ? lo + 1 : 0;
}

/*
 * UIDVALIDITY must change whenever a name is created again, even within
 * one second (RFC 3501 2.3.1.1: a client caching UIDs would otherwise
 * show the old mailbox's messages). The time alone cannot promise that,
 * so the last value handed out to the user is kept in the home directory
 * (Dovecot keeps dovecot-uidvalidity the same way) and the next is
 * max(now, last + 1), for every format and every session of the user.
 * The file is opened without following symlinks and used only when it is
 * a plain file with one link owned by the user (or root); otherwise, or
 * without a home, values are unique within this process only.
 */
#define UIDVALIDITY_FILE ".c-client-uidvalidity"
#define UIDVALIDITY_LOCK_TRIES 200	/* 10 ms apart: 2 s */

static uint32_t uidvalidity_last;	/* the last one this process gave */

static int uidvalidity_open(void)
{
	char path[4096];
	struct stat st;
	int fd, tries;

	if (mail_user == NULL || mail_user->home == NULL ||
	    mail_user->home[0] != '/' ||
	    (size_t)snprintf(path, sizeof path, "%s/%s", mail_user->home,
			     UIDVALIDITY_FILE) >= sizeof path)
		return -1;
	/* root working for a user (a tool) uses the user's file but does
	 * not leave a root-owned one in the user's home */
	fd = open(path, O_RDWR | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC |
		  (geteuid() == 0 && mail_user->uid != 0 ? 0 : O_CREAT), 0600);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1 ||
	    (st.st_uid != geteuid() && st.st_uid != 0 &&
	     st.st_uid != mail_user->uid)) {
		log_warning("%s: not a plain file of this user; ignored", path);
		close(fd);
		return -1;
	}
	for (tries = 0; flock(fd, LOCK_EX | LOCK_NB) < 0; tries++) {
		if (errno != EWOULDBLOCK || tries == UIDVALIDITY_LOCK_TRIES) {
			close(fd);
			return -1;
		}
		usleep(10000);
	}
	return fd;
}

uint32_t mail_new_uidvalidity(uint32_t previous)
{
	uint32_t t = (uint32_t)time(NULL);
	char b[16];
	int fd, len;
	ssize_t n;

	if (t <= previous)
		t = previous + 1;
	if (t <= uidvalidity_last)
		t = uidvalidity_last + 1;
	if ((fd = uidvalidity_open()) >= 0) {
		uint64_t last = 0;

		n = pread(fd, b, sizeof b - 1, 0);
		for (ssize_t i = 0; i < n && b[i] >= '0' && b[i] <= '9'; i++)
			if ((last = last * 10 + (uint64_t)(b[i] - '0')) >
			    UINT32_MAX)
				break;
		if (last <= UINT32_MAX && t <= last)
			t = (uint32_t)last + 1;
		if (t == 0)
			t = 1;
		len = snprintf(b, sizeof b, "%u\n", t);
		if (pwrite(fd, b, (size_t)len, 0) != len ||
		    ftruncate(fd, len) < 0)
			log_warning("%s: cannot record UIDVALIDITY %u: %s",
				    UIDVALIDITY_FILE, t, strerror(errno));
		(void)flock(fd, LOCK_UN);
		close(fd);
	}
	if (t == 0)
		t = 1;
	uidvalidity_last = t;
	return t;
}

/* ---- flags and keywords ---- */

static const struct {
	const char *name;
	uint32_t bit;
} flag_names[] = {
	{ "\\Seen", MAIL_SEEN },
	{ "\\Answered", MAIL_ANSWERED },
	{ "\\Flagged", MAIL_FLAGGED },
	{ "\\Deleted", MAIL_DELETED },
	{ "\\Draft", MAIL_DRAFT },
	{ "\\Recent", MAIL_RECENT },
};

const char *mail_flag_name(uint32_t flag)
{
	for (size_t i = 0; i < N_ELEMENTS(flag_names); i++)
		if (flag_names[i].bit == flag)
			return flag_names[i].name;
	return NULL;
}

bool mail_keyword_valid(const char *kw)
{
	size_t n = 0;

	if (kw[0] == '\0' || kw[0] == '\\')
		return false;
	for (const unsigned char *p = (const unsigned char *)kw; *p; p++, n++) {
		if (*p <= 0x20 || *p >= 0x7f || strchr("(){%*\"\\]", *p))
			return false;
	}
	return n <= MAIL_KEYWORD_MAX_LEN;
}

uint32_t mail_flag_parse(const char *atom, bool *is_keyword_r)
{
	*is_keyword_r = false;
	if (atom[0] == '\\') {
		for (size_t i = 0; i < N_ELEMENTS(flag_names); i++)
			if (ascii_strcasecmp(atom, flag_names[i].name) == 0)
				return flag_names[i].bit;
		return 0;
	}
	*is_keyword_r = mail_keyword_valid(atom);
	return 0;
}

int mail_keyword_index(struct mailbox *mb, const char *kw, bool create)
{
	for (unsigned i = 0; i < mb->nkeywords; i++)
		if (ascii_strcasecmp(mb->keywords[i], kw) == 0)
			return (int)i;
	if (!create || !mb->keywords_permanent || !mail_keyword_valid(kw) ||
	    mb->nkeywords >= MAIL_MAX_KEYWORDS)
		return -1;
	mb->keywords[mb->nkeywords] = xstrdup(kw);
	return (int)mb->nkeywords++;
}

/* ---- session locks ---- */

/* Taken before the driver parses the file, so that a session we ask to
 * give way has written its changes before we read. Returns -1 for POP3
 * when the mailbox is in use; otherwise 0, with *readonly_notice_r set
 * (FAQ 7.11) when we must open read-only. */
static int session_lock_before_open(const char *path,
				    const struct mail_driver *d, unsigned mode,
				    struct session_lock **lock_r,
				    const char **readonly_notice_r,
				    const char **error_r)
{
	struct stat st;
	unsigned flags;
	const char *err;

	*lock_r = NULL;
	*readonly_notice_r = NULL;
	if (stat(path, &st) < 0)
		return 0;	/* a missing INBOX: nothing to lock yet */
	/* mbx's parse lock is the session lock file itself (UW's
	 * lockfd()): holding it for the session would lock our own open
	 * out, so POP3 exclusivity (RFC 1939) on mbx uses a file of its own
	 * and mbx has no single-writer mode (it is a shared format) */
	if (d->parse_lock_is_session_lock) {
		if ((mode & MAIL_OPEN_POP3) == 0)
			return 0;
		flags = SESSION_LOCK_POP3 | SESSION_LOCK_KISS |
			SESSION_LOCK_OWN_FILE;
	} else if ((mode & MAIL_OPEN_POP3) != 0)
		flags = SESSION_LOCK_POP3 | SESSION_LOCK_KISS;
	else if ((mode & MAIL_OPEN_READONLY) == 0 &&
		 config_bool("mbox-single-writer") && d->single_writer)
		flags = SESSION_LOCK_KISS;
	else
		return 0;
	if (session_lock_take(&st, flags, lock_r, &err) == 0)
		return 0;
	if ((flags & SESSION_LOCK_POP3) != 0) {
		*error_r = err;
		return -1;
	}
	*readonly_notice_r = err;
	return 0;
}

/* the kiss of death arrived: give the mailbox up (FAQ 7.19) */
static int mailbox_lost(struct mailbox *mb, const char **error_r)
{
	const char *err;

	lock_kiss_received = 0;
	if (!mb->readonly && mb->driver->flush != NULL)
		(void)mb->driver->flush(mb, &err);
	log_notice("Killed (lost mailbox lock)");
	session_lock_release(&mb->session_lock);
	mb->readonly = true;
	if (mb->ev.lost != NULL)
		mb->ev.lost(mb->ev.ctx, mb, "Killed (lost mailbox lock)");
	*error_r = "Killed (lost mailbox lock)";
	return -1;
}

/* ---- INBOX migration ---- */

/* The progress record of a migration: <dir>/.<inbox>.migrate holds
 * "dev ino uidvalidity last-uid count" of the spool and the INBOX as they
 * were just before the append. If we crash after the append but before
 * the spool is emptied, the next migration finds the appended run (UIDs
 * above last-uid, same sizes) and does not append it again. */
struct migrate_mark {
	unsigned long dev, ino;
	uint32_t uv, last, n;
};

static char *migrate_mark_path(const char *inbox)
{
	const char *slash = strrchr(inbox, '/');

	if (slash == NULL)
		return xasprintf(".%s.migrate", inbox);
	return xasprintf("%.*s/.%s.migrate", (int)(slash - inbox), inbox,
			 slash + 1);
}

static bool migrate_mark_read(const char *path, struct migrate_mark *mk)
{
	FILE *f = fopen(path, "r");
	bool ok;

	if (f == NULL)
		return false;
	ok = fscanf(f, "%lx %lx %u %u %u", &mk->dev, &mk->ino, &mk->uv,
		    &mk->last, &mk->n) == 5;
	fclose(f);
	return ok;
}

static int migrate_mark_write(const char *path, const struct migrate_mark *mk)
{
	char *tmp = xasprintf("%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	int ret = -1;

	if (f != NULL) {
		fprintf(f, "%lx %lx %u %u %u\n", mk->dev, mk->ino, mk->uv,
			mk->last, mk->n);
		if (fflush(f) == 0 && fsync(fileno(f)) == 0)
			ret = 0;
		if (fclose(f) != 0)
			ret = -1;
		if (ret == 0 && rename(tmp, path) < 0)
			ret = -1;
	}
	if (ret < 0)
		(void)unlink(tmp);
	free(tmp);
	return ret;
}

/* Did an interrupted migration already append the first mk->n spool
 * messages? They are a run of INBOX messages above mk->last with the
 * same sizes. */
static bool migrate_done_before(struct mailbox *mb, struct mailbox *smb,
				const struct migrate_mark *mk)
{
	const char *err;

	if (mk->uv != mb->uidvalidity || mk->n == 0 || mk->n > smb->count)
		return false;
	if (mb->driver->sync(mb, &err) < 0)
		return false;
	for (uint32_t p = mail_uid_to_seq(mb, mk->last) ; p + mk->n <= mb->count;
	     p++) {
		bool match = true;
		for (uint32_t k = 0; k < mk->n && match; k++) {
			const struct mail_message *m = &mb->msgs[p + k];
			match = m->uid > mk->last &&
				(m->state & MSTATE_EXPUNGED) == 0 &&
				m->size == smb->msgs[k].size;
		}
		if (match)
			return true;
	}
	return false;
}

/* Move the messages of the spool file into mb (FAQ 7.7). The spool stays
 * locked from the read until it is truncated, so no delivery happens in
 * between; the append is durable before the truncation, so a crash can
 * at worst duplicate, never lose, mail. */
static int inbox_migrate(struct mailbox *mb, const char **error_r)
{
	const struct mail_driver *sd;
	struct mail_lock *lk = NULL;
	struct mailbox *smb = NULL;
	struct mail_copy_batch batch = { NULL, 0, NULL, NULL };
	uint32_t *uids = NULL, uv;
	const char *notice, *err;
	char *markpath = NULL;
	struct stat st;
	int fd, ret = 0;

	if (mb->spool_path == NULL || mb->readonly ||
	    (mb->open_mode & MAIL_OPEN_NOINBOXMOVE) != 0 ||
	    strcmp(mb->spool_path, mb->path) == 0)
		return 0;
	if (stat(mb->spool_path, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_size == 0)
		return 0;
	sd = driver_detect(mb->spool_path);
	if (sd == NULL || !sd->spool_format)
		return 0;
	fd = open(mb->spool_path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		log_warning("open %s: %m", mb->spool_path);
		return 0;
	}
	if (lock_mailbox(mb->spool_path, fd, 0, &lk, &notice, &err) < 0) {
		close(fd);
		return 0;	/* busy: next sync tries again */
	}
	if (notice != NULL)
		mail_set_notice(mb, notice);
	if (lock_dotlock_missing(lk)) {
		/* truncating the spool under kernel locks alone could lose a
		 * delivery by an MTA that only honours .lock files (FAQ 7.10):
		 * leave the mail where it is until the lock can be made */
		lock_release(&lk);
		close(fd);
		return 0;
	}
	smb = sd->open(mb->spool_path, MAIL_OPEN_READONLY |
		       MAIL_OPEN_NOINBOXMOVE | MAIL_OPEN_LOCKED, &err);
	if (smb == NULL || smb->count == 0)
		goto out;
	uint32_t n = smb->count, skip = 0;
	struct migrate_mark mk;
	markpath = migrate_mark_path(mb->path);
	if (migrate_mark_read(markpath, &mk)) {
		if (mk.dev == (unsigned long)st.st_dev &&
		    mk.ino == (unsigned long)st.st_ino &&
		    migrate_done_before(mb, smb, &mk)) {
			log_warning("%s: %u messages were moved before a crash; "
				    "not moving them again", mb->path, mk.n);
			skip = mk.n;
		}
		(void)unlink(markpath);
	}
	uids = xcalloc(n, sizeof *uids);
	if (mail_copy_fetch(smb, NULL, 0, n, 0, &batch, error_r) < 0) {
		ret = -1;
		goto out;
	}
	if (skip < n) {
		mk.dev = (unsigned long)st.st_dev;
		mk.ino = (unsigned long)st.st_ino;
		mk.uv = mb->uidvalidity;
		mk.last = mb->uidnext > 0 ? mb->uidnext - 1 : 0;
		mk.n = n - skip;
		if (migrate_mark_write(markpath, &mk) < 0)
			log_warning("%s: cannot write %s: %m", mb->path,
				    markpath);
		journal_crash_point();
		if (mb->driver->append(mb->path, batch.msgs + skip, n - skip,
				       &uv, uids, error_r) < 0) {
			(void)unlink(markpath);
			ret = -1;
			goto out;
		}
		journal_crash_point();
	}
	/* the mail is safe in the INBOX: now empty the spool */
	if (ftruncate(fd, 0) < 0 || fsync(fd) < 0) {
		log_error("truncate %s: %m", mb->spool_path);
	} else {
		log_info("Moved %lld bytes of new mail to %s from %s",
			 (long long)st.st_size, mb->path, mb->spool_path);
		(void)unlink(markpath);
	}
out:
	free(markpath);
	mail_copy_batch_free(&batch);
	free(uids);
	if (smb != NULL)
		smb->driver->close(&smb);
	lock_release(&lk);
	close(fd);
	return ret;
}

/* ---- operations ---- */

static const struct mail_driver *open_driver(const struct mail_path *mp,
					     unsigned *mode, const char **error_r)
{
	if (mp->driver != NULL)
		return mp->driver;
	if (mp->is_inbox) {
		/* the spool file does not exist yet: an empty INBOX */
		const struct mail_driver *d = driver_spool();
		*mode |= MAIL_OPEN_INBOX;
		if (d != NULL)
			return d;
	}
	*error_r = mail_error(MAIL_ERROR_NOTFOUND, "Mailbox does not exist");
	return NULL;
}

struct mailbox *mail_open(const char *name, unsigned mode, const char **error_r)
{
	struct mail_path mp;
	const struct mail_driver *d;
	struct mailbox *mb;

	mail_error_clear();
	if (mail_resolve(name, &mp, error_r) < 0)
		return NULL;
	d = open_driver(&mp, &mode, error_r);
	if (d == NULL || d->open == NULL) {
		if (d != NULL)
			*error_r = mail_error(MAIL_ERROR_NOTPOSSIBLE,
					"Mailbox format cannot be opened");
		mail_path_free(&mp);
		return NULL;
	}
	struct session_lock *sl;
	const char *ro_notice;
	if (session_lock_before_open(mp.path, d, mode, &sl, &ro_notice,
				     error_r) < 0) {
		mail_path_free(&mp);
		return NULL;
	}
	if (ro_notice != NULL)
		mode |= MAIL_OPEN_READONLY;	/* FAQ 7.11 */
	mb = d->open(mp.path, mode, error_r);
	if (mb == NULL) {
		session_lock_release(&sl);
		mail_path_free(&mp);
		return NULL;
	}
	mb->session_lock = sl;
	if (ro_notice != NULL)
		mail_set_notice(mb, ro_notice);
	free(mb->name);
	mb->name = mp.name;
	mp.name = NULL;
	mb->is_inbox = mp.is_inbox;
	free(mb->spool_path);
	mb->spool_path = mp.spool_path;
	mp.spool_path = NULL;
	mail_path_free(&mp);

	if (mb->spool_path != NULL && !mb->readonly) {
		const char *err;
		if (inbox_migrate(mb, &err) < 0)
			log_error("%s: moving new mail failed: %s", mb->path,
				  err);
		else if (d->sync(mb, &err) < 0)
			log_error("%s: %s", mb->path, err);
	}
	return mb;
}

void mail_close(struct mailbox **mbp)
{
	if (*mbp == NULL)
		return;
	(*mbp)->driver->close(mbp);
	*mbp = NULL;
}

int mail_sync(struct mailbox *mb, bool allow_expunge, const char **error_r)
{
	/* the front end calls mail_sync() at a safe point (idle, between
	 * commands) when lock_kiss_received is set */
	if (lock_kiss_received && mb->session_lock != NULL)
		return mailbox_lost(mb, error_r);
	if (mb->notice != NULL && mb->ev.notice != NULL) {
		mb->ev.notice(mb->ev.ctx, mb, mb->notice);
		xfree(&mb->notice);
	}
	if (mb->spool_path != NULL) {
		const char *err;
		if (inbox_migrate(mb, &err) < 0)
			log_error("%s: moving new mail failed: %s", mb->path,
				  err);
	}
	if (mb->driver->sync(mb, error_r) < 0)
		return -1;
	if (allow_expunge) {
		for (uint32_t i = mb->count; i > 0; i--)
			if ((mb->msgs[i - 1].state & MSTATE_EXPUNGED) != 0)
				mail_remove_message(mb, i - 1);
	}
	for (uint32_t i = 0; i < mb->count; i++) {
		struct mail_message *m = &mb->msgs[i];

		if ((m->state & MSTATE_FLAGS_CHANGED) == 0 ||
		    (m->state & MSTATE_EXPUNGED) != 0)
			continue;
		m->state &= ~MSTATE_FLAGS_CHANGED;
		if (mb->ev.flags_changed != NULL)
			mb->ev.flags_changed(mb->ev.ctx, mb, i + 1);
	}
	return 0;
}

int mail_fetch(struct mailbox *mb, uint32_t seq, enum mail_part part,
	       struct buf *out, const char **error_r)
{
	if (seq == 0 || seq > mb->count) {
		*error_r = "Invalid message sequence number";
		return -1;
	}
	return mb->driver->fetch(mb, seq - 1, part, out, error_r);
}

int mail_store(struct mailbox *mb, uint32_t seq, enum mail_store_op op,
	       uint32_t flags, uint64_t keywords)
{
	struct mail_message *m;
	uint32_t nf;
	uint64_t nk;

	if (seq == 0 || seq > mb->count || mb->readonly)
		return -1;
	m = &mb->msgs[seq - 1];
	flags &= MAIL_SYSFLAGS;
	if (mb->nkeywords < 64)
		keywords &= (1ULL << mb->nkeywords) - 1;
	/* a fresh change: the delta of an earlier, written one is done */
	if ((m->state & MSTATE_DIRTY) == 0) {
		m->chg_flags = 0;
		m->chg_keywords = 0;
	}
	switch (op) {
	case MAIL_STORE_SET:
		nf = (m->flags & ~MAIL_SYSFLAGS) | flags;
		nk = keywords;
		/* FLAGS replaces: every flag is this session's choice */
		m->chg_flags = MAIL_SYSFLAGS;
		m->chg_keywords = ~(uint64_t)0;
		break;
	case MAIL_STORE_ADD:
		nf = m->flags | flags;
		nk = m->keywords | keywords;
		break;
	case MAIL_STORE_REMOVE:
		nf = m->flags & ~flags;
		nk = m->keywords & ~keywords;
		break;
	default:
		return -1;
	}
	if (op != MAIL_STORE_SET) {
		m->chg_flags |= flags;
		m->chg_keywords |= keywords;
	}
	if (nf != m->flags || nk != m->keywords) {
		m->flags = nf;
		m->keywords = nk;
		m->state |= MSTATE_DIRTY;
	}
	return 0;
}

bool mail_merge_file_flags(struct mail_message *m, uint32_t flags,
			   uint64_t keywords)
{
	uint32_t cf = 0;
	uint64_t ck = 0;

	flags &= MAIL_SYSFLAGS;
	if ((m->state & MSTATE_DIRTY) != 0) {
		cf = m->chg_flags & MAIL_SYSFLAGS;
		ck = m->chg_keywords;
		/* made dirty without mail_store(): the whole set is ours,
		 * as it always was */
		if (cf == 0 && ck == 0) {
			cf = MAIL_SYSFLAGS;
			ck = ~(uint64_t)0;
		}
	}
	flags = (flags & ~cf) | (m->flags & cf);
	keywords = (keywords & ~ck) | (m->keywords & ck);
	if ((m->flags & MAIL_SYSFLAGS) == flags && m->keywords == keywords)
		return false;
	m->flags = (m->flags & ~MAIL_SYSFLAGS) | flags;
	m->keywords = keywords;
	return true;
}

int mail_flush(struct mailbox *mb, const char **error_r)
{
	if (mb->readonly)
		return 0;
	return mb->driver->flush(mb, error_r);
}

int mail_expunge(struct mailbox *mb, bool (*filter)(void *ctx, uint32_t uid),
		 void *filter_ctx, const char **error_r)
{
	uint32_t marked = 0;
	int ret;

	if (mb->readonly) {
		*error_r = mail_error(MAIL_ERROR_NOPERM,
				"Mailbox is read-only");
		return -1;
	}
	for (uint32_t i = 0; i < mb->count; i++) {
		struct mail_message *m = &mb->msgs[i];

		m->state &= ~MSTATE_EXPUNGE_ME;
		if ((m->flags & MAIL_DELETED) == 0 ||
		    (m->state & MSTATE_EXPUNGED) != 0)
			continue;
		if (filter != NULL && !filter(filter_ctx, m->uid))
			continue;
		m->state |= MSTATE_EXPUNGE_ME;
		marked++;
	}
	if (marked == 0)
		return mail_flush(mb, error_r);
	ret = mb->driver->expunge(mb, error_r);
	for (uint32_t i = 0; i < mb->count; i++)
		mb->msgs[i].state &= ~MSTATE_EXPUNGE_ME;
	return ret;
}

int mail_append(const char *name, const struct mail_append_msg *msgs,
		unsigned n, uint32_t *uidvalidity_r, uint32_t *uids_r,
		const char **error_r)
{
	struct mail_path mp;
	const struct mail_driver *d;
	unsigned mode = 0;
	int ret;

	mail_error_clear();
	for (unsigned i = 0; i < n; i++)
		for (unsigned k = 0; k < msgs[i].nkeywords; k++)
			if (!mail_keyword_valid(msgs[i].keywords[k])) {
				*error_r = mail_error(MAIL_ERROR_PARAMS,
						"Invalid keyword");
				return -1;
			}
	if (mail_resolve(name, &mp, error_r) < 0)
		return -1;
	d = open_driver(&mp, &mode, error_r);
	if (d == NULL) {
		*error_r = mail_error(MAIL_ERROR_NOTFOUND,
				"Mailbox does not exist");
		mail_path_free(&mp);
		return -1;
	}
	if (d->append == NULL) {
		*error_r = mail_error(MAIL_ERROR_NOTPOSSIBLE,
				    "Mailbox format does not support APPEND");
		mail_path_free(&mp);
		return -1;
	}
	ret = d->append(mp.path, msgs, n, uidvalidity_r, uids_r, error_r);
	mail_path_free(&mp);
	return ret;
}

/* An INBOX kept elsewhere (~/mbox, FAQ 7.7) with new mail still in the
 * spool: count that mail as the next open will (moved in, recent, with
 * the next UIDs), without moving it. */
static void status_add_spool(const char *spool, struct mail_status *st,
			     bool want_size)
{
	const struct mail_driver *sd;
	struct mailbox *smb;
	struct stat sst;
	const char *err;

	if (stat(spool, &sst) < 0 || !S_ISREG(sst.st_mode) || sst.st_size == 0)
		return;
	sd = driver_detect(spool);
	if (sd == NULL || !sd->spool_format)
		return;
	smb = sd->open(spool, MAIL_OPEN_READONLY | MAIL_OPEN_NOINBOXMOVE,
		       &err);
	if (smb == NULL)
		return;
	for (uint32_t i = 0; i < smb->count; i++) {
		if ((smb->msgs[i].state & MSTATE_EXPUNGED) != 0)
			continue;
		st->messages++;
		st->recent++;
		if ((smb->msgs[i].flags & MAIL_SEEN) == 0)
			st->unseen++;
		if (want_size)
			st->size += smb->msgs[i].size;
		if (st->uidnext < UINT32_MAX)
			st->uidnext++;
	}
	sd->close(&smb);
}

static int status_of(const char *name, struct mail_status *st,
		     bool want_size, const char **error_r)
{
	struct mail_path mp;
	const struct mail_driver *d;
	struct mailbox *mb;
	unsigned mode = MAIL_OPEN_READONLY | MAIL_OPEN_NOINBOXMOVE;

	memset(st, 0, sizeof *st);
	mail_error_clear();
	if (mail_resolve(name, &mp, error_r) < 0)
		return -1;
	d = open_driver(&mp, &mode, error_r);
	if (d == NULL) {
		mail_path_free(&mp);
		return -1;
	}
	if (d->status != NULL && (mode & MAIL_OPEN_INBOX) == 0 &&
	    mp.spool_path == NULL && !want_size) {
		int ret = d->status(mp.path, &st->messages, &st->recent,
				    &st->unseen, &st->uidnext,
				    &st->uidvalidity, error_r);
		mail_path_free(&mp);
		return ret;
	}
	mb = d->open(mp.path, mode, error_r);
	if (mb == NULL) {
		mail_path_free(&mp);
		return -1;
	}
	st->messages = mb->count;
	st->recent = mb->recent;
	for (uint32_t i = 0; i < mb->count; i++)
		if ((mb->msgs[i].flags & MAIL_SEEN) == 0)
			st->unseen++;
	if (want_size)
		for (uint32_t i = 0; i < mb->count; i++)
			st->size += mb->msgs[i].size;
	st->uidnext = mb->uidnext;
	st->uidvalidity = mb->uidvalidity;
	d->close(&mb);
	if (mp.spool_path != NULL && strcmp(mp.spool_path, mp.path) != 0)
		status_add_spool(mp.spool_path, st, want_size);
	mail_path_free(&mp);
	return 0;
}

int mail_status(const char *name, struct mail_status *st, const char **error_r)
{
	return status_of(name, st, false, error_r);
}

int mail_status_size(const char *name, struct mail_status *st,
		     const char **error_r)
{
	return status_of(name, st, true, error_r);
}

/* create the missing parent directories of path (IMAP CREATE a/b/c) */
static int make_parents(const char *path, const char **error_r)
{
	if (mkdir_parents(path, 0700) < 0) {
		*error_r = mail_error(mail_error_from_errno(errno),
				      "Cannot create parent directory");
		return -1;
	}
	return 0;
}

int mail_create(const char *name, const char **error_r)
{
	struct mail_path mp;
	const struct mail_driver *d;
	size_t len = strlen(name);
	struct stat st;
	int ret;

	mail_error_clear();
	if (mail_resolve(name, &mp, error_r) < 0)
		return -1;
	if (lstat(mp.path, &st) == 0) {
		*error_r = mail_error(MAIL_ERROR_EXISTS,
				"Mailbox already exists");
		mail_path_free(&mp);
		return -1;
	}
	if (len > 0 && name[len - 1] == '/') {
		/* a directory that holds mailboxes */
		ret = make_parents(mp.path, error_r);
		mail_path_free(&mp);
		return ret;
	}
	d = mp.create_driver != NULL ? mp.create_driver : driver_default();
	ret = make_parents(mp.path, error_r);
	if (ret == 0)
		ret = d->create(mp.path, error_r);
	mail_path_free(&mp);
	return ret;
}

int mail_delete(const char *name, const char **error_r)
{
	struct mail_path mp;
	struct stat st;
	int ret;

	mail_error_clear();
	if (mail_resolve(name, &mp, error_r) < 0)
		return -1;
	if (mp.is_inbox) {
		*error_r = mail_error(MAIL_ERROR_NOTPOSSIBLE,
				"Cannot delete INBOX");
		mail_path_free(&mp);
		return -1;
	}
	if (mp.driver != NULL) {
		ret = mp.driver->remove(mp.path, error_r);
	} else if (lstat(mp.path, &st) == 0 && S_ISDIR(st.st_mode)) {
		ret = rmdir(mp.path);
		if (ret < 0)
			*error_r = mail_error(MAIL_ERROR_NOTPOSSIBLE,
				errno == ENOTEMPTY || errno == EEXIST ?
				"[CANNOT] Mailbox has inferior mailboxes; "
				"delete them first" :
				"[CANNOT] Cannot delete directory");
	} else {
		*error_r = mail_error(MAIL_ERROR_NOTFOUND,
				"Mailbox does not exist");
		ret = -1;
	}
	mail_path_free(&mp);
	return ret;
}

/* RENAME INBOX: move its messages into a new mailbox, INBOX stays */
static int rename_inbox(const char *to, const char **error_r)
{
	struct mailbox *mb = mail_open("INBOX", MAIL_OPEN_NOINBOXMOVE, error_r);
	int ret = 0;

	if (mb == NULL)
		return -1;
	if (mail_create(to, error_r) < 0) {
		mail_close(&mb);
		return -1;
	}
	for (uint32_t i = 0; i < mb->count && ret == 0; i++) {
		uint32_t uv, uid;

		ret = mail_copy(mb, NULL, i, 1, to, 0, &uv, &uid, error_r);
		(void)mail_store(mb, i + 1, MAIL_STORE_ADD, MAIL_DELETED, 0);
	}
	if (ret == 0)
		ret = mail_expunge(mb, NULL, NULL, error_r);
	mail_close(&mb);
	return ret;
}

int mail_rename(const char *from, const char *to, const char **error_r)
{
	struct mail_path mf, mt;
	struct stat st;
	int ret;

	mail_error_clear();
	if (mail_resolve(from, &mf, error_r) < 0)
		return -1;
	if (mail_resolve(to, &mt, error_r) < 0) {
		mail_path_free(&mf);
		return -1;
	}
	if (mt.is_inbox || lstat(mt.path, &st) == 0) {
		*error_r = mail_error(MAIL_ERROR_EXISTS,
				"Mailbox already exists");
		ret = -1;
	} else if (mf.is_inbox) {
		ret = rename_inbox(to, error_r);
	} else if (mf.driver != NULL) {
		ret = make_parents(mt.path, error_r);
		if (ret == 0)
			ret = mf.driver->rename(mf.path, mt.path, error_r);
	} else if (lstat(mf.path, &st) == 0 && S_ISDIR(st.st_mode)) {
		ret = make_parents(mt.path, error_r);
		if (ret == 0 && rename(mf.path, mt.path) < 0) {
			*error_r = mail_error(mail_error_from_errno(errno),
					      "Cannot rename directory");
			ret = -1;
		}
	} else {
		*error_r = mail_error(MAIL_ERROR_NOTFOUND,
				"Mailbox does not exist");
		ret = -1;
	}
	mail_path_free(&mf);
	mail_path_free(&mt);
	return ret;
}
