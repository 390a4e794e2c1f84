/*
 * test-auth-http.c - nginx's auth_http request parser and the route map.
 *
 * Golden files: every tests/data/auth-http/NAME.req is parsed and the
 * result printed canonically, diffed against NAME.ref (GOLDEN_UPDATE=1
 * rewrites the .ref files: review them before committing). Every prefix
 * of every request must ask for more or give the same answer, and the
 * size cap must hold without an empty line. The data directory is
 * $CC_SRCDIR/tests/data/auth-http, else tests/data/auth-http.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "auth-http.h"
#include "buf.h"
#include "route-map.h"
#include "test.h"

static const char *const method_names[] = { "plain", "apop", "cram-md5" };

static void put_str(struct buf *out, const char *s)
{
	if (s == NULL) {
		buf_puts(out, "NIL");
		return;
	}
	buf_putc(out, '"');
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\')
			buf_printf(out, "\\x%02x", c);
		else
			buf_putc(out, (char)c);
	}
	buf_putc(out, '"');
}

static void dump(const char *data, size_t len, struct buf *out)
{
	struct auth_http_request req;
	const char *error = NULL;
	int r = auth_http_parse(data, len, &req, &error);

	if (r < 0) {
		buf_printf(out, "refused: %s\n", error != NULL ? error : "?");
		return;
	}
	if (r == 0) {
		buf_puts(out, "incomplete\n");
		return;
	}
	buf_printf(out, "length %d of %zu\nmethod %s\nprotocol %s\nuser ", r,
		   len, method_names[req.method],
		   req.protocol == AUTH_HTTP_IMAP ? "imap" : "pop3");
	put_str(out, req.user);
	buf_puts(out, "\npass ");
	put_str(out, req.pass);
	buf_puts(out, "\nsalt ");
	put_str(out, req.salt);
	buf_printf(out, "\nclient-ip %s\nattempt %u\n", req.client_ip,
		   req.attempt);
	auth_http_request_free(&req);
}

static char *data_dir(void)
{
	const char *src = getenv("CC_SRCDIR");

	if (src != NULL && *src != '\0')
		return xasprintf("%s/tests/data/auth-http", src);
	return xstrdup("tests/data/auth-http");
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_auth_http_golden(void)
{
	char *dir = data_dir(), **names = NULL;
	DIR *d = opendir(dir);
	bool update = getenv("GOLDEN_UPDATE") != NULL;
	struct dirent *de;
	size_t n = 0;

	CHECK(d != NULL);
	if (d == NULL) {
		free(dir);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);
		if (l > 4 && strcmp(de->d_name + l - 4, ".req") == 0) {
			names = xreallocarray(names, n + 1, sizeof *names);
			names[n++] = xstrndup(de->d_name, l - 4);
		}
	}
	closedir(d);
	qsort(names, n, sizeof *names, name_cmp);
	CHECK(n >= 25);
	for (size_t i = 0; i < n; i++) {
		char *reqf = xasprintf("%s/%s.req", dir, names[i]);
		char *ref = xasprintf("%s/%s.ref", dir, names[i]);
		size_t len, rlen;
		char *data = test_read_file(reqf, &len);
		struct buf out, part;

		buf_init(&out, 0);
		buf_init(&part, 0);
		CHECK(data != NULL);
		if (data != NULL) {
			dump(data, len, &out);
			/* a prefix is incomplete or already decided the same
			 * way (a refusal may come early) */
			for (size_t k = 0; k < len; k++) {
				buf_reset(&part);
				dump(data, k, &part);
				if (strcmp(part.data, "incomplete\n") != 0 &&
				    strncmp(part.data, "refused", 7) != 0) {
					fprintf(stderr, "  %s: prefix %zu: %s",
						names[i], k, part.data);
					test_failures++;
					break;
				}
			}
		}
		if (update) {
			FILE *f = fopen(ref, "wb");
			CHECK(f != NULL);
			if (f != NULL) {
				fwrite(out.data, 1, out.len, f);
				fclose(f);
			}
		} else {
			char *want = test_read_file(ref, &rlen);
			if (want == NULL || rlen != out.len ||
			    memcmp(want, out.data, rlen) != 0) {
				fprintf(stderr, "  golden mismatch: %s\n--- got:\n%s",
					ref, out.data);
				test_failures++;
			}
			free(want);
		}
		buf_release(&out);
		buf_release(&part);
		free(data);
		free(reqf);
		free(ref);
		free(names[i]);
	}
	free(names);
	free(dir);
}

