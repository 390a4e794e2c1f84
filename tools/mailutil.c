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
 * repair is each format's repair hook (struct mail_driver.repair,
 * c-client/storage/repair.h): it never deletes a byte (what it cannot
 * place in the rebuilt mailbox goes into side files NAME.badmsg.N beside
 * it) and rewrites in place through journal.h (crash-safe, same inode,
 * owner and mode) under the format's own write lock.
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
#include "repair.h"
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

/* the format by the registry: a damaged file no probe claims goes to the
 * format whose repair_claim is highest; the driver's hook does the work */
static int cmd_repair(const char *name, bool fix)
{
	const struct mail_driver *d;
	struct mail_path mp;
	struct mail_repair r;
	struct stat st;
	const char *err;
	int ret = 1;

	if (mail_resolve(name, &mp, &err) < 0) {
		fail("repair", name, err);
		return 1;
	}
	mail_repair_init(&r, mp.path, fix);
	if (lstat(mp.path, &st) < 0 && (err = strerror(errno)) != NULL) {
		fail("repair", name, err);
		goto out;
	}
	d = S_ISLNK(st.st_mode) ? NULL : driver_detect_damaged(mp.path);
	if (S_ISLNK(st.st_mode) || d == NULL || d->repair == NULL) {
		fail("repair", name, S_ISLNK(st.st_mode) ? strerror(ELOOP) :
		     "not a mailbox file (repair handles mbox and mbx)");
		goto out;
	}
	if (d->repair(&r, &err) < 0) {
		fail("repair", name, err);
		goto out;
	}
	printf("%s: %s format, %zu bytes\n", mp.path, d->name, r.len);
	fputs(r.report.data, stdout);
	if (r.problems == 0) {
		printf("no problems found\n");
		ret = 0;
	} else if (!fix) {
		printf("%u problem(s) found; run \"mailutil repair --fix %s\" "
		       "to repair\n", r.problems, name);
	} else {
		printf("%u problem(s) repaired: mailbox rewritten (%zu bytes)"
		       "%s\n", r.problems, r.out.len, r.nbad > 0 ?
		       "; unplaced bytes are in the side files listed above" :
		       "");
		log_notice("repair %s: %u problem(s) fixed", mp.path,
			   r.problems);
		ret = 0;
	}
out:
	mail_repair_free(&r);
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
