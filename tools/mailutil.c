/*
 * mailutil - mailbox utility, as UW's mailutil(1), plus repair:
 *
 *   mailutil [-v] [-d] [-c config] COMMAND args
 *     check [MAILBOX]            message counts (default INBOX)
 *     create MAILBOX             (#driver.mbx/NAME picks the format)
 *     delete MAILBOX
 *     rename SRC DST
 *     copy SRC DST               DST is created; SRC is left alone
 *     move SRC DST               copy, then delete the messages from SRC
 *     append SRC DST             DST must exist
 *     appenddelete SRC DST       append, then delete from SRC
 *     prune MAILBOX CRITERIA     expunge messages matching IMAP SEARCH
 *     transfer [-m MODE] SRC DST copy every mailbox under prefix SRC to
 *                                prefix DST (MODE: append, suffix=XXX,
 *                                or keep: UIDVALIDITY and UIDs kept, for
 *                                moving a user; DST mailboxes must not
 *                                exist, any format: #driver.X/DST)
 *     repair [--fix] MAILBOX     find (and fix) damage in mbox and mbx
 *                                files: seed FAQ 7.1, 7.2, 7.14, 7.15
 *
 * Exit status: 0 success, 1 failure, 2 usage. Runs as the invoking user
 * (no privileges). Copies keep flags, keywords and internal dates.
 *
 * repair never deletes a byte: whatever it cannot place in the rebuilt
 * mailbox goes into side files NAME.badmsg.N beside it. The rebuilt file
 * replaces the old contents in place through journal.h (crash-safe, same
 * inode, owner and mode), under the mailbox lock (mbox) or UW's parse
 * lock plus an exclusive flock (mbx: nobody else may have it open).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pwd.h>
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
#include "imap-arg.h"
#include "journal.h"
#include "lock.h"
#include "log.h"
#include "mail.h"
#include "mailname.h"
#include "search.h"
#include "linkage.h"

#define EXIT_USAGE 2

static bool verbose;

static void usage(void)
{
	fputs("usage: mailutil [-v] [-d] [-c config] command args\n"
	      "  check [MAILBOX]\n"
	      "  create MAILBOX\n"
	      "  delete MAILBOX\n"
	      "  rename SOURCE DESTINATION\n"
	      "  copy SOURCE DESTINATION\n"
	      "  move SOURCE DESTINATION\n"
	      "  append SOURCE DESTINATION\n"
	      "  appenddelete SOURCE DESTINATION\n"
	      "  prune MAILBOX \"SEARCH CRITERIA\"\n"
	      "  transfer [-m append|suffix=XXX|keep] SOURCE-PREFIX DEST-PREFIX\n"
	      "  repair [--fix] MAILBOX\n", stderr);
	exit(EXIT_USAGE);
}

static void fail(const char *what, const char *name, const char *error)
{
	fprintf(stderr, "mailutil: %s %s: %s\n", what, name, error);
}

/* ---- check, create, delete, rename ---- */

static int cmd_check(const char *name)
{
	struct mail_status st;
	const char *err;

	if (mail_status(name, &st, &err) < 0) {
		fail("check", name, err);
		return 1;
	}
	if (st.messages == 0)
		printf("No messages in %s\n", name);
	else
		printf("%u new message(s) (%u unseen), %u old message(s) "
		       "in %s\n", st.recent, st.unseen,
		       st.messages - st.recent, name);
	return 0;
}

static int cmd_simple(const char *cmd, const char *a, const char *b)
{
	const char *err;
	int r;

	if (strcmp(cmd, "create") == 0)
		r = mail_create(a, &err);
	else if (strcmp(cmd, "delete") == 0)
		r = mail_delete(a, &err);
	else
		r = mail_rename(a, b, &err);
	if (r < 0) {
		fail(cmd, a, err);
		return 1;
	}
	if (verbose)
		printf("%s %s%s%s: done\n", cmd, a, b ? " " : "", b ? b : "");
	return 0;
}

