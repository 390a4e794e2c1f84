/*
 * imapd.h - the IMAP server's session object, command table and the
 * helpers the cmd-*.c files share.
 *
 * SECURITY: struct client is filled from network input. Everything a
 * command handler gets has been read with a bound (client.c) and parsed
 * by imap_args_parse(); handlers must still treat every argument as
 * hostile (lengths, numbers, nesting).
 */
#ifndef IMAPD_H
#define IMAPD_H

#include "buf.h"
#include "imap-arg.h"
#include "ios.h"
#include "mail.h"
#include "seqset.h"

enum client_state {
	STATE_NOTAUTH,
	STATE_AUTH,
	STATE_SELECTED,
	STATE_LOGOUT,
};

/* command flags: in which states a command is allowed, and more */
#define CMD_NOTAUTH	0x01u
#define CMD_AUTH	0x02u
#define CMD_SELECTED	0x04u
#define CMD_ANY		(CMD_NOTAUTH | CMD_AUTH | CMD_SELECTED)
#define CMD_AUTHED	(CMD_AUTH | CMD_SELECTED)
#define CMD_UID_OK	0x10u	/* may follow "UID" */
#define CMD_NO_EXPUNGE	0x20u	/* no untagged EXPUNGE after it (RFC 3501 7.4.1) */

struct client {
	struct ios *ios;
	enum client_state state;
	char *host;		/* peer, for logs */
	bool tls;
	unsigned login_failures;
	unsigned toolong;	/* consecutive over-long lines */

	/* the command being run */
	const char *tag;
	const char *name;	/* command name, upper-cased */
	bool uid;		/* UID FETCH etc. */
	unsigned cmd_flags;
	struct buf tagged;	/* "OK ..." set by client_ok/no/bad */
	bool tagged_set;
	bool tagged_done;	/* the handler already sent it (STARTTLS) */

	/* the selected mailbox */
	struct mailbox *mb;
	uint32_t exists;	/* EXISTS count the client knows */
	uint32_t recent;	/* RECENT count the client knows */
	unsigned nkeywords;	/* keywords announced in FLAGS */
	bool quiet_expunge;	/* CLOSE: expunge without responses */
	bool lost;		/* ev.lost: end the session after this command */
	char *lost_why;

	/* SEARCHRES (RFC 5182): the UIDs of the last SEARCH RETURN (SAVE),
	 * "$"; UIDs so messages expunged since simply drop out */
	uint32_t *saved;
	uint32_t nsaved;

	bool anonymous;
	char *user;
};

typedef void cmd_func(struct client *c, struct imap_arg *args);

struct command {
	const char *name;
	cmd_func *func;
	unsigned flags;
};

/* client.c */
void client_run(struct client *c);
void client_state_change(struct client *c, enum client_state st);
void client_ok(struct client *c, const char *fmt, ...) ATTR_PRINTF(2, 3);
void client_no(struct client *c, const char *fmt, ...) ATTR_PRINTF(2, 3);
void client_bad(struct client *c, const char *fmt, ...) ATTR_PRINTF(2, 3);
/* untagged: "* " + text + CRLF */
void client_untagged(struct client *c, const char *fmt, ...) ATTR_PRINTF(2, 3);
/* report EXISTS/RECENT/FLAGS differences after mailbox changes */
void client_report_changes(struct client *c);
/* mail_sync and report; allow_expunge as RFC 3501 7.4.1 permits */
void client_sync(struct client *c, bool allow_expunge);
/* capability list (without "CAPABILITY ") */
void client_capability(struct client *c, struct buf *out);	/* capability.c */
/* read one more line from the client (AUTHENTICATE, IDLE); false at
 * EOF/timeout/error (the session then ends) */
bool client_read_line(struct client *c, struct buf *line);
enum ios_status client_read_line_status(struct client *c, struct buf *line);
/* install the event callbacks on c->mb */
void client_open_mailbox_events(struct client *c);
void client_close_mailbox(struct client *c);
/* may the current user use this mailbox name? (anonymous: #public/ and
 * #ftp/ only, FAQ 4.1); if not, answers NO and returns false */
bool client_name_allowed(struct client *c, const char *name);
/* messages in a sequence set or UID set, ascending: malloc'd array */
bool client_parse_set(struct client *c, const char *s, bool uid,
		      uint32_t **seqs_r, uint32_t *n_r);
const struct command *command_find(const char *name);	/* commands.c */
/* the selected mailbox's FLAGS / PERMANENTFLAGS lists */
void client_send_flags(struct client *c);
/* send FLAGS/PERMANENTFLAGS if the mailbox has keywords not yet named */
void client_announce_keywords(struct client *c);
/* flags of message seq as "(\Seen kw)" */
void client_format_flags(struct client *c, uint32_t seq, struct buf *out);
/* end after an unrecoverable problem: BYE text, log */
void client_disconnect(struct client *c, const char *bye, const char *logmsg);

/* imap-quote.c */
void imap_append_astring(struct buf *out, const char *s);
void imap_append_string(struct buf *out, const char *s, size_t len);
void imap_append_nstring(struct buf *out, const char *s);
/* literal {N}CRLF data, NULs mapped to 0x80 when nul-to-0x80 is set */
void imap_write_literal(struct ios *ios, const char *data, size_t len,
			bool binary);
bool imap_is_atom_safe(const char *s);

/* mail-errors.c: the RFC 5530 response code for a storage error code, or
 * NULL; target: the mailbox is an APPEND/COPY/MOVE target (TRYCREATE) */
