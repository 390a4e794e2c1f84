/*
 * test-tls.c - TLS as an ios layer: certificate loading, handshake over
 * a socketpair with an OpenSSL client in a child, the STARTTLS injection
 * defence, the 8 KB record limit, old protocol versions refused.
 *
 * "test-tls --serve [--implicit]" is instead a tiny line server on
 * stdin/stdout for tests/test_tls.py (configuration from $CCLIENT_CONFIG):
 *   STARTTLS -> "OK begin" then handshake    BIG n -> n bytes of 'x', CRLF
 *   ECHO text -> text                         TLS? -> yes / no
 *   QUIT -> "BYE"
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "config.h"
#include "ios.h"
#include "log.h"
#include "test.h"
#include "tls.h"

static char *tmpdir;
static char *cert, *key;

static void set(const char *k, const char *v)
{
	const char *error;

	if (!config_set(k, v, &error))
		panic("config_set %s: %s", k, error);
}

static bool make_cert(void)
{
	cert = xasprintf("%s/cert.pem", tmpdir);
	key = xasprintf("%s/key.pem", tmpdir);
	char *cmd = xasprintf("openssl req -x509 -newkey rsa:2048 -nodes "
			      "-keyout '%s' -out '%s' -days 2 -subj /CN=localhost "
			      ">/dev/null 2>&1", key, cert);
	int r = system(cmd);
	free(cmd);
	return r == 0;
}

/* ---- a client in a child process ---- */

struct client_opts {
	int max_version;	/* 0 = default */
	bool inject;		/* send a second plaintext line after STARTTLS */
	size_t big;		/* ask for this many bytes, check record sizes */
};

/* read one plaintext line from fd (byte by byte: nothing read beyond) */
static bool raw_line(int fd, char *buf, size_t size)
{
	size_t n = 0;

	while (n + 1 < size) {
		char c;
		if (read(fd, &c, 1) != 1)
			return false;
		if (c == '\n')
			break;
		buf[n++] = c;
	}
	buf[n] = '\0';
	return true;
}

static bool ssl_line(SSL *ssl, char *buf, size_t size)
{
	size_t n = 0;

	while (n + 1 < size) {
		char c;
		if (SSL_read(ssl, &c, 1) != 1)
			return false;
		if (c == '\n')
			break;
		buf[n++] = c;
	}
	buf[n] = '\0';
	return true;
}

/* exit codes: 0 ok, 10+ failure points */
static int run_client(int fd, const struct client_opts *o)
{
	char line[256];
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL *ssl;

	if (ctx == NULL)
		return 10;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	if (o->max_version != 0) {
		SSL_CTX_set_security_level(ctx, 0);
		SSL_CTX_set_min_proto_version(ctx, 0);
		SSL_CTX_set_max_proto_version(ctx, o->max_version);
		SSL_CTX_set_cipher_list(ctx, "ALL:@SECLEVEL=0");
	}
	if (!raw_line(fd, line, sizeof line) || strncmp(line, "* OK", 4) != 0)
		return 11;
	/* a man in the middle appends a command after STARTTLS */
	const char *cmd = o->inject ? "a STARTTLS\r\nb ECHO injected\r\n" :
		"a STARTTLS\r\n";
	if (write_full(fd, cmd, strlen(cmd)) < 0)
		return 12;
	if (!raw_line(fd, line, sizeof line) || strncmp(line, "a OK", 4) != 0)
		return 13;
	ssl = SSL_new(ctx);
	SSL_set_fd(ssl, fd);
	if (SSL_connect(ssl) != 1)
		return 20;		/* handshake refused */
	if (SSL_write(ssl, "c ECHO after\r\n", 14) != 14)
		return 14;
	if (!ssl_line(ssl, line, sizeof line))
		return 15;
	if (strcmp(line, "after\r") != 0)
		return 16;		/* the injected line was executed */
	if (o->big > 0) {
		char rbuf[20000];
		size_t total = 0, maxrec = 0;
		int n = snprintf(line, sizeof line, "d BIG %zu\r\n", o->big);
		if (SSL_write(ssl, line, n) != n)
			return 17;
		/* SSL_read returns at most one record's plaintext */
		while (total < o->big + 2) {
			int r = SSL_read(ssl, rbuf, sizeof rbuf);
			if (r <= 0)
				return 18;
			total += (size_t)r;
			if ((size_t)r > maxrec)
				maxrec = (size_t)r;
		}
		if (maxrec > 8192 || maxrec < 1024)
			return 19;
	}
	SSL_write(ssl, "e QUIT\r\n", 8);
	SSL_shutdown(ssl);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	return 0;
}

/* ---- the server side, also used by --serve ---- */

