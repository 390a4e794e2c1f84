/*
 * main.c - ipop3d, the POP3 server: options, configuration, and how a
 * connection reaches the session. Normally started per connection by
 * inetd, xinetd or a systemd socket with Accept=yes, speaking on
 * stdin/stdout; with -l ADDR:PORT it listens itself (tests, small sites)
 * and forks one process per connection.
 *
 *   ipop3d [-s] [-c FILE] [-o key=value]... [-l ADDR:PORT]
 *
 * SECURITY: started as root so that it can log users in; nothing here
 * reads network input. Started as an ordinary user it serves only that
 * user (auth_self). SIGPIPE is ignored so a vanished client is seen as a
 * write error, logged, and the session ends without applying DELEs.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "listener.h"
#include "log.h"
#include "proxy-protocol.h"
#include "tls.h"
#include "pop3.h"
#include "linkage.h"

static bool opt_implicit_tls;

static void usage(void)
{
	fprintf(stderr, "usage: ipop3d [-s] [-c FILE] [-o key=value]... "
		"[-l ADDR:PORT]\n");
	exit(2);
}

/* one connection on fd (in_fd == out_fd for sockets) */
static void serve(int in_fd, int out_fd)
{
	char *rhost = xstrdup(listener_peer_name(in_fd));
	bool implicit = opt_implicit_tls ||
		tls_implicit_port(in_fd, TLS_SERVICE_POP);

	log_set_host(rhost);
	/* behind nginx: the real client's address (proxy-protocol.h) */
	if (proxy_session_start(in_fd, &rhost) == 0)
		pop3_session_run(in_fd, out_fd, rhost, implicit);
	free(rhost);
}

static void serve_conn(int fd, void *ctx ATTR_UNUSED)
{
	serve(fd, fd);
}

int main(int argc, char **argv)
{
	const char *config_file = NULL, *listen_addr = NULL, *error;
	char **overrides;
	unsigned noverrides = 0;
	int c;

	log_open("ipop3d");
	drivers_link();
	overrides = xcalloc((size_t)argc + 1, sizeof *overrides);
	while ((c = getopt(argc, argv, "c:sl:o:")) != -1) {
		switch (c) {
		case 'c':
			config_file = optarg;
			break;
		case 's':
			opt_implicit_tls = true;
			break;
		case 'l':
			listen_addr = optarg;
			break;
		case 'o':
			overrides[noverrides++] = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	if (config_load(config_file, &error) < 0) {
		fprintf(stderr, "ipop3d: %s\n", error);
		log_fatal("configuration: %s", error);
	}
	for (unsigned i = 0; i < noverrides; i++) {
		char *eq = strchr(overrides[i], '=');

		if (eq == NULL)
			usage();
		*eq = '\0';
		if (!config_set(overrides[i], eq + 1, &error)) {
			fprintf(stderr, "ipop3d: -o %s: %s\n", overrides[i], error);
			exit(2);
		}
	}
	free(overrides);
	signal(SIGPIPE, SIG_IGN);

	if (listen_addr != NULL) {
		/* load the certificate once here: every connection's child
		 * inherits it, and a missing one is logged once, not per
		 * connection */
		(void)tls_available(TLS_SERVICE_POP);
		if (listener_run(listen_addr, serve_conn, NULL, &error) < 0) {
			fprintf(stderr, "ipop3d: %s: %s\n", listen_addr, error);
			log_fatal("listen on %s: %s", listen_addr, error);
		}
		return 0;
	}
	serve(STDIN_FILENO, STDOUT_FILENO);
	return 0;
}
