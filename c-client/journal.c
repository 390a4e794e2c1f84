/*
 * journal.c - crash-safe mailbox changes. See journal.h and the
 * "Journal" section of docs/formats.md.
 *
 * Journal file layout (integers little-endian):
 *   header (64 bytes): magic "CCJRNL1\0", dev, ino, old length, new
 *     length, record count (u32), 0 (u32), total journal length, state
 *   records: offset, new length, FNV-1a 64 hash of the new bytes, count of
 *     old bytes, the old bytes
 *   trailer: FNV-1a 64 of everything before it (state taken as 0),
 *     magic "CCJEND1\0"
 * The state word (PREPARED, WRITING, WRITTEN) is the only part changed in
 * place; it tells recovery how far the change got.
 *
 * SECURITY: a journal is read back only from our own files (mailbox
 * directory or ~/.cclient-journal): opened with O_NOFOLLOW, and used
 * only when it is a plain file with one link, not writable by group or
 * others, owned by us, root or the mailbox's owner. Anything else is
 * logged, copied to ~/.cclient-journal/damaged-* and ignored, so a file
 * planted in a shared directory can neither block writes nor have bytes
 * replayed into a mailbox. Mailboxes in a world-writable directory (a
 * 1777 spool) keep their journals in ~/.cclient-journal only. A journal
 * is fully validated (size, magics, hash, dev/ino of the mailbox) before
 * use, and every length in it is checked against the file sizes; one
 * that does not fit the file is damage (logged, kept as
 * <journal>.damaged, the mailbox opens as it is), never a panic.
 * Temporary files are created with O_EXCL after an unlink, never by
 * truncating whatever has the name.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "journal.h"
#include "log.h"
#include "mail.h"

#define J_MAGIC "CCJRNL1"
#define J_END "CCJEND1"
#define J_HDR 64
#define J_STATE_OFF 56
#define J_REC 32
#define J_TRAILER 16

enum { J_PREPARED = 0, J_WRITING = 1, J_WRITTEN = 2 };

#define COPY_CHUNK (1024 * 1024)

static long crash_point_at = -1, crash_steps;
static long long crash_bytes_at = -1, crash_bytes;
static bool crash_init_done;

static void crash_init(void)
{
	const char *s;

	if (crash_init_done)
		return;
	crash_init_done = true;
	if ((s = secure_getenv("CCLIENT_CRASH_POINT")) != NULL && *s != '\0')
		crash_point_at = atol(s);
	if ((s = secure_getenv("CCLIENT_CRASH_AFTER_BYTES")) != NULL && *s != '\0')
		crash_bytes_at = atoll(s);
}

void journal_crash_reset(void)
{
	crash_init_done = false;
	crash_point_at = crash_bytes_at = -1;
	crash_steps = 0;
	crash_bytes = 0;
	crash_init();
}

void journal_crash_point(void)
{
	crash_init();
	if (crash_point_at > 0 && ++crash_steps == crash_point_at)
		_exit(99);
}

/* pwrite that can be cut short by CCLIENT_CRASH_AFTER_BYTES */
static int crash_pwrite(int fd, const void *data, size_t len, uint64_t off)
{
	crash_init();
	if (crash_bytes_at >= 0 &&
	    crash_bytes + (long long)len > crash_bytes_at) {
		size_t part = (size_t)(crash_bytes_at - crash_bytes);
		(void)pwrite_full(fd, data, part, (off_t)off);
		_exit(99);
	}
	crash_bytes += (long long)len;
	return pwrite_full(fd, data, len, (off_t)off) < 0 ? -1 : 0;
}

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
	const unsigned char *s = p;

	for (size_t i = 0; i < n; i++) {
		h ^= s[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}
#define FNV_INIT 0xcbf29ce484222325ULL

static void put64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static void fsync_dir(const char *file)
{
	char *dir = path_dirname(file);
	int fd = open(dir, O_RDONLY | O_DIRECTORY);

	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
	free(dir);
}

/* the two places a journal can be; [1] may be NULL without $HOME */
static void journal_paths(const char *path, const struct stat *st,
			  char *paths[2])
{
	const char *slash = strrchr(path, '/');
	/* the session user's home (servers), else $HOME (tools) */
	const char *home = mail_user != NULL && mail_user->home != NULL ?
		mail_user->home : secure_getenv("HOME");

	if (slash == NULL)
		paths[0] = xasprintf(".%s.journal", path);
	else
		paths[0] = xasprintf("%.*s/.%s.journal", (int)(slash - path),
				     path, slash + 1);
	paths[1] = home == NULL || *home == '\0' ? NULL :
		xasprintf("%s/.cclient-journal/%lx-%lx", home,
			  (unsigned long)st->st_dev, (unsigned long)st->st_ino);
}

/* Is the mailbox's directory writable by everyone (a 1777 spool)? Then
 * its journals go to ~/.cclient-journal: anyone could plant or hold a
 * name there. */
static bool dir_world_writable(const char *path)
{
	char *dir = path_dirname(path);
	struct stat st;
	bool ww = stat(dir, &st) == 0 && (st.st_mode & S_IWOTH) != 0;

	free(dir);
	return ww;
}

/* Copy a journal we will not use (someone else's) to
 * ~/.cclient-journal/damaged-<dev>-<ino>, once, at most 64 MB. */
static void keep_foreign_copy(int jfd, const struct stat *jst,
			      const char *jpath)
{
	const char *home = mail_user != NULL && mail_user->home != NULL ?
		mail_user->home : secure_getenv("HOME");
	char *dir, *copy, buf[65536];
	off_t done = 0;
	int cfd;

	if (home == NULL || *home == '\0')
		return;
	dir = xasprintf("%s/.cclient-journal", home);
	(void)mkdir(dir, 0700);
	copy = xasprintf("%s/damaged-%lx-%lx", dir, (unsigned long)jst->st_dev,
			 (unsigned long)jst->st_ino);
	cfd = open(copy, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		   0600);
	if (cfd >= 0) {
		while (done < jst->st_size && done < 64 * 1024 * 1024) {
			ssize_t r = pread(jfd, buf, sizeof buf, done);
			if (r <= 0 || write_full(cfd, buf, (size_t)r) < 0)
				break;
			done += r;
		}
		close(cfd);
		log_warning("%s: copy kept as %s", jpath, copy);
	}
	free(copy);
	free(dir);
}

/* Open the journal at jpath for reading if it can be trusted. Returns
 * the fd; -1 if there is none; -2 if there is one we must not use
 * (logged, a copy kept). mst: the mailbox's fstat. */
static int journal_open_trusted(const char *jpath, const struct stat *mst,
				struct stat *jst_r)
{
	int fd = open(jpath, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	const char *why = NULL;

	if (fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return -1;
		log_warning("journal %s: %m, ignored", jpath);
		return -2;
	}
	if (fstat(fd, jst_r) < 0)
		why = "cannot fstat";
	else if (!S_ISREG(jst_r->st_mode))
		why = "not a plain file";
	else if (jst_r->st_uid != geteuid() && jst_r->st_uid != 0 &&
		 jst_r->st_uid != mst->st_uid)
		why = "owned by another user";
	else if ((jst_r->st_mode & (S_IWGRP | S_IWOTH)) != 0)
		why = "writable by others";
	else if (jst_r->st_nlink != 1)
		why = "has other links";
	if (why == NULL)
		return fd;
	log_warning("journal %s %s (uid %lu mode %o): not used", jpath, why,
		    (unsigned long)jst_r->st_uid,
		    (unsigned)(jst_r->st_mode & 07777));
	if (S_ISREG(jst_r->st_mode))
		keep_foreign_copy(fd, jst_r, jpath);
	close(fd);
	return -2;
}

/* A journal of ours that cannot be used: keep it as <jpath>.damaged (for
 * an administrator to look at) and go on without it. */
static void journal_set_aside(const char *path, const char *jpath,
			      const char *why)
{
	char *aside = xasprintf("%s.damaged", jpath);

	if (rename(jpath, aside) == 0)
		log_error("%s: journal %s %s: kept as %s, mailbox left as it "
			  "is", path, jpath, why, aside);
	else {
		log_error("%s: journal %s %s, cannot keep it (%m): removed",
			  path, jpath, why);
		(void)unlink(jpath);
	}
	fsync_dir(jpath);
	free(aside);
}

static void journal_paths_free(char *paths[2])
{
	free(paths[0]);
	free(paths[1]);
}

struct jwriter {
	int fd;
	uint64_t hash;
	uint64_t len;
	struct buf out;
};

static int jw_put(struct jwriter *jw, const void *p, size_t n)
{
	jw->hash = fnv1a(jw->hash, p, n);
	jw->len += n;
	if (!buf_append(&jw->out, p, n))
		return -1;
	if (jw->out.len >= COPY_CHUNK) {
		if (write_full(jw->fd, jw->out.data, jw->out.len) < 0)
			return -1;
		buf_reset(&jw->out);
	}
	return 0;
}

static int jw_flush(struct jwriter *jw)
{
	if (jw->out.len > 0 &&
	    write_full(jw->fd, jw->out.data, jw->out.len) < 0)
		return -1;
	buf_reset(&jw->out);
	return 0;
}

/* one record: old bytes [off, off+old_cnt) copied from the mailbox */
static int jw_record(struct jwriter *jw, int mfd, uint64_t off,
		     const void *data, size_t len, uint64_t old_cnt)
{
	unsigned char rec[J_REC];
	char *chunk;
	uint64_t done = 0;

	put64(rec, off);
	put64(rec + 8, len);
	put64(rec + 16, fnv1a(FNV_INIT, data, len));
	put64(rec + 24, old_cnt);
	if (jw_put(jw, rec, sizeof rec) < 0)
		return -1;
	if (old_cnt == 0)
		return 0;
	chunk = xmalloc(COPY_CHUNK);
	while (done < old_cnt) {
		size_t want = old_cnt - done > COPY_CHUNK ? COPY_CHUNK :
			(size_t)(old_cnt - done);
		ssize_t r = pread_full(mfd, chunk, want, (off_t)(off + done));
		if (r != (ssize_t)want || jw_put(jw, chunk, want) < 0) {
			free(chunk);
			return -1;
		}
		done += want;
	}
	free(chunk);
	return 0;
}

static int set_state(int jfd, uint64_t state, bool durable)
{
	unsigned char b[8];

	put64(b, state);
	if (pwrite_full(jfd, b, 8, J_STATE_OFF) < 0 ||
	    (durable && fdatasync(jfd) < 0))
		return -1;
	return 0;
}

/* write the journal to jpath (via a temporary name); returns its fd */
/* redo records carry the new bytes themselves */
static int jw_redo_record(struct jwriter *jw, uint64_t off, const void *data,
			  size_t len, uint64_t hash)
{
	unsigned char rec[J_REC];

	put64(rec, off);
	put64(rec + 8, len);
	put64(rec + 16, hash);
	put64(rec + 24, len);
	if (jw_put(jw, rec, sizeof rec) < 0)
		return -1;
	return len > 0 ? jw_put(jw, data, len) : 0;
}

/* Write the journal to jpath (via a temporary name); returns its fd.
 * An undo journal (redo false) saves the old bytes the change
 * overwrites or cuts off. A redo journal (recovery) holds the final
 * bytes of each region and, as its last record, the hash of the bytes
 * [new_len, old_len) that the final truncation removes. */
static int journal_write(const char *jpath, int mfd, const struct stat *st,
			 uint64_t old_len, const struct journal_region *regions,
			 unsigned n, uint64_t new_len, bool redo,
			 uint64_t junk_hash, const char **error_r)
{
	char *tmp = xasprintf("%s.tmp", jpath);
	struct jwriter jw;
	unsigned char hdr[J_HDR], trailer[J_TRAILER];
	unsigned nrec = redo ? n + 1 : n + (new_len < old_len ? 1 : 0);
	int fd;

	memset(&jw, 0, sizeof jw);
	/* whatever has the name (a crash's leftover, a planted link) goes;
	 * the file is always a new one of ours */
	(void)unlink(tmp);
	fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		  0600);
	if (fd < 0) {
		free(tmp);
		*error_r = "Cannot create journal file";
		return -1;
	}
	jw.fd = fd;
	jw.hash = FNV_INIT;
	buf_init(&jw.out, 0);
	memset(hdr, 0, sizeof hdr);
	memcpy(hdr, J_MAGIC, 8);
	put64(hdr + 8, (uint64_t)st->st_dev);
	put64(hdr + 16, (uint64_t)st->st_ino);
	put64(hdr + 24, old_len);
	put64(hdr + 32, new_len);
	hdr[40] = (unsigned char)nrec;
	hdr[41] = (unsigned char)(nrec >> 8);
	hdr[42] = (unsigned char)(nrec >> 16);
	hdr[43] = (unsigned char)(nrec >> 24);
	hdr[44] = redo ? 1 : 0;
	/* total length: header, records, old bytes, trailer */
	uint64_t total = J_HDR + (uint64_t)nrec * J_REC + J_TRAILER;
	for (unsigned i = 0; i < n; i++)
		if (redo)
			total += regions[i].len;
		else if (regions[i].offset < old_len)
			total += regions[i].len < old_len - regions[i].offset ?
				regions[i].len : old_len - regions[i].offset;
	if (new_len < old_len && !redo)
		total += old_len - new_len;
	put64(hdr + 48, total);
	int ret = jw_put(&jw, hdr, sizeof hdr);
	for (unsigned i = 0; i < n && ret == 0 && redo; i++)
		ret = jw_redo_record(&jw, regions[i].offset, regions[i].data,
				     regions[i].len, 0);
	if (redo && ret == 0)
		ret = jw_redo_record(&jw, new_len, "", 0, junk_hash);
	for (unsigned i = 0; i < n && ret == 0 && !redo; i++) {
		uint64_t off = regions[i].offset, cnt = 0;
		if (off < old_len)
			cnt = regions[i].len < old_len - off ?
				regions[i].len : old_len - off;
		ret = jw_record(&jw, mfd, off, regions[i].data,
				regions[i].len, cnt);
	}
	if (ret == 0 && new_len < old_len && !redo)
		ret = jw_record(&jw, mfd, new_len, "", 0, old_len - new_len);
	if (ret == 0) {
		put64(trailer, jw.hash);
		memcpy(trailer + 8, J_END, 8);
		ret = jw_put(&jw, trailer, sizeof trailer);
	}
	if (ret == 0)
		ret = jw_flush(&jw);
	buf_release(&jw.out);
	if (ret == 0 && jw.len != total)
		panic("journal length %llu != %llu",
		      (unsigned long long)jw.len, (unsigned long long)total);
	if (ret == 0 && fsync(fd) < 0)
		ret = -1;
	journal_crash_point();
	if (ret == 0 && rename(tmp, jpath) < 0)
		ret = -1;
	if (ret < 0) {
		int err = errno;
		log_error("writing journal %s: %m", jpath);
		(void)unlink(tmp);
		close(fd);
		free(tmp);
		/* say why when it is the disk (tests/test_diskfull.py) */
		*error_r = err == ENOSPC ?
			"Cannot write journal file: not enough disk space" :
			err == EDQUOT ?
			"Cannot write journal file: disk quota exceeded" :
			"Cannot write journal file";
		errno = err;
		return -1;
	}
	free(tmp);
	journal_crash_point();
	fsync_dir(jpath);
	journal_crash_point();
	return fd;
}

/* the tail both a change and a repair end with: the regions written and
 * made durable; then the file cut to len if it is longer (cur), and the
 * journal dropped. -1 (errno set) leaves jfd open and the journal in
 * place. */
static int write_regions(int fd, const struct journal_region *regs,
			 unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		if (crash_pwrite(fd, regs[i].data, regs[i].len,
				 regs[i].offset) < 0)
			return -1;
		journal_crash_point();
	}
	if (fsync(fd) < 0)
		return -1;
	journal_crash_point();
	return 0;
}

