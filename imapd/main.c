/*
 * main.c - imapd(8): the IMAP4rev1 server. Speaks IMAP on stdin/stdout
 * (inetd, xinetd, systemd Accept=yes) or, with -l, runs its own
 * listener whose children run the same session code on the accepted
 * socket. The options, the listener and the PROXY protocol are the
 * core's server skeleton (c-client/lib/server.h); this file gives it the
 * IMAP parts: the greeting, PREAUTH, implicit TLS on the session's ios.
 *
 * SECURITY: started as root, imapd runs only the pre-login command set
 * until auth_become() has dropped to the user (see cmd-auth.c). Started
 * as an ordinary user it greets PREAUTH only when stdin is a pipe or a
 * terminal (ssh host imapd, rsh) or a UNIX socket whose peer has our
 * uid (SO_PEERCRED): never on a network socket, where anyone could
 * connect (an inetd entry running imapd as some account). There, and
 * with -l, clients must log in, and only as a user with the server's
 * own uid. It can never be anyone else. Options come from the
 * administrator, never from the network.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "config.h"
#include "log.h"
#include "proxy-protocol.h"
#include "server.h"
#include "tls.h"
#include "imapd.h"
#include "linkage.h"

/* May the client on fd be taken for the user we run as? A pipe or a
 * terminal: it is whoever started us (ssh, rsh). A socket: only a UNIX
 * one whose peer has our uid; a network client is anyone. */
static bool preauth_allowed(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	struct ucred cr;
	socklen_t crlen = sizeof cr;
	struct stat st;

	if (fstat(fd, &st) < 0)
		return false;
	if (!S_ISSOCK(st.st_mode))
		return true;
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0 ||
	    ss.ss_family != AF_UNIX)
		return false;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) < 0 ||
	    crlen != sizeof cr)
		return false;
	return cr.uid == geteuid();
}

static void imapd_session(const struct server_conn *conn)
{
	struct client c;
	struct auth_user u;
	struct buf caps;
	const char *error;

	memset(&c, 0, sizeof c);
	c.host = xstrdup(conn->host);
	c.ios = ios_new(conn->in_fd, conn->out_fd);
	/* short until login (UW: 3 minutes), the TLS handshake included */
	ios_set_timeout(c.ios, (unsigned)config_int("imap-login-timeout"));
	c.state = STATE_NOTAUTH;

	if (conn->implicit_tls) {
		if (tls_start(c.ios, TLS_SERVICE_IMAP, &error) < 0) {
			log_info("TLS handshake failed: %s", error);
			goto out;
		}
		c.tls = true;
	}
	buf_init(&caps, 0);
	memset(&u, 0, sizeof u);
	if (!conn->listener && preauth_allowed(conn->in_fd) && auth_self(&u)) {
		/* not started as root on stdin/stdout (ssh host exec imapd):
		 * we can only ever be this user */
		auth_become(&u);
		c.user = xstrdup(u.name);
		log_set_user(u.name);
		log_info("Preauthenticated");
		client_state_change(&c, STATE_AUTH);
		client_capability(&c, &caps);
		client_untagged(&c, "PREAUTH [CAPABILITY %s] Pre-authenticated "
				"user %s", caps.data, u.name);
		client_send_alert(&c);
		auth_user_free(&u);
	} else {
		client_capability(&c, &caps);
		client_untagged(&c, "OK [CAPABILITY %s] IMAP4rev1 server ready",
				caps.data);
	}
	buf_release(&caps);
	(void)ios_flush(c.ios);
	client_run(&c);
out:
	ios_free(&c.ios);
	xfree(&c.host);
	xfree(&c.user);
	xfree(&c.lost_why);
}

static void imapd_configured(void)
{
	imapd_nul_to_0x80 = config_bool("nul-to-0x80");
	fetch_cache_init();
}

static void imapd_pre_listen(void)
{
	/* load the certificate once here: every connection's child
	 * inherits it, and a missing one is logged once, not per
	 * connection */
	(void)tls_available(TLS_SERVICE_IMAP);
}

static bool imapd_tls_port(int fd)
{
	return tls_implicit_port(fd, TLS_SERVICE_IMAP);
}

static const struct server_ops imapd_server = {
	.name = "imapd",
	.usage = "usage: imapd [-s] [-c config] [-o key=value]... "
		 "[-l address:port]",
	.usage_exit = 64,
	.configured = imapd_configured,
	.pre_listen = imapd_pre_listen,
	/* behind nginx: the real client's address (proxy-protocol.h) */
	.proxy = proxy_session_start,
	.tls_port = imapd_tls_port,
	.session = imapd_session,
};

int main(int argc, char **argv)
{
	drivers_link();
	return server_main(argc, argv, &imapd_server);
}
