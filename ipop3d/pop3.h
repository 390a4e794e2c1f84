/*
 * pop3.h - the ipop3d session (RFC 1939, 2449, 2595, 5034) shared by the
 * files of this program: main.c (options, startup), session.c (command
 * loop, dispatch table, states, responses), cmd-auth.c (AUTHORIZATION
 * state and CAPA), cmd-trans.c (TRANSACTION state), update.c (QUIT).
 *
 * SECURITY: until login the process is root (or the user who started it)
 * and everything it reads is hostile: commands are read with a bounded
 * line reader, dispatched through one table that says which state may run
 * them, and the only work done before login is password checking in the
 * auth layer. After login auth_become() has dropped every privilege.
 */
#ifndef POP3_H
#define POP3_H

#include "auth.h"
#include "buf.h"
#include "ios.h"
#include "mail.h"

#define POP3_IMPLEMENTATION "ipop3d"
/* RFC 2449 allows 255 octets per command; SASL responses may be longer */
#define POP3_MAX_LINE 8192

enum pop3_state {
	POP3_AUTHORIZATION,
	POP3_TRANSACTION,
	POP3_UPDATE,		/* QUIT received in TRANSACTION */
	POP3_LOGOUT,		/* the session ends (QUIT, error, timeout) */
};

/* per message flags of the session (struct pop3_msg.pflags) */
#define POP3_MSG_DELETED	0x01	/* DELE'd, undone by RSET */
#define POP3_MSG_RETRIEVED	0x02	/* RETR'd: \Seen at QUIT */

/* The maildrop as it was at login: POP3 numbers never change during a
 * session even if the mail layer picks up new mail. */
struct pop3_msg {
	uint32_t uid;
	uint64_t size;
	uint8_t pflags;
};

struct pop3_session {
	struct ios *ios;
	enum pop3_state state;
	bool tls;		/* TLS layer active (implicit or STLS) */
	const char *rhost;	/* peer, for the log and the auth layer */

	/* AUTHORIZATION */
	char *user;		/* from USER, waiting for PASS */
	struct buf apop_ts;	/* APOP timestamp from the greeting, or "" */
	unsigned failures;	/* failed logins so far */
	bool self_only;		/* started as a user: only that user may log in */
	struct auth_user self;

	/* TRANSACTION */
	char *login_name;
	struct mailbox *mb;
	uint32_t nmsgs;
	struct pop3_msg *msgs;	/* msgs[n - 1] is POP3 message n */
	uint32_t nretr, ndele;
	const char *lost;	/* kiss of death: why, set by ev.lost */

	struct buf out;		/* scratch for message text */
};

/* session.c */
void pop3_session_run(int in_fd, int out_fd, const char *rhost, bool implicit_tls);
/* A session that starts in TRANSACTION state for mail_user, who must
 * already be set (mail_user_set()); there is no AUTHORIZATION state and
 * no privilege change. For the fuzz harness (ipop3d/fuzz-pop3d.c): the
 * real server always starts with pop3_session_run(). */
void pop3_session_run_preauth(int in_fd, int out_fd, const char *rhost);
void pop3_set_state(struct pop3_session *s, enum pop3_state state);
void pop3_ok(struct pop3_session *s, const char *fmt, ...) ATTR_PRINTF(2, 3);
void pop3_err(struct pop3_session *s, const char *fmt, ...) ATTR_PRINTF(2, 3);
/* read one line (SASL exchange); false when the session must end (end of
 * stream, autologout, line too long: already logged and handled) */
bool pop3_getline(struct pop3_session *s, struct buf *line);
/* message number argument: 1..nmsgs and not deleted, else answers -ERR
 * and returns 0 */
uint32_t pop3_msgno_arg(struct pop3_session *s, const char *arg,
			const char **rest_r);

/* the command table entry points; args is the rest of the line after
 * the command and one space ("" when none) */
typedef void pop3_cmd_fn(struct pop3_session *s, char *args);
pop3_cmd_fn cmd_capa, cmd_user, cmd_pass, cmd_apop, cmd_auth, cmd_stls,
	cmd_quit, cmd_stat, cmd_list, cmd_uidl, cmd_retr, cmd_top, cmd_dele,
	cmd_noop, cmd_rset;

/* commands.c: the command table */
#define POP3_IN_AUTH	0x01u	/* allowed in AUTHORIZATION */
#define POP3_IN_TRANS	0x02u	/* allowed in TRANSACTION */
struct pop3_cmd {
	const char *name;
	pop3_cmd_fn *fn;
	unsigned states;	/* POP3_IN_* */
};
/* the entry for a command name (any case), or NULL */
const struct pop3_cmd *pop3_command_find(const char *name);

/* maildrop.c */
void pop3_greeting(struct pop3_session *s);
/* open INBOX for mail_user and enter TRANSACTION (or LOGOUT when it
 * cannot be opened); how is for the log ("USER", "APOP", "AUTH") */
void pop3_open_maildrop(struct pop3_session *s, const char *how);

/* update.c: apply DELE/RETR at QUIT; false when the update failed */
bool pop3_update(struct pop3_session *s, const char **error_r);
/* close the mailbox without applying anything (drop, timeout, kill) */
void pop3_abandon(struct pop3_session *s);

#endif