static int finish(int fd, int jfd, const char *jpath, uint64_t len,
		  uint64_t cur)
{
	if (len < cur) {
		if (ftruncate(fd, (off_t)len) < 0 || fsync(fd) < 0)
			return -1;
		journal_crash_point();
	}
	close(jfd);
	if (unlink(jpath) < 0)
		log_warning("unlink %s: %m", jpath);
	fsync_dir(jpath);
	journal_crash_point();
	return 0;
}

static int apply_at(const char *jpath, int fd, const struct stat *st,
		    uint64_t old_len, const struct journal_region *regions,
		    unsigned n, uint64_t new_len, const char **error_r)
{
	int jfd = journal_write(jpath, fd, st, old_len, regions, n, new_len,
				false, 0, error_r);

	if (jfd < 0)
		return -1;
	/* Growth first, made durable before any data goes into the grown
	 * area: otherwise a power loss could bring the file back with the
	 * new size lost but blocks written past the old end, where recovery
	 * would then take them for mail an MTA appended meanwhile. */
	if (new_len > old_len) {
		if (ftruncate(fd, (off_t)new_len) < 0 || fsync(fd) < 0)
			goto fail;
		journal_crash_point();
	}
	if (set_state(jfd, J_WRITING, true) < 0)
		goto fail;
	journal_crash_point();
	if (write_regions(fd, regions, n) < 0)
		goto fail;
	/* WRITTEN must be on disk before a truncation; otherwise a journal
	 * found in WRITING with every region's hash right completes the
	 * same way, so it need not be synced */
	if (set_state(jfd, J_WRITTEN, new_len < old_len) < 0)
		goto fail;
	journal_crash_point();
	if (finish(fd, jfd, jpath, new_len, old_len) < 0)
		goto fail;
	return 0;
fail:
	/* leave the journal: the next open under the lock repairs the file */
	log_error("writing mailbox %s: %m", jpath);
	close(jfd);
	*error_r = "Error writing mailbox (it will be repaired on next open)";
	return -1;
}

