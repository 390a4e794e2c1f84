/*
 * server.h - the skeleton of a per-connection server (imapd, ipop3d), in
 * the manner of Postfix's single_server_main(): the program hands over a
 * struct of callbacks and the skeleton does what every such server does.
 *
 *   NAME [-s] [-c FILE] [-o key=value]... [-l ADDR:PORT]
 *
 * (imapd, ipop3d; mail-route without -s).
 *
 * server_main() opens the log as NAME, parses those options, loads the
 * configuration (-c) and applies the overrides (-o), ignores SIGPIPE (a
 * vanished client is a write error), then serves one connection on
 * stdin/stdout (inetd, xinetd, systemd Accept=yes) or, with -l, runs the
 * built-in listener, which forks one process per connection. For each
 * connection it names the peer for the log, asks the PROXY-protocol hook
 * for the real client (behind nginx), decides TLS-at-connect (-s or the
 * program's implicit-TLS ports) and calls the session callback.
 *
 * Startup errors (a bad option, configuration or listen address) are
 * printed on stderr as "NAME: ..." and logged; the exit status is 1, or
 * the program's usage status for a bad command line. Options come from
 * the administrator, never from the network.
 */
#ifndef CC_SERVER_H
#define CC_SERVER_H

#include <stdbool.h>

struct server_conn {
	int in_fd, out_fd;	/* the same socket with -l */
	const char *host;	/* the client, for logs (owned by server.c) */
	bool implicit_tls;	/* TLS first: -s or a TLS port */
	bool listener;		/* started by -l (never PREAUTH) */
};

struct server_ops {
	const char *name;	/* log ident and stderr prefix: "imapd" */
	const char *usage;	/* the usage line */
	int usage_exit;		/* exit status for a bad command line */
	bool plain_only;	/* never TLS: no -s option (mail-route) */
	/* after the configuration: read settings, build caches (or NULL) */
	void (*configured)(void);
	/* before -l listens: what every child should inherit, such as
	 * the certificate, loaded once (or NULL) */
	void (*pre_listen)(void);
	/* the PROXY protocol: may replace *host (free it then) with the
	 * real client's address; < 0 ends the connection (or NULL) */
	int (*proxy)(int fd, char **host);
	/* is the socket fd a TLS-at-connect port (993, 995)? (or NULL) */
	bool (*tls_port)(int fd);
	/* one connection */
	void (*session)(const struct server_conn *conn);
};

/* never returns on errors; returns the exit status otherwise */
int server_main(int argc, char **argv, const struct server_ops *ops);

#endif
