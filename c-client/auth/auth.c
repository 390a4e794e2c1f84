/*
 * auth.c - login policy and the privilege drop (see auth.h).
 *
 * Which logins are allowed (plaintext-logins, anonymous-file), the order
 * in which password backends are asked (auth-backends: a table of named
 * entries in passwd.c), the CRAM-MD5 database taking precedence for the
 * users it lists (FAQ 3.16), the growing delay after failures, and the
 * irrevocable change to the user's uid/gid/groups.
 *
 * SECURITY: this runs as root on data from the network. The client only
 * ever learns "Login failed" (FAQ 7.4); the reason goes to the log. UID 0
 * never logs in, whatever a backend says. auth_become() checks every
 * step and verifies afterwards that root cannot be regained.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "auth-private.h"
#include "config.h"
#include "log.h"
#include "mail.h"

static const struct auth_backend *const auth_backends[] = {
	&auth_backend_pam,
	&auth_backend_shadow,
	&auth_backend_passwd_file,
};

static const struct auth_backend *backend_lookup(const char *name)
{
	for (size_t i = 0; i < N_ELEMENTS(auth_backends); i++)
		if (strcmp(auth_backends[i]->name, name) == 0)
			return auth_backends[i];
	return NULL;
}

/* Walk auth-backends ("pam shadow", commas allowed); fn returns true to
 * stop. Unknown names are logged and skipped. */
static void backends_each(bool (*fn)(const struct auth_backend *b, void *ctx),
			  void *ctx)
{
	char *list = xstrdup(config_str("auth-backends"));
	char *save = NULL;

	for (char *name = strtok_r(list, " \t,", &save); name != NULL;
	     name = strtok_r(NULL, " \t,", &save)) {
		const struct auth_backend *b = backend_lookup(name);
		if (b == NULL) {
			log_error("auth-backends: unknown backend \"%.40s\" ignored",
				  name);
			continue;
		}
		if (fn(b, ctx))
			break;
	}
	free(list);
}

void auth_user_free(struct auth_user *u)
{
	if (u == NULL)
		return;
	xfree(&u->name);
	xfree(&u->home);
	xfree(&u->maildir);
	u->uid = (uid_t)-1;
	u->gid = (gid_t)-1;
	u->anonymous = false;
}

bool auth_str_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned char diff = la != lb;

	/* time depends on the attacker's length only */
	for (size_t i = 0; i < la; i++)
		diff |= (unsigned char)a[i] ^ (unsigned char)(i < lb ? b[i] : 0);
	return diff == 0;
}

void auth_wipe_buf(struct buf *b)
{
	if (b->data != NULL && b->cap > 0)
		explicit_bzero(b->data, b->cap);
	buf_reset(b);
}

void auth_log_failure(const char *how, const char *user, const char *why)
{
	log_info("auth: %s failed for \"%.64s\": %s", how,
		 user != NULL ? user : "", why);
}

bool auth_user_from_passwd(const char *user, struct auth_user *u)
{
	struct passwd *pw = getpwnam(user);

	if (pw == NULL)
		return false;
	u->name = xstrdup(pw->pw_name);
	u->uid = pw->pw_uid;
	u->gid = pw->pw_gid;
	u->home = xstrdup(pw->pw_dir != NULL ? pw->pw_dir : "/");
	u->maildir = NULL;
	u->anonymous = false;
	return true;
}

int auth_finish(struct auth_user *u, const char **error_r)
{
	if (u->uid == 0) {
		*error_r = "uid 0 never logs in (FAQ 7.4)";
		auth_user_free(u);
		return -1;
	}
	if (u->home == NULL)
		u->home = xstrdup("/");
	return 0;
}

static bool name_ok(const char *s, size_t max)
{
	size_t n = 0;

	for (; s[n] != '\0'; n++)
		if ((unsigned char)s[n] < 0x20 || s[n] == 0x7f || n >= max)
			return false;
	return n > 0;
}

/* ---- policy ---- */

static bool via_proxy;

void auth_set_via_proxy(bool on)
{
	via_proxy = on;
}

