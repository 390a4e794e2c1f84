/*
 * cmd-auth.c - commands of any state and of the not-authenticated state:
 * CAPABILITY, NOOP, LOGOUT, ID, ENABLE, NAMESPACE, STARTTLS,
 * AUTHENTICATE, LOGIN; and what happens after a successful login.
 *
 * SECURITY: LOGIN and AUTHENTICATE run as root on network input. The
 * client only ever learns "Login failed"; the reason goes to the log.
 * Plaintext passwords are refused when the plaintext-logins policy says
 * so for this connection (FAQ 3.17/3.18: LOGINDISABLED). After
 * auth_become() the process is the user and cannot go back.
 */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "codec.h"
#include "config.h"
#include "log.h"
#include "penalty.h"
#include "tls.h"
#include "imapd.h"

void imapd_capability_auth(struct client *c, struct buf *out)
{
	struct buf mechs;
	const char *p, *sp;

	if (!c->tls && tls_available(TLS_SERVICE_IMAP))
		buf_puts(out, " STARTTLS");
	buf_init(&mechs, 0);
	sasl_mechanisms(c->tls, &mechs);
	for (p = mechs.data; *p != '\0'; p = sp) {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		sp = strchr(p, ' ');
		if (sp == NULL)
			sp = p + strlen(p);
		buf_puts(out, " AUTH=");
		buf_append(out, p, (size_t)(sp - p));
	}
	buf_release(&mechs);
	if (!auth_plaintext_allowed(c->tls))
		buf_puts(out, " LOGINDISABLED");
	if (imapd_referrals_enabled())
		buf_puts(out, " LOGIN-REFERRALS");	/* MAILBOX-: client.c */
}

void cmd_capability(struct client *c, struct imap_arg *args)
{
	struct buf caps;

	if (args[0].type != IMAP_ARG_EOL) {
		client_bad(c, "CAPABILITY takes no arguments");
		return;
	}
	buf_init(&caps, 0);
	client_capability(c, &caps);
	client_untagged(c, "CAPABILITY %s", caps.data);
	buf_release(&caps);
	client_ok(c, "CAPABILITY completed");
}

void cmd_noop(struct client *c, struct imap_arg *args)
{
	if (args[0].type != IMAP_ARG_EOL) {
		client_bad(c, "NOOP takes no arguments");
		return;
	}
	client_ok(c, "NOOP completed");
}

void cmd_logout(struct client *c, struct imap_arg *args)
{
	if (args[0].type != IMAP_ARG_EOL) {
		client_bad(c, "LOGOUT takes no arguments");
		return;
	}
	client_untagged(c, "BYE IMAP server logging out");
	if (c->mb != NULL) {
		mail_close(&c->mb);
		c->mb = NULL;
	}
	log_info("Logout");
	client_ok(c, "LOGOUT completed");
	client_state_change(c, STATE_LOGOUT);
}

void cmd_id(struct client *c, struct imap_arg *args)
{
	if (!(imap_arg_is_nil(&args[0]) || args[0].type == IMAP_ARG_LIST) ||
	    args[1].type != IMAP_ARG_EOL) {
		client_bad(c, "ID takes a parameter list or NIL");
		return;
	}
	if (args[0].type == IMAP_ARG_LIST && imap_arg_count(args[0].list) > 60) {
		client_bad(c, "Too many ID parameters");
		return;
	}
	/* x-client-address: the peer, or the client a trusted proxy named
	 * (proxy-protocol.h); numeric, so safe inside a quoted string */
	client_untagged(c, "ID (\"name\" \"imapd\" \"vendor\" \"c-client\" "
			"\"support-url\" \"https://example.invalid/\" "
			"\"x-client-address\" \"%s\")", c->host);
	client_ok(c, "ID completed");
}

void cmd_enable(struct client *c, struct imap_arg *args)
{
	unsigned i;

	if (args[0].type == IMAP_ARG_EOL) {
		client_bad(c, "ENABLE needs capability names");
		return;
	}
	for (i = 0; args[i].type != IMAP_ARG_EOL; i++)
		if (args[i].type != IMAP_ARG_ATOM) {
			client_bad(c, "ENABLE takes capability names");
			return;
		}
	/* RFC 5161: nothing we support needs enabling yet */
	client_untagged(c, "ENABLED");
	client_ok(c, "ENABLE completed");
}

