/*
 * session.c - the ipop3d command loop: read one command line, look it up
 * in the command table (commands.c), check the state allows it, run it, flush the
 * response. Also the end-of-session paths (QUIT, end of stream,
 * autologout, kiss of death) and their syslog lines (FAQ 7.18, 7.19,
 * 7.27).
 *
 * SECURITY: this is the code that parses network input before login.
 * Lines are read with a bound (POP3_MAX_LINE); an over-long line ends the
 * session. A command only runs in the states its table entry names, so
 * no TRANSACTION code is reachable before login. Input that arrives
 * together with a command is never discarded (pipelining, RFC 2449),
 * except by tls_start() after STLS (RFC 2595 injection defence).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "lock.h"
#include "log.h"
#include "tls.h"
#include "pop3.h"

static const char *const state_names[] = {
	[POP3_AUTHORIZATION] = "AUTHORIZATION",
	[POP3_TRANSACTION] = "TRANSACTION",
	[POP3_UPDATE] = "UPDATE",
	[POP3_LOGOUT] = "LOGOUT",
};

void pop3_set_state(struct pop3_session *s, enum pop3_state state)
{
	if (s->state == state)
		return;
	log_debug("state %s -> %s", state_names[s->state], state_names[state]);
	s->state = state;
}

static void pop3_vreply(struct pop3_session *s, const char *status,
			const char *fmt, va_list ap)
{
	struct buf line;

	buf_init(&line, 0);
	buf_puts(&line, status);
	buf_vprintf(&line, fmt, ap);
	buf_puts(&line, "\r\n");
	ios_write(s->ios, line.data, line.len);
	buf_release(&line);
}

void pop3_ok(struct pop3_session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pop3_vreply(s, "+OK ", fmt, ap);
	va_end(ap);
}

void pop3_err(struct pop3_session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pop3_vreply(s, "-ERR ", fmt, ap);
	va_end(ap);
}

uint32_t pop3_msgno_arg(struct pop3_session *s, const char *arg,
			const char **rest_r)
{
	char num[16];
	size_t n;
	uint32_t msgno;

	while (*arg == ' ' || *arg == '\t')
		arg++;
	n = strspn(arg, "0123456789");
	if (n == 0) {
		pop3_err(s, "Missing or bad message number");
		return 0;
	}
	if (n < sizeof num) {
		memcpy(num, arg, n);
		num[n] = '\0';
	}
	if (n >= sizeof num || !str_to_u32(num, &msgno) || msgno == 0 ||
	    msgno > s->nmsgs) {
		pop3_err(s, "No such message");
		return 0;
	}
	arg += n;
	if (rest_r != NULL)
		*rest_r = arg;
	else {
		while (*arg == ' ' || *arg == '\t')
			arg++;
		if (*arg != '\0') {
			pop3_err(s, "Too many arguments");
			return 0;
		}
	}
	if ((s->msgs[msgno - 1].pflags & POP3_MSG_DELETED) != 0) {
		pop3_err(s, "Message %u already deleted", msgno);
		return 0;
	}
	return msgno;
}

/* the peer is gone or silent: nothing that was DELE'd is applied */
static void pop3_end_stream(struct pop3_session *s, enum ios_status st)
{
	switch (st) {
	case IOS_EOF:
		log_info("Command stream end of file, while reading line");
		break;
	case IOS_TIMEOUT:
		pop3_err(s, "Autologout; idle for too long");
		(void)ios_flush(s->ios);
		log_info("Autologout");
		break;
	case IOS_TOOLONG:
		pop3_err(s, "Command line too long");
		(void)ios_flush(s->ios);
		log_info("Command line too long");
		break;
	default:
		log_info("Command stream error, while reading line");
		break;
	}
	pop3_abandon(s);
	pop3_set_state(s, POP3_LOGOUT);
}

/* A POP3 session idle for half its autologout time (UW: 5 of 10
 * minutes) gives the mailbox up when a newer session sends the kiss of
 * death (FAQ 7.19): it is most likely abandoned. A busy one keeps it and
 * the newer one gets [IN-USE] (RFC 1939 exclusivity). */
#define POP3_KISS_IDLE_DEFAULT 300

/* Wait for the next command while holding a mailbox, watching for the
 * kiss of death and the autologout. */
static bool pop3_wait_command(struct pop3_session *s)
{
	time_t idle_since = time(NULL);
	long long autologout = config_int("pop3-autologout");
	long long kiss_idle = autologout > 0 ? autologout / 2 :
		POP3_KISS_IDLE_DEFAULT;

	for (;;) {
		if (ios_wait_input(s->ios, 1000) != 0)
			return true;	/* input, or an error getline reports */
		if (autologout > 0 && time(NULL) - idle_since >= autologout) {
			pop3_end_stream(s, IOS_TIMEOUT);
			return false;
		}
		if (!lock_kiss_received)
			continue;
		if (time(NULL) - idle_since >= kiss_idle) {
			s->lost = "another session took the mailbox";
			return false;
		}
		lock_kiss_received = 0;	/* not idle enough: keep it */
	}
}

