/*
 * cmd-auth.c - the AUTHORIZATION state: greeting, CAPA (RFC 2449), USER/
 * PASS and APOP (RFC 1939), AUTH (RFC 5034), STLS (RFC 2595); and what
 * happens after a successful login: drop privileges, open INBOX for
 * exclusive POP3 access, take the message list.
 *
 * SECURITY: runs as root on hostile input. Passwords are only handed to
 * the auth layer and never logged or echoed. Every failure gets the same
 * "-ERR [AUTH] Login failed" (FAQ 7.4) after auth_failure_delay(); the
 * reason goes to syslog only. Plaintext passwords are refused when
 * auth_plaintext_allowed() says so (FAQ 3.17, 3.18). Started as an
 * ordinary user, only that user may log in, and still with a password.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "log.h"
#include "penalty.h"
#include "tls.h"
#include "pop3.h"

#define POP3_MAX_USER 256

void pop3_greeting(struct pop3_session *s)
{
	/* some clients want nothing between "+OK" and "POP3" */
	buf_reset(&s->apop_ts);
	if (auth_cram_available())
		auth_apop_timestamp(&s->apop_ts);
	if (s->apop_ts.len > 0)
		pop3_ok(s, "POP3 %s server ready %s", POP3_IMPLEMENTATION,
			buf_cstr(&s->apop_ts));
	else
		pop3_ok(s, "POP3 %s server ready", POP3_IMPLEMENTATION);
}

void cmd_capa(struct pop3_session *s, char *args ATTR_UNUSED)
{
	struct buf mechs;

	buf_init(&mechs, 0);
	sasl_mechanisms(s->tls, &mechs);
	pop3_ok(s, "Capability list follows");
	ios_puts(s->ios, "TOP\r\nUIDL\r\n");
	if (auth_plaintext_allowed(s->tls))
		ios_puts(s->ios, "USER\r\n");
	if (mechs.len > 0)
		ios_printf(s->ios, "SASL %s\r\n", buf_cstr(&mechs));
	if (s->state == POP3_AUTHORIZATION && !s->tls &&
	    tls_available(TLS_SERVICE_POP))
		ios_puts(s->ios, "STLS\r\n");
	/* LOGIN-DELAY is UW's advice to clients (not enforced); EXPIRE
	 * NEVER: this server never removes mail on its own */
	ios_puts(s->ios, "RESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\n"
		 "EXPIRE NEVER\r\nLOGIN-DELAY 180\r\n"
		 "IMPLEMENTATION " POP3_IMPLEMENTATION "\r\n.\r\n");
	buf_release(&mechs);
}

static void login_failed(struct pop3_session *s, const char *how,
			 const char *user, const char *why)
{
	s->failures++;
	penalty_record(s->rhost, false);	/* for every process */
	log_info("%s login failed for %.80s: %s", how, user ? user : "???",
		 why ? why : "bad credentials");
	if (auth_failure_delay(s->failures)) {
		pop3_err(s, "[AUTH] Login failed; too many failures");
		log_info("Too many login failures");
		pop3_set_state(s, POP3_LOGOUT);
		return;
	}
	pop3_err(s, "[AUTH] Login failed");
}

static void ev_expunged(void *ctx ATTR_UNUSED, struct mailbox *mb ATTR_UNUSED,
			uint32_t seq ATTR_UNUSED)
{
	/* POP3 numbers stay fixed for the session: nothing to tell */
}

static void ev_flags_changed(void *ctx ATTR_UNUSED,
			     struct mailbox *mb ATTR_UNUSED,
			     uint32_t seq ATTR_UNUSED)
{
}

static void ev_lost(void *ctx, struct mailbox *mb ATTR_UNUSED, const char *why)
{
	struct pop3_session *s = ctx;

	s->lost = why != NULL ? why : "mailbox lost";
}

static void ev_notice(void *ctx ATTR_UNUSED, struct mailbox *mb ATTR_UNUSED,
		      const char *text)
{
	/* POP3 has no way to show warnings: the administrator sees them */
	log_notice("%s", text);
}