/* ---- copying ---- */

#define BATCH_MSGS	500
#define BATCH_BYTES	(32u << 20)

/* append messages [from, to) of src to dst in one all-or-nothing call;
 * keep: with their UIDs and src's UIDVALIDITY (mail.h) */
static int append_batch(struct mailbox *src, uint32_t from, uint32_t to,
			const char *dst, bool keep, const char **err)
{
	uint32_t uv, *uids = xcalloc(to - from + 1, sizeof(*uids));
	int ret = mail_copy(src, NULL, from, to - from, dst,
			    keep ? MAIL_COPY_KEEP_UIDS : 0, &uv, uids, err);

	free(uids);
	return ret;
}

/* copy every message of src to dst; create dst first if asked; delete
 * the copied messages from src afterwards if asked */
static int copy_mailbox(const char *src, const char *dst, bool create,
			bool delete_src, bool keep, const char *what)
{
	const char *err;
	struct mailbox *mb = mail_open(src, (delete_src ? 0 :
				       MAIL_OPEN_READONLY) |
				       MAIL_OPEN_NOINBOXMOVE, &err);
	uint32_t i = 0;

	if (mb == NULL) {
		fail(what, src, err);
		return 1;
	}
	if (delete_src && mb->readonly) {
		fail(what, src, "mailbox is read-only");
		mail_close(&mb);
		return 1;
	}
	if (create && mail_create(dst, &err) < 0) {
		fail(what, dst, err);
		mail_close(&mb);
		return 1;
	}
	/* the messages there now: appends to the same file (or mail
	 * delivered meanwhile) must not be copied, nor deleted */
	uint32_t total = mb->count;
	while (i < total) {
		uint32_t j = i;
		uint64_t bytes = 0;
		while (j < total && j - i < BATCH_MSGS &&
		       (bytes == 0 || bytes + mb->msgs[j].size < BATCH_BYTES))
			bytes += mb->msgs[j++].size;
		if (append_batch(mb, i, j, dst, keep, &err) < 0) {
			fail(what, dst, err);
			mail_close(&mb);
			return 1;
		}
		i = j;
	}
	if (verbose)
		printf("%s: %u message(s) from %s to %s\n", what, total,
		       src, dst);
	if (delete_src && total > 0) {
		for (uint32_t s = 1; s <= total && s <= mb->count; s++)
			(void)mail_store(mb, s, MAIL_STORE_ADD, MAIL_DELETED, 0);
		if (mail_expunge(mb, NULL, NULL, &err) < 0) {
			fail(what, src, err);
			mail_close(&mb);
			return 1;
		}
	}
	mail_close(&mb);
	return 0;
}

/* ---- prune ---- */

struct uidset {
	uint32_t *uids;
	uint32_t n;
};

