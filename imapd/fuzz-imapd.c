/*
 * fuzz-imapd.c - libFuzzer harness: one input is the whole byte stream a
 * client sends in one IMAP session (commands, literals, IDLE lines...),
 * fed into the real command loop (client_run) in-process.
 *
 * The session starts already authenticated, exactly as PREAUTH does in
 * main.c, as a fake user whose home and spool live in a private temporary
 * directory; every input starts from the same small INBOX (flags,
 * keywords, MIME) and an otherwise empty home, so no state is carried
 * from one input to the next. The input is written into a pipe whose
 * write end is then closed, so the session always ends at EOF; responses
 * go to /dev/null (or to stderr with FUZZ_IMAPD_OUT=1, to read a seed's
 * transcript).
 *
 * SECURITY: the fuzzer usually runs as root, and hostile input chooses
 * mailbox names: restrict-mailbox-access=all and disabled namespaces keep
 * every name inside the temporary home; nothing outside it is written.
 */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "mail.h"
#include "mailname.h"
#include "imapd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_USER "fuzzuser"
/* what a pipe holds once enlarged; longer inputs are truncated */
#define FUZZ_MAX_INPUT (60 * 1024)

static char topdir[64];
static char homedir[128], spooldir[128], lockdir[128], inbox[160];
static int null_fd = -1;

/* INBOX: UW-style mbox with X-IMAPbase, per-message flags and keywords,
 * one multipart message with an attachment and an encoded header */
static const char inbox_mbox[] =
	"From alice@example.org Tue Jan  1 00:27:14 2019\n"
	"Return-Path: <alice@example.org>\n"
	"From: \"Alice Example\" <alice@example.org>\n"
	"To: Fuzz User <fuzzuser@example.com>, bob@example.net\n"
	"Cc: carol@example.net\n"
	"Subject: Proposal for storage expansion\n"
	"Date: Tue, 1 Jan 2019 00:27:14 +0000\n"
	"Message-ID: <1@example.org>\n"
	"MIME-Version: 1.0\n"
	"Content-Type: text/plain; charset=us-ascii\n"
	"X-IMAPbase: 1795313742 5 $Label1 Junk project-x\n"
	"Status: RO\n"
	"X-Status: A\n"
	"X-Keywords: $Label1\n"
	"X-UID: 1\n"
	"\n"
	"Hello Bob,\n"
	"\n"
	">From the numbers the storage is almost full.\n"
	"\n"
	"From alice@example.org Wed Jan  2 10:00:00 2019\n"
	"From: Alice Example <alice@example.org>\n"
	"To: fuzzuser@example.com\n"
	"Subject: =?UTF-8?B?UmU6IGTDqWrDoCB2dQ==?=\n"
	"Date: Wed, 2 Jan 2019 10:00:00 +0100\n"
	"Message-ID: <2@example.org>\n"
	"In-Reply-To: <1@example.org>\n"
	"References: <1@example.org>\n"
	"MIME-Version: 1.0\n"
	"Content-Type: multipart/mixed; boundary=\"b1\"\n"
	"Status: O\n"
	"X-Status: F\n"
	"X-Keywords: Junk project-x\n"
	"X-UID: 2\n"
	"\n"
	"preamble\n"
	"--b1\n"
	"Content-Type: text/plain; charset=utf-8\n"
	"Content-Transfer-Encoding: quoted-printable\n"
	"\n"
	"caf=C3=A9 and more text\n"
	"--b1\n"
	"Content-Type: message/rfc822\n"
	"\n"
	"From: inner@example.org\n"
	"Subject: inner\n"
	"\n"
	"inner body\n"
	"--b1\n"
	"Content-Type: application/octet-stream; name=\"a.bin\"\n"
	"Content-Disposition: attachment; filename=\"a.bin\"\n"
	"Content-Transfer-Encoding: base64\n"
	"\n"
	"AAECAwQFBgcICQ==\n"
	"--b1--\n"
	"epilogue\n"
	"\n"
	"From bob@example.net Thu Jan  3 12:00:00 2019\n"
	"From: bob@example.net\n"
	"To: fuzzuser@example.com\n"
	"Subject: Re: Proposal for storage expansion\n"
	"Date: Thu, 3 Jan 2019 12:00:00 -0500\n"
	"Message-ID: <3@example.net>\n"
	"In-Reply-To: <1@example.org>\n"
	"Status: \n"
	"X-Status: D\n"
	"X-Keywords:\n"
	"X-UID: 4\n"
	"\n"
	"Agreed.\n"
	"\n"
	"From carol@example.net Fri Jan  4 08:00:00 2019\n"
	"From: carol@example.net\n"
	"To: fuzzuser@example.com\n"
	"Subject: lunch\n"
	"Date: Fri, 4 Jan 2019 08:00:00 +0000\n"
	"\n"
	"new, no UID yet\n"
	"\n";

