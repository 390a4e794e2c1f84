/*
 * auth-http.h - the request nginx's mail proxy sends to its auth_http
 * service (ngx_mail_auth_http_module) and the answer it expects; used by
 * tools/mail-route.
 *
 *   GET /auth HTTP/1.0            HTTP/1.0 200 OK
 *   Host: localhost               Auth-Status: OK
 *   Auth-Method: plain            Auth-Server: 10.77.0.11
 *   Auth-User: alice              Auth-Port: 143
 *   Auth-Pass: secret
 *   Auth-Protocol: imap           (or: Auth-Status: Invalid login or
 *   Auth-Login-Attempt: 1          password / Auth-Wait: 3)
 *   Client-IP: 192.0.2.7
 *
 * SECURITY: the request comes over the network (from nginx, but a
 * listener may be reached by others). The parser takes a bounded buffer
 * (AUTH_HTTP_MAX_REQUEST, AUTH_HTTP_MAX_HEADERS), refuses what nginx
 * never sends (folded lines, control characters, a repeated Auth-*
 * header, a Client-IP that is not a numeric address) rather than
 * guessing, and keeps the password only in memory it wipes.
 */
#ifndef CC_AUTH_HTTP_H
#define CC_AUTH_HTTP_H

#include "util.h"

#define AUTH_HTTP_MAX_REQUEST	8192
#define AUTH_HTTP_MAX_HEADERS	40

enum auth_http_method {
	AUTH_HTTP_PLAIN,	/* LOGIN, USER/PASS, AUTH PLAIN/LOGIN */
	AUTH_HTTP_APOP,		/* Auth-Salt: the APOP banner timestamp */
	AUTH_HTTP_CRAM_MD5,	/* Auth-Salt: the challenge nginx sent */
};

enum auth_http_protocol { AUTH_HTTP_IMAP, AUTH_HTTP_POP3 };

struct auth_http_request {
	enum auth_http_method method;
	enum auth_http_protocol protocol;
	char *user;		/* %-decoded */
	char *pass;		/* %-decoded; the digest for APOP/CRAM-MD5 */
	char *salt;		/* NULL for plain */
	char *client_ip;	/* numeric */
	unsigned attempt;	/* Auth-Login-Attempt, 1 when absent */
};

/*
 * Parse the request in data[0..len). Returns the number of bytes of the
 * request (through the empty line) and fills *req; 0 when the empty
 * line has not arrived yet and the request is still under the size cap;
 * -1 with *error_r for a request to refuse.
 */
int auth_http_parse(const char *data, size_t len,
		    struct auth_http_request *req, const char **error_r);
/* frees the strings (the password wiped first) */
void auth_http_request_free(struct auth_http_request *req);

#endif
