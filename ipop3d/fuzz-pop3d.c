/*
 * fuzz-pop3d.c - libFuzzer harness: one input is everything a client
 * sends in one POP3 session, run through the real ipop3d command loop
 * (session.c) in-process.
 *
 * The session starts in TRANSACTION state on a fresh INBOX (the fixed
 * mbox below: flags, keywords, MIME, "." and ">From " lines, a message
 * another client marked \Deleted), as if USER/PASS had just succeeded:
 * pop3_session_run_preauth() opens the maildrop for mail_user without
 * auth_become(), so the fuzzer never changes its uid. QUIT writes the
 * DELEs and \Seen flags back, so the update code is reached too.
 *
 * An input whose first line is "#auth" (that line is dropped) starts in
 * AUTHORIZATION state instead: CAPA, USER/PASS, APOP, AUTH and STLS on
 * hostile input. No login can succeed there (the only password backend
 * is a passwd-file whose single user has no valid hash and uid 0; no
 * CRAM-MD5 database, no anonymous login, no certificate), so the
 * failure paths are what gets fuzzed; login-failure-delay is 0.
 *
 * Nothing carries over between inputs: the spool and lock directories
 * are emptied and INBOX rewritten before each run; the input is a
 * regular file (EOF at its end, never blocks), the output /dev/null
 * (FUZZ_POP3D_SHOW=1: stderr).
 * EOF ends the session (no DELE applied), QUIT returns from the loop.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "config.h"
#include "lock.h"
#include "log.h"
#include "mail.h"
#include "pop3.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_USER "fuzz"

static const char inbox_text[] =
	"From alice@example.com Tue Jan  1 00:27:14 2019\n"
	"Return-Path: <alice@example.com>\n"
	"From: Alice <alice@example.com>\n"
	"To: fuzz@example.com\n"
	"Subject: plain text\n"
	"Date: Tue, 1 Jan 2019 00:27:14 +0000\n"
	"Message-ID: <1@example.com>\n"
	"X-IMAPbase: 1546302434 6 $Label1 Junk project-x\n"
	"Status: RO\n"
	"X-Status: A\n"
	"X-Keywords: Junk\n"
	"X-UID: 1\n"
	"\n"
	"Hello,\n"
	"\n"
	".a line that needs dot stuffing\n"
	".\n"
	">From the mbox escaping\n"
	"bye\n"
	"\n"
	"From bob@example.net Tue Jan  1 01:00:00 2019\n"
	"From: Bob <bob@example.net>\n"
	"To: fuzz@example.com\n"
	"Subject: =?ISO-8859-1?Q?M=FCller?= multipart\n"
	"Date: Tue, 1 Jan 2019 01:00:00 +0000\n"
	"MIME-Version: 1.0\n"
	"Content-Type: multipart/mixed; boundary=\"XyZ\"\n"
	"Status: O\n"
	"X-Keywords: $Label1 project-x\n"
	"X-UID: 2\n"
	"\n"
	"preamble\n"
	"--XyZ\n"
	"Content-Type: text/plain; charset=us-ascii\n"
	"\n"
	"part one\n"
	"--XyZ\n"
	"Content-Type: application/octet-stream\n"
	"Content-Transfer-Encoding: base64\n"
	"\n"
	"AAECAwQFBgcICQ==\n"
	"--XyZ--\n"
	"\n"
	"From carol@example.org Tue Jan  1 02:00:00 2019\n"
	"From: carol@example.org\n"
	"Subject: deleted by another client\n"
	"Status: RO\n"
	"X-Status: D\n"
	"X-UID: 3\n"
	"\n"
	"gone\n"
	"\n"
	"From dave@example.org Tue Jan  1 03:00:00 2019\n"
	"From: dave@example.org\n"
	"Subject: no body, CRLF inside\r\n"
	"X-UID: 5\n"
	"\n"
	"\n"
	"From erin@example.org Tue Jan  1 04:00:00 2019\n"
	"From: erin@example.org\n"
	"Subject: new\n"
	"\n"
	"line 1\n"
	"line 2\r\n"
	"line 3 with a lone \r CR\n"
	"line 4\n";

static char topdir[64];
static char inbox_path[128], input_path[128];
static char spool_dir[96], lock_dir[96];
static int null_fd = -1;

static void empty_dir(const char *dir)
{
	char path[512];
	struct dirent *d;
	DIR *dp = opendir(dir);

	if (dp == NULL)
		return;
	while ((d = readdir(dp)) != NULL) {
		if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, d->d_name);
		(void)unlink(path);
	}
	closedir(dp);
}

/* the temporary tree goes when the fuzzer exits normally */
static void cleanup(void)
{
	static const char *const subdirs[] = { "home", "spool", "lock", "" };
	char path[128];

	for (size_t i = 0; i < N_ELEMENTS(subdirs); i++) {
		snprintf(path, sizeof path, "%s/%s", topdir, subdirs[i]);
		empty_dir(path);
		if (subdirs[i][0] != '\0')
			(void)rmdir(path);
	}
	(void)rmdir(topdir);
}