static bool uid_in_set(void *ctx, uint32_t uid)
{
	const struct uidset *s = ctx;
	uint32_t lo = 0, hi = s->n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (s->uids[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < s->n && s->uids[lo] == uid;
}

static int cmd_prune(const char *name, const char *criteria)
{
	const char *err;
	enum search_error serr;
	struct imap_args *args = imap_args_parse(criteria, strlen(criteria),
						 &err);
	struct search_key *key;
	struct mailbox *mb;
	uint32_t *seqs = NULL, n;
	struct uidset set;

	if (args == NULL) {
		fail("prune", criteria, err);
		return EXIT_USAGE;
	}
	key = search_parse(imap_args_get(args), NULL, &serr, &err);
	if (key == NULL) {
		fail("prune", criteria, err);
		imap_args_free(&args);
		return EXIT_USAGE;
	}
	mb = mail_open(name, MAIL_OPEN_NOINBOXMOVE, &err);
	if (mb == NULL || mb->readonly) {
		fail("prune", name, mb == NULL ? err : "mailbox is read-only");
		mail_close(&mb);
		search_free(&key);
		imap_args_free(&args);
		return 1;
	}
	n = search_run(mb, key, &seqs);
	set.uids = xcalloc(n + 1, sizeof(uint32_t));
	set.n = n;
	for (uint32_t i = 0; i < n; i++) {
		set.uids[i] = mb->msgs[seqs[i] - 1].uid;
		(void)mail_store(mb, seqs[i], MAIL_STORE_ADD, MAIL_DELETED, 0);
	}
	int ret = 0;
	if (n > 0 && mail_expunge(mb, uid_in_set, &set, &err) < 0) {
		fail("prune", name, err);
		ret = 1;
	} else
		printf("%u message(s) deleted\n", n);
	free(seqs);
	free(set.uids);
	mail_close(&mb);
	search_free(&key);
	imap_args_free(&args);
	return ret;
}

/* ---- transfer ---- */

struct xfer {
	char **names;
	unsigned n, alloc;
};

static void xfer_cb(void *ctx, const char *name, unsigned attrs)
{
	struct xfer *x = ctx;

	if ((attrs & MAIL_LIST_NOSELECT) != 0)
		return;
	if (x->n == x->alloc) {
		x->alloc = x->alloc ? x->alloc * 2 : 32;
		x->names = xreallocarray(x->names, x->alloc, sizeof(char *));
	}
	x->names[x->n++] = xstrdup(name);
}

static bool mailbox_exists(const char *name)
{
	struct mail_path mp;
	const char *err;
	bool r;

	if (mail_resolve(name, &mp, &err) < 0)
		return false;
	r = mp.driver != NULL;
	mail_path_free(&mp);
	return r;
}

static int cmd_transfer(const char *mode, const char *src, const char *dst)
{
	struct xfer x = { 0 };
	const char *err;
	char *pattern = xasprintf("%s*", src);
	size_t sl = strlen(src);
	int ret = 0;

	bool keep = mode != NULL && strcmp(mode, "keep") == 0;

	if (mode != NULL && strcmp(mode, "append") != 0 && !keep &&
	    strncmp(mode, "suffix=", 7) != 0) {
		fprintf(stderr, "mailutil: unknown transfer mode %s\n", mode);
		free(pattern);
		return EXIT_USAGE;
	}
	if (mail_list("", pattern, false, xfer_cb, &x, &err) < 0) {
		fail("transfer", src, err);
		free(pattern);
		return 1;
	}
	for (unsigned i = 0; i < x.n; i++) {
		const char *rest = strncmp(x.names[i], src, sl) == 0 ?
			x.names[i] + sl : x.names[i];
		char *to = xasprintf("%s%s", dst, rest);
		bool create = true;
		if (mailbox_exists(to)) {
			if (mode != NULL && strcmp(mode, "append") == 0)
				create = false;
			else if (mode != NULL && !keep) {
				char *t2 = xasprintf("%s%s", to, mode + 7);
				free(to);
				to = t2;
			} else {
				fail("transfer", to, "mailbox already exists");
				ret = 1;
				free(to);
				continue;
			}
		}
		if (verbose)
			printf("%s -> %s\n", x.names[i], to);
		if (copy_mailbox(x.names[i], to, create, false, keep,
				 "transfer"))
			ret = 1;
		free(to);
	}
	if (x.n == 0) {
		fprintf(stderr, "mailutil: transfer: no mailboxes match %s\n",
			pattern);
		ret = 1;
	}
	for (unsigned i = 0; i < x.n; i++)
		free(x.names[i]);
	free(x.names);
	free(pattern);
	return ret;
}

/* ---- repair ---- */

struct piece {		/* a range of the old file in the new one */
	uint64_t off, len;
	char *prefix;		/* bytes written before it (a fixed line) */
	size_t prefix_len;
};

struct repair {
	const char *path;
	bool fix;
	char *data;
	size_t len;
	unsigned problems;
	unsigned nbad;		/* side files written */
	struct buf out;		/* the rebuilt mailbox */
	struct buf report;
};

static void problem(struct repair *r, uint64_t off, const char *fmt, ...)
	ATTR_PRINTF(3, 4);

static void problem(struct repair *r, uint64_t off, const char *fmt, ...)
{
	va_list ap;

	r->problems++;
	buf_printf(&r->report, "at %" PRIu64 ": ", off);
	va_start(ap, fmt);
	buf_vprintf(&r->report, fmt, ap);
	va_end(ap);
	buf_putc(&r->report, '\n');
}

/* bytes the rebuilt mailbox cannot hold: a side file (with --fix) */
static int save_bad(struct repair *r, uint64_t off, uint64_t len,
		    const char *why)
{
	char *name;
	int fd;

	if (len == 0)
		return 0;
	r->nbad++;
	name = xasprintf("%s.badmsg.%u", r->path, r->nbad);
	if (!r->fix) {
		problem(r, off, "%s: %" PRIu64 " bytes would be saved to %s",
			why, len, name);
		free(name);
		return 0;
	}
	/* never overwrite an earlier side file */
	while ((fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
			  O_CLOEXEC, 0600)) < 0 && errno == EEXIST) {
		free(name);
		name = xasprintf("%s.badmsg.%u", r->path, ++r->nbad);
	}
	if (fd < 0 || write_full(fd, r->data + off, (size_t)len) !=
	    (ssize_t)len || fsync(fd) < 0) {
		fprintf(stderr, "mailutil: repair: cannot write %s: %s\n",
			name, strerror(errno));
		if (fd >= 0)
			close(fd);
		free(name);
		return -1;
	}
	close(fd);
	problem(r, off, "%s: %" PRIu64 " bytes saved to %s", why, len, name);
	free(name);
	return 0;
}

/* -- mbx -- */

static bool hexn(const char *p, size_t n, uint32_t *v)
{
	uint32_t x = 0;

	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)p[i];
		if (!isxdigit(c))
			return false;
		x = x << 4 | (uint32_t)(isdigit(c) ? c - '0' :
					(tolower(c) - 'a' + 10));
	}
	*v = x;
	return true;
}

