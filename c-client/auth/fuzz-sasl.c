/* fuzz-sasl.c - libFuzzer harness: the SASL server exchanges (PLAIN,
 * LOGIN, CRAM-MD5, ANONYMOUS) and the strict base64 decoder of auth,
 * on hostile client lines. No PAM: the only password backend is a
 * passwd-file in /tmp with the user "fuzz" (password "secret", DES hash
 * so crypt stays cheap) and the CRAM-MD5 database holds "cram" (secret
 * "secret"), so the success paths are reachable too.
 *
 * Input: the first byte picks the mechanism (and the service and TLS
 * state); the rest is up to five client lines separated by LF, each
 * handed to sasl_step() as sent ("" is the empty "=" response, a line
 * "-" means no initial response). Nothing is logged in: auth_become()
 * is never called. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth-private.h"
#include "config.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	/* the CRAM-MD5 database must be mode 0600 whatever the umask */
	if (fd < 0 || fchmod(fd, 0600) < 0 ||
	    write_full(fd, text, strlen(text)) < 0)
		abort();
	close(fd);
}

static char pw[64], cram[64], anon[64];

static void cleanup(void)
{
	(void)unlink(pw);
	(void)unlink(cram);
	(void)unlink(anon);
}

static void setup(void)
{
	const char *err = NULL;

	snprintf(pw, sizeof pw, "/tmp/fuzz-sasl-pw.%ld", (long)getpid());
	snprintf(cram, sizeof cram, "/tmp/fuzz-sasl-cram.%ld", (long)getpid());
	snprintf(anon, sizeof anon, "/tmp/fuzz-sasl-anon.%ld", (long)getpid());
	/* FUZZ_SASL_LOG=1: show the auth log (to check which paths run) */
	log_to_stderr(getenv("FUZZ_SASL_LOG") != NULL);
	/* crypt("secret", "ab") */
	write_file(pw, "fuzz:abNANd1rDfiNc:1000:1000:/tmp\n"
		   "cram:x:1001:1001:/tmp\n"
		   "bad:x:1:2\n");
	write_file(cram, "cram\tsecret\n");
	write_file(anon, "");
	atexit(cleanup);
	if (!config_set("auth-backends", "passwd-file", &err) ||
	    !config_set("passwd-file", pw, &err) ||
	    !config_set("cram-md5-database", cram, &err) ||
	    !config_set("anonymous-file", anon, &err) ||
	    !config_set("plaintext-logins", "yes", &err)) {
		fprintf(stderr, "fuzz-sasl: config: %s\n", err);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const mechs[] = {
		"PLAIN", "LOGIN", "CRAM-MD5", "ANONYMOUS"
	};
	static bool ready;
	const char *err = NULL;
	struct buf chal, line, dec;
	struct auth_user u;
	struct sasl *s;
	size_t pos;

	if (!ready) {
		setup();
		ready = true;
	}
	if (size < 1)
		return 0;

	/* auth's own strict decoder on the whole input */
	buf_init(&dec, 0);
	(void)auth_base64_decode((const char *)data + 1, size - 1, &dec);
	buf_release(&dec);

	s = sasl_start(data[0] & 0x10 ? AUTH_SERVICE_POP : AUTH_SERVICE_IMAP,
		       mechs[data[0] % N_ELEMENTS(mechs)], (data[0] & 0x20) != 0,
		       "192.0.2.1", &err);
	if (s == NULL)
		return 0;
	buf_init(&chal, 0);
	buf_init(&line, 0);
	pos = 1;
	for (unsigned step = 0; step < 5 && pos <= size; step++) {
		const uint8_t *nl = pos < size ?
			memchr(data + pos, '\n', size - pos) : NULL;
		size_t end = nl != NULL ? (size_t)(nl - data) : size;
		enum sasl_status st;

		buf_reset(&line);
		buf_append(&line, data + pos, end - pos);
		memset(&u, 0, sizeof u);
		st = sasl_step(s, strcmp(buf_cstr(&line), "-") == 0 ? NULL :
			       buf_cstr(&line), &chal, &u, &err);
		if (st == SASL_OK)
			auth_user_free(&u);
		if (st != SASL_CONTINUE)
			break;
		pos = end + 1;
	}
	buf_release(&line);
	buf_release(&chal);
	sasl_free(&s);
	return 0;
}