static void set(const char *key, const char *value)
{
	const char *error;

	if (!config_set(key, value, &error))
		panic("fuzz-pop3d: config %s: %s", key, error);
}

static void setup(void)
{
	char home[96], path[128];
	int fd;

	snprintf(topdir, sizeof topdir, "/tmp/fuzz-pop3d.XXXXXX");
	if (mkdtemp(topdir) == NULL)
		panic("fuzz-pop3d: mkdtemp failed");
	atexit(cleanup);
	snprintf(home, sizeof home, "%s/home", topdir);
	snprintf(spool_dir, sizeof spool_dir, "%s/spool", topdir);
	snprintf(lock_dir, sizeof lock_dir, "%s/lock", topdir);
	if (mkdir(home, 0700) < 0 || mkdir(spool_dir, 0700) < 0 ||
	    mkdir(lock_dir, 0700) < 0)
		panic("fuzz-pop3d: mkdir failed");
	snprintf(inbox_path, sizeof inbox_path, "%s/" FUZZ_USER, spool_dir);
	snprintf(input_path, sizeof input_path, "%s/input", topdir);

	set("spool-directory", spool_dir);
	set("lock-directory", lock_dir);
	set("lock-timeout", "1");
	set("inbox-migrate", "no");
	set("pop3-autologout", "600");
	set("login-failure-delay", "0");
	set("login-penalty-delay", "0");	/* no table in /run, no sleeps */
	set("login-failures-max", "3");
	set("auth-backends", "passwd-file");
	snprintf(path, sizeof path, "%s/passwd", topdir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write_full(fd, FUZZ_USER ":!:0:0:/nonexistent:\n",
				 sizeof FUZZ_USER ":!:0:0:/nonexistent:\n" - 1) < 0)
		panic("fuzz-pop3d: cannot write %s", path);
	close(fd);
	set("passwd-file", path);
	snprintf(path, sizeof path, "%s/no-cram-md5", topdir);
	set("cram-md5-database", path);
	snprintf(path, sizeof path, "%s/no-anonymous", topdir);
	set("anonymous-file", path);
	snprintf(path, sizeof path, "%s/no-cert", topdir);
	set("ipop3d-tls-cert", path);
	set("ipop3d-tls-key", path);

	mail_user_set(FUZZ_USER, geteuid(), getegid(), home);
	/* to look at a session: CCLIENT_LOG_STDERR=1 shows the log,
	 * FUZZ_POP3D_SHOW=1 the server's responses (on stderr) */
	log_open("ipop3d");
	if (getenv("FUZZ_POP3D_SHOW") != NULL)
		null_fd = dup(STDERR_FILENO);
	else
		null_fd = open("/dev/null", O_WRONLY);
	if (null_fd < 0)
		panic("fuzz-pop3d: /dev/null");
}

static bool write_file(const char *path, const void *p, size_t n)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	bool ok;

	if (fd < 0)
		return false;
	ok = write_full(fd, p, n) >= 0;
	close(fd);
	return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bool preauth = true;
	int in_fd;

	if (null_fd < 0)
		setup();
	if (size >= 5 && memcmp(data, "#auth", 5) == 0) {
		const uint8_t *nl = memchr(data, '\n', size);

		preauth = false;
		size -= nl != NULL ? (size_t)(nl + 1 - data) : size;
		data = nl != NULL ? nl + 1 : data + 5;
	}
	empty_dir(spool_dir);
	empty_dir(lock_dir);
	if (!write_file(inbox_path, inbox_text, sizeof inbox_text - 1) ||
	    !write_file(input_path, data, size))
		panic("fuzz-pop3d: cannot write the input files");
	in_fd = open(input_path, O_RDONLY);
	if (in_fd < 0)
		panic("fuzz-pop3d: cannot open %s", input_path);
	lock_kiss_received = 0;
	if (preauth)
		pop3_session_run_preauth(in_fd, null_fd, "fuzz.example");
	else
		pop3_session_run(in_fd, null_fd, "fuzz.example", false);
	close(in_fd);
	return 0;
}
