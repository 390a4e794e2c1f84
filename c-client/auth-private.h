/*
 * auth-private.h - what auth.c, passwd.c, cram.c and sasl.c share and
 * nothing else needs: the password backend table, the CRAM-MD5 database
 * and the strict base64 decoder used by SASL.
 */
#ifndef CC_AUTH_PRIVATE_H
#define CC_AUTH_PRIVATE_H

#include "auth.h"

/* longest user name and password we look at; longer ones fail */
#define AUTH_MAX_USER	256
#define AUTH_MAX_PASS	1024

enum authb_result {
	AUTHB_OK,	/* password right; *u filled */
	AUTHB_NEXT,	/* unknown user or wrong password: try the next */
	AUTHB_DENY,	/* user known, account refused (expired, locked) */
};

/* one password backend (STYLE.md: tables of named entries) */
struct auth_backend {
	const char *name;
	enum authb_result (*verify)(enum auth_service svc, const char *user,
				    const char *pass, const char *rhost,
				    struct auth_user *u, const char **error_r);
	/* who is this user (no password): for CRAM-MD5/APOP logins */
	bool (*lookup)(const char *user, struct auth_user *u);
};

extern const struct auth_backend auth_backend_pam;
extern const struct auth_backend auth_backend_shadow;
extern const struct auth_backend auth_backend_passwd_file;

/* crypt() calls made by the password backends (tests: an unknown user
 * must cost as many as a wrong password) */
extern unsigned long auth_crypt_calls;

/* fill u from getpwnam(); false if unknown */
bool auth_user_from_passwd(const char *user, struct auth_user *u);
/* constant-time string equality */
bool auth_str_equal(const char *a, const char *b);
/* the user a successful password/secret check resolves to: refuses uid 0
 * and user names with control characters; 0 or -1 with *error_r */
int auth_finish(struct auth_user *u, const char **error_r);
/* a user who proved a secret some other way (CRAM-MD5 database): must
 * still be known to a backend (getpwnam or passwd-file) for uid/home */
int auth_user_lookup(const char *user, struct auth_user *u,
		     const char **error_r);
/* the anonymous user (anonymous-user from the configuration) */
int auth_anonymous(struct auth_user *u, const char **error_r);
/* log a failed check (user, reason; the log adds host=) */
void auth_log_failure(const char *how, const char *user, const char *why);

/* CRAM-MD5 database (cram.c): the secret for user, malloc'd, or NULL */
char *cram_secret(const char *user);
/* hex HMAC-MD5(key, text) into out (33 bytes) */
void cram_hmac_md5_hex(const char *key, const char *text, char out[33]);
/* hex MD5(data) into out (33 bytes) */
void cram_md5_hex(const void *data, size_t len, char out[33]);
/* a challenge "<random.time@host>" (also the APOP timestamp) */
void cram_challenge(struct buf *out);

/* strict base64 (RFC 4648, padding required, no whitespace) */
bool auth_base64_decode(const char *in, size_t len, struct buf *out);

/* wipe a secret held in a buf or string */
void auth_wipe_buf(struct buf *b);

#endif
