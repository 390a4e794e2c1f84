/*
 * mbox.c - the traditional UNIX mbox driver, the default format and the
 * format of INBOX spool files. On-disk conventions are UW's (fixtures/uw/
 * README.md, FAQ 6.12, 6.14, 6.15, 7.1, 7.2, 7.14) so a site can move
 * back and forth; docs/formats.md describes them and what we do better.
 *
 * Model: several sessions may have one mbox open read-write at once. The
 * file is locked (lock.h) only while it is read or written; before any
 * write a session re-reads what changed (sync) so it merges, never
 * clobbers, other sessions' flags. Every change goes through journal.h,
 * so a crash at any point leaves the old or the new file, never a mix.
 *
 * Per message we keep only offsets and sizes (struct mail_message d_*):
 *   d_off   offset of the "From " line
 *   d_aux   offset of the first header line
 *   d_aux2  offset of the body (after the blank line; = end if none)
 *   d_len   length from d_off to the end of the text (the separating
 *           blank line excluded)
 *   d_flags MBF_* bits, and in the top 24 bits the length of the status
 *           block (our hidden headers at the end of the header) that can
 *           be rewritten in place.
 *
 * SECURITY: the file is hostile. Lines are read with a bound (a longer
 * line is handled in pieces), every offset read from the file is checked
 * against its size, and hidden header values are parsed with bounds.
 * Hidden headers (Status, X-Status, X-Keywords, X-UID) are a server's
 * only in the part of the file a server wrote: from the first message
 * without a valid ascending X-UID on, messages are new deliveries whose
 * sender may have written them, and they are dropped (distrust_new()):
 * they never set flags, keywords or UIDs, nor create keywords. A spool
 * file without any UID data yet is all new deliveries.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "date.h"
#include "journal.h"
#include "lock.h"
#include "log.h"
#include "mail.h"
#include "mailname.h"
#include "mbox-private.h"

#define SCAN_CHUNK	(1024 * 1024)
#define SCAN_MAX_LINE	(64 * 1024)	/* longer lines come in pieces */
#define HIDDEN_MAX	(64 * 1024)	/* longest hidden header value kept */
#define TAIL_KEEP	64
#define BASE_SLACK	64	/* spare spaces in X-IMAP(base) lines */

/* d_flags bits */
#define MBF_TRANSPARENT	0x01u	/* has a valid X-Mbox-Size: our own text */
#define MBF_SB_OK	0x02u	/* status block can be rewritten in place */
#define MBF_NEED_UID	0x04u	/* X-UID not (correctly) in the file */
#define MBF_NEED_OLD	0x08u	/* Status "O" to be written */
#define MBF_OLD		0x10u	/* Status has (or will have) "O" */
#define MBF_TRIM_SHIFT	5	/* 2 bits: CRLFs dropped at the end */
#define MBF_TRIM_MASK	0x60u
#define MBF_FOREIGN	0x80u	/* hidden headers are a sender's: never read */
#define MBF_SB_SHIFT	8

extern const struct mail_driver mbox_driver;

#define PSEUDO_SUBJECT "DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA"

enum uid_form { UIDF_NONE, UIDF_PSEUDO, UIDF_BASE };

struct mbox {
	struct mailbox mb;
	int fd;			/* -1: file missing (INBOX) */
	bool fd_rw;
	struct mail_lock *lock;
	/* what the last parse saw */
	struct stat st;
	uint64_t parsed_len;
	bool st_unsure;		/* st may not tell a later change apart */
	unsigned char tail[TAIL_KEEP];
	size_t tail_len;
	/* UID data in the file */
	enum uid_form form;
	uint64_t pseudo_end;	/* [0, pseudo_end) is the pseudo message */
	uint64_t ximap_off, ximap_len; /* the pseudo's X-IMAP line */
	uint32_t hdr_uv, hdr_last; /* as in the file */
	unsigned hdr_nkw;	/* keywords listed in the file header */
	uint32_t last_uid;	/* highest UID given out */
	bool append_mode;	/* internal open by append: no O marking */
	struct mbox *next_open;	/* open_handles list */
	bool listed;
	pid_t pid;		/* the process that opened fd */
};

/* This process's mailboxes opened through the driver (a session's
 * selected mailbox), and the handle the last APPEND or STATUS used when
 * none of those was the target: both reuse either, so their sync is
 * incremental instead of a parse of the whole file each time. */
static struct mbox *open_handles;
static struct mbox *kept_handle;
static void kept_handle_drop(void);

/* ---- parsing ---- */

struct pmsg {
	uint64_t from_off, hdr_off, body_off, text_end;
	uint64_t size, hdr_size;
	uint32_t sb_len;
	bool sb_ok, old, has_mbox_size, has_ximap, has_base, transparent;
	unsigned trim;
	uint32_t x_uid, flags;
	uint64_t mbox_size;
	int64_t idate;
	int32_t zone;
	char *keywords;		/* X-Keywords value, or NULL */
	char *ximap;		/* X-IMAP / X-IMAPbase value, or NULL */
	bool subject_internal;
	bool mta_trace;		/* message 1 has Received:/Delivered-To: */
	bool distrusted;	/* hidden headers dropped (distrust_new) */
};

struct plist {
	struct pmsg *v;
	uint32_t n, alloc;
};

static void plist_free(struct plist *pl)
{
	for (uint32_t i = 0; i < pl->n; i++) {
		free(pl->v[i].keywords);
		free(pl->v[i].ximap);
	}
	free(pl->v);
	memset(pl, 0, sizeof *pl);
}

struct scanner {
	int fd;
	uint64_t end;
	char *buf;
	size_t cap, len, pos;
	uint64_t buf_off;
	bool cont;		/* next piece continues a cut line */
};

static void scanner_init(struct scanner *s, int fd, uint64_t start,
			 uint64_t end)
{
	memset(s, 0, sizeof *s);
	s->fd = fd;
	s->end = end;
	s->buf_off = start;
	s->cap = SCAN_CHUNK + SCAN_MAX_LINE;
	s->buf = xmalloc(s->cap);
}

/* next line or piece of a line; *start is false for continuation pieces */
static bool scanner_next(struct scanner *s, const char **p_r, size_t *n_r,
			 uint64_t *off_r, bool *start_r)
{
	for (;;) {
		const char *p = s->buf + s->pos;
		size_t avail = s->len - s->pos;
		const char *nl = avail ? memchr(p, '\n', avail) : NULL;
		bool at_eof = s->buf_off + s->len >= s->end;
		size_t n;

		if (nl != NULL)
			n = (size_t)(nl - p) + 1;
		else if (at_eof && avail > 0)
			n = avail;
		else if (at_eof)
			return false;
		else if (avail >= SCAN_MAX_LINE)
			n = avail;
		else {
			size_t want;
			ssize_t r;

			if (s->pos > 0) {
				memmove(s->buf, p, avail);
				s->buf_off += s->pos;
				s->len = avail;
				s->pos = 0;
			}
			want = s->cap - s->len;
			if (want > s->end - (s->buf_off + s->len))
				want = (size_t)(s->end - (s->buf_off + s->len));
			r = pread_full(s->fd, s->buf + s->len, want,
				       (off_t)(s->buf_off + s->len));
			if (r < 0)
				return false;
			if ((size_t)r < want)
				s->end = s->buf_off + s->len + (size_t)r;
			s->len += (size_t)r;
			continue;
		}
		*p_r = p;
		*n_r = n;
		*off_r = s->buf_off + s->pos;
		*start_r = !s->cont;
		s->cont = p[n - 1] != '\n';
		s->pos += n;
		return true;
	}
}

enum hidden { H_NONE, H_STATUS, H_XSTATUS, H_XKEYWORDS, H_XUID, H_XIMAP,
	      H_XIMAPBASE, H_MBOXSIZE };

static const struct {
	const char *name;
	enum hidden h;
} hidden_names[] = {
	{ "Status:", H_STATUS },
	{ "X-Status:", H_XSTATUS },
	{ "X-Keywords:", H_XKEYWORDS },
	{ "X-UID:", H_XUID },
	{ "X-IMAP:", H_XIMAP },
	{ "X-IMAPbase:", H_XIMAPBASE },
	{ "X-Mbox-Size:", H_MBOXSIZE },
};

static enum hidden hidden_kind(const char *p, size_t n)
{
	for (size_t i = 0; i < N_ELEMENTS(hidden_names); i++) {
		size_t l = strlen(hidden_names[i].name);
		if (n >= l && ascii_strncasecmp(p, hidden_names[i].name, l) == 0)
			return hidden_names[i].h;
	}
	return H_NONE;
}

static bool is_blank_line(const char *p, size_t n)
{
	return (n == 1 && p[0] == '\n') ||
		(n == 2 && p[0] == '\r' && p[1] == '\n');
}

static bool is_quoted_from(const char *p, size_t n)
{
	size_t i = 0;

	while (i < n && p[i] == '>')
		i++;
	return i > 0 && n - i >= 5 && memcmp(p + i, "From ", 5) == 0;
}

/* a valid separator line (p has n bytes, ending in LF unless at EOF) */
bool mbox_is_from_line(const char *p, size_t n, int64_t *t_r, int32_t *z_r)
{
	const char *sender;
	size_t slen;

	if (n < 5 || memcmp(p, "From ", 5) != 0)
		return false;
	if (p[n - 1] == '\n')
		n--;
	return date_parse_from_line(p, n, t_r, z_r, &sender, &slen);
}

