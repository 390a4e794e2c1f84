/*
 * mail-errors.c - storage error codes (mail-error.h) as IMAP response
 * codes: RFC 5530, and RFC 3501's TRYCREATE for APPEND/COPY/MOVE targets.
 */
#include "imapd.h"

const char *imapd_resp_code(enum mail_error code, bool target)
{
	switch (code) {
	case MAIL_ERROR_NOTFOUND:
		return target ? "TRYCREATE" : "NONEXISTENT";
	case MAIL_ERROR_EXISTS:
		return "ALREADYEXISTS";
	case MAIL_ERROR_INUSE:
		return "INUSE";
	case MAIL_ERROR_NOPERM:
		return "NOPERM";
	case MAIL_ERROR_CORRUPT:
		return "CORRUPTION";
	case MAIL_ERROR_LIMIT:
		return "LIMIT";
	case MAIL_ERROR_NOTPOSSIBLE:
		return "CANNOT";
	case MAIL_ERROR_TEMP:
		return "UNAVAILABLE";
	case MAIL_ERROR_NONE:
	case MAIL_ERROR_NOSPACE: /* RFC 5530 has none: OVERQUOTA is quota */
	case MAIL_ERROR_PARAMS:
		break;
	}
	return NULL;
}

void imapd_no_mail_error(struct client *c, bool target, const char *prefix,
			 const char *error)
{
	const char *rc = NULL;

	/* a text that carries its own code keeps it */
	if (error[0] != '[')
		rc = imapd_resp_code(mail_get_last_error(), target);
	if (rc != NULL)
		client_no(c, "[%s] %s%s", rc, prefix, error);
	else
		client_no(c, "%s%s", prefix, error);
}
