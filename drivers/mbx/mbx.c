/*
 * mbx.c - the UW "mbx" mailbox format (seed FAQ 4.5, 7.15), byte for byte
 * compatible with UW imapd so a site can move back and forth.
 *
 * On disk (fixtures/uw/README.md, section "mbx"):
 *   a 2048-byte header: "*mbx*\r\n", "%08x%08x\r\n" (UIDVALIDITY, last
 *   UID), 30 keyword lines (unused ones empty), NUL padding, and the PID
 *   of the last header writer in the last 10 bytes as "%08x\r\n";
 *   then per message an internal header line
 *   "dd-Mmm-yyyy hh:mm:ss +zzzz,SIZE;UUUUUUUUSSSS-IIIIIIII\r\n"
 *   (user flag bits, system flag bits, UID, all hex) followed by exactly
 *   SIZE bytes of CRLF text. Flags are fixed-width so they are changed in
 *   place, without rewriting anything.
 *
 * Sharing (as UW): every open session holds a shared flock() on the file.
 * Parsing, appending and header updates are serialised by UW's "parse/
 * append permission": an exclusive flock() on /tmp/.<dev>.<ino>. Expunge
 * marks a message fEXPUNGED in place; the space is reclaimed (the file
 * compacted) only when an exclusive flock() on the mailbox shows that no
 * other session has it open. Compaction is journaled (NAME.cclient-compact,
 * see docs/formats.md) so a crash in the middle never loses a byte.
 *
 * Appends write a marker into the header's NUL padding before touching
 * the end of the file, so a crash in the middle of an append is undone at
 * the next open instead of leaving a half record (FAQ 7.15 corruption).
 *
 * Every byte of the file is hostile: each record is validated before use
 * and corruption is reported with UW's FAQ 7.15 messages and offsets
 * (mailutil repair fixes it); nothing is skipped silently.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
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

#include "mbx-private.h"

/* system flag bits in the file */
#define F_SEEN		0x0001u
#define F_DELETED	0x0002u
#define F_FLAGGED	0x0004u
#define F_ANSWERED	0x0008u
#define F_OLD		0x0010u	/* some session has seen it: not \Recent */
#define F_DRAFT		0x0020u
#define F_EXPUNGED	0x8000u	/* expunged, space not yet reclaimed */

extern const struct mail_driver mbx_driver;


/* one parsed internal header */
struct mbx_rec {
	uint64_t off;		/* offset of the internal header line */
	uint32_t linelen;	/* its length including CRLF */
	uint64_t size;		/* message octets that follow */
	uint32_t uflags;
	uint32_t sflags;
	uint32_t uid;
	int64_t date;
	int32_t zone;
};


struct mbx_mailbox {
	struct mailbox mb;	/* must be first */
	int fd;
	uint64_t parsed_size;	/* file bytes parsed into msgs[] */
	uint32_t lastuid;	/* highest UID in msgs[] (or seen expunged) */
	struct timespec flag_mtime; /* file mtime when flags were last read */
	bool flag_mtime_ok;	/* flag_mtime old enough to be trusted */
	bool need_full;		/* offsets uncertain: re-find all by UID */
	bool holes;		/* fEXPUNGED records seen: reclaim at close */
	unsigned nslots;
	char slot[MBX_NSLOTS][MBX_KW_MAX + 1];
	int slot2idx[MBX_NSLOTS]; /* slot -> mb.keywords index, -1 none */
	char errbuf[512];
};

static const char *mbx_errorf(char *dst, size_t size, const char *fmt, ...)
	ATTR_PRINTF(3, 4);

static const char *mbx_errorf(char *dst, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(dst, size, fmt, ap);
	va_end(ap);
	return dst;
}

/* up to 80 bytes of hostile file text, safe to log */
static void mbx_safe_text(const char *p, size_t len, char out[81])
{
	size_t i;

	for (i = 0; i < len && i < 80; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c == '\r' || c == '\n' || c == '\0')
			break;
		out[i] = c < 0x20 || c >= 0x7f ? '?' : (char)c;
	}
	out[i] = '\0';
}

bool mbx_hex(const char *p, size_t n, uint32_t *r)
{
	uint32_t v = 0;

	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)p[i], d;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return false;
		v = v << 4 | (uint32_t)d;
	}
	*r = v;
	return true;
}

static uint32_t mbx_flags_to_file(uint32_t f)
{
	return (f & MAIL_SEEN ? F_SEEN : 0) |
		(f & MAIL_DELETED ? F_DELETED : 0) |
		(f & MAIL_FLAGGED ? F_FLAGGED : 0) |
		(f & MAIL_ANSWERED ? F_ANSWERED : 0) |
		(f & MAIL_DRAFT ? F_DRAFT : 0);
}

static uint32_t mbx_flags_from_file(uint32_t s)
{
	return (s & F_SEEN ? MAIL_SEEN : 0) |
		(s & F_DELETED ? MAIL_DELETED : 0) |
		(s & F_FLAGGED ? MAIL_FLAGGED : 0) |
		(s & F_ANSWERED ? MAIL_ANSWERED : 0) |
		(s & F_DRAFT ? MAIL_DRAFT : 0);
}

/* ---- locks ---- */

static void mbx_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* flock() with the configured timeout instead of blocking forever */
static int mbx_flock_wait(int fd, int op)
{
	long long timeout = config_int("lock-timeout");
	long long waited = 0;

	if (timeout < 1)
		timeout = 1;
	for (;;) {
		if (flock(fd, op | LOCK_NB) == 0)
			return 0;
		if (errno != EWOULDBLOCK && errno != EINTR)
			return -1;
		if (waited >= timeout * 1000) {
			errno = EWOULDBLOCK;
			return -1;
		}
		mbx_sleep_ms(10);
		waited += 10;
	}
}

/*
 * UW's parse/append permission: an exclusive flock() on
 * <lock-directory>/.<dev>.<ino> (lockfd() in UW's env_unix.c), so UW and
 * we exclude each other. The file is mode 0666 in a sticky /tmp (FAQ 5.5,
 * 7.17); it is opened without following symlinks and must be a plain
 * file of the mailbox owner, us or root (lock_file_open()).
 */
int mbx_parse_lock(int fd, const char **error_r)
{
	struct stat st;
	char *path;
	int ld;

	if (fstat(fd, &st) < 0) {
		*error_r = "fstat of mailbox failed";
		return -1;
	}
	path = session_lock_path(&st);
	ld = lock_file_open(path, &st, error_r);
	free(path);
	if (ld < 0)
		return -1;
	if (mbx_flock_wait(ld, LOCK_EX) < 0) {
		close(ld);
		*error_r = "Unable to lock mailbox: timed out waiting for "
			   "another session";
		return -1;
	}
	return ld;
}

void mbx_parse_unlock(int *ld)
{
	if (*ld >= 0) {
		(void)flock(*ld, LOCK_UN);
		close(*ld);
	}
	*ld = -1;
}

/* ---- the header ---- */

int mbx_hdr_parse(const char *h, size_t len, struct mbx_hdr *r,
			 char *err, size_t errsize)
{
	size_t p = 25;

	memset(r, 0, sizeof(*r));
	if (len < MBX_HDRSIZE || memcmp(h, "*mbx*\r\n", 7) != 0 ||
	    !mbx_hex(h + 7, 8, &r->uidvalidity) ||
	    !mbx_hex(h + 15, 8, &r->lastuid) || h[23] != '\r' ||
	    h[24] != '\n') {
		mbx_errorf(err, errsize, "Unable to parse mbx header at 0");
		return -1;
	}
	/* keyword lines: UW stops at the first empty one */
	while (r->nslots < MBX_NSLOTS && p < MBX_HDRSIZE - 10) {
		const char *s = h + p;
		const char *e = memchr(s, '\r', MBX_HDRSIZE - 10 - p);
		if (e == NULL || e == s || (size_t)(e - h) + 1 >= MBX_HDRSIZE ||
		    e[1] != '\n')
			break;
		size_t n = (size_t)(e - s);
		/* too long for UW or containing a NUL: keep the slot (its
		 * bit positions must not shift) but under a name nobody
		 * can match */
		if (n > MBX_KW_MAX || memchr(s, '\0', n) != NULL)
			snprintf(r->slot[r->nslots], sizeof(r->slot[0]),
				 "\\unusable-%u", r->nslots);
		else {
			memcpy(r->slot[r->nslots], s, n);
			r->slot[r->nslots][n] = '\0';
		}
		r->nslots++;
		p += n + 2;
	}
	if (h[MBX_MARK_OFF - 1] == '\0' &&
	    memcmp(h + MBX_MARK_OFF, "CCAPPEND ", 9) == 0) {
		uint32_t hi, lo;
		if (mbx_hex(h + MBX_MARK_OFF + 9, 8, &hi) &&
		    mbx_hex(h + MBX_MARK_OFF + 17, 8, &lo)) {
			r->marker = true;
			r->marker_size = (uint64_t)hi << 32 | lo;
		}
	}
	return 0;
}

