/*
 * test-auth.c - password backends, CRAM-MD5/APOP, SASL and the privilege
 * drop.
 *
 * Run plainly it tests what needs no system users (passwd-file, CRAM-MD5
 * database, SASL, base64, delays), then runs itself again with
 * "--wrapped" under the cwrap wrappers (nss_wrapper: private passwd,
 * group and shadow; uid_wrapper: setuid without real privileges;
 * pam_wrapper + pam_matrix: a private PAM service) for the pam and shadow
 * backends and auth_become(). No test touches a real user.
 */
#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "auth-private.h"
#include "config.h"
#include "log.h"
#include "mail.h"
#include "test.h"

static const char *libdirs[] = {
	"/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu",
	"/usr/lib64", "/usr/lib",
};

static char *tmpdir;		/* per process */

static char *tpath(const char *name)
{
	return xasprintf("%s/%s", tmpdir, name);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd < 0 || write_full(fd, text, strlen(text)) < 0)
		panic("write %s: %s", path, strerror(errno));
	if (fchmod(fd, mode) < 0)
		panic("chmod %s", path);
	close(fd);
}

static char *hash_password(const char *prefix, const char *pass)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data cd;

	memset(&cd, 0, sizeof cd);
	if (crypt_gensalt_rn(prefix, 0, NULL, 0, salt, sizeof salt) == NULL)
		panic("crypt_gensalt %s", prefix);
	const char *h = crypt_r(pass, salt, &cd);
	if (h == NULL || h[0] == '*')
		panic("crypt_r %s", prefix);
	return xstrdup(h);
}

static void set(const char *key, const char *value)
{
	const char *error;

	if (!config_set(key, value, &error))
		panic("config_set %s: %s", key, error);
}

static void b64(const void *in, size_t len, struct buf *out)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *p = in;

	buf_reset(out);
	for (size_t i = 0; i < len; i += 3) {
		unsigned long w = (unsigned long)p[i] << 16;
		if (i + 1 < len)
			w |= (unsigned long)p[i + 1] << 8;
		if (i + 2 < len)
			w |= p[i + 2];
		buf_putc(out, tab[(w >> 18) & 63]);
		buf_putc(out, tab[(w >> 12) & 63]);
		buf_putc(out, i + 1 < len ? tab[(w >> 6) & 63] : '=');
		buf_putc(out, i + 2 < len ? tab[w & 63] : '=');
	}
}

/* common configuration: passwd-file users, CRAM db path (absent) */
static void setup_common(void)
{
	char *users = tpath("users"), *cram = tpath("cram-md5.pwd");
	char *yes = hash_password("$y$", "yespass");
	char *sha = hash_password("$6$", "shapass");
	char *rootpw = hash_password("$6$", "rootpass");
	char *text = xasprintf(
		"# virtual users\n"
		"alice:%s:1000:1000:%s:\n"
		"bob:%s:1001:1001:%s:%s/maildir\n"
		"toor:%s:0:0:/root:\n"
		"locked:!%s:1002:1002:/tmp:\n"
		"broken:%s:xx:1002:/tmp:\n",
		yes, tmpdir, sha, tmpdir, tmpdir, rootpw, sha, sha);

	config_reset();
	write_file(users, text, 0600);
	set("auth-backends", "passwd-file");
	set("passwd-file", users);
	set("cram-md5-database", cram);
	set("anonymous-file", "");
	set("login-failure-delay", "0");
	unlink(cram);
	free(text);
	free(yes);
	free(sha);
	free(rootpw);
	free(users);
	free(cram);
}

static void test_auth_base64_strict(void)
{
	struct buf out;

	buf_init(&out, 0);
	CHECK(auth_base64_decode("dGltIGI5MTM=", 12, &out));
	CHECK_STR(buf_cstr(&out), "tim b913");
	buf_reset(&out);
	CHECK(auth_base64_decode("", 0, &out));
	CHECK_INT(out.len, 0);
	CHECK(auth_base64_decode("YQ==", 4, &out));
	CHECK_STR(buf_cstr(&out), "a");
	/* malformed: no padding, whitespace, junk, data after '=', bits */
	static const char *const bad[] = {
		"YQ", "YQ=", "Y Q==", "YQ==\r\n", "Y*==", "YQ==YQ==", "Y===",
		"=QQQ", "YR==", "YWI=YWI=", "YWJ=",
	};
	for (size_t i = 0; i < N_ELEMENTS(bad); i++) {
		buf_reset(&out);
		CHECK(!auth_base64_decode(bad[i], strlen(bad[i]), &out));
		CHECK_INT(out.len, 0);
	}
	buf_release(&out);
}

static void test_auth_digest_vectors(void)
{
	char hex[33];

	/* RFC 2195 section 2 */
	cram_hmac_md5_hex("tanstaaftanstaaf",
			  "<1896.697170952@postoffice.reston.mci.net>", hex);
	CHECK_STR(hex, "b913a602c7eda7a495b4e6e7334d3890");
	/* RFC 1939 section 7 (APOP) */
	const char *t = "<1896.697170952@dbc.mtview.ca.us>tanstaaf";
	cram_md5_hex(t, strlen(t), hex);
	CHECK_STR(hex, "c4c9334bac560ecc979e58001b3e22fb");
}

