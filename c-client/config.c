/*
 * config.c - the configuration table: every key, its compiled-in default
 * (chosen to work on stock Debian with no file, seed FAQ 3.2) and what it
 * changes. docs/CONFIG.md is generated from the same text; keep them in
 * step (tests/test_docs.py checks every key is documented).
 *
 * SECURITY: CCLIENT_CONFIG is read with secure_getenv(): a set-id
 * program ignores it and reads only the compiled-in path or -c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "config.h"

/* the Makefile passes $(PREFIX)/sbin/mlock (make install puts it there) */
#ifndef CC_MLOCK_PROGRAM
#define CC_MLOCK_PROGRAM "/usr/local/sbin/mlock"
#endif

enum ctype { C_STR, C_BOOL, C_INT };

struct config_key {
	const char *key;
	enum ctype type;
	const char *def;
	const char *help;
};

static const struct config_key keys[] = {
	/* mailbox names and locations */
	{ "spool-directory", C_STR, "/var/spool/mail",
	  "directory of INBOX spool files, one per user (FAQ 3.3)" },
	{ "inbox-path", C_STR, "",
	  "INBOX path; %u = user name, %h = home; empty = spool-directory/user" },
	{ "mail-directory", C_STR, "",
	  "base directory of relative mailbox names, relative to home; empty = home (FAQ 3.4)" },
	{ "inbox-migrate", C_BOOL, "yes",
	  "an existing ~/mbox (or ~/INBOX in mbx/maildir) takes over as INBOX and spool mail moves into it (FAQ 4.5, 7.7)" },
	{ "restrict-mailbox-access", C_STR, "none",
	  "none: ~user/, absolute names and .. allowed; root: no absolute names or ..; all: only names under home (FAQ 5.1)" },
	{ "shared-namespace-user", C_STR, "imapshared",
	  "owner whose home directory holds #shared/ (FAQ 4.6); empty disables" },
	{ "public-namespace-user", C_STR, "imappublic",
	  "owner whose home directory holds #public/ (FAQ 4.6); empty disables" },
	{ "ftp-namespace-user", C_STR, "ftp",
	  "owner whose home directory holds #ftp/ (FAQ 4.6); empty disables" },
	{ "default-driver", C_STR, "mbox",
	  "format of newly created mailboxes: mbox, mbx or maildir" },
	{ "new-mailbox-mode", C_INT, "0600",
	  "permission bits of newly created mailbox files (octal)" },
	{ "subscriptions-file", C_STR, ".mailboxlist",
	  "subscription list, relative to home (UW's name)" },

	/* locking */
	{ "lock-methods", C_STR, "dotlock fcntl",
	  "mbox lock methods (dotlock, fcntl, flock), always taken in that order; default as Debian's MTAs lock (docs/formats.md, FAQ 6.19, 7.10)" },
	{ "lock-timeout", C_INT, "20",
	  "seconds to wait for a mailbox lock before giving up" },
	{ "dotlock-stale-seconds", C_INT, "300",
	  "a .lock file older than this, or whose owner is dead, is broken (as procmail/Postfix do)" },
	{ "lock-directory", C_STR, "/tmp",
	  "where the /tmp/.<dev>.<ino> session lock files live (FAQ 5.5, 7.17); %u = user, %h = home. /tmp interoperates with UW; new installs whose mailboxes no UW program and no other user opens should use a private directory such as %h/.cclient-locks (made 0700), which no other local user can fill with lock files" },
	{ "mbox-single-writer", C_BOOL, "no",
	  "UW behaviour: one read-write session per mailbox; a newer one sends the kiss of death (FAQ 7.19)" },
	{ "mlock-program", C_STR, CC_MLOCK_PROGRAM,
	  "setgid-mail helper that creates spool .lock files (FAQ 7.10); default PREFIX/sbin/mlock as built (/usr/sbin/mlock in the Debian package)" },

	/* authentication */
	{ "auth-backends", C_STR, "pam",
	  "password backends tried in order: pam, shadow, passwd-file" },
	{ "pam-service-imap", C_STR, "imap", "PAM service name of imapd (FAQ 3.11)" },
	{ "pam-service-pop", C_STR, "pop", "PAM service name of ipop3d (FAQ 3.11)" },
	{ "passwd-file", C_STR, "",
	  "virtual users file: user:crypt-hash:uid:gid:home:maildir (FAQ 3.19)" },
	{ "cram-md5-database", C_STR, "/etc/cram-md5.pwd",
	  "user TAB password; enables CRAM-MD5 and APOP (FAQ 3.8, 3.9)" },
	{ "plaintext-logins", C_STR, "yes",
	  "yes, tls-only (LOGINDISABLED until TLS, FAQ 3.18) or no (FAQ 3.17)" },
	{ "anonymous-file", C_STR, "/etc/anonymous.newsgroups",
	  "when this file exists anonymous login is allowed (FAQ 4.1)" },
	{ "anonymous-user", C_STR, "nobody",
	  "unprivileged system user whose uid/gid anonymous sessions run with (FAQ 4.1)" },
	{ "login-failures-max", C_INT, "3",
	  "failed logins before the session is ended" },
	{ "login-failure-delay", C_INT, "2",
	  "seconds to wait after the first failed login; doubles each time" },
	{ "login-penalty-file", C_STR, "/run/c-client-login-penalty",
	  "table of recent login failures per client address, shared by every imapd and ipop3d process (created 0600; must belong to the servers' uid); empty disables the penalty" },
	{ "login-penalty-delay", C_INT, "2",
	  "seconds an address waits before its next login check after one recent failure; doubles with each further failure; 0 disables" },
	{ "login-penalty-max", C_INT, "15",
	  "longest login penalty, in seconds" },
	{ "login-penalty-reset", C_INT, "900",
	  "seconds after an address's last failure when its count is forgotten" },

	/* servers */
	{ "alert-file", C_STR, "/etc/imapd.alert",
	  "text shown to every IMAP user at login as [ALERT] (FAQ 4.2)" },
	{ "imap-autologout", C_INT, "1800",
	  "seconds of inactivity before imapd ends a session (FAQ 7.27)" },
	{ "imap-login-timeout", C_INT, "180",
	  "seconds of inactivity before login (TLS handshake included) after which imapd ends the session" },
	{ "imap-idle-fake-new-mail", C_INT, "1740",
	  "seconds into IDLE when fake new mail is reported to wake Outlook Express (FAQ 7.37)" },
	{ "pop3-autologout", C_INT, "600",
	  "seconds of inactivity before ipop3d ends a session (FAQ 7.27)" },
	{ "max-line-length", C_INT, "8388608",
	  "longest command line accepted after login, literals excluded (before login at most 65536)" },
	{ "max-literal-size", C_INT, "67108864",
	  "largest literal (APPEND message) accepted" },
	{ "nul-to-0x80", C_BOOL, "yes",
	  "send NUL bytes in message text as 0x80 (RFC 3501 allows no NUL in a literal; FAQ 7.34); BINARY[] always sends them as they are" },

	/* many backends behind a proxy (docs/scaling.md) */
	{ "trusted-proxies", C_STR, "",
	  "networks (CIDR, spaces or commas) whose connections start with a PROXY protocol header and may log in in plaintext" },
	{ "route-map", C_STR, "",
	  "user-to-backend map (\"user host[:imap-port[:pop3-port]]\" lines) read by mail-route; when set, imapd refers users and mailboxes of other backends (LOGIN-REFERRALS, MAILBOX-REFERRALS; needs server-name)" },
	{ "server-name", C_STR, "",
	  "this backend's host name as the route map writes it (referrals)" },
	{ "route-state-file", C_STR, "/var/lib/mail-route/failures",
	  "mail-route's record of recent login failures per client address (growing Auth-Wait)" },

	/* TLS */
	{ "imapd-tls-cert", C_STR, "/etc/ssl/certs/imapd.pem", "imapd certificate (FAQ 7.28)" },
	{ "imapd-tls-key", C_STR, "/etc/ssl/private/imapd.pem", "imapd private key" },
	{ "ipop3d-tls-cert", C_STR, "/etc/ssl/certs/ipop3d.pem", "ipop3d certificate" },
	{ "ipop3d-tls-key", C_STR, "/etc/ssl/private/ipop3d.pem", "ipop3d private key" },
	{ "tls-max-record", C_INT, "8192",
	  "largest outgoing TLS record in bytes (FAQ 6.7, 7.43)" },
};

