/*
 * cram.c - the CRAM-MD5 database (UW's /etc/cram-md5.pwd, md5.txt; FAQ
 * 3.8, 3.9, 3.16), HMAC-MD5 (RFC 2104/2195), MD5 for APOP (RFC 1939),
 * challenges, and the strict base64 decoder SASL uses.
 *
 * Database format (UW's): one "user<TAB>password" per line; lines that
 * start with "#" and empty lines are ignored. The passwords are stored in
 * the clear (CRAM-MD5 needs them), so the file must be owned by root (or
 * the user the server runs as) and not readable by group or others; a
 * file that fails this is refused with a log line and treated as absent.
 *
 * SECURITY: the database holds plaintext secrets: every copy is wiped
 * after use. Lines are bounded.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "auth-private.h"
#include "config.h"
#include "log.h"

#define CRAM_LINE_MAX 2048

/* Open the database if it passes the checks; NULL otherwise (absent is
 * silent, refused is logged once per process). */
static FILE *cram_open(void)
{
	static bool refused_logged;
	const char *path = config_str("cram-md5-database");
	struct stat st;
	FILE *f;
	int fd;

	if (path[0] == '\0')
		return NULL;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno != ENOENT && !refused_logged) {
			log_error("CRAM-MD5 database %s: %s", path,
				  strerror(errno));
			refused_logged = true;
		}
		return NULL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (st.st_uid != 0 && st.st_uid != geteuid()) ||
	    (st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
		if (!refused_logged)
			log_error("CRAM-MD5 database %s refused: it must be a "
				  "regular file owned by root with mode 0400 or "
				  "0600 (found mode %04o, owner %lu); CRAM-MD5 "
				  "and APOP are off", path,
				  (unsigned)(st.st_mode & 07777),
				  (unsigned long)st.st_uid);
		refused_logged = true;
		close(fd);
		return NULL;
	}
	f = fdopen(fd, "r");
	if (f == NULL)
		close(fd);
	return f;
}

bool auth_cram_available(void)
{
	FILE *f = cram_open();

	if (f == NULL)
		return false;
	fclose(f);
	return true;
}

char *cram_secret(const char *user)
{
	FILE *f = cram_open();
	char *line, *secret = NULL;

	if (f == NULL)
		return NULL;
	line = xmalloc(CRAM_LINE_MAX);
	while (fgets(line, CRAM_LINE_MAX, f) != NULL) {
		size_t len = strlen(line);
		char *tab;

		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		else if (!feof(f)) {
			int c;
			while ((c = getc(f)) != EOF && c != '\n')
				;
			continue;	/* over-long line: never a match */
		}
		if (len > 0 && line[len - 1] == '\r')
			line[--len] = '\0';
		if (line[0] == '#' || (tab = strchr(line, '\t')) == NULL)
			continue;
		*tab = '\0';
		if (strcmp(line, user) == 0) {
			secret = xstrdup(tab + 1);
			break;
		}
	}
	explicit_bzero(line, CRAM_LINE_MAX);
	free(line);
	fclose(f);
	return secret;
}

static void hex(const unsigned char *d, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[d[i] >> 4];
		out[2 * i + 1] = digits[d[i] & 15];
	}
	out[2 * n] = '\0';
}

void cram_hmac_md5_hex(const char *key, const char *text, char out[33])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	if (HMAC(EVP_md5(), key, (int)strlen(key),
		 (const unsigned char *)text, strlen(text), md, &len) == NULL ||
	    len != 16)
		panic("HMAC-MD5 unavailable");
	hex(md, 16, out);
	explicit_bzero(md, sizeof md);
}

void cram_md5_hex(const void *data, size_t len, char out[33])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (!EVP_Digest(data, len, md, &mdlen, EVP_md5(), NULL) || mdlen != 16)
		panic("MD5 unavailable");
	hex(md, 16, out);
}

void cram_challenge(struct buf *out)
{
	char host[256];
	uint64_t r = 0;

	if (gethostname(host, sizeof host) < 0 || host[0] == '\0')
		strcpy(host, "localhost");
	host[sizeof host - 1] = '\0';
	/* unpredictable, so an old digest is never valid again */
	if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r)
		r = (uint64_t)clock() ^ ((uint64_t)getpid() << 32);
	buf_printf(out, "<%ld.%llu.%016llx@%s>", (long)getpid(),
		   (unsigned long long)time(NULL), (unsigned long long)r, host);
}

/* ---- strict base64 ---- */

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* A local decoder rather than codec.h's base64_decode_strict(), which is
 * the parser helper's and was a stub when this was written: SASL must not
 * depend on an unfinished parser. Rejects whitespace, missing or
 * misplaced padding and non-zero trailing bits. */
bool auth_base64_decode(const char *in, size_t len, struct buf *out)
{
	size_t start = out->len;

	if (len % 4 != 0)
		return false;
	for (size_t i = 0; i < len; i += 4) {
		int v[4];
		int pad = 0;
		bool last = i + 4 == len;

		for (int k = 0; k < 4; k++) {
			unsigned char c = (unsigned char)in[i + k];
			if (c == '=' && last && k >= 2) {
				v[k] = 0;
				pad++;
				continue;
			}
			if (pad > 0)
				goto bad;	/* data after '=' */
			v[k] = b64_value(c);
			if (v[k] < 0)
				goto bad;
		}
		unsigned long w = ((unsigned long)v[0] << 18) |
			((unsigned long)v[1] << 12) | ((unsigned long)v[2] << 6) |
			(unsigned long)v[3];
		unsigned char bytes[3] = {
			(unsigned char)(w >> 16), (unsigned char)(w >> 8),
			(unsigned char)w
		};
		/* canonical form: the bits under the padding are zero */
		if ((pad == 1 && (v[2] & 3) != 0) || (pad == 2 && (v[1] & 15) != 0))
			goto bad;
		if (!buf_append(out, bytes, (size_t)(3 - pad)))
			goto bad;
	}
	return true;
bad:
	buf_truncate(out, start);
	return false;
}