int journal_apply(const char *path, int fd, uint64_t old_len,
		  const struct journal_region *regions, unsigned n,
		  uint64_t new_len, const char **error_r)
{
	struct stat st;
	char *paths[2];
	int ret;

	for (unsigned i = 0; i < n; i++)
		if (regions[i].offset > new_len ||
		    regions[i].len > new_len - regions[i].offset)
			panic("journal region past the new end");
	if (fstat(fd, &st) < 0) {
		*error_r = "fstat failed";
		return -1;
	}
	journal_paths(path, &st, paths);
	/* a shared directory: straight to $HOME */
	bool shared = paths[1] != NULL && dir_world_writable(path);
	ret = -1;
	if (!shared)
		ret = apply_at(paths[0], fd, &st, old_len, regions, n, new_len,
			       error_r);
	if (shared ||
	    (ret < 0 && paths[1] != NULL && access(paths[0], F_OK) < 0)) {
		/* mailbox directory not writable: journal in $HOME */
		char *jdir = path_dirname(paths[1]);
		(void)mkdir(jdir, 0700);
		free(jdir);
		ret = apply_at(paths[1], fd, &st, old_len, regions, n,
			       new_len, error_r);
		if (ret < 0 && shared && access(paths[1], F_OK) < 0) {
			/* no usable home (a virtual user's): beside the
			 * mailbox after all; a planted name there makes the
			 * O_EXCL create or the rename fail, never our
			 * journal go elsewhere, and reading it back checks
			 * its owner */
			ret = apply_at(paths[0], fd, &st, old_len, regions,
				       n, new_len, error_r);
		}
	}
	journal_paths_free(paths);
	int err = errno;	/* journal_exists() looks at other names */
	if (ret < 0 && journal_exists(path, fd)) {
		/* A write failed after the journal was in place (typically
		 * ENOSPC/EDQUOT/EFBIG while growing the file). We still hold
		 * the lock: undo now rather than leave a grown or half-written
		 * file until the next open (tests/test_diskfull.py). If the
		 * undo fails too, the journal stays for the next open. */
		bool recovered = false;
		const char *rerr;
		struct stat cst;

		/* Give back the space of a growth first: the undo writes a
		 * small redo journal and needs room for it. Cutting at
		 * old_len is what the undo does anyway; a crash after the
		 * cut is undone the same way from the journal (regions past
		 * the end fail their hash check). */
		if (new_len > old_len && fstat(fd, &cst) == 0 &&
		    (uint64_t)cst.st_size > old_len &&
		    ftruncate(fd, (off_t)old_len) == 0)
			(void)fsync(fd);
		if (journal_recover(path, fd, &recovered, &rerr) == 0 &&
		    !journal_exists(path, fd)) {
			*error_r = err == ENOSPC ?
				"Not enough disk space (mailbox unchanged)" :
				err == EDQUOT ?
				"Disk quota exceeded (mailbox unchanged)" :
				err == EFBIG ?
				"Mailbox file too large (mailbox unchanged)" :
				"Error writing mailbox (mailbox unchanged)";
		}
	}
	errno = err;
	return ret;
}

