/*
 * auth.h - password checking, SASL and privilege drop, shared by imapd
 * and ipop3d.
 *
 * SECURITY: this is the code that runs as root on network input. Keep
 * what runs before login small; after auth_become() the process has the
 * user's uid/gid/groups and no way back to root. UID 0 never logs in.
 */
#ifndef CC_AUTH_H
#define CC_AUTH_H

#include "buf.h"

enum auth_service { AUTH_SERVICE_IMAP, AUTH_SERVICE_POP };

/* who logged in: everything needed to become that user */
struct auth_user {
	char *name;
	uid_t uid;
	gid_t gid;
	char *home;
	char *maildir;		/* from the passwd-file backend, or NULL */
	bool anonymous;
};

void auth_user_free(struct auth_user *u);

/* Is a plaintext password (LOGIN, USER/PASS, AUTH PLAIN/LOGIN) allowed on
 * this connection? (plaintext-logins: yes / tls-only / no) */
bool auth_plaintext_allowed(bool tls_active);
/* this connection comes through a trusted proxy that ended TLS itself
 * (proxy-protocol.c): plaintext logins are allowed on it */
void auth_set_via_proxy(bool on);
/* Is anonymous login on (anonymous-file exists)? */
bool auth_anonymous_allowed(void);
/* Does the CRAM-MD5 database exist and pass its ownership/mode checks? */
bool auth_cram_available(void);

/* Check user/password with the configured backends. Returns 0 on
 * success (fills *u), -1 on failure; *error_r is for the log only — the
 * client is told just "Login failed". Refuses uid 0. */
int auth_password(enum auth_service svc, const char *user,
		  const char *pass, const char *rhost,
		  struct auth_user *u, const char **error_r);

/* CRAM-MD5 (RFC 2195) checked against a challenge someone else sent
 * (nginx's Auth-Salt): digest = hex HMAC-MD5(secret, challenge). On
 * success *secret_r (if not NULL) gets the malloc'd plaintext secret. */
int auth_cram(const char *user, const char *challenge, const char *digest_hex,
	      struct auth_user *u, char **secret_r, const char **error_r);

/* the CRAM-MD5 database secret of user (malloc'd, or NULL): mail-route
 * hands it to nginx, which must log in to the backend in plaintext
 * after an APOP or CRAM-MD5 login */
char *auth_cram_secret(const char *user);

/* APOP (RFC 1939): digest = hex MD5(timestamp + secret) */
int auth_apop(const char *user, const char *timestamp, const char *digest_hex,
	      struct auth_user *u, const char **error_r);
/* a fresh APOP banner timestamp "<pid.time@host>" */
void auth_apop_timestamp(struct buf *out);

/* ---- SASL (PLAIN, LOGIN, CRAM-MD5, ANONYMOUS) ---- */
struct sasl;
/* names of the mechanisms usable now, space separated, e.g. "PLAIN LOGIN" */
void sasl_mechanisms(bool tls_active, struct buf *out);
/* start mech; NULL with *error_r if unknown or not allowed here */
struct sasl *sasl_start(enum auth_service svc, const char *mech,
			bool tls_active, const char *rhost,
			const char **error_r);
enum sasl_status {
	SASL_CONTINUE,		/* send challenge (raw, caller base64s it) */
	SASL_OK,		/* authenticated: *u filled */
	SASL_FAIL,		/* wrong credentials: "Login failed" */
	SASL_BAD,		/* malformed (bad base64 etc.): BAD / -ERR */
};
/* response: the client's base64 line (NULL for the first step without an
 * initial response; "" for an empty initial response "="). "*" is
 * handled by the caller (cancel). */
enum sasl_status sasl_step(struct sasl *s, const char *response,
			   struct buf *challenge, struct auth_user *u,
			   const char **error_r);
void sasl_free(struct sasl **s);

/* ---- privilege ---- */
/* setgid, initgroups, setuid (each checked), chdir home, then
 * mail_user_set(). Fatal on any failure. Refuses uid 0. When not root,
 * only succeeds for the current uid. */
void auth_become(const struct auth_user *u);
/* started as an ordinary user: the user we run as (for PREAUTH); false
 * when running as root */
bool auth_self(struct auth_user *u);
/* growing delay after failure n (1-based); true when the session must end */
bool auth_failure_delay(unsigned failures);

#endif
