/*
 * sasl.c - server side of the SASL mechanisms PLAIN (RFC 4616), LOGIN
 * (draft-murchison-sasl-login), CRAM-MD5 (RFC 2195) and ANONYMOUS
 * (RFC 4505), as a table of named mechanisms.
 *
 * The caller moves base64 lines: sasl_step() gets the client's line as
 * sent and returns raw challenges that the caller encodes. Base64 is
 * decoded strictly; anything malformed is SASL_BAD (a protocol error),
 * wrong credentials are SASL_FAIL ("Login failed").
 *
 * SECURITY: runs before login, as root, on network input. Decoded
 * responses are bounded (SASL_MAX_RESPONSE) and wiped after use.
 */
#include <stdlib.h>
#include <string.h>

#include "auth-private.h"
#include "log.h"

#define SASL_MAX_RESPONSE 4096

struct sasl_mech;

struct sasl {
	const struct sasl_mech *mech;
	enum auth_service svc;
	const char *rhost;		/* owned copy */
	unsigned step;
	bool done;
	char *user;			/* LOGIN: name from the first answer */
	struct buf challenge;		/* CRAM-MD5: what we sent */
};

struct sasl_mech {
	const char *name;
	bool plaintext;		/* hidden when plaintext logins are off */
	bool (*usable)(void);	/* NULL: always */
	enum sasl_status (*step)(struct sasl *s, const struct buf *resp,
				 struct buf *challenge, struct auth_user *u,
				 const char **error_r);
};

static bool bytes_clean(const struct buf *b)
{
	for (size_t i = 0; i < b->len; i++)
		if (b->data[i] == '\0')
			return false;
	return true;
}

/* ---- PLAIN: [authzid] NUL authcid NUL passwd ---- */
static enum sasl_status plain_step(struct sasl *s, const struct buf *resp,
				   struct buf *challenge, struct auth_user *u,
				   const char **error_r)
{
	const char *authzid, *authcid, *pass, *end;

	if (resp == NULL)
		return SASL_CONTINUE;	/* empty challenge: "+ " */
	authzid = resp->data;
	end = resp->data + resp->len;
	authcid = memchr(authzid, '\0', resp->len);
	if (authcid == NULL) {
		*error_r = "PLAIN: malformed response";
		return SASL_BAD;
	}
	authcid++;
	pass = memchr(authcid, '\0', (size_t)(end - authcid));
	if (pass == NULL) {
		*error_r = "PLAIN: malformed response";
		return SASL_BAD;
	}
	pass++;
	if (memchr(pass, '\0', (size_t)(end - pass)) != NULL) {
		*error_r = "PLAIN: malformed response";
		return SASL_BAD;
	}
	if (authzid[0] != '\0' && strcmp(authzid, authcid) != 0) {
		*error_r = "PLAIN: authorization identity differs from the "
			"authentication identity";
		auth_log_failure("AUTHENTICATE PLAIN", authcid, *error_r);
		return SASL_FAIL;
	}
	if (auth_password(s->svc, authcid, pass, s->rhost, u, error_r) < 0)
		return SASL_FAIL;
	return SASL_OK;
}

/* ---- LOGIN: "Username:" then "Password:" ---- */
static enum sasl_status login_step(struct sasl *s, const struct buf *resp,
				   struct buf *challenge, struct auth_user *u,
				   const char **error_r)
{
	if (resp != NULL && !bytes_clean(resp)) {
		*error_r = "LOGIN: NUL in response";
		return SASL_BAD;
	}
	if (s->user == NULL) {
		if (resp == NULL) {
			buf_puts(challenge, "Username:");
			return SASL_CONTINUE;
		}
		/* an initial response is the user name (some clients do) */
		s->user = xstrndup(resp->data, resp->len);
		buf_puts(challenge, "Password:");
		return SASL_CONTINUE;
	}
	if (resp == NULL) {
		*error_r = "LOGIN: missing password";
		return SASL_BAD;
	}
	if (auth_password(s->svc, s->user, resp->data, s->rhost, u,
			  error_r) < 0)
		return SASL_FAIL;
	return SASL_OK;
}

