/*
 * listener.h - a small built-in TCP listener for tests and for sites
 * without inetd: one forked process per connection, the socket on
 * descriptors 0 and 1, exactly as inetd/xinetd/systemd (Accept=yes)
 * would run imapd or ipop3d.
 */
#ifndef CC_LISTENER_H
#define CC_LISTENER_H

#include "util.h"

/* most connections served at once; more are closed at once */
#define LISTENER_MAX_CHILDREN 256

/*
 * addrport: "127.0.0.1:1143", "[::1]:1143", "host:port" (numeric or a
 * name) or just "1143" (127.0.0.1). Port 0 picks a free port. Once bound,
 * writes "listening on ADDR:PORT" (numeric, the real port) to stderr.
 * Each connection runs session(0, ctx) in a forked child whose
 * descriptors 0 and 1 are the socket; the child _exits when session
 * returns. SIGTERM closes the listener and returns 0 (sessions already
 * running carry on). Returns -1 with *error_r if it cannot listen.
 */
int listener_run(const char *addrport, void (*session)(int fd, void *ctx),
		 void *ctx, const char **error_r);

/* numeric address of the peer of fd for logs; "stdin" when fd is not a
 * socket, "unknown" if it cannot be told. Static buffer. */
const char *listener_peer_name(int fd);

#endif