/* ---- recovery ---- */

struct jrec {
	uint64_t off, len, hash, old_cnt;
	const unsigned char *old;
};

/* read and validate a journal; false if unusable */
static bool journal_parse(const unsigned char *j, size_t jlen,
			  const struct stat *st, uint64_t *old_len_r,
			  uint64_t *new_len_r, uint64_t *state_r,
			  struct jrec **recs_r, unsigned *nrec_r)
{
	uint64_t h, nrec, pos;
	unsigned char hdr[J_HDR];
	struct jrec *recs;

	if (jlen < J_HDR + J_TRAILER || memcmp(j, J_MAGIC, 8) != 0 ||
	    memcmp(j + jlen - 8, J_END, 8) != 0 || get64(j + 48) != jlen)
		return false;
	memcpy(hdr, j, J_HDR);
	memset(hdr + J_STATE_OFF, 0, 8);
	h = fnv1a(FNV_INIT, hdr, J_HDR);
	h = fnv1a(h, j + J_HDR, jlen - J_HDR - J_TRAILER);
	if (h != get64(j + jlen - J_TRAILER))
		return false;
	if (get64(j + 8) != (uint64_t)st->st_dev ||
	    get64(j + 16) != (uint64_t)st->st_ino)
		return false;
	nrec = (uint64_t)j[40] | (uint64_t)j[41] << 8 |
		(uint64_t)j[42] << 16 | (uint64_t)j[43] << 24;
	if (nrec > (jlen - J_HDR) / J_REC)
		return false;
	recs = xcalloc(nrec ? nrec : 1, sizeof *recs);
	pos = J_HDR;
	for (uint64_t i = 0; i < nrec; i++) {
		if (jlen - J_TRAILER - pos < J_REC)
			goto bad;
		recs[i].off = get64(j + pos);
		recs[i].len = get64(j + pos + 8);
		recs[i].hash = get64(j + pos + 16);
		recs[i].old_cnt = get64(j + pos + 24);
		pos += J_REC;
		if (recs[i].old_cnt > jlen - J_TRAILER - pos)
			goto bad;
		recs[i].old = j + pos;
		pos += recs[i].old_cnt;
	}
	if (pos != jlen - J_TRAILER)
		goto bad;
	*old_len_r = get64(j + 24);
	*new_len_r = get64(j + 32);
	*state_r = get64(j + J_STATE_OFF);
	for (uint64_t i = 0; i < nrec; i++)
		if (recs[i].old_cnt > 0 &&
		    (recs[i].off > *old_len_r ||
		     recs[i].old_cnt > *old_len_r - recs[i].off))
			goto bad;
	*recs_r = recs;
	*nrec_r = (unsigned)nrec;
	return true;
bad:
	free(recs);
	return false;
}

