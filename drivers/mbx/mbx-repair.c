/*
 * mbx-repair.c - the mbx driver's repair hook (mailutil repair, FAQ 7.14,
 * 7.15): finds every internal header by content, corrects sizes that
 * disagree with where the next message starts, saves junk, damaged
 * headers and a truncated last message to side files, renumbers UIDs
 * that do not increase (with a new UIDVALIDITY) and rebuilds the file.
 * With fix it holds UW's parse lock plus an exclusive flock() on the
 * mailbox: nobody else may have it open while it is rewritten.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "date.h"
#include "journal.h"
#include "mbx-private.h"
#include "repair.h"

/* a complete, plausible internal header at off; fills line/size/uid */
static bool mbx_header_at(const struct mail_repair *r, size_t off,
			  size_t *linelen, uint64_t *size, uint32_t *uid)
{
	const char *p = r->data + off;
	size_t avail = r->len - off, i;
	int64_t t;
	int32_t z;
	char date[27];

	if (avail < 52 || p[2] != '-' || p[6] != '-' || p[11] != ' ' ||
	    p[14] != ':' || p[17] != ':' || p[20] != ' ' ||
	    (p[21] != '+' && p[21] != '-') || p[26] != ',')
		return false;
	memcpy(date, p, 26);
	date[26] = '\0';
	if (!date_parse_imap_datetime(date, &t, &z))
		return false;
	uint64_t s = 0;
	for (i = 27; i < avail && i < 48 && isdigit((unsigned char)p[i]); i++)
		s = s * 10 + (uint64_t)(p[i] - '0');
	if (i == 27 || i + 23 > avail || p[i] != ';')
		return false;
	uint32_t fl;
	if (!mbx_hex(p + i + 1, 8, &fl) ||
	    !mbx_hex(p + i + 9, 4, &fl) || p[i + 13] != '-' ||
	    !mbx_hex(p + i + 14, 8, uid) || p[i + 22] != '\r' ||
	    p[i + 23] != '\n')
		return false;
	*linelen = i + 24;
	*size = s;
	return true;
}

static size_t mbx_next_header(const struct mail_repair *r, size_t from)
{
	size_t ll;
	uint64_t sz;
	uint32_t uid;

	for (size_t p = from; p + 52 <= r->len; p++)
		if (r->data[p + 2] == '-' && mbx_header_at(r, p, &ll, &sz, &uid))
			return p;
	return r->len;
}

struct mbx_repair_rec {
	size_t off, linelen, textlen;
	uint32_t uid;
};

/* the records in order; damage reported (and saved) on the way */
static int mbx_repair_scan(struct mail_repair *r, size_t pos,
			   struct mbx_repair_rec **recs_r, unsigned *nrec_r,
			   const char **error_r)
{
	struct mbx_repair_rec *recs = NULL;
	unsigned nrec = 0, alloc = 0;

	while (pos < r->len) {
		size_t ll;
		uint64_t size;
		uint32_t uid;

		if (!mbx_header_at(r, pos, &ll, &size, &uid)) {
			size_t q = mbx_next_header(r, pos + 1);
			mail_repair_problem(r, pos, "Unable to parse internal "
					    "header at %zu", pos);
			if (mail_repair_save_bad(r, pos, q - pos, "unparsable "
						 "data", error_r) < 0)
				goto fail;
			pos = q;
			continue;
		}
		size_t text = pos + ll, end;
		size_t q = mbx_next_header(r, text);
		uint64_t claimed_end = (uint64_t)text + size;
		if (claimed_end == q || (claimed_end == r->len && q == r->len)) {
			end = (size_t)claimed_end;	/* consistent */
		} else if (claimed_end > r->len && q == r->len) {
			mail_repair_problem(r, pos, "Last message (at %zu) runs "
					    "past end of file (%" PRIu64
					    " > %zu)", pos, claimed_end,
					    r->len);
			if (mail_repair_save_bad(r, pos, r->len - pos,
						 "truncated last message",
						 error_r) < 0)
				goto fail;
			break;
		} else if (claimed_end > q) {
			/* the size ate into the next message: wrong size */
			mail_repair_problem(r, pos, "message size %" PRIu64
					    " runs into the next message at "
					    "%zu; size corrected to %zu",
					    size, q, q - text);
			end = q;
		} else if (claimed_end >= 2 &&
			   r->data[claimed_end - 2] == '\r' &&
			   r->data[claimed_end - 1] == '\n') {
			/* message ends cleanly: what follows is junk */
			end = (size_t)claimed_end;
			mail_repair_problem(r, end, "data between messages "
					    "(after message at %zu)", pos);
			if (mail_repair_save_bad(r, end, q - end, "junk between "
						 "messages", error_r) < 0)
				goto fail;
		} else {
			mail_repair_problem(r, pos, "message size %" PRIu64
					    " ends inside the text; size "
					    "corrected to %zu", size, q - text);
			end = q;
		}
		if (nrec == alloc) {
			alloc = alloc ? alloc * 2 : 64;
			recs = xreallocarray(recs, alloc, sizeof(*recs));
		}
		recs[nrec].off = pos;
		recs[nrec].linelen = ll;
		recs[nrec].textlen = end - text;
		recs[nrec].uid = uid;
		nrec++;
		/* after junk (saved above) go on at the next header */
		pos = q > end ? q : end;
	}
	*recs_r = recs;
	*nrec_r = nrec;
	return 0;
fail:
	free(recs);
	return -1;
}