bool auth_plaintext_allowed(bool tls_active)
{
	const char *v = config_str("plaintext-logins");

	if (via_proxy || strcmp(v, "yes") == 0)
		return true;
	if (strcmp(v, "tls-only") == 0)
		return tls_active;
	if (strcmp(v, "no") != 0) {
		static bool logged;
		if (!logged)
			log_error("plaintext-logins: unknown value \"%.40s\", "
				  "treated as no", v);
		logged = true;
	}
	return false;
}

bool auth_anonymous_allowed(void)
{
	const char *path = config_str("anonymous-file");
	struct stat st;

	return path[0] != '\0' && stat(path, &st) == 0;
}

int auth_anonymous(struct auth_user *u, const char **error_r)
{
	const char *who = config_str("anonymous-user");
	struct passwd *pw = who[0] != '\0' ? getpwnam(who) : NULL;

	if (pw == NULL) {
		log_error("anonymous-user \"%.64s\" does not exist: anonymous "
			  "login impossible", who);
		*error_r = "anonymous-user does not exist";
		return -1;
	}
	if (pw->pw_uid == 0) {
		log_error("anonymous-user \"%.64s\" has uid 0: refused", who);
		*error_r = "anonymous-user has uid 0";
		return -1;
	}
	u->name = xstrdup("anonymous");
	u->uid = pw->pw_uid;
	u->gid = pw->pw_gid;
	u->home = xstrdup(pw->pw_dir != NULL ? pw->pw_dir : "/");
	u->maildir = NULL;
	u->anonymous = true;
	log_info("auth: anonymous login as %.64s", who);
	return 0;
}

/* ---- password checks ---- */

struct verify_ctx {
	enum auth_service svc;
	const char *user, *pass, *rhost;
	struct auth_user *u;
	const char *error;
	enum authb_result result;
	const char *backend;
};

static bool verify_one(const struct auth_backend *b, void *vctx)
{
	struct verify_ctx *c = vctx;
	const char *error = "wrong password or unknown user";

	c->result = b->verify(c->svc, c->user, c->pass, c->rhost, c->u, &error);
	if (c->result != AUTHB_NEXT) {
		c->error = error;
		c->backend = b->name;
		return true;
	}
	/* keep the most telling reason for the log */
	c->error = error;
	c->backend = b->name;
	return false;
}

struct lookup_ctx {
	const char *user;
	struct auth_user *u;
	bool found;
};

static bool lookup_one(const struct auth_backend *b, void *vctx)
{
	struct lookup_ctx *c = vctx;

	c->found = b->lookup(c->user, c->u);
	return c->found;
}

/* a user who proved a CRAM-MD5 database secret: must still exist */
int auth_user_lookup(const char *user, struct auth_user *u,
			      const char **error_r)
{
	struct lookup_ctx c = { .user = user, .u = u, .found = false };

	memset(u, 0, sizeof *u);
	backends_each(lookup_one, &c);
	if (!c.found) {
		*error_r = "in the CRAM-MD5 database but not a known user (FAQ 7.4)";
		return -1;
	}
	return auth_finish(u, error_r);
}

int auth_password(enum auth_service svc, const char *user,
		  const char *pass, const char *rhost,
		  struct auth_user *u, const char **error_r)
{
	char *secret;
	int ret;

	memset(u, 0, sizeof *u);
	if (!name_ok(user, AUTH_MAX_USER) || strlen(pass) > AUTH_MAX_PASS) {
		*error_r = "malformed user name or password";
		auth_log_failure("login", "", *error_r);
		return -1;
	}
	if (ascii_strcasecmp(user, "anonymous") == 0 &&
	    auth_anonymous_allowed())
		return auth_anonymous(u, error_r);

	/* FAQ 3.16: the CRAM-MD5 database is the password for its users */
	secret = cram_secret(user);
	if (secret != NULL) {
		bool match = auth_str_equal(secret, pass);
		explicit_bzero(secret, strlen(secret));
		free(secret);
		if (!match) {
			*error_r = "wrong password (CRAM-MD5 database)";
			auth_log_failure("login", user, *error_r);
			return -1;
		}
		ret = auth_user_lookup(user, u, error_r);
		if (ret < 0)
			auth_log_failure("login", user, *error_r);
		return ret;
	}