void cmd_namespace(struct client *c, struct imap_arg *args)
{
	if (args[0].type != IMAP_ARG_EOL) {
		client_bad(c, "NAMESPACE takes no arguments");
		return;
	}
	if (c->anonymous)
		client_untagged(c, "NAMESPACE NIL NIL ((\"#public/\" \"/\")"
				"(\"#ftp/\" \"/\"))");
	else
		client_untagged(c, "NAMESPACE ((\"\" \"/\")) ((\"~\" \"/\")) "
				"((\"#shared/\" \"/\")(\"#public/\" \"/\")"
				"(\"#ftp/\" \"/\"))");
	client_ok(c, "NAMESPACE completed");
}

void cmd_starttls(struct client *c, struct imap_arg *args)
{
	const char *error;

	if (args[0].type != IMAP_ARG_EOL) {
		client_bad(c, "STARTTLS takes no arguments");
		return;
	}
	if (c->tls) {
		client_bad(c, "TLS is already active");
		return;
	}
	if (!tls_available(TLS_SERVICE_IMAP)) {
		client_no(c, "TLS is not available on this server");
		return;
	}
	ios_printf(c->ios, "%s OK Begin TLS negotiation now\r\n", c->tag);
	c->tagged_done = true;
	if (ios_flush(c->ios) != IOS_OK) {
		client_state_change(c, STATE_LOGOUT);
		return;
	}
	/* tls_start() throws away anything the client pipelined before the
	 * handshake: it could have been injected by a man in the middle */
	if (tls_start(c->ios, TLS_SERVICE_IMAP, &error) < 0) {
		log_info("STARTTLS failed: %s", error);
		client_state_change(c, STATE_LOGOUT);
		return;
	}
	c->tls = true;
}

void client_send_alert(struct client *c)
{
	const char *path = config_str("alert-file");
	char text[4096];
	ssize_t n;
	int fd;
	char *p, *nl;

	if (*path == '\0' || (fd = open(path, O_RDONLY | O_NOFOLLOW)) < 0)
		return;
	n = read(fd, text, sizeof text - 1);
	close(fd);
	if (n <= 0)
		return;
	text[n] = '\0';
	for (p = text; *p != '\0'; p = nl) {
		nl = strchr(p, '\n');
		if (nl != NULL)
			*nl++ = '\0';
		else
			nl = p + strlen(p);
		for (char *q = p; *q != '\0'; q++)
			if ((unsigned char)*q < 0x20)
				*q = ' ';
		if (*p != '\0')
			client_untagged(c, "OK [ALERT] %s", p);
	}
}

static void login_failed(struct client *c, const char *user,
			 const char *error);

void client_login_done(struct client *c, struct auth_user *u, const char *how)
{
	struct buf caps, referral;
	bool elsewhere;

	buf_init(&referral, 0);
	elsewhere = imapd_login_referral(c, u, &referral);
	if (geteuid() != 0 && u->uid != geteuid()) {
		/* started as an ordinary user (e.g. the -l listener of a
		 * non-root run-demo): nobody else can ever be served */
		login_failed(c, u->name, "not the user the server runs as");
		buf_release(&referral);
		auth_user_free(u);
		return;
	}
	penalty_record(c->host, true);
	auth_become(u);
	c->anonymous = u->anonymous;
	mail_user->anonymous = u->anonymous;
	xfree(&c->user);
	c->user = xstrdup(u->name);
	log_set_user(u->name);
	log_info("%s", how);	/* log adds user= and host= */
	client_state_change(c, STATE_AUTH);
	client_send_alert(c);
	buf_init(&caps, 0);
	client_capability(c, &caps);
	if (elsewhere) {
		/* RFC 2221: logged in, but the user's mail is elsewhere */
		client_untagged(c, "CAPABILITY %s", caps.data);
		client_ok(c, "[REFERRAL %s] User %s authenticated; personal "
			  "mailboxes are on another server", referral.data,
			  u->name);
	} else {
		client_ok(c, "[CAPABILITY %s] User %s authenticated",
			  caps.data, u->name);
	}
	buf_release(&caps);
	buf_release(&referral);
	auth_user_free(u);
}

static void login_failed(struct client *c, const char *user,
			 const char *error)
{
	log_info("Login failed user=%s auth=%s", user,
		 error != NULL ? error : "?");
	client_no(c, "[AUTHENTICATIONFAILED] Login failed");
	penalty_record(c->host, false);		/* for every process */
	if (auth_failure_delay(++c->login_failures)) {
		/* send the NO first so the client knows why */
		ios_printf(c->ios, "%s %s\r\n", c->tag, c->tagged.data);
		c->tagged_done = true;
		client_disconnect(c, "Too many login failures",
				  "Excessive login failures");
	}
}