static char *trimmed_value(const struct buf *b, size_t name_len)
{
	const char *s = b->data + name_len;
	size_t n = b->len - name_len;

	while (n > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' ||
			 s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	return xstrndup(s, n);
}

/* a hidden header is complete: interpret it */
static void hidden_apply(struct pmsg *m, enum hidden h, const struct buf *b)
{
	size_t nl = 0;
	char *v;
	uint64_t u64;

	for (size_t i = 0; i < N_ELEMENTS(hidden_names); i++)
		if (hidden_names[i].h == h)
			nl = strlen(hidden_names[i].name);
	if (b->len < nl)
		return;
	v = trimmed_value(b, nl);
	switch (h) {
	case H_STATUS:
		for (char *c = v; *c; c++) {
			if (*c == 'R')
				m->flags |= MAIL_SEEN;
			else if (*c == 'O')
				m->old = true;
		}
		break;
	case H_XSTATUS:
		for (char *c = v; *c; c++) {
			if (*c == 'D')
				m->flags |= MAIL_DELETED;
			else if (*c == 'F')
				m->flags |= MAIL_FLAGGED;
			else if (*c == 'A')
				m->flags |= MAIL_ANSWERED;
			else if (*c == 'T')
				m->flags |= MAIL_DRAFT;
		}
		break;
	case H_XKEYWORDS:
		free(m->keywords);
		m->keywords = v;
		v = NULL;
		break;
	case H_XUID:
		if (str_to_u64(v, &u64) && u64 <= UINT32_MAX)
			m->x_uid = (uint32_t)u64;
		break;
	case H_XIMAP:
	case H_XIMAPBASE:
		if (m->ximap == NULL) {
			m->ximap = v;
			v = NULL;
			if (h == H_XIMAP)
				m->has_ximap = true;
			else
				m->has_base = true;
		}
		break;
	case H_MBOXSIZE:
		if (str_to_u64(v, &u64)) {
			m->mbox_size = u64;
			m->has_mbox_size = true;
		}
		break;
	case H_NONE:
		break;
	}
	free(v);
}

struct pstate {
	struct pmsg *m;		/* current message or NULL */
	bool in_body;
	/* served-size counters, hidden lines excluded */
	uint64_t raw, lf, lf_nocr, quoted;
	uint64_t h_raw, h_lf, h_lf_nocr, h_quoted;
	/* last line (for the separator) */
	bool last_blank, last_lf, last_empty, prev_empty;
	uint64_t last_off, last_raw, last_lf_nocr;
	char prev_byte;
	/* hidden header being collected */
	enum hidden cur_hidden;
	bool line_hidden;
	struct buf hv;
	/* status block run */
	bool run_active, scattered;
	uint64_t run_start;
	bool first_msg_subject;
};

static void pstate_hidden_end(struct pstate *ps)
{
	if (ps->cur_hidden != H_NONE && ps->m != NULL)
		hidden_apply(ps->m, ps->cur_hidden, &ps->hv);
	ps->cur_hidden = H_NONE;
	buf_reset(&ps->hv);
}

static void pstate_finish(struct pstate *ps, uint64_t end)
{
	struct pmsg *m = ps->m;
	uint64_t t, th;

	if (m == NULL)
		return;
	pstate_hidden_end(ps);
	m->text_end = end;
	if (ps->in_body && ps->last_blank) {
		/* the blank line before the next "From " separates */
		m->text_end = ps->last_off;
		ps->raw -= ps->last_raw;
		ps->lf -= 1;
		ps->lf_nocr -= ps->last_lf_nocr;
		ps->last_lf = true;
		ps->last_empty = ps->prev_empty;
	}
	if (!ps->in_body) {
		/* no blank line: the whole text is header */
		m->body_off = m->text_end;
		ps->h_raw = ps->raw;
		ps->h_lf = ps->lf;
		ps->h_lf_nocr = ps->lf_nocr;
		ps->h_quoted = ps->quoted;
		m->sb_ok = false;
	}
	m->size = ps->raw + ps->lf_nocr;
	m->hdr_size = ps->h_raw + ps->h_lf_nocr;
	if (m->has_mbox_size) {
		t = ps->raw + ps->lf - ps->quoted;
		th = ps->h_raw + ps->h_lf - ps->h_quoted;
		if (t == m->mbox_size)
			m->trim = 0;
		else if (t == m->mbox_size + 2 && ps->last_lf)
			m->trim = 1;
		else if (t == m->mbox_size + 4 && ps->last_lf &&
			 ps->last_empty)
			m->trim = 2;
		else
			t = UINT64_MAX;
		if (t != UINT64_MAX) {
			m->transparent = true;
			m->size = m->mbox_size;
			m->hdr_size = th < m->size ? th : m->size;
		}
	}
	ps->m = NULL;
}

static void pstate_begin(struct pstate *ps, struct plist *pl, uint64_t off,
			 size_t n, int64_t t, int32_t z)
{
	struct pmsg *m;

	if (pl->n == pl->alloc) {
		pl->alloc = pl->alloc ? pl->alloc * 2 : 256;
		pl->v = xreallocarray(pl->v, pl->alloc, sizeof *pl->v);
	}
	m = &pl->v[pl->n++];
	memset(m, 0, sizeof *m);
	m->from_off = off;
	m->hdr_off = off + n;
	m->idate = t;
	m->zone = z;
	ps->m = m;
	ps->in_body = false;
	ps->raw = ps->lf = ps->lf_nocr = ps->quoted = 0;
	ps->h_raw = ps->h_lf = ps->h_lf_nocr = ps->h_quoted = 0;
	ps->last_blank = ps->last_lf = ps->last_empty = false;
	ps->prev_empty = false;
	ps->cur_hidden = H_NONE;
	ps->line_hidden = false;
	ps->run_active = ps->scattered = false;
	ps->prev_byte = '\n';
}

/* Parse [start, end) of the file into pl. start must be at a "From "
 * line (or be the end). Returns the offset parsed up to. */
static uint64_t mbox_parse(int fd, uint64_t start, uint64_t end,
			   struct plist *pl)
{
	struct scanner s;
	struct pstate ps;
	const char *p;
	size_t n;
	uint64_t off;
	bool start_of_line;

	memset(&ps, 0, sizeof ps);
	buf_init(&ps.hv, 0);
	scanner_init(&s, fd, start, end);
	while (scanner_next(&s, &p, &n, &off, &start_of_line)) {
		bool has_lf = p[n - 1] == '\n';
		size_t content = n - (has_lf ? 1 : 0);
		bool cr_before = has_lf && (content > 0 ? p[content - 1] == '\r' :
					   ps.prev_byte == '\r');
		int64_t t;
		int32_t z;

		if (start_of_line && n >= 5 && p[0] == 'F' &&
		    (has_lf || off + n >= s.end) && n < SCAN_MAX_LINE &&
		    mbox_is_from_line(p, n, &t, &z)) {
			pstate_finish(&ps, off);
			pstate_begin(&ps, pl, off, n, t, z);
			continue;
		}
		if (ps.m == NULL)
			continue;	/* junk before the first message */
		ps.prev_byte = p[n - 1];
		if (!ps.in_body) {
			if (start_of_line && is_blank_line(p, n)) {
				pstate_hidden_end(&ps);
				ps.in_body = true;
				ps.m->body_off = off + n;
				if (ps.run_active && !ps.scattered &&
				    off - ps.run_start < (1u << 24)) {
					ps.m->sb_ok = true;
					ps.m->sb_len = (uint32_t)(off - ps.run_start);
				}
				ps.raw += n;
				ps.lf++;
				ps.lf_nocr += cr_before ? 0 : 1;
				ps.h_raw = ps.raw;
				ps.h_lf = ps.lf;
				ps.h_lf_nocr = ps.lf_nocr;
				ps.h_quoted = ps.quoted;
				ps.last_blank = false;
				ps.last_lf = true;
				ps.prev_empty = ps.last_empty;
				ps.last_empty = true;
				continue;
			}
			if (start_of_line && p[0] != ' ' && p[0] != '\t') {
				enum hidden h = hidden_kind(p, n);

				pstate_hidden_end(&ps);
				ps.line_hidden = h != H_NONE;
				if (h != H_NONE) {
					ps.cur_hidden = h;
					if (!ps.run_active) {
						ps.run_active = true;
						ps.run_start = off;
					}
				} else {
					if (ps.run_active)
						ps.scattered = true;
					ps.run_active = false;
					if (pl->n == 1 && n >= 8 &&
					    ascii_strncasecmp(p, "Subject:", 8) == 0 &&
					    memmem(p, n, "FOLDER INTERNAL DATA", 20))
						ps.m->subject_internal = true;
					/* what an MTA adds and a server's
					 * pseudo message never has */
					if (pl->n == 1 &&
					    ((n >= 9 && ascii_strncasecmp(p, "Received:", 9) == 0) ||
					     (n >= 13 && ascii_strncasecmp(p, "Delivered-To:", 13) == 0)))
						ps.m->mta_trace = true;
				}
			}
			if (ps.line_hidden) {
				if (ps.hv.len + n <= HIDDEN_MAX)
					buf_append(&ps.hv, p, n);
				continue;
			}
		} else {
			ps.last_blank = start_of_line && is_blank_line(p, n);
			ps.last_off = off;
			ps.last_raw = n;
			ps.last_lf_nocr = has_lf && !cr_before ? 1 : 0;
		}
		ps.raw += n;
		if (has_lf) {
			ps.lf++;
			if (!cr_before)
				ps.lf_nocr++;
		}
		if (start_of_line && p[0] == '>' && is_quoted_from(p, n))
			ps.quoted++;
		ps.last_lf = has_lf;
		ps.prev_empty = ps.last_empty;
		ps.last_empty = start_of_line && has_lf && content == 0;
	}
	pstate_finish(&ps, s.buf_off + s.len);
	end = s.buf_off + s.len;
	buf_release(&ps.hv);
	free(s.buf);
	return end;
}

/* ---- keywords, UID header ---- */

/* "uv last kw kw..." */
static bool ximap_parse(const char *v, uint32_t *uv_r, uint32_t *last_r,
			const char **kw_r)
{
	char *end;
	unsigned long uv, last;

	errno = 0;
	uv = strtoul(v, &end, 10);
	if (end == v || errno != 0 || uv > UINT32_MAX || *end != ' ')
		return false;
	v = end;
	last = strtoul(v, &end, 10);
	if (end == v || errno != 0 || last > UINT32_MAX)
		return false;
	*uv_r = (uint32_t)uv;
	*last_r = (uint32_t)last;
	*kw_r = end;
	return true;
}

/* add the keywords of a space-separated list, returning their bits */
static uint64_t keywords_add(struct mailbox *mb, const char *list)
{
	uint64_t bits = 0;
	const char *p = list;

	while (p != NULL && *p != '\0') {
		while (*p == ' ' || *p == '\t')
			p++;
		size_t n = strcspn(p, " \t");
		if (n == 0)
			break;
		if (n <= MAIL_KEYWORD_MAX_LEN) {
			char kw[MAIL_KEYWORD_MAX_LEN + 1];
			memcpy(kw, p, n);
			kw[n] = '\0';
			int i = mail_keyword_index(mb, kw, true);
			if (i >= 0)
				bits |= 1ULL << i;
		}
		p += n;
	}
	return bits;
}

/* ---- file state ---- */

static bool ts_after(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec > b->tv_sec ||
		(a->tv_sec == b->tv_sec && a->tv_nsec > b->tv_nsec);
}

/* After our own write, under the write lock: give the file an mtime no
 * other change can repeat (our clock's nanoseconds, later than the
 * previous one), so a later stat shows any later change. */
static bool stamp_own_write(struct mbox *mx)
{
	struct timespec ts[2], prev = mx->st.st_mtim;

	if (clock_gettime(CLOCK_REALTIME, &ts[1]) < 0)
		return false;
	if (!ts_after(&ts[1], &prev)) {
		ts[1] = prev;
		if (++ts[1].tv_nsec >= 1000000000L) {
			ts[1].tv_sec++;
			ts[1].tv_nsec = 0;
		}
	}
	ts[0].tv_sec = 0;
	ts[0].tv_nsec = UTIME_OMIT;
	return futimens(mx->fd, ts) == 0;
}

/* Remember what the parse of [0, len) saw: st is the fstat() taken
 * before reading, or NULL after our own write (under the write lock).
 * The next sync may skip reading only if a later change must alter that
 * stat: the file ended where the parse ended (an append in flight when
 * we looked, by a writer that honours only the dotlock, makes the size
 * differ), and no later change can get the same times: ours are unique
 * (stamp_own_write()); other writers' come from the kernel's coarse
 * clock, so a change still within the tick of one we saw could repeat
 * size and times, and the next sync then checks the bytes. */
static void remember_state(struct mbox *mx, uint64_t len,
			   const struct stat *st)
{
	size_t n = len < TAIL_KEEP ? (size_t)len : TAIL_KEEP;
	struct timespec now;
	bool stamped = false;

	mx->parsed_len = len;
	if (st != NULL)
		mx->st = *st;
	else {
		stamped = stamp_own_write(mx);
		if (fstat(mx->fd, &mx->st) < 0)
			memset(&mx->st, 0, sizeof mx->st);
	}
	mx->st_unsure = (uint64_t)mx->st.st_size != len;
	if (!stamped &&
	    (clock_gettime(CLOCK_REALTIME_COARSE, &now) < 0 ||
	     !ts_after(&now, &mx->st.st_mtim) ||
	     !ts_after(&now, &mx->st.st_ctim)))
		mx->st_unsure = true;
	mx->tail_len = n;
	if (n > 0 && pread_full(mx->fd, mx->tail, n, (off_t)(len - n)) !=
	    (ssize_t)n)
		mx->tail_len = 0;
}

static bool stat_same(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_dev == b->st_dev &&
		a->st_size == b->st_size &&
		a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
		a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
		a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
		a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

static uint32_t msg_sb_len(const struct mail_message *m)
{
	return m->d_flags >> MBF_SB_SHIFT;
}

static void msg_from_pmsg(struct mail_message *m, const struct pmsg *p)
{
	uint32_t keep = m->d_flags & (MBF_NEED_UID | MBF_NEED_OLD | MBF_OLD);

	m->d_off = p->from_off;
	m->d_aux = p->hdr_off;
	m->d_aux2 = p->body_off;
	m->d_len = p->text_end - p->from_off;
	m->size = p->size;
	m->hdr_size = p->hdr_size;
	m->internaldate = p->idate;
	m->zone = p->zone;
	m->d_flags = keep | (p->transparent ? MBF_TRANSPARENT : 0) |
		(p->sb_ok ? MBF_SB_OK : 0) |
		((uint32_t)p->trim << MBF_TRIM_SHIFT) |
		(p->sb_ok ? p->sb_len << MBF_SB_SHIFT : 0);
	if (p->old)
		m->d_flags |= MBF_OLD;
	if (p->distrusted)
		m->d_flags |= MBF_FOREIGN;
}

/* take the UID data from the first parsed message (pseudo or base) */
static void header_from_first(struct mbox *mx, struct plist *pl,
			      uint32_t *skip_r)
{
	struct pmsg *f = pl->n > 0 ? &pl->v[0] : NULL;
	uint32_t uv = 0, last = 0;
	const char *kw = NULL;

	*skip_r = 0;
	mx->form = UIDF_NONE;
	mx->hdr_uv = mx->hdr_last = 0;
	mx->hdr_nkw = 0;
	if (f == NULL || f->ximap == NULL ||
	    !ximap_parse(f->ximap, &uv, &last, &kw))
		return;
	if (f->has_ximap && f->mta_trace) {
		/* a server writes the pseudo message itself; one that came
		 * through an MTA is a sender's forgery that would hide
		 * itself: an ordinary message, its UID data ignored */
		log_warning("%s: first message has X-IMAP but came from an "
			    "MTA: not taken as folder internal data",
			    mx->mb.path);
		return;
	}
	if (f->has_ximap) {
		mx->form = UIDF_PSEUDO;
		/* the only message: it ends at the end (fixed by caller) */
		mx->pseudo_end = pl->n > 1 ? pl->v[1].from_off : UINT64_MAX;
		*skip_r = 1;
	} else {
		mx->form = UIDF_BASE;
	}
	mx->hdr_uv = uv;
	mx->hdr_last = last;
	(void)keywords_add(&mx->mb, kw);
	{
		/* how many names the file's list has (for change detection) */
		unsigned cnt = 0;
		for (const char *p = kw; *p;) {
			while (*p == ' ')
				p++;
			size_t n = strcspn(p, " ");
			if (n == 0)
				break;
			cnt++;
			p += n;
		}
		mx->hdr_nkw = cnt;
	}
}

/* find the pseudo's X-IMAP line (for in-place updates) */
static void find_ximap_line(struct mbox *mx)
{
	uint64_t len = mx->pseudo_end < 65536 ? mx->pseudo_end : 65536;
	char *b;
	const char *p;

	mx->ximap_off = mx->ximap_len = 0;
	if (mx->form != UIDF_PSEUDO || len == 0)
		return;
	b = xmalloc(len + 1);
	if (pread_full(mx->fd, b, len, 0) == (ssize_t)len) {
		b[len] = '\0';
		p = memmem(b, len, "\nX-IMAP: ", 9);
		if (p != NULL) {
			const char *e = memchr(p + 1, '\n', len - (size_t)(p + 1 - b));
			if (e != NULL) {
				mx->ximap_off = (uint64_t)(p + 1 - b);
				mx->ximap_len = (uint64_t)(e - p);
			}
		}
	}
	free(b);
}

/* forget what a message's sender may have written in its hidden headers */
static void pmsg_distrust(struct pmsg *p)
{
	p->distrusted = true;
	p->x_uid = 0;
	p->flags = 0;
	p->old = false;
	xfree(&p->keywords);
}

/* is this mailbox the session user's INBOX spool file? */
static bool is_spool_file(const struct mbox *mx)
{
	char *spool = mail_inbox_spool_path();
	bool r = spool != NULL && strcmp(spool, mx->mb.path) == 0;

	free(spool);
	return r;
}

/*
 * An MTA appends mail with whatever headers its sender wrote, Status,
 * X-Status, X-Keywords and X-UID included. They are ours (or UW's) only
 * in what a server has written: messages carrying the X-UIDs it gave,
 * ascending and not above the last UID of the file's UID header. From
 * the first message without one on, every message is a new delivery,
 * unless it carries our own X-Mbox-Size matching its text (APPENDed by
 * another session) and a fitting X-UID. A new delivery's hidden headers
 * are dropped: it is recent, unflagged, without keywords, and gets the
 * next UID, so no sender can set flags, use up the keyword table, or
 * force a new UIDVALIDITY with an out-of-order X-UID. In a file without
 * UID data, X-UID and X-Keywords mean nothing (UW's rule: only with a
 * UIDVALIDITY); Status and X-Status there are the file's MUA's, except
 * in a spool file, where every message came from an MTA.
 */
static void distrust_new(struct mbox *mx, struct plist *pl, uint32_t first,
			 bool incremental)
{
	/* after the messages we know (last_uid may already count UIDs
	 * another session gave, read from the UID header) */
	uint32_t prev = incremental && mx->mb.count > 0 ?
		mx->mb.msgs[mx->mb.count - 1].uid : 0;
	uint32_t limit = mx->hdr_last > mx->last_uid ? mx->hdr_last :
		mx->last_uid;
	bool have_uids = incremental || mx->hdr_uv != 0;
	bool in_prefix = true;

	if (!incremental)
		limit = mx->hdr_last;
	if (!have_uids) {
		bool spool = first < pl->n && is_spool_file(mx);
		for (uint32_t i = first; i < pl->n; i++) {
			if (spool) {
				pmsg_distrust(&pl->v[i]);
				continue;
			}
			pl->v[i].x_uid = 0;
			xfree(&pl->v[i].keywords);
		}
		return;
	}
	for (uint32_t i = first; i < pl->n; i++) {
		struct pmsg *p = &pl->v[i];
		bool uid_ok = p->x_uid != 0 && p->x_uid > prev &&
			p->x_uid <= limit;

		if (!uid_ok)
			in_prefix = false;
		if (uid_ok && (in_prefix || p->transparent)) {
			prev = p->x_uid;
			continue;
		}
		if (p->x_uid != 0 || p->flags != 0 || p->keywords != NULL)
			log_info("%s: message %u is a new delivery: its "
				 "Status/X-Status/X-Keywords/X-UID headers "
				 "ignored", mx->mb.path, i - first + 1);
		pmsg_distrust(p);
	}
}

/* Give UIDs to parsed messages pl->v[first..] (FAQ 7.14 checks).
 * Returns false when the regime had to be rebuilt. */
static bool assign_uids(struct mbox *mx, struct plist *pl, uint32_t first,
			uint32_t *uids, bool incremental, uint32_t *uv_r)
{
	uint32_t prev = incremental ? mx->last_uid : 0;
	uint32_t last = incremental ? mx->last_uid : mx->hdr_last;
	uint32_t limit = mx->hdr_last > mx->last_uid ? mx->hdr_last :
		mx->last_uid;
	bool have_uv = incremental || mx->hdr_uv != 0;

	if (!incremental && mx->last_uid > limit)
		limit = mx->last_uid;
	if (!have_uv) {
		bool any = false;
		for (uint32_t i = first; i < pl->n; i++)
			any = any || pl->v[i].x_uid != 0;
		if (any)
			log_warning("%s: UIDVALIDITY missing, rebuilding UIDs",
				    mx->mb.path);
		goto rebuild;
	}
	for (uint32_t i = first; i < pl->n; i++) {
		uint32_t x = pl->v[i].x_uid;

		if (x == 0) {
			if (last == UINT32_MAX)
				goto rebuild;
			uids[i] = ++last;
			if (last > prev)
				prev = last;
			continue;
		}
		if (x <= prev || x > limit) {
			if (x <= prev)
				log_warning("%s: Message %u UID %u less than %u",
					    mx->mb.path, i - first + 1, x, prev + 1);
			else
				log_warning("%s: Message %u UID %u greater than "
					    "last %u", mx->mb.path, i - first + 1,
					    x, limit);
			log_warning("%s: Invalid UID %u in message %u, "
				    "rebuilding UIDs", mx->mb.path, x,
				    i - first + 1);
			goto rebuild;
		}
		uids[i] = x;
		prev = x;
		if (x > last)
			last = x;
	}
	mx->last_uid = last > mx->hdr_last ? last : mx->hdr_last;
	return true;
rebuild:
	*uv_r = mail_new_uidvalidity(mx->hdr_uv > mx->mb.uidvalidity ?
				     mx->hdr_uv : mx->mb.uidvalidity);
	for (uint32_t i = first; i < pl->n; i++)
		uids[i] = i - first + 1;
	mx->last_uid = pl->n - first;
	for (uint32_t i = first; i < pl->n; i++)
		pl->v[i].x_uid = 0;	/* all need writing */
	return false;
}

static void set_new_message(struct mbox *mx, struct mail_message *m,
			    const struct pmsg *p, uint32_t uid)
{
	m->uid = uid;
	msg_from_pmsg(m, p);
	m->flags = p->flags & MAIL_SYSFLAGS;
	m->keywords = p->keywords ? keywords_add(&mx->mb, p->keywords) : 0;
	if (p->x_uid != uid)
		m->d_flags |= MBF_NEED_UID;
	if (!p->old) {
		if (!mx->append_mode) {
			m->flags |= MAIL_RECENT;
			mx->mb.recent++;
			if (!mx->mb.readonly)
				m->d_flags |= MBF_NEED_OLD | MBF_OLD;
		}
	}
}

/* merge a full parse into mb->msgs by UID */
static void merge_full(struct mbox *mx, struct plist *pl, uint32_t first,
		       const uint32_t *uids, bool regime_changed)
{
	struct mailbox *mb = &mx->mb;
	uint32_t e = 0, i = first, old_count = mb->count;

	if (regime_changed && old_count > 0) {
		for (uint32_t k = 0; k < old_count; k++)
			mb->msgs[k].state |= MSTATE_EXPUNGED;
		e = old_count;
	}
	while (e < old_count || i < pl->n) {
		struct mail_message *m = e < old_count ? &mb->msgs[e] : NULL;

		if (m != NULL && (m->state & MSTATE_EXPUNGED) != 0) {
			e++;
			continue;
		}
		if (m != NULL && (i >= pl->n || m->uid < uids[i])) {
			m->state |= MSTATE_EXPUNGED;
			e++;
			continue;
		}
		if (m != NULL && m->uid == uids[i]) {
			const struct pmsg *p = &pl->v[i];
			uint32_t pf = p->flags & MAIL_SYSFLAGS;
			uint64_t pk = p->keywords ?
				keywords_add(mb, p->keywords) : 0;

			msg_from_pmsg(m, p);
			if (p->x_uid != m->uid)
				m->d_flags |= MBF_NEED_UID;
			/* a pending change of ours applies to the file's
			 * flags as a delta: another session's stay */
			if (mail_merge_file_flags(m, pf, pk))
				m->state |= MSTATE_FLAGS_CHANGED;
			if ((m->d_flags & MBF_NEED_OLD) != 0)
				m->d_flags |= MBF_OLD;
			e++;
			i++;
			continue;
		}
		if (m != NULL) {
			/* a UID below one we know and not known: cannot be
			 * shown without breaking UID order */
			log_warning("%s: message with UID %u appeared out of "
				    "order, ignored", mb->path, uids[i]);
			i++;
			continue;
		}
		set_new_message(mx, mail_add_message(mb), &pl->v[i], uids[i]);
		i++;
	}
}

/* Re-read the status blocks of known messages (another session may have
 * changed flags in place). false: the file does not look like what we
 * parsed, a full parse is needed. */
static bool recheck_blocks(struct mbox *mx)
{
	struct mailbox *mb = &mx->mb;
	struct buf b;
	bool ok = true;

	buf_init(&b, 0);
	for (uint32_t i = 0; i < mb->count && ok; i++) {
		struct mail_message *m = &mb->msgs[i];
		uint32_t sb = msg_sb_len(m);
		struct pmsg p;
		char *blk;
		size_t pos = 0;

		if ((m->state & MSTATE_EXPUNGED) != 0)
			continue;
		/* a new delivery's block is its sender's until we write
		 * ours (MBF_FOREIGN): not a flag change by another session */
		if ((m->d_flags & MBF_SB_OK) == 0 || sb == 0 ||
		    (m->d_flags & MBF_FOREIGN) != 0) {
			char c[5];
			/* at least check the message is still there */
			ok = pread_full(mx->fd, c, 5, (off_t)m->d_off) == 5 &&
				memcmp(c, "From ", 5) == 0;
			continue;
		}
		blk = buf_reserve(&b, sb);
		if (blk == NULL) {
			ok = false;
			break;
		}
		/* the block ends just before the blank line; read from
		 * d_aux2 - blank - sb: find the blank line length */
		{
			char c[2];
			uint64_t bl;
			if (pread_full(mx->fd, c, 2, (off_t)(m->d_aux2 - 2)) != 2) {
				ok = false;
				break;
			}
			bl = c[1] == '\n' && c[0] == '\r' ? 2 : 1;
			if (c[1] != '\n' || m->d_aux2 < bl + sb) {
				ok = false;
				break;
			}
			if (pread_full(mx->fd, blk, sb,
				       (off_t)(m->d_aux2 - bl - sb)) != sb) {
				ok = false;
				break;
			}
		}
		memset(&p, 0, sizeof p);
		{
			struct buf hv;
			buf_init(&hv, 0);
			enum hidden cur = H_NONE;
			while (pos < sb) {
				const char *ln = blk + pos;
				const char *nl = memchr(ln, '\n', sb - pos);
				size_t n = nl ? (size_t)(nl - ln) + 1 : sb - pos;
				if (ln[0] != ' ' && ln[0] != '\t') {
					if (cur != H_NONE)
						hidden_apply(&p, cur, &hv);
					buf_reset(&hv);
					cur = hidden_kind(ln, n);
					if (cur == H_NONE) {
						ok = false;
						break;
					}
				}
				buf_append(&hv, ln, n);
				pos += n;
			}
			if (ok && cur != H_NONE)
				hidden_apply(&p, cur, &hv);
			buf_release(&hv);
		}
		if (ok && p.x_uid != 0 && p.x_uid != m->uid)
			ok = false;
		if (ok) {
			uint32_t pf = p.flags & MAIL_SYSFLAGS;
			uint64_t pk = p.keywords ? keywords_add(mb, p.keywords) : 0;
			if (mail_merge_file_flags(m, pf, pk))
				m->state |= MSTATE_FLAGS_CHANGED;
		}
		if (ok && p.old)
			m->d_flags |= MBF_OLD;
		if (ok && p.ximap != NULL && i == 0 && mx->form == UIDF_BASE) {
			uint32_t uv, last;
			const char *kw;
			if (ximap_parse(p.ximap, &uv, &last, &kw)) {
				if (uv != mx->hdr_uv)
					ok = false;
				mx->hdr_last = last;
				if (last > mx->last_uid)
					mx->last_uid = last;
				(void)keywords_add(mb, kw);
			}
		}
		free(p.keywords);
		free(p.ximap);
		buf_reset(&b);
	}
	buf_release(&b);
	return ok;
}

/* re-read the pseudo message's X-IMAP (another session's appends) */
static bool recheck_pseudo(struct mbox *mx)
{
	char line[65536];
	uint32_t uv, last;
	const char *kw;

	if (mx->form != UIDF_PSEUDO)
		return true;
	if (mx->ximap_len == 0 || mx->ximap_len >= sizeof line)
		return false;
	if (pread_full(mx->fd, line, mx->ximap_len, (off_t)mx->ximap_off) !=
	    (ssize_t)mx->ximap_len)
		return false;
	line[mx->ximap_len] = '\0';
	if (strncmp(line, "X-IMAP: ", 8) != 0 ||
	    !ximap_parse(line + 8, &uv, &last, &kw) || uv != mx->hdr_uv)
		return false;
	mx->hdr_last = last;
	if (last > mx->last_uid)
		mx->last_uid = last;
	(void)keywords_add(&mx->mb, kw);
	return true;
}

/* the parsed messages are exactly the model's live ones, in place */
static bool same_layout(const struct mbox *mx, const struct plist *pl,
			uint32_t skip)
{
	uint32_t k = skip;

	for (uint32_t i = 0; i < mx->mb.count; i++) {
		const struct mail_message *m = &mx->mb.msgs[i];
		if ((m->state & MSTATE_EXPUNGED) != 0)
			continue;
		if (k >= pl->n || m->d_off != pl->v[k].from_off ||
		    m->d_len != pl->v[k].text_end - pl->v[k].from_off)
			return false;
		k++;
	}
	return k == pl->n && k > skip;
}

static int full_parse(struct mbox *mx, uint64_t size, const struct stat *st)
{
	struct plist pl;
	uint32_t skip, *uids;
	uint32_t old_uv = mx->mb.uidvalidity, old_last = mx->last_uid;
	bool kept;

	memset(&pl, 0, sizeof pl);
	uint64_t end = mbox_parse(mx->fd, 0, size, &pl);
	header_from_first(mx, &pl, &skip);
	if (mx->form == UIDF_PSEUDO && pl.n == 1)
		mx->pseudo_end = end;
	find_ximap_line(mx);
	if (mx->form == UIDF_PSEUDO && pl.n == 1)
		mx->pseudo_end = end;
	uids = xcalloc(pl.n ? pl.n : 1, sizeof *uids);
	mx->last_uid = 0;
	distrust_new(mx, &pl, skip, false);
	uint32_t uv = mx->hdr_uv;
	kept = assign_uids(mx, &pl, skip, uids, false, &uv);
	if (!kept && old_uv != 0 && same_layout(mx, &pl, skip)) {
		/* UID data unusable (a read-only session cannot fix it),
		 * but the messages are where our model has them: keep the
		 * UIDs this session gave, rather than expunge and re-add
		 * every message at each re-parse */
		uint32_t k = skip;
		for (uint32_t i = 0; i < mx->mb.count; i++)
			if ((mx->mb.msgs[i].state & MSTATE_EXPUNGED) == 0)
				uids[k++] = mx->mb.msgs[i].uid;
		uv = old_uv;
		if (old_last > mx->last_uid)
			mx->last_uid = old_last;
	}
	if (uv == 0)
		uv = mail_new_uidvalidity(0);
	/* a file without UID data keeps the UIDVALIDITY this session
	 * gave it while nothing else changes */
	if (!kept && mx->hdr_uv == 0 && old_uv != 0 &&
	    ((mx->mb.count > 0 && pl.n - skip >= mx->mb.count) ||
	     (mx->mb.count == 0 && pl.n == skip && old_last == 0)))
		uv = old_uv;
	(void)kept;
	mx->mb.uidvalidity = uv;
	merge_full(mx, &pl, skip, uids, old_uv != 0 && old_uv != uv);
	mx->mb.uidnext = mx->last_uid + 1;
	free(uids);
	plist_free(&pl);
	remember_state(mx, end, st);
	return 0;
}

/* parse what was appended after parsed_len */
static int incremental_parse(struct mbox *mx, uint64_t size,
			     const struct stat *st)
{
	struct plist pl;
	uint32_t *uids;

	memset(&pl, 0, sizeof pl);
	uint64_t end = mbox_parse(mx->fd, mx->parsed_len, size, &pl);
	uids = xcalloc(pl.n ? pl.n : 1, sizeof *uids);
	distrust_new(mx, &pl, 0, true);
	uint32_t uv = mx->mb.uidvalidity;
	if (!assign_uids(mx, &pl, 0, uids, true, &uv)) {
		/* cannot happen for the incremental case */
		free(uids);
		plist_free(&pl);
		return full_parse(mx, size, st);
	}
	for (uint32_t i = 0; i < pl.n; i++) {
		/* an X-UID we did not expect: treat as new */
		set_new_message(mx, mail_add_message(&mx->mb), &pl.v[i],
				uids[i]);
	}
	mx->mb.uidnext = mx->last_uid + 1;
	free(uids);
	plist_free(&pl);
	remember_state(mx, end, st);
	return 0;
}

/* reopen the path if the file was replaced (new inode) */
static int reopen_if_replaced(struct mbox *mx, bool *replaced_r)
{
	struct stat st;
	int fd;

	*replaced_r = false;
	if (stat(mx->mb.path, &st) < 0) {
		if (errno == ENOENT && mx->fd < 0)
			return 0;
		return 0;	/* vanished: keep what we have */
	}
	if (mx->fd >= 0 && (mx->st.st_ino == 0 ||
			    (st.st_ino == mx->st.st_ino &&
			     st.st_dev == mx->st.st_dev)))
		return 0;
	fd = open(mx->mb.path, (mx->fd_rw || mx->fd < 0 ? O_RDWR : O_RDONLY) |
		  O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == EACCES)
		fd = open(mx->mb.path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return 0;
	if (mx->fd >= 0) {
		lock_release(&mx->lock);
		close(mx->fd);
	} else {
		mx->fd_rw = (fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDWR;
	}
	mx->fd = fd;
	memset(&mx->st, 0, sizeof mx->st);
	mx->parsed_len = 0;
	mx->tail_len = 0;
	*replaced_r = true;
	return 0;
}

/* Bring the model up to date with the file; caller holds a lock.
 * Returns 1, reading nothing, when new data must be parsed but the lock
 * does not keep out appenders that honour only the dotlock: the caller
 * takes LOCK_SHARED|LOCK_DOTLOCK and calls again. */
static int sync_locked(struct mbox *mx, const char **error_r)
{
	struct stat st;
	unsigned char tail[TAIL_KEEP];
	uint64_t size;
	bool may_parse = lock_excludes_appenders(mx->lock) ||
		(mx->mb.open_mode & MAIL_OPEN_LOCKED) != 0;

	if (mx->fd < 0)
		return 0;
	if (fstat(mx->fd, &st) < 0) {
		*error_r = "Cannot stat mailbox";
		return -1;
	}
	size = (uint64_t)st.st_size;
	if (mx->parsed_len != 0 && !mx->st_unsure && stat_same(&st, &mx->st))
		return 0;
	if (!may_parse)
		return 1;
	if (mx->tail_len == 0)
		return full_parse(mx, size, &st);
	/* appended only? our last bytes unchanged and new data starts with
	 * a message */
	if (size >= mx->parsed_len && mx->tail_len > 0 &&
	    pread_full(mx->fd, tail, mx->tail_len,
		       (off_t)(mx->parsed_len - mx->tail_len)) ==
	    (ssize_t)mx->tail_len &&
	    memcmp(tail, mx->tail, mx->tail_len) == 0) {
		char c[5];
		bool grew_ok = size == mx->parsed_len ||
			(pread_full(mx->fd, c, 5, (off_t)mx->parsed_len) == 5 &&
			 memcmp(c, "From ", 5) == 0);
		if (grew_ok && recheck_pseudo(mx) && recheck_blocks(mx)) {
			if (size > mx->parsed_len)
				return incremental_parse(mx, size, &st);
			remember_state(mx, size, &st);
			return 0;
		}
	}
	return full_parse(mx, size, &st);
}

/* ---- writing ---- */

static void block_format(struct mbox *mx, const struct mail_message *m,
			 bool base_line, bool with_old, struct buf *out)
{
	struct mailbox *mb = &mx->mb;
	size_t start, kw_end_min;

	if ((m->d_flags & MBF_TRANSPARENT) != 0)
		buf_printf(out, "X-Mbox-Size: %llu\n",
			   (unsigned long long)m->size);
	start = out->len;
	if (base_line) {
		buf_printf(out, "X-IMAPbase: %u %u", mb->uidvalidity,
			   mx->last_uid);
		for (unsigned k = 0; k < mb->nkeywords; k++)
			buf_printf(out, " %s", mb->keywords[k]);
		buf_putc(out, '\n');
	}
	buf_printf(out, "Status: %s%s\n", (m->flags & MAIL_SEEN) ? "R" : "",
		   with_old ? "O" : "");
	buf_printf(out, "X-Status: %s%s%s%s\n",
		   (m->flags & MAIL_DELETED) ? "D" : "",
		   (m->flags & MAIL_FLAGGED) ? "F" : "",
		   (m->flags & MAIL_ANSWERED) ? "A" : "",
		   (m->flags & MAIL_DRAFT) ? "T" : "");
	buf_puts(out, "X-Keywords:");
	for (unsigned k = 0; k < mb->nkeywords; k++)
		if ((m->keywords & (1ULL << k)) != 0)
			buf_printf(out, " %s", mb->keywords[k]);
	/* UW's padding so flags can later change in place */
	kw_end_min = start + (base_line ? 80 : 50);
	while (out->len < kw_end_min)
		buf_putc(out, ' ');
	buf_putc(out, '\n');
	buf_printf(out, "X-UID: %u\n", m->uid);
}

/* pad a formatted block (as by block_format) to exactly want bytes by
 * adding spaces to the X-Keywords line; false if it is too long */
static bool block_pad(struct buf *blk, size_t want)
{
	const char *kw;
	const char *nl;
	size_t pos, add;

	if (blk->len > want)
		return false;
	if (blk->len == want)
		return true;
	kw = memmem(blk->data, blk->len, "X-Keywords:", 11);
	if (kw == NULL)
		return false;
	nl = memchr(kw, '\n', blk->len - (size_t)(kw - blk->data));
	if (nl == NULL)
		return false;
	pos = (size_t)(nl - blk->data);
	add = want - blk->len;
	if (buf_reserve(blk, add) == NULL)
		return false;
	memmove(blk->data + pos + add, blk->data + pos, blk->len - pos);
	memset(blk->data + pos, ' ', add);
	blk->len += add;
	blk->data[blk->len] = '\0';
	return true;
}

static void pseudo_format(struct mbox *mx, struct buf *out, size_t ximap_pad)
{
	char host[256], fromdate[64], date[64];
	time_t now = time(NULL);
	struct tm tm;
	size_t start;

	if (gethostname(host, sizeof host) < 0)
		strcpy(host, "localhost");
	host[sizeof host - 1] = '\0';
	gmtime_r(&now, &tm);
	strftime(fromdate, sizeof fromdate, "%a %b %e %H:%M:%S %Y", &tm);
	/* "22 Nov 2026 02:15:43 +0000" */
	strftime(date, sizeof date, "%d %b %Y %H:%M:%S +0000", &tm);
	if (date[0] == '0')
		memmove(date, date + 1, strlen(date));
	buf_printf(out, "From MAILER-DAEMON %s\n", fromdate);
	buf_printf(out, "Date: %s\n", date);
	buf_printf(out, "From: Mail System Internal Data <MAILER-DAEMON@%s>\n",
		   host);
	buf_puts(out, "Subject: " PSEUDO_SUBJECT "\n");
	mx->ximap_off = out->len;
	start = out->len;
	buf_printf(out, "X-IMAP: %010u %010u", mx->mb.uidvalidity, mx->last_uid);
	for (unsigned k = 0; k < mx->mb.nkeywords; k++)
		buf_printf(out, " %s", mx->mb.keywords[k]);
	for (size_t i = 0; i < ximap_pad; i++)
		buf_putc(out, ' ');
	buf_putc(out, '\n');
	mx->ximap_len = out->len - start;
	buf_puts(out, "Status: RO\n\n"
		 "This text is part of the internal format of your mail folder, and is not\n"
		 "a real message.  It is created automatically by the mail system software.\n"
		 "If deleted, important folder data will be lost, and it will be re-created\n"
		 "with the data reset to initial values.\n\n");
}

/* The text of message m rewritten with a fresh status block. */
static int message_regen(struct mbox *mx, struct mail_message *m,
			 bool base_line, struct buf *out, const char **error_r)
{
	uint64_t len = m->d_len;
	char *raw;
	size_t pos, hdr_end_pos;
	bool in_hdr = true, skipping = false;

	if (len > SIZE_MAX - 1) {
		*error_r = mail_error(MAIL_ERROR_LIMIT,
				"Message too large");
		return -1;
	}
	raw = xmalloc((size_t)len + 1);
	if (pread_full(mx->fd, raw, (size_t)len, (off_t)m->d_off) !=
	    (ssize_t)len || len < 5 || memcmp(raw, "From ", 5) != 0) {
		free(raw);
		*error_r = "Mailbox changed unexpectedly";
		return -1;
	}
	pos = (size_t)(m->d_aux - m->d_off);
	buf_append(out, raw, pos);	/* the From line as it was */
	if (raw[pos - 1] != '\n')
		buf_putc(out, '\n');	/* it ended the file */
	hdr_end_pos = (size_t)len;
	while (pos < len && in_hdr) {
		const char *ln = raw + pos;
		const char *nl = memchr(ln, '\n', (size_t)len - pos);
		size_t n = nl ? (size_t)(nl - ln) + 1 : (size_t)len - pos;

		if (is_blank_line(ln, n)) {
			in_hdr = false;
			hdr_end_pos = pos;
			break;
		}
		if (ln[0] != ' ' && ln[0] != '\t')
			skipping = hidden_kind(ln, n) != H_NONE;
		if (!skipping) {
			buf_append(out, ln, n);
			if (nl == NULL)
				buf_putc(out, '\n');
		}
		pos += n;
	}
	{
		/* X-IMAPbase grows with every new keyword: leave room so
		 * the next ones fit in place, without a rewrite */
		struct buf blk;
		buf_init(&blk, 0);
		block_format(mx, m, base_line, (m->d_flags & MBF_OLD) != 0,
			     &blk);
		if (base_line)
			(void)block_pad(&blk, blk.len + BASE_SLACK);
		buf_append(out, blk.data, blk.len);
		buf_release(&blk);
	}
	if (!in_hdr) {
		/* the blank line as it was, then the body */
		buf_append(out, raw + hdr_end_pos, (size_t)len - hdr_end_pos);
	} else {
		buf_putc(out, '\n');
	}
	if (out->len > 0 && out->data[out->len - 1] != '\n')
		buf_putc(out, '\n');
	buf_putc(out, '\n');	/* separator */
	free(raw);
	return 0;
}

/* one message to append, already converted */
struct append_item {
	struct mail_message m;	/* uid, flags, keywords, size, d_flags */
	const char *data;
	size_t len;
	int64_t t;
	int32_t zone;
	const char *sender;
};

static void append_format(struct mbox *mx, struct append_item *it,
			  struct buf *out)
{
	const char *d = it->data;
	size_t len = it->len, pos = 0, hdr_end = len, body = len;
	struct buf norm;

	/* RFC 3501: the text is CRLF; a bare LF becomes CRLF first */
	buf_init(&norm, 0);
	(void)buf_append_crlf(&norm, d, len);
	d = norm.data;
	len = norm.len;
	/* the header ends at the first empty line */
	if (len >= 2 && d[0] == '\r' && d[1] == '\n') {
		hdr_end = 0;
		body = 2;
	} else {
		const char *e = memmem(d, len, "\r\n\r\n", 4);
		if (e != NULL) {
			hdr_end = (size_t)(e - d) + 2;
			body = hdr_end + 2;
		} else {
			hdr_end = len;
			body = len;
		}
	}
	/* the size as served: hidden headers a client sent are dropped */
	{
		size_t dropped = 0;
		bool skip = false;
		for (pos = 0; pos < hdr_end;) {
			const char *ln = d + pos;
			const char *nl = memchr(ln, '\n', len - pos);
			size_t n = nl ? (size_t)(nl - ln) + 1 : len - pos;
			if (ln[0] != ' ' && ln[0] != '\t')
				skip = hidden_kind(ln, n) != H_NONE;
			if (skip)
				dropped += n;
			pos += n;
		}
		it->m.size = len - dropped;
	}
	buf_puts(out, "From ");
	buf_puts(out, it->sender);
	buf_putc(out, ' ');
	date_format_from_line(it->t, it->zone, out);
	buf_putc(out, '\n');
	/* store lines with LF; quote From lines (mboxrd); drop hidden
	 * headers a client sent (they would be taken for ours) */
	bool skipping = false;
	for (pos = 0; pos < len;) {
		const char *ln = d + pos;
		const char *nl = memchr(ln, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - ln) + 1 : len - pos;
		size_t content = nl ? n - 2 : n; /* without CRLF */

		if (pos == hdr_end) {
			block_format(mx, &it->m, false,
				     (it->m.d_flags & MBF_OLD) != 0, out);
			buf_putc(out, '\n');
			pos = body;
			continue;
		}
		if (pos < hdr_end) {
			if (ln[0] != ' ' && ln[0] != '\t')
				skipping = hidden_kind(ln, n) != H_NONE;
			if (skipping) {
				pos += n;
				continue;
			}
		}
		if (is_quoted_from(ln, n) ||
		    (n >= 5 && memcmp(ln, "From ", 5) == 0))
			buf_putc(out, '>');
		buf_append(out, ln, content);
		buf_putc(out, '\n');
		pos += n;
	}
	if (hdr_end >= len) {
		/* no empty line: the block ends the header */
		block_format(mx, &it->m, false,
			     (it->m.d_flags & MBF_OLD) != 0, out);
		buf_putc(out, '\n');
	}
	buf_putc(out, '\n');	/* separator */
	buf_release(&norm);
}

static bool msg_needs_block(const struct mbox *mx, const struct mail_message *m)
{
	(void)mx;
	return (m->state & MSTATE_DIRTY) != 0 ||
		(m->d_flags & (MBF_NEED_UID | MBF_NEED_OLD)) != 0;
}

static bool header_changed(const struct mbox *mx)
{
	return mx->hdr_uv != mx->mb.uidvalidity ||
		mx->hdr_last != mx->last_uid ||
		mx->hdr_nkw != mx->mb.nkeywords;
}

/* Write everything pending: status blocks, the UID header, expunges (if
 * expunge) and the n appended items, as one journaled change. Caller
 * holds the write lock and has just synced. */
static int commit(struct mbox *mx, bool expunge, struct append_item *items,
		  unsigned n_items, const char **error_r)
{
	struct mailbox *mb = &mx->mb;
	uint64_t file_len = mx->parsed_len, X = UINT64_MAX;
	struct journal_region *regs = NULL;
	struct buf *blocks = NULL, rewrite, pseudo_blk;
	unsigned nregs = 0;
	uint32_t first_live = UINT32_MAX, live = 0, nblocks;
	bool any = n_items > 0, hdr_change, need_pseudo = false;
	int ret = 0;

	for (uint32_t i = 0; i < mb->count; i++) {
		struct mail_message *m = &mb->msgs[i];
		if ((m->state & MSTATE_EXPUNGED) != 0)
			continue;
		if (expunge && (m->state & MSTATE_EXPUNGE_ME) != 0) {
			any = true;
			if (m->d_off < X)
				X = m->d_off;
			continue;
		}
		if (first_live == UINT32_MAX)
			first_live = i;
		live++;
	}
	/* UIDs beyond the file's last UID (appends) */
	hdr_change = header_changed(mx);
	if (mx->form == UIDF_NONE && (live > 0 || n_items > 0) &&
	    !mx->mb.readonly) {
		hdr_change = true;
		if (live == 0 && first_live == UINT32_MAX) {
			/* empty file: start with the pseudo message */
			need_pseudo = true;
			X = 0;
		}
	}
	if (mx->form == UIDF_BASE && live == 0 && n_items == 0 && any) {
		/* all messages go: keep the UID data in a pseudo message */
		need_pseudo = true;
		X = 0;
	}
	if (mx->form == UIDF_BASE && live == 0 && n_items > 0 && X != UINT64_MAX)
		need_pseudo = true, X = 0;
	if (hdr_change)
		any = true;
	for (uint32_t i = 0; i < mb->count; i++)
		if ((mb->msgs[i].state & MSTATE_EXPUNGED) == 0 &&
		    !(expunge && (mb->msgs[i].state & MSTATE_EXPUNGE_ME)) &&
		    msg_needs_block(mx, &mb->msgs[i]))
			any = true;
	if (!any)
		return 0;
	if (mx->fd < 0 || !mx->fd_rw) {
		*error_r = mail_error(MAIL_ERROR_NOPERM,
				"Mailbox is read-only");
		return -1;
	}

	nblocks = mb->count + 1;
	regs = xcalloc((size_t)mb->count + 4, sizeof *regs);
	blocks = xcalloc((size_t)nblocks, sizeof *blocks);
	buf_init(&rewrite, 0);
	buf_init(&pseudo_blk, 0);

	/* the pseudo's X-IMAP line in place, if it fits */
	if (mx->form == UIDF_PSEUDO && hdr_change && X != 0) {
		struct buf *b = &blocks[mb->count];
		buf_init(b, 0);
		buf_printf(b, "X-IMAP: %010u %010u", mb->uidvalidity,
			   mx->last_uid);
		for (unsigned k = 0; k < mb->nkeywords; k++)
			buf_printf(b, " %s", mb->keywords[k]);
		if (mx->ximap_len > 0 && b->len + 1 <= mx->ximap_len) {
			while (b->len + 1 < mx->ximap_len)
				buf_putc(b, ' ');
			buf_putc(b, '\n');
		} else {
			X = 0;	/* rewrite the pseudo and everything */
		}
	}
	/* status blocks: in place where they fit, else rewrite from there */
	for (uint32_t i = 0; i < mb->count && X != 0; i++) {
		struct mail_message *m = &mb->msgs[i];
		bool base = mx->form != UIDF_PSEUDO && i == first_live;

		if ((m->state & MSTATE_EXPUNGED) != 0 ||
		    (expunge && (m->state & MSTATE_EXPUNGE_ME) != 0))
			continue;
		if (m->d_off >= X)
			break;
		if (!msg_needs_block(mx, m) && !(base && hdr_change))
			continue;
		if (base && mx->form == UIDF_NONE) {
			/* X-IMAPbase must be added: rewrite from here */
			X = m->d_off < X ? m->d_off : X;
			break;
		}
		buf_init(&blocks[i], 0);
		block_format(mx, m, base, (m->d_flags & MBF_OLD) != 0,
			     &blocks[i]);
		if ((m->d_flags & MBF_SB_OK) == 0 ||
		    !block_pad(&blocks[i], msg_sb_len(m))) {
			if (m->d_off < X)
				X = m->d_off;
			break;
		}
	}
	if (X == 0 && mx->form == UIDF_PSEUDO)
		need_pseudo = true;
	/* in-place regions before X */
	for (uint32_t i = 0; i < mb->count; i++) {
		struct mail_message *m = &mb->msgs[i];
		if (blocks[i].data == NULL || m->d_off >= X)
			continue;
		uint64_t bl = 1;
		char c[2];
		if (pread_full(mx->fd, c, 2, (off_t)(m->d_aux2 - 2)) == 2 &&
		    c[0] == '\r')
			bl = 2;
		regs[nregs].offset = m->d_aux2 - bl - msg_sb_len(m);
		regs[nregs].data = blocks[i].data;
		regs[nregs].len = blocks[i].len;
		nregs++;
	}
	if (mx->form == UIDF_PSEUDO && blocks[mb->count].data != NULL &&
	    X != 0 && blocks[mb->count].len == mx->ximap_len) {
		regs[nregs].offset = mx->ximap_off;
		regs[nregs].data = blocks[mb->count].data;
		regs[nregs].len = blocks[mb->count].len;
		nregs++;
	}
	/* the rewritten tail and the appended messages */
	uint64_t region_start = X != UINT64_MAX ? X : file_len;
	if (need_pseudo) {
		/* room for new keywords (CREATE writes UW's exact text) */
		pseudo_format(mx, &rewrite, BASE_SLACK);
		mx->form = UIDF_PSEUDO;
	}
	if (X != UINT64_MAX) {
		bool first_done = false;
		for (uint32_t i = 0; i < mb->count; i++) {
			struct mail_message *m = &mb->msgs[i];
			if ((m->state & MSTATE_EXPUNGED) != 0 || m->d_off < X)
				continue;
			if (expunge && (m->state & MSTATE_EXPUNGE_ME) != 0)
				continue;
			bool base = mx->form != UIDF_PSEUDO && !first_done &&
				i == first_live;
			first_done = true;
			if (message_regen(mx, m, base, &rewrite, error_r) < 0) {
				ret = -1;
				goto out;
			}
		}
	}
	for (unsigned k = 0; k < n_items; k++)
		append_format(mx, &items[k], &rewrite);
	if (rewrite.len > 0 || region_start < file_len) {
		regs[nregs].offset = region_start;
		regs[nregs].data = rewrite.data;
		regs[nregs].len = rewrite.len;
		nregs++;
	}
	uint64_t new_len = region_start + rewrite.len;
	if (region_start == file_len && rewrite.len == 0)
		new_len = file_len;
	ret = journal_apply(mb->path, mx->fd, file_len, regs, nregs, new_len,
			    error_r);
	if (ret < 0)
		goto out;

	/* the model after the write */
	if (mx->form == UIDF_NONE && (live > 0 || n_items > 0))
		mx->form = UIDF_BASE;
	mx->hdr_uv = mb->uidvalidity;
	mx->hdr_last = mx->last_uid;
	mx->hdr_nkw = mb->nkeywords;
	for (uint32_t i = 0; i < mb->count; i++) {
		struct mail_message *m = &mb->msgs[i];
		if ((m->state & MSTATE_EXPUNGED) != 0)
			continue;
		m->state &= ~MSTATE_DIRTY;
		m->d_flags &= ~(MBF_NEED_UID | MBF_NEED_OLD | MBF_FOREIGN);
	}
	if (expunge) {
		for (uint32_t i = mb->count; i > 0; i--)
			if ((mb->msgs[i - 1].state & MSTATE_EXPUNGE_ME) != 0 &&
			    (mb->msgs[i - 1].state & MSTATE_EXPUNGED) == 0)
				mail_remove_message(mb, i - 1);
	}
	if (region_start < new_len || region_start < file_len) {
		/* re-read the rewritten part for the new offsets */
		struct plist pl;
		uint32_t k = 0, skip = 0;

		memset(&pl, 0, sizeof pl);
		(void)mbox_parse(mx->fd, region_start, new_len, &pl);
		if (need_pseudo && pl.n > 0) {
			mx->pseudo_end = pl.n > 1 ? pl.v[1].from_off : new_len;
			find_ximap_line(mx);
			skip = 1;
		}
		k = skip;
		for (uint32_t i = 0; i < mb->count; i++) {
			struct mail_message *m = &mb->msgs[i];
			if ((m->state & MSTATE_EXPUNGED) != 0 ||
			    m->d_off < region_start)
				continue;
			if (k < pl.n)
				msg_from_pmsg(m, &pl.v[k++]);
		}
		/* appended messages: new in this mailbox too */
		for (unsigned a = 0; a < n_items && k < pl.n; a++, k++) {
			struct mail_message *m = mail_add_message(mb);
			m->uid = items[a].m.uid;
			m->flags = items[a].m.flags | MAIL_RECENT;
			m->keywords = items[a].m.keywords;
			msg_from_pmsg(m, &pl.v[k]);
			mb->recent++;
			if (!mb->readonly && !mx->append_mode &&
			    (m->d_flags & MBF_OLD) == 0)
				m->d_flags |= MBF_NEED_OLD | MBF_OLD;
		}
		plist_free(&pl);
	}
	if (mx->form == UIDF_PSEUDO)
		find_ximap_line(mx);
	mb->uidnext = mx->last_uid + 1;
	remember_state(mx, new_len, NULL);
out:
	for (uint32_t i = 0; i < nblocks; i++)
		if (blocks[i].data != NULL)
			buf_release(&blocks[i]);
	free(blocks);
	free(regs);
	buf_release(&rewrite);
	buf_release(&pseudo_blk);
	return ret;
}

/* ---- locking around operations ---- */

static int mbox_lock_flags(struct mbox *mx, unsigned flags,
			   const char **error_r)
{
	const char *notice;

	if (mx->fd < 0 || (mx->mb.open_mode & MAIL_OPEN_LOCKED) != 0)
		return 0;
	if (lock_mailbox(mx->mb.path, mx->fd, flags, &mx->lock, &notice,
			 error_r) < 0)
		return -1;
	if (notice != NULL)
		mail_set_notice(&mx->mb, notice);
	if (lock_dotlock_missing(mx->lock) && !mx->mb.readonly) {
		/* FAQ 7.10: no dotlock (a 2775 spool and no mlock helper).
		 * An MTA may be appending under its dotlock alone, so we
		 * never rewrite: the session goes read-only, and the notice
		 * (the vulnerable line) tells the client why. */
		log_warning("%s: no dotlock possible, access is readonly",
			    mx->mb.path);
		mx->mb.readonly = true;
	}
	return 0;
}

static int mbox_lock(struct mbox *mx, bool exclusive, const char **error_r)
{
	return mbox_lock_flags(mx, exclusive ? 0 : LOCK_SHARED, error_r);
}

static void mbox_unlock(struct mbox *mx)
{
	lock_release(&mx->lock);
}

static int recover_locked(struct mbox *mx, bool have_exclusive,
			  const char **error_r);

/* A reader's lock with the model synced: shared kernel locks, and the
 * dotlock as well when there is new data to parse (sync_locked()).
 * On success the lock is held; on failure it is not. */
/* Lock (flags as for lock_mailbox), repair, sync. Returns sync_locked()'s
 * 0 or 1 with the lock held, or -1 with it released. */
static int lock_and_sync(struct mbox *mx, unsigned flags, const char **error_r)
{
	int r;

	if (mbox_lock_flags(mx, flags, error_r) < 0)
		return -1;
	r = recover_locked(mx, (flags & LOCK_SHARED) == 0, error_r);
	if (r == 0)
		r = sync_locked(mx, error_r);
	if (r < 0)
		mbox_unlock(mx);
	return r;
}

static int read_lock_sync(struct mbox *mx, const char **error_r)
{
	int r = lock_and_sync(mx, LOCK_SHARED, error_r);

	if (r == 1) {
		mbox_unlock(mx);
		r = lock_and_sync(mx, LOCK_SHARED | LOCK_DOTLOCK, error_r);
		if (r == 1) {
			mbox_unlock(mx);
			*error_r = "Mailbox changed while being read";
			r = -1;
		}
	}
	return r < 0 ? -1 : 0;
}

/* under the lock: repair an interrupted change before reading */
static int recover_locked(struct mbox *mx, bool have_exclusive,
			  const char **error_r)
{
	bool rec;

	if (mx->fd < 0 || !journal_exists(mx->mb.path, mx->fd))
		return 0;
	if (!mx->fd_rw) {
		*error_r = mail_error(MAIL_ERROR_CORRUPT,
				"Mailbox needs repair but is not writable");
		return -1;
	}
	if (!have_exclusive) {
		/* readers: come back with the write lock */
		mbox_unlock(mx);
		if (mbox_lock(mx, true, error_r) < 0)
			return -1;
	}
	if (journal_recover(mx->mb.path, mx->fd, &rec, error_r) < 0)
		return -1;
	if (rec)
		memset(&mx->st, 0, sizeof mx->st);	/* force a re-parse */
	return 0;
}

/* lock, repair, sync and (read-write) write pending changes */
static int mbox_update(struct mbox *mx, bool write_pending, bool expunge,
		       struct append_item *items, unsigned n_items,
		       const char **error_r)
{
	bool excl = write_pending && !mx->mb.readonly && mx->fd_rw;
	bool replaced;
	int ret;

	(void)reopen_if_replaced(mx, &replaced);
	if (mx->fd < 0)
		return 0;
	if (!excl) {
		if (read_lock_sync(mx, error_r) < 0)
			return -1;
		mbox_unlock(mx);
		return 0;
	}
	ret = lock_and_sync(mx, 0, error_r);
	if (ret < 0)
		return -1;
	if (ret == 1) {
		/* cannot happen: a write lock tried the dotlock */
		*error_r = "Mailbox lock does not exclude writers";
		ret = -1;
	}
	if (excl && mx->mb.readonly && ret == 0) {
		/* went read-only at this lock (FAQ 7.10): write nothing */
		excl = false;
		if (n_items > 0) {
			*error_r = mx->mb.notice != NULL ? mx->mb.notice :
				"Can't get write access to mailbox";
			ret = -1;
		}
	}
	if (ret == 0 && excl)
		ret = commit(mx, expunge, items, n_items, error_r);
	mbox_unlock(mx);
	return ret;
}

/* ---- driver functions ---- */

static bool mbox_probe(const char *path, const struct stat *st)
{
	char line[4096];
	int fd;
	ssize_t n;
	int64_t t;
	int32_t z;
	char *nl;

	if (!S_ISREG(st->st_mode))
		return false;
	if (st->st_size == 0)
		return true;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return false;
	n = pread_full(fd, line, sizeof line - 1, 0);
	if (n >= 5) {
		line[n] = '\0';
		nl = memchr(line, '\n', (size_t)n);
		if (nl != NULL &&
		    mbox_is_from_line(line, (size_t)(nl - line) + 1, &t, &z)) {
			close(fd);
			return true;
		}
	}
	/* a change of ours was interrupted (the file may even be all
	 * zeros): it is ours to repair at open */
	bool ours = n > 0 && (line[0] == '\0' || line[0] == 'F') &&
		journal_exists(path, fd);
	close(fd);
	return ours;
}

static struct mbox *mbox_alloc(const char *path, unsigned mode)
{
	struct mbox *mx = xcalloc(1, sizeof *mx);

	mail_mailbox_init(&mx->mb, &mbox_driver, path, mode);
	mx->fd = -1;
	mx->pid = getpid();
	return mx;
}

static int mbox_create(const char *path, const char **error_r)
{
	struct mbox *mx;
	struct buf b;
	int fd, ret = 0;
	mode_t mode = (mode_t)config_int("new-mailbox-mode") & 07777;

	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		  mode ? mode : 0600);
	if (fd < 0) {
		*error_r = errno == EEXIST ? mail_error(MAIL_ERROR_EXISTS,
				"Mailbox already exists") :
			"Cannot create mailbox";
		return -1;
	}
	(void)fchmod(fd, mode ? mode : 0600);
	mx = mbox_alloc(path, 0);
	mx->mb.uidvalidity = mail_new_uidvalidity(0);
	buf_init(&b, 0);
	pseudo_format(mx, &b, 0);
	if (write_full(fd, b.data, b.len) < 0 || fsync(fd) < 0) {
		*error_r = "Cannot write new mailbox";
		(void)unlink(path);
		ret = -1;
	}
	buf_release(&b);
	close(fd);
	mail_mailbox_free((struct mailbox **)&mx);
	return ret;
}

static int mbox_remove(const char *path, const char **error_r)
{
	kept_handle_drop();
	if (unlink(path) < 0) {
		*error_r = errno == ENOENT ? mail_error(MAIL_ERROR_NOTFOUND,
				"Mailbox does not exist") :
			"Cannot delete mailbox";
		return -1;
	}
	return 0;
}

static int mbox_rename(const char *from, const char *to, const char **error_r)
{
	kept_handle_drop();
	if (rename(from, to) < 0) {
		*error_r = "Cannot rename mailbox";
		return -1;
	}
	return 0;
}

static struct mbox *mbox_open_internal(const char *path, unsigned mode,
				       bool create, const char **error_r)
{
	struct mbox *mx = mbox_alloc(path, mode);
	bool want_rw = (mode & MAIL_OPEN_READONLY) == 0;
	int fd;

	fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC |
		  (create ? O_CREAT : 0), 0600);
	if (fd >= 0 && create) {
		struct stat st;
		if (fstat(fd, &st) == 0 && st.st_size == 0) {
			mode_t m = (mode_t)config_int("new-mailbox-mode") & 07777;
			(void)fchmod(fd, m ? m : 0600);
		}
	}
	if (fd >= 0) {
		mx->fd_rw = true;
	} else if (errno == EACCES || errno == EROFS || errno == EPERM) {
		fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0 && want_rw) {
			/* FAQ 7.12 */
			mx->mb.readonly = true;
			mail_set_notice(&mx->mb, "Can't get write access to "
					"mailbox, access is readonly");
		}
	}
	if (fd < 0 && errno == ENOENT && (mode & MAIL_OPEN_INBOX) != 0) {
		/* no spool file yet: an empty INBOX */
		mx->mb.uidvalidity = mail_new_uidvalidity(0);
		mx->mb.uidnext = 1;
		return mx;
	}
	if (fd < 0) {
		*error_r = errno == ENOENT ? mail_error(MAIL_ERROR_NOTFOUND,
				"Mailbox does not exist") :
			"Cannot open mailbox";
		mail_mailbox_free((struct mailbox **)&mx);
		return NULL;
	}
	mx->fd = fd;
	return mx;
}

static void mbox_free(struct mbox **mxp)
{
	struct mbox *mx = *mxp;

	if (mx == NULL)
		return;
	if (mx->listed) {
		struct mbox **pp = &open_handles;
		while (*pp != NULL && *pp != mx)
			pp = &(*pp)->next_open;
		if (*pp == mx)
			*pp = mx->next_open;
	}
	if (kept_handle == mx)
		kept_handle = NULL;
	lock_release(&mx->lock);
	if (mx->fd >= 0)
		close(mx->fd);
	mail_mailbox_free((struct mailbox **)mxp);
}

static struct mailbox *mbox_open(const char *path, unsigned mode,
				 const char **error_r)
{
	struct mbox *mx = mbox_open_internal(path, mode, false, error_r);

	if (mx == NULL)
		return NULL;
	if (mbox_update(mx, true, false, NULL, 0, error_r) < 0) {
		mbox_free(&mx);
		return NULL;
	}
	mx->listed = true;
	mx->next_open = open_handles;
	open_handles = mx;
	return &mx->mb;
}

/* Only the opener's own handles: a forked child shares the open file
 * description, and an fcntl (OFD) lock a child took through it and died
 * with would stay until the parent closes it. */
static bool handle_is(const struct mbox *mx, const struct stat *st)
{
	struct stat fst;

	return mx->fd >= 0 && mx->pid == getpid() &&
		fstat(mx->fd, &fst) == 0 &&
		fst.st_ino == st->st_ino && fst.st_dev == st->st_dev &&
		fst.st_nlink > 0;
}

static void kept_handle_drop(void)
{
	struct mbox *mx = kept_handle;

	kept_handle = NULL;
	mbox_free(&mx);
}

/* An open handle on path (for_write: one we may write through), or
 * NULL. The kept handle is the driver's own: messages others expunged
 * are dropped from it here (no session reports them). */
static struct mbox *find_handle(const char *path, bool for_write)
{
	struct stat st;

	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
		kept_handle_drop();
		return NULL;
	}
	for (struct mbox *mx = open_handles; mx != NULL; mx = mx->next_open)
		if ((!for_write || (mx->fd_rw && !mx->mb.readonly)) &&
		    (mx->mb.open_mode & MAIL_OPEN_LOCKED) == 0 &&
		    handle_is(mx, &st))
			return mx;
	if (kept_handle != NULL && !handle_is(kept_handle, &st))
		kept_handle_drop();
	return kept_handle;
}

