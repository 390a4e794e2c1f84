/*
 * passwd.c - the password backends named in auth-backends:
 *
 *   pam          Linux-PAM, service pam-service-imap / pam-service-pop
 *                (FAQ 3.11): authenticate, account (expiry, "new password
 *                required" is a failure), setcred; PAM_RHOST set.
 *   shadow       getspnam() + crypt_r(): any hash libcrypt knows (yescrypt,
 *                SHA-512, ...); locked and expired accounts refused.
 *   passwd-file  virtual users (FAQ 3.19): "user:crypt-hash:uid:gid:home:
 *                maildir" lines in passwd-file; maildir may be empty.
 *
 * SECURITY: runs as root with a password from the network. Hash
 * comparison is constant-time; the password file is refused when others
 * could write it; lines are bounded. An unknown user or a locked entry
 * costs one crypt() of the same kind as a real check (crypt_dummy():
 * the passwd-file's own first hash, else libcrypt's default method), so
 * the answer's timing does not tell which user names exist.
 */
#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <shadow.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <security/pam_appl.h>

#include "auth-private.h"
#include "config.h"
#include "log.h"

/* ---- pam ---- */

struct pam_conv_data {
	const char *user, *pass;
};

/* Answer every prompt: echo-off prompts get the password, echo-on ones
 * the user name; messages are ignored. PAM frees what we allocate. */
static int pam_conversation(int n, const struct pam_message **msg,
			    struct pam_response **resp_r, void *appdata)
{
	struct pam_conv_data *d = appdata;
	struct pam_response *resp;

	if (n <= 0 || n > PAM_MAX_NUM_MSG)
		return PAM_CONV_ERR;
	resp = calloc((size_t)n, sizeof *resp);
	if (resp == NULL)
		return PAM_BUF_ERR;
	for (int i = 0; i < n; i++) {
		const char *answer = NULL;

		switch (msg[i]->msg_style) {
		case PAM_PROMPT_ECHO_OFF:
			answer = d->pass;
			break;
		case PAM_PROMPT_ECHO_ON:
			answer = d->user;
			break;
		case PAM_ERROR_MSG:
		case PAM_TEXT_INFO:
			break;
		default:
			goto fail;
		}
		if (answer != NULL) {
			resp[i].resp = strdup(answer);
			if (resp[i].resp == NULL)
				goto fail;
		}
	}
	*resp_r = resp;
	return PAM_SUCCESS;
fail:
	for (int i = 0; i < n; i++) {
		if (resp[i].resp != NULL) {
			explicit_bzero(resp[i].resp, strlen(resp[i].resp));
			free(resp[i].resp);
		}
	}
	free(resp);
	return PAM_CONV_ERR;
}

static enum authb_result pam_verify(enum auth_service svc, const char *user,
				    const char *pass, const char *rhost,
				    struct auth_user *u, const char **error_r)
{
	struct pam_conv_data data = { .user = user, .pass = pass };
	struct pam_conv conv = { .conv = pam_conversation, .appdata_ptr = &data };
	const char *service = config_str(svc == AUTH_SERVICE_POP ?
					 "pam-service-pop" : "pam-service-imap");
	pam_handle_t *h = NULL;
	const void *item = NULL;
	enum authb_result result = AUTHB_NEXT;
	int r;

	r = pam_start(service, user, &conv, &h);
	if (r != PAM_SUCCESS) {
		log_error("pam_start(%s): %s", service, pam_strerror(h, r));
		*error_r = "PAM unavailable";
		return AUTHB_NEXT;
	}
	if (rhost != NULL && rhost[0] != '\0')
		(void)pam_set_item(h, PAM_RHOST, rhost);
	r = pam_authenticate(h, PAM_DISALLOW_NULL_AUTHTOK);
	if (r != PAM_SUCCESS) {
		*error_r = r == PAM_USER_UNKNOWN ? "PAM: unknown user" :
			r == PAM_AUTH_ERR ? "PAM: wrong password" :
			"PAM: authentication failed";
		if (r != PAM_AUTH_ERR && r != PAM_USER_UNKNOWN)
			log_info("auth: pam_authenticate(%s, %.64s): %s",
				 service, user, pam_strerror(h, r));
		goto out;
	}
	r = pam_acct_mgmt(h, PAM_DISALLOW_NULL_AUTHTOK);
	if (r != PAM_SUCCESS) {
		/* a mail client cannot change a password: expired is refused */
		*error_r = r == PAM_NEW_AUTHTOK_REQD ?
			"PAM: password expired, a new one is required" :
			r == PAM_ACCT_EXPIRED ? "PAM: account expired" :
			"PAM: account refused";
		log_info("auth: pam_acct_mgmt(%s, %.64s): %s", service, user,
			 pam_strerror(h, r));
		result = AUTHB_DENY;
		goto out;
	}
	r = pam_setcred(h, PAM_ESTABLISH_CRED);
	if (r != PAM_SUCCESS) {
		*error_r = "PAM: credentials refused";
		log_info("auth: pam_setcred(%s, %.64s): %s", service, user,
			 pam_strerror(h, r));
		result = AUTHB_DENY;
		goto out;
	}
	/* a module may have mapped the name (PAM_USER) */
	if (pam_get_item(h, PAM_USER, &item) != PAM_SUCCESS || item == NULL)
		item = user;
	if (!auth_user_from_passwd(item, u)) {
		*error_r = "PAM accepted a user that has no passwd entry";
		result = AUTHB_DENY;
		goto out;
	}
	result = AUTHB_OK;
out:
	pam_end(h, r);
	return result;
}