static int mbx_hdr_read(int fd, struct mbx_hdr *r, char *err, size_t errsize)
{
	char h[MBX_HDRSIZE];
	ssize_t n = pread_full(fd, h, sizeof(h), 0);

	if (n < 0) {
		mbx_errorf(err, errsize, "Unable to read mbx header: %s",
			   strerror(errno));
		return -1;
	}
	if (n < MBX_HDRSIZE) {
		mbx_errorf(err, errsize, "Unable to read mbx header: file is "
			   "only %zd bytes", n);
		return -1;
	}
	return mbx_hdr_parse(h, sizeof(h), r, err, errsize);
}

/* build a header; marker_size == UINT64_MAX: no append marker */
static void mbx_hdr_build(char out[MBX_HDRSIZE], uint32_t uidvalidity,
			  uint32_t lastuid, char slot[][MBX_KW_MAX + 1],
			  unsigned nslots, uint64_t marker_size, bool pid)
{
	size_t p;

	memset(out, 0, MBX_HDRSIZE);
	p = (size_t)snprintf(out, MBX_HDRSIZE, "*mbx*\r\n%08" PRIx32 "%08"
			     PRIx32 "\r\n", uidvalidity, lastuid);
	for (unsigned i = 0; i < MBX_NSLOTS; i++) {
		const char *kw = i < nslots ? slot[i] : "";
		size_t n = strlen(kw);
		if (p + n + 2 > MBX_KW_END)	/* checked by the callers */
			panic("mbx header overflow");
		memcpy(out + p, kw, n);
		out[p + n] = '\r';
		out[p + n + 1] = '\n';
		p += n + 2;
	}
	if (marker_size != UINT64_MAX) {
		char m[MBX_MARK_LEN + 1];
		snprintf(m, sizeof(m), "CCAPPEND %08" PRIx32 "%08" PRIx32 "\r\n",
			 (uint32_t)(marker_size >> 32), (uint32_t)marker_size);
		memcpy(out + MBX_MARK_OFF, m, MBX_MARK_LEN);
	}
	if (pid) {
		char t[11];
		snprintf(t, sizeof(t), "%08lx\r\n", (unsigned long)getpid());
		memcpy(out + MBX_PID_OFF, t, 10);
	}
}

/* bytes the keyword lines would take */
static size_t mbx_hdr_kwlen(char slot[][MBX_KW_MAX + 1], unsigned nslots)
{
	size_t p = 25;

	for (unsigned i = 0; i < MBX_NSLOTS; i++)
		p += (i < nslots ? strlen(slot[i]) : 0) + 2;
	return p;
}

/* add a keyword slot to h; false when it cannot be stored in mbx */
static bool mbx_hdr_add_slot(char slot[][MBX_KW_MAX + 1], unsigned *nslots,
			     const char *kw)
{
	size_t n = strlen(kw);

	if (*nslots >= MBX_NSLOTS || n == 0 || n > MBX_KW_MAX)
		return false;
	memcpy(slot[*nslots], kw, n + 1);
	if (mbx_hdr_kwlen(slot, *nslots + 1) > MBX_KW_END) {
		slot[*nslots][0] = '\0';
		return false;
	}
	(*nslots)++;
	return true;
}