static bool region_hash_ok(int fd, uint64_t cur, const struct jrec *r)
{
	char *chunk;
	uint64_t h = FNV_INIT, done = 0;

	if (r->len == 0)
		return true;
	if (r->off > cur || r->len > cur - r->off)
		return false;
	chunk = xmalloc(COPY_CHUNK);
	while (done < r->len) {
		size_t want = r->len - done > COPY_CHUNK ? COPY_CHUNK :
			(size_t)(r->len - done);
		if (pread_full(fd, chunk, want, (off_t)(r->off + done)) !=
		    (ssize_t)want) {
			free(chunk);
			return false;
		}
		h = fnv1a(h, chunk, want);
		done += want;
	}
	free(chunk);
	return h == r->hash;
}

static bool file_equals(int fd, uint64_t off, const unsigned char *p,
			uint64_t n)
{
	char *chunk = xmalloc(COPY_CHUNK);
	uint64_t done = 0;
	bool eq = true;

	while (done < n && eq) {
		size_t want = n - done > COPY_CHUNK ? COPY_CHUNK :
			(size_t)(n - done);
		eq = pread_full(fd, chunk, want, (off_t)(off + done)) ==
			(ssize_t)want && memcmp(chunk, p + done, want) == 0;
		done += want;
	}
	free(chunk);
	return eq;
}