static void test_auth_passwd_file(void)
{
	struct auth_user u;
	const char *error = NULL;

	setup_common();
	CHECK_INT(auth_password(AUTH_SERVICE_IMAP, "alice", "yespass", "h",
				&u, &error), 0);
	CHECK_STR(u.name, "alice");
	CHECK_INT(u.uid, 1000);
	CHECK_INT(u.gid, 1000);
	CHECK_STR(u.home, tmpdir);
	CHECK(u.maildir == NULL);
	auth_user_free(&u);
	/* SHA-512, with a maildir */
	CHECK_INT(auth_password(AUTH_SERVICE_POP, "bob", "shapass", "h",
				&u, &error), 0);
	CHECK(u.maildir != NULL && strstr(u.maildir, "/maildir") != NULL);
	auth_user_free(&u);
	/* wrong password, unknown user: both just fail */
	CHECK_INT(auth_password(AUTH_SERVICE_IMAP, "alice", "yespas", "h",
				&u, &error), -1);
	CHECK_INT(auth_password(AUTH_SERVICE_IMAP, "nosuch", "yespass", "h",
				&u, &error), -1);
	CHECK_INT(auth_password(AUTH_SERVICE_IMAP, "alice", "", "h",
				&u, &error), -1);
	/* uid 0 never logs in, even with the right password */
	CHECK_INT(auth_password(AUTH_SERVICE_IMAP, "toor", "rootpass", "h",
				&u, &error), -1);
	CHECK(strstr(error, "uid 0") != NULL);
	/* locked hash, malformed entry */
	CHECK_INT(auth_password(AUTH_SERVICE_IMAP, "locked", "shapass", "h",
				&u, &error), -1);
	CHECK_INT(auth_password(AUTH_SERVICE_IMAP, "broken", "shapass", "h",
				&u, &error), -1);
	/* control characters in a name */
	CHECK_INT(auth_password(AUTH_SERVICE_IMAP, "ali\nce", "yespass", "h",
				&u, &error), -1);
	/* a file writable by others is refused */
	char *users = tpath("users");
	chmod(users, 0666);
	CHECK_INT(auth_password(AUTH_SERVICE_IMAP, "alice", "yespass", "h",
				&u, &error), -1);
	chmod(users, 0600);
	free(users);
	/* an unknown backend name is skipped */
	set("auth-backends", "nonsense passwd-file");
	CHECK_INT(auth_password(AUTH_SERVICE_IMAP, "alice", "yespass", "h",
				&u, &error), 0);
	auth_user_free(&u);
}

/* issue 15: an unknown user or a locked entry costs one crypt() of the
 * same kind as a wrong password, so timing tells no user names */
static void test_auth_unknown_user_same_cost(void)
{
	struct auth_user u;
	const char *error = NULL;
	unsigned long before;

	setup_common();
	before = auth_crypt_calls;
	CHECK_INT(auth_password(AUTH_SERVICE_IMAP, "alice", "wrong", "h",
				&u, &error), -1);
	CHECK_INT(auth_crypt_calls - before, 1);
	before = auth_crypt_calls;
	CHECK_INT(auth_password(AUTH_SERVICE_IMAP, "nosuchuser", "wrong", "h",
				&u, &error), -1);
	CHECK_INT(auth_crypt_calls - before, 1);
	before = auth_crypt_calls;
	CHECK_INT(auth_password(AUTH_SERVICE_IMAP, "locked", "wrong", "h",
				&u, &error), -1);
	CHECK_INT(auth_crypt_calls - before, 1);
	/* and of the same cost: the unknown user's dummy hash is the
	 * file's first real one (yescrypt here), measured loosely */
	struct timespec t0, t1, t2;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < 5; i++)
		(void)auth_password(AUTH_SERVICE_IMAP, "alice", "wrong", "h",
				    &u, &error);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	for (int i = 0; i < 5; i++)
		(void)auth_password(AUTH_SERVICE_IMAP, "nosuch", "wrong", "h",
				    &u, &error);
	clock_gettime(CLOCK_MONOTONIC, &t2);
	double known = (double)(t1.tv_sec - t0.tv_sec) +
		(double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	double unknown = (double)(t2.tv_sec - t1.tv_sec) +
		(double)(t2.tv_nsec - t1.tv_nsec) / 1e9;
	/* without the dummy the unknown user answers in microseconds,
	 * far below a tenth of a yescrypt */
	CHECK(unknown > known / 10);
}