static bool passwd_lookup(const char *user, struct auth_user *u)
{
	return auth_user_from_passwd(user, u);
}

const struct auth_backend auth_backend_pam = {
	.name = "pam",
	.verify = pam_verify,
	.lookup = passwd_lookup,
};

/* ---- crypt(3) hashes ---- */

unsigned long auth_crypt_calls;

/* a setting for dummy hashes when nothing better is known: libcrypt's
 * default method and cost (yescrypt on Debian), made once */
static const char *default_setting(void)
{
	static char setting[CRYPT_GENSALT_OUTPUT_SIZE];

	if (setting[0] == '\0' &&
	    crypt_gensalt_rn(NULL, 0, NULL, 0, setting, sizeof setting) == NULL)
		snprintf(setting, sizeof setting, "$6$cclientdummysalt");
	return setting;
}

/* Hash pass with setting (a real entry's hash, or NULL for the default)
 * and throw the result away: what an unknown user or a locked entry
 * costs, so it answers as slowly as a wrong password. */
static void crypt_dummy(const char *pass, const char *setting)
{
	struct crypt_data *cd = xcalloc(1, sizeof *cd);

	if (setting == NULL || setting[0] != '$')
		setting = default_setting();
	auth_crypt_calls++;
	(void)crypt_r(pass, setting, cd);
	explicit_bzero(cd, sizeof *cd);
	free(cd);
}

/* true if pass hashes to hash; "!"/"*"-prefixed, empty and failure
 * hashes never match (after a dummy hash of the same cost) */
static bool crypt_matches(const char *pass, const char *hash)
{
	struct crypt_data *cd;
	const char *out;
	bool ok;

	if (hash == NULL || hash[0] == '\0' || hash[0] == '!' || hash[0] == '*') {
		/* "!$6$..." (usermod -L) keeps the real setting after '!' */
		crypt_dummy(pass, hash != NULL && hash[0] != '\0' ?
			    hash + strspn(hash, "!*") : NULL);
		return false;
	}
	cd = xcalloc(1, sizeof *cd);
	auth_crypt_calls++;
	out = crypt_r(pass, hash, cd);
	ok = out != NULL && out[0] != '*' && auth_str_equal(out, hash);
	explicit_bzero(cd, sizeof *cd);
	free(cd);
	return ok;
}

/* ---- shadow ---- */

static long days_now(void)
{
	return (long)(time(NULL) / 86400);
}

static enum authb_result shadow_verify(enum auth_service svc,
				       const char *user, const char *pass,
				       const char *rhost, struct auth_user *u,
				       const char **error_r)
{
	struct spwd *sp = getspnam(user);
	long today = days_now();

	if (sp == NULL) {
		crypt_dummy(pass, NULL);
		*error_r = "shadow: unknown user";
		return AUTHB_NEXT;
	}
	if (sp->sp_pwdp == NULL || sp->sp_pwdp[0] == '!' ||
	    sp->sp_pwdp[0] == '*') {
		/* locked: refused outright, no other backend is asked */
		(void)crypt_matches(pass, sp->sp_pwdp);	/* the same time */
		*error_r = "shadow: account locked or has no password";
		return AUTHB_DENY;
	}
	if (!crypt_matches(pass, sp->sp_pwdp)) {
		*error_r = "shadow: wrong password";
		return AUTHB_NEXT;
	}
	if (sp->sp_expire >= 0 && today >= sp->sp_expire) {
		*error_r = "shadow: account expired";
		return AUTHB_DENY;
	}
	if (sp->sp_lstchg == 0) {
		*error_r = "shadow: password must be changed";
		return AUTHB_DENY;
	}
	/* past its maximum age (even inside the inactive period, where
	 * login(1) would ask for a new password: we cannot) */
	if (sp->sp_lstchg > 0 && sp->sp_max >= 0 &&
	    today > sp->sp_lstchg + sp->sp_max) {
		*error_r = "shadow: password expired";
		return AUTHB_DENY;
	}
	if (!auth_user_from_passwd(user, u)) {
		*error_r = "shadow entry without a passwd entry";
		return AUTHB_DENY;
	}
	return AUTHB_OK;
}

