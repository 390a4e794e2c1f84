/*
 * log.h - syslog on LOG_MAIL with the session's user and host in every
 * line, mirrored to stderr when a program runs interactively or when
 * logging to stderr is requested (tests).
 */
#ifndef CC_LOG_H
#define CC_LOG_H

#include "util.h"

/* ident: "imapd", "ipop3d", "mailutil"...; opens syslog */
void log_open(const char *ident);
/* set after login / once the peer is known; copied */
void log_set_user(const char *user);
void log_set_host(const char *host);
/* also send every line to stderr (env CCLIENT_LOG_STDERR=1 does the same);
 * CCLIENT_LOG_FILE=path appends every line to that file (tests) */
void log_to_stderr(bool on);

void log_info(const char *fmt, ...) ATTR_PRINTF(1, 2);
void log_notice(const char *fmt, ...) ATTR_PRINTF(1, 2);
void log_warning(const char *fmt, ...) ATTR_PRINTF(1, 2);
void log_error(const char *fmt, ...) ATTR_PRINTF(1, 2);
void log_debug(const char *fmt, ...) ATTR_PRINTF(1, 2);
/* a broken environment: log and exit(EX_OSERR-ish code 1) */
void log_fatal(const char *fmt, ...) ATTR_PRINTF(1, 2) ATTR_NORETURN;

#endif