static void test_auth_cram_database(void)
{
	struct auth_user u;
	const char *error = NULL;
	char *cram = tpath("cram-md5.pwd");

	setup_common();
	CHECK(!auth_cram_available());
	write_file(cram, "# comment\nalice\tcramsecret\nghost\tboo\n"
		   "tim\ttanstaaf\n", 0644);
	/* readable by others: refused, treated as absent */
	CHECK(!auth_cram_available());
	CHECK(cram_secret("alice") == NULL);
	chmod(cram, 0600);
	CHECK(auth_cram_available());
	char *s = cram_secret("alice");
	CHECK_STR(s, "cramsecret");
	free(s);
	CHECK(cram_secret("nobody-here") == NULL);

	/* FAQ 3.16: the database password is the plaintext password too */
	CHECK_INT(auth_password(AUTH_SERVICE_IMAP, "alice", "cramsecret", "h",
				&u, &error), 0);
	CHECK_INT(u.uid, 1000);
	auth_user_free(&u);
	CHECK_INT(auth_password(AUTH_SERVICE_IMAP, "alice", "yespass", "h",
				&u, &error), -1);
	/* users not in the database use the backends */
	CHECK_INT(auth_password(AUTH_SERVICE_IMAP, "bob", "shapass", "h",
				&u, &error), 0);
	auth_user_free(&u);
	/* in the database but no such user (FAQ 7.4) */
	CHECK_INT(auth_password(AUTH_SERVICE_IMAP, "ghost", "boo", "h",
				&u, &error), -1);

	/* APOP with RFC 1939's digest needs a user "tim": add him */
	char *users = tpath("users");
	char *text = test_read_file(users, NULL);
	char *more = xasprintf("%stim:*:1005:1005:%s:\n", text, tmpdir);
	write_file(users, more, 0600);
	CHECK_INT(auth_apop("tim", "<1896.697170952@dbc.mtview.ca.us>",
			    "c4c9334bac560ecc979e58001b3e22fb", &u, &error), 0);
	CHECK_STR(u.name, "tim");
	CHECK_INT(u.uid, 1005);
	auth_user_free(&u);
	CHECK_INT(auth_apop("tim", "<1896.697170952@dbc.mtview.ca.us>",
			    "C4C9334BAC560ECC979E58001B3E22FB", &u, &error), 0);
	auth_user_free(&u);
	CHECK_INT(auth_apop("tim", "<1896.697170952@dbc.mtview.ca.us>",
			    "c4c9334bac560ecc979e58001b3e22fc", &u, &error), -1);
	CHECK_INT(auth_apop("tim", "<other@x>",
			    "c4c9334bac560ecc979e58001b3e22fb", &u, &error), -1);
	CHECK_INT(auth_apop("bob", "<1@x>",
			    "c4c9334bac560ecc979e58001b3e22fb", &u, &error), -1);
	CHECK_INT(auth_apop("tim", "<1896.697170952@dbc.mtview.ca.us>",
			    "c4c9334bac560ecc", &u, &error), -1);

	struct buf ts;
	buf_init(&ts, 0);
	auth_apop_timestamp(&ts);
	CHECK(ts.data[0] == '<' && ts.data[ts.len - 1] == '>' &&
	      strchr(ts.data, '@') != NULL);
	buf_release(&ts);
	unlink(cram);
	free(users);
	free(text);
	free(more);
	free(cram);
}

static void test_auth_policy(void)
{
	char *anon = tpath("anonymous.newsgroups");

	setup_common();
	CHECK(auth_plaintext_allowed(false));
	set("plaintext-logins", "tls-only");
	CHECK(!auth_plaintext_allowed(false));
	CHECK(auth_plaintext_allowed(true));
	set("plaintext-logins", "no");
	CHECK(!auth_plaintext_allowed(true));
	set("plaintext-logins", "bogus");
	CHECK(!auth_plaintext_allowed(true));

	set("anonymous-file", anon);
	CHECK(!auth_anonymous_allowed());
	write_file(anon, "", 0644);
	CHECK(auth_anonymous_allowed());
	unlink(anon);
	free(anon);

	/* delays: 0 s here; the session ends at login-failures-max */
	CHECK(!auth_failure_delay(1));
	CHECK(!auth_failure_delay(2));
	CHECK(auth_failure_delay(3));
	set("login-failures-max", "1");
	CHECK(auth_failure_delay(1));
	set("login-failure-delay", "1");
	time_t t0 = time(NULL);
	(void)auth_failure_delay(2);	/* 2 s */
	CHECK(time(NULL) - t0 >= 1);
}

static void test_auth_mechanisms(void)
{
	struct buf m;
	char *cram = tpath("cram-md5.pwd");
	char *anon = tpath("anonymous.newsgroups");

	setup_common();
	buf_init(&m, 0);
	sasl_mechanisms(false, &m);
	CHECK_STR(buf_cstr(&m), "PLAIN LOGIN");
	write_file(cram, "alice\tcramsecret\n", 0600);
	write_file(anon, "", 0644);
	set("anonymous-file", anon);
	buf_reset(&m);
	sasl_mechanisms(false, &m);
	CHECK_STR(buf_cstr(&m), "PLAIN LOGIN CRAM-MD5 ANONYMOUS");
	set("plaintext-logins", "tls-only");
	buf_reset(&m);
	sasl_mechanisms(false, &m);
	CHECK_STR(buf_cstr(&m), "CRAM-MD5 ANONYMOUS");
	buf_reset(&m);
	sasl_mechanisms(true, &m);
	CHECK_STR(buf_cstr(&m), "PLAIN LOGIN CRAM-MD5 ANONYMOUS");

	const char *error = NULL;
	CHECK(sasl_start(AUTH_SERVICE_IMAP, "PLAIN", false, "h", &error) == NULL);
	CHECK(sasl_start(AUTH_SERVICE_IMAP, "GSSAPI", true, "h", &error) == NULL);
	struct sasl *s = sasl_start(AUTH_SERVICE_IMAP, "plain", true, "h", &error);
	CHECK(s != NULL);
	sasl_free(&s);
	CHECK(s == NULL);
	unlink(cram);
	unlink(anon);
	buf_release(&m);
	free(cram);
	free(anon);
}