/* check the data read; r->out becomes the rebuilt file */
static int mbx_repair_data(struct mail_repair *r, const char **error_r)
{
	struct mbx_hdr h;
	char err[256];
	uint32_t uv = 0, lastuid = 0, prev_uid = 0;
	bool uid_trouble = false;
	size_t pos;
	struct mbx_repair_rec *recs;
	unsigned nrec;

	/* the 2048-byte header */
	bool hdr_ok = mbx_hdr_parse(r->data, r->len, &h, err, sizeof(err)) == 0;
	if (hdr_ok) {
		uv = h.uidvalidity;
		lastuid = h.lastuid;
		pos = MBX_HDRSIZE;
	} else {
		pos = mbx_next_header(r, 0);
		mail_repair_problem(r, 0, "Unable to parse mbx header (file "
				    "does not start with a valid 2048-byte mbx "
				    "header)");
		if (mail_repair_save_bad(r, 0, pos, "damaged mailbox header",
					 error_r) < 0)
			return -1;
		uv = (uint32_t)time(NULL);
	}
	if (mbx_repair_scan(r, pos, &recs, &nrec, error_r) < 0)
		return -1;
	for (unsigned i = 0; i < nrec; i++) {
		if (recs[i].uid != 0 && recs[i].uid <= prev_uid)
			uid_trouble = true;
		if (recs[i].uid > prev_uid)
			prev_uid = recs[i].uid;
	}
	if (uid_trouble) {
		mail_repair_problem(r, MBX_HDRSIZE, "UIDs out of order (FAQ "
				    "7.14): UIDs renumbered with a new "
				    "UIDVALIDITY");
		uv = (uint32_t)time(NULL);
		for (unsigned i = 0; i < nrec; i++)
			recs[i].uid = i + 1;
		prev_uid = nrec;
	}
	if (prev_uid > lastuid)
		lastuid = prev_uid;

	/* rebuild */
	char hdr[MBX_HDRSIZE];
	memset(hdr, 0, sizeof(hdr));
	int hl = snprintf(hdr, sizeof(hdr), "*mbx*\r\n%08" PRIx32 "%08" PRIx32
			  "\r\n", uv, lastuid);
	if (hdr_ok) {
		/* keyword slots, padding and PID as they were; no stale
		 * append marker (offsets change) */
		memcpy(hdr + hl, r->data + hl, MBX_HDRSIZE - (size_t)hl);
		memset(hdr + MBX_KW_END, 0, MBX_PID_OFF - MBX_KW_END);
	} else {
		for (unsigned i = 0; i < MBX_NSLOTS; i++) {
			hdr[hl++] = '\r';
			hdr[hl++] = '\n';
		}
	}
	buf_append(&r->out, hdr, sizeof(hdr));
	for (unsigned i = 0; i < nrec; i++) {
		const char *p = r->data + recs[i].off;
		size_t semi = 27;
		while (p[semi] != ';')
			semi++;
		/* date + corrected size + the original flags */
		buf_append(&r->out, p, 27);
		buf_printf(&r->out, "%zu;", recs[i].textlen);
		buf_append(&r->out, p + semi + 1, 13);
		buf_printf(&r->out, "%08" PRIx32 "\r\n", recs[i].uid);
		buf_append(&r->out, r->data + recs[i].off + recs[i].linelen,
			   recs[i].textlen);
	}
	free(recs);
	return 0;
}

int mbx_repair_claim(const char *path, const struct stat *st)
{
	char head[MBX_HDRSIZE + 4096];
	ssize_t n;
	int fd;
	int claim = 0;

	if (!S_ISREG(st->st_mode))
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW);
	if (fd < 0)
		return 0;
	n = pread_full(fd, head, sizeof(head), 0);
	close(fd);
	if (n >= 5 && memcmp(head, "*mbx*", 5) == 0)
		claim = 2;
	else if (n > 0 && (n < 5 || memcmp(head, "From ", 5) != 0)) {
		/* a damaged header: internal headers near the start */
		const char *probe = head + MBX_HDRSIZE;
		ssize_t pn = n - MBX_HDRSIZE;
		for (ssize_t i = 0; i + 27 < pn; i++)
			if (probe[i + 26] == ',' && probe[i + 2] == '-' &&
			    probe[i + 6] == '-' && probe[i + 14] == ':' &&
			    memchr(probe + i, ';', (size_t)(pn - i)) != NULL) {
				claim = 2;
				break;
			}
	}
	return claim;
}

int mbx_repair(struct mail_repair *r, const char **error_r)
{
	int fd, ld = -1, ret = -1;
	bool recovered;

	fd = open(r->path, (r->fix ? O_RDWR : O_RDONLY) | O_NOFOLLOW |
		  O_CLOEXEC);
	if (fd < 0) {
		*error_r = strerror(errno);
		return -1;
	}
	if (r->fix) {
		const char *lerr;
		ld = mbx_parse_lock(fd, &lerr);
		if (ld < 0 || flock(fd, LOCK_EX | LOCK_NB) < 0) {
			*error_r = "mailbox is in use by another session "
				   "(close it first)";
			goto out;
		}
		if (journal_recover(r->path, fd, &recovered, error_r) < 0)
			goto out;
	}
	if (mail_repair_read(r, fd, error_r) < 0 ||
	    mbx_repair_data(r, error_r) < 0 ||
	    mail_repair_commit(r, fd, error_r) < 0)
		goto out;
	ret = 0;
out:
	mbx_parse_unlock(&ld);
	close(fd);
	return ret;
}
