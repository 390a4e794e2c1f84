/*
 * test-listener.c - unit tests for the built-in listener: address
 * parsing, the "listening on" line, one child per connection with the
 * socket on 0 and 1, the peer name, and SIGTERM ending the listener.
 * Each test forks the listener and bounds every wait with alarm().
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "listener.h"
#include "test.h"

/* the session: echo "peer=<name> got=<first read>" and return */
static void echo_session(int fd, void *ctx)
{
	char buf[64], out[160];
	ssize_t n = read(0, buf, sizeof buf);
	int len;

	len = snprintf(out, sizeof out, "%s peer=%s got=%.*s",
		       (const char *)ctx, listener_peer_name(fd),
		       (int)(n > 0 ? n : 0), buf);
	(void)write_full(1, out, (size_t)len);
}

/* fork a listener on addr; returns its pid and the port it printed */
static pid_t start_listener(const char *addr, int *port_r)
{
	int p[2];
	pid_t pid;
	char line[200];
	size_t len = 0;
	const char *colon;

	*port_r = -1;
	if (pipe(p) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		const char *err;
		close(p[0]);
		dup2(p[1], 2);
		close(p[1]);
		if (listener_run(addr, echo_session, "hello", &err) < 0) {
			fprintf(stderr, "error %s\n", err);
			_exit(1);
		}
		_exit(0);
	}
	close(p[1]);
	alarm(10);
	while (len < sizeof line - 1) {
		ssize_t r = read(p[0], line + len, 1);
		if (r <= 0 || line[len] == '\n')
			break;
		len++;
	}
	alarm(0);
	line[len] = '\0';
	close(p[0]);
	if (strncmp(line, "listening on ", 13) != 0) {
		fprintf(stderr, "  unexpected: %s\n", line);
		return pid;
	}
	colon = strrchr(line, ':');
	if (colon != NULL)
		*port_r = atoi(colon + 1);
	return pid;
}

static void stop_listener(pid_t pid)
{
	int status = -1;

	kill(pid, SIGTERM);
	alarm(10);
	CHECK(waitpid(pid, &status, 0) == pid);
	alarm(0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void exchange(int family, int port, const char *expect)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char buf[200];
	size_t got = 0;
	int fd;

	memset(&ss, 0, sizeof ss);
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof *sin;
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		sin6->sin6_addr = in6addr_loopback;
		len = sizeof *sin6;
	}
	fd = socket(family, SOCK_STREAM, 0);
	CHECK(fd >= 0);
	alarm(10);
	CHECK(connect(fd, (struct sockaddr *)&ss, len) == 0);
	CHECK(write_full(fd, "ping", 4) == 4);
	shutdown(fd, SHUT_WR);
	for (;;) {
		ssize_t r = read(fd, buf + got, sizeof buf - 1 - got);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	alarm(0);
	buf[got] = '\0';
	CHECK_STR(buf, expect);
	close(fd);
}

static void test_ipv4(void)
{
	int port;
	pid_t pid = start_listener("127.0.0.1:0", &port);

	CHECK(port > 0);
	if (port > 0) {
		for (int i = 0; i < 3; i++)
			exchange(AF_INET, port, "hello peer=127.0.0.1 got=ping");
	}
	stop_listener(pid);
}

static void test_ipv6(void)
{
	int port, fd = socket(AF_INET6, SOCK_STREAM, 0);
	pid_t pid;

	if (fd < 0) {
		fprintf(stderr, "  (no IPv6: skipped)\n");
		return;
	}
	close(fd);
	pid = start_listener("[::1]:0", &port);
	if (port > 0)
		exchange(AF_INET6, port, "hello peer=::1 got=ping");
	else
		fprintf(stderr, "  (cannot bind ::1: skipped)\n");
	stop_listener(pid);
}

static void test_bad_addresses(void)
{
	static const char *const bad[] = {
		"x", "1.2.3.4:", "[::1]1143", "::1:5", "127.0.0.1:99999",
		":143", "", "[]:143", "127.0.0.1:1a",
	};

	for (size_t i = 0; i < N_ELEMENTS(bad); i++) {
		const char *err = NULL;
		CHECK(listener_run(bad[i], echo_session, NULL, &err) < 0);
		CHECK(err != NULL);
	}
}

static void test_peer_name_not_socket(void)
{
	int p[2];

	CHECK(pipe(p) == 0);
	CHECK_STR(listener_peer_name(p[0]), "stdin");
	close(p[0]);
	close(p[1]);
}

int main(int argc, char **argv)
{
	static const struct test tests[] = {
		TEST(test_ipv4),
		TEST(test_ipv6),
		TEST(test_bad_addresses),
		TEST(test_peer_name_not_socket),
	};

	signal(SIGPIPE, SIG_IGN);
	return test_run(argc, argv, tests, N_ELEMENTS(tests));
}