/* one SASL exchange with the client's lines given raw (not base64) */
static enum sasl_status exchange(const char *mech, const char *const *raw,
				 const size_t *lens, size_t n,
				 struct auth_user *u, struct buf *last_challenge)
{
	const char *error = NULL;
	struct sasl *s = sasl_start(AUTH_SERVICE_IMAP, mech, false, "h", &error);
	struct buf enc, ch;
	enum sasl_status st = SASL_BAD;

	if (s == NULL)
		return SASL_BAD;
	buf_init(&enc, 0);
	buf_init(&ch, 0);
	for (size_t i = 0; i < n; i++) {
		const char *resp = NULL;
		if (raw[i] != NULL) {
			b64(raw[i], lens[i], &enc);
			resp = buf_cstr(&enc);
		}
		st = sasl_step(s, resp, &ch, u, &error);
		if (last_challenge != NULL) {
			buf_reset(last_challenge);
			buf_append(last_challenge, ch.data, ch.len);
		}
		if (st != SASL_CONTINUE)
			break;
	}
	sasl_free(&s);
	buf_release(&enc);
	buf_release(&ch);
	return st;
}

static void test_auth_sasl_plain_login(void)
{
	struct auth_user u;
	struct buf ch;

	setup_common();
	buf_init(&ch, 0);
	/* PLAIN with an initial response, and after an empty challenge */
	const char *p1[] = { "\0alice\0yespass" };
	const size_t l1[] = { 14 };
	CHECK_INT(exchange("PLAIN", p1, l1, 1, &u, NULL), SASL_OK);
	CHECK_STR(u.name, "alice");
	auth_user_free(&u);
	const char *p2[] = { NULL, "alice\0alice\0yespass" };
	const size_t l2[] = { 0, 19 };
	CHECK_INT(exchange("PLAIN", p2, l2, 2, &u, &ch), SASL_OK);
	auth_user_free(&u);
	/* authzid must equal authcid */
	const char *p3[] = { "bob\0alice\0yespass" };
	const size_t l3[] = { 17 };
	CHECK_INT(exchange("PLAIN", p3, l3, 1, &u, NULL), SASL_FAIL);
	const char *p4[] = { "\0alice\0wrong" };
	const size_t l4[] = { 12 };
	CHECK_INT(exchange("PLAIN", p4, l4, 1, &u, NULL), SASL_FAIL);
	/* malformed: one NUL, three NULs, empty */
	const char *p5[] = { "alice\0yespass" };
	const size_t l5[] = { 13 };
	CHECK_INT(exchange("PLAIN", p5, l5, 1, &u, NULL), SASL_BAD);
	const char *p6[] = { "\0alice\0yes\0pass" };
	const size_t l6[] = { 15 };
	CHECK_INT(exchange("PLAIN", p6, l6, 1, &u, NULL), SASL_BAD);
	const char *p7[] = { "" };
	const size_t l7[] = { 0 };
	CHECK_INT(exchange("PLAIN", p7, l7, 1, &u, NULL), SASL_BAD);

	/* LOGIN: Username:, Password: */
	const char *q1[] = { NULL, "bob", "shapass" };
	const size_t m1[] = { 0, 3, 7 };
	CHECK_INT(exchange("LOGIN", q1, m1, 3, &u, NULL), SASL_OK);
	CHECK_STR(u.name, "bob");
	auth_user_free(&u);
	const char *q2[] = { NULL, "bob", "wrong" };
	const size_t m2[] = { 0, 3, 5 };
	CHECK_INT(exchange("LOGIN", q2, m2, 3, &u, NULL), SASL_FAIL);
	const char *q3[] = { NULL };
	CHECK_INT(exchange("LOGIN", q3, m1, 1, &u, &ch), SASL_CONTINUE);
	CHECK_STR(buf_cstr(&ch), "Username:");

	/* bad base64 is SASL_BAD, not a failed login */
	const char *error = NULL;
	struct sasl *s = sasl_start(AUTH_SERVICE_IMAP, "PLAIN", false, "h",
				    &error);
	CHECK_INT(sasl_step(s, "AGFsaWNlAHllc3Bhc3M", &ch, &u, &error), SASL_BAD);
	CHECK_INT(sasl_step(s, "AGFsaWNlAHllc3Bhc3M=", &ch, &u, &error),
		  SASL_BAD);	/* finished exchanges stay finished */
	sasl_free(&s);
	s = sasl_start(AUTH_SERVICE_IMAP, "LOGIN", false, "h", &error);
	CHECK_INT(sasl_step(s, NULL, &ch, &u, &error), SASL_CONTINUE);
	CHECK_INT(sasl_step(s, "Ym9i\r", &ch, &u, &error), SASL_BAD);
	sasl_free(&s);
	buf_release(&ch);
}

