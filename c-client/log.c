/*
 * log.c - syslog on LOG_MAIL; every line carries "user=... host=..." once
 * they are known, so an administrator can follow one session.
 *
 * SECURITY: CCLIENT_LOG_FILE and CCLIENT_LOG_STDERR are read with
 * secure_getenv(): a set-id program ignores them, so a user cannot make
 * it append to a file of its choice.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static char log_ident[32] = "c-client";
static char *log_user;
static char *log_host;
static bool log_stderr;
static const char *log_file;

void log_open(const char *ident)
{
	const char *e;

	snprintf(log_ident, sizeof log_ident, "%s", ident);
	openlog(log_ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
	e = secure_getenv("CCLIENT_LOG_STDERR");
	if (e != NULL && strcmp(e, "1") == 0)
		log_stderr = true;
	log_file = secure_getenv("CCLIENT_LOG_FILE");
}

void log_set_user(const char *user)
{
	free(log_user);
	log_user = user ? xstrdup(user) : NULL;
}

void log_set_host(const char *host)
{
	free(log_host);
	log_host = host ? xstrdup(host) : NULL;
}

void log_to_stderr(bool on)
{
	log_stderr = on;
}

static void log_v(int prio, const char *fmt, va_list ap)
{
	char msg[2048], line[2300];
	size_t i;

	vsnprintf(msg, sizeof msg, fmt, ap);
	/* never let hostile bytes forge log lines */
	for (i = 0; msg[i] != '\0'; i++)
		if ((unsigned char)msg[i] < 0x20)
			msg[i] = '?';
	if (log_user != NULL && log_host != NULL)
		snprintf(line, sizeof line, "%s user=%s host=%s", msg, log_user, log_host);
	else if (log_user != NULL)
		snprintf(line, sizeof line, "%s user=%s", msg, log_user);
	else if (log_host != NULL)
		snprintf(line, sizeof line, "%s host=%s", msg, log_host);
	else
		snprintf(line, sizeof line, "%s", msg);
	syslog(LOG_MAIL | prio, "%s", line);
	if (log_stderr)
		fprintf(stderr, "%s[%ld]: %s\n", log_ident, (long)getpid(), line);
	if (log_file != NULL && *log_file != '\0') {
		FILE *f = fopen(log_file, "a");
		if (f != NULL) {
			fprintf(f, "%s[%ld]: %s\n", log_ident, (long)getpid(), line);
			fclose(f);
		}
	}
}

#define LOG_FN(name, prio) \
	void name(const char *fmt, ...) \
	{ \
		va_list ap; \
		va_start(ap, fmt); \
		log_v(prio, fmt, ap); \
		va_end(ap); \
	}

LOG_FN(log_info, LOG_INFO)
LOG_FN(log_notice, LOG_NOTICE)
LOG_FN(log_warning, LOG_WARNING)
LOG_FN(log_error, LOG_ERR)
LOG_FN(log_debug, LOG_DEBUG)

void log_fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_v(LOG_CRIT, fmt, ap);
	va_end(ap);
	exit(1);
}