static void kept_purge(struct mbox *mx)
{
	if (mx->listed)
		return;
	for (uint32_t i = mx->mb.count; i > 0; i--)
		if ((mx->mb.msgs[i - 1].state & MSTATE_EXPUNGED) != 0)
			mail_remove_message(&mx->mb, i - 1);
}

/* after use: a listed handle stays its session's; another one becomes
 * the kept handle if keep, else is freed */
static void handle_done(struct mbox *mx, bool keep)
{
	if (mx->listed)
		return;
	if (mx == kept_handle)
		kept_handle = NULL;
	if (keep) {
		kept_handle_drop();
		kept_handle = mx;
	} else {
		mbox_free(&mx);
	}
}

static int mbox_status(const char *path, uint32_t *messages_r,
		       uint32_t *recent_r, uint32_t *unseen_r,
		       uint32_t *uidnext_r, uint32_t *uidvalidity_r,
		       const char **error_r)
{
	struct mbox *mx = find_handle(path, false);

	if (mx == NULL) {
		mx = mbox_open_internal(path, 0, false, error_r);
		if (mx == NULL)
			return -1;
		mx->append_mode = true;	/* never marks anything Old */
	}
	if (read_lock_sync(mx, error_r) < 0) {
		handle_done(mx, false);
		return -1;
	}
	mbox_unlock(mx);
	kept_purge(mx);
	*messages_r = *recent_r = *unseen_r = 0;
	for (uint32_t i = 0; i < mx->mb.count; i++) {
		const struct mail_message *m = &mx->mb.msgs[i];
		if ((m->state & MSTATE_EXPUNGED) != 0)
			continue;
		++*messages_r;
		/* recent: a session's own view, else what no session has
		 * seen yet (no Status O) */
		if (mx->listed ? (m->flags & MAIL_RECENT) != 0 :
		    (m->d_flags & MBF_OLD) == 0)
			++*recent_r;
		if ((m->flags & MAIL_SEEN) == 0)
			++*unseen_r;
	}
	*uidnext_r = mx->mb.uidnext;
	*uidvalidity_r = mx->mb.uidvalidity;
	handle_done(mx, true);
	return 0;
}