static void test_auth_sasl_cram_anonymous(void)
{
	struct auth_user u;
	struct buf ch, enc;
	const char *error = NULL;
	char *cram = tpath("cram-md5.pwd");
	char *anon = tpath("anonymous.newsgroups");
	unsigned char md[16];
	unsigned int mdlen;
	char line[200];

	setup_common();
	write_file(cram, "alice\tcramsecret\n", 0600);
	buf_init(&ch, 0);
	buf_init(&enc, 0);
	for (int round = 0; round < 2; round++) {
		struct sasl *s = sasl_start(AUTH_SERVICE_IMAP, "CRAM-MD5", false,
					    "h", &error);
		CHECK(s != NULL);
		if (s == NULL)
			break;
		CHECK_INT(sasl_step(s, NULL, &ch, &u, &error), SASL_CONTINUE);
		CHECK(ch.len > 5 && ch.data[0] == '<');
		HMAC(EVP_md5(), round == 0 ? "cramsecret" : "wrong", round == 0 ? 10 : 5,
		     (const unsigned char *)ch.data, ch.len, md, &mdlen);
		int n = snprintf(line, sizeof line, "alice ");
		for (int i = 0; i < 16; i++)
			n += snprintf(line + n, sizeof line - (size_t)n, "%02x", md[i]);
		b64(line, (size_t)n, &enc);
		CHECK_INT(sasl_step(s, buf_cstr(&enc), &ch, &u, &error),
			  round == 0 ? SASL_OK : SASL_FAIL);
		if (round == 0) {
			CHECK_STR(u.name, "alice");
			CHECK_INT(u.uid, 1000);
			auth_user_free(&u);
		}
		sasl_free(&s);
	}
	/* malformed CRAM-MD5 response */
	struct sasl *s = sasl_start(AUTH_SERVICE_IMAP, "CRAM-MD5", false, "h",
				    &error);
	CHECK_INT(sasl_step(s, NULL, &ch, &u, &error), SASL_CONTINUE);
	b64("alice", 5, &enc);
	CHECK_INT(sasl_step(s, buf_cstr(&enc), &ch, &u, &error), SASL_BAD);
	sasl_free(&s);

	/* ANONYMOUS only when allowed; maps to anonymous-user */
	CHECK(sasl_start(AUTH_SERVICE_IMAP, "ANONYMOUS", false, "h",
			 &error) == NULL);
	write_file(anon, "", 0644);
	set("anonymous-file", anon);
	set("anonymous-user", "alice");		/* via getpwnam: wrapped only */
	s = sasl_start(AUTH_SERVICE_IMAP, "ANONYMOUS", false, "h", &error);
	CHECK(s != NULL);
	sasl_free(&s);
	unlink(cram);
	unlink(anon);
	free(cram);
	free(anon);
	buf_release(&ch);
	buf_release(&enc);
}

/* ---- under the wrappers ---- */

static bool wrapped;

static void setup_wrapped(void)
{
	const char *error;

	setup_common();
	set("auth-backends", "pam");
	set("pam-service-imap", "cctest-imap");
	set("pam-service-pop", "cctest-pop");
	(void)error;
}

static void test_wrapped_pam(void)
{
	struct auth_user u;
	const char *error = NULL;

	setup_wrapped();
	CHECK_INT(auth_password(AUTH_SERVICE_IMAP, "alice", "pampass", "10.1.2.3",
				&u, &error), 0);
	CHECK_STR(u.name, "alice");
	CHECK_INT(u.uid, 1000);
	CHECK_INT(u.gid, 1000);
	auth_user_free(&u);
	CHECK_INT(auth_password(AUTH_SERVICE_POP, "alice", "pampass", "h",
				&u, &error), 0);
	auth_user_free(&u);
	/* wrong password and unknown user look the same to the caller */
	CHECK_INT(auth_password(AUTH_SERVICE_IMAP, "alice", "wrong", "h",
				&u, &error), -1);
	CHECK_INT(auth_password(AUTH_SERVICE_IMAP, "nosuch", "pampass", "h",
				&u, &error), -1);
	/* root, even with the right PAM password */
	CHECK_INT(auth_password(AUTH_SERVICE_IMAP, "root", "rootpass", "h",
				&u, &error), -1);
	CHECK(error != NULL && strstr(error, "uid 0") != NULL);
	/* the account phase refuses (pam_deny in "account") */
	set("pam-service-imap", "cctest-locked");
	CHECK_INT(auth_password(AUTH_SERVICE_IMAP, "alice", "pampass", "h",
				&u, &error), -1);
	CHECK(error != NULL && strstr(error, "account") != NULL);
	/* no such service file: pam_start or authenticate fails */
	set("pam-service-imap", "cctest-missing");
	CHECK_INT(auth_password(AUTH_SERVICE_IMAP, "alice", "pampass", "h",
				&u, &error), -1);
}