static char *values[N_ELEMENTS(keys)];

static int key_index(const char *key)
{
	for (size_t i = 0; i < N_ELEMENTS(keys); i++)
		if (strcmp(keys[i].key, key) == 0)
			return (int)i;
	return -1;
}

static bool parse_bool(const char *v, bool *r)
{
	if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "on") ||
	    !strcmp(v, "1")) {
		*r = true;
		return true;
	}
	if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "off") ||
	    !strcmp(v, "0")) {
		*r = false;
		return true;
	}
	return false;
}

static bool parse_int(const char *v, long long *r)
{
	char *end;

	errno = 0;
	*r = strtoll(v, &end, 0);
	return errno == 0 && end != v && *end == '\0';
}

bool config_set(const char *key, const char *value, const char **error_r)
{
	int i = key_index(key);
	bool b;
	long long n;

	if (i < 0) {
		*error_r = "unknown key";
		return false;
	}
	if (keys[i].type == C_BOOL && !parse_bool(value, &b)) {
		*error_r = "value must be yes or no";
		return false;
	}
	if (keys[i].type == C_INT && !parse_int(value, &n)) {
		*error_r = "value must be a number";
		return false;
	}
	free(values[i]);
	values[i] = xstrdup(value);
	return true;
}

int config_load(const char *path, const char **error_r)
{
	static char errbuf[8400];
	const char *env = secure_getenv("CCLIENT_CONFIG");
	const char *file;

	if (path == NULL && env != NULL && *env != '\0')
		path = env;
	file = path ? path : CONFIG_DEFAULT_PATH;
	FILE *f = fopen(file, "r");
	char line[4096];
	unsigned lineno = 0;

	if (f == NULL) {
		if (path == NULL && errno == ENOENT)
			return 0;
		snprintf(errbuf, sizeof errbuf, "%s: %s", file, strerror(errno));
		*error_r = errbuf;
		return -1;
	}
	while (fgets(line, sizeof line, f) != NULL) {
		char *p = line, *key, *val, *end;
		const char *err;

		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			snprintf(errbuf, sizeof errbuf, "%s line %u: line too long",
				 file, lineno);
			goto fail;
		}
		p[strcspn(p, "\r\n")] = '\0';
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0' || *p == '#')
			continue;
		key = p;
		while (*p && *p != ' ' && *p != '\t')
			p++;
		if (*p)
			*p++ = '\0';
		while (*p == ' ' || *p == '\t')
			p++;
		val = p;
		end = val + strlen(val);
		while (end > val && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		if (!config_set(key, val, &err)) {
			snprintf(errbuf, sizeof errbuf, "%s line %u: %s: %s",
				 file, lineno, key, err);
			goto fail;
		}
	}
	fclose(f);
	return 0;
fail:
	fclose(f);
	*error_r = errbuf;
	return -1;
}

static int must_index(const char *key)
{
	int i = key_index(key);
	if (i < 0)
		panic("unknown configuration key %s", key);
	return i;
}

const char *config_str(const char *key)
{
	int i = must_index(key);
	return values[i] ? values[i] : keys[i].def;
}

bool config_bool(const char *key)
{
	bool b = false;
	(void)parse_bool(config_str(key), &b);
	return b;
}

long long config_int(const char *key)
{
	long long n = 0;
	(void)parse_int(config_str(key), &n);
	return n;
}

void config_reset(void)
{
	for (size_t i = 0; i < N_ELEMENTS(keys); i++)
		xfree(&values[i]);
}

bool config_iter(unsigned i, const char **key_r, const char **def_r,
		 const char **help_r)
{
	if (i >= N_ELEMENTS(keys))
		return false;
	*key_r = keys[i].key;
	*def_r = keys[i].def;
	*help_r = keys[i].help;
	return true;
}
