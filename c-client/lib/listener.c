/*
 * listener.c - the built-in TCP listener (see listener.h).
 *
 * SECURITY: the parent only accepts and forks; it never reads a byte from
 * a client, so nothing a client sends can reach the process that holds
 * the listening socket. Children start with default signal dispositions
 * and the signal mask the program had, and hold no descriptor but the
 * connection (and stderr). The number of children is bounded so a
 * connection flood cannot become a fork bomb.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "listener.h"
#include "log.h"

static volatile sig_atomic_t terminate;
static volatile sig_atomic_t children;

static void on_sigterm(int sig)
{
	terminate = 1;
}

static void on_sigchld(int sig)
{
	int saved = errno;

	while (waitpid(-1, NULL, WNOHANG) > 0)
		if (children > 0)
			children--;
	errno = saved;
}

/* split addrport into host and port strings (static buffers) */
static int parse_addrport(const char *s, char *host, size_t hostsz,
			  char *port, size_t portsz, const char **error_r)
{
	const char *p;
	size_t hl;

	if (strspn(s, "0123456789") == strlen(s) && *s != '\0') {
		snprintf(host, hostsz, "127.0.0.1");
		if (snprintf(port, portsz, "%s", s) >= (int)portsz)
			goto bad;
		goto check_port;
	}
	if (s[0] == '[') {
		p = strchr(s, ']');
		if (p == NULL || p[1] != ':')
			goto bad;
		hl = (size_t)(p - s - 1);
		s++;
		p++;
	} else {
		p = strrchr(s, ':');
		if (p == NULL || strchr(s, ':') != p)
			goto bad;
		hl = (size_t)(p - s);
	}
	if (hl == 0 || hl >= hostsz)
		goto bad;
	memcpy(host, s, hl);
	host[hl] = '\0';
	if (p[1] == '\0' || strspn(p + 1, "0123456789") != strlen(p + 1) ||
	    snprintf(port, portsz, "%s", p + 1) >= (int)portsz)
		goto bad;
	goto check_port;
check_port:
	if (strtoul(port, NULL, 10) <= 65535)
		return 0;
bad:
	*error_r = "expected HOST:PORT, [IPV6]:PORT or PORT";
	return -1;
}

static const char *sockaddr_name(const struct sockaddr *sa, socklen_t len,
				 bool with_port)
{
	static char out[NI_MAXHOST + NI_MAXSERV + 4];
	char host[NI_MAXHOST], serv[NI_MAXSERV];

	if (getnameinfo(sa, len, host, sizeof host, serv, sizeof serv,
			NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		return "unknown";
	if (!with_port)
		snprintf(out, sizeof out, "%s", host);
	else if (sa->sa_family == AF_INET6)
		snprintf(out, sizeof out, "[%s]:%s", host, serv);
	else
		snprintf(out, sizeof out, "%s:%s", host, serv);
	return out;
}

const char *listener_peer_name(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;

	if (getpeername(fd, (struct sockaddr *)&ss, &len) < 0)
		return errno == ENOTSOCK ? "stdin" : "unknown";
	if (ss.ss_family != AF_INET && ss.ss_family != AF_INET6)
		return "local";
	return sockaddr_name((struct sockaddr *)&ss, len, false);
}

static int listen_on(const char *addrport, const char **error_r)
{
	static char errbuf[300];
	char host[256], port[16];
	struct addrinfo hints, *res, *ai;
	int fd = -1, one = 1, e, saved = 0;

	if (parse_addrport(addrport, host, sizeof host, port, sizeof port,
			   error_r) < 0)
		return -1;
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	e = getaddrinfo(host, port, &hints, &res);
	if (e != 0) {
		snprintf(errbuf, sizeof errbuf, "%s: %s", host, gai_strerror(e));
		*error_r = errbuf;
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
			    ai->ai_protocol);
		if (fd < 0) {
			saved = errno;
			continue;
		}
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    listen(fd, 64) == 0)
			break;
		saved = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		snprintf(errbuf, sizeof errbuf, "cannot listen on %s: %s",
			 addrport, strerror(saved));
		*error_r = errbuf;
		return -1;
	}
	return fd;
}

static void run_child(int lfd, int cfd, const sigset_t *oldmask,
		      void (*session)(int fd, void *ctx), void *ctx)
{
	close(lfd);
	signal(SIGTERM, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	sigprocmask(SIG_SETMASK, oldmask, NULL);
	if (dup2(cfd, 0) < 0 || dup2(cfd, 1) < 0)
		_exit(1);
	if (cfd > 1)
		close(cfd);
	session(0, ctx);
	/* the session flushed its output; do not run the parent's atexit
	 * handlers or flush stdio buffers copied from it */
	_exit(0);
}

int listener_run(const char *addrport, void (*session)(int fd, void *ctx),
		 void *ctx, const char **error_r)
{
	struct sigaction sa;
	sigset_t block, oldmask;
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	int lfd;

	lfd = listen_on(addrport, error_r);
	if (lfd < 0)
		return -1;

	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_sigchld;
	sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
	sigaction(SIGCHLD, &sa, NULL);
	sa.sa_handler = on_sigterm;
	sa.sa_flags = 0;
	sigaction(SIGTERM, &sa, NULL);
	/* SIGTERM and SIGCHLD are only delivered inside ppoll(), so a
	 * SIGTERM can never slip in between the check and the wait */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGCHLD);
	sigprocmask(SIG_BLOCK, &block, &oldmask);

	if (getsockname(lfd, (struct sockaddr *)&ss, &len) == 0)
		fprintf(stderr, "listening on %s\n",
			sockaddr_name((struct sockaddr *)&ss, len, true));
	else
		fprintf(stderr, "listening on %s\n", addrport);
	fflush(stderr);

	while (!terminate) {
		struct pollfd pfd = { .fd = lfd, .events = POLLIN };
		sigset_t waitmask = oldmask;
		pid_t pid;
		int cfd;

		sigdelset(&waitmask, SIGTERM);
		sigdelset(&waitmask, SIGCHLD);
		if (ppoll(&pfd, 1, NULL, &waitmask) < 0) {
			if (errno != EINTR)
				log_error("listener: poll: %s", strerror(errno));
			continue;
		}
		cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (cfd < 0) {
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				log_error("listener: accept: %s", strerror(errno));
				sleep(1);
			}
			continue;
		}
		if (children >= LISTENER_MAX_CHILDREN) {
			log_warning("listener: %d sessions running, connection refused",
				    (int)children);
			close(cfd);
			continue;
		}
		pid = fork();
		if (pid < 0) {
			log_error("listener: fork: %s", strerror(errno));
			close(cfd);
			sleep(1);
			continue;
		}
		if (pid == 0)
			run_child(lfd, cfd, &oldmask, session, ctx);
		children++;
		close(cfd);
	}
	close(lfd);
	signal(SIGTERM, SIG_DFL);
	sigprocmask(SIG_SETMASK, &oldmask, NULL);
	return 0;
}
