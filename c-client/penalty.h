/*
 * penalty.h - a login penalty per client address, shared by every imapd
 * and ipop3d process through a small lock-protected table file
 * ("login-penalty-file"), as Dovecot's auth penalty: after n recent
 * failures from an address, its next login attempt (on any connection)
 * waits login-penalty-delay * 2^(n-1) seconds, at most login-penalty-max,
 * before the credentials are even checked; a success clears the count,
 * and failures older than login-penalty-reset seconds are forgotten.
 * Pipes and local sockets ("stdin", "local", "unknown") are not counted.
 */
#ifndef CC_PENALTY_H
#define CC_PENALTY_H

#include "util.h"

/* before checking credentials from addr: sleep for its penalty (logged) */
void penalty_wait(const char *addr);
/* after the check: count a failure, or clear the count on success */
void penalty_record(const char *addr, bool success);
/* the delay after this many failures (0 for none) */
long long penalty_delay(unsigned failures);

#endif