static bool file_zero(int fd, uint64_t off, uint64_t n)
{
	char *chunk = xmalloc(COPY_CHUNK);
	uint64_t done = 0;
	bool zero = true;

	while (done < n && zero) {
		size_t want = n - done > COPY_CHUNK ? COPY_CHUNK :
			(size_t)(n - done);
		if (pread_full(fd, chunk, want, (off_t)(off + done)) !=
		    (ssize_t)want)
			zero = false;
		for (size_t i = 0; i < want && zero; i++)
			zero = chunk[i] == 0;
		done += want;
	}
	free(chunk);
	return zero;
}

/* FNV-1a of file bytes [off, off+n); false if they cannot be read */
static bool hash_file(int fd, uint64_t off, uint64_t n, uint64_t *h_r)
{
	char *chunk = xmalloc(COPY_CHUNK);
	uint64_t h = FNV_INIT, done = 0;
	bool ok = true;

	while (done < n && ok) {
		size_t want = n - done > COPY_CHUNK ? COPY_CHUNK :
			(size_t)(n - done);
		ok = pread_full(fd, chunk, want, (off_t)(off + done)) ==
			(ssize_t)want;
		if (ok)
			h = fnv1a(h, chunk, want);
		done += want;
	}
	free(chunk);
	*h_r = h;
	return ok;
}