/* run one SASL exchange; initial is the SASL-IR response or NULL */
static void sasl_exchange(struct client *c, const char *mech,
			  const char *initial, const char *user_for_log)
{
	struct auth_user u;
	struct sasl *s;
	struct buf challenge, line, enc;
	const char *error = NULL, *resp = initial;
	enum sasl_status st;
	unsigned rounds = 0;

	memset(&u, 0, sizeof u);
	penalty_wait(c->host);	/* this address's recent failures */
	s = sasl_start(AUTH_SERVICE_IMAP, mech, c->tls, c->host, &error);
	if (s == NULL) {
		client_no(c, "%s", error != NULL ? error :
			  "Unsupported authentication mechanism");
		return;
	}
	buf_init(&challenge, 0);
	buf_init(&line, 0);
	buf_init(&enc, 0);
	for (;;) {
		buf_reset(&challenge);
		st = sasl_step(s, resp, &challenge, &u, &error);
		if (st != SASL_CONTINUE)
			break;
		if (++rounds > 10) {
			st = SASL_BAD;
			error = "Too many SASL rounds";
			break;
		}
		buf_reset(&enc);
		base64_encode(challenge.data, challenge.len, &enc);
		ios_printf(c->ios, "+ %s\r\n", enc.data);
		(void)ios_flush(c->ios);
		if (!client_read_line(c, &line)) {
			sasl_free(&s);
			c->tagged_done = true;
			goto out;
		}
		if (strcmp(line.data, "*") == 0) {
			client_bad(c, "Authentication cancelled");
			sasl_free(&s);
			goto out;
		}
		resp = line.data;
	}
	sasl_free(&s);
	switch (st) {
	case SASL_OK:
		client_login_done(c, &u, "Authenticated");
		break;
	case SASL_BAD:
		client_bad(c, "Invalid authentication data");
		break;
	default:
		login_failed(c, u.name != NULL ? u.name : user_for_log, error);
		break;
	}
out:
	buf_release(&challenge);
	buf_release(&line);
	buf_release(&enc);
}

void cmd_authenticate(struct client *c, struct imap_arg *args)
{
	const char *mech = args[0].type == IMAP_ARG_ATOM ? args[0].str : NULL;
	const char *initial = NULL;

	if (mech == NULL || (args[1].type != IMAP_ARG_EOL &&
			     (args[1].type != IMAP_ARG_ATOM ||
			      args[2].type != IMAP_ARG_EOL))) {
		client_bad(c, "AUTHENTICATE mechanism [initial-response]");
		return;
	}
	if (args[1].type == IMAP_ARG_ATOM)
		initial = strcmp(args[1].str, "=") == 0 ? "" : args[1].str;
	if (ascii_strcasecmp(mech, "ANONYMOUS") == 0 &&
	    !auth_anonymous_allowed()) {
		client_no(c, "Anonymous login is not enabled");
		return;
	}
	sasl_exchange(c, mech, initial, "?");
}

void cmd_login(struct client *c, struct imap_arg *args)
{
	const char *user = imap_arg_string(&args[0]);
	const char *pass = imap_arg_string(&args[1]);
	struct auth_user u;
	const char *error = NULL;
	struct buf trace;

	if (user == NULL || pass == NULL || args[2].type != IMAP_ARG_EOL) {
		client_bad(c, "LOGIN user password");
		return;
	}
	if (ascii_strcasecmp(user, "anonymous") == 0 &&
	    auth_anonymous_allowed()) {
		/* FAQ 4.1: the password is just a trace string */
		buf_init(&trace, 0);
		base64_encode(pass, strlen(pass), &trace);
		sasl_exchange(c, "ANONYMOUS", trace.data, "anonymous");
		buf_release(&trace);
		return;
	}
	if (!auth_plaintext_allowed(c->tls)) {
		client_no(c, "[PRIVACYREQUIRED] Plaintext login is disabled "
			  "on an unencrypted connection; use STARTTLS");
		return;
	}
	memset(&u, 0, sizeof u);
	penalty_wait(c->host);	/* this address's recent failures */
	if (auth_password(AUTH_SERVICE_IMAP, user, pass, c->host, &u,
			  &error) < 0) {
		login_failed(c, user, error);
		return;
	}
	client_login_done(c, &u, "Login");
}