const char *imapd_resp_code(enum mail_error code, bool target);
/* mail-errors.c: tagged NO "[CODE] prefix error" for the storage call
 * that just failed with error (mail_get_last_error()) */
void imapd_no_mail_error(struct client *c, bool target, const char *prefix,
			 const char *error);
/* cmd-copy.c: append copies of messages seqs[n] of mb to dest */
int imapd_copy_messages(struct mailbox *mb, const uint32_t *seqs, uint32_t n,
			const char *dest, uint32_t *uidvalidity_r,
			uint32_t *uids_r, const char **error_r);
/* "1:3,5" from a list of ascending-or-not numbers */
void imapd_format_uids(struct buf *out, const uint32_t *uids, uint32_t n);
/* is name the currently selected mailbox? */
bool imapd_is_selected(struct client *c, const char *name);

/* cmd-*.c */
cmd_func cmd_capability, cmd_noop, cmd_logout, cmd_id, cmd_enable,
	cmd_starttls, cmd_authenticate, cmd_login, cmd_namespace,
	cmd_select, cmd_examine, cmd_create, cmd_delete, cmd_rename,
	cmd_subscribe, cmd_unsubscribe, cmd_list, cmd_lsub, cmd_rlist,
	cmd_rlsub, cmd_status,
	cmd_append, cmd_check, cmd_close, cmd_unselect, cmd_expunge,
	cmd_search, cmd_sort, cmd_thread, cmd_fetch, cmd_store, cmd_copy,
	cmd_move, cmd_idle, cmd_compress;

/* cmd-append.c: APPENDLIMIT (RFC 7889), the largest message APPEND
 * takes in any mailbox: max-literal-size, which bounds a command's
 * literals in total (so also the sum of a MULTIAPPEND's messages) */
uint64_t imapd_append_limit(void);

/* cmd-mailbox.c: STATUS items valid; one untagged STATUS response
 * (0), or -1 with *error_r (also for LIST-STATUS, RFC 5819) */
bool imapd_status_items_valid(const struct imap_arg *list);
int imapd_status_send(struct client *c, const char *name,
		      const struct imap_arg *items, const char **error_r);
/* cmd-list.c: LIST with RFC 5258 selection/return options or several
 * patterns (args start at the LIST command's first argument) */
void imapd_list_extended(struct client *c, struct imap_arg *args);

/* special-use.c: SPECIAL-USE (RFC 6154), per user in ~/.mailboxuse */
#define USE_ARCHIVE	0x01u
#define USE_DRAFTS	0x02u
#define USE_JUNK	0x04u
#define USE_SENT	0x08u
#define USE_TRASH	0x10u
struct special_uses {
	char **names;
	unsigned *bits;
	size_t n;
};
/* the bit of a use attribute, 0 if we cannot keep it; *known_r says
 * whether RFC 6154 defines it at all (\All, \Flagged: known, 0) */
unsigned special_use_parse(const char *flag, bool *known_r);
/* append the attribute names of bits, space-separated after *first */
void special_use_format(unsigned bits, struct buf *out, bool *first);
void special_use_load(struct special_uses *u);
void special_use_free(struct special_uses *u);
unsigned special_use_of(const struct special_uses *u, const char *name);
int special_use_set(const char *name, unsigned bits, const char **error_r);
/* RENAME moves uses (also of names below from); to == NULL: DELETE */
void special_use_rename(const char *from, const char *to);

/* compress.c: COMPRESS=DEFLATE (RFC 4978) is on for this session */
bool imapd_compress_active(struct client *c);

/* cmd-auth.c: finish a successful login (privileges, state, alert) */
struct auth_user;
void client_login_done(struct client *c, struct auth_user *u,
		       const char *how);
/* referral.c: LOGIN-REFERRALS (RFC 2221) and MAILBOX-REFERRALS (RFC
 * 2193) from the route map. login: true when the user's mail is on
 * another backend (*url_r: where; the session then refers every
 * personal name there). The others answer NO [REFERRAL ...] and return
 * true when the name lives on another backend. */
bool imapd_referrals_enabled(void);
bool imapd_login_referral(struct client *c, const struct auth_user *u,
			  struct buf *url_r);
bool imapd_mailbox_referral(struct client *c, const char *name);
bool imapd_rename_referral(struct client *c, const char *from,
			   const char *to);
bool imapd_subscribe_referral(struct client *c, const char *name);
/* LIST/LSUB/RLIST/RLSUB: is name on another backend? (no response) */
bool imapd_mailbox_remote(struct client *c, const char *name);
/* alert file as "* OK [ALERT] ..." (FAQ 4.2) */
void client_send_alert(struct client *c);

/* fetch-cache.c: message structure cache */
void fetch_cache_init(void);
/* parsed envelope/bodystructure strings of message seq (cached) */
const char *fetch_envelope(struct client *c, uint32_t seq);
/* what the cache already holds (NULL where nothing), without reading */
void fetch_cache_peek(struct client *c, uint32_t seq, const char **env_r,
		      const char **body_r, const char **bs_r);
const char *fetch_bodystructure(struct client *c, uint32_t seq, bool ext);
/* write an envelope (IMAP syntax) for env into out */
struct envelope;
struct mime_body;
void imap_write_envelope(struct buf *out, const struct envelope *env);
void imap_write_body(struct buf *out, const struct mime_body *b, bool ext);

extern bool imapd_nul_to_0x80;

#endif
