/*
 * route-map.h - which backend host holds a user's mail: the file named
 * by the route-map setting, read by mail-route (nginx's auth_http) and
 * by imapd for LOGIN-REFERRALS.
 *
 *   # user       backend[:imap-port[:pop3-port]]
 *   alice        10.77.0.11
 *   bob          mail2.example.org:1143:1110
 *   carol        [2001:db8::3]
 *   *            mail1.example.org        (or "default": everyone else)
 *
 * Ports default to 143 and 110. A user's own line wins over the default
 * wherever it stands; the first line for a user counts. The file is read
 * at every lookup (each login is its own process), so an edit - made by
 * writing a new file and rename(2)ing it into place - counts from the
 * next login on. A site that outgrows a file replaces route_lookup()
 * (e.g. by an LDAP search) and keeps everything else.
 *
 * SECURITY: the file comes from the administrator, but its lines are
 * still read bounded (ROUTE_MAX_LINE); a bad line is logged with its
 * number and skipped, never guessed at.
 */
#ifndef CC_ROUTE_MAP_H
#define CC_ROUTE_MAP_H

#include "util.h"

#define ROUTE_MAX_LINE		1024
#define ROUTE_DEFAULT_IMAP	143
#define ROUTE_DEFAULT_POP3	110

struct route {
	char host[256];		/* as written, without [] for IPv6 */
	uint16_t imap_port, pop3_port;
	bool is_default;	/* from the "*" / "default" line */
};

/*
 * Parse one map line. 1: a route for *user_r (malloc'd); 0: blank or
 * comment; -1 with *error_r: malformed.
 */
int route_parse_line(const char *line, char **user_r, struct route *r,
		     const char **error_r);

/*
 * Look user up in the map file path. 1: found (*r filled, from the
 * user's line or the default); 0: no line and no default; -1 with
 * *error_r: the file cannot be read.
 */
int route_lookup(const char *path, const char *user, struct route *r,
		 const char **error_r);

#endif