static void test_wrapped_shadow(void)
{
	struct auth_user u;
	const char *error = NULL;

	setup_wrapped();
	set("auth-backends", "shadow");
	CHECK_INT(auth_password(AUTH_SERVICE_IMAP, "alice", "yespass", "h",
				&u, &error), 0);
	CHECK_STR(u.name, "alice");
	CHECK_STR(u.home, tmpdir);
	auth_user_free(&u);
	CHECK_INT(auth_password(AUTH_SERVICE_IMAP, "bob", "shapass", "h",
				&u, &error), 0);
	auth_user_free(&u);
	CHECK_INT(auth_password(AUTH_SERVICE_IMAP, "bob", "yespass", "h",
				&u, &error), -1);
	/* expired account, expired password, locked */
	CHECK_INT(auth_password(AUTH_SERVICE_IMAP, "carol", "shapass", "h",
				&u, &error), -1);
	CHECK(error != NULL && strstr(error, "account expired") != NULL);
	CHECK_INT(auth_password(AUTH_SERVICE_IMAP, "dave", "shapass", "h",
				&u, &error), -1);
	CHECK(error != NULL && strstr(error, "password expired") != NULL);
	CHECK_INT(auth_password(AUTH_SERVICE_IMAP, "erin", "shapass", "h",
				&u, &error), -1);
	CHECK(error != NULL && strstr(error, "locked") != NULL);
	CHECK_INT(auth_password(AUTH_SERVICE_IMAP, "root", "rootpass", "h",
				&u, &error), -1);
	/* shadow then pam: a wrong shadow password falls through */
	set("auth-backends", "shadow pam");
	CHECK_INT(auth_password(AUTH_SERVICE_IMAP, "alice", "pampass", "h",
				&u, &error), 0);
	auth_user_free(&u);
	/* but an expired shadow account is final */
	CHECK_INT(auth_password(AUTH_SERVICE_IMAP, "carol", "shapass", "h",
				&u, &error), -1);
}