static void test_auth_http_limits(void)
{
	char *big = xmalloc(AUTH_HTTP_MAX_REQUEST + 10);
	struct auth_http_request req;
	const char *error = NULL;

	/* no empty line within the cap: refused, not waited for */
	memcpy(big, "GET /auth HTTP/1.0\r\nX: ", 23);
	memset(big + 23, 'a', AUTH_HTTP_MAX_REQUEST + 10 - 23);
	CHECK_INT(auth_http_parse(big, AUTH_HTTP_MAX_REQUEST - 1, &req, &error), 0);
	CHECK_INT(auth_http_parse(big, AUTH_HTTP_MAX_REQUEST, &req, &error), -1);
	CHECK_INT(auth_http_parse(big, AUTH_HTTP_MAX_REQUEST + 10, &req, &error), -1);
	/* a NUL before the end is refused at once */
	CHECK_INT(auth_http_parse("GET /\0", 6, &req, &error), -1);
	/* bytes after the empty line are not part of the request */
	static const char two[] = "GET /auth HTTP/1.0\r\nAuth-Method: plain\r\n"
		"Auth-User: a\r\nAuth-Pass: b\r\nAuth-Protocol: imap\r\n"
		"Client-IP: 192.0.2.1\r\n\r\nGET /again";
	CHECK_INT(auth_http_parse(two, sizeof two - 1, &req, &error),
		  (int)(sizeof two - 1 - 10));
	auth_http_request_free(&req);
	CHECK(req.user == NULL && req.pass == NULL);
	free(big);
}

static char *route_str(const char *line)
{
	struct route r;
	char *user, *s;
	const char *error = NULL;
	int k = route_parse_line(line, &user, &r, &error);

	if (k < 0)
		return xasprintf("bad: %s", error);
	if (k == 0)
		return xstrdup("skip");
	s = xasprintf("%s -> %s %u %u%s", user, r.host, (unsigned)r.imap_port,
		      (unsigned)r.pop3_port, r.is_default ? " default" : "");
	free(user);
	return s;
}

#define ROUTE(line, want) do { char *r_ = route_str(line); \
	CHECK_STR(r_, want); free(r_); } while (0)

static void test_route_lines(void)
{
	ROUTE("alice 10.77.0.11\n", "alice -> 10.77.0.11 143 110");
	ROUTE("  bob\tmail2.example.org:1143:1110  # moved 2026-12\n",
	      "bob -> mail2.example.org 1143 1110");
	ROUTE("carol [2001:db8::3]:993", "carol -> 2001:db8::3 993 110");
	ROUTE("dave [2001:db8::4]", "dave -> 2001:db8::4 143 110");
	ROUTE("* mail1.example.org", "* -> mail1.example.org 143 110 default");
	ROUTE("default mail1:144", "default -> mail1 144 110 default");
	ROUTE("# comment", "skip");
	ROUTE("   \n", "skip");
	ROUTE("", "skip");
	static const char *const bad[] = {
		"alice", "alice\n", "alice 10.77.0.11 extra", "alice host:0",
		"alice host:65536", "alice host:01", "alice host:1:2:3",
		"alice host:", "alice host::110", "alice [::1", "alice []",
		"alice ho$t", "alice :143", "alice host:abc",
		"alice [2001:db8::1]x",
	};
	for (size_t i = 0; i < N_ELEMENTS(bad); i++) {
		char *r = route_str(bad[i]);
		if (strncmp(r, "bad: ", 5) != 0) {
			fprintf(stderr, "  accepted: %s -> %s\n", bad[i], r);
			test_failures++;
		}
		free(r);
	}
}

static void test_route_lookup(void)
{
	char path[] = "/tmp/test-route-XXXXXX";
	int fd = mkstemp(path);
	struct route r;
	const char *error = NULL;
	static const char map[] =
		"# the map\n"
		"* 10.77.0.13\n"
		"alice 10.77.0.11\n"
		"bad line here\n"
		"bob 10.77.0.12:1143:1110\n"
		"alice 10.77.0.99\n";

	CHECK(fd >= 0);
	CHECK(write_full(fd, map, sizeof map - 1) == (ssize_t)sizeof map - 1);
	close(fd);
	CHECK_INT(route_lookup(path, "alice", &r, &error), 1);
	CHECK_STR(r.host, "10.77.0.11");	/* first line for a user counts */
	CHECK(!r.is_default);
	CHECK_INT(route_lookup(path, "bob", &r, &error), 1);
	CHECK_STR(r.host, "10.77.0.12");
	CHECK_INT(r.pop3_port, 1110);
	CHECK_INT(route_lookup(path, "zoe", &r, &error), 1);
	CHECK_STR(r.host, "10.77.0.13");	/* the default, wherever it stands */
	CHECK(r.is_default);
	CHECK_INT(route_lookup(path, "bad", &r, &error), 1);
	CHECK(r.is_default);			/* a bad line routes nobody */
	/* a changed file counts at the next lookup */
	fd = open(path, O_WRONLY | O_TRUNC);
	CHECK(write_full(fd, "alice 10.77.0.12\n", 17) == 17);
	close(fd);
	CHECK_INT(route_lookup(path, "alice", &r, &error), 1);
	CHECK_STR(r.host, "10.77.0.12");
	CHECK_INT(route_lookup(path, "zoe", &r, &error), 0);
	unlink(path);
	CHECK_INT(route_lookup(path, "alice", &r, &error), -1);
	CHECK(error != NULL && strstr(error, path) != NULL);
}

int main(int argc, char **argv)
{
	static const struct test tests[] = {
		TEST(test_auth_http_golden),
		TEST(test_auth_http_limits),
		TEST(test_route_lines),
		TEST(test_route_lookup),
	};
	return test_run(argc, argv, tests, N_ELEMENTS(tests));
}