	struct verify_ctx c = {
		.svc = svc, .user = user, .pass = pass,
		.rhost = rhost != NULL ? rhost : "", .u = u,
		.error = "no password backend configured",
		.result = AUTHB_NEXT, .backend = "none",
	};
	backends_each(verify_one, &c);
	if (c.result != AUTHB_OK) {
		*error_r = c.error;
		log_info("auth: login failed for \"%.64s\" (%s): %s", user,
			 c.backend, c.error);
		return -1;
	}
	ret = auth_finish(u, error_r);
	if (ret < 0)
		auth_log_failure("login", user, *error_r);
	return ret;
}

/* hex digits of either case, compared in constant time */
static bool digest_matches(const char *digest_hex, const char want[33])
{
	char got[33];
	size_t n = strlen(digest_hex);

	for (size_t i = 0; i < sizeof got - 1; i++)
		got[i] = i < n ? ascii_tolower(digest_hex[i]) : '\0';
	got[sizeof got - 1] = '\0';
	return n == 32 && auth_str_equal(got, want);
}

int auth_apop(const char *user, const char *timestamp, const char *digest_hex,
	      struct auth_user *u, const char **error_r)
{
	struct buf text;
	char *secret;
	char want[33];
	bool match;

	memset(u, 0, sizeof *u);
	if (!name_ok(user, AUTH_MAX_USER)) {
		*error_r = "malformed user name";
		auth_log_failure("APOP", "", *error_r);
		return -1;
	}
	secret = cram_secret(user);
	if (secret == NULL) {
		*error_r = "not in the CRAM-MD5 database";
		auth_log_failure("APOP", user, *error_r);
		return -1;
	}
	buf_init(&text, 0);
	buf_puts(&text, timestamp);
	buf_puts(&text, secret);
	cram_md5_hex(text.data, text.len, want);
	auth_wipe_buf(&text);
	buf_release(&text);
	explicit_bzero(secret, strlen(secret));
	free(secret);

	match = digest_matches(digest_hex, want);
	if (!match) {
		*error_r = "wrong APOP digest";
		auth_log_failure("APOP", user, *error_r);
		return -1;
	}
	if (auth_user_lookup(user, u, error_r) < 0) {
		auth_log_failure("APOP", user, *error_r);
		return -1;
	}
	return 0;
}

int auth_cram(const char *user, const char *challenge, const char *digest_hex,
	      struct auth_user *u, char **secret_r, const char **error_r)
{
	char want[33], *secret;

	memset(u, 0, sizeof *u);
	if (secret_r != NULL)
		*secret_r = NULL;
	if (!name_ok(user, AUTH_MAX_USER)) {
		*error_r = "malformed user name";
		auth_log_failure("CRAM-MD5", "", *error_r);
		return -1;
	}
	secret = cram_secret(user);
	if (secret == NULL) {
		*error_r = "not in the CRAM-MD5 database";
		auth_log_failure("CRAM-MD5", user, *error_r);
		return -1;
	}
	cram_hmac_md5_hex(secret, challenge, want);
	if (!digest_matches(digest_hex, want)) {
		*error_r = "wrong CRAM-MD5 digest";
		auth_log_failure("CRAM-MD5", user, *error_r);
		goto fail;
	}
	if (auth_user_lookup(user, u, error_r) < 0) {
		auth_log_failure("CRAM-MD5", user, *error_r);
		goto fail;
	}
	if (secret_r != NULL)
		*secret_r = secret;
	else {
		explicit_bzero(secret, strlen(secret));
		free(secret);
	}
	return 0;
fail:
	explicit_bzero(secret, strlen(secret));
	free(secret);
	return -1;
}

char *auth_cram_secret(const char *user)
{
	return name_ok(user, AUTH_MAX_USER) ? cram_secret(user) : NULL;
}

void auth_apop_timestamp(struct buf *out)
{
	buf_reset(out);
	cram_challenge(out);
}

/* ---- failures ---- */

