/*
 * penalty.c - login failures counted per client address across every
 * server process (Dovecot's auth penalty), so a guesser gains nothing by
 * opening a new connection for each try. See penalty.h.
 *
 * The table is one small file ("login-penalty-file"): PENALTY_SLOTS
 * fixed records (address, failures, time of the last one), found by a
 * hash of the address with a short linear probe; a full probe reuses its
 * oldest slot. Every read-modify-write holds flock(LOCK_EX) on it.
 *
 * SECURITY: runs before login, as root, with an address that came from
 * the kernel (getpeername) or a trusted proxy. The file is opened with
 * O_NOFOLLOW and used only if it is a plain file with one link, owned by
 * the server's own uid, not writable by group or others; anything else
 * is logged once and the penalty is skipped (logins still work, with the
 * per-connection delay only). Records read back are bounded and their
 * address NUL-terminated before use. Delays are capped
 * ("login-penalty-max").
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
#include "log.h"
#include "penalty.h"

#define PENALTY_SLOTS	1024
#define PENALTY_PROBE	16
#define PENALTY_ADDR	48

struct penalty_rec {
	char addr[PENALTY_ADDR];
	uint32_t failures;
	uint32_t pad;
	int64_t last;
};

static bool penalty_warned;

/* addresses worth counting: not a pipe or a local socket */
static bool addr_counted(const char *addr)
{
	return addr != NULL && *addr != '\0' && strlen(addr) < PENALTY_ADDR &&
		strcmp(addr, "stdin") != 0 && strcmp(addr, "unknown") != 0 &&
		strcmp(addr, "local") != 0;
}

/* the table, locked; -1 when there is none to use. Only a failure
 * creates it: a server that never sees one leaves no file behind. */
static int penalty_open(bool create)
{
	const char *path = config_str("login-penalty-file");
	struct stat st;
	int fd;

	if (*path == '\0' || config_int("login-penalty-delay") <= 0)
		return -1;
	fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC | (create ? O_CREAT : 0),
		  0600);
	if (fd < 0 && !create && errno == ENOENT)
		return -1;
	if (fd < 0) {
		if (!penalty_warned)
			log_warning("login penalty file %s: %m (penalty not "
				    "applied)", path);
		penalty_warned = true;
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1 ||
	    st.st_uid != geteuid() ||
	    (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		if (!penalty_warned)
			log_warning("login penalty file %s refused: must be a "
				    "plain file of uid %lu, not writable by "
				    "others (penalty not applied)", path,
				    (unsigned long)geteuid());
		penalty_warned = true;
		close(fd);
		return -1;
	}
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			close(fd);
			return -1;
		}
	}
	return fd;
}

static uint32_t addr_hash(const char *addr)
{
	uint32_t h = 2166136261u;

	for (const unsigned char *p = (const unsigned char *)addr; *p; p++) {
		h ^= *p;
		h *= 16777619u;
	}
	return h;
}

/* find addr's slot (or the one to take for it); reads it into *r */
static off_t penalty_find(int fd, const char *addr, struct penalty_rec *r)
{
	uint32_t h = addr_hash(addr);
	off_t take = -1;
	int64_t oldest = INT64_MAX;

	for (unsigned i = 0; i < PENALTY_PROBE; i++) {
		off_t off = (off_t)((h + i) % PENALTY_SLOTS) * (off_t)sizeof *r;
		struct penalty_rec cur;
		ssize_t n = pread_full(fd, &cur, sizeof cur, off);

		if (n != (ssize_t)sizeof cur)
			memset(&cur, 0, sizeof cur);	/* past the end: empty */
		cur.addr[PENALTY_ADDR - 1] = '\0';
		if (strcmp(cur.addr, addr) == 0) {
			*r = cur;
			return off;
		}
		if (cur.addr[0] == '\0') {
			if (oldest != INT64_MIN) {
				take = off;
				oldest = INT64_MIN;	/* an empty slot wins */
			}
		} else if (cur.last < oldest) {
			take = off;
			oldest = cur.last;
		}
	}
	memset(r, 0, sizeof *r);
	snprintf(r->addr, sizeof r->addr, "%s", addr);
	return take;
}

long long penalty_delay(unsigned failures)
{
	long long base = config_int("login-penalty-delay");
	long long max = config_int("login-penalty-max");
	long long d;

	if (failures == 0 || base <= 0)
		return 0;
	d = base;
	for (unsigned i = 1; i < failures && d < max; i++)
		d *= 2;
	return max > 0 && d > max ? max : d;
}

/* failures recorded for addr that still count */
static unsigned failures_now(const struct penalty_rec *r)
{
	long long reset = config_int("login-penalty-reset");

	if (r->failures == 0 ||
	    (reset > 0 && (int64_t)time(NULL) - r->last > reset))
		return 0;
	return r->failures;
}

void penalty_wait(const char *addr)
{
	struct penalty_rec r;
	unsigned failures;
	long long delay;
	int fd;

	if (!addr_counted(addr) || (fd = penalty_open(false)) < 0)
		return;
	(void)penalty_find(fd, addr, &r);
	close(fd);
	failures = failures_now(&r);
	delay = penalty_delay(failures);
	if (delay <= 0)
		return;
	log_info("login penalty: %u recent failures from %s, waiting %lld s",
		 failures, addr, delay);
	struct timespec ts = { .tv_sec = (time_t)delay, .tv_nsec = 0 };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

void penalty_record(const char *addr, bool success)
{
	struct penalty_rec r;
	off_t off;
	int fd;

	if (!addr_counted(addr) || (fd = penalty_open(!success)) < 0)
		return;
	off = penalty_find(fd, addr, &r);
	if (off >= 0 && (!success || r.failures != 0)) {
		if (success) {
			memset(&r, 0, sizeof r);
		} else {
			r.failures = failures_now(&r);
			if (r.failures < 1000)
				r.failures++;
			r.last = (int64_t)time(NULL);
		}
		if (pwrite_full(fd, &r, sizeof r, off) < 0)
			log_warning("login penalty file: %m");
	}
	close(fd);
}