/* remove everything below path (not path itself); no symlinks followed */
static void empty_dir(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	char sub[4096];
	struct stat st;

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if ((size_t)snprintf(sub, sizeof sub, "%s/%s", path,
				     e->d_name) >= sizeof sub)
			continue;
		if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode)) {
			empty_dir(sub);
			(void)rmdir(sub);
		} else {
			(void)unlink(sub);
		}
	}
	closedir(d);
}

static void cleanup(void)
{
	if (topdir[0] == '\0')
		return;
	empty_dir(topdir);
	(void)rmdir(topdir);
}

static void set(const char *key, const char *value)
{
	const char *error;

	if (!config_set(key, value, &error)) {
		fprintf(stderr, "fuzz-imapd: config %s: %s\n", key, error);
		abort();
	}
}

static void setup_once(void)
{
	const char *out;

	snprintf(topdir, sizeof topdir, "/tmp/fuzz-imapd.XXXXXX");
	if (mkdtemp(topdir) == NULL) {
		perror("fuzz-imapd: mkdtemp");
		abort();
	}
	atexit(cleanup);
	snprintf(homedir, sizeof homedir, "%s/home", topdir);
	snprintf(spooldir, sizeof spooldir, "%s/spool", topdir);
	snprintf(lockdir, sizeof lockdir, "%s/lock", topdir);
	snprintf(inbox, sizeof inbox, "%s/%s", spooldir, FUZZ_USER);
	if (mkdir(homedir, 0700) < 0 || mkdir(spooldir, 0700) < 0 ||
	    mkdir(lockdir, 0700) < 0) {
		perror("fuzz-imapd: mkdir");
		abort();
	}

	/* syslog stays quiet: nothing we log is an emergency */
	(void)setlogmask(LOG_MASK(LOG_EMERG));
	set("spool-directory", spooldir);
	set("lock-directory", lockdir);
	set("lock-timeout", "0");
	set("login-penalty-delay", "0");	/* no table in /run, no sleeps */
	set("restrict-mailbox-access", "all");
	set("shared-namespace-user", "");
	set("public-namespace-user", "");
	set("ftp-namespace-user", "");
	set("inbox-migrate", "no");
	set("alert-file", "/nonexistent/fuzz-imapd.alert");
	set("imap-autologout", "5");
	set("imap-idle-fake-new-mail", "0");
	set("max-line-length", "8192");
	set("max-literal-size", "65536");
	mail_user_set(FUZZ_USER, getuid(), getgid(), homedir);
	imapd_nul_to_0x80 = false;
	fetch_cache_init();
	signal(SIGPIPE, SIG_IGN);

	out = getenv("FUZZ_IMAPD_OUT");
	if (out != NULL && strcmp(out, "1") == 0)
		null_fd = STDERR_FILENO;
	else if ((null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC)) < 0) {
		perror("fuzz-imapd: /dev/null");
		abort();
	}
}

/* the same starting point for every input */
static bool reset_mail(void)
{
	int fd;

	empty_dir(homedir);
	empty_dir(spooldir);
	empty_dir(lockdir);
	fd = open(inbox, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return false;
	if (write_full(fd, inbox_mbox, sizeof inbox_mbox - 1) < 0) {
		close(fd);
		return false;
	}
	close(fd);
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct client c;
	struct buf caps;
	int p[2];

	if (topdir[0] == '\0')
		setup_once();
	if (!reset_mail())
		abort();
	if (size > FUZZ_MAX_INPUT)
		size = FUZZ_MAX_INPUT;
	if (pipe2(p, O_CLOEXEC) < 0)
		abort();
	/* a pipe holds 64 KB by default; ask for more and keep the input to
	 * what fits, so the write never blocks */
	(void)fcntl(p[1], F_SETPIPE_SZ, 128 * 1024);
	if (size > 0 && write_full(p[1], data, size) < 0)
		abort();
	close(p[1]);

	memset(&c, 0, sizeof c);
	c.host = xstrdup("fuzz");
	log_set_host(c.host);
	c.ios = ios_new(p[0], null_fd);
	ios_set_timeout(c.ios, (unsigned)config_int("imap-autologout"));
	c.state = STATE_NOTAUTH;

	/* what main.c does for PREAUTH, without auth_become() (the user is
	 * already set up and we must not change privileges) */
	c.user = xstrdup(FUZZ_USER);
	log_set_user(c.user);
	client_state_change(&c, STATE_AUTH);
	buf_init(&caps, 0);
	client_capability(&c, &caps);
	client_untagged(&c, "PREAUTH [CAPABILITY %s] Pre-authenticated user %s",
			caps.data, c.user);
	client_send_alert(&c);
	buf_release(&caps);
	(void)ios_flush(c.ios);
	client_run(&c);

	ios_free(&c.ios);
	xfree(&c.host);
	xfree(&c.user);
	xfree(&c.lost_why);
	log_set_user(NULL);
	log_set_host(NULL);
	close(p[0]);
	return 0;
}
