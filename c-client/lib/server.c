/*
 * server.c - the per-connection server skeleton (server.h).
 *
 * SECURITY: nothing here reads network input; the callbacks (PROXY
 * protocol, TLS, the session) do, under their own bounds.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "listener.h"
#include "log.h"
#include "server.h"

static const struct server_ops *server;
static bool opt_implicit_tls, opt_listener;

static void ATTR_NORETURN usage(void)
{
	fprintf(stderr, "%s\n", server->usage);
	exit(server->usage_exit);
}

static void ATTR_NORETURN ATTR_PRINTF(1, 2) startup_fatal(const char *fmt,
							  ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	fprintf(stderr, "%s: %s\n", server->name, msg != NULL ? msg : fmt);
	log_fatal("%s", msg != NULL ? msg : fmt);
}

static void serve(int in_fd, int out_fd)
{
	const char *peer = listener_peer_name(in_fd);
	char *host = xstrdup(peer != NULL ? peer : "unknown");
	struct server_conn conn;

	log_set_host(host);
	if (server->proxy == NULL || server->proxy(in_fd, &host) == 0) {
		memset(&conn, 0, sizeof conn);
		conn.in_fd = in_fd;
		conn.out_fd = out_fd;
		conn.host = host;
		conn.implicit_tls = opt_implicit_tls ||
			(server->tls_port != NULL && server->tls_port(in_fd));
		conn.listener = opt_listener;
		server->session(&conn);
	}
	free(host);
}

static void listener_conn(int fd, void *ctx ATTR_UNUSED)
{
	/* the listener puts the socket on descriptors 0 and 1 */
	serve(fd, fd == STDIN_FILENO ? STDOUT_FILENO : fd);
}

int server_main(int argc, char **argv, const struct server_ops *ops)
{
	const char *config_path = NULL, *listen_addr = NULL, *error;
	char **overrides;
	unsigned noverrides = 0;
	int ch;

	server = ops;
	log_open(ops->name);
	overrides = xcalloc((size_t)argc + 1, sizeof *overrides);
	while ((ch = getopt(argc, argv, ops->plain_only ? "c:l:o:" :
			    "c:sl:o:")) != -1) {
		switch (ch) {
		case 'c':
			config_path = optarg;
			break;
		case 's':
			opt_implicit_tls = true;
			break;
		case 'l':
			listen_addr = optarg;
			opt_listener = true;
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
	if (config_load(config_path, &error) < 0)
		startup_fatal("%s", error);
	for (unsigned i = 0; i < noverrides; i++) {
		char *eq = strchr(overrides[i], '=');

		if (eq == NULL)
			startup_fatal("-o %s: expected key=value",
				      overrides[i]);
		*eq = '\0';
		if (!config_set(overrides[i], eq + 1, &error))
			startup_fatal("-o %s: %s", overrides[i], error);
	}
	free(overrides);
	if (ops->configured != NULL)
		ops->configured();
	signal(SIGPIPE, SIG_IGN);

	if (listen_addr != NULL) {
		if (ops->pre_listen != NULL)
			ops->pre_listen();
		if (listener_run(listen_addr, listener_conn, NULL,
				 &error) < 0)
			startup_fatal("listener %s: %s", listen_addr, error);
		return 0;
	}
	serve(STDIN_FILENO, STDOUT_FILENO);
	return 0;
}