void pop3_open_maildrop(struct pop3_session *s, const char *how)
{
	const char *error;
	uint64_t octets = 0;
	uint32_t all;

	s->mb = mail_open("INBOX", MAIL_OPEN_POP3, &error);
	if (s->mb == NULL) {
		/* our privileges are gone: this session cannot go on */
		if (strncmp(error, "[IN-USE] ", 9) == 0)
			pop3_err(s, "%s", error);
		else
			pop3_err(s, "[SYS/TEMP] Unable to open mailbox: %s", error);
		log_info("Login %s, mailbox not opened: %s", how, error);
		pop3_set_state(s, POP3_LOGOUT);
		return;
	}
	s->mb->ev.ctx = s;
	s->mb->ev.expunged = ev_expunged;
	s->mb->ev.flags_changed = ev_flags_changed;
	s->mb->ev.lost = ev_lost;
	s->mb->ev.notice = ev_notice;

	/* the maildrop as of now; messages another client marked \Deleted
	 * are as good as gone and are not offered (as UW did) */
	all = s->mb->count;
	s->msgs = xreallocarray(NULL, all > 0 ? all : 1, sizeof *s->msgs);
	s->nmsgs = 0;
	for (uint32_t i = 0; i < all; i++) {
		const struct mail_message *m = &s->mb->msgs[i];

		if ((m->state & MSTATE_EXPUNGED) != 0 ||
		    (m->flags & MAIL_DELETED) != 0)
			continue;
		s->msgs[s->nmsgs].uid = m->uid;
		s->msgs[s->nmsgs].size = m->size;
		s->msgs[s->nmsgs].pflags = 0;
		octets += m->size;
		s->nmsgs++;
	}
	pop3_set_state(s, POP3_TRANSACTION);
	pop3_ok(s, "Mailbox open, %u messages (%llu octets)%s", s->nmsgs,
		(unsigned long long)octets,
		s->mb->readonly ? " [read-only: DELE not possible]" : "");
	log_info("Login %s nmsgs=%u/%u%s", how, s->nmsgs, all,
		 s->mb->readonly ? " readonly" : "");
}

/* after a successful login: become the user, open INBOX exclusively */
static void login_complete(struct pop3_session *s, struct auth_user *u,
			   const char *how)
{
	if (s->self_only && u->uid != s->self.uid) {
		/* started as an ordinary user: nobody else can be served */
		login_failed(s, how, u->name, "not the user the server runs as");
		auth_user_free(u);
		return;
	}
	penalty_record(s->rhost, true);
	auth_become(u);		/* fatal on failure; irrevocable */
	log_set_user(u->name);
	s->login_name = xstrdup(u->name);
	auth_user_free(u);
	xfree(&s->user);
	pop3_open_maildrop(s, how);
}

static bool plaintext_ok(struct pop3_session *s)
{
	if (auth_plaintext_allowed(s->tls))
		return true;
	pop3_err(s, "[AUTH] Plaintext authentication disallowed on "
		 "unencrypted connections; use STLS");
	return false;
}

void cmd_user(struct pop3_session *s, char *args)
{
	xfree(&s->user);
	if (!plaintext_ok(s))
		return;
	while (*args == ' ')
		args++;		/* bogus clients */
	if (*args == '\0') {
		pop3_err(s, "Missing user name");
		return;
	}
	if (strlen(args) > POP3_MAX_USER) {
		pop3_err(s, "User name too long");
		return;
	}
	s->user = xstrdup(args);
	pop3_ok(s, "User name accepted, password please");
}

void cmd_pass(struct pop3_session *s, char *args)
{
	struct auth_user u;
	const char *error = NULL;
	char *user;
	int ret;

	if (!plaintext_ok(s))
		return;
	if (s->user == NULL) {
		pop3_err(s, "USER first");
		return;
	}
	if (*args == '\0') {
		pop3_err(s, "Missing password");
		return;
	}
	/* a password may contain spaces (RFC 1939): take the whole rest */
	user = s->user;
	s->user = NULL;
	memset(&u, 0, sizeof u);
	penalty_wait(s->rhost);	/* this address's recent failures */
	ret = auth_password(AUTH_SERVICE_POP, user, args, s->rhost, &u, &error);
	explicit_bzero(args, strlen(args));
	if (ret < 0)
		login_failed(s, "USER", user, error);
	else
		login_complete(s, &u, "USER");
	free(user);
}

void cmd_apop(struct pop3_session *s, char *args)
{
	struct auth_user u;
	const char *error = NULL;
	char *user, *digest;

	xfree(&s->user);
	if (s->apop_ts.len == 0) {
		pop3_err(s, "APOP not available");
		return;
	}
	user = args;
	digest = strchr(args, ' ');
	if (*user == '\0' || digest == NULL) {
		pop3_err(s, "Missing APOP argument");
		return;
	}
	*digest++ = '\0';
	while (*digest == ' ')
		digest++;
	digest[strcspn(digest, " ")] = '\0';
	memset(&u, 0, sizeof u);
	penalty_wait(s->rhost);
	if (auth_apop(user, buf_cstr(&s->apop_ts), digest, &u, &error) < 0)
		login_failed(s, "APOP", user, error);
	else
		login_complete(s, &u, "APOP");
}

