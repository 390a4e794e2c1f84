/*
 * mailname.h - what mail.h's names section leaves out: LIST/LSUB pattern
 * matching, subscriptions and the NAMESPACE lists. mail_resolve() and the
 * session user (mail_user) are declared in mail.h; all of it lives in
 * mailname.c.
 *
 * The hierarchy delimiter is always '/'. Names are those a user types:
 * INBOX (any case), relative names under mail_user->maildir,
 * #driver.X/NAME, #shared/ #public/ #ftp/, ~user/ and /absolute (the
 * last two subject to "restrict-mailbox-access", seed FAQ 5.1).
 */
#ifndef CC_MAILNAME_H
#define CC_MAILNAME_H

#include "mail.h"

#define MAIL_HIER_DELIM '/'

/* LIST attribute bits passed to the callback */
#define MAIL_LIST_NOSELECT	0x01u	/* a directory: holds names, no mail */
#define MAIL_LIST_NOINFERIORS	0x02u	/* a file: can never have children */
#define MAIL_LIST_HASCHILDREN	0x04u	/* RFC 3348 */
#define MAIL_LIST_HASNOCHILDREN	0x08u
#define MAIL_LIST_MARKED	0x10u	/* new mail since last read (mtime > atime) */
#define MAIL_LIST_UNMARKED	0x20u

/* walk limits: clients that LIST "*" from / must not take the server down
 * (FAQ 7.20, 7.21) */
#define MAIL_LIST_MAX_DEPTH	16
#define MAIL_LIST_MAX_ENTRIES	100000	/* directory entries examined per call */
#define MAIL_LIST_MAX_PATTERN	1024
#define MAIL_SUBS_MAX		10000	/* subscriptions read; more are ignored */

typedef void mail_list_callback_t(void *ctx, const char *name, unsigned attrs);

/*
 * RFC 3501 LIST (lsub = false) or LSUB (lsub = true). ref and pattern are
 * combined as RFC 3501 says (a pattern starting with '#', '~' or '/' ignores
 * ref); '*' matches anything, '%' anything but '/'. An empty pattern
 * reports the hierarchy root of ref with MAIL_LIST_NOSELECT. Names are
 * reported in a stable (sorted) order per directory. Returns 0, or -1
 * with *error_r for a refused reference (restriction) or bad pattern;
 * hitting a walk limit is not an error (the listing is just shorter, and
 * logged).
 *
 * What is listed: directories as \Noselect folders; regular files that a
 * driver recognizes, or are empty, with \NoInferiors and \Marked when
 * mtime > atime; a directory mailbox (maildir) as a mailbox, its
 * Maildir++ folders ".Sub" as NAME/.Sub. Hidden: dot files, *.lock,
 * and at the top of the personal namespace names starting with '#' or
 * '~' (they would parse as something else) and a file named INBOX
 * (listed as INBOX). Symbolic links are followed, never in a loop.
 */
int mail_list(const char *ref, const char *pattern, bool lsub,
	      mail_list_callback_t *cb, void *ctx, const char **error_r);

/* Does name match the (combined) pattern? INBOX is matched case-
 * insensitively. Exposed for imapd and tests. */
bool mail_list_match(const char *pattern, const char *name);

/* Add (on) or remove a name from the subscription list (config
 * "subscriptions-file", ~/.mailboxlist). The file is rewritten
 * atomically (temp + rename). Subscribing to a name the restriction
 * refuses fails; unsubscribing a name not subscribed fails. */
int mail_subscribe(const char *name, bool on, const char **error_r);

/* The subscription list: a NULL-terminated array of names, caller frees
 * it with mail_subscriptions_free(). A missing file is an empty list. */
int mail_subscriptions_read(char ***names_r, const char **error_r);
void mail_subscriptions_free(char ***names);

/* NAMESPACE (RFC 2342): prefixes of each type for the current user into
 * prefixes_r (at most MAIL_NS_MAX, static strings), returns the count.
 * The delimiter is always "/". personal: ""; other: "~" unless the
 * restriction is "all"; shared: "#shared/" "#public/" "#ftp/" as enabled
 * (anonymous users: #public/ and #ftp/ only, no personal or other). */
enum mail_ns_type { MAIL_NS_PERSONAL, MAIL_NS_OTHER, MAIL_NS_SHARED };
#define MAIL_NS_MAX 4
unsigned mail_namespaces(enum mail_ns_type type,
			 const char *prefixes_r[MAIL_NS_MAX]);

/* Is name INBOX (any case)? */
bool mail_name_is_inbox(const char *name);

/* the session user's INBOX spool file (inbox-path or spool-directory/user),
 * caller frees; NULL without a user or when the user name cannot be a
 * file name (empty, leading '.', or containing '/') */
char *mail_inbox_spool_path(void);

/* free mail_user (tests, tools that serve several users) */
void mail_user_clear(void);

#endif