static void mbox_close(struct mailbox **mbp)
{
	struct mbox *mx = (struct mbox *)*mbp;
	const char *err;

	if (mx == NULL)
		return;
	if (!mx->mb.readonly && mx->fd >= 0 &&
	    mbox_update(mx, true, false, NULL, 0, &err) < 0)
		log_error("%s: writing flags at close: %s", mx->mb.path, err);
	mbox_free(&mx);
	*mbp = NULL;
}

static int mbox_sync(struct mailbox *mb, const char **error_r)
{
	return mbox_update((struct mbox *)mb, true, false, NULL, 0, error_r);
}

static int mbox_flush(struct mailbox *mb, const char **error_r)
{
	return mbox_update((struct mbox *)mb, true, false, NULL, 0, error_r);
}

static int mbox_expunge(struct mailbox *mb, const char **error_r)
{
	return mbox_update((struct mbox *)mb, true, true, NULL, 0, error_r);
}

/* serve the text: hidden headers out, LF -> CRLF, and for our own
 * messages From-unquoting and the final-newline rule */
static void serve(const char *raw, size_t len, bool transparent,
		  struct buf *out)
{
	bool in_hdr = true, skipping = false;
	size_t pos = 0;

	while (pos < len) {
		const char *ln = raw + pos;
		const char *nl = memchr(ln, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - ln) + 1 : len - pos;

		if (in_hdr) {
			if (is_blank_line(ln, n)) {
				in_hdr = false;
			} else {
				if (ln[0] != ' ' && ln[0] != '\t')
					skipping = hidden_kind(ln, n) != H_NONE;
				if (skipping) {
					pos += n;
					continue;
				}
			}
		}
		if (transparent && ln[0] == '>' && is_quoted_from(ln, n)) {
			ln++;
			n--;
			pos++;
		}
		if (nl == NULL) {
			buf_append(out, ln, n);
		} else if (transparent || n < 2 || ln[n - 2] != '\r') {
			buf_append(out, ln, n - 1);
			buf_append(out, "\r\n", 2);
		} else {
			buf_append(out, ln, n);
		}
		pos += n;
	}
}