static int serve(struct ios *s, bool implicit)
{
	struct buf line;
	const char *error;

	buf_init(&line, 0);
	if (implicit && tls_start(s, TLS_SERVICE_IMAP, &error) < 0) {
		log_error("implicit TLS: %s", error);
		return 1;
	}
	ios_puts(s, "* OK test server\r\n");
	(void)ios_flush(s);
	for (;;) {
		enum ios_status st = ios_getline(s, &line, 1000);
		if (st != IOS_OK)
			break;
		char *sp = strchr(line.data, ' ');
		const char *tag = line.data;
		char *cmd = sp != NULL ? sp + 1 : (char *)"";
		if (sp != NULL)
			*sp = '\0';
		char *arg = strchr(cmd, ' ');
		if (arg != NULL)
			*arg++ = '\0';
		else
			arg = (char *)"";
		if (strcmp(cmd, "STARTTLS") == 0) {
			if (!tls_available(TLS_SERVICE_IMAP)) {
				ios_printf(s, "%s NO TLS unavailable\r\n", tag);
				(void)ios_flush(s);
				continue;
			}
			ios_printf(s, "%s OK begin TLS\r\n", tag);
			if (tls_start(s, TLS_SERVICE_IMAP, &error) < 0) {
				log_info("STARTTLS: %s", error);
				break;
			}
		} else if (strcmp(cmd, "BIG") == 0) {
			uint32_t n = 0;
			(void)str_to_u32(arg, &n);
			char chunk[1000];
			memset(chunk, 'x', sizeof chunk);
			for (uint32_t done = 0; done < n; ) {
				uint32_t k = n - done < sizeof chunk ?
					n - done : (uint32_t)sizeof chunk;
				ios_write(s, chunk, k);
				done += k;
			}
			ios_puts(s, "\r\n");
		} else if (strcmp(cmd, "ECHO") == 0) {
			ios_printf(s, "%s\r\n", arg);
		} else if (strcmp(cmd, "TLS?") == 0) {
			ios_puts(s, tls_active(s) ? "yes\r\n" : "no\r\n");
		} else if (strcmp(cmd, "QUIT") == 0) {
			ios_puts(s, "BYE\r\n");
			break;
		} else {
			ios_printf(s, "%s BAD unknown\r\n", tag);
		}
		if (ios_flush(s) != IOS_OK)
			break;
	}
	(void)ios_flush(s);
	buf_release(&line);
	return 0;
}

static int client_server(const struct client_opts *o, int *server_rc)
{
	int fds[2], status;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) < 0)
		panic("socketpair");
	pid_t pid = fork();
	if (pid == 0) {
		close(fds[0]);
		_exit(run_client(fds[1], o));
	}
	close(fds[1]);
	struct ios *s = ios_new(fds[0], fds[0]);
	ios_set_timeout(s, 20);
	*server_rc = serve(s, false);
	ios_free(&s);
	close(fds[0]);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static void test_tls_unavailable(void)
{
	char *missing = xasprintf("%s/missing.pem", tmpdir);

	/* the POP service is given files that do not exist */
	set("ipop3d-tls-cert", missing);
	set("ipop3d-tls-key", missing);
	CHECK(!tls_available(TLS_SERVICE_POP));
	CHECK(!tls_available(TLS_SERVICE_POP));	/* cached, logged once */
	free(missing);
}

static void test_tls_available(void)
{
	set("imapd-tls-cert", cert);
	set("imapd-tls-key", key);
	CHECK(tls_available(TLS_SERVICE_IMAP));
}

static void test_tls_starttls_injection(void)
{
	struct client_opts o = { .inject = true };
	int rc = -1;

	CHECK_INT(client_server(&o, &rc), 0);
	CHECK_INT(rc, 0);
}

static void test_tls_records_8k(void)
{
	struct client_opts o = { .big = 100000 };
	int rc = -1;

	CHECK_INT(client_server(&o, &rc), 0);
}

static void test_tls_old_versions_refused(void)
{
	struct client_opts o = { .max_version = TLS1_1_VERSION };
	int rc = -1;

	CHECK_INT(client_server(&o, &rc), 20);
	struct client_opts o12 = { .max_version = TLS1_2_VERSION };
	CHECK_INT(client_server(&o12, &rc), 0);
}

static void test_tls_implicit_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sin = { .sin_family = AF_INET };
	int one = 1;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	CHECK(bind(fd, (struct sockaddr *)&sin, sizeof sin) == 0);
	CHECK(!tls_implicit_port(fd, TLS_SERVICE_IMAP));
	CHECK(!tls_implicit_port(fd, TLS_SERVICE_POP));
	close(fd);
	/* a pipe is no socket */
	CHECK(!tls_implicit_port(0 /* may be anything */, TLS_SERVICE_IMAP) ||
	      true);
	/* port 993 when we may bind it (root, and free) */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	sin.sin_port = htons(993);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&sin, sizeof sin) == 0) {
		CHECK(tls_implicit_port(fd, TLS_SERVICE_IMAP));
		CHECK(!tls_implicit_port(fd, TLS_SERVICE_POP));
	} else {
		fprintf(stderr, "  cannot bind port 993 (%s): skipped\n",
			strerror(errno));
	}
	close(fd);
}

int main(int argc, char **argv)
{
	static const struct test tests[] = {
		TEST(test_tls_unavailable),
		TEST(test_tls_available),
		TEST(test_tls_starttls_injection),
		TEST(test_tls_records_8k),
		TEST(test_tls_old_versions_refused),
		TEST(test_tls_implicit_port),
	};
	const char *error;
	int ret;

	signal(SIGPIPE, SIG_IGN);
	if (argc > 1 && strcmp(argv[1], "--serve") == 0) {
		log_open("test-tls");
		if (config_load(NULL, &error) < 0) {
			fprintf(stderr, "%s\n", error);
			return 2;
		}
		struct ios *s = ios_new(0, 1);
		ios_set_timeout(s, 30);
		ret = serve(s, argc > 2 && strcmp(argv[2], "--implicit") == 0);
		ios_free(&s);
		return ret;
	}
	if (getenv("CCLIENT_LOG_STDERR") == NULL)
		setenv("CCLIENT_LOG_FILE", "/dev/null", 0);
	log_open("test-tls");
	tmpdir = test_tmpdir();
	if (!make_cert()) {
		printf("FAIL test_tls_make_cert (openssl req failed)\n");
		return 1;
	}
	ret = test_run(argc, argv, tests, N_ELEMENTS(tests));
	unlink(cert);
	unlink(key);
	rmdir(tmpdir);
	free(cert);
	free(key);
	free(tmpdir);
	return ret;
}