const struct auth_backend auth_backend_shadow = {
	.name = "shadow",
	.verify = shadow_verify,
	.lookup = passwd_lookup,
};

/* ---- passwd-file ---- */

#define PWFILE_LINE_MAX 4096

struct pwfile_entry {
	char line[PWFILE_LINE_MAX];
	char *fields[6];	/* user, hash, uid, gid, home, maildir */
	char dummy[256];	/* the first entry's hash: for unknown users */
};

/* Find user in the passwd-file. -1 when the file is unusable. */
static int pwfile_find(const char *user, struct pwfile_entry *e)
{
	const char *path = config_str("passwd-file");
	struct stat st;
	FILE *f;
	int fd, found = 0;
	unsigned lineno = 0;

	e->dummy[0] = '\0';
	if (path[0] == '\0')
		return -1;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		log_error("passwd-file %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (st.st_mode & (S_IWGRP | S_IWOTH)) != 0 ||
	    (st.st_uid != 0 && st.st_uid != geteuid())) {
		log_error("passwd-file %s refused: must be a regular file owned "
			  "by root (or the server's user) and not writable by "
			  "group or others", path);
		close(fd);
		return -1;
	}
	f = fdopen(fd, "r");
	if (f == NULL) {
		close(fd);
		return -1;
	}
	while (fgets(e->line, sizeof e->line, f) != NULL) {
		char *p = e->line;
		size_t len = strlen(p);
		int n;

		lineno++;
		if (len > 0 && p[len - 1] == '\n')
			p[--len] = '\0';
		else if (!feof(f)) {
			int c;
			log_error("passwd-file %s line %u: too long, ignored",
				  path, lineno);
			while ((c = getc(f)) != EOF && c != '\n')
				;
			continue;
		}
		if (len > 0 && p[len - 1] == '\r')
			p[--len] = '\0';
		if (p[0] == '#' || p[0] == '\0')
			continue;
		for (n = 0; n < 6; n++) {
			e->fields[n] = p;
			p = strchr(p, ':');
			if (p == NULL)
				break;
			*p++ = '\0';
		}
		if (e->dummy[0] == '\0' && n >= 1 && e->fields[1][0] == '$')
			snprintf(e->dummy, sizeof e->dummy, "%s", e->fields[1]);
		if (strcmp(e->fields[0], user) != 0)
			continue;
		if (n < 4 || n > 5) {
			log_error("passwd-file %s line %u: malformed entry for "
				  "%.64s", path, lineno, user);
			found = -1;
			break;
		}
		for (n++; n < 6; n++)
			e->fields[n] = (char *)"";
		found = 1;
		break;
	}
	fclose(f);
	return found;
}

static bool pwfile_fill(struct pwfile_entry *e, struct auth_user *u)
{
	uint32_t uid, gid;

	if (!str_to_u32(e->fields[2], &uid) || !str_to_u32(e->fields[3], &gid) ||
	    uid == UINT32_MAX || gid == UINT32_MAX || e->fields[4][0] != '/') {
		log_error("passwd-file: bad uid, gid or home for %.64s",
			  e->fields[0]);
		return false;
	}
	u->name = xstrdup(e->fields[0]);
	u->uid = (uid_t)uid;
	u->gid = (gid_t)gid;
	u->home = xstrdup(e->fields[4]);
	u->maildir = e->fields[5][0] != '\0' ? xstrdup(e->fields[5]) : NULL;
	u->anonymous = false;
	return true;
}

static enum authb_result pwfile_verify(enum auth_service svc,
				       const char *user, const char *pass,
				       const char *rhost, struct auth_user *u,
				       const char **error_r)
{
	struct pwfile_entry *e = xmalloc(sizeof *e);
	enum authb_result result = AUTHB_NEXT;

	switch (pwfile_find(user, e)) {
	case 1:
		if (!crypt_matches(pass, e->fields[1])) {
			*error_r = "passwd-file: wrong password";
		} else if (!pwfile_fill(e, u)) {
			*error_r = "passwd-file: bad entry";
			result = AUTHB_DENY;
		} else {
			result = AUTHB_OK;
		}
		break;
	case 0:
		crypt_dummy(pass, e->dummy);
		*error_r = "passwd-file: unknown user";
		break;
	default:
		*error_r = "passwd-file: unusable";
		break;
	}
	explicit_bzero(e, sizeof *e);
	free(e);
	return result;
}

static bool pwfile_lookup(const char *user, struct auth_user *u)
{
	struct pwfile_entry *e = xmalloc(sizeof *e);
	bool ok = pwfile_find(user, e) == 1 && pwfile_fill(e, u);

	explicit_bzero(e, sizeof *e);
	free(e);
	return ok;
}

const struct auth_backend auth_backend_passwd_file = {
	.name = "passwd-file",
	.verify = pwfile_verify,
	.lookup = pwfile_lookup,
};