/* ---- CRAM-MD5: challenge, then "user hex-hmac" ---- */
static enum sasl_status cram_step(struct sasl *s, const struct buf *resp,
				  struct buf *challenge, struct auth_user *u,
				  const char **error_r)
{
	char want[33];
	const char *sp;
	char *user, *secret;
	bool match;

	if (s->challenge.len == 0) {
		if (resp != NULL && resp->len > 0) {
			*error_r = "CRAM-MD5: no initial response allowed";
			return SASL_BAD;
		}
		cram_challenge(&s->challenge);
		buf_append(challenge, s->challenge.data, s->challenge.len);
		return SASL_CONTINUE;
	}
	if (resp == NULL || !bytes_clean(resp) ||
	    (sp = strrchr(resp->data, ' ')) == NULL || sp == resp->data ||
	    strlen(sp + 1) != 32) {
		*error_r = "CRAM-MD5: malformed response";
		return SASL_BAD;
	}
	user = xstrndup(resp->data, (size_t)(sp - resp->data));
	secret = cram_secret(user);
	if (secret == NULL) {
		*error_r = "CRAM-MD5: user not in the CRAM-MD5 database";
		auth_log_failure("AUTHENTICATE CRAM-MD5", user, *error_r);
		free(user);
		return SASL_FAIL;
	}
	cram_hmac_md5_hex(secret, s->challenge.data, want);
	explicit_bzero(secret, strlen(secret));
	free(secret);
	char got[33];
	for (size_t i = 0; i < 32; i++)
		got[i] = ascii_tolower(sp[1 + i]);
	got[32] = '\0';
	match = auth_str_equal(got, want);
	explicit_bzero(want, sizeof want);
	if (!match) {
		*error_r = "CRAM-MD5: wrong digest";
		auth_log_failure("AUTHENTICATE CRAM-MD5", user, *error_r);
		free(user);
		return SASL_FAIL;
	}
	/* the secret is proved; the user must exist for uid and home */
	struct auth_user tmp;
	if (auth_user_lookup(user, &tmp, error_r) < 0) {
		auth_log_failure("AUTHENTICATE CRAM-MD5", user, *error_r);
		free(user);
		return SASL_FAIL;
	}
	*u = tmp;
	free(user);
	return SASL_OK;
}

/* ---- ANONYMOUS: optional trace information ---- */
static enum sasl_status anon_step(struct sasl *s, const struct buf *resp,
				  struct buf *challenge, struct auth_user *u,
				  const char **error_r)
{
	if (resp == NULL)
		return SASL_CONTINUE;
	if (!bytes_clean(resp)) {
		*error_r = "ANONYMOUS: NUL in trace";
		return SASL_BAD;
	}
	log_info("auth: ANONYMOUS trace \"%.64s\"", resp->data);
	if (auth_anonymous(u, error_r) < 0)
		return SASL_FAIL;
	return SASL_OK;
}

static const struct sasl_mech sasl_mechs[] = {
	{ .name = "PLAIN", .plaintext = true, .step = plain_step },
	{ .name = "LOGIN", .plaintext = true, .step = login_step },
	{ .name = "CRAM-MD5", .usable = auth_cram_available, .step = cram_step },
	{ .name = "ANONYMOUS", .usable = auth_anonymous_allowed,
	  .step = anon_step },
};

static bool mech_usable(const struct sasl_mech *m, bool tls_active)
{
	if (m->plaintext && !auth_plaintext_allowed(tls_active))
		return false;
	return m->usable == NULL || m->usable();
}

void sasl_mechanisms(bool tls_active, struct buf *out)
{
	bool first = true;

	for (size_t i = 0; i < N_ELEMENTS(sasl_mechs); i++) {
		if (!mech_usable(&sasl_mechs[i], tls_active))
			continue;
		if (!first)
			buf_putc(out, ' ');
		buf_puts(out, sasl_mechs[i].name);
		first = false;
	}
}

struct sasl *sasl_start(enum auth_service svc, const char *mech,
			bool tls_active, const char *rhost,
			const char **error_r)
{
	for (size_t i = 0; i < N_ELEMENTS(sasl_mechs); i++) {
		const struct sasl_mech *m = &sasl_mechs[i];
		if (ascii_strcasecmp(m->name, mech) != 0)
			continue;
		if (!mech_usable(m, tls_active)) {
			*error_r = "Authentication mechanism not available";
			return NULL;
		}
		struct sasl *s = xcalloc(1, sizeof *s);
		s->mech = m;
		s->svc = svc;
		s->rhost = xstrdup(rhost != NULL ? rhost : "");
		buf_init(&s->challenge, 1024);
		return s;
	}
	*error_r = "Unknown authentication mechanism";
	return NULL;
}

enum sasl_status sasl_step(struct sasl *s, const char *response,
			   struct buf *challenge, struct auth_user *u,
			   const char **error_r)
{
	struct buf decoded;
	enum sasl_status st;

	buf_reset(challenge);
	if (s->done) {
		*error_r = "SASL exchange already finished";
		return SASL_BAD;
	}
	if (++s->step > 4) {
		*error_r = "too many SASL steps";
		s->done = true;
		return SASL_BAD;
	}
	if (response == NULL) {
		st = s->mech->step(s, NULL, challenge, u, error_r);
	} else {
		size_t len = strlen(response);
		buf_init(&decoded, SASL_MAX_RESPONSE);
		if (len > SASL_MAX_RESPONSE * 4 / 3 + 4 ||
		    !auth_base64_decode(response, len, &decoded)) {
			*error_r = "malformed base64 in SASL response";
			st = SASL_BAD;
		} else {
			st = s->mech->step(s, &decoded, challenge, u, error_r);
		}
		auth_wipe_buf(&decoded);
		buf_release(&decoded);
	}
	if (st != SASL_CONTINUE)
		s->done = true;
	return st;
}

void sasl_free(struct sasl **sp)
{
	struct sasl *s = *sp;

	if (s == NULL)
		return;
	if (s->user != NULL) {
		explicit_bzero(s->user, strlen(s->user));
		free(s->user);
	}
	free((char *)s->rhost);
	buf_release(&s->challenge);
	free(s);
	*sp = NULL;
}