static int mbx_hdr_write(int fd, const struct mbx_hdr *h, uint64_t marker,
			 const char **error_r)
{
	char out[MBX_HDRSIZE];
	char slots[MBX_NSLOTS][MBX_KW_MAX + 1];

	memcpy(slots, h->slot, sizeof(slots));
	mbx_hdr_build(out, h->uidvalidity, h->lastuid, slots, h->nslots,
		      marker, true);
	if (pwrite_full(fd, out, sizeof(out), 0) != (ssize_t)sizeof(out)) {
		*error_r = "Unable to write mbx header";
		log_error("mbx: header write failed: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* ---- records ---- */

/*
 * Parse the internal header at off. On corruption return -1 with the
 * FAQ 7.15 message (UW's exact wording) in err.
 */
static int mbx_rec_read(int fd, uint64_t off, uint64_t filesize,
			struct mbx_rec *r, char *err, size_t errsize)
{
	char line[MBX_LINE_MAX + 1], text[81];
	size_t want = MBX_LINE_MAX;
	ssize_t n;
	const char *crlf, *comma, *semi, *p;
	uint64_t size = 0;

	memset(r, 0, sizeof(*r));
	r->off = off;
	if (filesize - off < want)
		want = (size_t)(filesize - off);
	n = pread_full(fd, line, want, (off_t)off);
	if (n <= 0) {
		mbx_errorf(err, errsize, "Unable to read internal header at "
			   "%" PRIu64 ", size = %" PRIu64 ": %s", off,
			   filesize, n < 0 ? strerror(errno) : "no data read");
		return -1;
	}
	line[n] = '\0';
	mbx_safe_text(line, (size_t)n, text);
	crlf = NULL;
	for (p = line; p + 1 < line + n; p++)
		if (p[0] == '\r' && p[1] == '\n') {
			crlf = p;
			break;
		}
	if (crlf == NULL) {
		mbx_errorf(err, errsize, "Unable to find CRLF at %" PRIu64
			   " in %zd bytes, text: %s", off, n, text);
		return -1;
	}
	r->linelen = (uint32_t)(crlf - line) + 2;
	comma = memchr(line, ',', (size_t)(crlf - line));
	semi = comma == NULL ? NULL :
		memchr(comma + 1, ';', (size_t)(crlf - comma - 1));
	if (semi == NULL) {
		mbx_errorf(err, errsize, "Unable to parse internal header at "
			   "%" PRIu64 ": %s", off, text);
		return -1;
	}
	if (crlf - semi - 1 < 12 || !mbx_hex(semi + 1, 8, &r->uflags) ||
	    !mbx_hex(semi + 9, 4, &r->sflags)) {
		mbx_errorf(err, errsize, "Unable to parse message flags at "
			   "%" PRIu64 ": %s", off, text);
		return -1;
	}
	if (crlf - semi - 1 != 21 || semi[13] != '-' ||
	    !mbx_hex(semi + 14, 8, &r->uid)) {
		mbx_errorf(err, errsize, "Unable to parse message UID at "
			   "%" PRIu64 ": %s", off, text);
		return -1;
	}
	for (p = comma + 1; p < semi; p++) {
		if (*p < '0' || *p > '9' || size > (UINT64_MAX - 9) / 10) {
			p = NULL;
			break;
		}
		size = size * 10 + (uint64_t)(*p - '0');
	}
	if (p == NULL || comma + 1 == semi) {
		mbx_errorf(err, errsize, "Unable to parse message size at "
			   "%" PRIu64 ": %s", off, text);
		return -1;
	}
	r->size = size;
	if (size > filesize || off + r->linelen > filesize - size) {
		mbx_errorf(err, errsize, "Last message (at %" PRIu64 ") runs "
			   "past end of file (%" PRIu64 " > %" PRIu64 ")", off,
			   off + r->linelen + size, filesize);
		return -1;
	}
	/* UW only checks the date of live messages */
	if ((r->sflags & F_EXPUNGED) == 0) {
		char date[64];
		size_t dl = (size_t)(comma - line);
		if (dl >= sizeof(date) || memchr(line, '\0', dl) != NULL) {
			dl = 0;
			date[0] = '\0';
		} else {
			memcpy(date, line, dl);
			date[dl] = '\0';
		}
		if (dl == 0 || !date_parse_imap_datetime(date, &r->date,
							 &r->zone)) {
			mbx_errorf(err, errsize, "Unable to parse message date "
				   "at %" PRIu64 ": %s", off, text);
			return -1;
		}
	}
	return 0;
}

/* re-read just the flag/UID tail of a record: 1 ok, 0 moved/garbled */
static int mbx_tail_read(int fd, const struct mail_message *m,
			 uint32_t *uflags_r, uint32_t *sflags_r)
{
	char t[MBX_TAIL];
	uint32_t uid;

	if (m->d_len < MBX_TAIL ||
	    pread_full(fd, t, sizeof(t), (off_t)(m->d_off + m->d_len -
						  MBX_TAIL)) != MBX_TAIL)
		return 0;
	if (t[12] != '-' || t[21] != '\r' || t[22] != '\n' ||
	    !mbx_hex(t, 8, uflags_r) || !mbx_hex(t + 8, 4, sflags_r) ||
	    !mbx_hex(t + 13, 8, &uid) || uid != m->uid)
		return 0;
	return 1;
}

static int mbx_write_sflags(int fd, const struct mail_message *m,
			    uint32_t uflags, uint32_t sflags)
{
	char t[13];

	snprintf(t, sizeof(t), "%08" PRIx32 "%04" PRIx32, uflags,
		 sflags & 0xffffu);
	return pwrite_full(fd, t, 12, (off_t)(m->d_off + m->d_len -
					       MBX_TAIL)) == 12 ? 0 : -1;
}

/* ---- keywords: mbx slot <-> mailbox keyword index ---- */

static void mbx_map_slots(struct mbx_mailbox *mm, const struct mbx_hdr *h)
{
	/* the header's keywords exist whatever the session may create */
	mm->mb.keywords_permanent = true;
	for (unsigned i = 0; i < h->nslots; i++) {
		if (i < mm->nslots && strcmp(mm->slot[i], h->slot[i]) == 0)
			continue;
		memcpy(mm->slot[i], h->slot[i], sizeof(mm->slot[i]));
		mm->slot2idx[i] = mail_keyword_valid(h->slot[i]) ?
			mail_keyword_index(&mm->mb, h->slot[i], true) : -1;
	}
	for (unsigned i = h->nslots; i < MBX_NSLOTS; i++)
		mm->slot2idx[i] = -1;
	mm->nslots = h->nslots;
	mm->mb.keywords_permanent = !mm->mb.readonly &&
		mm->nslots < MBX_NSLOTS;
}

static uint64_t mbx_kw_from_file(const struct mbx_mailbox *mm, uint32_t uf)
{
	uint64_t kw = 0;

	for (unsigned i = 0; i < mm->nslots; i++)
		if ((uf & (1u << i)) != 0 && mm->slot2idx[i] >= 0)
			kw |= (uint64_t)1 << mm->slot2idx[i];
	return kw;
}

/* keyword bits -> file bits; keep file bits we cannot map (foreign) */
static uint32_t mbx_kw_to_file(const struct mbx_mailbox *mm, uint64_t kw,
			       uint32_t old_uf)
{
	uint32_t uf = 0;

	for (unsigned i = 0; i < MBX_NSLOTS; i++) {
		if (i < mm->nslots && mm->slot2idx[i] >= 0) {
			if ((kw & ((uint64_t)1 << mm->slot2idx[i])) != 0)
				uf |= 1u << i;
		} else
			uf |= old_uf & (1u << i);
	}
	return uf;
}

/* mailbox keywords used by dirty messages but not in the header yet */
static int mbx_store_new_keywords(struct mbx_mailbox *mm, const char **error_r)
{
	uint64_t used = 0, mapped = 0;
	struct mbx_hdr h;
	bool changed = false;

	for (uint32_t i = 0; i < mm->mb.count; i++)
		if ((mm->mb.msgs[i].state & MSTATE_DIRTY) != 0)
			used |= mm->mb.msgs[i].keywords;
	for (unsigned i = 0; i < mm->nslots; i++)
		if (mm->slot2idx[i] >= 0)
			mapped |= (uint64_t)1 << mm->slot2idx[i];
	if ((used & ~mapped) == 0)
		return 0;

	/* the header may have changed under us: re-read it under the lock */
	int ld = mbx_parse_lock(mm->fd, error_r);
	if (ld < 0)
		return -1;
	if (mbx_hdr_read(mm->fd, &h, mm->errbuf, sizeof(mm->errbuf)) < 0) {
		mbx_parse_unlock(&ld);
		*error_r = mm->errbuf;
		return -1;
	}
	mbx_map_slots(mm, &h);
	for (unsigned k = 0; k < mm->mb.nkeywords; k++) {
		bool have = false;
		if ((used & ((uint64_t)1 << k)) == 0)
			continue;
		for (unsigned i = 0; i < mm->nslots; i++)
			if (mm->slot2idx[i] == (int)k)
				have = true;
		if (have)
			continue;
		if (!mbx_hdr_add_slot(h.slot, &h.nslots, mm->mb.keywords[k])) {
			log_notice("mbx %s: no room for keyword %s; kept for "
				   "this session only", mm->mb.path,
				   mm->mb.keywords[k]);
			continue;
		}
		changed = true;
	}
	if (changed) {
		if (mbx_hdr_write(mm->fd, &h, UINT64_MAX, error_r) < 0) {
			mbx_parse_unlock(&ld);
			return -1;
		}
		(void)fdatasync(mm->fd);
		mbx_map_slots(mm, &h);
	}
	mbx_parse_unlock(&ld);
	return 0;
}

/* ---- parsing ---- */

/*
 * Undo a half-finished append or compaction left by a crash. Called with
 * the parse lock held.
 */
static int mbx_recover(int fd, const char *path, bool readonly,
		       char *err, size_t errsize);

/*
 * Parse records from mm->parsed_size to the end of the file into msgs[].
 * Called with the parse lock held (or read-only). initial: this is the
 * first parse (open), where UW's UID rebuild may happen.
 */
static int mbx_parse_new(struct mbx_mailbox *mm, struct mbx_hdr *h,
			 bool initial, const char **error_r)
{
	struct mailbox *mb = &mm->mb;
	struct stat st;
	uint64_t off = mm->parsed_size;
	uint32_t lastuid = mm->lastuid;
	bool hdr_dirty = false, rebuild = false;
	uint32_t first_new = mb->count;

	if (fstat(mm->fd, &st) < 0) {
		*error_r = "fstat of mailbox failed";
		return -1;
	}
	while (off < (uint64_t)st.st_size) {
		struct mbx_rec r;
		if (mbx_rec_read(mm->fd, off, (uint64_t)st.st_size, &r,
				 mm->errbuf, sizeof(mm->errbuf)) < 0) {
			log_error("mbx %s: %s", mb->path, mm->errbuf);
			/* keep what was parsed before; report the damage */
			while (mb->count > first_new) {
				mb->count--;
				xfree(&mb->msgs[mb->count].d_name);
			}
			*error_r = mm->errbuf;
			return -1;
		}
		if (r.uid != 0 && (r.uid <= lastuid || r.uid > h->lastuid)) {
			if (!initial) {
				mbx_errorf(mm->errbuf, sizeof(mm->errbuf),
					   "Invalid UID %08" PRIx32 " in message "
					   "at %" PRIu64 ": mailbox changed "
					   "under this session", r.uid, off);
				*error_r = mm->errbuf;
				return -1;
			}
			log_warning("mbx %s: Invalid UID %08" PRIx32 " in "
				    "message %u, rebuilding UIDs", mb->path,
				    r.uid, mb->count + 1);
			rebuild = true;
			break;
		}
		if ((r.sflags & F_EXPUNGED) != 0) {
			if (r.uid != 0)
				lastuid = r.uid;
			off += r.linelen + r.size;
			mm->holes = true;
			continue;
		}
		struct mail_message *m = mail_add_message(mb);
		m->d_off = r.off;
		m->d_len = r.linelen;
		m->size = r.size;
		m->internaldate = r.date;
		m->zone = r.zone;
		m->flags = mbx_flags_from_file(r.sflags);
		m->keywords = mbx_kw_from_file(mm, r.uflags);
		m->d_aux = r.uflags;	/* file keyword bits as last read */
		if ((r.sflags & F_OLD) == 0) {
			/* first session to see it: \Recent, and claim it */
			m->flags |= MAIL_RECENT;
			mb->recent++;
			if (!mb->readonly)
				(void)mbx_write_sflags(mm->fd, m, r.uflags,
						       r.sflags | F_OLD);
		}
		if (r.uid == 0) {
			/* appended by old software without a UID */
			r.uid = ++h->lastuid;
			hdr_dirty = true;
			if (!mb->readonly) {
				char u[9];
				snprintf(u, sizeof(u), "%08" PRIx32, r.uid);
				(void)pwrite_full(mm->fd, u, 8, (off_t)(r.off +
						  r.linelen - 10));
			}
		}
		m->uid = r.uid;
		lastuid = r.uid;
		off += r.linelen + r.size;
	}
	if (rebuild) {
		/* UW's rule (FAQ 7.14): new UIDVALIDITY, renumber all */
		uint32_t uid = 0;
		h->uidvalidity = mail_new_uidvalidity(h->uidvalidity);
		off = MBX_HDRSIZE;
		/* only at open: nobody has seen these messages yet */
		while (mb->count > 0)
			xfree(&mb->msgs[--mb->count].d_name);
		mb->recent = 0;
		while (off < (uint64_t)st.st_size) {
			struct mbx_rec r;
			if (mbx_rec_read(mm->fd, off, (uint64_t)st.st_size, &r,
					 mm->errbuf, sizeof(mm->errbuf)) < 0) {
				*error_r = mm->errbuf;
				return -1;
			}
			if ((r.sflags & F_EXPUNGED) == 0) {
				struct mail_message *m = mail_add_message(mb);
				m->d_off = r.off;
				m->d_len = r.linelen;
				m->size = r.size;
				m->internaldate = r.date;
				m->zone = r.zone;
				m->flags = mbx_flags_from_file(r.sflags);
				m->keywords = mbx_kw_from_file(mm, r.uflags);
				m->d_aux = r.uflags;
				m->uid = ++uid;
				if ((r.sflags & F_OLD) == 0) {
					m->flags |= MAIL_RECENT;
					mb->recent++;
				}
				if (!mb->readonly) {
					char u[9];
					snprintf(u, sizeof(u), "%08" PRIx32, uid);
					(void)pwrite_full(mm->fd, u, 8,
						(off_t)(r.off + r.linelen - 10));
					(void)mbx_write_sflags(mm->fd, m,
						r.uflags, r.sflags | F_OLD);
				}
			}
			off += r.linelen + r.size;
		}
		h->lastuid = uid;
		lastuid = uid;
		hdr_dirty = true;
	}
	if (hdr_dirty && !mb->readonly) {
		if (mbx_hdr_write(mm->fd, h, UINT64_MAX, error_r) < 0)
			return -1;
		(void)fsync(mm->fd);
	}
	mm->lastuid = lastuid > mm->lastuid ? lastuid : mm->lastuid;
	mm->parsed_size = off;
	mb->uidvalidity = h->uidvalidity;
	mb->uidnext = (h->lastuid > mm->lastuid ? h->lastuid : mm->lastuid) + 1;
	return 0;
}

/* ---- driver functions ---- */

static bool mbx_probe(const char *path, const struct stat *st)
{
	char h[25];
	int fd;
	bool ok;

	if (!S_ISREG(st->st_mode) || st->st_size < MBX_HDRSIZE)
		return false;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return false;
	ok = pread_full(fd, h, sizeof(h), 0) == (ssize_t)sizeof(h) &&
		memcmp(h, "*mbx*\r\n", 7) == 0;
	close(fd);
	return ok;
}

static int mbx_create(const char *path, const char **error_r)
{
	char h[MBX_HDRSIZE];
	mode_t mode = (mode_t)config_int("new-mailbox-mode") & 07777;
	int fd;

	(void)mkdir_parents(path, 0700);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
		  mode != 0 ? mode : 0600);
	if (fd < 0) {
		*error_r = errno == EEXIST ? mail_error(MAIL_ERROR_EXISTS,
				"Mailbox already exists") :
			mail_error_fmt(mail_error_from_errno(errno),
				   "Can't create mailbox: %s", strerror(errno));
		return -1;
	}
	/* as UW's mbx_create: no PID until a session writes the header */
	mbx_hdr_build(h, mail_new_uidvalidity(0), 0, NULL, 0, UINT64_MAX,
		      false);
	if (write_full(fd, h, sizeof(h)) != (ssize_t)sizeof(h) ||
	    fsync(fd) < 0) {
		*error_r = mail_error_fmt(mail_error_from_errno(errno),
					  "Can't initialize mailbox: %s",
					  strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	close(fd);
	return 0;
}

/* exclusive use of a closed mailbox for delete/rename, as UW */
static int mbx_lock_exclusive(const char *path, int *fd_r, int *ld_r,
			      const char **error_r)
{
	int fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0) {
		*error_r = errno == ENOENT ? mail_error(MAIL_ERROR_NOTFOUND,
				"Mailbox does not exist") :
			mail_error_fmt(mail_error_from_errno(errno),
				   "Can't open mailbox: %s", strerror(errno));
		return -1;
	}
	if ((*ld_r = mbx_parse_lock(fd, error_r)) < 0) {
		close(fd);
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		mbx_parse_unlock(ld_r);
		close(fd);
		*error_r = mail_error(MAIL_ERROR_INUSE,
				      "Mailbox is in use by another process");
		return -1;
	}
	*fd_r = fd;
	return 0;
}

static int mbx_remove(const char *path, const char **error_r)
{
	int fd, ld;

	if (mbx_lock_exclusive(path, &fd, &ld, error_r) < 0)
		return -1;
	int ret = unlink(path);
	if (ret < 0)
		*error_r = mail_error_fmt(mail_error_from_errno(errno),
				      "Can't delete mailbox: %s",
				      strerror(errno));
	mbx_parse_unlock(&ld);
	close(fd);
	return ret < 0 ? -1 : 0;
}

static int mbx_rename(const char *from, const char *to, const char **error_r)
{
	int fd, ld, ret;

	if (mbx_lock_exclusive(from, &fd, &ld, error_r) < 0)
		return -1;
	(void)mkdir_parents(to, 0700);
	/* link + unlink: never replace an existing mailbox */
	ret = link(from, to);
	if (ret == 0 && unlink(from) < 0) {
		(void)unlink(to);
		ret = -1;
	}
	if (ret < 0)
		*error_r = errno == EEXIST ? mail_error(MAIL_ERROR_EXISTS,
				"Mailbox already exists") :
			mail_error_fmt(mail_error_from_errno(errno),
				   "Can't rename mailbox: %s", strerror(errno));
	mbx_parse_unlock(&ld);
	close(fd);
	return ret < 0 ? -1 : 0;
}

static void mbx_free(struct mbx_mailbox *mm)
{
	struct mailbox *mb = &mm->mb;

	if (mm->fd >= 0) {
		(void)flock(mm->fd, LOCK_UN);
		close(mm->fd);
		mm->fd = -1;
	}
	mail_mailbox_free(&mb);
}

static int mbx_flush(struct mailbox *mb, const char **error_r);
static int mbx_sync(struct mailbox *mb, const char **error_r);
static int mbx_compact(struct mbx_mailbox *mm, const char **error_r);

static struct mailbox *mbx_open(const char *path, unsigned mode,
				const char **error_r)
{
	struct mbx_mailbox *mm;
	struct mbx_hdr h;
	bool ro = (mode & MAIL_OPEN_READONLY) != 0;
	int fd = -1, ld;
	struct stat st;

	if (!ro)
		fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		if (!ro && errno != EACCES && errno != EROFS && errno != EPERM)
			goto open_failed;
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			goto open_failed;
		if (!ro)
			log_notice("mbx %s: no write access, read-only", path);
		ro = true;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		*error_r = "Not an mbx mailbox (not a regular file)";
		return NULL;
	}

	mm = xcalloc(1, sizeof(*mm));
	mail_mailbox_init(&mm->mb, &mbx_driver, path, mode);
	mm->fd = fd;
	mm->mb.readonly = ro;
	for (unsigned i = 0; i < MBX_NSLOTS; i++)
		mm->slot2idx[i] = -1;

	/* parse/append permission while we parse; shared lock for as long
	 * as the session lasts (tells others not to compact) */
	if ((ld = mbx_parse_lock(fd, error_r)) < 0) {
		mbx_free(mm);
		return NULL;
	}
	if (mbx_flock_wait(fd, LOCK_SH) < 0) {
		mbx_parse_unlock(&ld);
		mbx_free(mm);
		*error_r = "Unable to lock mailbox: it is being compacted";
		return NULL;
	}
	if (mbx_recover(fd, path, ro, mm->errbuf, sizeof(mm->errbuf)) < 0 ||
	    mbx_hdr_read(fd, &h, mm->errbuf, sizeof(mm->errbuf)) < 0) {
		log_error("mbx %s: %s", path, mm->errbuf);
		mbx_parse_unlock(&ld);
		*error_r = mail_error_fmt(MAIL_ERROR_CORRUPT, "%s", mm->errbuf);
		mbx_free(mm);
		return NULL;
	}
	mbx_map_slots(mm, &h);
	mm->parsed_size = MBX_HDRSIZE;
	if (mbx_parse_new(mm, &h, true, error_r) < 0) {
		mbx_parse_unlock(&ld);
		*error_r = mail_error_fmt(MAIL_ERROR_CORRUPT,
					  "%s (mailbox needs repair: "
					  "mailutil repair)", *error_r);
		mbx_free(mm);
		return NULL;
	}
	if (!ro)
		(void)fdatasync(fd);	/* the \Recent claims */
	mbx_parse_unlock(&ld);
	if (fstat(fd, &st) == 0) {
		mm->flag_mtime = st.st_mtim;
		mm->flag_mtime_ok = time(NULL) > st.st_mtim.tv_sec + 1;
	}
	return &mm->mb;

open_failed:
	*error_r = errno == ENOENT ? mail_error(MAIL_ERROR_NOTFOUND,
			"Mailbox does not exist") :
		mail_error_fmt(mail_error_from_errno(errno),
				"Can't open mailbox: %s",
			   strerror(errno));
	return NULL;
}

static void mbx_close(struct mailbox **mbp)
{
	struct mbx_mailbox *mm = (struct mbx_mailbox *)*mbp;
	const char *error;

	if (mm == NULL)
		return;
	if (!mm->mb.readonly && mbx_flush(&mm->mb, &error) < 0)
		log_error("mbx %s: flags not saved at close: %s", mm->mb.path,
			  error);
	else if (!mm->mb.readonly && mm->holes) {
		/* as UW at close: reclaim hidden expunged space when we
		 * are the last session (exclusive lock) */
		int ld = mbx_parse_lock(mm->fd, &error);
		if (ld >= 0) {
			if (flock(mm->fd, LOCK_EX | LOCK_NB) == 0) {
				for (uint32_t i = 0; i < mm->mb.count; i++)
					mm->mb.msgs[i].state &= ~MSTATE_EXPUNGE_ME;
				if (mbx_compact(mm, &error) < 0)
					log_error("mbx %s: %s", mm->mb.path, error);
			}
			mbx_parse_unlock(&ld);
		}
	}
	mbx_free(mm);
	*mbp = NULL;
}

/*
 * Re-read everything by UID: used when the file changed in a way
 * sessions normally never see (compaction by a tool that did not honour
 * the shared lock, a repair). Messages that are gone become
 * MSTATE_EXPUNGED; new ones are appended.
 */
static int mbx_resync_full(struct mbx_mailbox *mm, const char **error_r)
{
	struct mailbox *mb = &mm->mb;
	struct mbx_hdr h;
	struct stat st;
	uint64_t off = MBX_HDRSIZE;
	uint32_t i = 0;
	int ld;

	if ((ld = mbx_parse_lock(mm->fd, error_r)) < 0)
		return -1;
	if (mbx_hdr_read(mm->fd, &h, mm->errbuf, sizeof(mm->errbuf)) < 0 ||
	    fstat(mm->fd, &st) < 0) {
		mbx_parse_unlock(&ld);
		*error_r = mm->errbuf;
		return -1;
	}
	if (h.uidvalidity != mb->uidvalidity) {
		mbx_parse_unlock(&ld);
		if (mb->ev.lost != NULL)
			mb->ev.lost(mb->ev.ctx, mb, "UIDVALIDITY changed");
		*error_r = "Mailbox UIDVALIDITY changed; reopen it";
		return -1;
	}
	mbx_map_slots(mm, &h);
	while (off < (uint64_t)st.st_size) {
		struct mbx_rec r;
		if (mbx_rec_read(mm->fd, off, (uint64_t)st.st_size, &r,
				 mm->errbuf, sizeof(mm->errbuf)) < 0) {
			mbx_parse_unlock(&ld);
			log_error("mbx %s: %s", mb->path, mm->errbuf);
			*error_r = mm->errbuf;
			return -1;
		}
		if ((r.sflags & F_EXPUNGED) != 0) {
			off += r.linelen + r.size;
			continue;
		}
		if (r.uid > mm->lastuid || r.uid == 0)
			break;		/* new messages: mbx_parse_new */
		off += r.linelen + r.size;
		while (i < mb->count && mb->msgs[i].uid < r.uid) {
			mb->msgs[i].state |= MSTATE_EXPUNGED;
			i++;
		}
		if (i < mb->count && mb->msgs[i].uid == r.uid) {
			struct mail_message *m = &mb->msgs[i++];
			m->d_off = r.off;
			m->d_len = r.linelen;
			uint32_t fl = mbx_flags_from_file(r.sflags);
			uint64_t kw = mbx_kw_from_file(mm, r.uflags);
			if (mail_merge_file_flags(m, fl, kw))
				m->state |= MSTATE_FLAGS_CHANGED;
			m->d_aux = r.uflags;
		}
	}
	for (; i < mb->count; i++)
		mb->msgs[i].state |= MSTATE_EXPUNGED;
	mm->parsed_size = off;
	mm->need_full = false;
	int ret = mbx_parse_new(mm, &h, false, error_r);
	mbx_parse_unlock(&ld);
	return ret;
}

static int mbx_sync(struct mailbox *mb, const char **error_r)
{
	struct mbx_mailbox *mm = (struct mbx_mailbox *)mb;
	struct mbx_hdr h;
	struct stat st;
	bool need_full = false;

	if (!mb->readonly && mbx_flush(mb, error_r) < 0)
		return -1;
	if (fstat(mm->fd, &st) < 0) {
		*error_r = "fstat of mailbox failed";
		return -1;
	}
	if (st.st_nlink == 0) {
		if (mb->ev.lost != NULL)
			mb->ev.lost(mb->ev.ctx, mb, "Mailbox was deleted");
		*error_r = "Mailbox was deleted";
		return -1;
	}
	if (mbx_hdr_read(mm->fd, &h, mm->errbuf, sizeof(mm->errbuf)) < 0) {
		*error_r = mm->errbuf;
		return -1;
	}
	if (h.uidvalidity != mb->uidvalidity || mm->need_full ||
	    (uint64_t)st.st_size < mm->parsed_size)
		need_full = true;
	mbx_map_slots(mm, &h);

	/* flags changed by others: the mtime moves with every flag write */
	if (!need_full && (!mm->flag_mtime_ok ||
	    st.st_mtim.tv_sec != mm->flag_mtime.tv_sec ||
	    st.st_mtim.tv_nsec != mm->flag_mtime.tv_nsec)) {
		for (uint32_t i = 0; i < mb->count; i++) {
			struct mail_message *m = &mb->msgs[i];
			uint32_t uf, sf;
			if ((m->state & MSTATE_EXPUNGED) != 0)
				continue;
			if (!mbx_tail_read(mm->fd, m, &uf, &sf)) {
				need_full = true;
				break;
			}
			if ((sf & F_EXPUNGED) != 0) {
				m->state |= MSTATE_EXPUNGED;
				mm->holes = true;
				continue;
			}
			uint32_t fl = mbx_flags_from_file(sf);
			uint64_t kw = mbx_kw_from_file(mm, uf);
			m->d_aux = uf;
			if (mail_merge_file_flags(m, fl, kw))
				m->state |= MSTATE_FLAGS_CHANGED;
		}
		mm->flag_mtime = st.st_mtim;
		/* a write within the same clock tick would not move mtime:
		 * trust it only once it is in the past */
		mm->flag_mtime_ok = time(NULL) > st.st_mtim.tv_sec + 1;
	}
	if (!need_full && mb->count > 0) {
		/* the last message must still be where we left it */
		const struct mail_message *m = &mb->msgs[mb->count - 1];
		uint32_t uf, sf;
		if ((m->state & MSTATE_EXPUNGED) == 0 &&
		    !mbx_tail_read(mm->fd, m, &uf, &sf))
			need_full = true;
	}
	if (need_full)
		return mbx_resync_full(mm, error_r);
	if ((uint64_t)st.st_size > mm->parsed_size) {
		int ld = mbx_parse_lock(mm->fd, error_r);
		if (ld < 0)
			return -1;
		if (mbx_hdr_read(mm->fd, &h, mm->errbuf,
				 sizeof(mm->errbuf)) < 0) {
			mbx_parse_unlock(&ld);
			*error_r = mm->errbuf;
			return -1;
		}
		mbx_map_slots(mm, &h);
		int ret = mbx_parse_new(mm, &h, false, error_r);
		if (!mb->readonly)
			(void)fdatasync(mm->fd);
		mbx_parse_unlock(&ld);
		if (ret < 0)
			return -1;
	}
	return 0;
}

/* length of the header (through the blank line), scanning the text */
static int mbx_header_size(struct mbx_mailbox *mm, struct mail_message *m,
			   const char **error_r)
{
	char chunk[8192 + 3];
	uint64_t done = 0, text = m->d_off + m->d_len;
	size_t carry = 0;

	if (m->hdr_size != 0 || m->size == 0)
		return 0;
	while (done < m->size) {
		size_t want = sizeof(chunk) - 3;
		if (m->size - done < want)
			want = (size_t)(m->size - done);
		ssize_t n = pread_full(mm->fd, chunk + carry, want,
				       (off_t)(text + done));
		if (n <= 0) {
			*error_r = "Unable to read message";
			return -1;
		}
		size_t len = carry + (size_t)n;
		for (size_t i = 0; i + 3 < len; i++)
			if (chunk[i] == '\r' && chunk[i + 1] == '\n' &&
			    chunk[i + 2] == '\r' && chunk[i + 3] == '\n') {
				m->hdr_size = done - carry + i + 4;
				return 0;
			}
		done += (uint64_t)n;
		carry = len < 3 ? len : 3;
		memmove(chunk, chunk + len - carry, carry);
	}
	m->hdr_size = m->size;	/* no blank line: all header (as UW) */
	return 0;
}

static int mbx_fetch(struct mailbox *mb, uint32_t idx, enum mail_part part,
		     struct buf *out, const char **error_r)
{
	struct mbx_mailbox *mm = (struct mbx_mailbox *)mb;
	struct mail_message *m;
	uint32_t uf, sf;
	uint64_t from, len;

	if (idx >= mb->count) {
		*error_r = "No such message";
		return -1;
	}
	m = &mb->msgs[idx];
	/* never serve bytes of another message if the file moved under us */
	if (!mbx_tail_read(mm->fd, m, &uf, &sf)) {
		*error_r = "Message is no longer in the mailbox";
		return -1;
	}
	if (mbx_header_size(mm, m, error_r) < 0)
		return -1;
	from = m->d_off + m->d_len;
	len = m->size;
	if (part == MAIL_PART_HEADER)
		len = m->hdr_size;
	else if (part == MAIL_PART_TEXT) {
		from += m->hdr_size;
		len -= m->hdr_size;
	}
	if (len > SIZE_MAX - 1) {
		*error_r = mail_error(MAIL_ERROR_LIMIT,
				"Message too large");
		return -1;
	}
	char *p = buf_reserve(out, (size_t)len);
	if (p == NULL) {
		*error_r = mail_error(MAIL_ERROR_LIMIT,
				"Message too large");
		return -1;
	}
	if (pread_full(mm->fd, p, (size_t)len, (off_t)from) != (ssize_t)len) {
		*error_r = "Unable to read message";
		return -1;
	}
	buf_commit(out, (size_t)len);
	return 0;
}

static int mbx_flush(struct mailbox *mb, const char **error_r)
{
	struct mbx_mailbox *mm = (struct mbx_mailbox *)mb;
	bool wrote = false;
	struct mbx_hdr h;
	uint32_t i;
	int ld;

	if (mb->readonly) {
		for (i = 0; i < mb->count; i++)
			mb->msgs[i].state &= ~MSTATE_DIRTY;
		return 0;
	}
	if (mbx_store_new_keywords(mm, error_r) < 0)
		return -1;
	for (i = 0; i < mb->count; i++)
		if ((mb->msgs[i].state & MSTATE_DIRTY) != 0)
			break;
	if (i == mb->count)
		return 0;
	/* Read, merge and write each flag word under the parse lock, so
	 * that two sessions' changes to one message cannot both start
	 * from the same old word: the second applies its change to what
	 * the first wrote (imaptest store). */
	if ((ld = mbx_parse_lock(mm->fd, error_r)) < 0)
		return -1;
	/* keywords other sessions added since our last look: known, they
	 * merge like the rest (STORE FLAGS clears them) */
	if (mbx_hdr_read(mm->fd, &h, mm->errbuf, sizeof(mm->errbuf)) == 0)
		mbx_map_slots(mm, &h);
	for (; i < mb->count; i++) {
		struct mail_message *m = &mb->msgs[i];
		uint32_t uf, sf;
		if ((m->state & MSTATE_DIRTY) == 0)
			continue;
		if ((m->state & MSTATE_EXPUNGED) != 0) {
			m->state &= ~MSTATE_DIRTY;
			continue;
		}
		if (!mbx_tail_read(mm->fd, m, &uf, &sf)) {
			m->state &= ~MSTATE_DIRTY;
			mbx_parse_unlock(&ld);
			*error_r = "Message moved in the mailbox; flags not "
				   "saved";
			return -1;
		}
		if ((sf & F_EXPUNGED) != 0) {
			m->state &= ~MSTATE_DIRTY;
			m->state |= MSTATE_EXPUNGED;
			continue;
		}
		if (mail_merge_file_flags(m, mbx_flags_from_file(sf),
					  mbx_kw_from_file(mm, uf)))
			m->state |= MSTATE_FLAGS_CHANGED;
		m->state &= ~MSTATE_DIRTY;
		uf = mbx_kw_to_file(mm, m->keywords, uf);
		sf = (sf & (F_EXPUNGED | F_OLD)) | F_OLD |
			mbx_flags_to_file(m->flags);
		if (mbx_write_sflags(mm->fd, m, uf, sf) < 0) {
			mbx_parse_unlock(&ld);
			*error_r = mbx_errorf(mm->errbuf, sizeof(mm->errbuf),
					      "Unable to write flags: %s",
					      strerror(errno));
			return -1;
		}
		m->d_aux = uf;
		wrote = true;
	}
	mbx_parse_unlock(&ld);
	if (wrote && fdatasync(mm->fd) < 0) {
		*error_r = mbx_errorf(mm->errbuf, sizeof(mm->errbuf),
				      "Unable to write flags: %s",
				      strerror(errno));
		return -1;
	}
	return 0;
}

/* ---- recovery and compaction (through journal.h) ---- */

/*
 * Finish or undo a change a crash interrupted: a journaled compaction
 * step (journal.h) or an append (our marker in the header padding).
 * Called with the parse lock held, before parsing.
 */
static int mbx_recover(int fd, const char *path, bool readonly,
		       char *err, size_t errsize)
{
	struct mbx_hdr h;
	struct stat st;
	const char *error;
	bool recovered;

	if (journal_exists(path, fd)) {
		if (readonly) {
			mbx_errorf(err, errsize, "Mailbox is in the middle of "
				   "an interrupted change; open it read-write "
				   "once to finish it");
			return -1;
		}
		if (journal_recover(path, fd, &recovered, &error) < 0) {
			mbx_errorf(err, errsize, "Unable to recover mailbox: "
				   "%s", error);
			return -1;
		}
		if (recovered)
			log_notice("mbx %s: finished an interrupted change",
				   path);
	}

	/* an append that died half-way: the records after the marked size
	 * are kept only when they parse cleanly to the end of the file */
	if (mbx_hdr_read(fd, &h, err, errsize) < 0)
		return -1;
	if (!h.marker)
		return 0;
	if (fstat(fd, &st) < 0) {
		mbx_errorf(err, errsize, "fstat failed: %s", strerror(errno));
		return -1;
	}
	uint64_t off = h.marker_size;
	bool clean = off >= MBX_HDRSIZE && off <= (uint64_t)st.st_size;
	while (clean && off < (uint64_t)st.st_size) {
		struct mbx_rec r;
		char e[256];
		if (mbx_rec_read(fd, off, (uint64_t)st.st_size, &r, e,
				 sizeof(e)) < 0)
			clean = false;
		else
			off += r.linelen + r.size;
	}
	if (readonly) {
		if (clean)
			return 0;
		mbx_errorf(err, errsize, "Mailbox has an unfinished append at "
			   "%" PRIu64 "; open it read-write once to undo it",
			   h.marker_size);
		return -1;
	}
	if (!clean && h.marker_size >= MBX_HDRSIZE &&
	    h.marker_size <= (uint64_t)st.st_size) {
		log_notice("mbx %s: undoing interrupted append (truncating "
			   "%" PRIu64 " to %" PRIu64 ")", path,
			   (uint64_t)st.st_size, h.marker_size);
		if (ftruncate(fd, (off_t)h.marker_size) < 0) {
			mbx_errorf(err, errsize, "Unable to undo interrupted "
				   "append: %s", strerror(errno));
			return -1;
		}
	}
	if (mbx_hdr_write(fd, &h, UINT64_MAX, &error) < 0 || fsync(fd) < 0) {
		mbx_errorf(err, errsize, "Unable to clear append marker");
		return -1;
	}
	return 0;
}

/* bytes of message data moved per journaled step */
#define MBX_COMPACT_CHUNK (1u << 20)

struct mbx_span {
	uint64_t off, len;
	uint32_t uid;
	bool keep;
};

/*
 * An fEXPUNGED record that spans exactly gap bytes (its body is whatever
 * stale bytes are there), so the file stays a valid mbx file between
 * compaction steps, for UW too. The size field is zero-padded so every
 * gap of at least 52 bytes (the smallest record) has one.
 */
static size_t mbx_filler(char *out, size_t outsize, uint64_t gap)
{
	for (unsigned d = 1; d <= 19; d++) {
		uint64_t hl = 51 + d, lim = 1;
		for (unsigned i = 0; i < d; i++)
			lim *= 10;
		if (gap < hl || gap - hl >= lim)
			continue;
		int n = snprintf(out, outsize, " 1-Jan-1970 00:00:00 +0000,%0*"
				 PRIu64 ";000000008000-00000000\r\n", (int)d,
				 gap - hl);
		if (n > 0 && (uint64_t)n == hl)
			return (size_t)n;
	}
	panic("mbx: no filler for a gap of %" PRIu64 " bytes", gap);
}

/*
 * Reclaim the space of fEXPUNGED records and of messages marked
 * MSTATE_EXPUNGE_ME. Requires the parse lock and an exclusive flock on
 * the mailbox (no other session has it open). Each step is one
 * journal_apply(): kept records move down, and the gap left behind them
 * becomes one filler record, until the last step cuts the file.
 */
static int mbx_compact(struct mbx_mailbox *mm, const char **error_r)
{
	struct mailbox *mb = &mm->mb;
	struct stat st;
	struct mbx_span *sp = NULL;
	unsigned nsp = 0, alloc = 0, first = 0;
	uint64_t off = MBX_HDRSIZE, cur_len, dst, removed_parsed = 0;
	uint32_t mi = 0;
	int ret = -1;

	if (fstat(mm->fd, &st) < 0) {
		*error_r = "fstat of mailbox failed";
		return -1;
	}
	cur_len = (uint64_t)st.st_size;
	while (off < cur_len) {
		struct mbx_rec r;
		if (mbx_rec_read(mm->fd, off, cur_len, &r, mm->errbuf,
				 sizeof(mm->errbuf)) < 0) {
			*error_r = mm->errbuf;
			goto out;
		}
		bool keep = (r.sflags & F_EXPUNGED) == 0;
		if (keep) {
			while (mi < mb->count && mb->msgs[mi].uid < r.uid)
				mi++;
			if (mi < mb->count && mb->msgs[mi].uid == r.uid &&
			    (mb->msgs[mi].state & MSTATE_EXPUNGE_ME) != 0)
				keep = false;
		}
		if (nsp == alloc) {
			alloc = alloc ? alloc * 2 : 64;
			sp = xreallocarray(sp, alloc, sizeof(*sp));
		}
		sp[nsp].off = off;
		sp[nsp].len = r.linelen + r.size;
		sp[nsp].uid = r.uid;
		sp[nsp].keep = keep;
		if (!keep && off + sp[nsp].len <= mm->parsed_size)
			removed_parsed += sp[nsp].len;
		off += sp[nsp++].len;
	}
	while (first < nsp && sp[first].keep)
		first++;
	if (first == nsp) {
		ret = 0;	/* nothing to reclaim */
		goto out;
	}

	dst = sp[first].off;
	unsigned i = first;
	uint32_t mpos = 0;	/* msgs[] cursor: both are in UID order */
	while (i < nsp) {
		struct journal_region *rg = NULL;
		unsigned nrg = 0, rgalloc = 0, step_first = i;
		char filler[96];
		uint64_t mem = 0, new_len, step_dst = dst;

		/* one step: kept records up to the chunk size */
		for (; i < nsp && (mem == 0 || mem < MBX_COMPACT_CHUNK); i++) {
			if (!sp[i].keep)
				continue;
			if (sp[i].len > SIZE_MAX - 1) {
				*error_r = mail_error(MAIL_ERROR_LIMIT,
						"Message too large");
				goto step_fail;
			}
			char *d = xmalloc((size_t)sp[i].len + 1);
			if (nrg + 2 > rgalloc) {
				rgalloc = rgalloc ? rgalloc * 2 : 16;
				rg = xreallocarray(rg, rgalloc, sizeof(*rg));
			}
			rg[nrg].offset = dst;
			rg[nrg].data = d;
			rg[nrg++].len = (size_t)sp[i].len;
			if (pread_full(mm->fd, d, (size_t)sp[i].len,
				       (off_t)sp[i].off) != (ssize_t)sp[i].len) {
				*error_r = "Unable to read mailbox for "
					   "compaction";
				goto step_fail;
			}
			dst += sp[i].len;
			mem += sp[i].len;
		}
		unsigned nmoved = nrg;
		bool more = false;
		for (unsigned k = i; k < nsp && !more; k++)
			more = sp[k].keep;
		if (more) {
			/* record i has not moved: the gap ends there */
			size_t fl = mbx_filler(filler, sizeof(filler),
					       sp[i].off - dst);
			rg[nrg].offset = dst;
			rg[nrg].data = filler;
			rg[nrg++].len = fl;
			new_len = cur_len;
		} else
			new_len = dst;
		journal_crash_point();
		if (journal_apply(mb->path, mm->fd, cur_len, rg, nrg, new_len,
				  error_r) < 0)
			goto step_fail;
		for (unsigned k = 0; k < nmoved; k++)
			free((void *)rg[k].data);
		free(rg);
		rg = NULL;
		/* the moved records' new offsets */
		for (unsigned k = step_first; k < i; k++) {
			if (!sp[k].keep)
				continue;
			while (mpos < mb->count && mb->msgs[mpos].uid < sp[k].uid)
				mpos++;
			if (mpos < mb->count && mb->msgs[mpos].uid == sp[k].uid)
				mb->msgs[mpos].d_off = step_dst;
			sp[k].off = step_dst;
			step_dst += sp[k].len;
		}
		cur_len = new_len;
		if (!more)
			break;
		continue;
step_fail:
		for (unsigned k = 0; k < nrg; k++)
			if (rg[k].data != filler)
				free((void *)rg[k].data);
		free(rg);
		ret = 1;	/* the file is valid: fall back to marking */
		mm->need_full = true;
		log_notice("mbx %s: compaction stopped: %s", mb->path,
			   *error_r);
		goto out;
	}
	mm->parsed_size -= removed_parsed;
	ret = 0;
out:
	free(sp);
	return ret;
}

static int mbx_expunge(struct mailbox *mb, const char **error_r)
{
	struct mbx_mailbox *mm = (struct mbx_mailbox *)mb;
	int ld, r = 1;
	bool exclusive = false;

	if (mb->readonly) {
		*error_r = "Expunge ignored on readonly mailbox";
		return -1;
	}
	if (mbx_flush(mb, error_r) < 0)
		return -1;
	if ((ld = mbx_parse_lock(mm->fd, error_r)) < 0)
		return -1;
	/* exclusive only when no other session holds its shared lock; the
	 * parse lock keeps anyone from slipping in while we convert */
	if (flock(mm->fd, LOCK_EX | LOCK_NB) == 0) {
		exclusive = true;
		r = mbx_compact(mm, error_r);
		if (r < 0) {
			(void)mbx_flock_wait(mm->fd, LOCK_SH);
			mbx_parse_unlock(&ld);
			return -1;
		}
	} else
		(void)mbx_flock_wait(mm->fd, LOCK_SH);

	if (r > 0) {
		/* shared: hide the messages (fEXPUNGED); space is
		 * reclaimed later by whoever has the file alone */
		for (uint32_t i = 0; i < mb->count; i++) {
			struct mail_message *m = &mb->msgs[i];
			uint32_t uf, sf;
			if ((m->state & MSTATE_EXPUNGE_ME) == 0 ||
			    (m->state & MSTATE_EXPUNGED) != 0)
				continue;
			if (!mbx_tail_read(mm->fd, m, &uf, &sf)) {
				if (exclusive)
					(void)mbx_flock_wait(mm->fd, LOCK_SH);
				mbx_parse_unlock(&ld);
				*error_r = "Message moved in the mailbox; "
					   "expunge not done";
				return -1;
			}
			if (mbx_write_sflags(mm->fd, m, uf, sf | F_EXPUNGED) < 0) {
				if (exclusive)
					(void)mbx_flock_wait(mm->fd, LOCK_SH);
				mbx_parse_unlock(&ld);
				*error_r = "Unable to write expunge mark";
				return -1;
			}
		}
		(void)fdatasync(mm->fd);
	}
	if (exclusive)
		(void)mbx_flock_wait(mm->fd, LOCK_SH);
	mbx_parse_unlock(&ld);

	for (uint32_t i = mb->count; i > 0; i--) {
		struct mail_message *m = &mb->msgs[i - 1];
		if ((m->state & MSTATE_EXPUNGE_ME) != 0 &&
		    (m->state & MSTATE_EXPUNGED) == 0)
			mail_remove_message(mb, i - 1);
	}
	struct stat st;
	if (fstat(mm->fd, &st) == 0) {
		mm->flag_mtime = st.st_mtim;
		mm->flag_mtime_ok = false;
	}
	return 0;
}

/* ---- append ---- */

/* text with bare LF turned into CRLF (RFC 3501: CRLF text); NULL
 * when unchanged */
static char *mbx_crlf(const char *data, size_t len, size_t *len_r)
{
	struct buf b;
	char *out;

	if (crlf_bare_lf_count(data, len) == 0)
		return NULL;
	buf_init(&b, 0);
	if (!buf_append_crlf(&b, data, len))
		panic("message size overflow");
	out = buf_steal(&b, len_r);
	buf_release(&b);
	return out;
}

static void mbx_now(int64_t *t_r, int32_t *zone_r)
{
	time_t now = time(NULL);
	struct tm tm;

	*t_r = now;
	*zone_r = 0;
	if (localtime_r(&now, &tm) != NULL)
		*zone_r = (int32_t)(tm.tm_gmtoff / 60);
}

static int mbx_append(const char *path, const struct mail_append_msg *msgs,
		      unsigned n, uint32_t *uidvalidity_r, uint32_t *uids_r,
		      const char **error_r)
{
	struct mbx_hdr h;
	struct stat st;
	struct buf line;
	char ebuf[512] = "";
	int fd, ld;
	uint64_t pos;
	bool hdr_new_kw = false;

	if (n == 0) {
		*error_r = "Nothing to append";
		return -1;
	}
	for (unsigned i = 0; i < n; i++)
		if (msgs[i].len == 0) {
			*error_r = "Append of zero-length message";
			return -1;
		}
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		*error_r = errno == ENOENT ? mail_error(MAIL_ERROR_NOTFOUND,
				"Mailbox does not exist") :
			mail_error_fmt(mail_error_from_errno(errno),
				   "Can't open append mailbox: %s",
				   strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		*error_r = "Not an mbx mailbox";
		return -1;
	}
	if ((ld = mbx_parse_lock(fd, error_r)) < 0) {
		close(fd);
		return -1;
	}
	if (mbx_recover(fd, path, false, ebuf, sizeof(ebuf)) < 0 ||
	    mbx_hdr_read(fd, &h, ebuf, sizeof(ebuf)) < 0 ||
	    fstat(fd, &st) < 0) {
		*error_r = mail_error_fmt(MAIL_ERROR_CORRUPT, "%s",
					  ebuf[0] != '\0' ? ebuf :
					  strerror(errno));
		goto fail_unlocked;
	}
	pos = (uint64_t)st.st_size;
	if (h.lastuid > UINT32_MAX - n) {
		*error_r = "Mailbox UIDs exhausted";
		goto fail_unlocked;
	}

	/* keywords: existing slots, or new ones while there is room */
	for (unsigned i = 0; i < n; i++)
		for (unsigned k = 0; k < msgs[i].nkeywords; k++) {
			const char *kw = msgs[i].keywords[k];
			bool have = false;
			for (unsigned s = 0; s < h.nslots; s++)
				if (strcmp(h.slot[s], kw) == 0)
					have = true;
			if (have || !mail_keyword_valid(kw))
				continue;
			if (mbx_hdr_add_slot(h.slot, &h.nslots, kw))
				hdr_new_kw = true;
			else
				log_notice("mbx %s: no room for keyword %s",
					   path, kw);
		}
	(void)hdr_new_kw;

	/* kept numbering (mail.h: uid, uidvalidity) */
	uint32_t *uid = xcalloc(n, sizeof *uid), last = h.lastuid;
	for (unsigned i = 0; i < n; i++) {
		if ((msgs[i].uid != 0 && msgs[i].uid <= last) ||
		    (msgs[i].uid == 0 && last == UINT32_MAX)) {
			free(uid);
			*error_r = "UID to keep is not above the mailbox's UIDs";
			goto fail_unlocked;
		}
		uid[i] = last = msgs[i].uid != 0 ? msgs[i].uid : last + 1;
	}
	for (unsigned i = 0; i < n; i++)
		if (msgs[i].uidnext > last + 1)
			last = msgs[i].uidnext - 1;
	if (msgs[0].uidvalidity != 0 && msgs[0].uidvalidity != h.uidvalidity) {
		if (h.lastuid != 0) {
			free(uid);
			*error_r = "Mailbox has UIDs: UIDVALIDITY cannot change";
			goto fail_unlocked;
		}
		h.uidvalidity = msgs[0].uidvalidity;
	}

	/* 1: header with the new last UID, new keywords and our marker */
	h.lastuid = last;
	if (mbx_hdr_write(fd, &h, pos, error_r) < 0 || fdatasync(fd) < 0) {
		*error_r = "Unable to update mailbox header";
		goto fail_unlocked;
	}
	/* fault injection (CCLIENT_CRASH_POINT, tests/test_crash_more.py):
	 * a crash here leaves the CCAPPEND marker and no records */
	journal_crash_point();

	/* 2: the records */
	buf_init(&line, 0);
	for (unsigned i = 0; i < n; i++) {
		const struct mail_append_msg *am = &msgs[i];
		size_t len = am->len;
		char *conv = mbx_crlf(am->data, am->len, &len);
		const char *text = conv != NULL ? conv : am->data;
		int64_t t = am->internaldate;
		int32_t zone = am->zone;
		uint32_t uf = 0;

		if (t < 0)
			mbx_now(&t, &zone);
		for (unsigned k = 0; k < am->nkeywords; k++)
			for (unsigned s = 0; s < h.nslots; s++)
				if (strcmp(h.slot[s], am->keywords[k]) == 0)
					uf |= 1u << s;
		buf_reset(&line);
		date_format_imap(t, zone, &line);
		buf_printf(&line, ",%zu;%08" PRIx32 "%04" PRIx32 "-%08" PRIx32
			   "\r\n", len, uf,
			   mbx_flags_to_file(am->flags & MAIL_SYSFLAGS),
			   uid[i]);
		if (pwrite_full(fd, line.data, line.len, (off_t)pos) !=
		    (ssize_t)line.len ||
		    pwrite_full(fd, text, len, (off_t)(pos + line.len)) !=
		    (ssize_t)len) {
			free(conv);
			buf_release(&line);
			free(uid);
			goto fail_write;
		}
		pos += line.len + len;
		if (uids_r != NULL)
			uids_r[i] = uid[i];
		free(conv);
		journal_crash_point();	/* fault injection: some records written */
	}
	buf_release(&line);
	free(uid);
	if (fsync(fd) < 0)
		goto fail_write;
	journal_crash_point();	/* fault injection: records durable, marker set */

	/* 3: done; clearing the marker needs no sync (a left-over marker
	 * with complete records is harmless) */
	if (mbx_hdr_write(fd, &h, UINT64_MAX, error_r) < 0) {
		/* records are durable; the marker only costs a check */
	}
	if (uidvalidity_r != NULL)
		*uidvalidity_r = h.uidvalidity;
	mbx_parse_unlock(&ld);
	close(fd);
	return 0;

fail_write:
	{
		int err = errno;

		if (ftruncate(fd, st.st_size) == 0 &&
		    mbx_hdr_write(fd, &h, UINT64_MAX, error_r) == 0)
			(void)fsync(fd);
		*error_r = mail_error_fmt(mail_error_from_errno(err),
					  "Message append failed: %s",
					  strerror(err));
	}
fail_unlocked:
	mbx_parse_unlock(&ld);
	close(fd);
	return -1;
}

const struct mail_driver mbx_driver = {
	.name = "mbx",
	.is_directory = false,
	.parse_lock_is_session_lock = true,
	.probe = mbx_probe,
	.repair_claim = mbx_repair_claim,
	.repair = mbx_repair,
	.create = mbx_create,
	.remove = mbx_remove,
	.rename = mbx_rename,
	.open = mbx_open,
	.close = mbx_close,
	.sync = mbx_sync,
	.fetch = mbx_fetch,
	.flush = mbx_flush,
	.expunge = mbx_expunge,
	.append = mbx_append,
};