static void auth_list(struct pop3_session *s)
{
	struct buf mechs;
	char *p, *save = NULL;

	buf_init(&mechs, 0);
	sasl_mechanisms(s->tls, &mechs);
	pop3_ok(s, "Supported authentication mechanisms follow");
	for (p = strtok_r(mechs.data, " ", &save); p != NULL;
	     p = strtok_r(NULL, " ", &save))
		ios_printf(s->ios, "%s\r\n", p);
	ios_puts(s->ios, ".\r\n");
	buf_release(&mechs);
}

void cmd_auth(struct pop3_session *s, char *args)
{
	struct sasl *sasl;
	struct buf challenge, line, enc;
	struct auth_user u;
	const char *error = NULL, *response;
	char *mech, *initial;
	enum sasl_status st;

	xfree(&s->user);
	while (*args == ' ')
		args++;
	if (*args == '\0') {
		auth_list(s);
		return;
	}
	mech = args;
	initial = strchr(args, ' ');
	if (initial != NULL) {
		*initial++ = '\0';
		while (*initial == ' ')
			initial++;
		/* RFC 5034: "=" is an empty initial response */
		if (strcmp(initial, "=") == 0)
			initial[0] = '\0';
	}
	penalty_wait(s->rhost);
	sasl = sasl_start(AUTH_SERVICE_POP, mech, s->tls, s->rhost, &error);
	if (sasl == NULL) {
		pop3_err(s, "Unsupported authentication mechanism");
		log_info("AUTH %.40s refused: %s", mech, error ? error : "");
		return;
	}
	buf_init(&challenge, 0);
	buf_init(&enc, 0);
	buf_init(&line, POP3_MAX_LINE + 1);
	memset(&u, 0, sizeof u);
	response = initial;
	for (unsigned round = 0;; round++) {
		buf_reset(&challenge);
		st = sasl_step(sasl, response, &challenge, &u, &error);
		if (st != SASL_CONTINUE)
			break;
		if (round > 16) {	/* no mechanism needs more */
			st = SASL_BAD;
			error = "too many SASL rounds";
			break;
		}
		buf_reset(&enc);
		base64_encode(challenge.data, challenge.len, &enc);
		ios_printf(s->ios, "+ %s\r\n", buf_cstr(&enc));
		(void)ios_flush(s->ios);
		if (!pop3_getline(s, &line)) {
			sasl_free(&sasl);
			goto out;
		}
		if (strcmp(buf_cstr(&line), "*") == 0) {
			pop3_err(s, "Authentication cancelled");
			sasl_free(&sasl);
			goto out;
		}
		response = buf_cstr(&line);
	}
	sasl_free(&sasl);
	if (initial != NULL)
		explicit_bzero(initial, strlen(initial));
	explicit_bzero(line.data, line.len);
	switch (st) {
	case SASL_OK:
		login_complete(s, &u, "AUTH");
		break;
	case SASL_BAD:
		s->failures++;
		pop3_err(s, "Bad authentication data");
		log_info("AUTH %.40s malformed: %s", mech, error ? error : "");
		if (auth_failure_delay(s->failures))
			pop3_set_state(s, POP3_LOGOUT);
		break;
	default:
		login_failed(s, "AUTH", NULL, error);
		break;
	}
out:
	buf_release(&challenge);
	buf_release(&enc);
	buf_release(&line);
}

void cmd_stls(struct pop3_session *s, char *args ATTR_UNUSED)
{
	const char *error;

	if (s->tls) {
		pop3_err(s, "Already using TLS");
		return;
	}
	if (!tls_available(TLS_SERVICE_POP)) {
		pop3_err(s, "STLS not available");
		return;
	}
	pop3_ok(s, "Begin TLS negotiation");
	if (ios_flush(s->ios) != IOS_OK) {
		pop3_set_state(s, POP3_LOGOUT);
		return;
	}
	/* tls_start discards plaintext that arrived before the handshake */
	if (tls_start(s->ios, TLS_SERVICE_POP, &error) < 0) {
		log_info("STLS failed: %s", error);
		pop3_set_state(s, POP3_LOGOUT);
		return;
	}
	s->tls = true;
	xfree(&s->user);
}
