/*
 * mail-error.c - the last storage error: a code (mail-error.h) beside
 * the text error_r carries, per process and per mailbox.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "mail-error.h"
#include "mail.h"

static enum mail_error last_code;
static char last_text[512];

const char *mail_error_name(enum mail_error code)
{
	static const char *const names[] = {
		[MAIL_ERROR_NONE] = "NONE",
		[MAIL_ERROR_TEMP] = "TEMP",
		[MAIL_ERROR_NOTFOUND] = "NOTFOUND",
		[MAIL_ERROR_EXISTS] = "EXISTS",
		[MAIL_ERROR_INUSE] = "INUSE",
		[MAIL_ERROR_NOPERM] = "NOPERM",
		[MAIL_ERROR_NOSPACE] = "NOSPACE",
		[MAIL_ERROR_CORRUPT] = "CORRUPT",
		[MAIL_ERROR_LIMIT] = "LIMIT",
		[MAIL_ERROR_PARAMS] = "PARAMS",
		[MAIL_ERROR_NOTPOSSIBLE] = "NOTPOSSIBLE",
	};
	if ((unsigned)code >= sizeof names / sizeof names[0])
		return "UNKNOWN";
	return names[code];
}

enum mail_error mail_error_from_errno(int err)
{
	switch (err) {
	case ENOENT:
	case ENOTDIR:
		return MAIL_ERROR_NOTFOUND;
	case EEXIST:
		return MAIL_ERROR_EXISTS;
	case EACCES:
	case EPERM:
	case EROFS:
		return MAIL_ERROR_NOPERM;
	case ENOSPC:
	case EDQUOT:
		return MAIL_ERROR_NOSPACE;
	case ENAMETOOLONG:
	case EFBIG:
		return MAIL_ERROR_LIMIT;
	case ENOTEMPTY:
		return MAIL_ERROR_NOTPOSSIBLE;
	default:
		return MAIL_ERROR_TEMP;
	}
}

const char *mail_error(enum mail_error code, const char *text)
{
	last_code = code;
	return text;
}

const char *mail_error_fmt(enum mail_error code, const char *fmt, ...)
{
	char tmp[sizeof last_text];	/* an argument may be last_text */
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	memcpy(last_text, tmp, sizeof last_text);
	last_code = code;
	return last_text;
}

void mail_error_clear(void)
{
	last_code = MAIL_ERROR_NONE;
}

enum mail_error mail_get_last_error(void)
{
	return last_code;
}

const char *mail_set_error(struct mailbox *mb, enum mail_error code,
			   const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(mb->error, sizeof mb->error, fmt, ap);
	va_end(ap);
	mb->error_code = code;
	last_code = code;
	return mb->error;
}

const char *mailbox_get_last_error(const struct mailbox *mb,
				   enum mail_error *code_r)
{
	if (code_r != NULL)
		*code_r = mb->error_code;
	return mb->error;
}