/* run fn in a child; the child's CHECK failures become its exit code */
static int in_child(void (*fn)(void))
{
	pid_t pid = fork();
	int status;

	if (pid < 0)
		panic("fork");
	if (pid == 0) {
		test_failures = 0;
		fn();
		fflush(NULL);
		_exit(test_failures > 0 ? 2 : 0);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static void become_alice(void)
{
	struct auth_user u;
	const char *error = NULL;
	gid_t groups[64];

	CHECK_INT(geteuid(), 0);
	CHECK_INT(auth_password(AUTH_SERVICE_IMAP, "alice", "pampass", "h",
				&u, &error), 0);
	auth_become(&u);
	CHECK_INT(getuid(), 1000);
	CHECK_INT(geteuid(), 1000);
	CHECK_INT(getgid(), 1000);
	CHECK_INT(getegid(), 1000);
	int n = getgroups(N_ELEMENTS(groups), groups);
	bool has_primary = false, has_mail = false, has_root = false;
	for (int i = 0; i < n; i++) {
		has_primary |= groups[i] == 1000;
		has_mail |= groups[i] == 8;
		has_root |= groups[i] == 0;
	}
	CHECK(has_primary);
	CHECK(has_mail);	/* alice is listed in group mail */
	CHECK(!has_root);
	/* no way back */
	CHECK(setuid(0) < 0);
	CHECK(seteuid(0) < 0);
	CHECK(setgid(0) < 0);
	CHECK(setresuid(0, 0, 0) < 0);
	CHECK_INT(getuid(), 1000);
	char cwd[4096];
	CHECK(getcwd(cwd, sizeof cwd) != NULL && strcmp(cwd, tmpdir) == 0);
	CHECK(mail_user != NULL && strcmp(mail_user->name, "alice") == 0);
	CHECK(mail_user != NULL && mail_user->uid == 1000);
	/* and now not root: only ourselves */
	struct auth_user self;
	CHECK(auth_self(&self));
	CHECK_STR(self.name, "alice");
	auth_become(&self);
	auth_user_free(&self);
	auth_user_free(&u);
}

static void become_virtual_bob(void)
{
	struct auth_user u;
	const char *error = NULL;
	gid_t groups[64];

	set("auth-backends", "passwd-file");
	CHECK_INT(auth_password(AUTH_SERVICE_IMAP, "bob", "shapass", "h",
				&u, &error), 0);
	auth_become(&u);
	CHECK_INT(geteuid(), 1001);
	CHECK_INT(getegid(), 1001);
	/* virtual users get no supplementary groups but their own */
	int n = getgroups(N_ELEMENTS(groups), groups);
	CHECK_INT(n, 1);
	CHECK(n >= 1 && groups[0] == 1001);
	CHECK(mail_user != NULL && mail_user->maildir != NULL &&
	      strstr(mail_user->maildir, "/maildir") != NULL);
	auth_user_free(&u);
}

static void become_root_refused(void)
{
	struct auth_user u = { .name = (char *)"root", .uid = 0, .gid = 0,
			       .home = (char *)"/" };
	auth_become(&u);	/* log_fatal: exit(1) */
	_exit(0);
}

static void become_other_when_not_root(void)
{
	struct auth_user u = { .name = (char *)"alice", .uid = 1000,
			       .gid = 1000, .home = tmpdir };

	if (setresuid(1001, 1001, 1001) < 0)
		_exit(3);
	CHECK(!auth_self(&u) || u.uid == 1001);
	u.uid = 1000;
	auth_become(&u);	/* log_fatal: exit(1) */
	_exit(0);
}

static void test_wrapped_become(void)
{
	setup_wrapped();
	CHECK_INT(in_child(become_alice), 0);
	CHECK_INT(in_child(become_virtual_bob), 0);
	CHECK_INT(in_child(become_root_refused), 1);
	CHECK_INT(in_child(become_other_when_not_root), 1);
	/* the parent is still (fake) root */
	CHECK_INT(geteuid(), 0);
}

static void test_wrapped_anonymous(void)
{
	struct auth_user u;
	const char *error = NULL;
	char *anon = tpath("anonymous.newsgroups");

	setup_wrapped();
	CHECK_INT(auth_password(AUTH_SERVICE_IMAP, "anonymous", "x@y", "h",
				&u, &error), -1);
	write_file(anon, "", 0644);
	set("anonymous-file", anon);
	CHECK_INT(auth_password(AUTH_SERVICE_IMAP, "anonymous", "x@y", "h",
				&u, &error), 0);
	CHECK(u.anonymous);
	CHECK_INT(u.uid, 65534);
	auth_user_free(&u);
	const char *a[] = { NULL, "trace@example.org" };
	const size_t l[] = { 0, 17 };
	CHECK_INT(exchange("ANONYMOUS", a, l, 2, &u, NULL), SASL_OK);
	CHECK(u.anonymous);
	auth_user_free(&u);
	set("anonymous-user", "root");
	CHECK_INT(auth_password(AUTH_SERVICE_IMAP, "anonymous", "x@y", "h",
				&u, &error), -1);
	unlink(anon);
	free(anon);
}

/* Write the wrapper world and run ourselves under it. */
static void test_auth_wrapped(void)
{
	const char *libdir = NULL;
	char *uidw, *nssw, *pamw, *matrix, *deny = NULL;

	for (size_t i = 0; i < N_ELEMENTS(libdirs); i++) {
		char *p = xasprintf("%s/libuid_wrapper.so", libdirs[i]);
		bool ok = access(p, R_OK) == 0;
		free(p);
		if (ok) {
			libdir = libdirs[i];
			break;
		}
	}
	if (libdir == NULL) {
		fprintf(stderr, "  cwrap wrappers not installed: skipped\n");
		return;
	}
	static const char *const denies[] = {
		"/usr/lib/x86_64-linux-gnu/security/pam_deny.so",
		"/lib/x86_64-linux-gnu/security/pam_deny.so",
		"/usr/lib/aarch64-linux-gnu/security/pam_deny.so",
		"/lib/security/pam_deny.so", "/usr/lib/security/pam_deny.so",
	};
	for (size_t i = 0; i < N_ELEMENTS(denies); i++)
		if (deny == NULL && access(denies[i], R_OK) == 0)
			deny = xstrdup(denies[i]);
	uidw = xasprintf("%s/libuid_wrapper.so", libdir);
	nssw = xasprintf("%s/libnss_wrapper.so", libdir);
	pamw = xasprintf("%s/libpam_wrapper.so", libdir);
	matrix = xasprintf("%s/pam_wrapper/pam_matrix.so", libdir);

	char *passwd = tpath("passwd"), *group = tpath("group");
	char *shadow = tpath("shadow"), *pamdir = tpath("pam.d");
	char *passdb = tpath("passdb");
	char *text = xasprintf(
		"root:x:0:0:root:/root:/bin/sh\n"
		"alice:x:1000:1000:Alice:%s:/bin/sh\n"
		"bob:x:1001:1001:Bob:%s:/bin/sh\n"
		"carol:x:1002:1002:Carol:%s:/bin/sh\n"
		"dave:x:1003:1003:Dave:%s:/bin/sh\n"
		"erin:x:1004:1004:Erin:%s:/bin/sh\n"
		"nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
		tmpdir, tmpdir, tmpdir, tmpdir, tmpdir);
	write_file(passwd, text, 0644);
	free(text);
	write_file(group, "root:x:0:\nmail:x:8:alice\nalice:x:1000:\n"
		   "bob:x:1001:\nnogroup:x:65534:\n", 0644);
	char *yes = hash_password("$y$", "yespass");
	char *sha = hash_password("$6$", "shapass");
	char *rootpw = hash_password("$6$", "rootpass");
	long today = (long)(time(NULL) / 86400);
	text = xasprintf(
		"root:%s:%ld:0:99999:7:::\n"
		"alice:%s:%ld:0:99999:7:::\n"
		"bob:%s:%ld:0:99999:7:::\n"
		"carol:%s:%ld:0:99999:7::%ld:\n"	/* account expired */
		"dave:%s:%ld:0:30:7:::\n"		/* password too old */
		"erin:!%s:%ld:0:99999:7:::\n",		/* locked */
		rootpw, today, yes, today, sha, today, sha, today, today - 1,
		sha, today - 60, sha, today);
	write_file(shadow, text, 0600);
	free(text);
	mkdir(pamdir, 0755);
	/* pam_matrix's account phase matches the service of the user's
	 * first line only: one passdb per service */
	write_file(passdb, "alice:pampass:cctest-imap\nroot:rootpass:cctest-imap\n",
		   0600);
	char *passdb_pop = tpath("passdb-pop");
	write_file(passdb_pop, "alice:pampass:cctest-pop\n", 0600);
	char *svc = xasprintf("%s/cctest-imap", pamdir);
	text = xasprintf("auth required %s passdb=%s\n"
			 "account required %s passdb=%s\n", matrix, passdb,
			 matrix, passdb);
	write_file(svc, text, 0644);
	free(svc);
	free(text);
	svc = xasprintf("%s/cctest-pop", pamdir);
	text = xasprintf("auth required %s passdb=%s\n"
			 "account required %s passdb=%s\n", matrix, passdb_pop,
			 matrix, passdb_pop);
	write_file(svc, text, 0644);
	free(svc);
	free(text);
	free(passdb_pop);
	svc = xasprintf("%s/cctest-locked", pamdir);
	text = xasprintf("auth required %s passdb=%s\n"
			 "account required %s\n", matrix, passdb,
			 deny != NULL ? deny : "pam_deny.so");
	write_file(svc, text, 0644);
	free(svc);
	free(text);

	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	CHECK(n > 0);
	if (n <= 0)
		return;
	self[n] = '\0';
	pid_t pid = fork();
	if (pid == 0) {
		char *preload = xasprintf("%s:%s:%s", uidw, nssw, pamw);
		setenv("LD_PRELOAD", preload, 1);
		setenv("UID_WRAPPER", "1", 1);
		setenv("UID_WRAPPER_ROOT", "1", 1);
		static const char *const ids[] = {
			"UID_WRAPPER_INITIAL_RUID", "UID_WRAPPER_INITIAL_EUID",
			"UID_WRAPPER_INITIAL_SUID", "UID_WRAPPER_INITIAL_RGID",
			"UID_WRAPPER_INITIAL_EGID", "UID_WRAPPER_INITIAL_SGID",
		};
		for (size_t i = 0; i < N_ELEMENTS(ids); i++)
			setenv(ids[i], "0", 1);
		setenv("NSS_WRAPPER_PASSWD", passwd, 1);
		setenv("NSS_WRAPPER_GROUP", group, 1);
		setenv("NSS_WRAPPER_SHADOW", shadow, 1);
		setenv("PAM_WRAPPER", "1", 1);
		setenv("PAM_WRAPPER_SERVICE_DIR", pamdir, 1);
		setenv("ASAN_OPTIONS", "verify_asan_link_order=0:detect_leaks=0", 1);
		/* the sanitizer runtime refuses RTLD_DEEPBIND */
		setenv("UID_WRAPPER_DISABLE_DEEPBIND", "1", 1);
		setenv("NSS_WRAPPER_DISABLE_DEEPBIND", "1", 1);
		setenv("PAM_WRAPPER_DISABLE_DEEPBIND", "1", 1);
		setenv("TEST_AUTH_DIR", tmpdir, 1);
		execl(self, self, "--wrapped", (char *)NULL);
		_exit(127);
	}
	int status;
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	free(uidw);
	free(nssw);
	free(pamw);
	free(matrix);
	free(deny);
	free(passwd);
	free(group);
	free(shadow);
	free(pamdir);
	free(passdb);
	free(yes);
	free(sha);
	free(rootpw);
}

int main(int argc, char **argv)
{
	static const struct test plain[] = {
		TEST(test_auth_base64_strict),
		TEST(test_auth_digest_vectors),
		TEST(test_auth_passwd_file),
		TEST(test_auth_unknown_user_same_cost),
		TEST(test_auth_cram_database),
		TEST(test_auth_policy),
		TEST(test_auth_mechanisms),
		TEST(test_auth_sasl_plain_login),
		TEST(test_auth_sasl_cram_anonymous),
		TEST(test_auth_wrapped),
	};
	static const struct test wrapped_tests[] = {
		TEST(test_wrapped_pam),
		TEST(test_wrapped_shadow),
		TEST(test_wrapped_anonymous),
		TEST(test_wrapped_become),
	};
	int ret;

	if (getenv("CCLIENT_LOG_STDERR") == NULL)
		setenv("CCLIENT_LOG_FILE", "/dev/null", 0);
	log_open("test-auth");
	if (argc > 1 && strcmp(argv[1], "--wrapped") == 0) {
		wrapped = true;
		tmpdir = xstrdup(getenv("TEST_AUTH_DIR"));
		return test_run(argc - 1, argv + 1, wrapped_tests,
				N_ELEMENTS(wrapped_tests));
	}
	tmpdir = test_tmpdir();
	ret = test_run(argc, argv, plain, N_ELEMENTS(plain));
	if (getenv("CC_KEEP_TMP") == NULL) {
		char *cmd = xasprintf("rm -rf '%s'", tmpdir);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", tmpdir);
		free(cmd);
	}
	free(tmpdir);
	return ret;
}
