/*
 * main.c - imapd(8): the IMAP4rev1 server. Speaks IMAP on stdin/stdout
 * (inetd, xinetd, systemd Accept=yes) or, with -l, runs its own
 * listener whose children run the same session code on the accepted
 * socket.
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
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "config.h"
#include "listener.h"
#include "log.h"
#include "proxy-protocol.h"
#include "tls.h"
#include "imapd.h"

static bool opt_implicit_tls;
/* the built-in listener: clients log in even when not started as root */
static bool opt_listener;

static void ATTR_NORETURN usage(void)
{
	fprintf(stderr, "usage: imapd [-s] [-c config] [-o key=value]... "
		"[-l address:port]\n");
	exit(64);
}

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

static void imapd_session(int in_fd, int out_fd)
{
	struct client c;
	struct auth_user u;
	struct buf caps;
	const char *error;
	const char *host;

	memset(&c, 0, sizeof c);
	host = listener_peer_name(in_fd);
	c.host = xstrdup(host != NULL ? host : "unknown");
	log_set_host(c.host);
	/* behind nginx: the real client's address (proxy-protocol.h) */
	if (proxy_session_start(in_fd, &c.host) < 0) {
		xfree(&c.host);
		return;
	}
	c.ios = ios_new(in_fd, out_fd);
	/* short until login (UW: 3 minutes), the TLS handshake included */
	ios_set_timeout(c.ios, (unsigned)config_int("imap-login-timeout"));
	c.state = STATE_NOTAUTH;

	if (opt_implicit_tls || tls_implicit_port(in_fd, TLS_SERVICE_IMAP)) {
		if (tls_start(c.ios, TLS_SERVICE_IMAP, &error) < 0) {
			log_info("TLS handshake failed: %s", error);
			goto out;
		}
		c.tls = true;
	}
	buf_init(&caps, 0);
	memset(&u, 0, sizeof u);
	if (!opt_listener && preauth_allowed(in_fd) && auth_self(&u)) {
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

static void listener_session(int fd, void *ctx)
{
	/* the listener puts the socket on descriptors 0 and 1 */
	imapd_session(fd, fd == STDIN_FILENO ? STDOUT_FILENO : fd);
}

int main(int argc, char **argv)
{
	const char *config_path = NULL, *listen_addr = NULL, *error;
	char **overrides = NULL;
	unsigned noverrides = 0, i;
	int ch;

	log_open("imapd");
	while ((ch = getopt(argc, argv, "c:sl:o:")) != -1) {
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
			overrides = xreallocarray(overrides, noverrides + 1,
						  sizeof *overrides);
			overrides[noverrides++] = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	if (config_load(config_path, &error) < 0)
		log_fatal("%s", error);
	for (i = 0; i < noverrides; i++) {
		char *eq = strchr(overrides[i], '=');
		if (eq == NULL)
			log_fatal("-o %s: expected key=value", overrides[i]);
		*eq = '\0';
		if (!config_set(overrides[i], eq + 1, &error))
			log_fatal("-o %s: %s", overrides[i], error);
	}
	free(overrides);
	imapd_nul_to_0x80 = config_bool("nul-to-0x80");
	fetch_cache_init();
	signal(SIGPIPE, SIG_IGN);

	if (listen_addr != NULL) {
		/* load the certificate once here: every connection's child
		 * inherits it, and a missing one is logged once, not per
		 * connection */
		(void)tls_available(TLS_SERVICE_IMAP);
		if (listener_run(listen_addr, listener_session, NULL,
				 &error) < 0)
			log_fatal("listener %s: %s", listen_addr, error);
		return 0;
	}
	imapd_session(STDIN_FILENO, STDOUT_FILENO);
	return 0;
}