/* Apply a redo journal: regions hold final bytes, then the file is cut
 * to final. Replaces whatever journal was at jpath (atomically). */
static int redo_apply(const char *jpath, int fd, const struct stat *st,
		      uint64_t cur, const struct journal_region *regs,
		      unsigned n, uint64_t final, const char **error_r)
{
	uint64_t junk;
	int jfd;

	if (final > cur)
		panic("redo past the end");
	if (!hash_file(fd, final, cur - final, &junk)) {
		*error_r = "Cannot read mailbox during recovery";
		return -1;
	}
	jfd = journal_write(jpath, fd, st, cur, regs, n, final, true, junk,
			    error_r);
	if (jfd < 0)
		return -1;
	if (write_regions(fd, regs, n) < 0 ||
	    finish(fd, jfd, jpath, final, cur) < 0)
		goto fail;
	return 0;
fail:
	log_error("recovering mailbox (journal %s): %m", jpath);
	close(jfd);
	*error_r = "Error writing mailbox during recovery";
	return -1;
}

static int recover_one(const char *path, const char *jpath, int fd,
		       const struct stat *st, const char **error_r)
{
	size_t jlen;
	unsigned char *j;
	uint64_t old_len, new_len, state, cur, app_start, dest;
	struct jrec *recs;
	unsigned nrec, n = 0;
	bool forward, redo;
	int ret = 0;

	{
		struct stat jst;
		int jfd = journal_open_trusted(jpath, st, &jst);

		if (jfd < 0)
			return 0;	/* none, or not ours: logged */
		jlen = (size_t)jst.st_size;
		j = xmalloc(jlen ? jlen : 1);
		if (pread_full(jfd, j, jlen, 0) != (ssize_t)jlen) {
			close(jfd);
			free(j);
			*error_r = "Cannot read mailbox journal";
			return -1;
		}
		close(jfd);
	}
	if (!journal_parse(j, jlen, st, &old_len, &new_len, &state, &recs,
			   &nrec) || (j[44] == 1 && nrec == 0)) {
		/* never finished, or for another file: the mailbox was not
		 * touched under it */
		log_warning("%s: removing unusable journal %s", path, jpath);
		(void)unlink(jpath);
		free(j);
		return 0;
	}
	redo = j[44] == 1;
	cur = (uint64_t)st->st_size;
	forward = false;
	if (redo) {
		/* a recovery that was itself interrupted: its records are
		 * final; has its truncation happened? */
		const struct jrec *junk = &recs[nrec - 1];
		uint64_t h;
		forward = true;
		app_start = new_len;
		if (cur >= old_len && hash_file(fd, new_len, old_len - new_len,
						&h) && h == junk->hash)
			app_start = old_len;
		nrec--;
	} else if (state == J_PREPARED) {
		app_start = old_len;
		if (new_len > old_len && cur >= new_len &&
		    file_zero(fd, old_len, new_len - old_len))
			app_start = new_len;
	} else if (state == J_WRITING) {
		forward = true;
		for (unsigned i = 0; i < nrec && forward; i++)
			forward = region_hash_ok(fd, cur, &recs[i]);
		app_start = old_len > new_len ? old_len : new_len;
	} else {
		forward = true;
		app_start = new_len;
		if (new_len < old_len && cur >= old_len && nrec > 0) {
			/* was the truncation done? the tail record holds
			 * the old bytes that were to be cut off */
			const struct jrec *tail = &recs[nrec - 1];
			if (tail->len == 0 && tail->off == new_len &&
			    file_equals(fd, new_len, tail->old, tail->old_cnt))
				app_start = old_len;
		}
	}
	if (app_start > cur)
		app_start = cur;

	/* bytes an MTA appended after the crash stay, after the content */
	uint64_t app_len = cur - app_start;
	dest = forward ? new_len : old_len;
	unsigned char *app = xmalloc(app_len ? app_len : 1);
	struct journal_region *regs = xcalloc(nrec + 1, sizeof *regs);
	if (app_len > 0 && pread_full(fd, app, app_len, (off_t)app_start) !=
	    (ssize_t)app_len) {
		*error_r = "Cannot read mailbox during recovery";
		ret = -1;
		goto out;
	}
	log_warning("%s: recovering interrupted change (%s, %llu bytes "
		    "appended since)", path, redo ? "redoing" : forward ?
		    "completing" : "undoing", (unsigned long long)app_len);
	if (redo || (!forward && state != J_PREPARED)) {
		/* redo: the final bytes; undo: the old bytes */
		for (unsigned i = 0; i < nrec; i++) {
			if (recs[i].old_cnt == 0)
				continue;
			regs[n].offset = recs[i].off;
			regs[n].data = recs[i].old;
			regs[n].len = recs[i].old_cnt;
			n++;
		}
	}
	if (app_len > 0 && dest != app_start) {
		regs[n].offset = dest;
		regs[n].data = app;
		regs[n].len = app_len;
		n++;
	}
	if (dest + app_len > cur || dest + app_len < dest) {
		/* lengths the file cannot have: not a change of this file
		 * as it is (damage, or someone else's bytes) */
		journal_set_aside(path, jpath, "does not fit the mailbox");
		goto out;
	}
	if (n == 0 && cur == dest + app_len) {
		/* complete already */
		if (unlink(jpath) < 0)
			log_warning("unlink %s: %m", jpath);
		fsync_dir(jpath);
	} else {
		/* the repair is a redo journal that replaces this one */
		ret = redo_apply(jpath, fd, st, cur, regs, n, dest + app_len,
				 error_r);
	}
out:
	free(regs);
	free(app);
	free(recs);
	free(j);
	return ret;
}

/* is there a journal at jpath we would use? (untrusted ones: logged) */
static bool journal_usable(const char *jpath, const struct stat *mst)
{
	struct stat jst;
	int fd = journal_open_trusted(jpath, mst, &jst);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

int journal_recover(const char *path, int fd, bool *recovered_r,
		    const char **error_r)
{
	struct stat st;
	char *paths[2];
	int ret = 0;

	*recovered_r = false;
	for (int i = 0; i < 2 && ret == 0; i++) {
		if (fstat(fd, &st) < 0) {
			*error_r = "fstat failed";
			return -1;
		}
		journal_paths(path, &st, paths);
		if (paths[i] != NULL && journal_usable(paths[i], &st)) {
			*recovered_r = true;
			ret = recover_one(path, paths[i], fd, &st, error_r);
		}
		journal_paths_free(paths);
	}
	return ret;
}

bool journal_exists(const char *path, int fd)
{
	struct stat st;
	char *paths[2];
	bool found;

	if (fstat(fd, &st) < 0)
		return false;
	journal_paths(path, &st, paths);
	found = journal_usable(paths[0], &st) ||
		(paths[1] != NULL && journal_usable(paths[1], &st));
	journal_paths_free(paths);
	return found;
}