/* a complete, plausible internal header at off; fills line/size/uid */
static bool mbx_header_at(const struct repair *r, size_t off, size_t *linelen,
			  uint64_t *size, uint32_t *uid)
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
	if (!hexn(p + i + 1, 8, &fl) ||
	    !hexn(p + i + 9, 4, &fl) || p[i + 13] != '-' ||
	    !hexn(p + i + 14, 8, uid) || p[i + 22] != '\r' ||
	    p[i + 23] != '\n')
		return false;
	*linelen = i + 24;
	*size = s;
	return true;
}

static size_t mbx_next_header(const struct repair *r, size_t from)
{
	size_t ll;
	uint64_t sz;
	uint32_t uid;

	for (size_t p = from; p + 52 <= r->len; p++)
		if (r->data[p + 2] == '-' && mbx_header_at(r, p, &ll, &sz, &uid))
			return p;
	return r->len;
}

static void put_piece(struct repair *r, size_t off, size_t len)
{
	buf_append(&r->out, r->data + off, len);
}

static int repair_mbx(struct repair *r)
{
	uint32_t uv = 0, lastuid = 0, prev_uid = 0;
	bool uid_trouble = false;
	size_t pos;
	struct {
		size_t off, linelen, textlen;
		uint32_t uid;
	} *recs = NULL;
	unsigned nrec = 0, alloc = 0;

	/* the 2048-byte header */
	bool hdr_ok = r->len >= 2048 && memcmp(r->data, "*mbx*\r\n", 7) == 0 &&
		hexn(r->data + 7, 8, &uv) && hexn(r->data + 15, 8, &lastuid) &&
		r->data[23] == '\r' && r->data[24] == '\n';
	if (hdr_ok) {
		pos = 2048;
	} else {
		pos = mbx_next_header(r, 0);
		problem(r, 0, "Unable to parse mbx header (file does not start "
			"with a valid 2048-byte mbx header)");
		if (save_bad(r, 0, pos, "damaged mailbox header") < 0)
			return -1;
		uv = (uint32_t)time(NULL);
	}

	while (pos < r->len) {
		size_t ll;
		uint64_t size;
		uint32_t uid;

		if (!mbx_header_at(r, pos, &ll, &size, &uid)) {
			size_t q = mbx_next_header(r, pos + 1);
			problem(r, pos, "Unable to parse internal header at %zu",
				pos);
			if (save_bad(r, pos, q - pos, "unparsable data") < 0)
				return -1;
			pos = q;
			continue;
		}
		size_t text = pos + ll, end;
		size_t q = mbx_next_header(r, text);
		uint64_t claimed_end = (uint64_t)text + size;
		if (claimed_end == q || (claimed_end == r->len && q == r->len)) {
			end = (size_t)claimed_end;	/* consistent */
		} else if (claimed_end > r->len && q == r->len) {
			problem(r, pos, "Last message (at %zu) runs past end of "
				"file (%" PRIu64 " > %zu)", pos, claimed_end,
				r->len);
			if (save_bad(r, pos, r->len - pos,
				     "truncated last message") < 0)
				return -1;
			break;
		} else if (claimed_end > q) {
			/* the size ate into the next message: wrong size */
			problem(r, pos, "message size %" PRIu64 " runs into the "
				"next message at %zu; size corrected to %zu",
				size, q, q - text);
			end = q;
		} else if (claimed_end >= 2 && r->data[claimed_end - 2] == '\r' &&
			   r->data[claimed_end - 1] == '\n') {
			/* message ends cleanly: what follows is junk */
			end = (size_t)claimed_end;
			problem(r, end, "data between messages (after message "
				"at %zu)", pos);
			if (save_bad(r, end, q - end, "junk between "
				     "messages") < 0)
				return -1;
		} else {
			problem(r, pos, "message size %" PRIu64 " ends inside "
				"the text; size corrected to %zu", size,
				q - text);
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
		if (uid != 0 && uid <= prev_uid)
			uid_trouble = true;
		if (uid > prev_uid)
			prev_uid = uid;
		/* after junk (saved above) go on at the next header */
		pos = q > end ? q : end;
	}
	if (uid_trouble) {
		problem(r, 2048, "UIDs out of order (FAQ 7.14): UIDs renumbered "
			"with a new UIDVALIDITY");
		uv = (uint32_t)time(NULL);
		for (unsigned i = 0; i < nrec; i++)
			recs[i].uid = i + 1;
		prev_uid = nrec;
	}
	if (prev_uid > lastuid)
		lastuid = prev_uid;

	/* rebuild */
	char hdr[2048];
	memset(hdr, 0, sizeof(hdr));
	int hl = snprintf(hdr, sizeof(hdr), "*mbx*\r\n%08" PRIx32 "%08" PRIx32
			  "\r\n", uv, lastuid);
	if (hdr_ok) {
		/* keyword slots, padding and PID as they were; no stale
		 * append marker (offsets change) */
		memcpy(hdr + hl, r->data + 25, 2048 - 25);
		memset(hdr + 2007, 0, 2038 - 2007);
	} else {
		for (unsigned i = 0; i < 30; i++) {
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
		put_piece(r, recs[i].off + recs[i].linelen, recs[i].textlen);
	}
	free(recs);
	return 0;
}

/* -- mbox -- */

static bool from_line_at(const struct repair *r, size_t off, size_t *len_r)
{
	const char *p = r->data + off, *nl;
	int64_t t;
	int32_t z;
	const char *s;
	size_t sl;

	if (r->len - off < 5 || memcmp(p, "From ", 5) != 0)
		return false;
	nl = memchr(p, '\n', r->len - off);
	size_t l = nl != NULL ? (size_t)(nl - p) : r->len - off;
	size_t ll = l > 0 && p[l - 1] == '\r' ? l - 1 : l;
	if (!date_parse_from_line(p, ll, &t, &z, &s, &sl))
		return false;
	*len_r = nl != NULL ? l + 1 : l;
	return true;
}

static int repair_mbox(struct repair *r)
{
	size_t pos = 0, fl;
	uint32_t prev_uid = 0;
	bool uid_trouble = false;

	if (r->len == 0)
		return 0;
	if (!from_line_at(r, 0, &fl)) {
		/* FAQ 7.1 / 7.2: the first line must be a "From " line */
		size_t q = 0;
		for (size_t p = 0; p < r->len; p++)
			if ((p == 0 || r->data[p - 1] == '\n') &&
			    from_line_at(r, p, &fl)) {
				q = p;
				break;
			}
		if (q == 0)
			q = r->len;
		const char *d = r->data;
		size_t i = 0;
		while (i < q && d[i] != ':' && d[i] > ' ' && d[i] < 127)
			i++;
		bool looks_like_header = i > 0 && i < q && d[i] == ':';
		if (looks_like_header) {
			problem(r, 0, "file does not begin with a \"From \" "
				"line (FAQ 7.1, 7.2): a separator line was "
				"added so the first %zu bytes become a message",
				q);
			char line[128];
			struct buf b;
			buf_init(&b, 0);
			date_format_from_line(time(NULL), 0, &b);
			snprintf(line, sizeof(line), "From MAILER-DAEMON %s\n",
				 b.data);
			buf_release(&b);
			buf_puts(&r->out, line);
			put_piece(r, 0, q);
			if (q < r->len && (q == 0 || d[q - 1] != '\n'))
				buf_putc(&r->out, '\n');
		} else {
			problem(r, 0, "file does not begin with a \"From \" "
				"line (FAQ 7.1, 7.2)");
			if (save_bad(r, 0, q, "data before the first "
				     "message") < 0)
				return -1;
		}
		pos = q;
	}
	/* 7.14: X-UID headers must increase */
	for (size_t p = pos; p < r->len; ) {
		const char *nl = memchr(r->data + p, '\n', r->len - p);
		size_t e = nl != NULL ? (size_t)(nl - r->data) + 1 : r->len;
		if (e - p > 6 && ascii_strncasecmp(r->data + p, "X-UID:", 6) == 0) {
			uint32_t uid = (uint32_t)strtoul(r->data + p + 6, NULL,
							 10);
			if (uid <= prev_uid && !uid_trouble) {
				uid_trouble = true;
				problem(r, p, "Message UID %u not greater than "
					"previous %u (FAQ 7.14): X-UID, "
					"X-IMAP and X-IMAPbase removed, UIDs "
					"will be rebuilt", uid, prev_uid);
			}
			prev_uid = uid;
		}
		p = e;
	}
	if (!uid_trouble) {
		put_piece(r, pos, r->len - pos);
		return 0;
	}
	/* copy, dropping the UID headers so a new regime starts */
	for (size_t p = pos; p < r->len; ) {
		const char *nl = memchr(r->data + p, '\n', r->len - p);
		size_t e = nl != NULL ? (size_t)(nl - r->data) + 1 : r->len;
		if (!(ascii_strncasecmp(r->data + p, "X-UID:", 6) == 0 ||
		      ascii_strncasecmp(r->data + p, "X-IMAPbase:", 11) == 0 ||
		      ascii_strncasecmp(r->data + p, "X-IMAP:", 7) == 0))
			put_piece(r, p, e - p);
		p = e;
	}
	return 0;
}

/* UW's parse permission for mbx (see drivers/mbx.c) */
static int mbx_parse_lock(int fd)
{
	struct stat st;
	char *p;
	int ld;

	if (fstat(fd, &st) < 0)
		return -1;
	p = session_lock_path(&st);
	ld = open(p, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0666);
	free(p);
	if (ld < 0)
		return -1;
	for (int i = 0; i < 100 * (int)config_int("lock-timeout"); i++) {
		if (flock(ld, LOCK_EX | LOCK_NB) == 0)
			return ld;
		struct timespec ts = { 0, 10000000L };
		nanosleep(&ts, NULL);
	}
	close(ld);
	return -1;
}

static int cmd_repair(const char *name, bool fix)
{
	struct mail_path mp;
	const char *err, *notice;
	struct repair r;
	struct stat st;
	struct mail_lock *lk = NULL;
	int fd, ld = -1, ret = 1;
	bool is_mbx;

	if (mail_resolve(name, &mp, &err) < 0) {
		fail("repair", name, err);
		return 1;
	}
	memset(&r, 0, sizeof(r));
	r.path = mp.path;
	r.fix = fix;
	buf_init(&r.out, 0);
	buf_init(&r.report, 0);
	fd = open(mp.path, (fix ? O_RDWR : O_RDONLY) | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		fail("repair", name, fd < 0 ? strerror(errno) :
		     "not a mailbox file (repair handles mbox and mbx)");
		goto out;
	}
	/* format by content: a damaged mbx header must not make it mbox */
	char head[64];
	ssize_t hn = pread_full(fd, head, sizeof(head), 0);
	is_mbx = hn >= 5 && memcmp(head, "*mbx*", 5) == 0;
	if (!is_mbx && hn > 0 && memcmp(head, "From ", 5) != 0) {
		/* look for mbx internal headers near the start */
		char probe[4096];
		ssize_t pn = pread_full(fd, probe, sizeof(probe), 2048);
		for (ssize_t i = 0; i + 27 < pn; i++)
			if (probe[i + 26] == ',' && probe[i + 2] == '-' &&
			    probe[i + 6] == '-' && probe[i + 14] == ':' &&
			    memmem(probe + i, (size_t)(pn - i), ";", 1) != NULL) {
				is_mbx = true;
				break;
			}
	}
	if (fix) {
		if (is_mbx) {
			ld = mbx_parse_lock(fd);
			if (ld < 0 || flock(fd, LOCK_EX | LOCK_NB) < 0) {
				fail("repair", name, "mailbox is in use by "
				     "another session (close it first)");
				goto out;
			}
		} else if (lock_mailbox(mp.path, fd, 0, &lk, &notice,
					&err) < 0) {
			fail("repair", name, err);
			goto out;
		} else if (lock_dotlock_missing(lk)) {
			/* a rewrite without the .lock file could lose mail an
			 * MTA delivers meanwhile (FAQ 7.10) */
			fail("repair", name, notice != NULL ? notice :
			     "cannot create the .lock file; not rewriting");
			goto out;
		}
		bool recovered;
		if (journal_recover(mp.path, fd, &recovered, &err) < 0) {
			fail("repair", name, err);
			goto out;
		}
		if (fstat(fd, &st) < 0)
			goto out;
	}
	if ((uint64_t)st.st_size > SIZE_MAX / 2) {
		fail("repair", name, "file too large");
		goto out;
	}
	r.len = (size_t)st.st_size;
	r.data = xmalloc(r.len + 1);
	if (pread_full(fd, r.data, r.len, 0) != (ssize_t)r.len) {
		fail("repair", name, strerror(errno));
		goto out;
	}
	printf("%s: %s format, %zu bytes\n", mp.path, is_mbx ? "mbx" : "mbox",
	       r.len);
	if ((is_mbx ? repair_mbx(&r) : repair_mbox(&r)) < 0)
		goto out;
	fputs(r.report.data, stdout);
	if (r.problems == 0) {
		printf("no problems found\n");
		ret = 0;
		goto out;
	}
	if (!fix) {
		printf("%u problem(s) found; run \"mailutil repair --fix %s\" "
		       "to repair\n", r.problems, name);
		ret = 1;
		goto out;
	}
	struct journal_region rg = { 0, r.out.data, r.out.len };
	if (journal_apply(mp.path, fd, r.len, &rg, 1, r.out.len, &err) < 0) {
		fail("repair", name, err);
		goto out;
	}
	printf("%u problem(s) repaired: mailbox rewritten (%zu bytes)%s\n",
	       r.problems, r.out.len, r.nbad > 0 ?
	       "; unplaced bytes are in the side files listed above" : "");
	log_notice("repair %s: %u problem(s) fixed", mp.path, r.problems);
	ret = 0;
out:
	if (lk != NULL)
		lock_release(&lk);
	if (ld >= 0) {
		(void)flock(ld, LOCK_UN);
		close(ld);
	}
	if (fd >= 0)
		close(fd);
	free(r.data);
	buf_release(&r.out);
	buf_release(&r.report);
	mail_path_free(&mp);
	return ret;
}

/* ---- main ---- */

int main(int argc, char **argv)
{
	const char *config = NULL, *err;
	struct passwd *pw;
	const char *home;
	int i = 1;

	drivers_link();
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "-v") == 0 || strcmp(argv[i], "-verbose") == 0)
			verbose = true;
		else if (strcmp(argv[i], "-d") == 0 ||
			 strcmp(argv[i], "-debug") == 0)
			log_to_stderr(true);
		else if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			config = argv[++i];
		else
			usage();
	}
	if (i >= argc)
		usage();
	log_open("mailutil");
	if (config_load(config, &err) < 0 &&
	    (config != NULL || secure_getenv("CCLIENT_CONFIG") != NULL)) {
		fprintf(stderr, "mailutil: %s\n", err);
		return 1;
	}
	pw = getpwuid(getuid());
	if (pw == NULL) {
		fprintf(stderr, "mailutil: who are you? (uid %ld)\n",
			(long)getuid());
		return 1;
	}
	home = secure_getenv("HOME");	/* ignored when set-id, as in the core */
	if (home == NULL || home[0] != '/')
		home = pw->pw_dir;
	mail_user_set(pw->pw_name, pw->pw_uid, pw->pw_gid, home);
	log_set_user(pw->pw_name);

	const char *cmd = argv[i++];
	int nargs = argc - i;
	char **a = argv + i;

	if (strcmp(cmd, "check") == 0) {
		if (nargs > 1)
			usage();
		return cmd_check(nargs == 1 ? a[0] : "INBOX");
	}
	if (strcmp(cmd, "create") == 0 || strcmp(cmd, "delete") == 0) {
		if (nargs != 1)
			usage();
		return cmd_simple(cmd, a[0], NULL);
	}
	if (strcmp(cmd, "rename") == 0) {
		if (nargs != 2)
			usage();
		return cmd_simple(cmd, a[0], a[1]);
	}
	if (strcmp(cmd, "copy") == 0 || strcmp(cmd, "move") == 0) {
		if (nargs != 2)
			usage();
		return copy_mailbox(a[0], a[1], true, cmd[0] == 'm', false, cmd);
	}
	if (strcmp(cmd, "append") == 0 || strcmp(cmd, "appenddelete") == 0) {
		if (nargs != 2)
			usage();
		return copy_mailbox(a[0], a[1], false, cmd[6] == 'd', false,
				    cmd);
	}
	if (strcmp(cmd, "prune") == 0) {
		if (nargs != 2)
			usage();
		return cmd_prune(a[0], a[1]);
	}
	if (strcmp(cmd, "transfer") == 0) {
		const char *mode = NULL;
		if (nargs >= 2 && strcmp(a[0], "-m") == 0) {
			mode = a[1];
			a += 2;
			nargs -= 2;
		}
		if (nargs != 2)
			usage();
		return cmd_transfer(mode, a[0], a[1]);
	}
	if (strcmp(cmd, "repair") == 0) {
		bool fix = false;
		if (nargs >= 1 && strcmp(a[0], "--fix") == 0) {
			fix = true;
			a++;
			nargs--;
		}
		if (nargs != 1)
			usage();
		return cmd_repair(a[0], fix);
	}
	usage();
}