bool auth_failure_delay(unsigned failures)
{
	long long delay = config_int("login-failure-delay");
	long long max = config_int("login-failures-max");

	if (delay < 0)
		delay = 0;
	for (unsigned i = 1; i < failures && delay < 60; i++)
		delay *= 2;
	if (delay > 60)
		delay = 60;
	struct timespec ts = { .tv_sec = (time_t)delay, .tv_nsec = 0 };
	while (delay > 0 && nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	return max > 0 && failures >= (unsigned long long)max;
}

/* ---- privilege ---- */

/* supplementary groups: from /etc/group for a system user, none but the
 * primary group for a virtual (passwd-file) or anonymous user */
static void set_groups(const struct auth_user *u)
{
	struct passwd *pw = u->anonymous ? NULL : getpwnam(u->name);
	gid_t *groups;
	int n = 32;

	if (pw == NULL || pw->pw_uid != u->uid) {
		if (setgroups(1, &u->gid) < 0)
			log_fatal("setgroups(%lu): %s", (unsigned long)u->gid,
				  strerror(errno));
		return;
	}
	groups = xreallocarray(NULL, (size_t)n, sizeof *groups);
	for (int tries = 0; ; tries++) {
		int got = n;
		if (getgrouplist(u->name, u->gid, groups, &got) >= 0) {
			n = got;
			break;
		}
		if (tries > 4 || got <= n)
			log_fatal("getgrouplist %s failed", u->name);
		n = got;
		groups = xreallocarray(groups, (size_t)n, sizeof *groups);
	}
	if (setgroups((size_t)n, groups) < 0)
		log_fatal("setgroups for %s: %s", u->name, strerror(errno));
	free(groups);
}

static void become_finish(const struct auth_user *u)
{
	if (chdir(u->home) < 0) {
		if (!u->anonymous)
			log_fatal("chdir to home %s of %s: %s", u->home,
				  u->name, strerror(errno));
		if (chdir("/") < 0)
			log_fatal("chdir /: %s", strerror(errno));
	}
	mail_user_set(u->name, u->uid, u->gid, u->home);
	if (u->maildir != NULL && u->maildir[0] != '\0') {
		/* passwd-file maildir: absolute, or relative to home */
		free(mail_user->maildir);
		mail_user->maildir = u->maildir[0] == '/' ? xstrdup(u->maildir) :
			xasprintf("%s/%s", mail_user->home, u->maildir);
	}
	mail_user->anonymous = u->anonymous;
}

void auth_become(const struct auth_user *u)
{
	if (u->uid == 0)
		log_fatal("refusing to become %s: uid 0 never logs in", u->name);
	if (geteuid() != 0) {
		/* started as an ordinary user: we can only stay who we are */
		if (u->uid != getuid() || u->uid != geteuid())
			log_fatal("not running as root: cannot become %s (uid %lu)",
				  u->name, (unsigned long)u->uid);
		become_finish(u);
		return;
	}
	set_groups(u);
	if (setresgid(u->gid, u->gid, u->gid) < 0)
		log_fatal("setresgid(%lu): %s", (unsigned long)u->gid,
			  strerror(errno));
	if (setresuid(u->uid, u->uid, u->uid) < 0)
		log_fatal("setresuid(%lu): %s", (unsigned long)u->uid,
			  strerror(errno));
	if (getuid() != u->uid || geteuid() != u->uid ||
	    getgid() != u->gid || getegid() != u->gid)
		log_fatal("privilege drop to %s did not take effect", u->name);
	if (setuid(0) == 0 || seteuid(0) == 0)
		log_fatal("privilege drop to %s is not irrevocable", u->name);
	become_finish(u);
}

bool auth_self(struct auth_user *u)
{
	struct passwd *pw;

	memset(u, 0, sizeof *u);
	if (geteuid() == 0)
		return false;
	pw = getpwuid(getuid());
	if (pw == NULL) {
		log_error("running as uid %lu, which has no passwd entry",
			  (unsigned long)getuid());
		return false;
	}
	u->name = xstrdup(pw->pw_name);
	u->uid = pw->pw_uid;
	u->gid = pw->pw_gid;
	u->home = xstrdup(pw->pw_dir != NULL ? pw->pw_dir : "/");
	u->maildir = NULL;
	u->anonymous = false;
	return true;
}