static int mbox_fetch(struct mailbox *mb, uint32_t idx, enum mail_part part,
		      struct buf *out, const char **error_r)
{
	struct mbox *mx = (struct mbox *)mb;
	struct mail_message *m;
	struct buf text;
	char *raw;
	size_t rlen;
	int ret = 0;

	if (idx >= mb->count) {
		*error_r = mail_error(MAIL_ERROR_PARAMS,
				"Invalid message number");
		return -1;
	}
	/* another session may have rewritten the file since our sync */
	if (read_lock_sync(mx, error_r) < 0)
		return -1;
	m = &mb->msgs[idx];
	if ((m->state & MSTATE_EXPUNGED) != 0) {
		mbox_unlock(mx);
		*error_r = "Message has been expunged";
		return -1;
	}
	if (m->d_len > SIZE_MAX / 2 || m->d_aux < m->d_off ||
	    m->d_aux - m->d_off > m->d_len) {
		mbox_unlock(mx);
		*error_r = mail_error(MAIL_ERROR_LIMIT,
				"Message too large");
		return -1;
	}
	rlen = (size_t)(m->d_len - (m->d_aux - m->d_off));
	raw = xmalloc(rlen + 1);
	if (pread_full(mx->fd, raw, rlen, (off_t)m->d_aux) != (ssize_t)rlen) {
		free(raw);
		mbox_unlock(mx);
		*error_r = "Error reading mailbox";
		return -1;
	}
	mbox_unlock(mx);
	buf_init(&text, 0);
	bool transparent = (m->d_flags & MBF_TRANSPARENT) != 0;
	serve(raw, rlen, transparent, &text);
	if (transparent) {
		unsigned trim = (m->d_flags & MBF_TRIM_MASK) >> MBF_TRIM_SHIFT;
		if (text.len >= 2 * trim)
			buf_truncate(&text, text.len - 2 * trim);
		if (text.len != m->size) {
			/* edited by someone: serve it the foreign way */
			buf_reset(&text);
			serve(raw, rlen, false, &text);
		}
	}
	free(raw);
	if (text.len != m->size)
		log_warning("%s: UID %u: served %zu octets, expected %llu",
			    mb->path, m->uid, text.len,
			    (unsigned long long)m->size);
	size_t h = m->hdr_size < text.len ? (size_t)m->hdr_size : text.len;
	switch (part) {
	case MAIL_PART_ALL:
		buf_append(out, text.data, text.len);
		break;
	case MAIL_PART_HEADER:
		buf_append(out, text.data, h);
		break;
	case MAIL_PART_TEXT:
		buf_append(out, text.data + h, text.len - h);
		break;
	}
	buf_release(&text);
	return ret;
}

