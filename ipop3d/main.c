/*
 * main.c - ipop3d, the POP3 server: options, configuration, and how a
 * connection reaches the session. Normally started per connection by
 * inetd, xinetd or a systemd socket with Accept=yes, speaking on
 * stdin/stdout; with -l ADDR:PORT it listens itself (tests, small sites)
 * and forks one process per connection.
 *
 *   ipop3d [-s] [-c FILE] [-o key=value]... [-l ADDR:PORT]
 *
 * The options, the listener and the PROXY protocol are the core's server
 * skeleton (c-client/lib/server.h); this file gives it the POP3 parts.
 *
 * SECURITY: started as root so that it can log users in; nothing here
 * reads network input. Started as an ordinary user it serves only that
 * user (auth_self). SIGPIPE is ignored (server.c) so a vanished client is
 * seen as a write error, logged, and the session ends without applying
 * DELEs.
 */
#include "proxy-protocol.h"
#include "server.h"
#include "tls.h"
#include "pop3.h"
#include "linkage.h"

static void pop3_session(const struct server_conn *conn)
{
	pop3_session_run(conn->in_fd, conn->out_fd, conn->host,
			 conn->implicit_tls);
}

static void pop3_pre_listen(void)
{
	/* load the certificate once here: every connection's child
	 * inherits it, and a missing one is logged once, not per
	 * connection */
	(void)tls_available(TLS_SERVICE_POP);
}

static bool pop3_tls_port(int fd)
{
	return tls_implicit_port(fd, TLS_SERVICE_POP);
}

static const struct server_ops pop3_server = {
	.name = "ipop3d",
	.usage = "usage: ipop3d [-s] [-c FILE] [-o key=value]... "
		 "[-l ADDR:PORT]",
	.usage_exit = 2,
	.pre_listen = pop3_pre_listen,
	/* behind nginx: the real client's address (proxy-protocol.h) */
	.proxy = proxy_session_start,
	.tls_port = pop3_tls_port,
	.session = pop3_session,
};

int main(int argc, char **argv)
{
	drivers_link();
	return server_main(argc, argv, &pop3_server);
}