bool pop3_getline(struct pop3_session *s, struct buf *line)
{
	enum ios_status st = ios_getline(s->ios, line, POP3_MAX_LINE);

	if (st == IOS_OK)
		return true;
	pop3_end_stream(s, st);
	return false;
}

static void pop3_dispatch(struct pop3_session *s, struct buf *line)
{
	char *cmd = line->data, *args;
	size_t n;
	unsigned allowed;
	const struct pop3_cmd *c;

	if (memchr(line->data, '\0', line->len) != NULL) {
		pop3_err(s, "Bad command: NUL byte");
		return;
	}
	n = strcspn(cmd, " ");
	args = cmd + n;
	if (*args != '\0')
		*args++ = '\0';
	if (*cmd == '\0') {
		pop3_err(s, "Null command");
		return;
	}
	allowed = s->state == POP3_AUTHORIZATION ? POP3_IN_AUTH : POP3_IN_TRANS;
	c = pop3_command_find(cmd);
	if (c == NULL) {
		pop3_err(s, "Unknown command");
		return;
	}
	if ((c->states & allowed) == 0) {
		pop3_err(s, "Command not valid in %s state",
			 state_names[s->state]);
		return;
	}
	c->fn(s, args);
}

void cmd_quit(struct pop3_session *s, char *args ATTR_UNUSED)
{
	const char *error;

	if (s->state == POP3_AUTHORIZATION) {
		pop3_ok(s, "Sayonara");
		log_info("Logout (not logged in)");
		pop3_set_state(s, POP3_LOGOUT);
		return;
	}
	pop3_set_state(s, POP3_UPDATE);
	if (!pop3_update(s, &error)) {
		pop3_err(s, "[SYS/TEMP] Deleted messages not removed: %s", error);
		log_error("Update failed: %s", error);
	} else {
		pop3_ok(s, "Sayonara");
	}
	pop3_set_state(s, POP3_LOGOUT);
}

static void session_run(int in_fd, int out_fd, const char *rhost,
			bool implicit_tls, bool preauth)
{
	struct pop3_session session, *s = &session;
	struct buf line;
	const char *error;

	memset(s, 0, sizeof *s);
	s->rhost = rhost;
	s->state = POP3_AUTHORIZATION;
	buf_init(&s->apop_ts, 0);
	buf_init(&s->out, 0);
	buf_init(&line, POP3_MAX_LINE + 1);
	s->ios = ios_new(in_fd, out_fd);
	ios_set_timeout(s->ios, (unsigned)config_int("pop3-autologout"));

	if (implicit_tls) {
		if (tls_start(s->ios, TLS_SERVICE_POP, &error) < 0) {
			log_info("TLS handshake failed: %s", error);
			goto out;
		}
		s->tls = true;
	}
	if (!preauth)
		s->self_only = auth_self(&s->self);
	pop3_greeting(s);
	if (preauth) {
		s->login_name = xstrdup(mail_user->name);
		pop3_open_maildrop(s, "PREAUTH");
	}
	(void)ios_flush(s->ios);

	while (s->state == POP3_AUTHORIZATION || s->state == POP3_TRANSACTION) {
		if (s->mb != NULL && !pop3_wait_command(s)) {
			if (s->lost == NULL)
				break;	/* autologout */
		} else if (!pop3_getline(s, &line)) {
			break;
		} else {
			pop3_dispatch(s, &line);
		}
		if (s->lost != NULL && s->state != POP3_LOGOUT) {
			/* kiss of death (FAQ 7.19): another session took the
			 * mailbox; nothing of ours may be written now */
			pop3_err(s, "[SYS/TEMP] Killed (lost mailbox lock): %s",
				 s->lost);
			log_info("Killed (lost mailbox lock)");
			pop3_abandon(s);
			pop3_set_state(s, POP3_LOGOUT);
		}
		if (ios_flush(s->ios) != IOS_OK) {
			log_info("Command stream end of file, while writing text");
			pop3_abandon(s);
			pop3_set_state(s, POP3_LOGOUT);
		}
	}
out:
	(void)ios_flush(s->ios);
	pop3_abandon(s);
	ios_free(&s->ios);
	buf_release(&line);
	buf_release(&s->apop_ts);
	buf_release(&s->out);
	xfree(&s->user);
	xfree(&s->login_name);
	if (s->self_only)
		auth_user_free(&s->self);
}

void pop3_session_run(int in_fd, int out_fd, const char *rhost, bool implicit_tls)
{
	session_run(in_fd, out_fd, rhost, implicit_tls, false);
}

void pop3_session_run_preauth(int in_fd, int out_fd, const char *rhost)
{
	session_run(in_fd, out_fd, rhost, false, true);
}