static int mbox_append(const char *path, const struct mail_append_msg *msgs,
		       unsigned n, uint32_t *uidvalidity_r, uint32_t *uids_r,
		       const char **error_r)
{
	struct mbox *mx = find_handle(path, true);
	struct append_item *items;
	char *sender = NULL;
	int ret;

	if (mx != NULL && !mx->listed && (mx->mb.readonly || !mx->fd_rw)) {
		kept_handle_drop();	/* kept from a STATUS, not writable */
		mx = NULL;
	}
	if (mx == NULL) {
		mx = mbox_open_internal(path, 0, true, error_r);
		if (mx == NULL)
			return -1;
		mx->append_mode = true;
	}
	if (mx->mb.readonly || !mx->fd_rw) {
		handle_done(mx, false);
		*error_r = mail_error(MAIL_ERROR_NOPERM,
				"Can't get write access to mailbox");
		return -1;
	}
	ret = lock_and_sync(mx, 0, error_r);
	if (ret != 0) {
		if (ret == 1)	/* cannot happen: a write lock tried it */
			*error_r = "Mailbox lock does not exclude writers";
		mbox_unlock(mx);
		handle_done(mx, false);
		return -1;
	}
	if (mx->mb.readonly) {
		/* no dotlock possible here (FAQ 7.10): appending could
		 * interleave with an MTA's delivery */
		*error_r = "Mailbox vulnerable - directory must have 1777 "
			   "protection, cannot append";
		mbox_unlock(mx);
		handle_done(mx, false);
		return -1;
	}
	kept_purge(mx);
	if (mail_user != NULL && mail_user->name != NULL)
		sender = xstrdup(mail_user->name);
	else
		sender = xstrdup("MAILER-DAEMON");
	items = xcalloc(n ? n : 1, sizeof *items);
	ret = 0;
	/* kept numbering (mail.h: uid, uidvalidity); the model is thrown
	 * away below if this fails */
	if (n > 0 && msgs[0].uidvalidity != 0 &&
	    msgs[0].uidvalidity != mx->mb.uidvalidity) {
		if (mx->last_uid != 0 || mx->mb.count != 0) {
			*error_r = "Mailbox has UIDs: UIDVALIDITY cannot change";
			ret = -1;
		} else {
			mx->mb.uidvalidity = msgs[0].uidvalidity;
		}
	}
	for (unsigned i = 0; i < n && ret == 0; i++) {
		struct append_item *it = &items[i];
		const struct mail_append_msg *am = &msgs[i];
		if (am->uid != 0 ? am->uid <= mx->last_uid :
		    mx->last_uid == UINT32_MAX) {
			*error_r = am->uid != 0 ? "UID to keep is not above "
				"the mailbox's UIDs" : "Mailbox UIDs exhausted";
			ret = -1;
			break;
		}
		it->m.uid = am->uid != 0 ? am->uid : mx->last_uid + 1;
		mx->last_uid = it->m.uid;
		it->m.flags = am->flags & MAIL_SYSFLAGS;
		for (unsigned k = 0; k < am->nkeywords; k++) {
			int ki = mail_keyword_index(&mx->mb, am->keywords[k],
						    true);
			if (ki < 0) {
				*error_r = mail_error(MAIL_ERROR_LIMIT,
						"Too many keywords");
				ret = -1;
				break;
			}
			it->m.keywords |= 1ULL << ki;
		}
		it->m.d_flags = MBF_TRANSPARENT;
		/* into a session's open mailbox: that session has it as
		 * recent, so it is written "Old" at once (UW's Status O),
		 * not by a second rewrite after the APPEND */
		if (mx->listed && !mx->append_mode)
			it->m.d_flags |= MBF_OLD;
		it->data = am->data;
		it->len = am->len;
		it->t = am->internaldate >= 0 ? am->internaldate :
			(int64_t)time(NULL);
		it->zone = am->internaldate >= 0 ? am->zone : 0;
		it->sender = am->from_sender != NULL && *am->from_sender &&
			strcspn(am->from_sender, " \t\r\n") ==
			strlen(am->from_sender) ? am->from_sender : sender;
		uids_r[i] = it->m.uid;
	}
	for (unsigned i = 0; i < n && ret == 0; i++)
		if (msgs[i].uidnext > mx->last_uid + 1)
			mx->last_uid = msgs[i].uidnext - 1;
	if (ret == 0) {
		mx->mb.uidnext = mx->last_uid + 1;
		ret = commit(mx, false, items, n, error_r);
	}
	*uidvalidity_r = mx->mb.uidvalidity;
	free(items);
	free(sender);
	mbox_unlock(mx);
	/* keep it for the next append (a failed one may have left the
	 * model ahead of the file: start afresh then) */
	handle_done(mx, ret == 0);
	return ret;
}

const struct mail_driver mbox_driver = {
	.name = "mbox",
	.is_directory = false,
	.spool_format = true,
	.single_writer = true,
	.probe = mbox_probe,
	.repair_claim = mbox_repair_claim,
	.repair = mbox_repair,
	.create = mbox_create,
	.remove = mbox_remove,
	.rename = mbox_rename,
	.open = mbox_open,
	.close = mbox_close,
	.sync = mbox_sync,
	.fetch = mbox_fetch,
	.flush = mbox_flush,
	.expunge = mbox_expunge,
	.append = mbox_append,
	.status = mbox_status,
};
